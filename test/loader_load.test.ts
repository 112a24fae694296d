import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import '../src/api/index.js'; // registers bpfkit's maps as the default map factory
import { BpfError } from '../src/errors.js';
import { createHelperHost, registerHelpers } from '../src/helpers/index.js';
import type { Insn } from '../src/isa/insn.js';
import { Bpf } from '../src/kernel/bpf.js';
import { loadObject, loadObjectIntoKernel, setGlobal } from '../src/kernel/load.js';
import { openObject } from '../src/loader/object.js';
import { interpret } from '../src/vm/interpreter.js';
import { compileJit } from '../src/vm/jit/index.js';

const root = new URL('../../', import.meta.url);
const fixture = (name: string): Uint8Array => new Uint8Array(readFileSync(new URL(`test/fixtures/loader/${name}`, root)));

function kernel(): Bpf {
  const bpf = new Bpf();
  registerHelpers(bpf.vm.helpers, createHelperHost({ seed: 1 }));
  return bpf;
}

/** An XDP run in the Bpf's own VM (the address space holding its maps). */
function runXdp(bpf: Bpf, insns: readonly Insn[], packet: Uint8Array, engine: 'interp' | 'jit' = 'interp'): number {
  const space = bpf.vm.space;
  const buf = space.alloc(4096, 'xdp_buff', { writable: true, align: 4096 });
  const data = buf.addr + 256;
  space.write(data, packet);
  const ctx = space.alloc(24, 'xdp_md', { writable: false });
  const md = new Uint8Array(24);
  const v = new DataView(md.buffer);
  v.setUint32(0, data, true); v.setUint32(4, data + packet.length, true); v.setUint32(8, data, true); v.setUint32(12, 1, true);
  space.write(ctx.addr, md);
  if (engine === 'jit') return compileJit(bpf.vm, insns).prepare().runCtx(ctx.addr) >>> 0;
  return Number(BigInt.asUintN(32, interpret(bpf.vm, insns, { args: [BigInt(ctx.addr)] }).r0));
}

const u32 = (n: number): Uint8Array => new Uint8Array(new Uint32Array([n]).buffer);
const rdU32 = (b: Uint8Array, off = 0): number => new DataView(b.buffer, b.byteOffset).getUint32(off, true);
const rdU64 = (b: Uint8Array, off = 0): bigint => new DataView(b.buffer, b.byteOffset).getBigUint64(off, true);
const packet = new Uint8Array(60).fill(0xab);

test('BTF maps, global data, subprograms and a bpf_loop callback: loaded and run in the Bpf', () => {
  for (const engine of ['interp', 'jit'] as const) {
    const bpf = kernel();
    const lo = loadObjectIntoKernel(bpf, fixture('btf_maps.o'), 'btf_maps.o');
    assert.deepEqual(lo.maps.map((m) => m.def.name), [
      'inner_a', 'inner_b', 'outer', 'jmp', 'pinned_arr', 'counts', 'btf_maps.bss', 'btf_maps.data', 'btf_maps.rodata',
      '.data.extra', '.rodata.str_tab',
    ]);
    const info = (name: string) => bpf.mapInfo(lo.map(name).fd);
    assert.equal(info('btf_maps.rodata').frozen, true);
    assert.equal(info('btf_maps.rodata').mapFlags & 0x80, 0x80);
    assert.equal(info('btf_maps.data').frozen, false);
    assert.equal(bpf.pinnedKind('/sys/fs/bpf/pinned_arr'), 'map');
    // outer[0] = inner_a, outer[2] = inner_b (ids), jmp[1] = tail_target.
    assert.equal(rdU32(bpf.mapLookup(lo.map('outer').fd, u32(0))), info('inner_a').id);
    assert.equal(rdU32(bpf.mapLookup(lo.map('outer').fd, u32(2))), info('inner_b').id);
    assert.equal(rdU32(bpf.mapLookup(lo.map('jmp').fd, u32(1))), lo.program('tail_target').id);

    assert.equal(runXdp(bpf, lo.runInsns('xdp_count'), packet, engine), 2); // XDP_PASS: 60 <= limit 100
    const pair = bpf.mapLookup(lo.map('counts').fd, u32(0));
    assert.deepEqual([rdU64(pair, 0), rdU64(pair, 8)], [1n, 60n]);
    assert.equal(rdU64(lo.readGlobal('total')), 60n);
    assert.equal(rdU32(lo.readGlobal('seen')), 8);
    assert.equal(rdU32(lo.readGlobal('hidden_counter')), 1);
    assert.equal(rdU32(lo.readGlobal('extra')), 5 + 'b'.charCodeAt(0));
    assert.equal(rdU64(bpf.mapLookup(lo.map('pinned_arr').fd, u32(0))), 0n + 1n + 2n + 3n);
    // The tail call lands in tail_target (XDP_TX).
    assert.equal(runXdp(bpf, lo.runInsns('xdp_second'), packet, engine), 3);
    assert.throws(() => lo.writeGlobal('limit', u32(1)), /read-only/);
    lo.writeGlobal('seen', u32(41));
    assert.equal(rdU32(lo.readGlobal('seen')), 41);
    lo.close();
    bpf.unpin('/sys/fs/bpf/pinned_arr');
  }
});

test('skeleton-style globals before load: .rodata limit', () => {
  const bpf = kernel();
  const obj = openObject(fixture('btf_maps.o'), 'btf_maps.o');
  setGlobal(obj, 'limit', 10);
  const lo = loadObject(bpf, obj, { pinRoot: '/sys/fs/bpf/t1' });
  assert.equal(runXdp(bpf, lo.runInsns('xdp_count'), packet), 1); // XDP_DROP
  assert.equal(rdU32(lo.readGlobal('limit')), 10);
  assert.throws(() => setGlobal(obj, 'nope', 1), /no global variable 'nope'/);
});

test('pinned maps are reused by name; a different shape is refused', () => {
  const bpf = kernel();
  const a = loadObjectIntoKernel(bpf, fixture('btf_maps.o'), 'btf_maps.o');
  const b = loadObjectIntoKernel(bpf, fixture('btf_maps.o'), 'btf_maps.o');
  assert.equal(a.map('pinned_arr').id, b.map('pinned_arr').id);
  assert.equal(b.map('pinned_arr').reused, true);
  assert.notEqual(a.map('counts').id, b.map('counts').id);
  runXdp(bpf, a.runInsns('xdp_count'), packet);
  runXdp(bpf, b.runInsns('xdp_count'), packet);
  assert.equal(rdU64(bpf.mapLookup(a.map('pinned_arr').fd, u32(0))), 12n);
  bpf.unpin('/sys/fs/bpf/pinned_arr');
  const fd = bpf.mapCreate({ type: 2, keySize: 4, valueSize: 4, maxEntries: 4, flags: 0, name: 'pinned_arr' });
  bpf.objPin(fd, '/sys/fs/bpf/pinned_arr');
  const before = bpf.openFds().length;
  assert.throws(() => loadObjectIntoKernel(bpf, fixture('btf_maps.o'), 'btf_maps.o'), (err: unknown) => {
    assert.ok(err instanceof BpfError);
    assert.match(err.message, /couldn't reuse pinned map at '\/sys\/fs\/bpf\/pinned_arr': parameter mismatch \(value_size 4 != 8\)/);
    return true;
  });
  assert.equal(bpf.openFds().length, before, 'a failed load releases what it created');
});

test('type override and missing types', () => {
  const bpf = kernel();
  const lo = loadObjectIntoKernel(bpf, fixture('btf_maps.o'), 'btf_maps.o', { progType: 3, pinRoot: '/x' });
  assert.ok(lo.programs.every((p) => p.type === 3));
  assert.equal(bpf.progInfo(lo.program('xdp_count').fd).type, 3);
});

test('a PERF_EVENT_ARRAY without max_entries gets one slot per possible CPU, as libbpf sizes it', () => {
  for (const nrCpus of [1, 3]) {
    const bpf = new Bpf({ nrCpus });
    const loaded = loadObjectIntoKernel(bpf, fixture('perf_events.o'), 'perf_events.o');
    const events = loaded.maps.find((m) => m.def.name === 'events')!;
    assert.equal(bpf.mapInfo(events.fd).maxEntries, nrCpus);
    loaded.close();
    bpf.shutdown();
  }
});

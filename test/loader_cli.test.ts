/*
 * `bpfkit prog load|loadall` over objects with maps: BTF maps pinned by name, legacy maps,
 * iproute2 maps pinned in tc's global namespace, pinmaps, map replacement, and the errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCliCaptured } from '../src/cli/main.js';
import { setCliKernel } from '../src/cli/map.js';
import { Bpf } from '../src/kernel/bpf.js';
import { PinStore } from '../src/kernel/pin_store.js';
import { MemoryStoreFs } from '../src/kernel/store_fs.js';
import { createMap } from '../src/maps/index.js';

const root = new URL('../../', import.meta.url);
const obj = (name: string): string => new URL(`test/fixtures/loader/${name}`, root).pathname;

function fresh(): void {
  const fs = new MemoryStoreFs();
  setCliKernel(() => new Bpf({ store: new PinStore(fs), createMap, nrCpus: 1 }));
}
const run = (...args: string[]) => runCliCaptured(args);
const RETRY_JMP = 'libbpf: Error in bpf_create_map_xattr(jmp):Invalid argument(-22). Retrying without BTF.';
const json = async (...args: string[]) => JSON.parse((await run('-j', ...args)).stdout);

test('loadall: every program pinned under PATH, BTF maps pinned by name, global data frozen where read-only', async () => {
  fresh();
  const r = await run('prog', 'loadall', obj('btf_maps.o'), '/sys/fs/bpf/lt');
  // libbpf's warning, as bpftool prints it: a prog array takes no BTF (map_check_no_btf()).
  assert.deepEqual(r, { status: 0, stdout: '', stderr: `${RETRY_JMP}\n` });
  const progs = await json('prog', 'show');
  assert.deepEqual(progs.map((p: { name: string }) => p.name).sort(), ['tail_target', 'xdp_count', 'xdp_second']);
  const maps = await json('map', 'show');
  const names = maps.map((m: { name: string }) => m.name);
  for (const n of ['counts', 'pinned_arr', 'btf_maps.bss', 'btf_maps.rodata', '.data.extra']) assert.ok(names.includes(n), n);
  const ro = maps.find((m: { name: string }) => m.name === 'btf_maps.rodata');
  assert.equal(ro.frozen, 1);
  const pinned = await json('map', 'show', 'pinned', '/sys/fs/bpf/pinned_arr');
  assert.equal(pinned.name, 'pinned_arr');
  const count = progs.find((p: { name: string }) => p.name === 'xdp_count');
  assert.ok(count.map_ids.includes(pinned.id));
  assert.equal((await json('prog', 'show', 'pinned', '/sys/fs/bpf/lt/xdp_second')).name, 'xdp_second');
  // A second load reuses the pinned map.
  assert.equal((await run('prog', 'load', obj('btf_maps.o'), '/sys/fs/bpf/first')).status, 0);
  assert.equal((await json('prog', 'show', 'pinned', '/sys/fs/bpf/first')).name, 'tail_target'); // libbpf's first program
  assert.equal((await run('prog', 'loadall', obj('btf_maps.o'), '/sys/fs/bpf/again')).status, 0);
  const again = await json('prog', 'show', 'pinned', '/sys/fs/bpf/again/xdp_count');
  assert.ok(again.map_ids.includes(pinned.id));
});

test('legacy maps (struct bpf_map_def) and an old section name; pinmaps; map name replacement', async () => {
  fresh();
  assert.deepEqual(await run('prog', 'load', obj('legacy_maps.o'), '/sys/fs/bpf/leg', 'pinmaps', '/sys/fs/bpf/m'),
    { status: 0, stdout: '', stderr: '' });
  const leg = await json('prog', 'show', 'pinned', '/sys/fs/bpf/leg');
  assert.equal(leg.type, 'xdp');
  const hits = await json('map', 'show', 'pinned', '/sys/fs/bpf/m/hits');
  assert.deepEqual([hits.type, hits.bytes_key, hits.bytes_value, hits.max_entries], ['hash', 4, 8, 16]);
  assert.equal((await json('map', 'show', 'pinned', '/sys/fs/bpf/m/my_map')).type, 'array');
  assert.equal((await run('prog', 'load', obj('legacy_maps.o'), '/sys/fs/bpf/leg2', 'map', 'name', 'hits', 'pinned', '/sys/fs/bpf/m/hits')).status, 0);
  const leg2 = await json('prog', 'show', 'pinned', '/sys/fs/bpf/leg2');
  assert.ok(leg2.map_ids.includes(hits.id));
  assert.ok(!leg2.map_ids.includes((await json('map', 'show', 'pinned', '/sys/fs/bpf/m/my_map')).id));
  // pinmaps where a map already has its by-name pin elsewhere: libbpf's refusal, programs unpinned.
  const bad = await run('prog', 'load', obj('btf_maps.o'), '/sys/fs/bpf/b', 'pinmaps', '/sys/fs/bpf/bm');
  assert.equal(bad.status, 255);
  assert.match(bad.stderr, /libbpf: map 'pinned_arr' already has pin path '\/sys\/fs\/bpf\/pinned_arr' different from '\/sys\/fs\/bpf\/bm\/pinned_arr'\nError: failed to pin all maps\n$/);
  assert.equal((await run('prog', 'show', 'pinned', '/sys/fs/bpf/b')).status, 255);
});

test('iproute2 maps: PIN_GLOBAL_NS under /sys/fs/bpf/tc/globals, shared by classifier and action', async () => {
  fresh();
  assert.equal((await run('prog', 'loadall', obj('tc_elf_map.o'), '/sys/fs/bpf/tc1')).status, 0);
  const stats = await json('map', 'show', 'pinned', '/sys/fs/bpf/tc/globals/map_stats');
  assert.equal(stats.name, 'map_stats');
  const cls = await json('prog', 'show', 'pinned', '/sys/fs/bpf/tc1/cls_main');
  const act = await json('prog', 'show', 'pinned', '/sys/fs/bpf/tc1/act_main');
  assert.deepEqual([cls.type, act.type], ['sched_cls', 'sched_act']);
  assert.ok(cls.map_ids.includes(stats.id) && act.map_ids.includes(stats.id));
  // Loading again shares the pinned map.
  assert.equal((await run('prog', 'load', obj('tc_elf_map.o'), '/sys/fs/bpf/tc2')).status, 0);
  assert.ok((await json('prog', 'show', 'pinned', '/sys/fs/bpf/tc2')).map_ids.includes(stats.id));
});

test('errors: pinned map of another shape, missing type, unreadable object', async () => {
  fresh();
  assert.equal((await run('map', 'create', '/sys/fs/bpf/pinned_arr', 'type', 'array', 'key', '4', 'value', '4', 'entries', '4', 'name', 'pinned_arr')).status, 0);
  const r = await run('prog', 'load', obj('btf_maps.o'), '/sys/fs/bpf/x');
  assert.equal(r.status, 234);
  assert.equal(r.stderr, `${RETRY_JMP}\n` + "libbpf: btf_maps.o: map 'pinned_arr': couldn't reuse pinned map at '/sys/fs/bpf/pinned_arr': parameter mismatch (value_size 4 != 8)\nError: failed to load object file\n".replace('btf_maps.o', obj('btf_maps.o')));
  assert.equal((await json('prog', 'show')).length, 0);
  const t = await run('prog', 'load', obj('btf_maps.o'), '/sys/fs/bpf/x', 'type', 'tc');
  assert.equal(t.status, 234, 'the pinned map is still in the way');
  const missing = await run('prog', 'load', '/no/such.o', '/sys/fs/bpf/x');
  assert.equal(missing.status, 255);
  assert.match(missing.stderr, /failed to open object file/);
});

test('a section no table knows: libbpf\'s lines unless `type` is given', async () => {
  fresh();
  const { writeFileSync, mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(`${tmpdir()}/bpfkit-loader-`);
  try {
    const { writeElf } = await import('../src/loader/elf_writer.js');
    const { makeInsn } = await import('../src/isa/insn.js');
    const file = `${dir}/zzz.o`;
    writeFileSync(file, writeElf({ sections: [
      { name: 'zzz', executable: true, writable: false, insns: [makeInsn(0xb7, 0, 0, 0, 2), makeInsn(0x95)], data: new Uint8Array(0),
        symbols: [{ name: 'prog_z', offset: 0, global: true, type: 'func', size: 16 }], relocations: [] },
      { name: 'license', executable: false, writable: true, insns: [], data: new TextEncoder().encode('GPL\0'), symbols: [], relocations: [] },
    ] }));
    const r = await run('prog', 'load', file, '/sys/fs/bpf/z');
    assert.equal(r.status, 234);
    assert.match(r.stderr, /^libbpf: failed to guess program type from ELF section 'zzz'\nlibbpf: supported section\(type\) names are: socket .* sk_lookup\nlibbpf: prog '\w+': missing BPF prog type, check ELF section name 'zzz'\nError: failed to load object file\n$/);
    assert.equal((await run('prog', 'load', file, '/sys/fs/bpf/z', 'type', 'xdp')).status, 0);
    assert.equal((await json('prog', 'show', 'pinned', '/sys/fs/bpf/z')).type, 'xdp');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('prog run file OBJ: the tc-bpf(8) classifier with its iproute2 map returns TC_H_MAKE(TC_H_ROOT, mark)', async () => {
  fresh();
  const { writeFileSync, mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(`${tmpdir()}/bpfkit-loader-`);
  try {
    const ctx = new Uint8Array(192);
    new DataView(ctx.buffer).setUint32(8, 5, true); // __sk_buff.mark
    writeFileSync(`${dir}/ctx.bin`, ctx);
    const udp = new URL('examples/udp.bin', root).pathname;
    const r = await run('prog', 'run', 'file', obj('tc_elf_map.o'), 'sec', 'classifier', 'data_in', udp, 'ctx_in', `${dir}/ctx.bin`);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^Return value: ${(0xffff0000 | 5) >>> 0}, duration: \\d+ns\\n$`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

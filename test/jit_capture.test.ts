/*
 * Captures through the JIT's batch API (runCapture: XDP programs run many packets per call into
 * the module) against the interpreter packet by packet: verdicts, packets written (bytes, lengths,
 * the cut of frames longer than a page), packets modified, map contents and the "maps touched"
 * summary must be identical; programs calling packet helpers are not batched. Also `prog run -d`
 * printing the JIT's compile figures.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCliCaptured } from '../src/cli/main.js';
import { type Insn, makeInsn, makeLdImm64 } from '../src/isa/insn.js';
import { createMap } from '../src/maps/index.js';
import { BPF_MAP_TYPE, type BpfMap } from '../src/maps/types.js';
import { runCapture } from '../src/net/capture_run.js';
import type { PcapRecord } from '../src/net/pcap.js';
import { vmForType } from '../src/progtypes/register.js';
import type { Vm } from '../src/vm/vm.js';
import { rng } from './vm_random_lib.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BPF_PROG_TYPE_XDP = 6;

/** A VM with the XDP helpers and a 256-entry u64 counter array. */
function setup(): { vm: Vm; counters: BpfMap } {
  const vm = vmForType(BPF_PROG_TYPE_XDP);
  const counters = createMap({ space: vm.space, nrCpus: 1 }, { type: BPF_MAP_TYPE.ARRAY, keySize: 4, valueSize: 8, maxEntries: 256, flags: 0, name: 'proto_count' });
  return { vm, counters };
}

/**
 * Parse Ethernet/IPv4, count packets per IP protocol in the array (ld_imm64 of the map, lookup,
 * atomic add), drop UDP, XOR a byte of TCP packets (modified), pass the rest; `extra` runs first.
 */
function parseAndCount(map: number, extra: Insn[] = []): Insn[] {
  return [
    ...extra,
    makeInsn(0x61, 2, 1, 0), makeInsn(0x61, 3, 1, 4), // r2 = data, r3 = data_end
    makeInsn(0xbf, 4, 2), makeInsn(0x07, 4, 0, 0, 34), makeInsn(0x2d, 4, 3, 20, 0), // if data + 34 > end: pass
    makeInsn(0x69, 5, 2, 12), makeInsn(0x55, 5, 0, 18, 0x0008), // not IPv4: pass
    makeInsn(0x71, 6, 2, 23), makeInsn(0xbf, 7, 2), // r6 = protocol, r7 = data
    makeInsn(0x63, 10, 6, -4), ...makeLdImm64(1, BigInt(map)), makeInsn(0xbf, 2, 10), makeInsn(0x07, 2, 0, 0, -4),
    makeInsn(0x85, 0, 0, 0, 1), makeInsn(0x15, 0, 0, 2, 0), makeInsn(0xb7, 1, 0, 0, 1), makeInsn(0xdb, 0, 1, 0, 0), // counters[proto]++
    makeInsn(0x55, 6, 0, 2, 17), makeInsn(0xb7, 0, 0, 0, 1), makeInsn(0x95), // UDP: drop
    makeInsn(0x55, 6, 0, 3, 6), makeInsn(0x71, 4, 7, 40), makeInsn(0xa7, 4, 0, 0, 0xff), makeInsn(0x73, 7, 4, 40), // TCP: flip a byte
    makeInsn(0xb7, 0, 0, 0, 2), makeInsn(0x95),
  ];
}

function capture(count: number, seed: number): PcapRecord[] {
  const rand = rng(seed);
  const out: PcapRecord[] = [];
  for (let i = 0; i < count; i++) {
    const len = i === 5 ? 4000 : i === 9 ? 20 : 42 + Math.floor(rand() * 200); // one longer than a page's linear part, one short
    const data = new Uint8Array(len);
    for (let j = 0; j < len; j++) data[j] = Math.floor(rand() * 256);
    if (rand() < 0.9) { data[12] = 0x08; data[13] = 0x00; }
    if (len > 23) data[23] = [6, 17, 1, 47][Math.floor(rand() * 4)];
    out.push({ sec: 1700000000 + i, nsec: i, caplen: len, len: len + (i % 7 === 0 ? 10 : 0), data, ifIndex: 0 });
  }
  return out;
}

function contents(m: BpfMap): string[] {
  const out: string[] = [];
  for (let i = 0; i < m.spec.maxEntries; i++) {
    const v = m.lookup(Uint8Array.of(i, 0, 0, 0));
    if (v.some((b) => b !== 0)) out.push(`${i}:${[...v].join(',')}`);
  }
  return out;
}

function both(build: (map: number) => Insn[], records: PcapRecord[]) {
  const a = setup();
  const b = setup();
  const interp = runCapture(records, 1, { insns: build(a.counters.handleAddr), type: BPF_PROG_TYPE_XDP, vm: a.vm, engine: 'interp', verdicts: true });
  const jit = runCapture(records, 1, { insns: build(b.counters.handleAddr), type: BPF_PROG_TYPE_XDP, vm: b.vm, engine: 'jit', verdicts: true });
  const summary = (s: typeof interp.summary) => ({ ...s, durationNs: 0, batched: false });
  assert.deepEqual(summary(jit.summary), summary(interp.summary));
  assert.deepEqual(jit.out, interp.out);
  assert.deepEqual(contents(b.counters), contents(a.counters));
  return { interp, jit, counters: contents(b.counters) };
}

test('XDP over a capture in JIT batches == the interpreter packet by packet (verdicts, packets, maps)', () => {
  const records = capture(1500, 0xca9);
  const { interp, jit, counters } = both((m) => parseAndCount(m), records);
  assert.equal(jit.summary.batched, true);
  assert.equal(interp.summary.batched, false);
  // what the program does, seen from outside: UDP dropped, TCP modified, protocols counted
  assert.ok((jit.summary.verdicts.XDP_DROP ?? 0) > 100 && (jit.summary.verdicts.XDP_PASS ?? 0) > 100);
  assert.ok(jit.summary.modified > 100);
  assert.ok(counters.length >= 4, counters.join(' '));
  assert.deepEqual(jit.summary.mapsTouched, [{ name: 'proto_count', changed: counters.length }]);
  const long = jit.out.find((r) => r.sec === 1700000005);
  if (long) assert.equal(long.caplen, 4096 - 256 - 320); // (cut to the linear part, as the harness does)
});

test('a program calling a packet helper runs packet by packet, with the same results', () => {
  // bpf_xdp_adjust_head(ctx, 0) first: the helper reads the per-packet state
  const adjust = [makeInsn(0xbf, 9, 1), makeInsn(0xb7, 2, 0, 0, 0), makeInsn(0x85, 0, 0, 0, 44), makeInsn(0xbf, 1, 9)];
  const { jit } = both((m) => parseAndCount(m, adjust), capture(300, 0xcaa));
  assert.equal(jit.summary.batched, false);
});

test('a fault in a batch names the packet run and matches the per-packet error', () => {
  const records = capture(700, 0xcab);
  const bad = (m: number): Insn[] => [makeInsn(0x61, 2, 1, 0), makeInsn(0x71, 0, 2, -300), ...parseAndCount(m)]; // before the page
  const a = setup();
  const b = setup();
  assert.throws(() => runCapture(records, 1, { insns: bad(a.counters.handleAddr), type: BPF_PROG_TYPE_XDP, vm: a.vm, engine: 'interp' }), (e: Error) => {
    assert.match(e.message, /out of bounds memory load \(insn #1\)/);
    return true;
  });
  assert.throws(() => runCapture(records, 1, { insns: bad(b.counters.handleAddr), type: BPF_PROG_TYPE_XDP, vm: b.vm, engine: 'jit' }), (e: Error) => {
    assert.match(e.message, /^run 0 of the batch: out of bounds memory load \(insn #1\)/);
    return true;
  });
});

test('prog run -d reports the JIT compile time on stderr', async () => {
  const obj = join(ROOT, 'examples/xdp_udp_drop.o');
  const r = await runCliCaptured(['-d', 'prog', 'run', 'file', obj, 'data_in', join(ROOT, 'examples/udp.bin')]);
  assert.equal(r.status, 0, r.stderr);
  const m = /^jit: (\d+) insns compiled in (\d+\.\d{3}) ms \(\d+ bytes of wasm/m.exec(r.stderr);
  assert.ok(m, r.stderr);
  assert.ok(Number(m[1]) > 10);
  // the total is the sum of the phases it lists, first calls (V8's lazy Liftoff compile) included
  const phases = /codegen (\d+\.\d{3}) \+ module (\d+\.\d{3}) \+ instantiate (\d+\.\d{3}) \+ first calls (\d+\.\d{3}) ms\)/.exec(r.stderr);
  assert.ok(phases, r.stderr);
  const sum = phases.slice(1).reduce((a, x) => a + Number(x), 0);
  assert.ok(Math.abs(sum - Number(m[2])) < 0.0025, `${sum} vs ${m[2]}`);
  assert.ok(Number(phases[4]) > 0, 'the first calls were timed');
  const i = await runCliCaptured(['-d', 'prog', 'run', 'file', obj, 'data_in', join(ROOT, 'examples/udp.bin'), 'engine', 'interp']);
  assert.doesNotMatch(i.stderr, /^jit:/m);
});

test('repeat runs inside the module (runRepeat) change maps and return as the interpreter does', async () => {
  const { testRunXdp } = await import('../src/progtypes/xdp.js');
  const tcp = capture(40, 0xcac).find((r) => r.data[23] === 6 && r.data[12] === 8 && r.data[13] === 0 && r.data.length > 41)!;
  const runs = await Promise.all((['interp', 'jit'] as const).map(async (engine) => {
    const w = setup();
    const r = await testRunXdp({ insns: parseAndCount(w.counters.handleAddr), section: 'xdp', dataIn: tcp.data, dataSizeOut: 0, repeat: 1001, engine, vm: w.vm });
    return { retval: r.retval, dataOut: [...r.dataOut], counters: contents(w.counters) };
  }));
  assert.deepEqual(runs[1], runs[0]);
  assert.deepEqual(runs[1].counters, ['6:233,3,0,0,0,0,0,0']); // 1001 runs counted
  assert.equal(runs[1].dataOut[40], tcp.data[40] ^ 0xff); // flipped 1001 times: the packet is not reset between repeats
});

test('runRepeat with LD_ABS: in and out of the packet, as the interpreter', async () => {
  const { compileJit } = await import('../src/vm/jit/index.js');
  const { interpret } = await import('../src/vm/interpreter.js');
  const { vm } = setup();
  const pkt = vm.space.alloc(20, 'pkt');
  vm.space.write(pkt.addr, Uint8Array.from({ length: 20 }, (_, i) => i * 11));
  for (const off of [2, 16, 17, 40]) {
    const insns = [makeInsn(0xbf, 6, 1), makeInsn(0x20, 0, 0, 0, off), makeInsn(0x07, 0, 0, 0, 1), makeInsn(0x95)]; // r0 = ntohl(*(u32 *)skb[off]) + 1
    const want = Number(BigInt.asUintN(32, interpret(vm, insns, { args: [1n], packet: { addr: pkt.addr, len: 20 } }).r0));
    const got = compileJit(vm, insns).runRepeat(1, 5, undefined, { addr: pkt.addr, len: 20 });
    assert.equal(got, want, `offset ${off}`);
  }
});

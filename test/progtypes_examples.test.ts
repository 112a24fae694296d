/*
 * The example programs with maps, run over captures on a kernel's Vm (kernel/load.ts loads the
 * object, net/capture_run.ts runs the packets): sockex1's bytes per IP protocol, an XDP DDoS
 * filter with an LPM deny list (drops and per-rule hits), and a kprobe-style counter fed with
 * synthetic pt_regs events.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Bpf } from '../src/kernel/bpf.js';
import { loadObjectIntoKernel } from '../src/kernel/load.js';
import { createMap } from '../src/maps/index.js';
import { runCapture } from '../src/net/capture_run.js';
import type { PcapRecord } from '../src/net/pcap.js';
import { buildPtRegs, classifierResult, registerProgTypeHelpers, runTracing, testRun } from '../src/progtypes/index.js';
import { makeInsn, makeLdImm64 } from '../src/isa/insn.js';
import { tcpFrame } from './progtypes_packets.js';

const FIX = fileURLToPath(new URL('../../test/fixtures/progtypes/', import.meta.url));

function rec(data: Uint8Array, i: number): PcapRecord {
  return { sec: i, nsec: 0, caplen: data.length, len: data.length, data, ifIndex: 0 };
}

const u32 = (n: number): Uint8Array => { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, n, true); return b; };
const u64 = (b: Uint8Array): bigint => new DataView(b.buffer, b.byteOffset).getBigUint64(0, true);

test('sockex1: bytes per IP protocol over a capture', () => {
  const bpf = new Bpf({ createMap });
  const loaded = loadObjectIntoKernel(bpf, readFileSync(`${FIX}sockex1.o`), 'sockex1.o');
  const prog = loaded.programs[0];
  registerProgTypeHelpers(bpf.vm.helpers, prog.type);
  const tcp = tcpFrame({ payload: 10 });
  const udp = tcpFrame({ payload: 30, proto: 17 });
  const frames = [tcp, udp, tcp, udp, udp];
  for (const engine of ['jit', 'interp'] as const) {
    const r = runCapture(frames.map(rec), 1, { insns: loaded.runInsns(prog), type: prog.type, vm: bpf.vm, engine });
    assert.equal(r.summary.passed, 5);
    assert.deepEqual(r.out.map((x) => x.data.length), frames.map((f) => f.length)); // -1: whole packets
  }
  const map = loaded.map('my_map').fd;
  assert.equal(u64(bpf.mapLookup(map, u32(6))), BigInt(2 * 2 * tcp.length));
  assert.equal(u64(bpf.mapLookup(map, u32(17))), BigInt(2 * 3 * udp.length));
  assert.equal(u64(bpf.mapLookup(map, u32(1))), 0n);
  loaded.close();
});

test('xdp_ddos: an LPM deny list drops and counts', () => {
  const bpf = new Bpf({ createMap });
  const loaded = loadObjectIntoKernel(bpf, readFileSync(`${FIX}xdp_ddos.o`), 'xdp_ddos.o');
  const prog = loaded.programs[0];
  registerProgTypeHelpers(bpf.vm.helpers, prog.type);
  const deny = loaded.map('deny').fd;
  const key = new Uint8Array(8);
  new DataView(key.buffer).setUint32(0, 24, true);
  key.set([192, 168, 1, 0], 4); // 192.168.1.0/24
  bpf.mapUpdate(deny, key, new Uint8Array(8));
  const bad = tcpFrame(); // from 192.168.1.1
  const good = tcpFrame();
  good[26] = 10; // from 10.168.1.1
  const r = runCapture([bad, good, bad, good, good].map(rec), 1, { insns: loaded.runInsns(prog), type: prog.type, vm: bpf.vm });
  assert.deepEqual(r.summary.verdicts, { XDP_DROP: 2, XDP_PASS: 3 });
  assert.equal(u64(bpf.mapLookup(deny, key)), 2n);
  loaded.close();
});

test('a kprobe counter fed with synthetic events', () => {
  const bpf = new Bpf({ createMap });
  const map = bpf.mapCreate({ type: 1, keySize: 8, valueSize: 8, maxEntries: 64, flags: 0, name: 'calls' });
  registerProgTypeHelpers(bpf.vm.helpers, 2);
  // key = PT_REGS_PARM1 (di); v = lookup; if (v) *v += 1 else update(key, 1)
  const insns = [
    makeInsn(0x79, 6, 1, 112), makeInsn(0x7b, 10, 6, -8), makeInsn(0x7a, 10, 0, -16, 1),
    ...makeLdImm64(1, BigInt(bpf.mapOf(map).map.handleAddr)),
    makeInsn(0xbf, 2, 10), makeInsn(0x07, 2, 0, 0, -8), makeInsn(0x85, 0, 0, 0, 1),
    makeInsn(0x15, 0, 0, 3, 0), makeInsn(0xb7, 1, 0, 0, 1), makeInsn(0xdb, 0, 1, 0, 0), makeInsn(0x05, 0, 0, 8, 0),
    ...makeLdImm64(1, BigInt(bpf.mapOf(map).map.handleAddr)),
    makeInsn(0xbf, 2, 10), makeInsn(0x07, 2, 0, 0, -8), makeInsn(0xbf, 3, 10), makeInsn(0x07, 3, 0, 0, -16),
    makeInsn(0xb7, 4, 0, 0, 0), makeInsn(0x85, 0, 0, 0, 2),
    makeInsn(0xb7, 0, 0, 0, 0), makeInsn(0x95),
  ];
  for (const fd of [3, 4, 3, 3, 9]) runTracing(insns, buildPtRegs({ di: BigInt(fd) }), { vm: bpf.vm });
  const key = (n: number): Uint8Array => { const b = new Uint8Array(8); b[0] = n; return b; };
  assert.equal(u64(bpf.mapLookup(map, key(3))), 3n);
  assert.equal(u64(bpf.mapLookup(map, key(4))), 1n);
  assert.equal(u64(bpf.mapLookup(map, key(9))), 1n);
});

test('tc-bpf(8) classifier + action pair: classid from the mark, shared stats', async () => {
  const bpf = new Bpf({ createMap });
  const loaded = loadObjectIntoKernel(bpf, readFileSync(`${FIX}tc_pair.o`), 'tc_pair.o');
  const cls = loaded.program('cls_main');
  const act = loaded.program('act_main');
  assert.equal(cls.type, 3);
  assert.equal(act.type, 4);
  registerProgTypeHelpers(bpf.vm.helpers, 3);
  const frame = tcpFrame({ payload: 20 });
  const classids: number[] = [];
  for (const mark of [0, 5, 7]) {
    const ctx = new Uint8Array(192);
    new DataView(ctx.buffer).setUint32(8, mark, true);
    const r = await testRun({ insns: loaded.runInsns(cls), type: 3, section: 'classifier', dataIn: frame, ctxIn: ctx, dataSizeOut: 0, repeat: 1, engine: 'jit', vm: bpf.vm });
    const c = classifierResult(r.retval, 0, 0x10001);
    classids.push(c.match ? c.classid : 0);
    if (c.match) {
      const a = await testRun({ insns: loaded.runInsns(act), type: 4, section: 'action', dataIn: frame, dataSizeOut: 0, repeat: 1, engine: 'interp', vm: bpf.vm });
      assert.equal(a.retval, 0);
    }
  }
  assert.deepEqual(classids, [0, 0x10005, 0x10007]);
  const stats = loaded.map('stats').fd;
  assert.equal(u64(bpf.mapLookup(stats, u32(0))), 3n);
  assert.equal(u64(bpf.mapLookup(stats, u32(1))), BigInt(2 * frame.length));
  loaded.close();
});

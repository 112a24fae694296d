/*
 * Filters compiled to JavaScript give runCbpf()'s results (libpcap semantics) on random programs,
 * backward jumps and tcpdump-compiled filters, and are fast.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cbpfToJs, compileCbpf } from '../src/cbpf/compile.js';
import { parseBytecode } from '../src/cbpf/dump.js';
import { type CInsn, cinsn } from '../src/cbpf/insn.js';
import { runCbpf } from '../src/cbpf/interp.js';
import { Rng, TCPDUMP_EXPRS, mutate, randomPacket, randomProgram } from './cbpf_gen.js';
import { missingTool, runTool } from './oracles.js';

test('compiled == interpreted on random (and broken) programs', () => {
  const r = new Rng(99);
  let nonzero = 0;
  for (let i = 0; i < 3000; i++) {
    let prog: CInsn[] = randomProgram(r, 1 + r.int(40));
    if (r.chance(0.3)) prog = mutate(r, prog);
    const fn = compileCbpf(prog);
    for (let j = 0; j < 5; j++) {
      const p = randomPacket(r);
      const wire = p.length + r.int(50);
      const want = runCbpf(prog, p, wire);
      assert.equal(fn(p, wire), want, `${JSON.stringify(prog)} on ${Buffer.from(p).toString('hex')}\n${cbpfToJs(prog)}`);
      if (want !== 0) nonzero++;
    }
  }
  assert.ok(nonzero > 1000, `${nonzero} non-zero results`);
});

test('compiled backward jumps: bounded like the interpreter', () => {
  const loop = (limit: number): CInsn[] => [cinsn(0x04, 1), cinsn(0x25, limit, 1, 0), cinsn(0x05, -3 >>> 0), cinsn(0x16)];
  for (const limit of [5, 500, 1023, 1024, 1025, 5000]) {
    assert.equal(compileCbpf(loop(limit))(new Uint8Array(0), 0), runCbpf(loop(limit), new Uint8Array(0), 0), `limit ${limit}`);
  }
  assert.equal(compileCbpf([cinsn(0x05, 0xffffffff), cinsn(0x06, 1)])(new Uint8Array(0), 0), 0);
  assert.equal(compileCbpf([])(new Uint8Array(0), 0), 0);
});

test('compiled tcpdump filters agree and run fast', (t) => {
  const why = missingTool('tcpdump');
  if (why) { t.skip(why); return; }
  const r = new Rng(5);
  const packets = Array.from({ length: 200 }, () => {
    const p = randomPacket(r);
    const q = new Uint8Array(p.length + 40);
    q.set(p);
    if (r.chance(0.7)) { q[12] = 8; q[13] = 0; q[14] = 0x45; q[23] = r.pick([6, 17, 1]); }
    return q;
  });
  for (const expr of TCPDUMP_EXPRS) {
    const prog = parseBytecode(runTool('tcpdump', ['-ddd', '-y', 'EN10MB', expr]));
    const fn = compileCbpf(prog);
    for (const p of packets) assert.equal(fn(p, p.length), runCbpf(prog, p, p.length), expr);
  }
  const prog = parseBytecode(runTool('tcpdump', ['-ddd', '-y', 'EN10MB', 'tcp port 80 and host 10.0.0.1']));
  const fn = compileCbpf(prog);
  const pkt = new Uint8Array(74); pkt[12] = 8; pkt[14] = 0x45; pkt[23] = 6; pkt.set([10, 0, 0, 1], 26); pkt[37] = 80;
  let sum = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < 2_000_000; i++) sum += fn(pkt, 74);
  const ns = Number(process.hrtime.bigint() - t0) / 2_000_000;
  assert.equal(sum, 262144 * 2_000_000);
  t.diagnostic(`${ns.toFixed(1)} ns per packet (compiled)`);
  assert.ok(ns < 200, `${ns} ns per packet`);
});

/*
 * The interpreter's Linux semantics against the kernel's own execution: random socket filters
 * run on AF_PACKET sockets on lo (root only). Each filter is wrapped so the kernel tells us
 * whether its result equals ours: `ret` becomes a jump to `jeq #OURS, keep all, keep 1 byte`, and
 * a guard lets only the case's own frame through.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { bpfAsm, bpfDisasm } from '../src/cbpf/asm.js';
import { linuxCheckError } from '../src/cbpf/check.js';
import { type CInsn, SKF_AD_OFF, SKF_LL_OFF, SKF_NET_OFF } from '../src/cbpf/insn.js';
import { type PacketMeta, runCbpf } from '../src/cbpf/interp.js';
import { Rng, randomProgram } from './cbpf_gen.js';
import { findTool } from './oracles.js';

/** Ancillary values the kernel computes in ways we cannot know here (CPU, random, hash, flow dissector). */
const UNKNOWABLE = new Set([36, 56, 32, 52].map((ad) => (SKF_AD_OFF + ad) >>> 0));
const ETHERTYPE = 0x88b5;

/** `prog` wrapped: guard on the marker, then prog with every ret going to the comparison with `want`. */
function wrap(prog: CInsn[], marker: number, want: number): CInsn[] {
  const body = bpfDisasm(prog).split('\n').filter(Boolean).map((line) => {
    const m = /^(l\d+:)?\tret (#\S+|a)/.exec(line);
    if (!m) return line.replace(/\t; unused.*$/, '');
    const label = m[1] ?? '';
    return m[2] === 'a' ? `${label}\tja cmp` : `${label}\tld ${m[2]}\n\tja cmp`;
  });
  return bpfAsm([
    `\tld [14]`, `\tjeq #${marker}, go, drop`, `go:\tld #0`, ...body,
    `cmp:\tjeq #${want >>> 0}, all, bit`, 'all:\tret #65535', 'bit:\tret #1', 'drop:\tret #0',
  ].join('\n'));
}

test('Linux semantics equal the kernel\'s on AF_PACKET sockets', (t) => {
  if (process.platform !== 'linux' || process.getuid?.() !== 0 || !findTool('python3')) {
    t.skip('needs root on Linux and python3 (AF_PACKET on lo)');
    return;
  }
  const r = new Rng(31337);
  const cases: { prog: CInsn[]; frame: Uint8Array; expect: number }[] = [];
  while (cases.length < 300) {
    // header-relative loads too: ld [SKF_NET_OFF + k], ld [SKF_LL_OFF + k], ldx #SKF_NET_OFF
    const prog = randomProgram(r, 2 + r.int(25), { anc: true }).map((i) => {
      if ((i.code === 0x20 || i.code === 0x28 || i.code === 0x30 || i.code === 0xb1) && i.k < 0x1000 && r.chance(0.4)) {
        return { ...i, k: ((r.chance(0.5) ? SKF_NET_OFF : SKF_LL_OFF) + r.int(70)) >>> 0 };
      }
      if (i.code === 0x01 && r.chance(0.4)) return { ...i, k: (SKF_NET_OFF + r.int(8)) >>> 0 };
      return i;
    });
    if (prog.some((i) => UNKNOWABLE.has(i.k >>> 0) && (i.code & 0xe7) === 0x20)) continue;
    if (linuxCheckError(prog) !== undefined) continue;
    const frame = new Uint8Array(40 + r.int(80));
    for (let i = 12; i < frame.length; i++) frame[i] = r.chance(0.3) ? r.int(8) : r.int(256);
    frame.set([0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 1], 0); // to lo's address (PACKET_HOST), from a local one
    frame[12] = ETHERTYPE >> 8; frame[13] = ETHERTYPE & 0xff;
    const marker = cases.length;
    new DataView(frame.buffer).setUint32(14, marker);
    const meta: PacketMeta = { protocol: ETHERTYPE, pktType: 0, ifindex: 1, hatype: 772, netHeader: 14, macHeader: 0 };
    const want = runCbpf(prog, frame, frame.length, meta);
    const wrapped = wrap(prog, marker, want);
    if (linuxCheckError(wrapped) !== undefined) continue;
    const expect = runCbpf(wrapped, frame, frame.length, meta) === 0 ? 0 : frame.length;
    cases.push({ prog: wrapped, frame, expect });
  }
  const script = new URL('../../test/fixtures/cbpf/packet_filter_run.py', import.meta.url).pathname;
  const input = JSON.stringify(cases.map((c) => ({ prog: c.prog.map((i) => [i.code, i.jt, i.jf, i.k >>> 0]), frame: Buffer.from(c.frame).toString('hex') })));
  const res = spawnSync('python3', [script], { input, encoding: 'utf8' });
  if (res.status !== 0) { t.skip(`cannot run filters on lo: ${res.stderr.trim().split('\n').pop()}`); return; }
  const got = JSON.parse(res.stdout) as number[];
  let kept = 0;
  cases.forEach((c, i) => {
    if (c.expect !== 0) kept++;
    assert.equal(got[i], c.expect, `case ${i}: ${got[i] === 1 ? 'different result' : 'kept/dropped differently'}\n${bpfDisasm(c.prog)}frame ${Buffer.from(c.frame).toString('hex')}`);
  });
  assert.ok(kept > 50, `${kept} kept`);
});

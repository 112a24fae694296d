/*
 * cbpf/jsc.ts: filters compiled over a packet inside a larger buffer (buf, offset, caplen, wireLen)
 * give the reference interpreter's results (runCbpf on the packet alone) bit for bit: on random
 * and broken programs with the packet between random bytes (nothing outside it may be read), and
 * on the libpcap-tests apply captures read with CaptureReader, against their expected results.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { cbpfToJs } from '../src/cbpf/compile.js';
import { type CInsn, cinsn } from '../src/cbpf/insn.js';
import { runCbpf } from '../src/cbpf/interp.js';
import { cbpfInlineAt, compileCbpfAt } from '../src/cbpf/jsc.js';
import { compileFilter, PCAP_NETMASK_UNKNOWN } from '../src/filter/index.js';
import { CaptureReader } from '../src/net/pcap.js';
import { Rng, mutate, randomPacket, randomProgram } from './cbpf_gen.js';
import { missingShared, sharedPath } from './oracles.js';

test('compiled at an offset == interpreted, on random (and broken) programs', () => {
  const r = new Rng(2024);
  let nonzero = 0;
  let rejectedByLength = 0;
  for (let i = 0; i < 2000; i++) {
    let prog: CInsn[] = randomProgram(r, 1 + r.int(40));
    if (r.chance(0.3)) prog = mutate(r, prog);
    const fn = compileCbpfAt(prog);
    for (let j = 0; j < 5; j++) {
      const pkt = randomPacket(r);
      const wire = pkt.length + r.int(50);
      // The packet sits between random bytes: a load past caplen must not see them.
      const before = r.int(100);
      const buf = new Uint8Array(before + pkt.length + 100);
      for (let b = 0; b < buf.length; b++) buf[b] = r.next() & 0xff;
      buf.set(pkt, before);
      const want = runCbpf(prog, pkt, wire);
      const got = fn(buf, before, pkt.length, wire);
      assert.equal(got, want, `${JSON.stringify(prog)} on ${Buffer.from(pkt).toString('hex')}\n${cbpfToJs(prog, true)}`);
      if (want !== 0) nonzero++;
      // The same program over the packet extended into its neighbours must differ sometimes,
      // or the test above could not tell a bounds check from no check.
      if (runCbpf(prog, buf.subarray(before, before + pkt.length + 100), wire) !== want) rejectedByLength++;
    }
  }
  assert.ok(nonzero > 700, `${nonzero} non-zero results`);
  assert.ok(rejectedByLength > 100, `${rejectedByLength} runs where the captured length mattered`);
});

test('libpcap semantics at the edges: loads past caplen, division by zero, backward jumps', () => {
  const buf = Uint8Array.from([9, 9, 0x12, 0x34, 0x56, 0x78, 9, 9]);
  const cases: [CInsn[], number, number, number][] = [
    [[cinsn(0x20, 0), cinsn(0x16)], 2, 4, 0x12345678], // ld [0] inside
    [[cinsn(0x20, 1), cinsn(0x16)], 2, 4, 0], // ld [1]: one byte past caplen
    [[cinsn(0x28, 2), cinsn(0x16)], 2, 4, 0x5678],
    [[cinsn(0x30, 4), cinsn(0x06, 7)], 2, 4, 0], // ldb at caplen
    [[cinsn(0x01, 3), cinsn(0x50, 0), cinsn(0x16)], 2, 4, 0x78], // ldb [x + 0]
    [[cinsn(0x01, 4), cinsn(0x50, 0), cinsn(0x16)], 2, 4, 0],
    [[cinsn(0xb1, 0), cinsn(0x87), cinsn(0x16)], 2, 4, (0x12 & 0xf) << 2],
    [[cinsn(0x00, 5), cinsn(0x01, 0), cinsn(0x3c), cinsn(0x06, 1)], 2, 4, 0], // A / X, X = 0
    [[cinsn(0x00, 5), cinsn(0x01, 0), cinsn(0x9c), cinsn(0x06, 1)], 2, 4, 0], // A % X, X = 0
    [[cinsn(0x80), cinsn(0x16)], 2, 4, 1000], // ld #len is the wire length
    [[cinsn(0x04, 1), cinsn(0x25, 1500, 1, 0), cinsn(0x05, -3 >>> 0), cinsn(0x16)], 2, 4, 0], // 1024 backward jumps at most
    [[cinsn(0x04, 1), cinsn(0x25, 100, 1, 0), cinsn(0x05, -3 >>> 0), cinsn(0x16)], 2, 4, 101],
  ];
  for (const [prog, off, caplen, want] of cases) {
    assert.equal(runCbpf(prog, buf.subarray(off, off + caplen), 1000), want, `interpreter: ${JSON.stringify(prog)}`);
    assert.equal(compileCbpfAt(prog)(buf, off, caplen, 1000), want, JSON.stringify(prog));
  }
  assert.equal(compileCbpfAt([])(buf, 0, 8, 8), 0);
});

test('inline mode: the same filter as statements for a caller\'s loop (no return, one block, DataView loads)', () => {
  const r = new Rng(99);
  const progs: CInsn[][] = [compileFilter('tcp port 80', { linktype: 1, snaplen: 262144 }), compileFilter('ip6 protochain 6', { linktype: 1, snaplen: 262144 })];
  for (let i = 0; i < 300; i++) progs.push(mutate(r, randomProgram(r, 1 + r.int(30))));
  for (const prog of progs) {
    const stmts = cbpfInlineAt(prog)!;
    assert.doesNotMatch(stmts, /\breturn\b/);
    assert.match(stmts, /^filter: \{\n[^]*\n\}$/);
    // Wrapped as a function of one packet, it gives the interpreter's results.
    const fn = new Function('p', 'b', 'n', 'len', `const dv = new DataView(p.buffer, p.byteOffset, p.byteLength); let verdict = 0;\n${stmts}\nreturn verdict;`);
    for (let j = 0; j < 5; j++) {
      const pkt = randomPacket(r);
      const buf = new Uint8Array(pkt.length + 20).fill(0xee);
      buf.set(pkt, 7);
      assert.equal(fn(buf, 7, pkt.length, pkt.length + 3), runCbpf(prog, pkt, pkt.length + 3), `${JSON.stringify(prog)}\n${stmts}`);
    }
  }
  assert.equal(cbpfInlineAt([]), undefined);
});

interface ApplyTest { label: string; savefile: string; expr: string; optimize: boolean; netmask: string | null; results: number[]; env_skip: string | null }

test('libpcap-tests apply captures: compiled filters over CaptureReader give the expected results', { skip: missingShared('libpcap-tests') }, () => {
  const tests = readFileSync(sharedPath('libpcap-tests/filter_apply_tests.jsonl'), 'utf8').split('\n').filter(Boolean)
    .map((l) => JSON.parse(l) as ApplyTest).filter((t) => !t.env_skip);
  assert.ok(tests.length > 300);
  const ip = (s: string | null): number => (s ? s.split('.').reduce((a, p) => ((a << 8) | Number(p)) >>> 0, 0) : PCAP_NETMASK_UNKNOWN);
  for (const t of tests) {
    const bytes = new Uint8Array(readFileSync(sharedPath('libpcap-tests/savefiles/' + t.savefile)));
    const reader = new CaptureReader(bytes);
    const prog = compileFilter(t.expr, {
      linktype: reader.linktype, snaplen: reader.snaplen || 262144, optimize: t.optimize, netmask: ip(t.netmask),
      savefile: true, swapped: reader.bigEndian,
    });
    const fn = compileCbpfAt(prog);
    const got: number[] = [];
    const ref: number[] = [];
    while (reader.next()) {
      got.push(fn(reader.buf, reader.dataOffset, reader.caplen, reader.len));
      ref.push(runCbpf(prog, reader.buf.subarray(reader.dataOffset, reader.dataOffset + reader.caplen), reader.len));
    }
    assert.deepEqual(got, t.results, `${t.label}: ${t.expr}`);
    assert.deepEqual(ref, got, `${t.label}: interpreter`);
  }
});

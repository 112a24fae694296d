/*
 * Precision tracking and state pruning (Linux 6.18's mark_chain_precision() family): scalars are
 * imprecise until a value decides something, so explored states match paths that differ only in
 * scalars nobody looked at; once a value matters, it is marked precise back through the jump
 * history into the checkpoints, and a path with another value is explored on its own.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Insn, makeInsn } from '../src/isa/insn.js';
import { verify } from '../src/verifier/verifier.js';

const SOCKET_FILTER = 1;
const I = (code: number, dst = 0, src = 0, off = 0, imm = 0): Insn => makeInsn(code, dst, src, off, imm);
const ldxw = (dst: number, off: number): Insn => I(0x61, dst, 1, off);
const mov = (dst: number, imm: number): Insn => I(0xb7, dst, 0, 0, imm);
const inc0 = I(0x07, 0, 0, 0, 1);
const exit = I(0x95);

/**
 * r3 is 5 or 7 depending on the packet length; both paths meet at insn 4. The first path leaves a
 * checkpoint at the conditional jump 9 (two jumps and nine instructions after the start); `use`
 * at 11 decides what happens to r3 afterwards.
 */
const joinProgram = (use: Insn): Insn[] => [
  ldxw(2, 0), mov(3, 5), I(0x25, 2, 0, 1, 10), mov(3, 7), // 0-3: if len > 10 keep r3 = 5
  ldxw(6, 4), I(0x05, 0, 0, 0), mov(0, 0), inc0, inc0, // 4-8: a second jump (goto +0), then padding
  I(0x25, 6, 0, 1, 30), // 9: the checkpoint (r6 unknown: both ways)
  inc0, use, inc0, exit, // 10-13
];

test('a scalar nobody needs stays imprecise: the second path is pruned at the checkpoint', () => {
  const r = verify(joinProgram(I(0x25, 6, 0, 1, 40)), { progType: SOCKET_FILTER, logLevel: 2 });
  assert.ok(r.ok, r.log);
  assert.match(r.log, /^9: safe$/m);
  assert.doesNotMatch(r.log, /R3=P/);
});

test('a scalar deciding a branch is marked precise in the checkpoint: the other value is explored', () => {
  // if r3 > 6 has a known outcome on each path: backtracking marks r3 in the checkpoint at 9
  const r = verify(joinProgram(I(0x25, 3, 0, 1, 6)), { progType: SOCKET_FILTER, logLevel: 2 });
  assert.ok(r.ok, r.log);
  assert.doesNotMatch(r.log, /^9: safe$/m);
  assert.match(r.log, /^mark_precise: frame0: parent state regs=r3 stack=: .* R3=P7 /m);
  // back through the jump history, to the instruction that set it
  assert.match(r.log, /^mark_precise: frame0: regs=r3 stack= before 3: \(b7\) r3 = 7$/m);
  // the pruned run processed fewer instructions than the precise one
  const pruned = verify(joinProgram(I(0x25, 6, 0, 1, 40)), { progType: SOCKET_FILTER, logLevel: 1 });
  assert.ok(r.stats.insnProcessed > pruned.stats.insnProcessed, `${r.stats.insnProcessed} vs ${pruned.stats.insnProcessed}`);
});

test('precision follows a value through a stack spill and fill', () => {
  const insns = [
    ldxw(2, 0), mov(3, -8), I(0x25, 2, 0, 1, 10), mov(3, -16),
    I(0x7b, 10, 3, -24), // *(u64 *)(r10 -24) = r3
    I(0x7a, 10, 0, -8, 0), I(0x7a, 10, 0, -16, 0),
    I(0x79, 4, 10, -24), // r4 = *(u64 *)(r10 -24)
    I(0xbf, 5, 10), I(0x0f, 5, 4), // r5 = r10 + r4: the offset must be exact
    I(0x79, 0, 5, 0), exit,
  ];
  const r = verify(insns, { progType: SOCKET_FILTER, logLevel: 2 });
  assert.ok(r.ok, r.log);
  assert.match(r.log, /^mark_precise: frame0: regs= stack=-24 before 4: \(7b\) \*\(u64 \*\)\(r10 -24\) = r3$/m);
  assert.match(r.log, /^mark_precise: frame0: regs=r3 stack= before 3: \(b7\) r3 = -16$/m);
});

test('linked scalars keep a constant delta: r3 = r2 + 4 prints id=N+4 and is refined with r2', () => {
  const insns = [
    ldxw(2, 0), I(0x57, 2, 0, 0, 0xff), I(0xbf, 3, 2), I(0x07, 3, 0, 0, 4), // r3 = r2 + 4
    I(0xa5, 2, 0, 2, 8), mov(0, 0), exit, // if r2 < 8 goto 7
    I(0xbf, 0, 3), exit,
  ];
  const r = verify(insns, { progType: SOCKET_FILTER, logLevel: 2 });
  assert.ok(r.ok, r.log);
  assert.match(r.log, /3: \(07\) r3 \+= 4 +; R3=scalar\(id=1\+4,/);
  // on the taken branch r2 < 8, so r3 = r2 + 4 lies in [4, 11]
  assert.match(r.log, /^from 4 to 7: .*R3=scalar\(id=1\+4,smin=umin=smin32=umin32=4,smax=umax=smax32=umax32=11,/m);
});

test('an array lookup with a constant in-range key is not _or_null (6.18)', () => {
  const insns = [
    I(0x62, 10, 0, -8, 0), // *(u32 *)(r10 -8) = 0: a 4-byte spill of the constant, as wide as the key
    I(0xbf, 2, 10), I(0x07, 2, 0, 0, -8),
    I(0x18, 1, 1, 0, 0), I(0, 0, 0, 0, 0), // r1 = map
    I(0x85, 0, 0, 0, 1), // bpf_map_lookup_elem
    I(0x61, 0, 0, 0), exit, // no null check needed
  ];
  const array = { spec: { type: 2, keySize: 4, valueSize: 8, maxEntries: 1, flags: 0 } };
  const hash = { spec: { type: 1, keySize: 4, valueSize: 8, maxEntries: 1, flags: 0 } };
  const ok = verify(insns, { progType: SOCKET_FILTER, logLevel: 1, maps: () => array });
  assert.ok(ok.ok, ok.log);
  const bad = verify(insns, { progType: SOCKET_FILTER, logLevel: 1, maps: () => hash });
  assert.equal(bad.ok, false);
  assert.match(bad.log, /R0 invalid mem access 'map_value_or_null'/);
});

test('backtracking through ld_abs falls back to forcing every scalar precise', () => {
  const insns = [
    I(0xbf, 6, 1), mov(7, 3),
    I(0x30, 0, 0, 0, 0), // r0 = ld_abs byte [0]
    I(0x25, 7, 0, 0, 1), // a checkpoint candidate
    I(0xbf, 2, 0), I(0x57, 2, 0, 0, 1), // r2 = r0 & 1: known range
    I(0x25, 2, 0, 1, 5), // if r2 > 5: never, r2 is precise -> back to ld_abs
    mov(0, 0), exit,
  ];
  const r = verify(insns, { progType: SOCKET_FILTER, logLevel: 2 });
  assert.ok(r.ok, r.log);
  assert.match(r.log, /^mark_precise: frame0: regs=r0 stack= before 2: \(30\) r0 = \*\(u8 \*\)skb\[0\]$/m);
});

test('a path repeating an unfinished state exactly is an infinite loop; the old state shows the precise mark', () => {
  // 0: r0 = 0; 1: goto +0; 2: if r0 < 4 goto 1 (always: r0 stays 0)
  const r = verify([mov(0, 0), I(0x05, 0, 0, 0), I(0xa5, 0, 0, -2, 4), exit], { progType: SOCKET_FILTER, logLevel: 1 });
  assert.equal(r.ok, false);
  assert.match(r.log, /^infinite loop detected at insn 1$/m);
  assert.match(r.log, /^old state: R0=P0 R1=ctx\(\) R10=fp0$/m);
  // print_insn_state() after a jump whose outcome is known
  assert.match(r.log, /^2: \(a5\) if r0 < 0x4 goto pc-2 +; R0=0$/m);
});

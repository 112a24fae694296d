/*
 * Conditional jumps against the running kernel (check_cond_jmp_op(), is_branch_taken(),
 * reg_set_min_max()): every jump op, JMP and JMP32, comparing a register with itself for several
 * register states, plus the operand swaps of JNE/JSET and the tnum test of JEQ/JNE. Each program is
 * loaded at log level 2 by the kernel (test/kernel_bpf_loader.ts) and by bpfkit: verdicts and
 * whole logs (the state after the jump, on both branches) must be the same; and the program of the
 * random kernel comparison that found `if w5 s>= w5` followed differently. Skips without root/cc.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Insn, makeInsn } from '../src/isa/insn.js';
import { tnumStep } from '../src/verifier/tnum.js';
import { verify } from '../src/verifier/verifier.js';
import { Rng } from './cbpf_gen.js';
import { kernelLoadAll, kernelLoader } from './kernel_bpf_loader.js';
import { lastErrorLine } from './verifier_corpus_lib.js';
import { randomProgram } from './verifier_random_gen.js';

const SOCKET_FILTER = 1;
const BPF_JMP = 0x05, BPF_JMP32 = 0x06, BPF_X = 0x08;
const OPS: Record<string, number> = {
  jeq: 0x10, jgt: 0x20, jge: 0x30, jset: 0x40, jne: 0x50, jsgt: 0x60, jsge: 0x70, jlt: 0xa0, jle: 0xb0, jslt: 0xc0, jsle: 0xd0,
};
const len = (dst: number): Insn => makeInsn(0x61, dst, 1, 0); // r = skb->len: [0, U32_MAX]
const alu64 = (op: number, dst: number, imm: number): Insn => makeInsn(0x07 | op, dst, 0, 0, imm);
const alu32 = (op: number, dst: number, imm: number): Insn => makeInsn(0x04 | op, dst, 0, 0, imm);
const [ADD, SUB, OR, AND, LSH, NEG] = [0x00, 0x10, 0x40, 0x50, 0x60, 0x80];

/** States of r5 before `if r5 op r5`: ranges that are exact, tnums with gaps, sign-crossing ranges. */
const R5_STATES: Record<string, Insn[]> = {
  'u32 range': [len(5)],
  '{0, 1 << 31} (w5 <<= 31)': [len(5), alu32(LSH, 5, 31)],
  '{0, 1 << 63}': [len(5), alu64(LSH, 5, 63)],
  's32 [-2, 1]': [len(5), alu32(AND, 5, 3), alu32(SUB, 5, 2)],
  's64 [-4, 3]': [len(5), alu64(AND, 5, 7), alu64(SUB, 5, 4)],
  'tnum (0x1; 0xf0)': [len(5), alu64(AND, 5, 0xf0), alu64(OR, 5, 1)],
  'negated nibble': [len(5), alu64(AND, 5, 0xf), alu64(NEG, 5, 0)],
  'constant -3': [makeInsn(0xb7, 5, 0, 0, -3)],
};

/** The jump at `at`, then a fall-through and a taken path that both return (and print) r5. */
const withPaths = (setup: Insn[], jump: Insn): Insn[] =>
  [...setup, jump, makeInsn(0xbf, 0, 5), makeInsn(0x95), makeInsn(0xbf, 0, 5), alu64(ADD, 0, 1), makeInsn(0x95)];

const programs: { name: string; insns: Insn[] }[] = [];
for (const [state, setup] of Object.entries(R5_STATES)) {
  for (const cls of [BPF_JMP, BPF_JMP32]) {
    for (const [op, code] of Object.entries(OPS)) {
      const w = cls === BPF_JMP32 ? 'w' : 'r';
      programs.push({ name: `if ${w}5 ${op} ${w}5, r5 ${state}`, insns: withPaths(setup, makeInsn(cls | code | BPF_X, 5, 5, 2)) });
    }
  }
}
// different registers: JNE/JSET learn from a constant on the left too; JEQ/JNE decided by tnums
const r5Low3 = [len(5), alu64(AND, 5, 7)], r5Bit1 = [len(5), alu64(AND, 5, 2)];
const r6 = (imm: number): Insn => makeInsn(0xb7, 6, 0, 0, imm);
programs.push(
  { name: 'if r6(7) != r5', insns: withPaths([...r5Low3, r6(7)], makeInsn(0x5d, 6, 5, 2)) },
  { name: 'if r6(0) != r5', insns: withPaths([...r5Low3, r6(0)], makeInsn(0x5d, 6, 5, 2)) },
  { name: 'if r6(4) & r5', insns: withPaths([...r5Low3, r6(4)], makeInsn(0x4d, 6, 5, 2)) },
  { name: 'if w6(4) & w5', insns: withPaths([...r5Low3, r6(4)], makeInsn(0x4e, 6, 5, 2)) },
  { name: 'if r5 {0,2} == 1', insns: withPaths(r5Bit1, makeInsn(0x15, 5, 0, 2, 1)) },
  { name: 'if w5 {0,2} == 1', insns: withPaths(r5Bit1, makeInsn(0x16, 5, 0, 2, 1)) },
  { name: 'if r5 {0,2} != 1', insns: withPaths(r5Bit1, makeInsn(0x55, 5, 0, 2, 1)) },
  { // JMP32 JEQ intersects the subregisters' tnums: (0; 0x5) and (0; 0x3) meet in (0; 0x1)
    name: 'if w5 == w6, tnums intersect',
    insns: withPaths([len(5), alu64(AND, 5, 5), makeInsn(0x61, 6, 1, 4), alu64(AND, 6, 3)], makeInsn(0x1e, 5, 6, 2)),
  },
);

const comparable = (log: string): string[] => log.split('\n').filter((l) => l && !/^(verification time|stack depth)/.test(l));

test('conditional jumps: bpfkit\'s log level 2 is the kernel\'s, register compared with itself and swapped operands', (t) => {
  const { exe, why } = kernelLoader();
  if (!exe) return t.skip(why!);
  const kernel = kernelLoadAll(exe, programs.map((p) => ({ insns: p.insns, progType: SOCKET_FILTER })), 2);
  const differ: string[] = [];
  programs.forEach((p, i) => {
    const ours = verify(p.insns, { progType: SOCKET_FILTER, logLevel: 2 });
    if (ours.ok !== kernel[i].ok) differ.push(`${p.name}: kernel ${kernel[i].ok ? 'accepts' : 'rejects'}, bpfkit ${ours.ok ? 'accepts' : 'rejects'}`);
    else {
      const k = comparable(kernel[i].log), b = comparable(ours.log);
      const at = k.findIndex((l, j) => l !== b[j]);
      if (at >= 0 || k.length !== b.length) differ.push(`${p.name}: logs differ at line ${at}\n  kernel: ${k[at]}\n  bpfkit: ${b[at]}`);
    }
  });
  assert.equal(differ.length, 0, `${differ.length}/${programs.length} programs differ:\n${differ.slice(0, 5).join('\n')}`);
});

test('if w5 s>= w5 with w5 in {0, 1 << 31}: the fall-through is followed with R5=0x80000000 (as 6.18)', () => {
  // found by the random kernel comparison (seed 48); the kernel's line, recorded
  const insns = withPaths(R5_STATES['{0, 1 << 31} (w5 <<= 31)'], makeInsn(BPF_JMP32 | OPS.jsge | BPF_X, 5, 5, 2));
  const log = verify(insns, { progType: SOCKET_FILTER, logLevel: 2 }).log;
  assert.match(log, /^2: \(7e\) if w5 s>= w5 goto pc\+2 +; R5=0x80000000$/m);
  assert.match(log, /^3: \(bf\) r0 = r5 +; R0=0x80000000 R5=0x80000000$/m);
});

test('if r5 > r5 with r5 in {0, 1 << 63}: the taken branch knows R5=0x8000000000000000 (tnum_step(), as 6.18)', () => {
  const insns = withPaths(R5_STATES['{0, 1 << 63}'], makeInsn(BPF_JMP | OPS.jgt | BPF_X, 5, 5, 2));
  assert.match(verify(insns, { progType: SOCKET_FILTER, logLevel: 2 }).log, /^from 2 to 5: R1=ctx\(\) R5=0x8000000000000000 R10=fp0$/m);
});

test('the random comparison\'s program (seed 48, #404): the kernel\'s verdict and error line', (t) => {
  const { exe, why } = kernelLoader();
  if (!exe) return t.skip(why!);
  const rng = new Rng(48);
  let p = randomProgram(rng);
  for (let i = 0; i < 404; i++) p = randomProgram(rng);
  assert.ok(p.insns.some((i) => i.code === 0x7e && i.dst === i.src), 'the program compares a register with itself');
  const k = kernelLoadAll(exe, [p], 1)[0];
  const ours = verify(p.insns, { progType: p.progType, logLevel: 1 });
  assert.equal(ours.ok, k.ok);
  assert.equal(lastErrorLine(ours.log), lastErrorLine(k.log));
});

test('tnum_step(): the smallest member above z, against every 6-bit tnum and z', () => {
  for (let mask = 0n; mask < 64n; mask++) {
    for (let value = 0n; value < 64n; value++) {
      if (value & mask) continue;
      const t = { value, mask }, tmax = value | mask;
      const members: bigint[] = [];
      for (let x = 0n; x < 64n; x++) if ((x & ~mask) === value) members.push(x);
      for (let z = 0n; z < 64n; z++) {
        const want = z >= tmax ? tmax : members.find((x) => x > z);
        assert.equal(tnumStep(t, z), want, `tnum (${value}; ${mask}), z ${z}`);
      }
    }
  }
  // 64-bit: the unknown top bit above a z with every low bit set
  assert.equal(tnumStep({ value: 0n, mask: 1n << 63n }, 1n), 1n << 63n);
});

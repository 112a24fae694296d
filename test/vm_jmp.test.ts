/*
 * JMP / JMP32 semantics: every conditional jump, 64 and 32 bits, register and immediate forms,
 * against a BigInt model over boundary values; goto/gotol (JMP32 JA uses imm), backward jumps,
 * may_goto, and jump targets outside the program.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BPF_JEQ, BPF_JGE, BPF_JGT, BPF_JLE, BPF_JLT, BPF_JNE, BPF_JSET, BPF_JSGE, BPF_JSGT, BPF_JSLE, BPF_JSLT,
} from '../src/isa/opcodes.js';
import { makeInsn } from '../src/isa/insn.js';
import {
  R0, R1, R2, alu64K, exit, gotol, ja, jmp32K, jmp32X, jmpK, jmpX, lddw, mov64, prog, r0, run, u64,
} from './vm_build.js';

const s64 = (v: bigint): bigint => BigInt.asIntN(64, v);
const M32 = 0xffffffffn;

type Cond = (a: bigint, b: bigint, signed: (v: bigint) => bigint) => boolean;
const CONDS: [string, number, Cond][] = [
  ['jeq', BPF_JEQ, (a, b) => a === b],
  ['jne', BPF_JNE, (a, b) => a !== b],
  ['jset', BPF_JSET, (a, b) => (a & b) !== 0n],
  ['jgt', BPF_JGT, (a, b) => a > b],
  ['jge', BPF_JGE, (a, b) => a >= b],
  ['jlt', BPF_JLT, (a, b) => a < b],
  ['jle', BPF_JLE, (a, b) => a <= b],
  ['jsgt', BPF_JSGT, (a, b, s) => s(a) > s(b)],
  ['jsge', BPF_JSGE, (a, b, s) => s(a) >= s(b)],
  ['jslt', BPF_JSLT, (a, b, s) => s(a) < s(b)],
  ['jsle', BPF_JSLE, (a, b, s) => s(a) <= s(b)],
];

const values: bigint[] = [
  0n, 1n, 2n, 0x7fffffffn, 0x80000000n, 0xffffffffn, 0x100000000n, 0x1_00000001n, 0xffffffff_00000000n,
  0x7fffffff_ffffffffn, 1n << 63n, u64(-1n), u64(-2n), u64(-0x80000000n), 0x80000000_00000001n,
];
const imms = [0, 1, -1, 2, 0x7fffffff, -0x80000000, -2];

/** r0 = 1 if the jump is taken, 0 if not. */
const taken = (cond: ReturnType<typeof makeInsn>, setup: ReturnType<typeof lddw>[]): boolean =>
  r0(prog(...setup, mov64(R0, 0), cond, exit(), mov64(R0, 1), exit())) === 1n;

for (const [name, op, cond] of CONDS) {
  test(`jmp: ${name} and ${name}32, register and immediate forms, match the BigInt model`, () => {
    for (const a of values) {
      for (const b of values) {
        assert.equal(taken(jmpX(op, R1, R2, 1), [lddw(R1, a), lddw(R2, b)]), cond(a, b, s64),
          `${name} 0x${a.toString(16)}, 0x${b.toString(16)}`);
        assert.equal(taken(jmp32X(op, R1, R2, 1), [lddw(R1, a), lddw(R2, b)]), cond(a & M32, b & M32, (v) => BigInt.asIntN(32, v)),
          `${name}32 0x${a.toString(16)}, 0x${b.toString(16)}`);
      }
      for (const imm of imms) {
        assert.equal(taken(jmpK(op, R1, imm, 1), [lddw(R1, a)]), cond(a, u64(BigInt(imm)), s64),
          `${name} 0x${a.toString(16)}, imm ${imm}`);
        assert.equal(taken(jmp32K(op, R1, imm, 1), [lddw(R1, a)]), cond(a & M32, BigInt(imm) & M32, (v) => BigInt.asIntN(32, v)),
          `${name}32 0x${a.toString(16)}, imm ${imm}`);
      }
    }
  });
}

test('jmp: imm compares are against the sign-extended immediate', () => {
  // jeq r1, -1 with r1 = 0xffffffff (not equal in 64 bits, equal in 32 bits)
  assert.equal(taken(jmpK(BPF_JEQ, R1, -1, 1), [lddw(R1, 0xffffffffn)]), false);
  assert.equal(taken(jmp32K(BPF_JEQ, R1, -1, 1), [lddw(R1, 0xffffffffn)]), true);
  // jgt r1, -1 (unsigned: 0xffff...ff): never taken
  assert.equal(taken(jmpK(BPF_JGT, R1, -1, 1), [lddw(R1, u64(-2n))]), false);
});

test('jmp: goto skips, gotol (JMP32 JA) uses imm, both can go backwards', () => {
  assert.equal(r0(prog(mov64(R0, 1), ja(1), mov64(R0, 2), exit())), 1n);
  assert.equal(r0(prog(mov64(R0, 1), gotol(1), mov64(R0, 2), exit())), 1n);
  // gotol with a non-zero off is malformed (reserved field), refused when reached
  assert.throws(() => r0(prog(mov64(R0, 1), makeInsn(0x06, 0, 0, 5, 1), mov64(R0, 2), exit())),
    { message: 'invalid instruction (insn #1): BPF_JA uses reserved fields' });
  // a loop: r0 counts to 10 going back with gotol
  assert.equal(r0(prog(mov64(R0, 0), alu64K(0x00, R0, 1), jmpK(BPF_JGE, R0, 10, 1), gotol(-3), exit())), 10n);
  // ja -1 followed by exit at the start: jump to self would loop; a jump back over lddw
  assert.equal(r0(prog(mov64(R1, 0), lddw(R0, 5n), alu64K(0x00, R1, 1), jmpK(BPF_JLT, R1, 3, -4), exit())), 5n);
});

test('jmp: may_goto falls through while the loop budget lasts', () => {
  // r0 = 7; may_goto +1; exit; r0 = 9; exit   -> falls through: exit with 7
  const mayGoto = makeInsn(0xe5, 0, 0, 1, 0);
  assert.equal(r0(prog(mov64(R0, 7), mayGoto, exit(), mov64(R0, 9), exit())), 7n);
  // a may_goto-bounded infinite loop ends by the instruction budget before 8M iterations
  const loop = prog(mov64(R0, 0), makeInsn(0xe5, 0, 0, 2, 0), alu64K(0x00, R0, 1), ja(-3), exit());
  assert.throws(() => run(loop, { budget: 10_000 }), { message: /instruction budget of 10000 exceeded/ });
});

test('jmp: the jump is taken once the 8M loop budget is spent', () => {
  // r0 counts iterations of a may_goto loop: exactly 8 * 1024 * 1024 pass before it jumps out.
  const loop = prog(mov64(R0, 0), makeInsn(0xe5, 0, 0, 2, 0), alu64K(0x00, R0, 1), ja(-3), exit());
  const result = run(loop, { budget: 40_000_000 });
  assert.equal(result.r0, BigInt(8 * 1024 * 1024));
});

const jumpErrors: [string, ReturnType<typeof prog>, RegExp][] = [
  ['goto past the end', prog(mov64(R0, 0), ja(5), exit()), /^jump out of range \(insn #1\)/],
  ['goto before the start', prog(mov64(R0, 0), ja(-3), exit()), /^jump out of range \(insn #1\)/],
  ['gotol past the end', prog(gotol(100), exit()), /^jump out of range \(insn #0\)/],
  ['conditional jump taken out of range', prog(mov64(R0, 0), jmpK(BPF_JEQ, R0, 0, 9), exit()), /^jump out of range \(insn #1\)/],
  ['jump into the middle of ld_imm64', prog(ja(1), lddw(R0, 1n), exit()), /^jump into the middle of ld_imm64 at insn #1 \(insn #0\)/],
  ['falling off the end', prog(mov64(R0, 0)), /^fell through the end of the program \(insn #0\)/],
];
for (const [name, insns, message] of jumpErrors) {
  test(`jmp: error for ${name}`, () => {
    assert.throws(() => run(insns), (e: Error) => e.name === 'BpfError' && message.test(e.message));
  });
}

test('jmp: an out-of-range jump that is not taken is harmless', () => {
  assert.equal(r0(prog(mov64(R0, 3), jmpK(BPF_JEQ, R0, 0, 99), exit())), 3n);
});

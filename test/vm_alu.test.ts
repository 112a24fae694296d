/*
 * ALU / ALU64 semantics of the reference interpreter: literal tables of edge cases (the RFC 9669
 * and kernel corner cases spelled out), then every binary op in both widths and both operand
 * forms against a BigInt model over a grid of boundary values.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BPF_ADD, BPF_AND, BPF_ARSH, BPF_DIV, BPF_LSH, BPF_MOD, BPF_MUL, BPF_OR, BPF_RSH, BPF_SUB, BPF_XOR,
} from '../src/isa/opcodes.js';
import { makeInsn } from '../src/isa/insn.js';
import {
  R0, R1, alu32K, alu32X, alu64K, alu64X, exit, lddw, mov32, mov64, prog, r0, u64,
} from './vm_build.js';

const M64 = (1n << 64n) - 1n;
const M32 = 0xffffffffn;
const s64 = (v: bigint): bigint => BigInt.asIntN(64, v);
const s32 = (v: bigint): bigint => BigInt.asIntN(32, v);
const INT64_MIN = 1n << 63n;

/** r0 = a; r1 = b; r0 OP= r1 (register form). */
const binX = (alu: typeof alu64X, op: number, a: bigint, b: bigint, off = 0): bigint =>
  r0(prog(lddw(R0, a), lddw(R1, b), alu(op, R0, R1, off), exit()));
/** r0 = a; r0 OP= imm. */
const binK = (alu: typeof alu64K, op: number, a: bigint, imm: number, off = 0): bigint =>
  r0(prog(lddw(R0, a), alu(op, R0, imm, off), exit()));

// [name, program result, expected]
const literal: [string, () => bigint, bigint][] = [
  ['add64 carries into the high word', () => binX(alu64X, BPF_ADD, 0xffffffffn, 1n), 0x100000000n],
  ['add64 wraps at 2^64', () => binX(alu64X, BPF_ADD, M64, 2n), 1n],
  ['add64 imm -1 is sign-extended', () => binK(alu64K, BPF_ADD, 0x100000000n, -1), 0xffffffffn],
  ['sub64 borrows from the high word', () => binX(alu64X, BPF_SUB, 0x100000000n, 1n), 0xffffffffn],
  ['sub64 below zero wraps', () => binK(alu64K, BPF_SUB, 0n, 1), M64],
  ['add32 zero-extends', () => binK(alu32K, BPF_ADD, 0xffffffff_ffffffffn, 2), 1n],
  ['sub32 wraps in 32 bits', () => binK(alu32K, BPF_SUB, 0n, 1), 0xffffffffn],
  ['mul64 full low 64 bits', () => binX(alu64X, BPF_MUL, 0xcbf29ce484222325n, 0x100000001b3n), (0xcbf29ce484222325n * 0x100000001b3n) & M64],
  ['mul64 INT64_MIN * -1', () => binK(alu64K, BPF_MUL, INT64_MIN, -1), INT64_MIN],
  ['mul32 INT_MIN * -1', () => binK(alu32K, BPF_MUL, 0x80000000n, -1), 0x80000000n],
  ['mul32 overflow keeps the low word', () => binX(alu32X, BPF_MUL, 0x10000n, 0x10001n), 0x10000n],
  ['div64 by zero register gives 0', () => binX(alu64X, BPF_DIV, 12345n, 0n), 0n],
  ['div32 by zero register gives 0', () => binX(alu32X, BPF_DIV, 12345n, 0x100000000n), 0n],
  ['div64 imm is sign-extended then unsigned', () => binK(alu64K, BPF_DIV, M64, -1), 1n],
  ['div32 unsigned', () => binK(alu32K, BPF_DIV, 0xfffffffen, 2), 0x7fffffffn],
  ['div64 by a 64-bit divisor', () => binX(alu64X, BPF_DIV, M64, 0x100000000n), 0xffffffffn],
  ['mod64 by zero keeps dst', () => binX(alu64X, BPF_MOD, 0xdeadbeef_12345678n, 0n), 0xdeadbeef_12345678n],
  ['mod32 by zero keeps dst, zero-extended', () => binX(alu32X, BPF_MOD, 0xdeadbeef_12345678n, 0n), 0x12345678n],
  ['mod32 by zero imm keeps dst, zero-extended', () => binK(alu32K, BPF_MOD, 0xdeadbeef_12345678n, 0), 0x12345678n],
  ['mod64 unsigned', () => binK(alu64K, BPF_MOD, M64, 10), M64 % 10n],
  ['sdiv64 INT64_MIN / -1 = INT64_MIN', () => binK(alu64K, BPF_DIV, INT64_MIN, -1, 1), INT64_MIN],
  ['sdiv64 reg INT64_MIN / -1', () => binX(alu64X, BPF_DIV, INT64_MIN, M64, 1), INT64_MIN],
  ['smod64 INT64_MIN % -1 = 0', () => binK(alu64K, BPF_MOD, INT64_MIN, -1, 1), 0n],
  ['sdiv32 INT_MIN / -1 = INT_MIN', () => binK(alu32K, BPF_DIV, 0x80000000n, -1, 1), 0x80000000n],
  ['smod32 INT_MIN % -1 = 0', () => binX(alu32X, BPF_MOD, 0x80000000n, 0xffffffffn, 1), 0n],
  ['sdiv64 by zero gives 0', () => binK(alu64K, BPF_DIV, u64(-7n), 0, 1), 0n],
  ['smod64 by zero keeps dst', () => binX(alu64X, BPF_MOD, u64(-7n), 0n, 1), u64(-7n)],
  ['smod32 by zero keeps dst, zero-extended', () => binX(alu32X, BPF_MOD, u64(-7n), 0n, 1), 0xfffffff9n],
  ['sdiv64 truncates toward zero', () => binK(alu64K, BPF_DIV, u64(-7n), 2, 1), u64(-3n)],
  ['smod64 takes the dividend sign', () => binK(alu64K, BPF_MOD, u64(-7n), 2, 1), u64(-1n)],
  ['smod64 positive by negative', () => binK(alu64K, BPF_MOD, 7n, -2, 1), 1n],
  ['sdiv32 negative by negative', () => binK(alu32K, BPF_DIV, 0xfffffff9n, -2, 1), 3n],
  ['smod32 negative by positive', () => binK(alu32K, BPF_MOD, 0xfffffff9n, 2, 1), 0xffffffffn],
  ['sdiv64 64-bit operands', () => binX(alu64X, BPF_DIV, u64(-(1n << 40n)), 3n, 1), u64(-(1n << 40n) / 3n)],
  ['lsh64 by 31', () => binK(alu64K, BPF_LSH, 1n, 31), 1n << 31n],
  ['lsh64 by 32', () => binK(alu64K, BPF_LSH, 1n, 32), 1n << 32n],
  ['lsh64 by 63', () => binK(alu64K, BPF_LSH, 3n, 63), 1n << 63n],
  ['lsh64 by register 64 masks to 0', () => binX(alu64X, BPF_LSH, 5n, 64n), 5n],
  ['lsh64 by register -1 masks to 63', () => binX(alu64X, BPF_LSH, 1n, M64), 1n << 63n],
  ['lsh32 by 31', () => binK(alu32K, BPF_LSH, 3n, 31), 0x80000000n],
  ['lsh32 by register 32 masks to 0', () => binX(alu32X, BPF_LSH, 0x1_00000005n, 32n), 5n],
  ['lsh32 by register -1 masks to 31', () => binX(alu32X, BPF_LSH, 1n, M64), 0x80000000n],
  ['rsh64 by 32', () => binK(alu64K, BPF_RSH, 0x12345678_9abcdef0n, 32), 0x12345678n],
  ['rsh64 by 63', () => binK(alu64K, BPF_RSH, M64, 63), 1n],
  ['rsh64 by 4 crosses the halves', () => binK(alu64K, BPF_RSH, 0x12345678_9abcdef0n, 4), 0x01234567_89abcdefn],
  ['rsh32 is logical', () => binK(alu32K, BPF_RSH, 0x80000000n, 31), 1n],
  ['rsh32 by register 33 masks to 1', () => binX(alu32X, BPF_RSH, 0x80000000n, 33n), 0x40000000n],
  ['arsh64 by 63', () => binK(alu64K, BPF_ARSH, INT64_MIN, 63), M64],
  ['arsh64 by 32', () => binK(alu64K, BPF_ARSH, 0x80000000_00000000n, 32), 0xffffffff_80000000n],
  ['arsh64 by 4', () => binK(alu64K, BPF_ARSH, 0x80000000_00000010n, 4), 0xf8000000_00000001n],
  ['arsh64 by register 64 masks to 0', () => binX(alu64X, BPF_ARSH, INT64_MIN, 64n), INT64_MIN],
  ['arsh32 sign-fills then zero-extends', () => binK(alu32K, BPF_ARSH, 0x80000000n, 4), 0xf8000000n],
  ['arsh32 by register -1 masks to 31', () => binX(alu32X, BPF_ARSH, 0x80000000n, M64), 0xffffffffn],
  ['or64 imm sign-extends', () => binK(alu64K, BPF_OR, 0n, -2), u64(-2n)],
  ['and64 imm sign-extends', () => binK(alu64K, BPF_AND, M64, 0x7fffffff), 0x7fffffffn],
  ['and64 negative imm keeps the high word', () => binK(alu64K, BPF_AND, M64, -256), u64(-256n)],
  ['xor32 zero-extends', () => binK(alu32K, BPF_XOR, M64, 1), 0xfffffffen],
  ['or32 zero-extends', () => binK(alu32K, BPF_OR, 0xffffffff_00000000n, 1), 1n],
  ['neg64', () => r0(prog(mov64(R0, 1), makeInsn(0x87, R0), exit())), M64],
  ['neg64 of 0', () => r0(prog(mov64(R0, 0), makeInsn(0x87, R0), exit())), 0n],
  ['neg64 of 2^32', () => r0(prog(lddw(R0, 1n << 32n), makeInsn(0x87, R0), exit())), u64(-(1n << 32n))],
  ['neg64 of INT64_MIN', () => r0(prog(lddw(R0, INT64_MIN), makeInsn(0x87, R0), exit())), INT64_MIN],
  ['neg32 of INT_MIN', () => r0(prog(mov32(R0, -0x80000000), makeInsn(0x84, R0), exit())), 0x80000000n],
  ['neg32 zero-extends', () => r0(prog(mov64(R0, 1), makeInsn(0x84, R0), exit())), 0xffffffffn],
  ['mov64 imm sign-extends', () => r0(prog(mov64(R0, -1), exit())), M64],
  ['mov32 imm zero-extends', () => r0(prog(mov32(R0, -1), exit())), 0xffffffffn],
  ['mov32 reg drops the high word', () => r0(prog(lddw(R1, M64), makeInsn(0xbc, R0, R1), exit())), 0xffffffffn],
  ['mov64 reg copies 64 bits', () => r0(prog(lddw(R1, 0x11223344_55667788n), makeInsn(0xbf, R0, R1), exit())), 0x11223344_55667788n],
];

for (const [name, got, want] of literal) {
  test(`alu: ${name}`, () => assert.equal(got(), want));
}

// movsx: [form (32/64), width, source, expected]
const movsx: [number, number, bigint, bigint][] = [
  [64, 8, 0x7fn, 0x7fn], [64, 8, 0x80n, u64(-128n)], [64, 8, 0xffff_ff7fn, 0x7fn],
  [64, 16, 0x7fffn, 0x7fffn], [64, 16, 0x8000n, u64(-0x8000n)], [64, 16, 0x1_ffffn, M64],
  [64, 32, 0x7fffffffn, 0x7fffffffn], [64, 32, 0x80000000n, 0xffffffff_80000000n], [64, 32, 0xffff_0000_0000_0001n, 1n],
  [32, 8, 0x7fn, 0x7fn], [32, 8, 0x80n, 0xffffff80n], [32, 8, 0xffffffff_ffffff80n, 0xffffff80n],
  [32, 16, 0x7fffn, 0x7fffn], [32, 16, 0x8000n, 0xffff8000n], [32, 16, M64, 0xffffffffn],
];
for (const [form, width, src, want] of movsx) {
  test(`alu: movsx${form} from ${width} bits of 0x${src.toString(16)}`, () => {
    const code = form === 64 ? 0xbf : 0xbc;
    assert.equal(r0(prog(lddw(R1, src), lddw(R0, 0xaaaaaaaa_aaaaaaaan), makeInsn(code, R0, R1, width), exit())), want);
  });
}

// Byte swaps: [opcode, imm, input, expected]
const swaps: [number, number, bigint, bigint][] = [
  [0xdc, 16, 0x11223344_55667788n, 0x8877n], [0xdc, 32, 0x11223344_55667788n, 0x88776655n],
  [0xdc, 64, 0x11223344_55667788n, 0x88776655_44332211n], [0xd4, 16, 0x11223344_55667788n, 0x7788n],
  [0xd4, 32, 0x11223344_55667788n, 0x55667788n], [0xd4, 64, 0x11223344_55667788n, 0x11223344_55667788n],
  [0xd7, 16, 0x11223344_55667788n, 0x8877n], [0xd7, 32, 0x11223344_55667788n, 0x88776655n],
  [0xd7, 64, 0x11223344_55667788n, 0x88776655_44332211n], [0xdc, 16, 0x80ffn, 0xff80n],
  [0xdc, 32, 0x000000ffn, 0xff000000n], [0xdc, 64, 0xffn, 0xff000000_00000000n],
];
for (const [code, imm, input, want] of swaps) {
  const name = code === 0xd7 ? 'bswap' : code === 0xdc ? 'be' : 'le';
  test(`alu: ${name}${imm} of 0x${input.toString(16)}`, () => {
    assert.equal(r0(prog(lddw(R0, input), makeInsn(code, R0, 0, 0, imm), exit())), want);
  });
}

// ---- every binary op against a BigInt model ----

type Model = (a: bigint, b: bigint) => bigint;
const model64: Record<string, Model> = {
  add: (a, b) => (a + b) & M64,
  sub: (a, b) => (a - b) & M64,
  mul: (a, b) => (a * b) & M64,
  div: (a, b) => (b === 0n ? 0n : a / b),
  mod: (a, b) => (b === 0n ? a : a % b),
  or: (a, b) => a | b,
  and: (a, b) => a & b,
  xor: (a, b) => a ^ b,
  lsh: (a, b) => (a << (b & 63n)) & M64,
  rsh: (a, b) => a >> (b & 63n),
  arsh: (a, b) => u64(s64(a) >> (b & 63n)),
  sdiv: (a, b) => (b === 0n ? 0n : s64(a) === -INT64_MIN && s64(b) === -1n ? a : u64(s64(a) / s64(b))),
  smod: (a, b) => (b === 0n ? a : s64(b) === -1n ? 0n : u64(s64(a) % s64(b))),
};
const model32: Record<string, Model> = {
  add: (a, b) => (a + b) & M32,
  sub: (a, b) => (a - b) & M32,
  mul: (a, b) => (a * b) & M32,
  div: (a, b) => (b === 0n ? 0n : a / b),
  mod: (a, b) => (b === 0n ? a : a % b),
  or: (a, b) => a | b,
  and: (a, b) => a & b,
  xor: (a, b) => a ^ b,
  lsh: (a, b) => (a << (b & 31n)) & M32,
  rsh: (a, b) => a >> (b & 31n),
  arsh: (a, b) => BigInt.asUintN(32, s32(a) >> (b & 31n)),
  sdiv: (a, b) => (b === 0n ? 0n : s32(a) === -(1n << 31n) && s32(b) === -1n ? a : BigInt.asUintN(32, s32(a) / s32(b))),
  smod: (a, b) => (b === 0n ? a : s32(b) === -1n ? 0n : BigInt.asUintN(32, s32(a) % s32(b))),
};
const OPS: Record<string, [number, number]> = {
  add: [BPF_ADD, 0], sub: [BPF_SUB, 0], mul: [BPF_MUL, 0], div: [BPF_DIV, 0], mod: [BPF_MOD, 0], or: [BPF_OR, 0],
  and: [BPF_AND, 0], xor: [BPF_XOR, 0], lsh: [BPF_LSH, 0], rsh: [BPF_RSH, 0], arsh: [BPF_ARSH, 0],
  sdiv: [BPF_DIV, 1], smod: [BPF_MOD, 1],
};
const values: bigint[] = [
  0n, 1n, 2n, 3n, 7n, 31n, 32n, 33n, 63n, 64n, 0x7fn, 0x80n, 0xffn, 0x7fffn, 0x8000n, 0xffffn,
  0x7fffffffn, 0x80000000n, 0xffffffffn, 0x100000000n, 0x1_00000001n, 0x12345678_9abcdef0n,
  0x7fffffff_ffffffffn, INT64_MIN, u64(-1n), u64(-2n), u64(-7n), u64(-0x80000000n), u64(-0x80000001n),
  0xcbf29ce4_84222325n, 0x100000001b3n,
];
const imms = [0, 1, -1, 2, -2, 7, -7, 31, 32, 63, 64, 0x7fff, -0x8000, 0x7fffffff, -0x80000000, 0x12345678];

for (const name of Object.keys(OPS)) {
  const [op, off] = OPS[name];
  test(`alu: ${name}64 and ${name}32, register and immediate forms, match the BigInt model`, () => {
    for (const a of values) {
      for (const b of values) {
        assert.equal(binX(alu64X, op, a, b, off), model64[name](a, b), `${name}64 0x${a.toString(16)}, 0x${b.toString(16)}`);
        assert.equal(binX(alu32X, op, a, b, off), model32[name](a & M32, b & M32), `${name}32 0x${a.toString(16)}, 0x${b.toString(16)}`);
      }
      for (const imm of imms) {
        assert.equal(binK(alu64K, op, a, imm, off), model64[name](a, u64(BigInt(imm))), `${name}64 0x${a.toString(16)}, imm ${imm}`);
        assert.equal(binK(alu32K, op, a, imm, off), model32[name](a & M32, BigInt(imm) & M32), `${name}32 0x${a.toString(16)}, imm ${imm}`);
      }
    }
  });
}

test('alu: 64-bit division and modulo on random operands of every magnitude match BigInt', () => {
  // operands of 1..64 significant bits, so each division path is taken: 32-bit divisor long
  // division, dividend below 2^52, and both genuinely 64-bit
  let seed = 0x2545f491;
  const next32 = (): bigint => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return BigInt(seed >>> 0);
  };
  const random = (): bigint => {
    const bits = BigInt(1 + Number(next32() % 64n));
    return ((next32() << 32n) | next32()) & ((1n << bits) - 1n);
  };
  for (let n = 0; n < 1500; n++) {
    const a = random();
    const b = n % 7 === 0 ? u64(-random()) : random();
    for (const name of ['div', 'mod', 'sdiv', 'smod']) {
      const [op, off] = OPS[name];
      assert.equal(binX(alu64X, op, a, b, off), model64[name](a, b), `${name}64 0x${a.toString(16)}, 0x${b.toString(16)}`);
      assert.equal(binX(alu64X, op, u64(-a), b, off), model64[name](u64(-a), b), `${name}64 -0x${a.toString(16)}, 0x${b.toString(16)}`);
    }
  }
});

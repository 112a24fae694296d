/*
 * The JIT's wasm forms of division, modulo and subtraction of an immediate (emit_alu.ts), over
 * every pair of edge values, against the interpreter: x / 0 = 0, x % 0 = x, signed by -1,
 * INT64_MIN / -1, a sub immediate of INT32_MIN (whose negation does not fit an int32), in both
 * tiers. Each program folds every result into r0 (r0 = r0 * odd + result), so one wrong result
 * changes r0; on a mismatch, the pair is found by running them one at a time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type Insn, makeInsn, makeLdImm64 } from '../src/isa/insn.js';
import { interpret } from '../src/vm/interpreter.js';
import { markVerified, runJit } from '../src/vm/jit/index.js';
import { Vm } from '../src/vm/vm.js';

const M64 = (1n << 64n) - 1n;
const EDGE = [0n, 1n, 2n, 3n, 7n, 0x7fn, 0x80000000n, 0xffffffffn, 0x100000000n, 0x7fffffffffffffffn, 1n << 63n, M64, M64 - 1n, 0x0123456789abcdefn];
const IMMS = [0, 1, -1, 2, -2, 7, 0x7fffffff, -0x80000000, 0x1234];

/** r0 = r0 * 0x9e3779b97f4a7c15 + (r1 op r2), for each pair. */
function foldPairs(pairs: readonly (readonly [bigint, bigint])[], op: (d: number, s: number) => Insn[]): Insn[] {
  const insns: Insn[] = [...makeLdImm64(0, 0n), ...makeLdImm64(9, 0x9e3779b97f4a7c15n)];
  for (const [a, b] of pairs) {
    insns.push(...makeLdImm64(1, a), ...makeLdImm64(2, b), ...op(1, 2));
    insns.push(makeInsn(0x2f, 0, 9), makeInsn(0x0f, 0, 1)); // r0 *= r9; r0 += r1
  }
  insns.push(makeInsn(0x95));
  return insns;
}

function check(name: string, insns: Insn[], pairs: readonly (readonly [bigint, bigint])[], op: (d: number, s: number) => Insn[]): void {
  for (const verified of [false, true]) {
    const prog = [...insns];
    if (verified) markVerified(prog, { unchecked: new Uint8Array(prog.length), stackDepth: 0 });
    const want = interpret(new Vm(), prog).r0;
    const got = runJit(new Vm(), prog).r0;
    if (got === want) continue;
    for (const pair of pairs) { // name the first pair that differs
      const one = foldPairs([pair], op);
      if (verified) markVerified(one, { unchecked: new Uint8Array(one.length), stackDepth: 0 });
      const w = interpret(new Vm(), one).r0;
      const g = runJit(new Vm(), one).r0;
      assert.equal(g, w, `${name} (${verified ? 'verified' : 'checked'} tier), r1 = 0x${pair[0].toString(16)}, r2 = 0x${pair[1].toString(16)}`);
    }
    assert.fail(`${name}: the folded results differ but no single pair does`);
  }
}

const allPairs = EDGE.flatMap((a) => EDGE.map((b) => [a, b] as const));

test('div and mod by a register (64 and 32 bits, unsigned and signed): JIT == interpreter for every pair of edge values', () => {
  for (const [name, code] of [['div64', 0x3f], ['mod64', 0x9f], ['div32', 0x3c], ['mod32', 0x9c]] as const) {
    for (const off of [0, 1]) {
      const op = (d: number, s: number): Insn[] => [makeInsn(code, d, s, off, 0)];
      check(`${off ? 's' : ''}${name}`, foldPairs(allPairs, op), allPairs, op);
    }
  }
});

test('div, mod and sub by an immediate (INT32_MIN, -1, 0 ...): JIT == interpreter for every edge dividend', () => {
  const dividends = EDGE.map((a) => [a, 0n] as const);
  for (const [name, code] of [['sub64', 0x17], ['sub32', 0x14], ['div64', 0x37], ['mod64', 0x97], ['div32', 0x34], ['mod32', 0x94]] as const) {
    for (const off of name.startsWith('sub') ? [0] : [0, 1]) {
      for (const k of IMMS) {
        const op = (d: number): Insn[] => [makeInsn(code, d, 0, off, k)];
        check(`${off ? 's' : ''}${name} ${k}`, foldPairs(dividends, op), dividends, op);
      }
    }
  }
});

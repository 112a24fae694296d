/*
 * tnum and bounds against brute force on small widths: every concrete result of an operation on
 * members of the inputs must be a member of the abstract result (soundness), and reg_bounds_sync
 * must keep every value of the range it started from.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { regBoundsSync } from '../src/verifier/bounds.js';
import { newReg, setKnown } from '../src/verifier/reg_state.js';
import {
  type Tnum, tnumAdd, tnumAnd, tnumIn, tnumLshift, tnumMul, tnumOr, tnumRange, tnumRshift, tnumSub, tnumXor,
  tnumConst, tnumStr,
} from '../src/verifier/tnum.js';

const U64 = (1n << 64n) - 1n;
let seed = 12345;
const rnd = (n: number): number => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };

function randTnum(): Tnum {
  const mask = BigInt(rnd(64));
  const value = BigInt(rnd(64)) & ~mask;
  // sometimes high bits too, to exercise carries across 64 bits
  return rnd(4) === 0 ? { value: (value | (U64 - 63n)) & ~mask & U64, mask } : { value, mask };
}
function members(t: Tnum): bigint[] {
  const out: bigint[] = [];
  const bits: bigint[] = [];
  for (let b = 0n; b < 64n; b++) if ((t.mask >> b) & 1n) bits.push(b);
  for (let k = 0; k < 1 << bits.length; k++) {
    let v = t.value;
    bits.forEach((b, i) => { if ((k >> i) & 1) v |= 1n << b; });
    out.push(v);
  }
  return out;
}
const contains = (t: Tnum, v: bigint): boolean => ((v & ~t.mask) & U64) === t.value;

test('tnum binary ops are sound (brute force over members)', () => {
  const ops: [string, (a: Tnum, b: Tnum) => Tnum, (a: bigint, b: bigint) => bigint][] = [
    ['add', tnumAdd, (a, b) => (a + b) & U64],
    ['sub', tnumSub, (a, b) => (a - b) & U64],
    ['and', tnumAnd, (a, b) => a & b],
    ['or', tnumOr, (a, b) => a | b],
    ['xor', tnumXor, (a, b) => a ^ b],
    ['mul', tnumMul, (a, b) => (a * b) & U64],
  ];
  for (let i = 0; i < 300; i++) {
    const a = randTnum(), b = randTnum();
    for (const [name, abs, conc] of ops) {
      const r = abs(a, b);
      assert.equal(r.value & r.mask, 0n, `${name} result well-formed`);
      for (const x of members(a)) for (const y of members(b)) {
        if (!contains(r, conc(x, y))) assert.fail(`${name} ${tnumStr(a)} ${tnumStr(b)}: ${conc(x, y)} not in ${tnumStr(r)}`);
      }
    }
    const s = rnd(8);
    for (const x of members(a)) {
      assert.ok(contains(tnumLshift(a, s), (x << BigInt(s)) & U64));
      assert.ok(contains(tnumRshift(a, s), x >> BigInt(s)));
    }
  }
});

test('tnum_range covers its range and tnum_in is subset', () => {
  for (let i = 0; i < 200; i++) {
    const lo = BigInt(rnd(200)), hi = lo + BigInt(rnd(100));
    const t = tnumRange(lo, hi);
    for (let v = lo; v <= hi; v++) assert.ok(contains(t, v));
    assert.ok(tnumIn(t, tnumConst(lo)));
  }
  assert.ok(tnumIn({ value: 0n, mask: 0xffn }, { value: 0x10n, mask: 0x0fn }));
  assert.ok(!tnumIn({ value: 0n, mask: 0x0fn }, { value: 0x10n, mask: 0x0fn }));
});

test('reg_bounds_sync keeps every value of a signed or unsigned range', () => {
  for (let i = 0; i < 300; i++) {
    const r = newReg(); r.type = 'scalar';
    const signed = rnd(2) === 0;
    const lo = signed ? BigInt(rnd(300) - 150) : BigInt(rnd(300));
    const hi = lo + BigInt(rnd(40));
    if (signed) { r.smin = lo; r.smax = hi; } else { r.umin = lo; r.umax = hi; }
    regBoundsSync(r);
    for (let v = lo; v <= hi; v++) {
      const u = BigInt.asUintN(64, v), u32 = BigInt.asUintN(32, v), s32 = BigInt.asIntN(32, v), s = BigInt.asIntN(64, v);
      assert.ok(r.smin <= s && s <= r.smax && r.umin <= u && u <= r.umax, `64-bit bounds lost ${v} for [${lo},${hi}]`);
      assert.ok(r.s32min <= s32 && s32 <= r.s32max && r.u32min <= u32 && u32 <= r.u32max, `32-bit bounds lost ${v}`);
      assert.ok(contains(r.varOff, u), `tnum lost ${v}`);
    }
  }
  const k = newReg(); k.type = 'scalar'; setKnown(k, -1n); regBoundsSync(k);
  assert.equal(k.umax, U64); assert.equal(k.smin, -1n);
});

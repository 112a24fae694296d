/*
 * Scalar bounds synchronisation, as kernel/bpf/verifier.c: __update_reg_bounds(),
 * __reg_deduce_bounds(), __reg_bound_offset(), reg_bounds_sync(), plus the 32->64 helpers.
 */
import { type RegState, S32_MAX, S32_MIN, S64_MAX, S64_MIN, U32_MAX, U64_MAX, setKnown } from './reg_state.js';
import { tnumCast, tnumIntersect, tnumRange, tnumStep, tnumSubreg, tnumWithSubreg } from './tnum.js';

const max = (a: bigint, b: bigint): bigint => (a > b ? a : b);
const min = (a: bigint, b: bigint): bigint => (a < b ? a : b);
const s64 = (x: bigint): bigint => BigInt.asIntN(64, x);
const u64 = (x: bigint): bigint => BigInt.asUintN(64, x);
const s32 = (x: bigint): bigint => BigInt.asIntN(32, x);
const u32 = (x: bigint): bigint => BigInt.asUintN(32, x);
// BigInt literals and shifts are evaluated at every use: the constants are made once here
const BIT31 = 1n << 31n, LOW31 = 0x7fffffffn, BIT63 = 1n << 63n, HIGH32 = U64_MAX & ~U32_MAX;

/** __update_reg32_bounds() + __update_reg64_bounds() */
export function updateRegBounds(r: RegState): void {
  const t = r.varOff;
  const v32 = t.value & U32_MAX, m32 = t.mask & U32_MAX;
  r.s32min = max(r.s32min, s32(v32 | (m32 & BIT31)));
  r.s32max = min(r.s32max, s32(v32 | (m32 & LOW31)));
  r.u32min = max(r.u32min, v32);
  r.u32max = min(r.u32max, v32 | m32);
  r.smin = max(r.smin, s64(t.value | (t.mask & BIT63)));
  r.smax = min(r.smax, s64(t.value | (t.mask & S64_MAX)));
  r.umin = max(r.umin, t.value);
  r.umax = min(r.umax, t.value | t.mask);
  // 6.18's __update_reg64_bounds(): a u64 range meeting the tnum in a single value makes it known.
  // The tmax case does not check tmax <= umax: `if r5 > r5` with r5 in {0, 1 << 31} leaves
  // [1, 0x7fffffff] and the kernel goes on with R5=0x80000000.
  const uminIn = (r.umin & ~t.mask) === t.value;
  if (uminIn && r.umin !== r.umax && (r.umax & ~t.mask) === t.value) return; // both ends are members
  const next = tnumStep(t, r.umin), tmax = t.value | t.mask;
  if (uminIn && next > r.umax) setKnown(r, r.umin);
  else if (!uminIn && next === tmax) setKnown(r, tmax);
  else if (!uminIn && next <= r.umax && tnumStep(t, next) > r.umax) setKnown(r, next);
}

/** __reg32_deduce_bounds() */
function deduce32(r: RegState): void {
  const umin = r.umin, umax = r.umax, smin = r.smin, smax = r.smax;
  const uminHi = umin >> 32n, umaxHi = umax >> 32n;
  const sminHi = u64(smin) >> 32n, smaxHi = u64(smax) >> 32n;
  const umin32s = s32(umin), umax32s = s32(umax), smin32s = s32(smin), smax32s = s32(smax);
  let u32min = r.u32min, u32max = r.u32max, s32min = r.s32min, s32max = r.s32max;
  // 64-bit range within one 4GiB block: the low 32 bits follow
  if (uminHi === umaxHi) {
    u32min = max(u32min, umin & U32_MAX);
    u32max = min(u32max, umax & U32_MAX);
    if (umin32s <= umax32s) {
      s32min = max(s32min, umin32s);
      s32max = min(s32max, umax32s);
    }
  }
  if (sminHi === smaxHi) {
    const smin32u = smin & U32_MAX, smax32u = smax & U32_MAX;
    if (smin32u <= smax32u) {
      u32min = max(u32min, smin32u);
      u32max = min(u32max, smax32u);
    }
    if (smin32s <= smax32s) {
      s32min = max(s32min, smin32s);
      s32max = min(s32max, smax32s);
    }
  }
  // upper halves two consecutive numbers while the low halves cross from negative to positive:
  // the low 32 bits still form the s32 range [(s32)min, (s32)max]
  if (((uminHi + 1n) & U32_MAX) === (umaxHi & U32_MAX) && umin32s < 0n && umax32s >= 0n) {
    s32min = max(s32min, umin32s);
    s32max = min(s32max, umax32s);
  }
  if (((sminHi + 1n) & U32_MAX) === (smaxHi & U32_MAX) && smin32s < 0n && smax32s >= 0n) {
    s32min = max(s32min, smin32s);
    s32max = min(s32max, smax32s);
  }
  if (s32(u32min) <= s32(u32max)) {
    s32min = max(s32min, s32(u32min));
    s32max = min(s32max, s32(u32max));
  }
  if (u32(s32min) <= u32(s32max)) {
    u32min = max(u32min, u32(s32min));
    u32max = min(u32max, u32(s32max));
  } else if (u32max < u32(s32min)) {
    // the s32 range crosses the sign boundary and the u32 range meets only its non-negative part
    s32min = s32(u32min);
    u32max = min(u32max, u32(s32max));
  } else if (u32(s32max) < u32min) {
    // ... or only its negative part (seen on 6.18: smax32=20 with umin32=22 gives [S32_MIN, -1])
    s32max = s32(u32max);
    u32min = max(u32min, u32(s32min));
  }
  r.u32min = u32min; r.u32max = u32max; r.s32min = s32min; r.s32max = s32max;
}

/** __reg64_deduce_bounds() */
function deduce64(r: RegState): void {
  let umin = r.umin, umax = r.umax, smin = r.smin, smax = r.smax;
  // a u64 range that is a valid s64 range (no sign change inside) bounds the s64 one
  const uminS = s64(umin), umaxS = s64(umax);
  if (uminS <= umaxS) {
    smin = max(smin, uminS);
    smax = min(smax, umaxS);
  }
  const sminU = u64(smin), smaxU = u64(smax);
  if (sminU <= smaxU) {
    umin = max(umin, sminU);
    umax = min(umax, smaxU);
  } else if (umax < sminU) {
    // the s64 range crosses the sign boundary: a u64 range meeting only one of its parts
    // narrows both (6.18, "bpf: Improve bounds when s64 crosses sign boundary")
    smin = s64(umin);
    umax = min(umax, smaxU);
  } else if (smaxU < umin) {
    smax = s64(umax);
    umin = max(umin, sminU);
  }
  r.umin = umin; r.umax = umax; r.smin = smin; r.smax = smax;
}

/** __reg_deduce_mixed_bounds(): 32-bit knowledge back into the 64-bit range */
function deduceMixed(r: RegState): void {
  let nmin = (r.umin & HIGH32) | r.u32min;
  let nmax = (r.umax & HIGH32) | r.u32max;
  r.umin = max(r.umin, nmin); r.umax = min(r.umax, nmax);
  nmin = s64((u64(r.smin) & HIGH32) | r.u32min);
  nmax = s64((u64(r.smax) & HIGH32) | r.u32max);
  r.smin = max(r.smin, nmin); r.smax = min(r.smax, nmax);
  if (r.s32min >= 0n && r.smin >= S32_MIN && r.smax <= S32_MAX) {
    r.smin = max(r.smin, r.s32min); r.smax = min(r.smax, r.s32max);
    r.umin = max(r.umin, u64(r.s32min)); r.umax = min(r.umax, u64(r.s32max));
  }
}

/** __reg_bound_offset() */
export function regBoundOffset(r: RegState): void {
  const v64 = tnumIntersect(r.varOff, tnumRange(r.umin, r.umax));
  const v32 = tnumIntersect(tnumSubreg(v64), tnumRange(r.u32min, r.u32max));
  r.varOff = tnumWithSubreg(v64, v32);
}

/**
 * reg_bounds_sync(). A constant with consistent bounds and a fully unknown scalar are fixed
 * points of it (every step keeps them as they are), and most registers are one or the other:
 * they skip the ~100 BigInt operations.
 */
export function regBoundsSync(r: RegState): void {
  if (!syncFixedPoint(r)) regBoundsSyncFull(r);
}

/** reg_bounds_sync() step by step, without the fixed-point shortcut (tests compare the two). */
export function regBoundsSyncFull(r: RegState): void {
  updateRegBounds(r);
  deduce32(r); deduce64(r); deduceMixed(r); deduce32(r); deduce64(r);
  regBoundOffset(r);
  updateRegBounds(r);
}

function syncFixedPoint(r: RegState): boolean {
  const t = r.varOff;
  if (t.mask === 0n) return isConstBounds(r);
  return t.mask === U64_MAX && t.value === 0n && r.umin === 0n && r.umax === U64_MAX && r.smin === S64_MIN && r.smax === S64_MAX &&
    r.u32min === 0n && r.u32max === U32_MAX && r.s32min === S32_MIN && r.s32max === S32_MAX;
}

/** A constant tnum whose eight bounds all say that constant (as ___mark_reg_known() leaves them). */
export function isConstBounds(r: RegState): boolean {
  const t = r.varOff;
  if (t.mask !== 0n) return false;
  const v = t.value, lo = v & U32_MAX;
  return r.umin === v && r.umax === v && r.smin === r.smax && r.smin === s64(v) &&
    r.u32min === lo && r.u32max === lo && r.s32min === r.s32max && r.s32min === s32(lo);
}

/** Bounds no value satisfies (reg_bounds_sanity_check) */
export function boundsInvalid(r: RegState): boolean {
  return r.umin > r.umax || r.smin > r.smax || r.u32min > r.u32max || r.s32min > r.s32max ||
    ((r.varOff.value & ~r.varOff.mask) !== r.varOff.value);
}

/** zext_32_to_64() after a 32-bit op */
export function zext32To64(r: RegState): void {
  r.varOff = tnumCast(r.varOff, 4);
  r.umin = r.u32min; r.umax = r.u32max;
  r.smin = r.u32min; r.smax = r.u32max;
}

/** __mark_reg64_unbounded / 32 */
export function markReg64Unbounded(r: RegState): void { r.smin = S64_MIN; r.smax = S64_MAX; r.umin = 0n; r.umax = U64_MAX; }
export function markReg32Unbounded(r: RegState): void { r.s32min = S32_MIN; r.s32max = S32_MAX; r.u32min = 0n; r.u32max = U32_MAX; }

/** coerce_reg_to_size(): a load of `size` bytes zero-extends */
export function coerceRegToSize(r: RegState, size: number): void {
  r.varOff = tnumCast(r.varOff, size);
  const mask = size >= 8 ? U64_MAX : (1n << BigInt(size * 8)) - 1n;
  if ((r.umin & ~mask) === (r.umax & ~mask)) { r.umin &= mask; r.umax &= mask; }
  else { r.umin = 0n; r.umax = mask; }
  r.smin = r.umin; r.smax = r.umax;
  if (size < 4) { r.u32min = 0n; r.u32max = U32_MAX; r.s32min = S32_MIN; r.s32max = S32_MAX; }
  else markReg32Unbounded(r);
  if (size >= 8) { r.smin = S64_MIN; r.smax = S64_MAX; }
  regBoundsSync(r);
}

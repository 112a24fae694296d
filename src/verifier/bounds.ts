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

/** __update_reg32_bounds() + __update_reg64_bounds() */
export function updateRegBounds(r: RegState): void {
  const t32 = tnumSubreg(r.varOff);
  const sm = t32.value | (t32.mask & (1n << 31n));
  r.s32min = max(r.s32min, s32(sm));
  r.s32max = min(r.s32max, s32(t32.value | (t32.mask & 0x7fffffffn)));
  r.u32min = max(r.u32min, t32.value);
  r.u32max = min(r.u32max, t32.value | t32.mask);
  const t = r.varOff;
  r.smin = max(r.smin, s64(t.value | (t.mask & (1n << 63n))));
  r.smax = min(r.smax, s64(t.value | (t.mask & S64_MAX)));
  r.umin = max(r.umin, t.value);
  r.umax = min(r.umax, t.value | t.mask);
  // 6.18's __update_reg64_bounds(): a u64 range meeting the tnum in a single value makes it known.
  // The tmax case does not check tmax <= umax: `if r5 > r5` with r5 in {0, 1 << 31} leaves
  // [1, 0x7fffffff] and the kernel goes on with R5=0x80000000.
  const next = tnumStep(t, r.umin), tmax = t.value | t.mask;
  const uminIn = (r.umin & ~t.mask) === t.value;
  if (uminIn && next > r.umax) setKnown(r, r.umin);
  else if (!uminIn && next === tmax) setKnown(r, tmax);
  else if (!uminIn && next <= r.umax && tnumStep(t, next) > r.umax) setKnown(r, next);
}

/** __reg32_deduce_bounds() */
function deduce32(r: RegState): void {
  // 64-bit range within one 4GiB block: the low 32 bits follow
  if ((r.umin >> 32n) === (r.umax >> 32n)) {
    r.u32min = max(r.u32min, u32(r.umin));
    r.u32max = min(r.u32max, u32(r.umax));
    if (s32(r.umin) <= s32(r.umax)) {
      r.s32min = max(r.s32min, s32(r.umin));
      r.s32max = min(r.s32max, s32(r.umax));
    }
  }
  if ((u64(r.smin) >> 32n) === (u64(r.smax) >> 32n)) {
    if (u32(r.smin) <= u32(r.smax)) {
      r.u32min = max(r.u32min, u32(r.smin));
      r.u32max = min(r.u32max, u32(r.smax));
    }
    if (s32(r.smin) <= s32(r.smax)) {
      r.s32min = max(r.s32min, s32(r.smin));
      r.s32max = min(r.s32max, s32(r.smax));
    }
  }
  // upper halves two consecutive numbers while the low halves cross from negative to positive:
  // the low 32 bits still form the s32 range [(s32)min, (s32)max]
  if (u32((r.umin >> 32n) + 1n) === u32(r.umax >> 32n) && s32(r.umin) < 0n && s32(r.umax) >= 0n) {
    r.s32min = max(r.s32min, s32(r.umin));
    r.s32max = min(r.s32max, s32(r.umax));
  }
  if (u32((u64(r.smin) >> 32n) + 1n) === u32(u64(r.smax) >> 32n) && s32(r.smin) < 0n && s32(r.smax) >= 0n) {
    r.s32min = max(r.s32min, s32(r.smin));
    r.s32max = min(r.s32max, s32(r.smax));
  }
  if (s32(r.u32min) <= s32(r.u32max)) {
    r.s32min = max(r.s32min, s32(r.u32min));
    r.s32max = min(r.s32max, s32(r.u32max));
  }
  if (u32(r.s32min) <= u32(r.s32max)) {
    r.u32min = max(r.u32min, u32(r.s32min));
    r.u32max = min(r.u32max, u32(r.s32max));
  } else if (r.u32max < u32(r.s32min)) {
    // the s32 range crosses the sign boundary and the u32 range meets only its non-negative part
    r.s32min = s32(r.u32min);
    r.u32max = min(r.u32max, u32(r.s32max));
  } else if (u32(r.s32max) < r.u32min) {
    // ... or only its negative part (seen on 6.18: smax32=20 with umin32=22 gives [S32_MIN, -1])
    r.s32max = s32(r.u32max);
    r.u32min = max(r.u32min, u32(r.s32min));
  }
}

/** __reg64_deduce_bounds() */
function deduce64(r: RegState): void {
  // a u64 range that is a valid s64 range (no sign change inside) bounds the s64 one
  if (s64(r.umin) <= s64(r.umax)) {
    r.smin = max(r.smin, s64(r.umin));
    r.smax = min(r.smax, s64(r.umax));
  }
  if (u64(r.smin) <= u64(r.smax)) {
    r.umin = max(r.umin, u64(r.smin));
    r.umax = min(r.umax, u64(r.smax));
  } else if (r.umax < u64(r.smin)) {
    // the s64 range crosses the sign boundary: a u64 range meeting only one of its parts
    // narrows both (6.18, "bpf: Improve bounds when s64 crosses sign boundary")
    r.smin = s64(r.umin);
    r.umax = min(r.umax, u64(r.smax));
  } else if (u64(r.smax) < r.umin) {
    r.smax = s64(r.umax);
    r.umin = max(r.umin, u64(r.smin));
  }
}

/** __reg_deduce_mixed_bounds(): 32-bit knowledge back into the 64-bit range */
function deduceMixed(r: RegState): void {
  let nmin = (r.umin & ~U32_MAX) | r.u32min;
  let nmax = (r.umax & ~U32_MAX) | r.u32max;
  r.umin = max(r.umin, nmin); r.umax = min(r.umax, nmax);
  nmin = s64((u64(r.smin) & ~U32_MAX) | r.u32min);
  nmax = s64((u64(r.smax) & ~U32_MAX) | r.u32max);
  r.smin = max(r.smin, nmin); r.smax = min(r.smax, nmax);
  if (r.s32min >= 0 && r.smin >= S32_MIN && r.smax <= S32_MAX) {
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

/** reg_bounds_sync() */
export function regBoundsSync(r: RegState): void {
  updateRegBounds(r);
  deduce32(r); deduce64(r); deduceMixed(r); deduce32(r); deduce64(r);
  regBoundOffset(r);
  updateRegBounds(r);
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

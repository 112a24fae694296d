/*
 * Scalar transfer functions: adjust_scalar_min_max_vals() and the scalar(32)_min_max_<op>()
 * family of kernel/bpf/verifier.c, on BigInt bounds.
 */
import { coerceRegToSize, isConstBounds, markReg32Unbounded, markReg64Unbounded, regBoundsSync, updateRegBounds, zext32To64 } from './bounds.js';
import { type RegState, S32_MAX, S32_MIN, S64_MAX, S64_MIN, U32_MAX, U64_MAX, copyReg, markReg32Known, markUnknown, setKnown } from './reg_state.js';
import {
  tnumAdd, tnumAnd, tnumArshift, tnumConst, tnumIsConst, tnumLshift, tnumMul, tnumOr, tnumRshift,
  TNUM_UNKNOWN, tnumBswap, tnumRange, tnumSub, tnumSubreg, tnumXor,
} from './tnum.js';

const s64 = (x: bigint): bigint => BigInt.asIntN(64, x);
const u64 = (x: bigint): bigint => BigInt.asUintN(64, x);
const s32 = (x: bigint): bigint => BigInt.asIntN(32, x);
const u32 = (x: bigint): bigint => BigInt.asUintN(32, x);
const sOver = (x: bigint, bits: number): boolean => BigInt.asIntN(bits, x) !== x;

/*
 * Each op computes the 32-bit bounds (u32/s32 fields) and the 64-bit ones independently from the
 * full registers, as 6.18's adjust_scalar_min_max_vals() does; a 32-bit op then zero-extends the
 * 32-bit result into the 64-bit bounds (zext_32_to_64()). Shifts track the width they run in.
 */
type Width = { bits: 32 | 64 };
const W32: Width = { bits: 32 }, W64: Width = { bits: 64 };

/** The four bounds of one width, read from or written to a register. */
interface Bounds { smin: bigint; smax: bigint; umin: bigint; umax: bigint }
function get(r: RegState, w: Width): Bounds {
  return w.bits === 32 ? { smin: r.s32min, smax: r.s32max, umin: r.u32min, umax: r.u32max } : { smin: r.smin, smax: r.smax, umin: r.umin, umax: r.umax };
}
function put(r: RegState, w: Width, b: Bounds): void {
  if (w.bits === 32) { r.s32min = b.smin; r.s32max = b.smax; r.u32min = b.umin; r.u32max = b.umax; } else { r.smin = b.smin; r.smax = b.smax; r.umin = b.umin; r.umax = b.umax; }
}
const sMin = (w: Width): bigint => (w.bits === 32 ? S32_MIN : S64_MIN);
const sMax = (w: Width): bigint => (w.bits === 32 ? S32_MAX : S64_MAX);
const uMax = (w: Width): bigint => (w.bits === 32 ? U32_MAX : U64_MAX);
const wrapU = (w: Width, x: bigint): bigint => BigInt.asUintN(w.bits, x);
const toS = (w: Width, x: bigint): bigint => BigInt.asIntN(w.bits, x);

/** scalar(32)_min_max_add(): signed overflow loses the signed range; unsigned only when some, not all, sums wrap. */
function addW(d: RegState, s: RegState, w: Width): void {
  const a = get(d, w), b = get(s, w);
  let smin = a.smin + b.smin, smax = a.smax + b.smax;
  if (sOver(smin, w.bits) || sOver(smax, w.bits)) { smin = sMin(w); smax = sMax(w); }
  let umin = a.umin + b.umin, umax = a.umax + b.umax;
  const minOver = umin > uMax(w), maxOver = umax > uMax(w);
  if (!minOver && maxOver) { umin = 0n; umax = uMax(w); } else { umin = wrapU(w, umin); umax = wrapU(w, umax); }
  put(d, w, { smin, smax, umin, umax });
}

/** scalar32_min_max_add(), scalar_min_max_add() and tnum_add() without a bounds sync (sync_linked_regs() uses them so) */
export function scalarMinMaxAdd(d: RegState, s: RegState): void {
  addW(d, s, W32); addW(d, s, W64); d.varOff = tnumAdd(d.varOff, s.varOff);
}

/** scalar(32)_min_max_sub(): as add, with underflow. */
function subW(d: RegState, s: RegState, w: Width): void {
  const a = get(d, w), b = get(s, w);
  let smin = a.smin - b.smax, smax = a.smax - b.smin;
  if (sOver(smin, w.bits) || sOver(smax, w.bits)) { smin = sMin(w); smax = sMax(w); }
  let umin = a.umin - b.umax, umax = a.umax - b.umin;
  const minUnder = umin < 0n, maxUnder = umax < 0n;
  if (minUnder && !maxUnder) { umin = 0n; umax = uMax(w); } else { umin = wrapU(w, umin); umax = wrapU(w, umax); }
  put(d, w, { smin, smax, umin, umax });
}

/** scalar(32)_min_max_mul(): products of the bounds unless one may overflow. */
function mulW(d: RegState, s: RegState, w: Width): void {
  const a = get(d, w), b = get(s, w);
  let umin = a.umin * b.umin, umax = a.umax * b.umax;
  if (umax > uMax(w) || umin > uMax(w)) { umin = 0n; umax = uMax(w); }
  const p = [a.smin * b.smin, a.smin * b.smax, a.smax * b.smin, a.smax * b.smax];
  let smin: bigint, smax: bigint;
  if (p.some((x) => sOver(x, w.bits))) { smin = sMin(w); smax = sMax(w); }
  else { smin = p.reduce((x, y) => (x < y ? x : y)); smax = p.reduce((x, y) => (x > y ? x : y)); }
  put(d, w, { smin, smax, umin, umax });
}

/** The width's part of a tnum. */
const tnumOf = (r: RegState, w: Width): { value: bigint; mask: bigint } => (w.bits === 32 ? tnumSubreg(r.varOff) : r.varOff);

/**
 * scalar(32)_min_max_and/or/xor() on the already combined var_off: both operands known gives a
 * constant; otherwise the unsigned range comes from the tnum and the operands, and the signed
 * range is the unsigned one when it does not cross the sign boundary.
 */
function bitwiseW(op: 'and' | 'or' | 'xor', d: RegState, s: RegState, w: Width, dstKnown: boolean, srcKnown: boolean): void {
  const t = tnumOf(d, w);
  if (dstKnown && srcKnown) {
    if (w.bits === 32) markReg32Known(d, t.value);
    else setKnown(d, t.value);
    return;
  }
  const a = get(d, w), b = get(s, w);
  let umin: bigint, umax: bigint;
  if (op === 'and') { umin = t.value; umax = a.umax < b.umax ? a.umax : b.umax; }
  else if (op === 'or') { umin = a.umin > b.umin ? a.umin : b.umin; umax = t.value | t.mask; }
  else { umin = t.value; umax = t.value | t.mask; }
  const cross = toS(w, umin) > toS(w, umax);
  put(d, w, { umin, umax, smin: cross ? sMin(w) : toS(w, umin), smax: cross ? sMax(w) : toS(w, umax) });
}

/** __scalar32_min_max_lsh() / __scalar64_min_max_lsh(): the bounds of dst << sh. */
function lshBounds32(d: RegState, sh: bigint): void {
  d.s32min = S32_MIN; d.s32max = S32_MAX;
  if (sh > 31n || d.u32max > (1n << (31n - sh))) { d.u32min = 0n; d.u32max = U32_MAX; } else { d.u32min <<= sh; d.u32max <<= sh; }
}
function lshBounds64(d: RegState, sh: bigint): void {
  // `<< 32` of a non-negative 32-bit value (the sign-extension idiom `<<32 s>>32`) keeps its sign
  d.smax = sh === 32n && d.s32max >= 0n ? d.s32max << 32n : S64_MAX;
  d.smin = sh === 32n && d.s32min >= 0n ? d.s32min << 32n : S64_MIN;
  if (d.umax > (1n << (63n - sh))) { d.umin = 0n; d.umax = U64_MAX; } else { d.umin <<= sh; d.umax <<= sh; }
}

function shift(op: number, d: RegState, sh: number, alu32: boolean): void {
  const B = BigInt(sh);
  if (op === 0x60) { // LSH
    if (alu32) {
      const sub = tnumSubreg(d.varOff);
      lshBounds32(d, B);
      d.varOff = tnumSubreg(tnumLshift(sub, sh));
    } else {
      lshBounds64(d, B); // uses the unshifted 32-bit bounds: first
      lshBounds32(d, B);
      d.varOff = tnumLshift(d.varOff, sh);
    }
  } else if (op === 0x70) { // RSH: signed bounds come back from the unsigned ones and the tnum
    if (alu32) {
      const sub = tnumSubreg(d.varOff);
      d.s32min = S32_MIN; d.s32max = S32_MAX;
      d.varOff = tnumRshift(sub, sh);
      d.u32min >>= B; d.u32max >>= B;
    } else {
      d.smin = S64_MIN; d.smax = S64_MAX;
      d.varOff = tnumRshift(d.varOff, sh);
      d.umin >>= B; d.umax >>= B;
      markReg32Unbounded(d);
    }
  } else { // ARSH: unsigned bounds come back from the tnum
    if (alu32) {
      d.s32min = s32(d.s32min >> B); d.s32max = s32(d.s32max >> B);
      d.varOff = tnumArshift(tnumSubreg(d.varOff), sh, 32);
      d.u32min = 0n; d.u32max = U32_MAX;
    } else {
      d.smin >>= B; d.smax >>= B;
      d.varOff = tnumArshift(d.varOff, sh, 64);
      d.umin = 0n; d.umax = U64_MAX;
      markReg32Unbounded(d);
    }
  }
  // a 32-bit shift leaves the 64-bit bounds to zext_32_to_64(); either way the tnum may tell more
  if (alu32) markReg64Unbounded(d);
  updateRegBounds(d);
}

/** is_safe_to_compute_dst_reg_range(): shifts need a constant amount below the width; div/mod never. */
function safeToCompute(op: number, s: RegState, alu32: boolean): boolean {
  switch (op) {
    case 0x00: case 0x10: case 0x80: case 0x50: case 0xa0: case 0x40: case 0x20: return true;
    case 0x60: case 0x70: case 0xc0: {
      const known = alu32
        ? tnumIsConst(tnumSubreg(s.varOff)) && s.s32min === s.s32max && s.u32min === s.u32max
        : tnumIsConst(s.varOff) && s.smin === s.smax && s.umin === s.umax;
      return known && s.umax < BigInt(alu32 ? 32 : 64);
    }
    default: return false;
  }
}

/**
 * adjust_scalar_min_max_vals(): dst op= src for scalars. `op` is BPF_OP of the instruction; `src`
 * is read, not changed (it may be `d` itself).
 */
export function adjustScalar(op: number, d: RegState, src: RegState, alu32: boolean): void {
  if ((op === 0x00 || op === 0x10) && isConstBounds(d) && isConstBounds(src)) {
    // constant +/- constant: the transfer functions may lose a range to overflow, but the constant
    // tnum gives it back in reg_bounds_sync(), so the result is the known (wrapped) constant
    const v = op === 0x00 ? d.varOff.value + src.varOff.value : d.varOff.value - src.varOff.value;
    setKnown(d, alu32 ? v & U32_MAX : v);
    return;
  }
  adjustScalarFull(op, d, src, alu32);
}

/** adjust_scalar_min_max_vals() through the transfer functions, without the constant shortcut (tests compare the two). */
export function adjustScalarFull(op: number, d: RegState, src: RegState, alu32: boolean): void {
  const s = d === src ? copyReg(src) : src; // read only; a copy when it is also the destination
  if (!safeToCompute(op, s, alu32)) { markUnknown(d); return; }
  switch (op) {
    case 0x00: addW(d, s, W32); addW(d, s, W64); d.varOff = tnumAdd(d.varOff, s.varOff); break;
    case 0x10: subW(d, s, W32); subW(d, s, W64); d.varOff = tnumSub(d.varOff, s.varOff); break;
    case 0x20: d.varOff = tnumMul(d.varOff, s.varOff); mulW(d, s, W32); mulW(d, s, W64); break;
    case 0x50: case 0x40: case 0xa0: {
      const kind = op === 0x50 ? 'and' : op === 0x40 ? 'or' : 'xor';
      const d32 = tnumIsConst(tnumSubreg(d.varOff)), s32k = tnumIsConst(tnumSubreg(s.varOff));
      const d64 = tnumIsConst(d.varOff), s64k = tnumIsConst(s.varOff);
      d.varOff = kind === 'and' ? tnumAnd(d.varOff, s.varOff) : kind === 'or' ? tnumOr(d.varOff, s.varOff) : tnumXor(d.varOff, s.varOff);
      bitwiseW(kind, d, s, W32, d32, s32k);
      bitwiseW(kind, d, s, W64, d64, s64k);
      if (!(d64 && s64k)) updateRegBounds(d); // "we may learn something more from the var_off"
      break;
    }
    default: shift(op, d, Number(s.umin), alu32);
  }
  // ALU32 ops are zero extended into the 64-bit register
  if (alu32) zext32To64(d);
  regBoundsSync(d);
}

/** BPF_NEG */
export function negScalar(d: RegState, alu32: boolean): void {
  const zero = copyReg(d); setKnown(zero, 0n); zero.type = 'scalar';
  const src = copyReg(d);
  Object.assign(d, zero);
  adjustScalar(0x10, d, src, alu32);
}

/**
 * BPF_END as 6.18 tracks it (scalar_byte_swap()): a swap (bswap, or to_be on this little-endian
 * machine) byte-reverses the tnum and re-derives the bounds from it; to_le only truncates.
 */
export function endScalar(d: RegState, imm: number, toBe: boolean, alu64: boolean): void {
  if (alu64 || toBe) {
    d.varOff = tnumBswap(d.varOff, imm);
    markReg64Unbounded(d); markReg32Unbounded(d);
  }
  if (imm === 16 || imm === 32) coerceRegToSize(d, imm / 8);
  else regBoundsSync(d);
}

/**
 * Sign-extending narrowing (movsx / ldsx) of a scalar to `size` bytes: coerce_reg_to_size_sx()
 * for the 64-bit forms, coerce_subreg_to_size_sx() then zext_32_to_64() for the 32-bit ones. A
 * range whose top bits agree and whose extended ends share a sign stays exact; else the type's
 * default range (set_sext64/32_default_val()).
 */
export function signExtend(d: RegState, size: number, alu32: boolean): void {
  const bits = BigInt(size * 8);
  const sx = (v: bigint): bigint => BigInt.asIntN(size * 8, v);
  const lim = 1n << (bits - 1n);
  if (!alu32) {
    if (tnumIsConst(d.varOff)) { setKnown(d, sx(d.varOff.value)); return; }
    if ((u64(d.smax) >> bits) === (u64(d.smin) >> bits)) {
      const a = sx(d.smax), b = sx(d.smin);
      const hi = a > b ? a : b, lo = a < b ? a : b;
      if ((hi >= 0n) === (lo >= 0n)) {
        d.smin = d.s32min = lo; d.smax = d.s32max = hi;
        d.umin = u64(lo); d.u32min = u32(lo); d.umax = u64(hi); d.u32max = u32(hi);
        d.varOff = tnumRange(u64(lo), u64(hi));
        return;
      }
    }
    d.smin = d.s32min = -lim; d.smax = d.s32max = lim - 1n;
    d.umin = d.u32min = 0n; d.umax = U64_MAX; d.u32max = U32_MAX;
    d.varOff = TNUM_UNKNOWN;
    return;
  }
  if (tnumIsConst(d.varOff)) {
    markReg32Known(d, sx(d.varOff.value)); // the upper half goes in zext32To64() below
  } else {
    const a = sx(d.s32max), b = sx(d.s32min);
    const hi = a > b ? a : b, lo = a < b ? a : b;
    if ((u32(d.s32max) >> bits) === (u32(d.s32min) >> bits) && (hi >= 0n) === (lo >= 0n)) {
      d.s32min = lo; d.s32max = hi; d.u32min = u32(lo); d.u32max = u32(hi);
      d.varOff = tnumSubreg(tnumRange(u64(lo), u64(hi)));
    } else {
      d.s32min = -lim; d.s32max = lim - 1n; d.u32min = 0n; d.u32max = U32_MAX;
      d.varOff = tnumSubreg(TNUM_UNKNOWN);
    }
  }
  zext32To64(d);
  regBoundsSync(d);
}

export { tnumConst, s64 };

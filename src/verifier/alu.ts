/*
 * Scalar transfer functions: adjust_scalar_min_max_vals() and the scalar(32)_min_max_<op>()
 * family of kernel/bpf/verifier.c, on BigInt bounds.
 */
import { coerceRegToSize, markReg32Unbounded, markReg64Unbounded, regBoundsSync, zext32To64 } from './bounds.js';
import { type RegState, S32_MAX, S32_MIN, S64_MAX, S64_MIN, U32_MAX, U64_MAX, markUnknown, setKnown } from './reg_state.js';
import {
  tnumAdd, tnumAnd, tnumArshift, tnumCast, tnumConst, tnumIsConst, tnumLshift, tnumMul, tnumOr, tnumRshift,
  tnumSub, tnumSubreg, tnumXor,
} from './tnum.js';

const s64 = (x: bigint): bigint => BigInt.asIntN(64, x);
const u64 = (x: bigint): bigint => BigInt.asUintN(64, x);
const s32 = (x: bigint): bigint => BigInt.asIntN(32, x);
const u32 = (x: bigint): bigint => BigInt.asUintN(32, x);
const sOver = (x: bigint, bits: number): boolean => BigInt.asIntN(bits, x) !== x;

/** scalar32_min_max_add(), scalar_min_max_add() and tnum_add() without a bounds sync (sync_linked_regs() uses them so) */
export function scalarMinMaxAdd(d: RegState, s: RegState): void { add(d, s); }

function add(d: RegState, s: RegState): void {
  // 32-bit
  let a = d.s32min + s.s32min, b = d.s32max + s.s32max;
  if (sOver(a, 32) || sOver(b, 32)) { d.s32min = S32_MIN; d.s32max = S32_MAX; } else { d.s32min = a; d.s32max = b; }
  a = d.u32min + s.u32min; b = d.u32max + s.u32max;
  if ((b >> 32n) !== (a >> 32n)) { d.u32min = 0n; d.u32max = U32_MAX; } else { d.u32min = u32(a); d.u32max = u32(b); }
  // 64-bit
  a = d.smin + s.smin; b = d.smax + s.smax;
  if (sOver(a, 64) || sOver(b, 64)) { d.smin = S64_MIN; d.smax = S64_MAX; } else { d.smin = a; d.smax = b; }
  a = d.umin + s.umin; b = d.umax + s.umax;
  if ((b >> 64n) !== (a >> 64n)) { d.umin = 0n; d.umax = U64_MAX; } else { d.umin = u64(a); d.umax = u64(b); }
  d.varOff = tnumAdd(d.varOff, s.varOff);
}

function sub(d: RegState, s: RegState): void {
  let a = d.s32min - s.s32max, b = d.s32max - s.s32min;
  if (sOver(a, 32) || sOver(b, 32)) { d.s32min = S32_MIN; d.s32max = S32_MAX; } else { d.s32min = a; d.s32max = b; }
  if (d.u32min < s.u32max) { d.u32min = 0n; d.u32max = U32_MAX; } else { d.u32min -= s.u32max; d.u32max -= s.u32min; }
  a = d.smin - s.smax; b = d.smax - s.smin;
  if (sOver(a, 64) || sOver(b, 64)) { d.smin = S64_MIN; d.smax = S64_MAX; } else { d.smin = a; d.smax = b; }
  if (d.umin < s.umax) { d.umin = 0n; d.umax = U64_MAX; } else { d.umin -= s.umax; d.umax -= s.umin; }
  d.varOff = tnumSub(d.varOff, s.varOff);
}

function mul(d: RegState, s: RegState): void {
  d.varOff = tnumMul(d.varOff, s.varOff);
  let a = d.u32min * s.u32min, b = d.u32max * s.u32max;
  if (b > U32_MAX) { d.u32min = 0n; d.u32max = U32_MAX; } else { d.u32min = a; d.u32max = b; }
  const p32 = [d.s32min * s.s32min, d.s32min * s.s32max, d.s32max * s.s32min, d.s32max * s.s32max];
  if (p32.some((x) => sOver(x, 32))) { d.s32min = S32_MIN; d.s32max = S32_MAX; }
  else { d.s32min = p32.reduce((x, y) => (x < y ? x : y)); d.s32max = p32.reduce((x, y) => (x > y ? x : y)); }
  a = d.umin * s.umin; b = d.umax * s.umax;
  if (b > U64_MAX) { d.umin = 0n; d.umax = U64_MAX; } else { d.umin = a; d.umax = b; }
  const p = [d.smin * s.smin, d.smin * s.smax, d.smax * s.smin, d.smax * s.smax];
  if (p.some((x) => sOver(x, 64))) { d.smin = S64_MIN; d.smax = S64_MAX; }
  else { d.smin = p.reduce((x, y) => (x < y ? x : y)); d.smax = p.reduce((x, y) => (x > y ? x : y)); }
}

function and(d: RegState, s: RegState): void {
  d.varOff = tnumAnd(d.varOff, s.varOff);
  const v32 = tnumSubreg(d.varOff);
  d.u32min = v32.value; d.u32max = d.u32max < s.u32max ? d.u32max : s.u32max;
  if (d.s32min < 0n || s.s32min < 0n) { d.s32min = S32_MIN; d.s32max = S32_MAX; }
  else { d.s32min = d.u32min; d.s32max = d.u32max; }
  d.umin = d.varOff.value; d.umax = d.umax < s.umax ? d.umax : s.umax;
  if (d.smin < 0n || s.smin < 0n) { d.smin = S64_MIN; d.smax = S64_MAX; } else { d.smin = d.umin; d.smax = d.umax; }
}

function or(d: RegState, s: RegState): void {
  d.varOff = tnumOr(d.varOff, s.varOff);
  const v32 = tnumSubreg(d.varOff);
  d.u32min = d.u32min > s.u32min ? d.u32min : s.u32min; d.u32max = v32.value | v32.mask;
  if (d.s32min < 0n || s.s32min < 0n) { d.s32min = S32_MIN; d.s32max = S32_MAX; } else { d.s32min = d.u32min; d.s32max = d.u32max; }
  d.umin = d.umin > s.umin ? d.umin : s.umin; d.umax = d.varOff.value | d.varOff.mask;
  if (d.smin < 0n || s.smin < 0n) { d.smin = S64_MIN; d.smax = S64_MAX; } else { d.smin = d.umin; d.smax = d.umax; }
}

function xor(d: RegState, s: RegState): void {
  d.varOff = tnumXor(d.varOff, s.varOff);
  const v32 = tnumSubreg(d.varOff);
  d.u32min = v32.value; d.u32max = v32.value | v32.mask;
  if (s32(d.u32min) <= s32(d.u32max) && d.s32min >= 0n && s.s32min >= 0n) { d.s32min = d.u32min; d.s32max = d.u32max; } else { d.s32min = S32_MIN; d.s32max = S32_MAX; }
  d.umin = d.varOff.value; d.umax = d.varOff.value | d.varOff.mask;
  if (d.smin >= 0n && s.smin >= 0n) { d.smin = d.umin; d.smax = d.umax; } else { d.smin = S64_MIN; d.smax = S64_MAX; }
}

function lsh(d: RegState, sh: number, alu32: boolean): void {
  if (alu32) {
    const t = tnumSubreg(d.varOff);
    if (sh < 32 && (d.u32max >> BigInt(32 - sh)) === 0n) { d.u32min <<= BigInt(sh); d.u32max <<= BigInt(sh); } else { d.u32min = 0n; d.u32max = U32_MAX; }
    d.s32min = S32_MIN; d.s32max = S32_MAX;
    d.varOff = tnumCast(tnumLshift(t, sh), 4);
    // 64-bit fields are recomputed by zext
    return;
  }
  const B = BigInt(sh);
  if (d.umax >> BigInt(64 - sh) === 0n || sh === 0) { d.umin <<= B; d.umax <<= B; } else { d.umin = 0n; d.umax = U64_MAX; }
  d.umax = u64(d.umax); d.umin = u64(d.umin);
  // __scalar64_min_max_lsh: signed only for shift 32 of 32-bit values, otherwise unknown
  if (sh === 32 && d.s32min >= S32_MIN && d.s32max <= S32_MAX && d.smin === d.s32min && d.smax === d.s32max) {
    d.smin = d.s32min << 32n; d.smax = d.s32max << 32n;
  } else { d.smin = S64_MIN; d.smax = S64_MAX; }
  d.varOff = tnumLshift(d.varOff, sh);
  markReg32Unbounded(d);
}

function rsh(d: RegState, sh: number, alu32: boolean): void {
  const B = BigInt(sh);
  if (alu32) {
    const t = tnumSubreg(d.varOff);
    d.s32min = S32_MIN; d.s32max = S32_MAX;
    d.varOff = tnumRshift(t, sh);
    d.u32min >>= B; d.u32max >>= B;
    return;
  }
  d.smin = S64_MIN; d.smax = S64_MAX;
  d.varOff = tnumRshift(d.varOff, sh);
  d.umin >>= B; d.umax >>= B;
  markReg32Unbounded(d);
}

function arsh(d: RegState, sh: number, alu32: boolean): void {
  const B = BigInt(sh);
  if (alu32) {
    d.s32min >>= B; d.s32max >>= B;
    d.varOff = tnumArshift(tnumSubreg(d.varOff), sh, 32);
    d.u32min = 0n; d.u32max = U32_MAX;
    return;
  }
  d.smin >>= B; d.smax >>= B;
  d.varOff = tnumArshift(d.varOff, sh, 64);
  d.umin = 0n; d.umax = U64_MAX;
  markReg32Unbounded(d);
}

/**
 * adjust_scalar_min_max_vals(): dst op= src for scalars. Returns an error message or undefined.
 * `op` is BPF_OP of the instruction.
 */
export function adjustScalar(op: number, d: RegState, src: RegState, alu32: boolean, insnOff: number): string | undefined {
  const s = { ...src };
  if (alu32) {
    // operate on the 32-bit subregisters
    s.varOff = tnumSubreg(s.varOff);
    s.umin = s.u32min; s.umax = s.u32max; s.smin = s.u32min; s.smax = s.u32max;
  }
  const srcKnown = alu32 ? tnumIsConst(tnumSubreg(src.varOff)) : tnumIsConst(src.varOff);
  const bits = alu32 ? 32 : 64;
  // is_safe_to_compute_dst_reg_range(): div/mod, and shifts by a non-constant or >= the width,
  // leave the whole register unknown (not even zero-extended), as Linux 6.18 does
  if (op === 0x30 || op === 0x90) { markUnknown(d); return undefined; }
  if (op === 0x60 || op === 0x70 || op === 0xc0) {
    if (!srcKnown || s.varOff.value >= BigInt(bits)) { markUnknown(d); return undefined; }
  }
  const s32Saved = { min: d.s32min, max: d.s32max };
  if (alu32) {
    d.varOff = tnumSubreg(d.varOff);
    d.umin = d.u32min; d.umax = d.u32max; d.smin = d.u32min; d.smax = d.u32max;
  }
  switch (op) {
    case 0x00: add(d, s); break;
    case 0x10: sub(d, s); break;
    case 0x20: mul(d, s); break;
    case 0x50: and(d, s); break;
    case 0x40: or(d, s); break;
    case 0xa0: xor(d, s); break;
    case 0x60: lsh(d, Number(s.varOff.value), false); break;
    case 0x70: rsh(d, Number(s.varOff.value), false); break;
    case 0xc0:
      if (alu32) {
        d.s32min = s32Saved.min; d.s32max = s32Saved.max;
        arsh(d, Number(s.varOff.value), true);
        d.umin = 0n; d.umax = U64_MAX;
      } else arsh(d, Number(s.varOff.value), false);
      break;
    case 0x30: case 0x90: { // div/mod: constants fold, others unknown
      const dk = tnumIsConst(d.varOff);
      if (dk && srcKnown) {
        const signed = insnOff === 1;
        const a = d.varOff.value, b = s.varOff.value;
        let r: bigint;
        if (signed) {
          const sa = BigInt.asIntN(bits, a), sb = BigInt.asIntN(bits, b);
          if (sb === 0n) r = op === 0x30 ? 0n : sa;
          else if (sb === -1n) r = op === 0x30 ? -sa : 0n;
          else r = op === 0x30 ? sa / sb : sa % sb;
        } else if (b === 0n) r = op === 0x30 ? 0n : a;
        else r = op === 0x30 ? a / b : a % b;
        setKnown(d, BigInt.asUintN(bits, r));
      } else { markUnknown(d); }
      break;
    }
    default: markUnknown(d);
  }
  if (alu32) {
    // the op ran on zero-extended operands: its low 32 bits are the result
    d.varOff = tnumCast(d.varOff, 4);
    // add() computed the 32-bit bounds itself (scalar32_min_max_add()): keep them
    if (op === 0x00) markReg64Unbounded(d);
    else if (op !== 0xc0) regBoundsSync32(d);
    else { d.u32min = 0n; d.u32max = U32_MAX; markReg64Unbounded(d); }
    zext32To64(d);
  }
  regBoundsSync(d);
  return undefined;
}

function regBoundsSync32(d: RegState): void {
  if (d.umin <= d.umax && (d.umin >> 32n) === (d.umax >> 32n)) { d.u32min = u32(d.umin); d.u32max = u32(d.umax); }
  else { d.u32min = 0n; d.u32max = U32_MAX; }
  d.s32min = S32_MIN; d.s32max = S32_MAX;
  markReg64Unbounded(d);
}

/** BPF_NEG */
export function negScalar(d: RegState, alu32: boolean): void {
  const zero = { ...d }; setKnown(zero, 0n); zero.type = 'scalar';
  const src = { ...d };
  Object.assign(d, zero);
  adjustScalar(0x10, d, src, alu32, 0);
}

/** BPF_END: byte swaps keep constants, otherwise unknown in the width */
export function endScalar(d: RegState, imm: number, toBe: boolean, alu64: boolean): void {
  if (tnumIsConst(d.varOff)) {
    let v = d.varOff.value;
    const w = BigInt(imm);
    v &= (1n << w) - 1n;
    if (toBe || alu64) {
      let r = 0n;
      for (let i = 0n; i < w / 8n; i++) r = (r << 8n) | ((v >> (i * 8n)) & 0xffn);
      v = r;
    }
    setKnown(d, v);
    return;
  }
  markUnknown(d);
  if (imm < 64) { coerceRegToSize(d, imm / 8); }
}

/** Sign-extending narrowing (movsx / ldsx) of a scalar to `size` bytes, then to 64 or 32 bits. */
export function signExtend(d: RegState, size: number, alu32: boolean): void {
  if (tnumIsConst(d.varOff)) {
    const v = BigInt.asIntN(size * 8, d.varOff.value);
    setKnown(d, alu32 ? u32(v) : u64(v));
    return;
  }
  const lim = 1n << BigInt(size * 8 - 1);
  const smin = -lim, smax = lim - 1n;
  const inRange = d.smin >= 0n && d.umax < lim;
  markUnknown(d);
  if (inRange) return;
  if (alu32) { d.s32min = smin; d.s32max = smax; zext32To64(d); regBoundsSync(d); }
  else { d.smin = smin; d.smax = smax; d.s32min = smin; d.s32max = smax; regBoundsSync(d); }
}

export { tnumConst, s64 };

/*
 * Tristate numbers (kernel/bpf/tnum.c): a 64-bit value where each bit is known 0, known 1 or
 * unknown (mask bit set). `value & mask` is always 0. BigInt u64 throughout; the verifier's
 * state is small, correctness of 64-bit arithmetic matters more than speed here.
 */
export interface Tnum { readonly value: bigint; readonly mask: bigint }

export const U64 = (1n << 64n) - 1n;
export const U32 = 0xffffffffn;
const u64 = (x: bigint): bigint => x & U64;

export const tnumConst = (v: bigint): Tnum => ({ value: u64(v), mask: 0n });
export const TNUM_UNKNOWN: Tnum = { value: 0n, mask: U64 };

/** LOW_BITS[n] = 2^n - 1 (n = 0..64): made once, BigInt shifts allocate */
const LOW_BITS: readonly bigint[] = Array.from({ length: 65 }, (_, n) => (1n << BigInt(n)) - 1n);

/** fls64() of a non-zero u64: the 1-based index of its highest set bit */
export function fls64(x: bigint): number {
  const hi = Number(x >> 32n);
  return hi ? 64 - Math.clz32(hi) : 32 - Math.clz32(Number(x & U32));
}

/** fls64() of any u64 (0 for 0), as a BigInt shift amount */
const flsBig = (x: bigint): bigint => (x === 0n ? 0n : BigInt(fls64(x)));

/** tnum_range() */
export function tnumRange(min: bigint, max: bigint): Tnum {
  const chi = min ^ max;
  if (chi === 0n) return tnumConst(min);
  const bits = fls64(chi);
  if (bits > 63) return TNUM_UNKNOWN;
  const delta = LOW_BITS[bits];
  return { value: min & ~delta & U64, mask: delta };
}
/**
 * tnum_step(): the smallest member of `t` above `z` (t's largest member when z is at or above it,
 * t's smallest when z is below it).
 */
export function tnumStep(t: Tnum, z: bigint): bigint {
  const tmax = t.value | t.mask;
  if (z >= tmax) return tmax;
  if (z < t.value) return t.value;
  if ((t.value | (z & t.mask)) > z) {
    // the most significant known 1 where z has 0: keep z above it, t's known bits from it down
    const q = (U64 << flsBig(~z & t.value & ~t.mask & U64)) & U64;
    return (q & z) | (~q & U64 & t.value);
  }
  // the most significant known 0 where z has 1: carry into the unknown bits above it
  const k = flsBig(z & ~t.value & ~t.mask & U64);
  const q = (U64 << k) & U64;
  const u = (((q & t.mask & z) | (q & ~t.mask & U64)) + (1n << k)) & U64;
  return (u & t.mask) | t.value;
}
export const tnumLshift = (a: Tnum, s: number): Tnum => ({ value: u64(a.value << BigInt(s)), mask: u64(a.mask << BigInt(s)) });
export const tnumRshift = (a: Tnum, s: number): Tnum => ({ value: a.value >> BigInt(s), mask: a.mask >> BigInt(s) });
/** tnum_arshift(): insn_bitness 32 or 64 */
export function tnumArshift(a: Tnum, s: number, bits: number): Tnum {
  const sv = BigInt.asIntN(bits, a.value) >> BigInt(s);
  const sm = BigInt.asIntN(bits, a.mask) >> BigInt(s);
  return { value: BigInt.asUintN(bits, sv), mask: BigInt.asUintN(bits, sm) };
}
export function tnumAdd(a: Tnum, b: Tnum): Tnum {
  const sm = u64(a.mask + b.mask);
  const sv = u64(a.value + b.value);
  const sigma = u64(sm + sv);
  const chi = sigma ^ sv;
  const mu = chi | a.mask | b.mask;
  return { value: sv & ~mu & U64, mask: mu };
}
export function tnumSub(a: Tnum, b: Tnum): Tnum {
  const dv = u64(a.value - b.value);
  const alpha = u64(dv + a.mask);
  const beta = u64(dv - b.mask);
  const chi = alpha ^ beta;
  const mu = chi | a.mask | b.mask;
  return { value: dv & ~mu & U64, mask: mu };
}
export function tnumNeg(a: Tnum): Tnum { return tnumSub(tnumConst(0n), a); }
export function tnumAnd(a: Tnum, b: Tnum): Tnum {
  const alpha = a.value | a.mask, beta = b.value | b.mask;
  const v = a.value & b.value;
  return { value: v, mask: alpha & beta & ~v & U64 };
}
export function tnumOr(a: Tnum, b: Tnum): Tnum {
  const v = a.value | b.value;
  const mu = a.mask | b.mask;
  return { value: v, mask: mu & ~v & U64 };
}
export function tnumXor(a: Tnum, b: Tnum): Tnum {
  const v = a.value ^ b.value;
  const mu = a.mask | b.mask;
  return { value: v & ~mu & U64, mask: mu };
}
/** tnum_mul() (the 6.x shift-and-add form) */
export function tnumMul(a: Tnum, b: Tnum): Tnum {
  let acc_v = u64(a.value * b.value);
  let acc_m: Tnum = tnumConst(0n);
  let x = a, y = b;
  while (x.value || x.mask) {
    if (x.value & 1n) acc_m = tnumAdd(acc_m, { value: 0n, mask: y.mask });
    else if (x.mask & 1n) acc_m = tnumAdd(acc_m, { value: 0n, mask: y.value | y.mask });
    x = tnumRshift(x, 1);
    y = tnumLshift(y, 1);
  }
  return tnumAdd({ value: acc_v, mask: 0n }, acc_m);
}
export function tnumIntersect(a: Tnum, b: Tnum): Tnum {
  const v = a.value | b.value;
  const mu = a.mask & b.mask;
  return { value: v & ~mu & U64, mask: mu };
}
/** tnum_cast(): keep the low `size` bytes */
export function tnumCast(a: Tnum, size: number): Tnum {
  const m = size >= 8 ? U64 : LOW_BITS[size * 8];
  return { value: a.value & m, mask: a.mask & m };
}
/** tnum_bswap16/32/64(): the low `bits` bits byte-reversed (value and mask alike), the rest cleared */
export function tnumBswap(a: Tnum, bits: number): Tnum {
  const swap = (x: bigint): bigint => {
    let r = 0n;
    for (let i = 0; i < bits; i += 8) r = (r << 8n) | ((x >> BigInt(i)) & 0xffn);
    return r;
  };
  return { value: swap(a.value), mask: swap(a.mask) };
}
export const tnumIsConst = (a: Tnum): boolean => a.mask === 0n;
export const tnumIsUnknown = (a: Tnum): boolean => a.mask === U64;
export const tnumIsAligned = (a: Tnum, size: number): boolean => size === 0 || ((a.value | a.mask) & BigInt(size - 1)) === 0n;
/** tnum_in(a, b): b is a subset of a */
export function tnumIn(a: Tnum, b: Tnum): boolean {
  if (b.mask & ~a.mask & U64) return false;
  return a.value === (b.value & ~a.mask & U64);
}
export const tnumSubreg = (a: Tnum): Tnum => tnumCast(a, 4);
export const tnumClearSubreg = (a: Tnum): Tnum => tnumLshift(tnumRshift(a, 32), 32);
export const tnumWithSubreg = (reg: Tnum, subreg: Tnum): Tnum => tnumOr(tnumClearSubreg(reg), tnumSubreg(subreg));
export const tnumConstSubreg = (a: Tnum, v: bigint): Tnum => tnumWithSubreg(a, tnumConst(v & U32));
export const tnumEq = (a: Tnum, b: Tnum): boolean => a.value === b.value && a.mask === b.mask;
/** tnum_strn(): "(0x0; 0xff)" */
export const tnumStr = (a: Tnum): string => `(0x${a.value.toString(16)}; 0x${a.mask.toString(16)})`;

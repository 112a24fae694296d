/*
 * 64-bit arithmetic on registers kept as two int32 halves (L = low word, H = high word, both
 * Int32Array indexed by register number), for the operations that do not fit on one line of the
 * interpreter. Exact, without BigInt on the common paths: multiplication uses Math.imul plus a
 * 16-bit-limb high product; division takes a double fast path when both operands fit in 32 bits
 * and BigInt only for genuinely 64-bit operands.
 *
 * Semantics are RFC 9669 / the kernel's ___bpf_prog_run(): division by zero gives 0, modulo by
 * zero leaves dst unchanged, signed INT_MIN / -1 gives INT_MIN and INT_MIN % -1 gives 0.
 */

const TWO32 = 4294967296;

/** High 32 bits of the unsigned 64-bit product of two uint32 values. */
export function mulhiU32(a: number, b: number): number {
  const a0 = a & 0xffff;
  const a1 = a >>> 16;
  const b0 = b & 0xffff;
  const b1 = b >>> 16;
  const mid = a1 * b0 + a0 * b1; // < 2^33, exact
  const low = a0 * b0 + (mid % 65536) * 65536; // < 2^33, exact
  return (a1 * b1 + Math.floor(mid / 65536) + Math.floor(low / TWO32)) | 0;
}

/** dst *= (bh:bl), mod 2^64. */
export function mul64(L: Int32Array, H: Int32Array, d: number, bh: number, bl: number): void {
  const al = L[d];
  const ah = H[d];
  H[d] = (mulhiU32(al >>> 0, bl >>> 0) + Math.imul(al, bh) + Math.imul(ah, bl)) | 0;
  L[d] = Math.imul(al, bl);
}

export function toU64(hi: number, lo: number): bigint {
  return hi === 0 ? BigInt(lo >>> 0) : (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

function setU64(L: Int32Array, H: Int32Array, d: number, v: bigint): void {
  L[d] = Number(BigInt.asIntN(32, v));
  H[d] = Number(BigInt.asIntN(32, v >> 32n));
}

/** dst = dst / (bh:bl), unsigned; division by zero gives 0. */
export function divU64(L: Int32Array, H: Int32Array, d: number, bh: number, bl: number): void {
  if (bh === 0 && bl === 0) {
    L[d] = 0;
    H[d] = 0;
  } else if (H[d] === 0 && bh === 0) {
    L[d] = (L[d] >>> 0) / (bl >>> 0); // truncated to int32 on store
  } else {
    setU64(L, H, d, toU64(H[d], L[d]) / toU64(bh, bl));
  }
}

/** dst = dst % (bh:bl), unsigned; modulo by zero leaves dst unchanged. */
export function modU64(L: Int32Array, H: Int32Array, d: number, bh: number, bl: number): void {
  if (bh === 0 && bl === 0) return;
  if (H[d] === 0 && bh === 0) {
    L[d] = (L[d] >>> 0) % (bl >>> 0);
  } else {
    setU64(L, H, d, toU64(H[d], L[d]) % toU64(bh, bl));
  }
}

function toS64(hi: number, lo: number): bigint {
  return BigInt.asIntN(64, toU64(hi, lo));
}

/** dst = dst s/ (bh:bl), truncating; by zero gives 0; INT64_MIN / -1 gives INT64_MIN. */
export function sdiv64(L: Int32Array, H: Int32Array, d: number, bh: number, bl: number): void {
  if (bh === 0 && bl === 0) {
    L[d] = 0;
    H[d] = 0;
  } else if (bh === -1 && bl === -1) {
    neg64(L, H, d); // INT64_MIN stays INT64_MIN
  } else if (H[d] === L[d] >> 31 && bh === bl >> 31) {
    // Both fit in int32: the quotient fits in int32 too (INT_MIN / -1 was handled above).
    const q = Math.trunc(L[d] / bl);
    L[d] = q;
    H[d] = q >> 31;
  } else {
    setU64(L, H, d, toS64(H[d], L[d]) / toS64(bh, bl));
  }
}

/** dst = dst s% (bh:bl), sign of the dividend; by zero leaves dst; by -1 gives 0. */
export function smod64(L: Int32Array, H: Int32Array, d: number, bh: number, bl: number): void {
  if (bh === 0 && bl === 0) return;
  if (bh === -1 && bl === -1) {
    L[d] = 0;
    H[d] = 0;
  } else if (H[d] === L[d] >> 31 && bh === bl >> 31) {
    const r = (L[d] % bl) | 0;
    L[d] = r;
    H[d] = r >> 31;
  } else {
    setU64(L, H, d, toS64(H[d], L[d]) % toS64(bh, bl));
  }
}

/** 32-bit signed division (result zero-extended by the caller's store of H = 0). */
export function sdiv32(a: number, b: number): number {
  if (b === 0) return 0;
  if (b === -1) return -a | 0; // INT_MIN / -1 = INT_MIN
  return (a / b) | 0;
}

/** 32-bit signed modulo: by zero gives the dividend, by -1 gives 0. */
export function smod32(a: number, b: number): number {
  if (b === 0) return a;
  if (b === -1) return 0;
  return (a % b) | 0;
}

export function neg64(L: Int32Array, H: Int32Array, d: number): void {
  const lo = L[d];
  L[d] = -lo;
  H[d] = ~H[d] + (lo === 0 ? 1 : 0);
}

/** dst <<= n, n in 0..63. */
export function lsh64(L: Int32Array, H: Int32Array, d: number, n: number): void {
  if (n === 0) return;
  if (n < 32) {
    H[d] = (H[d] << n) | (L[d] >>> (32 - n));
    L[d] = L[d] << n;
  } else {
    H[d] = L[d] << (n - 32);
    L[d] = 0;
  }
}

/** dst >>= n (logical), n in 0..63. */
export function rsh64(L: Int32Array, H: Int32Array, d: number, n: number): void {
  if (n === 0) return;
  if (n < 32) {
    L[d] = (L[d] >>> n) | (H[d] << (32 - n));
    H[d] = H[d] >>> n;
  } else {
    L[d] = H[d] >>> (n - 32);
    H[d] = 0;
  }
}

/** dst s>>= n (arithmetic), n in 0..63. */
export function arsh64(L: Int32Array, H: Int32Array, d: number, n: number): void {
  if (n === 0) return;
  if (n < 32) {
    L[d] = (L[d] >>> n) | (H[d] << (32 - n));
    H[d] = H[d] >> n;
  } else {
    L[d] = H[d] >> (n - 32);
    H[d] = H[d] >> 31;
  }
}

export function bswap16(x: number): number {
  return ((x & 0xff) << 8) | ((x >>> 8) & 0xff);
}

export function bswap32(x: number): number {
  return ((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24);
}

/** Unsigned 64-bit a > b on halves (high words as int32). */
export function gtU64(ah: number, al: number, bh: number, bl: number): boolean {
  return ah === bh ? (al >>> 0) > (bl >>> 0) : (ah >>> 0) > (bh >>> 0);
}

/** Signed 64-bit a > b on halves. */
export function gtS64(ah: number, al: number, bh: number, bl: number): boolean {
  return ah === bh ? (al >>> 0) > (bl >>> 0) : ah > bh;
}

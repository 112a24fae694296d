/*
 * 64-bit arithmetic on registers kept as two int32 halves (L = low word, H = high word, both
 * Int32Array indexed by register number), for the operations that do not fit on one line of the
 * interpreter. Exact, without BigInt on the common paths: multiplication uses Math.imul plus a
 * 16-bit-limb high product; division uses doubles (16-bit long division for 32-bit divisors,
 * a corrected double quotient below 2^52) and BigInt only when both operands are genuinely 64-bit.
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

/** Quotient and remainder of the last divmodU64: [q hi, q lo, r hi, r lo]. */
const QR = new Int32Array(4);

/**
 * Unsigned 64-bit (ah:al) / (bh:bl), b != 0, into QR, without BigInt on the common paths:
 * - a 32-bit divisor: long division in 16-bit digits, every intermediate below 2^48 so exact in
 *   doubles (and floor(n / b) of integers below 2^53 is exact);
 * - a dividend below 2^52: one double division, corrected by the exact remainder;
 * - otherwise (both genuinely 64-bit): BigInt.
 */
function divmodU64(ah: number, al: number, bh: number, bl: number): void {
  const ahu = ah >>> 0;
  const alu = al >>> 0;
  const blu = bl >>> 0;
  if (bh === 0) {
    const qh = Math.floor(ahu / blu);
    let r = ahu - qh * blu;
    let n = r * 65536 + (alu >>> 16);
    const q1 = Math.floor(n / blu);
    r = n - q1 * blu;
    n = r * 65536 + (alu & 0xffff);
    const q0 = Math.floor(n / blu);
    QR[0] = qh;
    QR[1] = q1 * 65536 + q0; // < 2^32, wraps to int32 on store
    QR[2] = 0;
    QR[3] = n - q0 * blu;
  } else if (gtU64(bh, bl, ah, al)) {
    QR[0] = 0;
    QR[1] = 0;
    QR[2] = ah;
    QR[3] = al;
  } else if (ahu < 0x100000) { // a < 2^52 (so b < 2^52 too)
    const a = ahu * TWO32 + alu;
    const b = (bh >>> 0) * TWO32 + blu;
    // floor of the rounded quotient is exact for a < 2^53; the correction is only a guard
    let q = Math.floor(a / b);
    let r = a - q * b; // exact: q * b <= a + b < 2^53
    if (r < 0) {
      q--;
      r += b;
    } else if (r >= b) {
      q++;
      r -= b;
    }
    QR[0] = 0;
    QR[1] = q;
    QR[2] = Math.floor(r / TWO32);
    QR[3] = r; // low word on store
  } else {
    const x = toU64(ah, al);
    const y = toU64(bh, bl);
    const q = x / y;
    const r = x % y;
    QR[0] = Number(BigInt.asIntN(32, q >> 32n));
    QR[1] = Number(BigInt.asIntN(32, q));
    QR[2] = Number(BigInt.asIntN(32, r >> 32n));
    QR[3] = Number(BigInt.asIntN(32, r));
  }
}

/** dst = dst / (bh:bl), unsigned; division by zero gives 0. */
export function divU64(L: Int32Array, H: Int32Array, d: number, bh: number, bl: number): void {
  if (bh === 0 && bl === 0) {
    L[d] = 0;
    H[d] = 0;
  } else if (H[d] === 0 && bh === 0) {
    L[d] = (L[d] >>> 0) / (bl >>> 0); // truncated to int32 on store
  } else {
    divmodU64(H[d], L[d], bh, bl);
    H[d] = QR[0];
    L[d] = QR[1];
  }
}

/** dst = dst % (bh:bl), unsigned; modulo by zero leaves dst unchanged. */
export function modU64(L: Int32Array, H: Int32Array, d: number, bh: number, bl: number): void {
  if (bh === 0 && bl === 0) return;
  if (H[d] === 0 && bh === 0) {
    L[d] = (L[d] >>> 0) % (bl >>> 0);
  } else {
    divmodU64(H[d], L[d], bh, bl);
    H[d] = QR[2];
    L[d] = QR[3];
  }
}

/** Signed division on magnitudes: QR gets the signed quotient and remainder (remainder takes the dividend's sign). */
function divmodS64(ah: number, al: number, bh: number, bl: number): void {
  const aNeg = ah < 0;
  const bNeg = bh < 0;
  // |a| and |b| as unsigned 64-bit (|INT64_MIN| = 2^63 is representable unsigned)
  const xl = aNeg ? -al | 0 : al;
  const xh = aNeg ? (~ah + (al === 0 ? 1 : 0)) | 0 : ah;
  const yl = bNeg ? -bl | 0 : bl;
  const yh = bNeg ? (~bh + (bl === 0 ? 1 : 0)) | 0 : bh;
  divmodU64(xh, xl, yh, yl);
  if (aNeg !== bNeg) {
    const ql = QR[1];
    QR[1] = -ql;
    QR[0] = ~QR[0] + (ql === 0 ? 1 : 0);
  }
  if (aNeg) {
    const rl = QR[3];
    QR[3] = -rl;
    QR[2] = ~QR[2] + (rl === 0 ? 1 : 0);
  }
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
    divmodS64(H[d], L[d], bh, bl);
    H[d] = QR[0];
    L[d] = QR[1];
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
    divmodS64(H[d], L[d], bh, bl);
    H[d] = QR[2];
    L[d] = QR[3];
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

/*
 * Bob Jenkins' lookup3 hash as include/linux/jhash.h has it (jhash, jhash2), so hash maps place
 * keys in the kernel's buckets: with BPF_F_ZERO_SEED (seed 0) get_next_key walks keys in the
 * same order as the kernel does; htab_map_hash() picks jhash2 when the key is a multiple of 4
 * bytes. The bloom filter hashes values the same way.
 */

const JHASH_INITVAL = 0xdeadbeef;

function rol32(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

// __jhash_mix / __jhash_final over a 3-word state.
function mix(s: Int32Array): void {
  let a = s[0], b = s[1], c = s[2];
  a = (a - c) | 0; a ^= rol32(c, 4); c = (c + b) | 0;
  b = (b - a) | 0; b ^= rol32(a, 6); a = (a + c) | 0;
  c = (c - b) | 0; c ^= rol32(b, 8); b = (b + a) | 0;
  a = (a - c) | 0; a ^= rol32(c, 16); c = (c + b) | 0;
  b = (b - a) | 0; b ^= rol32(a, 19); a = (a + c) | 0;
  c = (c - b) | 0; c ^= rol32(b, 4); b = (b + a) | 0;
  s[0] = a; s[1] = b; s[2] = c;
}

function final(s: Int32Array): void {
  let a = s[0], b = s[1], c = s[2];
  c ^= b; c = (c - rol32(b, 14)) | 0;
  a ^= c; a = (a - rol32(c, 11)) | 0;
  b ^= a; b = (b - rol32(a, 25)) | 0;
  c ^= b; c = (c - rol32(b, 16)) | 0;
  a ^= c; a = (a - rol32(c, 4)) | 0;
  b ^= a; b = (b - rol32(a, 14)) | 0;
  c ^= b; c = (c - rol32(b, 24)) | 0;
  s[0] = a; s[1] = b; s[2] = c;
}

const st = new Int32Array(3);

function word(k: Uint8Array, o: number): number {
  return k[o] | (k[o + 1] << 8) | (k[o + 2] << 16) | (k[o + 3] << 24);
}

/** jhash(key, length, initval): any length. */
export function jhash(k: Uint8Array, initval: number, length = k.length): number {
  st[0] = st[1] = st[2] = (JHASH_INITVAL + length + initval) | 0;
  let o = 0;
  while (length > 12) {
    st[0] = (st[0] + word(k, o)) | 0;
    st[1] = (st[1] + word(k, o + 4)) | 0;
    st[2] = (st[2] + word(k, o + 8)) | 0;
    mix(st);
    length -= 12;
    o += 12;
  }
  if (length === 0) return st[2] >>> 0;
  for (let i = length - 1; i >= 0; i--) {
    const v = k[o + i] << ((i & 3) * 8);
    st[i >> 2] = (st[i >> 2] + v) | 0;
  }
  final(st);
  return st[2] >>> 0;
}

/** jhash2(words, length in words, initval): keys whose size is a multiple of 4. */
export function jhash2(k: Uint8Array, initval: number, words = k.length >> 2): number {
  st[0] = st[1] = st[2] = (JHASH_INITVAL + (words << 2) + initval) | 0;
  let o = 0;
  while (words > 3) {
    st[0] = (st[0] + word(k, o)) | 0;
    st[1] = (st[1] + word(k, o + 4)) | 0;
    st[2] = (st[2] + word(k, o + 8)) | 0;
    mix(st);
    words -= 3;
    o += 12;
  }
  if (words === 0) return st[2] >>> 0;
  for (let i = 0; i < words; i++) st[i] = (st[i] + word(k, o + 4 * i)) | 0;
  final(st);
  return st[2] >>> 0;
}

/** htab_map_hash(): jhash2 for keys of a multiple of 4 bytes, jhash otherwise. */
export function htabHash(key: Uint8Array, seed: number): number {
  return (key.length & 3) === 0 ? jhash2(key, seed) : jhash(key, seed);
}

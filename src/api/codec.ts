/*
 * Keys and values as bytes, with codecs for the usual C types (little-endian, as BPF on x86/arm64
 * lays them out): u8..u64, i8..i64, fixed byte arrays and structs with C alignment.
 *
 *   const map = bpf.createMap({ type: 'hash', keySize: 4, valueSize: 8, maxEntries: 16 })
 *     .as(u32, u64);
 *   map.set(1, 42n); map.get(1) === 42n
 */
import { BpfError } from '../errors.js';

export interface Codec<T> {
  /** Size in bytes. */
  readonly size: number;
  /** Alignment in bytes (C's, for struct layout). */
  readonly align: number;
  encode(value: T, out?: Uint8Array, offset?: number): Uint8Array;
  decode(bytes: Uint8Array, offset?: number): T;
}

function intCodec(size: 1 | 2 | 4, signed: boolean): Codec<number> {
  return {
    size, align: size,
    encode(value, out = new Uint8Array(size), offset = 0) {
      if (!Number.isInteger(value)) throw new BpfError('EINVAL', `${value} is not an integer`);
      const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
      if (size === 1) view.setUint8(offset, value & 0xff);
      else if (size === 2) view.setUint16(offset, value & 0xffff, true);
      else view.setUint32(offset, value >>> 0, true);
      return out;
    },
    decode(bytes, offset = 0) {
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      if (size === 1) return signed ? view.getInt8(offset) : view.getUint8(offset);
      if (size === 2) return signed ? view.getInt16(offset, true) : view.getUint16(offset, true);
      return signed ? view.getInt32(offset, true) : view.getUint32(offset, true);
    },
  };
}

function bigCodec(signed: boolean): Codec<bigint> {
  return {
    size: 8, align: 8,
    encode(value, out = new Uint8Array(8), offset = 0) {
      new DataView(out.buffer, out.byteOffset, out.byteLength).setBigUint64(offset, BigInt.asUintN(64, BigInt(value)), true);
      return out;
    },
    decode(bytes, offset = 0) {
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      return signed ? view.getBigInt64(offset, true) : view.getBigUint64(offset, true);
    },
  };
}

export const u8 = intCodec(1, false);
export const u16 = intCodec(2, false);
export const u32 = intCodec(4, false);
export const i8 = intCodec(1, true);
export const i16 = intCodec(2, true);
export const i32 = intCodec(4, true);
export const u64 = bigCodec(false);
export const i64 = bigCodec(true);

/** `n` raw bytes. */
export function bytes(n: number): Codec<Uint8Array> {
  return {
    size: n, align: 1,
    encode(value, out = new Uint8Array(n), offset = 0) {
      if (value.length !== n) throw new BpfError('EINVAL', `expected ${n} bytes, got ${value.length}`);
      out.set(value, offset);
      return out;
    },
    decode(b, offset = 0) {
      return b.slice(offset, offset + n);
    },
  };
}

type StructOf<F extends Record<string, Codec<unknown>>> = { [K in keyof F]: F[K] extends Codec<infer T> ? T : never };

/** A C struct: fields in order, each at its natural alignment, size rounded to the largest. */
export function struct<F extends Record<string, Codec<unknown>>>(fields: F): Codec<StructOf<F>> {
  const layout: { name: string; codec: Codec<unknown>; offset: number }[] = [];
  let off = 0;
  let align = 1;
  for (const [name, codec] of Object.entries(fields)) {
    off = Math.ceil(off / codec.align) * codec.align;
    layout.push({ name, codec, offset: off });
    off += codec.size;
    align = Math.max(align, codec.align);
  }
  const size = Math.ceil(off / align) * align;
  return {
    size, align,
    encode(value, out = new Uint8Array(size), offset = 0) {
      for (const f of layout) f.codec.encode((value as Record<string, unknown>)[f.name], out, offset + f.offset);
      return out;
    },
    decode(b, offset = 0) {
      const v: Record<string, unknown> = {};
      for (const f of layout) v[f.name] = f.codec.decode(b, offset + f.offset);
      return v as StructOf<F>;
    },
  };
}

/** Bytes of a little-endian number: le(5, 4) -> 05 00 00 00; le(5n, 8) for 64-bit values. */
export function le(value: number | bigint, size: 1 | 2 | 4 | 8 = 4): Uint8Array {
  if (size === 8 || typeof value === 'bigint') {
    const out = new Uint8Array(size);
    let v = BigInt.asUintN(size * 8, BigInt(value));
    for (let i = 0; i < size; i++) { out[i] = Number(v & 0xffn); v >>= 8n; }
    return out;
  }
  return intCodec(size, false).encode(value);
}

/** The unsigned little-endian integer in `bytes` (up to 8 bytes) as a bigint. */
export function readLe(b: Uint8Array): bigint {
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
  return v;
}

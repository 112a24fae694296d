/*
 * BPF_MAP_TYPE_BLOOM_FILTER (kernel/bpf/bloom_filter.c): a bit array of
 * roundup_pow_of_two(max_entries * nr_hash_funcs * 7 / 5) bits (at least 64), nr_hash_funcs
 * (map_extra & 0xf, default 5) jhash seeds hash_seed + i. Push sets the bits, peek tests them
 * (no false negatives, possible false positives); nothing can be removed. hash_seed is 0 (the
 * kernel's with BPF_F_ZERO_SEED, random otherwise). The syscall's lookup takes the value to test
 * in place of the key (bpf(2) passes it in `value`): it returns it, or throws ENOENT.
 */
import { BPF_ANY, type MapEnv, type MapSpec } from './types.js';
import { EINVAL, ENOENT, EOPNOTSUPP, MapBase, type RawValue } from './common.js';
import { jhash, jhash2 } from './jhash.js';

export class BloomFilterMap extends MapBase {
  readonly nrHashFuncs: number;
  readonly bitsetMask: number;
  private readonly bitsAddr: number;
  private readonly hashSeed = 0;

  constructor(env: MapEnv, spec: MapSpec) {
    super(env, spec);
    const k = Number((spec.mapExtra ?? 0n) & 0xfn) || 5;
    this.nrHashFuncs = k;
    let nrBits = spec.maxEntries * k;
    let mask: number;
    if (nrBits > 0xffffffff || Math.floor(nrBits / 5) * 7 > 0xffffffff || Math.floor(nrBits / 5) * 7 > 2 ** 31) {
      mask = 0xffffffff;
      nrBits = 2 ** 32;
    } else {
      nrBits = Math.floor(nrBits / 5) * 7;
      nrBits = nrBits <= 64 ? 64 : 2 ** Math.ceil(Math.log2(nrBits));
      mask = nrBits - 1;
    }
    this.bitsetMask = mask;
    const bytes = Math.ceil(Math.ceil(nrBits / 8) / 8) * 8;
    const region = this.allocRegion(bytes, 'bitset', false);
    this.bitsAddr = region.addr;
  }

  private view(): Uint8Array {
    return new Uint8Array(this.space.memory.buffer, this.bitsAddr, Math.ceil((this.bitsetMask + 1) / 8));
  }

  private hash(value: Uint8Array, i: number): number {
    const seed = (this.hashSeed + i) | 0;
    const h = (value.length & 3) === 0 ? jhash2(value, seed) : jhash(value, seed);
    return (h & this.bitsetMask) >>> 0;
  }

  push(value: Uint8Array, flags: number): number {
    if (flags !== BPF_ANY) return -EINVAL;
    const bits = this.view();
    for (let i = 0; i < this.nrHashFuncs; i++) {
      const h = this.hash(value, i);
      bits[h >>> 3] |= 1 << (h & 7);
    }
    return 0;
  }

  /** bloom_map_peek_elem: 0 when every bit is set (maybe present), -ENOENT otherwise. */
  test(value: Uint8Array): number {
    const bits = this.view();
    for (let i = 0; i < this.nrHashFuncs; i++) {
      const h = this.hash(value, i);
      if (!(bits[h >>> 3] & (1 << (h & 7)))) return -ENOENT;
    }
    return 0;
  }

  /** The syscall's lookup: `key` is the value to test (key_size is 0). */
  override lookup(value: Uint8Array, flags = 0): Uint8Array {
    return super.lookup(value, flags);
  }

  protected override checkKey(key: Uint8Array | undefined, op: string): Uint8Array {
    if (op === 'map_lookup_elem' && key !== undefined) {
      this.checkValue(key, op);
      return key;
    }
    return super.checkKey(key, op);
  }

  protected rawLookup(value: Uint8Array, _flags: number): RawValue {
    const r = this.test(value);
    return r < 0 ? r : value.slice();
  }
  protected rawUpdate(_key: Uint8Array, value: Uint8Array, flags: number): number {
    return this.push(value, flags);
  }
  protected rawDelete(_key: Uint8Array): number {
    return -EOPNOTSUPP;
  }
  protected rawNextKey(_key: Uint8Array | undefined): RawValue {
    return -EOPNOTSUPP;
  }
  protected override rawLookupAndDelete(): RawValue {
    return -EOPNOTSUPP;
  }

  lookupElem(_keyAddr: number, _cpu: number): number {
    return 0;
  }
  override updateElem(): number {
    return -EINVAL;
  }
  override deleteElem(): number {
    return -EOPNOTSUPP;
  }
  override pushElem(valueAddr: number, flags: number, _cpu: number): number {
    return this.push(this.space.read(valueAddr, this.spec.valueSize), flags);
  }
  override popElem(): number {
    return -EOPNOTSUPP;
  }
  override peekElem(valueAddr: number, _cpu: number): number {
    return this.test(this.space.view(valueAddr, this.spec.valueSize));
  }

  // Snapshot: the bit array as one record.
  protected override snapshotRecords(): [Uint8Array, Uint8Array][] {
    return [[new Uint8Array(0), this.view().slice()]];
  }
  protected override restoreRecords(records: [Uint8Array, Uint8Array][]): void {
    const bits = this.view();
    for (const [, v] of records) if (v.length === bits.length) bits.set(v);
  }
  protected override clear(): void {
    this.view().fill(0);
  }
}

/*
 * Hash maps (kernel/bpf/hashtab.c): HASH, PERCPU_HASH, LRU_HASH, LRU_PERCPU_HASH and HASH_OF_MAPS.
 *
 * Buckets as the kernel's: n_buckets = roundup_pow_of_two(max_entries), bucket = jhash(key,
 * seed) & (n_buckets - 1), a new element goes to the head of its bucket. The seed is 0 (the
 * kernel's with BPF_F_ZERO_SEED; otherwise the kernel picks a random one), so get_next_key walks
 * buckets in index order and each bucket newest first, exactly as the kernel does with
 * BPF_F_ZERO_SEED; a missing key restarts from the first element, like htab_map_get_next_key().
 *
 * Values live in slots of a SlotPool in the VM (preallocated unless BPF_F_NO_PREALLOC). As in the
 * kernel, updating an existing key of HASH/LRU_HASH puts the new value in a new element (new
 * address, moved to the bucket head) and frees the old one; PERCPU_HASH and LRU_PERCPU_HASH
 * update in place; BPF_F_LOCK updates in place.
 *
 * LRU maps run the kernel's LRU (bpf_lru.ts): nodes preallocated, an update takes a node first
 * (prealloc_lru_pop(), which may evict a batch of elements) and only then looks at the key;
 * program lookups set the node's reference bit, syscall lookups do not
 * (htab_lru_map_lookup_elem_sys). Syscall operations run on CPU 0, programs on the host's CPU.
 */
import {
  BPF_EXIST, BPF_F_LOCK, BPF_F_NO_COMMON_LRU, BPF_F_NO_PREALLOC, BPF_MAP_TYPE, BPF_NOEXIST, type BpfMap, type MapBatch,
  type MapEnv, type MapSpec,
} from './types.js';
import {
  E2BIG, EBADF, EEXIST, EINVAL, ENOENT, ENOMEM, ENOSPC, MapBase, type RawValue, bytesEqual, copyValue, errnoError,
  readValue, roundUp8, u32Bytes, u32le,
} from './common.js';
import { htabHash } from './jhash.js';
import { SlotPool } from './pool.js';
import { innerMapCompatible, mapFromFd } from './inner.js';
import { BpfLru, type LruNode } from './bpf_lru.js';

interface HtabElem {
  readonly key: Uint8Array;
  readonly hash: number;
  /** Value slot in the VM (per-CPU: the CPUs' values round_up(value_size, 8) apart). */
  readonly addr: number;
  /** HASH_OF_MAPS: the inner map. */
  inner?: BpfMap;
  /** LRU maps: the element's node. */
  node?: LruNode;
}

export class HashMap extends MapBase {
  readonly percpu: boolean;
  readonly isLru: boolean;
  readonly ofMaps: boolean;
  readonly nBuckets: number;
  private readonly buckets: HtabElem[][];
  private readonly pool: SlotPool;
  private readonly cpuSlot: number;
  private readonly nrCpus: number;
  private readonly lru: BpfLru | undefined;
  /** LRU maps: the element each node holds (by node index), and the slots' base address. */
  private readonly lruElems: (HtabElem | undefined)[] = [];
  private readonly lruBase: number = 0;
  private readonly seed = 0;
  private count = 0;

  constructor(env: MapEnv, spec: MapSpec) {
    const t = spec.type;
    const percpu = t === BPF_MAP_TYPE.PERCPU_HASH || t === BPF_MAP_TYPE.LRU_PERCPU_HASH;
    const isLru = t === BPF_MAP_TYPE.LRU_HASH || t === BPF_MAP_TYPE.LRU_PERCPU_HASH;
    const percpuLru = (spec.flags & BPF_F_NO_COMMON_LRU) !== 0;
    let maxEntries = spec.maxEntries;
    if (percpuLru) { // htab_map_alloc(): the same number of elements in every CPU's list
      const n = env.nrCpus;
      maxEntries = Math.ceil(maxEntries / n) * n;
      if (maxEntries > 0xffffffff) maxEntries = Math.floor(spec.maxEntries / n) * n;
    }
    const cpuSlot = roundUp8(spec.valueSize);
    super(env, { ...spec, maxEntries }, percpu ? cpuSlot * env.nrCpus : spec.valueSize);
    this.percpu = percpu;
    this.isLru = isLru;
    this.ofMaps = t === BPF_MAP_TYPE.HASH_OF_MAPS;
    this.cpuSlot = cpuSlot;
    this.nrCpus = percpu ? env.nrCpus : 1;
    this.nBuckets = roundUpPow2u(maxEntries);
    this.buckets = new Array(this.nBuckets);
    for (let i = 0; i < this.nBuckets; i++) this.buckets[i] = [];
    const slot = this.ofMaps ? 8 : cpuSlot * this.nrCpus;
    if (isLru) { // nodes and their value slots preallocated, as htab_map_alloc() + prealloc_init()
      this.lru = new BpfLru(maxEntries, env.nrCpus, percpuLru, (node) => this.delFromHtab(node));
      this.lruBase = this.allocRegion(maxEntries * slot, 'values').addr;
      this.pool = new SlotPool(env.space, `map ${this.name || '?'} unused`, 8, 0, false);
    } else { // one spare slot for a replace
      this.pool = new SlotPool(env.space, `map ${this.name || '?'} values`, slot, maxEntries + 1, !(spec.flags & BPF_F_NO_PREALLOC));
    }
  }

  /** htab_lru_map_delete_node(): the LRU evicts the node's element, if it is in the table. */
  private delFromHtab(node: LruNode): boolean {
    const e = this.lruElems[node.index];
    if (!e) return false;
    const b = this.buckets[e.hash & (this.nBuckets - 1)];
    const at = b.indexOf(e);
    if (at < 0) return false;
    b.splice(at, 1);
    this.lruElems[node.index] = undefined;
    this.count--;
    return true;
  }

  /** Elements in the map. */
  get size(): number {
    return this.count;
  }

  private find(key: Uint8Array, hash: number): HtabElem | undefined {
    const b = this.buckets[hash & (this.nBuckets - 1)];
    for (let i = 0; i < b.length; i++) {
      const e = b[i];
      if (e.hash === hash && bytesEqual(e.key, key)) return e;
    }
    return undefined;
  }

  private unlink(e: HtabElem): void {
    const b = this.buckets[e.hash & (this.nBuckets - 1)];
    b.splice(b.indexOf(e), 1);
    this.count--;
    if (e.node) {
      this.lruElems[e.node.index] = undefined;
      this.lru!.pushFree(e.node);
    } else {
      this.pool.release(e.addr);
    }
    if (e.inner) this.env.release?.(e.inner);
  }

  private link(e: HtabElem): void {
    this.buckets[e.hash & (this.nBuckets - 1)].unshift(e);
    if (e.node) this.lruElems[e.node.index] = e;
    this.count++;
  }

  private checkFlags(old: HtabElem | undefined, flags: number): number {
    if (old && (flags & ~BPF_F_LOCK) === BPF_NOEXIST) return -EEXIST;
    if (!old && (flags & ~BPF_F_LOCK) === BPF_EXIST) return -ENOENT;
    return 0;
  }

  /** Write a value into slot `addr`: all CPUs from `value` (syscall), or one CPU (program). */
  private writeValue(addr: number, value: Uint8Array, allCpus: boolean, cpu: number, fresh: boolean): void {
    if (!this.percpu) {
      copyValue(this.pool.view(addr, this.spec.valueSize), value, this.spec.spinLockOff);
      return;
    }
    const vs = this.spec.valueSize;
    for (let c = 0; c < this.nrCpus; c++) {
      const dst = this.pool.view(addr + c * this.cpuSlot, vs);
      if (allCpus) dst.set(value.subarray(c * this.cpuSlot, c * this.cpuSlot + vs));
      else if (c === cpu) dst.set(value.subarray(0, vs));
      else if (fresh) dst.fill(0);
    }
  }

  /** htab_map_update_elem and its LRU/per-CPU variants. */
  private updateKey(key: Uint8Array, value: Uint8Array, flags: number, allCpus: boolean, cpu: number, inner?: BpfMap): number {
    const lock = (flags & BPF_F_LOCK) !== 0;
    if (this.percpu || this.isLru ? flags > BPF_EXIST : (flags & ~BPF_F_LOCK) > BPF_EXIST) return -EINVAL;
    if (lock && this.spec.spinLockOff === undefined) return -EINVAL;
    const hash = htabHash(key, this.seed);
    if (this.lru) return this.updateLru(key, hash, value, flags, allCpus, cpu);
    const old = this.find(key, hash);
    const err = this.checkFlags(old, flags);
    if (err) return err;
    if (old && (lock || this.percpu)) { // in place
      this.writeValue(old.addr, value, allCpus, cpu, false);
      return 0;
    }
    if (!old && this.count >= this.spec.maxEntries) return -E2BIG;
    const addr = this.pool.alloc();
    if (addr === 0) return -E2BIG;
    const e: HtabElem = { key: key.slice(), hash, addr };
    if (inner) {
      e.inner = inner;
      this.env.hold?.(inner);
      const v = this.pool.view(addr, 8);
      new DataView(v.buffer, v.byteOffset, 8).setBigUint64(0, BigInt(inner.handleAddr), true);
    } else {
      this.writeValue(addr, value, allCpus, cpu, true);
    }
    this.link(e);
    if (old) this.unlink(old);
    return 0;
  }

  /** htab_lru_map_update_elem / __htab_lru_percpu_map_update_elem: a node first, then the key. */
  private updateLru(key: Uint8Array, hash: number, value: Uint8Array, flags: number, allCpus: boolean, cpu: number): number {
    const lru = this.lru!;
    let node: LruNode | undefined;
    if (!this.percpu || flags !== BPF_EXIST) {
      node = lru.popFree(cpu);
      if (!node) return -ENOMEM;
    }
    const addr = node ? this.lruBase + node.index * this.cpuSlot * this.nrCpus : 0;
    const old = this.find(key, hash);
    const err = this.checkFlags(old, flags);
    if (err) {
      if (node) lru.pushFree(node);
      return err;
    }
    if (old && this.percpu) { // in place
      lru.setRef(old.node!);
      this.writeValue(old.addr, value, allCpus, cpu, false);
      if (node) lru.pushFree(node);
      return 0;
    }
    this.writeValue(addr, value, allCpus, cpu, true);
    this.link({ key: key.slice(), hash, addr, node });
    if (old) {
      lru.setRef(node!);
      this.unlink(old);
    }
    return 0;
  }

  private sysValue(e: HtabElem): Uint8Array {
    if (this.ofMaps) return u32Bytes(e.inner ? (this.env.mapId?.(e.inner) ?? 0) : 0);
    if (!this.percpu) return readValue(this.pool.view(e.addr, this.spec.valueSize), this.spec.spinLockOff);
    const out = new Uint8Array(this.sysValueSize);
    for (let c = 0; c < this.nrCpus; c++) out.set(this.pool.view(e.addr + c * this.cpuSlot, this.spec.valueSize), c * this.cpuSlot);
    return out;
  }

  protected rawLookup(key: Uint8Array, _flags: number): RawValue {
    const e = this.find(key, htabHash(key, this.seed));
    return e ? this.sysValue(e) : -ENOENT;
  }

  protected rawUpdate(key: Uint8Array, value: Uint8Array, flags: number): number {
    if (this.ofMaps) {
      const inner = mapFromFd(this.env, u32le(value));
      if (!inner) return -EBADF;
      if (!innerMapCompatible(this.spec.innerMap, inner)) return -EINVAL;
      return this.updateKey(key, value, flags, true, 0, inner);
    }
    return this.updateKey(key, value, flags, true, 0);
  }

  protected rawDelete(key: Uint8Array): number {
    const e = this.find(key, htabHash(key, this.seed));
    if (!e) return -ENOENT;
    this.unlink(e);
    return 0;
  }

  protected override rawLookupAndDelete(key: Uint8Array | undefined, _flags: number): RawValue {
    if (this.ofMaps || key === undefined) return -EINVAL;
    const e = this.find(key, htabHash(key, this.seed));
    if (!e) return -ENOENT;
    const v = this.sysValue(e);
    this.unlink(e);
    return v;
  }

  protected rawNextKey(key: Uint8Array | undefined): RawValue {
    let i = 0;
    if (key !== undefined) {
      const hash = htabHash(key, this.seed);
      const e = this.find(key, hash);
      if (e) {
        const b = this.buckets[hash & (this.nBuckets - 1)];
        const at = b.indexOf(e);
        if (at + 1 < b.length) return b[at + 1].key.slice();
        i = (hash & (this.nBuckets - 1)) + 1;
      }
    }
    for (; i < this.nBuckets; i++) if (this.buckets[i].length > 0) return this.buckets[i][0].key.slice();
    return -ENOENT;
  }

  lookupElem(keyAddr: number, cpu: number): number {
    const key = this.space.view(keyAddr, this.spec.keySize);
    const e = this.find(key, htabHash(key, this.seed));
    if (!e) return 0;
    if (this.ofMaps) return e.inner ? e.inner.handleAddr : 0;
    if (e.node) this.lru!.setRef(e.node);
    return this.percpu ? e.addr + (cpu % this.nrCpus) * this.cpuSlot : e.addr;
  }

  override updateElem(keyAddr: number, valueAddr: number, flags: number, cpu: number): number {
    if (this.ofMaps) return -EINVAL; // not from programs (the verifier refuses it)
    const key = this.space.read(keyAddr, this.spec.keySize);
    return this.updateKey(key, this.space.read(valueAddr, this.spec.valueSize), flags, false, cpu);
  }

  // Batches walk buckets: in_batch/out_batch is a bucket index (u32), whole buckets at a time.
  protected override batchLookup(inBatch: Uint8Array | undefined, count: number, elemFlags: number, del: boolean, op: string): MapBatch {
    if (this.ofMaps) return super.batchLookup(inBatch, count, elemFlags, del, op);
    if ((elemFlags & ~BPF_F_LOCK) || ((elemFlags & BPF_F_LOCK) && this.spec.spinLockOff === undefined)) throw errnoError(EINVAL, op);
    const out: MapBatch = { keys: [], values: [], end: false };
    if (count <= 0) return out;
    let b = inBatch === undefined ? 0 : u32le(inBatch);
    if (b >= this.nBuckets) throw errnoError(ENOENT, op);
    for (;;) {
      const bucket = this.buckets[b];
      if (bucket.length > count - out.keys.length) {
        if (out.keys.length === 0) throw errnoError(ENOSPC, op);
        break;
      }
      for (const e of [...bucket]) {
        out.keys.push(e.key.slice());
        out.values.push(this.sysValue(e));
        if (del) this.unlink(e);
      }
      b++;
      if (b >= this.nBuckets) {
        out.end = true;
        break;
      }
    }
    out.outBatch = u32Bytes(b);
    return out;
  }

  protected override hasBatchUpdate(): boolean {
    return !this.ofMaps;
  }
  protected override hasBatchDelete(): boolean {
    return !this.ofMaps;
  }

  protected override restoreRecords(records: [Uint8Array, Uint8Array][]): void {
    if (!this.ofMaps) return super.restoreRecords(records);
    for (const [k, v] of records) {
      const inner = this.env.mapFromId?.(u32le(v));
      if (inner) this.updateKey(k, v, 0, true, 0, inner);
    }
  }

  protected override onClose(): void {
    if (this.ofMaps) for (const b of this.buckets) for (const e of b) if (e.inner) this.env.release?.(e.inner);
    this.pool.close();
  }
}

function roundUpPow2u(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/*
 * What every map type shares: the handle in VM memory, the syscall-side wrappers (permission,
 * flag and size checks in the order kernel/bpf/syscall.c makes them, errno errors), the generic
 * batch operations (generic_map_*_batch), snapshot/restore, and small byte helpers.
 *
 * A map type implements the raw operations (bytes in, bytes or -errno out) and the program-side
 * ones (addresses in VM memory); MapBase turns raw results into BpfErrors for the syscall side.
 *
 * The handle (what ld_imm64 src=1 resolves to, struct bpf_map * in the kernel) is a 64-byte
 * region programs can read but not write:
 *
 *   0 u32 map_type   4 u32 key_size   8 u32 value_size   12 u32 max_entries   16 u32 map_flags
 *  20 u32 elem_size (ARRAY stride)   24 u64 address of the values (ARRAY, PERCPU_ARRAY; else 0)
 *  32 u32 nr_cpus
 */
import { BpfError, ERRNO, type ErrnoName, strerror } from '../errors.js';
import type { AddressSpace } from '../vm/address_space.js';
import type { Region } from '../vm/types.js';
import { registerMap, unregisterMap } from './registry.js';
import {
  BPF_F_LOCK, BPF_F_RDONLY, BPF_F_WRONLY, type BpfMap, type MapBatch, type MapEnv, type MapSpec,
} from './types.js';

export const HANDLE_SIZE = 64;

// Errno numbers the raw operations return (negated).
export const EPERM = 1;
export const ENOENT = 2;
export const E2BIG = 7;
export const EBADF = 9;
export const EAGAIN = 11;
export const ENOMEM = 12;
export const EFAULT = 14;
export const EBUSY = 16;
export const EEXIST = 17;
export const ENODEV = 19;
export const EINVAL = 22;
export const ENOSPC = 28;
export const EOVERFLOW = 75;
export const EOPNOTSUPP = 95;
export const ENOTSUPP = 524;

const NAME_OF: Record<number, ErrnoName> = {};
for (const [name, n] of Object.entries(ERRNO)) NAME_OF[n] = name as ErrnoName;
// errno values the kernel gives that errors.ts has no name for yet: the nearest one.
NAME_OF[EOPNOTSUPP] = 'ENOTSUPP';
NAME_OF[EOVERFLOW] = 'ERANGE';

/** A BpfError for errno `n` (positive), message "<op>: <strerror>". */
export function errnoError(n: number, op: string): BpfError {
  const code = NAME_OF[n] ?? 'EINVAL';
  const text = n === EOPNOTSUPP ? 'Operation not supported' : n === EOVERFLOW ? 'Value too large for defined data type' : strerror(code);
  return new BpfError(code, `${op}: ${text}`);
}

/** A failed update/delete batch: `count` elements were processed before the error. */
export class MapBatchError extends BpfError {
  readonly count: number;
  constructor(code: ErrnoName, message: string, count: number) {
    super(code, message);
    this.name = 'MapBatchError';
    this.count = count;
  }
}

export function roundUp8(n: number): number {
  return (n + 7) & ~7;
}

export function roundUpPow2(n: number): number {
  if (n <= 1) return 1;
  return 2 ** Math.ceil(Math.log2(n));
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function u32le(b: Uint8Array, off = 0): number {
  return (b[off] | (b[off + 1] << 8) | (b[off + 2] << 16) | (b[off + 3] << 24)) >>> 0;
}

export function putU32(b: Uint8Array, off: number, v: number): void {
  b[off] = v;
  b[off + 1] = v >>> 8;
  b[off + 2] = v >>> 16;
  b[off + 3] = v >>> 24;
}

export function u32Bytes(v: number): Uint8Array {
  const b = new Uint8Array(4);
  putU32(b, 0, v);
  return b;
}

/** Result of a raw lookup: the value bytes, or -errno. */
export type RawValue = Uint8Array | number;

export abstract class MapBase implements BpfMap {
  readonly spec: Readonly<MapSpec>;
  readonly env: MapEnv;
  readonly handleAddr: number;
  /** Bytes of one value as the syscall sees it (per-CPU: nrCpus × round_up(value_size, 8)). */
  readonly sysValueSize: number;

  protected readonly space: AddressSpace;
  private readonly regions: Region[] = [];
  private isFrozen = false;
  private closed = false;

  constructor(env: MapEnv, spec: MapSpec, sysValueSize = spec.valueSize) {
    this.env = env;
    this.space = env.space;
    this.spec = Object.freeze({ ...spec });
    this.sysValueSize = sysValueSize;
    const handle = this.allocRegion(HANDLE_SIZE, 'handle', false);
    this.handleAddr = handle.addr;
    const h = this.space.bytes(handle);
    putU32(h, 0, spec.type);
    putU32(h, 4, spec.keySize);
    putU32(h, 8, spec.valueSize);
    putU32(h, 12, spec.maxEntries);
    putU32(h, 16, spec.flags);
    putU32(h, 32, env.nrCpus);
    registerMap(this.space, this);
  }

  /**
   * map_flags as bpf_map_info shows them: spec.flags (the create attribute, what a re-create
   * passes) plus what the kernel adds itself (BPF_F_RDONLY_PROG on DEVMAP/DEVMAP_HASH).
   */
  get mapFlags(): number {
    return this.spec.flags;
  }

  get frozen(): boolean {
    return this.isFrozen;
  }

  get name(): string {
    return this.spec.name ?? '';
  }

  /** Allocate a region of the map's storage in the VM (freed by close()). */
  protected allocRegion(size: number, what: string, writable = true): Region {
    const r = this.space.alloc(size, `map ${this.name || '?'} ${what}`, { writable });
    this.regions.push(r);
    return r;
  }

  protected freeRegion(r: Region): void {
    const i = this.regions.indexOf(r);
    if (i >= 0) {
      this.regions.splice(i, 1);
      this.space.free(r);
    }
  }

  /** Write the ARRAY layout fields of the handle. */
  protected setHandleArray(elemSize: number, valuesAddr: number): void {
    const h = this.space.view(this.handleAddr, HANDLE_SIZE);
    putU32(h, 20, elemSize);
    putU32(h, 24, valuesAddr);
    putU32(h, 28, Math.floor(valuesAddr / 2 ** 32));
  }

  // ---- raw operations, implemented per type (bytes; 0 or -errno) ----
  protected abstract rawLookup(key: Uint8Array, flags: number): RawValue;
  protected abstract rawUpdate(key: Uint8Array, value: Uint8Array, flags: number): number;
  protected abstract rawDelete(key: Uint8Array): number;
  protected abstract rawNextKey(key: Uint8Array | undefined): RawValue;
  /** BPF_MAP_LOOKUP_AND_DELETE_ELEM; default: not supported (as the kernel for most types). */
  protected rawLookupAndDelete(_key: Uint8Array | undefined, _flags: number): RawValue {
    return -ENOTSUPP;
  }

  // ---- program side, defaults for the types that lack an operation ----
  abstract lookupElem(keyAddr: number, cpu: number): number;
  updateElem(keyAddr: number, valueAddr: number, flags: number, _cpu: number): number {
    return this.rawUpdate(this.space.read(keyAddr, this.spec.keySize), this.space.read(valueAddr, this.spec.valueSize), flags);
  }
  deleteElem(keyAddr: number, _cpu: number): number {
    return this.rawDelete(this.space.read(keyAddr, this.spec.keySize));
  }
  pushElem(_valueAddr: number, _flags: number, _cpu: number): number {
    return -ENOTSUPP;
  }
  popElem(_valueAddr: number, _cpu: number): number {
    return -ENOTSUPP;
  }
  peekElem(_valueAddr: number, _cpu: number): number {
    return -ENOTSUPP;
  }

  // ---- syscall side ----
  protected checkKey(key: Uint8Array | undefined, op: string): Uint8Array {
    const k = key ?? new Uint8Array(0);
    if (k.length !== this.spec.keySize) {
      throw new BpfError('EINVAL', `${op}: key is ${k.length} bytes, map '${this.name}' has key_size ${this.spec.keySize}`);
    }
    return k;
  }

  protected checkValue(value: Uint8Array, op: string): void {
    if (value.length !== this.sysValueSize) {
      throw new BpfError('EINVAL', `${op}: value is ${value.length} bytes, map '${this.name}' takes ${this.sysValueSize}`);
    }
  }

  protected canRead(op: string): void {
    if (this.closed) throw new BpfError('EBADF', `${op}: map '${this.name}' is closed`);
    if (this.spec.flags & BPF_F_WRONLY) throw errnoError(EPERM, op);
  }

  protected canWrite(op: string): void {
    if (this.closed) throw new BpfError('EBADF', `${op}: map '${this.name}' is closed`);
    if ((this.spec.flags & BPF_F_RDONLY) || this.isFrozen) throw errnoError(EPERM, op);
  }

  private checkLockFlag(flags: number, op: string): void {
    if ((flags & BPF_F_LOCK) && this.spec.spinLockOff === undefined) throw errnoError(EINVAL, op);
  }

  lookup(key: Uint8Array, flags = 0): Uint8Array {
    const op = 'map_lookup_elem';
    if (flags & ~BPF_F_LOCK) throw errnoError(EINVAL, op);
    this.canRead(op);
    this.checkLockFlag(flags, op);
    const r = this.rawLookup(this.checkKey(key, op), flags);
    if (typeof r === 'number') throw errnoError(-r, op);
    return r;
  }

  update(key: Uint8Array, value: Uint8Array, flags = 0): void {
    const op = 'map_update_elem';
    this.canWrite(op);
    this.checkLockFlag(flags, op);
    const k = this.checkKey(key, op);
    this.checkValue(value, op);
    const r = this.rawUpdate(k, value, flags);
    if (r < 0) throw errnoError(-r, op);
  }

  delete(key: Uint8Array): void {
    const op = 'map_delete_elem';
    this.canWrite(op);
    const r = this.rawDelete(this.checkKey(key, op));
    if (r < 0) throw errnoError(-r, op);
  }

  getNextKey(key?: Uint8Array): Uint8Array {
    const op = 'map_get_next_key';
    this.canRead(op);
    const r = this.rawNextKey(key === undefined ? undefined : this.checkKey(key, op));
    if (typeof r === 'number') throw errnoError(-r, op);
    return r;
  }

  lookupAndDelete(key?: Uint8Array, flags = 0): Uint8Array {
    const op = 'map_lookup_and_delete_elem';
    if (flags & ~BPF_F_LOCK) throw errnoError(EINVAL, op);
    this.canRead(op);
    this.canWrite(op);
    this.checkLockFlag(flags, op);
    const r = this.rawLookupAndDelete(key === undefined && this.spec.keySize === 0 ? undefined : this.checkKey(key, op), flags);
    if (typeof r === 'number') throw errnoError(-r, op);
    return r;
  }

  freeze(): void {
    const op = 'map_freeze';
    if (this.spec.spinLockOff !== undefined) throw errnoError(ENOTSUPP, op);
    this.canWrite(op);
    if (this.isFrozen) throw errnoError(EBUSY, op);
    this.isFrozen = true;
  }

  // ---- batch operations (generic_map_*_batch in kernel/bpf/syscall.c) ----
  lookupBatch(inBatch: Uint8Array | undefined, count: number, elemFlags = 0): MapBatch {
    const op = 'map_lookup_batch';
    this.canRead(op);
    return this.batchLookup(inBatch, count, elemFlags, false, op);
  }

  lookupAndDeleteBatch(inBatch: Uint8Array | undefined, count: number, elemFlags = 0): MapBatch {
    const op = 'map_lookup_and_delete_batch';
    this.canRead(op);
    this.canWrite(op);
    return this.batchLookup(inBatch, count, elemFlags, true, op);
  }

  /** The generic lookup batch: get_next_key from in_batch; out_batch = the last key returned. */
  protected batchLookup(inBatch: Uint8Array | undefined, count: number, elemFlags: number, del: boolean, op: string): MapBatch {
    if (del) throw errnoError(ENOTSUPP, op);
    if (elemFlags & ~BPF_F_LOCK) throw errnoError(EINVAL, op);
    this.checkLockFlag(elemFlags, op);
    const out: MapBatch = { keys: [], values: [], end: false };
    if (count <= 0) return out;
    let prev = inBatch === undefined ? undefined : this.checkKey(inBatch, op);
    while (out.keys.length < count) {
      const next = this.rawNextKey(prev);
      if (typeof next === 'number') {
        if (next === -ENOENT) out.end = true;
        else throw errnoError(-next, op);
        break;
      }
      const value = this.rawLookup(next, elemFlags);
      if (typeof value === 'number') {
        if (value === -ENOENT) { // vanished (cannot happen single-threaded; as the kernel's retry)
          prev = next;
          continue;
        }
        throw errnoError(-value, op);
      }
      out.keys.push(next);
      out.values.push(value);
      prev = next;
    }
    if (out.keys.length > 0) out.outBatch = out.keys[out.keys.length - 1].slice();
    return out;
  }

  updateBatch(keys: readonly Uint8Array[], values: readonly Uint8Array[], elemFlags = 0): number {
    const op = 'map_update_batch';
    this.canWrite(op);
    if (!this.hasBatchUpdate()) throw errnoError(ENOTSUPP, op);
    if (elemFlags & ~BPF_F_LOCK) throw errnoError(EINVAL, op);
    this.checkLockFlag(elemFlags, op);
    if (keys.length !== values.length) throw new BpfError('EINVAL', `${op}: ${keys.length} keys but ${values.length} values`);
    for (let i = 0; i < keys.length; i++) {
      const k = this.checkKey(keys[i], op);
      this.checkValue(values[i], op);
      const r = this.rawUpdate(k, values[i], elemFlags);
      if (r < 0) {
        const e = errnoError(-r, op);
        throw new MapBatchError(e.code, e.message, i);
      }
    }
    return keys.length;
  }

  deleteBatch(keys: readonly Uint8Array[], elemFlags = 0): number {
    const op = 'map_delete_batch';
    this.canWrite(op);
    if (!this.hasBatchDelete()) throw errnoError(ENOTSUPP, op);
    if (elemFlags & ~BPF_F_LOCK) throw errnoError(EINVAL, op);
    for (let i = 0; i < keys.length; i++) {
      const r = this.rawDelete(this.checkKey(keys[i], op));
      if (r < 0) {
        const e = errnoError(-r, op);
        throw new MapBatchError(e.code, e.message, i);
      }
    }
    return keys.length;
  }

  /** Which map types have map_update_batch / map_delete_batch in their ops. */
  protected hasBatchUpdate(): boolean {
    return false;
  }
  protected hasBatchDelete(): boolean {
    return false;
  }

  /** Every key in get_next_key order, without the syscall's permission checks (for_each_map_elem). */
  elementKeys(): Uint8Array[] {
    const out: Uint8Array[] = [];
    let key: Uint8Array | undefined;
    for (;;) {
      const next = this.rawNextKey(key);
      if (typeof next === 'number') return out;
      out.push(next);
      key = next;
    }
  }

  // ---- persistence ----
  /** Records for snapshot(): every element as (key, value) in the syscall's layout. */
  protected snapshotRecords(): [Uint8Array, Uint8Array][] {
    const out: [Uint8Array, Uint8Array][] = [];
    let key: Uint8Array | undefined;
    for (;;) {
      const next = this.rawNextKey(key);
      if (typeof next === 'number') break;
      const v = this.rawLookup(next, 0);
      if (typeof v !== 'number') out.push([next, v]);
      key = next;
    }
    return out;
  }

  /**
   * Put back records of snapshotRecords() into an empty map, last first: hash buckets take new
   * elements at their head, so this rebuilds the same get_next_key order.
   */
  protected restoreRecords(records: [Uint8Array, Uint8Array][]): void {
    for (const [k, v] of [...records].reverse()) {
      const r = this.rawUpdate(k, v, 0);
      if (r < 0) throw errnoError(-r, 'restore');
    }
  }

  /** Remove every element (before restore()). */
  protected clear(): void {
    for (;;) {
      const k = this.rawNextKey(undefined);
      if (typeof k === 'number') return;
      if (this.rawDelete(k) < 0) return;
    }
  }

  snapshot(): Uint8Array {
    return encodeSnapshot(this.spec.type, this.snapshotRecords());
  }

  restore(data: Uint8Array): void {
    const records = decodeSnapshot(data, this.spec.type);
    this.clear();
    this.restoreRecords(records);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.onClose();
    unregisterMap(this.space, this);
    for (const r of this.regions.splice(0)) this.space.free(r);
  }

  /** Drop references held by elements (fd maps). */
  protected onClose(): void {}
}

// Snapshot format: "BPFKMAP1", u32 map_type, u32 record count, then per record u32 key length,
// key, u32 value length, value.
const MAGIC = 'BPFKMAP1';

export function encodeSnapshot(type: number, records: [Uint8Array, Uint8Array][]): Uint8Array {
  let size = 16;
  for (const [k, v] of records) size += 8 + k.length + v.length;
  const out = new Uint8Array(size);
  for (let i = 0; i < 8; i++) out[i] = MAGIC.charCodeAt(i);
  putU32(out, 8, type);
  putU32(out, 12, records.length);
  let o = 16;
  for (const [k, v] of records) {
    putU32(out, o, k.length);
    out.set(k, o + 4);
    o += 4 + k.length;
    putU32(out, o, v.length);
    out.set(v, o + 4);
    o += 4 + v.length;
  }
  return out;
}

export function decodeSnapshot(data: Uint8Array, type: number): [Uint8Array, Uint8Array][] {
  const bad = (why: string): never => {
    throw new BpfError('EINVAL', `restore: corrupt map snapshot: ${why}`);
  };
  if (data.length < 16) bad('too short');
  for (let i = 0; i < 8; i++) if (data[i] !== MAGIC.charCodeAt(i)) bad('bad magic');
  if (u32le(data, 8) !== type) bad(`map type ${u32le(data, 8)}, expected ${type}`);
  const n = u32le(data, 12);
  const out: [Uint8Array, Uint8Array][] = [];
  let o = 16;
  for (let i = 0; i < n; i++) {
    if (o + 4 > data.length) bad('truncated');
    const kl = u32le(data, o);
    if (o + 4 + kl + 4 > data.length) bad('truncated');
    const k = data.slice(o + 4, o + 4 + kl);
    o += 4 + kl;
    const vl = u32le(data, o);
    if (o + 4 + vl > data.length) bad('truncated');
    out.push([k, data.slice(o + 4, o + 4 + vl)]);
    o += 4 + vl;
  }
  return out;
}

/**
 * Copy a value into map storage as copy_map_value() does: with a spin lock field, everything but
 * the lock (BPF_F_LOCK updates, and every update: the lock word belongs to the map).
 */
export function copyValue(dst: Uint8Array, src: Uint8Array, lockOff: number | undefined): void {
  if (lockOff === undefined) {
    dst.set(src.subarray(0, dst.length));
    return;
  }
  dst.set(src.subarray(0, lockOff), 0);
  dst.set(src.subarray(lockOff + 4, dst.length), lockOff + 4);
}

/** A copy of a stored value for the syscall, the spin lock zeroed (check_and_init_map_value). */
export function readValue(src: Uint8Array, lockOff: number | undefined): Uint8Array {
  const out = src.slice();
  if (lockOff !== undefined) out.fill(0, lockOff, lockOff + 4);
  return out;
}

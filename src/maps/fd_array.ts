/*
 * Arrays of kernel objects (kernel/bpf/arraymap.c, fd_array_map_*): PROG_ARRAY (tail call
 * targets), PERF_EVENT_ARRAY (perf event outputs) and ARRAY_OF_MAPS. The syscall writes an fd
 * (only BPF_ANY; E2BIG past the end), reads back the object's id (perf events: ENOTSUPP), and
 * deletes with E2BIG past the end and ENOENT for an empty slot. get_next_key walks indices.
 *
 * Programs see: PROG_ARRAY through bpf_tail_call (progAt), PERF_EVENT_ARRAY through
 * bpf_perf_event_output (output(): records kept for the host to read), ARRAY_OF_MAPS through
 * bpf_map_lookup_elem (the inner map's handle, or 0). Each slot of the handle's value area holds
 * the object's handle address (maps) or 1 (other objects present), for a JIT that reads it.
 */
import { BPF_ANY, BPF_MAP_TYPE, type BpfMap, type MapEnv, type MapSpec, type ProgRef } from './types.js';
import {
  E2BIG, EBADF, EINVAL, ENOENT, ENOTSUPP, MapBase, type RawValue, u32Bytes, u32le,
} from './common.js';
import { innerMapCompatible, mapFromFd } from './inner.js';

/** BPF_F_INDEX_MASK / BPF_F_CURRENT_CPU of bpf_perf_event_output's flags. */
export const BPF_F_INDEX_MASK = 0xffffffffn;
export const BPF_F_CURRENT_CPU = 0xffffffffn;

export interface PerfEventRecord {
  /** Array index (the perf event) the record went to. */
  index: number;
  cpu: number;
  data: Uint8Array;
}

type Slot = ProgRef | BpfMap | number;

export class FdArrayMap extends MapBase {
  readonly kind: 'prog' | 'perf' | 'maps';
  private readonly ptrs: (Slot | undefined)[];
  /** PROG_ARRAY: the program type every element must have (set by the first one, as map->owner). */
  private ownerType: number | undefined;
  /** PERF_EVENT_ARRAY: output records, oldest first (the host drains them). */
  readonly records: PerfEventRecord[] = [];

  constructor(env: MapEnv, spec: MapSpec) {
    super(env, spec);
    this.kind = spec.type === BPF_MAP_TYPE.PROG_ARRAY ? 'prog' : spec.type === BPF_MAP_TYPE.PERF_EVENT_ARRAY ? 'perf' : 'maps';
    this.ptrs = new Array(spec.maxEntries);
  }

  /** map_fd_get_ptr: the object an fd names, or -errno. */
  private getPtr(fd: number): Slot | number {
    const env = this.env;
    if (this.kind === 'maps') {
      const inner = mapFromFd(env, fd);
      if (!inner) return -EBADF;
      return innerMapCompatible(this.spec.innerMap, inner) ? inner : -EINVAL;
    }
    if (this.kind === 'prog') {
      const prog = env.progFromFd ? env.progFromFd(fd) : undefined;
      if (!prog) return -EBADF;
      if (this.ownerType !== undefined && prog.type !== undefined && prog.type !== this.ownerType) return -EINVAL;
      this.ownerType ??= prog.type;
      return prog;
    }
    if (env.perfEventFromFd ? !env.perfEventFromFd(fd) : fd < 0) return -EBADF;
    return fd;
  }

  private setSlot(index: number, obj: Slot | undefined): void {
    const old = this.ptrs[index];
    if (old !== undefined && typeof old !== 'number') this.env.release?.(old);
    if (obj !== undefined && typeof obj !== 'number') this.env.hold?.(obj);
    this.ptrs[index] = obj;
  }

  /** bpf_fd_array_map_update_elem. */
  setFd(index: number, fd: number, flags: number): number {
    if (flags !== BPF_ANY) return -EINVAL;
    if (index >= this.spec.maxEntries) return -E2BIG;
    const p = this.getPtr(fd);
    if (typeof p === 'number' && this.kind !== 'perf') return p;
    if (typeof p === 'number' && p < 0) return p;
    this.setSlot(index, p);
    return 0;
  }

  /** PROG_ARRAY: put a program directly (API users without fds). */
  setProg(index: number, prog: ProgRef | undefined): number {
    if (this.kind !== 'prog') return -EINVAL;
    if (index >= this.spec.maxEntries) return -E2BIG;
    if (prog && this.ownerType !== undefined && prog.type !== undefined && prog.type !== this.ownerType) return -EINVAL;
    if (prog) this.ownerType ??= prog.type;
    this.setSlot(index, prog);
    return 0;
  }

  /** PROG_ARRAY: the program at `index` (bpf_tail_call's target), if any. */
  progAt(index: number): ProgRef | undefined {
    if (this.kind !== 'prog' || index < 0 || index >= this.spec.maxEntries) return undefined;
    return this.ptrs[index] as ProgRef | undefined;
  }

  /** ARRAY_OF_MAPS: the inner map at `index`, if any. */
  mapAt(index: number): BpfMap | undefined {
    if (this.kind !== 'maps' || index < 0 || index >= this.spec.maxEntries) return undefined;
    return this.ptrs[index] as BpfMap | undefined;
  }

  /** PERF_EVENT_ARRAY: __bpf_perf_event_output (index may be BPF_F_CURRENT_CPU). 0 or -errno. */
  output(index: number, cpu: number, data: Uint8Array): number {
    if (index === 0xffffffff) index = cpu;
    if (index >= this.spec.maxEntries) return -E2BIG;
    if (this.ptrs[index] === undefined) return -ENOENT;
    this.records.push({ index, cpu, data: data.slice() });
    return 0;
  }

  /** PERF_EVENT_ARRAY: take the records written so far. */
  drain(): PerfEventRecord[] {
    return this.records.splice(0);
  }

  protected rawLookup(key: Uint8Array): RawValue {
    if (this.kind === 'perf') return -ENOTSUPP;
    const index = u32le(key);
    const p = index < this.spec.maxEntries ? this.ptrs[index] : undefined;
    if (p === undefined) return -ENOENT;
    return u32Bytes(this.kind === 'maps' ? (this.env.mapId?.(p as BpfMap) ?? 0) : (this.env.progId?.(p as ProgRef) ?? 0));
  }

  protected rawUpdate(key: Uint8Array, value: Uint8Array, flags: number): number {
    return this.setFd(u32le(key), u32le(value), flags);
  }

  protected rawDelete(key: Uint8Array): number {
    const index = u32le(key);
    if (index >= this.spec.maxEntries) return -E2BIG;
    if (this.ptrs[index] === undefined) return -ENOENT;
    this.setSlot(index, undefined);
    return 0;
  }

  protected rawNextKey(key: Uint8Array | undefined): RawValue {
    const index = key === undefined ? 0xffffffff : u32le(key);
    if (index >= this.spec.maxEntries) return u32Bytes(0);
    if (index === this.spec.maxEntries - 1) return -ENOENT;
    return u32Bytes(index + 1);
  }

  lookupElem(keyAddr: number, _cpu: number): number {
    if (this.kind !== 'maps') return 0;
    const index = u32le(this.space.view(keyAddr, 4));
    return this.mapAt(index)?.handleAddr ?? 0;
  }

  override updateElem(): number {
    return -EINVAL; // not from programs
  }

  override deleteElem(keyAddr: number, _cpu: number): number {
    if (this.kind !== 'prog') return -EINVAL;
    return this.rawDelete(this.space.read(keyAddr, 4)); // bpf_map_delete_elem on a prog array is allowed
  }

  // Snapshot: (index, id) of every element; restored through env.progFromId / mapFromId.
  protected override snapshotRecords(): [Uint8Array, Uint8Array][] {
    const out: [Uint8Array, Uint8Array][] = [];
    if (this.kind === 'perf') return out;
    this.ptrs.forEach((p, i) => {
      if (p === undefined) return;
      const id = this.kind === 'maps' ? (this.env.mapId?.(p as BpfMap) ?? 0) : (this.env.progId?.(p as ProgRef) ?? 0);
      out.push([u32Bytes(i), u32Bytes(id)]);
    });
    return out;
  }
  protected override restoreRecords(records: [Uint8Array, Uint8Array][]): void {
    for (const [k, v] of records) {
      const i = u32le(k);
      const obj = this.kind === 'maps' ? this.env.mapFromId?.(u32le(v)) : this.env.progFromId?.(u32le(v));
      if (obj && i < this.spec.maxEntries) this.setSlot(i, obj);
    }
  }
  protected override clear(): void {
    for (let i = 0; i < this.ptrs.length; i++) if (this.ptrs[i] !== undefined) this.setSlot(i, undefined);
  }
  protected override onClose(): void {
    this.clear();
  }
  /** prog_array_map_clear(): only program arrays forget their entries with the last user reference. */
  releaseUref(): void {
    if (this.kind === 'prog') this.clear();
  }
}

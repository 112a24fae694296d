/*
 * BPF_MAP_TYPE_ARRAY and PERCPU_ARRAY (kernel/bpf/arraymap.c): max_entries values preallocated in
 * one region, round_up(value_size, 8) apart (per CPU: the CPUs' slots of one index side by side),
 * so a lookup is base + index * elem_size (the handle records both for the JIT). Elements always
 * exist: delete is EINVAL, BPF_NOEXIST is EEXIST, an index past the end is E2BIG on update and
 * ENOENT on lookup; get_next_key walks indices in order.
 */
import { BpfError } from '../errors.js';
import { BPF_EXIST, BPF_F_LOCK, BPF_F_MMAPABLE, BPF_F_RDONLY_PROG, BPF_MAP_TYPE, BPF_NOEXIST, type MapEnv, type MapSpec } from './types.js';
import {
  E2BIG, EEXIST, EINVAL, ENOENT, MapBase, type RawValue, copyValue, readValue, roundUp8, u32Bytes, u32le,
} from './common.js';

export class ArrayMap extends MapBase {
  readonly percpu: boolean;
  readonly elemSize: number;
  /** Address of index 0 (CPU 0). */
  readonly valuesAddr: number;
  private readonly nrCpus: number;

  constructor(env: MapEnv, spec: MapSpec) {
    const percpu = spec.type === BPF_MAP_TYPE.PERCPU_ARRAY;
    const elemSize = roundUp8(spec.valueSize);
    super(env, spec, percpu ? elemSize * env.nrCpus : spec.valueSize);
    this.percpu = percpu;
    this.elemSize = elemSize;
    this.nrCpus = percpu ? env.nrCpus : 1;
    const region = this.allocRegion(spec.maxEntries * elemSize * this.nrCpus, 'values', (spec.flags & BPF_F_RDONLY_PROG) === 0);
    this.valuesAddr = region.addr;
    this.setHandleArray(elemSize, region.addr);
  }

  /**
   * mmap() of a BPF_F_MMAPABLE array (array_map_mmap): a live view of the values, elem_size
   * apart (re-fetch after the VM memory grows). EINVAL without the flag, as the kernel.
   */
  mmap(): Uint8Array {
    if (!(this.spec.flags & BPF_F_MMAPABLE)) throw new BpfError('EINVAL', `mmap: map '${this.name}' was not created with BPF_F_MMAPABLE`);
    return new Uint8Array(this.space.memory.buffer, this.valuesAddr, this.spec.maxEntries * this.elemSize);
  }

  /** Address of element `index` for `cpu`. */
  elemAddr(index: number, cpu = 0): number {
    return this.valuesAddr + (index * this.nrCpus + (this.percpu ? cpu : 0)) * this.elemSize;
  }

  private slot(index: number, cpu: number): Uint8Array {
    return new Uint8Array(this.space.memory.buffer, this.elemAddr(index, cpu), this.spec.valueSize);
  }

  protected rawLookup(key: Uint8Array, _flags: number): RawValue {
    const index = u32le(key);
    if (index >= this.spec.maxEntries) return -ENOENT;
    if (!this.percpu) return readValue(this.slot(index, 0), this.spec.spinLockOff);
    const out = new Uint8Array(this.sysValueSize);
    for (let cpu = 0; cpu < this.nrCpus; cpu++) out.set(this.slot(index, cpu), cpu * this.elemSize);
    return out;
  }

  /** array_map_update_elem / bpf_percpu_array_update: `value` holds every CPU's value when allCpus. */
  private updateIndex(index: number, value: Uint8Array, flags: number, allCpus: boolean, cpu: number): number {
    if (this.percpu ? flags > BPF_EXIST : (flags & ~BPF_F_LOCK) > BPF_EXIST) return -EINVAL;
    if (index >= this.spec.maxEntries) return -E2BIG;
    if (flags & BPF_NOEXIST) return -EEXIST;
    if ((flags & BPF_F_LOCK) && this.spec.spinLockOff === undefined) return -EINVAL;
    if (!this.percpu) {
      copyValue(this.slot(index, 0), value, this.spec.spinLockOff);
    } else if (allCpus) {
      for (let c = 0; c < this.nrCpus; c++) this.slot(index, c).set(value.subarray(c * this.elemSize, c * this.elemSize + this.spec.valueSize));
    } else {
      this.slot(index, cpu).set(value.subarray(0, this.spec.valueSize));
    }
    return 0;
  }

  protected rawUpdate(key: Uint8Array, value: Uint8Array, flags: number): number {
    return this.updateIndex(u32le(key), value, flags, true, 0);
  }

  protected rawDelete(_key: Uint8Array): number {
    return -EINVAL;
  }

  protected rawNextKey(key: Uint8Array | undefined): RawValue {
    const index = key === undefined ? 0xffffffff : u32le(key);
    if (index >= this.spec.maxEntries) return u32Bytes(0);
    if (index === this.spec.maxEntries - 1) return -ENOENT;
    return u32Bytes(index + 1);
  }

  lookupElem(keyAddr: number, cpu: number): number {
    const index = u32le(this.space.view(keyAddr, 4));
    return index < this.spec.maxEntries ? this.elemAddr(index, cpu) : 0;
  }

  override updateElem(keyAddr: number, valueAddr: number, flags: number, cpu: number): number {
    const index = u32le(this.space.view(keyAddr, 4));
    return this.updateIndex(index, this.space.read(valueAddr, this.spec.valueSize), flags, false, cpu);
  }

  protected override hasBatchUpdate(): boolean {
    return true;
  }

  protected override clear(): void {
    new Uint8Array(this.space.memory.buffer, this.valuesAddr, this.spec.maxEntries * this.elemSize * this.nrCpus).fill(0);
  }
}

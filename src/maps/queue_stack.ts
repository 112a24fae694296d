/*
 * BPF_MAP_TYPE_QUEUE and STACK (kernel/bpf/queue_stack_maps.c): a ring of max_entries + 1 values
 * in the VM; push adds at head, a queue pops at tail (FIFO), a stack at head - 1 (LIFO). A full
 * map refuses a push with E2BIG unless BPF_EXIST, which overwrites the oldest value. No keys: the
 * syscall's update (key NULL) pushes, lookup peeks, lookup_and_delete pops; delete and
 * get_next_key are EINVAL.
 */
import { BPF_EXIST, BPF_MAP_TYPE, BPF_NOEXIST, type MapEnv, type MapSpec } from './types.js';
import { E2BIG, EINVAL, ENOENT, MapBase, type RawValue } from './common.js';

export class QueueStackMap extends MapBase {
  readonly isStack: boolean;
  private readonly size: number;
  private readonly base: number;
  private head = 0;
  private tail = 0;

  constructor(env: MapEnv, spec: MapSpec) {
    super(env, spec);
    this.isStack = spec.type === BPF_MAP_TYPE.STACK;
    this.size = spec.maxEntries + 1;
    this.base = this.allocRegion(this.size * spec.valueSize, 'elements', false).addr;
  }

  /** Number of values held. */
  get length(): number {
    return (this.head - this.tail + this.size) % this.size;
  }

  private slot(i: number): Uint8Array {
    return new Uint8Array(this.space.memory.buffer, this.base + i * this.spec.valueSize, this.spec.valueSize);
  }

  /** queue_stack_map_push_elem. */
  push(value: Uint8Array, flags: number): number {
    if ((flags & BPF_NOEXIST) || flags > BPF_EXIST) return -EINVAL;
    if (this.length === this.spec.maxEntries) {
      if (!(flags & BPF_EXIST)) return -E2BIG;
      if (++this.tail >= this.size) this.tail = 0; // overwrite the oldest
    }
    this.slot(this.head).set(value.subarray(0, this.spec.valueSize));
    if (++this.head >= this.size) this.head = 0;
    return 0;
  }

  /** __queue_map_get / __stack_map_get: the value, or -ENOENT when empty. */
  pop(del: boolean): RawValue {
    if (this.head === this.tail) return -ENOENT;
    if (this.isStack) {
      let i = this.head - 1;
      if (i < 0) i = this.size - 1;
      const v = this.slot(i).slice();
      if (del) this.head = i;
      return v;
    }
    const v = this.slot(this.tail).slice();
    if (del && ++this.tail >= this.size) this.tail = 0;
    return v;
  }

  protected rawLookup(_key: Uint8Array, _flags: number): RawValue {
    return this.pop(false);
  }
  protected rawUpdate(_key: Uint8Array, value: Uint8Array, flags: number): number {
    return this.push(value, flags);
  }
  protected rawDelete(_key: Uint8Array): number {
    return -EINVAL;
  }
  protected rawNextKey(_key: Uint8Array | undefined): RawValue {
    return -EINVAL;
  }
  protected override rawLookupAndDelete(_key: Uint8Array | undefined, flags: number): RawValue {
    if (flags) return -EINVAL;
    return this.pop(true);
  }

  lookupElem(_keyAddr: number, _cpu: number): number {
    return 0;
  }
  override updateElem(_keyAddr: number, _valueAddr: number, _flags: number, _cpu: number): number {
    return -EINVAL;
  }
  override deleteElem(_keyAddr: number, _cpu: number): number {
    return -EINVAL;
  }
  override pushElem(valueAddr: number, flags: number, _cpu: number): number {
    return this.push(this.space.read(valueAddr, this.spec.valueSize), flags);
  }
  override popElem(valueAddr: number, _cpu: number): number {
    return this.getInto(valueAddr, true);
  }
  override peekElem(valueAddr: number, _cpu: number): number {
    return this.getInto(valueAddr, false);
  }

  private getInto(valueAddr: number, del: boolean): number {
    const dst = this.space.view(valueAddr, this.spec.valueSize);
    const v = this.pop(del);
    if (typeof v === 'number') {
      dst.fill(0); // as the kernel: the value is zeroed when the map is empty
      return v;
    }
    this.space.view(valueAddr, this.spec.valueSize).set(v);
    return 0;
  }

  // Snapshot: the values oldest first, keys empty.
  protected override snapshotRecords(): [Uint8Array, Uint8Array][] {
    const out: [Uint8Array, Uint8Array][] = [];
    for (let i = this.tail; i !== this.head; i = (i + 1) % this.size) out.push([new Uint8Array(0), this.slot(i).slice()]);
    return out;
  }
  protected override restoreRecords(records: [Uint8Array, Uint8Array][]): void {
    for (const [, v] of records) this.push(v, BPF_EXIST);
  }
  protected override clear(): void {
    this.head = this.tail = 0;
  }
}

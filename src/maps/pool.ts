/*
 * Value slots in the VM address space for maps whose elements come and go (hash maps, LPM trie):
 * fixed-size slots handed out from a free list, so an element's value keeps its address while it
 * lives. Preallocated pools (the kernel's default for hash maps) take one region up front;
 * BPF_F_NO_PREALLOC pools grow by regions as elements are added (each at least as large as all
 * before it), never beyond the capacity.
 */
import type { AddressSpace } from '../vm/address_space.js';
import type { Region } from '../vm/types.js';

export class SlotPool {
  readonly slotSize: number;
  readonly capacity: number;
  private readonly space: AddressSpace;
  private readonly name: string;
  private readonly regions: Region[] = [];
  private readonly free: number[] = [];
  private created = 0;

  constructor(space: AddressSpace, name: string, slotSize: number, capacity: number, prealloc: boolean) {
    this.space = space;
    this.name = name;
    this.slotSize = Math.max(8, slotSize);
    this.capacity = capacity;
    if (prealloc) this.grow(capacity);
  }

  private grow(n: number): void {
    const region = this.space.alloc(n * this.slotSize, `${this.name} ${this.regions.length}`);
    this.regions.push(region);
    for (let i = n - 1; i >= 0; i--) this.free.push(region.addr + i * this.slotSize);
    this.created += n;
  }

  /** A zeroed slot's address, or 0 when the pool is exhausted. */
  alloc(): number {
    if (this.free.length === 0) {
      const left = this.capacity - this.created;
      if (left <= 0) return 0;
      this.grow(Math.min(left, Math.max(16, this.created)));
    }
    const addr = this.free.pop()!;
    new Uint8Array(this.space.memory.buffer, addr, this.slotSize).fill(0);
    return addr;
  }

  release(addr: number): void {
    this.free.push(addr);
  }

  /** A live view of a slot. */
  view(addr: number, size = this.slotSize): Uint8Array {
    return new Uint8Array(this.space.memory.buffer, addr, size);
  }

  /** Free every region; the pool starts over empty (a preallocated one grows again on demand). */
  close(): void {
    for (const r of this.regions.splice(0)) this.space.free(r);
    this.free.length = 0;
    this.created = 0;
  }
}

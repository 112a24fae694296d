/*
 * The VM's address space (DESIGN.md, "The address space"): one WebAssembly linear memory holding
 * everything a program can point to (stack frames, context, packets, map values, global data),
 * carved into named regions. An address is a plain number: the byte offset in that memory.
 *
 * Layout decisions:
 * - The first 64 KiB are never allocated, so 0 (and any small offset from a null pointer, or a
 *   64-bit value that wrapped around) is never a valid address.
 * - Every region is followed by a red zone of at least REDZONE bytes that belongs to no region,
 *   so an access running off the end of one region is caught instead of landing in the next.
 * - Regions never move: growing the memory only appends pages (views of `memory.buffer` must be
 *   re-fetched after growth, addresses stay valid).
 * - Allocation is first fit over the sorted region list; free() returns the range for reuse.
 *
 * The typed surface of WebAssembly.Memory is declared locally (WasmMemory) because the project's
 * lib setting has no DOM/WebAssembly types; the object is a real WebAssembly.Memory.
 */
import { BpfError } from '../errors.js';
import type { Region } from './types.js';

/** The part of WebAssembly.Memory bpfkit uses (the object is a real WebAssembly.Memory). */
export interface WasmMemory {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  grow(deltaPages: number): number;
}

interface WasmMemoryConstructor {
  new (descriptor: { initial: number; maximum?: number; shared?: boolean }): WasmMemory;
}

const WASM_PAGE = 65536;
/** Addresses below this are never allocated (null guard). */
export const NULL_GUARD = 65536;
/** Minimum unallocated gap after every region. */
export const REDZONE = 64;
/** Default maximum memory size: 256 MiB. */
export const DEFAULT_MAX_BYTES = 256 * 1024 * 1024;

export interface AddressSpaceOptions {
  /** Upper bound of the linear memory in bytes (rounded up to 64 KiB pages). Default 256 MiB. */
  maxBytes?: number;
  /** Back the memory with a SharedArrayBuffer (for worker threads acting as CPUs). */
  shared?: boolean;
}

export interface AllocOptions {
  /** Whether programs may store to it (default true). The host can always write(). */
  writable?: boolean;
  /** Alignment of the start address, a power of two (default 8). */
  align?: number;
}

function hex(n: number): string {
  return '0x' + n.toString(16);
}

export function formatRegion(region: Region): string {
  return `'${region.name}' [${hex(region.addr)}-${hex(region.addr + region.size)}]`;
}

export class AddressSpace {
  readonly memory: WasmMemory;
  readonly maxBytes: number;
  /** Regions sorted by address. */
  private readonly regions: Region[] = [];
  /** Bumped on every alloc/free, so caches of region bounds know when to drop. */
  generation = 0;

  constructor(options: AddressSpaceOptions = {}) {
    const maxPages = Math.max(2, Math.ceil((options.maxBytes ?? DEFAULT_MAX_BYTES) / WASM_PAGE));
    this.maxBytes = maxPages * WASM_PAGE;
    const Memory = (globalThis as unknown as { WebAssembly: { Memory: WasmMemoryConstructor } }).WebAssembly.Memory;
    this.memory = new Memory({ initial: 2, maximum: maxPages, shared: options.shared === true });
  }

  /** Current size of the linear memory in bytes. */
  get byteLength(): number {
    return this.memory.buffer.byteLength;
  }

  /** Allocate `size` bytes (zeroed) named `name`. Throws ENOMEM when the memory cannot grow. */
  alloc(size: number, name: string, options: AllocOptions = {}): Region {
    if (!Number.isInteger(size) || size < 0) throw new BpfError('EINVAL', `alloc '${name}': invalid size ${size}`);
    const align = options.align ?? 8;
    if (!Number.isInteger(align) || align <= 0 || (align & (align - 1)) !== 0) {
      throw new BpfError('EINVAL', `alloc '${name}': alignment ${align} is not a power of two`);
    }
    const need = Math.max(size, 1);
    // First fit: the gap before regions[i] (after regions[i - 1] and its red zone).
    let index = this.regions.length;
    let addr = -1;
    let prevEnd = NULL_GUARD;
    for (let i = 0; i <= this.regions.length; i++) {
      const start = alignUp(prevEnd, align);
      const limit = i < this.regions.length ? this.regions[i].addr - REDZONE : Infinity;
      if (start + need <= limit) {
        addr = start;
        index = i;
        break;
      }
      if (i < this.regions.length) prevEnd = this.regions[i].addr + Math.max(this.regions[i].size, 1) + REDZONE;
    }
    const end = addr + need + REDZONE;
    if (end > this.maxBytes) {
      throw new BpfError('ENOMEM', `alloc '${name}': cannot allocate ${size} bytes (address space limit ${this.maxBytes} bytes)`);
    }
    if (end > this.byteLength) {
      this.memory.grow(Math.ceil((end - this.byteLength) / WASM_PAGE));
    }
    const region: Region = Object.freeze({ name, addr, size, writable: options.writable ?? true });
    new Uint8Array(this.memory.buffer, addr, need).fill(0);
    this.regions.splice(index, 0, region);
    this.generation++;
    return region;
  }

  free(region: Region): void {
    const i = this.regions.indexOf(region);
    if (i < 0) throw new BpfError('EINVAL', `free: region ${formatRegion(region)} is not allocated`);
    this.regions.splice(i, 1);
    this.generation++;
  }

  /** A live view of the region's bytes (re-fetch after the memory grows). */
  bytes(region: Region): Uint8Array {
    return new Uint8Array(this.memory.buffer, region.addr, region.size);
  }

  /**
   * A live view of `size` bytes at `addr` (no copy; re-fetch after the memory grows). The range
   * must lie inside one region (EFAULT otherwise): what a helper uses for pointer arguments.
   */
  view(addr: number, size: number): Uint8Array {
    if (size !== 0) this.check(addr, size, 'access');
    return new Uint8Array(this.memory.buffer, size === 0 ? 0 : addr, size);
  }

  /** A copy of `size` bytes at `addr`; the range must lie inside one region (EFAULT otherwise). */
  read(addr: number, size: number): Uint8Array {
    if (size === 0) return new Uint8Array(0);
    this.check(addr, size, 'read');
    return new Uint8Array(this.memory.buffer, addr, size).slice();
  }

  /** Copy `data` to `addr`; the range must lie inside one region (read-only regions included). */
  write(addr: number, data: Uint8Array): void {
    if (data.length === 0) return;
    this.check(addr, data.length, 'write');
    new Uint8Array(this.memory.buffer, addr, data.length).set(data);
  }

  /** The region containing `addr`, if any. */
  regionAt(addr: number): Region | undefined {
    const regions = this.regions;
    let lo = 0;
    let hi = regions.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const r = regions[mid];
      if (addr < r.addr) hi = mid - 1;
      else if (addr >= r.addr + r.size) lo = mid + 1;
      else return r;
    }
    return undefined;
  }

  /** All regions, by address. */
  list(): readonly Region[] {
    return this.regions.slice();
  }

  /**
   * Why [addr, addr + size) is not accessible, or undefined when it lies inside one region (and
   * that region is writable, when `store`). The text is the tail of the interpreter's messages.
   */
  accessError(addr: number, size: number, store: boolean): string | undefined {
    const region = Number.isSafeInteger(addr) ? this.regionAt(addr) : undefined;
    // The message is built only on failure: this check sits on helpers' hot paths.
    if (region !== undefined && addr + size <= region.addr + region.size && (!store || region.writable)) return undefined;
    const where = `addr ${hex(addr)}, size ${size}`;
    if (!region) return `${where}, no region`;
    if (addr + size > region.addr + region.size) return `${where}, past end of region ${formatRegion(region)}`;
    return `${where}, region ${formatRegion(region)} is read-only`;
  }

  /** EFAULT unless [addr, addr + size) lies inside one region (`what`: 'access', 'read', 'write'). */
  check(addr: number, size: number, what: string): void {
    const why = this.accessError(addr, size, false);
    if (why) throw new BpfError('EFAULT', `invalid memory ${what}: ${why}`);
  }
}

function alignUp(n: number, align: number): number {
  return Math.ceil(n / align) * align;
}

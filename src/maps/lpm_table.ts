/*
 * A stride table over an IPv4 LPM trie (DIR-16-8-8) in the VM address space, for the JIT's
 * inline bpf_map_lookup_elem on a /32 key: three loads at most, no call out of the module.
 *
 * The level-1 table has 65536 u32 cells (one per top 16 address bits), level-2 and level-3
 * tables 256 each (the next 8 bits, the last 8). A cell holds the value address of the longest
 * prefix containing all the addresses it covers (0: none), or, when some longer prefix lies
 * inside it, the address of the next level's table with bit 0 set (value and table addresses
 * are at least 4-aligned). The trie stays the reference (it answers `best` and `hasLonger`);
 * every update and delete recomputes the cells the prefix covers, so the table is exact at all
 * times. The level-1 table's address is fixed for the map's lifetime (compiled into modules).
 */
import type { AddressSpace } from '../vm/address_space.js';
import type { Region } from '../vm/types.js';
import { SlotPool } from './pool.js';

/** What the table asks of the trie. */
export interface LpmTrieQueries {
  /** Value address of the longest prefix of at most `bits` bits containing `addr`, or 0. */
  best(addr: number, bits: number): number;
  /** Whether a prefix longer than `bits` lies inside addr's /bits. */
  hasLonger(addr: number, bits: number): boolean;
}

const L1_CELLS = 65536;
const SUB_CELLS = 256;

export class Ipv4LpmTable {
  /** Address of the level-1 table. */
  readonly l1: number;
  private readonly space: AddressSpace;
  private readonly region: Region;
  private readonly subs: SlotPool;
  private readonly trie: LpmTrieQueries;
  private buf: ArrayBufferLike | undefined;
  private u32: Uint32Array<ArrayBufferLike> = new Uint32Array(0);

  constructor(space: AddressSpace, name: string, maxEntries: number, trie: LpmTrieQueries) {
    this.space = space;
    this.trie = trie;
    this.region = space.alloc(L1_CELLS * 4, `${name} lpm table`, { align: 16 });
    this.l1 = this.region.addr;
    // a level-2 table per /16 holding longer prefixes, a level-3 one per /24: 2 per prefix at most
    this.subs = new SlotPool(space, `${name} lpm subtables`, SUB_CELLS * 4, 2 * maxEntries + 2, false);
    // (the region comes zeroed: every cell "none", the empty trie's table; no rebuild needed)
  }

  /** Recompute every cell (after the trie was emptied). */
  rebuild(): void {
    this.refresh(this.l1, 0, 0, 0, 0);
  }

  /** Recompute the cells prefix addr/len covers (after it was added, replaced or deleted). */
  changed(addr: number, len: number): void {
    this.refresh(this.l1, 0, 0, addr >>> 0, len);
  }

  close(): void {
    this.subs.close();
    this.space.free(this.region);
  }

  private view(): Uint32Array {
    const b = this.space.memory.buffer;
    if (b !== this.buf) {
      this.buf = b;
      this.u32 = new Uint32Array(b);
    }
    return this.u32;
  }

  /**
   * Cells of the table at `table` (level 0, 1, 2: cells of /16, /24, /32; `base` the address bits
   * above it) that prefix addr/len touches.
   */
  private refresh(table: number, level: number, base: number, addr: number, len: number): void {
    const bitsEnd = 16 + 8 * level;
    const shift = 32 - bitsEnd;
    const cells = level === 0 ? L1_CELLS : SUB_CELLS;
    const indexBits = level === 0 ? 16 : 8;
    if (len > bitsEnd) { // inside one cell
      this.fill(table, level, (addr >>> shift) & (cells - 1), base, addr, len);
      return;
    }
    const covered = bitsEnd - len >= indexBits ? cells : 1 << (bitsEnd - len);
    const first = ((addr >>> shift) & (cells - 1)) & ~(covered - 1);
    for (let i = first; i < first + covered; i++) this.fill(table, level, i, base, addr, len);
  }

  private fill(table: number, level: number, i: number, base: number, addr: number, len: number): void {
    const bitsEnd = 16 + 8 * level;
    const cellAddr = (base | (i << (32 - bitsEnd))) >>> 0;
    const at = (table >>> 2) + i;
    const cur = this.view()[at];
    if (level < 2 && this.trie.hasLonger(cellAddr, bitsEnd)) {
      let sub = cur & 1 ? cur - 1 : 0;
      if (sub === 0) {
        sub = this.subs.alloc();
        if (sub === 0) throw new Error('lpm table: out of subtables'); // (2 per prefix suffice)
        this.refresh(sub, level + 1, cellAddr, cellAddr, bitsEnd); // all of it
      } else {
        this.refresh(sub, level + 1, cellAddr, addr, len); // (len <= bitsEnd: all of it)
      }
      this.view()[at] = (sub | 1) >>> 0;
      return;
    }
    this.view()[at] = this.trie.best(cellAddr, bitsEnd) >>> 0;
    if (cur & 1) this.release(cur - 1, level + 1);
  }

  private release(table: number, level: number): void {
    if (level < 2) {
      const u = this.view();
      for (let i = 0; i < SUB_CELLS; i++) {
        const c = u[(table >>> 2) + i];
        if (c & 1) this.release(c - 1, level + 1);
      }
    }
    this.subs.release(table);
  }
}

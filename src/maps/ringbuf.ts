/*
 * BPF_MAP_TYPE_RINGBUF (kernel/bpf/ringbuf.c): a power-of-two, page-multiple data area in the VM
 * laid out like struct bpf_ringbuf: page 1 consumer_pos, page 2 producer_pos, data from page 3.
 * Records are an 8-byte struct bpf_ringbuf_hdr { u32 len; u32 pg_off; } then the data, padded to
 * 8 bytes; len carries BPF_RINGBUF_BUSY_BIT while reserved and BPF_RINGBUF_DISCARD_BIT when
 * discarded; pg_off is the header's page offset from the start of the ring buffer.
 *
 * The kernel maps the data pages twice in a row so a record that wraps is contiguous. Here the
 * data area is followed by a second copy of the same size: a record is written contiguously
 * from (pos & mask), and whatever lands past the end is copied to the start when it is submitted
 * or discarded, so the consumer reads the ring modulo its size, as a real consumer does.
 *
 * Space: a reservation fails when the producer would run more than size - 1 bytes ahead of the
 * consumer, or of the oldest record still reserved (pending_pos), as __bpf_ringbuf_reserve().
 */
import { type MapEnv, type MapSpec } from './types.js';
import { EINVAL, ENOTSUPP, MapBase, type RawValue, putU32, u32le } from './common.js';

export const BPF_RINGBUF_BUSY_BIT = 2 ** 31;
export const BPF_RINGBUF_DISCARD_BIT = 2 ** 30;
export const BPF_RINGBUF_HDR_SZ = 8;
export const BPF_RB_NO_WAKEUP = 1;
export const BPF_RB_FORCE_WAKEUP = 2;
export const BPF_RB_AVAIL_DATA = 0;
export const BPF_RB_RING_SIZE = 1;
export const BPF_RB_CONS_POS = 2;
export const BPF_RB_PROD_POS = 3;
const PAGE_SIZE = 4096;
/** RINGBUF_MAX_RECORD_SZ: UINT_MAX / 4. */
const RINGBUF_MAX_RECORD_SZ = Math.floor(0xffffffff / 4);

export interface RingbufRecord {
  /** Position of the record's header in the ring (consumer_pos when it was read). */
  pos: number;
  data: Uint8Array;
}

export class RingbufMap extends MapBase {
  readonly size: number;
  readonly mask: number;
  /** Start of the struct bpf_ringbuf image (page 0). */
  readonly baseAddr: number;
  /** Start of the data pages. */
  readonly dataAddr: number;
  private consumerPos = 0;
  private producerPos = 0;
  private pendingPos = 0;
  /** Wakeups a consumer would have seen (epoll), for tests. */
  wakeups = 0;

  constructor(env: MapEnv, spec: MapSpec) {
    super(env, spec);
    this.size = spec.maxEntries;
    this.mask = spec.maxEntries - 1;
    const region = this.allocRegion(3 * PAGE_SIZE + 2 * this.size, 'ringbuf', true);
    this.baseAddr = region.addr;
    this.dataAddr = region.addr + 3 * PAGE_SIZE;
    this.syncPositions();
  }

  private u8(): Uint8Array {
    return new Uint8Array(this.space.memory.buffer);
  }

  private syncPositions(): void {
    const dv = new DataView(this.space.memory.buffer);
    dv.setBigUint64(this.baseAddr + PAGE_SIZE, BigInt(this.consumerPos), true);
    dv.setBigUint64(this.baseAddr + 2 * PAGE_SIZE, BigInt(this.producerPos), true);
  }

  /** Whether `addr` is the data of a record of this ring buffer (after its header). */
  ownsRecord(addr: number): boolean {
    return addr >= this.dataAddr + BPF_RINGBUF_HDR_SZ && addr < this.dataAddr + 2 * this.size;
  }

  /** __bpf_ringbuf_reserve: the address of the record's data, or 0. */
  reserve(size: number): number {
    if (size > RINGBUF_MAX_RECORD_SZ) return 0;
    const len = (size + BPF_RINGBUF_HDR_SZ + 7) & ~7;
    if (len > this.size) return 0;
    // pending_pos: skip records already committed
    const u8 = this.u8();
    while (this.pendingPos < this.producerPos) {
      const hdr = this.dataAddr + (this.pendingPos & this.mask);
      const l = u32le(u8, hdr);
      if (l & BPF_RINGBUF_BUSY_BIT) break;
      this.pendingPos += ((l & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT)) >>> 0) + BPF_RINGBUF_HDR_SZ + 7 & ~7;
    }
    const newProd = this.producerPos + len;
    if (newProd - this.consumerPos > this.mask || newProd - this.pendingPos > this.mask) return 0;
    const hdrAddr = this.dataAddr + (this.producerPos & this.mask);
    putU32(u8, hdrAddr, (size | BPF_RINGBUF_BUSY_BIT) >>> 0);
    putU32(u8, hdrAddr + 4, Math.floor((hdrAddr - this.baseAddr) / PAGE_SIZE));
    this.producerPos = newProd;
    this.syncPositions();
    return hdrAddr + BPF_RINGBUF_HDR_SZ;
  }

  /** bpf_ringbuf_commit: clear the busy bit (set the discard bit), unwrap the tail copy. */
  commit(sample: number, flags: number, discard: boolean): void {
    const u8 = this.u8();
    const hdrAddr = sample - BPF_RINGBUF_HDR_SZ;
    const len = u32le(u8, hdrAddr);
    if (!(len & BPF_RINGBUF_BUSY_BIT)) return;
    const size = (len & ~BPF_RINGBUF_BUSY_BIT) >>> 0;
    const end = hdrAddr + ((size + BPF_RINGBUF_HDR_SZ + 7) & ~7);
    const past = end - (this.dataAddr + this.size);
    if (past > 0) u8.copyWithin(this.dataAddr, this.dataAddr + this.size, this.dataAddr + this.size + past);
    putU32(u8, hdrAddr, (size | (discard ? BPF_RINGBUF_DISCARD_BIT : 0)) >>> 0);
    if (flags & BPF_RB_FORCE_WAKEUP) this.wakeups++;
    else if (!(flags & BPF_RB_NO_WAKEUP) && (hdrAddr - this.dataAddr) === (this.consumerPos & this.mask)) this.wakeups++;
  }

  /** bpf_ringbuf_output: 0, -EINVAL (flags) or -EAGAIN (no room). */
  output(data: Uint8Array, flags: number): number {
    if (flags & ~(BPF_RB_NO_WAKEUP | BPF_RB_FORCE_WAKEUP)) return -EINVAL;
    const rec = this.reserve(data.length);
    if (rec === 0) return -11;
    this.space.view(rec, data.length).set(data);
    this.commit(rec, flags, false);
    return 0;
  }

  /** bpf_ringbuf_query. */
  query(flags: number): bigint {
    switch (flags) {
      case BPF_RB_AVAIL_DATA: return BigInt(this.producerPos - this.consumerPos);
      case BPF_RB_RING_SIZE: return BigInt(this.size);
      case BPF_RB_CONS_POS: return BigInt(this.consumerPos);
      case BPF_RB_PROD_POS: return BigInt(this.producerPos);
      default: return 0n;
    }
  }

  get consumerPosition(): number {
    return this.consumerPos;
  }
  get producerPosition(): number {
    return this.producerPos;
  }

  /**
   * The consumer (libbpf's ring_buffer__consume): committed records from consumer_pos on, in
   * order, stopping at one still reserved; discarded ones are skipped. Advances consumer_pos.
   */
  consume(limit = Infinity): RingbufRecord[] {
    const out: RingbufRecord[] = [];
    const u8 = this.u8();
    while (this.consumerPos < this.producerPos && out.length < limit) {
      const off = this.consumerPos & this.mask;
      const len = u32le(u8, this.dataAddr + off);
      if (len & BPF_RINGBUF_BUSY_BIT) break;
      const size = (len & ~BPF_RINGBUF_DISCARD_BIT) >>> 0;
      if (!(len & BPF_RINGBUF_DISCARD_BIT)) {
        const data = new Uint8Array(size);
        for (let i = 0; i < size; i++) data[i] = u8[this.dataAddr + ((off + BPF_RINGBUF_HDR_SZ + i) & this.mask)];
        out.push({ pos: this.consumerPos, data });
      }
      this.consumerPos += (size + BPF_RINGBUF_HDR_SZ + 7) & ~7;
    }
    this.syncPositions();
    return out;
  }

  /** The raw data pages (size bytes), as a consumer's mmap shows them. */
  dataPages(): Uint8Array {
    return this.u8().slice(this.dataAddr, this.dataAddr + this.size);
  }

  protected rawLookup(): RawValue {
    return -ENOTSUPP;
  }
  protected rawUpdate(): number {
    return -ENOTSUPP;
  }
  protected rawDelete(): number {
    return -ENOTSUPP;
  }
  protected rawNextKey(): RawValue {
    return -ENOTSUPP;
  }
  lookupElem(): number {
    return 0;
  }
  override updateElem(): number {
    return -ENOTSUPP;
  }
  override deleteElem(): number {
    return -ENOTSUPP;
  }

  // Snapshot: positions and the data pages.
  protected override snapshotRecords(): [Uint8Array, Uint8Array][] {
    const pos = new Uint8Array(24);
    const dv = new DataView(pos.buffer);
    dv.setFloat64(0, this.consumerPos, true);
    dv.setFloat64(8, this.producerPos, true);
    dv.setFloat64(16, this.pendingPos, true);
    return [[pos, this.dataPages()]];
  }
  protected override restoreRecords(records: [Uint8Array, Uint8Array][]): void {
    const r = records[0];
    if (!r || r[0].length !== 24 || r[1].length !== this.size) return;
    const dv = new DataView(r[0].buffer, r[0].byteOffset, 24);
    this.consumerPos = dv.getFloat64(0, true);
    this.producerPos = dv.getFloat64(8, true);
    this.pendingPos = dv.getFloat64(16, true);
    this.u8().set(r[1], this.dataAddr);
    this.syncPositions();
  }
  protected override clear(): void {
    this.consumerPos = this.producerPos = this.pendingPos = 0;
    this.syncPositions();
  }
}

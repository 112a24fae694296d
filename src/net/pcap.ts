/*
 * Capture files: libpcap savefiles (pcap-savefile(5): micro- and nanosecond magic, either byte
 * order) and pcapng (SHB, IDB, EPB, SPB, the obsolete PB, several interfaces and sections, either
 * byte order, if_tsresol/if_tsoffset). Browser-safe: bytes in, bytes out; file access lives in
 * node_capture.ts.
 *
 * Reading, two ways:
 * - readCapture(bytes): the whole file as one list of PcapRecord objects (simple, allocates per
 *   record).
 * - CaptureReader: a cursor that allocates nothing per record. Over a Uint8Array, or streaming
 *   over a ByteSource (node_capture.ts' openCaptureFile() reads a file in 1 MiB chunks, so memory
 *   stays constant on multi-GB files):
 *       const r = new CaptureReader(bytes);       // header parsed here (throws on a bad one)
 *       while (r.next()) use(r.buf, r.dataOffset, r.caplen, r.len, r.sec, r.nsec, r.ifIndex);
 *   The record's bytes are r.buf[r.dataOffset .. r.dataOffset + r.caplen), valid until the next
 *   call to next() (a streaming reader refills and may replace r.buf).
 * Timestamps come as seconds + nanoseconds. Corrupt input is refused with a one-line error
 * naming the byte offset, in libpcap's words (sf-pcap.c, pcap-ng.c) where it has them.
 *
 * Writing: PcapWriter streams a classic savefile (as pcap_dump() writes it) through a ByteSink in
 * large buffered writes; writePcap()/writePcapng() build a whole file in memory.
 */
import { BpfError } from '../errors.js';

export interface PcapRecord {
  /** Seconds since the epoch. */
  sec: number;
  /** Nanoseconds within the second (0..999999999). */
  nsec: number;
  /** Captured length = data.length. */
  caplen: number;
  /** Original (wire) length. */
  len: number;
  data: Uint8Array;
  /** Index of the interface (pcapng), 0 for classic pcap. */
  ifIndex: number;
}

export interface PcapInterface { linktype: number; snaplen: number }

export interface PcapFile {
  format: 'pcap' | 'pcapng';
  /** Link type of the first interface (LINKTYPE_ value). */
  linktype: number;
  snaplen: number;
  /** Classic pcap: nanosecond-resolution magic. */
  nanos: boolean;
  /** File byte order was big-endian. */
  bigEndian: boolean;
  versionMajor: number;
  versionMinor: number;
  interfaces: PcapInterface[];
  records: PcapRecord[];
}

/**
 * Where a streaming CaptureReader gets its bytes: copy up to `max` bytes into `into` at `at` and
 * return how many were copied; 0 means the end of the input.
 */
export type ByteSource = (into: Uint8Array, at: number, max: number) => number;

/**
 * Buffer size of a streaming reader: constant memory, room for any record libpcap accepts for
 * the common link types (262144 bytes and its header) beside a read's worth of others.
 */
export const CHUNK_SIZE = 1 << 20;

/**
 * At most this much is read at a time (a larger record takes several reads). A buffer's pages cost
 * a page fault each the first time they are written (~12 us on some VMs), a read(2) through
 * fs.readSync() ~5-8 us: 256 KiB reads fault 64 pages instead of the buffer's 256 for ~220 more
 * reads over a 75 MB capture, and keep the bytes the scan reads in L2.
 */
export const READ_SIZE = 1 << 18;

const PCAP_MAGIC_US = 0xa1b2c3d4;
const PCAP_MAGIC_NS = 0xa1b23c4d;
const PCAPNG_SHB = 0x0a0d0d0a;
const PCAPNG_BOM = 0x1a2b3c4d;
/** pcap-ng.c's INITIAL_MAX_BLOCKSIZE: larger blocks are refused (it also bounds our buffer). */
const PCAPNG_MAX_BLOCK = 16 * 1024 * 1024;

/** libpcap's max_snaplen_for_dlt(): the largest captured length it accepts for a link type. */
export function maxSnaplen(linktype: number): number {
  switch (linktype) {
    case 231: return 128 * 1024 * 1024; // DBUS
    case 279: return 8 * 1024 * 1024; // EBHSCR
    case 249: return 1024 * 1024; // USBPCAP
    default: return 262144;
  }
}

/**
 * pcap_snapshot() of a savefile (libpcap 1.10 pcap_check_header()): the header's snaplen, or the
 * link type's maximum when it is 0 or negative as an int. (A larger one is kept.)
 */
export function adjustSnaplen(linktype: number, snaplen: number): number {
  return snaplen === 0 || snaplen > 0x7fffffff ? maxSnaplen(linktype) : snaplen;
}

const BLOCK_EOF = 0;
const BLOCK_OTHER = 1;
const BLOCK_PACKET = 2;

function corrupt(msg: string, off: number): never {
  throw new BpfError('EINVAL', `${msg} at offset ${off}`);
}

/** A pcapng interface of the current section, with its timestamp conversion. */
interface NgIface {
  /** Index in CaptureReader.interfaces. */
  index: number;
  snaplen: number;
  /** Timestamp units per second (if_tsresol), as a number when exact arithmetic allows. */
  div: number;
  /** Nanoseconds per unit for decimal resolutions up to 1e9, else 0 (computed per record). */
  nsPerUnit: number;
  /** Set when the resolution is too fine for number arithmetic: BigInt path. */
  bigDiv?: bigint;
  tsoffset: number;
}

/**
 * A filter fused with the walk over a buffer of classic little-endian pcap records
 * (compileRecordScan()): from buf[start], the whole records before `end` that need no cutting
 * (caplen <= maxCap) and have a valid timestamp fraction (< fracLimit), stopping after `limit`
 * kept (`dv`: a DataView over buf's bytes, from its byte 0). Kept records are moved together in
 * place to buf[to...] (to <= start; copyWithin, in runs); returns where it stopped, with
 * state[0] = the end of the kept bytes, state[1] = how many.
 */
export type RecordScan = (buf: Uint8Array, dv: DataView, start: number, end: number, to: number, limit: number,
  maxCap: number, fracLimit: number, state: Int32Array) => number;

/**
 * The RecordScan for a filter given as statements to inline (cbpf/jsc.ts' cbpfInlineAt(): reads
 * buf[b .. b + n) through p and dv, and `len`; sets `verdict`): straight-line code per record
 * over the read buffer, no call, view or object per packet. Undefined where `new Function` is
 * refused (a strict Content-Security-Policy): keepRuns() then calls the filter per record.
 */
export function compileRecordScan(filter: string): RecordScan | undefined {
  const u32 = (at: string): string => `dv.getUint32(${at}, true)`;
  // Kept bytes buf[run, at) move down to `to` (copyWithin measured cheaper than a copy loop in
  // line or set(subarray()), in instructions per run).
  const move = `if (to !== run) p.copyWithin(to, run, at); to += at - run;`;
  const body = `
let kept = 0, run = -1;
while (at + 16 <= end && kept < limit) {
  const n = ${u32('at + 8')};
  const next = at + 16 + n;
  if (n > maxCap || next > end || ${u32('at + 4')} >= fracLimit) break;
  const b = at + 16;
  ${/\blen\b/.test(filter) ? `const len = ${u32('at + 12')};` : ''}
  let verdict = 0;
  ${filter}
  if (verdict !== 0) { if (run < 0) run = at; kept++; }
  else if (run >= 0) { ${move} run = -1; }
  at = next;
}
if (run >= 0) { ${move} }
state[0] = to; state[1] = kept;
return at;`;
  try {
    return new Function('p', 'dv', 'at', 'end', 'to', 'limit', 'maxCap', 'fracLimit', 'state', body) as RecordScan;
  } catch {
    return undefined;
  }
}

export class CaptureReader {
  format: 'pcap' | 'pcapng' = 'pcap';
  /** Link type of the first interface (LINKTYPE_ value). */
  linktype = 0;
  /** The snapshot length in the header (first interface for pcapng), as stored. */
  snaplen = 0;
  /** Classic pcap: nanosecond-resolution magic. */
  nanos = false;
  /** The file (first section) is big-endian. */
  bigEndian = false;
  versionMajor = 0;
  versionMinor = 0;
  /** Interfaces seen so far (all sections; pcap has one). Grows while reading pcapng. */
  readonly interfaces: PcapInterface[] = [];

  // ---- the current record ----
  /** The buffer holding the current record's bytes. */
  buf: Uint8Array;
  /** Where the current record's captured bytes start in `buf`. */
  dataOffset = 0;
  sec = 0;
  nsec = 0;
  caplen = 0;
  len = 0;
  /** Index into `interfaces` (0 for classic pcap). */
  ifIndex = 0;
  /** Byte offset of the current record (its header) in the file. */
  offset = 0;

  private dv: DataView;
  /** Next unread byte in buf; `end` = bytes of buf holding data; `base` = file offset of buf[0]. */
  private pos = 0;
  private end: number;
  private base = 0;
  private eof: boolean;
  private readonly source: ByteSource | undefined;
  private le = true;
  /** adjustSnaplen() of the (first interface's) snaplen: pcap records are cut to it, pcapng ones refused. */
  private snapshot = 0;
  private maxCaplen = 0;
  /** 1e6 or 1e9: a timestamp fraction must be below it. */
  private fracLimit = 1e6;
  private primed = false;
  private warmedUp = false;
  private section: NgIface[] = [];
  private maxBlock = PCAPNG_MAX_BLOCK;
  /** A RecordScan's results: where the kept records end, how many. */
  private readonly scanState = new Int32Array(2);

  /** `buffer`: a streaming reader's buffer, or its size (it grows for a record larger than that). */
  constructor(input: Uint8Array | ByteSource, buffer: number | Uint8Array = CHUNK_SIZE) {
    if (typeof input === 'function') {
      this.source = input;
      this.buf = typeof buffer === 'number' ? new Uint8Array(buffer) : buffer;
      this.end = 0;
      this.eof = false;
    } else {
      this.buf = input;
      this.end = input.length;
      this.eof = true;
    }
    this.dv = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
    if (!this.ensure(4)) throw new BpfError('EINVAL', `truncated dump file; tried to read 4 file header bytes, only got ${this.end}`);
    if (this.dv.getUint32(0, true) === PCAPNG_SHB) this.openPcapng();
    else this.openPcap();
  }

  /** Advance to the next record; false at the end of the input. Throws on corrupt input. */
  next(): boolean {
    return this.format === 'pcap' ? this.nextPcap() : this.nextPcapng();
  }

  /** The current record as a PcapRecord (its data a view into buf, valid until next()). */
  record(): PcapRecord {
    return {
      sec: this.sec, nsec: this.nsec, caplen: this.caplen, len: this.len, ifIndex: this.ifIndex,
      data: this.buf.subarray(this.dataOffset, this.dataOffset + this.caplen),
    };
  }

  /** Make buf[pos, pos + n) available, refilling from the source; false at the end of input. */
  private ensure(n: number): boolean {
    return this.pos + n <= this.end || (!this.eof && this.refill(n));
  }

  /** Move the unread bytes to the front (growing the buffer for a large record) and read more. */
  private refill(n: number): boolean {
    const keep = this.end - this.pos;
    if (n > this.buf.length) {
      const bigger = new Uint8Array(Math.max(n, this.buf.length * 2));
      bigger.set(this.buf.subarray(this.pos, this.end));
      this.buf = bigger;
      this.dv = new DataView(bigger.buffer);
    } else if (this.pos > 0) {
      this.buf.copyWithin(0, this.pos, this.end);
    }
    this.base += this.pos;
    this.pos = 0;
    this.end = keep;
    while (this.end < n && !this.eof) {
      const got = this.source!(this.buf, this.end, Math.min(this.buf.length - this.end, READ_SIZE));
      if (got > 0) this.end += got; else this.eof = true;
    }
    return this.end >= n;
  }

  // ---- classic pcap (sf-pcap.c) ----

  private openPcap(): void {
    const dv = this.dv;
    const mle = dv.getUint32(0, true);
    const mbe = dv.getUint32(0, false);
    if (mle === PCAP_MAGIC_US || mle === PCAP_MAGIC_NS) this.le = true;
    else if (mbe === PCAP_MAGIC_US || mbe === PCAP_MAGIC_NS) this.le = false;
    else throw new BpfError('EINVAL', 'unknown file format');
    this.nanos = (this.le ? mle : mbe) === PCAP_MAGIC_NS;
    this.fracLimit = this.nanos ? 1e9 : 1e6;
    this.bigEndian = !this.le;
    if (!this.ensure(24)) throw new BpfError('EINVAL', `truncated dump file; tried to read 24 file header bytes, only got ${this.end}`);
    const le = this.le;
    this.versionMajor = dv.getUint16(4, le);
    this.versionMinor = dv.getUint16(6, le);
    if (!(this.versionMajor === 2 && this.versionMinor <= 4)) throw new BpfError('EINVAL', `unsupported pcap savefile version ${this.versionMajor}.${this.versionMinor}`);
    this.snaplen = dv.getUint32(16, le);
    const ltField = dv.getUint32(20, le);
    if (ltField & 0x03ff0000) {
      throw new BpfError('EINVAL', `savefile linktype reserved field not zero (0x${(ltField & 0x03ff0000).toString(16).padStart(8, '0')})`);
    }
    this.linktype = ltField & 0xffff;
    this.snapshot = adjustSnaplen(this.linktype, this.snaplen);
    this.maxCaplen = maxSnaplen(this.linktype);
    this.interfaces.push({ linktype: this.linktype, snaplen: this.snaplen });
    this.pos = 24;
  }

  private nextPcap(): boolean {
    // The common case: the whole record is in the buffer and needs no cutting. (The first call
    // takes the general path, so optimised code has seen it before a chunk end needs it.)
    const p = this.pos;
    if (p + 16 <= this.end && this.primed) {
      const dv = this.dv;
      const le = this.le;
      const caplen = dv.getUint32(p + 8, le);
      const frac = dv.getUint32(p + 4, le);
      if (p + 16 + caplen <= this.end && caplen <= this.snapshot && frac < this.fracLimit) {
        this.sec = dv.getUint32(p, le);
        this.nsec = this.nanos ? frac : frac * 1000;
        this.caplen = caplen;
        this.len = dv.getUint32(p + 12, le);
        this.dataOffset = p + 16;
        this.offset = this.base + p;
        this.pos = p + 16 + caplen;
        return true;
      }
    }
    this.primed = true;
    return this.nextPcapRecord();
  }

  /**
   * Classic pcap in bulk: from the current position, the records that `keep` accepts
   * (keep(buf, dataOffset, caplen, len) !== 0) are handed to `emit` as raw file bytes, record
   * headers included: buf[start, end), valid during the call. Refills as it goes; stops after
   * `limit` kept records, at the end of the input, or before a record next() must handle (cut to
   * the snapshot length, bad timestamp, truncated, corrupt). Returns how many were kept; next()
   * carries on from there. The current record (sec, caplen...) is not updated.
   * A streaming reader owns its buffer: it moves the kept records together in place
   * (copyWithin, no views) and emits once per buffer fill (possibly nothing: start === end);
   * over a caller's bytes, each run of adjacent kept records is emitted as it is. One long loop for the whole file: no per-record
   * state is written and the loop is optimised once.
   * `scan` (compileRecordScan(): `keep` fused with the record walk) does the same work per buffer
   * fill of a streaming little-endian reader, without a call per record; elsewhere `keep` runs.
   */
  keepRuns(keep: (buf: Uint8Array, off: number, caplen: number, len: number) => number, limit: number,
    emit: (buf: Uint8Array, start: number, end: number) => void, scan?: RecordScan): number {
    if (this.format !== 'pcap') return 0;
    if (scan && this.source !== undefined && this.le) return this.scanFills(scan, limit, emit);
    const le = this.le, fracLimit = this.fracLimit;
    const maxCap = Math.min(this.snapshot, this.maxCaplen);
    const inPlace = this.source !== undefined;
    let buf = this.buf, dv = this.dv;
    let p = this.pos;
    let end = this.warmUpEnd(p);
    let runStart = -1;
    // inPlace: the kept records of this buffer fill so far sit at buf[from, to).
    let from = p, to = p;
    let kept = 0;
    for (;;) {
      let caplen = -1; // -1: no whole record header buffered
      let whole = false;
      if (kept < limit && p + 16 <= end) {
        caplen = dv.getUint32(p + 8, le);
        whole = p + 16 + caplen <= end;
      }
      const plain = whole && caplen <= maxCap && dv.getUint32(p + 4, le) < fracLimit;
      if (plain && keep(buf, p + 16, caplen, dv.getUint32(p + 12, le)) !== 0) {
        if (runStart < 0) runStart = p;
        kept++;
      } else {
        if (runStart >= 0) {
          if (!inPlace) emit(buf, runStart, p);
          else {
            if (to !== runStart) buf.copyWithin(to, runStart, p);
            to += p - runStart;
          }
          runStart = -1;
        }
        if (!plain) {
          emit(buf, from, to); // (even empty: type feedback, as above)
          // Past the buffered bytes: refill and go on. The rest (the limit, a record to cut, an
          // error, the end) is next()'s.
          if (kept >= limit || whole || caplen > maxCap || this.eof) break;
          this.pos = p;
          if (!this.refill(16 + (caplen < 0 ? 0 : caplen))) return kept;
          buf = this.buf; dv = this.dv; end = this.end; p = this.pos;
          from = to = p;
          continue;
        }
      }
      p += 16 + caplen;
    }
    this.pos = p;
    return kept;
  }

  /**
   * keepRuns() through a fused scan: one scan call per buffer fill moves the kept records
   * together at the fill's start, one emit hands them on; then the reason it stopped decides:
   * a record past the buffered bytes refills, anything else (the limit, a record to cut, a bad
   * timestamp, the end) is next()'s.
   */
  private scanFills(scan: RecordScan, limit: number, emit: (buf: Uint8Array, start: number, end: number) => void): number {
    const maxCap = Math.min(this.snapshot, this.maxCaplen);
    const state = this.scanState;
    let kept = 0;
    let from = this.pos, to = from, p = from;
    for (;;) {
      const end = this.warmUpEnd(p);
      p = scan(this.buf, this.dv, p, end, to, limit - kept, maxCap, this.fracLimit, state);
      to = state[0];
      kept += state[1];
      if (end < this.end) continue;
      emit(this.buf, from, to);
      this.pos = p;
      if (kept >= limit || this.eof) return kept;
      if (p + 16 > this.end) {
        if (!this.refill(16)) return kept;
      } else {
        const caplen = this.dv.getUint32(p + 8, true);
        if (caplen > maxCap || p + 16 + caplen <= this.end) return kept;
        if (!this.refill(16 + caplen)) return kept;
      }
      from = to = p = this.pos;
    }
  }

  /**
   * Where a bulk walk from `p` (keepRuns(), a scan) stops: the buffered bytes' end, except the
   * first time, a few KiB on, as if the buffer ended there. So the walk's exit path (refill,
   * emit) has run, and has type feedback, before its loop is optimised: else the optimised loop
   * deoptimises at the first real buffer end (V8's "insufficient type feedback").
   */
  private warmUpEnd(p: number): number {
    if (this.warmedUp) return this.end;
    this.warmedUp = true;
    return Math.min(this.end, p + 4096);
  }

  /** Any record: refills, libpcap's checks and messages, cutting to the snapshot length. */
  private nextPcapRecord(): boolean {
    if (!this.ensure(16)) {
      if (this.pos === this.end) return false;
      corrupt(`truncated dump file; tried to read 16 header bytes, only got ${this.end - this.pos}`, this.base + this.pos);
    }
    let p = this.pos;
    const dv = this.dv;
    const le = this.le;
    const frac = dv.getUint32(p + 4, le);
    const caplen = dv.getUint32(p + 8, le);
    if (frac >= (this.nanos ? 1e9 : 1e6)) corrupt(`bad ${this.nanos ? 'nano' : 'micro'}second timestamp ${frac}`, this.base + p);
    // pcap_next_packet(): beyond the link type's maximum is an error; beyond the file's
    // snapshot length (a bad header) the record is cut to it.
    if (caplen > this.maxCaplen) {
      corrupt(caplen > this.snapshot ? `invalid packet capture length ${caplen}, bigger than snaplen of ${this.snapshot}`
        : `invalid packet capture length ${caplen}, bigger than maximum of ${this.maxCaplen}`, this.base + p);
    }
    if (!this.ensure(16 + caplen)) {
      corrupt(`truncated dump file; tried to read ${caplen} captured bytes, only got ${this.end - this.pos - 16}`, this.base + this.pos);
    }
    p = this.pos;
    this.sec = this.dv.getUint32(p, le);
    this.nsec = this.nanos ? frac : frac * 1000;
    this.caplen = caplen > this.snapshot ? this.snapshot : caplen;
    this.len = this.dv.getUint32(p + 12, le);
    this.dataOffset = p + 16;
    this.offset = this.base + p;
    this.pos = p + 16 + caplen;
    return true;
  }

  // ---- pcapng (pcap-ng.c) ----

  private openPcapng(): void {
    this.format = 'pcapng';
    // pcap_ng_check_header() reads up to the first interface: the link type is known from here on.
    // (A packet block before any interface is an error, so no record is consumed here.)
    while (this.interfaces.length === 0) {
      if (this.block() === BLOCK_EOF) throw new BpfError('EINVAL', 'pcapng file has no interface description block');
    }
  }

  private nextPcapng(): boolean {
    for (;;) {
      const b = this.block();
      if (b === BLOCK_PACKET) return true;
      if (b === BLOCK_EOF) return false;
    }
  }

  /** Read one block: a packet (the current record is set), another block, or the end. */
  private block(): number {
    if (!this.ensure(12)) {
      if (this.pos === this.end) return BLOCK_EOF;
      corrupt('truncated pcapng block header', this.base + this.pos);
    }
    let off = this.pos;
    let dv = this.dv;
    let type = dv.getUint32(off, this.le);
    const isShb = dv.getUint32(off, true) === PCAPNG_SHB;
    if (isShb) {
      type = PCAPNG_SHB;
      if (dv.getUint32(off + 8, true) === PCAPNG_BOM) this.le = true;
      else if (dv.getUint32(off + 8, false) === PCAPNG_BOM) this.le = false;
      else corrupt('bad byte-order magic in pcapng section header', this.base + off + 8);
    } else if (this.base + off === 0) corrupt('pcapng file does not start with a section header block', 0);
    const le = this.le;
    const blen = dv.getUint32(off + 4, le);
    if (blen < (isShb ? 28 : 12) || blen % 4 !== 0) corrupt(`pcapng block of type 0x${type.toString(16)} has bad length ${blen}`, this.base + off + 4);
    if (blen > this.maxBlock) corrupt(`pcapng block size ${blen} > maximum ${this.maxBlock}`, this.base + off);
    if (!this.ensure(blen)) corrupt(`truncated pcapng block: length ${blen}, only ${this.end - this.pos} bytes left`, this.base + this.pos);
    off = this.pos;
    dv = this.dv;
    const fileOff = this.base + off;
    const trailer = dv.getUint32(off + blen - 4, le);
    // libpcap does not check the section header's trailer when opening (pcap_ng_check_header()).
    if (trailer !== blen && !isShb) corrupt(`block total length in header ${blen} and trailer ${trailer} don't match`, fileOff + blen - 4);
    this.pos = off + blen;
    const body = off + 8;
    const bodyEnd = off + blen - 4;
    switch (type) {
      case PCAPNG_SHB: {
        const maj = dv.getUint16(body + 4, le), min = dv.getUint16(body + 6, le);
        if (fileOff === 0) { this.bigEndian = !le; this.versionMajor = maj; this.versionMinor = min; }
        if (!(maj === 1 && (min === 0 || min === 2))) throw new BpfError('EINVAL', `unsupported pcapng savefile version ${maj}.${min}`);
        this.section = [];
        break;
      }
      case 1: this.readIdb(dv, body, bodyEnd, le, fileOff); break;
      case 6: case 2: { // EPB, obsolete PB
        if (bodyEnd - body < 20) corrupt('pcapng packet block too short', fileOff);
        const ifId = type === 6 ? dv.getUint32(body, le) : dv.getUint16(body, le);
        const ifc = this.section[ifId];
        if (!ifc) corrupt(`pcapng packet block references unknown interface ${ifId}`, this.base + body);
        const caplen = dv.getUint32(body + 12, le);
        if (body + 20 + caplen > bodyEnd) corrupt(`pcapng packet block captured length ${caplen} runs past its block`, this.base + body + 12);
        // pcap-ng.c (1.10) checks against the file's snapshot length, the first interface's.
        if (caplen > this.snapshot) corrupt(`invalid packet capture length ${caplen}, bigger than snaplen of ${this.snapshot}`, this.base + body + 12);
        this.timestamp(ifc, dv.getUint32(body + 4, le), dv.getUint32(body + 8, le));
        this.caplen = caplen;
        this.len = dv.getUint32(body + 16, le);
        this.dataOffset = body + 20;
        this.ifIndex = ifc.index;
        this.offset = fileOff;
        return BLOCK_PACKET;
      }
      case 3: { // SPB: no timestamp; the captured part is what the block holds, up to snaplen
        const ifc = this.section[0];
        if (!ifc) corrupt('pcapng simple packet block without an interface', fileOff);
        if (bodyEnd - body < 4) corrupt('pcapng simple packet block too short', fileOff);
        const len = dv.getUint32(body, le);
        let caplen = Math.min(len, bodyEnd - body - 4);
        if (ifc.snaplen && caplen > ifc.snaplen) caplen = ifc.snaplen;
        this.sec = 0;
        this.nsec = 0;
        this.caplen = caplen;
        this.len = len;
        this.dataOffset = body + 4;
        this.ifIndex = ifc.index;
        this.offset = fileOff;
        return BLOCK_PACKET;
      }
      default: break; // NRB, ISB, custom, DSB...: skipped as libpcap does
    }
    return BLOCK_OTHER;
  }

  private readIdb(dv: DataView, body: number, bodyEnd: number, le: boolean, fileOff: number): void {
    if (bodyEnd - body < 8) corrupt('pcapng interface description block too short', fileOff);
    const linktype = dv.getUint16(body, le);
    const snaplen = dv.getUint32(body + 4, le);
    let units = 1000000n;
    let tsoffset = 0n;
    for (let o = body + 8; o + 4 <= bodyEnd;) {
      const code = dv.getUint16(o, le);
      const olen = dv.getUint16(o + 2, le);
      if (code === 0) break;
      if (o + 4 + olen > bodyEnd) corrupt('pcapng option runs past its block', this.base + o);
      if (code === 9 && olen >= 1) {
        const r = this.buf[o + 4];
        const exp = BigInt(r & 0x7f);
        units = (r & 0x80) ? 2n ** exp : 10n ** exp;
      } else if (code === 14 && olen >= 8) tsoffset = dv.getBigInt64(o + 4, le);
      o += 4 + ((olen + 3) & ~3);
    }
    // Number arithmetic (timestamp()) is exact while units * 2^16 stays below 2^53 and the
    // nanoseconds come out exactly: decimal resolutions up to 1e9, binary ones up to 2^23.
    let nsPerUnit = 0;
    for (let e = 0n, p = 1n; e <= 9n; e++, p *= 10n) if (p === units) nsPerUnit = Number(10n ** (9n - e));
    const fast = nsPerUnit > 0 || units <= 1n << 23n;
    this.section.push({
      index: this.interfaces.length, snaplen, div: Number(units), nsPerUnit,
      bigDiv: fast ? undefined : units, tsoffset: Number(tsoffset),
    });
    this.interfaces.push({ linktype, snaplen });
    if (this.interfaces.length === 1) {
      this.linktype = linktype;
      this.snaplen = snaplen;
      this.snapshot = adjustSnaplen(linktype, snaplen);
    }
    this.maxBlock = Math.max(this.maxBlock, maxSnaplen(linktype) + 4096);
  }

  /** sec/nsec of a 64-bit timestamp (hi:lo) in the interface's units, plus if_tsoffset. */
  private timestamp(ifc: NgIface, hi: number, lo: number): void {
    if (ifc.bigDiv !== undefined) {
      const ts = (BigInt(hi) << 32n) | BigInt(lo);
      this.sec = Number(ts / ifc.bigDiv) + ifc.tsoffset;
      this.nsec = Number(((ts % ifc.bigDiv) * 1000000000n) / ifc.bigDiv);
      return;
    }
    // Long division of hi * 2^32 + lo by div, 16 bits at a time (every step below 2^53).
    const div = ifc.div;
    let r = hi % div;
    const q0 = (hi - r) / div;
    let t = r * 65536 + (lo >>> 16);
    const q1 = Math.floor(t / div);
    r = t - q1 * div;
    t = r * 65536 + (lo & 0xffff);
    const q2 = Math.floor(t / div);
    r = t - q2 * div;
    this.sec = q0 * 4294967296 + q1 * 65536 + q2 + ifc.tsoffset;
    this.nsec = ifc.nsPerUnit > 0 ? r * ifc.nsPerUnit : Math.floor((r * 1000000000) / div);
  }
}

/** The whole file as records (each `data` a view into `bytes`). */
export function readCapture(bytes: Uint8Array): PcapFile {
  const r = new CaptureReader(bytes);
  const records: PcapRecord[] = [];
  while (r.next()) records.push(r.record());
  return {
    format: r.format, linktype: r.linktype, snaplen: r.snaplen, nanos: r.nanos, bigEndian: r.bigEndian,
    versionMajor: r.versionMajor, versionMinor: r.versionMinor, interfaces: r.interfaces.slice(), records,
  };
}

/** Where a PcapWriter sends its output; the chunk is reused after the call returns. */
export type ByteSink = (chunk: Uint8Array) => void;

export interface WriteOptions {
  linktype: number;
  snaplen: number;
  /** Nanosecond magic (tcpdump --nano). Default microseconds. */
  nanos?: boolean;
  bigEndian?: boolean;
}

/**
 * Output buffer of a PcapWriter: one sink call per 128 KiB. Larger saves a few write(2) calls
 * but costs a fresh page per 4 KiB first written: 1 MiB was ~250 more page faults for a 2 MB
 * output (`tcpdump -r -w 'tcp port 80'` over 1M packets), ~3 ms where a fault takes ~12 us.
 */
export const WRITE_BUFFER_SIZE = 128 * 1024;

/** PcapWriter.writeRaw() hands runs of at least this many bytes to the sink uncopied. */
const RAW_DIRECT = 64 * 1024;

/** A classic savefile as pcap_dump() writes it, streamed to a sink in large buffered writes. */
export class PcapWriter {
  private readonly out: Uint8Array;
  private readonly dv: DataView;
  private pos = 0;
  private readonly le: boolean;
  private readonly nanos: boolean;
  private readonly sinkFn: ByteSink;

  /** Writes the file header (into the buffer: nothing reaches the sink before a flush). */
  constructor(opts: WriteOptions, sink: ByteSink, bufferSize = WRITE_BUFFER_SIZE) {
    this.sinkFn = sink;
    this.out = new Uint8Array(Math.max(bufferSize, 24));
    this.dv = new DataView(this.out.buffer);
    this.le = !opts.bigEndian;
    this.nanos = !!opts.nanos;
    const le = this.le;
    this.dv.setUint32(0, opts.nanos ? PCAP_MAGIC_NS : PCAP_MAGIC_US, le);
    this.dv.setUint16(4, 2, le);
    this.dv.setUint16(6, 4, le);
    this.dv.setUint32(16, opts.snaplen >>> 0, le);
    this.dv.setUint32(20, opts.linktype >>> 0, le);
    this.pos = 24;
  }

  /** One record: timestamp, wire length, and the captured bytes src[off, off + caplen). */
  write(sec: number, nsec: number, len: number, src: Uint8Array, off: number, caplen: number): void {
    if (this.pos + 16 + caplen > this.out.length) {
      this.flush();
      if (16 + caplen > this.out.length) { // larger than the buffer: header, then the bytes directly
        this.header(sec, nsec, caplen, len);
        this.flush();
        this.sinkFn(src.subarray(off, off + caplen));
        return;
      }
    }
    this.header(sec, nsec, caplen, len);
    this.out.set(src.subarray(off, off + caplen), this.pos);
    this.pos += caplen;
  }

  writeRecord(r: PcapRecord): void {
    this.write(r.sec, r.nsec, r.len, r.data, 0, r.data.length);
  }

  /**
   * Records already in this writer's format (byte order, timestamp precision) as they are:
   * src[start, end), e.g. runs from CaptureReader.keepRuns(). 64 KiB or more go to the sink
   * directly, uncopied (after what is buffered): one write(2) beats a copy then.
   */
  writeRaw(src: Uint8Array, start: number, end: number): void {
    const n = end - start;
    if (n >= RAW_DIRECT || this.pos + n > this.out.length) {
      this.flush();
      if (n >= RAW_DIRECT || n > this.out.length) { this.sinkFn(src.subarray(start, end)); return; }
    }
    this.out.set(src.subarray(start, end), this.pos);
    this.pos += n;
  }

  /** Hand everything buffered to the sink. */
  flush(): void {
    if (this.pos > 0) this.sinkFn(this.out.subarray(0, this.pos));
    this.pos = 0;
  }

  private header(sec: number, nsec: number, caplen: number, len: number): void {
    const dv = this.dv, p = this.pos, le = this.le;
    dv.setUint32(p, sec >>> 0, le);
    dv.setUint32(p + 4, this.nanos ? nsec : Math.floor(nsec / 1000), le);
    dv.setUint32(p + 8, caplen, le);
    dv.setUint32(p + 12, len >>> 0, le);
    this.pos = p + 16;
  }
}

/** A classic savefile as pcap_dump() writes it. */
export function writePcap(opts: WriteOptions, records: readonly PcapRecord[]): Uint8Array {
  let size = 24;
  for (const r of records) size += 16 + r.data.length;
  let file: Uint8Array = new Uint8Array(0);
  // The buffer is the file's exact size: the only sink call is the final flush.
  const w = new PcapWriter(opts, (chunk) => { file = chunk; }, size);
  for (const r of records) w.writeRecord(r);
  w.flush();
  return file;
}

/**
 * A pcapng file written as it goes: one section (SHB), an IDB (nanosecond if_tsresol) for each
 * interface before its first packet, EPBs; blocks go to `sink` a buffer at a time. `interfaces`
 * may grow while writing (a streaming reader finds IDBs as it reads).
 */
export class PcapngWriter {
  private readonly le: boolean;
  private readonly sinkFn: ByteSink;
  private readonly interfaces: readonly PcapInterface[];
  private parts: Uint8Array[] = [];
  private buffered = 0;
  private idbs = 0;
  private readonly bufferSize: number;

  constructor(interfaces: readonly PcapInterface[], sink: ByteSink, bigEndian = false, bufferSize = WRITE_BUFFER_SIZE) {
    this.interfaces = interfaces;
    this.sinkFn = sink;
    this.le = !bigEndian;
    this.bufferSize = bufferSize;
    const shb = new Uint8Array(16);
    const sdv = new DataView(shb.buffer);
    sdv.setUint32(0, PCAPNG_BOM, this.le);
    sdv.setUint16(4, 1, this.le);
    sdv.setBigInt64(8, -1n, this.le);
    this.block(PCAPNG_SHB, shb);
    this.addInterfaces(interfaces.length);
  }

  private block(type: number, body: Uint8Array): void {
    const len = 12 + ((body.length + 3) & ~3);
    const b = new Uint8Array(len);
    const dv = new DataView(b.buffer);
    dv.setUint32(0, type, this.le);
    dv.setUint32(4, len, this.le);
    b.set(body, 8);
    dv.setUint32(len - 4, len, this.le);
    this.parts.push(b);
    this.buffered += len;
    if (this.buffered >= this.bufferSize) this.flush();
  }

  private addInterfaces(upTo: number): void {
    for (; this.idbs < upTo; this.idbs++) {
      const i = this.interfaces[this.idbs];
      const idb = new Uint8Array(20);
      const d = new DataView(idb.buffer);
      d.setUint16(0, i.linktype, this.le);
      d.setUint32(4, i.snaplen, this.le);
      d.setUint16(8, 9, this.le); // if_tsresol
      d.setUint16(10, 1, this.le);
      idb[12] = 9; // nanoseconds
      this.block(1, idb);
    }
  }

  /** One EPB: timestamp, wire length, the captured bytes src[off, off + caplen), its interface. */
  write(sec: number, nsec: number, len: number, src: Uint8Array, off: number, caplen: number, ifIndex = 0): void {
    if (ifIndex >= this.idbs) this.addInterfaces(Math.min(ifIndex + 1, this.interfaces.length));
    const body = new Uint8Array(20 + ((caplen + 3) & ~3));
    const d = new DataView(body.buffer);
    const ts = BigInt(sec) * 1000000000n + BigInt(nsec);
    d.setUint32(0, ifIndex, this.le);
    d.setUint32(4, Number(ts >> 32n), this.le);
    d.setUint32(8, Number(ts & 0xffffffffn), this.le);
    d.setUint32(12, caplen, this.le);
    d.setUint32(16, len, this.le);
    body.set(src.subarray(off, off + caplen), 20);
    this.block(6, body);
  }

  writeRecord(r: PcapRecord): void {
    this.write(r.sec, r.nsec, r.len, r.data, 0, r.data.length, r.ifIndex);
  }

  /** Hand everything buffered to the sink (one chunk). */
  flush(): void {
    if (this.buffered === 0) return;
    const out = new Uint8Array(this.buffered);
    let o = 0;
    for (const p of this.parts) { out.set(p, o); o += p.length; }
    this.parts = [];
    this.buffered = 0;
    this.sinkFn(out);
  }
}

/** A pcapng file: one section, the given interfaces (nanosecond if_tsresol), EPBs. */
export function writePcapng(interfaces: readonly PcapInterface[], records: readonly PcapRecord[], bigEndian = false): Uint8Array {
  const chunks: Uint8Array[] = [];
  const w = new PcapngWriter(interfaces, (c) => { chunks.push(c); }, bigEndian, Infinity);
  for (const r of records) w.writeRecord(r);
  w.flush();
  return chunks.length === 1 ? chunks[0] : new Uint8Array(0);
}

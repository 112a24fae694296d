/*
 * Capture files: libpcap savefiles (pcap-savefile(5): micro- and nanosecond magic, either byte
 * order) and pcapng (SHB, IDB, EPB, SPB, the obsolete PB, several interfaces and sections, either
 * byte order, if_tsresol/if_tsoffset). Reading gives one list of records with nanosecond
 * timestamps; writing produces the classic format tcpdump -w writes (or pcapng). Corrupt input
 * is refused with an error naming the byte offset. Browser-safe: bytes in, bytes out.
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

const PCAP_MAGIC_US = 0xa1b2c3d4;
const PCAP_MAGIC_NS = 0xa1b23c4d;
const PCAPNG_SHB = 0x0a0d0d0a;
const PCAPNG_BOM = 0x1a2b3c4d;

function corrupt(msg: string, off: number): never {
  throw new BpfError('EINVAL', `${msg} at offset ${off}`);
}

export function readCapture(bytes: Uint8Array): PcapFile {
  if (bytes.length < 4) throw new BpfError('EINVAL', `truncated dump file; tried to read 4 file header bytes, only got ${bytes.length}`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const m = dv.getUint32(0, true);
  if (m === PCAPNG_SHB) return readPcapng(bytes, dv);
  return readPcap(bytes, dv);
}

function readPcap(bytes: Uint8Array, dv: DataView): PcapFile {
  const mle = dv.getUint32(0, true);
  const mbe = dv.getUint32(0, false);
  let le: boolean, nanos: boolean;
  if (mle === PCAP_MAGIC_US) { le = true; nanos = false; } else if (mbe === PCAP_MAGIC_US) { le = false; nanos = false; } else if (mle === PCAP_MAGIC_NS) { le = true; nanos = true; } else if (mbe === PCAP_MAGIC_NS) { le = false; nanos = true; } else {
    throw new BpfError('EINVAL', 'unknown file format');
  }
  if (bytes.length < 24) throw new BpfError('EINVAL', `truncated dump file; tried to read 24 file header bytes, only got ${bytes.length}`);
  const versionMajor = dv.getUint16(4, le);
  const versionMinor = dv.getUint16(6, le);
  if (!(versionMajor === 2 && versionMinor <= 4)) throw new BpfError('EINVAL', `unsupported pcap savefile version ${versionMajor}.${versionMinor}`);
  const snaplen = dv.getUint32(16, le);
  const ltField = dv.getUint32(20, le);
  if (ltField & 0x03ff0000) {
    throw new BpfError('EINVAL', `savefile linktype reserved field not zero (0x${(ltField & 0x03ff0000).toString(16).padStart(8, '0')})`);
  }
  const linktype = ltField & 0xffff;
  const records: PcapRecord[] = [];
  let off = 24;
  while (off < bytes.length) {
    if (off + 16 > bytes.length) corrupt(`truncated dump file; tried to read 16 header bytes, only got ${bytes.length - off}`, off);
    const sec = dv.getUint32(off, le);
    const frac = dv.getUint32(off + 4, le);
    const caplen = dv.getUint32(off + 8, le);
    const len = dv.getUint32(off + 12, le);
    if (frac >= (nanos ? 1e9 : 1e6)) corrupt(`bad ${nanos ? 'nano' : 'micro'}second timestamp ${frac}`, off);
    if (caplen > 0x40000 && caplen > snaplen) corrupt(`invalid packet capture length ${caplen}, bigger than snaplen of ${Math.max(snaplen, 262144)}`, off);
    if (off + 16 + caplen > bytes.length) corrupt(`truncated dump file; tried to read ${caplen} captured bytes, only got ${bytes.length - off - 16}`, off);
    records.push({ sec, nsec: nanos ? frac : frac * 1000, caplen, len, data: bytes.subarray(off + 16, off + 16 + caplen), ifIndex: 0 });
    off += 16 + caplen;
  }
  return { format: 'pcap', linktype, snaplen, nanos, bigEndian: !le, versionMajor, versionMinor, interfaces: [{ linktype, snaplen }], records };
}

interface NgIface extends PcapInterface { tsresolDiv: bigint; tsresolMul: bigint; tsoffset: bigint }

function readPcapng(bytes: Uint8Array, dv: DataView): PcapFile {
  const records: PcapRecord[] = [];
  const allIfaces: PcapInterface[] = [];
  let ifaces: NgIface[] = [];
  let le = true;
  let off = 0;
  let bigEndian = false;
  let first = true;
  let versionMajor = 1, versionMinor = 0;
  while (off < bytes.length) {
    if (off + 12 > bytes.length) corrupt('truncated pcapng block header', off);
    let type = dv.getUint32(off, le);
    if (dv.getUint32(off, true) === PCAPNG_SHB) {
      type = PCAPNG_SHB;
      const bom = dv.getUint32(off + 8, true);
      if (bom === PCAPNG_BOM) le = true; else if (dv.getUint32(off + 8, false) === PCAPNG_BOM) le = false; else corrupt('bad byte-order magic in pcapng section header', off + 8);
      if (first) { bigEndian = !le; versionMajor = dv.getUint16(off + 12, le); versionMinor = dv.getUint16(off + 14, le); }
      const maj = dv.getUint16(off + 12, le), min = dv.getUint16(off + 14, le);
      if (!(maj === 1 && (min === 0 || min === 2))) throw new BpfError('EINVAL', `unsupported pcapng savefile version ${maj}.${min}`);
      ifaces = [];
    } else if (first) corrupt('pcapng file does not start with a section header block', off);
    first = false;
    const blen = dv.getUint32(off + 4, le);
    if (blen < 12 || blen % 4 !== 0) corrupt(`pcapng block of type 0x${type.toString(16)} has bad length ${blen}`, off + 4);
    if (off + blen > bytes.length) corrupt(`truncated pcapng block: length ${blen}, only ${bytes.length - off} bytes left`, off);
    const trailer = dv.getUint32(off + blen - 4, le);
    // libpcap does not check the section header's trailer when opening (pcap_ng_check_header()).
    if (trailer !== blen && type !== PCAPNG_SHB) corrupt(`block total length in header ${blen} and trailer ${trailer} don't match`, off + blen - 4);
    const body = off + 8;
    const bodyEnd = off + blen - 4;
    switch (type) {
      case PCAPNG_SHB: break;
      case 1: { // IDB
        if (bodyEnd - body < 8) corrupt('pcapng interface description block too short', off);
        const linktype = dv.getUint16(body, le);
        const snaplen = dv.getUint32(body + 4, le);
        let tsresolDiv = 1000000n, tsresolMul = 1n, tsoffset = 0n;
        for (let o = body + 8; o + 4 <= bodyEnd;) {
          const code = dv.getUint16(o, le);
          const olen = dv.getUint16(o + 2, le);
          if (code === 0) break;
          if (o + 4 + olen > bodyEnd) corrupt('pcapng option runs past its block', o);
          if (code === 9 && olen >= 1) {
            const r = bytes[o + 4];
            const exp = BigInt(r & 0x7f);
            tsresolDiv = (r & 0x80) ? 2n ** exp : 10n ** exp;
          } else if (code === 14 && olen >= 8) tsoffset = dv.getBigInt64(o + 4, le);
          o += 4 + ((olen + 3) & ~3);
        }
        void tsresolMul;
        const ifc = { linktype, snaplen, tsresolDiv, tsresolMul, tsoffset };
        ifaces.push(ifc);
        allIfaces.push({ linktype, snaplen });
        break;
      }
      case 6: case 2: { // EPB, obsolete PB
        if (bodyEnd - body < 20) corrupt('pcapng packet block too short', off);
        const ifId = type === 6 ? dv.getUint32(body, le) : dv.getUint16(body, le);
        const ifc = ifaces[ifId];
        if (!ifc) corrupt(`pcapng packet block references unknown interface ${ifId}`, body);
        const tsHigh = BigInt(dv.getUint32(body + 4, le));
        const tsLow = BigInt(dv.getUint32(body + 8, le));
        const caplen = dv.getUint32(body + 12, le);
        const len = dv.getUint32(body + 16, le);
        if (body + 20 + caplen > bodyEnd) corrupt(`pcapng packet block captured length ${caplen} runs past its block`, body + 12);
        const ts = (tsHigh << 32n) | tsLow;
        const sec = ts / ifc.tsresolDiv + ifc.tsoffset;
        const nsec = ((ts % ifc.tsresolDiv) * 1000000000n) / ifc.tsresolDiv;
        records.push({ sec: Number(sec), nsec: Number(nsec), caplen, len, data: bytes.subarray(body + 20, body + 20 + caplen), ifIndex: allIfaces.indexOf(allIfaces[allIfaces.length - ifaces.length + ifId]) });
        break;
      }
      case 3: { // SPB
        const ifc = ifaces[0];
        if (!ifc) corrupt('pcapng simple packet block without an interface', off);
        const len = dv.getUint32(body, le);
        let caplen = Math.min(len, bodyEnd - body - 4);
        if (ifc.snaplen && caplen > ifc.snaplen) caplen = ifc.snaplen;
        records.push({ sec: 0, nsec: 0, caplen, len, data: bytes.subarray(body + 4, body + 4 + caplen), ifIndex: allIfaces.length - ifaces.length });
        break;
      }
      default: break; // NRB, ISB, custom, DSB...: skipped as libpcap does
    }
    off += blen;
  }
  if (!allIfaces.length) throw new BpfError('EINVAL', 'pcapng file has no interface description block');
  return {
    format: 'pcapng', linktype: allIfaces[0].linktype, snaplen: allIfaces[0].snaplen, nanos: false, bigEndian,
    versionMajor, versionMinor, interfaces: allIfaces, records,
  };
}

export interface WriteOptions {
  linktype: number;
  snaplen: number;
  /** Nanosecond magic (tcpdump --nano). Default microseconds. */
  nanos?: boolean;
  bigEndian?: boolean;
}

/** A classic savefile as pcap_dump() writes it. */
export function writePcap(opts: WriteOptions, records: readonly PcapRecord[]): Uint8Array {
  let size = 24;
  for (const r of records) size += 16 + r.data.length;
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  const le = !opts.bigEndian;
  dv.setUint32(0, opts.nanos ? PCAP_MAGIC_NS : PCAP_MAGIC_US, le);
  dv.setUint16(4, 2, le);
  dv.setUint16(6, 4, le);
  dv.setUint32(16, opts.snaplen >>> 0, le);
  dv.setUint32(20, opts.linktype >>> 0, le);
  let off = 24;
  for (const r of records) {
    dv.setUint32(off, r.sec >>> 0, le);
    dv.setUint32(off + 4, opts.nanos ? r.nsec : Math.floor(r.nsec / 1000), le);
    dv.setUint32(off + 8, r.data.length, le);
    dv.setUint32(off + 12, r.len >>> 0, le);
    out.set(r.data, off + 16);
    off += 16 + r.data.length;
  }
  return out;
}

/** A pcapng file: one section, the given interfaces (nanosecond if_tsresol), EPBs. */
export function writePcapng(interfaces: readonly PcapInterface[], records: readonly PcapRecord[], bigEndian = false): Uint8Array {
  const le = !bigEndian;
  const parts: Uint8Array[] = [];
  const block = (type: number, body: Uint8Array): void => {
    const len = 12 + ((body.length + 3) & ~3);
    const b = new Uint8Array(len);
    const dv = new DataView(b.buffer);
    dv.setUint32(0, type, le);
    dv.setUint32(4, len, le);
    b.set(body, 8);
    dv.setUint32(len - 4, len, le);
    parts.push(b);
  };
  const shb = new Uint8Array(16);
  const sdv = new DataView(shb.buffer);
  sdv.setUint32(0, PCAPNG_BOM, le);
  sdv.setUint16(4, 1, le);
  sdv.setBigInt64(8, -1n, le);
  block(PCAPNG_SHB, shb);
  for (const i of interfaces) {
    const idb = new Uint8Array(20);
    const d = new DataView(idb.buffer);
    d.setUint16(0, i.linktype, le);
    d.setUint32(4, i.snaplen, le);
    d.setUint16(8, 9, le);
    d.setUint16(10, 1, le);
    idb[12] = 9;
    block(1, idb);
  }
  for (const r of records) {
    const body = new Uint8Array(20 + ((r.data.length + 3) & ~3));
    const d = new DataView(body.buffer);
    const ts = BigInt(r.sec) * 1000000000n + BigInt(r.nsec);
    d.setUint32(0, r.ifIndex, le);
    d.setUint32(4, Number(ts >> 32n), le);
    d.setUint32(8, Number(ts & 0xffffffffn), le);
    d.setUint32(12, r.data.length, le);
    d.setUint32(16, r.len, le);
    body.set(r.data, 20);
    block(6, body);
  }
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

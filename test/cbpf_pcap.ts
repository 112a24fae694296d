/*
 * A minimal capture reader for the classic-BPF tests (pcap in both byte orders and
 * nanosecond variants, pcapng section/interface/enhanced/simple packet blocks). The real reader
 * lives in net/; this one keeps the cbpf tests independent of it.
 */
import { readFileSync } from 'node:fs';

export interface TestPacket { data: Uint8Array; wireLen: number }
export interface TestCapture { linktype: number; packets: TestPacket[] }

export function readCapture(path: string): TestCapture {
  const b = readFileSync(path);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const magic = dv.getUint32(0, true);
  const packets: TestPacket[] = [];
  if (magic === 0x0a0d0d0a) {
    let le = dv.getUint32(8, true) === 0x1a2b3c4d;
    let linktype = -1;
    for (let o = 0; o + 12 <= b.length;) {
      const type = dv.getUint32(o, le);
      if (type === 0x0a0d0d0a) le = dv.getUint32(o + 8, true) === 0x1a2b3c4d;
      const len = dv.getUint32(o + 4, le);
      if (len < 12 || o + len > b.length) break;
      if (type === 1 && linktype < 0) linktype = dv.getUint16(o + 8, le);
      if (type === 6) {
        const cap = dv.getUint32(o + 20, le);
        packets.push({ data: b.subarray(o + 28, o + 28 + cap), wireLen: dv.getUint32(o + 24, le) });
      } else if (type === 3) {
        const wire = dv.getUint32(o + 8, le);
        packets.push({ data: b.subarray(o + 12, o + 12 + Math.min(wire, len - 16)), wireLen: wire });
      }
      o += len;
    }
    return { linktype, packets };
  }
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  const linktype = dv.getUint32(20, le) & 0x0fffffff;
  for (let o = 24; o + 16 <= b.length;) {
    const cap = dv.getUint32(o + 8, le);
    const wire = dv.getUint32(o + 12, le);
    packets.push({ data: b.subarray(o + 16, o + 16 + cap), wireLen: wire });
    o += 16 + cap;
  }
  return { linktype, packets };
}

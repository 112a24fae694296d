/*
 * Shared by the capture filtering tests (net_capture_bulk, net_capture_wasm): a reader driven to
 * its end into a PcapWriter, the bulk way (keepRuns) or record by record, as `bpfkit tcpdump -r -w`
 * drives it; and broken copies of a capture (corruptCaptures).
 */
import { CaptureReader, PcapWriter, type RecordScan, type WriteOptions } from '../src/net/pcap.js';

export type Keep = (buf: Uint8Array, off: number, caplen: number, len: number) => number;

export interface Outcome { bytes: Buffer; kept: number; error?: string }

/** Drive a reader to the end (or the limit) into a writer; `bulk` as the tcpdump command does. */
export function filterInto(r: CaptureReader, opts: WriteOptions, keep: Keep, limit: number, bulk: boolean, writeBuffer: number, scan?: RecordScan): Outcome {
  const chunks: Buffer[] = [];
  const w = new PcapWriter(opts, (c) => { chunks.push(Buffer.from(c)); }, writeBuffer);
  let kept = 0;
  let error: string | undefined;
  try {
    for (;;) {
      if (bulk) kept += r.keepRuns(keep, limit - kept, (b, s, e) => w.writeRaw(b, s, e), scan);
      if (kept >= limit || !r.next()) break;
      if (keep(r.buf, r.dataOffset, r.caplen, r.len) === 0) continue;
      kept++;
      w.write(r.sec, r.nsec, r.len, r.buf, r.dataOffset, r.caplen);
    }
  } catch (e) {
    error = (e as Error).message;
  }
  w.flush();
  return { bytes: Buffer.concat(chunks), kept, error };
}

/**
 * Broken copies of a capture of 150+ records, each with the error next() must report after the
 * records before it: cut 3 bytes short, a microsecond fraction of 1000000 in record 150, a
 * captured length of 300000 in record 100.
 */
export function corruptCaptures(file: Uint8Array): [string, Uint8Array][] {
  const offsets: number[] = [];
  for (const q = new CaptureReader(file); q.next();) offsets.push(q.offset);
  const badFrac = file.slice();
  new DataView(badFrac.buffer).setUint32(offsets[150] + 4, 1000000, true);
  const hugeCaplen = file.slice();
  new DataView(hugeCaplen.buffer).setUint32(offsets[100] + 8, 300000, true);
  return [['truncated', file.subarray(0, file.length - 3)], ['bad timestamp', badFrac], ['huge caplen', hugeCaplen]];
}

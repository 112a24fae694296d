/*
 * A streaming CaptureReader reads at most READ_SIZE at a time into its larger buffer (the
 * buffer's pages past that are never touched, so never faulted in); a larger record takes
 * several reads into the same buffer. The records come out as over the whole file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CaptureReader, CHUNK_SIZE, READ_SIZE, writePcap, type PcapRecord } from '../src/net/pcap.js';
import { makeTraffic } from './filter_traffic.js';

/** A source over `bytes` that records how much each call asked for. */
function recordingSource(bytes: Uint8Array, asked: number[]): (into: Uint8Array, at: number, max: number) => number {
  let pos = 0;
  return (into, at, max) => {
    asked.push(max);
    const n = Math.min(max, bytes.length - pos);
    into.set(bytes.subarray(pos, pos + n), at);
    pos += n;
    return n;
  };
}

function offsetsOf(r: CaptureReader): number[] {
  const out: number[] = [];
  while (r.next()) out.push(r.offset, r.caplen);
  return out;
}

test('reads of READ_SIZE into a CHUNK_SIZE buffer, the same records as the whole file', () => {
  assert.ok(READ_SIZE < CHUNK_SIZE);
  const file = writePcap({ linktype: 1, snaplen: 262144 }, makeTraffic(12000, 3));
  assert.ok(file.length > 3 * READ_SIZE, 'several reads');
  const asked: number[] = [];
  const r = new CaptureReader(recordingSource(file, asked));
  assert.deepEqual(offsetsOf(r), offsetsOf(new CaptureReader(file)));
  assert.ok(asked.length >= Math.ceil(file.length / READ_SIZE), `${asked.length} reads`);
  assert.ok(asked.every((n) => n <= READ_SIZE), `largest read ${Math.max(...asked)}`);
});

test('records of up to the 262144-byte snapshot length, read in several reads into the same buffer', () => {
  const big = (n: number, fill: number): PcapRecord => ({ sec: 1, nsec: 0, caplen: n, len: n, data: new Uint8Array(n).fill(fill), ifIndex: 0 });
  const records = [big(100, 1), big(262144, 2), big(60, 3), big(READ_SIZE - 10, 4), big(262144, 5)];
  const file = writePcap({ linktype: 1, snaplen: 262144 }, records);
  const asked: number[] = [];
  const buffer = new Uint8Array(CHUNK_SIZE);
  const r = new CaptureReader(recordingSource(file, asked), buffer);
  const seen: number[][] = [];
  while (r.next()) {
    assert.equal(r.buf, buffer, 'reads into the caller\'s buffer');
    seen.push([r.caplen, r.buf[r.dataOffset], r.buf[r.dataOffset + r.caplen - 1]]);
  }
  assert.deepEqual(seen, records.map((x) => [x.caplen, x.data[0], x.data[x.caplen - 1]]));
  assert.ok(asked.every((n) => n <= READ_SIZE), `largest read ${Math.max(...asked)}`);
});

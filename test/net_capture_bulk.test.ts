/*
 * The bulk filtering path of classic pcap captures: CaptureReader.keepRuns() (kept records as raw
 * runs, moved together in place in a streaming reader's own buffer) with PcapWriter.writeRaw(),
 * mixed with next() as `bpfkit tcpdump -r -w` mixes them, gives byte for byte what the per-record
 * path (next() + PcapWriter.write()) gives: whatever the chunking, the predicate, the -c limit,
 * records cut to the snapshot length, and corrupt input (same error, same records before it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CaptureReader, PcapWriter, type WriteOptions, writePcap } from '../src/net/pcap.js';
import { sourceOf } from './byte_source.js';
import { makeTraffic } from './filter_traffic.js';

type Keep = (buf: Uint8Array, off: number, caplen: number, len: number) => number;


interface Outcome { bytes: Buffer; kept: number; error?: string }

/** Drive a reader to the end (or the limit) into a writer; `bulk` as the tcpdump command does. */
function filterInto(r: CaptureReader, opts: WriteOptions, keep: Keep, limit: number, bulk: boolean, writeBuffer: number): Outcome {
  const chunks: Buffer[] = [];
  const w = new PcapWriter(opts, (c) => { chunks.push(Buffer.from(c)); }, writeBuffer);
  let kept = 0;
  let error: string | undefined;
  try {
    for (;;) {
      if (bulk) kept += r.keepRuns(keep, limit - kept, (b, s, e) => w.writeRaw(b, s, e));
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

const PREDICATES: [string, Keep][] = [
  // (a filter reads inside the record only: bytes past it differ between chunkings)
  ['by content', (b, off, caplen, len) => (caplen > 0 ? (b[off + caplen - 1] ^ len) & 1 : 0)],
  ['runs of 5', (b, off, caplen) => (caplen > 13 && b[off + 13] % 10 < 5 ? 1 : 0)],
  ['all', () => 1],
  ['none', () => 0],
];

function check(name: string, file: Uint8Array, opts: WriteOptions): void {
  const copy = file.slice();
  for (const [what, keep] of PREDICATES) {
    for (const limit of [Infinity, 1, 7, 100]) {
      const want = filterInto(new CaptureReader(file), opts, keep, limit, false, 1 << 20);
      for (const [chunk, step, writeBuffer] of [[64, 7, 64], [256, 1000, 100], [4096, 333, 4096], [1 << 20, 1 << 20, 1 << 20]]) {
        const label = `${name}, ${what}, limit ${limit}, chunk ${chunk}/${step}, write buffer ${writeBuffer}`;
        const got = filterInto(new CaptureReader(sourceOf(file, step), chunk), opts, keep, limit, true, writeBuffer);
        assert.equal(got.error, want.error, label);
        assert.equal(got.kept, want.kept, label);
        assert.ok(got.bytes.equals(want.bytes), label);
      }
      // Over the caller's bytes: runs emitted as they are, the bytes left untouched.
      const whole = filterInto(new CaptureReader(file), opts, keep, limit, true, 256);
      assert.deepEqual([whole.error, whole.kept], [want.error, want.kept], `${name}, ${what}, whole buffer`);
      assert.ok(whole.bytes.equals(want.bytes), `${name}, ${what}, whole buffer`);
      assert.ok(Buffer.from(file).equals(copy), `${name}: input bytes unchanged`);
    }
  }
}

test('keepRuns + writeRaw == next() + write(), whatever the chunking, predicate and limit', () => {
  const t = makeTraffic(400, 12);
  t.push({ sec: 1700001000, nsec: 5000, caplen: 3000, len: 3000, data: new Uint8Array(3000).map((_, i) => i & 0xff), ifIndex: 0 });
  const us = { linktype: 1, snaplen: 262144 };
  check('pcap us le', writePcap(us, t), us);
  const ns = { linktype: 1, snaplen: 65535, nanos: true, bigEndian: true };
  check('pcap ns be', writePcap(ns, t), ns);
  // Records longer than the header's snaplen are next()'s to cut; the bulk path goes around them.
  const cut = { linktype: 1, snaplen: 60 };
  check('snaplen 60', writePcap({ linktype: 1, snaplen: 262144 }, t).fill(60, 16, 17).fill(0, 17, 20), cut);
});

test('keepRuns on corrupt input: the same error after the same records', () => {
  const opts = { linktype: 1, snaplen: 65535 };
  const good = writePcap(opts, makeTraffic(60, 5));
  const offsets: number[] = [];
  for (const r = new CaptureReader(good); r.next();) offsets.push(r.offset);
  const truncated = good.subarray(0, good.length - 3);
  const badFrac = good.slice();
  new DataView(badFrac.buffer).setUint32(offsets[40] + 4, 1000000, true);
  const hugeCaplen = good.slice();
  new DataView(hugeCaplen.buffer).setUint32(offsets[30] + 8, 300000, true);
  for (const [name, file] of [['truncated', truncated], ['bad timestamp', badFrac], ['huge caplen', hugeCaplen]] as const) {
    check(name, file, opts);
    const r = filterInto(new CaptureReader(sourceOf(file, 100), 256), opts, () => 1, Infinity, true, 64);
    assert.match(r.error ?? '', / at offset \d+$/, name);
  }
});

test('a streaming reader moves kept records together inside its own buffer, emitting once per fill', () => {
  const opts = { linktype: 1, snaplen: 262144 };
  const file = writePcap(opts, makeTraffic(2000, 7));
  const r = new CaptureReader(sourceOf(file, 1 << 20), 16384);
  let emits = 0;
  let n = 0;
  let kept = 0;
  const keep: Keep = (b, off, caplen) => (caplen > 0 ? b[off + caplen - 1] & 1 : 0);
  assert.equal(r.keepRuns(keep, Infinity, () => { emits++; }), (() => { for (const q = new CaptureReader(file); q.next(); n++) kept += keep(q.buf, q.dataOffset, q.caplen, q.len); return kept; })());
  const fills = Math.ceil((file.length - 24) / 16384);
  assert.ok(kept > 200 && kept < n - 200, `${kept} of ${n} kept`);
  assert.ok(emits >= fills - 1 && emits <= fills + 1, `${emits} emits for ${fills} buffer fills of ${n} records`);
});

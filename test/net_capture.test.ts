/*
 * Streaming capture I/O: CaptureReader over a ByteSource gives exactly what it gives over the
 * whole file (records straddling chunk ends, records larger than the buffer, several pcapng
 * sections), in constant memory, with the same error messages and file offsets; pcapng
 * timestamps for decimal, binary and very fine resolutions and if_tsoffset; libpcap's
 * captured-length rules; PcapWriter and the node file streams.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPcapFile, openCaptureFile } from '../src/net/node_capture.js';
import { type ByteSource, CaptureReader, type PcapRecord, PcapWriter, readCapture, writePcap, writePcapng } from '../src/net/pcap.js';
import { sourceOf } from './byte_source.js';
import { makeTraffic } from './filter_traffic.js';


interface Seen { sec: number; nsec: number; caplen: number; len: number; ifIndex: number; offset: number; hex: string }

function drain(r: CaptureReader): Seen[] {
  const out: Seen[] = [];
  while (r.next()) {
    out.push({
      sec: r.sec, nsec: r.nsec, caplen: r.caplen, len: r.len, ifIndex: r.ifIndex, offset: r.offset,
      hex: Buffer.from(r.buf.subarray(r.dataOffset, r.dataOffset + r.caplen)).toString('hex'),
    });
  }
  return out;
}

const le = (n: number, w: number): number[] => Array.from({ length: w }, (_, i) => Number((BigInt(n) >> BigInt(8 * i)) & 0xffn));
const le64 = (n: bigint): number[] => Array.from({ length: 8 }, (_, i) => Number((BigInt.asUintN(64, n) >> BigInt(8 * i)) & 0xffn));
const block = (type: number, body: number[]): number[] => {
  const padded = [...body, ...new Array((4 - (body.length % 4)) % 4).fill(0)];
  const len = 12 + padded.length;
  return [...le(type, 4), ...le(len, 4), ...padded, ...le(len, 4)];
};
const SHB = block(0x0a0d0d0a, [...le(0x1a2b3c4d, 4), 1, 0, 0, 0, ...new Array(8).fill(0xff)]);
const idb = (linktype: number, snaplen: number, opts: number[] = []): number[] =>
  block(1, [...le(linktype, 2), 0, 0, ...le(snaplen, 4), ...opts, ...(opts.length ? [0, 0, 0, 0] : [])]);
const opt = (code: number, value: number[]): number[] => [...le(code, 2), ...le(value.length, 2), ...value, ...new Array((4 - (value.length % 4)) % 4).fill(0)];
const epb = (ifId: number, ts: bigint, data: number[], len = data.length): number[] =>
  block(6, [...le(ifId, 4), ...le(Number(ts >> 32n), 4), ...le(Number(ts & 0xffffffffn), 4), ...le(data.length, 4), ...le(len, 4), ...data]);

function sampleFiles(): [string, Uint8Array][] {
  const t = makeTraffic(300, 3);
  // a record far larger than the small test buffers
  t.push({ sec: 1700001000, nsec: 5000, caplen: 3000, len: 3000, data: new Uint8Array(3000).map((_, i) => i & 0xff), ifIndex: 0 });
  const two: PcapRecord[] = t.map((r, i) => ({ ...r, ifIndex: i % 2 }));
  const multiSection = Uint8Array.from([
    ...SHB, ...idb(1, 0), ...epb(0, 1700000000_000000n, [1, 2, 3]), ...block(5, new Array(12).fill(0)),
    ...block(3, [...le(8, 4), 1, 2, 3, 4, 5, 6, 7, 8]),
    ...SHB, ...idb(101, 0, opt(9, [9])), ...idb(1, 0), ...epb(1, 1700000000_123456789n, [4, 5]), ...epb(0, 1n, [6]),
  ]);
  return [
    ['pcap us le', writePcap({ linktype: 1, snaplen: 262144 }, t)],
    ['pcap ns be', writePcap({ linktype: 1, snaplen: 65535, nanos: true, bigEndian: true }, t)],
    ['pcapng le, two interfaces', writePcapng([{ linktype: 1, snaplen: 0 }, { linktype: 1, snaplen: 0 }], two)],
    ['pcapng be', writePcapng([{ linktype: 1, snaplen: 0 }], t, true)],
    ['pcapng, two sections, SPB, ISB', multiSection],
  ];
}

test('streaming == whole-buffer reading, whatever the chunking', () => {
  for (const [name, bytes] of sampleFiles()) {
    const want = drain(new CaptureReader(bytes));
    assert.ok(want.length >= 4, name);
    const whole = readCapture(bytes);
    assert.deepEqual(want.map((s) => s.hex), whole.records.map((r) => Buffer.from(r.data).toString('hex')), name);
    for (const [chunk, step] of [[64, 1], [64, 7], [256, 1000], [4096, 333], [1 << 20, 1 << 20]]) {
      const r = new CaptureReader(sourceOf(bytes, step), chunk);
      assert.deepEqual(drain(r), want, `${name}, chunk ${chunk}, ${step} bytes per read`);
      assert.deepEqual(r.interfaces, whole.interfaces, name);
      assert.equal(r.linktype, whole.linktype);
      assert.equal(r.bigEndian, whole.bigEndian);
    }
  }
});

test('constant memory: 64 MiB streamed through a 256 KiB buffer', () => {
  const recs = makeTraffic(50, 9);
  const file = writePcap({ linktype: 1, snaplen: 262144 }, recs);
  const body = file.subarray(24);
  const total = 64 << 20;
  let produced = 0;
  let first = true;
  // The header once, then the records over and over (a record may be cut at the very end).
  const source: ByteSource = (into, at, max) => {
    if (first) { first = false; into.set(file.subarray(0, 24), at); return 24; }
    const n = Math.min(max, total - produced);
    for (let done = 0; done < n;) {
      const from = (produced + done) % body.length;
      const k = Math.min(n - done, body.length - from);
      into.set(body.subarray(from, from + k), at + done);
      done += k;
    }
    produced += n;
    return n;
  };
  const r = new CaptureReader(source, 256 << 10);
  let count = 0;
  let bytes = 0;
  assert.throws(() => {
    while (r.next()) { count++; bytes += r.caplen; assert.ok(r.buf.length <= 256 << 10); }
  }, /truncated dump file|at offset/);
  const perRound = recs.length;
  assert.ok(count > (total / body.length - 1) * perRound, `${count} records`);
  assert.equal(r.buf.length, 256 << 10);
  assert.ok(bytes > 32 << 20);
});

test('pcapng timestamps: decimal, binary and fine resolutions, if_tsoffset', () => {
  const cases: [number[], bigint, number, number][] = [
    // if_tsresol byte, raw timestamp, expected sec, expected nsec
    [[], 1700000000_999999n, 1700000000, 999999000], // default microseconds
    [[9], 1700000000_123456789n, 1700000000, 123456789],
    [[3], 1700000000_007n, 1700000000, 7000000],
    [[0], 1700000000n, 1700000000, 0],
    [[0x80 | 10], (1700000000n << 10n) | 512n, 1700000000, 500000000], // 2^-10
    [[0x80 | 20], (1700000000n << 20n) | 1n, 1700000000, 953], // floor(1e9 / 2^20)
    [[12], 17000000_123456789012n, 17000000, 123456789], // BigInt path
    [[0x80 | 40], (1700n << 40n) | (1n << 39n), 1700, 500000000],
    [[9], 0xffffffffffffffffn, 18446744073, 709551615],
  ];
  for (const [resol, ts, sec, nsec] of cases) {
    for (const offset of [0n, 1000n, -5n]) {
      const opts = [...(resol.length ? opt(9, resol) : []), ...(offset ? opt(14, le64(offset)) : [])];
      const bytes = Uint8Array.from([...SHB, ...idb(1, 0, opts), ...epb(0, ts, [1, 2, 3, 4])]);
      const r = new CaptureReader(bytes);
      assert.ok(r.next());
      assert.deepEqual([r.sec, r.nsec], [sec + Number(offset), nsec], `tsresol ${resol} ts ${ts} offset ${offset}`);
    }
  }
});

test('corrupt input: the same message and file offset streamed as whole', () => {
  const good = writePcap({ linktype: 1, snaplen: 65535 }, makeTraffic(40, 5));
  const ng = writePcapng([{ linktype: 1, snaplen: 0 }], makeTraffic(40, 5));
  const badTrailer = ng.slice();
  new DataView(badTrailer.buffer).setUint32(ng.length - 4, 1, true);
  const hugeCaplen = good.slice();
  new DataView(hugeCaplen.buffer).setUint32(24 + 8, 300000, true);
  const bigSnap = hugeCaplen.slice();
  new DataView(bigSnap.buffer).setUint32(16, 500000, true);
  const badFrac = good.slice();
  new DataView(badFrac.buffer).setUint32(24 + 4, 1000000, true);
  const offsets = drain(new CaptureReader(good)).map((s) => s.offset);
  const cases: [Uint8Array, RegExp][] = [
    [good.subarray(0, good.length - 3), /^truncated dump file; tried to read \d+ captured bytes, only got \d+ at offset \d+$/],
    [good.subarray(0, offsets[30] + 5), new RegExp(`^truncated dump file; tried to read 16 header bytes, only got 5 at offset ${offsets[30]}$`)],
    [badTrailer, /^block total length in header \d+ and trailer 1 don't match at offset \d+$/],
    [ng.subarray(0, ng.length - 10), /^truncated pcapng block: length \d+, only \d+ bytes left at offset \d+$/],
    [hugeCaplen, /^invalid packet capture length 300000, bigger than snaplen of 65535 at offset 24$/],
    [bigSnap, /^invalid packet capture length 300000, bigger than maximum of 262144 at offset 24$/],
    [badFrac, /^bad microsecond timestamp 1000000 at offset 24$/],
  ];
  for (const [bytes, re] of cases) {
    let whole = '';
    try { drain(new CaptureReader(bytes)); } catch (e) { whole = (e as Error).message; }
    assert.match(whole, re);
    for (const step of [5, 100]) {
      assert.throws(() => drain(new CaptureReader(sourceOf(bytes, step), 64)), (e: Error) => e.message === whole, `${re} step ${step}`);
    }
  }
  assert.throws(() => new CaptureReader(sourceOf(Uint8Array.of(0xd4, 0xc3), 1)), (e: Error) => e.message === 'truncated dump file; tried to read 4 file header bytes, only got 2');
  assert.throws(() => new CaptureReader(sourceOf(Uint8Array.from([...SHB]), 3)), (e: Error) => e.message === 'pcapng file has no interface description block');
});

test('pcap records longer than the header snaplen are cut to it (sf-pcap.c), the rest skipped', () => {
  const recs = makeTraffic(20, 4).filter((r) => r.caplen > 40);
  const bytes = writePcap({ linktype: 1, snaplen: 40 }, recs);
  const got = drain(new CaptureReader(sourceOf(bytes, 50), 64));
  assert.equal(got.length, recs.length);
  got.forEach((s, i) => {
    assert.equal(s.caplen, 40);
    assert.equal(s.len, recs[i].len);
    assert.equal(s.hex, Buffer.from(recs[i].data.subarray(0, 40)).toString('hex'));
  });
});

test('PcapWriter: small buffers and records larger than the buffer give writePcap()\'s bytes', () => {
  const recs = makeTraffic(120, 8);
  recs.push({ sec: 1, nsec: 999999999, caplen: 500, len: 600, data: new Uint8Array(500).fill(7), ifIndex: 0 });
  for (const opts of [{ linktype: 1, snaplen: 262144 }, { linktype: 101, snaplen: 96, nanos: true, bigEndian: true }]) {
    const want = writePcap(opts, recs);
    for (const size of [64, 200, 4096]) {
      const chunks: Buffer[] = [];
      const w = new PcapWriter(opts, (c) => { chunks.push(Buffer.from(c)); }, size);
      for (const r of recs) w.writeRecord(r);
      w.flush();
      assert.ok(chunks.length > 1);
      assert.ok(Buffer.concat(chunks).equals(want), `buffer ${size}`);
    }
  }
});

test('node file streams: openCaptureFile and createPcapFile round trip; clear open errors', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bpfkit-capture-'));
  try {
    const recs = makeTraffic(200, 6);
    const path = join(dir, 'in.pcapng');
    writeFileSync(path, writePcapng([{ linktype: 1, snaplen: 0 }], recs));
    const input = openCaptureFile(path, 128);
    const outPath = join(dir, 'out.pcap');
    const output = createPcapFile(outPath, { linktype: input.reader.linktype, snaplen: 262144 });
    try {
      const r = input.reader;
      while (r.next()) output.writer.write(r.sec, r.nsec, r.len, r.buf, r.dataOffset, r.caplen);
    } finally {
      input.close();
      output.close();
    }
    assert.ok(readFileSync(outPath).equals(writePcap({ linktype: 1, snaplen: 262144 }, recs)));
    assert.throws(() => openCaptureFile(join(dir, 'none.pcap')), (e: Error) => e.message === `${join(dir, 'none.pcap')}: No such file or directory`);
    assert.throws(() => openCaptureFile(dir), (e: Error) => e.message === `${dir}: Is a directory`);
    writeFileSync(join(dir, 'junk'), 'not a capture file');
    assert.throws(() => openCaptureFile(join(dir, 'junk')), (e: Error) => e.message === 'unknown file format');
    const noDir = join(dir, 'no', 'dir.pcap');
    assert.throws(() => createPcapFile(noDir, { linktype: 1, snaplen: 1 }), (e: Error) => e.message === `${noDir}: No such file or directory`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

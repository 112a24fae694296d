/*
 * Capture files: classic pcap (micro/nano, both byte orders) and pcapng (SHB/IDB/EPB/SPB,
 * several interfaces and sections, if_tsresol, big-endian sections) round trips, the savefiles of
 * libpcap-tests, and corrupt inputs refused with the offset in the message.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { type PcapRecord, readCapture, writePcap, writePcapng } from '../src/net/pcap.js';
import { makeTraffic } from './filter_traffic.js';
import { missingShared } from './oracles.js';

const DIR = new URL('../../../shared/libpcap-tests/savefiles/', import.meta.url).pathname;

const recs: PcapRecord[] = [
  { sec: 1700000000, nsec: 123456789, caplen: 4, len: 60, data: Uint8Array.of(1, 2, 3, 4), ifIndex: 0 },
  { sec: 1700000001, nsec: 999999999, caplen: 3, len: 3, data: Uint8Array.of(9, 8, 7), ifIndex: 0 },
];

test('pcap: micro and nano, little and big endian round trip', () => {
  for (const nanos of [false, true]) {
    for (const bigEndian of [false, true]) {
      const f = readCapture(writePcap({ linktype: 1, snaplen: 65535, nanos, bigEndian }, recs));
      assert.equal(f.format, 'pcap');
      assert.equal(f.nanos, nanos);
      assert.equal(f.bigEndian, bigEndian);
      assert.equal(f.linktype, 1);
      assert.equal(f.snaplen, 65535);
      assert.equal(f.records.length, 2);
      assert.equal(f.records[0].nsec, nanos ? 123456789 : 123456000);
      assert.equal(f.records[1].sec, 1700000001);
      assert.equal(f.records[0].len, 60);
      assert.deepEqual([...f.records[1].data], [9, 8, 7]);
    }
  }
});

test('pcap writer: byte layout of the header and a record', () => {
  const b = writePcap({ linktype: 101, snaplen: 262144 }, recs.slice(0, 1));
  const dv = new DataView(b.buffer);
  assert.equal(dv.getUint32(0, true), 0xa1b2c3d4);
  assert.equal(dv.getUint16(4, true), 2);
  assert.equal(dv.getUint16(6, true), 4);
  assert.equal(dv.getUint32(16, true), 262144);
  assert.equal(dv.getUint32(20, true), 101);
  assert.equal(dv.getUint32(28, true), 123456);
  assert.equal(dv.getUint32(32, true), 4);
  assert.equal(dv.getUint32(36, true), 60);
  assert.equal(b.length, 24 + 16 + 4);
});

test('pcapng: several interfaces, nanosecond resolution, both byte orders', () => {
  const two: PcapRecord[] = [{ ...recs[0], ifIndex: 1 }, recs[1]];
  for (const be of [false, true]) {
    const f = readCapture(writePcapng([{ linktype: 1, snaplen: 0 }, { linktype: 113, snaplen: 1000 }], two, be));
    assert.equal(f.format, 'pcapng');
    assert.equal(f.bigEndian, be);
    assert.deepEqual(f.interfaces, [{ linktype: 1, snaplen: 0 }, { linktype: 113, snaplen: 1000 }]);
    assert.equal(f.records[0].ifIndex, 1);
    assert.equal(f.records[0].nsec, 123456789);
    assert.equal(f.records[0].sec, 1700000000);
    assert.equal(f.records[1].ifIndex, 0);
  }
});

test('pcapng: default microsecond resolution, SPB, unknown blocks skipped, second section', () => {
  const le = (n: number, w: number): number[] => Array.from({ length: w }, (_, i) => (n / 2 ** (8 * i)) & 0xff);
  const block = (type: number, body: number[]): number[] => {
    const len = 12 + body.length;
    return [...le(type, 4), ...le(len, 4), ...body, ...le(len, 4)];
  };
  const shb = block(0x0a0d0d0a, [...le(0x1a2b3c4d, 4), 1, 0, 0, 0, ...new Array(8).fill(0xff)]);
  const idb = block(1, [1, 0, 0, 0, ...le(96, 4)]);
  const ts = 1700000000 * 1e6 + 250000;
  const epb = block(6, [...le(0, 4), ...le(Math.floor(ts / 2 ** 32), 4), ...le(ts % 2 ** 32, 4), ...le(4, 4), ...le(64, 4), 0xde, 0xad, 0xbe, 0xef]);
  const spb = block(3, [...le(8, 4), 1, 2, 3, 4, 5, 6, 7, 8]);
  const isb = block(5, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  const bytes = Uint8Array.from([...shb, ...idb, ...epb, ...isb, ...spb, ...shb, ...idb, ...epb]);
  const f = readCapture(bytes);
  assert.equal(f.records.length, 3);
  assert.equal(f.records[0].sec, 1700000000);
  assert.equal(f.records[0].nsec, 250000000);
  assert.equal(f.records[0].len, 64);
  assert.deepEqual([...f.records[1].data], [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.equal(f.records[1].len, 8);
  assert.equal(f.interfaces.length, 2);
  assert.equal(f.records[2].ifIndex, 1);
});

test('corrupt files are refused with the offset', () => {
  const good = writePcap({ linktype: 1, snaplen: 65535 }, recs);
  assert.throws(() => readCapture(good.subarray(0, good.length - 1)), /truncated dump file.*at offset 44/);
  assert.throws(() => readCapture(good.subarray(0, 30)), /at offset 24/);
  assert.throws(() => readCapture(Uint8Array.of(1, 2, 3, 4, 5, 6)), /unknown file format/);
  const ng = writePcapng([{ linktype: 1, snaplen: 0 }], recs);
  const bad = ng.slice();
  new DataView(bad.buffer).setUint32(ng.length - 4, 999, true);
  assert.throws(() => readCapture(bad), /block total length in header \d+ and trailer 999 don't match at offset/);
  const badIf = ng.slice();
  // First EPB after SHB (28 bytes) and IDB (32 bytes): interface id field at 28+32+8.
  new DataView(badIf.buffer).setUint32(68, 7, true);
  assert.throws(() => readCapture(badIf), /unknown interface 7 at offset 68/);
});

test('libpcap-tests savefiles parse; the malformed ones are refused', { skip: missingShared('libpcap-tests') }, () => {
  for (const f of readdirSync(DIR + 'filter')) {
    const c = readCapture(readFileSync(DIR + 'filter/' + f));
    assert.ok(c.records.length > 0, f);
  }
  const want: Record<string, string> = {
    'linktype-reserved-field-not-zero.pcap': 'savefile linktype reserved field not zero (0x00300000)',
    'pcap-invalid-version-1.pcap': 'unsupported pcap savefile version 1.4',
    'pcap-invalid-version-2.pcap': 'unsupported pcap savefile version 2.5',
    'pcapng-invalid-vers-1.pcapng': 'unsupported pcapng savefile version 0.1',
    'pcapng-invalid-vers-2.pcapng': 'unsupported pcapng savefile version 1.1',
    'shb-option-too-long.pcapng': 'block total length in header 32 and trailer 808464432 don\'t match',
  };
  for (const [f, msg] of Object.entries(want)) {
    assert.throws(() => readCapture(readFileSync(DIR + f)), (e: Error) => e.message.startsWith(msg), f);
  }
});

test('generated traffic survives a pcap round trip', () => {
  const t = makeTraffic(50);
  const f = readCapture(writePcap({ linktype: 1, snaplen: 262144 }, t));
  assert.equal(f.records.length, 50);
  for (let i = 0; i < 50; i++) {
    assert.deepEqual(f.records[i].data, t[i].data);
    assert.equal(f.records[i].len, t[i].len);
  }
});

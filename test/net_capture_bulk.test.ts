/*
 * The bulk filtering path of classic pcap captures: CaptureReader.keepRuns() (kept records as raw
 * runs, moved together in place in a streaming reader's own buffer) with PcapWriter.writeRaw(),
 * mixed with next() as `bpfkit tcpdump -r -w` mixes them, gives byte for byte what the per-record
 * path (next() + PcapWriter.write()) gives: whatever the chunking, the predicate, the -c limit,
 * records cut to the snapshot length, and corrupt input (same error, same records before it).
 * The same with the filter fused into the record walk (compileRecordScan() of cbpfInlineAt()),
 * for compiled expressions and random classic programs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cbpfInlineAt, compileCbpfAt } from '../src/cbpf/jsc.js';
import { type CInsn, cinsn } from '../src/cbpf/insn.js';
import { compileFilter } from '../src/filter/index.js';
import { CaptureReader, compileRecordScan, type WriteOptions, writePcap } from '../src/net/pcap.js';
import { sourceOf } from './byte_source.js';
import { Rng, randomProgram } from './cbpf_gen.js';
import { makeTraffic } from './filter_traffic.js';
import { corruptCaptures, filterInto, type Keep } from './net_capture_lib.js';

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

/** The fused scan of each program == the per-record path with its compiled filter, as check() does. */
function checkScan(name: string, file: Uint8Array, opts: WriteOptions, progs: readonly CInsn[][]): number {
  let fused = 0;
  for (const prog of progs) {
    const keep = compileCbpfAt(prog);
    const inline = cbpfInlineAt(prog);
    const scan = inline === undefined ? undefined : compileRecordScan(inline);
    if (scan) fused++;
    for (const limit of [Infinity, 1, 7, 100]) {
      const want = filterInto(new CaptureReader(file), opts, keep, limit, false, 1 << 20);
      for (const [chunk, step] of [[64, 7], [4096, 333], [1 << 20, 1 << 20]]) {
        const label = `${name}, ${JSON.stringify(prog)}, limit ${limit}, chunk ${chunk}/${step}`;
        const got = filterInto(new CaptureReader(sourceOf(file, step), chunk), opts, keep, limit, true, 4096, scan);
        assert.deepEqual([got.error, got.kept], [want.error, want.kept], label);
        assert.ok(got.bytes.equals(want.bytes), label);
      }
    }
  }
  return fused;
}

test('the filter fused into the record walk == the per-record path: expressions, random programs, corrupt input', () => {
  const t = makeTraffic(300, 21);
  t.push({ sec: 1700001000, nsec: 5000, caplen: 3000, len: 3000, data: new Uint8Array(3000).map((_, i) => i & 0xff), ifIndex: 0 });
  const opts = { linktype: 1, snaplen: 262144 };
  const file = writePcap(opts, t);
  // (protochain and the hand-written loop jump backward: the inline filter's switch form)
  const exprs = ['tcp port 80', 'ip6 or arp', 'udp and dst net 10.0.0.0/8', 'len > 100', 'ip[0] & 0xf > 5', 'tcp[13] & 2 != 0', 'vlan and ip', 'ip6 protochain 6'];
  const progs = exprs.map((e) => compileFilter(e, { linktype: 1, snaplen: 262144, savefile: true }));
  progs.push([cinsn(0x80), cinsn(0x04, 1), cinsn(0x25, 1500, 1, 0), cinsn(0x05, -3 >>> 0), cinsn(0x54, 1), cinsn(0x16)]);
  const r = new Rng(77);
  for (let i = 0; i < 40; i++) progs.push(randomProgram(r, 2 + r.int(30)));
  progs.push([]); // rejects all: not fusable, the per-record call remains
  assert.equal(checkScan('expressions', file, opts, progs), progs.length - 1);
  // Corrupt input: the error and the records before it as next() gives them.
  const cut = file.slice().fill(60, 16, 17).fill(0, 17, 20); // snaplen 60: records to cut are next()'s
  for (const [what, bytes] of [...corruptCaptures(file), ['snaplen 60', cut] as [string, Uint8Array]]) {
    checkScan(what, bytes, what === 'snaplen 60' ? { linktype: 1, snaplen: 60 } : opts, progs.slice(0, 3));
  }
});

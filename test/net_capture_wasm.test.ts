/*
 * net/pcap_scan_wasm.ts: the record scan compiled to WebAssembly keeps exactly the records the
 * reference interpreter (runCbpf, record by record) keeps, and the bytes written are the same
 * (the filter alone returns runCbpf's value):
 * on random and broken programs over random packets (loads past caplen, division by zero, shifts,
 * scratch memory, jumps past the end), on tcpdump expressions over generated traffic, whatever
 * the chunking (including buffers not at the memory's start, and a reader that outgrows its
 * buffer onto the JavaScript scan), the -c limit, and corrupt input (same error after the same
 * records). Programs with backward jumps are left to JavaScript.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type CInsn, cinsn } from '../src/cbpf/insn.js';
import { runCbpf } from '../src/cbpf/interp.js';
import { cbpfInlineAt } from '../src/cbpf/jsc.js';
import { compileFilter } from '../src/filter/index.js';
import { CaptureReader, compileRecordScan, type PcapRecord, type RecordScan, type WriteOptions, writePcap } from '../src/net/pcap.js';
import { compileWasmScan, scanMemory } from '../src/net/pcap_scan_wasm.js';
import { sourceOf } from './byte_source.js';
import { Rng, TCPDUMP_EXPRS, mutate, randomPacket, randomProgram } from './cbpf_gen.js';
import { makeTraffic } from './filter_traffic.js';
import { corruptCaptures, filterInto, type Keep } from './net_capture_lib.js';

const OPTS: WriteOptions = { linktype: 1, snaplen: 262144 };
const PAGE = 65536;

/** The reference: runCbpf on each record alone. */
const interpreted = (prog: readonly CInsn[]): Keep => (buf, off, caplen, len) => runCbpf(prog, buf.subarray(off, off + caplen), len);

const jsScan = (prog: readonly CInsn[]) => (): RecordScan | undefined => {
  const inline = cbpfInlineAt(prog);
  return inline === undefined ? undefined : compileRecordScan(inline);
};

/**
 * Filter `file` with the wasm scan (reader buffers of several sizes, at the memory's start and
 * further in) and compare with the interpreter record by record. Returns whether it compiled.
 */
function checkProgram(label: string, file: Uint8Array, prog: readonly CInsn[], limits: readonly number[]): boolean {
  const mem = scanMemory(3 * PAGE)!;
  const wasm = compileWasmScan(prog, mem.memory, jsScan(prog));
  if (!wasm) return false;
  const keep = interpreted(prog);
  // The filter alone: runCbpf's return value, record by record, in the memory and outside it.
  try {
    for (const r = new CaptureReader(sourceOf(file, 4096), new Uint8Array(mem.memory.buffer, 100, 8192)); r.next();) {
      const packet = r.buf.slice(r.dataOffset, r.dataOffset + r.caplen);
      const want = runCbpf(prog, packet, r.len);
      assert.equal(wasm.filter(r.buf, r.dataOffset, r.caplen, r.len), want, `${label}: filter() on ${JSON.stringify(prog)}`);
      assert.equal(wasm.filter(packet, 0, r.caplen, r.len), want, `${label}: filter() outside the memory`);
    }
  } catch (e) {
    if (!/ at offset \d+$/.test((e as Error).message)) throw e; // corrupt input: up to the bad record
  }
  for (const limit of limits) {
    const want = filterInto(new CaptureReader(file), OPTS, keep, limit, false, 1 << 20);
    for (const [size, at, step] of [[64, 0, 7], [4096, 1000, 333], [2 * PAGE, 0, 1 << 20], [PAGE, PAGE + 3, 5000]]) {
      const buffer = new Uint8Array(mem.memory.buffer, at, size);
      const got = filterInto(new CaptureReader(sourceOf(file, step), buffer), OPTS, wasm.filter, limit, true, 4096, wasm.scan);
      const where = `${label}: ${JSON.stringify(prog)}, limit ${limit}, buffer ${size} at ${at}`;
      assert.deepEqual([got.error, got.kept], [want.error, want.kept], where);
      assert.ok(got.bytes.equals(want.bytes), where);
    }
  }
  return true;
}

test('wasm scan == interpreter on random and broken programs over random packets', () => {
  const r = new Rng(4242);
  const records: PcapRecord[] = [];
  for (let i = 0; i < 150; i++) {
    const data = randomPacket(r);
    records.push({ sec: 1700000000 + i, nsec: i * 1000, caplen: data.length, len: data.length + r.int(50), data, ifIndex: 0 });
  }
  // One record larger than the small buffers: the reader grows its buffer out of the memory.
  records.splice(75, 0, { sec: 1700000500, nsec: 0, caplen: 3000, len: 3000, data: new Uint8Array(3000).map((_, i) => i & 0xff), ifIndex: 0 });
  const file = writePcap(OPTS, records);
  let compiled = 0;
  let someKept = 0;
  for (let i = 0; i < 300; i++) {
    let prog: CInsn[] = randomProgram(r, 1 + r.int(40));
    if (r.chance(0.3)) prog = mutate(r, prog);
    if (checkProgram('random', file, prog, i % 10 === 0 ? [Infinity, 1, 7] : [Infinity])) compiled++;
    if (filterInto(new CaptureReader(file), OPTS, interpreted(prog), Infinity, false, 1 << 20).kept > 0) someKept++;
  }
  assert.ok(compiled > 280, `${compiled} of 300 compiled`);
  assert.ok(someKept > 100 && someKept < 290, `${someKept} of 300 programs kept some records`);
});

test('wasm scan == interpreter at the edges: bounds, division by zero, shifts, scratch memory, jumps past the end', () => {
  const data = Uint8Array.from([0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc]);
  const file = writePcap(OPTS, [0, 1, 2].map((i) => ({ sec: 1700000000, nsec: i * 1000, caplen: 6 - i, len: 1000 + i, data: data.subarray(0, 6 - i), ifIndex: 0 })));
  const progs: CInsn[][] = [
    [cinsn(0x20, 0), cinsn(0x54, 0x10000000), cinsn(0x16)], // ld [0]: 4 bytes, big-endian
    [cinsn(0x20, 2), cinsn(0x16)], // ld [2]: past caplen for the shorter records
    [cinsn(0x28, 4), cinsn(0x16)], [cinsn(0x30, 4), cinsn(0x16)],
    [cinsn(0x20, 0xfffffffe), cinsn(0x06, 1)], // ld [k] with k near 2^32
    [cinsn(0x01, 0xffffffff), cinsn(0x50, 1), cinsn(0x06, 1)], // ldb [x + 1], x = 2^32 - 1
    [cinsn(0x01, 3), cinsn(0x48, 1), cinsn(0x16)], // ldh [x + 1]
    [cinsn(0xb1, 3), cinsn(0x87), cinsn(0x16)], [cinsn(0xb1, 5), cinsn(0x06, 1)],
    [cinsn(0x00, 5), cinsn(0x01, 0), cinsn(0x3c), cinsn(0x06, 1)], // A / X, X = 0
    [cinsn(0x00, 5), cinsn(0x01, 0), cinsn(0x9c), cinsn(0x06, 1)],
    [cinsn(0x00, 0xfffffff0), cinsn(0x34, 3), cinsn(0x16)], [cinsn(0x00, 0xfffffff0), cinsn(0x94, 7), cinsn(0x16)],
    [cinsn(0x00, 7), cinsn(0x01, 32), cinsn(0x6c), cinsn(0x15, 0, 0, 1), cinsn(0x06, 1), cinsn(0x06, 0)], // A << 32 = 0
    [cinsn(0x00, 7), cinsn(0x01, 33), cinsn(0x7c), cinsn(0x16)], [cinsn(0x00, 7), cinsn(0x01, 31), cinsn(0x6c), cinsn(0x16)],
    [cinsn(0x00, 7), cinsn(0x64, 40), cinsn(0x04, 1), cinsn(0x16)], [cinsn(0x00, 5), cinsn(0x84), cinsn(0x16)],
    [cinsn(0x80), cinsn(0x14, 1001), cinsn(0x16)], [cinsn(0x81), cinsn(0x87), cinsn(0x16)], // len is the wire length
    [cinsn(0x00, 9), cinsn(0x02, 3), cinsn(0x00, 0), cinsn(0x60, 3), cinsn(0x16)], [cinsn(0x60, 16), cinsn(0x06, 1)],
    [cinsn(0x80), cinsn(0x25, 1000, 1, 0), cinsn(0x06, 0), cinsn(0x06, 5)],
    [cinsn(0x80), cinsn(0x45, 1, 9, 0), cinsn(0x06, 3)], // jump past the end rejects
    [cinsn(0x05, 7), cinsn(0x06, 1)], [cinsn(0x00, 1)], [cinsn(0x00, 1), cinsn(0xff, 0)],
    [cinsn(0x06, 0x80000000)], [cinsn(0x00, 0x80000000), cinsn(0x16)],
  ];
  for (const prog of progs) assert.ok(checkProgram('edge', file, prog, [Infinity, 1]), JSON.stringify(prog));
});

test('wasm scan == interpreter on tcpdump expressions over generated traffic, and on corrupt input', () => {
  const t = makeTraffic(300, 21);
  const file = writePcap(OPTS, t);
  let compiled = 0;
  const progs = TCPDUMP_EXPRS.map((e) => compileFilter(e, { linktype: 1, snaplen: 262144, savefile: true }));
  for (const [i, prog] of progs.entries()) if (checkProgram(TCPDUMP_EXPRS[i], file, prog, [Infinity, 7])) compiled++;
  // All but protochain (a backward jump): that one stays JavaScript's.
  assert.equal(compiled, progs.length - 1);
  assert.equal(compileWasmScan(compileFilter('ip6 protochain 6', { linktype: 1, snaplen: 262144 }), scanMemory(PAGE)!.memory, () => undefined), undefined);
  for (const [what, bytes] of corruptCaptures(file)) {
    checkProgram(what, bytes, progs[0], [Infinity]);
    const mem = scanMemory(PAGE)!;
    const got = filterInto(new CaptureReader(sourceOf(bytes, 4096), mem.buffer), OPTS, () => 1, Infinity, true, 4096,
      compileWasmScan([cinsn(0x06, 1)], mem.memory, () => undefined)?.scan);
    assert.match(got.error ?? '', / at offset \d+$/, what);
  }
});

test('no program, no scan: empty and over-long programs reject without compiling', () => {
  const mem = scanMemory(PAGE)!;
  assert.equal(compileWasmScan([], mem.memory, () => undefined), undefined);
  // (only the length is looked at: past PCAP_MAXINSNS, nothing is generated)
  assert.equal(compileWasmScan(new Array<CInsn>(3060001), mem.memory, () => undefined), undefined);
});

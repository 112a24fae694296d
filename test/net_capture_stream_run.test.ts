/*
 * runCapture over a stream: records taken a chunk at a time from a source that reuses its buffer
 * (copyRecords), passed packets handed to a writer (onOutput) instead of kept. Same verdicts and
 * output as the whole-list run, and never more than a chunk of records held at once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCapture } from '../src/net/capture_run.js';
import type { PcapRecord } from '../src/net/pcap.js';
import { makeInsn } from '../src/isa/insn.js';
import { makeTraffic } from './filter_traffic.js';

// XDP: drop frames whose byte 23 (IPv4 protocol) is 17 (UDP), pass the rest; write byte 0 = 0xaa.
const PROG = [
  makeInsn(0x61, 2, 1, 0), makeInsn(0x61, 3, 1, 4), makeInsn(0xbf, 4, 2), makeInsn(0x07, 4, 0, 0, 24),
  makeInsn(0x2d, 4, 3, 5), makeInsn(0x71, 5, 2, 23), makeInsn(0xb7, 6, 0, 0, 0xaa), makeInsn(0x73, 2, 6, 0),
  makeInsn(0xb7, 0, 0, 0, 1), makeInsn(0x15, 5, 0, 1, 17), makeInsn(0xb7, 0, 0, 0, 2), makeInsn(0x95),
];

/** A source like CaptureReader: every record's data is a view into one scratch buffer. */
function* reusing(records: PcapRecord[], yielded: { n: number }): Generator<PcapRecord> {
  const scratch = new Uint8Array(65536);
  for (const r of records) {
    scratch.fill(0x55);
    scratch.set(r.data);
    yielded.n++;
    yield { ...r, data: scratch.subarray(0, r.data.length) };
  }
}

for (const engine of ['jit', 'interp'] as const) {
  test(`runCapture (${engine}): a stream gives the list's verdicts and output, a chunk at a time`, () => {
    const records = makeTraffic(10000, 5);
    const whole = runCapture(records, 1, { insns: PROG, type: 6, engine, verdicts: true });
    const yielded = { n: 0 };
    const written: PcapRecord[] = [];
    let maxAhead = 0;
    const streamed = runCapture(reusing(records, yielded), 1, {
      insns: PROG, type: 6, engine, verdicts: true, copyRecords: true, keepOutput: false,
      onOutput: (rec) => { written.push({ ...rec, data: rec.data.slice() }); },
      onProgress: (done) => { maxAhead = Math.max(maxAhead, yielded.n - done); },
      progressEvery: 512,
    });
    assert.deepEqual(streamed.summary.perPacket, whole.summary.perPacket);
    assert.equal(streamed.summary.passed, whole.summary.passed);
    assert.equal(streamed.summary.modified, whole.summary.modified);
    assert.equal(streamed.out.length, 0);
    assert.deepEqual(written, whole.out);
    assert.ok(whole.out.length > 1000 && whole.out.length < records.length, 'some pass, some drop');
    assert.ok(maxAhead > 0 && maxAhead <= 4096, `records held ahead of the runs: ${maxAhead}`);
  });
}

test('runCapture: a stream chunk larger than the copy arena keeps every record intact (the arena is replaced, not overwritten)', () => {
  // 1,500-byte frames: a 4,096-record chunk is ~6 MB, many times the first arena (CHUNK x 128 bytes)
  const records = makeTraffic(6000, 9).map((r, i) => {
    const data = new Uint8Array(1500);
    data.set(r.data);
    data[1499] = i & 0xff;
    return { ...r, data, caplen: 1500, len: Math.max(r.len, 1500) };
  });
  const whole = runCapture(records, 1, { insns: PROG, type: 6, engine: 'jit', verdicts: true });
  const written: PcapRecord[] = [];
  const streamed = runCapture(reusing(records, { n: 0 }), 1, {
    insns: PROG, type: 6, engine: 'jit', verdicts: true, copyRecords: true, keepOutput: false,
    onOutput: (rec) => { written.push({ ...rec, data: rec.data.slice() }); },
  });
  assert.deepEqual(streamed.summary.perPacket, whole.summary.perPacket);
  assert.equal(streamed.summary.modified, whole.summary.modified);
  assert.deepEqual(written, whole.out);
  assert.ok(whole.out.length > 1000 && whole.out.length < records.length, 'some pass, some drop');
});

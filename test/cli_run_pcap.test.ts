/*
 * `prog run PROG pcap_in IN [pcap_out OUT] [verbose]`: every packet of a capture through an XDP,
 * tc or socket filter program; the summary (verdicts by name, passed, modified), -j output, the
 * written capture (passed packets as the program left them, timestamps kept, socket filters'
 * truncation), pcapng in gives pcapng out, both engines agree, and errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCliCaptured } from '../src/cli/main.js';
import { parseRunArgs } from '../src/cli/prog.js';
import { type PcapRecord, readCapture, writePcap, writePcapng } from '../src/net/pcap.js';
import { runCapture } from '../src/net/capture_run.js';
import { makeInsn } from '../src/isa/insn.js';
import { tcpFrame } from './progtypes_packets.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const XDP_UDP_DROP = join(ROOT, 'examples/xdp_udp_drop.o');
const FIX = join(ROOT, 'test/fixtures/progtypes/');

function records(): PcapRecord[] {
  const udp9 = new Uint8Array(readFileSync(join(ROOT, 'examples/udp.bin')));
  const dns = new Uint8Array(readFileSync(join(ROOT, 'examples/udp_dns.bin')));
  const frames = [udp9, dns, tcpFrame(), udp9, tcpFrame({ dport: 443, payload: 100 }), dns, udp9];
  return frames.map((data, i) => ({ sec: 1700000000 + i, nsec: i * 1000, caplen: data.length, len: data.length + (i === 4 ? 50 : 0), data, ifIndex: 0 }));
}

test('prog run pcap_in: XDP verdict summary, pcap_out with the passed packets and their timestamps', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bpfkit-run-pcap-'));
  try {
    const input = join(dir, 'in.pcap');
    const recs = records();
    writeFileSync(input, writePcap({ linktype: 1, snaplen: 65535, nanos: true }, recs));
    const output = join(dir, 'out.pcap');
    const r = await runCliCaptured(['prog', 'run', 'file', XDP_UDP_DROP, 'pcap_in', input, 'pcap_out', output]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^Packets: 7, passed: 4, modified: 0, duration \(average\): \d+ns\n/);
    assert.match(r.stdout, /XDP_DROP {2}3\n/);
    assert.match(r.stdout, /XDP_PASS {2}4\n/);
    const out = readCapture(new Uint8Array(readFileSync(output)));
    assert.equal(out.format, 'pcap');
    assert.ok(out.nanos);
    assert.deepEqual(out.records.map((x) => [x.sec, x.nsec, x.len]), [[1700000001, 1000, recs[1].len], [1700000002, 2000, recs[2].len], [1700000004, 4000, recs[4].len], [1700000005, 5000, recs[5].len]]);
    assert.deepEqual([...out.records[1].data], [...recs[2].data]);
    // -j, verbose, both engines
    const j1 = await runCliCaptured(['-j', 'prog', 'run', 'file', XDP_UDP_DROP, 'pcap_in', input, 'verbose', 'engine', 'interp']);
    const j2 = await runCliCaptured(['-j', 'prog', 'run', 'file', XDP_UDP_DROP, 'pcap_in', input, 'verbose']);
    const p1 = JSON.parse(j1.stdout), p2 = JSON.parse(j2.stdout);
    delete p1.duration; delete p2.duration;
    assert.deepEqual(p1, p2);
    assert.deepEqual(p1, { packets: 7, passed: 4, modified: 0, verdicts: { XDP_DROP: 3, XDP_PASS: 4 }, verdict_list: [1, 2, 2, 1, 2, 2, 1] });
    // pcapng in, pcapng out
    const ng = join(dir, 'in.pcapng');
    writeFileSync(ng, writePcapng([{ linktype: 1, snaplen: 65535 }], recs));
    const r2 = await runCliCaptured(['prog', 'run', 'file', XDP_UDP_DROP, 'pcap_in', ng, 'pcap_out', output]);
    assert.equal(r2.status, 0, r2.stderr);
    const out2 = readCapture(new Uint8Array(readFileSync(output)));
    assert.equal(out2.format, 'pcapng');
    assert.equal(out2.records.length, 4);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('prog run pcap_in: tc rewriter (modified packets) and a socket filter (truncation)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bpfkit-run-pcap-'));
  try {
    const input = join(dir, 'in.pcap');
    const recs = records();
    writeFileSync(input, writePcap({ linktype: 1, snaplen: 65535 }, recs));
    const r = await runCliCaptured(['-j', 'prog', 'run', 'file', join(FIX, 'tc_rewrite.o'), 'pcap_in', input]);
    assert.equal(r.status, 0, r.stderr);
    const s = JSON.parse(r.stdout);
    assert.equal(s.packets, 7);
    assert.equal(s.modified, 1); // the one TCP packet to port 80
    assert.equal(s.verdicts.TC_ACT_OK, 6);
    // socket filter returning 20: every packet cut to 20 bytes, wire length kept
    const insns = [makeInsn(0xb7, 0, 0, 0, 20), makeInsn(0x95)];
    const res = runCapture(recs, 1, { insns, type: 1 });
    assert.equal(res.summary.passed, 7);
    assert.deepEqual(res.out.map((x) => x.caplen), new Array(7).fill(20));
    assert.deepEqual(res.out.map((x) => x.len), recs.map((x) => x.len));
    assert.deepEqual([...res.out[0].data], [...recs[0].data.subarray(0, 20)]);
    assert.deepEqual(res.summary.verdicts, { PASS: 7 });
    // LD_ABS over a capture: the frame from the MAC header (a packet socket's view)
    const ldabs = [makeInsn(0x28, 0, 0, 0, 12), makeInsn(0x95)]; // ldh [12]: the EtherType
    const res2 = runCapture(recs, 1, { insns: ldabs, type: 1, verdicts: true });
    assert.deepEqual(res2.summary.perPacket, new Array(7).fill(0x0800));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('prog run pcap_in: argument and input errors', async () => {
  assert.equal(parseRunArgs(['file', 'x.o', 'pcap_in', 'a.pcap']).pcapIn, 'a.pcap');
  assert.throws(() => parseRunArgs(['file', 'x.o', 'data_in', 'p', 'pcap_out', 'o']), /'pcap_out' needs 'pcap_in'/);
  const dir = mkdtempSync(join(tmpdir(), 'bpfkit-run-pcap-'));
  try {
    const bad = join(dir, 'bad.pcap');
    writeFileSync(bad, new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]));
    const r = await runCliCaptured(['prog', 'run', 'file', XDP_UDP_DROP, 'pcap_in', bad]);
    assert.equal(r.status, 255);
    assert.match(r.stderr, /Error: .*bad\.pcap: unknown file format/);
    const raw = join(dir, 'raw.pcap');
    writeFileSync(raw, writePcap({ linktype: 101, snaplen: 65535 }, []));
    const r2 = await runCliCaptured(['prog', 'run', 'file', XDP_UDP_DROP, 'pcap_in', raw]);
    assert.notEqual(r2.status, 0);
    assert.match(r2.stderr, /not Ethernet/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('prog run pcap_in: the streamed file path writes the same bytes as the whole-input path (stdin), pcap and pcapng with two interfaces', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bpfkit-run-pcap-'));
  try {
    const recs = records().map((r, i) => ({ ...r, ifIndex: i % 2 }));
    const inputs: [string, Uint8Array][] = [
      ['in.pcap', writePcap({ linktype: 1, snaplen: 65535, nanos: true }, recs.map((r) => ({ ...r, ifIndex: 0 })))],
      ['in.pcapng', writePcapng([{ linktype: 1, snaplen: 65535 }, { linktype: 1, snaplen: 9000 }], recs)],
    ];
    for (const [name, bytes] of inputs) {
      const input = join(dir, name);
      writeFileSync(input, bytes);
      const viaFile = join(dir, `file-${name}`), viaStdin = join(dir, `stdin-${name}`);
      const a = await runCliCaptured(['prog', 'run', 'file', XDP_UDP_DROP, 'pcap_in', input, 'pcap_out', viaFile]);
      const b = await runCliCaptured(['prog', 'run', 'file', XDP_UDP_DROP, 'pcap_in', '-', 'pcap_out', viaStdin], bytes);
      assert.equal(a.status, 0, a.stderr);
      assert.equal(b.status, 0, b.stderr);
      assert.equal(a.stdout.replace(/duration \(average\): \d+ns/, ''), b.stdout.replace(/duration \(average\): \d+ns/, '').replace(viaStdin, viaFile));
      assert.ok(readFileSync(viaFile).equals(readFileSync(viaStdin)), name);
      const out = readCapture(new Uint8Array(readFileSync(viaFile)));
      assert.equal(out.records.length, 4);
      if (name.endsWith('pcapng')) assert.deepEqual(out.records.map((r) => r.ifIndex), recs.filter((_, i) => [1, 2, 4, 5].includes(i)).map((r) => r.ifIndex));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

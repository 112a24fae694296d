/*
 * The classic interpreter: libpcap's semantics instruction by instruction, Linux's extensions,
 * and libpcap's apply tests (filters compiled by the local tcpdump, run over the test captures).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseBytecode } from '../src/cbpf/dump.js';
import { type CInsn, SKF_AD_OFF, SKF_NET_OFF, cinsn } from '../src/cbpf/insn.js';
import { type PacketMeta, prepareCbpf, runCbpf } from '../src/cbpf/interp.js';
import { readCapture } from './cbpf_pcap.js';
import { missingTool, runTool, missingShared } from './oracles.js';

const SHARED = new URL('../../../shared/libpcap-tests/', import.meta.url);
const pkt = (...bytes: number[]): Uint8Array => Uint8Array.from(bytes);
const ret = (k: number): CInsn => cinsn(0x06, k);
const RET_A = cinsn(0x16);
const run = (prog: CInsn[], p: Uint8Array = pkt(), wire = p.length, meta?: PacketMeta): number => runCbpf(prog, p, wire, meta);

test('loads: big-endian, past the captured length return 0, len is the wire length', () => {
  const p = pkt(1, 2, 3, 4, 5, 6);
  assert.equal(run([cinsn(0x20, 1), RET_A], p), 0x02030405);
  assert.equal(run([cinsn(0x28, 4), RET_A], p), 0x0506);
  assert.equal(run([cinsn(0x30, 5), RET_A], p), 6);
  assert.equal(run([cinsn(0x20, 3), RET_A], p), 0);
  assert.equal(run([cinsn(0x28, 5), ret(9)], p), 0);
  assert.equal(run([cinsn(0x30, 6), ret(9)], p), 0);
  assert.equal(run([cinsn(0x30, 0xffffffff), ret(9)], p), 0);
  assert.equal(run([cinsn(0x80), RET_A], p, 1500), 1500);
  assert.equal(run([cinsn(0x81), cinsn(0x87), RET_A], p, 60), 60);
  // ld [x + k], and x + k wrapping past 2^32 is out of range in libpcap
  assert.equal(run([cinsn(0x01, 2), cinsn(0x48, 1), RET_A], p), 0x0405);
  assert.equal(run([cinsn(0x01, 0xffffffff), cinsn(0x50, 2), ret(7)], p), 0);
  assert.equal(run([cinsn(0x01, 5), cinsn(0x50, 0), RET_A], p), 6);
  assert.equal(run([cinsn(0x01, 5), cinsn(0x40, 0), ret(7)], p), 0);
  // ldxb 4*([k]&0xf)
  assert.equal(run([cinsn(0xb1, 0), cinsn(0x87), RET_A], pkt(0x45)), 20);
  assert.equal(run([cinsn(0xb1, 1), ret(3)], pkt(0x45)), 0);
});

test('ALU: 32-bit wrap, division and modulo by zero return 0, shifts >= 32 give 0', () => {
  assert.equal(run([cinsn(0x00, 0xffffffff), cinsn(0x04, 2), RET_A]), 1);
  assert.equal(run([cinsn(0x00, 0), cinsn(0x14, 1), RET_A]), 0xffffffff);
  assert.equal(run([cinsn(0x00, 0x10000), cinsn(0x24, 0x10001), RET_A]), 0x10000);
  assert.equal(run([cinsn(0x00, 0xfffffffe), cinsn(0x34, 3), RET_A]), 0x55555554);
  assert.equal(run([cinsn(0x00, 0xfffffffe), cinsn(0x94, 7), RET_A]), 0xfffffffe % 7);
  assert.equal(run([cinsn(0x00, 9), cinsn(0x3c), ret(1)]), 0);
  assert.equal(run([cinsn(0x00, 9), cinsn(0x9c), ret(1)]), 0);
  assert.equal(run([cinsn(0x00, 9), cinsn(0x34, 0), ret(1)]), 0);
  assert.equal(run([cinsn(0x00, 1), cinsn(0x01, 33), cinsn(0x6c), RET_A]), 0);
  assert.equal(run([cinsn(0x00, 0x80000000), cinsn(0x01, 31), cinsn(0x7c), RET_A]), 1);
  assert.equal(run([cinsn(0x00, 0x80000000), cinsn(0x74, 32), RET_A]), 0);
  assert.equal(run([cinsn(0x00, 5), cinsn(0x84), RET_A]), 0xfffffffb);
  assert.equal(run([cinsn(0x00, 0xf0), cinsn(0x01, 0x3c), cinsn(0xac), RET_A]), 0xcc);
  assert.equal(run([cinsn(0x00, 0xf0), cinsn(0x54, 0x3c), cinsn(0x44, 1), cinsn(0xa4, 0x100), RET_A]), 0x131);
});

test('M[], jumps, ret', () => {
  assert.equal(run([cinsn(0x00, 7), cinsn(0x02, 15), cinsn(0x00, 0), cinsn(0x61, 15), cinsn(0x87), RET_A]), 7);
  assert.equal(run([cinsn(0x60, 3), RET_A]), 0, 'M[] starts zeroed');
  assert.equal(run([cinsn(0x60, 16), ret(1)]), 0);
  // jeq/jgt/jge/jset (unsigned compares)
  const jmp = (code: number, a: number, k: number): number => run([cinsn(0x00, a), cinsn(0x01, k), cinsn(code, k, 0, 1), ret(1), ret(2)]);
  assert.equal(jmp(0x25, 0xffffffff, 1), 1);
  assert.equal(jmp(0x2d, 0xffffffff, 1), 1);
  assert.equal(jmp(0x35, 1, 1), 1);
  assert.equal(jmp(0x3d, 0, 1), 2);
  assert.equal(jmp(0x15, 5, 5), 1);
  assert.equal(jmp(0x1d, 5, 6), 2);
  assert.equal(jmp(0x45, 6, 2), 1);
  assert.equal(jmp(0x4d, 4, 2), 2);
  // jump past the end, running off the end, unknown opcodes: 0
  assert.equal(run([cinsn(0x15, 0, 5, 5), ret(1)]), 0);
  assert.equal(run([cinsn(0x00, 1)]), 0);
  assert.equal(run([cinsn(0x0e), ret(1)]), 0);
  assert.equal(run([]), 0);
  // ja forward; backward a bounded number of times (libpcap's protochain loops)
  assert.equal(run([cinsn(0x05, 1), ret(1), ret(2)]), 2);
  const loop = [cinsn(0x04, 1), cinsn(0x25, 2000, 1, 0), cinsn(0x05, -3 >>> 0), RET_A];
  assert.equal(run(loop), 0, '2000 backward jumps are too many');
  assert.equal(run([loop[0], cinsn(0x25, 50, 1, 0), loop[2], loop[3]]), 51);
  assert.equal(run([cinsn(0x05, 0xffffffff), ret(1)]), 0, 'ja to itself');
});

test('Linux extensions from packet metadata', () => {
  const p = pkt(0x45, 0, 0, 20, 1, 2, 3, 4);
  const anc = (ad: number, meta: PacketMeta, size = 0x20): number => run([cinsn(size, (SKF_AD_OFF + ad) >>> 0), RET_A], p, 8, meta);
  const meta: PacketMeta = {
    protocol: 0x0800, pktType: 3, ifindex: 7, hatype: 1, mark: 0xdeadbeef, queue: 2, rxhash: 0x1234, cpu: 3,
    vlanTci: 0x0123, vlanPresent: true, vlanTpid: 0x88a8, payOffset: 54, random: () => 42,
  };
  assert.deepEqual([0, 4, 8, 28, 20, 24, 32, 36, 44, 48, 60, 52, 56].map((ad) => anc(ad, meta)),
    [0x0800, 3, 7, 1, 0xdeadbeef, 2, 0x1234, 3, 0x0123, 1, 0x88a8, 54, 42]);
  assert.equal(anc(0, meta, 0x30), 0x0800, 'any load size reads the whole field');
  assert.equal(run([cinsn(0x00, 77), cinsn(0x20, (SKF_AD_OFF + 8) >>> 0), ret(1)], p, 8, { noDevice: true }), 77, 'no device: the program returns A');
  assert.equal(anc(64, meta), 0, 'unknown ancillary offset');
  assert.equal(run([cinsn(0x00, 0xf0), cinsn(0x01, 0x0f), cinsn(0x20, (SKF_AD_OFF + 40) >>> 0), RET_A], p, 8, {}), 0xff);
  // without metadata, libpcap semantics: the offsets are just out of the packet
  assert.equal(run([cinsn(0x20, (SKF_AD_OFF + 4) >>> 0), ret(1)], p), 0);
  // SKF_NET_OFF: relative to the network header
  const net = (k: number, meta: PacketMeta): number => run([cinsn(0x30, (SKF_NET_OFF + k) >>> 0), RET_A], p, 8, meta);
  assert.equal(net(1, { netHeader: 4 }), 2);
  assert.equal(net(4, { netHeader: 4 }), 0);
  assert.equal(net(1, {}), 0, 'no network header known');
  // ld [x + k] wraps as a signed 32-bit offset in Linux
  assert.equal(run([cinsn(0x01, 0xffffffff), cinsn(0x50, 2), RET_A], p, 8, {}), 0);
  assert.equal(run([cinsn(0x01, 0xffffffff), cinsn(0x50, 4), RET_A], p, 8, {}), 20);
  // shifts by X use its low 5 bits
  assert.equal(run([cinsn(0x00, 1), cinsn(0x01, 33), cinsn(0x6c), RET_A], p, 8, {}), 2);
});

test('Linux netlink attribute search (SKF_AD_NLATTR, NLATTR_NEST)', () => {
  // nlmsg-ish: 4 bytes of header, then attrs: [len 8 type 1 | 4 bytes], [len 12 type 2 | nested [len 8 type 5 | 4]]
  const p = pkt(0, 0, 0, 0, 8, 0, 1, 0, 1, 1, 1, 1, 12, 0, 2, 0, 8, 0, 5, 0, 9, 9, 9, 9);
  const nla = (a: number, x: number, ad: number): number =>
    run([cinsn(0x00, a), cinsn(0x01, x), cinsn(0x20, (SKF_AD_OFF + ad) >>> 0), RET_A], p, p.length, {});
  assert.equal(nla(4, 1, 12), 4);
  assert.equal(nla(4, 2, 12), 12);
  assert.equal(nla(4, 3, 12), 0);
  assert.equal(nla(12, 5, 16), 16);
  assert.equal(nla(12, 6, 16), 0);
  assert.equal(nla(100, 1, 12), 0);
});

test('prepared programs run the same and do not allocate per packet', () => {
  const prog = [cinsn(0x28, 12), cinsn(0x15, 0x800, 0, 1), ret(0x40000), ret(0)];
  const prepared = prepareCbpf(prog);
  const ip = new Uint8Array(60); ip[12] = 8;
  assert.equal(runCbpf(prepared, ip, 60), 0x40000);
  let sum = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < 1_000_000; i++) sum += runCbpf(prepared, ip, 60);
  const ns = Number(process.hrtime.bigint() - t0) / 1e6;
  assert.equal(sum, 0x40000 * 1_000_000);
  assert.ok(ns < 1000, `${ns} ns per packet`);
});

interface ApplyTest { label: string; savefile: string; expr: string; optimize: boolean; netmask: string | null; results: number[]; env_skip: string | null }

test('libpcap apply tests: tcpdump-compiled filters select the same packets', { skip: missingShared('libpcap-tests') }, (t) => {
  const why = missingTool('tcpdump');
  if (why) { t.skip(why); return; }
  const tests = readFileSync(new URL('filter_apply_tests.jsonl', SHARED), 'utf8').split('\n').filter(Boolean)
    .map((l) => JSON.parse(l) as ApplyTest).filter((x) => !x.env_skip && x.netmask === null);
  let ran = 0;
  let compileFailed = 0;
  const differs: string[] = [];
  const tmp = mkdtempSync(join(tmpdir(), 'bpfkit-cbpf-'));
  t.after(() => rmSync(tmp, { recursive: true, force: true }));
  for (const a of tests) {
    const file = new URL(`savefiles/${a.savefile}`, SHARED).pathname;
    let text: string;
    try {
      text = runTool('tcpdump', ['-ddd', ...(a.optimize ? [] : ['-O']), '-r', file, a.expr]);
    } catch {
      compileFailed++; // libpcap 1.10.3 lacks some of master's syntax
      continue;
    }
    const prog = parseBytecode(text);
    const cap = readCapture(file);
    const got = cap.packets.map((p) => runCbpf(prog, p.data, p.wireLen) !== 0);
    ran++;
    if (JSON.stringify(got) === JSON.stringify(a.results.map((r) => r !== 0))) continue;
    // libpcap 1.10.3 compiles some expressions differently from master (whose results these
    // are): then the packets tcpdump itself selects with its program are the reference
    const out = join(tmp, 'sel.pcap');
    runTool('tcpdump', ['-r', file, '-w', out, ...(a.optimize ? [] : ['-O']), a.expr]);
    const selected = readCapture(out).packets.map((p) => Buffer.from(p.data).toString('hex'));
    const mine = cap.packets.filter((_, i) => got[i]).map((p) => Buffer.from(p.data).toString('hex'));
    assert.deepEqual(mine, selected, `${a.label}: ${a.expr}`);
    differs.push(a.label);
  }
  t.diagnostic(`${ran} run, ${differs.length} where libpcap 1.10.3's program differs from master's (${differs.join(' ')}), ${compileFailed} not compilable here`);
  assert.ok(ran > 250, `ran ${ran}, ${compileFailed} not compilable by the local tcpdump`);
});

/*
 * cBPF -> eBPF (bpf_convert_filter): the shape of converted code, and a property test — random
 * classic programs over random packets and metadata give the same result on the classic
 * interpreter (Linux semantics) and, converted, on the eBPF reference interpreter.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { linuxCheckError } from '../src/cbpf/check.js';
import { SKB_SIZE, buildSkbContext, cbpfHelpers, convertCbpfToEbpf, type CbpfHelperEnv } from '../src/cbpf/convert.js';
import { type CInsn, SKF_AD_OFF, cinsn } from '../src/cbpf/insn.js';
import { type PacketMeta, runCbpf } from '../src/cbpf/interp.js';
import type { Insn } from '../src/isa/insn.js';
import { checkProgram, encodeProgram } from '../src/isa/insn.js';
import { spawnSync } from 'node:child_process';
import { interpret } from '../src/vm/interpreter.js';
import { Vm } from '../src/vm/vm.js';
import { Rng, randomPacket, randomProgram } from './cbpf_gen.js';
import { findTool } from './oracles.js';

/** A Vm with the converted programs' helpers, a __sk_buff and a packet buffer. */
class Runner {
  readonly vm = new Vm();
  readonly env: CbpfHelperEnv = { packet: new Uint8Array(0), meta: {} };
  readonly ctx = this.vm.space.alloc(SKB_SIZE, '__sk_buff', { writable: false });
  readonly buf = this.vm.space.alloc(4096, 'packet', { writable: false });
  constructor() {
    for (const h of cbpfHelpers(this.env)) this.vm.helpers.register(h.id, h.name, h.fn);
  }
  run(insns: readonly Insn[], packet: Uint8Array, wireLen: number, meta: PacketMeta): number {
    this.vm.space.write(this.buf.addr, packet);
    const skb = new Uint8Array(SKB_SIZE);
    buildSkbContext(skb, wireLen, meta, this.buf.addr, packet.length);
    this.vm.space.write(this.ctx.addr, skb);
    this.env.packet = packet;
    this.env.meta = meta;
    const r = interpret(this.vm, insns, { args: [BigInt(this.ctx.addr)], packet: { addr: this.buf.addr, len: packet.length } });
    return Number(r.r0 & 0xffffffffn);
  }
}

const hex = (i: Insn): string => `${i.code.toString(16).padStart(2, '0')} ${i.dst} ${i.src} ${i.off} ${i.imm}`;

test('converted code follows bpf_convert_filter', () => {
  const prog = [cinsn(0x28, 12), cinsn(0x15, 0x800, 0, 3), cinsn(0x30, 23), cinsn(0x15, 6, 0, 1), cinsn(0x06, 0xffffffff), cinsn(0x06, 0)];
  assert.deepEqual(convertCbpfToEbpf(prog).map(hex), [
    'b4 0 0 0 0', 'b4 7 0 0 0', 'bf 6 1 0 0', // A = 0, X = 0, ctx = r1
    '28 0 0 0 12', // ldh [12]
    '55 0 0 4 2048', // jeq #0x800 jt 0: jne to ret #0
    '30 0 0 0 23',
    '55 0 0 2 6',
    'b4 0 0 0 -1', '95 0 0 0 0', // ret #-1
    'b4 0 0 0 0', '95 0 0 0 0',
  ]);
  // a constant >= 2^31 goes through TMP; jt and jf both set: jump + ja
  assert.deepEqual(convertCbpfToEbpf([cinsn(0x25, 0x80000000, 1, 2), cinsn(0x16), cinsn(0x16), cinsn(0x16)]).slice(3).map(hex), [
    'b4 2 0 0 -2147483648', '2d 0 2 2 0', '05 0 0 2 0', '95 0 0 0 0', '95 0 0 0 0', '95 0 0 0 0',
  ]);
  assert.throws(() => convertCbpfToEbpf([cinsn(0x34, 0), cinsn(0x16)]), /division by zero/);
});

test('converted programs are well-formed eBPF', () => {
  const r = new Rng(3);
  for (let i = 0; i < 500; i++) {
    const prog = randomProgram(r, 1 + r.int(40), { anc: true });
    if (linuxCheckError(prog) !== undefined) continue;
    checkProgram(convertCbpfToEbpf(prog));
  }
});

function randomMeta(r: Rng): PacketMeta {
  const v = (): number => (r.chance(0.5) ? r.int(8) : r.next());
  return {
    protocol: r.chance(0.5) ? 0x0800 : v() & 0xffff, pktType: r.int(8), ifindex: v(), hatype: v() & 0xffff,
    noDevice: r.chance(0.1), mark: v(), queue: v() & 0xffff, rxhash: v(), cpu: r.int(64), vlanTci: v() & 0xffff,
    vlanPresent: r.chance(0.5), vlanTpid: r.chance(0.5) ? 0x8100 : v() & 0xffff, payOffset: r.int(100),
  };
}

test('property: classic interpreter == convert + eBPF interpreter', () => {
  const r = new Rng(2024);
  const runner = new Runner();
  let compared = 0;
  let nonzero = 0;
  for (let i = 0; i < 3000; i++) {
    const prog: CInsn[] = randomProgram(r, 1 + r.int(40), { anc: true });
    if (linuxCheckError(prog) !== undefined) continue;
    const ebpf = convertCbpfToEbpf(prog);
    for (let j = 0; j < 5; j++) {
      const packet = randomPacket(r);
      const wire = packet.length + (r.chance(0.3) ? r.int(100) : 0);
      let seed = r.next();
      const meta = { ...randomMeta(r), random: () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) };
      const s0 = seed;
      const want = runCbpf(prog, packet, wire, meta);
      seed = s0;
      const got = runner.run(ebpf, packet, wire, meta);
      assert.equal(got, want, `program ${JSON.stringify(prog)} packet ${Buffer.from(packet).toString('hex')} wire ${wire}`);
      compared++;
      if (want !== 0) nonzero++;
    }
  }
  assert.ok(compared > 5000, `${compared} runs compared`);
  assert.ok(nonzero > compared / 10, `${nonzero} of ${compared} runs returned non-zero`);
});

test('ancillary loads and netlink search agree after conversion', () => {
  const runner = new Runner();
  const nl = Uint8Array.from([0, 0, 0, 0, 8, 0, 1, 0, 1, 1, 1, 1, 12, 0, 2, 0, 8, 0, 5, 0, 9, 9, 9, 9]);
  const meta: PacketMeta = { protocol: 0x86dd, vlanTpid: 0x88a8, ifindex: 3, hatype: 772, cpu: 5, payOffset: 42 };
  for (const ad of [0, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 44, 48, 52, 60]) {
    for (const [a, x] of [[4, 1], [4, 2], [12, 5], [40, 1]]) {
      const prog = [cinsn(0x00, a), cinsn(0x01, x), cinsn(0x30, (SKF_AD_OFF + ad) >>> 0), cinsn(0x16)];
      for (const m of [meta, { ...meta, noDevice: true }]) {
        assert.equal(runner.run(convertCbpfToEbpf(prog), nl, nl.length, m), runCbpf(prog, nl, nl.length, m), `ad ${ad} a ${a} x ${x}`);
      }
    }
  }
});

/**
 * Whether every instruction can be reached: the eBPF verifier refuses dead code, which classic
 * programs may hold (the kernel never verifies converted classic programs).
 */
function allReachable(prog: readonly CInsn[]): boolean {
  const seen = new Set<number>();
  const todo = [0];
  while (todo.length > 0) {
    const pc = todo.pop()!;
    if (pc >= prog.length || seen.has(pc)) continue;
    seen.add(pc);
    const { code, jt, jf, k } = prog[pc];
    if ((code & 0x07) === 0x06) continue;
    if (code === 0x05) todo.push(pc + 1 + k);
    else if ((code & 0x07) === 0x05) todo.push(pc + 1 + jt, pc + 1 + jf);
    else todo.push(pc + 1);
  }
  return seen.size === prog.length;
}

/** Ancillary loads that become private helper calls (the kernel's verifier does not know them). */
const PRIVATE_CALLS = new Set([8, 12, 16, 28, 36, 52, 56].map((ad) => (SKF_AD_OFF + ad) >>> 0));

test('converted programs load and run in the kernel (BPF_PROG_TEST_RUN) with the same results', (t) => {
  if (process.platform !== 'linux' || process.arch !== 'x64' || process.getuid?.() !== 0 || !findTool('python3')) {
    t.skip('needs root on x86_64 Linux and python3');
    return;
  }
  const r = new Rng(77);
  const runner = new Runner();
  const cases: { insns: Insn[]; frames: Uint8Array[] }[] = [];
  while (cases.length < 150) {
    const prog = randomProgram(r, 2 + r.int(30), { anc: true });
    if (prog.some((i) => PRIVATE_CALLS.has(i.k >>> 0) && (i.code & 0xe7) === 0x20)) continue;
    if (linuxCheckError(prog) !== undefined || !allReachable(prog)) continue;
    const frames = Array.from({ length: 4 }, () => {
      const f = new Uint8Array(14 + 60 + r.int(40)); // test_run refuses IPv6 frames shorter than an IPv6 header
      for (let i = 12; i < f.length; i++) f[i] = r.chance(0.3) ? r.int(8) : r.int(256);
      const type = r.pick([0x0800, 0x86dd, 0x0806, 0x88b5]);
      f[12] = type >> 8; f[13] = type & 0xff;
      return f;
    });
    cases.push({ insns: convertCbpfToEbpf(prog), frames });
  }
  const enc = (insns: Insn[]): string => Buffer.from(encodeProgram(insns)).toString('hex');
  const script = new URL('../../test/fixtures/cbpf/socket_filter_test_run.py', import.meta.url).pathname;
  const res = spawnSync('python3', [script], {
    input: JSON.stringify(cases.map((c) => ({ insns: enc(c.insns), frames: c.frames.map((f) => Buffer.from(f).toString('hex')) }))),
    encoding: 'utf8',
  });
  if (res.status !== 0) { t.skip(`cannot load programs here: ${res.stderr.trim().split('\n').pop()}`); return; }
  const results = JSON.parse(res.stdout) as ({ error: string } | { retvals: number[] })[];
  let loaded = 0;
  let unreachable = 0;
  results.forEach((result, i) => {
    const c = cases[i];
    if ('error' in result) {
      unreachable++;
      assert.fail(`case ${i}: the verifier refused the converted program: ${result.error}`);
    }
    loaded++;
    c.frames.forEach((f, j) => {
      // test_run gives a socket filter the packet after its Ethernet header
      const meta: PacketMeta = { protocol: (f[12] << 8) | f[13], pktType: 0 };
      assert.equal(result.retvals[j], runner.run(c.insns, f.subarray(14), f.length - 14, meta), `case ${i} frame ${j} ${Buffer.from(f).toString("hex")}`);
    });
  });
  t.diagnostic(`${loaded} loaded and agreed, ${unreachable} refused`);
  assert.equal(loaded, cases.length);
});

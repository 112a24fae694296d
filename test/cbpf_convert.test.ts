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
import { checkProgram } from '../src/isa/insn.js';
import { interpret } from '../src/vm/interpreter.js';
import { Vm } from '../src/vm/vm.js';
import { Rng, randomPacket, randomProgram } from './cbpf_gen.js';

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
    'ac 0 0 0 0', 'ac 7 7 0 0', 'bf 6 1 0 0', // A = 0, X = 0, ctx = r1
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

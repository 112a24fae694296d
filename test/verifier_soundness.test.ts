/*
 * Soundness property: random XDP-shaped programs that stress bounds tracking (packet loads after
 * range checks, scalars refined by branches and ALU ops, variable packet and stack offsets) are
 * verified; every accepted one then runs under the bounds-checking interpreter on random packets,
 * the packet region exactly data..data_end and the stack frame 512 bytes with red zones around.
 * An out-of-bounds access by an accepted program is a verifier bug.
 *
 * BPFKIT_SOUND_SEED (default 1) and BPFKIT_SOUND_COUNT (default 1500) pick the programs.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Insn, makeInsn } from '../src/isa/insn.js';
import { formatXlatedInsn } from '../src/isa/disasm_xlated.js';
import { Vm, interpret } from '../src/vm/index.js';
import { verify } from '../src/verifier/verifier.js';
import { Rng } from './cbpf_gen.js';

/** An immediate biased toward edge values. */
const randImm = (rng: Rng): number => rng.chance(0.5) ? rng.pick([0, 1, -1, 7, 8, 64, 255, 0xffff, 0x7fffffff, -0x80000000]) : rng.next() | 0;

const XDP = 6;
const R_DATA = 2, R_END = 3, R_PTR = 9;
const SCALARS = [4, 5, 7, 8];
const ALU = [0x00, 0x10, 0x20, 0x40, 0x50, 0x60, 0x70, 0x90, 0xa0, 0xc0]; // add sub mul or and lsh rsh mod xor arsh
const JMP = [0x10, 0x20, 0x30, 0xa0, 0xb0, 0x50, 0x60, 0x70, 0xc0, 0xd0, 0x40];

/** One program: a checked packet prefix, scalars from it, ALU and branch refinements, accesses. */
export function generate(rng: Rng): Insn[] {
  const out: Insn[] = [];
  const e = (i: Insn): void => { out.push(i); };
  const checked = 1 + rng.int(64);
  e(makeInsn(0x61, R_DATA, 1, 0)); // r2 = data
  e(makeInsn(0x61, R_END, 1, 4)); // r3 = data_end
  e(makeInsn(0xbf, 6, R_DATA)); e(makeInsn(0x07, 6, 0, 0, checked));
  const exitAt: number[] = []; // jumps to the final exit, patched at the end
  exitAt.push(out.length); e(makeInsn(0x2d, 6, R_END, 0)); // if data + checked > end goto out
  for (const r of SCALARS) {
    const size = rng.pick([[0x71, 1], [0x69, 2], [0x61, 4]] as const);
    e(makeInsn(size[0], r, R_DATA, 0, 0)); out[out.length - 1] = makeInsn(size[0], r, R_DATA, rng.int(Math.max(1, checked - size[1] + 1)) & ~(size[1] - 1));
    if (out[out.length - 1].off + size[1] > checked) out[out.length - 1] = makeInsn(0xb7, r, 0, 0, randImm(rng));
  }
  // usually bound a scalar before it becomes an offset: a mask, or a branch to the exit
  const bound = (r: number): void => {
    const k = rng.int(10);
    if (k < 4) e(makeInsn(0x57, r, 0, 0, (1 << rng.int(8)) - 1));
    else if (k < 8) { exitAt.push(out.length); e(makeInsn(rng.pick([0x25, 0x35, 0x65, 0x75]), r, 0, 0, rng.int(300))); }
  };
  const n = 3 + rng.int(10);
  for (let k = 0; k < n; k++) {
    const d = rng.pick(SCALARS), s = rng.pick(SCALARS);
    const kind = rng.int(10);
    if (kind < 3) {
      const op = rng.pick(ALU);
      const cls = rng.chance(0.3) ? 0x04 : 0x07;
      let imm = rng.chance(0.5) ? rng.int(256) : randImm(rng);
      if (op === 0x60 || op === 0x70 || op === 0xc0) imm = rng.int(cls === 0x04 ? 32 : 64);
      if (op === 0x90 && imm === 0) imm = 3;
      if (rng.chance(0.3) && op !== 0x90) e(makeInsn(cls | 0x08 | op, d, s)); else e(makeInsn(cls | op, d, 0, 0, imm));
    } else if (kind < 5) {
      // a forward branch over up to 3 instructions, refining d (against an immediate or s)
      const cls = rng.chance(0.3) ? 0x06 : 0x05;
      const skip = rng.int(4);
      if (rng.chance(0.6)) e(makeInsn(cls | rng.pick(JMP), d, 0, skip, rng.chance(0.7) ? rng.int(80) : randImm(rng)));
      else e(makeInsn(cls | 0x08 | rng.pick(JMP), d, s, skip));
    } else if (kind < 8) {
      // packet access through data + scalar (+ a range check first, sometimes)
      bound(d);
      e(makeInsn(0xbf, R_PTR, R_DATA)); e(makeInsn(0x0f, R_PTR, d));
      const size = rng.pick([1, 2, 4, 8]);
      if (rng.chance(0.7)) {
        e(makeInsn(0xbf, 0, R_PTR)); e(makeInsn(0x07, 0, 0, 0, size + 2 + rng.int(3)));
        exitAt.push(out.length); e(makeInsn(0x2d, 0, R_END, 0));
      }
      const code = { 1: 0x71, 2: 0x69, 4: 0x61, 8: 0x79 }[size]!;
      if (rng.chance(0.5)) e(makeInsn(code, s, R_PTR, rng.int(3)));
      else e(makeInsn(code - 0x61 + 0x63, R_PTR, s, rng.int(3))); // stx
    } else {
      // stack access at fp - C + scalar
      bound(d);
      e(makeInsn(0xbf, R_PTR, 10)); e(makeInsn(0x07, R_PTR, 0, 0, -264 - 8 * rng.int(31)));
      e(makeInsn(0x0f, R_PTR, d));
      if (rng.chance(0.5)) e(makeInsn(0x73, R_PTR, s, -rng.int(8))); // *(u8 *)(r9 - k) = s
      else e(makeInsn(0x71, s, R_PTR, -rng.int(8)));
    }
  }
  const exit = out.length; // early exits land on r0 = XDP_PASS
  e(makeInsn(0xb7, 0, 0, 0, 2));
  e(makeInsn(0x95));
  for (const at of exitAt) out[at] = { ...out[at], off: exit - at - 1 };
  // forward branches must land inside the program: clamp their skips
  out.forEach((insn, pc) => { if ((insn.code & 0x07) >= 5 && (insn.code & 0xf0) !== 0x90 && pc < exit && pc + 1 + insn.off > exit) out[pc] = { ...insn, off: exit - pc - 1 }; });
  return out;
}

/** Run under the interpreter with the packet region exactly [data, data_end). */
function runOn(insns: Insn[], packet: Uint8Array): void {
  const vm = new Vm();
  const pkt = vm.space.alloc(Math.max(packet.length, 1), 'packet', { writable: true });
  const ctx = vm.space.alloc(24, 'xdp_md', { writable: false });
  const mem = new Uint8Array(vm.space.memory.buffer);
  mem.set(packet, pkt.addr);
  const dv = new DataView(vm.space.memory.buffer);
  dv.setUint32(ctx.addr, pkt.addr, true);
  dv.setUint32(ctx.addr + 4, pkt.addr + packet.length, true);
  interpret(vm, insns, { args: [BigInt(ctx.addr)], budget: 100_000 });
}

test('soundness: programs the verifier accepts never access memory out of bounds', () => {
  const seed = Number(process.env.BPFKIT_SOUND_SEED ?? 1);
  const count = Number(process.env.BPFKIT_SOUND_COUNT ?? 1500);
  const rng = new Rng(seed);
  let accepted = 0, runs = 0;
  for (let i = 0; i < count; i++) {
    const insns = generate(rng);
    const v = verify(insns, { progType: XDP });
    if (!v.ok) continue;
    accepted++;
    for (let k = 0; k < 8; k++) {
      const packet = new Uint8Array(rng.int(80));
      for (let b = 0; b < packet.length; b++) packet[b] = rng.int(256);
      runs++;
      try {
        runOn(insns, packet);
      } catch (e) {
        const listing = insns.map((_, pc) => `${pc}: ${formatXlatedInsn(insns, pc)}`).join('\n');
        assert.fail(`program ${i} (seed ${seed}) accepted but faulted on a ${packet.length}-byte packet: ${(e as Error).message}\n${listing}`);
      }
    }
  }
  console.log(`soundness: ${accepted}/${count} random programs accepted, ${runs} runs without a fault`);
  // the generator must keep producing accepted programs, or the property says nothing
  assert.ok(accepted > count / 20, `only ${accepted} of ${count} programs accepted`);
});

/*
 * Random programs for comparing bpfkit's verifier with the kernel's: straight-line code with
 * forward branches and an occasional bounded loop over XDP, tc and socket-filter contexts,
 * mixing what the verifier must accept (checked packet reads, stack spill/fill, scalar ALU of
 * every kind incl. v4 sdiv/smod/movsx/bswap, 32-bit subregisters, branch refinement, helper
 * calls) with the mistakes it must reject (unchecked or variable-offset packet reads, reads of
 * uninitialised stack or registers, prohibited pointer arithmetic, bad context offsets, r10
 * writes, registers clobbered by a call). No maps: programs load with no fds.
 */
import { type Insn, makeInsn } from '../src/isa/insn.js';
import type { Rng } from './cbpf_gen.js';

export const PROG_SOCKET_FILTER = 1, PROG_SCHED_CLS = 3, PROG_XDP = 6;

/** The registers a program keeps: r1 ctx, r2 data, r3 data_end, r6 ctx (kept across calls). */
const R_CTX = 1, R_DATA = 2, R_END = 3, R_SAVED_CTX = 6, R_PTR = 9;
const SCALARS = [0, 4, 5, 7, 8];
const ALU_OPS = [0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x90, 0xa0, 0xc0]; // add sub mul div or and lsh rsh mod xor arsh
const JMP_OPS = [0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0xa0, 0xb0, 0xc0, 0xd0]; // jeq jgt jge jset jne jsgt jsge jlt jle jslt jsle

/** An immediate biased toward edge values. */
function imm(rng: Rng): number {
  return rng.chance(0.5) ? rng.pick([0, 1, -1, 2, 7, 8, 14, 31, 32, 63, 64, 255, 0xffff, 0x7fffffff, -0x80000000]) : rng.next() | 0;
}

export interface RandomProgram { progType: number; insns: Insn[] }

export function randomProgram(rng: Rng): RandomProgram {
  const progType = rng.chance(0.08) ? PROG_SOCKET_FILTER : rng.pick([PROG_XDP, PROG_SCHED_CLS]);
  const out: Insn[] = [];
  const e = (i: Insn): void => { out.push(i); };
  const exits: number[] = []; // branches to the exit block, patched at the end
  const checked = 1 + rng.int(40);
  // data/data_end: xdp_md offsets 0/4, __sk_buff 76/80 (a socket filter may not read them)
  /** A read at base + off with off + size inside the checked range, or `past` bytes beyond it. */
  const packetRead = (dst: number, base: number, past: number): void => {
    const size = rng.pick([1, 2, 4, 8].filter((z) => z <= checked || past > 0));
    e(makeInsn({ 1: 0x71, 2: 0x69, 4: 0x61, 8: 0x79 }[size]!, dst, base, past ? checked - size + past : rng.int(checked - size + 1)));
  };
  const [dOff, eOff] = progType === PROG_XDP ? [0, 4] : [76, 80];
  /** r2/r3 = data/data_end from the context in r1, then data + checked <= data_end or exit. */
  const loadPacket = (): void => {
    e(makeInsn(0x61, R_DATA, R_CTX, dOff));
    e(makeInsn(0x61, R_END, R_CTX, eOff));
    e(makeInsn(0xbf, R_PTR, R_DATA)); e(makeInsn(0x07, R_PTR, 0, 0, checked));
    exits.push(out.length); e(makeInsn(0x2d, R_PTR, R_END, 0));
  };
  e(makeInsn(0xbf, R_SAVED_CTX, R_CTX));
  loadPacket();
  if (rng.chance(0.98)) e(makeInsn(0xb7, 0, 0, 0, 0));
  for (const r of [4, 5, 7, 8]) {
    if (rng.chance(0.03)) continue; // sometimes left uninitialised
    const k = rng.int(3);
    if (k === 0) e(makeInsn(0xb7, r, 0, 0, imm(rng)));
    else if (k === 1) packetRead(r, R_DATA, 0);
    else e(makeInsn(0x61, r, R_CTX, progType === PROG_XDP ? rng.pick([12, 16, 12, 16, 8]) : rng.pick([0, 4, 8, 16])));
  }
  let loops = 0;
  const n = 4 + rng.int(22);
  for (let k = 0; k < n; k++) {
    const d = rng.pick(SCALARS), s = rng.pick(SCALARS);
    const kind = rng.int(100);
    if (kind < 28) { // scalar ALU, 64 or 32 bit, immediate or register
      const cls = rng.chance(0.35) ? 0x04 : 0x07;
      const op = rng.pick(ALU_OPS);
      const signed = (op === 0x30 || op === 0x90) && rng.chance(0.3) ? 1 : 0; // sdiv/smod
      if (rng.chance(0.4)) e(makeInsn(cls | 0x08 | op, d, s, signed));
      else {
        let k2 = imm(rng);
        if (op === 0x60 || op === 0x70 || op === 0xc0) k2 = rng.chance(0.9) ? rng.int(cls === 0x04 ? 32 : 64) : k2;
        if ((op === 0x30 || op === 0x90) && k2 === 0 && rng.chance(0.8)) k2 = 3; // div by constant 0 is rejected
        e(makeInsn(cls | op, d, 0, signed, k2));
      }
    } else if (kind < 34) { // mov forms: imm, reg, movsx, neg, bswap
      const f = rng.int(6);
      if (f === 0) e(makeInsn(rng.pick([0xb7, 0xb4]), d, 0, 0, imm(rng)));
      else if (f === 1) e(makeInsn(rng.pick([0xbf, 0xbc]), d, s));
      else if (f === 2) e(makeInsn(0xbf, d, s, rng.pick([8, 16, 32]))); // movsx
      else if (f === 3) e(makeInsn(rng.pick([0x87, 0x84]), d));
      else e(makeInsn(rng.pick([0xd4, 0xdc, 0xd7]), d, 0, 0, rng.pick([16, 32, 64])));
    } else if (kind < 50) { // forward branch refining a scalar
      const cls = rng.chance(0.35) ? 0x06 : 0x05;
      const skip = rng.int(4);
      if (rng.chance(0.6)) e(makeInsn(cls | rng.pick(JMP_OPS), d, 0, skip, rng.chance(0.6) ? rng.int(70) : imm(rng)));
      else e(makeInsn(cls | 0x08 | rng.pick(JMP_OPS), d, s, skip));
    } else if (kind < 58) { // fixed-offset packet read, maybe past the checked range
      packetRead(d, R_DATA, rng.chance(0.05) ? 1 + rng.int(4) : 0);
    } else if (kind < 68) { // packet read at data + scalar, bounded (or not) and range-checked (or not)
      const b = rng.int(10);
      if (b < 5) e(makeInsn(0x57, d, 0, 0, (1 << rng.int(7)) - 1));
      else if (b < 9) { exits.push(out.length); e(makeInsn(rng.pick([0x25, 0x35, 0xa5, 0x65]), d, 0, 0, rng.int(100))); }
      e(makeInsn(0xbf, R_PTR, R_DATA)); e(makeInsn(0x0f, R_PTR, d));
      const size = rng.pick([1, 2, 4, 8]);
      if (rng.chance(0.9)) {
        e(makeInsn(0xbf, s, R_PTR)); e(makeInsn(0x07, s, 0, 0, size + rng.int(3)));
        exits.push(out.length); e(makeInsn(0x2d, s, R_END, 0));
      }
      e(makeInsn({ 1: 0x71, 2: 0x69, 4: 0x61, 8: 0x79 }[size]!, s, R_PTR, rng.int(2)));
    } else if (kind < 78) { // stack: store then maybe load, or load something never written
      const off = -8 * (1 + rng.int(8)) + (rng.chance(0.03) ? rng.int(8) : 0);
      const sz = rng.pick([[0x7b, 0x79], [0x63, 0x61], [0x6b, 0x69], [0x73, 0x71]] as const);
      if (rng.chance(0.8)) {
        if (rng.chance(0.2)) e(makeInsn(sz[0] - 0x01, 10, 0, off, imm(rng))); // st imm
        else e(makeInsn(sz[0], 10, rng.chance(0.05) ? R_DATA : s, off));
      }
      if (rng.chance(0.7)) e(makeInsn(rng.pick([0x79, 0x61, 0x69, 0x71]), d, 10, off + (rng.chance(0.95) ? 0 : rng.int(8))));
    } else if (kind < 82) { // spill a packet pointer and use the filled copy
      const off = -8 * (9 + rng.int(4));
      e(makeInsn(0x7b, 10, R_DATA, off));
      e(makeInsn(0x79, R_PTR, 10, off));
      packetRead(d, R_PTR, rng.chance(0.1) ? 1 : 0);
    } else if (kind < 84) { // context reads, valid and not
      const off = progType === PROG_XDP ? rng.pick([0, 4, 8, 12, 16, 20, 24, 2, 28]) : rng.pick([0, 4, 8, 16, 20, 24, 36, 40, 48, 76, 140, 2, 200]);
      e(makeInsn(rng.chance(0.85) ? 0x61 : rng.pick([0x69, 0x71, 0x79]), d, R_CTX, off));
    } else if (kind < 87) { // pointer arithmetic, allowed or not
      e(makeInsn(0xbf, R_PTR, rng.pick([R_DATA, R_DATA, R_END, 10])));
      const op = rng.chance(0.6) ? 0x07 : rng.pick([0x0f, 0x17, 0x1f, 0x27, 0x57, 0x04, 0x77]);
      e(op & 0x08 ? makeInsn(op, R_PTR, s) : makeInsn(op, R_PTR, 0, 0, rng.int(16)));
      if (rng.chance(0.25)) e(makeInsn(0x71, d, R_PTR, 0));
    } else if (kind < 93) { // a helper call clobbers r1-r5 (bpf_get_prandom_u32, bpf_ktime_get_ns)
      e(makeInsn(0x85, 0, 0, 0, rng.pick([5, 7])));
      if (rng.chance(0.9)) { // usually the program restores what the call clobbered
        e(makeInsn(0xbf, R_CTX, R_SAVED_CTX));
        loadPacket();
        e(makeInsn(0xbf, 4, 0)); e(makeInsn(0xb7, 5, 0, 0, imm(rng)));
      }
    } else if (kind < 96 && loops === 0) { // a bounded (or not) counting loop
      loops++;
      e(makeInsn(0xb7, d, 0, 0, 0));
      e(makeInsn(0x07, s === d ? 8 : s, 0, 0, 1));
      e(makeInsn(0x07, d, 0, 0, 1));
      e(makeInsn(rng.chance(0.85) ? 0xa5 : 0x55, d, 0, -3, 2 + rng.int(6)));
    } else if (kind < 97) { // mistakes: write r10, read a never-written register
      if (rng.chance(0.5)) e(makeInsn(0x07, 10, 0, 0, 8)); else e(makeInsn(0xbf, d, rng.pick([1, 2, 3, 9])));
    } else { // atomic add on the stack
      e(makeInsn(0x7b, 10, s, -8));
      e(makeInsn(rng.pick([0xdb, 0xc3]), 10, d, -8, 0x00));
    }
  }
  const exit = out.length;
  if (rng.chance(0.9)) e(makeInsn(0xb7, 0, 0, 0, rng.pick([0, 1, 2, 3])));
  e(makeInsn(0x95));
  for (const at of exits) out[at] = { ...out[at], off: exit - at - 1 };
  // forward branches land inside the program
  out.forEach((insn, pc) => {
    const cls = insn.code & 0x07;
    if ((cls === 5 || cls === 6) && (insn.code & 0xf0) !== 0x80 && (insn.code & 0xf0) !== 0x90 && insn.off > 0 && pc + 1 + insn.off > exit) out[pc] = { ...insn, off: exit - pc - 1 };
  });
  return { progType, insns: out };
}

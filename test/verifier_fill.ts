/*
 * test_verifier.c's .fill_helper generators for the corpus tests whose programs were too large to
 * record (the corpus holds the instructions of the others): bpf_fill_rand_ld_dw() and
 * bpf_fill_scale1()/bpf_fill_scale2(), ported from tools/testing/selftests/bpf/test_verifier.c.
 * Their random immediates come from bpf_semi_rand_get() (bpf_rand.h) over glibc's rand(); the
 * kernel run was seeded with the time, so any seed stands for it: the verdict and the walk do not
 * depend on the values (ld_dw is straight-line code; scale's JEQs compare a u32 with each value).
 */
import type { Insn } from '../src/isa/insn.js';

const MAX_TEST_INSNS = 1_000_000;
const MAX_JMP_SEQ = 8192;
const FUNC_NEST = 7;
const BPF_FUNC_get_prandom_u32 = 7;

/** glibc's rand() after srand(seed): random_r()'s TYPE_3 additive feedback generator, r[i] = r[i-31] + r[i-3]. */
export function glibcRand(seed: number): () => number {
  const r = new Int32Array(34);
  r[0] = seed | 0;
  for (let i = 1; i < 31; i++) {
    // srandom_r(): 16807 * r[i-1] % 2147483647 by Schrage's method
    const hi = Math.trunc(r[i - 1] / 127773), lo = r[i - 1] % 127773;
    const word = 16807 * lo - 2836 * hi;
    r[i] = word < 0 ? word + 2147483647 : word;
  }
  for (let i = 31; i < 34; i++) r[i] = r[i - 31];
  // a ring of the last 34 values; srandom_r() throws away the first 310 outputs
  let at = 0;
  const next = (): number => {
    const v = (r[(at + 3) % 34] + r[(at + 31) % 34]) | 0; // r[i-31] and r[i-3] of the 34 kept
    r[at] = v;
    at = (at + 1) % 34;
    return v >>> 1;
  };
  for (let i = 0; i < 310; i++) next();
  return next;
}

/** bpf_semi_rand_get(): a 64-bit value of one of 39 shapes (runs of ones, sign bits, random bytes), bpf_rand.h's table. */
export function semiRand(rand: () => number): () => bigint {
  const M64 = (1n << 64n) - 1n;
  // bpf_rand_mask(): two rand()s as the low and high halves, masked; bpf_rand_uX(shift): shifted in u64
  const mask = (m: bigint): bigint => (BigInt(rand()) | (BigInt(rand()) << 32n)) & m;
  const u = (bits: number, shift: bigint | number): bigint => (mask((1n << BigInt(bits)) - 1n) << BigInt(shift)) & M64;
  const sh = (): bigint => u(8, 0) % 64n;
  return () => {
    switch (rand() % 39) {
      case 0: return 0x000000ff00000000n | u(8, 0);
      case 1: return 0xffffffff00000000n | u(16, 0);
      case 2: return 0x00000000ffff0000n | u(16, 0);
      case 3: return 0x8000000000000000n | u(32, 0);
      case 4: return 0x00000000f0000000n | u(32, 0);
      case 5: return 0x0000000100000000n | u(24, 0);
      case 6: return 0x800ff00000000000n | u(32, 0);
      case 7: return 0x7fffffff00000000n | u(32, 0);
      case 8: return 0xffffffffffffff00n ^ u(32, 24);
      case 9: return 0xffffffffffffff00n | u(8, 0);
      case 10: return 0x0000000010000000n | u(32, 0);
      case 11: return 0xf000000000000000n | u(8, 0);
      case 12: return 0x0000f00000000000n | u(8, 8);
      case 13: return 0x000000000f000000n | u(8, 16);
      case 14: return 0x0000000000000f00n | u(8, 32);
      case 15: return 0x00fff00000000f00n | u(8, 48);
      case 16: return 0x00007fffffffffffn ^ u(32, 1);
      case 17: return 0xffff800000000000n | u(8, 4);
      case 18: return 0xffff800000000000n | u(8, 20);
      case 19: return (0xffffffc000000000n + 0x80000n) | u(32, 0);
      case 20: return (0xffffffc000000000n - 0x04000000n) | u(32, 0);
      case 21: return u(8, 55) | u(32, 20);
      case 22: return M64 ^ u(8, 3) ^ u(32, 40);
      case 23: return u(8, sh());
      case 24: return u(16, sh());
      case 25: return M64 ^ u(8, sh());
      case 26: return M64 ^ u(40, sh());
      case 27: return 0x0000800000000000n;
      case 28: return 0x8000000000000000n;
      case 29: return 0n;
      case 30: return M64;
      case 31: return u(16, sh());
      case 32: return u(24, sh());
      case 33: return u(32, sh());
      case 34: return u(40, sh());
      case 35: return u(48, sh());
      case 36: return u(56, sh());
      case 37: return u(64, sh());
      default: return u(64, 0);
    }
  };
}

const insn = (code: number, dst: number, src: number, off: number, imm: number): Insn => ({ code, dst, src, off, imm: imm | 0 });
const MOV64_REG = (d: number, s: number): Insn => insn(0xbf, d, s, 0, 0);
const MOV32_IMM = (d: number, imm: number): Insn => insn(0xb4, d, 0, 0, imm);
const MOV64_IMM = (d: number, imm: number): Insn => insn(0xb7, d, 0, 0, imm);
const EXIT = (): Insn => insn(0x95, 0, 0, 0, 0);
const CALL = (id: number): Insn => insn(0x85, 0, 0, 0, id);
const CALL_REL = (off: number): Insn => insn(0x85, 0, 1, 0, off);
const JEQ_IMM = (d: number, imm: number, off: number): Insn => insn(0x15, d, 0, off, imm);
const STX_DW = (d: number, s: number, off: number): Insn => insn(0x7b, d, s, off, 0);

/** bpf_fill_rand_ld_dw(): r0 ^= a random 64-bit immediate, until `len` instructions, then fold the halves. */
export function fillRandLdDw(len: number, next: () => bigint): Insn[] {
  const out: Insn[] = [MOV32_IMM(0, 0)];
  while (out.length < len) {
    const v = next();
    out.push(insn(0x18, 1, 0, 0, Number(BigInt.asIntN(32, v))), insn(0, 0, 0, 0, Number(BigInt.asIntN(32, v >> 32n))));
    out.push(insn(0xaf, 0, 1, 0, 0)); // r0 ^= r1
  }
  out.push(MOV64_REG(1, 0), insn(0x77, 1, 0, 0, 32), insn(0xaf, 0, 1, 0, 0), EXIT());
  return out;
}

/**
 * bpf_fill_scale1() / bpf_fill_scale2(): 8192 `if (prandom == K)` branches over stack stores
 * (in the 8th nested function for scale2), then movs up to the 1M-instruction budget.
 */
function fillScale(nested: boolean, next: () => bigint): Insn[] {
  const out: Insn[] = [];
  if (nested) for (let k = 0; k < FUNC_NEST; k++) out.push(CALL_REL(1), EXIT());
  out.push(MOV64_REG(6, 1));
  const slots = nested ? 64 - 4 * FUNC_NEST : 64;
  for (let k = 1; k <= MAX_JMP_SEQ; k++) {
    out.push(CALL(BPF_FUNC_get_prandom_u32), JEQ_IMM(0, Number(BigInt.asIntN(32, next())), 2), MOV64_REG(1, 10), STX_DW(1, 6, -8 * ((k % slots) + 1)));
  }
  while (out.length < MAX_TEST_INSNS - MAX_JMP_SEQ * 4) out.push(MOV64_IMM(0, 42));
  out.push(EXIT());
  return out;
}

/** Which generator (and its argument, the test's .retval) a corpus test without recorded instructions needs. */
const FILLS: Record<string, (next: () => bigint) => Insn[]> = {
  'ld_dw: xor semi-random 64 bit imms, test 5': (next) => fillRandLdDw(1_000_000 - 6, next),
  'scale: scale test 1': (next) => fillScale(false, next),
  'scale: scale test 2': (next) => fillScale(true, next),
};

/** Whether fillProgram() can generate this test's program. */
export const canFill = (t: { descr: string }): boolean => t.descr in FILLS;

/** The program test_verifier's fill_helper builds for this test (fixed seed), or undefined. */
export function fillProgram(t: { descr: string }, seed = 1): Insn[] | undefined {
  const f = FILLS[t.descr];
  return f?.(semiRand(glibcRand(seed)));
}

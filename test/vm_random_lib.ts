/*
 * The random program generator of vm_random.test.ts and its naive BigInt reference interpreter,
 * shared by the JIT's differential tests (a module of its own: importing a test file would run its
 * tests again in the importing file's process).
 */
import { type Insn, makeInsn, makeLdImm64 } from '../src/isa/insn.js';
import {
  BINARY_ALU_OPS, BPF_ALU, BPF_ALU64, BPF_DIV, BPF_JMP, BPF_JMP32, BPF_K, BPF_MOD, BPF_X, COND_JMP_OPS,
} from '../src/isa/opcodes.js';

const M64 = (1n << 64n) - 1n;
const M32 = 0xffffffffn;
const u64 = (v: bigint): bigint => BigInt.asUintN(64, v);
const s64 = (v: bigint): bigint => BigInt.asIntN(64, v);
const s32 = (v: bigint): bigint => BigInt.asIntN(32, v);
const sx = (v: bigint, bits: number): bigint => BigInt.asIntN(bits, v);

/** Mulberry32: a small seeded PRNG. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const EDGE = [
  0n, 1n, 2n, 31n, 32n, 63n, 64n, 0x7fn, 0x80n, 0xffn, 0x7fffn, 0x8000n, 0x7fffffffn, 0x80000000n, 0xffffffffn,
  0x100000000n, 1n << 63n, M64, u64(-2n), 0x0123456789abcdefn,
];
const IMMS = [0, 1, -1, 2, 7, -7, 31, 32, 63, 0x7fffffff, -0x80000000, 0x1234];

export function generate(rand: () => number, length: number): Insn[] {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  const reg = (): number => Math.floor(rand() * 10); // r0..r9
  const value = (): bigint => (rand() < 0.6 ? pick(EDGE) : u64(BigInt(Math.floor(rand() * 2 ** 32)) << BigInt(Math.floor(rand() * 33)) ^ BigInt(Math.floor(rand() * 2 ** 32))));
  const insns: Insn[] = [];
  for (let r = 0; r < 10; r++) insns.push(...makeLdImm64(r, value()));
  const body: Insn[][] = [];
  for (let n = 0; n < length; n++) {
    const roll = rand();
    const d = reg();
    const s = reg();
    if (roll < 0.45) {
      const cls = rand() < 0.5 ? BPF_ALU64 : BPF_ALU;
      const op = pick(BINARY_ALU_OPS);
      const off = (op === BPF_DIV || op === BPF_MOD) && rand() < 0.5 ? 1 : 0;
      body.push(rand() < 0.5 ? [makeInsn(cls | op | BPF_X, d, s, off, 0)] : [makeInsn(cls | op | BPF_K, d, 0, off, pick(IMMS))]);
    } else if (roll < 0.55) {
      const cls = rand() < 0.5 ? BPF_ALU64 : BPF_ALU;
      const widths = cls === BPF_ALU64 ? [0, 8, 16, 32] : [0, 8, 16];
      body.push(rand() < 0.5 ? [makeInsn(cls | 0xb0 | BPF_X, d, s, pick(widths), 0)] : [makeInsn(cls | 0xb0 | BPF_K, d, 0, 0, pick(IMMS))]);
    } else if (roll < 0.6) {
      body.push([makeInsn(rand() < 0.5 ? 0x87 : 0x84, d)]);
    } else if (roll < 0.67) {
      body.push([makeInsn(pick([0xd4, 0xdc, 0xd7]), d, 0, 0, pick([16, 32, 64]))]);
    } else if (roll < 0.82) {
      const cls = rand() < 0.5 ? BPF_JMP : BPF_JMP32;
      const op = pick(COND_JMP_OPS);
      const skip = Math.floor(rand() * 4);
      body.push(rand() < 0.5 ? [makeInsn(cls | op | BPF_X, d, s, skip, 0)] : [makeInsn(cls | op | BPF_K, d, 0, skip, pick(IMMS))]);
    } else if (roll < 0.92) {
      // store then load back at a random stack offset and size (possibly sign-extending)
      const size = pick([1, 2, 4, 8]);
      const sizeBits = ({ 1: 0x10, 2: 0x08, 4: 0x00, 8: 0x18 } as Record<number, number>)[size];
      const off = -8 * (1 + Math.floor(rand() * 8)) + Math.floor(rand() * (8 - size + 1));
      const signed = size !== 8 && rand() < 0.4;
      body.push([
        rand() < 0.5 ? makeInsn(0x63 | sizeBits, 10, s, off, 0) : makeInsn(0x62 | sizeBits, 10, 0, off, pick(IMMS)),
        makeInsn((signed ? 0x81 : 0x61) | sizeBits, d, 10, off, 0),
      ]);
    } else {
      body.push([makeInsn(0x05, 0, 0, Math.floor(rand() * 3), 0)]); // ja forward
    }
  }
  // Flatten, clamping forward jumps so they stay inside the body (target <= fold start).
  const flat = body.flat();
  for (let i = 0; i < flat.length; i++) {
    const c = flat[i].code;
    const cls = c & 7;
    if ((cls === BPF_JMP || cls === BPF_JMP32) && c !== 0x95) {
      flat[i] = { ...flat[i], off: Math.min(flat[i].off, flat.length - 1 - i) };
    }
  }
  insns.push(...flat);
  // Fold r1..r9 into r0: r0 = r0 * 0x100000001b3 ^ rN
  for (let r = 1; r <= 9; r++) {
    insns.push(makeInsn(0x27, 0, 0, 0, 0x1000193), makeInsn(0xaf, 0, r, 0, 0));
  }
  insns.push(makeInsn(0x95));
  return insns;
}

/** The naive interpreter: BigInt registers, a Map for the stack bytes. */
export function reference(insns: readonly Insn[]): bigint {
  const r: bigint[] = new Array(11).fill(0n);
  const FP = 1n << 40n;
  r[10] = FP;
  const stack = new Map<bigint, number>();
  const load = (addr: bigint, size: number): bigint => {
    let v = 0n;
    for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(stack.get(addr + BigInt(i)) ?? 0);
    return v;
  };
  const store = (addr: bigint, size: number, v: bigint): void => {
    for (let i = 0; i < size; i++) stack.set(addr + BigInt(i), Number((v >> BigInt(8 * i)) & 0xffn));
  };
  let pc = 0;
  for (;;) {
    const { code, dst, src, off, imm } = insns[pc++];
    const cls = code & 7;
    const op = code & 0xf0;
    const isX = (code & 8) !== 0;
    if (code === 0x18) {
      r[dst] = (BigInt(insns[pc].imm >>> 0) << 32n) | BigInt(imm >>> 0);
      pc++;
    } else if (code === 0x95) {
      return r[0];
    } else if (cls === BPF_ALU64 || cls === BPF_ALU) {
      const w64 = cls === BPF_ALU64;
      const mask = w64 ? M64 : M32;
      const sgn = w64 ? s64 : s32;
      const a = r[dst] & mask;
      const b = (isX ? r[src] : u64(BigInt(imm))) & mask;
      const shift = w64 ? 63n : 31n;
      let v: bigint;
      switch (op) {
        case 0x00: v = a + b; break;
        case 0x10: v = a - b; break;
        case 0x20: v = a * b; break;
        case 0x30: v = off === 1 ? (b === 0n ? 0n : sgn(b) === -1n ? -sgn(a) : sgn(a) / sgn(b)) : b === 0n ? 0n : a / b; break;
        case 0x40: v = a | b; break;
        case 0x50: v = a & b; break;
        case 0x60: v = a << (b & shift); break;
        case 0x70: v = a >> (b & shift); break;
        case 0x80: v = -a; break;
        case 0x90: v = off === 1 ? (b === 0n ? a : sgn(b) === -1n ? 0n : sgn(a) % sgn(b)) : b === 0n ? a : a % b; break;
        case 0xa0: v = a ^ b; break;
        case 0xb0: v = isX && off !== 0 ? sx(r[src], off) : b; break;
        case 0xc0: v = sgn(a) >> (b & shift); break;
        case 0xd0: {
          const bits = BigInt(imm);
          const x = r[dst] & ((1n << bits) - 1n);
          // byte swaps produce `bits` bits whatever the class (be64 is an ALU-class insn)
          if (code === 0xd4) {
            r[dst] = x;
            continue;
          }
          let y = 0n;
          for (let i = 0n; i < bits; i += 8n) y = (y << 8n) | ((x >> i) & 0xffn);
          r[dst] = y;
          continue;
        }
        default: throw new Error(`reference: op ${code.toString(16)}`);
      }
      r[dst] = v & mask;
    } else if (cls === BPF_JMP || cls === BPF_JMP32) {
      if (op === 0x00) {
        pc += off;
        continue;
      }
      const w64 = cls === BPF_JMP;
      const mask = w64 ? M64 : M32;
      const sgn = w64 ? s64 : s32;
      const a = r[dst] & mask;
      const b = (isX ? r[src] : u64(BigInt(imm))) & mask;
      const taken = ({
        0x10: a === b, 0x50: a !== b, 0x40: (a & b) !== 0n, 0x20: a > b, 0x30: a >= b, 0xa0: a < b, 0xb0: a <= b,
        0x60: sgn(a) > sgn(b), 0x70: sgn(a) >= sgn(b), 0xc0: sgn(a) < sgn(b), 0xd0: sgn(a) <= sgn(b),
      } as Record<number, boolean>)[op];
      if (taken) pc += off;
    } else if (cls === 0x02 || cls === 0x03) { // st / stx
      const size = ({ 0x10: 1, 0x08: 2, 0x00: 4, 0x18: 8 } as Record<number, number>)[code & 0x18];
      store(r[dst] + BigInt(off), size, cls === 0x02 ? u64(BigInt(imm)) : r[src]);
    } else if (cls === 0x01) { // ldx / ldxsx
      const size = ({ 0x10: 1, 0x08: 2, 0x00: 4, 0x18: 8 } as Record<number, number>)[code & 0x18];
      const v = load(r[src] + BigInt(off), size);
      r[dst] = (code & 0xe0) === 0x80 ? u64(sx(v, size * 8)) : v;
    } else {
      throw new Error(`reference: opcode ${code.toString(16)}`);
    }
  }
}

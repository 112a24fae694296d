/*
 * The synthetic program of the JIT's compile-time bench (bench/run.ts) and of the JIT tests about
 * large programs: ALU, mul, div by register, stack stores and loads, a forward branch per 7 insns.
 */
import { type Insn, makeInsn } from '../src/isa/insn.js';

export function syntheticProgram(n: number, r0 = 0): Insn[] {
  const insns: Insn[] = [makeInsn(0xb7, 0, 0, 0, r0)];
  for (let r = 1; r <= 9; r++) insns.push(makeInsn(0xb7, r, 0, 0, r));
  while (insns.length < n - 1) {
    const i = insns.length;
    const d = i % 10;
    switch (i % 7) {
      case 0: insns.push(makeInsn(0x0f, d, (i * 7) % 10)); break; // add
      case 1: insns.push(makeInsn(0x2f, d, (i * 3) % 10)); break; // mul
      case 2: insns.push(makeInsn(0x7b, 10, d, -8 * (1 + (i % 8)))); break; // stxdw
      case 3: insns.push(makeInsn(0x79, d, 10, -8 * (1 + (i % 8)))); break; // ldxdw
      case 4: insns.push(makeInsn(0x5d, d, (i + 1) % 10, 2)); break; // jne +2
      case 5: insns.push(makeInsn(0x3f, d, (i * 5) % 10)); break; // div
      default: insns.push(makeInsn(0xa7, d, 0, 0, i)); break; // xor
    }
  }
  insns.push(makeInsn(0x95));
  return insns;
}

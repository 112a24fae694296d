/*
 * The kernel's instruction-building macros (include/linux/filter.h: BPF_LDX_MEM, BPF_STX_MEM,
 * BPF_ALU64_IMM, BPF_JMP_IMM, BPF_JMP_A ...), for code that emits instruction sequences as the
 * kernel does (the verifier's rewrites). Sizes are in bytes.
 */
import { type Insn, makeInsn } from './insn.js';
import {
  BPF_ALU, BPF_ALU64, BPF_B, BPF_CALL, BPF_DW, BPF_EXIT, BPF_H, BPF_JA, BPF_JMP, BPF_JMP32, BPF_K,
  BPF_LDX, BPF_MEM, BPF_MOV, BPF_ST, BPF_STX, BPF_W, BPF_X,
} from './opcodes.js';

/** BPF_REG_AX: the scratch register rewrites use (r11, never seen by programs). */
export const BPF_REG_AX = 11;

/** bytes -> BPF_B/H/W/DW. */
export function sizeCode(bytes: number): number {
  const code = ({ 1: BPF_B, 2: BPF_H, 4: BPF_W, 8: BPF_DW } as Record<number, number>)[bytes];
  if (code === undefined) throw new RangeError(`no BPF size of ${bytes} bytes`);
  return code;
}

export const ldxMem = (bytes: number, dst: number, src: number, off: number): Insn => makeInsn(BPF_LDX | BPF_MEM | sizeCode(bytes), dst, src, off);
export const stxMem = (bytes: number, dst: number, src: number, off: number): Insn => makeInsn(BPF_STX | BPF_MEM | sizeCode(bytes), dst, src, off);
export const stMem = (bytes: number, dst: number, off: number, imm: number): Insn => makeInsn(BPF_ST | BPF_MEM | sizeCode(bytes), dst, 0, off, imm);
export const alu64Imm = (op: number, dst: number, imm: number): Insn => makeInsn(BPF_ALU64 | op | BPF_K, dst, 0, 0, imm);
export const alu32Imm = (op: number, dst: number, imm: number): Insn => makeInsn(BPF_ALU | op | BPF_K, dst, 0, 0, imm);
export const alu64Reg = (op: number, dst: number, src: number): Insn => makeInsn(BPF_ALU64 | op | BPF_X, dst, src);
export const alu32Reg = (op: number, dst: number, src: number): Insn => makeInsn(BPF_ALU | op | BPF_X, dst, src);
export const mov64Reg = (dst: number, src: number): Insn => alu64Reg(BPF_MOV, dst, src);
export const mov64Imm = (dst: number, imm: number): Insn => alu64Imm(BPF_MOV, dst, imm);
export const mov32Imm = (dst: number, imm: number): Insn => alu32Imm(BPF_MOV, dst, imm);
/** BPF_MOV64_PERCPU_REG(): dst = &(void __percpu *)(src). */
export const mov64PercpuReg = (dst: number, src: number): Insn => makeInsn(BPF_ALU64 | BPF_MOV | BPF_X, dst, src, -1);
export const jmpImm = (op: number, dst: number, imm: number, off: number): Insn => makeInsn(BPF_JMP | op | BPF_K, dst, 0, off, imm);
export const jmp32Imm = (op: number, dst: number, imm: number, off: number): Insn => makeInsn(BPF_JMP32 | op | BPF_K, dst, 0, off, imm);
export const jmpReg = (op: number, dst: number, src: number, off: number): Insn => makeInsn(BPF_JMP | op | BPF_X, dst, src, off);
/** BPF_JMP_A(off) */
export const jmpA = (off: number): Insn => makeInsn(BPF_JMP | BPF_JA, 0, 0, off);
/** A helper call (imm: helper id, or after the fix-up the callee's displacement). */
export const call = (imm = 0): Insn => makeInsn(BPF_JMP | BPF_CALL, 0, 0, 0, imm);
export const exit = (): Insn => makeInsn(BPF_JMP | BPF_EXIT);

/*
 * Printer for the bpf_conformance assembler dialect (see asm_conformance.ts): one instruction a
 * line, jumps as +N/-N slot displacements, so assembleConformance(formatConformance(x)) gives the
 * same slots back for every instruction the dialect can express. Immediates follow the suite's
 * disassembler (src/bpf_disassembler.cc): small or negative values in decimal, others in hex.
 * What the dialect cannot express (unknown opcodes, stray fields in reserved positions) prints as
 * `unknown 0xNN`, which the assembler refuses rather than silently changing the program.
 */
import { type Insn, isLdImm64, ldImm64Value } from './insn.js';
import {
  ALU_OP_NAMES, BPF_ALU64, BPF_CMPXCHG, BPF_DIV, BPF_FETCH, BPF_JMP32, BPF_MEMSX, BPF_MOD,
  BPF_PSEUDO_CALL, BPF_PSEUDO_KFUNC_CALL, BPF_XCHG, JMP_OP_NAMES, bpfClass, bpfMode, opInfo,
} from './opcodes.js';

const SIZE_NAME: Record<number, string> = { 1: 'b', 2: 'h', 4: 'w', 8: 'dw' };

function reg(r: number): string {
  return `%r${r}`;
}

function imm(v: number): string {
  if ((v < 0 && v !== -0x80000000) || (v >= -10 && v <= 10)) return String(v);
  return '0x' + (v >>> 0).toString(16);
}

function mem(r: number, off: number): string {
  return off === 0 ? `[${reg(r)}]` : `[${reg(r)}${off > 0 ? '+' : ''}${off}]`;
}

function disp(n: number): string {
  return n >= 0 ? `+${n}` : String(n);
}

/** The instruction at slot i in the conformance dialect (ld_imm64 reads the next slot too). */
export function formatConformanceInsn(insns: readonly Insn[], i: number): string {
  const insn = insns[i];
  const info = opInfo(insn.code);
  const unknown = `unknown 0x${insn.code.toString(16).padStart(2, '0')}`;
  if (!info) return unknown;
  const sfx = info.is64 || info.cls === BPF_ALU64 ? '' : '32';
  const { dst, src, off } = insn;
  switch (info.kind) {
    case 'alu': {
      let name = ALU_OP_NAMES[info.op];
      if (off === 1 && info.op === BPF_DIV) name = 'sdiv';
      else if (off === 1 && info.op === BPF_MOD) name = 'smod';
      else if (off !== 0) return unknown;
      return `${name}${sfx} ${reg(dst)}, ${info.srcReg ? reg(src) : imm(insn.imm)}`;
    }
    case 'mov':
      if (info.srcReg && off !== 0) {
        return off === 8 || off === 16 || off === 32
          ? `movsx${off}${info.cls === BPF_ALU64 ? '64' : '32'} ${reg(dst)}, ${reg(src)}` : unknown;
      }
      return `mov${sfx} ${reg(dst)}, ${info.srcReg ? reg(src) : imm(insn.imm)}`;
    case 'neg':
      return `neg${sfx} ${reg(dst)}`;
    case 'end': {
      const name = info.cls === BPF_ALU64 ? 'swap' : info.srcReg ? 'be' : 'le';
      return `${name}${insn.imm} ${reg(dst)}`;
    }
    case 'ja':
      return info.cls === BPF_JMP32 ? `ja32 ${disp(insn.imm)}` : `ja ${disp(off)}`;
    case 'jcond':
      return `${JMP_OP_NAMES[info.op]}${bpfClass(insn.code) === BPF_JMP32 ? '32' : ''} ${reg(dst)}, ` +
        `${info.srcReg ? reg(src) : imm(insn.imm)}, ${disp(off)}`;
    case 'call':
      if (src === BPF_PSEUDO_CALL) return `call local ${disp(insn.imm)}`;
      if (src === BPF_PSEUDO_KFUNC_CALL) return `call runtime ${imm(insn.imm)}`;
      return `call ${imm(insn.imm)}`;
    case 'callx':
      return `call ${reg(dst)}`;
    case 'exit':
      return 'exit';
    case 'lddw':
      return `lddw ${reg(dst)}, 0x${ldImm64Value(insns, i).toString(16)}`;
    case 'ldx':
    case 'ldxsx':
      return `ldx${bpfMode(insn.code) === BPF_MEMSX ? 's' : ''}${SIZE_NAME[info.size]} ${reg(dst)}, ${mem(src, off)}`;
    case 'st':
      return `st${SIZE_NAME[info.size]} ${mem(dst, off)}, ${imm(insn.imm)}`;
    case 'stx':
      return `stx${SIZE_NAME[info.size]} ${mem(dst, off)}, ${reg(src)}`;
    case 'atomic': {
      const w = info.size === 4 ? '32' : '';
      const tail = `${mem(dst, off)}, ${reg(src)}`;
      if (insn.imm === BPF_XCHG) return `lock xchg${w} ${tail}`;
      if (insn.imm === BPF_CMPXCHG) return `lock cmpxchg${w} ${tail}`;
      const base = ALU_OP_NAMES[insn.imm & ~BPF_FETCH];
      if (!['add', 'or', 'and', 'xor'].includes(base)) return unknown;
      return `lock ${insn.imm & BPF_FETCH ? 'fetch ' : ''}${base}${w} ${tail}`;
    }
    default:
      return unknown; // ld_abs/ind, may_goto: not in the dialect
  }
}

/** A whole program, one line per instruction (ld_imm64 takes one line for its two slots). */
export function formatConformance(insns: readonly Insn[]): string {
  const lines: string[] = [];
  for (let i = 0; i < insns.length; i++) {
    lines.push(formatConformanceInsn(insns, i));
    if (isLdImm64(insns[i])) i++;
  }
  return lines.map((l) => l + '\n').join('');
}

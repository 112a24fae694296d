/*
 * The two classic-BPF checkers:
 * - Linux's, as sk_attach_filter() / bpf_prog_create() run it (net/core/filter.c):
 *   bpf_check_basics_ok() (1..BPF_MAXINSNS instructions), bpf_check_classic() (allowed opcodes,
 *   constant division/modulo by 0, constant shifts >= 32, M[] index < 16, jumps inside the
 *   program, ancillary loads only at known SKF_AD_* offsets, last instruction RET) and
 *   check_load_and_stores() (no M[k] read before a write on some path). The kernel answers
 *   -EINVAL without saying why; we say why and name the instruction.
 * - libpcap's bpf_validate() (pcapint_validate_filter() in bpf_filter.c), which userland
 *   programs use: valid opcodes and constants, jumps inside the program (libpcap allows `ja`
 *   backwards, for protochain), RET last.
 */
import { BpfError } from '../errors.js';
import { bpfImage } from './dump.js';
import {
  BPF_ALU, BPF_DIV, BPF_JMP, BPF_K, BPF_LD, BPF_LDX, BPF_LSH, BPF_MAXINSNS, BPF_MEM, BPF_MEMWORDS,
  BPF_MOD, BPF_RET, BPF_RSH, BPF_ST, BPF_STX, type CInsn, SKF_AD_MAX, SKF_AD_OFF, bpfClass,
} from './insn.js';

/** The opcodes chk_code_allowed() lets through (and bpf_convert_filter() can translate). */
export const LINUX_ALLOWED_CODES: ReadonlySet<number> = new Set([
  // 32-bit ALU: add sub mul div mod and or xor lsh rsh with K and X, neg
  0x04, 0x0c, 0x14, 0x1c, 0x24, 0x2c, 0x34, 0x3c, 0x94, 0x9c, 0x54, 0x5c, 0x44, 0x4c, 0xa4, 0xac,
  0x64, 0x6c, 0x74, 0x7c, 0x84,
  // loads: ld [k] (w h b), ld #len, ld [x+k] (w h b), ld #k, ld M[k], ldx #len, ldxb msh, ldx #k, ldx M[k]
  0x20, 0x28, 0x30, 0x80, 0x40, 0x48, 0x50, 0x00, 0x60, 0x81, 0xb1, 0x01, 0x61,
  // st, stx, tax, txa, ret #k, ret a
  0x02, 0x03, 0x07, 0x87, 0x06, 0x16,
  // ja, jeq jge jgt jset with K and X
  0x05, 0x15, 0x1d, 0x35, 0x3d, 0x25, 0x2d, 0x45, 0x4d,
]);

/** The SKF_AD_* offsets bpf_anc_helper() knows. */
export function isKnownAncillary(k: number): boolean {
  const off = (k | 0) - SKF_AD_OFF;
  return (k | 0) >= SKF_AD_OFF && off < SKF_AD_MAX && off % 4 === 0;
}

const isCondJump = (code: number): boolean => bpfClass(code) === BPF_JMP && code !== (BPF_JMP | 0x00);

function where(prog: readonly CInsn[], pc: number): string {
  return `insn ${pc} (${bpfImage(prog[pc], pc).slice(6).replace(/\s+/g, ' ').trim()})`;
}

/**
 * Why the Linux kernel refuses this classic program (it returns -EINVAL), or undefined when it
 * accepts it. The reason names the first offending instruction as `insn N (listing)`.
 */
export function linuxCheckError(prog: readonly CInsn[]): string | undefined {
  const flen = prog.length;
  // bpf_check_basics_ok()
  if (flen === 0) return 'program has no instructions';
  if (flen > BPF_MAXINSNS) return `program has ${flen} instructions, more than BPF_MAXINSNS (${BPF_MAXINSNS})`;
  // bpf_check_classic()
  for (let pc = 0; pc < flen; pc++) {
    const { code, k, jt, jf } = prog[pc];
    if (!LINUX_ALLOWED_CODES.has(code)) return `insn ${pc}: opcode 0x${code.toString(16)} is not allowed`;
    switch (code) {
      case BPF_ALU | BPF_DIV | BPF_K:
      case BPF_ALU | BPF_MOD | BPF_K:
        if (k === 0) return `${where(prog, pc)}: division by zero`;
        break;
      case BPF_ALU | BPF_LSH | BPF_K:
      case BPF_ALU | BPF_RSH | BPF_K:
        if (k >>> 0 >= 32) return `${where(prog, pc)}: shift by ${k >>> 0} is 32 or more`;
        break;
      case BPF_LD | BPF_MEM:
      case BPF_LDX | BPF_MEM:
      case BPF_ST:
      case BPF_STX:
        if (k >>> 0 >= BPF_MEMWORDS) return `${where(prog, pc)}: scratch memory index ${k >>> 0} is out of range (M[0..15])`;
        break;
      case 0x05: // ja
        if (k >>> 0 >= flen - pc - 1) return `${where(prog, pc)}: jump out of range`;
        break;
      case 0x15: case 0x1d: case 0x25: case 0x2d: case 0x35: case 0x3d: case 0x45: case 0x4d:
        if (pc + jt + 1 >= flen || pc + jf + 1 >= flen) return `${where(prog, pc)}: jump out of range`;
        break;
      case 0x20: case 0x28: case 0x30: // ld [k]: ancillary loads must be known
        if (k >>> 0 >= (SKF_AD_OFF >>> 0) && !isKnownAncillary(k)) {
          return `${where(prog, pc)}: unknown ancillary load offset SKF_AD_OFF + ${(k | 0) - SKF_AD_OFF}`;
        }
        break;
    }
  }
  const last = prog[flen - 1].code;
  if (last !== 0x06 && last !== 0x16) return `insn ${flen - 1}: the last instruction must be ret`;
  return checkLoadAndStores(prog);
}

/** check_load_and_stores(): every M[k] read must follow a write of M[k] on all paths. */
function checkLoadAndStores(prog: readonly CInsn[]): string | undefined {
  const flen = prog.length;
  const masks = new Uint16Array(flen).fill(0xffff);
  let memvalid = 0;
  for (let pc = 0; pc < flen; pc++) {
    memvalid &= masks[pc];
    const { code, k, jt, jf } = prog[pc];
    switch (code) {
      case BPF_ST:
      case BPF_STX:
        memvalid |= 1 << k;
        break;
      case BPF_LD | BPF_MEM:
      case BPF_LDX | BPF_MEM:
        if ((memvalid & (1 << k)) === 0) return `${where(prog, pc)}: reads M[${k}] before it is written`;
        break;
      case 0x05:
        masks[pc + 1 + k] &= memvalid;
        memvalid = 0xffff;
        break;
      default:
        if (isCondJump(code)) {
          masks[pc + 1 + jt] &= memvalid;
          masks[pc + 1 + jf] &= memvalid;
          memvalid = 0xffff;
        }
    }
  }
  return undefined;
}

/** As the kernel: throws BpfError EINVAL with the reason when it refuses the program. */
export function linuxCheck(prog: readonly CInsn[]): void {
  const why = linuxCheckError(prog);
  if (why !== undefined) throw new BpfError('EINVAL', `classic BPF program rejected: ${why}`);
}

/** pcapint_valid_insn(): the opcodes and constants libpcap accepts. */
function pcapValidInsnError(insn: CInsn): string | undefined {
  const { code, k } = insn;
  switch (code) {
    case 0x06: case 0x16: case 0x20: case 0x28: case 0x30: case 0x80: case 0x81: case 0x40: case 0x48:
    case 0x50: case 0xb1: case 0x00: case 0x01:
      return undefined;
    case 0x60: case 0x61: case 0x02: case 0x03:
      return k >>> 0 < BPF_MEMWORDS ? undefined : `scratch memory index ${k >>> 0} is out of range`;
    case 0x05: case 0x25: case 0x35: case 0x15: case 0x45: case 0x2d: case 0x3d: case 0x1d: case 0x4d:
    case 0x0c: case 0x1c: case 0x2c: case 0x3c: case 0x9c: case 0x5c: case 0x4c: case 0xac: case 0x6c:
    case 0x7c: case 0x04: case 0x14: case 0x24:
      return undefined;
    case 0x34: case 0x94:
      return k !== 0 ? undefined : 'division by zero';
    case 0x54: case 0x44: case 0xa4:
      return undefined;
    case 0x64: case 0x74:
      return k >>> 0 < 32 ? undefined : `shift by ${k >>> 0} is 32 or more`;
    case 0x84: case 0x07: case 0x87:
      return undefined;
  }
  return `invalid opcode 0x${code.toString(16)}`;
}

/** libpcap's limit on program length in its validator and interpreter. */
const PCAP_VALIDATE_MAXINSNS = 3060000;

/** Why libpcap's bpf_validate() refuses the program, or undefined when it accepts it. */
export function pcapValidateError(prog: readonly CInsn[]): string | undefined {
  const len = prog.length;
  if (len < 1) return 'program has no instructions';
  if (len > PCAP_VALIDATE_MAXINSNS) return `program has ${len} instructions, too many`;
  for (let i = 0; i < len; i++) {
    const p = prog[i];
    const bad = pcapValidInsnError(p);
    if (bad !== undefined) return `insn ${i}: ${bad}`;
    if (bpfClass(p.code) !== BPF_JMP) continue;
    const from = i + 1;
    if (p.code === 0x05) {
      if (((from + p.k) >>> 0) >= len) return `${where(prog, i)}: jump out of range`;
      if ((p.k | 0) === -1) return `${where(prog, i)}: jump to itself`;
    } else if (from + p.jt >= len || from + p.jf >= len) {
      return `${where(prog, i)}: jump out of range`;
    }
  }
  if (bpfClass(prog[len - 1].code) !== BPF_RET) return `insn ${len - 1}: the last instruction must be ret`;
  return undefined;
}

/** libpcap's bpf_validate(): true when the program is acceptable. */
export function bpfValidate(prog: readonly CInsn[]): boolean {
  return pcapValidateError(prog) === undefined;
}

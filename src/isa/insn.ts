/*
 * The eBPF instruction and its 8-byte encoding (RFC 9669 section 3):
 *
 *   byte 0   byte 1            bytes 2-3      bytes 4-7
 *   opcode   src:4 | dst:4     offset (s16)   imm (s32)      little-endian
 *
 * A program is an array of slots, as in the kernel's `struct bpf_insn insns[]`: ld_imm64 takes two
 * slots, the second holding the upper 32 bits of the constant in `imm` with every other field zero.
 * Jump offsets count slots. Decoding checks reserved fields the way the kernel does (the messages
 * are those of resolve_pseudo_ldimm64(), check_alu_op(), do_check_insn() and friends) and names the
 * offending instruction index.
 */
import { BpfError } from '../errors.js';
import {
  ATOMIC_OPS, BPF_ABS, BPF_ADDR_SPACE_CAST, BPF_ALU, BPF_ALU64, BPF_DIV, BPF_INSN_SIZE, BPF_JMP,
  BPF_JMP32, BPF_MOD, BPF_PSEUDO_CALL, BPF_PSEUDO_KFUNC_CALL, BPF_PSEUDO_MAP_IDX_VALUE, MAX_BPF_REG,
  bpfClass, bpfMode, opInfo,
} from './opcodes.js';

export interface Insn {
  /** Opcode byte. */
  code: number;
  /** Destination register 0..15 (valid programs use 0..10). */
  dst: number;
  /** Source register 0..15; for ld_imm64 and call, the pseudo form. */
  src: number;
  /** Signed 16-bit offset. */
  off: number;
  /** Signed 32-bit immediate. */
  imm: number;
}

export function makeInsn(code: number, dst = 0, src = 0, off = 0, imm = 0): Insn {
  return { code: code & 0xff, dst: dst & 0xf, src: src & 0xf, off: (off << 16) >> 16, imm: imm | 0 };
}

/**
 * A copy of `insn` with the fields in `change` replaced (none masked), built as a literal of
 * makeInsn()'s shape: every instruction then shares one V8 hidden class. A spread copy
 * ({ ...insn }) gets a class of its own lineage, and code reading instructions of more than four
 * classes (the decoders, the verifier) does it through megamorphic property loads: decoding a
 * loaded program took ~3x as long.
 */
export function copyInsn(insn: Insn, change?: Partial<Insn>): Insn {
  if (change === undefined) return { code: insn.code, dst: insn.dst, src: insn.src, off: insn.off, imm: insn.imm };
  return {
    code: change.code ?? insn.code, dst: change.dst ?? insn.dst, src: change.src ?? insn.src, off: change.off ?? insn.off, imm: change.imm ?? insn.imm,
  };
}

/** The two slots of `ld_imm64 dst, value` (src = pseudo form, 0 for a plain constant). */
export function makeLdImm64(dst: number, value: bigint, src = 0): [Insn, Insn] {
  const v = BigInt.asUintN(64, value);
  return [
    makeInsn(0x18, dst, src, 0, Number(BigInt.asIntN(32, v))),
    makeInsn(0, 0, 0, 0, Number(BigInt.asIntN(32, v >> 32n))),
  ];
}

/** The 64-bit constant of the ld_imm64 at slot i (unsigned). */
export function ldImm64Value(insns: readonly Insn[], i: number): bigint {
  const lo = BigInt(insns[i].imm >>> 0);
  const hi = BigInt((insns[i + 1]?.imm ?? 0) >>> 0);
  return (hi << 32n) | lo;
}

export function isLdImm64(insn: Insn): boolean {
  return insn.code === 0x18;
}

export function encodeInsn(insn: Insn, out: Uint8Array, offset: number): void {
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  out[offset] = insn.code & 0xff;
  out[offset + 1] = ((insn.src & 0xf) << 4) | (insn.dst & 0xf);
  view.setInt16(offset + 2, insn.off, true);
  view.setInt32(offset + 4, insn.imm, true);
}

export function encodeProgram(insns: readonly Insn[]): Uint8Array {
  const out = new Uint8Array(insns.length * BPF_INSN_SIZE);
  insns.forEach((insn, i) => encodeInsn(insn, out, i * BPF_INSN_SIZE));
  return out;
}

/** Split bytes into slots without checking them (for dumping arbitrary bytes). */
export function decodeSlots(bytes: Uint8Array): Insn[] {
  if (bytes.length % BPF_INSN_SIZE !== 0) {
    throw new BpfError('EINVAL', `program size ${bytes.length} is not a multiple of ${BPF_INSN_SIZE} bytes`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const insns: Insn[] = [];
  for (let off = 0; off < bytes.length; off += BPF_INSN_SIZE) {
    insns.push({
      code: bytes[off],
      dst: bytes[off + 1] & 0xf,
      src: bytes[off + 1] >> 4,
      off: view.getInt16(off + 2, true),
      imm: view.getInt32(off + 4, true),
    });
  }
  return insns;
}

/** Decode and check a program: every slot must be a known, well-formed instruction. */
export function decodeProgram(bytes: Uint8Array): Insn[] {
  const insns = decodeSlots(bytes);
  checkProgram(insns);
  return insns;
}

/**
 * Why the instruction at slot i is malformed, or undefined when it is well formed. Only the
 * encoding is checked (opcode known, reserved fields zero, registers in range, ld_imm64 pairs);
 * whether the program is safe is the verifier's question.
 */
export function insnEncodingError(insns: readonly Insn[], i: number): string | undefined {
  const insn = insns[i];
  const info = opInfo(insn.code);
  if (!info) return `unknown opcode ${hex2(insn.code)}`;
  if (insn.dst >= MAX_BPF_REG) return `R${insn.dst} is invalid`;
  if (insn.src >= MAX_BPF_REG && info.kind !== 'lddw' && info.kind !== 'call') return `R${insn.src} is invalid`;
  const { src, dst, off, imm } = insn;
  const cls = bpfClass(insn.code);
  switch (info.kind) {
    case 'alu':
      // as check_alu_op(): off == 1 selects sdiv/smod
      if ((info.srcReg ? imm !== 0 : src !== 0) || (off !== 0 && off !== 1) ||
          (off === 1 && info.op !== BPF_DIV && info.op !== BPF_MOD)) {
        return 'BPF_ALU uses reserved fields';
      }
      return undefined;
    case 'mov':
      if (!info.srcReg) return src !== 0 || off !== 0 ? 'BPF_MOV uses reserved fields' : undefined;
      if (cls === BPF_ALU64 && off === BPF_ADDR_SPACE_CAST) {
        return imm !== 1 && imm !== 1 << 16
          ? 'addr_space_cast insn can only convert between address space 1 and 0' : undefined;
      }
      if (imm !== 0 || !(off === 0 || off === 8 || off === 16 || (off === 32 && cls === BPF_ALU64))) {
        return 'BPF_MOV uses reserved fields';
      }
      return undefined;
    case 'neg':
      return src !== 0 || off !== 0 || imm !== 0 ? 'BPF_NEG uses reserved fields' : undefined;
    case 'end':
      return src !== 0 || off !== 0 || (imm !== 16 && imm !== 32 && imm !== 64)
        ? 'BPF_END uses reserved fields' : undefined;
    case 'ja':
      return src !== 0 || dst !== 0 || (cls === BPF_JMP && imm !== 0) || (cls === BPF_JMP32 && off !== 0)
        ? 'BPF_JA uses reserved fields' : undefined;
    case 'jcond':
      return (info.srcReg ? imm !== 0 : src !== 0) ? 'BPF_JMP/JMP32 uses reserved fields' : undefined;
    case 'may_goto':
      return src !== 0 || dst !== 0 || imm !== 0 ? `invalid may_goto imm ${imm}` : undefined;
    case 'call':
      if ((src !== BPF_PSEUDO_KFUNC_CALL && off !== 0) || dst !== 0 ||
          (src !== 0 && src !== BPF_PSEUDO_CALL && src !== BPF_PSEUDO_KFUNC_CALL)) {
        return 'BPF_CALL uses reserved fields';
      }
      return undefined;
    case 'callx':
      // RFC 9669 leaves callx out; the conformance suite encodes the target register in dst.
      return src !== 0 || off !== 0 || imm !== 0 ? 'BPF_CALL uses reserved fields' : undefined;
    case 'exit':
      return src !== 0 || dst !== 0 || off !== 0 || imm !== 0 ? 'BPF_EXIT uses reserved fields' : undefined;
    case 'lddw': {
      const next = insns[i + 1];
      if (!next || next.code !== 0 || next.dst !== 0 || next.src !== 0 || next.off !== 0 || off !== 0) {
        return 'invalid bpf_ld_imm64 insn';
      }
      return src > BPF_PSEUDO_MAP_IDX_VALUE ? 'unrecognized bpf_ld_imm64 insn' : undefined;
    }
    case 'ldabs':
    case 'ldind':
      return dst !== 0 || off !== 0 || (bpfMode(insn.code) === BPF_ABS && src !== 0)
        ? 'BPF_LD_[ABS|IND] uses reserved fields' : undefined;
    case 'ldx':
    case 'ldxsx':
      return imm !== 0 ? 'BPF_LDX uses reserved fields' : undefined;
    case 'st':
      return src !== 0 ? 'BPF_ST uses reserved fields' : undefined;
    case 'stx':
      return imm !== 0 ? 'BPF_STX uses reserved fields' : undefined;
    case 'atomic':
      return ATOMIC_OPS.has(imm) ? undefined : `BPF_ATOMIC uses invalid atomic opcode ${hex2(imm)}`;
  }
}

/** Check every slot; throws EINVAL "insn N: reason" for the first malformed one. */
export function checkProgram(insns: readonly Insn[]): void {
  if (insns.length === 0) throw new BpfError('EINVAL', 'program has no instructions');
  for (let i = 0; i < insns.length; i++) {
    const why = insnEncodingError(insns, i);
    if (why) throw new BpfError('EINVAL', `insn ${i}: ${why}`);
    if (isLdImm64(insns[i])) i++;
  }
}

/** ALU/JMP class helpers used by printers and engines. */
export function isAlu32(code: number): boolean {
  return bpfClass(code) === BPF_ALU;
}

function hex2(n: number): string {
  return (n & 0xff).toString(16).padStart(2, '0');
}

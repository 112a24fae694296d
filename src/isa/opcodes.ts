/*
 * The eBPF opcode table (RFC 9669, include/uapi/linux/bpf.h, bpf_common.h).
 *
 * Every other part of bpfkit (decoder, encoder, both disassemblers, both assemblers, the
 * interpreter, and later the verifier and JIT) reads instructions through this one table, so an
 * opcode is described exactly once.
 *
 * The opcode byte:
 *
 *   ALU / JMP classes            load / store classes
 *   +------+---+-----+           +------+------+-----+
 *   |  op  | s | cls |           | mode | size | cls |
 *   +------+---+-----+           +------+------+-----+
 *    7..4   3   2..0              7..5   4..3   2..0
 */

// Instruction classes (BPF_CLASS).
export const BPF_LD = 0x00;
export const BPF_LDX = 0x01;
export const BPF_ST = 0x02;
export const BPF_STX = 0x03;
export const BPF_ALU = 0x04;
export const BPF_JMP = 0x05;
export const BPF_JMP32 = 0x06;
export const BPF_ALU64 = 0x07;

// Load/store sizes (BPF_SIZE).
export const BPF_W = 0x00;
export const BPF_H = 0x08;
export const BPF_B = 0x10;
export const BPF_DW = 0x18;

// Load/store modes (BPF_MODE).
export const BPF_IMM = 0x00;
export const BPF_ABS = 0x20;
export const BPF_IND = 0x40;
export const BPF_MEM = 0x60;
export const BPF_MEMSX = 0x80; // sign-extending loads, cpu v4 (Linux 6.6)
export const BPF_ATOMIC = 0xc0;

// Source operand (BPF_SRC).
export const BPF_K = 0x00;
export const BPF_X = 0x08;
// BPF_END direction shares the source bit.
export const BPF_TO_LE = 0x00;
export const BPF_TO_BE = 0x08;

// ALU operations (BPF_OP).
export const BPF_ADD = 0x00;
export const BPF_SUB = 0x10;
export const BPF_MUL = 0x20;
export const BPF_DIV = 0x30;
export const BPF_OR = 0x40;
export const BPF_AND = 0x50;
export const BPF_LSH = 0x60;
export const BPF_RSH = 0x70;
export const BPF_NEG = 0x80;
export const BPF_MOD = 0x90;
export const BPF_XOR = 0xa0;
export const BPF_MOV = 0xb0;
export const BPF_ARSH = 0xc0;
export const BPF_END = 0xd0;

// Jump operations (BPF_OP).
export const BPF_JA = 0x00;
export const BPF_JEQ = 0x10;
export const BPF_JGT = 0x20;
export const BPF_JGE = 0x30;
export const BPF_JSET = 0x40;
export const BPF_JNE = 0x50;
export const BPF_JSGT = 0x60;
export const BPF_JSGE = 0x70;
export const BPF_CALL = 0x80;
export const BPF_EXIT = 0x90;
export const BPF_JLT = 0xa0;
export const BPF_JLE = 0xb0;
export const BPF_JSLT = 0xc0;
export const BPF_JSLE = 0xd0;
export const BPF_JCOND = 0xe0; // may_goto (Linux 6.9)

// Atomic operations (imm of BPF_STX | BPF_ATOMIC).
export const BPF_FETCH = 0x01;
export const BPF_XCHG = 0xe0 | BPF_FETCH;
export const BPF_CMPXCHG = 0xf0 | BPF_FETCH;

// ld_imm64 src_reg forms (BPF_PSEUDO_*).
export const BPF_PSEUDO_MAP_FD = 1;
export const BPF_PSEUDO_MAP_VALUE = 2;
export const BPF_PSEUDO_BTF_ID = 3;
export const BPF_PSEUDO_FUNC = 4;
export const BPF_PSEUDO_MAP_IDX = 5;
export const BPF_PSEUDO_MAP_IDX_VALUE = 6;

// call src_reg forms.
export const BPF_PSEUDO_CALL = 1;
export const BPF_PSEUDO_KFUNC_CALL = 2;

// movsx offset: arena address-space cast (Linux 6.9), kept so decoding can name it.
export const BPF_ADDR_SPACE_CAST = 1;

export const MAX_BPF_REG = 11; // r0..r10
export const BPF_REG_FP = 10;
export const BPF_INSN_SIZE = 8;
export const MAX_BPF_STACK = 512;
export const MAX_CALL_FRAMES = 8;

export const bpfClass = (code: number): number => code & 0x07;
export const bpfSize = (code: number): number => code & 0x18;
export const bpfMode = (code: number): number => code & 0xe0;
export const bpfOp = (code: number): number => code & 0xf0;
export const bpfSrc = (code: number): number => code & 0x08;

/** What an opcode does, as the rest of bpfkit switches on it. */
export type OpKind =
  | 'alu' // binary ALU op (add..arsh except mov)
  | 'mov' // mov / movsx / addr_space_cast
  | 'neg'
  | 'end' // le/be/bswap
  | 'ja' // goto (JMP: off) / gotol (JMP32: imm)
  | 'jcond' // conditional jump
  | 'may_goto'
  | 'call'
  | 'callx'
  | 'exit'
  | 'lddw' // ld_imm64, two slots
  | 'ldabs'
  | 'ldind'
  | 'ldx'
  | 'ldxsx'
  | 'st'
  | 'stx'
  | 'atomic';

export interface OpInfo {
  readonly code: number;
  readonly kind: OpKind;
  readonly cls: number;
  /** BPF_OP for ALU/JMP classes (BPF_ADD, BPF_JEQ, ...); 0 otherwise. */
  readonly op: number;
  /** Register source (BPF_X) rather than immediate. For 'end': BPF_TO_BE. */
  readonly srcReg: boolean;
  /** 64-bit ALU / JMP (vs 32-bit ALU / JMP32). Loads and stores: false. */
  readonly is64: boolean;
  /** Memory access width in bytes for load/store kinds; 0 otherwise. */
  readonly size: number;
}

export const ALU_OP_NAMES: Record<number, string> = {
  [BPF_ADD]: 'add', [BPF_SUB]: 'sub', [BPF_MUL]: 'mul', [BPF_DIV]: 'div', [BPF_OR]: 'or',
  [BPF_AND]: 'and', [BPF_LSH]: 'lsh', [BPF_RSH]: 'rsh', [BPF_NEG]: 'neg', [BPF_MOD]: 'mod',
  [BPF_XOR]: 'xor', [BPF_MOV]: 'mov', [BPF_ARSH]: 'arsh', [BPF_END]: 'end',
};

export const JMP_OP_NAMES: Record<number, string> = {
  [BPF_JA]: 'ja', [BPF_JEQ]: 'jeq', [BPF_JGT]: 'jgt', [BPF_JGE]: 'jge', [BPF_JSET]: 'jset',
  [BPF_JNE]: 'jne', [BPF_JSGT]: 'jsgt', [BPF_JSGE]: 'jsge', [BPF_CALL]: 'call', [BPF_EXIT]: 'exit',
  [BPF_JLT]: 'jlt', [BPF_JLE]: 'jle', [BPF_JSLT]: 'jslt', [BPF_JSLE]: 'jsle', [BPF_JCOND]: 'jcond',
};

/** Conditional jump ops, in encoding order. */
export const COND_JMP_OPS = [
  BPF_JEQ, BPF_JGT, BPF_JGE, BPF_JSET, BPF_JNE, BPF_JSGT, BPF_JSGE, BPF_JLT, BPF_JLE, BPF_JSLT, BPF_JSLE,
] as const;

/** Binary ALU ops other than mov, in encoding order. */
export const BINARY_ALU_OPS = [
  BPF_ADD, BPF_SUB, BPF_MUL, BPF_DIV, BPF_OR, BPF_AND, BPF_LSH, BPF_RSH, BPF_MOD, BPF_XOR, BPF_ARSH,
] as const;

/** Atomic op immediates accepted for BPF_STX | BPF_ATOMIC (W and DW), as check_atomic(). */
export const ATOMIC_OPS: ReadonlySet<number> = new Set([
  BPF_ADD, BPF_OR, BPF_AND, BPF_XOR,
  BPF_ADD | BPF_FETCH, BPF_OR | BPF_FETCH, BPF_AND | BPF_FETCH, BPF_XOR | BPF_FETCH,
  BPF_XCHG, BPF_CMPXCHG,
]);

export const SIZE_BYTES: Record<number, number> = { [BPF_B]: 1, [BPF_H]: 2, [BPF_W]: 4, [BPF_DW]: 8 };
export const SIZE_OF_BYTES: Record<number, number> = { 1: BPF_B, 2: BPF_H, 4: BPF_W, 8: BPF_DW };

function buildTable(): (OpInfo | undefined)[] {
  const table: (OpInfo | undefined)[] = new Array(256).fill(undefined);
  const add = (code: number, kind: OpKind, extra: Partial<OpInfo> = {}): void => {
    table[code] = {
      code, kind, cls: bpfClass(code), op: 0, srcReg: false, is64: false, size: 0, ...extra,
    };
  };
  for (const cls of [BPF_ALU, BPF_ALU64]) {
    const is64 = cls === BPF_ALU64;
    for (const op of BINARY_ALU_OPS) {
      add(cls | op | BPF_K, 'alu', { op, is64 });
      add(cls | op | BPF_X, 'alu', { op, is64, srcReg: true });
    }
    add(cls | BPF_MOV | BPF_K, 'mov', { op: BPF_MOV, is64 });
    add(cls | BPF_MOV | BPF_X, 'mov', { op: BPF_MOV, is64, srcReg: true });
    add(cls | BPF_NEG | BPF_K, 'neg', { op: BPF_NEG, is64 });
  }
  // Byte swaps: ALU le/be (0xd4/0xdc) and the unconditional ALU64 bswap (0xd7, cpu v4).
  add(BPF_ALU | BPF_END | BPF_TO_LE, 'end', { op: BPF_END });
  add(BPF_ALU | BPF_END | BPF_TO_BE, 'end', { op: BPF_END, srcReg: true });
  add(BPF_ALU64 | BPF_END | BPF_TO_LE, 'end', { op: BPF_END, is64: true });

  for (const cls of [BPF_JMP, BPF_JMP32]) {
    const is64 = cls === BPF_JMP;
    for (const op of COND_JMP_OPS) {
      add(cls | op | BPF_K, 'jcond', { op, is64 });
      add(cls | op | BPF_X, 'jcond', { op, is64, srcReg: true });
    }
    add(cls | BPF_JA | BPF_K, 'ja', { op: BPF_JA, is64 });
  }
  add(BPF_JMP | BPF_CALL | BPF_K, 'call', { op: BPF_CALL, is64: true });
  add(BPF_JMP | BPF_CALL | BPF_X, 'callx', { op: BPF_CALL, is64: true, srcReg: true });
  add(BPF_JMP | BPF_EXIT | BPF_K, 'exit', { op: BPF_EXIT, is64: true });
  add(BPF_JMP | BPF_JCOND | BPF_K, 'may_goto', { op: BPF_JCOND, is64: true });

  add(BPF_LD | BPF_IMM | BPF_DW, 'lddw', { size: 8 });
  for (const size of [BPF_B, BPF_H, BPF_W]) {
    add(BPF_LD | BPF_ABS | size, 'ldabs', { size: SIZE_BYTES[size] });
    add(BPF_LD | BPF_IND | size, 'ldind', { size: SIZE_BYTES[size] });
    add(BPF_LDX | BPF_MEMSX | size, 'ldxsx', { size: SIZE_BYTES[size] });
  }
  for (const size of [BPF_B, BPF_H, BPF_W, BPF_DW]) {
    add(BPF_LDX | BPF_MEM | size, 'ldx', { size: SIZE_BYTES[size] });
    add(BPF_ST | BPF_MEM | size, 'st', { size: SIZE_BYTES[size] });
    add(BPF_STX | BPF_MEM | size, 'stx', { size: SIZE_BYTES[size] });
  }
  add(BPF_STX | BPF_ATOMIC | BPF_W, 'atomic', { size: 4 });
  add(BPF_STX | BPF_ATOMIC | BPF_DW, 'atomic', { size: 8 });
  return table;
}

/** OPCODES[code] describes every opcode bpfkit knows; undefined means "unknown opcode". */
export const OPCODES: readonly (OpInfo | undefined)[] = buildTable();

export function opInfo(code: number): OpInfo | undefined {
  return OPCODES[code & 0xff];
}

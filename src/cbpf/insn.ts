/*
 * Classic BPF (the BSD Packet Filter, Linux's struct sock_filter): the instruction model shared
 * by the filter compiler (filter/), the checker, interpreter, bpf_asm and the cBPF -> eBPF
 * converter. Constants follow include/uapi/linux/filter.h and bpf_common.h.
 *
 *   struct sock_filter { u16 code; u8 jt; u8 jf; u32 k; }
 */

export interface CInsn {
  /** 16-bit opcode (classic codes fit in 8 bits; the upper byte must be 0). */
  code: number;
  /** Jump-if-true offset (0..255), relative to the next instruction. */
  jt: number;
  /** Jump-if-false offset (0..255). */
  jf: number;
  /** 32-bit constant, unsigned (0..0xffffffff). */
  k: number;
}

export function cinsn(code: number, k = 0, jt = 0, jf = 0): CInsn {
  return { code, jt, jf, k: k >>> 0 };
}

// Classes.
export const BPF_LD = 0x00;
export const BPF_LDX = 0x01;
export const BPF_ST = 0x02;
export const BPF_STX = 0x03;
export const BPF_ALU = 0x04;
export const BPF_JMP = 0x05;
export const BPF_RET = 0x06;
export const BPF_MISC = 0x07;

// Sizes.
export const BPF_W = 0x00;
export const BPF_H = 0x08;
export const BPF_B = 0x10;

// Modes.
export const BPF_IMM = 0x00;
export const BPF_ABS = 0x20;
export const BPF_IND = 0x40;
export const BPF_MEM = 0x60;
export const BPF_LEN = 0x80;
export const BPF_MSH = 0xa0;

// ALU ops.
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

// Jumps.
export const BPF_JA = 0x00;
export const BPF_JEQ = 0x10;
export const BPF_JGT = 0x20;
export const BPF_JGE = 0x30;
export const BPF_JSET = 0x40;

// Sources (ALU/JMP: K or X; RET: K, X or A).
export const BPF_K = 0x00;
export const BPF_X = 0x08;
export const BPF_A = 0x10;

// MISC.
export const BPF_TAX = 0x00;
export const BPF_TXA = 0x80;

/** Scratch memory words M[0..15]. */
export const BPF_MEMWORDS = 16;
/** Linux's limit on filter length (BPF_MAXINSNS). */
export const BPF_MAXINSNS = 4096;

// Linux ancillary loads: BPF_LD | BPF_ABS (size W/H/B) at SKF_AD_OFF + SKF_AD_*.
export const SKF_AD_OFF = -0x1000;
export const SKF_AD_PROTOCOL = 0;
export const SKF_AD_PKTTYPE = 4;
export const SKF_AD_IFINDEX = 8;
export const SKF_AD_NLATTR = 12;
export const SKF_AD_NLATTR_NEST = 16;
export const SKF_AD_MARK = 20;
export const SKF_AD_QUEUE = 24;
export const SKF_AD_HATYPE = 28;
export const SKF_AD_RXHASH = 32;
export const SKF_AD_CPU = 36;
export const SKF_AD_ALU_XOR_X = 40;
export const SKF_AD_VLAN_TAG = 44;
export const SKF_AD_VLAN_TAG_PRESENT = 48;
export const SKF_AD_PAY_OFFSET = 52;
export const SKF_AD_RANDOM = 56;
export const SKF_AD_VLAN_TPID = 60;
export const SKF_AD_MAX = 64;
/** Packet-relative bases for negative offsets. */
export const SKF_NET_OFF = -0x100000;
export const SKF_LL_OFF = -0x200000;

export const bpfClass = (code: number): number => code & 0x07;
export const bpfSize = (code: number): number => code & 0x18;
export const bpfMode = (code: number): number => code & 0xe0;
export const bpfOp = (code: number): number => code & 0xf0;
export const bpfSrc = (code: number): number => code & 0x08;
export const bpfRval = (code: number): number => code & 0x18;
export const bpfMiscOp = (code: number): number => code & 0xf8;

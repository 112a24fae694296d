/*
 * Classic BPF listings as libpcap prints them (bpf_image.c, bpf_dump.c), which is what
 * `tcpdump -d / -dd / -ddd` shows:
 *
 *   -d    (000) ldh      [12]
 *         (001) jeq      #0x800           jt 2	jf 5
 *   -dd   { 0x28, 0, 0, 0x0000000c },
 *   -ddd  count line, then `40 0 0 12` per instruction
 *
 * plus the reverse: reading `-ddd` text or tc's `N,c t f k,c t f k,...` strings back into
 * instructions. Formats follow libpcap 1.10 (C printf: `%d` of the unsigned k prints it signed).
 */
import { BpfError } from '../errors.js';
import {
  BPF_A, BPF_ABS, BPF_ADD, BPF_ALU, BPF_AND, BPF_B, BPF_DIV, BPF_H, BPF_IMM, BPF_IND, BPF_JA, BPF_JEQ,
  BPF_JGE, BPF_JGT, BPF_JMP, BPF_JSET, BPF_K, BPF_LD, BPF_LDX, BPF_LEN, BPF_LSH, BPF_MEM, BPF_MISC,
  BPF_MOD, BPF_MSH, BPF_MUL, BPF_NEG, BPF_OR, BPF_RET, BPF_RSH, BPF_ST, BPF_STX, BPF_SUB, BPF_TAX,
  BPF_TXA, BPF_W, BPF_X, BPF_XOR, type CInsn, SKF_AD_MAX, SKF_AD_OFF, bpfClass, bpfOp,
} from './insn.js';

/** Symbolic names libpcap's bpf_image() gives the Linux ancillary offsets (index SKF_AD_*). */
export const SKF_AD_IMAGE_NAMES: Readonly<Record<number, string>> = {
  0: 'proto', 4: 'type', 8: 'ifidx', 12: 'nla', 16: 'nlan', 20: 'mark', 24: 'queue', 28: 'hatype',
  32: 'rxhash', 36: 'cpu', 40: 'xor_x', 44: 'vlan_tci', 48: 'vlanp', 52: 'poff', 56: 'random',
  60: 'vlan_tpid',
};

const ALU_NAMES: Record<number, string> = {
  [BPF_ADD]: 'add', [BPF_SUB]: 'sub', [BPF_MUL]: 'mul', [BPF_DIV]: 'div', [BPF_MOD]: 'mod',
  [BPF_AND]: 'and', [BPF_OR]: 'or', [BPF_XOR]: 'xor', [BPF_LSH]: 'lsh', [BPF_RSH]: 'rsh',
};
/** ALU ops whose constant bpf_image() prints in hex (the others print `#%d`). */
const ALU_HEX = new Set([BPF_AND, BPF_OR, BPF_XOR]);
const JMP_NAMES: Record<number, string> = { [BPF_JGT]: 'jgt', [BPF_JGE]: 'jge', [BPF_JEQ]: 'jeq', [BPF_JSET]: 'jset' };
const SIZE_SUFFIX: Record<number, string> = { [BPF_W]: '', [BPF_H]: 'h', [BPF_B]: 'b' };

const hex = (v: number): string => (v >>> 0).toString(16);
const sdec = (v: number): string => String(v | 0);

function absOperand(k: number): string {
  const off = (k | 0) - SKF_AD_OFF;
  if ((k | 0) >= SKF_AD_OFF && off < SKF_AD_MAX && SKF_AD_IMAGE_NAMES[off] !== undefined) return `[${SKF_AD_IMAGE_NAMES[off]}]`;
  return `[${sdec(k)}]`;
}

/** Mnemonic and operand of one instruction as bpf_image() names them (`unimp` for unknown codes). */
export function bpfImageParts(insn: CInsn, n: number): { op: string; operand: string } {
  const { code, k } = insn;
  switch (code) {
    case BPF_RET | BPF_K: return { op: 'ret', operand: `#${sdec(k)}` };
    case BPF_RET | BPF_A: return { op: 'ret', operand: '' };
    case BPF_LD | BPF_W | BPF_ABS: case BPF_LD | BPF_H | BPF_ABS: case BPF_LD | BPF_B | BPF_ABS:
      return { op: `ld${SIZE_SUFFIX[code & 0x18]}`, operand: absOperand(k) };
    case BPF_LD | BPF_W | BPF_LEN: return { op: 'ld', operand: '#pktlen' };
    case BPF_LDX | BPF_W | BPF_LEN: return { op: 'ldx', operand: '#pktlen' };
    case BPF_LD | BPF_W | BPF_IND: case BPF_LD | BPF_H | BPF_IND: case BPF_LD | BPF_B | BPF_IND:
      return { op: `ld${SIZE_SUFFIX[code & 0x18]}`, operand: `[x + ${sdec(k)}]` };
    case BPF_LD | BPF_IMM: return { op: 'ld', operand: `#0x${hex(k)}` };
    case BPF_LDX | BPF_IMM: return { op: 'ldx', operand: `#0x${hex(k)}` };
    case BPF_LDX | BPF_MSH | BPF_B: return { op: 'ldxb', operand: `4*([${sdec(k)}]&0xf)` };
    case BPF_LD | BPF_MEM: return { op: 'ld', operand: `M[${sdec(k)}]` };
    case BPF_LDX | BPF_MEM: return { op: 'ldx', operand: `M[${sdec(k)}]` };
    case BPF_ST: return { op: 'st', operand: `M[${sdec(k)}]` };
    case BPF_STX: return { op: 'stx', operand: `M[${sdec(k)}]` };
    case BPF_JMP | BPF_JA: return { op: 'ja', operand: sdec(n + 1 + k) };
    case BPF_ALU | BPF_NEG: return { op: 'neg', operand: '' };
    case BPF_MISC | BPF_TAX: return { op: 'tax', operand: '' };
    case BPF_MISC | BPF_TXA: return { op: 'txa', operand: '' };
  }
  const op = bpfOp(code);
  if ((code & ~0xf8) === BPF_JMP && JMP_NAMES[op] !== undefined) {
    return { op: JMP_NAMES[op], operand: (code & BPF_X) !== 0 ? 'x' : `#0x${hex(k)}` };
  }
  if ((code & ~0xf8) === BPF_ALU && ALU_NAMES[op] !== undefined) {
    if ((code & BPF_X) !== 0) return { op: ALU_NAMES[op], operand: 'x' };
    return { op: ALU_NAMES[op], operand: ALU_HEX.has(op) ? `#0x${hex(k)}` : `#${sdec(k)}` };
  }
  return { op: 'unimp', operand: `0x${hex(code)}` };
}

/** One line of `tcpdump -d`, exactly as libpcap's bpf_image(p, n). */
export function bpfImage(insn: CInsn, n: number): string {
  const { op, operand } = bpfImageParts(insn, n);
  const num = String(n).padStart(3, '0');
  if (bpfClass(insn.code) === BPF_JMP && bpfOp(insn.code) !== BPF_JA) {
    return `(${num}) ${op.padEnd(8)} ${operand.padEnd(16)} jt ${n + 1 + insn.jt}\tjf ${n + 1 + insn.jf}`;
  }
  return `(${num}) ${op.padEnd(8)} ${operand}`;
}

/**
 * The text of libpcap's bpf_dump(prog, option): 1 = `-d`, 2 = `-dd`, 3 or more = `-ddd`.
 * Every line ends with a newline.
 */
export function bpfDump(prog: readonly CInsn[], option: number): string {
  const out: string[] = [];
  if (option > 2) {
    out.push(`${prog.length}\n`);
    for (const i of prog) out.push(`${i.code} ${i.jt} ${i.jf} ${i.k >>> 0}\n`);
  } else if (option > 1) {
    for (const i of prog) out.push(`{ 0x${hex(i.code)}, ${i.jt}, ${i.jf}, 0x${hex(i.k).padStart(8, '0')} },\n`);
  } else {
    prog.forEach((insn, n) => out.push(bpfImage(insn, n) + '\n'));
  }
  return out.join('');
}

/** `tcpdump -d` text. */
export const dumpImage = (prog: readonly CInsn[]): string => bpfDump(prog, 1);
/** `tcpdump -dd` text (a C array body). */
export const dumpC = (prog: readonly CInsn[]): string => bpfDump(prog, 2);
/** `tcpdump -ddd` text (count, then decimal `code jt jf k` lines). */
export const dumpDecimal = (prog: readonly CInsn[]): string => bpfDump(prog, 3);

function parseU(word: string, max: number, what: string, where: string): number {
  const v = /^0x[0-9a-f]+$/i.test(word) ? parseInt(word, 16) : /^[0-9]+$/.test(word) ? Number(word) : NaN;
  if (!Number.isFinite(v) || v > max) throw new BpfError('EINVAL', `${where}: invalid ${what} '${word}'`);
  return v;
}

/**
 * Read classic bytecode in the forms tools exchange: `tcpdump -ddd` output (count line, then one
 * `code jt jf k` per line) or tc / bpf_asm's `N,code jt jf k,code jt jf k,...` (a trailing comma
 * is allowed). The count must match the instructions that follow.
 */
export function parseBytecode(text: string): CInsn[] {
  const trimmed = text.trim();
  const records = trimmed.includes(',')
    ? trimmed.split(',').map((s) => s.trim()).filter((s, i, a) => s !== '' || i !== a.length - 1)
    : trimmed.split(/\r?\n/).map((s) => s.trim()).filter((s) => s !== '');
  if (records.length === 0 || records[0] === '') throw new BpfError('EINVAL', 'bytecode: empty input');
  const count = parseU(records[0], 0xffff, 'instruction count', 'bytecode');
  const body = records.slice(1);
  if (body.length !== count) {
    throw new BpfError('EINVAL', `bytecode: count says ${count} instructions, found ${body.length}`);
  }
  return body.map((rec, i) => {
    const words = rec.split(/\s+/);
    const where = `bytecode instruction ${i}`;
    if (words.length !== 4) throw new BpfError('EINVAL', `${where}: expected 'code jt jf k', got '${rec}'`);
    return {
      code: parseU(words[0], 0xffff, 'code', where),
      jt: parseU(words[1], 0xff, 'jt', where),
      jf: parseU(words[2], 0xff, 'jf', where),
      k: parseU(words[3], 0xffffffff, 'k', where) >>> 0,
    };
  });
}

/** Encode as `struct sock_filter[]` bytes (little-endian code, jt, jf, k), as setsockopt takes. */
export function encodeCbpf(prog: readonly CInsn[]): Uint8Array {
  const out = new Uint8Array(prog.length * 8);
  const dv = new DataView(out.buffer);
  prog.forEach((insn, i) => {
    dv.setUint16(i * 8, insn.code, true);
    out[i * 8 + 2] = insn.jt;
    out[i * 8 + 3] = insn.jf;
    dv.setUint32(i * 8 + 4, insn.k >>> 0, true);
  });
  return out;
}

/** Decode `struct sock_filter[]` bytes. */
export function decodeCbpf(bytes: Uint8Array): CInsn[] {
  if (bytes.length % 8 !== 0) throw new BpfError('EINVAL', `classic program size ${bytes.length} is not a multiple of 8 bytes`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const prog: CInsn[] = [];
  for (let o = 0; o < bytes.length; o += 8) {
    prog.push({ code: dv.getUint16(o, true), jt: bytes[o + 2], jf: bytes[o + 3], k: dv.getUint32(o + 4, true) });
  }
  return prog;
}

/**
 * libpcap filtertest's `_enumerate_bpf_image` listing (the accept test of every opcode
 * bpf_image() can print), as the test data in libpcap master has it: every 16-bit code that is
 * not `unimp`, RET codes last, k = 15, jt = 1, jf = 0, each line `%-50s; 0x%04x`.
 */
export function enumerateBpfImage(): string {
  const codes: number[] = [];
  for (let code = 0; code <= 0xffff; code++) {
    if (bpfImageParts({ code, jt: 1, jf: 0, k: 15 }, 0).op !== 'unimp') codes.push(code);
  }
  const ordered = [...codes.filter((c) => bpfClass(c) !== BPF_RET), ...codes.filter((c) => bpfClass(c) === BPF_RET)];
  return ordered.map((code, n) => `${bpfImage({ code, jt: 1, jf: 0, k: 15 }, n).padEnd(50)}; 0x${code.toString(16).padStart(4, '0')}\n`).join('');
}

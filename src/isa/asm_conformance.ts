/*
 * Assembler for the bpf_conformance dialect: the `-- asm` sections of the suite's .data files
 * (github Alan-Jowett/bpf_conformance, src/bpf_assembler.cc), as uBPF and rbpf also read it.
 *
 *   mov32 %r0, 1          ldxb %r0, [%r1+2]        stxdw [%r10-8], %r1     lddw %r0, 0x1122..
 *   jeq %r1, 0, +2        jne32 %r1, %r2, label    ja label / ja32 label   call 5 / call %r2
 *   call local f          lock fetch add [%r1+0], %r2                       be16 %r0 / swap64 %r0
 *   sdiv/smod (off=1)     movsx1632 %r0, %r1       ldxsb %r0, [%r10-1]     # comments
 *
 * One instruction a line; `NAME:` defines a label (an instruction may follow it on the line); the
 * first `exit` is also the implicit label `exit`, as in the reference assembler. Unlike the
 * reference, which truncates silently, out-of-range numbers and registers above r10 are refused:
 * every error is a parseError() with line:column.
 */
import { parseError } from '../errors.js';
import { type Insn, makeInsn, makeLdImm64 } from './insn.js';
import {
  BPF_ALU, BPF_ALU64, BPF_ATOMIC, BPF_CALL, BPF_CMPXCHG, BPF_DW, BPF_END, BPF_EXIT, BPF_FETCH,
  BPF_JA, BPF_JMP, BPF_JMP32, BPF_K, BPF_LDX, BPF_MEM, BPF_MEMSX, BPF_MOV, BPF_NEG, BPF_ST,
  BPF_STX, BPF_TO_BE, BPF_TO_LE, BPF_W, BPF_X, BPF_XCHG, BPF_PSEUDO_CALL, BPF_PSEUDO_KFUNC_CALL,
  BPF_ADD, BPF_AND, BPF_OR, BPF_XOR, SIZE_OF_BYTES, BINARY_ALU_OPS, ALU_OP_NAMES, COND_JMP_OPS,
  JMP_OP_NAMES, BPF_DIV, BPF_MOD,
} from './opcodes.js';

/** An operand with the column (1-based) where it starts. */
interface Operand {
  text: string;
  col: number;
}

interface Line {
  line: number;
  mnemonic: Operand;
  /** Words after the mnemonic that are not comma separated (`lock fetch add`, `call local`). */
  operands: Operand[];
}

/** A jump or call whose target is a label, fixed once every label is known. */
interface Fixup {
  slot: number;
  label: Operand;
  line: number;
  /** Where the displacement goes: off (jumps) or imm (ja32, call local). */
  field: 'off' | 'imm';
}

const SIZE_SUFFIX: Record<string, number> = { b: 1, h: 2, w: 4, dw: 8 };

const ALU_BY_NAME = new Map<string, number>(BINARY_ALU_OPS.map((op) => [ALU_OP_NAMES[op], op]));
const JMP_BY_NAME = new Map<string, number>(COND_JMP_OPS.map((op) => [JMP_OP_NAMES[op], op]));
const ATOMIC_BY_NAME: Record<string, number> = { add: BPF_ADD, or: BPF_OR, and: BPF_AND, xor: BPF_XOR };

const INT32_MIN = -(2n ** 31n);
const INT32_MAX = 2n ** 31n - 1n;
const UINT32_MAX = 2n ** 32n - 1n;

/** Assemble a program in the bpf_conformance dialect into instruction slots. */
export function assembleConformance(source: string, fileName?: string): Insn[] {
  return new ConformanceAssembler(fileName).assemble(source);
}

class ConformanceAssembler {
  private readonly file: string | undefined;
  private readonly insns: Insn[] = [];
  private readonly labels = new Map<string, number>();
  private readonly fixups: Fixup[] = [];
  private line = 0;

  constructor(file: string | undefined) {
    this.file = file;
  }

  private error(message: string, col: number, line = this.line): Error {
    return parseError(message, line, col, this.file);
  }

  assemble(source: string): Insn[] {
    const lines = source.split(/\r?\n/);
    let exitSeen = false;
    for (let i = 0; i < lines.length; i++) {
      this.line = i + 1;
      const parsed = this.splitLine(lines[i]);
      if (!parsed) continue;
      if (parsed.mnemonic.text === 'exit' && !exitSeen && !this.labels.has('exit')) {
        // the reference assembler names the first exit `exit`, so `jne %r0, %r1, exit` works
        this.labels.set('exit', this.insns.length);
        exitSeen = true;
      }
      this.encode(parsed);
    }
    for (const f of this.fixups) {
      const target = this.labels.get(f.label.text);
      if (target === undefined) throw this.error(`Invalid label: ${f.label.text}`, f.label.col, f.line);
      const disp = target - f.slot - 1;
      if (f.field === 'off') {
        if (disp < -32768 || disp > 32767) throw this.error(`jump to ${f.label.text} out of range`, f.label.col, f.line);
        this.insns[f.slot].off = disp;
      } else {
        this.insns[f.slot].imm = disp;
      }
    }
    return this.insns;
  }

  /** Labels, mnemonic and operands of one line, or undefined for a blank/comment line. */
  private splitLine(raw: string): Line | undefined {
    let text = raw;
    const hash = text.indexOf('#');
    if (hash >= 0) text = text.slice(0, hash);
    let pos = 0;
    const skipSpace = (): void => {
      while (pos < text.length && /\s/.test(text[pos])) pos++;
    };
    skipSpace();
    // labels: NAME: (possibly followed by an instruction)
    for (;;) {
      const m = /^([A-Za-z_.$][\w.$]*)\s*:/.exec(text.slice(pos));
      if (!m) break;
      const name = m[1];
      if (this.labels.has(name) && name !== 'exit') {
        throw this.error(`Duplicate label: ${name}`, pos + 1);
      }
      this.labels.set(name, this.insns.length);
      pos += m[0].length;
      skipSpace();
    }
    if (pos >= text.length) return undefined;
    const start = pos;
    while (pos < text.length && !/[\s,]/.test(text[pos])) pos++;
    const mnemonic = { text: text.slice(start, pos), col: start + 1 };
    const operands: Operand[] = [];
    skipSpace();
    // Leading bare words (lock fetch add / call local) are separated by spaces; the rest by commas.
    while (pos < text.length) {
      const opStart = pos;
      let depth = 0;
      while (pos < text.length && (depth > 0 || text[pos] !== ',')) {
        if (text[pos] === '[') depth++;
        else if (text[pos] === ']') depth--;
        pos++;
      }
      const piece = text.slice(opStart, pos);
      if (piece.trim() === '') throw this.error('Empty operand', opStart + 1);
      // a piece may hold several space separated words (`fetch add [%r1+0]`, `local f`)
      for (const w of piece.matchAll(/\[[^\]]*\]?|[^\s[]+/g)) {
        operands.push({ text: w[0], col: opStart + w.index + 1 });
      }
      if (pos < text.length) {
        pos++; // comma
        skipSpace();
        if (pos >= text.length) throw this.error('Empty operand', pos + 1);
      }
    }
    return { line: this.line, mnemonic, operands };
  }

  private expectCount(l: Line, n: number, what = l.mnemonic.text): void {
    if (l.operands.length !== n) {
      const col = l.operands[n]?.col ?? l.mnemonic.col;
      throw this.error(`Invalid number of operands for ${what}: expected ${n}, got ${l.operands.length}`, col);
    }
  }

  private reg(o: Operand): number {
    const m = /^%r(\d+)$/.exec(o.text);
    if (!m || Number(m[1]) > 10 || (m[1].length > 1 && m[1][0] === '0')) {
      throw this.error(`Invalid register: ${o.text}`, o.col);
    }
    return Number(m[1]);
  }

  private isReg(o: Operand): boolean {
    return o.text.startsWith('%');
  }

  /** A signed or hex number; decimal must fit `min..max`, hex `min..hexMax` (hex may be a bit pattern). */
  private num(o: Operand, text: string, min: bigint, max: bigint, hexMax: bigint, what: string): bigint {
    const m = /^([+-]?)(0x[0-9a-fA-F]+|[0-9]+)$/.exec(text);
    if (!m) throw this.error(`Invalid ${what}: ${text}`, o.col);
    const hex = m[2].startsWith('0x');
    let v = BigInt(m[2]);
    if (m[1] === '-') v = -v;
    if (v < min || v > (hex && m[1] !== '-' ? hexMax : max)) throw this.error(`${what} out of range: ${text}`, o.col);
    return v;
  }

  private imm32(o: Operand): number {
    return Number(BigInt.asIntN(32, this.num(o, o.text, INT32_MIN, INT32_MAX, UINT32_MAX, 'imm32')));
  }

  private off16(o: Operand, text: string): number {
    return Number(this.num(o, text, -32768n, 32767n, 32767n, 'offset'));
  }

  /** `[%rN]`, `[%rN+off]`, `[%rN-off]`. */
  private mem(o: Operand): { reg: number; off: number } {
    const m = /^\[\s*(%r\w*)\s*(?:([+-])\s*(\w+))?\s*\]$/.exec(o.text);
    if (!m) throw this.error(`Invalid memory operand: ${o.text}`, o.col);
    const reg = this.reg({ text: m[1], col: o.col + 1 });
    const off = m[2] ? this.off16(o, m[2] + m[3]) : 0;
    return { reg, off };
  }

  /** A jump target: +N / -N, or a label resolved later. */
  private target(o: Operand, field: 'off' | 'imm'): number {
    if (/^[+-]/.test(o.text)) {
      return field === 'off' ? this.off16(o, o.text) : this.imm32(o);
    }
    if (!/^[A-Za-z_.$][\w.$]*$/.test(o.text)) throw this.error(`Invalid label: ${o.text}`, o.col);
    this.fixups.push({ slot: this.insns.length, label: o, line: this.line, field });
    return 0;
  }

  private emit(insn: Insn): void {
    this.insns.push(insn);
  }

  private encode(l: Line): void {
    const name = l.mnemonic.text;
    const ops = l.operands;
    let m: RegExpExecArray | null;

    if (name === 'exit') {
      this.expectCount(l, 0);
      return this.emit(makeInsn(BPF_JMP | BPF_EXIT));
    }
    if (name === 'lddw') {
      this.expectCount(l, 2);
      const dst = this.reg(ops[0]);
      const v = this.num(ops[1], ops[1].text, -(2n ** 63n), 2n ** 64n - 1n, 2n ** 64n - 1n, 'imm64');
      const [a, b] = makeLdImm64(dst, v);
      this.emit(a);
      return this.emit(b);
    }
    if ((m = /^ldx(s?)(b|h|w|dw)$/.exec(name))) {
      this.expectCount(l, 2);
      const size = SIZE_SUFFIX[m[2]];
      if (m[1] && size === 8) throw this.error(`Invalid mnemonic: ${name}`, l.mnemonic.col);
      const dst = this.reg(ops[0]);
      const { reg, off } = this.mem(ops[1]);
      return this.emit(makeInsn(BPF_LDX | (m[1] ? BPF_MEMSX : BPF_MEM) | SIZE_OF_BYTES[size], dst, reg, off, 0));
    }
    if ((m = /^st(x?)(b|h|w|dw)$/.exec(name))) {
      this.expectCount(l, 2);
      const size = SIZE_OF_BYTES[SIZE_SUFFIX[m[2]]];
      const { reg, off } = this.mem(ops[0]);
      if (m[1]) return this.emit(makeInsn(BPF_STX | BPF_MEM | size, reg, this.reg(ops[1]), off, 0));
      return this.emit(makeInsn(BPF_ST | BPF_MEM | size, reg, 0, off, this.imm32(ops[1])));
    }
    if (name === 'lock') return this.encodeLock(l);
    if ((m = /^(be|le|swap|bswap)(16|32|64)$/.exec(name))) {
      this.expectCount(l, 1);
      const dst = this.reg(ops[0]);
      const code = m[1] === 'be' ? BPF_ALU | BPF_END | BPF_TO_BE
        : m[1] === 'le' ? BPF_ALU | BPF_END | BPF_TO_LE : BPF_ALU64 | BPF_END | BPF_TO_LE;
      return this.emit(makeInsn(code, dst, 0, 0, Number(m[2])));
    }
    if ((m = /^neg(32|64)?$/.exec(name))) {
      this.expectCount(l, 1);
      return this.emit(makeInsn((m[1] === '32' ? BPF_ALU : BPF_ALU64) | BPF_NEG | BPF_K, this.reg(ops[0])));
    }
    if ((m = /^movsx(8|16|32)(32|64)$/.exec(name))) {
      this.expectCount(l, 2);
      if (m[1] === '32' && m[2] === '32') throw this.error(`Invalid mnemonic: ${name}`, l.mnemonic.col);
      const cls = m[2] === '32' ? BPF_ALU : BPF_ALU64;
      return this.emit(makeInsn(cls | BPF_MOV | BPF_X, this.reg(ops[0]), this.reg(ops[1]), Number(m[1]), 0));
    }
    if ((m = /^(mov|add|sub|mul|div|sdiv|or|and|lsh|rsh|mod|smod|xor|arsh)(32|64)?$/.exec(name))) {
      this.expectCount(l, 2);
      const cls = m[2] === '32' ? BPF_ALU : BPF_ALU64;
      const signed = m[1] === 'sdiv' || m[1] === 'smod';
      const op = m[1] === 'mov' ? BPF_MOV : m[1] === 'sdiv' ? BPF_DIV : m[1] === 'smod' ? BPF_MOD : ALU_BY_NAME.get(m[1])!;
      const dst = this.reg(ops[0]);
      const off = signed ? 1 : 0;
      if (this.isReg(ops[1])) return this.emit(makeInsn(cls | op | BPF_X, dst, this.reg(ops[1]), off, 0));
      return this.emit(makeInsn(cls | op | BPF_K, dst, 0, off, this.imm32(ops[1])));
    }
    if (name === 'ja') {
      this.expectCount(l, 1);
      return this.emit(makeInsn(BPF_JMP | BPF_JA, 0, 0, this.target(ops[0], 'off'), 0));
    }
    if (name === 'ja32') {
      this.expectCount(l, 1);
      return this.emit(makeInsn(BPF_JMP32 | BPF_JA, 0, 0, 0, this.target(ops[0], 'imm')));
    }
    if ((m = /^(j[a-z]+?)(32)?$/.exec(name)) && JMP_BY_NAME.has(m[1])) {
      this.expectCount(l, 3);
      const cls = m[2] ? BPF_JMP32 : BPF_JMP;
      const op = JMP_BY_NAME.get(m[1])!;
      const dst = this.reg(ops[0]);
      if (this.isReg(ops[1])) {
        const src = this.reg(ops[1]);
        return this.emit(makeInsn(cls | op | BPF_X, dst, src, this.target(ops[2], 'off'), 0));
      }
      const imm = this.imm32(ops[1]);
      return this.emit(makeInsn(cls | op | BPF_K, dst, 0, this.target(ops[2], 'off'), imm));
    }
    if (name === 'call') return this.encodeCall(l);
    throw this.error(`Invalid mnemonic: ${name}`, l.mnemonic.col);
  }

  /** `call N` / `call helper N`, `call %rN` (callx: register in dst), `call local L`, `call runtime N`. */
  private encodeCall(l: Line): void {
    const ops = l.operands;
    if (ops.length === 1) {
      if (this.isReg(ops[0])) return this.emit(makeInsn(BPF_JMP | BPF_CALL | BPF_X, this.reg(ops[0])));
      return this.emit(makeInsn(BPF_JMP | BPF_CALL, 0, 0, 0, this.imm32(ops[0])));
    }
    this.expectCount(l, 2);
    switch (ops[0].text) {
      case 'helper':
        if (this.isReg(ops[1])) return this.emit(makeInsn(BPF_JMP | BPF_CALL | BPF_X, this.reg(ops[1])));
        return this.emit(makeInsn(BPF_JMP | BPF_CALL, 0, 0, 0, this.imm32(ops[1])));
      case 'local': {
        const insn = makeInsn(BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_CALL, 0, 0);
        insn.imm = this.target(ops[1], 'imm');
        return this.emit(insn);
      }
      case 'runtime':
        return this.emit(makeInsn(BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_KFUNC_CALL, 0, this.imm32(ops[1])));
      default:
        throw this.error(`Invalid call mode: ${ops[0].text}`, ops[0].col);
    }
  }

  /** `lock [fetch] OP[32] [%rD+off], %rS` with OP add/or/and/xor/xchg/cmpxchg. */
  private encodeLock(l: Line): void {
    const ops = [...l.operands];
    const fetch = ops[0]?.text === 'fetch';
    if (fetch) ops.shift();
    if (ops.length !== 3) {
      throw this.error('Invalid number of operands for lock', (ops[0] ?? l.mnemonic).col);
    }
    const m = /^(add|or|and|xor|xchg|cmpxchg)(32)?$/.exec(ops[0].text);
    if (!m) throw this.error(`Invalid atomic operation: ${ops[0].text}`, ops[0].col);
    let imm: number;
    if (m[1] === 'xchg') imm = BPF_XCHG;
    else if (m[1] === 'cmpxchg') imm = BPF_CMPXCHG;
    else imm = ATOMIC_BY_NAME[m[1]] | (fetch ? BPF_FETCH : 0);
    // xchg and cmpxchg always fetch; `lock fetch xchg` is accepted and means the same
    const { reg, off } = this.mem(ops[1]);
    const src = this.reg(ops[2]);
    return this.emit(makeInsn(BPF_STX | BPF_ATOMIC | (m[2] ? BPF_W : BPF_DW), reg, src, off, imm));
  }
}

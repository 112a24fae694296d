/*
 * bpf_asm: the kernel's classic-BPF assembler (tools/bpf/bpf_asm, bpf_exp.l + bpf_exp.y), its two
 * output formats, and a disassembler back to its syntax.
 *
 *   ldh [12]                 ; comments run from ';' to the end of the line, or /* ... *\/,
 *   jne #0x800, drop         ; or a line starting with '#'
 *   ldb [23]
 *   jeq #6, pass, drop       ; jeq/jgt/jge/jset: true label, optional false label
 *   ldxb 4*([14]&0xf)        ; jne/jneq, jlt, jle: one label, taken when false of jeq/jge/jgt
 *   ld [x + 16]              ; ld #len, ld proto (or #proto): Linux ancillary loads
 *   pass: ret #-1
 *   drop: ret #0
 *
 * Lexing follows flex's rules in bpf_exp.l (case-insensitive, longest match, keywords before
 * labels, labels at least two characters, numbers in hex 0x / binary 0b / octal 0 / signed
 * decimal, cast to 32 bits). The grammar is bpf_exp.y's, with two leniencies: `[x+5]` (flex
 * reads `+5` as one number, making bpf_asm reject it) and several labels on one instruction.
 * Errors carry line:column; the label errors keep bpf_asm's wording.
 */
import { BpfError, parseError } from '../errors.js';
import { type CInsn, BPF_MAXINSNS, SKF_AD_OFF } from './insn.js';

/** bpf_asm's extension names (bpf_exp.l), to SKF_AD_* offsets. */
export const BPF_ASM_EXTENSIONS: Readonly<Record<string, number>> = {
  proto: 0, type: 4, poff: 52, ifidx: 8, nla: 12, nlan: 16, mark: 20, queue: 24, hatype: 28,
  rxhash: 32, cpu: 36, vlan_tci: 44, vlan_pr: 48, vlan_avail: 48, vlan_tpid: 60, rand: 56,
};

const OPS = [
  'ldb', 'ldh', 'ld', 'ldi', 'ldx', 'ldxi', 'ldxb', 'st', 'stx', 'jmp', 'ja', 'jeq', 'jneq', 'jne',
  'jlt', 'jle', 'jgt', 'jge', 'jset', 'add', 'sub', 'mul', 'div', 'mod', 'neg', 'and', 'xor', 'or',
  'lsh', 'rsh', 'ret', 'tax', 'txa',
];
const WORDS = [...OPS, 'len', ...Object.keys(BPF_ASM_EXTENSIONS)].sort((a, b) => b.length - a.length);

type TokType = 'op' | 'len' | 'ext' | 'num' | 'label' | 'punct' | 'eof';
interface Token { type: TokType; text: string; value: number; line: number; col: number }

class Lexer {
  private pos = 0;
  private line = 1;
  private col = 1;
  private readonly src: string;
  private readonly file?: string;

  constructor(src: string, file?: string) {
    this.src = src;
    this.file = file;
  }

  private advance(n: number): void {
    for (let i = 0; i < n; i++) {
      if (this.src[this.pos] === '\n') { this.line++; this.col = 1; } else this.col++;
      this.pos++;
    }
  }

  private error(msg: string, line = this.line, col = this.col): never {
    throw parseError(msg, line, col, this.file);
  }

  next(): Token {
    const s = this.src;
    for (;;) {
      const c = s[this.pos];
      if (c === undefined) return { type: 'eof', text: '', value: 0, line: this.line, col: this.col };
      if (c === ' ' || c === '\t' || c === '\n' || c === '\r') { this.advance(1); continue; }
      if (c === ';') { while (this.pos < s.length && s[this.pos] !== '\n') this.advance(1); continue; }
      if (c === '#' && (this.pos === 0 || s[this.pos - 1] === '\n')) {
        while (this.pos < s.length && s[this.pos] !== '\n') this.advance(1);
        continue;
      }
      if (c === '/' && s[this.pos + 1] === '*') {
        const end = s.indexOf('*/', this.pos + 2);
        if (end < 0) this.error('unterminated comment');
        this.advance(end + 2 - this.pos);
        continue;
      }
      break;
    }
    const line = this.line;
    const col = this.col;
    const rest = s.slice(this.pos, this.pos + 64);
    const tok = (type: TokType, len: number, value = 0): Token => {
      const text = s.slice(this.pos, this.pos + len);
      this.advance(len);
      return { type, text, value, line, col };
    };
    // '#' followed by len or an extension name is one token, as `"#"?("len")`
    if (rest[0] === '#') {
      const w = matchWord(rest.slice(1), ['len', ...Object.keys(BPF_ASM_EXTENSIONS)]);
      if (w !== undefined) return tok(w === 'len' ? 'len' : 'ext', w.length + 1, BPF_ASM_EXTENSIONS[w] ?? 0);
    }
    const num = /^(0[xX][0-9a-fA-F]+|0[bB][01]+|0[0-7]+|0|[-+]?[1-9][0-9]*)/.exec(rest);
    const label = /^[a-zA-Z_][a-zA-Z0-9_]+/.exec(s.slice(this.pos, this.pos + 256));
    const word = matchWord(rest, WORDS);
    if (word !== undefined && word.length >= (label?.[0].length ?? 0)) {
      if (word === 'len') return tok('len', 3);
      if (Object.prototype.hasOwnProperty.call(BPF_ASM_EXTENSIONS, word)) return tok('ext', word.length, BPF_ASM_EXTENSIONS[word]);
      return tok('op', word.length);
    }
    if (label) return tok('label', label[0].length);
    if (num) return tok('num', num[0].length, parseNumber(num[0]));
    if ('x,:#%[]()a+M*&'.includes(c(rest[0]))) return tok('punct', 1);
    return this.error(`unknown character '${rest[0]}'`);
  }
}

/** Flex's caseless single letters ('x', 'a', 'M') compare lower-cased, M upper-cased. */
function c(ch: string): string {
  if (ch === 'X' || ch === 'A') return ch.toLowerCase();
  if (ch === 'm') return 'M';
  return ch;
}

function matchWord(text: string, words: readonly string[]): string | undefined {
  const lower = text.toLowerCase();
  let best: string | undefined;
  for (const w of words) if (lower.startsWith(w) && (best === undefined || w.length > best.length)) best = w;
  return best;
}

/** strtoul/strtol as bpf_exp.l uses them, then the cast to uint32_t. */
function parseNumber(text: string): number {
  const t = text.toLowerCase();
  let v: number;
  if (t.startsWith('0x')) v = parseInt(t.slice(2), 16);
  else if (t.startsWith('0b')) v = parseInt(t.slice(2), 2);
  else if (t.length > 1 && t.startsWith('0')) v = parseInt(t.slice(1), 8);
  else v = parseInt(t, 10);
  // strtol saturates at the limits of a 64-bit long
  if (v > 2 ** 63 - 1) v = 2 ** 63 - 1;
  if (v < -(2 ** 63)) v = -(2 ** 63);
  return Number(BigInt.asUintN(32, BigInt(v)));
}

interface Pending { insn: CInsn; labels: string[]; jt?: Token; jf?: Token; ja?: Token; line: number }

/** Assemble bpf_asm source into classic instructions. Errors: BpfError EINVAL `[file:]line:col: ...`. */
export function bpfAsm(source: string, file?: string): CInsn[] {
  const lex = new Lexer(source, file);
  let tok = lex.next();
  const fail = (msg: string, at: Token = tok): never => { throw parseError(msg, at.line, at.col, file); };
  const describe = (t: Token): string => (t.type === 'eof' ? 'end of input' : `'${t.text}'`);
  const take = (): Token => { const t = tok; tok = lex.next(); return t; };
  const isPunct = (ch: string): boolean => tok.type === 'punct' && c(tok.text) === ch;
  const expect = (ch: string): Token => {
    if (!isPunct(ch)) fail(`syntax error, expected '${ch}' but found ${describe(tok)}`);
    return take();
  };
  const number = (): number => {
    if (tok.type !== 'num') fail(`syntax error, expected a number but found ${describe(tok)}`);
    return take().value;
  };
  const label = (): Token => {
    if (tok.type !== 'label') fail(`syntax error, expected a label but found ${describe(tok)}`);
    return take();
  };
  /** `x` or `%x` */
  const isX = (): boolean => {
    if (isPunct('%')) { take(); if (!isPunct('x')) fail(`syntax error, expected 'x' after '%' but found ${describe(tok)}`); }
    if (isPunct('x')) { take(); return true; }
    return false;
  };
  /** `[x + k]` / `[%x + k]` / `[k]` after '[': returns [indirect, k]. */
  const bracket = (): [boolean, number] => {
    expect('[');
    if (isX()) {
      let k: number;
      if (isPunct('+')) { take(); k = number(); } else if (tok.type === 'num' && tok.text.startsWith('+')) k = number();
      else return fail(`syntax error, expected '+' but found ${describe(tok)}`);
      expect(']');
      return [true, k];
    }
    const k = number();
    expect(']');
    return [false, k];
  };
  const mem = (): number => { expect('M'); expect('['); const k = number(); expect(']'); return k; };

  const out: Pending[] = [];
  let labels: string[] = [];
  while (tok.type !== 'eof') {
    if (tok.type === 'label') {
      const l = take();
      if (!isPunct(':')) fail(`syntax error, unexpected label '${l.text}' (an instruction was expected)`, l);
      take();
      labels.push(l.text);
      continue;
    }
    if (tok.type !== 'op') fail(`syntax error, expected an instruction but found ${describe(tok)}`);
    const opTok = take();
    const op = opTok.text.toLowerCase();
    const p: Pending = { insn: { code: 0, jt: 0, jf: 0, k: 0 }, labels, line: opTok.line };
    labels = [];
    const set = (code: number, k = 0): void => { p.insn.code = code; p.insn.k = k >>> 0; };
    const sizeOf: Record<string, number> = { ld: 0x00, ldh: 0x08, ldb: 0x10 };
    switch (op) {
      case 'ldb': case 'ldh': case 'ld': {
        const size = sizeOf[op];
        if (tok.type === 'ext') { set(0x20 | size, SKF_AD_OFF + take().value); break; }
        if (op === 'ld' && isPunct('#')) { take(); set(0x00, number()); break; }
        if (op === 'ld' && tok.type === 'len') { take(); set(0x80); break; }
        if (op === 'ld' && isPunct('M')) { set(0x60, mem()); break; }
        const [ind, k] = bracket();
        set((ind ? 0x40 : 0x20) | size, k);
        break;
      }
      case 'ldi': case 'ldxi':
        if (isPunct('#')) take();
        set(op === 'ldi' ? 0x00 : 0x01, number());
        break;
      case 'ldx': case 'ldxb': {
        if (op === 'ldx' && isPunct('#')) { take(); set(0x01, number()); break; }
        if (op === 'ldx' && tok.type === 'len') { take(); set(0x81); break; }
        if (op === 'ldx' && isPunct('M')) { set(0x61, mem()); break; }
        const at = tok;
        const four = number();
        expect('*'); expect('('); expect('[');
        const k = number();
        expect(']'); expect('&');
        const mask = number();
        expect(')');
        if (four !== 4 || mask !== 0xf) fail('ldxb offset not supported! (only 4*([k]&0xf))', at);
        set(0xb1, k);
        break;
      }
      case 'st': set(0x02, mem()); break;
      case 'stx': set(0x03, mem()); break;
      case 'jmp': case 'ja': set(0x05); p.ja = label(); break;
      case 'jeq': case 'jgt': case 'jge': case 'jset': case 'jneq': case 'jne': case 'jlt': case 'jle': {
        const base: Record<string, number> = { jeq: 0x15, jgt: 0x25, jge: 0x35, jset: 0x45, jneq: 0x15, jne: 0x15, jlt: 0x35, jle: 0x25 };
        let code = base[op];
        let k = 0;
        if (isX()) code |= 0x08;
        else if (isPunct('#')) { take(); k = number(); } else fail(`syntax error, expected '#k' or 'x' but found ${describe(tok)}`);
        set(code, k);
        expect(',');
        const first = label();
        if (op === 'jneq' || op === 'jne' || op === 'jlt' || op === 'jle') p.jf = first;
        else {
          p.jt = first;
          if (isPunct(',')) { take(); p.jf = label(); }
        }
        break;
      }
      case 'add': case 'sub': case 'mul': case 'div': case 'mod': case 'and': case 'or': case 'xor': case 'lsh': case 'rsh': {
        const ops: Record<string, number> = { add: 0x00, sub: 0x10, mul: 0x20, div: 0x30, mod: 0x90, and: 0x50, or: 0x40, xor: 0xa0, lsh: 0x60, rsh: 0x70 };
        if (isX()) set(0x04 | ops[op] | 0x08);
        else if (isPunct('#')) { take(); set(0x04 | ops[op], number()); } else fail(`syntax error, expected '#k' or 'x' but found ${describe(tok)}`);
        break;
      }
      case 'neg': set(0x84); break;
      case 'tax': set(0x07); break;
      case 'txa': set(0x87); break;
      case 'ret':
        if (isPunct('%')) take();
        if (isPunct('a')) { take(); set(0x16); } else if (isPunct('x')) { take(); set(0x0e); } else if (isPunct('#')) { take(); set(0x06, number()); } else fail(`syntax error, expected '#k', 'a' or 'x' but found ${describe(tok)}`);
        break;
    }
    if (out.length >= BPF_MAXINSNS) fail(`only max ${BPF_MAXINSNS} insns allowed!`, opTok);
    out.push(p);
  }
  if (labels.length > 0) fail(`syntax error, label '${labels[0]}' is not followed by an instruction`);

  // stage 2: labels (bpf_stage_2_reduce_labels)
  const where = new Map<string, number>();
  out.forEach((p, i) => {
    for (const l of p.labels) {
      if (where.has(l)) throw parseError(`label '${l}' defined twice`, p.line, 1, file);
      where.set(l, i);
    }
  });
  const find = (t: Token): number => {
    const at = where.get(t.text);
    if (at === undefined) throw parseError(`no such label '${t.text}'!`, t.line, t.col, file);
    return at;
  };
  const rel = (t: Token, i: number): number => {
    const off = find(t);
    const delta = off - i - 1;
    if (delta < 0 || delta > 255) throw parseError(`insn #${i} jumps to insn #${off}, which is out of range`, t.line, t.col, file);
    return delta;
  };
  return out.map((p, i) => {
    if (p.ja) p.insn.k = (find(p.ja) - i - 1) >>> 0;
    if (p.jt) p.insn.jt = rel(p.jt, i);
    if (p.jf) p.insn.jf = rel(p.jf, i);
    return p.insn;
  });
}

/** bpf_asm's default output: `N,code jt jf k,...,` and a newline. */
export function formatBpfAsm(prog: readonly CInsn[]): string {
  return `${prog.length},${prog.map((i) => `${i.code} ${i.jt} ${i.jf} ${i.k >>> 0},`).join('')}\n`;
}

/** printf's `%#0Nx`: 0x prefix counted in the width, none for zero. */
function altHex(v: number, width: number): string {
  if (v === 0) return '0'.repeat(width);
  return '0x' + v.toString(16).padStart(width - 2, '0');
}

/** bpf_asm -c: `{ 0x28,  0,  0, 0x0000000c },` lines (printf "{ %#04x, %2u, %2u, %#010x },"). */
export function formatBpfAsmC(prog: readonly CInsn[]): string {
  return prog.map((i) => `{ ${altHex(i.code, 4)}, ${String(i.jt).padStart(2)}, ${String(i.jf).padStart(2)}, ${altHex(i.k >>> 0, 10)} },\n`).join('');
}

/** Opcodes whose k field means something (the others are written without it). */
const USES_K = new Set([
  0x20, 0x28, 0x30, 0x40, 0x48, 0x50, 0x00, 0x01, 0x60, 0x61, 0xb1, 0x02, 0x03, 0x05, 0x06,
  0x04, 0x14, 0x24, 0x34, 0x94, 0x54, 0x44, 0xa4, 0x64, 0x74, 0x15, 0x25, 0x35, 0x45,
]);

const EXT_NAMES: Record<number, string> = {
  0: 'proto', 4: 'type', 8: 'ifidx', 12: 'nla', 16: 'nlan', 20: 'mark', 24: 'queue', 28: 'hatype',
  32: 'rxhash', 36: 'cpu', 44: 'vlan_tci', 48: 'vlan_avail', 52: 'poff', 56: 'rand', 60: 'vlan_tpid',
};

const num = (k: number): string => {
  const u = k >>> 0;
  return u < 0x10000 ? String(u) : `0x${u.toString(16)}`;
};

/**
 * bpf_asm source for a classic program: jump targets get labels `lN` (N = instruction index),
 * and assembling the text gives back the same instructions. Throws for opcodes bpf_asm has no
 * syntax for.
 */
export function bpfDisasm(prog: readonly CInsn[]): string {
  const used = new Set<number>();
  const texts = prog.map((p, i) => {
    const text = disasmOne(p, i, used);
    // fields the instruction ignores cannot be written in bpf_asm: say so
    const lost = [];
    if ((p.code & 0x07) !== 0x05 || p.code === 0x05) {
      if (p.jt !== 0) lost.push(`jt ${p.jt}`);
      if (p.jf !== 0) lost.push(`jf ${p.jf}`);
    }
    if (p.k !== 0 && !USES_K.has(p.code)) lost.push(`k ${p.k >>> 0}`);
    return lost.length > 0 ? `${text}\t; unused ${lost.join(', ')} dropped` : text;
  });
  for (const t of used) {
    if (t < 0 || t >= prog.length) throw new BpfError('EINVAL', `a jump goes to insn ${t}, outside the program: bpf_asm cannot express it`);
  }
  return texts.map((text, i) => (used.has(i) ? `l${i}:\t${text}` : `\t${text}`)).join('\n') + '\n';
}

function disasmOne(p: CInsn, i: number, used: Set<number>): string {
  const to = (t: number): string => { used.add(t); return `l${t}`; };
  const { code, k } = p;
  const sz: Record<number, string> = { 0x00: 'ld', 0x08: 'ldh', 0x10: 'ldb' };
  const aluName: Record<number, string> = { 0x00: 'add', 0x10: 'sub', 0x20: 'mul', 0x30: 'div', 0x90: 'mod', 0x50: 'and', 0x40: 'or', 0xa0: 'xor', 0x60: 'lsh', 0x70: 'rsh' };
  const jName: Record<number, string> = { 0x10: 'jeq', 0x20: 'jgt', 0x30: 'jge', 0x40: 'jset' };
  switch (code) {
    case 0x20: case 0x28: case 0x30: {
      const ad = (k | 0) - SKF_AD_OFF;
      if ((k | 0) >= SKF_AD_OFF && EXT_NAMES[ad] !== undefined) return `${sz[code & 0x18]} #${EXT_NAMES[ad]}`;
      return `${sz[code & 0x18]} [${num(k)}]`;
    }
    case 0x40: case 0x48: case 0x50: return `${sz[code & 0x18]} [x + ${num(k)}]`;
    case 0x00: return `ld #${num(k)}`;
    case 0x01: return `ldx #${num(k)}`;
    case 0x80: return 'ld #len';
    case 0x81: return 'ldx #len';
    case 0x60: return `ld M[${num(k)}]`;
    case 0x61: return `ldx M[${num(k)}]`;
    case 0xb1: return `ldxb 4*([${num(k)}]&0xf)`;
    case 0x02: return `st M[${num(k)}]`;
    case 0x03: return `stx M[${num(k)}]`;
    case 0x05: return `ja ${to(i + 1 + (k | 0))}`;
    case 0x84: return 'neg';
    case 0x07: return 'tax';
    case 0x87: return 'txa';
    case 0x06: return `ret #${num(k)}`;
    case 0x16: return 'ret a';
    case 0x0e: return 'ret x';
  }
  if ((code & 0x07) === 0x04 && (code & ~0xf8) === 0x04 && aluName[code & 0xf0] !== undefined) {
    return `${aluName[code & 0xf0]} ${code & 0x08 ? 'x' : `#${num(k)}`}`;
  }
  if ((code & ~0xf8) === 0x05 && jName[code & 0xf0] !== undefined) {
    const operand = code & 0x08 ? 'x' : `#${num(k)}`;
    const op = code & 0xf0;
    // the one-label forms where they fit: `jeq #k, lt` (false falls through), `jne #k, lf`, ...
    if (p.jf === 0) return `${jName[op]} ${operand}, ${to(i + 1 + p.jt)}`;
    const inverse: Record<number, string> = { 0x10: 'jne', 0x20: 'jle', 0x30: 'jlt' };
    if (p.jt === 0 && inverse[op] !== undefined) return `${inverse[op]} ${operand}, ${to(i + 1 + p.jf)}`;
    return `${jName[op]} ${operand}, ${to(i + 1 + p.jt)}, ${to(i + 1 + p.jf)}`;
  }
  throw new BpfError('EINVAL', `insn ${i}: opcode 0x${code.toString(16)} has no bpf_asm syntax`);
}

/*
 * Tokens and expressions of LLVM's assembler syntax, as MC's AsmLexer and AsmParser read them for
 * the BPF target: `#` and `//` comments to end of line, `/* *\/` blocks, `;` between statements,
 * integers in decimal, hex (0x), binary (0b), octal (leading 0) and 'c' character form, strings
 * with C escapes. Punctuation is one token per character: the BPF parser splits `==`, `>=`, `<<`
 * and friends into single characters anyway, and the expression parser rejoins `<<`/`>>`.
 *
 * Expressions are kept as trees and evaluated once every label is known; the value is a constant
 * plus at most one symbol (a relocatable value), or a difference of labels in one section.
 */
import { parseError } from '../errors.js';

export type TokKind = 'ident' | 'int' | 'string' | 'punct';

export interface Tok {
  kind: TokKind;
  text: string;
  /** 1-based column. */
  col: number;
  /** int: value; string: decoded bytes. */
  value?: bigint;
  bytes?: number[];
  /** Whitespace before this token. */
  spaced: boolean;
}

export interface SrcLine {
  line: number;
  tokens: Tok[];
}

const isIdStart = (c: string): boolean => /[A-Za-z_.$]/.test(c);
const isIdChar = (c: string): boolean => /[A-Za-z0-9_.$@]/.test(c);

/** Split source into statements (newline or `;`), each a list of tokens. */
export function lexSource(source: string, file?: string): SrcLine[] {
  const out: SrcLine[] = [];
  const lines = source.split(/\r?\n/);
  let inBlock = false;
  for (let ln = 0; ln < lines.length; ln++) {
    const s = lines[ln];
    let toks: Tok[] = [];
    let i = 0;
    let spaced = true;
    const err = (msg: string, at: number): never => { throw parseError(msg, ln + 1, at + 1, file); };
    while (i < s.length) {
      if (inBlock) {
        const end = s.indexOf('*/', i);
        if (end < 0) { i = s.length; break; }
        inBlock = false;
        i = end + 2;
        spaced = true;
        continue;
      }
      const c = s[i];
      if (c === ' ' || c === '\t' || c === '\f' || c === '\v') { i++; spaced = true; continue; }
      if (c === '#' || (c === '/' && s[i + 1] === '/')) break;
      if (c === '/' && s[i + 1] === '*') { inBlock = true; i += 2; continue; }
      if (c === ';') {
        out.push({ line: ln + 1, tokens: toks });
        toks = [];
        i++;
        spaced = true;
        continue;
      }
      const start = i;
      if (isIdStart(c)) {
        while (i < s.length && isIdChar(s[i])) i++;
        toks.push({ kind: 'ident', text: s.slice(start, i), col: start + 1, spaced });
      } else if (/[0-9]/.test(c)) {
        while (i < s.length && /[0-9A-Za-z_]/.test(s[i])) i++;
        const text = s.slice(start, i);
        toks.push({ kind: 'int', text, col: start + 1, value: parseInteger(text, () => err('invalid integer', start)), spaced });
      } else if (c === '\'') {
        // 'c' or '\n'
        let j = i + 1;
        let v: number;
        if (s[j] === '\\') { const e = readEscape(s, j + 1); v = e.value; j = e.next; } else { v = s.charCodeAt(j); j++; }
        if (s[j] !== '\'') err('unterminated character literal', start);
        i = j + 1;
        toks.push({ kind: 'int', text: s.slice(start, i), col: start + 1, value: BigInt(v), spaced });
      } else if (c === '"') {
        const bytes: number[] = [];
        let j = i + 1;
        for (;;) {
          if (j >= s.length) err('unterminated string constant', start);
          const ch = s[j];
          if (ch === '"') { j++; break; }
          if (ch === '\\') { const e = readEscape(s, j + 1); bytes.push(e.value & 0xff); j = e.next; continue; }
          const code = s.codePointAt(j)!;
          for (const b of new TextEncoder().encode(String.fromCodePoint(code))) bytes.push(b);
          j += code > 0xffff ? 2 : 1;
        }
        i = j;
        toks.push({ kind: 'string', text: s.slice(start, i), col: start + 1, bytes, spaced });
      } else {
        i++;
        toks.push({ kind: 'punct', text: c, col: start + 1, spaced });
      }
      spaced = false;
    }
    out.push({ line: ln + 1, tokens: toks });
  }
  return out;
}

function readEscape(s: string, j: number): { value: number; next: number } {
  const c = s[j];
  const simple: Record<string, number> = { n: 10, t: 9, r: 13, b: 8, f: 12, v: 11, a: 7, '\\': 92, '"': 34, '\'': 39, '0': 0 };
  if (c === 'x' || c === 'X') {
    let k = j + 1;
    let v = 0;
    while (k < s.length && /[0-9A-Fa-f]/.test(s[k])) { v = v * 16 + parseInt(s[k], 16); k++; }
    return { value: v & 0xff, next: k };
  }
  if (/[0-7]/.test(c)) {
    let k = j;
    let v = 0;
    while (k < s.length && k < j + 3 && /[0-7]/.test(s[k])) { v = v * 8 + Number(s[k]); k++; }
    return { value: v & 0xff, next: k };
  }
  if (c in simple) return { value: simple[c], next: j + 1 };
  return { value: s.charCodeAt(j), next: j + 1 };
}

function parseInteger(text: string, fail: () => never): bigint {
  const t = text.toLowerCase();
  let m: RegExpMatchArray | null;
  if ((m = /^0x([0-9a-f]+)$/.exec(t))) return BigInt('0x' + m[1]);
  if ((m = /^0b([01]+)$/.exec(t))) return BigInt('0b' + m[1]);
  if (/^0[0-7]+$/.test(t)) return BigInt('0o' + t.slice(1));
  if (/^[0-9]+$/.test(t)) return BigInt(t);
  if ((m = /^([0-9a-f]+)h$/.exec(t))) return BigInt('0x' + m[1]);
  return fail();
}

// ---- expressions ----

export type Expr =
  | { k: 'num'; v: bigint; col: number }
  | { k: 'sym'; name: string; col: number }
  | { k: 'dot'; section: string; offset: number; col: number }
  | { k: 'un'; op: string; a: Expr; col: number }
  | { k: 'bin'; op: string; a: Expr; b: Expr; col: number };

/** A token cursor over one statement. */
export class Cursor {
  readonly toks: Tok[];
  pos = 0;
  readonly line: number;
  readonly file?: string;

  constructor(toks: Tok[], line: number, file?: string) {
    this.toks = toks;
    this.line = line;
    this.file = file;
  }

  peek(n = 0): Tok | undefined { return this.toks[this.pos + n]; }
  next(): Tok | undefined { return this.toks[this.pos++]; }
  atEnd(): boolean { return this.pos >= this.toks.length; }
  isPunct(text: string, n = 0): boolean { const t = this.peek(n); return t?.kind === 'punct' && t.text === text; }
  /** Column of the current token (or one past the last token at end of statement). */
  col(): number {
    const t = this.peek();
    if (t) return t.col;
    const last = this.toks[this.toks.length - 1];
    return last ? last.col + last.text.length : 1;
  }
  fail(message: string, col = this.col()): never {
    throw parseError(message, this.line, col, this.file);
  }
}

const BIN_PREC: Record<string, number> = {
  '||': 1, '&&': 2, '|': 3, '^': 4, '&': 5, '==': 6, '!=': 6, '<': 7, '>': 7, '<=': 7, '>=': 7,
  '<<': 8, '>>': 8, '+': 9, '-': 9, '*': 10, '/': 10, '%': 10,
};

/** The binary operator at the cursor (joining `<<`, `>>`, `==`...), or undefined. */
function peekBinOp(c: Cursor): { op: string; len: number } | undefined {
  const t = c.peek();
  if (t?.kind !== 'punct') return undefined;
  const t2 = c.peek(1);
  const joined = t2?.kind === 'punct' && !t2.spaced && t2.col === t.col + 1 ? t.text + t2.text : '';
  if (['<<', '>>', '==', '!=', '<=', '>=', '&&', '||'].includes(joined)) return { op: joined, len: 2 };
  if (['|', '^', '&', '<', '>', '+', '-', '*', '/', '%'].includes(t.text)) return { op: t.text, len: 1 };
  return undefined;
}

/** Parse an expression as MCAsmParser::parseExpression(). `dot` gives the location `.` refers to. */
export function parseExpr(c: Cursor, dot: () => { section: string; offset: number }, minPrec = 1): Expr {
  let lhs = parsePrimary(c, dot);
  for (;;) {
    const op = peekBinOp(c);
    if (!op) return lhs;
    const prec = BIN_PREC[op.op];
    if (prec < minPrec) return lhs;
    const col = c.col();
    c.pos += op.len;
    const rhs = parseExpr(c, dot, prec + 1);
    lhs = { k: 'bin', op: op.op, a: lhs, b: rhs, col };
  }
}

function parsePrimary(c: Cursor, dot: () => { section: string; offset: number }): Expr {
  const t = c.peek();
  if (!t) return c.fail('unknown token in expression');
  if (t.kind === 'int') { c.next(); return { k: 'num', v: t.value!, col: t.col }; }
  if (t.kind === 'ident') {
    c.next();
    if (t.text === '.') return { k: 'dot', ...dot(), col: t.col };
    return { k: 'sym', name: t.text, col: t.col };
  }
  if (t.kind === 'punct') {
    if (t.text === '(') {
      c.next();
      const e = parseExpr(c, dot);
      if (!c.isPunct(')')) c.fail("expected ')' in parentheses expression");
      c.next();
      return e;
    }
    if (t.text === '-' || t.text === '+' || t.text === '~' || t.text === '!') {
      c.next();
      return { k: 'un', op: t.text, a: parsePrimary(c, dot), col: t.col };
    }
  }
  return c.fail('unknown token in expression');
}

/** A resolved expression: constant plus at most one symbol reference. */
export interface Value {
  v: bigint;
  sym?: string;
  /** Column of the symbol reference (for errors). */
  symCol?: number;
}

export interface LabelInfo { section: string; offset: number }

/** Evaluate with label positions; label differences in one section fold to constants. */
export function evalExpr(e: Expr, labels: (name: string) => LabelInfo | undefined,
    fail: (msg: string, col: number) => never): Value {
  switch (e.k) {
    case 'num': return { v: e.v };
    case 'sym': return { v: 0n, sym: e.name, symCol: e.col };
    case 'dot': return { v: BigInt(e.offset), sym: `\0dot:${e.section}`, symCol: e.col };
    case 'un': {
      const a = evalExpr(e.a, labels, fail);
      if (a.sym && e.op !== '+') fail('expected a constant expression', e.col);
      if (e.op === '-') return { v: -a.v };
      if (e.op === '~') return { v: ~a.v };
      if (e.op === '!') return { v: a.v === 0n ? 1n : 0n };
      return a;
    }
    case 'bin': {
      const a = evalExpr(e.a, labels, fail);
      const b = evalExpr(e.b, labels, fail);
      const place = (v: Value): LabelInfo | undefined => {
        if (!v.sym) return undefined;
        if (v.sym.startsWith('\0dot:')) return { section: v.sym.slice(5), offset: 0 };
        return labels(v.sym);
      };
      if (e.op === '+' && (!a.sym || !b.sym)) return { v: a.v + b.v, sym: a.sym ?? b.sym, symCol: a.symCol ?? b.symCol };
      if (e.op === '-' && !b.sym) return { v: a.v - b.v, sym: a.sym, symCol: a.symCol };
      if (e.op === '-' && a.sym && b.sym) {
        const pa = place(a);
        const pb = place(b);
        if (!pa || !pb || pa.section !== pb.section) fail('expected a constant expression', e.col);
        return { v: BigInt(pa.offset) + a.v - BigInt(pb.offset) - b.v };
      }
      if (a.sym || b.sym) fail('expected a constant expression', e.col);
      const x = a.v;
      const y = b.v;
      switch (e.op) {
        case '*': return { v: x * y };
        case '/': if (y === 0n) fail('division by zero', e.col); return { v: x / y };
        case '%': if (y === 0n) fail('division by zero', e.col); return { v: x % y };
        case '<<': return { v: BigInt.asIntN(64, x << (y & 63n)) };
        case '>>': return { v: x >> (y & 63n) };
        case '&': return { v: x & y };
        case '|': return { v: x | y };
        case '^': return { v: x ^ y };
        case '==': return { v: x === y ? -1n : 0n };
        case '!=': return { v: x !== y ? -1n : 0n };
        case '<': return { v: x < y ? -1n : 0n };
        case '>': return { v: x > y ? -1n : 0n };
        case '<=': return { v: x <= y ? -1n : 0n };
        case '>=': return { v: x >= y ? -1n : 0n };
        case '&&': return { v: x !== 0n && y !== 0n ? 1n : 0n };
        case '||': return { v: x !== 0n || y !== 0n ? 1n : 0n };
      }
      return fail(`unknown operator '${e.op}'`, e.col);
    }
  }
}

/** Resolve a `.`-relative symbol reference produced by evalExpr to a label position. */
export function dotLabel(sym: string): LabelInfo | undefined {
  return sym.startsWith('\0dot:') ? { section: sym.slice(5), offset: 0 } : undefined;
}

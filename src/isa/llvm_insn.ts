/*
 * Instruction statements of LLVM's BPF assembly: operand parsing as BPFAsmParser::ParseInstruction()
 * and a pattern table standing in for the generated asm matcher (one row per BPFInstrInfo.td asm
 * string, -mcpu=v4 so every feature is on).
 *
 * The statement becomes a flat operand list: registers, operator tokens (`==` arrives as `=` `=`,
 * `s>=` as `s` `>` `=`), keywords from the "valid in the middle" list, and immediate expressions.
 * Commas are dropped. `+`/`-` directly before an integer start an immediate (so `(r10 - 8)` is a
 * register then the immediate -8, and `r0 =+ 1` is `r0 = 1`, as in llvm-mc). The operand list is
 * then matched against each pattern; a failure reports the operand the best candidate stopped at.
 */
import type { Cursor, Expr, Tok } from './llvm_lex.js';
import { parseExpr } from './llvm_lex.js';

export type Operand =
  | { k: 'reg'; n: number; w: boolean; col: number }
  | { k: 'tok'; t: string; col: number }
  | { k: 'imm'; e: Expr; col: number };

const START_IDS = new Set(['if', 'call', 'callx', 'goto', 'gotol', 'exit', 'lock', 'ld_pseudo', 'may_goto']);
const MIDDLE_IDS = new Set([
  'u64', 'u32', 'u16', 'u8', 's32', 's16', 's8', 'be64', 'be32', 'be16', 'le64', 'le32', 'le16',
  'bswap16', 'bswap32', 'bswap64', 'goto', 'gotol', 'll', 'skb', 's', 'atomic_fetch_add',
  'atomic_fetch_and', 'atomic_fetch_or', 'atomic_fetch_xor', 'xchg_64', 'xchg32_32', 'cmpxchg_64',
  'cmpxchg32_32', 'addr_space_cast',
]);
const OPERATOR_PUNCT = new Set(['=', '>', '<', '|', '*', '(', ')', '[', ']', '/', '&', '%', '^', '+', '-']);

function regOf(t: Tok, c: Cursor): { n: number; w: boolean } | undefined {
  if (t.kind !== 'ident') return undefined;
  const m = /^([rw])(\d+)$/.exec(t.text);
  if (!m) return undefined;
  const n = Number(m[2]);
  if (n > 11 || m[2].length > 2 || (m[2].length === 2 && m[2][0] === '0')) c.fail(`invalid register '${t.text}'`, t.col);
  return { n, w: m[1] === 'w' };
}

/** Parse one instruction statement into operands (cursor at its first token). */
export function parseOperands(c: Cursor, dot: () => { section: string; offset: number }): Operand[] {
  const ops: Operand[] = [];
  const first = c.next()!;
  const r0 = regOf(first, c);
  if (r0) ops.push({ k: 'reg', ...r0, col: first.col });
  else if (first.kind === 'ident' && START_IDS.has(first.text.toLowerCase())) ops.push({ k: 'tok', t: first.text.toLowerCase(), col: first.col });
  else if (first.kind === 'punct' && first.text === '*') ops.push({ k: 'tok', t: '*', col: first.col });
  else c.fail(`invalid register/token name '${first.text}'`, first.col);

  while (!c.atEnd()) {
    const t = c.peek()!;
    if (t.kind === 'ident' && MIDDLE_IDS.has(t.text.toLowerCase())) {
      c.next();
      ops.push({ k: 'tok', t: t.text.toLowerCase(), col: t.col });
      continue;
    }
    if (t.kind === 'punct') {
      if ((t.text === '+' || t.text === '-') && c.peek(1)?.kind === 'int') {
        ops.push({ k: 'imm', e: parseExpr(c, dot), col: t.col });
        continue;
      }
      if (OPERATOR_PUNCT.has(t.text) || (t.text === '!' && c.isPunct('=', 1))) {
        c.next();
        ops.push({ k: 'tok', t: t.text, col: t.col });
        continue;
      }
      if (t.text === ',') { c.next(); continue; }
      c.fail('unexpected token', t.col);
    }
    const reg = regOf(t, c);
    if (reg) {
      c.next();
      ops.push({ k: 'reg', ...reg, col: t.col });
      continue;
    }
    if (t.kind === 'int' || t.kind === 'ident') {
      ops.push({ k: 'imm', e: parseExpr(c, dot), col: t.col });
      continue;
    }
    c.fail('unexpected token', t.col);
  }
  return ops;
}

/** What an encoder can ask of the assembler once every label is known. */
export interface EncodeContext {
  /** A 32-bit immediate (accepts -2^31 .. 2^32-1). */
  imm32(e: Expr): number;
  /** A constant that must fit `bits` unsigned (ld_pseudo's src, addr_space_cast's spaces). */
  uconst(e: Expr, bits: number): number;
  /** The 64-bit value of `r = X ll`: constant, or symbol (+ addend) with an R_BPF_64_64. */
  imm64(e: Expr): bigint;
  /** A jump displacement in slots to a label or constant (16-bit for off, 32-bit for gotol). */
  branch(e: Expr, bits: 16 | 32): number;
  /** `call X`: src (0 helper, 1 local function) and imm, with R_BPF_64_32 where llvm-mc emits one. */
  call(e: Expr): { src: number; imm: number };
  /** Error at a column (for tied-operand constraints). */
  fail(message: string, col: number): never;
}

export interface Encoded { code: number; dst: number; src: number; off: number; imm: number; hi?: number }

type Arg = number | Expr;

interface Pattern {
  elems: string[];
  size: 8 | 16;
  encode(a: Arg[], ctx: EncodeContext, ops: Operand[]): Encoded;
}

const PATTERNS: Pattern[] = [];
const ins = (code: number, dst = 0, src = 0, off = 0, imm = 0): Encoded => ({ code, dst, src, off, imm });
const def = (spec: string, encode: Pattern['encode'], size: 8 | 16 = 8): void => {
  PATTERNS.push({ elems: spec.split(' '), size, encode });
};
const n = (a: Arg): number => a as number;
const e = (a: Arg): Expr => a as Expr;

function sameReg(ops: Operand[], i: number, j: number, ctx: EncodeContext): void {
  const a = ops[i];
  const b = ops[j];
  if (a.k === 'reg' && b.k === 'reg' && a.n !== b.n) ctx.fail('additional inst constraint not met', ops[0].col);
}

// ALU: BPFInstrInfo.td defm ADD..SMOD
const ALU: [string, number, number][] = [
  ['+ =', 0x00, 0], ['- =', 0x10, 0], ['* =', 0x20, 0], ['/ =', 0x30, 0], ['| =', 0x40, 0], ['& =', 0x50, 0],
  ['< < =', 0x60, 0], ['> > =', 0x70, 0], ['% =', 0x90, 0], ['^ =', 0xa0, 0], ['s > > =', 0xc0, 0],
  ['s / =', 0x30, 1], ['s % =', 0x90, 1],
];
for (const [tok, op, off] of ALU) {
  def(`R ${tok} R`, (a) => ins(0x07 | op | 0x08, n(a[0]), n(a[1]), off));
  def(`R ${tok} I`, (a, c) => ins(0x07 | op, n(a[0]), 0, off, c.imm32(e(a[1]))));
  def(`W ${tok} W`, (a) => ins(0x04 | op | 0x08, n(a[0]), n(a[1]), off));
  def(`W ${tok} I`, (a, c) => ins(0x04 | op, n(a[0]), 0, off, c.imm32(e(a[1]))));
}
def('R = R', (a) => ins(0xbf, n(a[0]), n(a[1])));
def('R = I', (a, c) => ins(0xb7, n(a[0]), 0, 0, c.imm32(e(a[1]))));
def('W = W', (a) => ins(0xbc, n(a[0]), n(a[1])));
def('W = I', (a, c) => ins(0xb4, n(a[0]), 0, 0, c.imm32(e(a[1]))));
for (const bits of [8, 16, 32]) {
  def(`R = ( s${bits} ) R`, (a) => ins(0xbf, n(a[0]), n(a[1]), bits));
  if (bits !== 32) def(`W = ( s${bits} ) W`, (a) => ins(0xbc, n(a[0]), n(a[1]), bits));
}
def('R = addr_space_cast ( R I I )', (a, c) =>
  ins(0xbf, n(a[0]), n(a[1]), 1, ((c.uconst(e(a[2]), 16) << 16) | c.uconst(e(a[3]), 16)) | 0));
def('R = - R', (a, c, o) => { sameReg(o, 0, 3, c); return ins(0x87, n(a[0])); });
def('W = - W', (a, c, o) => { sameReg(o, 0, 3, c); return ins(0x84, n(a[0])); });
for (const bits of [16, 32, 64]) {
  def(`R = be${bits} R`, (a, c, o) => { sameReg(o, 0, 3, c); return ins(0xdc, n(a[0]), 0, 0, bits); });
  def(`R = le${bits} R`, (a, c, o) => { sameReg(o, 0, 3, c); return ins(0xd4, n(a[0]), 0, 0, bits); });
  def(`R = bswap${bits} R`, (a, c, o) => { sameReg(o, 0, 3, c); return ins(0xd7, n(a[0]), 0, 0, bits); });
}
def('R = I ll', (a, c) => {
  const v = c.imm64(e(a[1]));
  return { ...ins(0x18, n(a[0]), 0, 0, Number(BigInt.asIntN(32, v))), hi: Number(BigInt.asIntN(32, v >> 32n)) };
}, 16);
def('ld_pseudo R I I', (a, c) => {
  const v = c.imm64(e(a[2]));
  return { ...ins(0x18, n(a[0]), c.uconst(e(a[1]), 4), 0, Number(BigInt.asIntN(32, v))), hi: 0 };
}, 16);

const SIZES: [string, number][] = [['u8', 0x10], ['u16', 0x08], ['u32', 0x00], ['u64', 0x18]];
for (const [name, size] of SIZES) {
  def(`R = * ( ${name} * ) ( R S )`, (a) => ins(0x61 | size, n(a[0]), n(a[1]), n(a[2])));
  def(`* ( ${name} * ) ( R S ) = R`, (a) => ins(0x63 | size, n(a[0]), n(a[2]), n(a[1])));
  def(`* ( ${name} * ) ( R S ) = I`, (a, c) => ins(0x62 | size, n(a[0]), 0, n(a[1]), c.imm32(e(a[2]))));
  if (size !== 0x18) {
    def(`W = * ( ${name} * ) ( R S )`, (a) => ins(0x61 | size, n(a[0]), n(a[1]), n(a[2])));
    def(`* ( ${name} * ) ( R S ) = W`, (a) => ins(0x63 | size, n(a[0]), n(a[2]), n(a[1])));
  }
}
for (const [name, size] of [['s8', 0x10], ['s16', 0x08], ['s32', 0x00]] as [string, number][]) {
  def(`R = * ( ${name} * ) ( R S )`, (a) => ins(0x81 | size, n(a[0]), n(a[1]), n(a[2])));
}
for (const [name, size] of [['u8', 0x10], ['u16', 0x08], ['u32', 0x00]] as [string, number][]) {
  def(`r0 = * ( ${name} * ) skb [ I ]`, (a, c) => ins(0x20 | size, 0, 0, 0, c.imm32(e(a[0]))));
  def(`r0 = * ( ${name} * ) skb [ R ]`, (a) => ins(0x40 | size, 0, n(a[0])));
}
// Atomics: BPF_STX | BPF_ATOMIC, dst = base, src = value.
const ATOMIC_OPS: [string, string, number][] = [['+ =', 'add', 0x00], ['| =', 'or', 0x40], ['& =', 'and', 0x50], ['^ =', 'xor', 0xa0]];
for (const [tok, name, op] of ATOMIC_OPS) {
  def(`lock * ( u64 * ) ( R S ) ${tok} R`, (a) => ins(0xdb, n(a[0]), n(a[2]), n(a[1]), op));
  def(`lock * ( u32 * ) ( R S ) ${tok} W`, (a) => ins(0xc3, n(a[0]), n(a[2]), n(a[1]), op));
  if (op === 0) def(`lock * ( u32 * ) ( R S ) ${tok} R`, (a) => ins(0xc3, n(a[0]), n(a[2]), n(a[1]), op));
  def(`R = atomic_fetch_${name} ( ( u64 * ) ( R S ) R )`, (a, c, o) => {
    sameReg(o, 0, 12, c); return ins(0xdb, n(a[1]), n(a[0]), n(a[2]), op | 1);
  });
  def(`W = atomic_fetch_${name} ( ( u32 * ) ( R S ) W )`, (a, c, o) => {
    sameReg(o, 0, 12, c); return ins(0xc3, n(a[1]), n(a[0]), n(a[2]), op | 1);
  });
}
def('R = xchg_64 ( R S R )', (a, c, o) => { sameReg(o, 0, 6, c); return ins(0xdb, n(a[1]), n(a[0]), n(a[2]), 0xe1); });
def('W = xchg32_32 ( R S W )', (a, c, o) => { sameReg(o, 0, 6, c); return ins(0xc3, n(a[1]), n(a[0]), n(a[2]), 0xe1); });
def('r0 = cmpxchg_64 ( R S r0 R )', (a) => ins(0xdb, n(a[0]), n(a[2]), n(a[1]), 0xf1));
def('w0 = cmpxchg32_32 ( R S w0 W )', (a) => ins(0xc3, n(a[0]), n(a[2]), n(a[1]), 0xf1));

const JMP_OPS: [string, number][] = [
  ['= =', 0x10], ['>', 0x20], ['> =', 0x30], ['&', 0x40], ['! =', 0x50], ['s >', 0x60], ['s > =', 0x70],
  ['<', 0xa0], ['< =', 0xb0], ['s <', 0xc0], ['s < =', 0xd0],
];
for (const [tok, op] of JMP_OPS) {
  def(`if R ${tok} R goto B`, (a, c) => ins(0x05 | op | 0x08, n(a[0]), n(a[1]), c.branch(e(a[2]), 16)));
  def(`if R ${tok} I goto B`, (a, c) => ins(0x05 | op, n(a[0]), 0, c.branch(e(a[2]), 16), c.imm32(e(a[1]))));
  def(`if W ${tok} W goto B`, (a, c) => ins(0x06 | op | 0x08, n(a[0]), n(a[1]), c.branch(e(a[2]), 16)));
  def(`if W ${tok} I goto B`, (a, c) => ins(0x06 | op, n(a[0]), 0, c.branch(e(a[2]), 16), c.imm32(e(a[1]))));
}
def('goto B', (a, c) => ins(0x05, 0, 0, c.branch(e(a[0]), 16)));
def('gotol L', (a, c) => ins(0x06, 0, 0, 0, c.branch(e(a[0]), 32)));
def('may_goto B', (a, c) => ins(0xe5, 0, 0, c.branch(e(a[0]), 16)));
def('call I', (a, c) => { const t = c.call(e(a[0])); return ins(0x85, 0, t.src, 0, t.imm); });
def('callx R', (a) => ins(0x8d, n(a[0])));
def('exit', () => ins(0x95));

/** Constant value of an expression without symbols, or undefined. */
export function constOf(x: Expr): bigint | undefined {
  switch (x.k) {
    case 'num': return x.v;
    case 'un': {
      const v = constOf(x.a);
      if (v === undefined) return undefined;
      return x.op === '-' ? -v : x.op === '~' ? ~v : x.op === '!' ? (v === 0n ? 1n : 0n) : v;
    }
    case 'bin': {
      const a = constOf(x.a);
      const b = constOf(x.b);
      if (a === undefined || b === undefined) return undefined;
      switch (x.op) {
        case '+': return a + b;
        case '-': return a - b;
        case '*': return a * b;
        case '/': return b === 0n ? undefined : a / b;
        case '%': return b === 0n ? undefined : a % b;
        case '<<': return BigInt.asIntN(64, a << (b & 63n));
        case '>>': return a >> (b & 63n);
        case '&': return a & b;
        case '|': return a | b;
        case '^': return a ^ b;
      }
      return undefined;
    }
    default: return undefined;
  }
}

const inRange = (v: bigint | undefined, bits: number): boolean =>
  v !== undefined && v >= -(1n << BigInt(bits - 1)) && v < 1n << BigInt(bits - 1);

type ElemResult = 'ok' | 'no';

function matchElem(elem: string, op: Operand): ElemResult {
  switch (elem) {
    case 'R': return op.k === 'reg' && !op.w ? 'ok' : 'no';
    case 'W': return op.k === 'reg' && op.w ? 'ok' : 'no';
    case 'r0': return op.k === 'reg' && !op.w && op.n === 0 ? 'ok' : 'no';
    case 'w0': return op.k === 'reg' && op.w && op.n === 0 ? 'ok' : 'no';
    case 'I': return op.k === 'imm' ? 'ok' : 'no';
    case 'S': return op.k === 'imm' && inRange(constOf(op.e), 16) ? 'ok' : 'no';
    case 'B': return op.k === 'imm' && (op.e.k === 'sym' || inRange(constOf(op.e), 16)) ? 'ok' : 'no';
    // gotol: llvm-mc 19 only takes 16-bit constants; we also take what the disassembler prints.
    case 'L': return op.k === 'imm' && (op.e.k === 'sym' || inRange(constOf(op.e), 32)) ? 'ok' : 'no';
    default: return op.k === 'tok' && op.t === elem ? 'ok' : 'no';
  }
}

const ELEM_DIAG: Record<string, string> = {
  S: 'operand is not a 16-bit signed integer',
  B: 'operand is not an identifier or 16-bit signed integer',
  L: 'operand is not an identifier or 32-bit signed integer',
};

export interface Matched {
  size: 8 | 16;
  encode(ctx: EncodeContext): Encoded;
}

/** Match operands to an instruction; throws through `fail` as llvm-mc reports mismatches. */
export function matchInstruction(ops: Operand[], fail: (message: string, col: number) => never): Matched {
  let best = -1;
  let bestElem = '';
  let tooFew = false;
  for (const p of PATTERNS) {
    let i = 0;
    while (i < p.elems.length && i < ops.length && matchElem(p.elems[i], ops[i]) === 'ok') i++;
    if (i === p.elems.length && i === ops.length) {
      const args: Arg[] = [];
      p.elems.forEach((el, k) => {
        const op = ops[k];
        if (op.k === 'reg' && (el === 'R' || el === 'W')) args.push(op.n);
        else if (op.k === 'imm' && el === 'S') args.push(Number(constOf(op.e)));
        else if (op.k === 'imm') args.push(op.e);
      });
      return { size: p.size, encode: (ctx) => p.encode(args, ctx, ops) };
    }
    if (i === 0) continue;
    if (i > best || (i === best && tooFew && i < ops.length)) {
      best = i;
      bestElem = p.elems[i] ?? '';
      tooFew = i >= ops.length;
    }
  }
  if (best < 0) return fail('unknown instruction', ops[0].col);
  if (tooFew) return fail('too few operands for instruction', ops[0].col);
  const op = ops[best];
  return fail(ELEM_DIAG[bestElem] ?? 'invalid operand for instruction', op.col);
}

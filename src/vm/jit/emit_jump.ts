/*
 * Jumps: the branch to a block (forward: `br` to the end of its label; to the start of a block
 * that loops on itself: its `loop`; other backward: through $pc and the dispatch `br_table`),
 * conditions, may_goto, small register-only loops unrolled twice, and short forward jumps over
 * register-only code turned into selects (no branch at all).
 */
import { OP_TRAP } from '../decode.js';
import { alu, ldImm64 } from './emit_alu.js';
import { CMP32, CMP64 } from './emit_tables.js';
import { charge, segment } from './emit_segment.js';
import type { FunctionEmitter } from './emitter.js';
import { A32, G, LEFT, PC, R10 } from './layout.js';
import { Op } from './wasm_writer.js';

/** Unconditional jump to the block starting at slot t (the code after it is dead). */
export function jumpTo(e: FunctionEmitter, t: number): void {
  const j = e.blockAt[t];
  if (j === e.cur && e.selfLoop[j] === 1) {
    e.buf[e.pos++] = Op.br; e.u32(e.inner - 1);
  } else if (j > e.cur) {
    e.buf[e.pos++] = Op.br; e.u32(e.depthOf(j));
  } else {
    e.i32c(e.dispatchOf[j]); e.lset(PC); e.buf[e.pos++] = Op.br; e.u32(e.depthL());
  }
}

/** Conditional jump to the block starting at slot t, the condition (i32) on the stack. */
export function jumpIf(e: FunctionEmitter, t: number): void {
  const j = e.blockAt[t];
  if (j === e.cur && e.selfLoop[j] === 1) {
    e.buf[e.pos++] = Op.br_if; e.u32(e.inner - 1);
  } else if (j > e.cur) {
    e.buf[e.pos++] = Op.br_if; e.u32(e.depthOf(j));
  } else {
    e.buf[e.pos++] = Op.if; e.buf[e.pos++] = 0x40; e.inner++;
    jumpTo(e, t);
    e.buf[e.pos++] = Op.end; e.inner--;
  }
}

/** The conditional jump at slot pc (over a selected block: whether that block runs, in $pc). */
export function conditionalJump(e: FunctionEmitter, pc: number): void {
  if (e.cur + 1 < e.blocks && e.selected[e.cur + 1] === 1) { condition(e, pc, true); e.lset(PC); return; }
  condition(e, pc, false);
  jumpIf(e, e.P[(pc << 2) + 1]);
}

/** The most instructions a block skipped without a branch may have (selectedInstruction(): each runs, its result selected). */
const SELECT_MAX = 4;

/**
 * Whether the conditional jump ending block b, to block b + 2, may skip block b + 1 without a
 * branch (selectedInstruction(); findLabels() drops it when b + 1 has other ways in): b + 1 is
 * a few register-only instructions falling into b + 2, its budget carried into that block's
 * first check (an unchecked end, see emit_segment.ts, segment(): whenever b + 2 is no unrolled
 * loop).
 */
export function selectable(e: FunctionEmitter, b: number): boolean {
  const h = b + 1;
  const from = e.blockFrom[h];
  const to = e.blockTo[h];
  if (to - from > SELECT_MAX) return false;
  const P = e.P;
  const order = e.order;
  const o = P[order[e.blockTo[b] - 1] << 2] & 0xfff;
  if (o === 0x05 || o === 0xe5) return false;
  // (its last register-only, b + 1 ends where a block starts: b + 2, the jump's target, as the caller found)
  for (let x = from; x < to; x++) if (REGISTER_ONLY[P[order[x] << 2] & 0xfff] === 0) return false;
  return e.selfLoop[b + 2] === 0 || !canUnroll(e, b + 2);
}

/** 1 at the operations isRegisterOnly() accepts (a load per instruction). */
const REGISTER_ONLY = registerOnlyOps();

function registerOnlyOps(): Uint8Array {
  const t = new Uint8Array(0x1000);
  for (let op = 0; op < 0x1000; op++) if (isRegisterOnly(op)) t[op] = 1;
  return t;
}

/**
 * The instruction at slot pc of a selected block (see selectable()): its result kept only when
 * the block runs ($pc = 1), `select(new, old, $pc)`, so that the jump over the block needs no
 * `br_if`: Liftoff merges every local at each branch and block end (LiftoffAssembler::
 * MergeStackWith, MergeFullStackWith), and two of them cost more than a few selects (cmov).
 * Register-only code cannot trap: a division's divisor is made safe (emit_alu.ts).
 */
export function selectedInstruction(e: FunctionEmitter, pc: number): void {
  const P = e.P;
  const at = pc << 2;
  const word = P[at];
  const o = word & 0xfff;
  const d = (word >> 12) & 15;
  const start = e.pos;
  if (o === 0x18) ldImm64(e, d, P[at + 3], P[at + 2]);
  else if (!alu(e, o, d, (word >> 16) & 15, P[at + 2])) { // (no form: cannot happen for decoded programs)
    e.pos = start;
    e.setEnd = -1;
    e.lget(PC); e.buf[e.pos++] = Op.if; e.buf[e.pos++] = 0x40; e.trapAt(pc); e.buf[e.pos++] = Op.end;
    return;
  }
  if (e.pos === start) return; // (a no-op: le64, mod by 0)
  if (e.setEnd !== e.pos || e.setLocal !== (d === 10 ? R10 : d)) throw new Error(`jit: insn ${pc} does not end in setting r${d}`);
  e.pos = e.setAt;
  e.setEnd = -1;
  e.get(d); e.lget(PC); e.buf[e.pos++] = Op.select; e.set(d);
}

/** may_goto to slot t: jump once the loop budget is spent (and leave it at 0). */
export function mayGoto(e: FunctionEmitter, t: number): void {
  e.buf[e.pos++] = Op.global_get; e.u32(G.mayGoto); e.i32c(1); e.buf[e.pos++] = Op.i32_sub; e.ltee(A32); e.buf[e.pos++] = Op.global_set; e.u32(G.mayGoto);
  e.lget(A32); e.i32c(0); e.buf[e.pos++] = Op.i32_lt_s;
  e.buf[e.pos++] = Op.if; e.buf[e.pos++] = 0x40; e.inner++;
  e.i32c(0); e.buf[e.pos++] = Op.global_set; e.u32(G.mayGoto);
  jumpTo(e, t);
  e.buf[e.pos++] = Op.end; e.inner--;
}

/** A jump condition's opposite (op & 0xf0), jset's aside: eq/ne, gt/le, ge/lt (unsigned, signed). */
const OPPOSITE = oppositeConditions();

function oppositeConditions(): Uint8Array {
  const t = new Uint8Array(0x100);
  for (const [a, b] of [[0x10, 0x50], [0x20, 0xb0], [0x30, 0xa0], [0x60, 0xd0], [0x70, 0xc0]]) { t[a] = b; t[b] = a; }
  return t;
}

/** The condition of the conditional jump at slot pc (`negate`: its opposite), as an i32 (0 or 1) on the stack. */
function condition(e: FunctionEmitter, pc: number, negate: boolean): void {
  const P = e.P;
  const word = P[pc << 2];
  const o = word & 0xfff;
  const d = (word >> 12) & 15;
  const s = (word >> 16) & 15;
  const k = P[(pc << 2) + 2];
  const jop = negate ? OPPOSITE[o & 0xf0] : o & 0xf0;
  const isX = (o & 8) !== 0;
  if ((o & 7) === 5) {
    e.get(d); if (isX) e.get(s); else e.sx(k);
    if ((o & 0xf0) !== 0x40) e.buf[e.pos++] = CMP64[jop];
    else if (negate) { e.buf[e.pos++] = Op.i64_and; e.buf[e.pos++] = Op.i64_eqz; }
    else { e.buf[e.pos++] = Op.i64_and; e.i64c(0, 0); e.buf[e.pos++] = Op.i64_ne; }
  } else {
    e.get(d); e.buf[e.pos++] = Op.i32_wrap_i64; if (isX) { e.get(s); e.buf[e.pos++] = Op.i32_wrap_i64; } else e.i32c(k);
    if ((o & 0xf0) !== 0x40) e.buf[e.pos++] = CMP32[jop];
    else if (negate) { e.buf[e.pos++] = Op.i32_and; e.buf[e.pos++] = Op.i32_eqz; }
    else { e.buf[e.pos++] = Op.i32_and; e.i32c(0); e.buf[e.pos++] = Op.i32_ne; }
  }
}

/** ALU and ld_imm64 only: no memory, no fault, no effect outside the registers. */
function isRegisterOnly(o: number): boolean {
  const c = o & 7;
  return o === 0x18 || ((c === 4 || c === 7) && o !== OP_TRAP);
}

/**
 * A small loop that is one block of register-only instructions ending in a conditional jump
 * back to its start (a hash or checksum loop) runs two iterations per budget check while at
 * least two are affordable: the budget is charged for both up front and refunded when the loop
 * ends after the first, so errors and counts stay exact; otherwise one iteration, as usual.
 */
export function canUnroll(e: FunctionEmitter, b: number): boolean {
  const from = e.blockFrom[b];
  const to = e.blockTo[b];
  const last = e.order[to - 1];
  const lastOp = e.op(last);
  if (e.isVerified || e.selfLoop[b] === 0 || to - from > 48 || lastOp === 0x05 || lastOp === 0xe5) return false;
  for (let x = from; x < to - 1; x++) if (!isRegisterOnly(e.op(e.order[x]))) return false;
  return true;
}

/** Block b as an unrolled loop, when canUnroll(); false (nothing emitted) when not. */
export function unrolledLoop(e: FunctionEmitter, b: number): boolean {
  if (!canUnroll(e, b)) return false;
  const from = e.blockFrom[b];
  const last = e.order[e.blockTo[b] - 1];
  const n1 = e.blockTo[b] - from;
  const exitTo = e.next(last);
  // e.inner = 1 (the block's own loop)
  e.lget(LEFT); e.i32c(2 * n1); e.buf[e.pos++] = Op.i32_lt_s;
  e.buf[e.pos++] = Op.if; e.buf[e.pos++] = 0x40; e.inner++;
  charge(e, segment(e, e.order[from], n1), n1, false);
  loopBody(e, b); condition(e, last, false); e.buf[e.pos++] = Op.br_if; e.u32(e.inner - 1); jumpTo(e, exitTo);
  e.buf[e.pos++] = Op.else;
  e.lget(LEFT); e.i32c(2 * n1); e.buf[e.pos++] = Op.i32_sub; e.lset(LEFT);
  loopBody(e, b); condition(e, last, false); e.buf[e.pos++] = Op.i32_eqz;
  e.buf[e.pos++] = Op.if; e.buf[e.pos++] = 0x40; e.inner++;
  e.lget(LEFT); e.i32c(n1); e.buf[e.pos++] = Op.i32_add; e.lset(LEFT); jumpTo(e, exitTo);
  e.buf[e.pos++] = Op.end; e.inner--;
  loopBody(e, b); condition(e, last, false); e.buf[e.pos++] = Op.br_if; e.u32(e.inner - 1); jumpTo(e, exitTo);
  e.buf[e.pos++] = Op.end; e.inner--;
  return true;
}

/** One iteration of an unrolled loop's block b, without its final jump. */
function loopBody(e: FunctionEmitter, b: number): void {
  const P = e.P;
  for (let x = e.blockFrom[b]; x < e.blockTo[b] - 1; x++) {
    const at = e.order[x] << 2;
    const o = P[at] & 0xfff;
    const d = (P[at] >> 12) & 15;
    if (o === 0x18) ldImm64(e, d, P[at + 3], P[at + 2]); else alu(e, o, d, (P[at] >> 16) & 15, P[at + 2]);
  }
}

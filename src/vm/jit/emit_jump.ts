/*
 * Jumps: the branch to a block (forward: `br` to the end of its label; to the start of a block
 * that loops on itself: its `loop`; other backward: through $pc and the dispatch `br_table`),
 * conditions, may_goto, and small register-only loops unrolled twice.
 */
import { OP_TRAP } from '../decode.js';
import { alu, ldImm64 } from './emit_alu.js';
import { CMP32, CMP64 } from './emit_tables.js';
import { charge, segment } from './emit_segment.js';
import type { FunctionEmitter } from './emitter.js';
import { A32, G, LEFT, PC } from './layout.js';
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

/** The conditional jump at slot pc. */
export function conditionalJump(e: FunctionEmitter, pc: number): void {
  condition(e, pc);
  jumpIf(e, e.P[(pc << 2) + 1]);
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

/** The condition of the conditional jump at slot pc, as an i32 on the stack. */
function condition(e: FunctionEmitter, pc: number): void {
  const P = e.P;
  const word = P[pc << 2];
  const o = word & 0xfff;
  const d = (word >> 12) & 15;
  const s = (word >> 16) & 15;
  const k = P[(pc << 2) + 2];
  const jop = o & 0xf0;
  const isX = (o & 8) !== 0;
  if ((o & 7) === 5) {
    e.get(d); if (isX) e.get(s); else e.sx(k);
    if (jop === 0x40) { e.buf[e.pos++] = Op.i64_and; e.i64c(0, 0); e.buf[e.pos++] = Op.i64_ne; } else e.buf[e.pos++] = CMP64[jop];
  } else {
    e.get(d); e.buf[e.pos++] = Op.i32_wrap_i64; if (isX) { e.get(s); e.buf[e.pos++] = Op.i32_wrap_i64; } else e.i32c(k);
    if (jop === 0x40) { e.buf[e.pos++] = Op.i32_and; e.i32c(0); e.buf[e.pos++] = Op.i32_ne; } else e.buf[e.pos++] = CMP32[jop];
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
  charge(e, segment(e, e.order[from], n1), n1);
  loopBody(e, b); condition(e, last); e.buf[e.pos++] = Op.br_if; e.u32(e.inner - 1); jumpTo(e, exitTo);
  e.buf[e.pos++] = Op.else;
  e.lget(LEFT); e.i32c(2 * n1); e.buf[e.pos++] = Op.i32_sub; e.lset(LEFT);
  loopBody(e, b); condition(e, last); e.buf[e.pos++] = Op.i32_eqz;
  e.buf[e.pos++] = Op.if; e.buf[e.pos++] = 0x40; e.inner++;
  e.lget(LEFT); e.i32c(n1); e.buf[e.pos++] = Op.i32_add; e.lset(LEFT); jumpTo(e, exitTo);
  e.buf[e.pos++] = Op.end; e.inner--;
  loopBody(e, b); condition(e, last); e.buf[e.pos++] = Op.br_if; e.u32(e.inner - 1); jumpTo(e, exitTo);
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

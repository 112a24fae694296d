/*
 * The instruction budget of the checked tier, charged per segment: a run of instructions ending
 * at the first one that can fault, leave or write memory (see compile.ts's header and
 * classifySegments()). Positions are indices in the emitter's `order` (the current block's slots
 * are order[blockFrom .. blockEnd)).
 */
import { type FunctionEmitter, SEG_END, SEG_SILENT } from './emitter.js';
import { LEFT, PC } from './layout.js';
import { Op } from './wasm_writer.js';

/**
 * A segment for the $budget handler, which walks `count` instructions from slot `first` (less
 * what was left). A segment entered by falling through from an unchecked one (see `carry`)
 * starts where that one did, with both counts: right for either way in, as the two are adjacent
 * in slot order and the unchecked one was either run in full or not entered.
 */
export function segment(e: FunctionEmitter, first: number, count: number): number {
  e.segStart.push(first);
  e.segCount.push(count);
  return e.segStart.length - 1;
}

/**
 * A segment whose carried part passed a selected block of `hole` instructions (emit_jump.ts,
 * selectedInstruction(): run when $pc = 1): two segments, the block skipped then run, and the
 * first's id. Skipped, the handler's walk from `first` takes the first jump it passes, the one
 * over the block (its count stored as ~count says so; see jit.ts, failure()). charge() with
 * `holey` names the one $pc says ran. The carried part never contains a jump before that one
 * (it ends blocks), nor a second selected block (startSegment() charges a holey segment).
 */
export function holeySegment(e: FunctionEmitter, first: number, count: number, hole: number): number {
  // (The block before the selected one left its own count to this segment's charge, `unlowered`:
  // nothing between reads `left`, the selected block only lowers it.)
  const skipped = segment(e, first, ~(count - hole));
  segment(e, first, count);
  return skipped;
}

/**
 * Charge `count` instructions of segment `seg` (checked tier). An overdraft branches to the
 * function's one out-of-line handler ($budget, around the dispatch loop) with the segment in
 * $pc: a `br_if` costs V8's baseline compiler (Liftoff) far less than an `if` holding a call.
 * ($pc is free here: it is only read by the dispatch `br_table`, right after being set.)
 * Measured against it (10k synthetic program, x64 bytes per insn, 37.4 here): a `return` per
 * overdraft, passed on by every caller, 43.4 (Node 20's Liftoff adds a tier-up budget check to
 * every return); an `if` holding an `unreachable` trap, the segment and left left in globals,
 * 37.9; a first, never-taken branch to $budget right after the loop header (all locals spilled
 * there) so that every check spills instead of moving, 38.3.
 */
export function charge(e: FunctionEmitter, seg: number, count: number, holey: boolean): void {
  if (holey) { e.lget(PC); e.i32c(seg); e.buf[e.pos++] = Op.i32_add; } else e.i32c(seg); // (holey: seg, or the next one when the block ran)
  e.lset(PC);
  e.lget(LEFT); e.i32c(-(count + e.unlowered)); e.buf[e.pos++] = Op.i32_add; e.ltee(LEFT); e.i32c(0); e.buf[e.pos++] = Op.i32_lt_s;
  e.unlowered = 0;
  e.buf[e.pos++] = Op.br_if; e.u32(e.depthL() + 1);
}

/**
 * A segment with silent stores before its last instruction is charged just before that one
 * (the same charge()), and each of those stores goes ahead only if the budget covered it
 * (guardedFrame(); else to the never-allocated page at 0: the null guard, which no region,
 * program or comparison sees): one `br_if` per segment, the costly part for Liftoff, instead
 * of one per store. (Also the unchecked last segment of a block that falls through, with
 * every silent store guarded and `left` lowered after its last instruction.)
 */
export function lowerLeft(e: FunctionEmitter, count: number): void {
  e.lget(LEFT); e.i32c(-count); e.buf[e.pos++] = Op.i32_add; e.lset(LEFT);
}

/** lowerLeft() for a selected block (emit_jump.ts, selectedInstruction()): only when it ran ($pc = 1). */
export function lowerLeftIfRun(e: FunctionEmitter, count: number): void {
  e.lget(LEFT); e.lget(PC);
  if ((count & (count - 1)) === 0) { if (count > 1) { e.i32c(31 - Math.clz32(count)); e.buf[e.pos++] = Op.i32_shl; } } // (Liftoff: shl by an immediate; no imul by one)
  else { e.i32c(count); e.buf[e.pos++] = Op.i32_mul; }
  e.buf[e.pos++] = Op.i32_sub; e.lset(LEFT);
}

/**
 * With the frame base on the stack, for a silent store at position `at` of a segment not
 * charged yet: the frame base when the budget (left) exceeds `at`, as the interpreter would
 * have run the store; else 0. As a mask, fb & ((at - left) >> 31), not a `select` of a
 * comparison, which Liftoff compiles as setcc, movzx, test, cmov (left is at most MAX_BUDGET,
 * 2^31 - 1, and at least minus a block's length: the difference never overflows).
 */
export function guardedFrame(e: FunctionEmitter, at: number): void {
  e.i32c(at + e.unlowered); e.lget(LEFT); e.buf[e.pos++] = Op.i32_sub; e.i32c(31); e.buf[e.pos++] = Op.i32_shr_s; e.buf[e.pos++] = Op.i32_and;
}

/** Start the segment at position `from` of the current block: charged now, deferred to its last instruction, or left to the next block. */
export function startSegment(e: FunctionEmitter, from: number): void {
  if (e.isVerified) return;
  const order = e.order;
  const segKind = e.segKind;
  const last = e.blockEnd - 1;
  let to = from;
  let silent = false;
  while (to < last && segKind[order[to]] !== SEG_END) { if (segKind[order[to]] === SEG_SILENT) silent = true; to++; }
  e.segSize = to - from + 1;
  const atBlockStart = from === e.blockFrom[e.cur] && e.carryIn >= 0;
  const first = atBlockStart ? e.carryFirst : order[from];
  const count = atBlockStart ? e.carryIn + e.segSize : e.segSize;
  const hole = atBlockStart ? e.holeIn : 0;
  if (to === last && e.uncheckedEnd && hole === 0) { // (left lowered after the block's last instruction)
    e.carryFirst = first;
    e.carry = count;
    e.checkAt = -1;
    e.guardTo = to + 1;
  } else if (silent) {
    e.segDeferred = hole > 0 ? holeySegment(e, first, count, hole) : segment(e, first, count);
    e.segHoley = hole > 0;
    e.checkAt = to;
    e.guardTo = to;
  } else {
    charge(e, hole > 0 ? holeySegment(e, first, count, hole) : segment(e, first, count), e.segSize, hole > 0);
    e.checkAt = -1;
    e.guardTo = -1;
  }
}

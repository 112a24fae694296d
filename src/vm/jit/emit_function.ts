/*
 * One program function (the entry or a local-call target) to a wasm function body: its blocks
 * laid out in slot order inside the dispatch loop (see compile.ts's header), each instruction
 * handed to the emitter of its class.
 */
import { MAX_BPF_STACK } from '../../isa/opcodes.js';
import { OP_CALL_LOCAL, OP_TRAP } from '../decode.js';
import { alu, ldImm64 } from './emit_alu.js';
import { helperCall, localCall } from './emit_call.js';
import { blockAtSlot, classifySegments, findBlocks, findDispatch, findLabels, findR10Fixed } from './emit_cfg.js';
import { conditionalJump, jumpTo, mayGoto, unrolledLoop, canUnroll, selectedInstruction } from './emit_jump.js';
import { atomic, ldAbs, load, store } from './emit_mem.js';
import { charge, lowerLeft, lowerLeftIfRun, startSegment } from './emit_segment.js';
import { LOAD_SIZE } from './emit_tables.js';
import { type FunctionEmitter, MAX_REGISTER_INSN_BYTES, ROOM, SEG_END, emitter } from './emitter.js';
import {
  A32, DEPTH, FAIL_BUDGET, FAIL_TRAP, FB, HOST_FAIL, type Imports, JUMP_OP, type JitHelperOptions, LEFT, PC, R10, RESUME,
} from './layout.js';
import { ByteWriter, I32, Op } from './wasm_writer.js';


/**
 * Compile the function starting at slot `entry` into `out`; returns the instructions compiled.
 * Budget segments go to segStart/segCount; local-call targets are declared through funcOf.
 */
export function compileFunction(
  P: Int32Array, entry: number, isMain: boolean, out: ByteWriter, funcOf: (slot: number) => number,
  segStart: number[], segCount: number[], shared: boolean, pure: boolean, options: JitHelperOptions, imports: Imports,
  cuts: Uint8Array, contOf: (slot: number) => number,
): number {
  const e = emitter;
  e.begin(P, entry, isMain, options, imports, shared, pure, segStart, segCount, funcOf, cuts, contOf);
  findBlocks(e);
  findDispatch(e);
  findR10Fixed(e);
  classifySegments(e);
  e.room(4096 + e.ordered * 20); // (about what the checked tier needs; grows if not)
  prologue(e);
  findLabels(e);
  const compiled = body(e);
  if (e.pos > e.buf.length) throw new Error('jit: the function emitted more than its room');
  out.bytes(e.buf.subarray(0, e.pos));
  return compiled;
}

/** The most labels open at once in the function compileFunction() compiled last. */
export function lastLabelDepth(): number {
  return emitter.maxOpens;
}

/** After a module: let go of its program and of buffers grown too large to keep. */
export function releaseEmitter(): void {
  emitter.release();
}

/** r10 = frame top, the frame zeroed (unless entered by a tail call), the verified tier's zero-budget stop, $pc = 0. */
function prologue(e: FunctionEmitter): void {
  if (e.imports.ftop < 0) { e.buf[e.pos++] = Op.global_get; e.u32(0); } else { // (no ftop: every function runs at depth 0)
    e.lget(DEPTH);
    e.buf[e.pos++] = Op.if; e.buf[e.pos++] = I32; e.lget(DEPTH); e.buf[e.pos++] = Op.call; e.u32(e.imports.ftop);
    e.buf[e.pos++] = Op.else; e.buf[e.pos++] = Op.global_get; e.u32(0); e.buf[e.pos++] = Op.end; // (depth 0, every run's entry: f0)
  }
  e.ltee(A32); e.buf[e.pos++] = Op.i64_extend_i32_u; e.lset(R10);
  e.lget(A32); e.i32c(MAX_BPF_STACK); e.buf[e.pos++] = Op.i32_sub; e.lset(FB);
  if (!e.pure) { // (a program writing no memory finds its frames zeroed by the host)
    e.lget(RESUME); e.buf[e.pos++] = Op.i32_eqz;
    e.buf[e.pos++] = Op.if; e.buf[e.pos++] = 0x40;
    // verified: only the bytes the program can reach (the rest is never read, so never differs)
    const depth = e.verified === undefined ? MAX_BPF_STACK : Math.min(MAX_BPF_STACK, (e.verified.stackDepth + 7) & ~7);
    if (depth <= 64) for (let o = MAX_BPF_STACK - depth; o < MAX_BPF_STACK; o += 8) { e.lget(FB); e.i64c(0, 0); e.mem(Op.i64_store, o); }
    else { e.lget(FB); e.i32c(MAX_BPF_STACK - depth); e.buf[e.pos++] = Op.i32_add; e.i32c(0); e.i32c(depth); e.buf[e.pos++] = 0xfc; e.u32(0x0b); e.buf[e.pos++] = 0; }
    e.buf[e.pos++] = Op.end;
  }
  if (e.isVerified && e.isMain) {
    // no budget in the verified tier, but a zero budget still stops before the first
    // instruction (prepare() compiles the entry that way without running the program)
    e.lget(LEFT); e.i32c(1); e.buf[e.pos++] = Op.i32_lt_s;
    e.buf[e.pos++] = Op.if; e.buf[e.pos++] = 0x40;
    e.i32c(HOST_FAIL + FAIL_BUDGET); e.i32c(e.segStart.length); e.i64c(0, 0); e.lget(LEFT); e.callHost(); e.buf[e.pos++] = Op.unreachable;
    e.buf[e.pos++] = Op.end;
    e.segStart.push(e.entry);
    e.segCount.push(0);
  }
  if (dispatched(e)) { e.i32c(0); e.lset(PC); }
}

/** Whether the function needs the dispatch `br_table` (a backward jump, or an entry not at block 0). */
function dispatched(e: FunctionEmitter): boolean {
  return e.dispatches > 1 || e.dispatch[0] !== 0;
}

/** [$budget handler block,] the dispatch header, each block's code, the handler. Returns the instructions compiled. */
function body(e: FunctionEmitter): number {
  const n = e.blocks;
  e.room(ROOM + n * 2 + e.dispatches * 5);
  if (!e.isVerified) { e.buf[e.pos++] = Op.block; e.buf[e.pos++] = 0x40; }
  e.buf[e.pos++] = Op.loop; e.buf[e.pos++] = 0x40;
  e.openLabels(-1);
  if (dispatched(e)) {
    e.lget(PC); e.buf[e.pos++] = Op.br_table; e.u32(e.dispatches);
    for (let k = 0; k < e.dispatches; k++) e.u32(e.depthOf(e.dispatch[k]));
    e.u32(e.depthOf(e.dispatch[0]));
  }
  let compiled = 0;
  for (let b = 0; b < n; b++) compiled += block(e, b);
  e.room(ROOM);
  e.buf[e.pos++] = Op.end; // loop $L
  e.buf[e.pos++] = Op.unreachable;
  if (!e.isVerified) { // $budget: segment $pc overdrew (or $pc < 0: frames exhausted at insn -1 - $pc); the host names the instruction
    e.buf[e.pos++] = Op.end;
    e.i32c(HOST_FAIL + FAIL_BUDGET); e.lget(PC); e.i64c(0, 0); e.lget(LEFT); e.callHost(); e.buf[e.pos++] = Op.unreachable;
  }
  return compiled;
}

/** Block b's code; returns its instruction count. */
function block(e: FunctionEmitter, b: number): number {
  const from = e.blockFrom[b];
  const to = e.blockTo[b];
  e.cur = b;
  e.inner = 0;
  if (e.labeled[b] === 1) e.closeLabel(b); // end of $B(b): this block's code follows
  e.openLabels(b);
  const selfLoop = e.selfLoop[b] === 1;
  if (selfLoop) { e.buf[e.pos++] = Op.loop; e.buf[e.pos++] = 0x40; e.inner = 1; }
  e.room(ROOM + (to - from) * 3 * MAX_REGISTER_INSN_BYTES);
  if (unrolledLoop(e, b)) {
    e.buf[e.pos++] = Op.end;
    return to - from;
  }
  const order = e.order;
  const segKind = e.segKind;
  e.blockEnd = to;
  e.segFrom = from;
  e.checkAt = -1;
  e.guardTo = -1;
  // A block ending in a register-only instruction (or a silent store, or a load from the frame)
  // that falls through into the next block in layout charges its last segment with no check:
  // the next block's first check covers it (see segment()). One `br_if` fewer per such block.
  const last = order[to - 1];
  const lastOp = e.op(last);
  // So does one ending in a jump over a selected block (b + 1) into a block nothing else enters:
  // the three run as straight-line code, and that block's check covers both ways (holeySegment()).
  e.uncheckedEnd = !e.isVerified && lastOp !== 0x95 && lastOp !== OP_TRAP && (JUMP_OP[lastOp] === 0
    ? segKind[last] !== SEG_END && blockAtSlot(e, e.next(last)) === b + 1 && !canUnroll(e, b + 1)
    : b + 1 < e.blocks && e.selected[b + 1] === 1 && e.labeled[b + 2] === 0);
  e.carryIn = e.carry;
  e.carry = -1;
  e.holeIn = e.carryHole;
  e.carryHole = 0;
  startSegment(e, from);
  if (e.selected[b] === 1) return selectedBlock(e, b);
  let compiled = 0;
  for (let x = from; x < to; x++) {
    if (x > e.segFrom && segKind[order[x - 1]] === SEG_END) { e.segFrom = x; startSegment(e, x); }
    if (x === e.checkAt) charge(e, e.segDeferred, e.segSize, e.segHoley);
    compiled++;
    if (e.pos > e.buf.length - ROOM) { // (the last one overran its room: bytes were lost)
      if (e.pos > e.buf.length) throw new Error('jit: an instruction emitted more than its room');
      e.room(ROOM);
    }
    if (!instruction(e, order[x], x)) { // (the rest of the block is dead)
      if (selfLoop) e.buf[e.pos++] = Op.end;
      return compiled;
    }
  }
  // (the block's unchecked last segment; ended by a jump over a selected block, the next check takes it: see holeySegment())
  if (e.carry >= 0) { if (JUMP_OP[lastOp] === 1) e.unlowered = e.segSize; else lowerLeft(e, e.segSize); }
  const t = e.next(last);
  if (t < e.cuts.length && e.cuts[t] === 1) continueAt(e, t);
  else if (blockAtSlot(e, t) !== b + 1) jumpTo(e, t);
  if (selfLoop) e.buf[e.pos++] = Op.end;
  return compiled;
}

/** Block b, selected (emit_jump.ts, selectable()): its instructions as selects, `left` lowered if it ran; falls into b + 1. */
function selectedBlock(e: FunctionEmitter, b: number): number {
  const from = e.blockFrom[b];
  const to = e.blockTo[b];
  for (let x = from; x < to; x++) selectedInstruction(e, e.order[x]);
  if (!e.isVerified) {
    if (e.carry < 0) throw new Error(`jit: selected block ${b} is charged`); // (cannot happen: see selectable())
    lowerLeftIfRun(e, e.segSize);
    if (e.carryIn >= 0) e.carryHole = e.segSize; // (the block before carried into this one: a hole in the next check's walk)
  }
  return to - from;
}

/**
 * The entry's code goes on at slot t, a region of its own (regions.ts): call that function with the
 * registers, frame depth and budget (`resume`: the frame stays as it is) and return what it returns.
 */
function continueAt(e: FunctionEmitter, t: number): void {
  for (let r = 0; r <= 9; r++) e.get(r);
  e.lget(DEPTH); e.lget(LEFT); e.i32c(1);
  e.buf[e.pos++] = Op.call; e.u32(e.contOf(t)); e.buf[e.pos++] = Op.return;
}

/** The instruction at slot pc (position x in `order`); false when it ends the block's code (exit, trap, goto). */
function instruction(e: FunctionEmitter, pc: number, x: number): boolean {
  const P = e.P;
  const at = pc << 2;
  const word = P[at];
  const o = word & 0xfff;
  const d = (word >> 12) & 15;
  const s = (word >> 16) & 15;
  const k = P[at + 2];
  const cls = o & 7;
  if (cls === 4 || cls === 7) {
    if (o === OP_TRAP) { e.fail(FAIL_TRAP, k, 0); return false; }
    if (!alu(e, o, d, s, k)) e.trapAt(pc);
    return true;
  }
  if (o === 0x18) { ldImm64(e, d, P[at + 3], k); return true; }
  if (cls === 5 || cls === 6) return jumpClass(e, pc, o, d, k);
  if (cls === 1) {
    if (LOAD_SIZE[o] === 0) { e.trapAt(pc); return false; }
    load(e, pc, o, d, s, P[at + 1]);
    return true;
  }
  if (cls === 2 || cls === 3) {
    if ((o & 0xe0) === 0xc0) atomic(e, pc, o, d, s, P[at + 1], k);
    else store(e, pc, x, o, d, s, P[at + 1], k);
    return true;
  }
  if (cls === 0 && (o & 0xe0) !== 0) { ldAbs(e, pc, o, s, k); return true; }
  e.trapAt(pc); // unknown internal op (cannot happen for decoded programs)
  return false;
}

/** Classes JMP and JMP32: exit, goto, may_goto, conditional jumps, calls. False when the block's code ends. */
function jumpClass(e: FunctionEmitter, pc: number, o: number, d: number, k: number): boolean {
  if (o === 0x95) { e.leave(false); return false; } // exit
  const w1 = e.P[(pc << 2) + 1];
  if (o === 0x05) { jumpTo(e, w1); return false; }
  if (o === 0xe5) { mayGoto(e, w1); return true; }
  if (o === 0x85 || o === 0x8d) { helperCall(e, pc, o, d, k); return true; }
  if (o === OP_CALL_LOCAL) { localCall(e, pc, w1); return true; }
  if (JUMP_OP[o] === 1) { conditionalJump(e, pc); return true; }
  e.trapAt(pc);
  return false;
}

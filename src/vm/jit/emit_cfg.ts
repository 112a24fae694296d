/*
 * A function's control flow, for the emitters: reachable slots and basic blocks (in slot order),
 * the dispatch entries (the entry and targets of backward jumps), which blocks get a wasm label,
 * and the facts about its slots the checks depend on (r10 fixed, budget segment ends).
 */
import { BpfError } from '../../errors.js';
import { OP_CALL_LOCAL, OP_TRAP } from '../decode.js';
import { type FunctionEmitter, SEG_END, SEG_SILENT } from './emitter.js';
import { canUnroll, selectable } from './emit_jump.js';
import { JUMP_OP } from './layout.js';
import { LOAD_SIZE, STORE_SIZE } from './emit_tables.js';

/** V8's limit on br_table entries. */
const MAX_DISPATCH = 65520;

/** Reachable slots from the entry, block leaders, and the blocks (declaring local-call targets as met). */
export function findBlocks(e: FunctionEmitter): void {
  const P = e.P;
  const nslots = e.nslots;
  const seen = e.seen;
  const leader = e.leader;
  const work = e.work;
  leader[e.entry] = 1;
  let lo = e.entry;
  let hi = e.entry;
  let sp = 0;
  work[sp++] = e.entry;
  while (sp > 0) {
    let s = work[--sp];
    for (;;) {
      if (s < lo) lo = s;
      if (s > hi) hi = s; // (every slot marked below is one the walk reaches: a leader is pushed or next)
      if (seen[s]) break;
      if (s < e.cuts.length && e.cuts[s] === 1 && s !== e.entry) { // the next region: fallen into, continued in another function
        leader[s] = 1;
        e.contOf(s);
        break;
      }
      seen[s] = 1;
      const o = P[s << 2] & 0xfff;
      if (o === 0x95 || o === OP_TRAP) break;
      if (JUMP_OP[o] === 1) {
        const t = P[(s << 2) + 1];
        leader[t] = 1;
        work[sp++] = t;
        if (o !== 0x05) {
          const n = s + 1; // (a jump takes one slot)
          leader[n] = 1;
          work[sp++] = n;
        }
        break;
      }
      if (o === OP_CALL_LOCAL) e.funcOf(P[(s << 2) + 1]);
      s += o === 0x18 ? 2 : 1; // (e.next(s) written out: per slot, before V8 optimises)
    }
  }
  e.lo = lo;
  e.hi = hi;
  const blockAt = e.blockAt;
  const order = e.order;
  let ordered = 0;
  let blocks = 0;
  const end = Math.min(hi, nslots - 1);
  for (let s = lo; s <= end; s++) {
    blockAt[s] = -1;
    if (!seen[s] || !leader[s]) continue;
    blockAt[s] = blocks;
    e.blockFrom[blocks] = ordered;
    e.selfLoop[blocks] = 0;
    let t = s;
    for (;;) {
      order[ordered++] = t;
      const o = P[t << 2] & 0xfff;
      if (o === 0x95 || o === OP_TRAP || JUMP_OP[o] === 1) break;
      t += o === 0x18 ? 2 : 1;
      if (leader[t]) break;
    }
    e.blockTo[blocks] = ordered;
    blocks++;
  }
  blockAt[nslots] = -1;
  e.ordered = ordered;
  e.blocks = blocks;
}

/** The block starting at slot t (-1 when none: t is outside the function or not a leader). */
export function blockAtSlot(e: FunctionEmitter, t: number): number {
  return t >= e.lo && t <= e.hi && t < e.nslots ? e.blockAt[t] : -1;
}

/** The last slot of block b. */
export function lastSlot(e: FunctionEmitter, b: number): number {
  return e.order[e.blockTo[b] - 1];
}

/**
 * Dispatch entries: the entry block and every target of a backward jump (a jump to the start of
 * its own block is a `loop` of its own instead).
 */
export function findDispatch(e: FunctionEmitter): void {
  const P = e.P;
  const dispatchOf = e.dispatchOf;
  dispatchOf.fill(-1, 0, e.blocks);
  const first = e.blockAt[e.entry];
  e.dispatch[0] = first;
  e.dispatches = 1;
  dispatchOf[first] = 0;
  const order = e.order;
  const blockTo = e.blockTo;
  for (let b = 0; b < e.blocks; b++) {
    const last = order[blockTo[b] - 1];
    if (JUMP_OP[P[last << 2] & 0xfff] === 0) continue;
    const j = blockAtSlot(e, P[(last << 2) + 1]);
    if (j === b) e.selfLoop[b] = 1;
    else if (j < b && dispatchOf[j] < 0) {
      dispatchOf[j] = e.dispatches;
      e.dispatch[e.dispatches++] = j;
    }
  }
  if (e.dispatches > MAX_DISPATCH) {
    throw new BpfError('E2BIG', `jit: ${e.dispatches} loop heads in one function (at most ${MAX_DISPATCH})`);
  }
}

/**
 * Is r10 never written in this function? Then it is always the frame top, and accesses at r10 +
 * off inside the frame need no check (and cannot fault).
 */
export function findR10Fixed(e: FunctionEmitter): void {
  const P = e.P;
  const seen = e.seen;
  for (let t = e.lo, end = Math.min(e.hi, e.nslots - 1); t <= end; t++) {
    if (!seen[t]) continue;
    if (writesR10(P[t << 2])) { e.r10Fixed = false; return; }
  }
  e.r10Fixed = true;
}

/** Whether the instruction (its decoded word) writes r10. */
export function writesR10(word: number): boolean {
  const o = word & 0xfff;
  if (o === OP_TRAP) return false;
  const c = o & 7;
  if (((word >> 12) & 15) === 10 && (c === 4 || c === 7 || c === 1 || o === 0x18)) return true;
  return (o === 0xc3 || o === 0xdb) && ((word >> 16) & 15) === 10;
}

/**
 * Per reachable slot (the checked tier only: the verified one charges nothing): SEG_END when the
 * instruction may fault, leave or write memory (a budget segment ends after it: charged up front,
 * a segment must not contain effects before its last instruction), SEG_SILENT for a store (not
 * atomic) at r10 + off inside the frame, which cannot fault and is guarded instead (see
 * guardedFrame()).
 */
export function classifySegments(e: FunctionEmitter): void {
  if (e.isVerified) return;
  const P = e.P;
  const seen = e.seen;
  const segKind = e.segKind;
  for (let t = e.lo, end = Math.min(e.hi, e.nslots - 1); t <= end; t++) {
    if (seen[t] === 0) continue;
    const word = P[t << 2];
    const o = word & 0xfff;
    const c = o & 7;
    const silent = (c === 2 || c === 3) && (o & 0xe0) === 0x60 && e.staticFrame((word >> 12) & 15, P[(t << 2) + 1], STORE_SIZE[o & 0x18]);
    if (MAY_FAULT[o] === 1) {
      const ends = c === 1 ? !e.staticFrame((word >> 16) & 15, P[(t << 2) + 1], LOAD_SIZE[o]) : !silent; // ldx: base is src
      segKind[t] = ends ? SEG_END : silent ? SEG_SILENT : 0;
    } else segKind[t] = silent ? SEG_SILENT : 0;
  }
}

/** 1 at the operations mayFault() accepts (a load per slot instead of a call and a chain of compares). */
const MAY_FAULT = mayFaultOps();

function mayFaultOps(): Uint8Array {
  const t = new Uint8Array(0x1000);
  for (let op = 0; op < 0x100; op++) if (mayFault(op)) t[op] = 1;
  t[OP_CALL_LOCAL] = 1;
  t[OP_TRAP] = 1;
  return t;
}

/** Operations that may fault, leave the program or write memory. */
function mayFault(op: number): boolean {
  switch (op) {
    case 0x61: case 0x69: case 0x71: case 0x79: case 0x81: case 0x89: case 0x91:
    case 0x62: case 0x6a: case 0x72: case 0x7a: case 0x63: case 0x6b: case 0x73: case 0x7b:
    case 0xc3: case 0xdb:
    case 0x20: case 0x28: case 0x30: case 0x40: case 0x48: case 0x50:
    case 0x85: case 0x8d: case OP_CALL_LOCAL: case OP_TRAP:
      return true;
    default:
      return false;
  }
}

/**
 * The labels: dispatch entries, forward jump targets, and blocks reached from a non-adjacent
 * block or from an unrolled loop by falling through (jumpTo()). Only blocks something branches to
 * get a wasm `block` (the rest are only fallen into). Block j's label ends right before its code
 * and opens before the code of its first source (the dispatch entries' before the dispatch
 * header), or earlier where it must enclose a label that opened before it and ends inside it
 * (labels nest), as LLVM's WebAssemblyCFGStackify places a BLOCK above the markers it would
 * cross: the labels open at once are as many as jumps overlap, not as the function has labels.
 * (V8's baseline compiler, Liftoff, keeps a control stack entry of some 450 bytes per open label,
 * in a vector grown by copying: all of them open at the top cost a 10,000-instruction function
 * ~1.8 MB of fresh memory, ~290 page faults, each compile.)
 */
export function findLabels(e: FunctionEmitter): void {
  const P = e.P;
  const labeled = e.labeled;
  const openAt = e.openAt;
  const selected = e.selected;
  labeled.fill(0, 0, e.blocks);
  selected.fill(0, 0, e.blocks);
  e.openHead.fill(-1, 0, e.blocks + 1);
  for (let k = 0; k < e.dispatches; k++) { labeled[e.dispatch[k]] = 1; openAt[e.dispatch[k]] = -1; }
  const order = e.order;
  const blockTo = e.blockTo;
  for (let b = 0; b < e.blocks; b++) {
    const last = order[blockTo[b] - 1];
    const o = P[last << 2] & 0xfff;
    if (JUMP_OP[o] === 1) {
      const j = blockAtSlot(e, P[(last << 2) + 1]);
      if (j === b + 2 && selectable(e, b)) selected[b + 1] = 1; // (no branch: see emit_jump.ts, selectedInstruction())
      else if (j > b && labeled[j] === 0) { labeled[j] = 1; openAt[j] = b; }
    }
    if (o !== 0x95 && o !== OP_TRAP && o !== 0x05) {
      const j = blockAtSlot(e, last + (o === 0x18 ? 2 : 1));
      if (j > b && (j !== b + 1 || canUnroll(e, b)) && labeled[j] === 0) { labeled[j] = 1; openAt[j] = b; }
    }
  }
  // A skipped block something else branches to (or enters through the dispatch) runs as usual, and
  // the jump over it branches.
  for (let h = 1; h < e.blocks; h++) {
    if (selected[h] === 0 || labeled[h] === 0) continue;
    selected[h] = 0;
    if (labeled[h + 1] === 0) { labeled[h + 1] = 1; openAt[h + 1] = h - 1; } else if (openAt[h + 1] > h - 1) openAt[h + 1] = h - 1;
  }
  // In layout order of their ends: the labels not (yet) enclosed by another, a stack in `open`
  // (free until the emission). One that ends after `at` and opens before it must be enclosed.
  const tops = e.open;
  let sp = 0;
  for (let j = 0; j < e.blocks; j++) {
    if (labeled[j] === 0) continue;
    let at = openAt[j];
    while (sp > 0 && tops[sp - 1] > at) {
      const k = tops[--sp];
      if (openAt[k] < at) at = openAt[k];
    }
    openAt[j] = at;
    tops[sp++] = j;
    // (later ends first in each place's list: prepended in the order of the ends)
    e.openNext[j] = e.openHead[at + 1];
    e.openHead[at + 1] = j;
  }
}

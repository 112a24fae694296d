/*
 * Verifier state (struct bpf_verifier_state / bpf_func_state): frames of registers and stack
 * slots, acquired references; copying and the comparisons state pruning uses (regsafe(),
 * stacksafe(), states_equal()).
 */
import { type RegState, copyReg, newReg } from './reg_state.js';
import { tnumEq, tnumIn } from './tnum.js';

/** Per-byte slot types (enum bpf_stack_slot_type) */
export const STACK_INVALID = 0, STACK_SPILL = 1, STACK_MISC = 2, STACK_ZERO = 3, STACK_DYNPTR = 4;
export const SLOT_CHAR = ['?', 'r', 'm', '0', 'd'];

export interface StackSlot { types: number[]; spilled?: RegState }

export interface FuncState {
  regs: RegState[];
  /** slot i covers fp-(i+1)*8 .. fp-i*8-1; types[j] is the byte at fp-(i*8)-1-j */
  stack: StackSlot[];
  frameno: number;
  callsite: number;
  subprog: number;
  /** A callback's frame (in_callback_fn): its exit returns to the helper call, R0 must be in callbackRet. */
  inCallback?: boolean;
  callbackRet?: { min: number; max: number };
  /** How many times this frame's callback-calling helper has run its callback on this path (callback_depth). */
  callbackDepth?: number;
}

/** An acquired reference (REF_TYPE_PTR), or a held bpf_spin_lock (REF_TYPE_LOCK: id of the map value, the map). */
export interface RefState { id: number; insn: number; lock?: unknown }

export interface VState {
  frames: FuncState[];
  refs: RefState[];
  parent: Explored | null;
  speculative: boolean;
}

/** An explored state (struct bpf_verifier_state_list): hits and misses decide its eviction. */
export interface Explored { state: VState; branches: number; insn: number; hits: number; misses: number }

export function newFuncState(frameno: number, callsite: number, subprog: number): FuncState {
  const regs: RegState[] = [];
  for (let i = 0; i < 11; i++) regs.push(newReg());
  return { regs, stack: [], frameno, callsite, subprog };
}

function copyFunc(f: FuncState): FuncState {
  return {
    regs: f.regs.map(copyReg),
    stack: f.stack.map((s) => ({ types: s.types.slice(), spilled: s.spilled ? copyReg(s.spilled) : undefined })),
    frameno: f.frameno, callsite: f.callsite, subprog: f.subprog,
    inCallback: f.inCallback, callbackRet: f.callbackRet, callbackDepth: f.callbackDepth,
  };
}

export function copyState(s: VState): VState {
  return { frames: s.frames.map(copyFunc), refs: s.refs.map((r) => ({ ...r })), parent: s.parent, speculative: s.speculative };
}

function rangeWithin(old: RegState, cur: RegState): boolean {
  return old.smin <= cur.smin && old.smax >= cur.smax && old.umin <= cur.umin && old.umax >= cur.umax &&
    old.s32min <= cur.s32min && old.s32max >= cur.s32max && old.u32min <= cur.u32min && old.u32max >= cur.u32max &&
    tnumIn(old.varOff, cur.varOff);
}

/** regs_exact() */
export function exactReg(a: RegState, b: RegState): boolean {
  return a.type === b.type && a.maybeNull === b.maybeNull && a.off === b.off && tnumEq(a.varOff, b.varOff) &&
    a.smin === b.smin && a.smax === b.smax && a.umin === b.umin && a.umax === b.umax &&
    a.s32min === b.s32min && a.s32max === b.s32max && a.u32min === b.u32min && a.u32max === b.u32max &&
    a.range === b.range && a.map === b.map && a.memSize === b.memSize && a.frameno === b.frameno &&
    a.rdonly === b.rdonly && a.ringbuf === b.ringbuf && (a.id === 0) === (b.id === 0) && (a.refObjId === 0) === (b.refObjId === 0);
}

/** regsafe(): is every value cur may hold also allowed by old (which was proven safe)? */
function regsafe(old: RegState, cur: RegState, exact: boolean): boolean {
  if (exact) return exactReg(old, cur);
  if (old.type === 'not_init') return true;
  if (cur.type !== old.type) return false;
  if (old.type === 'scalar') {
    if (old.id !== 0 || cur.id !== 0) { if (!exactReg(old, cur)) return false; }
    return rangeWithin(old, cur);
  }
  if (old.maybeNull !== cur.maybeNull || old.rdonly !== cur.rdonly || old.ringbuf !== cur.ringbuf) return false;
  if (old.off !== cur.off || old.map !== cur.map || old.memSize !== cur.memSize || old.frameno !== cur.frameno) return false;
  if ((old.id === 0) !== (cur.id === 0) || (old.refObjId === 0) !== (cur.refObjId === 0)) return false;
  if (old.type === 'pkt' || old.type === 'pkt_meta') { if (cur.range < old.range) return false; }
  if (old.type === 'dynptr' && (old.dynptr?.kind !== cur.dynptr?.kind || old.dynptr?.first !== cur.dynptr?.first)) return false;
  return rangeWithin(old, cur);
}

function stacksafe(old: FuncState, cur: FuncState, exact: boolean): boolean {
  const n = Math.max(old.stack.length, cur.stack.length);
  for (let i = 0; i < n; i++) {
    const o = old.stack[i], c = cur.stack[i];
    for (let j = 0; j < 8; j++) {
      const ot = o ? o.types[j] : STACK_INVALID, ct = c ? c.types[j] : STACK_INVALID;
      if (!exact && ot === STACK_INVALID) continue;
      if (!exact && ot === STACK_MISC && ct !== STACK_INVALID && ct !== STACK_DYNPTR) continue; // misc accepts any initialised data byte
      if (ot !== ct) { if (!(ot === STACK_MISC && ct === STACK_ZERO)) return false; }
    }
    if (o?.spilled) {
      if (!c?.spilled) return false;
      if (!regsafe(o.spilled, c.spilled, exact)) return false;
    }
  }
  return true;
}

/** states_equal() */
export function statesEqual(old: VState, cur: VState, exact: boolean): boolean {
  if (old.frames.length !== cur.frames.length || old.refs.length !== cur.refs.length) return false;
  // refsafe(): the same locks held, in the same order
  for (let i = 0; i < old.refs.length; i++) if (old.refs[i].lock !== cur.refs[i].lock) return false;
  for (let f = 0; f < old.frames.length; f++) {
    const o = old.frames[f], c = cur.frames[f];
    if (o.callsite !== c.callsite) return false;
    for (let r = 0; r < 11; r++) if (!regsafe(o.regs[r], c.regs[r], exact)) return false;
    if (!stacksafe(o, c, exact)) return false;
  }
  return true;
}

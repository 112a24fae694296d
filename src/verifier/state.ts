/*
 * Verifier state (struct bpf_verifier_state / bpf_func_state): frames of registers and stack
 * slots, acquired references; copying and the comparisons state pruning uses (regsafe(),
 * stacksafe(), states_equal()).
 */
import { E2BIG, EINVAL, fail } from './errors.js';
import { type RegState, copyReg, hasAddConst, markUnknown, newReg, setKnown } from './reg_state.js';
import { tnumEq, tnumIn, tnumIsConst } from './tnum.js';

/** Per-byte slot types (enum bpf_stack_slot_type) */
export const STACK_INVALID = 0, STACK_SPILL = 1, STACK_MISC = 2, STACK_ZERO = 3, STACK_DYNPTR = 4, STACK_ITER = 5;
export const SLOT_CHAR = ['?', 'r', 'm', '0', 'd', 'i'];

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
  /** An async callback's frame 0 (in_async_callback_fn): its exit is the end of its own path, R0 within callbackRet. */
  asyncCallback?: boolean;
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
  /** The first instruction of this state's stretch (after its parent checkpoint) and the last one before the current instruction */
  firstInsnIdx: number;
  lastInsnIdx: number;
  insnIdx: number;
  /**
   * The jump history since the parent checkpoint (struct bpf_jmp_history_entry), flat: per entry
   * HIST_STRIDE numbers: insn, previous insn, INSN_F_* flags, linked-registers record (0 = none).
   */
  hist: number[];
  /** may_goto_depth: may_goto fall-throughs taken on this path (states at a may_goto that differ in it are loop iterations) */
  mayGotoDepth: number;
  /** dfs_depth: checkpoints above this state on its path (find_prev_entry() looks for shallower ones) */
  dfsDepth: number;
}

export const HIST_STRIDE = 4;

/** An explored state (struct bpf_verifier_state_list): hits and misses decide its eviction. */
export interface Explored {
  state: VState; branches: number; insn: number; hits: number; misses: number;
  /** evicted from its list while paths below it were still being explored */
  inFreeList: boolean;
  /** dead registers and slots already wiped (clean_verifier_state()) */
  cleaned: boolean;
}

/** same_callsites() */
export function sameCallsites(a: VState, b: VState): boolean {
  if (a.frames.length !== b.frames.length) return false;
  for (let i = 0; i < a.frames.length; i++) if (a.frames[i].callsite !== b.frames[i].callsite) return false;
  return true;
}

/** MAX_CALL_FRAMES (include/linux/bpf_verifier.h): frames a path may have at once. */
/**
 * release_reference(): reference `ref` leaves the state, and every register and spilled register
 * (bpf_for_each_reg_in_vstate(): STACK_SPILL slots, not dynptr or iterator slots) holding it in
 * any frame is invalid: mark_reg_invalid(), an unknown scalar for a privileged program.
 */
export function releaseReference(st: VState, ref: number): void {
  st.refs = st.refs.filter((x) => x.id !== ref);
  for (const f of st.frames) {
    for (const x of f.regs) if (x.refObjId === ref) markUnknown(x);
    for (const s of f.stack) if (s.types[7] === STACK_SPILL && s.spilled?.refObjId === ref) markUnknown(s.spilled);
  }
}

export const MAX_CALL_FRAMES = 8;

/** setup_func_entry()'s depth check, before a call or callback pushes a frame onto `st`. */
export function checkCallDepth(st: VState): void {
  if (st.frames.length >= MAX_CALL_FRAMES) fail(`the call stack of ${st.frames.length + 1} frames is too deep`, E2BIG);
}

/** init_func_state(): every register uninitialised but r10, the frame pointer of this frame. */
export function newFuncState(frameno: number, callsite: number, subprog: number): FuncState {
  const regs: RegState[] = [];
  for (let i = 0; i < 11; i++) regs.push(newReg());
  regs[10].type = 'fp'; setKnown(regs[10], 0n); regs[10].frameno = frameno;
  // (every field copyFunc() writes, in its order: one V8 hidden class for all frames, see reg_state.ts copyReg())
  return { regs, stack: [], frameno, callsite, subprog, inCallback: undefined, asyncCallback: undefined, callbackRet: undefined, callbackDepth: undefined };
}

function copyFunc(f: FuncState): FuncState {
  return {
    regs: f.regs.map(copyReg),
    stack: f.stack.map((s) => ({ types: s.types.slice(), spilled: s.spilled ? copyReg(s.spilled) : undefined })),
    frameno: f.frameno, callsite: f.callsite, subprog: f.subprog,
    inCallback: f.inCallback, asyncCallback: f.asyncCallback, callbackRet: f.callbackRet, callbackDepth: f.callbackDepth,
  };
}

export function copyState(s: VState): VState {
  return {
    frames: s.frames.map(copyFunc), refs: s.refs.map((r) => ({ ...r })), parent: s.parent, speculative: s.speculative,
    firstInsnIdx: s.firstInsnIdx, lastInsnIdx: s.lastInsnIdx, insnIdx: s.insnIdx, hist: s.hist.slice(),
    mayGotoDepth: s.mayGotoDepth, dfsDepth: s.dfsDepth,
  };
}

/** enum exact_level */
export const NOT_EXACT = 0, EXACT = 1, RANGE_WITHIN = 2;

/** struct bpf_idmap: old id -> cur id pairs for one states_equal(), plus temporary ids for scalars without one */
export class IdMap {
  old: number[] = [];
  cur: number[] = [];
  tmpIdGen = 0;
  reset(idGen: number): void { this.old.length = 0; this.cur.length = 0; this.tmpIdGen = idGen; }
  /** check_ids() */
  check(oldId: number, curId: number): boolean {
    if ((oldId === 0) !== (curId === 0)) return false;
    if (oldId === 0) return true;
    for (let i = 0; i < this.old.length; i++) {
      if (this.old[i] === oldId) return this.cur[i] === curId;
      if (this.cur[i] === curId) return false;
    }
    this.old.push(oldId); this.cur.push(curId);
    return true;
  }
  /** check_scalar_ids(): a missing id gets a unique temporary one, so 0 vs unique id matches */
  checkScalar(oldId: number, curId: number): boolean {
    return this.check(oldId || ++this.tmpIdGen, curId || ++this.tmpIdGen);
  }
}

/** range_within() and tnum_in() */
function rangeWithin(old: RegState, cur: RegState): boolean {
  return old.smin <= cur.smin && old.smax >= cur.smax && old.umin <= cur.umin && old.umax >= cur.umax &&
    old.s32min <= cur.s32min && old.s32max >= cur.s32max && old.u32min <= cur.u32min && old.u32max >= cur.u32max &&
    tnumIn(old.varOff, cur.varOff);
}

/** The fields before var_off in struct bpf_reg_state: type (with its flags), off and the type's union */
function sameHead(a: RegState, b: RegState): boolean {
  return a.type === b.type && a.maybeNull === b.maybeNull && a.rdonly === b.rdonly && a.ringbuf === b.ringbuf && a.off === b.off &&
    a.map === b.map && a.range === b.range && a.memSize === b.memSize && a.subprog === b.subprog;
}

/** memcmp() up to bpf_reg_state::id: the head, var_off and all bounds */
function sameValue(a: RegState, b: RegState): boolean {
  return sameHead(a, b) && tnumEq(a.varOff, b.varOff) &&
    a.smin === b.smin && a.smax === b.smax && a.umin === b.umin && a.umax === b.umax &&
    a.s32min === b.s32min && a.s32max === b.s32max && a.u32min === b.u32min && a.u32max === b.u32max;
}

/**
 * memcmp() of two registers up to bpf_reg_state::frameno (states_maybe_looping()): every field but
 * the precision mark; the dynptr and BTF records compare by identity. `map` only when `a` has one
 * (a scalar keeps a stale one: __mark_reg_unknown() does not clear it here).
 */
export function sameRegBits(a: RegState, b: RegState): boolean {
  return a.type === b.type && a.maybeNull === b.maybeNull && a.rdonly === b.rdonly && a.ringbuf === b.ringbuf && a.off === b.off &&
    (a.map === undefined || a.map === b.map) && a.range === b.range && a.memSize === b.memSize && a.subprog === b.subprog &&
    tnumEq(a.varOff, b.varOff) && a.smin === b.smin && a.smax === b.smax && a.umin === b.umin && a.umax === b.umax &&
    a.s32min === b.s32min && a.s32max === b.s32max && a.u32min === b.u32min && a.u32max === b.u32max &&
    a.id === b.id && a.refObjId === b.refObjId && a.frameno === b.frameno &&
    a.dynptr === b.dynptr && a.dynptrId === b.dynptrId && a.btf === b.btf;
}

/** regs_exact() */
function regsExact(a: RegState, b: RegState, idmap: IdMap): boolean {
  return sameValue(a, b) && idmap.check(a.id, b.id) && idmap.check(a.refObjId, b.refObjId);
}

/** regs_exact() without an id map (widen_imprecise_scalars() compares two states' scalars): ids present or not alike */
export function exactReg(a: RegState, b: RegState): boolean {
  return sameValue(a, b) && (a.id === 0) === (b.id === 0) && (a.refObjId === 0) === (b.refObjId === 0);
}

/** stacksafe()'s STACK_DYNPTR case: the same kind of dynptr, the same slot of it, the same reference */
function dynptrSafe(o: RegState | undefined, c: RegState | undefined, idmap: IdMap): boolean {
  return !!o && !!c && o.dynptr?.kind === c.dynptr?.kind && o.dynptr?.first === c.dynptr?.first && idmap.check(o.refObjId, c.refObjId);
}

/**
 * stacksafe()'s STACK_ITER case: the same iterator type and state and reference; the depth is not
 * compared (it only keeps the infinite loop check from firing, see iter_active_depths_differ())
 */
function iterSafe(o: RegState | undefined, c: RegState | undefined, idmap: IdMap): boolean {
  return !!o?.iter && !!c?.iter && o.iter.type === c.iter.type && o.iter.active === c.iter.active && idmap.check(o.refObjId, c.refObjId);
}

/** regsafe(): is every value cur may hold also allowed by old (which was proven safe)? */
export function regsafe(old: RegState, cur: RegState, idmap: IdMap, exact: number): boolean {
  if (exact === EXACT) return regsExact(old, cur, idmap);
  if (old.type === 'not_init' && (exact === NOT_EXACT || cur.type === 'not_init')) return true;
  if (old.type !== cur.type || old.maybeNull !== cur.maybeNull || old.rdonly !== cur.rdonly || old.ringbuf !== cur.ringbuf) return false;
  switch (old.type) {
    case 'scalar':
      if (!old.precise && exact === NOT_EXACT) return true;
      if (hasAddConst(old.id) !== hasAddConst(cur.id)) return false;
      if (hasAddConst(old.id) && old.off !== cur.off) return false;
      return rangeWithin(old, cur) && idmap.checkScalar(old.id, cur.id);
    case 'map_key': case 'map_value': case 'mem': case 'buf': case 'tp_buffer':
      return sameHead(old, cur) && rangeWithin(old, cur) && idmap.check(old.id, cur.id) && idmap.check(old.refObjId, cur.refObjId);
    case 'pkt': case 'pkt_meta':
      if (old.range > cur.range || old.off !== cur.off || !idmap.check(old.id, cur.id)) return false;
      return rangeWithin(old, cur);
    case 'fp':
      return regsExact(old, cur, idmap) && old.frameno === cur.frameno;
    case 'dynptr':
      return regsExact(old, cur, idmap) && dynptrSafe(old, cur, idmap);
    default:
      return regsExact(old, cur, idmap);
  }
}

const UNBOUND: RegState = (() => { const r = newReg(); r.type = 'scalar'; return r; })();

/** scalar_reg_for_stack(): a 64-bit scalar spill, or an all-misc slot read as an unbound scalar */
function scalarRegForStack(s: StackSlot | undefined): RegState | undefined {
  if (!s) return undefined;
  if (s.types[0] === STACK_SPILL && s.spilled && s.spilled.type === 'scalar') return s.spilled;
  // is_stack_all_misc(): allow_uninit_stack counts invalid bytes as misc
  for (let j = 0; j < 8; j++) if (s.types[j] !== STACK_MISC && s.types[j] !== STACK_INVALID) return undefined;
  return UNBOUND;
}

/** stacksafe() (privileged: allow_uninit_stack) */
function stacksafe(old: FuncState, cur: FuncState, idmap: IdMap, exact: number): boolean {
  for (let spi = 0; spi < old.stack.length; spi++) {
    const o = old.stack[spi], c = cur.stack[spi];
    for (let j = 0; j < 8; j++) {
      const ot = o.types[j], ct = c ? c.types[j] : STACK_INVALID;
      if (exact !== NOT_EXACT && (!c || ot !== ct)) return false;
      if (ot === STACK_INVALID || ot === STACK_MISC) continue;
      if (!c) return false;
      const oreg = scalarRegForStack(o), creg = scalarRegForStack(c);
      if (oreg && creg) {
        if (!regsafe(oreg, creg, idmap, exact)) return false;
        break;
      }
      if (ot === STACK_MISC && ct === STACK_ZERO) continue;
      if (ot !== ct) return false;
      if (j !== 7) continue;
      if (o.types[7] === STACK_SPILL && !regsafe(o.spilled ?? UNBOUND, c.spilled ?? UNBOUND, idmap, exact)) return false;
      if (o.types[7] === STACK_DYNPTR && !dynptrSafe(o.spilled, c.spilled, idmap)) return false;
      if (o.types[7] === STACK_ITER && !iterSafe(o.spilled, c.spilled, idmap)) return false;
    }
  }
  return true;
}

/**
 * states_equal(): frame by frame, registers live at the frame's instruction (live_regs_before of
 * the callsite in callers) and the stack; then the references.
 */
export function statesEqual(old: VState, cur: VState, exact: number, live: Uint16Array, idmap: IdMap, idGen: number): boolean {
  if (old.frames.length !== cur.frames.length) return false;
  idmap.reset(idGen);
  if (old.speculative && !cur.speculative) return false;
  // refsafe()
  if (old.refs.length !== cur.refs.length) return false;
  for (let i = 0; i < old.refs.length; i++) if (!idmap.check(old.refs[i].id, cur.refs[i].id) || old.refs[i].lock !== cur.refs[i].lock) return false;
  const last = old.frames.length - 1;
  for (let f = 0; f <= last; f++) {
    const o = old.frames[f], c = cur.frames[f];
    if (o.callsite !== c.callsite) return false;
    // frame_insn_idx(): a caller frame stands at the call into the next frame
    const ip = f === last ? old.insnIdx : old.frames[f + 1].callsite;
    const liveRegs = live[ip];
    for (let r = 0; r < 11; r++) if ((liveRegs >> r) & 1 && !regsafe(o.regs[r], c.regs[r], idmap, exact)) return false;
    if (!stacksafe(o, c, idmap, exact)) return false;
  }
  return true;
}

/** The stack slot index of the byte a frame pointer `r` (of a constant offset) points to. */
export function fpSpi(r: RegState): number {
  return Math.floor((-(r.off + Number(BigInt.asIntN(64, r.varOff.value))) - 1) / 8);
}

/**
 * stack_slot_obj_get_spi(): the first (upper) slot of a `what` object of `nrSlots` slots that `r`
 * points to (not bounded by the frame's allocated stack: the callers check that).
 */
export function stackObjSpi(r: RegState, what: string, nrSlots: number): number {
  if (!tnumIsConst(r.varOff)) fail(`${what} has to be at a constant offset`, EINVAL);
  const off = r.off + Number(BigInt.asIntN(64, r.varOff.value));
  if (off % 8) fail(`cannot pass in ${what} at an offset=${off}`, EINVAL);
  const spi = fpSpi(r);
  if (spi + 1 < nrSlots) fail(`cannot pass in ${what} at an offset=${off}`, EINVAL);
  return spi;
}

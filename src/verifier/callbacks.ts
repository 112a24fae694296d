/*
 * Callback subprograms (bpf_loop, bpf_for_each_map_elem, bpf_user_ringbuf_drain), verified as
 * Linux 6.18 does: the helper call pushes a state that enters the callback (push_callback_call());
 * the callback's exit returns to the helper call itself (prepare_func_exit() with in_callback_fn),
 * which runs the callback again until is_state_visited() finds the state at the call already
 * explored (the iteration converged) or bpf_loop's nr_loops bound is reached (callback_depth).
 */
import type { Verifier } from './verifier.js';
import { EINVAL, ENOTSUPP, EACCES, fail } from './errors.js';
import { type RegState, type VerifierMap, S64_MAX, S64_MIN, copyReg, markKnown, markUnknown } from './reg_state.js';
import { type FuncState, type VState, STACK_SPILL, checkCallDepth, exactReg, newFuncState, sameCallsites } from './state.js';

export const FUNC_LOOP = 181, FUNC_FOR_EACH_MAP_ELEM = 164, FUNC_USER_RINGBUF_DRAIN = 209;
export const FUNC_TIMER_SET_CALLBACK = 170, FUNC_FIND_VMA = 180;

/** is_sync_callback_calling_function(): helpers whose callback runs before they return */
export function isSyncCallbackHelper(id: number): boolean {
  return id === FUNC_LOOP || id === FUNC_FOR_EACH_MAP_ELEM || id === FUNC_USER_RINGBUF_DRAIN || id === FUNC_FIND_VMA;
}

/**
 * push_async_cb() + set_timer_callback_state() for bpf_timer_set_callback(): the callback runs
 * later, on its own, so it is verified as a path of its own that starts from a fresh state (one
 * frame, no references, nothing of the caller's) with callback_fn(map, key, value), and must return
 * 0 (check_return_code(): "At async callback return").
 */
export function scheduleAsyncCallback(v: Verifier, callbackReg: number): void {
  const map = v.reg(1).map;
  const { start, subprog } = callbackSubprog(v, callbackReg);
  const st = v.pushStack(start, v.insnIdx);
  // pushed like a branch (popped in turn, the log rewound to here), but not a copy of this state
  if (st.parent) st.parent.branches--;
  Object.assign(st, { parent: null, refs: [], hist: [], speculative: false, firstInsnIdx: start, lastInsnIdx: -1, mayGotoDepth: 0, dfsDepth: 0 });
  const f = newFuncState(0, -1, subprog);
  mapArg(f.regs[1], 'map_ptr', map); mapArg(f.regs[2], 'map_key', map); mapArg(f.regs[3], 'map_value', map).id = v.newId();
  f.asyncCallback = true;
  f.callbackRet = { min: 0, max: 0 };
  st.frames = [f];
  v.markScratched(); // init_func_state(): mark_verifier_state_scratched()
}

/** The callback's first instruction (the PTR_TO_FUNC register's) and its subprogram. */
function callbackSubprog(v: Verifier, callbackReg: number): { start: number; subprog: number } {
  const start = v.reg(callbackReg).subprog;
  const subprog = v.subprogStarts.indexOf(start);
  if (subprog < 0) fail(`verifier bug. No program starts at insn ${start}`, EINVAL);
  return { start, subprog };
}

/** A callback argument that points to the map, or to its key or value (offset 0). */
function mapArg(r: RegState, type: 'map_ptr' | 'map_key' | 'map_value', map: VerifierMap | undefined): RegState {
  markKnown(r, 0n); r.type = type; r.map = map;
  return r;
}

/** Map types with map_set_for_each_callback_args (array, per-CPU array, the hash maps). */
const FOR_EACH_MAP_TYPES = new Set([1, 2, 5, 6, 9, 10]);

type SetCallee = (caller: FuncState, callee: FuncState) => void;

/** The callback's arguments from the helper's (set_*_callback_state()). */
function calleeSetup(v: Verifier, helperId: number, map: VerifierMap | undefined): SetCallee {
  switch (helperId) {
    case FUNC_LOOP:
      // set_loop_callback_state(): callback_fn(u64 index, void *callback_ctx)
      return (caller, callee) => {
        markUnknown(callee.regs[1]);
        callee.regs[2] = copyReg(caller.regs[3]);
      };
    case FUNC_FOR_EACH_MAP_ELEM: {
      // set_map_elem_callback_state() / map_set_for_each_callback_args():
      // callback_fn(struct bpf_map *map, void *key, void *value, void *callback_ctx)
      if (!map || !FOR_EACH_MAP_TYPES.has(map.spec.type)) fail('callback function not allowed for map', ENOTSUPP);
      return (caller, callee) => {
        callee.regs[1] = copyReg(caller.regs[1]);
        mapArg(callee.regs[2], 'map_key', map); mapArg(callee.regs[3], 'map_value', map).id = v.newId();
        callee.regs[4] = copyReg(caller.regs[3]);
      };
    }
    case FUNC_FIND_VMA:
      // set_find_vma_callback_state(): callback_fn(struct task_struct *task, struct vm_area_struct *vma, void *callback_ctx)
      return (caller, callee) => {
        callee.regs[1] = copyReg(caller.regs[1]);
        const vma = callee.regs[2];
        markKnown(vma, 0n); vma.type = 'ptr_'; vma.btf = { name: 'vm_area_struct', trusted: false };
        callee.regs[3] = copyReg(caller.regs[4]);
      };
    default:
      // set_user_ringbuf_callback_state(): callback_fn(const struct bpf_dynptr *dynptr, void *ctx)
      return (caller, callee) => {
        const d = callee.regs[1];
        markKnown(d, 0n); d.type = 'dynptr'; d.dynptr = { kind: 'local', first: true };
        callee.regs[2] = copyReg(caller.regs[3]);
      };
  }
}

/**
 * check_helper_call() for a callback-calling helper, after its arguments are checked and before
 * the caller-saved registers are clobbered: queue a visit of the callback (push_callback_call()),
 * for bpf_loop only while fewer visits than nr_loops were made on this path.
 */
export function scheduleCallback(v: Verifier, helperId: number, callbackReg: number, map: VerifierMap | undefined): void {
  const caller = v.frame();
  if (helperId === FUNC_LOOP) {
    // the iteration count decides when to stop: R1 must stay exact (mark_chain_precision())
    v.markPrecise(1);
    const depth = caller.callbackDepth ?? 0;
    if (!(BigInt(depth) < v.reg(1).umax)) {
      caller.callbackDepth = 0;
      if (v.level >= 2) v.verbose(`frame${v.cur.frames.length - 1} bpf_loop iteration limit reached`);
      return;
    }
  }
  const { start, subprog } = callbackSubprog(v, callbackReg);
  const setCallee = calleeSetup(v, helperId, map);
  const st = v.pushStack(start, v.insnIdx);
  // setup_func_entry()
  checkCallDepth(st);
  const stCaller = st.frames[st.frames.length - 1];
  const callee = newFuncState(st.frames.length, v.insnIdx, subprog);
  setCallee(stCaller, callee);
  callee.inCallback = true;
  callee.callbackRet = { min: 0, max: 1 };
  st.frames.push(callee);
  v.markScratched(); // init_func_state(): mark_verifier_state_scratched()
  stCaller.callbackDepth = (stCaller.callbackDepth ?? 0) + 1;
  caller.callbackDepth = 0;
}

/** verbose_invalid_scalar(): "At callback return the register R0 has smin=2 smax=2 should have been in [0, 1]" */
export function invalidScalar(ctx: string, reg: string, r: RegState, range: { min: number; max: number }): string {
  const parts: string[] = [];
  if (r.smin > S64_MIN) parts.push(`smin=${r.smin}`);
  if (r.smax < S64_MAX) parts.push(`smax=${r.smax}`);
  return `${ctx} the register ${reg} has ${parts.length ? parts.join(' ') : 'unknown scalar value'} should have been in [${range.min}, ${range.max}]`;
}

/** prepare_func_exit() of a callback: R0 within the callback's return range, then back to the helper call. */
export function checkCallbackReturn(callee: FuncState, markR0Precise: () => void): void {
  const r0 = callee.regs[0];
  if (r0.type !== 'scalar') fail('R0 not a scalar value', EACCES);
  markR0Precise(); // the range check relies on R0's exact value
  const range = callee.callbackRet ?? { min: 0, max: 1 };
  if (r0.smin < BigInt(range.min) || r0.smax > BigInt(range.max)) fail(invalidScalar('At callback return', 'R0', r0, range), EINVAL);
}

/**
 * After a callback returns: widen_imprecise_scalars() against the state at the previous visit of
 * the same call, so that the iteration converges.
 */
export function widenAfterCallback(v: Verifier, cur: VState, callsite: number): void {
  const prev = findPrevEntry(v, cur, callsite);
  if (prev) widenImpreciseScalars(prev, cur);
}

/**
 * widen_imprecise_scalars(): scalars of `cur` that differ from the previous iteration's state
 * `prev` become unknown, so that loop iterations converge; precise scalars
 * (mark_chain_precision()) keep their values.
 */
export function widenImpreciseScalars(prev: VState, cur: VState): void {
  // maybe_widen_reg()
  const widen = (o: RegState, c: RegState): void => {
    if (o.type !== 'scalar' || c.type !== 'scalar') return;
    if (o.precise || c.precise || exactReg(o, c)) return;
    markUnknown(c);
  };
  for (let fr = prev.frames.length - 1; fr >= 0; fr--) {
    const fo = prev.frames[fr], fc = cur.frames[fr];
    for (let i = 0; i < 11; i++) widen(fo.regs[i], fc.regs[i]);
    const n = Math.min(fo.stack.length, fc.stack.length);
    for (let i = 0; i < n; i++) {
      const so = fo.stack[i], sc = fc.stack[i];
      if (so.spilled && sc.spilled && so.types[7] === STACK_SPILL && sc.types[7] === STACK_SPILL) widen(so.spilled, sc.spilled);
    }
  }
}

/**
 * find_prev_entry(): the most recent checkpoint at insn on the current path (still branching),
 * with the same call chain, above `cur` (a smaller dfs_depth).
 */
export function findPrevEntry(v: Verifier, cur: VState, insn: number): VState | undefined {
  const list = v.bucket(insn);
  for (let k = list.length - 1; k >= 0; k--) {
    const e = list[k];
    if (e.insn !== insn || e.branches <= 0 || e.state.dfsDepth >= cur.dfsDepth) continue;
    if (sameCallsites(e.state, cur)) return e.state;
  }
  return undefined;
}

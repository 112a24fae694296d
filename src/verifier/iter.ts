/*
 * Open-coded iterators on the stack, verified as Linux 6.18 does (kernel/bpf/verifier.c:
 * process_iter_arg(), mark_stack_slots_iter(), unmark_stack_slots_iter(),
 * process_iter_next_call(), iter_active_depths_differ()). bpf_iter_<type>_new() turns
 * uninitialised stack slots into STACK_ITER holding an acquired reference; next() forks: the
 * current path sees the iterator drained (NULL), a queued one sees it active (an element) one
 * iteration deeper, and is_state_visited() stops the loop when the state at next() repeats;
 * destroy() releases the reference, which must happen before the program exits.
 */
import type { KfuncInfo } from '../isa/kfuncs.js';
import { EACCES, EFAULT, EINVAL, VerifierError, fail } from './errors.js';
import { findPrevEntry, widenImpreciseScalars } from './callbacks.js';
import { type RegState, markKnown, markNotInit, markUnknown, newReg } from './reg_state.js';
import { STACK_INVALID, STACK_ITER, type VState, fpSpi, releaseReference, sameCallsites, stackObjSpi } from './state.js';
import { tnumIsConst } from './tnum.js';
import type { Verifier } from './verifier.js';

/** struct bpf_iter_num is one 8-byte slot (sizeof / BPF_REG_SIZE), as every iterator bpfkit has. */
const NR_SLOTS = 1;

/** Where next() and destroy() found the iterator (meta->iter), and its reference. */
export interface IterMeta { spi: number; frameno: number; refObjId: number }

/** stack_slot_obj_get_spi(env, reg, "iter", nr_slots): the iterator's slot; -1 (ERANGE) when not allocated yet. */
function iterSpi(v: Verifier, r: RegState): number {
  const spi = stackObjSpi(r, 'iter', NR_SLOTS);
  return spi < v.cur.frames[r.frameno].stack.length ? spi : -1;
}

/** iterSpi() where the kernel logs why and goes on to refuse the argument: -2 after logging. */
function iterSpiOrNote(v: Verifier, r: RegState): number {
  try {
    return iterSpi(v, r);
  } catch (e) {
    if (!(e instanceof VerifierError)) throw e;
    v.note(e.msg);
    return -2;
  }
}

/** is_iter_reg_valid_uninit(): no byte of the slots is an iterator already (slots not allocated yet count as free). */
function validUninit(v: Verifier, r: RegState): boolean {
  const spi = iterSpiOrNote(v, r);
  if (spi === -1) return true;
  if (spi < 0) return false;
  const f = v.cur.frames[r.frameno];
  for (let i = 0; i < NR_SLOTS; i++) if (f.stack[spi - i].types.includes(STACK_ITER)) return false;
  return true;
}

/** is_iter_reg_valid_init(): the slots hold an iterator of this type, the reference in the first. */
function validInit(v: Verifier, r: RegState, type: string): boolean {
  const spi = iterSpiOrNote(v, r);
  if (spi < 0) return false;
  const f = v.cur.frames[r.frameno];
  for (let i = 0; i < NR_SLOTS; i++) {
    const s = f.stack[spi - i], it = s.spilled;
    if (!it?.iter || it.iter.type !== type || (i === 0) !== (it.refObjId !== 0)) return false;
    if (s.types.some((t) => t !== STACK_ITER)) return false;
  }
  return true;
}

/**
 * process_iter_arg() for the iterator argument (r1) of an iterator kfunc: new() writes the slots
 * (check_mem_access() of each 8 bytes) and makes them an active iterator with a fresh reference;
 * next() and destroy() need an initialised one, and destroy() releases it. Returns meta->iter.
 */
export function processIterArg(v: Verifier, k: KfuncInfo): IterMeta | undefined {
  const r = v.reg(1);
  const type = k.iter ?? '';
  // check_kfunc_args(): iterator arguments are trusted, a NULL (or maybe-NULL) one is refused first
  const isNull = r.type === 'scalar' && tnumIsConst(r.varOff) && r.varOff.value === 0n;
  if (isNull || r.maybeNull) fail('Possibly NULL pointer passed to trusted arg0', EACCES);
  if (r.type !== 'fp') fail('arg#0 expected pointer to an iterator on stack', EINVAL);
  if (k.kind === 'iter_new') {
    if (!validUninit(v, r)) fail(`expected uninitialized iter_${type} as arg #0`, EINVAL);
    for (let i = 0; i < NR_SLOTS * 8; i += 8) v.memAccess(1, r, i, 8, 'write', undefined);
    // mark_stack_slots_iter()
    const spi = iterSpi(v, r), f = v.cur.frames[r.frameno];
    const id = v.newId();
    v.cur.refs.push({ id, insn: v.insnIdx });
    for (let i = 0; i < NR_SLOTS; i++) {
      const s = v.slot(f, spi - i);
      const it = newReg();
      markKnown(it, 0n);
      it.type = 'fp'; // the kernel has no register type of its own for it
      it.refObjId = i === 0 ? id : 0;
      it.iter = { type, active: true, depth: 0 };
      s.spilled = it;
      s.types.fill(STACK_ITER);
      v.liveStack.write(f.frameno, spi - i);
      v.slotsScratched.add(spi - i);
    }
    return undefined;
  }
  if (!validInit(v, r, type)) fail(`expected an initialized iter_${type} as arg #0`, EINVAL);
  const spi = iterSpi(v, r), f = v.cur.frames[r.frameno];
  // mark_iter_read()
  for (let i = 0; i < NR_SLOTS; i++) { v.markStackRead(r.frameno, spi - i); v.slotsScratched.add(spi - i); }
  const meta = { spi, frameno: r.frameno, refObjId: f.stack[spi].spilled!.refObjId };
  if (k.kind === 'iter_destroy') {
    // unmark_stack_slots_iter(): release_reference(), then the slots are plain stack again
    releaseReference(v.cur, meta.refObjId);
    for (let i = 0; i < NR_SLOTS; i++) {
      const s = f.stack[spi - i];
      s.spilled = undefined;
      s.types.fill(STACK_INVALID);
      v.liveStack.write(f.frameno, spi - i);
      v.slotsScratched.add(spi - i);
    }
  }
  return meta;
}

/**
 * check_kfunc_call() of an iterator kfunc after its arguments: caller-saved registers clobbered,
 * r0 as the kfunc returns it (new(): int, next(): a read-only pointer to the element or NULL,
 * destroy(): void), and next()'s fork (process_iter_next_call()).
 */
export function finishIterCall(v: Verifier, k: KfuncInfo, meta: IterMeta | undefined): void {
  for (let i = 1; i <= 5; i++) { markNotInit(v.reg(i)); v.regsScratched.add(i); }
  const r0 = v.reg(0);
  v.regsScratched.add(0);
  if (k.kind === 'iter_new') { markUnknown(r0); return; }
  if (k.kind === 'iter_destroy') { markNotInit(r0); return; }
  // int *: PTR_TO_MEM | MEM_RDONLY of sizeof(int), PTR_MAYBE_NULL (KF_RET_NULL), sharing the iterator's reference
  markKnown(r0, 0n);
  r0.type = 'mem'; r0.rdonly = true; r0.memSize = 4; r0.maybeNull = true;
  r0.id = v.newId();
  r0.refObjId = meta!.refObjId;
  processIterNextCall(v, meta!);
}

/**
 * process_iter_next_call(): an active iterator forks into a queued path where next() returned an
 * element (the iterator active, one deeper, imprecise scalars widened against the previous
 * iteration's checkpoint) and this path, where it returned NULL (drained, r0 = 0).
 */
function processIterNextCall(v: Verifier, meta: IterMeta): void {
  const idx = v.insnIdx;
  const slotOf = (st: VState): RegState => st.frames[meta.frameno].stack[meta.spi].spilled!;
  const it = slotOf(v.cur);
  if (it.iter!.active) {
    const parent = v.cur.parent?.state;
    if (!parent || parent.insnIdx !== idx || !sameCallsites(parent, v.cur)) fail('verifier bug: bad parent state for iter next call', EFAULT);
    const prev = findPrevEntry(v, parent, idx);
    const queued = v.pushStack(idx + 1, idx);
    const q = slotOf(queued);
    q.iter = { ...q.iter!, active: true, depth: q.iter!.depth + 1 };
    if (prev) widenImpreciseScalars(prev, queued);
    queued.frames[queued.frames.length - 1].regs[0].maybeNull = false; // mark_ptr_not_null_reg()
  }
  it.iter = { ...it.iter!, active: false };
  markKnown(v.reg(0), 0n);
}

/** is_state_visited() at next(): the iterator r1 points to is still active here */
export function iterAtR1Active(st: VState): boolean {
  const r1 = st.frames[st.frames.length - 1].regs[1];
  return st.frames[r1.frameno]?.stack[fpSpi(r1)]?.spilled?.iter?.active === true;
}

/** iter_active_depths_differ(): an active iterator of `old` is at another depth in `cur` (not an endless loop) */
export function iterActiveDepthsDiffer(old: VState, cur: VState): boolean {
  for (let fr = old.frames.length - 1; fr >= 0; fr--) {
    const stack = old.frames[fr].stack;
    for (let i = 0; i < stack.length; i++) {
      if (stack[i].types[0] !== STACK_ITER) continue;
      const it = stack[i].spilled?.iter;
      if (!it?.active) continue;
      if (cur.frames[fr].stack[i]?.spilled?.iter?.depth !== it.depth) return true;
    }
  }
  return false;
}

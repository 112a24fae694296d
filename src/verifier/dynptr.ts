/*
 * Dynptrs on the stack (Linux 6.18 process_dynptr_func() and friends): a struct bpf_dynptr is two
 * stack slots of STACK_DYNPTR whose spilled_ptr records the kind (local memory, ring buffer record)
 * and, for ring buffer ones, the acquired reference that bpf_ringbuf_submit/discard_dynptr release.
 * Writing over a dynptr destroys it (refused for referenced ones); reading its bytes is refused.
 */
import type { ArgType } from '../helpers/proto.js';
import { EACCES, EINVAL, VerifierError, fail } from './errors.js';
import { type DynptrKind, type RegState, markKnown, markUnknown, newReg } from './reg_state.js';
import { type FuncState, type VState, STACK_DYNPTR, STACK_INVALID, STACK_ITER, releaseReference, stackObjSpi } from './state.js';

const BPF_DYNPTR_NR_SLOTS = 2;
export const FUNC_DYNPTR_FROM_MEM = 197, FUNC_DYNPTR_DATA = 203;

/** What a helper's dynptr argument asks for (arg_to_dynptr_type()). */
export function argDynptrKind(a: ArgType): DynptrKind | undefined {
  if (a.flags.includes('DYNPTR_TYPE_LOCAL')) return 'local';
  if (a.flags.includes('DYNPTR_TYPE_RINGBUF')) return 'ringbuf';
  return undefined;
}

export interface DynptrCtx {
  st: VState;
  /** The frame a stack pointer points into. */
  frameOf: (r: RegState) => FuncState;
  slot: (f: FuncState, spi: number) => { types: number[]; spilled?: RegState };
  newId: () => number;
  scratch: (spi: number) => void;
  /** A log line before the error that ends verification. */
  note: (line: string) => void;
  insnIdx: number;
  /** bpf_mark_stack_read() / bpf_mark_stack_write() for the stack liveness pass (one slot) */
  markRead?: (frameno: number, spi: number) => void;
  markWrite?: (frameno: number, spi: number) => void;
}

/** stack_slot_obj_get_spi(): the dynptr's first (upper) slot; -1 (ERANGE) when not allocated yet. */
export function dynptrSpi(c: DynptrCtx, r: RegState): number {
  const spi = stackObjSpi(r, 'dynptr', BPF_DYNPTR_NR_SLOTS);
  return spi < c.frameOf(r).stack.length ? spi : -1;
}

/** is_dynptr_reg_valid_init() */
function validInit(c: DynptrCtx, r: RegState): boolean {
  if (r.type === 'dynptr') return true;
  const spi = dynptrSpi(c, r);
  if (spi < 0) return false;
  const f = c.frameOf(r);
  const a = f.stack[spi], b = f.stack[spi - 1];
  if (!a?.spilled?.dynptr?.first) return false;
  return a.types.every((t) => t === STACK_DYNPTR) && !!b && b.types.every((t) => t === STACK_DYNPTR);
}

/**
 * destroy_if_dynptr_stack_slot(): a write into either slot of an unreferenced dynptr destroys it
 * (and the slices taken from it); a referenced one cannot be overwritten.
 */
export function destroyIfDynptrSlot(st: VState, f: FuncState, spi: number): void {
  let s = f.stack[spi];
  if (!s || s.types[0] !== STACK_DYNPTR) return;
  if (!s.spilled?.dynptr?.first) { spi++; s = f.stack[spi]; }
  if (s.spilled?.dynptr?.kind === 'ringbuf') fail('cannot overwrite referenced dynptr', EINVAL);
  const id = s.spilled?.id ?? 0;
  invalidateSlots(f, spi);
  invalidateSlices(st, id);
}

function invalidateSlots(f: FuncState, spi: number, markWrite?: (frameno: number, spi: number) => void): void {
  for (const k of [spi, spi - 1]) {
    markWrite?.(f.frameno, k); // invalidate_dynptr()
    const s = f.stack[k];
    s.types.fill(STACK_INVALID);
    s.spilled = undefined;
  }
}

/** Slices of a destroyed dynptr (PTR_TO_MEM with its dynptr_id) become unusable (mark_reg_invalid()). */
function invalidateSlices(st: VState, dynptrId: number): void {
  if (!dynptrId) return;
  for (const f of st.frames) {
    for (const r of f.regs) if (r.type === 'mem' && r.dynptrId === dynptrId) markUnknown(r);
    for (const s of f.stack) if (s.spilled?.type === 'mem' && s.spilled.dynptrId === dynptrId) markUnknown(s.spilled);
  }
}

/**
 * process_dynptr_func() for argument register `regno` (the release check of check_func_arg()
 * first): MEM_UNINIT builds a new dynptr in the slots, otherwise an initialised one of the
 * expected kind is required. Returns the dynptr's first slot register (for its id and reference).
 */
export function processDynptrArg(c: DynptrCtx, regno: number, r: RegState, a: ArgType, writeSlot: (off: number) => void): RegState | undefined {
  const release = a.flags.includes('OBJ_RELEASE');
  if (release) {
    if (r.type !== 'fp') fail('cannot release unowned const bpf_dynptr', EINVAL);
    let spi = -1;
    try {
      spi = dynptrSpi(c, r);
    } catch (e) {
      if (!(e instanceof VerifierError)) throw e;
      c.note(e.msg); // the kernel logs why, then refuses the release
    }
    if (spi < 0 || !c.frameOf(r).stack[spi]?.spilled?.refObjId) fail(`arg ${regno} is an unacquired reference`, EINVAL);
  }
  if (r.type !== 'fp' && r.type !== 'dynptr') fail(`arg#${regno - 1} expected pointer to stack or const struct bpf_dynptr`, EINVAL);
  const kind = argDynptrKind(a);
  if (a.flags.includes('MEM_UNINIT')) {
    if (r.type === 'dynptr') fail('Dynptr has to be an uninitialized dynptr', EINVAL);
    dynptrSpi(c, r);
    // the 16 bytes are written 8 at a time (check_mem_access(BPF_DW, BPF_WRITE)), then marked
    writeSlot(0); writeSlot(8);
    const spi = dynptrSpi(c, r);
    const f = c.frameOf(r);
    destroyIfDynptrSlot(c.st, f, spi);
    destroyIfDynptrSlot(c.st, f, spi - 1);
    const id = c.newId();
    for (const k of [spi, spi - 1]) {
      const s = c.slot(f, k);
      s.types.fill(STACK_DYNPTR);
      const d = newReg();
      markKnown(d, 0n);
      d.type = 'dynptr'; d.id = id; d.dynptrId = id; d.dynptr = { kind: kind ?? 'local', first: k === spi };
      s.spilled = d;
      c.scratch(k);
    }
    if (kind === 'ringbuf') {
      const ref = c.newId();
      c.st.refs.push({ id: ref, insn: c.insnIdx });
      c.slot(f, spi).spilled!.refObjId = ref;
      c.slot(f, spi - 1).spilled!.refObjId = ref;
    }
    return c.slot(f, spi).spilled;
  }
  if (r.type === 'dynptr' && !a.flags.includes('MEM_RDONLY')) fail('cannot pass pointer to const bpf_dynptr, the helper mutates it', EINVAL);
  if (!validInit(c, r)) fail(`Expected an initialized dynptr as arg #${regno - 1}`, EINVAL);
  let d = r;
  if (r.type === 'fp') {
    // mark_dynptr_read(): both slots are read
    const spi = dynptrSpi(c, r);
    for (const k of [spi, spi - 1]) { c.markRead?.(r.frameno, k); c.scratch(k); }
    d = c.frameOf(r).stack[spi].spilled!;
  }
  if (kind && d.dynptr?.kind !== kind) fail(`Expected a dynptr of type ${kind} as arg #${regno - 1}`, EINVAL);
  return d;
}

/**
 * unmark_stack_slots_dynptr(): releasing a ring buffer dynptr drops its reference, its slices
 * (they share the reference) and its slots.
 */
export function releaseDynptr(c: DynptrCtx, r: RegState): void {
  const f = c.frameOf(r);
  const spi = dynptrSpi(c, r);
  const d = f.stack[spi].spilled!;
  const ref = d.refObjId;
  invalidateSlices(c.st, d.id);
  if (ref) {
    releaseReference(c.st, ref);
    // the dynptr's clones (same reference) end with it
    for (const fr of c.st.frames) {
      for (let k = 0; k < fr.stack.length; k++) {
        const s = fr.stack[k];
        if (s.spilled?.refObjId === ref && s.types[0] === STACK_DYNPTR && s.spilled.dynptr?.first) invalidateSlots(fr, k, fr === f ? c.markWrite : undefined);
      }
    }
  }
  if (f.stack[spi].types[0] === STACK_DYNPTR) invalidateSlots(f, spi, c.markWrite);
}

/**
 * check_stack_range_initialized(): helpers never read or write a dynptr's bytes, nor read an
 * iterator's (writing over one scrubs it, as a store does).
 */
export function checkNoDynptrBytes(f: FuncState, lo: number, size: number, regno: number, write: boolean): void {
  for (let o = lo; o < lo + size; o++) {
    const s = f.stack[Math.floor((-o - 1) / 8)];
    const t = s?.types[(-o - 1) % 8];
    if (t === STACK_DYNPTR && write) fail(`potential write to dynptr at off=${o} disallowed`, EACCES);
    if ((t === STACK_DYNPTR || t === STACK_ITER) && !write) fail(`invalid read from stack R${regno} off ${lo}+${o - lo} size ${size}`, EACCES);
  }
}


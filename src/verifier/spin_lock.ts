/*
 * bpf_spin_lock / bpf_spin_unlock (process_spin_lock() in Linux 6.18): the lock lives in a map
 * value whose BTF type has a struct bpf_spin_lock (the map's spec.spinLockOff). A held lock is a
 * REF_TYPE_LOCK entry in the state's references, identified by the map value's id and the map; while
 * one is held no other function may be called, the main program may not exit, and the lock field is
 * never accessed directly.
 */
import { EACCES, EINVAL, fail } from './errors.js';
import { type RegState, type VerifierMap } from './reg_state.js';
import type { RefState, VState } from './state.js';
import { tnumIsConst } from './tnum.js';

export const FUNC_SPIN_LOCK = 93, FUNC_SPIN_UNLOCK = 94, FUNC_KPTR_XCHG = 194;
const SPIN_LOCK_SIZE = 4;

/** cur->active_locks */
export function holdsLock(st: VState): boolean { return st.refs.some((r) => r.lock !== undefined); }

/** References to objects (REF_TYPE_PTR), without the held locks. */
export function pointerRefs(st: VState): RefState[] { return st.refs.filter((r) => r.lock === undefined); }

/** do_check_insn(): while a lock is held, only bpf_spin_unlock (and bpf_kptr_xchg) may be called. */
export function checkCallUnderLock(st: VState, helperId: number | undefined): void {
  if (!holdsLock(st)) return;
  if (helperId === FUNC_SPIN_UNLOCK || helperId === FUNC_KPTR_XCHG) return;
  fail('function calls are not allowed while holding a lock', EINVAL);
}

/** check_resource_leak()'s lock part: "BPF_EXIT instruction in main prog cannot be used inside bpf_spin_lock-ed region" */
export function checkNoLockAt(st: VState, prefix: string): void {
  if (holdsLock(st)) fail(`${prefix} cannot be used inside bpf_spin_lock-ed region`, EINVAL);
}

/** check_map_access(): no load, store or helper access may touch the bpf_spin_lock field. */
export function checkLockFieldAccess(r: RegState, off: number, size: number): void {
  const p = r.map?.spec.spinLockOff;
  if (p === undefined) return;
  if (r.smin + BigInt(off) < BigInt(p + SPIN_LOCK_SIZE) && BigInt(p) < r.umax + BigInt(off + size)) {
    fail('bpf_spin_lock cannot be accessed directly by load/store', EACCES);
  }
}

/** reg_may_point_to_spin_lock(): such map values keep their id after the NULL check (the lock's identity). */
export function mayPointToSpinLock(r: RegState): boolean {
  return r.type === 'map_value' && r.map?.spec.spinLockOff !== undefined;
}

/** process_spin_lock() for bpf_spin_lock (isLock) and bpf_spin_unlock. */
export function processSpinLock(st: VState, regno: number, r: RegState, isLock: boolean, insnIdx: number, mapHasBtf: (m: VerifierMap) => boolean): void {
  if (!tnumIsConst(r.varOff)) fail(`R${regno} doesn't have constant offset. bpf_spin_lock has to be at the constant offset`, EINVAL);
  const map = r.map!;
  const name = map.spec.name ?? '';
  const lockOff = map.spec.spinLockOff;
  if (lockOff === undefined) {
    if (!mapHasBtf(map)) fail(`map '${name}' has to have BTF in order to use bpf_spin_lock`, EINVAL);
    fail(`map '${name}' has no valid bpf_spin_lock`, EINVAL);
  }
  const off = r.varOff.value + BigInt(r.off);
  if (off !== BigInt(lockOff)) fail(`off ${off} doesn't point to 'struct bpf_spin_lock' that is at ${lockOff}`, EINVAL);
  if (isLock) {
    if (holdsLock(st)) fail('Locking two bpf_spin_locks are not allowed', EINVAL);
    st.refs.push({ id: r.id, insn: insnIdx, lock: map });
    return;
  }
  if (!holdsLock(st)) fail('bpf_spin_unlock without taking a lock', EINVAL);
  // release_lock_state(): the most recent lock must be this one (same value id, same map)
  let k = st.refs.length - 1;
  while (st.refs[k].lock === undefined) k--;
  const held = st.refs[k];
  if (held.id !== r.id || held.lock !== map) fail('bpf_spin_unlock of different lock', EINVAL);
  st.refs.splice(k, 1);
}

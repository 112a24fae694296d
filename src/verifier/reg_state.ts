/*
 * Register state (struct bpf_reg_state): a type, a fixed offset, a tnum and 64/32-bit signed and
 * unsigned bounds, plus the ids the verifier links registers by. Bounds are BigInt: s64 values
 * as signed, u64 as unsigned, the 32-bit ones likewise in their own ranges.
 */
import { TNUM_UNKNOWN, type Tnum, tnumConst, tnumWithSubreg } from './tnum.js';

export type RegType =
  | 'not_init' | 'scalar' | 'ctx' | 'map_ptr' | 'map_value' | 'map_key' | 'fp' | 'pkt' | 'pkt_meta'
  | 'pkt_end' | 'flow_keys' | 'sock' | 'sock_common' | 'tcp_sock' | 'xdp_sock' | 'mem' | 'func' | 'buf'
  | 'ptr_' | 'dynptr' | 'tp_buffer';

/** A dynptr's kind (enum bpf_dynptr_type): local memory or a ring buffer record. */
export type DynptrKind = 'local' | 'ringbuf';

/** The part of a BpfMap the verifier reads. */
export interface VerifierMap {
  readonly spec: { readonly type: number; readonly keySize: number; readonly valueSize: number; readonly maxEntries: number; readonly flags: number; readonly name?: string; readonly spinLockOff?: number; readonly innerMap?: VerifierMap };
  readonly frozen?: boolean;
  /** The map's element by key (BpfMap.lookup): frozen read-only maps give constants (bpf_map_direct_read()). */
  readonly lookup?: (key: Uint8Array) => Uint8Array;
}

export interface RegState {
  type: RegType;
  /** PTR_MAYBE_NULL */
  maybeNull: boolean;
  /** MEM_RDONLY / MEM_RINGBUF / MEM_ALLOC-ish flags as text prefixes (reg_type_str). */
  rdonly: boolean;
  ringbuf: boolean;
  off: number;
  varOff: Tnum;
  smin: bigint; smax: bigint; umin: bigint; umax: bigint;
  s32min: bigint; s32max: bigint; u32min: bigint; u32max: bigint;
  id: number;
  refObjId: number;
  /** packet pointers: verified range; PTR_TO_MEM: mem_size */
  range: number;
  memSize: number;
  map?: VerifierMap;
  /** PTR_TO_STACK: which frame */
  frameno: number;
  /** PTR_TO_FUNC: subprogram start */
  subprog: number;
  /** The stack slots of a dynptr (CONST_PTR_TO_DYNPTR spilled_ptr): its kind and whether this is its first slot. */
  dynptr: { kind: DynptrKind; first: boolean } | undefined;
  /** A slice of a dynptr (bpf_dynptr_data()): the dynptr's id, so destroying the dynptr invalidates it. */
  dynptrId: number;
  /** PTR_TO_BTF_ID ('ptr_'): the kernel struct it points to, and whether it is PTR_TRUSTED. */
  btf: { readonly name: string; readonly trusted: boolean } | undefined;
  /**
   * An open-coded iterator's stack slot (STACK_ITER spilled_ptr, struct bpf_reg_state::iter): its
   * type (struct bpf_iter_<type>), whether next() may still return an element, and how many
   * next() calls deep this path is. Replaced whole, never changed in place (registers copy shallowly).
   */
  iter: IterState | undefined;
  /**
   * Scalars: the value matters to some later check (mark_chain_precision()); an imprecise scalar in
   * an explored state matches any scalar in regsafe().
   */
  precise: boolean;
}

/** enum bpf_iter_state: ACTIVE (next() may return an element) or DRAINED (it returned NULL). */
export interface IterState { readonly type: string; readonly active: boolean; readonly depth: number }

/**
 * BPF_ADD_CONST: a scalar id with this bit set names `rY + off` for the scalar rY with the plain id
 * (6.18's linked scalars with a constant delta, r1 = r2; r1 += K); `off` holds the delta.
 */
export const BPF_ADD_CONST = 0x80000000;
export const baseId = (id: number): number => (id >= BPF_ADD_CONST ? id - BPF_ADD_CONST : id);
export const hasAddConst = (id: number): boolean => id >= BPF_ADD_CONST;

export const S64_MIN = -(1n << 63n), S64_MAX = (1n << 63n) - 1n, U64_MAX = (1n << 64n) - 1n;
export const S32_MIN = -(1n << 31n), S32_MAX = (1n << 31n) - 1n, U32_MAX = 0xffffffffn;

export function newReg(): RegState {
  return {
    type: 'not_init', maybeNull: false, rdonly: false, ringbuf: false, off: 0, varOff: TNUM_UNKNOWN,
    smin: S64_MIN, smax: S64_MAX, umin: 0n, umax: U64_MAX, s32min: S32_MIN, s32max: S32_MAX, u32min: 0n, u32max: U32_MAX,
    id: 0, refObjId: 0, range: 0, memSize: 0, map: undefined, frameno: 0, subprog: 0, dynptr: undefined, dynptrId: 0, btf: undefined, iter: undefined,
    precise: false,
  };
}

/**
 * A copy of `r` as a literal of newReg()'s shape: every register state then shares one V8 hidden
 * class (a spread copy gets a class of its own lineage, and past four the verifier's property
 * reads go megamorphic; see isa/insn.ts, copyInsn()).
 */
export function copyReg(r: RegState): RegState {
  return {
    type: r.type, maybeNull: r.maybeNull, rdonly: r.rdonly, ringbuf: r.ringbuf, off: r.off, varOff: r.varOff,
    smin: r.smin, smax: r.smax, umin: r.umin, umax: r.umax, s32min: r.s32min, s32max: r.s32max, u32min: r.u32min, u32max: r.u32max,
    id: r.id, refObjId: r.refObjId, range: r.range, memSize: r.memSize, map: r.map, frameno: r.frameno, subprog: r.subprog, dynptr: r.dynptr,
    dynptrId: r.dynptrId, btf: r.btf, iter: r.iter, precise: r.precise,
  };
}

/** __mark_reg_unbounded() */
export function markUnbounded(r: RegState): void {
  r.smin = S64_MIN; r.smax = S64_MAX; r.umin = 0n; r.umax = U64_MAX;
  r.s32min = S32_MIN; r.s32max = S32_MAX; r.u32min = 0n; r.u32max = U32_MAX;
}
/** __mark_reg_unknown() */
export function markUnknown(r: RegState): void {
  resetReg(r);
  r.type = 'scalar';
}
/**
 * Every field as newReg() makes it, in place (no allocation: this runs for most instructions).
 * But `map` stays as it was (the kernel's memset would clear it; a register's type says whether it is read).
 */
function resetReg(r: RegState): void {
  r.type = 'not_init'; r.maybeNull = false; r.rdonly = false; r.ringbuf = false; r.off = 0; r.varOff = TNUM_UNKNOWN;
  r.smin = S64_MIN; r.smax = S64_MAX; r.umin = 0n; r.umax = U64_MAX; r.s32min = S32_MIN; r.s32max = S32_MAX; r.u32min = 0n; r.u32max = U32_MAX;
  r.id = 0; r.refObjId = 0; r.range = 0; r.memSize = 0; r.frameno = 0; r.subprog = 0; r.dynptr = undefined; r.dynptrId = 0; r.btf = undefined; r.iter = undefined; r.precise = false;
}
/** __mark_reg_known() on a scalar */
export function markKnown(r: RegState, v: bigint): void {
  markUnknown(r);
  setKnown(r, v);
}
/** ___mark_reg_known(): tnum and bounds of a constant, type untouched */
export function setKnown(r: RegState, v: bigint): void {
  const u = BigInt.asUintN(64, v);
  r.varOff = tnumConst(u);
  r.smin = r.smax = BigInt.asIntN(64, u);
  r.umin = r.umax = u;
  r.s32min = r.s32max = BigInt.asIntN(32, u);
  r.u32min = r.u32max = BigInt.asUintN(32, u);
}
/** __mark_reg32_known(): the low 32 bits become `v`, the upper ones keep what is known of them */
export function markReg32Known(r: RegState, v: bigint): void {
  const u = BigInt.asUintN(32, v);
  r.varOff = tnumWithSubreg(r.varOff, tnumConst(u));
  r.s32min = r.s32max = BigInt.asIntN(32, u);
  r.u32min = r.u32max = u;
}
export function markNotInit(r: RegState): void { resetReg(r); }
export function isPointer(r: RegState): boolean { return r.type !== 'scalar' && r.type !== 'not_init'; }
export function isPktPointer(r: RegState): boolean { return r.type === 'pkt' || r.type === 'pkt_meta'; }

/**
 * reg_type_str(): PTR_TO_BTF_ID is "ptr_" with "or_null_" after it (the log's print_reg_state()
 * then appends the struct name: ptr_or_null_tcp_sock), others "_or_null".
 */
export function regTypeStr(r: RegState): string {
  // a map-in-map lookup is map_value_or_null until the null check makes it a map_ptr
  if (r.type === 'map_ptr' && r.maybeNull) return 'map_value_or_null';
  if (r.type === 'ptr_') return `${r.btf?.trusted ? 'trusted_' : ''}ptr_${r.maybeNull ? 'or_null_' : ''}`;
  let base: string = r.type;
  if (r.type === 'mem' && r.ringbuf) base = 'ringbuf_mem';
  else if (r.type === 'dynptr') base = 'dynptr_ptr';
  else if (r.rdonly) base = 'rdonly_' + base;
  return base + (r.maybeNull ? '_or_null' : '');
}

/*
 * The kernel functions (kfuncs) bpfkit implements, as Linux 6.18.44's vmlinux BTF names them: a
 * program calls one with `call` src BPF_PSEUDO_KFUNC_CALL, imm = the function's BTF id, off 0
 * (vmlinux, not a module), which libbpf puts there when it resolves the `.ksyms` extern. The ids
 * are the running kernel's: `bpftool btf dump file /sys/kernel/btf/vmlinux | grep "FUNC 'NAME'"`.
 *
 * Each kfunc also gets an internal helper id (KFUNC_HELPER_BASE + index), which is how the engines
 * call it: decode.ts turns the kfunc call into a helper call of that id, so the interpreter and the
 * JIT take their ordinary helper path.
 */

/** What the verifier needs of a kfunc beyond its BTF prototype (its BTF_ID_FLAGS()). */
export type KfuncKind = 'iter_new' | 'iter_next' | 'iter_destroy';

export interface KfuncInfo {
  /** The kernel's name: bpf_iter_num_new. */
  readonly name: string;
  /** Its FUNC id in vmlinux BTF (the call's imm). */
  readonly btfId: number;
  /** btf_type_vlen() of its FUNC_PROTO: registers r1..rN it reads. */
  readonly params: number;
  readonly kind: KfuncKind;
  /** The iterator type an iterator kfunc works on (struct bpf_iter_<type>): 'num'. */
  readonly iter?: string;
  /** The helper id the engines call it by. */
  readonly helperId: number;
}

/** Internal helper ids of kfuncs start here: far above enum bpf_func_id, below the registry's limit. */
export const KFUNC_HELPER_BASE = 0x7fff0000;

const defs: Omit<KfuncInfo, 'helperId'>[] = [
  // kernel/bpf/bpf_iter.c: BTF_ID_FLAGS(func, bpf_iter_num_new, KF_ITER_NEW) ...
  { name: 'bpf_iter_num_new', btfId: 63675, params: 3, kind: 'iter_new', iter: 'num' },
  { name: 'bpf_iter_num_next', btfId: 63678, params: 1, kind: 'iter_next', iter: 'num' }, // KF_ITER_NEXT | KF_RET_NULL
  { name: 'bpf_iter_num_destroy', btfId: 63672, params: 1, kind: 'iter_destroy', iter: 'num' },
];

export const KFUNCS: readonly KfuncInfo[] = defs.map((d, i) => Object.freeze({ ...d, helperId: KFUNC_HELPER_BASE + i }));

const byBtfId = new Map(KFUNCS.map((k) => [k.btfId, k]));
const byName = new Map(KFUNCS.map((k) => [k.name, k]));

/** The kfunc a `call` (src BPF_PSEUDO_KFUNC_CALL, off 0) with this imm calls, if bpfkit has it. */
export function kfuncByBtfId(btfId: number): KfuncInfo | undefined { return byBtfId.get(btfId); }
export function kfuncByName(name: string): KfuncInfo | undefined { return byName.get(name); }

/*
 * The kfuncs bpfkit implements (isa/kfuncs.ts lists them), registered under their internal helper
 * ids so that a kfunc call, decoded as a helper call (vm/decode.ts), runs like any helper in the
 * interpreter and the JIT. Arguments are u64 bigints; pointers are VM addresses.
 */
import { KFUNCS, type KfuncInfo } from '../isa/kfuncs.js';
import type { HelperCallContext } from '../vm/types.js';
import type { HelperRegistry } from '../vm/helpers.js';
import type { Vm } from '../vm/vm.js';

const EINVAL = 22, E2BIG = 7;
/** BPF_MAX_LOOPS: the most values one numeric iterator may produce. */
const BPF_MAX_LOOPS = 8 * 1024 * 1024;

type KfuncImpl = (ctx: HelperCallContext, r1: bigint, r2: bigint, r3: bigint) => bigint;

/**
 * struct bpf_iter_num_kern { int cur; int end; } at `it` (8 bytes on the program's stack): its
 * two fields read and written in place.
 */
function numIter(ctx: HelperCallContext, it: bigint): DataView {
  const addr = it <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(it) : -1;
  const bytes = (ctx.vm as Vm).space.view(addr, 8);
  return new DataView(bytes.buffer, bytes.byteOffset, 8);
}
const setNum = (s: DataView, cur: number, end: number): void => { s.setInt32(0, cur, true); s.setInt32(4, end, true); };

/** A C `int` result as the x86-64 JIT leaves it in r0: the 32-bit value, zero-extended. */
const int = (v: number): bigint => BigInt(v >>> 0);

const IMPLS: Record<string, KfuncImpl> = {
  // kernel/bpf/bpf_iter.c bpf_iter_num_new(): the range [start, end), next() returns start first
  bpf_iter_num_new: (ctx, it, start, end) => {
    const s = numIter(ctx, it);
    const a = Number(BigInt.asIntN(32, start)), b = Number(BigInt.asIntN(32, end));
    if (a > b) { setNum(s, 0, 0); return int(-EINVAL); }
    if (b - a > BPF_MAX_LOOPS) { setNum(s, 0, 0); return int(-E2BIG); }
    setNum(s, (a - 1) | 0, b);
    return 0n;
  },
  // bpf_iter_num_next(): a pointer to the next value (cur itself), or NULL once drained (and after)
  bpf_iter_num_next: (ctx, it) => {
    const s = numIter(ctx, it);
    const cur = s.getInt32(0, true), end = s.getInt32(4, true);
    // (s64)(s->cur + 1) >= s->end, with the kernel's wrapping int addition
    if (((cur + 1) | 0) >= end) { setNum(s, 0, 0); return 0n; }
    s.setInt32(0, cur + 1, true);
    return it;
  },
  bpf_iter_num_destroy: (ctx, it) => {
    setNum(numIter(ctx, it), 0, 0);
    return 0n;
  },
};

/** Register every kfunc in `registry` (kfuncs of the common set are allowed in every program type). */
export function registerKfuncs(registry: HelperRegistry): void {
  for (const k of KFUNCS) registry.register(k.helperId, k.name, implOf(k));
}

function implOf(k: KfuncInfo): KfuncImpl {
  const impl = IMPLS[k.name];
  if (!impl) throw new Error(`kfunc ${k.name} has no implementation`);
  return impl;
}

/*
 * helpers/: BPF helpers by kernel id, implementation + prototype (one table for the runtime and
 * the verifier), the HelperHost environment, and bpf_trace_printk's formatter.
 *
 * registerHelpers(vm.helpers, host) puts every implemented helper in a VM's registry. Programs
 * pass callbacks (bpf_loop, bpf_for_each_map_elem) as slot indices: resolvePseudoFunc() turns
 * `ld_imm64 rX, BPF_PSEUDO_FUNC` into that constant before a run.
 */
import { type Insn, isLdImm64, makeLdImm64, copyInsn } from '../isa/insn.js';
import { BPF_PSEUDO_FUNC } from '../isa/opcodes.js';
import type { HelperRegistry } from '../vm/helpers.js';
import { type HelperHost, createHelperHost } from './host.js';
import { HELPERS, type HelperDef } from './table.js';
import { registerFastHelpers } from './fast.js';
import { registerKfuncs } from './kfuncs.js';

export * from './host.js';
export * from './proto.js';
export { HELPERS, BPF_MAX_LOOPS, helperDef, unknownHelperMessage, type HelperDef, type HelperImpl } from './table.js';
export { registerKfuncs } from './kfuncs.js';
export { bprintf, MAX_BPRINTF_BUF, MAX_BPRINTF_VARARGS, type PrintfMemory } from './printf.js';

/**
 * Register the helpers (all of them, or those `filter` accepts: a program type's helper set) in
 * `registry`, bound to `host`. Returns the host.
 */
export function registerHelpers(registry: HelperRegistry, host: HelperHost = createHelperHost(), filter?: (d: HelperDef) => boolean): HelperHost {
  for (const d of HELPERS) {
    if (filter && !filter(d)) continue;
    const impl = d.impl;
    registry.register(d.id, d.name, (ctx, r1, r2, r3, r4, r5) => impl(host, ctx, r1, r2, r3, r4, r5));
  }
  registerFastHelpers(registry, host); // the JIT's BigInt-free forms of the hot ones
  // the kfuncs by their internal helper ids (isa/kfuncs.ts); a helper set leaves them to its caller
  if (!filter) registerKfuncs(registry);
  return host;
}

/**
 * A copy of `insns` where every `ld_imm64 rX, <subprog>` (src BPF_PSEUDO_FUNC, imm relative to
 * the next slot as the loader leaves it) loads the callback's absolute slot index instead, which
 * is what bpf_loop and bpf_for_each_map_elem take as a callback here.
 */
export function resolvePseudoFunc(insns: readonly Insn[]): Insn[] {
  const out = insns.map((i) => copyInsn(i));
  for (let i = 0; i + 1 < out.length; i++) {
    const insn = out[i];
    if (!isLdImm64(insn)) continue;
    if (insn.src === BPF_PSEUDO_FUNC) {
      const [lo, hi] = makeLdImm64(insn.dst, BigInt(i + insn.imm + 1));
      out[i] = lo;
      out[i + 1] = hi;
    }
    i++;
  }
  return out;
}

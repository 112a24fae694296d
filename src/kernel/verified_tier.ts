/*
 * The JIT's verified tier for loaded programs: what the verifier proved about a KProg, in the
 * JIT's terms (vm/jit VerifiedTier), attached to the instruction arrays the engines get for it.
 * The verdict is the verifier's own, re-run over the program as loaded (it is deterministic, as
 * xlatedProgram() relies on too), so a program pinned by an earlier process is covered alike and
 * no caller can claim it. Programs that do not verify now (BTF-typed types load unverified) keep
 * the checked tier.
 */
import type { Insn } from '../isa/insn.js';
import type { InsnAux } from '../verifier/verifier.js';
import { type VerifiedTier, markVerified } from '../vm/jit/index.js';
import type { KProg } from './bpf.js';
import { reverified } from './verify.js';

/*
 * Register types whose accesses check_mem_access() proves in bounds for the whole access: the
 * stack (fp), the context, a packet pointer within its verified range, a map value at a verified
 * offset. Anything else (sockets, BTF ids, helper memory, ...) keeps the region check.
 */
const PROVED = new Set(['fp', 'ctx', 'pkt', 'pkt_meta', 'map_value']);

const tiers = new WeakMap<KProg, VerifiedTier | null>();

/**
 * Mark `insns` (the engines' copy of `prog`) for the verified tier when `prog` verifies (the
 * tier computed once per program; vm/jit's verifiedTierOf() reads it back from `insns`).
 */
export function trustIfVerified(prog: KProg, insns: readonly Insn[]): void {
  let t = tiers.get(prog);
  if (t === undefined) {
    t = computeTier(prog) ?? null;
    tiers.set(prog, t);
  }
  if (t !== null && t.unchecked.length === insns.length) markVerified(insns, t);
}

function computeTier(prog: KProg): VerifiedTier | undefined {
  const result = reverified(prog);
  return result && tierFromAux(result.aux, result.stats.stackDepth, prog.insns.length);
}

/** The verified tier from the verifier's per-instruction aux data and per-subprogram stack depths. */
export function tierFromAux(aux: readonly InsnAux[], stackDepth: readonly number[], length: number): VerifiedTier {
  const unchecked = new Uint8Array(length);
  for (let i = 0; i < length; i++) {
    const types = aux[i]?.memTypes;
    if (types !== undefined && types.length > 0 && types.every((t) => PROVED.has(t))) unchecked[i] = 1;
  }
  return { unchecked, stackDepth: Math.max(0, ...stackDepth) };
}

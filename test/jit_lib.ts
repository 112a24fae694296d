/*
 * Shared by the JIT's differential tests (jit_random, jit_helpers, jit_budget_stores, jit_regions):
 * a run's outcome, result or BpfError, so the interpreter's and the JIT's can be compared as
 * values, and the first byte where two VMs' memories differ.
 */
import { BpfError } from '../src/errors.js';
import type { RunResult } from '../src/vm/types.js';
import type { Vm } from '../src/vm/vm.js';

export type Outcome = { ok: true; r: RunResult } | { ok: false; code: string; message: string };

/** Run `fn`: its result, or the BpfError it threw (anything else is rethrown). */
export function attempt(fn: () => RunResult): Outcome {
  try {
    return { ok: true, r: fn() };
  } catch (e) {
    if (!(e instanceof BpfError)) throw e;
    return { ok: false, code: e.code, message: e.message };
  }
}

/** The first byte where the two VMs' regions differ, or undefined. */
export function memoryDiff(a: Vm, b: Vm): string | undefined {
  const ra = a.space.list();
  const rb = b.space.list();
  if (ra.length !== rb.length) return `region count ${ra.length} vs ${rb.length}`;
  for (let i = 0; i < ra.length; i++) {
    const x = a.space.bytes(ra[i]);
    const y = b.space.bytes(rb[i]);
    for (let j = 0; j < x.length; j++) if (x[j] !== y[j]) return `region ${ra[i].name} byte ${j}: ${x[j]} vs ${y[j]}`;
  }
  return undefined;
}

/*
 * Shared by the JIT's differential tests (jit_random, jit_helpers, jit_budget_stores): a run's
 * outcome, result or BpfError, so the interpreter's and the JIT's can be compared as values.
 */
import { BpfError } from '../src/errors.js';
import type { RunResult } from '../src/vm/types.js';

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

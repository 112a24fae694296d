/*
 * How the conformance runner executes a program: a fresh VM per test with the suite's helper set,
 * the memory block copied into the address space, and the reference interpreter. Kept behind a
 * small interface so the runner can be pointed at another engine (the JIT) with the same tests.
 */
import type { Insn } from '../isa/insn.js';
import { HelperRegistry } from '../vm/helpers.js';
import { interpret } from '../vm/interpreter.js';
import { runJit } from '../vm/jit/index.js';
import type { RunOptions, RunResult } from '../vm/types.js';
import { Vm } from '../vm/vm.js';

export interface ConformanceEngine {
  /** r0 at exit; throws when the program faults. r1 = memory address (0 when empty), r2 = length. */
  run(insns: readonly Insn[], mem: Uint8Array): bigint;
}

/** Instruction budget for one test (the suite's programs run at most a few thousand). */
export const CONFORMANCE_BUDGET = 1_000_000;

/** Thrown by the unwind helper to end the program early (caught by the engine). */
class Unwind {
  readonly r0: bigint;
  constructor(r0: bigint) {
    this.r0 = r0;
  }
}

/**
 * Helpers the suite's programs call. Id 5 is uBPF's test helper "unwind" (tests/call_unwind_fail,
 * callx): it returns its first argument, and when that is 0 the program stops there with r0 = 0
 * (uBPF's unwind_stack_extension_index: "unwind the stack if the extension returns success").
 */
export function conformanceHelpers(): HelperRegistry {
  const registry = new HelperRegistry();
  registry.register(5, 'unwind', (_ctx, r1) => {
    if (r1 === 0n) throw new Unwind(0n);
    return r1;
  });
  return registry;
}

/** An engine over any runner with interpret()'s signature (the interpreter, or the JIT's runJit). */
export function engineOver(run: (vm: Vm, insns: readonly Insn[], options: RunOptions) => RunResult): ConformanceEngine {
  return {
    run(insns, mem) {
      const vm = new Vm({ helpers: conformanceHelpers() });
      let addr = 0n;
      if (mem.length > 0) {
        const region = vm.space.alloc(mem.length, 'conformance_mem', { writable: true });
        vm.space.write(region.addr, mem);
        addr = BigInt(region.addr);
      }
      try {
        return run(vm, insns, { args: [addr, BigInt(mem.length)], budget: CONFORMANCE_BUDGET }).r0;
      } catch (err) {
        if (err instanceof Unwind) return err.r0;
        throw err;
      }
    },
  };
}

/** The reference interpreter. */
export const conformanceEngine: ConformanceEngine = engineOver(interpret);

/** The WebAssembly JIT. */
export const jitConformanceEngine: ConformanceEngine = engineOver(runJit);

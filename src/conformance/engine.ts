/*
 * How the conformance runner executes a program: a fresh VM per test with the suite's helper set,
 * the memory block copied into the address space, and the reference interpreter. Kept behind a
 * small interface so the runner can be pointed at another engine (the JIT) with the same tests.
 */
import type { Insn } from '../isa/insn.js';
import { HelperRegistry } from '../vm/helpers.js';
import { interpret } from '../vm/interpreter.js';
import { Vm } from '../vm/vm.js';

export interface ConformanceEngine {
  /** r0 at exit; throws when the program faults. r1 = memory address (0 when empty), r2 = length. */
  run(insns: readonly Insn[], mem: Uint8Array): bigint;
}

/** Instruction budget for one test (the suite's programs run at most a few thousand). */
export const CONFORMANCE_BUDGET = 1_000_000;

/**
 * Helpers the suite's programs call. Id 5 is uBPF's test helper "unwind" (tests/call_unwind_fail,
 * callx): it returns its first argument.
 */
export function conformanceHelpers(): HelperRegistry {
  const registry = new HelperRegistry();
  registry.register(5, 'unwind', (_ctx, r1) => r1);
  return registry;
}

export const conformanceEngine: ConformanceEngine = {
  run(insns, mem) {
    const vm = new Vm({ helpers: conformanceHelpers() });
    let addr = 0n;
    if (mem.length > 0) {
      const region = vm.space.alloc(mem.length, 'conformance_mem', { writable: true });
      vm.space.write(region.addr, mem);
      addr = BigInt(region.addr);
    }
    const result = interpret(vm, insns as Insn[], {
      args: [addr, BigInt(mem.length)],
      budget: CONFORMANCE_BUDGET,
    });
    return result.r0;
  },
};

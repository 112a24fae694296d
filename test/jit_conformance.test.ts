/*
 * The bpf_conformance suite under the WebAssembly JIT: every program in tests/ returns its result
 * (the same runner as the interpreter's suite, with a JIT engine), every negative file is refused.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CONFORMANCE_BUDGET, type ConformanceEngine } from '../src/conformance/engine.js';
import { runConformanceDir } from '../src/conformance/node_runner.js';
import { HelperRegistry } from '../src/vm/helpers.js';
import { runJit } from '../src/vm/jit/index.js';
import { Vm } from '../src/vm/vm.js';

const SUITE = fileURLToPath(new URL('../../../shared/conformance', import.meta.url));

class Unwind {
  readonly r0: bigint;
  constructor(r0: bigint) {
    this.r0 = r0;
  }
}

/** As conformanceHelpers(): id 5 is uBPF's "unwind" (returns r1; stops the program when it is 0). */
function helpers(): HelperRegistry {
  const registry = new HelperRegistry();
  registry.register(5, 'unwind', (_ctx, r1) => {
    if (r1 === 0n) throw new Unwind(0n);
    return r1;
  });
  return registry;
}

export const jitConformanceEngine: ConformanceEngine = {
  run(insns, mem) {
    const vm = new Vm({ helpers: helpers() });
    let addr = 0n;
    if (mem.length > 0) {
      const region = vm.space.alloc(mem.length, 'conformance_mem', { writable: true });
      vm.space.write(region.addr, mem);
      addr = BigInt(region.addr);
    }
    try {
      return runJit(vm, insns, { args: [addr, BigInt(mem.length)], budget: CONFORMANCE_BUDGET }).r0;
    } catch (err) {
      if (err instanceof Unwind) return err.r0;
      throw err;
    }
  },
};

test('conformance: every test passes under the JIT and every negative file is refused', async (t) => {
  if (!existsSync(SUITE)) return t.skip(`${SUITE} not present (the shared conformance data)`);
  const outcomes = await runConformanceDir(SUITE, jitConformanceEngine);
  const failures = outcomes.filter((o) => !o.passed).map((o) => `${o.file}: ${o.stage} ${o.reason}`);
  assert.deepEqual(failures, []);
  assert.equal(outcomes.filter((o) => o.kind === 'positive').length, 313);
  assert.equal(outcomes.filter((o) => o.kind === 'negative').length, 60);
});

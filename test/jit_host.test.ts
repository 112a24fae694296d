/*
 * The JIT's host side: every module reaches the host through one shim (jit.ts, hostTable()) that
 * serves whichever instance runs now, and prepare() has V8 compile every function without running
 * any instruction. Checked here: prepare() runs nothing (no helper call, no store, in both tiers,
 * subprograms included) and later runs agree with the interpreter; faults, region-cache refills
 * and tail calls after a nested run on the same VM are the outer program's; a zero budget still
 * fails with ELOOP; and instances die with their VM (a table shared by all would keep them).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { BpfError } from '../src/errors.js';
import type { Insn } from '../src/isa/insn.js';
import { HelperRegistry } from '../src/vm/helpers.js';
import { interpret } from '../src/vm/interpreter.js';
import { compileJit, markVerified, runJit } from '../src/vm/jit/index.js';
import type { HelperCallContext, RunOptions, RunResult } from '../src/vm/types.js';
import { Vm } from '../src/vm/vm.js';
import { R0, R1, R2, R3, R6, R7, R10, alu64K, alu64X, call, callLocal, exit, ldx, mov64, mov64X, prog, stx } from './vm_build.js';

type Engine = (vm: Vm, insns: readonly Insn[], options?: RunOptions) => RunResult;
type Outcome = { r0: bigint; insnCount: number } | { code: string; message: string };

function outcome(f: () => RunResult): Outcome {
  try {
    const r = f();
    return { r0: r.r0, insnCount: r.insnCount };
  } catch (e) {
    if (!(e instanceof BpfError)) throw e;
    return { code: e.code, message: e.message };
  }
}

const COUNT = 40;

/** A VM whose helper COUNT counts its calls and returns r1 + 1. */
function countingVm(): { vm: Vm; calls: () => number } {
  const helpers = new HelperRegistry();
  let n = 0;
  helpers.register(COUNT, 'count', (_c, r1) => { n++; return r1 + 1n; });
  return { vm: new Vm({ helpers }), calls: () => n };
}

// main: stores to its frame, calls subprogram A (helper call, store) and B (which calls A)
const withSubprograms = prog(
  mov64(R6, 7), stx(8, R10, -8, R6), mov64(R1, 1), callLocal(4), ldx(8, R2, R10, -8), alu64X(0x00, R0, R2), callLocal(5), exit(),
  /* A */ mov64(R7, 3), stx(8, R10, -16, R7), call(COUNT), exit(),
  /* B */ mov64(R1, 10), callLocal(-6), alu64K(0x00, R0, 100), exit(),
);

test('prepare() runs no instruction: no helper call, no store, in either tier, subprograms included', () => {
  for (const tier of ['checked', 'verified']) {
    const insns = withSubprograms.slice();
    if (tier === 'verified') markVerified(insns, { unchecked: new Uint8Array(insns.length), stackDepth: 16 });
    const { vm, calls } = countingVm();
    const p = compileJit(vm, insns).prepare();
    assert.equal(p.verified, tier === 'verified');
    assert.equal(p.functions, 2, 'two local-call targets');
    assert.equal(calls(), 0, `${tier}: prepare() called the helper`);
    const frames = vm.space.list().filter((r) => r.name.startsWith('stack'));
    assert.equal(frames.length, 8);
    for (const f of frames) assert.ok(vm.space.read(f.addr, f.size).every((x) => x === 0), `${tier}: prepare() wrote to ${f.name}`);
    // and then a run is the interpreter's (the verified tier counts no instructions)
    const jit = p.run();
    const { vm: vm2 } = countingVm();
    const ref = interpret(vm2, insns);
    assert.equal(jit.r0, ref.r0);
    assert.equal(jit.r0, 111n); // A(1) + 7 + (B: A(10) + 100)
    if (tier === 'checked') assert.equal(jit.insnCount, ref.insnCount);
    assert.equal(calls(), 2);
  }
});

test('a zero budget still fails with ELOOP, before and after prepare()', () => {
  const { vm } = countingVm();
  const p = compileJit(vm, prog(mov64(R0, 1), exit()));
  for (let i = 0; i < 2; i++) {
    assert.throws(() => p.runCtx(0, 0), { code: 'ELOOP', message: 'instruction budget of 0 exceeded (insn #0)' });
    p.prepare();
  }
});

/**
 * Outer program on `data` (r1): a load fills the region cache, helper 21 runs the inner program
 * (which faults, or tail-calls), then loads at a second region and an out-of-bounds load whose
 * fault must be the outer program's.
 */
function nestedCase(innerFaults: boolean, engine: Engine): { outer: Outcome; inner: Outcome } {
  const helpers = new HelperRegistry();
  let vm: Vm | undefined;
  const target = prog(mov64(R0, 5), exit());
  const inner = innerFaults
    ? prog(mov64(R2, 0x10), ldx(8, R0, R2, 0), exit()) // no region at 0x10
    : prog(mov64(R3, 0), call(12), mov64(R0, 9), exit()); // tail call to `target`
  let innerOutcome: Outcome | undefined;
  helpers.register(12, 'tail_call', (ctx: HelperCallContext) => (ctx.tailCall!(target) ? 0n : 1n));
  helpers.register(21, 'nested', () => {
    innerOutcome = outcome(() => engine(vm!, inner));
    return 'r0' in innerOutcome ? innerOutcome.r0 : 77n;
  });
  vm = new Vm({ helpers });
  const a = vm.space.alloc(64, 'a');
  const b = vm.space.alloc(64, 'b');
  new DataView(vm.space.memory.buffer).setUint32(a.addr + 8, 1000, true);
  new DataView(vm.space.memory.buffer).setUint32(b.addr, 20000, true);
  const outer = prog(
    mov64X(R6, R1), ldx(8, R7, R6, 8), call(21), alu64X(0x00, R0, R7), // r0 = nested + 1000
    mov64(R2, b.addr), ldx(8, R2, R2, 0), alu64X(0x00, R0, R2), // + 20000, from the other region
    stx(8, R10, -8, R0), mov64X(R2, R6), alu64K(0x00, R2, 60), ldx(8, R2, R2, 0), // 4 bytes past a
    exit(),
  );
  return { outer: outcome(() => engine(vm!, outer, { args: [BigInt(a.addr)] })), inner: innerOutcome! };
}

test('after a nested run on the same VM, faults and region-cache refills are the outer program\'s', () => {
  for (const innerFaults of [true, false]) {
    const { outer, inner } = nestedCase(innerFaults, runJit);
    assert.deepEqual({ outer, inner }, nestedCase(innerFaults, interpret));
    assert.ok('code' in outer && outer.code === 'EFAULT' && /\(insn #10\)/.test(outer.message), JSON.stringify(outer));
    if (innerFaults) assert.ok('code' in inner && inner.code === 'EFAULT' && /\(insn #1\)/.test(inner.message), JSON.stringify(inner));
    else assert.deepEqual(inner, { r0: 5n, insnCount: 4 });
  }
});

test('instances die with their VM (each has its own host table)', async () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  // (made in a function of their own: no VM stays reachable from this one's frame)
  const runOnNewVm = (i: number): WeakRef<object> => {
    const { vm } = countingVm();
    compileJit(vm, prog(mov64(R0, i), call(COUNT), exit())).prepare().runCtx(0);
    return new WeakRef(vm.space.memory);
  };
  const refs = [0, 1, 2, 3].map(runOnNewVm);
  for (let i = 0; i < 5 && refs.some((r) => r.deref() !== undefined); i++) {
    await new Promise((resolve) => setImmediate(resolve));
    gc();
  }
  assert.deepEqual(refs.map((r) => r.deref() === undefined), [true, true, true, true], 'a VM\'s memory outlived it');
});

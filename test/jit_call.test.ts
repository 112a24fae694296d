/*
 * The JIT's calls and program-level behaviour, each case run by both engines (on two VMs set up
 * alike) and required to agree: tail calls (registers and frame kept, r0 of the helper dropped,
 * budget and instruction count carried over, the 33-call limit, none from a subprogram), runs
 * nested from a helper, the entry option, budget errors, helper errors, may_goto's 8M loop budget,
 * memory grown by a helper mid-run, callx ids beyond 32 bits, and the RunResult.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BpfError } from '../src/errors.js';
import { type Insn, makeInsn } from '../src/isa/insn.js';
import { HelperRegistry } from '../src/vm/helpers.js';
import { interpret } from '../src/vm/interpreter.js';
import { compileJit, compileJitAsync, runJit } from '../src/vm/jit/index.js';
import type { HelperCallContext, RunOptions, RunResult } from '../src/vm/types.js';
import { Vm } from '../src/vm/vm.js';
import {
  R0, R1, R2, R3, R6, R10, alu64K, alu64X, call, callLocal, callx, exit, ja, jmpK, lddw, ldx, mov64, mov64X, prog, stx,
} from './vm_build.js';

type Engine = (vm: Vm, insns: readonly Insn[], options?: RunOptions) => RunResult;
const ENGINES: [string, Engine][] = [['interp', interpret], ['jit', runJit]];

type Outcome = { r0: bigint; insnCount: number } | { code: string; message: string };

/** Run on a fresh VM per engine (helpers from `setup`); both outcomes must be equal. */
function agree(insns: readonly Insn[], setup: (h: HelperRegistry, vm: () => Vm) => void = () => {}, options: RunOptions = {}): Outcome {
  const outcomes = ENGINES.map(([, engine]) => {
    const helpers = new HelperRegistry();
    let vm: Vm | undefined;
    setup(helpers, () => vm!);
    vm = new Vm({ helpers });
    try {
      const r = engine(vm, insns, options);
      return { r0: r.r0, insnCount: r.insnCount };
    } catch (e) {
      if (!(e instanceof BpfError)) throw e;
      return { code: e.code, message: e.message };
    }
  });
  assert.deepEqual(outcomes[1], outcomes[0]);
  return outcomes[0];
}

const TAIL_CALL = 12;

/** A bpf_tail_call look-alike: r3 indexes `progs`; returns 0 when the tail call is scheduled, else -2. */
function tailCalls(progs: readonly Insn[][]): (h: HelperRegistry) => void {
  return (h) => h.register(TAIL_CALL, 'tail_call', (ctx: HelperCallContext, _r1, _r2, r3) => {
    const target = progs[Number(r3)];
    if (target === undefined || ctx.tailCall === undefined) return BigInt.asUintN(64, -2n);
    return ctx.tailCall(target) ? 0n : BigInt.asUintN(64, -2n);
  });
}

test('tail call: registers and stack frame are kept, the helper result is dropped', () => {
  const target = prog(ldx(8, R0, R10, -8), alu64X(0x00, R0, R6), alu64X(0x00, R0, R1), exit());
  const main = prog(mov64(R6, 1000), mov64(R1, 20), stx(8, R10, -8, R6), mov64(R0, 7), mov64(R3, 0), call(TAIL_CALL), mov64(R0, 99), exit());
  const out = agree(main, tailCalls([target]));
  assert.deepEqual(out, { r0: 2020n, insnCount: 10 });
});

test('tail call: a missing target falls through; the 33-call limit stops a self-loop', () => {
  const missing = prog(mov64(R3, 5), call(TAIL_CALL), exit());
  assert.deepEqual(agree(missing, tailCalls([])), { r0: BigInt.asUintN(64, -2n), insnCount: 3 });
  // each run adds 1 to a stack counter and tail-calls itself until refused
  const self: Insn[] = [];
  self.push(...prog(ldx(8, R6, R10, -8), alu64K(0x00, R6, 1), stx(8, R10, -8, R6), mov64(R3, 0), call(TAIL_CALL), mov64X(R0, R6), exit()));
  const out = agree(self, tailCalls([self]));
  assert.equal((out as { r0: bigint }).r0, 34n); // the first run plus 33 tail calls
});

test('tail call: from a subprogram is not supported (same error on both engines)', () => {
  const target = prog(mov64(R0, 1), exit());
  const main = prog(callLocal(2), exit(), exit(), mov64(R3, 0), call(TAIL_CALL), exit());
  const out = agree(main, tailCalls([target]));
  assert.deepEqual(out, { code: 'ENOTSUPP', message: 'tail call from a subprogram is not supported (insn #4)' });
});

test('tail call: budget and instruction count continue in the target', () => {
  const spin = prog(mov64(R0, 0), alu64K(0x00, R0, 1), jmpK(0x50, R0, 1000, -2), exit());
  const main = prog(mov64(R3, 0), call(TAIL_CALL), exit());
  assert.deepEqual(agree(main, tailCalls([spin]), { budget: 500 }), { code: 'ELOOP', message: 'instruction budget of 500 exceeded (insn #2)' });
  assert.deepEqual(agree(main, tailCalls([spin])), { r0: 1000n, insnCount: 2 + 1 + 2 * 1000 + 1 });
});

test('a helper may run another program on the same VM (nested runs), with either engine', () => {
  const inner = prog(mov64X(R0, R1), alu64K(0x20, R0, 3), exit()); // r0 = r1 * 3
  for (const [, nestedEngine] of ENGINES) {
    const out = agree(prog(mov64(R6, 5), stx(8, R10, -8, R6), mov64(R1, 14), call(20), ldx(8, R2, R10, -8), alu64X(0x00, R0, R2), exit()),
      (h, vm) => h.register(20, 'nested', (_c, r1) => nestedEngine(vm(), inner, { args: [r1] }).r0));
    assert.deepEqual(out, { r0: 47n, insnCount: 7 });
  }
});

test('errors: unknown helper, helper throwing, bad entry, bad budget are the interpreter\'s', () => {
  assert.deepEqual(agree(prog(call(77), exit())), { code: 'EINVAL', message: 'invalid func unknown#77 (insn #0)' });
  assert.deepEqual(agree(prog(call(1), exit()), (h) => h.register(1, 'boom', () => { throw new BpfError('EPERM', 'boom'); })),
    { code: 'EPERM', message: 'boom' });
  assert.deepEqual(agree(prog(exit()), undefined, { entry: 5 }), { code: 'EINVAL', message: 'interpret: entry 5 is outside the program' });
  assert.deepEqual(agree(prog(exit()), undefined, { budget: -1 }), { code: 'EINVAL', message: 'interpret: invalid instruction budget -1' });
});

test('entry: a subprogram run as a callback, and runCtx without BigInt', () => {
  const insns = prog(mov64(R0, 1), exit(), mov64X(R0, R1), alu64K(0x00, R0, 2), exit());
  assert.deepEqual(agree(insns, undefined, { entry: 2, args: [40n] }), { r0: 42n, insnCount: 3 });
  const vm = new Vm();
  const p = compileJit(vm, insns, 2).prepare();
  assert.equal(p.runCtx(0xfffffffe), 0); // r0 = 2^32: the low 32 bits
  assert.equal(p.runCtx(7), 9);
  assert.equal(p.lastInsnCount, 3);
  const big = p.run({ args: [0xffff_ffff_ffffn] });
  assert.equal(big.r0, 0x1_0000_0000_0001n);
});

test('compileJitAsync compiles off the synchronous path and shares the cache', async () => {
  const vm = new Vm();
  const insns = prog(mov64(R0, 5), alu64K(0x20, R0, 7), exit());
  const p = await compileJitAsync(vm, insns);
  assert.equal(p.cached, true); // the module compiled asynchronously, found by compileJit
  assert.equal(p.run().r0, 35n);
  assert.equal(compileJit(vm, insns), p);
});

test('may_goto: the loop budget runs out after 8M iterations, identically', () => {
  // r0 counts iterations of a may_goto loop; the kernel's BPF_MAX_LOOPS ends it
  const loop = prog(mov64(R0, 0), makeInsn(0xe5, 0, 0, 2, 0), alu64K(0x00, R0, 1), ja(-3), exit());
  assert.deepEqual(agree(loop, undefined, { budget: 30_000_000 }), { r0: 8n * 1024n * 1024n, insnCount: 3 * 8 * 1024 * 1024 + 3 });
});

test('a helper growing the memory mid-run: the program reaches the new region', () => {
  const insns = prog(mov64(R6, 0x5a), call(30), alu64K(0x00, R0, 4 * 1024 * 1024 - 1), stx(1, R0, 0, R6), ldx(1, R0, R0, 0), exit());
  const out = agree(insns, (h, vm) => h.register(30, 'big_alloc', () => BigInt(vm().space.alloc(4 * 1024 * 1024, 'big').addr)));
  assert.deepEqual(out, { r0: 0x5an, insnCount: 6 });
});

test('callx with an id beyond 32 bits names the full register value', () => {
  const insns = prog(lddw(R2, 0x1_0000_0005n), callx(R2), exit());
  assert.deepEqual(agree(insns, (h) => h.register(5, 'five', () => 5n)), { code: 'EINVAL', message: 'invalid func unknown#4294967301 (insn #2)' });
});

test('the main frame starts zeroed in every run, whichever program dirtied it before', () => {
  const writer = prog(mov64(R1, 0x77), stx(8, R10, -8, R1), ldx(8, R0, R10, -16), exit()); // stores
  const reader = prog(ldx(8, R0, R10, -8), ldx(8, R2, R10, -512), alu64X(0x00, R0, R2), exit()); // writes nothing
  const results = ENGINES.map(([, engine]) => {
    const vm = new Vm();
    return [writer, reader, reader, writer, reader, writer, writer, reader].map((p) => engine(vm, p).r0);
  });
  assert.deepEqual(results[1], results[0]);
  assert.deepEqual(results[0], [0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n]);
});

test('subprogram frames start zeroed too, after another program dirtied them', () => {
  // writer: a subprogram stores into its frame; reader: a subprogram reads its frame (no stores)
  const writer = prog(callLocal(1), exit(), mov64(R1, 0x55), stx(8, R10, -8, R1), mov64(R0, 0), exit());
  const reader = prog(callLocal(1), exit(), ldx(8, R0, R10, -8), exit());
  const results = ENGINES.map(([, engine]) => {
    const vm = new Vm();
    return [writer, reader, writer, reader, reader].map((p) => engine(vm, p).r0);
  });
  assert.deepEqual(results[1], results[0]);
  assert.deepEqual(results[0], [0n, 0n, 0n, 0n, 0n]);
});

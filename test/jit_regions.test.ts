/*
 * A large entry compiled as a chain of wasm functions (regions.ts): each region continues in the
 * next by a call, with the registers, the frame and the budget. Checked against the interpreter:
 * r0, instruction counts, budget errors naming the same instruction, faults and LD_ABS's end
 * inside later regions, the verified tier, memory after every run; and where regions may not be.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type Insn, makeInsn } from '../src/isa/insn.js';
import { decodeForInterpreter } from '../src/vm/decode.js';
import { interpret } from '../src/vm/interpreter.js';
import { compileJit, markVerified, runJit } from '../src/vm/jit/index.js';
import { PARALLEL_SLOTS, REGION_SLOTS, regionCuts } from '../src/vm/jit/regions.js';
import { eagerCompilation } from '../src/vm/jit/wasm_compile.js';
import type { RunOptions } from '../src/vm/types.js';
import { Vm } from '../src/vm/vm.js';
import { attempt, memoryDiff } from './jit_lib.js';
import { syntheticProgram } from './jit_synthetic_lib.js';
import { generate, rng } from './vm_random_lib.js';

/** Both engines on fresh VMs under each option set: same outcome and memory after each run. */
function sameRuns(insns: readonly Insn[], runs: readonly RunOptions[], what: string): void {
  const a = new Vm();
  const b = new Vm();
  for (const options of runs) {
    const want = attempt(() => interpret(a, insns, options));
    const got = attempt(() => runJit(b, insns, options));
    assert.deepEqual(got, want, `${what}, budget ${options.budget}`);
    const diff = memoryDiff(a, b);
    if (diff !== undefined) assert.fail(`${what}, budget ${options.budget}: ${diff}`);
  }
}

/** The cut slots regionCuts() picks for `insns` (entry 0), for a V8 that compiles in `parallel` or not. */
function cutsOf(insns: readonly Insn[], parallel = false): number[] {
  const cuts = regionCuts(decodeForInterpreter(insns).code, 0, parallel);
  const out: number[] = [];
  if (cuts !== undefined) for (let s = 0; s < cuts.length; s++) if (cuts[s] === 1) out.push(s);
  return out;
}

/** Budgets around each cut (each region's last and first instructions) and beyond the end. */
function budgetsAround(cuts: readonly number[]): RunOptions[] {
  const out: RunOptions[] = [{ budget: 0 }, { budget: 1 }, { budget: 1_000_000 }];
  for (const c of cuts) for (let d = -3; d <= 3; d++) out.push({ budget: c + d });
  return out;
}

test('regions: the synthetic 10,000-insn program runs in ten functions exactly as on the interpreter', () => {
  const insns = syntheticProgram(10_000);
  const cuts = cutsOf(insns);
  assert.equal(cuts.length, 9, `cuts at ${cuts.join(', ')}`);
  for (let k = 1; k < cuts.length; k++) assert.ok(cuts[k] - cuts[k - 1] >= REGION_SLOTS);
  const p = compileJit(new Vm(), insns);
  assert.equal(p.functions, 9, 'nine regions after the entry');
  // (straight-line: the budget a run needs to reach slot c is c + 1, give or take the skipped ones)
  sameRuns(insns, budgetsAround(cuts), 'synthetic');
});

test('regions: a fault, an out-of-bounds LD_ABS and the verified tier in a later region', () => {
  const pad = (n: number): Insn[] => Array.from({ length: n }, (_, i) => makeInsn(0x07, 0, 0, 0, i)); // r0 += i
  // r1 = 0x10 (no region there); ... 3,000 insns ...; r0 = *(u64 *)(r1 + 0)
  const fault = [makeInsn(0xb7, 1, 0, 0, 0x10), ...pad(3000), makeInsn(0x79, 0, 1, 0), makeInsn(0x95)];
  assert.ok(cutsOf(fault).length > 0);
  sameRuns(fault, [{ budget: 1_000_000 }, { budget: 2999 }], 'fault');
  // r6 = r1; ... 3,000 insns ...; r0 = packet[40] (out of the packet: r0 = 0, the run ends); r0 += 7
  const ldAbs = [makeInsn(0xbf, 6, 1), ...pad(3000), makeInsn(0x30, 0, 0, 0, 40), makeInsn(0x07, 0, 0, 0, 7), makeInsn(0x95)];
  assert.ok(cutsOf(ldAbs).length > 0);
  const vm = new Vm();
  const pkt = vm.space.alloc(64, 'packet');
  new Uint8Array(vm.space.memory.buffer, pkt.addr, 64).fill(0x5a);
  for (const len of [64, 41, 40, 0]) {
    const options: RunOptions = { packet: { addr: pkt.addr, len }, budget: 1_000_000 };
    assert.deepEqual(attempt(() => runJit(vm, ldAbs, options)), attempt(() => interpret(vm, ldAbs, options)), `LD_ABS, packet ${len}`);
  }
  // the verified tier: no budget charged, a zero budget still stops before the first instruction
  const verified = syntheticProgram(6000, 3);
  markVerified(verified, { unchecked: new Uint8Array(verified.length), stackDepth: 512 });
  assert.ok(compileJit(new Vm(), verified).functions >= 4);
  const v = new Vm();
  const want = interpret(new Vm(), verified, { budget: 1_000_000 });
  assert.deepEqual(runJit(v, verified, { budget: 1_000_000 }).r0, want.r0);
  assert.equal(attempt(() => runJit(v, verified, { budget: 0 })).ok, false);
});

test('regions: none where a jump spans the program or r10 is written; random programs run as on the interpreter', () => {
  const loop = syntheticProgram(5000);
  loop.splice(loop.length - 1, 0, makeInsn(0x55, 0, 0, -(loop.length - 5), 12345)); // if r0 != 12345 goto the top
  assert.deepEqual(cutsOf(loop), []);
  const r10 = syntheticProgram(5000);
  r10.splice(4000, 0, makeInsn(0x07, 10, 0, 0, 0)); // r10 += 0
  assert.deepEqual(cutsOf(r10), []);
  sameRuns(loop, [{ budget: 20_000 }], 'loop');
  const rand = rng(0x2e610);
  let cut = 0;
  for (let n = 0; n < 12; n++) {
    const insns = generate(rand, 1200 + Math.floor(rand() * 1500));
    if (cutsOf(insns).length > 0) cut++;
    sameRuns(insns, [{ budget: 0 }, { budget: 1500 }, { budget: 2500 }, { budget: 1_000_000 }], `random program ${n}`);
  }
  assert.ok(cut >= 6, `${cut} of 12 random programs split into regions`);
});

test('regions: where functions compile in parallel, a mid-sized program is cut once near its middle', () => {
  const mid = syntheticProgram(1500);
  assert.deepEqual(cutsOf(mid), [], 'one function when V8 compiles lazily');
  const cuts = cutsOf(mid, true);
  assert.equal(cuts.length, 1, `cuts at ${cuts.join(', ')}`);
  assert.ok(cuts[0] >= Math.floor(mid.length * 0.45) && cuts[0] <= mid.length * 0.6, `cut at ${cuts[0]} of ${mid.length}`);
  assert.deepEqual(cutsOf(syntheticProgram(PARALLEL_SLOTS - 10), true), [], 'below PARALLEL_SLOTS: one function');
  // the large program is cut as before: REGION_SLOTS at least between cuts
  assert.deepEqual(cutsOf(syntheticProgram(10_000), true), cutsOf(syntheticProgram(10_000)));
  // the JIT cuts as the host compiles (Node: eagerly, in parallel; wasm_compile.ts)
  assert.equal(compileJit(new Vm(), mid).functions, eagerCompilation() ? 1 : 0);
  sameRuns(mid, budgetsAround(cuts), 'mid-sized');
});

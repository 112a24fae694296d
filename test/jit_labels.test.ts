/*
 * Where the JIT opens its wasm labels (emit_cfg.ts, findLabels()): each forward-jump target's
 * `block` opens at its first source, or earlier where labels would otherwise cross, so the labels
 * open at once (V8's control stack, which costs a compile fresh memory per entry) are as many as
 * the jumps overlap, not as the function has targets. Checked here: that depth on shapes whose
 * answer is known, and the programs' results, counts and errors against the interpreter, on
 * crafted shapes and on random programs full of long, crossing and backward jumps.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type Insn, makeInsn, makeLdImm64 } from '../src/isa/insn.js';
import { decodeForInterpreter } from '../src/vm/decode.js';
import { MAY_GOTO_BUDGET, interpret } from '../src/vm/interpreter.js';
import { compileModule } from '../src/vm/jit/compile.js';
import { runJit } from '../src/vm/jit/index.js';
import { Vm } from '../src/vm/vm.js';
import { attempt } from './jit_lib.js';
import { syntheticProgram } from './jit_synthetic_lib.js';
import { rng } from './vm_random_lib.js';

const EXIT = makeInsn(0x95);

function labelDepth(insns: readonly Insn[]): number {
  return compileModule(decodeForInterpreter(insns), 0, { shared: false, maxPages: 16 }, MAY_GOTO_BUDGET).labelDepth;
}

/** The interpreter's and the JIT's outcomes (r0, count, or the error) under each budget. */
function sameRuns(insns: readonly Insn[], budgets: readonly number[], what: string): void {
  const a = new Vm();
  const b = new Vm();
  for (const budget of budgets) {
    const want = attempt(() => interpret(a, insns, { budget }));
    const got = attempt(() => runJit(b, insns, { budget }));
    assert.deepEqual(got, want, `${what}, budget ${budget}`);
  }
}

/** r0 = 0, then for each [from, to): at insn `from` (a unit of `r0 += i`), `if r0 != 1000+i goto to`. */
function jumps(pairs: readonly (readonly [number, number])[], units: number): Insn[] {
  const out: Insn[] = [makeInsn(0xb7, 0, 0, 0, 0)];
  const at: number[] = [];
  for (let i = 0; i < units; i++) {
    at.push(out.length);
    out.push(makeInsn(0x07, 0, 0, 0, i + 1)); // r0 += i + 1 (a unit's first insn: the target of jumps to it)
    for (const [from] of pairs) if (from === i) out.push(makeInsn(0x55, 0, 0, 0, 1000 + i)); // (offset patched below)
  }
  at.push(out.length);
  out.push(EXIT);
  for (const [from, to] of pairs) {
    const s = out.findIndex((x, k) => k > at[from] && k < at[from + 1] && x.code === 0x55 && x.imm === 1000 + from && x.off === 0);
    out[s] = makeInsn(0x55, 0, 0, at[to] - s - 1, 1000 + from);
  }
  return out;
}

test('labels: disjoint forward jumps keep one label open, nested ones as many as they nest, crossing ones all', () => {
  const n = 40;
  const disjoint = jumps(Array.from({ length: n }, (_, i) => [3 * i, 3 * i + 2] as const), 3 * n + 1);
  assert.equal(labelDepth(disjoint), 1);
  const nested = jumps(Array.from({ length: n }, (_, i) => [i, 2 * n - i] as const), 2 * n + 1);
  assert.equal(labelDepth(nested), n - 1); // (the innermost skips one ALU insn: selects, no label; see emit_jump.ts, selectable())
  // [i, i + n) overlap their successors: each label must enclose the one before it
  const crossing = jumps(Array.from({ length: n }, (_, i) => [i, i + n] as const), 2 * n + 1);
  assert.equal(labelDepth(crossing), n);
  for (const [what, insns] of [['disjoint', disjoint], ['nested', nested], ['crossing', crossing]] as const) {
    sameRuns(insns, [0, 1, 7, 1000], what);
  }
});

test('labels: a long program of short forward branches compiles with a shallow control stack', () => {
  // (the bench's synthetic program: a `jne +2` every 7 insns; all 1,428 labels open at the top before)
  const insns = syntheticProgram(10_000);
  assert.ok(labelDepth(insns) <= 2, `label depth ${labelDepth(insns)}`);
  sameRuns(insns, [5000, 1_000_000], 'synthetic');
});

/**
 * A random program of units (an ALU op, a stack store and load, an ld_imm64, or a jump: forward
 * anywhere up to the exit, or backward), jump targets always a unit's first slot.
 */
function randomJumps(rand: () => number, units: number): Insn[] {
  const reg = (): number => Math.floor(rand() * 10);
  const body: Insn[][] = [];
  const targets: number[] = [];
  for (let u = 0; u < units; u++) {
    const roll = rand();
    const d = reg();
    if (roll < 0.3) body.push([makeInsn(rand() < 0.5 ? 0x0f : 0xaf, d, reg()), makeInsn(0x27, d, 0, 0, 0x1000193)]);
    else if (roll < 0.4) body.push([makeInsn(0x7b, 10, d, -8 * (1 + (u % 8))), makeInsn(0x79, reg(), 10, -8 * (1 + ((u * 3) % 8)))]);
    else if (roll < 0.45) body.push(makeLdImm64(d, BigInt(u) * 0x9e3779b97f4a7c15n & 0xffffffffffffffffn));
    else {
      // forward far or near, sometimes backward (loops end by the budget, in both engines alike)
      const back = rand() < 0.1;
      const to = back ? Math.floor(rand() * (u + 1)) : u + 1 + Math.floor(rand() * (rand() < 0.5 ? 4 : units - u));
      targets[u] = to;
      body.push([rand() < 0.2 ? makeInsn(0x05) : makeInsn(rand() < 0.5 ? 0x5d : 0x2e, d, reg())]);
    }
  }
  const insns: Insn[] = [];
  for (let r = 0; r < 10; r++) insns.push(makeInsn(0xb7, r, 0, 0, r * 3 + 1));
  const at: number[] = [];
  for (const unit of body) { at.push(insns.length); insns.push(...unit); }
  at.push(insns.length);
  insns.push(EXIT);
  for (let u = 0; u < units; u++) {
    if (targets[u] === undefined) continue;
    const s = at[u];
    insns[s] = { ...insns[s], off: at[Math.min(targets[u], units)] - s - 1 };
  }
  return insns;
}

test('labels: random programs of long, crossing and backward jumps run as on the interpreter', () => {
  const rand = rng(0x1abe15);
  let deepest = 0;
  for (let n = 0; n < 150; n++) {
    const insns = randomJumps(rand, 5 + Math.floor(rand() * 120));
    deepest = Math.max(deepest, labelDepth(insns));
    sameRuns(insns, [0, 3, 50, 4000], `program ${n}`);
  }
  assert.ok(deepest > 3, `the programs' jumps overlap (deepest ${deepest} labels open at once)`);
});

/*
 * Conditional jumps over a few register-only instructions, compiled without a branch (emit_jump.ts,
 * selectable(): the skipped block runs as selects, its budget charged only when it ran). Checked
 * here: that such a jump gets no label (it is really selected), and on random programs full of
 * them (every ALU form, div/mod by zero, ld_imm64, stores into the frame around them, jumps into
 * a skipped block from elsewhere) the JIT's results, counts, errors and memory against the
 * interpreter's under every budget, in both tiers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type Insn, makeInsn, makeLdImm64 } from '../src/isa/insn.js';
import { decodeForInterpreter } from '../src/vm/decode.js';
import { MAY_GOTO_BUDGET, interpret } from '../src/vm/interpreter.js';
import { compileModule } from '../src/vm/jit/compile.js';
import { markVerified, runJit } from '../src/vm/jit/index.js';
import { Vm } from '../src/vm/vm.js';
import { attempt, memoryDiff } from './jit_lib.js';
import { rng } from './vm_random_lib.js';

const EXIT = makeInsn(0x95);

function labelDepth(insns: readonly Insn[]): number {
  return compileModule(decodeForInterpreter(insns), 0, { shared: false, maxPages: 16 }, MAY_GOTO_BUDGET).labelDepth;
}

/** The interpreter's and the JIT's outcomes and memories under each budget. */
function sameRuns(insns: readonly Insn[], budgets: Iterable<number>, what: string): void {
  for (const budget of budgets) {
    const a = new Vm();
    const b = new Vm();
    const want = attempt(() => interpret(a, insns, { budget }));
    const got = attempt(() => runJit(b, insns, { budget }));
    assert.deepEqual(got, want, `${what}, budget ${budget}`);
    const diff = memoryDiff(a, b);
    if (diff !== undefined) assert.fail(`${what}, budget ${budget}: ${diff}`);
  }
}

test('selected jumps: a jump over a few ALU instructions needs no label, one over a store or a longer run does', () => {
  // inside a longer jump's label: 1 label open at most when the inner jump has none, else 2
  const alu = makeInsn(0x07, 0, 0, 0, 5);
  const over = (body: Insn[], into = false): Insn[] => {
    const inner = [makeInsn(0x55, 0, 0, body.length, 2), ...body];
    const head = into ? [makeInsn(0x15, 0, 0, 1, 3)] : []; // (to the skipped run's start)
    return [makeInsn(0xb7, 0, 0, 0, 1), makeInsn(0x15, 0, 0, head.length + inner.length + 1, 7), ...head, ...inner, alu, EXIT];
  };
  assert.equal(labelDepth(over([alu])), 1);
  assert.equal(labelDepth(over([alu, alu, alu, alu])), 1);
  assert.equal(labelDepth(over([alu, alu, alu, alu, alu])), 2); // (more than SELECT_MAX)
  assert.equal(labelDepth(over([makeInsn(0x7b, 10, 0, -8)])), 2); // a store is no register-only instruction
  assert.equal(labelDepth(over([alu], true)), 3); // a run something else jumps to runs as usual: the jump over it has its label too
  for (const r0 of [1, 2]) {
    const p = over([alu, makeInsn(0x27, 0, 0, 0, 3)]);
    p[0] = makeInsn(0xb7, 0, 0, 0, r0);
    sameRuns(p, [0, 1, 2, 3, 4, 5, 6, 100], `r0 = ${r0}`);
  }
});

/** An instruction with a register (X) or an immediate (K) source: the other field 0, as the decoder requires. */
function form(op: number, d: number, s: number, off: number, k: number): Insn {
  return (op & 8) !== 0 ? makeInsn(op, d, s, off, 0) : makeInsn(op, d, 0, off, k);
}

/** A random register-only instruction (one or two slots) writing r0..r9. */
function registerOnly(next: () => number): Insn[] {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)];
  const d = Math.floor(next() * 10);
  const s = Math.floor(next() * 10);
  const k = pick([0, 1, -1, 3, 7, 31, 0x7fffffff, -0x80000000, Math.floor(next() * 1000) - 500]);
  const kind = next();
  if (kind < 0.08) return makeLdImm64(d, BigInt.asIntN(64, BigInt(Math.floor(next() * 2 ** 32)) << 31n));
  if (kind < 0.14) return [makeInsn(pick([0xd4, 0xdc, 0xd7]), d, 0, 0, pick([16, 32, 64]))]; // (0x08 here: big-endian)
  if (kind < 0.2) return [makeInsn(pick([0x87, 0x84]), d)];
  if (kind < 0.28) { const op = pick([0xbf, 0xbc]); return [makeInsn(op, d, s, next() < 0.5 ? 0 : pick(op === 0xbf ? [8, 16, 32] : [8, 16]))]; } // mov, movsx (register)
  if (kind < 0.5) return [form(pick([0x3f, 0x9f, 0x3c, 0x9c, 0x37, 0x97, 0x34, 0x94]), d, s, next() < 0.5 ? 1 : 0, k)]; // div/mod, signed or not, by a register (maybe 0) or an immediate
  if (kind < 0.62) return [makeInsn(pick([0x67, 0x77, 0xc7, 0x64, 0x74, 0xc4]), d, 0, 0, Math.floor(next() * 32))];
  const op = pick([0x00, 0x10, 0x20, 0x40, 0x50, 0x60, 0x70, 0xa0, 0xb0, 0xc0]) | pick([0x07, 0x0f, 0x04, 0x0c]);
  const shift = (op & 8) === 0 && ((op & 0xf0) === 0x60 || (op & 0xf0) === 0x70 || (op & 0xf0) === 0xc0);
  return [form(op, d, s, 0, shift ? 5 : k)];
}

/**
 * r0..r9 set, then units of: a few register-only instructions, maybe a store into the frame and a
 * load back, a conditional jump over 1..5 register-only instructions (sometimes one more jump
 * into that run); r0 = the xor of all registers and the frame word at exit.
 */
function randomProgram(seed: number): Insn[] {
  const next = rng(seed);
  const out: Insn[] = [];
  for (let r = 0; r <= 9; r++) out.push(makeInsn(0xb7, r, 0, 0, Math.floor(next() * 7) - 3));
  const units = 4 + Math.floor(next() * 6);
  for (let u = 0; u < units; u++) {
    for (let n = Math.floor(next() * 3); n > 0; n--) out.push(...registerOnly(next));
    if (next() < 0.4) { out.push(makeInsn(0x7b, 10, Math.floor(next() * 10), -8)); out.push(makeInsn(0x79, Math.floor(next() * 10), 10, -16)); }
    const body: Insn[] = [];
    for (let n = 1 + Math.floor(next() * 5); n > 0; n--) body.push(...registerOnly(next));
    const jop = [0x10, 0x50, 0x20, 0x30, 0xa0, 0xb0, 0x60, 0x70, 0xc0, 0xd0, 0x40][Math.floor(next() * 11)] | (next() < 0.5 ? 5 : 6) | (next() < 0.5 ? 8 : 0);
    const d = Math.floor(next() * 10);
    const s = Math.floor(next() * 10);
    const k = Math.floor(next() * 7) - 3;
    if (next() < 0.15) out.push(makeInsn(0x15, d, 0, 1, k)); // to the start of the run the next jump skips
    out.push(form(jop, d, s, body.length, k));
    out.push(...body);
  }
  out.push(makeInsn(0x7b, 10, 1, -16));
  for (let r = 1; r <= 9; r++) out.push(makeInsn(0xaf, 0, r));
  out.push(makeInsn(0x79, 1, 10, -8));
  out.push(makeInsn(0xaf, 0, 1));
  out.push(EXIT);
  return out;
}

test('selected jumps: random programs, every budget, both tiers, as the interpreter', () => {
  for (let seed = 1; seed <= 150; seed++) {
    const insns = randomProgram(seed);
    const budgets = new Set([1000]);
    for (let b = 0; b <= insns.length + 2; b++) budgets.add(b);
    sameRuns(insns, budgets, `seed ${seed}`);
    const verified = insns.map((x) => ({ ...x }));
    markVerified(verified, { unchecked: new Uint8Array(verified.length).fill(1), stackDepth: 512 });
    const want = interpret(new Vm(), insns, { budget: 1000 }).r0;
    assert.equal(runJit(new Vm(), verified, { budget: 1000 }).r0, want, `seed ${seed}, verified tier (which counts no instructions)`);
  }
});

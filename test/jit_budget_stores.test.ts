/*
 * The checked tier's budget around stores into the frame (compile.ts, guardedFrame()): such a
 * store cannot fault, so it does not end a budget segment; the segment's overdraft check comes
 * before its last instruction and each store before that goes ahead only if the budget covered
 * it. These tests run programs under every budget from 0 up, on the JIT and the interpreter:
 * the same r0, count, error (naming the same instruction) and bytes in every region.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type Insn, makeInsn } from '../src/isa/insn.js';
import { interpret } from '../src/vm/interpreter.js';
import { runJit } from '../src/vm/jit/index.js';
import type { RunOptions } from '../src/vm/types.js';
import { Vm } from '../src/vm/vm.js';
import { rng } from './vm_random_lib.js';
import { attempt, memoryDiff } from './jit_lib.js';

/** Run under budgets 0..max on both engines; returns how many runs ended in a budget error. */
function everyBudget(insns: readonly Insn[], max: number, what: string): number {
  const a = new Vm();
  const b = new Vm();
  let errors = 0;
  for (let budget = 0; budget <= max; budget++) {
    const options: RunOptions = { budget };
    const want = attempt(() => interpret(a, insns, options));
    const got = attempt(() => runJit(b, insns, options));
    assert.deepEqual(got, want, `${what}, budget ${budget}`);
    const diff = memoryDiff(a, b);
    if (diff !== undefined) assert.fail(`${what}, budget ${budget}: ${diff}`);
    if (!want.ok) errors++;
  }
  return errors;
}

test('stores into the frame under every budget: the stores run before the budget ends, none after', () => {
  // r1 = 1; *(u64 *)(r10 - 8) = r1; r1 = 2; *(u32 *)(r10 - 16) = 2; ...; r0 = the sum read back
  const insns: Insn[] = [];
  for (let k = 1; k <= 6; k++) {
    insns.push(makeInsn(0xb7, 1, 0, 0, k));
    insns.push(k % 2 === 1 ? makeInsn(0x7b, 10, 1, -8 * k) : makeInsn(0x62, 10, 0, -8 * k, 0x100 * k));
  }
  insns.push(makeInsn(0xb7, 0, 0, 0, 0));
  for (let k = 1; k <= 6; k++) insns.push(makeInsn(0x79, 2, 10, -8 * k), makeInsn(0x0f, 0, 2));
  insns.push(makeInsn(0x95));
  const errors = everyBudget(insns, insns.length + 1, 'straight-line stores');
  assert.equal(errors, insns.length, 'every budget below the length fails');
  // after a budget error the frame holds the stores the budget covered (store k is insn 2k - 1)
  const vm = new Vm();
  for (let budget = 0; budget <= 12; budget++) {
    assert.throws(() => runJit(vm, insns, { budget }), /instruction budget of \d+ exceeded/);
    const frame = vm.space.list().find((r) => r.name === 'stack');
    assert.ok(frame !== undefined, 'frame 0');
    const bytes = vm.space.bytes(frame);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let k = 1; k <= 6; k++) {
      const want = budget >= 2 * k ? (k % 2 === 1 ? k : 0x100 * k) : 0;
      assert.equal(k % 2 === 1 ? Number(view.getBigUint64(512 - 8 * k, true)) : view.getUint32(512 - 8 * k, true), want, `budget ${budget}, store ${k}`);
    }
  }
});

test('random blocks of ALU, frame stores and loads, forward jumps and a loop, under every budget: JIT == interpreter', () => {
  const rand = rng(0x5707e);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  let errors = 0;
  let runs = 0;
  for (let n = 0; n < 40; n++) {
    const insns: Insn[] = [makeInsn(0xb7, 1, 0, 0, 1 + Math.floor(rand() * 4))]; // r1: the trip count
    for (const r of [0, 2, 3]) insns.push(makeInsn(0xb7, r, 0, 0, Math.floor(rand() * 1000)));
    const loop = insns.length;
    insns.push(makeInsn(0x07, 1, 0, 0, -1)); // (first: a jump in the body may skip the body's last insn)
    for (let k = 4 + Math.floor(rand() * 14); k > 0; k--) {
      const off = -8 * (1 + Math.floor(rand() * 8)) + pick([0, 0, 4, 6, 7]);
      const size = pick([0x18, 0x00, 0x08, 0x10]); // BPF_DW, W, H, B
      const bytes = { 0x18: 8, 0x00: 4, 0x08: 2, 0x10: 1 }[size]!;
      const at = Math.max(-512, Math.min(-bytes, off));
      switch (Math.floor(rand() * 6)) {
        case 0: insns.push(makeInsn(0x63 | size, 10, pick([0, 2, 3]), at)); break; // stx
        case 1: insns.push(makeInsn(0x62 | size, 10, 0, at, Math.floor(rand() * 0x10000) - 0x8000)); break; // st
        case 2: insns.push(makeInsn(0x61 | size, pick([0, 2, 3]), 10, at)); break; // ldx
        case 3: insns.push(makeInsn(0x55, pick([0, 2, 3]), 0, 1, Math.floor(rand() * 4))); break; // if r != k skip one
        default: insns.push(makeInsn(pick([0x0f, 0xaf, 0x2f, 0x1f]), pick([0, 2, 3]), pick([0, 1, 2, 3]))); break;
      }
    }
    insns.push(makeInsn(0x55, 1, 0, loop - insns.length - 1, 0)); // if r1 != 0 goto loop
    insns.push(makeInsn(0x79, 2, 10, -8), makeInsn(0x0f, 0, 2), makeInsn(0x95));
    // the budget the whole run needs, then every budget up to it
    const full = interpret(new Vm(), insns, { budget: 100_000 });
    errors += everyBudget(insns, full.insnCount + 1, `program ${n}: ${insns.map((x) => x.code.toString(16)).join(' ')}`);
    runs += full.insnCount + 2;
  }
  assert.ok(errors > runs / 2, `${errors} budget errors in ${runs} runs`);
});

test('random programs with a subprogram, frame stores and register-only loops, under every budget: JIT == interpreter', () => {
  const rand = rng(0xb0d6e7);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  /** Straight-line code: ALU, stores into the frame and loads from it, a forward skip. */
  const straight = (out: Insn[], n: number): void => {
    for (let k = n; k > 0; k--) {
      switch (Math.floor(rand() * 5)) {
        case 0: out.push(makeInsn(0x7b, 10, pick([0, 2, 3]), -8 * (1 + Math.floor(rand() * 6)))); break;
        case 1: out.push(makeInsn(0x62, 10, 0, -4 * (1 + Math.floor(rand() * 12)), Math.floor(rand() * 100))); break;
        case 2: out.push(makeInsn(0x79, pick([2, 3]), 10, -8 * (1 + Math.floor(rand() * 6)))); break;
        case 3: // skip one (not past the end)
          out.push(k > 1 ? makeInsn(0x55, pick([0, 2, 3]), 0, 1, Math.floor(rand() * 3)) : makeInsn(0x07, 2, 0, 0, 1));
          break;
        default: out.push(makeInsn(pick([0x0f, 0xaf, 0x2f]), pick([0, 2, 3]), pick([0, 2, 3]))); break;
      }
    }
  };
  let errors = 0;
  for (let n = 0; n < 25; n++) {
    const main: Insn[] = [makeInsn(0xb7, 0, 0, 0, 1), makeInsn(0xb7, 2, 0, 0, 2), makeInsn(0xb7, 3, 0, 0, 3)];
    straight(main, 2 + Math.floor(rand() * 6));
    const call = main.length;
    main.push(makeInsn(0x85, 0, 1, 0, 0)); // call sub (offset fixed below)
    main.push(makeInsn(0xbf, 2, 0));
    straight(main, 1 + Math.floor(rand() * 5));
    main.push(makeInsn(0x95));
    // sub: stores and ALU, then a register-only self-loop (r4 counts to 3..6), more code, exit
    const sub: Insn[] = [makeInsn(0xb7, 0, 0, 0, 5), makeInsn(0xb7, 4, 0, 0, 0)];
    straight(sub, 1 + Math.floor(rand() * 4));
    const loop = sub.length;
    sub.push(makeInsn(0x07, 4, 0, 0, 1), makeInsn(0xaf, 0, 4));
    sub.push(makeInsn(0xa5, 4, 0, loop - sub.length - 1, 3 + Math.floor(rand() * 4))); // if r4 < k goto loop
    straight(sub, 1 + Math.floor(rand() * 3));
    sub.push(makeInsn(0x95));
    main[call] = makeInsn(0x85, 0, 1, 0, main.length - call - 1);
    const insns = [...main, ...sub];
    const full = interpret(new Vm(), insns, { budget: 100_000 });
    errors += everyBudget(insns, full.insnCount + 1, `program ${n}: ${insns.map((x) => x.code.toString(16)).join(' ')}`);
  }
  assert.ok(errors > 100, `${errors} budget errors`);
});

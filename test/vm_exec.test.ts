/*
 * Execution: the steppable form of the interpreter (what the debugger drives). Stepping must give
 * the same results as interpret(), expose pc/registers/call depth between steps, honour the
 * budget, and stay failed after an error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BpfError } from '../src/errors.js';
import { BPF_JLT } from '../src/isa/opcodes.js';
import { Execution, interpret } from '../src/vm/interpreter.js';
import { Vm } from '../src/vm/vm.js';
import { R0, R1, R6, alu64K, callLocal, exit, ja, jmpK, lddw, ldx, mov64, mov64X, prog } from './vm_build.js';

const loop = prog(mov64(R0, 0), alu64K(0x00, R0, 3), jmpK(BPF_JLT, R0, 30, -2), exit());

test('exec: single steps walk the program and agree with interpret()', () => {
  const vm = new Vm();
  const ex = new Execution(vm, loop);
  assert.equal(ex.pc, 0);
  assert.equal(ex.step(), undefined);
  assert.equal(ex.pc, 1);
  assert.equal(ex.reg(R0), 0n);
  ex.step();
  assert.equal(ex.reg(R0), 3n);
  assert.equal(ex.pc, 2);
  ex.step();
  assert.equal(ex.pc, 1, 'the backward jump was taken');
  let result;
  let guard = 0;
  while ((result = ex.step()) === undefined) assert.ok(++guard < 100);
  assert.deepEqual(result, interpret(vm, loop));
  assert.equal(ex.result, result);
  assert.equal(ex.insnCount, result.insnCount);
  assert.equal(ex.pc, 3, 'pc stays on the exit');
  assert.equal(ex.step(), result, 'stepping a finished run returns its result');
  ex.dispose();
});

test('exec: step(n) runs n instructions at a time; run() finishes', () => {
  const ex = new Execution(new Vm(), loop);
  assert.equal(ex.step(5), undefined);
  assert.equal(ex.insnCount, 5);
  assert.equal(ex.run().r0, 30n);
  assert.equal(ex.insnCount, 1 + 10 * 2 + 1);
});

test('exec: call depth and registers are visible inside a subprogram; setReg changes the run', () => {
  const insns = prog(mov64(R6, 4), callLocal(1), exit(), mov64X(R0, R6), alu64K(0x00, R0, 1), exit());
  const ex = new Execution(new Vm(), insns);
  ex.step(2);
  assert.equal(ex.pc, 3);
  assert.equal(ex.callDepth, 1);
  ex.step();
  ex.setReg(R0, 100n);
  ex.step(); // add
  ex.step(); // exit from the subprogram
  assert.equal(ex.callDepth, 0);
  assert.equal(ex.run().r0, 101n);
});

test('exec: the budget applies across steps', () => {
  const ex = new Execution(new Vm(), prog(ja(-1), exit()), { budget: 10 });
  assert.equal(ex.step(10), undefined);
  assert.throws(() => ex.step(), { message: 'instruction budget of 10 exceeded (insn #0)' });
});

test('exec: after a fault every step throws the same error', () => {
  const ex = new Execution(new Vm(), prog(mov64(R1, 0), ldx(8, R0, R1, 0), exit()));
  ex.step();
  let first: unknown;
  assert.throws(() => ex.step(), (e: unknown) => {
    first = e;
    return e instanceof BpfError && e.code === 'EFAULT';
  });
  assert.throws(() => ex.step(), (e: unknown) => e === first);
  assert.throws(() => ex.run(), (e: unknown) => e === first);
});

test('exec: an Execution and interpret() on the same Vm do not share registers or stacks', () => {
  const vm = new Vm();
  const ex = new Execution(vm, prog(lddw(R0, 5n), exit()));
  ex.step();
  assert.equal(interpret(vm, prog(mov64(R0, 9), exit())).r0, 9n);
  assert.equal(ex.reg(R0), 5n);
  assert.equal(ex.run().r0, 5n);
  ex.dispose();
});

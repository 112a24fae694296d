/*
 * What each JIT module carries, which V8 pays for per module (issue #8's fixed cost): functions
 * (each validated, given a jump-table slot and compiled at its first call), defined globals and
 * exports. A module has ftop only when some function runs at a depth other than 0, host() and
 * helper() functions only where many sites call them (else the sites call through the table),
 * and no globals for the tail-call registers, which go through memory no program can
 * reach: after runs with tail calls, even a failed one, the VM's memory is the interpreter's byte
 * for byte.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BpfError } from '../src/errors.js';
import type { Insn } from '../src/isa/insn.js';
import { decodeForInterpreter } from '../src/vm/decode.js';
import { HelperRegistry } from '../src/vm/helpers.js';
import { interpret } from '../src/vm/interpreter.js';
import { compileJit, markVerified, runJit } from '../src/vm/jit/index.js';
import { compileModule } from '../src/vm/jit/compile.js';
import type { HelperCallContext, RunOptions, RunResult } from '../src/vm/types.js';
import { Vm } from '../src/vm/vm.js';
import { R0, R1, R2, R3, R6, R10, alu64K, alu64X, call, callLocal, exit, ldx, mov64, mov64X, prog, st, stx } from './vm_build.js';

/** Unsigned LEB128 at `at`: [value, next offset]. */
function leb(b: Uint8Array, at: number): [number, number] {
  let v = 0;
  let shift = 0;
  for (;;) {
    const x = b[at++];
    v += (x & 0x7f) * 2 ** shift;
    shift += 7;
    if ((x & 0x80) === 0) return [v, at];
  }
}

/** Declared functions and defined globals of a wasm module (the function and global sections' counts). */
function shape(bytes: Uint8Array): { functions: number; globals: number } {
  const out = { functions: 0, globals: 0 };
  for (let at = 8; at < bytes.length;) {
    const id = bytes[at];
    const [size, body] = leb(bytes, at + 1);
    if (id === 3) out.functions = leb(bytes, body)[0];
    if (id === 6) out.globals = leb(bytes, body)[0];
    at = body + size;
  }
  return out;
}

function verified(insns: Insn[], unchecked = new Uint8Array(insns.length)): Insn[] {
  markVerified(insns, { unchecked, stackDepth: 512 });
  return insns;
}

function moduleOf(insns: readonly Insn[], verifiedTier?: Uint8Array, fastHelpers?: ReadonlySet<number>): Uint8Array {
  const options = { fastHelpers, ...(verifiedTier === undefined ? {} : { verified: { unchecked: verifiedTier, stackDepth: 512 } }) };
  return compileModule(decodeForInterpreter(insns), 0, { shared: false, maxPages: 4096 }, 8_000_000, options).bytes.slice();
}

test('module shape: run and the program only, unless local calls need ftop or memory checks a host() function', () => {
  const tiny = prog(mov64(R0, 7), exit());
  assert.equal(shape(moduleOf(tiny, new Uint8Array(2))).functions, 2, 'verified: run, main');
  assert.equal(shape(moduleOf(tiny)).functions, 2, 'checked, one site (the budget handler): run, main');
  // a load from the context: checked in the checked tier; proved in the verified one
  const load = prog(ldx(4, R0, R1, 0), exit());
  assert.equal(shape(moduleOf(load, new Uint8Array([1, 0]))).functions, 2);
  const fiveChecks: Insn[] = prog(ldx(4, R0, R1, 0), ldx(4, R0, R1, 4), ldx(4, R0, R1, 8), ldx(4, R0, R1, 12), ldx(4, R0, R1, 16), exit());
  assert.equal(shape(moduleOf(fiveChecks, new Uint8Array(6))).functions, 3, 'verified, 5 memory checks: host() is a function');
  assert.equal(shape(moduleOf(load)).functions, 2, 'checked, a memory check and the budget handler');
  assert.equal(shape(moduleOf(prog(ldx(4, R0, R1, 0), ldx(4, R0, R1, 4), ldx(4, R0, R1, 8), ldx(4, R0, R1, 12), exit()))).functions, 3);
  // a local call: main, the subprogram, ftop (frames by depth), run
  const sub = prog(callLocal(1), exit(), mov64(R0, 3), exit());
  assert.equal(shape(moduleOf(sub, new Uint8Array(4))).functions, 4);
  assert.equal(shape(moduleOf(sub)).functions, 5, 'checked: and host() for the budget handlers');
  // helper calls: through the table up to 4 call sites, a helper() function beyond; a number form
  // adds fastCall (which calls fast() through the table)
  const calls = (n: number): Insn[] => prog(...Array.from({ length: n }, () => call(7)), exit());
  assert.equal(shape(moduleOf(calls(4), new Uint8Array(5))).functions, 2);
  assert.equal(shape(moduleOf(calls(5), new Uint8Array(6))).functions, 3);
  assert.equal(shape(moduleOf(calls(1), new Uint8Array(2), new Set([7]))).functions, 3, 'run, main, fastCall');
  // 12 i32 region/run globals (pAddr not exported), fr, cpu, pb, pl: no tail-call registers
  assert.equal(shape(moduleOf(tiny)).globals, 16);
});

test('module shape: each kind runs as the interpreter, verified or checked, prepared or not', () => {
  const ctxLoads = (): Insn[] => prog(ldx(4, R0, R1, 0), ldx(4, R3, R1, 4), alu64X(0x00, R0, R3), exit());
  const withCall = (): Insn[] => prog(mov64(R6, 5), callLocal(2), alu64X(0x00, R0, R6), exit(), st(8, R10, -8, 11), ldx(8, R0, R10, -8), exit());
  for (const [name, make, tier] of [
    ['tiny verified', () => prog(mov64(R0, 7), exit()), (n: number) => new Uint8Array(n)],
    ['ctx loads verified, proved', ctxLoads, (n: number) => new Uint8Array(n).fill(1)],
    ['ctx loads verified, checked', ctxLoads, (n: number) => new Uint8Array(n)],
    ['local call verified', withCall, (n: number) => new Uint8Array(n).fill(1)],
    ['ctx loads checked', ctxLoads, undefined],
    ['local call checked', withCall, undefined],
  ] as const) {
    for (const prepared of [false, true]) {
      const vm = new Vm();
      const ctx = vm.space.alloc(8, 'ctx');
      new DataView(vm.space.memory.buffer).setUint32(ctx.addr, 40, true);
      new DataView(vm.space.memory.buffer).setUint32(ctx.addr + 4, 2, true);
      const insns = make();
      if (tier !== undefined) markVerified(insns, { unchecked: tier(insns.length), stackDepth: 512 });
      const p = compileJit(vm, insns);
      if (prepared) p.prepare();
      const args = [BigInt(ctx.addr)];
      const want = interpret(vm, insns, { args });
      const got = p.run({ args });
      assert.equal(got.r0, want.r0, `${name}, prepared ${prepared}`);
      if (tier === undefined) assert.equal(got.insnCount, want.insnCount, name); // (the verified tier counts no budget)
      assert.equal(p.runCtx(ctx.addr), Number(want.r0), name);
      assert.equal(p.verified, tier !== undefined, name);
    }
  }
  // a checked access fails as the interpreter's, through the table in the verified tier
  const vm = new Vm();
  const bad = verified(prog(mov64(R1, 16), ldx(4, R0, R1, 0), exit()));
  assert.throws(() => compileJit(vm, bad).prepare().run(), (e: Error) => e instanceof BpfError && e.code === 'EFAULT' && /insn #1/.test(e.message));
});

test('module shape: helper calls through the table or a helper() function, with or without a number form, as the interpreter', () => {
  // r6 accumulates r0 of n calls of helper 7 (r0 = 3 r1 + r2, r1 and r2 changing per call)
  const calls = (n: number): Insn[] => {
    const body: Insn[] = [mov64(R6, 0)];
    for (let i = 0; i < n; i++) body.push(mov64(R1, 10 + i), mov64(R2, i), call(7), alu64X(0x00, R6, R0));
    return prog(...body, mov64X(R0, R6), exit());
  };
  for (const fast of [false, true]) {
    for (const n of [1, 4, 5, 9]) {
      for (const prepared of [false, true]) {
        const vm = new Vm({ helpers: new HelperRegistry() });
        vm.helpers.register(7, 'h7', (_ctx, r1, r2) => 3n * r1 + r2);
        if (fast) vm.helpers.registerFast(7, (_ctx, a1, a2) => 3 * a1 + a2);
        const insns = verified(calls(n));
        const p = compileJit(vm, insns);
        if (prepared) p.prepare();
        const what = `${n} calls, fast form ${fast}, prepared ${prepared}`;
        assert.equal(p.run().r0, interpret(vm, insns).r0, what);
        assert.equal(p.run().r0, BigInt(Array.from({ length: n }, (_, i) => 3 * (10 + i) + i).reduce((s, x) => s + x, 0)), what);
      }
    }
  }
});

const TAIL_CALL = 12;

function tailCallVm(targets: readonly Insn[][]): Vm {
  const helpers = new HelperRegistry();
  helpers.register(TAIL_CALL, 'tail_call', (ctx: HelperCallContext, _r1, _r2, r3) => {
    const target = targets[Number(r3)];
    return target !== undefined && ctx.tailCall?.(target) === true ? 0n : BigInt.asUintN(64, -2n);
  });
  return new Vm({ helpers });
}

type Engine = (vm: Vm, insns: readonly Insn[], options?: RunOptions) => RunResult;

function outcome(engine: Engine, vm: Vm, insns: readonly Insn[]): unknown {
  try {
    return engine(vm, insns);
  } catch (e) {
    if (e instanceof BpfError) return e.code;
    throw e;
  }
}

test('tail calls: all 11 registers reach the target; the memory after the run is the interpreter\'s, byte for byte', () => {
  // r1..r9 distinct, r0 dropped; the target sums them with the frame's word
  const sum = [ldx(8, R0, R10, -8)];
  for (let r = 1; r <= 9; r++) if (r !== 3) sum.push(alu64X(0x00, R0, r));
  const target = prog(...sum, exit());
  const regs = [];
  for (let r = 1; r <= 9; r++) if (r !== 3) regs.push(mov64(r, 1 << (2 * r)));
  const main = prog(st(8, R10, -8, 1), ...regs, mov64(R3, 0), call(TAIL_CALL), mov64(R0, 99), exit());
  // r10 changed: ENOTSUPP on the JIT, after the registers went to memory
  const moved = prog(mov64X(R6, R10), alu64K(0x00, R10, -8), mov64(R3, 0), call(TAIL_CALL), exit());
  const chain = prog(stx(8, R10, -16, R6), mov64(R3, 1), call(TAIL_CALL), exit()); // tail calls `main`, which tail-calls `target`
  const cases: [string, readonly Insn[], readonly Insn[][]][] = [['once', main, [target]], ['twice', chain, [target, main]]];
  for (const [name, insns, targets] of cases) {
    const vms = [tailCallVm(targets), tailCallVm(targets)];
    const r = [outcome(interpret, vms[0], insns), outcome(runJit, vms[1], insns)];
    assert.deepEqual(r[1], r[0], name);
    const mem = vms.map((vm) => new Uint8Array(vm.space.memory.buffer));
    assert.ok(Buffer.compare(mem[0], mem[1]) === 0, `${name}: memory after the run`);
  }
  const want = 1n + [1, 2, 4, 5, 6, 7, 8, 9].reduce((s, r) => s + (1n << BigInt(2 * r)), 0n);
  assert.equal((outcome(runJit, tailCallVm([target]), main) as RunResult).r0, want);
  const vm = tailCallVm([target]);
  assert.equal(outcome(runJit, vm, moved), outcome(runJit, tailCallVm([target]), moved));
  assert.equal(outcome(runJit, vm, moved), 'ENOTSUPP');
  assert.ok(new Uint8Array(vm.space.memory.buffer).every((b, i) => b === 0 || vm.space.regionAt(i) !== undefined), 'no byte outside a region written');
});

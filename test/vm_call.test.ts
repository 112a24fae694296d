/*
 * Calls and program-level behaviour of the reference interpreter: helper calls (arguments as
 * unsigned bigints, result in r0, unknown ids), callx, kfunc refusal, bpf-to-bpf calls (r6-r9
 * preserved, separate stack frames, the 8-frame limit), LD_ABS/LD_IND, the instruction budget,
 * arguments, the entry option and re-entrant runs from a helper.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BpfError } from '../src/errors.js';
import { makeInsn } from '../src/isa/insn.js';
import { BPF_JEQ, BPF_JNE } from '../src/isa/opcodes.js';
import { HelperRegistry } from '../src/vm/helpers.js';
import { interpret } from '../src/vm/interpreter.js';
import { Vm } from '../src/vm/vm.js';
import type { HelperCallContext, HelperFn } from '../src/vm/types.js';
import {
  R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, R10, alu64K, alu64X, call, callLocal, callx, exit, ja, jmpK, lddw, ldx,
  mov64, mov64X, prog, r0, run, stx, u64,
} from './vm_build.js';

function expectError(fn: () => unknown, code: string, message: string | RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof BpfError, String(e));
    assert.equal(e.code, code);
    if (typeof message === 'string') assert.equal(e.message, message);
    else assert.match(e.message, message);
    return true;
  });
}

// ---- helpers ----

test('call: a helper gets r1..r5 as unsigned bigints and its result lands in r0', () => {
  const helpers = new HelperRegistry();
  let seen: bigint[] = [];
  let seenPc = -1;
  helpers.register(7, 'test_helper', (ctx: HelperCallContext, a, b, c, d, e) => {
    seen = [a, b, c, d, e];
    seenPc = ctx.pc;
    return a + b;
  });
  const insns = prog(mov64(R1, -1), lddw(R2, 0x1_00000000n), mov64(R3, 3), mov64(R4, 0x7fffffff), mov64(R5, -0x80000000), call(7), exit());
  assert.equal(r0(insns, { helpers }), 0xffffffffn); // (2^64 - 1) + 2^32, truncated to 64 bits
  assert.deepEqual(seen, [u64(-1n), 0x1_00000000n, 3n, 0x7fffffffn, u64(-0x80000000n)]);
  assert.equal(seenPc, 6);
  assert.equal(helpers.get(7)?.name, 'test_helper');
});

test('call: a helper result is truncated to 64 bits; negative results wrap', () => {
  const helpers = new HelperRegistry();
  helpers.register(1, 'neg', () => -2n);
  helpers.register(2, 'big', () => (1n << 70n) + 5n);
  assert.equal(r0(prog(call(1), exit()), { helpers }), u64(-2n));
  assert.equal(r0(prog(call(2), exit()), { helpers }), 5n);
});

test('call: r1..r5 are left unchanged by a helper call, r6..r9 too', () => {
  const helpers = new HelperRegistry();
  helpers.register(1, 'noop', () => 0n);
  const insns = prog(mov64(R1, 1), mov64(R5, 5), mov64(R6, 6), mov64(R9, 9), call(1),
    mov64X(R0, R1), alu64X(0x00, R0, R5), alu64X(0x00, R0, R6), alu64X(0x00, R0, R9), exit());
  assert.equal(r0(insns, { helpers }), 21n);
});

test('call: an unknown helper id is an error naming it', () => {
  expectError(() => run(prog(mov64(R0, 0), call(99), exit())), 'EINVAL', 'invalid func unknown#99 (insn #1)');
});

test('call: a helper that throws aborts the run with its error', () => {
  const helpers = new HelperRegistry();
  helpers.register(3, 'boom', () => {
    throw new BpfError('EPERM', 'boom');
  });
  expectError(() => run(prog(call(3), exit()), { helpers }), 'EPERM', 'boom');
});

test('call: callx calls the helper whose id is in the register', () => {
  const helpers = new HelperRegistry();
  helpers.register(5, 'unwind', (_ctx, r1v) => r1v);
  assert.equal(r0(prog(mov64(R1, 42), mov64(R2, 5), callx(R2), exit()), { helpers }), 42n);
  expectError(() => run(prog(mov64(R2, 6), callx(R2), exit()), { helpers }), 'EINVAL', 'invalid func unknown#6 (insn #1)');
  expectError(() => run(prog(lddw(R2, 0x1_00000005n), callx(R2), exit()), { helpers }), 'EINVAL', 'invalid func unknown#4294967301 (insn #2)');
});

test('call: kfunc calls are refused when reached', () => {
  expectError(() => run(prog(mov64(R0, 0), makeInsn(0x85, 0, 2, 0, 1234), exit())), 'ENOTSUPP', /^kfunc calls not supported \(insn #1\)/);
});

test('call: a helper can allocate memory (the address space grows) and the program keeps running', () => {
  const vm = new Vm();
  vm.helpers.register(1, 'alloc_big', () => {
    const region = vm.space.alloc(4 << 20, 'big');
    vm.space.write(region.addr + 100, new Uint8Array([0xab]));
    return BigInt(region.addr);
  });
  const insns = prog(lddw(R2, 0x55n), stx(8, R10, -8, R2), call(1), ldx(1, R1, R0, 100), ldx(8, R0, R10, -8), alu64X(0x00, R0, R1), exit());
  assert.equal(interpret(vm, insns).r0, 0x55n + 0xabn);
});

test('call: HelperCallContext carries the vm and the program', () => {
  const vm = new Vm();
  const insns = prog(call(9), exit());
  vm.helpers.register(9, 'ctx', (ctx) => {
    assert.equal(ctx.vm, vm);
    assert.equal(ctx.insns, insns);
    return 1n;
  });
  assert.equal(interpret(vm, insns).r0, 1n);
});

// ---- bpf-to-bpf calls ----

test('call: a local call passes r1..r5, returns r0 and preserves r6..r9', () => {
  const insns = prog(
    mov64(R1, 1), mov64(R2, 2), mov64(R3, 3), mov64(R4, 4), mov64(R5, 5),
    mov64(R6, 6), mov64(R7, 7), mov64(R8, 8), mov64(R9, 9),
    callLocal(7), // -> func at 17
    jmpK(BPF_JNE, R0, 15, 5), jmpK(BPF_JNE, R6, 6, 4), jmpK(BPF_JNE, R7, 7, 3), jmpK(BPF_JNE, R8, 8, 2), jmpK(BPF_JNE, R9, 9, 1),
    exit(), // 15: r0 = 15
    mov64(R0, -1), // 16 (never: exits via 15 or falls... keep layout)
    // func (17): r0 = r1 + ... + r5; clobber r6..r9
    mov64X(R0, R1), alu64X(0x00, R0, R2), alu64X(0x00, R0, R3), alu64X(0x00, R0, R4), alu64X(0x00, R0, R5),
    mov64(R6, 0), mov64(R7, 0), mov64(R8, 0), mov64(R9, 0), exit(),
  );
  assert.equal(insns.length, 27);
  assert.equal(r0(insns), 15n);
});

test('call: each frame has its own 512-byte stack below its own r10', () => {
  const insns = prog(
    lddw(R1, 0x1111n), stx(8, R10, -8, R1), // 0-2: caller's slot
    callLocal(6), // 3: -> callee at 10; r0 = callee's r10, or -1 if its slot was not fresh
    jmpK(BPF_JEQ, R0, -1, 4), // 4
    mov64X(R6, R10), alu64X(0x1f, R6, R0), // 5-6: r6 = caller r10 - callee r10
    ldx(8, R0, R10, -8), // 7: caller's slot intact
    alu64X(0x0f, R0, R6), // 8: r0 = 0x1111 + distance
    exit(), // 9
    // callee (10): its slot -8 starts zeroed, then it writes its own
    ldx(8, R7, R10, -8), lddw(R2, 0x2222n), stx(8, R10, -8, R2), mov64X(R0, R10),
    jmpK(BPF_JEQ, R7, 0, 1), mov64(R0, -1), exit(),
  );
  const distance = r0(insns) - 0x1111n; // wrong if the caller's slot was overwritten
  assert.ok(distance >= 512n && distance < 1n << 20n, `frame distance ${distance}: callee frames lie below the caller's`);
});

test('call: a callee may read and write the caller\'s stack through a pointer', () => {
  const insns = prog(
    mov64X(R1, R10), alu64K(0x00, R1, -8), callLocal(2), ldx(8, R0, R10, -8), exit(),
    // callee (5): *(u64 *)r1 = 99
    lddw(R2, 99n), stx(8, R1, 0, R2), exit(),
  );
  assert.equal(r0(insns), 99n);
});

/** main calls f1, f1 calls f2, ... depth `calls` nested calls; the innermost returns 7. */
function nested(calls: number): ReturnType<typeof prog> {
  const parts = [];
  for (let i = 0; i < calls; i++) parts.push(callLocal(1), exit());
  parts.push(mov64(R0, 7), exit());
  return prog(...parts);
}

test('call: 8 frames (main + 7 nested calls) are allowed; the 9th is refused', () => {
  assert.equal(r0(nested(7)), 7n);
  expectError(() => run(nested(8)), 'E2BIG', 'stack frames exhausted: more than 8 nested calls (insn #14)');
});

test('call: unbounded recursion stops at the frame limit, not the budget', () => {
  expectError(() => run(prog(callLocal(-1), exit())), 'E2BIG', /^stack frames exhausted: more than 8 nested calls \(insn #0\)$/);
});

test('call: a local call out of range is refused', () => {
  expectError(() => run(prog(callLocal(5), exit())), 'EINVAL', /^jump out of range \(insn #0\)/);
});

// ---- LD_ABS / LD_IND ----

function withPacket(bytes: number[]): { vm: Vm; packet: { addr: number; len: number } } {
  const vm = new Vm();
  const region = vm.space.alloc(bytes.length, 'packet');
  vm.space.write(region.addr, new Uint8Array(bytes));
  return { vm, packet: { addr: region.addr, len: bytes.length } };
}
const PKT = [0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff];
const ldAbs = (size: number, imm: number): ReturnType<typeof makeInsn> => makeInsn(0x20 | ({ 4: 0x00, 2: 0x08, 1: 0x10 } as Record<number, number>)[size], 0, 0, 0, imm);
const ldInd = (size: number, src: number, imm: number): ReturnType<typeof makeInsn> => makeInsn(0x40 | ({ 4: 0x00, 2: 0x08, 1: 0x10 } as Record<number, number>)[size], 0, src, 0, imm);

const ldCases: [string, ReturnType<typeof prog>, bigint][] = [
  ['ld_abs b', prog(ldAbs(1, 3), exit()), 0x33n],
  ['ld_abs h big-endian', prog(ldAbs(2, 1), exit()), 0x1122n],
  ['ld_abs w big-endian, zero-extended', prog(ldAbs(4, 12), exit()), 0xccddeeffn],
  ['ld_abs w at the last 4 bytes', prog(ldAbs(4, 12), exit()), 0xccddeeffn],
  ['ld_abs b at len is out of bounds: r0 = 0', prog(mov64(R0, 5), ldAbs(1, 16), mov64(R0, 9), exit()), 0n],
  ['ld_abs w straddling the end', prog(ldAbs(4, 13), mov64(R0, 9), exit()), 0n],
  ['ld_abs negative offset', prog(ldAbs(1, -1), mov64(R0, 9), exit()), 0n],
  ['ld_ind b', prog(mov64(R3, 4), ldInd(1, R3, 2), exit()), 0x66n],
  ['ld_ind h', prog(mov64(R3, 10), ldInd(2, R3, -2), exit()), 0x8899n],
  ['ld_ind w', prog(mov64(R3, 8), ldInd(4, R3, 0), exit()), 0x8899aabbn],
  ['ld_ind uses the low 32 bits of src', prog(lddw(R3, 0x1_00000002n), ldInd(1, R3, 0), exit()), 0x22n],
  ['ld_ind out of bounds', prog(mov64(R3, 15), ldInd(2, R3, 0), mov64(R0, 9), exit()), 0n],
  ['ld_ind negative sum', prog(mov64(R3, -8), ldInd(1, R3, 4), mov64(R0, 9), exit()), 0n],
  ['ld_abs then more code', prog(ldAbs(1, 1), alu64K(0x00, R0, 1), exit()), 0x12n],
];
for (const [name, insns, want] of ldCases) {
  test(`call: ${name}`, () => {
    const { vm, packet } = withPacket(PKT);
    assert.equal(interpret(vm, insns, { packet }).r0, want);
  });
}

test('call: an out-of-bounds LD_ABS in a subprogram ends the whole program with r0 = 0', () => {
  const { vm, packet } = withPacket(PKT);
  const insns = prog(mov64(R0, 1), callLocal(2), mov64(R0, 7), exit(), ldAbs(1, 100), exit());
  assert.equal(interpret(vm, insns, { packet }).r0, 0n);
});

test('call: LD_ABS without a packet, and a packet outside the address space, are errors', () => {
  expectError(() => run(prog(ldAbs(1, 0), exit())), 'EINVAL', /^LD_ABS\/LD_IND without a packet \(insn #0\)/);
  expectError(() => run(prog(mov64(R0, 0), exit()), { packet: { addr: 0x10, len: 4 } }), 'EFAULT', /^interpret: invalid packet: addr 0x10, size 4, no region$/);
});

// ---- budget, arguments, entry, counting ----

test('call: the instruction budget stops an infinite loop with a clear error', () => {
  expectError(() => run(prog(mov64(R0, 0), ja(-1), exit())), 'ELOOP', 'instruction budget of 1000000 exceeded (insn #1)');
  expectError(() => run(prog(mov64(R0, 0), alu64K(0x00, R0, 1), ja(-2), exit()), { budget: 100 }), 'ELOOP', /^instruction budget of 100 exceeded \(insn #[12]\)$/);
});

test('call: a program that needs exactly the budget runs; one more instruction fails', () => {
  const insns = prog(mov64(R0, 1), mov64(R0, 2), exit());
  assert.deepEqual(run(insns, { budget: 3 }).insnCount, 3);
  expectError(() => run(insns, { budget: 2 }), 'ELOOP', 'instruction budget of 2 exceeded (insn #2)');
});

test('call: insnCount counts executed instructions (lddw once)', () => {
  assert.equal(run(prog(lddw(R0, 1n), ja(1), mov64(R0, 2), exit())).insnCount, 3);
});

test('call: args become r1..r5 (64-bit, negative values wrap), the rest start at 0', () => {
  const sum = prog(mov64X(R0, R1), alu64X(0x00, R0, R2), alu64X(0x00, R0, R3), alu64X(0x00, R0, R4), alu64X(0x00, R0, R5), exit());
  assert.equal(r0(sum, { args: [1n, 2n, 3n, 4n, 5n] }), 15n);
  assert.equal(r0(sum, { args: [1n << 63n, 1n << 63n] }), 0n);
  assert.equal(r0(sum, { args: [-1n, 2n] }), 1n);
  assert.equal(r0(prog(mov64X(R0, R1), exit()), { args: [0xffffffff_fffffff0n] }), 0xffffffff_fffffff0n);
  assert.equal(r0(prog(mov64X(R0, R1), exit()), { args: [0x1f_ffffffff_ffffn] }), 0x1f_ffffffff_ffffn);
  assert.equal(r0(prog(mov64X(R0, R6), alu64X(0x00, R0, R9), exit()), { args: [1n, 2n, 3n, 4n, 5n] }), 0n);
});

test('call: entry starts at another slot', () => {
  const insns = prog(mov64(R0, 1), exit(), mov64(R0, 2), exit());
  assert.equal(r0(insns, { entry: 2 }), 2n);
  expectError(() => run(insns, { entry: 4 }), 'EINVAL', 'interpret: entry 4 is outside the program');
});

test('call: a helper may run a subprogram re-entrantly (as bpf_loop does) with its own frames', () => {
  const vm = new Vm();
  // main: r6 = 0; stack slot = 5; call helper 1 (runs callback at slot 8 with r1 = i three times); r0 = r6 + slot
  const insns = prog(
    mov64(R6, 0), lddw(R2, 5n), stx(8, R10, -8, R2), call(1),
    ldx(8, R0, R10, -8), alu64X(0x00, R0, R6), exit(),
    exit(), // 7: unused
    // callback (8): r0 = r1 * 10, scribbles on its own stack
    mov64X(R0, R1), alu64K(0x20, R0, 10), lddw(R3, 77n), stx(8, R10, -8, R3), exit(),
  );
  vm.helpers.register(1, 'loop', (ctx) => {
    let total = 0n;
    for (let i = 1n; i <= 3n; i++) total += interpret(vm, ctx.insns!, { entry: 8, args: [i] }).r0;
    return total;
  });
  // helper returns 60 in r0, but the program returns slot (5) + r6 (0)
  assert.equal(interpret(vm, insns).r0, 5n);
  vm.helpers.register(1, 'loop', (ctx) => interpret(vm, ctx.insns!, { entry: 8, args: [4n] }).r0);
  const insns2 = prog(call(1), mov64X(R6, R0), ldx(8, R0, R10, -8), alu64X(0x00, R0, R6), exit(), exit(), exit(), exit(),
    mov64X(R0, R1), alu64K(0x20, R0, 10), lddw(R3, 77n), stx(8, R10, -8, R3), exit());
  assert.equal(interpret(vm, insns2).r0, 40n);
});

test('call: malformed instructions are refused when reached, naming the insn', () => {
  expectError(() => run(prog(mov64(R0, 0), makeInsn(0xff), exit())), 'EINVAL', 'invalid instruction (insn #1): unknown opcode ff');
  expectError(() => run(prog(makeInsn(0x07, 0, 0, 1, 1), exit())), 'EINVAL', 'invalid instruction (insn #0): BPF_ALU uses reserved fields');
  expectError(() => run(prog(makeInsn(0xb7, 11, 0, 0, 1), exit())), 'EINVAL', 'invalid instruction (insn #0): R11 is invalid');
  // not reached: fine
  assert.equal(r0(prog(mov64(R0, 3), exit(), makeInsn(0xff))), 3n);
});

test('call: a program with R8/R7 untouched across many runs on one Vm stays deterministic', () => {
  const vm = new Vm();
  const insns = prog(mov64X(R0, R7), alu64X(0x00, R0, R8), alu64K(0x00, R7, 1), exit());
  for (let i = 0; i < 3; i++) assert.equal(interpret(vm, insns).r0, 0n);
});

// ---- tail calls ----

test('call: a helper can tail-call another program: same registers and stack, no return', () => {
  const vm = new Vm();
  const target = prog(ldx(8, R0, R10, -8), alu64X(0x00, R0, R1), exit()); // r0 = slot + r1
  vm.helpers.register(12, 'tail_call', (ctx) => (ctx.tailCall?.(target) ? 0n : u64(-2n)));
  const main = prog(lddw(R2, 40n), stx(8, R10, -8, R2), mov64(R1, 2), call(12), mov64(R0, 99), exit());
  const result = interpret(vm, main);
  assert.equal(result.r0, 42n);
  assert.equal(result.insnCount, 4 + 3); // lddw (counted once), stx, mov, call + 3 in the target
});

test('call: tail calls stop after 33; the failing call returns to the caller', () => {
  const vm = new Vm();
  // the program tail-calls itself, counting in a stack slot; when the helper fails, r0 = count
  const self = prog(
    ldx(8, R6, R10, -8), alu64K(0x00, R6, 1), stx(8, R10, -8, R6),
    call(12), ldx(8, R0, R10, -8), exit(),
  );
  vm.helpers.register(12, 'tail_call', (ctx) => (ctx.tailCall?.(self) ? 0n : u64(-2n)));
  assert.equal(interpret(vm, self).r0, 34n); // the first run + 33 tail calls
  // the count is per run
  assert.equal(interpret(vm, self).r0, 34n);
});

test('call: a tail call from a subprogram is refused', () => {
  const vm = new Vm();
  const target = prog(mov64(R0, 1), exit());
  vm.helpers.register(12, 'tail_call', (ctx) => (ctx.tailCall?.(target) ? 0n : 1n));
  expectError(() => interpret(vm, prog(callLocal(1), exit(), call(12), exit())), 'ENOTSUPP', 'tail call from a subprogram is not supported (insn #2)');
});

test('call: a plain-JS helper returning a number is accepted; returning nothing is an error', () => {
  const helpers = new HelperRegistry();
  helpers.register(1, 'num', (() => 5) as unknown as HelperFn);
  helpers.register(2, 'negnum', (() => -1) as unknown as HelperFn);
  helpers.register(3, 'nothing', (() => undefined) as unknown as HelperFn);
  assert.equal(r0(prog(call(1), exit()), { helpers }), 5n);
  assert.equal(r0(prog(call(2), exit()), { helpers }), u64(-1n));
  expectError(() => run(prog(call(3), exit()), { helpers }), 'EINVAL', 'helper nothing returned undefined, not a 64-bit value (insn #0)');
});

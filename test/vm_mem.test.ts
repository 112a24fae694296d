/*
 * Memory instructions of the reference interpreter: LDX/LDXSX/ST/STX of every size (little-endian,
 * unaligned), every atomic in both widths, lddw, and the bounds/writability checks with their
 * exact messages.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BPF_ADD, BPF_AND, BPF_CMPXCHG, BPF_FETCH, BPF_OR, BPF_XCHG, BPF_XOR,
} from '../src/isa/opcodes.js';
import { BpfError } from '../src/errors.js';
import { makeInsn, makeLdImm64 } from '../src/isa/insn.js';
import { interpret } from '../src/vm/interpreter.js';
import { Vm } from '../src/vm/vm.js';
import {
  R0, R1, R2, R10, alu64K, atomic, exit, lddw, ldx, ldxsx, mov64, mov64X, prog, r0, run, st, stx, u64,
} from './vm_build.js';

const bytes = (...b: number[]): Uint8Array => new Uint8Array(b);
const MEM = bytes(0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x80);

// [name, program over r1 = MEM, expected r0]
const loads: [string, ReturnType<typeof prog>, bigint][] = [
  ['ldxb', prog(ldx(1, R0, R1, 2), exit()), 0x33n],
  ['ldxh little-endian', prog(ldx(2, R0, R1, 0), exit()), 0x2211n],
  ['ldxw little-endian', prog(ldx(4, R0, R1, 0), exit()), 0x44332211n],
  ['ldxdw little-endian', prog(ldx(8, R0, R1, 0), exit()), 0x88776655_44332211n],
  ['ldxh unaligned', prog(ldx(2, R0, R1, 1), exit()), 0x3322n],
  ['ldxw unaligned', prog(ldx(4, R0, R1, 3), exit()), 0x77665544n],
  ['ldxdw unaligned', prog(ldx(8, R0, R1, 7), exit()), 0xffeeddcc_bbaa9988n],
  ['ldxb last byte', prog(ldx(1, R0, R1, 15), exit()), 0x80n],
  ['ldxw zero-extends', prog(ldx(4, R0, R1, 12), exit()), 0x80ffeeddn],
  ['ldxsb 0x80 sign-extends', prog(ldxsx(1, R0, R1, 15), exit()), u64(-128n)],
  ['ldxsb 0x77 stays positive', prog(ldxsx(1, R0, R1, 6), exit()), 0x77n],
  ['ldxsh 0x80ff sign-extends', prog(ldxsx(2, R0, R1, 14), exit()), u64(-0x7f01n)],
  ['ldxsh 0x7766', prog(ldxsx(2, R0, R1, 5), exit()), 0x7766n],
  ['ldxsw 0x80ffeedd sign-extends', prog(ldxsx(4, R0, R1, 12), exit()), 0xffffffff_80ffeeddn],
  ['ldxsw 0x44332211', prog(ldxsx(4, R0, R1, 0), exit()), 0x44332211n],
  ['negative offset from an advanced pointer', prog(alu64K(0x00, R1, 8), ldx(1, R0, R1, -8), exit()), 0x11n],
  ['ldxh into the same register', prog(ldx(2, R1, R1, 4), mov64X(R0, R1), exit()), 0x6655n],
];
for (const [name, insns, want] of loads) {
  test(`mem: ${name}`, () => assert.equal(r0(insns, { mem: MEM }), want));
}

// Stores: [name, program over r1 = 16 zero bytes, expected memory]
const z = (): Uint8Array => new Uint8Array(16);
const withBytes = (at: number, ...b: number[]): Uint8Array => {
  const m = z();
  m.set(b, at);
  return m;
};
const stores: [string, ReturnType<typeof prog>, Uint8Array][] = [
  ['stb', prog(st(1, R1, 3, 0x1ff), exit()), withBytes(3, 0xff)],
  ['sth', prog(st(2, R1, 1, 0x11223344), exit()), withBytes(1, 0x44, 0x33)],
  ['stw', prog(st(4, R1, 5, -2), exit()), withBytes(5, 0xfe, 0xff, 0xff, 0xff)],
  ['stdw sign-extends imm', prog(st(8, R1, 8, -2), exit()), withBytes(8, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)],
  ['stdw positive imm', prog(st(8, R1, 0, 0x7fffffff), exit()), withBytes(0, 0xff, 0xff, 0xff, 0x7f)],
  ['stxb', prog(lddw(R2, 0x1122334455667788n), stx(1, R1, 15, R2), exit()), withBytes(15, 0x88)],
  ['stxh unaligned', prog(lddw(R2, 0x1122334455667788n), stx(2, R1, 7, R2), exit()), withBytes(7, 0x88, 0x77)],
  ['stxw', prog(lddw(R2, 0x1122334455667788n), stx(4, R1, 0, R2), exit()), withBytes(0, 0x88, 0x77, 0x66, 0x55)],
  ['stxdw unaligned', prog(lddw(R2, 0x1122334455667788n), stx(8, R1, 3, R2), exit()), withBytes(3, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11)],
];
for (const [name, insns, want] of stores) {
  test(`mem: ${name}`, () => assert.deepEqual(run(insns, { mem: z() }).mem, want));
}

test('mem: the stack frame is 512 writable bytes below r10, zeroed at entry', () => {
  const insns = prog(
    ldx(8, R0, R10, -512), // zeroed
    lddw(R2, 0x0102030405060708n), stx(8, R10, -8, R2), stx(8, R10, -512, R2),
    ldx(8, R1, R10, -8), alu64K(0x00, R0, 0), alu64X_add(R0, R1), exit(),
  );
  assert.equal(r0(insns), 0x0102030405060708n);
  // a second run sees a zeroed stack again
  const vm = new Vm();
  const peek = prog(ldx(8, R0, R10, -8), lddw(R2, 7n), stx(8, R10, -8, R2), exit());
  assert.equal(interpret(vm, peek).r0, 0n);
  assert.equal(interpret(vm, peek).r0, 0n);
});

function alu64X_add(dst: number, src: number): ReturnType<typeof makeInsn> {
  return makeInsn(0x0f, dst, src);
}

// ---- atomics ----

const A64 = 0x11223344_f0f0f0f0n;
const B64 = 0x0f0f0f0f_00000011n;
interface AtomicCase { name: string; size: 4 | 8; op: number; mem: bigint; src: bigint; r0?: bigint; wantMem: bigint; wantSrc: bigint; wantR0?: bigint }
const M32 = 0xffffffffn;
const atomics: AtomicCase[] = [
  { name: 'add', size: 8, op: BPF_ADD, mem: A64, src: B64, wantMem: (A64 + B64) & ((1n << 64n) - 1n), wantSrc: B64 },
  { name: 'add carry', size: 8, op: BPF_ADD, mem: 0xffffffffn, src: 1n, wantMem: 0x100000000n, wantSrc: 1n },
  { name: 'or', size: 8, op: BPF_OR, mem: A64, src: B64, wantMem: A64 | B64, wantSrc: B64 },
  { name: 'and', size: 8, op: BPF_AND, mem: A64, src: B64, wantMem: A64 & B64, wantSrc: B64 },
  { name: 'xor', size: 8, op: BPF_XOR, mem: A64, src: B64, wantMem: A64 ^ B64, wantSrc: B64 },
  { name: 'fetch_add', size: 8, op: BPF_ADD | BPF_FETCH, mem: A64, src: B64, wantMem: A64 + B64, wantSrc: A64 },
  { name: 'fetch_or', size: 8, op: BPF_OR | BPF_FETCH, mem: A64, src: B64, wantMem: A64 | B64, wantSrc: A64 },
  { name: 'fetch_and', size: 8, op: BPF_AND | BPF_FETCH, mem: A64, src: B64, wantMem: A64 & B64, wantSrc: A64 },
  { name: 'fetch_xor', size: 8, op: BPF_XOR | BPF_FETCH, mem: A64, src: B64, wantMem: A64 ^ B64, wantSrc: A64 },
  { name: 'xchg', size: 8, op: BPF_XCHG, mem: A64, src: B64, wantMem: B64, wantSrc: A64 },
  { name: 'cmpxchg hit', size: 8, op: BPF_CMPXCHG, mem: A64, src: B64, r0: A64, wantMem: B64, wantSrc: B64, wantR0: A64 },
  { name: 'cmpxchg miss', size: 8, op: BPF_CMPXCHG, mem: A64, src: B64, r0: A64 ^ (1n << 40n), wantMem: A64, wantSrc: B64, wantR0: A64 },
  { name: 'add32 wraps', size: 4, op: BPF_ADD, mem: 0xaaaaaaaa_ffffffffn, src: 2n, wantMem: 0xaaaaaaaa_00000001n, wantSrc: 2n },
  { name: 'or32', size: 4, op: BPF_OR, mem: A64, src: B64, wantMem: (A64 & ~M32) | ((A64 | B64) & M32), wantSrc: B64 },
  { name: 'and32', size: 4, op: BPF_AND, mem: A64, src: B64, wantMem: (A64 & ~M32) | ((A64 & B64) & M32), wantSrc: B64 },
  { name: 'xor32', size: 4, op: BPF_XOR, mem: A64, src: B64, wantMem: (A64 & ~M32) | ((A64 ^ B64) & M32), wantSrc: B64 },
  { name: 'fetch_add32 zero-extends the old value', size: 4, op: BPF_ADD | BPF_FETCH, mem: A64, src: u64(-1n), wantMem: (A64 & ~M32) | ((A64 - 1n) & M32), wantSrc: A64 & M32 },
  { name: 'fetch_or32', size: 4, op: BPF_OR | BPF_FETCH, mem: A64, src: B64, wantMem: (A64 & ~M32) | ((A64 | B64) & M32), wantSrc: A64 & M32 },
  { name: 'fetch_and32', size: 4, op: BPF_AND | BPF_FETCH, mem: A64, src: B64, wantMem: (A64 & ~M32) | ((A64 & B64) & M32), wantSrc: A64 & M32 },
  { name: 'fetch_xor32', size: 4, op: BPF_XOR | BPF_FETCH, mem: A64, src: B64, wantMem: (A64 & ~M32) | ((A64 ^ B64) & M32), wantSrc: A64 & M32 },
  { name: 'xchg32', size: 4, op: BPF_XCHG, mem: A64, src: B64, wantMem: (A64 & ~M32) | (B64 & M32), wantSrc: A64 & M32 },
  { name: 'cmpxchg32 hit compares the low word only', size: 4, op: BPF_CMPXCHG, mem: A64, src: B64, r0: 0xdead0000_00000000n | (A64 & M32), wantMem: (A64 & ~M32) | (B64 & M32), wantSrc: B64, wantR0: A64 & M32 },
  { name: 'cmpxchg32 miss', size: 4, op: BPF_CMPXCHG, mem: A64, src: B64, r0: 1n, wantMem: A64, wantSrc: B64, wantR0: A64 & M32 },
];

const le64 = (v: bigint): Uint8Array => {
  const b = new Uint8Array(16);
  new DataView(b.buffer).setBigUint64(4, BigInt.asUintN(64, v), true);
  return b;
};

for (const c of atomics) {
  test(`mem: atomic ${c.name}${c.size === 8 ? '' : ''} (${c.size * 8}-bit)`, () => {
    // memory at offset 4 (aligned for 32-bit, unaligned for 64-bit: both must work)
    const insns = prog(
      lddw(R2, c.src), lddw(R0, c.r0 ?? 0x5a5an),
      atomic(c.size, c.op, R1, 4, R2),
      // r1 still points at the memory: return src or r0 via a store to the end
      stx(8, R10, -8, R2), stx(8, R10, -16, R0),
      ldx(8, R0, R10, c.wantR0 === undefined ? -8 : -16), exit(),
    );
    const out = run(insns, { mem: le64(c.mem) });
    const got = new DataView(out.mem.buffer).getBigUint64(4, true);
    assert.equal(got, BigInt.asUintN(64, c.wantMem), 'memory');
    assert.equal(out.r0, c.wantR0 ?? c.wantSrc, c.wantR0 === undefined ? 'src register' : 'r0');
  });
}

test('mem: atomic fetch keeps r0 and cmpxchg keeps src', () => {
  const insns = prog(mov64(R0, 77), lddw(R2, 5n), atomic(8, BPF_ADD | BPF_FETCH, R1, 0, R2), exit());
  assert.equal(r0(insns, { mem: new Uint8Array(8) }), 77n);
});

test('mem: atomics on shared memory use Atomics and give the same results', () => {
  const vm = new Vm({ sharedMemory: true });
  for (const c of atomics) {
    const insns = prog(
      lddw(R2, c.src), lddw(R0, c.r0 ?? 0x5a5an), atomic(c.size, c.op, R1, 8, R2),
      stx(8, R10, -8, R2), stx(8, R10, -16, R0), ldx(8, R0, R10, c.wantR0 === undefined ? -8 : -16), exit(),
    );
    const mem = new Uint8Array(16);
    new DataView(mem.buffer).setBigUint64(8, c.mem, true);
    const out = run(insns, { vm, mem });
    assert.equal(new DataView(out.mem.buffer).getBigUint64(8, true), BigInt.asUintN(64, c.wantMem), c.name);
    assert.equal(out.r0, c.wantR0 ?? c.wantSrc, c.name);
  }
});

// ---- lddw ----

test('mem: lddw loads all 64 bits', () => {
  assert.equal(r0(prog(lddw(R0, 0x8000000000000001n), exit())), 0x8000000000000001n);
  assert.equal(r0(prog(lddw(R0, 0xffffffffn), exit())), 0xffffffffn);
  assert.equal(r0(prog(lddw(R0, 0x1_00000000n), exit())), 0x1_00000000n);
});

test('mem: unresolved ld_imm64 pseudo forms are refused when reached, naming the insn', () => {
  for (const src of [1, 2, 3, 4, 5, 6]) {
    const insns = prog(mov64(R0, 0), makeLdImm64(R1, 3n, src), exit());
    assert.throws(() => run(insns), (e: unknown) =>
      e instanceof BpfError && e.code === 'EINVAL' && new RegExp(`^unresolved ld_imm64 pseudo form src=${src} .*\\(insn #1\\)`).test(e.message));
  }
});

// ---- bounds checks ----

function expectFault(insns: ReturnType<typeof prog>, message: string | RegExp, options: Parameters<typeof run>[1] = {}): void {
  assert.throws(() => run(insns, options), (e: unknown) => {
    assert.ok(e instanceof BpfError, String(e));
    assert.equal(e.code, 'EFAULT');
    if (typeof message === 'string') assert.equal(e.message, message);
    else assert.match(e.message, message);
    return true;
  });
}

test('mem: a load from address 0 names the instruction, address, size and "no region"', () => {
  expectFault(prog(mov64(R0, 0), mov64(R1, 0), ldx(8, R0, R1, 0), exit()), 'out of bounds memory load (insn #2): addr 0x0, size 8, no region');
});

test('mem: a load running past the end of a region names the region', () => {
  const vm = new Vm();
  const mem = new Uint8Array(16);
  const out = run(prog(mov64(R0, 0), exit()), { vm, mem });
  const end = out.memAddr + 16;
  const want = `out of bounds memory load (insn #0): addr 0x${(end - 4).toString(16)}, size 8, past end of region 'mem' [0x${out.memAddr.toString(16)}-0x${end.toString(16)}]`;
  expectFault(prog(ldx(8, R0, R1, 12), exit()), want, { vm, args: [BigInt(out.memAddr)] });
});

test('mem: the stack frame bounds: below r10-512 and at r10 are faults', () => {
  expectFault(prog(ldx(8, R0, R10, -520), exit()), /^out of bounds memory load \(insn #0\): addr 0x[0-9a-f]+, size 8, no region$/);
  expectFault(prog(ldx(1, R0, R10, 0), exit()), /^out of bounds memory load \(insn #0\): addr 0x[0-9a-f]+, size 1, no region$/);
  expectFault(prog(stx(8, R10, -4, R1), exit()), /^out of bounds memory store \(insn #0\): addr 0x[0-9a-f]+, size 8, past end of region 'stack' \[/);
});

test('mem: stores to a read-only region are refused; loads are fine', () => {
  const mem = bytes(1, 2, 3, 4, 5, 6, 7, 8);
  assert.equal(r0(prog(ldx(1, R0, R1, 7), exit()), { mem, memWritable: false }), 8n);
  expectFault(prog(st(1, R1, 0, 9), exit()), /^out of bounds memory store \(insn #0\): addr 0x[0-9a-f]+, size 1, region 'mem' \[0x[0-9a-f]+-0x[0-9a-f]+\] is read-only$/, { mem, memWritable: false });
  expectFault(prog(mov64(R2, 1), atomic(4, BPF_ADD, R1, 0, R2), exit()), /^out of bounds memory atomic access \(insn #1\): .* is read-only$/, { mem, memWritable: false });
});

test('mem: a pointer with high bits set never reaches memory', () => {
  expectFault(prog(lddw(R1, 0x1_00010000n), ldx(4, R0, R1, 0), exit()), 'out of bounds memory load (insn #2): addr 0x100010000, size 4, no region');
  expectFault(prog(lddw(R1, u64(-8n)), st(8, R1, 0, 1), exit()), 'out of bounds memory store (insn #2): addr 0xfffffffffffffff8, size 8, no region');
});

test('mem: a store that would straddle two regions is refused and memory is untouched', () => {
  const vm = new Vm();
  const a = vm.space.alloc(8, 'a');
  const b = vm.space.alloc(8, 'b');
  assert.ok(b.addr > a.addr + 8, 'red zone between regions');
  expectFault(prog(lddw(R2, u64(-1n)), stx(8, R1, 4, R2), exit()), /past end of region 'a'/, { vm, args: [BigInt(a.addr)] });
  assert.deepEqual(vm.space.read(a.addr, 8), new Uint8Array(8));
  assert.deepEqual(vm.space.read(b.addr, 8), new Uint8Array(8));
});

test('mem: the region cache does not let a later access escape its region', () => {
  // read twice from mem (cached), then from just past its end: still refused
  expectFault(prog(ldx(1, R0, R1, 0), ldx(1, R0, R1, 15), ldx(1, R0, R1, 16), exit()),
    /^out of bounds memory load \(insn #2\): addr 0x[0-9a-f]+, size 1, no region$/, { mem: new Uint8Array(16) });
  // store via cache, then a store into a read-only region elsewhere
  const vm = new Vm();
  const ro = vm.space.alloc(8, 'ro', { writable: false });
  const rw = vm.space.alloc(8, 'rw');
  expectFault(prog(st(1, R1, 0, 1), st(1, R2, 0, 1), exit()), /insn #1.*region 'ro'.*is read-only/, { vm, args: [BigInt(rw.addr), BigInt(ro.addr)] });
});

test('mem: with two regions cached, an access past either one is still refused', () => {
  const vm = new Vm();
  const ctx = vm.space.alloc(8, 'ctx');
  const pkt = vm.space.alloc(32, 'pkt');
  const insns = (off: number): ReturnType<typeof prog> => prog(
    ldx(4, R0, R1, 0), ldx(1, R0, R2, 31), ldx(4, R0, R1, 4), ldx(1, R0, R2, 0), // both cached now
    ldx(8, R0, R1, off), exit(),
  );
  const args = [BigInt(ctx.addr), BigInt(pkt.addr)];
  assert.equal(interpret(vm, insns(0), { args }).r0, 0n);
  expectFault(insns(4), /^out of bounds memory load \(insn #4\): .*past end of region 'ctx'/, { vm, args });
  expectFault(insns(8), /^out of bounds memory load \(insn #4\): .*no region$/, { vm, args });
});

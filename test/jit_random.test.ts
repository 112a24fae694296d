/*
 * Property tests: the WebAssembly JIT against the reference interpreter on random programs. Each
 * program runs on two VMs set up identically (so stack frames and regions sit at the same
 * addresses), one per engine; r0, the instruction count, every region's bytes and any error
 * (code and message) must be identical.
 *
 * Two generators: vm_random's (every ALU/ALU64 op, jumps of both widths, stack loads and stores,
 * edge values) and a wider one here: loads, stores and atomics through pointers (in bounds, out of
 * bounds, into a read-only region), backward jumps (loops ended by the budget), may_goto,
 * bpf-to-bpf calls (recursion until the frames run out), helper calls (bigint and number
 * results, one allocating memory, unknown ids, callx), LD_ABS/LD_IND, on plain and shared memory.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type Insn, makeInsn, makeLdImm64 } from '../src/isa/insn.js';
import { BINARY_ALU_OPS, BPF_DIV, BPF_MOD, COND_JMP_OPS } from '../src/isa/opcodes.js';
import { HelperRegistry } from '../src/vm/helpers.js';
import { interpret } from '../src/vm/interpreter.js';
import { compileJit, runJit } from '../src/vm/jit/index.js';
import type { HelperFn, RunOptions } from '../src/vm/types.js';
import { Vm } from '../src/vm/vm.js';
import { generate, rng } from './vm_random_lib.js';
import { attempt } from './jit_lib.js';

function listing(insns: readonly Insn[]): string {
  return insns.map((x, i) => `${i}: ${x.code.toString(16)} d${x.dst} s${x.src} off ${x.off} imm ${x.imm}`).join('\n');
}

/** Every region of both VMs: same names, addresses and bytes. */
function sameMemory(a: Vm, b: Vm): string | undefined {
  const ra = a.space.list();
  const rb = b.space.list();
  if (ra.length !== rb.length) return `region count ${ra.length} vs ${rb.length}`;
  for (let i = 0; i < ra.length; i++) {
    if (ra[i].addr !== rb[i].addr || ra[i].size !== rb[i].size) return `region ${ra[i].name} differs in place`;
    const x = a.space.bytes(ra[i]);
    const y = b.space.bytes(rb[i]);
    for (let j = 0; j < x.length; j++) {
      if (x[j] !== y[j]) return `region ${ra[i].name} byte ${j}: ${x[j]} vs ${y[j]}`;
    }
  }
  return undefined;
}

function compare(n: number, insns: readonly Insn[], a: Vm, b: Vm, options: RunOptions): void {
  const want = attempt(() => interpret(a, insns, options));
  const got = attempt(() => runJit(b, insns, options));
  const where = `program ${n}\n${listing(insns)}`;
  assert.deepEqual(got, want, where);
  const mem = sameMemory(a, b);
  if (mem !== undefined) assert.fail(`${mem}\n${where}`);
}

test('random ALU/jump/stack programs: JIT == interpreter (r0, count, memory)', () => {
  const a = new Vm();
  const b = new Vm();
  const rand = rng(0x71e);
  for (let n = 0; n < 400; n++) compare(n, generate(rand, 5 + Math.floor(rand() * 40)), a, b, {});
});

// ---- the wider generator ----

const DATA = 64;
const PACKET = 40;
const IMMS = [0, 1, -1, 2, 7, -7, 31, 32, 63, 0x7fffffff, -0x80000000, 0x1234];
const EDGE = [0n, 1n, 0x7fn, 0x80n, 0xffffffffn, 0x100000000n, 1n << 63n, (1n << 64n) - 1n, 0x0123456789abcdefn];

interface World {
  vm: Vm;
  data: number;
  ro: number;
  packet: number;
}

/** A VM with a data region (r6), a read-only region (r7), a packet and the test helpers. */
function world(shared: boolean): World {
  const helpers = new HelperRegistry();
  helpers.register(1, 'mix', (_c, r1, r2, r3, r4, r5) => BigInt.asUintN(64, r1 * 3n + (r2 ^ r5) - r3 + (r4 << 7n)));
  // a plain-JS helper returning a number
  helpers.register(2, 'number', ((_c: unknown, r1: bigint) => Number(r1 & 0xffffn) - 7) as unknown as HelperFn);
  const vm = new Vm({ helpers, sharedMemory: shared });
  helpers.register(3, 'alloc', () => BigInt(vm.space.alloc(16, 'helper_alloc').addr));
  const data = vm.space.alloc(DATA, 'data').addr;
  const ro = vm.space.alloc(32, 'ro', { writable: false }).addr;
  const packet = vm.space.alloc(PACKET, 'packet').addr;
  const seed = new Uint8Array(DATA);
  for (let i = 0; i < DATA; i++) seed[i] = (i * 37 + 11) & 0xff;
  vm.space.write(data, seed);
  vm.space.write(packet, seed.subarray(0, PACKET));
  return { vm, data, ro, packet };
}

function wide(rand: () => number, length: number): Insn[] {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  const dreg = (): number => pick([0, 2, 3, 4, 5, 8, 9]); // r6/r7 hold the pointers
  const reg = (): number => Math.floor(rand() * 10);
  const size = (): number => pick([1, 2, 4, 8]);
  const sizeBits = (s: number): number => ({ 1: 0x10, 2: 0x08, 4: 0x00, 8: 0x18 } as Record<number, number>)[s];
  const frameOff = (): number => (rand() < 0.9 ? -8 * (1 + Math.floor(rand() * 8)) : pick([-512, -513, -7, -4, -1, 0, 3]));
  const memOff = (s: number): number => (rand() < 0.9 ? Math.floor(rand() * (DATA - s + 1)) : pick([-1, -8, DATA - s + 1, DATA, 1000]));
  const out: Insn[] = [makeInsn(0xbf, 6, 1), makeInsn(0xbf, 7, 3)]; // r6 = data, r7 = read-only region
  for (const r of [0, 2, 3, 4, 5, 8, 9]) out.push(...makeLdImm64(r, rand() < 0.5 ? pick(EDGE) : BigInt(Math.floor(rand() * 2 ** 32))));
  if (rand() < 0.3) out.push(makeInsn(0x07, 10, 0, 0, 0)); // r10 += 0: the JIT then checks frame accesses too
  const prologue = out.length;
  const calls: number[] = []; // indices of local calls to patch
  for (let n = 0; n < length; n++) {
    const roll = rand();
    const d = dreg();
    const s = reg();
    if (roll < 0.3) {
      const cls = rand() < 0.5 ? 0x07 : 0x04;
      const op = pick(BINARY_ALU_OPS);
      const off = (op === BPF_DIV || op === BPF_MOD) && rand() < 0.5 ? 1 : 0;
      out.push(rand() < 0.5 ? makeInsn(cls | op | 0x08, d, s, off, 0) : makeInsn(cls | op, d, 0, off, pick(IMMS)));
    } else if (roll < 0.42) { // load through r6 (or r7, r10)
      const sz = size();
      const base = pick([6, 6, 6, 7, 10]);
      const off = base === 10 ? frameOff() : memOff(sz);
      out.push(makeInsn((rand() < 0.3 && sz !== 8 ? 0x81 : 0x61) | sizeBits(sz), d, base, off, 0));
    } else if (roll < 0.54) { // store through r6, r10 (rarely r7: read-only)
      const sz = size();
      const base = pick([6, 6, 6, 6, 10, 10, 7]);
      const off = base === 10 ? frameOff() : memOff(sz);
      out.push(rand() < 0.5 ? makeInsn(0x63 | sizeBits(sz), base, s, off, 0) : makeInsn(0x62 | sizeBits(sz), base, 0, off, pick(IMMS)));
    } else if (roll < 0.62) { // atomics, aligned or not
      const sz = rand() < 0.5 ? 4 : 8;
      const aligned = rand() < 0.7;
      const off = aligned ? sz * Math.floor(rand() * (DATA / sz)) : memOff(sz);
      const op = pick([0x00, 0x40, 0x50, 0xa0, 0x01, 0x41, 0x51, 0xa1, 0xe1, 0xf1]);
      out.push(makeInsn(sz === 8 ? 0xdb : 0xc3, 6, pick([0, 2, 3, 4, 5, 8, 9]), off, op));
    } else if (roll < 0.7) { // conditional jumps, mostly forward
      const cls = rand() < 0.5 ? 0x05 : 0x06;
      const op = pick(COND_JMP_OPS);
      const off = rand() < 0.85 ? Math.floor(rand() * 4) : -1 - Math.floor(rand() * 6);
      out.push(rand() < 0.5 ? makeInsn(cls | op | 0x08, d, s, off, 0) : makeInsn(cls | op, d, 0, off, pick(IMMS)));
    } else if (roll < 0.74) { // helper calls
      const which = rand();
      if (which < 0.4) out.push(makeInsn(0x85, 0, 0, 0, 1));
      else if (which < 0.7) out.push(makeInsn(0x85, 0, 0, 0, 2));
      else if (which < 0.85) out.push(makeInsn(0x85, 0, 0, 0, 3), makeInsn(0x63, 0, s, 4, 0), makeInsn(0x61, d, 0, 4, 0));
      else if (which < 0.95) out.push(makeInsn(0xb7, 8, 0, 0, pick([1, 2, 9])), makeInsn(0x8d, 8, 0, 0, 0)); // callx
      else out.push(makeInsn(0x85, 0, 0, 0, 99)); // unknown helper
    } else if (roll < 0.8) { // LD_ABS / LD_IND
      const sz = pick([1, 2, 4]);
      const k = rand() < 0.85 ? Math.floor(rand() * (PACKET - sz + 1)) : pick([-1, PACKET, PACKET - 1, 0x7fffffff]);
      out.push(rand() < 0.5 ? makeInsn(0x20 | sizeBits(sz), 0, 0, 0, k) : makeInsn(0x40 | sizeBits(sz), 0, pick([2, 3, 4]), 0, k));
    } else if (roll < 0.86) { // bpf-to-bpf call to the subprogram
      calls.push(out.length);
      out.push(makeInsn(0x85, 0, 1, 0, 0));
    } else if (roll < 0.88) {
      out.push(makeInsn(0xe5, 0, 0, Math.floor(rand() * 3), 0)); // may_goto
    } else if (roll < 0.94) {
      out.push(makeInsn(0xb7, d, 0, 0, pick(IMMS)));
    } else {
      out.push(makeInsn(0x05, 0, 0, rand() < 0.8 ? Math.floor(rand() * 3) : -1 - Math.floor(rand() * 4), 0));
    }
  }
  // keep jumps inside the body
  const bodyEnd = out.length;
  for (let i = 0; i < bodyEnd; i++) {
    const c = out[i].code;
    if (((c & 7) === 5 || (c & 7) === 6) && (c & 0xf0) !== 0x80 && (c & 0xf0) !== 0x90) {
      const t = Math.max(prologue, Math.min(i + 1 + out[i].off, bodyEnd)); // never into the ld_imm64 prologue
      out[i] = { ...out[i], off: t - i - 1 };
    }
  }
  for (let r = 1; r <= 9; r++) out.push(makeInsn(0x27, 0, 0, 0, 0x1000193), makeInsn(0xaf, 0, r, 0, 0));
  out.push(makeInsn(0x95));
  // the subprogram: some ALU on r1..r5, a frame store/load, sometimes recursion
  const sub = out.length;
  out.push(makeInsn(0x0f, 1, 2), makeInsn(0x7b, 10, 1, -8, 0), makeInsn(0x79, 0, 10, -8, 0), makeInsn(0xaf, 0, 3, 0, 0));
  if (rand() < 0.3) out.push(makeInsn(0x55, 4, 0, 1, 0), makeInsn(0x85, 0, 1, 0, sub - (out.length + 1) - 1 + 0));
  out.push(makeInsn(0x95));
  for (const i of calls) out[i] = { ...out[i], imm: sub - (i + 1) };
  // the recursive call's imm was written relative to its own slot above; fix it exactly
  for (let i = sub; i < out.length; i++) if (out[i].code === 0x85 && out[i].src === 1) out[i] = { ...out[i], imm: sub - (i + 1) };
  return out;
}

for (const shared of [false, true]) {
  test(`random programs with memory, atomics, calls, helpers, loops, LD_ABS (${shared ? 'shared' : 'plain'} memory): JIT == interpreter`, () => {
    const a = world(shared);
    const b = world(shared);
    assert.equal(a.data, b.data);
    const rand = rng(shared ? 0x5a5 : 0x717);
    const outcomes = { ok: 0, errors: new Map<string, number>() };
    for (let n = 0; n < 500; n++) {
      const insns = wide(rand, 5 + Math.floor(rand() * 40));
      const options: RunOptions = {
        args: [BigInt(a.data), BigInt(DATA), BigInt(a.ro)],
        budget: 3000,
        packet: rand() < 0.9 ? { addr: a.packet, len: PACKET } : undefined,
      };
      const before = attempt(() => interpret(a.vm, insns, options));
      const after = attempt(() => runJit(b.vm, insns, options));
      const where = `program ${n}\n${listing(insns)}`;
      assert.deepEqual(after, before, where);
      const mem = sameMemory(a.vm, b.vm);
      if (mem !== undefined) assert.fail(`${mem}\n${where}`);
      if (before.ok) outcomes.ok++;
      else outcomes.errors.set(before.code, (outcomes.errors.get(before.code) ?? 0) + 1);
    }
    // the generator reaches both successful runs and every kind of failure
    assert.ok(outcomes.ok > 100, `only ${outcomes.ok} programs ran to the end`);
    for (const code of ['EFAULT', 'ELOOP', 'EINVAL', 'E2BIG']) assert.ok(outcomes.errors.has(code), `no ${code} among ${[...outcomes.errors.keys()]}`);
  });
}

test('compileJit caches per VM, program and entry; compile time is measured', () => {
  const vm = new Vm();
  const insns = [makeInsn(0xb7, 0, 0, 0, 7), makeInsn(0x95), makeInsn(0xb7, 0, 0, 0, 9), makeInsn(0x95)];
  const p = compileJit(vm, insns);
  assert.equal(compileJit(vm, insns), p);
  assert.notEqual(compileJit(new Vm(), insns), p);
  assert.ok(p.compileMs >= 0 && p.wasmSize > 0);
  assert.equal(p.run().r0, 7n);
  assert.equal(p.run({ entry: 2 }).r0, 9n);
  assert.equal(compileJit(vm, insns, 2).run().r0, 9n);
  assert.equal(p.runCtx(0), 7);
});

test('random register-only loops under tight budgets: JIT == interpreter (count and budget errors exact)', () => {
  const a = new Vm();
  const b = new Vm();
  const rand = rng(0x100b);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  let errors = 0;
  for (let n = 0; n < 300; n++) {
    const insns: Insn[] = [];
    for (const r of [0, 2, 3, 4, 5]) insns.push(...makeLdImm64(r, pick(EDGE)));
    insns.push(makeInsn(0xb7, 1, 0, 0, 1 + Math.floor(rand() * 12))); // r1: the trip count
    const body: Insn[] = [];
    for (let k = Math.floor(rand() * 8); k > 0; k--) {
      const cls = rand() < 0.5 ? 0x07 : 0x04;
      const op = pick(BINARY_ALU_OPS);
      const d = pick([0, 2, 3, 4, 5]);
      body.push(rand() < 0.5 ? makeInsn(cls | op | 0x08, d, pick([0, 1, 2, 3, 4, 5])) : makeInsn(cls | op, d, 0, 0, pick(IMMS)));
    }
    body.push(makeInsn(0x07, 1, 0, 0, -1));
    insns.push(...body, makeInsn(rand() < 0.5 ? 0x55 : 0x56, 1, 0, -(body.length + 1), 0)); // if r1 != 0 goto loop
    for (const r of [1, 2, 3, 4, 5]) insns.push(makeInsn(0x27, 0, 0, 0, 0x1000193), makeInsn(0xaf, 0, r, 0, 0));
    insns.push(makeInsn(0x95));
    const options: RunOptions = { budget: rand() < 0.5 ? 10 + Math.floor(rand() * 150) : 1000 };
    compare(n, insns, a, b, options);
    if (attempt(() => interpret(a, insns, options)).ok === false) errors++;
  }
  assert.ok(errors > 30 && errors < 270, `${errors} budget errors`);
});

/*
 * Differential test against the running kernel: random verifier-safe XDP programs (ALU64/ALU32
 * incl. division, shifts, byte swaps and sign extension; packet and stack loads and stores;
 * stack atomics; forward branches; bpf-to-bpf calls into .text), written as LLVM assembly,
 * assembled by llvm-mc, then run both by the kernel (`bpftool prog load` +
 * `bpftool prog run`) and by bpfkit (`prog run file x.o`, in-process); return value and data_out
 * must agree. Every register ends up stored into the packet, so data_out shows all 64 bits.
 *
 * BPFKIT_DIFF_SEED (default 1) and BPFKIT_DIFF_COUNT (default 50) pick the programs; a failure
 * names its seed and keeps the program in BPFKIT_DIFF_KEEP (default: a temporary folder).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { LLVM_MC, LLVM_OBJDUMP, missingKernel, missingTool, runTool } from './oracles.js';
import { disassembleObject } from '../src/cli/disasm.js';
import { assembleToElf } from '../src/cli/asm.js';
import { runCli } from '../src/cli/main.js';
import type { CliContext } from '../src/cli/context.js';

/* ----------------------------------------------------------------------------------------- */
/* A small seeded PRNG (mulberry32)                                                           */

export class Rng {
  private s: number;
  constructor(seed: number) { this.s = seed >>> 0; }
  u32(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  int(n: number): number { return this.u32() % n; }
  pick<T>(xs: readonly T[]): T { return xs[this.int(xs.length)]; }
  chance(p: number): boolean { return this.u32() / 0x1_0000_0000 < p; }
  imm(): number {
    switch (this.int(4)) {
      case 0: return this.int(16);
      case 1: return this.int(2001) - 1000;
      case 2: return this.u32() | 0;
      default: return this.pick([0, 1, -1, 0x7fffffff, -0x80000000, 0xff, 0xffff, 63, 64, 32]);
    }
  }
}

/* ----------------------------------------------------------------------------------------- */
/* The program generator                                                                       */

/** Scratch registers; r6 = ctx, r7 = data, r8 = data_end stay fixed. */
const REGS = [0, 1, 2, 3, 4, 5, 9];
const PACKET_MIN = 64; // the program checks data + 64 <= data_end first
const STACK_SLOTS = 8; // r10-8 .. r10-64, all initialised up front

const ALU_BIN = ['+=', '-=', '*=', '/=', '%=', '|=', '&=', '<<=', '>>=', '^=', 's>>=', '=', 's/=', 's%='];
const JMP_OPS = ['==', '!=', '>', '>=', '<', '<=', 's>', 's>=', 's<', 's<=', '&'];
const SIZES = [['u8', 1], ['u16', 2], ['u32', 4], ['u64', 8]] as const;

/** A random ALU operation on r0..r5 (both operands initialised), for subprogram bodies. */
function randomAlu(rng: Rng, regs: readonly number[], emit: (s: string) => void): void {
  const w = rng.chance(0.35);
  const d = rng.pick(regs);
  const s = rng.pick(regs);
  const r = (n: number): string => `${w ? 'w' : 'r'}${n}`;
  const op = rng.pick(ALU_BIN);
  if (rng.chance(0.5)) {
    emit(`${r(d)} ${op} ${r(s)}`);
    return;
  }
  let imm = rng.imm();
  if (op === '<<=' || op === '>>=' || op === 's>>=') imm = rng.int(w ? 32 : 64);
  if ((op === '/=' || op === '%=' || op === 's/=' || op === 's%=') && imm === 0) imm = 7;
  emit(`${r(d)} ${op} ${imm}`);
}

const stackSlot = (rng: Rng, size: number): string =>
  `r10 - ${8 * (1 + rng.int(STACK_SLOTS)) - size * rng.int(8 / size)}`;

export function generateProgram(rng: Rng, name = 'prog'): string {
  const lines: string[] = [];
  const emit = (s: string): void => { lines.push('\t' + s); };
  const reg = (): number => rng.pick(REGS);
  const r = (n: number, w: boolean): string => `${w ? 'w' : 'r'}${n}`;
  const subprograms = rng.int(3);
  const subNames = Array.from({ length: subprograms }, (_, k) => `${name}_sub${k}`);

  emit('r6 = r1');
  emit('r7 = *(u32 *)(r6 + 0)');
  emit('r8 = *(u32 *)(r6 + 4)');
  emit('r2 = r7');
  emit(`r2 += ${PACKET_MIN}`);
  emit('if r2 > r8 goto .Lshort');
  // Initialise every scratch register from the packet, the context or constants.
  const init = (n: number): void => {
    const k = rng.int(4);
    if (k === 0) emit(`r${n} = *(u64 *)(r7 + ${8 * rng.int(PACKET_MIN / 8)})`);
    else if (k === 1) emit(`r${n} = *(u32 *)(r6 + ${rng.pick([12, 16])})`);
    else if (k === 2) emit(`r${n} = ${rng.u32() * 0x1_0000_0000 + rng.u32()} ll`);
    else emit(`r${n} = ${rng.imm()}`);
  };
  for (const n of REGS) init(n);
  for (let s = 1; s <= STACK_SLOTS; s++) emit(`*(u64 *)(r10 - ${8 * s}) = r${reg()}`);

  const pending: { label: string; at: number }[] = [];
  let labels = 0;
  const count = 20 + rng.int(40);
  for (let i = 0; i < count; i++) {
    for (const p of pending.filter((q) => q.at === i)) lines.push(`${p.label}:`);
    const w = rng.chance(0.35);
    const d = reg();
    const s = reg();
    const kind = rng.int(100);
    if (kind < 36) {
      randomAlu(rng, REGS, emit);
    } else if (kind < 40) {
      emit(`${r(d, w)} = -${r(d, w)}`);
    } else if (kind < 46) {
      const width = rng.pick([16, 32, 64]);
      emit(`r${d} = ${rng.pick(['bswap', 'be', 'le'])}${width} r${d}`);
    } else if (kind < 51) {
      if (w) emit(`w${d} = (s${rng.pick([8, 16])})w${s}`);
      else emit(`r${d} = (s${rng.pick([8, 16, 32])})r${s}`);
    } else if (kind < 54) {
      emit(`r${d} = ${BigInt.asUintN(64, (BigInt(rng.u32()) << 32n) | BigInt(rng.u32()))} ll`);
    } else if (kind < 62) {
      // Load from the packet or the stack, zero- or sign-extending.
      const [ty, size] = rng.pick(SIZES);
      const signed = size < 8 && rng.chance(0.3);
      const t = signed ? ty.replace('u', 's') : ty;
      if (rng.chance(0.5)) emit(`r${d} = *(${t} *)(r7 + ${size * rng.int(PACKET_MIN / size)})`);
      else emit(`r${d} = *(${t} *)(${stackSlot(rng, size)})`);
    } else if (kind < 71) {
      // Store to the packet or the stack, from a register or an immediate.
      const [ty, size] = rng.pick(SIZES);
      const where = rng.chance(0.5) ? `r7 + ${size * rng.int(PACKET_MIN / size)}` : stackSlot(rng, size);
      emit(`*(${ty} *)(${where}) = ${rng.chance(0.7) ? `r${s}` : rng.imm()}`);
    } else if (kind < 77) {
      // Atomics on the stack (the verifier refuses them on packet pointers).
      const wide = rng.chance(0.5);
      const slot = stackSlot(rng, wide ? 8 : 4).replace(/ - (\d+)$/, (_, n: string) => ` - ${Number(n) & ~(wide ? 7 : 3)}`);
      const ty = wide ? 'u64' : 'u32';
      const x = (n: number): string => `${wide ? 'r' : 'w'}${n}`;
      switch (rng.int(4)) {
        case 0: emit(`lock *(${ty} *)(${slot}) ${rng.pick(['+=', '&=', '|=', '^='])} ${x(s)}`); break;
        case 1: emit(`${x(d)} = atomic_fetch_${rng.pick(['add', 'and', 'or', 'xor'])}((${ty} *)(${slot}), ${x(d)})`); break;
        case 2: emit(`${x(d)} = ${wide ? 'xchg_64' : 'xchg32_32'}(${slot}, ${x(d)})`); break;
        default: {
          const other = rng.pick(REGS.filter((n) => n !== 0));
          emit(`${x(0)} = ${wide ? 'cmpxchg_64' : 'cmpxchg32_32'}(${slot}, ${x(0)}, ${x(other)})`);
        }
      }
    } else if (kind < 80 && subprograms > 0) {
      // A bpf-to-bpf call: r1-r5 are arguments, then clobbered, so they are set again after.
      emit(`call ${rng.pick(subNames)}`);
      for (const n of [1, 2, 3, 4, 5]) {
        if (rng.chance(0.5)) emit(`r${n} = *(u64 *)(r10 - ${8 * (1 + rng.int(STACK_SLOTS))})`);
        else emit(`r${n} = ${rng.imm()}`);
      }
    } else {
      // A forward branch over the next few instructions.
      const label = `.Lb${labels++}`;
      pending.push({ label, at: i + 1 + rng.int(Math.min(8, count - i)) });
      const op = rng.pick(JMP_OPS);
      const rhs = rng.chance(0.5) ? r(s, w) : String(rng.imm());
      emit(`if ${r(d, w)} ${op} ${rhs} goto ${label}`);
    }
  }
  for (const p of pending.filter((q) => q.at >= count)) lines.push(`${p.label}:`);
  // Every register into the packet, so data_out shows them all.
  REGS.forEach((n, k) => emit(`*(u64 *)(r7 + ${8 * k}) = r${n}`));
  emit(`r1 = *(u64 *)(r10 - ${8 * (1 + rng.int(STACK_SLOTS))})`);
  emit('*(u64 *)(r7 + 56) = r1');
  emit('exit');
  lines.push('.Lshort:');
  emit('r0 = 2');
  emit('exit');

  // Subprograms in .text: r0 from the arguments, some arithmetic, a stack slot of their own.
  const text: string[] = [];
  subNames.forEach((sub, k) => {
    const body: string[] = [];
    const e = (x: string): void => { body.push('\t' + x); };
    e(`r0 = r${1 + rng.int(5)}`);
    e(`*(u64 *)(r10 - 8) = r${1 + rng.int(5)}`);
    const n = 3 + rng.int(10);
    for (let i = 0; i < n; i++) randomAlu(rng, [0, 1, 2, 3, 4, 5], e);
    e('r1 = *(u64 *)(r10 - 8)');
    e('r0 ^= r1');
    // Later subprograms may call earlier ones (no recursion).
    if (k > 0 && rng.chance(0.5)) { e(`r6 = r0`); e(`call ${subNames[rng.int(k)]}`); e('r0 += r6'); }
    e('exit');
    const global = rng.chance(0.5);
    text.push(...(global ? [`\t.globl ${sub}`] : []), `\t.type ${sub},@function`, `${sub}:`, ...body,
      `.L${sub}_end:`, `\t.size ${sub}, .L${sub}_end-${sub}`);
  });
  return [
    ...(text.length ? ['\t.text', ...text] : []),
    '\t.section xdp,"ax",@progbits',
    `\t.globl ${name}`,
    `\t.type ${name},@function`,
    `${name}:`,
    ...lines,
    `.L${name}_end:`,
    `\t.size ${name}, .L${name}_end-${name}`,
    '\t.section license,"aw",@progbits',
    '\t.asciz "GPL"',
    '',
  ].join('\n');
}

export function randomPacket(rng: Rng): Uint8Array {
  const len = rng.chance(0.1) ? 14 + rng.int(PACKET_MIN - 14) : PACKET_MIN + rng.int(200);
  const p = new Uint8Array(len);
  for (let i = 0; i < len; i++) p[i] = rng.int(256);
  return p;
}

/* ----------------------------------------------------------------------------------------- */

function cliContext(): { ctx: CliContext; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  const ctx: CliContext = {
    json: false, pretty: false, debug: false,
    stdout: (t) => { out += t; }, stderr: (t) => { err += t; },
    readStdin: async () => new Uint8Array(0),
  };
  return { ctx, out: () => out, err: () => err };
}

interface RunOutcome { retval: number; data: number[] }

function kernelRun(obj: string, packet: string, pin: string): RunOutcome {
  const load = spawnSync('bpftool', ['prog', 'load', obj, pin], { encoding: 'utf8' });
  if (load.status !== 0) throw new Error(`bpftool prog load ${obj} failed:\n${load.stderr.slice(-3000)}`);
  try {
    const out = runTool('bpftool', ['-j', 'prog', 'run', 'pinned', pin, 'data_in', packet, 'data_out', '-']);
    const j = JSON.parse(out) as { retval: number; data_out: number[] };
    return { retval: j.retval, data: j.data_out };
  } finally {
    rmSync(pin, { force: true });
  }
}

async function bpfkitRun(obj: string, packet: string): Promise<RunOutcome> {
  const c = cliContext();
  const status = await runCli(['-j', 'prog', 'run', 'file', obj, 'data_in', packet, 'data_out', '-'], c.ctx);
  assert.equal(status, 0, `bpfkit prog run failed: ${c.out()}${c.err()}`);
  const j = JSON.parse(c.out()) as { retval: number; data_out: number[] };
  return { retval: j.retval, data: j.data_out };
}

test('random XDP programs: bpfkit prog run agrees with the kernel', async (t) => {
  const why = missingKernel() ?? missingTool(LLVM_MC);
  if (why) { t.skip(why); return; }
  const seed = Number(process.env.BPFKIT_DIFF_SEED ?? 1);
  const count = Number(process.env.BPFKIT_DIFF_COUNT ?? 50);
  const dir = process.env.BPFKIT_DIFF_KEEP ?? mkdtempSync(join(tmpdir(), 'bpfkit-diff-'));
  mkdirSync(dir, { recursive: true });
  const pinBase = `/sys/fs/bpf/bpfkit_diff_${process.pid}`;
  const failures: string[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const progSeed = seed * 100003 + i;
      const rng = new Rng(progSeed);
      const src = join(dir, `p${progSeed}.s`);
      const obj = join(dir, `p${progSeed}.o`);
      const pkt = join(dir, `p${progSeed}.bin`);
      writeFileSync(src, generateProgram(rng));
      writeFileSync(pkt, randomPacket(rng));
      runTool(LLVM_MC, ['-triple', 'bpfel', '-mcpu=v4', '-filetype=obj', src, '-o', obj]);
      if (!missingTool(LLVM_OBJDUMP)) {
        // While the object is here: our disassembly must be llvm-objdump's.
        const theirs = runTool(LLVM_OBJDUMP, ['-d', obj]);
        if (disassembleObject(new Uint8Array(readFileSync(obj)), obj) !== theirs) failures.push(`seed ${progSeed} (${src}): disasm differs from llvm-objdump`);
      }
      const kernel = kernelRun(obj, pkt, `${pinBase}_${i}`);
      const ours = await bpfkitRun(obj, pkt);
      // The same source through bpfkit's own assembler and ELF writer must run the same.
      const ownObj = join(dir, `p${progSeed}.bpfkit.o`);
      writeFileSync(ownObj, await assembleToElf(readFileSync(src, 'utf8'), src));
      const own = await bpfkitRun(ownObj, pkt);
      if (JSON.stringify(own) !== JSON.stringify(kernel)) failures.push(`seed ${progSeed} (${src}): bpfkit asm + prog run differs from the kernel`);
      try {
        assert.deepEqual(ours, kernel);
      } catch {
        failures.push(`seed ${progSeed} (${src}): kernel retval ${kernel.retval}, bpfkit ${ours.retval}; data_out ${
          JSON.stringify(kernel.data) === JSON.stringify(ours.data) ? 'equal' : 'differs'}`);
      }
    }
  } finally {
    for (let i = 0; i < count; i++) if (existsSync(`${pinBase}_${i}`)) rmSync(`${pinBase}_${i}`, { force: true });
    if (failures.length === 0 && !process.env.BPFKIT_DIFF_KEEP) rmSync(dir, { recursive: true, force: true });
  }
  assert.deepEqual(failures, [], `programs kept in ${dir}`);
});

test('the generator is deterministic for a seed', () => {
  assert.equal(generateProgram(new Rng(7)), generateProgram(new Rng(7)));
  assert.notEqual(generateProgram(new Rng(7)), generateProgram(new Rng(8)));
});

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
import { Rng, generateProgram, randomPacket } from './kernel_xdp_lib.js';

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

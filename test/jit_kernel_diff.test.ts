/*
 * The kernel differential of kernel_xdp_diff.test.ts (its program generator, other seeds), with
 * both engines named explicitly: `prog run ... engine jit` and `engine interp` must each agree
 * with the kernel's `bpftool prog run` on the return value and data_out. Skipped (with the
 * reason) without root, bpftool, bpffs or llvm-mc.
 *
 * BPFKIT_JIT_DIFF_SEED (default 11) and BPFKIT_JIT_DIFF_COUNT (default 40) pick the programs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCliCaptured } from '../src/cli/main.js';
import { Rng, generateProgram, randomPacket } from './kernel_xdp_lib.js';
import { LLVM_MC, missingKernel, missingTool, runTool } from './oracles.js';

interface Outcome { retval: number; data: number[] }

async function bpfkit(obj: string, pkt: string, engine: 'jit' | 'interp'): Promise<Outcome> {
  const r = await runCliCaptured(['-j', 'prog', 'run', 'file', obj, 'data_in', pkt, 'data_out', '-', 'engine', engine]);
  assert.equal(r.status, 0, `bpfkit prog run (engine ${engine}) failed: ${r.stdout}${r.stderr}`);
  const j = JSON.parse(r.stdout) as { retval: number; data_out: number[] };
  return { retval: j.retval, data: j.data_out };
}

function kernel(obj: string, pkt: string, pin: string): Outcome {
  runTool('bpftool', ['prog', 'load', obj, pin]);
  try {
    const j = JSON.parse(runTool('bpftool', ['-j', 'prog', 'run', 'pinned', pin, 'data_in', pkt, 'data_out', '-'])) as
      { retval: number; data_out: number[] };
    return { retval: j.retval, data: j.data_out };
  } finally {
    rmSync(pin, { force: true });
  }
}

test('random XDP programs: engine jit and engine interp both agree with the kernel', async (t) => {
  const why = missingKernel() ?? missingTool(LLVM_MC);
  if (why) { t.skip(why); return; }
  const seed = Number(process.env.BPFKIT_JIT_DIFF_SEED ?? 11);
  const count = Number(process.env.BPFKIT_JIT_DIFF_COUNT ?? 40);
  const dir = mkdtempSync(join(tmpdir(), 'bpfkit-jit-diff-'));
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
      const want = kernel(obj, pkt, `/sys/fs/bpf/bpfkit_jit_diff_${process.pid}_${i}`);
      for (const engine of ['jit', 'interp'] as const) {
        const got = await bpfkit(obj, pkt, engine);
        if (JSON.stringify(got) !== JSON.stringify(want)) {
          failures.push(`seed ${progSeed}, engine ${engine}: retval ${got.retval} (kernel ${want.retval}), data_out ${
            JSON.stringify(got.data) === JSON.stringify(want.data) ? 'equal' : 'differs'}`);
        }
      }
    }
  } finally {
    if (failures.length === 0) rmSync(dir, { recursive: true, force: true });
  }
  assert.deepEqual(failures, [], `programs kept in ${dir}`);
});

/*
 * Map benchmark (part of `npm run bench`): ns per bpf(2)-style update/lookup on hash and array
 * maps through bpfkit's API, and a program doing 100 array lookups-and-increments per run on
 * both engines — beside the kernel doing the same (bench/native/map_syscalls.c, compiled with cc
 * at bench time, bpf(2) syscalls and BPF_PROG_TEST_RUN), as ratios from the same run.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Bpf, u32, u64 } from '../src/api/index.js';
import { createHelperHost } from '../src/helpers/host.js';
import { registerHelpers } from '../src/helpers/index.js';
import { encodeProgram, type Insn, makeInsn, makeLdImm64 } from '../src/isa/insn.js';
import { BPF_PSEUDO_MAP_FD } from '../src/isa/opcodes.js';
import { interpret } from '../src/vm/interpreter.js';
import { compileJit } from '../src/vm/jit/jit.js';

const ENTRIES = 1024;
const OPS = 200_000;
const RUNS = 20_000;

/** 100 rounds of: key = i & 7; v = lookup(array, &key); if (v) *v += 1. Returns XDP_PASS. */
function lookupProgram(mapRef: [Insn, Insn]): Insn[] {
  return [
    makeInsn(0xb7, 6, 0, 0, 0), // r6 = 0
    makeInsn(0xbf, 7, 6), // loop: r7 = r6
    makeInsn(0x57, 7, 0, 0, 7), // r7 &= 7
    makeInsn(0x63, 10, 7, -4), // *(u32 *)(r10 - 4) = r7
    makeInsn(0xbf, 2, 10), // r2 = r10
    makeInsn(0x07, 2, 0, 0, -4), // r2 += -4
    ...mapRef, // r1 = map ll
    makeInsn(0x85, 0, 0, 0, 1), // call bpf_map_lookup_elem
    makeInsn(0x15, 0, 0, 3, 0), // if r0 == 0 goto +3
    makeInsn(0x79, 1, 0, 0), // r1 = *(u64 *)(r0 + 0)
    makeInsn(0x07, 1, 0, 0, 1), // r1 += 1
    makeInsn(0x7b, 0, 1, 0), // *(u64 *)(r0 + 0) = r1
    makeInsn(0x07, 6, 0, 0, 1), // r6 += 1
    makeInsn(0xa5, 6, 0, -14, 100), // if r6 < 100 goto loop
    makeInsn(0xb7, 0, 0, 0, 2), // r0 = XDP_PASS
    makeInsn(0x95),
  ];
}

function nsPerOp(ops: number, fn: (i: number) => void): number {
  for (let i = 0; i < Math.min(ops, 20_000); i++) fn(i); // let V8 optimise first
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < ops; i++) fn(i);
  return Number(process.hrtime.bigint() - t0) / ops;
}

function kernelFigures(progBin: string): Record<string, number> | string {
  if (process.getuid?.() !== 0) return 'not root';
  const dir = mkdtempSync(join(tmpdir(), 'bpfkit-bench-maps-'));
  try {
    const exe = join(dir, 'map_syscalls');
    const src = fileURLToPath(new URL('../../bench/native/map_syscalls.c', import.meta.url));
    const cc = spawnSync('cc', ['-O2', '-o', exe, src], { encoding: 'utf8' });
    if (cc.status !== 0) return `cc failed: ${(cc.stderr || String(cc.error)).trim().split('\n')[0]}`;
    return JSON.parse(execFileSync(exe, [progBin], { encoding: 'utf8' })) as Record<string, number>;
  } catch (err) {
    return `kernel run failed: ${(err as Error).message.split('\n')[0]}`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function main(): void {
  const bpf = new Bpf();
  const hash = bpf.createMap({ type: 'hash', keySize: 4, valueSize: 8, maxEntries: ENTRIES, name: 'bench_hash' });
  const array = bpf.createMap({ type: 'array', keySize: 4, valueSize: 8, maxEntries: ENTRIES, name: 'bench_array' });
  const keys = Array.from({ length: ENTRIES }, (_, i) => u32.encode(i));
  const one = u64.encode(1n);
  const ours: Record<string, number> = {
    hash_update: nsPerOp(OPS, (i) => hash.update(keys[i % ENTRIES], one)),
    hash_lookup: nsPerOp(OPS, (i) => hash.lookup(keys[i % ENTRIES])),
    array_update: nsPerOp(OPS, (i) => array.update(keys[i % ENTRIES], one)),
    array_lookup: nsPerOp(OPS, (i) => array.lookup(keys[i % ENTRIES])),
  };

  const kernel = bpf.kernel;
  const arrayMap = kernel.mapOf(kernel.getFdById('map', array.info().id)).map;
  registerHelpers(kernel.vm.helpers, createHelperHost());
  const prog = lookupProgram(makeLdImm64(1, BigInt(arrayMap.handleAddr)));
  const jit = compileJit(kernel.vm, prog);
  const progNs = {
    interp: nsPerOp(RUNS, () => interpret(kernel.vm, prog)),
    jit: nsPerOp(RUNS, () => jit.runCtx(0)),
  };

  const dir = mkdtempSync(join(tmpdir(), 'bpfkit-bench-prog-'));
  const progBin = join(dir, 'lookup.bin');
  writeFileSync(progBin, encodeProgram(lookupProgram(makeLdImm64(1, 0n, BPF_PSEUDO_MAP_FD))));
  const ref = kernelFigures(progBin);
  rmSync(dir, { recursive: true, force: true });

  const fmt = (ns: number): string => `${ns.toFixed(0)} ns`;
  const ratio = (a: number, b: number | undefined): string => (b ? `${(a / b).toFixed(1)}x` : '-');
  const k = typeof ref === 'string' ? undefined : ref;
  console.log(`\nmaps: bpfkit API and programs vs the kernel (${k ? 'bpf(2) syscalls and BPF_PROG_TEST_RUN' : `kernel unavailable: ${ref}`})`);
  const rows = [['operation', 'bpfkit', 'kernel', 'bpfkit/kernel']];
  for (const name of ['hash_update', 'hash_lookup', 'array_update', 'array_lookup']) {
    rows.push([`${name} (API vs syscall)`, fmt(ours[name]), k ? fmt(k[name]) : '-', ratio(ours[name], k?.[name])]);
  }
  rows.push(['100 array lookups in a program, interp', fmt(progNs.interp), k ? fmt(k.prog_100_lookups) : '-', ratio(progNs.interp, k?.prog_100_lookups)]);
  rows.push(['100 array lookups in a program, jit', fmt(progNs.jit), k ? fmt(k.prog_100_lookups) : '-', ratio(progNs.jit, k?.prog_100_lookups)]);
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  for (const r of rows) console.log(r.map((cell, c) => cell.padEnd(widths[c])).join('  '));
  console.log('(the kernel\'s syscall figures include the user/kernel crossing that an in-process API does not pay)');
}

main();

/*
 * `npm run bench`: ns per run of bpfkit's engines on a few standard programs, beside the same
 * object run by the Linux kernel (`bpftool prog run ... repeat N`, JIT-compiled) in the same run
 * when this machine can (root, bpftool, bpffs), reported as ratios.
 *
 * Both sides run the very object bpfkit assembles (bench/programs/*.s -> `bpfkit asm`), over the
 * same 64-byte Ethernet/IPv4/UDP packet, and both report the average of `repeat` runs measured
 * around the whole loop, as BPF_PROG_TEST_RUN does. Return values must agree. bpfkit runs each
 * program with both engines (`engine jit`, `engine interp`); its figure is the second pass, after
 * V8 has optimised the interpreter and tiered up the wasm. The JIT's compile time is reported per
 * 1,000 instructions, over a generated 10,000-instruction program.
 *
 * Options: --scale X multiplies every repeat count (default 1); --only NAME runs one program;
 * --batches N sets the number of measured batches per engine (default 5; medians, min-max shown).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCliCaptured } from '../src/cli/main.js';
import { type Insn, makeInsn } from '../src/isa/insn.js';
import { compileJit } from '../src/vm/jit/index.js';
import { Vm } from '../src/vm/vm.js';

interface Bench {
  name: string;
  what: string;
  repeat: number;
  /** uBPF's interpreter on these machines, as issue #2 quotes it (ns), where known. */
  ubpfNs?: number;
}

const BENCHES: Bench[] = [
  { name: 'ret_const', what: 'return a constant', repeat: 200_000 },
  { name: 'parse_udp', what: 'Ethernet/IPv4/UDP parse, 64-byte packet', repeat: 100_000, ubpfNs: 400 },
  { name: 'hash_loop', what: '1000-iteration 64-bit hash loop', repeat: 2_000, ubpfNs: 106_000 },
  { name: 'divmod_loop', what: '1000-iteration div/mod loop', repeat: 2_000 },
];

const PROGRAMS = fileURLToPath(new URL('../../bench/programs/', import.meta.url));

/** The 64-byte UDP packet (dst port 9) every benchmark runs over. */
function udpPacket(): Uint8Array {
  const hex = 'ffffffffffff' + '020000000001' + '0800' + // Ethernet
    '4500003200004000401100000a0000010a000002' + // IPv4, 50 bytes, UDP
    '04d20009001e0000'; // UDP 1234 -> 9, 30 bytes
  const pkt = new Uint8Array(64);
  pkt.set(Buffer.from(hex, 'hex'));
  for (let i = 42; i < 64; i++) pkt[i] = i - 42;
  return pkt;
}

async function cli(args: string[]): Promise<string> {
  const r = await runCliCaptured(args);
  if (r.status !== 0) throw new Error(`bpfkit ${args.join(' ')}: ${r.stderr || r.stdout}`);
  return r.stdout;
}

interface Measure { retval: number; ns: number }

async function runBpfkit(obj: string, pkt: string, repeat: number, engine: 'jit' | 'interp'): Promise<Measure> {
  const out = JSON.parse(await cli(['-j', 'prog', 'run', 'file', obj, 'data_in', pkt, 'repeat', String(repeat), 'engine', engine]));
  return { retval: out.retval, ns: out.duration };
}

function kernelUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'not root';
  if (spawnSync('bpftool', ['version']).status !== 0) return 'bpftool missing';
  if (spawnSync('mountpoint', ['-q', '/sys/fs/bpf']).status !== 0) return 'bpffs not mounted';
  return undefined;
}

function runKernel(obj: string, pkt: string, repeat: number, name: string): Measure {
  const pin = `/sys/fs/bpf/bpfkit_bench_${process.pid}_${name}`;
  execFileSync('bpftool', ['prog', 'load', obj, pin], { stdio: 'pipe' });
  try {
    const out = execFileSync('bpftool', ['-j', 'prog', 'run', 'pinned', pin, 'data_in', pkt, 'repeat', String(repeat)],
      { encoding: 'utf8' });
    const parsed = JSON.parse(out) as { retval: number; duration: number };
    return { retval: parsed.retval, ns: parsed.duration };
  } finally {
    rmSync(pin, { force: true });
  }
}

function fmtNs(ns: number): string {
  return ns >= 10_000 ? `${(ns / 1000).toFixed(1)} us` : `${ns} ns`;
}

function ratio(a: number, b: number): string {
  return `${(a / Math.max(b, 1)).toFixed(2)}x`;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[s.length >> 1] : Math.round((s[s.length / 2 - 1] + s[s.length / 2]) / 2);
}

function geomean(xs: number[]): number {
  return Math.exp(xs.reduce((s, x) => s + Math.log(x), 0) / xs.length);
}

/**
 * A straight-line-and-branches program of `n` instructions (ALU, stack stores and loads, forward
 * jumps), for the JIT's compile time.
 */
function syntheticProgram(n: number): Insn[] {
  const insns: Insn[] = [makeInsn(0xb7, 0, 0, 0, 0)];
  for (let r = 1; r <= 9; r++) insns.push(makeInsn(0xb7, r, 0, 0, r));
  while (insns.length < n - 1) {
    const i = insns.length;
    const d = i % 10;
    switch (i % 7) {
      case 0: insns.push(makeInsn(0x0f, d, (i * 7) % 10)); break; // add
      case 1: insns.push(makeInsn(0x2f, d, (i * 3) % 10)); break; // mul
      case 2: insns.push(makeInsn(0x7b, 10, d, -8 * (1 + (i % 8)))); break; // stxdw
      case 3: insns.push(makeInsn(0x79, d, 10, -8 * (1 + (i % 8)))); break; // ldxdw
      case 4: insns.push(makeInsn(0x5d, d, (i + 1) % 10, 2)); break; // jne +2
      case 5: insns.push(makeInsn(0x3f, d, (i * 5) % 10)); break; // div
      default: insns.push(makeInsn(0xa7, d, 0, 0, i)); break; // xor
    }
  }
  insns.push(makeInsn(0x95));
  return insns;
}

function compileTimePer1000(): string {
  const n = 10_000;
  // Distinct programs (the JIT caches modules by content); the first compile also warms the
  // compiler itself, as in a fresh process.
  const vm = new Vm();
  const compile = (k: number): { ms: number; size: number } => {
    const insns = syntheticProgram(n);
    insns[0] = makeInsn(0xb7, 0, 0, 0, k);
    const p = compileJit(vm, insns);
    return { ms: p.compileMs, size: p.wasmSize };
  };
  const cold = compile(-1);
  for (let k = 0; k < 10; k++) compile(100 + k); // let V8 optimise the compiler, as a long-running process would have
  const times: number[] = [];
  for (let k = 0; k < 9; k++) times.push(compile(k).ms);
  times.sort((a, b) => a - b);
  const per = (ms: number): string => (ms / (n / 1000)).toFixed(3);
  return `JIT compile time per 1,000 instructions (${n}-instruction program, ${(cold.size / 1024).toFixed(0)} KiB of wasm): ` +
    `${per(times[4])} ms (median of 9 after 10 warm-up compiles, min ${per(times[0])}), first compile in the process ${per(cold.ms)} ms`;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const scaleAt = argv.indexOf('--scale');
  const scale = scaleAt >= 0 ? Number(argv[scaleAt + 1]) : 1;
  const onlyAt = argv.indexOf('--only');
  const only = onlyAt >= 0 ? argv[onlyAt + 1] : undefined;
  if (!(scale > 0)) throw new Error('--scale needs a positive number');
  const batchesAt = argv.indexOf('--batches');
  const batches = batchesAt >= 0 ? Number(argv[batchesAt + 1]) : 5;
  if (!(Number.isInteger(batches) && batches > 0)) throw new Error('--batches needs a positive integer');

  const dir = mkdtempSync(join(tmpdir(), 'bpfkit-bench-'));
  const pkt = join(dir, 'udp64.bin');
  writeFileSync(pkt, udpPacket());
  const noKernel = kernelUnavailable();
  console.log(`bpfkit benchmarks (Node ${process.version}); reference: ${noKernel ? `kernel unavailable (${noKernel})` : 'Linux kernel via bpftool prog run (JIT)'}`);
  const rows: string[][] = [[
    'program', 'repeat', 'bpfkit jit', 'bpfkit interp', 'kernel', 'jit/kernel', 'interp/kernel', 'uBPF interp (issue #2)', 'interp/uBPF',
  ]];
  const jitRatios: number[] = [];
  const interpRatios: number[] = [];
  try {
    for (const bench of BENCHES) {
      if (only && bench.name !== only) continue;
      const repeat = Math.max(1, Math.round(bench.repeat * scale));
      const obj = join(dir, `${bench.name}.o`);
      await cli(['asm', join(PROGRAMS, `${bench.name}.s`), '-o', obj]);
      process.stdout.write(`  ${bench.name}: ${bench.what} ... `);
      // A first pass lets V8 optimise the interpreter and tier up the wasm (as a long-running
      // process would have); then `batches` rounds of interp, jit and kernel, interleaved so load
      // on the machine hits all three alike; each figure is the median of its batches.
      await runBpfkit(obj, pkt, repeat, 'interp');
      await runBpfkit(obj, pkt, repeat, 'jit');
      const samples: { interp: number[]; jit: number[]; kernel: number[] } = { interp: [], jit: [], kernel: [] };
      let retval = -1;
      for (let b = 0; b < batches; b++) {
        const i = await runBpfkit(obj, pkt, repeat, 'interp');
        const j = await runBpfkit(obj, pkt, repeat, 'jit');
        if (j.retval !== i.retval) throw new Error(`${bench.name}: the JIT returned ${j.retval}, the interpreter ${i.retval}`);
        const k = noKernel ? undefined : runKernel(obj, pkt, repeat, bench.name);
        if (k && k.retval !== i.retval) throw new Error(`${bench.name}: bpfkit returned ${i.retval}, the kernel ${k.retval}`);
        retval = i.retval;
        samples.interp.push(i.ns);
        samples.jit.push(j.ns);
        if (k) samples.kernel.push(k.ns);
      }
      const interp = { ns: median(samples.interp) };
      const jit = { ns: median(samples.jit) };
      const kernel = samples.kernel.length > 0 ? { ns: median(samples.kernel) } : undefined;
      console.log(`retval ${retval}`);
      if (kernel) {
        jitRatios.push(Math.max(jit.ns, 1) / Math.max(kernel.ns, 1));
        interpRatios.push(Math.max(interp.ns, 1) / Math.max(kernel.ns, 1));
      }
      const spread = (xs: number[]): string => `${fmtNs(median(xs))} (${fmtNs(Math.min(...xs))}-${fmtNs(Math.max(...xs))})`;
      rows.push([
        bench.name, String(repeat), spread(samples.jit), spread(samples.interp),
        kernel ? spread(samples.kernel) : '-',
        kernel ? ratio(jit.ns, kernel.ns) : '-',
        kernel ? ratio(interp.ns, kernel.ns) : '-',
        bench.ubpfNs ? fmtNs(bench.ubpfNs) : '-',
        bench.ubpfNs ? ratio(interp.ns, bench.ubpfNs) : '-',
      ]);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  if (jitRatios.length > 0) {
    rows.push(['geomean', '', '', '', '', `${geomean(jitRatios).toFixed(2)}x`, `${geomean(interpRatios).toFixed(2)}x`, '', '']);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  for (const r of rows) console.log(r.map((cell, c) => cell.padEnd(widths[c])).join('  '));
  console.log('(ratios < 1 mean bpfkit is faster; uBPF figures are the reference numbers quoted in issue #2, not measured here)');
  console.log(compileTimePer1000());
}

main().catch((err: Error) => {
  console.error(`Error: ${err.message}`);
  process.exitCode = 1;
});

/*
 * Verification time: bpfkit's verifier on every corpus test it models (../shared/verifier-corpus;
 * verify() alone, at log level 0 as the kernel's figures were taken with statistics only) beside
 * the `verification time N usec` Linux 6.18 printed for the same test, the three longest of them
 * on their own, and on the large loader fixture beside the kernel's own figure from
 * `bpftool -d prog load` (root).
 *   node dist/bench/verifier.js [--runs N] [--level L (bpfkit's log level, 0..2)]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import '../src/api/index.js';
import { Bpf } from '../src/kernel/bpf.js';
import { loadObjectIntoKernel } from '../src/kernel/load.js';
import { verify } from '../src/verifier/verifier.js';
import { loadCorpus, prepareCorpusTest, skipReason } from '../test/verifier_corpus_lib.js';

const runsAt = process.argv.indexOf('--runs');
const RUNS = runsAt > 0 ? Number(process.argv[runsAt + 1]) : 5;
// the corpus' kernel times were taken at log level 4 (statistics only), which is bpfkit's level 0
const levelAt = process.argv.indexOf('--level');
const LEVEL = levelAt > 0 ? Number(process.argv[levelAt + 1]) : 0;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const kernelUsec = (log: string | undefined): number | undefined => {
  const m = /verification time (\d+) usec/.exec(log ?? '');
  return m ? Number(m[1]) : undefined;
};

const corpusPath = fileURLToPath(new URL('../../../shared/verifier-corpus/test_verifier.jsonl', import.meta.url));
if (!existsSync(corpusPath)) {
  console.log(`verifier corpus: skipped (${corpusPath} not found)`);
} else {
  const tests = loadCorpus(corpusPath).filter((t) => !skipReason(t));
  const ratios: number[] = [];
  const each: { id: number; descr: string; us: number; k: number }[] = [];
  let ours = 0, theirs = 0, n = 0;
  for (const [i, t] of tests.entries()) {
    const k = kernelUsec(t.observed.log_stats);
    if (k === undefined || k === 0) continue;
    // verify() alone, as the kernel's figure is do_check() and friends: decoding and maps come first
    const { insns, options } = prepareCorpusTest(t, LEVEL);
    const times: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      const t0 = performance.now();
      verify(insns, options);
      times.push((performance.now() - t0) * 1000);
    }
    const us = median(times);
    ours += us; theirs += k; n++;
    ratios.push(us / k);
    each.push({ id: t.id, descr: t.descr, us, k });
    if (process.stderr.isTTY && i % 50 === 0) process.stderr.write(`\rverifier corpus: ${i}/${tests.length}`);
  }
  if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
  const geo = Math.exp(ratios.reduce((s, r) => s + Math.log(r), 0) / ratios.length);
  const sorted = [...ratios].sort((a, b) => a - b);
  console.log(`verifier corpus (log level ${LEVEL}): ${n} programs, bpfkit ${(ours / 1000).toFixed(1)} ms total vs kernel ${(theirs / 1000).toFixed(1)} ms ` +
    `(ratio ${(ours / theirs).toFixed(2)}x; per program geomean ${geo.toFixed(2)}x, p10 ${sorted[Math.floor(n * 0.1)].toFixed(2)}x, ` +
    `p90 ${sorted[Math.floor(n * 0.9)].toFixed(2)}x; median of ${RUNS} runs each)`);
  // the longest walks (the 1M-instruction infinite loop first), each against the kernel's time
  for (const e of [...each].sort((a, b) => b.us - a.us).slice(0, 3)) {
    console.log(`  #${e.id} ${e.descr}: bpfkit ${(e.us / 1000).toFixed(1)} ms vs kernel ${(e.k / 1000).toFixed(1)} ms (ratio ${(e.us / e.k).toFixed(2)}x)`);
  }
}

// A large object: verification inside the load pipeline.
const big = fileURLToPath(new URL('../../test/fixtures/loader/big.o', import.meta.url));
const bytes = new Uint8Array(readFileSync(big));
const loads: number[] = [];
for (let r = 0; r < RUNS; r++) {
  const bpf = new Bpf();
  const t0 = performance.now();
  try {
    loadObjectIntoKernel(bpf, bytes, 'big.o').close();
  } catch (err) {
    console.log(`big.o: bpfkit refused it: ${(err as Error).message}`);
    process.exit(1);
  }
  loads.push(performance.now() - t0);
  bpf.shutdown();
}
let kernelLine = 'kernel: skipped (needs root and bpftool)';
if (process.getuid?.() === 0 && spawnSync('bpftool', ['version']).status === 0) {
  const pin = `/sys/fs/bpf/bpfkit_bench_verifier_${process.pid}`;
  const times: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const res = spawnSync('bpftool', ['-d', 'prog', 'load', big, pin], { encoding: 'utf8' });
    rmSync(pin, { force: true });
    const us = kernelUsec(res.stderr);
    if (us === undefined) break;
    times.push(us);
  }
  if (times.length) kernelLine = `kernel verification time ${(median(times) / 1000).toFixed(2)} ms (ratio ${(median(loads) / (median(times) / 1000)).toFixed(2)}x)`;
}
console.log(`big.o: bpfkit load incl. verification ${median(loads).toFixed(2)} ms; ${kernelLine}`);

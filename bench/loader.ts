/*
 * Load time of a large object (test/fixtures/loader/big.o: ~1,400 instructions, 5 BTF maps,
 * global data, a subprogram): bpfkit's open + load (verifier included) into a fresh Bpf beside
 * `bpftool prog load` of the same object (process start, libbpf, the kernel's verifier and JIT),
 * where bpftool and root are available.
 *   node dist/bench/loader.js
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import '../src/api/index.js';
import { Bpf } from '../src/kernel/bpf.js';
import { loadObjectIntoKernel } from '../src/kernel/load.js';
import { openObject } from '../src/loader/object.js';

const file = new URL('../../test/fixtures/loader/big.o', import.meta.url).pathname;
const bytes = new Uint8Array(readFileSync(file));
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const openTimes: number[] = [];
const loadTimes: number[] = [];
for (let i = 0; i < 50; i++) {
  let t = performance.now();
  openObject(bytes, 'big.o');
  openTimes.push(performance.now() - t);
  const bpf = new Bpf();
  t = performance.now();
  loadObjectIntoKernel(bpf, bytes, 'big.o').close();
  loadTimes.push(performance.now() - t);
  bpf.shutdown();
}
const insns = openObject(bytes, 'big.o').programs.reduce((n, p) => n + p.insns.length, 0);
console.log(`big.o: ${insns} instructions`);
console.log(`bpfkit open:        ${median(openTimes).toFixed(2)} ms (median of 50)`);
console.log(`bpfkit open + load: ${median(loadTimes).toFixed(2)} ms (median of 50)`);

if (process.getuid?.() === 0 && spawnSync('bpftool', ['version']).status === 0) {
  const times: number[] = [];
  const pin = `/sys/fs/bpf/bpfkit_bench_${process.pid}`;
  for (let i = 0; i < 10; i++) {
    const t = performance.now();
    const r = spawnSync('bpftool', ['prog', 'load', file, pin]);
    times.push(performance.now() - t);
    rmSync(pin, { force: true });
    if (r.status !== 0) { console.log(`bpftool prog load failed: ${r.stderr}`); break; }
  }
  console.log(`bpftool prog load:  ${median(times).toFixed(2)} ms (median of ${times.length}, process included)`);
} else {
  console.log('bpftool prog load:  skipped (needs root and bpftool)');
}

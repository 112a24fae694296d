/*
 * Level-2 verifier logs of the C fixtures in test/fixtures/verifier/ against the running kernel:
 * `bpftool -d prog load` has libbpf load at log level 1|2|4 and print the log; bpfkit verifies the
 * same object (BTF line info included) at level 2. Timing lines and btf_prepare_func_args()'s
 * "arg#0 reference type" notes aside, the logs must be equal line for line. Skips without root,
 * BPF or bpftool.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { test } from 'node:test';
import '../src/api/index.js';
import { Bpf } from '../src/kernel/bpf.js';
import { loadObjectIntoKernel } from '../src/kernel/load.js';
import { loadVerifyOptions } from '../src/kernel/verify.js';
import { verify } from '../src/verifier/verifier.js';
import { findTool, missingKernel, missingTool } from './oracles.js';
import { comparableFixtureLog } from './verifier_corpus_lib.js';

const FIXTURES = new URL('../../test/fixtures/verifier/', import.meta.url).pathname;

/** Fixtures whose level-2 log is not (yet) the kernel's, and why; every other fixture must match. */
const DIFFERENT: Record<string, string> = {};

function bpfkitLog2(name: string): string {
  let log = '';
  loadObjectIntoKernel(new Bpf(), new Uint8Array(readFileSync(FIXTURES + name + '.o')), name + '.o', {
    verifier: (req) => { log = verify(req.insns, loadVerifyOptions(req, 2)).log; },
  });
  return log;
}

function kernelLog2(name: string): string {
  const pin = `/sys/fs/bpf/bpfkit_l2_${process.pid}_${name}`;
  try {
    const r = spawnSync(findTool('bpftool')!, ['-d', 'prog', 'load', FIXTURES + name + '.o', pin], { encoding: 'utf8' });
    const log = /-- BEGIN PROG LOAD LOG --\n([\s\S]*?)-- END PROG LOAD LOG --/.exec(r.stderr)?.[1];
    assert.ok(log, `bpftool -d prog load ${name}.o printed no verifier log:\n${r.stderr.slice(-2000)}`);
    return log;
  } finally {
    rmSync(pin, { force: true });
  }
}

const fixtures = readdirSync(FIXTURES).filter((f) => f.endsWith('.o')).map((f) => f.slice(0, -2)).sort();

test('fixtures: the level-2 exceptions name existing fixtures', () => {
  for (const name of Object.keys(DIFFERENT)) assert.ok(fixtures.includes(name), name);
});

for (const name of fixtures.filter((f) => !(f in DIFFERENT))) {
  test(`fixtures: level-2 log equals the running kernel's: ${name}`, (t) => {
    const why = missingKernel() ?? missingTool('bpftool');
    if (why) return t.skip(why);
    const ours = comparableFixtureLog(bpfkitLog2(name)), theirs = comparableFixtureLog(kernelLog2(name));
    // the liveness pass ran and printed: a fixture without stack use would prove little
    assert.ok(theirs.some((l) => l.includes('Live regs before insn:')), name);
    assert.deepEqual(ours, theirs, name);
  });
}

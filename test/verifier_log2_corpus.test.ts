/*
 * Level-2 logs of the verifier corpus programs the raw loader can load (no maps, no BTF, no
 * expected attach type or program flags) against the running kernel: each is loaded with
 * BPF_PROG_LOAD at log level 2 (kernel_bpf_loader.ts) and verified by bpfkit at level 2; whole logs
 * are compared (map addresses and timing lines aside). The floor sits just below the measured rate
 * so a regression fails. Programs the kernel takes over 20k instructions for are left out (seconds,
 * not minutes). Skips without root/cc or without the corpus.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { verify } from '../src/verifier/verifier.js';
import { kernelLoadAll, kernelLoader } from './kernel_bpf_loader.js';
import { decodeHex, loadCorpus, normalizedLog, progFlags, skipReason } from './verifier_corpus_lib.js';

const CORPUS = fileURLToPath(new URL('../../../shared/verifier-corpus/test_verifier.jsonl', import.meta.url));
/** 836 of 867 equal when written (Linux 6.18.44) */
const EQUAL_FLOOR = 0.96;

const processed = (log: string | undefined): number => Number(/processed (\d+) insns/.exec(log ?? '')?.[1] ?? 0);

test('verifier corpus without maps: level-2 logs equal the running kernel\'s', (t) => {
  if (!existsSync(CORPUS)) return t.skip(`${CORPUS} not present`);
  const { exe, why } = kernelLoader();
  if (!exe) return t.skip(why!);
  const tests = loadCorpus(CORPUS).filter((c) => !skipReason(c) && !!c.insns?.length && Object.keys(c.fixups).length === 0 && !c.expected_attach_type &&
    progFlags(c.flags) === 0 && processed(c.observed.log_stats) <= 20000);
  const programs = tests.map((c) => ({ insns: decodeHex(c.insns!), progType: c.prog_type }));
  const kernel = kernelLoadAll(exe, programs, 2);
  const differ: string[] = [];
  tests.forEach((c, i) => {
    const ours = normalizedLog(verify(programs[i].insns, { progType: c.prog_type, logLevel: 2, funcInfo: false }).log), theirs = normalizedLog(kernel[i].log);
    let j = 0;
    while (j < ours.length && ours[j] === theirs[j]) j++;
    if (j < ours.length || ours.length !== theirs.length) differ.push(`#${c.id} line ${j}: bpfkit "${ours[j] ?? ''}", kernel "${theirs[j] ?? ''}"`);
  });
  const rate = (tests.length - differ.length) / tests.length;
  t.diagnostic(`level-2 logs equal ${tests.length - differ.length}/${tests.length}`);
  assert.ok(tests.length > 500, `only ${tests.length} corpus programs qualify`);
  assert.ok(rate >= EQUAL_FLOOR, `level-2 agreement ${rate.toFixed(3)} below ${EQUAL_FLOOR}:\n${differ.join('\n')}`);
});

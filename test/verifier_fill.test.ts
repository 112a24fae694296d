/*
 * test_verifier.c's fill helpers as test/verifier_fill.ts ports them: glibc's rand() against a
 * compiled C program (skipped without cc), bpf_fill_rand_ld_dw()'s program shape against the ones
 * the kernel run generated and the corpus recorded, and ld_dw test 5 (generated, 1M instructions)
 * verified with the kernel's processed count.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { findTool } from './oracles.js';
import { decodeHex, kernelProcessed, loadCorpus, runCorpusTest, skipReason } from './verifier_corpus_lib.js';
import { fillRandLdDw, glibcRand, semiRand } from './verifier_fill.js';

const CORPUS = fileURLToPath(new URL('../../../shared/verifier-corpus/test_verifier.jsonl', import.meta.url));

test('glibcRand() gives glibc rand()\'s sequence after srand()', (t) => {
  if (!findTool('cc')) return t.skip('cc not installed');
  const dir = mkdtempSync(join(tmpdir(), 'bpfkit-rand-'));
  try {
    writeFileSync(join(dir, 'r.c'), '#include <stdio.h>\n#include <stdlib.h>\nint main(int c, char **v) { srand(atoi(v[1])); for (int i = 0; i < 2000; i++) printf("%d\\n", rand()); return 0; }\n');
    const cc = spawnSync('cc', ['-o', join(dir, 'r'), join(dir, 'r.c')]);
    assert.equal(cc.status, 0, cc.stderr?.toString());
    for (const seed of [1, 42, 1733600000]) {
      const want = spawnSync(join(dir, 'r'), [String(seed)], { encoding: 'utf8' }).stdout.trim().split('\n').map(Number);
      const rand = glibcRand(seed);
      assert.deepEqual(want.map(() => rand()), want, `seed ${seed}`);
    }
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('bpf_fill_rand_ld_dw() builds the programs the kernel run recorded (immediates aside)', (t) => {
  if (!existsSync(CORPUS)) return t.skip(`${CORPUS} not present`);
  const recorded = loadCorpus(CORPUS).filter((c) => c.fill_helper && c.descr.startsWith('ld_dw: xor semi-random') && c.insns?.length);
  assert.equal(recorded.length, 4);
  const shape = (i: { code: number; dst: number; src: number; off: number }): string => `${i.code}/${i.dst}/${i.src}/${i.off}`;
  for (const c of recorded) {
    const theirs = decodeHex(c.insns!);
    // the generator's bound (the test's .retval) may be any count the loop stops at: the program less its 4-instruction tail
    const ours = fillRandLdDw(theirs.length - 4, semiRand(glibcRand(1)));
    assert.deepEqual(ours.map(shape), theirs.map(shape), c.descr);
  }
});

test('ld_dw test 5 (generated): accepted after as many processed instructions as on Linux 6.18', (t) => {
  if (!existsSync(CORPUS)) return t.skip(`${CORPUS} not present`);
  const c = loadCorpus(CORPUS).find((x) => x.descr === 'ld_dw: xor semi-random 64 bit imms, test 5')!;
  assert.equal(skipReason(c), 'slow');
  assert.equal(skipReason(c, true), undefined);
  const r = runCorpusTest(c, 0);
  assert.equal(r.ok, c.observed.loaded);
  assert.equal(r.stats.insnProcessed, kernelProcessed(c));
});

/*
 * check_cfg messages and a few exact level-1 logs against Linux 6.18's (from the corpus).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { makeInsn } from '../src/isa/insn.js';
import { verify } from '../src/verifier/verifier.js';
import { loadCorpus, runCorpusTest } from './verifier_corpus_lib.js';

const mov = (dst: number, imm: number) => makeInsn(0xb7, dst, 0, 0, imm);
const ja = (off: number) => makeInsn(0x05, 0, 0, off);
const jeq = (dst: number, imm: number, off: number) => makeInsn(0x15, dst, 0, off, imm);
const exit = makeInsn(0x95);
const SOCKET_FILTER = 1;
const last = (log: string): string => log.trim().split('\n').slice(-2)[0];

test('check_cfg: the kernel messages and errno', () => {
  const cases: [ReturnType<typeof makeInsn>[], string][] = [
    [[mov(0, 0), ja(5), exit], 'jump out of range from insn 1 to 7'],
    [[mov(0, 0), exit, mov(0, 1), exit], 'unreachable insn 2'],
    [[mov(0, 0), jeq(0, 0, 0), mov(0, 1)], 'last insn is not an exit or jmp'],
    [[mov(0, 0), jeq(1, 0, 1), makeInsn(0x18, 2, 0, 0, 1), makeInsn(0), exit], 'jump into the middle of ldimm64 insn 2'],
  ];
  for (const [insns, msg] of cases) {
    const r = verify(insns, { progType: SOCKET_FILTER, logLevel: 1 });
    assert.equal(r.ok, false);
    assert.equal(r.errno, 22);
    assert.equal(last(r.log), msg);
  }
});

test('do_check: accepts a trivial program; R0 !read_ok; infinite loop; bounded loop', () => {
  assert.equal(verify([mov(0, 0), exit], { progType: SOCKET_FILTER }).ok, true);
  const r = verify([exit], { progType: SOCKET_FILTER, logLevel: 1 });
  assert.equal(last(r.log), 'R0 !read_ok');
  assert.equal(r.errno, 13);
  const inf = verify([mov(0, 0), jeq(0, 0, -1), exit], { progType: SOCKET_FILTER, logLevel: 1 });
  assert.match(inf.log, /infinite loop detected at insn 1/);
  // r0 = 0; loop: r0 += 1; if r0 != 10 goto loop; exit
  const loop = verify([mov(0, 0), makeInsn(0x07, 0, 0, 0, 1), makeInsn(0x55, 0, 0, -2, 10), exit], { progType: SOCKET_FILTER });
  assert.equal(loop.ok, true);
});

const CORPUS = fileURLToPath(new URL('../../../shared/verifier-corpus/test_verifier.jsonl', import.meta.url));
test('level-1 logs equal Linux 6.18 text for selected corpus programs', (t) => {
  if (!existsSync(CORPUS)) return t.skip('corpus not present');
  const tests = loadCorpus(CORPUS);
  const norm = (s: string): string => s.replace(/0xffff[0-9a-f]{12}/g, 'MAP');
  for (const id of [28, 33, 72, 125, 218, 241]) {
    const c = tests.find((x) => x.id === id)!;
    const r = runCorpusTest(c, 1);
    assert.equal(norm(r.log), norm(c.observed.log_level1 ?? ''), `#${id} ${c.descr}`);
  }
});

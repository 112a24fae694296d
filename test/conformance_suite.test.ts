/*
 * The bpf_conformance suite on the reference interpreter: every program in tests/ returns its
 * result, every file in negative/ is refused. Plus the .data parser, the uninitialized-register
 * precheck and the runner's verdicts on small hand-written files.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseConformanceFile } from '../src/conformance/data_file.js';
import { runConformanceDir } from '../src/conformance/node_runner.js';
import { findUninitializedRead } from '../src/conformance/precheck.js';
import { runConformanceProgram, runConformanceText } from '../src/conformance/runner.js';
import { assembleConformance } from '../src/isa/asm_conformance.js';
import { encodeProgram } from '../src/isa/insn.js';

const SUITE = fileURLToPath(new URL('../../../shared/conformance', import.meta.url));

test('every test passes and every negative file is refused', async (t) => {
  if (!existsSync(SUITE)) return t.skip(`${SUITE} not present (the shared conformance data)`);
  const outcomes = await runConformanceDir(SUITE);
  const failures = outcomes.filter((o) => !o.passed).map((o) => `${o.file}: ${o.reason}`);
  assert.deepEqual(failures, []);
  const positive = outcomes.filter((o) => o.kind === 'positive');
  const negative = outcomes.filter((o) => o.kind === 'negative');
  assert.equal(positive.length, 313);
  assert.equal(negative.length, 60);
  // each negative file is refused for the reason it was written for
  const stage = (name: string): string | undefined => negative.find((o) => o.file === `negative/${name}`)?.stage;
  assert.equal(stage('error.data'), 'precheck');
  assert.equal(stage('invalid_register.data'), 'assemble');
  assert.equal(stage('unused-exit-imm.data'), 'decode');
  assert.equal(stage('incorrect_return_value_high_bits.data'), 'result');
  assert.equal(stage('invalid_unknown_directive.data'), 'parse');
  assert.equal(stage('empty.data'), 'parse');
});

test('parses sections, comments, raw words and raw bytes', () => {
  const f = parseConformanceFile([
    '# header comment',
    '-- asm',
    'mov %r0, 1 # c',
    'exit',
    '-- raw',
    '0x00000001000000b7',
    '95 00 00 00 00 00 00 00',
    '-- mem',
    '00 01',
    'ff',
    '-- result',
    '0x1',
    '-- c',
    'int f() { return 1; }',
    '-- no register offset',
    'call instruction',
  ].join('\n'), 'x.data');
  assert.equal(f.asm?.split('\n')[2], 'mov %r0, 1 # c'); // keeps the file's line numbers
  assert.deepEqual([...f.raw!], [0xb7, 0, 0, 0, 1, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual([...f.mem], [0, 1, 0xff]);
  assert.equal(f.result, 1n);
  assert.equal(f.error, undefined);
  assert.deepEqual(f.unknownSections, []);
  assert.throws(() => parseConformanceFile('-- mem\nzz\n', 'bad.data'), /bad\.data:2: bad memory byte 'zz'/);
});

test('precheck finds reads of uninitialized registers', () => {
  const check = (src: string): string | undefined => {
    const u = findUninitializedRead(assembleConformance(src));
    return u && `${u.pc}:r${u.reg}`;
  };
  assert.equal(check('or %r0, %r10\nexit'), '0:r0');
  assert.equal(check('mov %r0, %r3\nexit'), '0:r3');
  assert.equal(check('mov %r0, %r1\nadd %r0, %r2\nexit'), undefined);
  assert.equal(check('exit'), '0:r0');
  // one path leaves r0 unset
  assert.equal(check('jeq %r1, 0, +1\nmov %r0, 1\nexit'), '2:r0');
  // r1-r5 are clobbered by calls; r6-r9 survive
  assert.equal(check('mov %r6, 1\ncall 5\nmov %r0, %r6\nexit'), undefined);
  assert.equal(check('call 5\nmov %r0, %r1\nexit'), '1:r1');
  // a subprogram sees what its caller passed
  assert.equal(check('mov %r3, 1\ncall local f\nexit\nf:\nmov %r0, %r3\nexit'), undefined);
  assert.equal(check('call local f\nexit\nf:\nmov %r0, %r4\nexit'), '2:r4');
  // cmpxchg reads r0; fetch defines its source
  assert.equal(check('lock cmpxchg [%r10-8], %r1\nexit'), '0:r0');
  assert.equal(check('mov %r3, 0\nstxdw [%r10-8], %r3\nlock xchg [%r10-8], %r3\nmov %r0, %r3\nexit'), undefined);
});

test('runner verdicts on positive and negative files', () => {
  const pos = runConformanceText('-- asm\nmov %r0, %r2\nexit\n-- mem\n01 02 03\n-- result\n0x3\n', 'tests/len.data');
  assert.deepEqual([pos.kind, pos.passed, pos.r0], ['positive', true, 3n]);
  const wrong = runConformanceText('-- asm\nmov %r0, 1\nexit\n-- result\n0x2\n', 'tests/wrong.data');
  assert.equal(wrong.passed, false);
  assert.match(wrong.reason!, /returned 0x1, expected 0x2/);
  const noResult = runConformanceText('-- asm\nmov %r0, 1\nexit\n', 'tests/nores.data');
  assert.equal(noResult.passed, false);
  const accepted = runConformanceText('-- asm\nmov %r0, 1\nexit\n-- error\nShould fail\n', 'neg.data');
  assert.equal(accepted.kind, 'negative');
  assert.equal(accepted.passed, false);
  assert.match(accepted.reason!, /was not refused/);
  const memFault = runConformanceText('-- asm\nldxdw %r0, [%r1+8]\nexit\n-- mem\n00\n-- result\n0x0\n', 'negative/oob.data');
  assert.deepEqual([memFault.passed, memFault.stage], [true, 'run']);
  const mismatch = runConformanceText('-- asm\nmov %r0, 2\nexit\n-- raw\n0x00000001000000b7\n0x0000000000000095\n-- result\n0x1\n', 'tests/m.data');
  assert.match(mismatch.reason!, /-- asm and -- raw give different programs/);
});

test('helper 5 (unwind) returns its argument, or stops the program on 0; callx calls it through a register', () => {
  const run = (src: string): bigint => runConformanceProgram(encodeProgram(assembleConformance(src)), new Uint8Array(0));
  assert.equal(run('mov %r1, 42\ncall 5\nexit'), 42n);
  assert.equal(run('mov %r1, 0\ncall 5\nmov %r0, 2\nexit'), 0n);
  assert.equal(run('mov %r1, -1\ncall 5\nmov %r0, 2\nexit'), 2n);
  assert.equal(run('mov %r1, 7\nmov %r2, 5\ncall %r2\nexit'), 7n);
  assert.throws(() => run('mov %r0, %r7\nexit'), /R7 !read_ok/);
});

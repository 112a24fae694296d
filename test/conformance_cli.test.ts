/*
 * `bpfkit conformance` and `bpfkit conformance-plugin`, run in-process through runCli().
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runCli, runCliCaptured } from '../src/cli/main.js';

const SUITE = fileURLToPath(new URL('../../../shared/conformance', import.meta.url));

async function cli(argv: string[], stdin = ''): Promise<{ code: number; out: string; err: string }> {
  const r = await runCliCaptured(argv, stdin);
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function fixtureDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'bpfkit-conf-'));
  mkdirSync(join(dir, 'tests'));
  mkdirSync(join(dir, 'negative'));
  writeFileSync(join(dir, 'tests', 'ok.data'), '-- asm\nmov32 %r0, 7\nexit\n-- result\n0x7\n');
  writeFileSync(join(dir, 'tests', 'bad.data'), '-- asm\nmov32 %r0, 7\nexit\n-- result\n0x8\n');
  writeFileSync(join(dir, 'negative', 'refused.data'), '-- asm\nmov %r0, %r11\nexit\n-- error\nInvalid register\n');
  writeFileSync(join(dir, 'negative', 'accepted.data'), '-- asm\nmov %r0, 0\nexit\n-- error\n');
  return dir;
}

test('conformance DIR reports failures of both kinds and the exact summary line', async () => {
  const dir = fixtureDir();
  try {
    const r = await cli(['conformance', dir]);
    assert.equal(r.code, 1);
    const lines = r.out.trimEnd().split('\n');
    assert.equal(lines.at(-1), '2 passed, 2 failed');
    assert.ok(lines.includes('FAIL tests/bad.data: returned 0x7, expected 0x8'), r.out);
    assert.ok(lines.some((l) => l.startsWith('FAIL negative/accepted.data [negative: must be refused]: was not refused')), r.out);
    assert.ok(lines.includes('positive tests: 1 passed, 1 failed'));
    assert.ok(lines.includes('negative tests (must be refused): 1 refused, 1 not refused'));
    const v = await cli(['conformance', dir, '-v']);
    assert.match(v.out, /^PASS negative\/refused\.data \[negative: must be refused\]: refused \(assemble\): .*Invalid register: %r11$/m);
    assert.match(v.out, /^PASS tests\/ok\.data: r0 = 0x7$/m);
    const j = await cli(['-j', 'conformance', dir]);
    const report = JSON.parse(j.out) as { passed: number; failed: number; failures: { file: string; kind: string }[] };
    assert.equal(j.code, 1);
    assert.deepEqual([report.passed, report.failed], [2, 2]);
    assert.deepEqual(report.failures.map((f) => [f.file, f.kind]), [['negative/accepted.data', 'negative'], ['tests/bad.data', 'positive']]);
    rmSync(join(dir, 'tests', 'bad.data'));
    rmSync(join(dir, 'negative', 'accepted.data'));
    const ok = await cli(['conformance', join(dir, 'tests')]);
    assert.deepEqual([ok.code, ok.out], [0, '1 passed, 0 failed\n']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('conformance DIR engine jit runs the same files on the JIT', async () => {
  const dir = fixtureDir();
  try {
    const r = await cli(['conformance', dir, 'engine', 'jit']);
    assert.equal(r.code, 1);
    assert.equal(r.out.trimEnd().split('\n').at(-1), '2 passed, 2 failed');
    assert.ok(r.out.includes('FAIL tests/bad.data: returned 0x7, expected 0x8'), r.out);
    const bad = await cli(['conformance', dir, 'engine', 'fast']);
    assert.equal(bad.err, "Error: expected 'interp' or 'jit' after 'engine', got: 'fast'?\n");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('conformance errors: missing DIR, empty folder', async () => {
  const none = await cli(['conformance']);
  assert.equal(none.code, 255);
  assert.match(none.err, /^Error: expected DIR/);
  const dir = mkdtempSync(join(tmpdir(), 'bpfkit-conf-'));
  try {
    const empty = await cli(['conformance', dir]);
    assert.match(empty.err, /^Error: no \.data files under/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('conformance over the shared suite ends with 373 passed, 0 failed', async (t) => {
  if (!existsSync(SUITE)) return t.skip(`${SUITE} not present (the shared conformance data)`);
  const r = await cli(['conformance', SUITE]);
  assert.equal(r.code, 0, r.out);
  assert.equal(r.out.trimEnd().split('\n').at(-1), '373 passed, 0 failed');
});

test('conformance-plugin speaks the bpf_conformance plugin protocol', async () => {
  // the suite's runner writes bytes as "%02x " with two spaces, memory in argv[1]
  const ldxdw = '79  10  02  00  00  00  00  00  95  00  00  00  00  00  00  00  \n';
  const r = await cli(['conformance-plugin', 'aa  bb  11  22  33  44  55  66  77  88  cc  dd  '], ldxdw);
  assert.deepEqual([r.code, r.out], [0, '8877665544332211\n']);
  const noMem = await cli(['conformance-plugin'], 'b4000000ffffffff9500000000000000');
  assert.deepEqual([noMem.code, noMem.out], [0, 'ffffffff\n']);
  const refused = await cli(['conformance-plugin'], '95 01 00 00 00 00 00 00');
  assert.notEqual(refused.code, 0);
  assert.equal(refused.out, '');
  assert.match(refused.err, /^Error: insn 0: BPF_EXIT uses reserved fields/);
  const uninit = await cli(['conformance-plugin'], '4f a0 00 00 00 00 00 00 95 00 00 00 00 00 00 00');
  assert.match(uninit.err, /R0 !read_ok/);
});

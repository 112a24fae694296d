/*
 * `bpfkit disasm OBJ` prints what `llvm-objdump-19 -d OBJ` prints: fixtures, the clang-built
 * example (BTF and DWARF sections present but not disassembled), and objects from our writer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCliCaptured, type CapturedRun } from '../src/cli/main.js';
import { objdumpInput } from '../src/cli/disasm.js';
import { readElf } from '../src/loader/elf.js';
import { LLVM_OBJDUMP, missingTool, runTool } from './oracles.js';

const root = new URL('../../', import.meta.url);
const path = (name: string): string => new URL(name, root).pathname;
const objects = [
  'test/fixtures/calls.o', 'test/fixtures/global_data.o', 'test/fixtures/xdp_ctx.o', 'test/fixtures/xdp_meta.o',
  'test/fixtures/bad_jump.o', 'test/fixtures/oob_load.o', 'test/fixtures/endless.o', 'examples/xdp_udp_drop.o',
];

const disasm = (args: string[]): Promise<CapturedRun> =>
  runCliCaptured(['disasm', ...args], new Uint8Array(readFileSync(path('test/fixtures/calls.o'))));

test('only executable, non-empty sections, with their named symbols', () => {
  const input = objdumpInput(readElf(new Uint8Array(readFileSync(path('examples/xdp_udp_drop.o'))), 'x.o'));
  assert.deepEqual(input.map((s) => s.name), ['.text', 'xdp']);
  assert.deepEqual(input[0].symbols, [{ name: 'verdict_for_port', offset: 0, isFunction: true, isObject: false }]);
  assert.ok(input[1].symbols.some((s) => s.name === 'xdp_udp_drop' && s.isFunction));
  assert.ok(input.every((s) => s.symbols.every((y) => y.name !== '')));
});

for (const name of objects) {
  test(`disasm ${name} matches llvm-objdump -d`, async (t) => {
    const why = missingTool(LLVM_OBJDUMP);
    if (why) { t.skip(why); return; }
    const file = path(name);
    const ours = await disasm([file]);
    assert.equal(ours.status, 0, ours.stderr);
    assert.equal(ours.stdout, runTool(LLVM_OBJDUMP, ['-d', file]));
  });
}

test('disasm reads standard input and several files', async (t) => {
  const why = missingTool(LLVM_OBJDUMP);
  if (why) { t.skip(why); return; }
  const dir = mkdtempSync(join(tmpdir(), 'bpfkit-disasm-'));
  try {
    const a = join(dir, 'a.o');
    writeFileSync(a, readFileSync(path('test/fixtures/xdp_ctx.o')));
    const both = await disasm([a, path('test/fixtures/calls.o')]);
    assert.equal(both.stdout, runTool(LLVM_OBJDUMP, ['-d', a, path('test/fixtures/calls.o')]));
    const stdin = await disasm(['-']);
    assert.equal(stdin.stdout, runTool(LLVM_OBJDUMP, ['-d', path('test/fixtures/calls.o')]).replace(path('test/fixtures/calls.o'), '-'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('disasm errors', async () => {
  assert.equal((await disasm([])).stderr, 'Error: expected an object file (usage: bpfkit disasm OBJ...)\n');
  assert.equal((await disasm(['--bogus', 'x.o'])).stderr, "Error: unknown option '--bogus' (usage: bpfkit disasm OBJ...)\n");
  const missing = await disasm(['/no/such.o']);
  assert.equal(missing.status, 255);
  assert.equal(missing.stderr, "Error: '/no/such.o': No such file or directory\n");
  assert.match((await disasm([path('test/fixtures/calls.s')])).stderr, /^Error: .*calls\.s: not an ELF file \(bad magic\)\n$/);
});

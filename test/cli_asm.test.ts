/*
 * `bpfkit asm FILE -o OBJ`: the LLVM-syntax assembler plus our ELF writer must give objects that
 * llvm-objdump reads as llvm-mc's own, and that run the same.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCliCaptured, type CapturedRun } from '../src/cli/main.js';
import { LLVM_OBJDUMP, missingTool, runTool } from './oracles.js';

const root = new URL('../../', import.meta.url);
const path = (name: string): string => new URL(name, root).pathname;
const sources = ['calls', 'xdp_ctx', 'xdp_meta', 'bad_jump', 'oob_load', 'endless'];

const tmp = mkdtempSync(join(tmpdir(), 'bpfkit-asm-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

const cli = (args: string[], stdin = ''): Promise<CapturedRun> => runCliCaptured(args, stdin);

/** llvm-objdump -dr without its first lines (which name the file). */
const dump = (file: string): string => runTool(LLVM_OBJDUMP, ['-dr', file]).split('\n').slice(2).join('\n');

for (const name of sources) {
  test(`asm ${name}.s: llvm-objdump -dr reads it as llvm-mc's object`, async (t) => {
    const out = join(tmp, `${name}.o`);
    const r = await cli(['asm', path(`test/fixtures/${name}.s`), '-o', out]);
    assert.equal(r.status, 0, r.stderr);
    const why = missingTool(LLVM_OBJDUMP);
    if (why) { t.skip(why); return; }
    assert.equal(dump(out), dump(path(`test/fixtures/${name}.o`)));
  });
}

test('assembled programs run as the llvm-mc ones', async () => {
  const out = join(tmp, 'calls-run.o');
  assert.equal((await cli(['asm', path('test/fixtures/calls.s'), '-o', out])).status, 0);
  for (const [name, want] of [['prog_a', 50], ['prog_b', 73], ['prog_c', 90]] as const) {
    const r = await cli(['-j', 'prog', 'run', 'file', out, 'name', name, 'data_in', path('examples/udp.bin')]);
    assert.equal((JSON.parse(r.stdout) as { retval: number }).retval, want, name);
  }
});

test('asm from standard input, and the default output name', async () => {
  const src = readFileSync(path('test/fixtures/xdp_ctx.s'), 'utf8');
  const out = join(tmp, 'stdin.o');
  assert.equal((await cli(['asm', '-', `-o${out}`], src)).status, 0);
  assert.ok(existsSync(out));
  const copy = join(tmp, 'copy.s');
  writeFileSync(copy, src);
  assert.equal((await cli(['asm', copy])).status, 0);
  assert.ok(existsSync(join(tmp, 'copy.o')));
});

test('asm errors are one line with the position', async () => {
  const bad = join(tmp, 'bad.s');
  writeFileSync(bad, '\t.text\n\tr0 = 1\n\tr0 +== 2\n\texit\n');
  const r = await cli(['asm', bad, '-o', join(tmp, 'bad.o')]);
  assert.equal(r.status, 255);
  assert.match(r.stderr, new RegExp(`^Error: ${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:3:\\d+: [^\\n]+\\n$`));
  assert.equal((await cli(['asm'])).stderr, 'Error: expected an assembly file (usage: bpfkit asm FILE [-o OBJ])\n');
  assert.equal((await cli(['asm', '/no/such.s'])).stderr, 'Error: failed to open /no/such.s: No such file or directory\n');
  assert.equal((await cli(['asm', 'a.s', '-x'])).stderr, "Error: unknown option '-x' (usage: bpfkit asm FILE [-o OBJ])\n");
  assert.equal((await cli(['asm', 'a.s', '-o'])).stderr, "Error: '-o' needs an output file name\n");
});

/*
 * `prog run` with engine jit against engine interp on the test fixtures, the examples and the
 * bench programs: return value, data_out, ctx_out and errors must be identical (the duration is
 * not compared).
 * Also checks that the JIT is the default engine of `prog run`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseRunArgs } from '../src/cli/prog.js';
import { runCliCaptured } from '../src/cli/main.js';
import { makeInsn } from '../src/isa/insn.js';
import { testRunXdp } from '../src/progtypes/xdp.js';

const FIXTURES = fileURLToPath(new URL('../../test/fixtures/', import.meta.url));
const BENCH = fileURLToPath(new URL('../../bench/programs/', import.meta.url));
const EXAMPLES = fileURLToPath(new URL('../../examples/', import.meta.url));
const UDP = fileURLToPath(new URL('../../examples/udp.bin', import.meta.url));

async function run(args: string[]): Promise<string> {
  const r = await runCliCaptured(args);
  const out = r.stdout.replace(/"duration":\d+/g, '"duration":0');
  return `status ${r.status}\n${out}\n${r.stderr}`;
}

test('prog run: engine jit gives what engine interp gives on every fixture and bench program', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bpfkit-jit-xdp-'));
  try {
    const objects = readdirSync(FIXTURES).filter((f) => f.endsWith('.o')).map((f) => join(FIXTURES, f));
    objects.push(...readdirSync(EXAMPLES).filter((f) => f.endsWith('.o')).map((f) => join(EXAMPLES, f)));
    for (const s of readdirSync(BENCH).filter((f) => f.endsWith('.s'))) {
      const obj = join(dir, s.replace(/\.s$/, '.o'));
      const r = await runCliCaptured(['asm', join(BENCH, s), '-o', obj]);
      assert.equal(r.status, 0, r.stderr);
      objects.push(obj);
    }
    const ctx = join(dir, 'ctx.bin');
    writeFileSync(ctx, new Uint8Array(24));
    assert.ok(objects.length >= 9);
    for (const obj of objects) {
      for (const extra of [[], ['repeat', '3'], ['ctx_in', ctx, 'ctx_out', '-']]) {
        const args = ['-j', 'prog', 'run', 'file', obj, 'data_in', UDP, 'data_out', '-', ...extra];
        const jit = await run([...args, 'engine', 'jit']);
        const interp = await run([...args, 'engine', 'interp']);
        assert.equal(jit, interp, `${obj} ${extra.join(' ')}`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('prog run: the JIT is the default engine; testRunXdp runs it', async () => {
  assert.equal(parseRunArgs(['file', 'x.o', 'data_in', 'p']).engine, 'jit');
  const insns = [makeInsn(0xb7, 0, 0, 0, 2), makeInsn(0x95)];
  const r = await testRunXdp({ insns, section: 'xdp', dataIn: new Uint8Array(64), dataSizeOut: 0, repeat: 10, engine: 'jit' });
  assert.equal(r.retval, 2);
  // a fault inside the JIT is the interpreter's error
  const oob = [makeInsn(0x79, 0, 1, 32000), makeInsn(0x95)];
  await assert.rejects(testRunXdp({ insns: oob, section: 'xdp', dataIn: new Uint8Array(64), dataSizeOut: 0, repeat: 1, engine: 'jit' }),
    /out of bounds memory load \(insn #0\): addr 0x[0-9a-f]+, size 8, no region/);
});

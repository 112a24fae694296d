/*
 * The bpf_conformance suite under the WebAssembly JIT: every program in tests/ returns its result
 * (the same runner as the interpreter's suite, with a JIT engine), every negative file is refused.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { jitConformanceEngine } from '../src/conformance/engine.js';
import { runConformanceDir } from '../src/conformance/node_runner.js';

const SUITE = fileURLToPath(new URL('../../../shared/conformance', import.meta.url));

test('conformance: every test passes under the JIT and every negative file is refused', async (t) => {
  if (!existsSync(SUITE)) return t.skip(`${SUITE} not present (the shared conformance data)`);
  const outcomes = await runConformanceDir(SUITE, jitConformanceEngine);
  const failures = outcomes.filter((o) => !o.passed).map((o) => `${o.file}: ${o.stage} ${o.reason}`);
  assert.deepEqual(failures, []);
  assert.equal(outcomes.filter((o) => o.kind === 'positive').length, 313);
  assert.equal(outcomes.filter((o) => o.kind === 'negative').length, 60);
});

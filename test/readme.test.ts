/*
 * The README opens with the two commands of a fresh machine; this keeps the first one true: its
 * bpfkit command (after `npm install &&`) runs and prints the verdict summary it promises.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

test("the README's main-job command runs and prints the verdicts it shows", () => {
  const readme = readFileSync(`${root}README.md`, 'utf8');
  const block = /```sh\n([^]*?)```/.exec(readme);
  assert.ok(block, 'README starts with a sh block');
  const [first, second] = block[1].trim().split('\n');
  assert.equal(second, 'npm test');
  const m = /^npm install && node (bin\/bpfkit\.js) (.+)$/.exec(first);
  assert.ok(m, `first command: ${first}`);
  const r = spawnSync(process.execPath, [m[1], ...m[2].split(' ')], { cwd: root, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^Packets: 1000, passed: 750, modified: 0, duration \(average\): \d+ns\n {2}XDP_DROP {2}250\n {2}XDP_PASS {2}750\n$/);
});

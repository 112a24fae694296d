/*
 * bin/bundle.js runs only a bundle written as one function expression (scripts/bundle.mjs's
 * `wrapped` manifests): a manifest from before that format is stale, however fresh its inputs,
 * and a built bundle file is the wrapper around the bundled code.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const require = createRequire(import.meta.url);
interface Manifest { version: number; bundle: string; wrapped?: boolean; inputs: { file: string; size: number; mtimeMs: number; hash: string }[] }
const bundle = require(join(ROOT, 'bin', 'bundle.js')) as {
  freshBundle(name: string, dir?: string, root?: string): Manifest | undefined;
  contentHash(bytes: Uint8Array): string;
  WRAPPER: [string, string];
};

test('only a wrapped bundle is fresh', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bpfkit-bundle-wrapped-'));
  try {
    const input = join(dir, 'a.js');
    writeFileSync(input, 'export const a = 1;\n');
    const st = statSync(input);
    const manifest = (wrapped?: boolean): Manifest => ({
      version: 1, bundle: 'x-0.cjs', ...(wrapped === undefined ? {} : { wrapped }),
      inputs: [{ file: 'a.js', size: st.size, mtimeMs: st.mtimeMs, hash: bundle.contentHash(readFileSync(input)) }],
    });
    const fresh = (m: Manifest): boolean => {
      writeFileSync(join(dir, 'x.json'), JSON.stringify(m));
      return bundle.freshBundle('x', dir, dir) !== undefined;
    };
    assert.equal(fresh(manifest(true)), true, 'wrapped, inputs unchanged');
    assert.equal(fresh(manifest()), false, 'an earlier format');
    assert.equal(fresh(manifest(false)), false, 'not wrapped');
    writeFileSync(input, 'export const a = 22;\n');
    assert.equal(fresh(manifest(true)), false, 'wrapped, an input changed');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a built bundle is the CommonJS wrapper around the code', (t) => {
  let manifest: Manifest;
  try {
    manifest = JSON.parse(readFileSync(join(ROOT, 'dist', 'bundle', 'tcpdump.json'), 'utf8')) as Manifest;
  } catch {
    t.skip('no bundle built (npm run build)');
    return;
  }
  if (!manifest.wrapped) { t.skip('bundle of an earlier format: rebuild with npm run build'); return; }
  const code = readFileSync(join(ROOT, 'dist', 'bundle', manifest.bundle), 'latin1');
  assert.ok(code.startsWith(bundle.WRAPPER[0]), 'starts with the wrapper');
  assert.ok(code.trimEnd().endsWith(bundle.WRAPPER[1].trim()), 'ends with it');
  // esbuild writes ASCII, which bin/bundle.js decodes as latin1.
  assert.ok(/^[\x00-\x7f]*$/.test(code), 'ASCII only');
});

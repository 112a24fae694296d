/*
 * bin/bundle.js runs only a bundle written as one function expression (scripts/bundle.mjs's
 * manifest version 2): a manifest from before that format (version 1) is stale, however fresh its
 * inputs, and a built bundle file is the wrapper around the bundled code.
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
interface Manifest { version: number; bundle: string; inputs: { file: string; size: number; mtimeMs: number; hash: string }[] }
const bundle = require(join(ROOT, 'bin', 'bundle.js')) as {
  freshBundle(name: string, dir?: string, root?: string): Manifest | undefined;
  contentHash(bytes: Uint8Array): string;
  WRAPPER: [string, string];
  MANIFEST_VERSION: number;
};

test('only a bundle of the wrapped format is fresh', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bpfkit-bundle-wrapped-'));
  try {
    const input = join(dir, 'a.js');
    writeFileSync(input, 'export const a = 1;\n');
    const st = statSync(input);
    const manifest = (version = bundle.MANIFEST_VERSION): Manifest => ({
      version, bundle: 'x-0.cjs',
      inputs: [{ file: 'a.js', size: st.size, mtimeMs: st.mtimeMs, hash: bundle.contentHash(readFileSync(input)) }],
    });
    const fresh = (m: Manifest): boolean => {
      writeFileSync(join(dir, 'x.json'), JSON.stringify(m));
      return bundle.freshBundle('x', dir, dir) !== undefined;
    };
    assert.equal(bundle.MANIFEST_VERSION, 2);
    assert.equal(fresh(manifest()), true, 'wrapped, inputs unchanged');
    assert.equal(fresh(manifest(1)), false, 'an earlier format (not wrapped)');
    writeFileSync(input, 'export const a = 22;\n');
    assert.equal(fresh(manifest()), false, 'wrapped, an input changed');
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
  if (manifest.version !== bundle.MANIFEST_VERSION) { t.skip('bundle of an earlier format: rebuild with npm run build'); return; }
  const code = readFileSync(join(ROOT, 'dist', 'bundle', manifest.bundle), 'latin1');
  assert.ok(code.startsWith(bundle.WRAPPER[0]), 'starts with the wrapper');
  assert.ok(code.trimEnd().endsWith(bundle.WRAPPER[1].trim()), 'ends with it');
  // esbuild writes ASCII, which bin/bundle.js decodes as latin1.
  assert.ok(/^[\x00-\x7f]*$/.test(code), 'ASCII only');
});

/*
 * The CLI's single-file bundles in tests (bin/bundle.js, built by scripts/bundle.mjs): the
 * launcher's API and a fresh bundle on demand, shared by the tests comparing a bundle with dist/.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const require = createRequire(import.meta.url);

export interface Manifest { version: number; bundle: string; inputs: { file: string; size: number; mtimeMs: number; hash: string }[] }

/** bin/bundle.js' exports. */
export const bundleApi = require(join(ROOT, 'bin', 'bundle.js')) as {
  freshBundle(name: string, dir?: string, root?: string): Manifest | undefined;
  isFresh(manifest: Manifest, root: string, manifestFile?: string): boolean;
  runBundle(name: string, dir?: string, root?: string): boolean;
  contentHash(bytes: Uint8Array): string;
  WRAPPER: [string, string];
  MANIFEST_VERSION: number;
};

/** Bundle `name` fresh, built now if needed; else a reason to skip (no esbuild, or dist/ changing meanwhile). */
export function ensureBundle(name: string): string | undefined {
  if (bundleApi.freshBundle(name)) return undefined;
  try {
    require.resolve('esbuild', { paths: [ROOT] });
  } catch {
    return 'esbuild not installed (npm install): no bundle to test';
  }
  const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'bundle.mjs')], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return bundleApi.freshBundle(name) ? undefined : 'bundle still stale after scripts/bundle.mjs (dist/ being rebuilt meanwhile?)';
}

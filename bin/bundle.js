// Single-file bundles of CLI entry points (scripts/bundle.mjs writes dist/bundle/NAME.cjs, its
// V8 code cache NAME.cjs.cache and NAME.json: the dist/ files it was built from). A bundle runs
// only while it is fresh: every input unchanged (same size and mtime, or else the same bytes),
// so a `tsc` build without a re-bundle falls back to dist/ and never runs stale code. The code
// cache spares parsing and compiling; V8 refuses a cache from another Node version or flags
// (cachedDataRejected) and then simply compiles.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');

const ROOT = path.join(__dirname, '..');
const DIR = path.join(ROOT, 'dist', 'bundle');

/** Whether the files a manifest lists are as they were when the bundle was built. */
function isFresh(manifest, root) {
  if (!manifest || manifest.version !== 1 || !Array.isArray(manifest.inputs)) return false;
  for (const input of manifest.inputs) {
    let st;
    try { st = fs.statSync(path.join(root, input.file)); } catch { return false; }
    if (st.size !== input.size) return false;
    if (st.mtimeMs === input.mtimeMs) continue;
    // Rewritten (a `tsc` build rewrites every file): fresh if the bytes are the same.
    const hash = require('node:crypto').createHash('sha256').update(fs.readFileSync(path.join(root, input.file))).digest('hex');
    if (hash !== input.sha256) return false;
  }
  return true;
}

/** The manifest of bundle NAME when the bundle exists and is fresh, else undefined. */
function freshBundle(name, dir = DIR, root = ROOT) {
  let manifest;
  try { manifest = JSON.parse(fs.readFileSync(path.join(dir, `${name}.json`), 'utf8')); } catch { return undefined; }
  return isFresh(manifest, root) && /^[\w.-]+$/.test(manifest.bundle) ? manifest : undefined;
}

/**
 * Run bundle NAME as this process' program; false (nothing run) when there is none or it is
 * stale. BPFKIT_NO_BUNDLE=1 always says false; BPFKIT_CODE_CACHE_OUT=FILE writes the code cache
 * (what was compiled by the end of the run) to FILE at exit: scripts/bundle.mjs uses it.
 * The bundle and its cache are named by the bundle's hash: V8 checks only a cache's source
 * length, so a cache must never meet another bundle.
 */
function runBundle(name) {
  if (process.env.BPFKIT_NO_BUNDLE) return false;
  const manifest = freshBundle(name);
  if (!manifest) return false;
  const file = path.join(DIR, manifest.bundle);
  let source;
  try { source = fs.readFileSync(file, 'utf8'); } catch { return false; } // replaced meanwhile
  let cachedData;
  try { cachedData = fs.readFileSync(`${file}.cache`); } catch { /* compiled without */ }
  // (scripts/bundle.mjs turns import() into require(): a vm.Script has no dynamic import.)
  const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, { filename: file, cachedData });
  const out = process.env.BPFKIT_CODE_CACHE_OUT;
  if (out) process.once('exit', () => fs.writeFileSync(out, script.createCachedData()));
  const mod = { exports: {} };
  script.runInThisContext().call(mod.exports, mod.exports, require, mod, file, path.dirname(file));
  return true;
}

module.exports = { runBundle, freshBundle, isFresh };

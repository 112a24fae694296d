// Single-file bundles of CLI entry points (scripts/bundle.mjs writes dist/bundle/NAME.cjs, its
// V8 code cache NAME-HASH.cjs.cache and NAME.json: the bundle's name and the dist/ files it was
// built from). A bundle runs only while it is fresh: every input unchanged (same size and mtime,
// or else the same bytes), so a changed dist/ without a re-bundle runs from dist/, never stale. The code
// cache spares parsing and compiling; V8 refuses a cache from another Node version or flags
// (cachedDataRejected) and then simply compiles.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');

const ROOT = path.join(__dirname, '..');
const DIR = path.join(ROOT, 'dist', 'bundle');

/**
 * A 53-bit hash of bytes (cyrb53): telling a rewritten but unchanged input from a changed one
 * (the size must match too) without loading node:crypto, which costs more than the check.
 */
function contentHash(bytes) {
  let h1 = 0xdeadbeef, h2 = 0x41c6ce57;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    h1 = Math.imul(h1 ^ b, 2654435761);
    h2 = Math.imul(h2 ^ b, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(16);
}

/**
 * Whether the files a manifest lists are as they were when the bundle was built: the same size
 * and mtime, or else (a `tsc` build rewrites every file) the same bytes. Inputs found rewritten
 * but unchanged get their new mtime recorded (the manifest is rewritten when it can be), so only
 * the first run after a rebuild reads them.
 */
/**
 * The manifest format scripts/bundle.mjs writes: 2 since bundles are written wrapped (the bundle
 * file is the CommonJS function expression runBundle() compiles). A manifest of another version is
 * stale, so an older build falls back to dist/.
 */
const MANIFEST_VERSION = 2;

function isFresh(manifest, root, manifestFile) {
  if (!manifest || manifest.version !== MANIFEST_VERSION || !Array.isArray(manifest.inputs)) return false;
  let touched = false;
  const prefix = root.endsWith(path.sep) ? root : root + path.sep;
  for (const input of manifest.inputs) {
    // (throwIfNoEntry: false: half the cost of a throwing statSync, ~170 of them per start)
    let st;
    try { st = fs.statSync(prefix + input.file, { throwIfNoEntry: false }); } catch { return false; }
    if (st === undefined || st.size !== input.size) return false;
    if (st.mtimeMs === input.mtimeMs) continue;
    if (contentHash(fs.readFileSync(prefix + input.file)) !== input.hash) return false;
    input.mtimeMs = st.mtimeMs;
    touched = true;
  }
  if (touched && manifestFile) {
    try {
      fs.writeFileSync(`${manifestFile}.${process.pid}`, JSON.stringify(manifest, null, 1) + '\n');
      fs.renameSync(`${manifestFile}.${process.pid}`, manifestFile);
    } catch { /* a read-only install: checked by content each time */ }
  }
  return true;
}

/** The manifest of bundle NAME when the bundle exists and is fresh, else undefined. */
function freshBundle(name, dir = DIR, root = ROOT) {
  const file = path.join(dir, `${name}.json`);
  let manifest;
  try { manifest = JSON.parse(fs.readFileSync(file, 'utf8')); } catch { return undefined; }
  return isFresh(manifest, root, file) && /^[\w.-]+$/.test(manifest.bundle) ? manifest : undefined;
}

/**
 * A bundle file is one function expression, the CommonJS wrapper around the bundled code
 * (scripts/bundle.mjs writes it so, manifest version 2): compiled as it is read.
 */
const WRAPPER = ['(function (exports, require, module, __filename, __dirname) {', '\n})'];

/**
 * Bytes of `file` into `buf` from its start; -1 when the file does not fit (or is missing with
 * `optional`). Both of a bundle's files are read into one buffer that is larger than either:
 * its pages are faulted in once (at ~10 us a fault on some VMs, that is worth it), and the pages
 * it never reaches cost nothing.
 */
function readInto(file, buf) {
  const fd = fs.openSync(file, 'r');
  try {
    let n = 0;
    for (let r; n < buf.length && (r = fs.readSync(fd, buf, n, buf.length - n, null)) > 0;) n += r;
    return n < buf.length ? n : -1;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Run bundle NAME as this process' program; false (nothing run) when there is none, it is
 * stale or its file does not compile (damaged). BPFKIT_NO_BUNDLE=1 always says false; BPFKIT_CODE_CACHE_OUT=FILE writes the code cache
 * (what was compiled by the end of the run) to FILE at exit: scripts/bundle.mjs uses it.
 * The bundle and its cache are named by the bundle's hash: V8 checks only a cache's source
 * length, so a cache must never meet another bundle.
 */
function runBundle(name, dir = DIR, root = ROOT) {
  if (process.env.BPFKIT_NO_BUNDLE) return false;
  const manifest = freshBundle(name, dir, root);
  if (!manifest) return false;
  const file = path.join(dir, manifest.bundle);
  const buf = Buffer.allocUnsafeSlow(4 << 20);
  let source;
  try {
    const n = readInto(file, buf);
    // latin1: esbuild writes ASCII (non-ASCII characters escaped), which latin1 decodes as a copy.
    source = n >= 0 ? buf.toString('latin1', 0, n) : fs.readFileSync(file, 'latin1');
  } catch { return false; } // replaced meanwhile
  let cachedData;
  try {
    const n = readInto(`${file}.cache`, buf);
    cachedData = n >= 0 ? buf.subarray(0, n) : fs.readFileSync(`${file}.cache`);
  } catch { /* compiled without */ }
  // (scripts/bundle.mjs turns import() into require(): a vm.Script has no dynamic import.)
  let script;
  try {
    script = new vm.Script(source, { filename: file, cachedData });
  } catch { return false; } // a damaged bundle file (its inputs are fresh, it is not): run from dist/
  const out = process.env.BPFKIT_CODE_CACHE_OUT;
  if (out) process.once('exit', () => fs.writeFileSync(out, script.createCachedData()));
  const mod = { exports: {} };
  script.runInThisContext().call(mod.exports, mod.exports, require, mod, file, path.dirname(file));
  return true;
}

module.exports = { runBundle, freshBundle, isFresh, contentHash, WRAPPER, MANIFEST_VERSION };

/*
 * DESIGN.md's layering, checked: imports point down only, and the browser-safe core (everything
 * below net/ and kernel/) never imports node:* modules.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

// Top to bottom, as DESIGN.md lists them (plus conformance/, the bpf_conformance runner the CLI
// drives); a layer may import itself and anything below.
const LAYERS = ['cli', 'conformance', 'api', 'net', 'kernel', 'loader', 'btf', 'verifier', 'progtypes', 'helpers', 'maps', 'vm', 'filter', 'cbpf', 'isa'];
const BROWSER_SAFE = new Set(['loader', 'btf', 'verifier', 'progtypes', 'helpers', 'maps', 'vm', 'filter', 'cbpf', 'isa']);

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

const files = sources(SRC);

test('the source tree is not empty', () => {
  assert.ok(files.length > 5);
});

for (const file of files) {
  const rel = relative(SRC, file);
  const layer = rel.includes('/') ? rel.split('/')[0] : undefined;
  if (!layer) continue; // top-level shared modules (errors.ts) import nothing from layers
  test(`${rel} respects the layering`, () => {
    const text = readFileSync(file, 'utf8');
    const specs = [...text.matchAll(/(?:from\s+|import\s*\(\s*)'([^']+)'/g)].map((m) => m[1]);
    for (const spec of specs) {
      if (spec.startsWith('node:')) {
        // Node-only files are named node_*.ts or sit in a layer above the core.
        const nodeOnly = rel.split('/').pop()!.startsWith('node_');
        assert.ok(!BROWSER_SAFE.has(layer) || nodeOnly, `${rel} imports ${spec} in the browser-safe core`);
        continue;
      }
      if (!spec.startsWith('.')) continue;
      const target = relative(SRC, join(file, '..', spec));
      const targetLayer = target.includes('/') ? target.split('/')[0] : undefined;
      if (!targetLayer || targetLayer === layer) continue;
      assert.ok(LAYERS.includes(layer) && LAYERS.includes(targetLayer), `${rel}: unknown layer in ${spec}`);
      assert.ok(LAYERS.indexOf(targetLayer) > LAYERS.indexOf(layer), `${rel} imports upward: ${spec}`);
    }
  });
}

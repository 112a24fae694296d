/*
 * scanMemory() takes the WebAssembly.Memory bin/bundle.js read the program into (left at
 * Symbol.for('bpfkit.startupMemory')), once, when it is large enough: the capture is read into
 * pages already faulted in. Anything else at that symbol is ignored.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { scanMemory } from '../src/net/pcap_scan_wasm.js';

const KEY = Symbol.for('bpfkit.startupMemory');
const g = globalThis as unknown as Record<symbol, unknown>;
// (the project's lib has no WebAssembly types)
const WA = (globalThis as unknown as { WebAssembly: { Memory: new (d: { initial: number }) => { buffer: ArrayBuffer } } }).WebAssembly;
const bundle = createRequire(import.meta.url)(fileURLToPath(new URL('../../bin/bundle.js', import.meta.url))) as { STARTUP_MEMORY: symbol };

test('the launcher and the reader agree on the symbol', () => {
  assert.equal(bundle.STARTUP_MEMORY, KEY);
});

test('scanMemory() takes the startup memory once, if large enough', () => {
  const given = new WA.Memory({ initial: 16 });
  new Uint8Array(given.buffer).fill(7, 0, 100);
  g[KEY] = given;
  const first = scanMemory(1 << 20)!;
  assert.equal(first.memory, given);
  assert.equal(first.buffer.buffer, given.buffer);
  assert.equal(first.buffer.length, 1 << 20);
  assert.equal(first.buffer[99], 7);
  assert.equal(KEY in g, false, 'taken');
  const second = scanMemory(1 << 20)!;
  assert.notEqual(second.memory, given, 'a new memory the second time');

  g[KEY] = new WA.Memory({ initial: 1 });
  const small = scanMemory(1 << 20)!;
  assert.equal(small.buffer.length, 1 << 20);
  assert.equal(KEY in g, false, 'a small one is dropped');

  g[KEY] = new Uint8Array(1 << 20);
  assert.ok(scanMemory(1 << 20)!.memory instanceof WA.Memory, 'not a memory: ignored');
  assert.equal(KEY in g, false);
});

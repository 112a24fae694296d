/*
 * The folder pin store across processes: persistence, crash safety under kill -9, concurrent
 * writers. Every test uses its own temporary BPFKIT_STATE folder.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Bpf, Map, u32, u64 } from '../src/api/index.js';
import { openStateStore } from '../src/api/node.js';
import { NodeStoreFs } from '../src/kernel/node_store_fs.js';
import { BpfError } from '../src/errors.js';

const WORKER = new URL('./pins_worker.js', import.meta.url).pathname;
const PIN = '/sys/fs/bpf/worker';

function stateDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'bpfkit-pins-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function worker(dir: string, ...args: string[]): void {
  const r = spawnSync(process.execPath, [WORKER, dir, ...args], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
}

function open(dir: string): Bpf {
  return new Bpf({ store: openStateStore(dir) });
}

test('a map pinned by one process is read by another, with its id', () => {
  const dir = stateDir();
  worker(dir, 'create', PIN);
  worker(dir, 'fill', PIN, '10', '5');
  const bpf = open(dir);
  const m = Map.fromPin(PIN, bpf);
  assert.equal(m.id, 1);
  assert.deepEqual([...m.as(u32, u64).entries()].sort((a, b) => a[0] - b[0]), [10, 11, 12, 13, 14].map((k) => [k, BigInt(k)]));
  assert.deepEqual(bpf.mapIds(), [1]);
  bpf.close();
});

test('kill -9 in the middle of updates never leaves a corrupt pin', async () => {
  const dir = stateDir();
  worker(dir, 'create', PIN);
  let lastSeen = 0n;
  for (let round = 0; round < 12; round++) {
    const child = spawn(process.execPath, [WORKER, dir, 'counter', PIN], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));
    await new Promise((r) => setTimeout(r, 20 + Math.floor(Math.random() * 80)));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    // The pin loads, and the contents are one consistent state.
    const bpf = open(dir);
    const m = Map.fromPin(PIN, bpf).as(u32, u64);
    const n = m.get(0) ?? 0n;
    assert.ok(n >= lastSeen, `counter went back: ${n} < ${lastSeen}`);
    lastSeen = n;
    for (const [k, v] of m.entries()) {
      if (k === 0) continue;
      assert.ok(v <= n, `key ${k} = ${v} is ahead of the counter ${n}`);
      assert.equal(Number(v % 100n) + 1, k);
    }
    bpf.close();
  }
  assert.ok(lastSeen > 0n, 'the writer never got to write');
  // Temp files of killed writers are ignored, and the lock of a dead writer is broken.
  const leftovers = readdirSync(join(dir, 'objects', 'map')).filter((n) => n.includes('.tmp-'));
  assert.ok(leftovers.length <= 12);
});

test('two processes updating one pinned map concurrently lose nothing', async () => {
  const dir = stateDir();
  worker(dir, 'create', PIN);
  const run = (from: number): Promise<number | null> => new Promise((resolve) => {
    spawn(process.execPath, [WORKER, dir, 'fill', PIN, String(from), '150'], { stdio: 'inherit' }).once('exit', resolve);
  });
  assert.deepEqual(await Promise.all([run(0), run(1000)]), [0, 0]);
  const bpf = open(dir);
  const keys = [...Map.fromPin(PIN, bpf).as(u32, u64).keys()];
  assert.equal(keys.length, 300);
  bpf.close();
});

test('a stale lock of a dead process is broken; a live one makes others wait', () => {
  const dir = stateDir();
  const fs = new NodeStoreFs(dir);
  writeFileSync(join(dir, 'lock'), '999999999');
  assert.equal(fs.withLock(() => 7), 7);
  const bpf = open(dir);
  const m = bpf.createMap({ type: 'hash', keySize: 4, valueSize: 8, maxEntries: 4, name: 'x' });
  m.pin('/sys/fs/bpf/x');
  try {
    m.pin('/sys/fs/bpf/x');
    assert.fail('pinned twice');
  } catch (err) {
    assert.ok(err instanceof BpfError && err.code === 'EEXIST');
  }
  bpf.unpin('/sys/fs/bpf/x');
  assert.equal(fs.list('bpffs').length, 0);
  assert.equal(fs.list('objects').length, 0, 'an unpinned map leaves the store');
  m.update(u32.encode(1), u64.encode(1n));
  assert.equal(fs.list('objects').length, 0, 'and is not written back by a later update');
  bpf.close();
});

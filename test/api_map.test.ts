/*
 * The public API (api/index.ts) over bpfkit's maps: handles, iteration, batches, pins, codecs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Bpf, BpfError, Map, Program, bytes, i32, ldMapFd, le, readLe, struct, u16, u32, u64, u8,
} from '../src/api/index.js';
import { makeInsn } from '../src/isa/insn.js';
import { openBpf, useStateStore } from '../src/api/node.js';

const errCode = (fn: () => unknown): string => {
  try { fn(); } catch (err) { assert.ok(err instanceof BpfError, String(err)); return err.code; }
  return 'ok';
};

test('a hash map: update, lookup, delete, iterate, flags', () => {
  const bpf = new Bpf();
  const m = bpf.createMap({ type: 'hash', keySize: 4, valueSize: 8, maxEntries: 4, name: 'h' });
  assert.equal(m.type, 'hash');
  assert.equal(m.id, 1);
  m.update(u32.encode(1), u64.encode(10n));
  m.update(u32.encode(2), u64.encode(20n), 'noexist');
  assert.equal(errCode(() => m.update(u32.encode(2), u64.encode(0n), 'noexist')), 'EEXIST');
  assert.equal(errCode(() => m.update(u32.encode(3), u64.encode(0n), 'exist')), 'ENOENT');
  assert.deepEqual(m.lookup(u32.encode(1)), u64.encode(10n));
  assert.equal(m.lookup(u32.encode(9)), undefined);
  assert.deepEqual([...m.keys()].map((k) => u32.decode(k)).sort(), [1, 2]);
  assert.deepEqual(new globalThis.Map([...m.entries()].map(([k, v]) => [u32.decode(k), u64.decode(v)])), new globalThis.Map([[1, 10n], [2, 20n]]));
  assert.equal(m.delete(u32.encode(1)), true);
  assert.equal(m.delete(u32.encode(1)), false);
  m.update(u32.encode(3), u64.encode(3n));
  m.update(u32.encode(4), u64.encode(4n));
  m.update(u32.encode(5), u64.encode(5n));
  assert.equal(errCode(() => m.update(u32.encode(6), u64.encode(6n))), 'E2BIG');
  assert.equal(errCode(() => m.update(u32.encode(1), new Uint8Array(7))), 'EINVAL');
  bpf.close();
});

test('typed views and codecs: numbers, bigints, structs with C alignment', () => {
  const bpf = new Bpf();
  const point = struct({ x: u8, y: u32, z: u16 });
  assert.equal(point.size, 12);
  const m = bpf.createMap({ type: 'array', keySize: 4, valueSize: point.size, maxEntries: 3 }).as(u32, point);
  m.set(1, { x: 1, y: 0xdeadbeef, z: 7 });
  assert.deepEqual(m.get(1), { x: 1, y: 0xdeadbeef, z: 7 });
  assert.deepEqual(m.get(0), { x: 0, y: 0, z: 0 });
  assert.deepEqual([...m.keys()], [0, 1, 2]);
  assert.equal(m.get(3), undefined);
  assert.deepEqual(le(0x0102, 2), new Uint8Array([2, 1]));
  assert.deepEqual(le(-1n, 8), new Uint8Array(8).fill(255));
  assert.equal(readLe(u64.encode(2n ** 64n - 1n)), 2n ** 64n - 1n);
  assert.equal(i32.decode(i32.encode(-5)), -5);
  assert.deepEqual(bytes(3).decode(new Uint8Array([1, 2, 3, 4]), 1), new Uint8Array([2, 3, 4]));
  bpf.close();
});

test('batches: lookup (with the cursor), update, delete, lookup-and-delete', () => {
  const bpf = new Bpf();
  const m = bpf.createMap({ type: 'hash', keySize: 4, valueSize: 4, maxEntries: 64 });
  const keys = Array.from({ length: 10 }, (_, i) => u32.encode(i));
  assert.equal(m.updateBatch(keys, keys.map((k) => k.slice())), 10);
  const seen: number[] = [];
  let cursor: Uint8Array | undefined;
  for (let round = 0; round < 20; round++) {
    const b = m.lookupBatch(3, cursor);
    seen.push(...b.keys.map((k) => u32.decode(k)));
    b.keys.forEach((k, i) => assert.deepEqual(b.values[i], k));
    if (b.end) break;
    cursor = b.outBatch;
  }
  assert.deepEqual(seen.sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.equal(m.deleteBatch(keys.slice(0, 4)), 4);
  assert.equal([...m.keys()].length, 6);
  const taken = m.lookupAndDeleteBatch(100);
  assert.equal(taken.keys.length, 6);
  assert.equal([...m.keys()].length, 0);
  bpf.close();
});

test('queues, frozen maps, per-CPU values', () => {
  const bpf = new Bpf({ nrCpus: 3 });
  const q = bpf.createMap({ type: 'queue', keySize: 0, valueSize: 4, maxEntries: 2 });
  q.push(u32.encode(1));
  q.push(u32.encode(2));
  assert.equal(errCode(() => q.push(u32.encode(3))), 'E2BIG');
  assert.deepEqual(q.peek(), u32.encode(1));
  assert.deepEqual(q.pop(), u32.encode(1));
  assert.deepEqual(q.pop(), u32.encode(2));
  assert.equal(q.pop(), undefined);

  const a = bpf.createMap({ type: 'array', keySize: 4, valueSize: 4, maxEntries: 1 });
  a.update(u32.encode(0), u32.encode(5));
  a.freeze();
  assert.equal(a.frozen, true);
  assert.equal(errCode(() => a.update(u32.encode(0), u32.encode(6))), 'EPERM');
  assert.deepEqual(a.lookup(u32.encode(0)), u32.encode(5));

  const pc = bpf.createMap({ type: 'percpu_array', keySize: 4, valueSize: 4, maxEntries: 1 });
  const v = new Uint8Array(24);
  v.set(u32.encode(1), 0); v.set(u32.encode(2), 8); v.set(u32.encode(3), 16);
  pc.update(u32.encode(0), v);
  assert.deepEqual(pc.lookup(u32.encode(0)), v);
  bpf.close();
});

test('handles and lifetimes: clone, close, pins in memory, fromPin, map-in-map', () => {
  const bpf = new Bpf();
  const m = bpf.createMap({ type: 'hash', keySize: 4, valueSize: 4, maxEntries: 4, name: 'life' });
  const id = m.id;
  const c = m.clone();
  m.close();
  m.close(); // closing a handle twice is harmless
  c.update(u32.encode(1), u32.encode(1));
  c.pin('/sys/fs/bpf/life');
  assert.equal(errCode(() => c.pin('/sys/fs/bpf/life')), 'EEXIST');
  c.close();
  const again = Map.fromPin('/sys/fs/bpf/life', bpf);
  assert.equal(again.id, id);
  assert.deepEqual(again.lookup(u32.encode(1)), u32.encode(1));
  again.close();
  assert.deepEqual(bpf.mapIds(), [id]);
  bpf.unpin('/sys/fs/bpf/life');
  assert.deepEqual(bpf.mapIds(), []);
  assert.equal(errCode(() => Map.fromPin('/sys/fs/bpf/life', bpf)), 'ENOENT');
  assert.equal(errCode(() => bpf.mapById(id)), 'ENOENT');

  const inner = bpf.createMap({ type: 'array', keySize: 4, valueSize: 4, maxEntries: 1, name: 'inner' });
  const outer = bpf.createMap({ type: 'array_of_maps', keySize: 4, valueSize: 4, maxEntries: 2, innerMap: inner, name: 'outer' });
  outer.update(u32.encode(0), u32.encode(inner.fd));
  assert.equal(u32.decode(outer.lookup(u32.encode(0))!), inner.id);
  const innerId = inner.id;
  inner.close();
  // The outer map's element holds the inner map.
  const held = bpf.mapById(innerId);
  held.close();
  outer.delete(u32.encode(0));
  assert.equal(errCode(() => bpf.mapById(innerId)), 'ENOENT');
  bpf.close();
});

test('openBpf(): pins in a BPFKIT_STATE folder survive the Bpf', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bpfkit-api-'));
  try {
    const a = openBpf({ stateDir: dir });
    const m = a.createMap({ type: 'lru_hash', keySize: 8, valueSize: 8, maxEntries: 8, name: 'persist' }).as(u64, u64);
    m.set(1n, 100n);
    m.map.pin('/sys/fs/bpf/persist');
    m.set(2n, 200n); // written through to the store
    a.close();
    const b = openBpf({ stateDir: dir });
    const again = Map.fromPin('/sys/fs/bpf/persist', b).as(u64, u64);
    assert.equal(again.get(1n), 100n);
    assert.equal(again.get(2n), 200n);
    assert.equal(again.map.info().name, 'persist');
    b.close();
    const c = useStateStore({ stateDir: dir });
    assert.equal(Bpf.default, c);
    assert.equal(Map.fromPin('/sys/fs/bpf/persist').as(u64, u64).get(1n), 100n);
    c.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('programs: load with a map reference, tag, info, pin, fromPin; the map lives with the program', () => {
  const bpf = new Bpf();
  const m = bpf.createMap({ type: 'array', keySize: 4, valueSize: 8, maxEntries: 1, name: 'used' });
  const p = bpf.loadProgram({
    type: 'xdp', name: 'uses_map', license: 'GPL',
    insns: [...ldMapFd(1, m), makeInsn(0xb7, 0, 0, 0, 2), makeInsn(0x95)],
  });
  const info = p.info();
  assert.equal(info.type, 6);
  assert.deepEqual(info.mapIds, [m.id]);
  assert.match(p.tag, /^[0-9a-f]{16}$/);
  const mapId = m.id;
  m.close();
  p.pin('/sys/fs/bpf/prog');
  p.close();
  const again = Program.fromPin('/sys/fs/bpf/prog', bpf);
  assert.equal(again.name, 'uses_map');
  assert.equal(errCode(() => Map.fromPin('/sys/fs/bpf/prog', bpf)), 'EINVAL');
  bpf.mapById(mapId).close();
  again.close();
  bpf.unpin('/sys/fs/bpf/prog');
  assert.equal(errCode(() => bpf.mapById(mapId)), 'ENOENT');
  bpf.close();
});

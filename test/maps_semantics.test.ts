/*
 * bpf(2) semantics of the map types, as tables: create checks (errno per bad attribute), update
 * flags, capacity, delete, get_next_key order, per-CPU values, LRU eviction order, queue/stack
 * order, bloom filter membership, fd arrays, redirect target maps, batches, freeze and
 * BPF_F_RDONLY/WRONLY, snapshot/restore. Expected errnos follow the kernel sources named in
 * src/maps (and were checked against Linux 6.18 where maps_kernel_diff.test.ts can run bpftool).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BpfError } from '../src/errors.js';
import {
  ArrayMap, BPF_ANY, BPF_EXIST, BPF_F_INNER_MAP, BPF_F_LOCK, BPF_F_NO_COMMON_LRU, BPF_F_NO_PREALLOC, BPF_F_RDONLY, BPF_F_RDONLY_PROG,
  BPF_F_WRONLY, BPF_F_WRONLY_PROG, BPF_F_ZERO_SEED, BPF_MAP_TYPE as T, BPF_NOEXIST, type BpfMap, BloomFilterMap, FdArrayMap,
  HashMap, MapBatchError, type MapEnv, type MapSpec, type ProgRef, QueueStackMap, TargetArrayMap, createMap, mapFromHandle,
} from '../src/maps/index.js';
import { AddressSpace } from '../src/vm/address_space.js';

const env = (nrCpus = 4, extra: Partial<MapEnv> = {}): MapEnv => ({ space: new AddressSpace(), nrCpus, ...extra });
const u32 = (n: number): Uint8Array => { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, n, true); return b; };
const u64 = (n: bigint | number): Uint8Array => { const b = new Uint8Array(8); new DataView(b.buffer).setBigUint64(0, BigInt(n), true); return b; };
const rdU32 = (b: Uint8Array, off = 0): number => new DataView(b.buffer, b.byteOffset).getUint32(off, true);
const rdU64 = (b: Uint8Array, off = 0): bigint => new DataView(b.buffer, b.byteOffset).getBigUint64(off, true);

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof BpfError, String(e));
    return e.code;
  }
  return 'ok';
}

function spec(type: number, keySize: number, valueSize: number, maxEntries: number, flags = 0, more: Partial<MapSpec> = {}): MapSpec {
  return { type, keySize, valueSize, maxEntries, flags, ...more };
}

function keys(map: BpfMap): Uint8Array[] {
  const out: Uint8Array[] = [];
  let k: Uint8Array | undefined;
  for (;;) {
    try {
      k = map.getNextKey(k);
    } catch (e) {
      assert.equal((e as BpfError).code, 'ENOENT');
      return out;
    }
    out.push(k);
  }
}

// ---- BPF_MAP_CREATE ----

test('createMap: attribute checks give the kernel\'s errno', () => {
  const inner = createMap(env(), spec(T.ARRAY, 4, 4, 1));
  const cases: [string, MapSpec, string][] = [
    ['hash ok', spec(T.HASH, 4, 8, 16), 'ok'],
    ['hash key 0', spec(T.HASH, 0, 8, 16), 'EINVAL'],
    ['hash value 0', spec(T.HASH, 4, 0, 16), 'EINVAL'],
    ['hash entries 0', spec(T.HASH, 4, 8, 0), 'EINVAL'],
    ['hash key+value too big', spec(T.HASH, 4, 4 << 20, 1), 'E2BIG'],
    ['hash bad flag', spec(T.HASH, 4, 8, 1, 1 << 5), 'EINVAL'],
    ['hash rdonly+wronly', spec(T.HASH, 4, 8, 1, BPF_F_RDONLY | BPF_F_WRONLY), 'EINVAL'],
    ['hash rdonly_prog+wronly_prog', spec(T.HASH, 4, 8, 1, BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG), 'EINVAL'],
    ['hash NO_COMMON_LRU', spec(T.HASH, 4, 8, 1, BPF_F_NO_COMMON_LRU), 'EINVAL'],
    ['lru no prealloc', spec(T.LRU_HASH, 4, 8, 1, BPF_F_NO_PREALLOC), 'ENOTSUPP'],
    ['percpu hash value too big', spec(T.PERCPU_HASH, 4, 32769, 1), 'E2BIG'],
    ['array key 8', spec(T.ARRAY, 8, 8, 1), 'EINVAL'],
    ['array value 0', spec(T.ARRAY, 4, 0, 1), 'EINVAL'],
    ['array NO_PREALLOC', spec(T.ARRAY, 4, 4, 1, BPF_F_NO_PREALLOC), 'EINVAL'],
    ['percpu array value too big', spec(T.PERCPU_ARRAY, 4, 32768 + 1, 1), 'E2BIG'],
    ['percpu array mmapable', spec(T.PERCPU_ARRAY, 4, 4, 1, 1 << 10), 'EINVAL'],
    ['array too large', spec(T.ARRAY, 4, 1 << 20, 1 << 12), 'ENOMEM'],
    ['prog array value 8', spec(T.PROG_ARRAY, 4, 8, 4), 'EINVAL'],
    ['lpm without NO_PREALLOC', spec(T.LPM_TRIE, 8, 4, 4), 'EINVAL'],
    ['lpm key 4', spec(T.LPM_TRIE, 4, 4, 4, BPF_F_NO_PREALLOC), 'EINVAL'],
    ['lpm key 261', spec(T.LPM_TRIE, 261, 4, 4, BPF_F_NO_PREALLOC), 'EINVAL'],
    ['lpm ok', spec(T.LPM_TRIE, 260, 4, 4, BPF_F_NO_PREALLOC), 'ok'],
    ['queue with key', spec(T.QUEUE, 4, 4, 4), 'EINVAL'],
    ['stack ok', spec(T.STACK, 0, 4, 4), 'ok'],
    ['bloom key', spec(T.BLOOM_FILTER, 4, 4, 4), 'EINVAL'],
    ['bloom map_extra 16', spec(T.BLOOM_FILTER, 0, 4, 4, 0, { mapExtra: 16n }), 'EINVAL'],
    ['map_extra on hash', spec(T.HASH, 4, 4, 4, 0, { mapExtra: 1n }), 'EINVAL'],
    ['ringbuf not pow2', spec(T.RINGBUF, 0, 0, 3 * 4096), 'EINVAL'],
    ['ringbuf not page aligned', spec(T.RINGBUF, 0, 0, 2048), 'EINVAL'],
    ['ringbuf ok', spec(T.RINGBUF, 0, 0, 4096), 'ok'],
    ['devmap value 12', spec(T.DEVMAP, 4, 12, 4), 'EINVAL'],
    ['cpumap > NR_CPUS', spec(T.CPUMAP, 4, 4, 8193), 'E2BIG'],
    ['xskmap value 8', spec(T.XSKMAP, 4, 8, 4), 'EINVAL'],
    ['array of maps without inner', spec(T.ARRAY_OF_MAPS, 4, 4, 4), 'EBADF'],
    ['array of maps ok', spec(T.ARRAY_OF_MAPS, 4, 4, 4, 0, { innerMap: inner }), 'ok'],
    ['bad name', spec(T.ARRAY, 4, 4, 1, 0, { name: 'a-b' }), 'EINVAL'],
    ['long name', spec(T.ARRAY, 4, 4, 1, 0, { name: 'abcdefghijklmnop' }), 'EINVAL'],
    ['unknown type', spec(99, 4, 4, 1), 'EINVAL'],
    ['stack trace (not here yet)', spec(T.STACK_TRACE, 4, 8, 1), 'ENOTSUPP'],
    ['spin lock in percpu', spec(T.PERCPU_HASH, 4, 8, 1, 0, { spinLockOff: 0 }), 'ENOTSUPP'],
  ];
  for (const [name, s, want] of cases) assert.equal(code(() => createMap(env(), s)), want, name);
});

test('createMap: the handle is registered and describes the map', () => {
  const e = env();
  const m = createMap(e, spec(T.ARRAY, 4, 12, 3, 0, { name: 'arr' }));
  assert.equal(mapFromHandle(e.space, m.handleAddr), m);
  assert.equal(mapFromHandle(e.space, BigInt(m.handleAddr)), m);
  const h = e.space.read(m.handleAddr, 32);
  assert.deepEqual([rdU32(h, 0), rdU32(h, 4), rdU32(h, 8), rdU32(h, 12), rdU32(h, 20)], [T.ARRAY, 4, 12, 3, 16]);
  assert.equal(Number(rdU64(h, 24)), m.lookupElem(scratchKey(e, u32(0)), 0));
  m.close();
  assert.equal(mapFromHandle(e.space, m.handleAddr), undefined);
});

function scratchKey(e: MapEnv, bytes: Uint8Array): number {
  const r = e.space.alloc(Math.max(bytes.length, 1), 'key');
  e.space.write(r.addr, bytes);
  return r.addr;
}

// ---- arrays ----

test('array: update flags, bounds, delete, get_next_key', () => {
  const m = createMap(env(), spec(T.ARRAY, 4, 8, 3));
  assert.deepEqual(m.lookup(u32(2)), new Uint8Array(8));
  assert.equal(code(() => m.lookup(u32(3))), 'ENOENT');
  m.update(u32(1), u64(7n));
  assert.equal(rdU64(m.lookup(u32(1))), 7n);
  m.update(u32(1), u64(8n), BPF_EXIST);
  assert.equal(code(() => m.update(u32(1), u64(9n), BPF_NOEXIST)), 'EEXIST');
  assert.equal(code(() => m.update(u32(3), u64(9n))), 'E2BIG');
  assert.equal(code(() => m.update(u32(0), u64(9n), 3)), 'EINVAL');
  assert.equal(code(() => m.update(u32(0), u64(9n), BPF_F_LOCK)), 'EINVAL');
  assert.equal(code(() => m.delete(u32(0))), 'EINVAL');
  assert.deepEqual(keys(m).map((k) => rdU32(k)), [0, 1, 2]);
  assert.equal(rdU32(m.getNextKey(u32(100))), 0);
  assert.equal(code(() => m.getNextKey(u32(2))), 'ENOENT');
  assert.equal(code(() => m.lookupAndDelete(u32(0))), 'ENOTSUPP');
});

test('array: program-side lookups return stable addresses into the values', () => {
  const e = env();
  const m = createMap(e, spec(T.ARRAY, 4, 4, 4));
  const k = scratchKey(e, u32(2));
  const a = m.lookupElem(k, 0);
  e.space.write(a, u32(0xabcd));
  assert.equal(rdU32(m.lookup(u32(2))), 0xabcd);
  assert.equal(m.lookupElem(k, 0), a);
  e.space.write(k, u32(4));
  assert.equal(m.lookupElem(k, 0), 0);
  assert.equal(m.deleteElem(k, 0), -22);
});

test('percpu array: one value per CPU, syscall values rounded up to 8 bytes per CPU', () => {
  const e = env(3);
  const m = createMap(e, spec(T.PERCPU_ARRAY, 4, 4, 2));
  assert.equal(m.lookup(u32(0)).length, 24);
  const v = new Uint8Array(24);
  v.set(u32(10), 0); v.set(u32(11), 8); v.set(u32(12), 16);
  m.update(u32(1), v);
  const k = scratchKey(e, u32(1));
  for (let cpu = 0; cpu < 3; cpu++) assert.equal(rdU32(e.space.read(m.lookupElem(k, cpu), 4)), 10 + cpu);
  const val = scratchKey(e, u32(99));
  assert.equal(m.updateElem(k, val, BPF_ANY, 2), 0); // a program on CPU 2 writes only its slot
  assert.deepEqual([0, 8, 16].map((o) => rdU32(m.lookup(u32(1)), o)), [10, 11, 99]);
  assert.equal(code(() => m.update(u32(1), new Uint8Array(4))), 'EINVAL'); // one CPU's worth is not enough
});

test('mmapable array: a live view of the values; EINVAL without BPF_F_MMAPABLE', () => {
  const m = createMap(env(), spec(T.ARRAY, 4, 4, 3, 1 << 10)) as ArrayMap;
  m.update(u32(2), u32(0x01020304));
  const view = m.mmap();
  assert.equal(view.length, 24);
  assert.equal(rdU32(view, 16), 0x01020304);
  view.set(u32(7), 8);
  assert.equal(rdU32(m.lookup(u32(1))), 7);
  assert.equal(code(() => (createMap(env(), spec(T.ARRAY, 4, 4, 3)) as ArrayMap).mmap()), 'EINVAL');
});

// ---- hash maps ----

test('hash: capacity, flags, delete, lookup_and_delete', () => {
  const m = createMap(env(), spec(T.HASH, 4, 8, 2));
  m.update(u32(1), u64(1n));
  m.update(u32(2), u64(2n), BPF_NOEXIST);
  assert.equal(code(() => m.update(u32(3), u64(3n))), 'E2BIG');
  assert.equal(code(() => m.update(u32(3), u64(3n), BPF_EXIST)), 'ENOENT');
  assert.equal(code(() => m.update(u32(1), u64(3n), BPF_NOEXIST)), 'EEXIST');
  m.update(u32(1), u64(5n), BPF_EXIST); // replacing works when full
  assert.equal(rdU64(m.lookup(u32(1))), 5n);
  assert.equal(code(() => m.update(u32(1), u64(5n), 4 | 8)), 'EINVAL');
  assert.equal(code(() => m.delete(u32(9))), 'ENOENT');
  assert.equal(rdU64(m.lookupAndDelete(u32(2))), 2n);
  assert.equal(code(() => m.lookup(u32(2))), 'ENOENT');
  m.update(u32(3), u64(3n));
  assert.equal((m as HashMap).size, 2);
});

test('hash: get_next_key walks the kernel\'s buckets (jhash, seed 0) and restarts on a missing key', () => {
  const m = createMap(env(), spec(T.HASH, 4, 8, 4, BPF_F_ZERO_SEED));
  for (let i = 0; i < 4; i++) m.update(u32(i), u64(i));
  // the order Linux 6.18 gives with BPF_F_ZERO_SEED (see maps_kernel_diff.test.ts)
  assert.deepEqual(keys(m).map((k) => rdU32(k)), [0, 2, 3, 1]);
  assert.equal(rdU32(m.getNextKey(u32(77))), 0);
  assert.equal(rdU32(m.getNextKey(u32(3))), 1);
});

test('hash: replacing a value moves it to a new slot (the kernel allocates a new element)', () => {
  const e = env();
  const m = createMap(e, spec(T.HASH, 4, 8, 4));
  m.update(u32(1), u64(1n));
  const k = scratchKey(e, u32(1));
  const a1 = m.lookupElem(k, 0);
  m.update(u32(1), u64(2n));
  const a2 = m.lookupElem(k, 0);
  assert.notEqual(a1, a2);
  assert.equal(rdU64(e.space.read(a2, 8)), 2n);
});

test('percpu hash: per-CPU values, updated in place', () => {
  const e = env(2);
  const m = createMap(e, spec(T.PERCPU_HASH, 4, 4, 4));
  const v = new Uint8Array(16);
  v.set(u32(1), 0); v.set(u32(2), 8);
  m.update(u32(7), v);
  const k = scratchKey(e, u32(7));
  const a0 = m.lookupElem(k, 0);
  const a1 = m.lookupElem(k, 1);
  assert.equal(a1 - a0, 8);
  assert.deepEqual([rdU32(e.space.read(a0, 4)), rdU32(e.space.read(a1, 4))], [1, 2]);
  m.update(u32(7), new Uint8Array(16).fill(3));
  assert.equal(m.lookupElem(k, 0), a0);
  assert.equal(code(() => m.update(u32(7), v, BPF_F_LOCK)), 'EINVAL');
  // a program inserting a new key writes its CPU's value and zeroes the others
  const k2 = scratchKey(e, u32(8));
  assert.equal(m.updateElem(k2, scratchKey(e, u32(42)), BPF_ANY, 1), 0);
  const got = m.lookup(u32(8));
  assert.deepEqual([rdU32(got, 0), rdU32(got, 8)], [0, 42]);
});

test('lru hash: the kernel\'s LRU: unreferenced elements go first; program lookups give a second chance, syscall lookups do not', () => {
  const e = env();
  const m = createMap(e, spec(T.LRU_HASH, 4, 8, 3));
  for (let i = 1; i <= 3; i++) m.update(u32(i), u64(i));
  m.lookup(u32(1)); // syscall: no reference bit
  m.update(u32(4), u64(4n)); // evicts 1
  assert.equal(code(() => m.lookup(u32(1))), 'ENOENT');
  assert.equal(m.lookupElem(scratchKey(e, u32(2)), 0) !== 0, true); // program lookup: 2 is referenced
  m.update(u32(5), u64(5n)); // 2 moves to the active list, 3 goes
  assert.deepEqual(keys(m).map((k) => rdU32(k)).sort(), [2, 4, 5]);
  m.update(u32(6), u64(6n));
  assert.deepEqual(keys(m).map((k) => rdU32(k)).sort(), [2, 5, 6]);
  assert.equal(code(() => m.update(u32(9), u64(9n), 8)), 'EINVAL');
});

test('lru hash: eviction in batches of target_free, as Linux 6.18 (200 entries, 2 CPUs: 151 left after 201 inserts)', () => {
  for (const [n, left, first] of [[3, 3, 2], [8, 7, 3], [200, 151, 51]]) {
    const m = createMap(env(2), spec(T.LRU_HASH, 4, 4, n));
    for (let i = 1; i <= n + 1; i++) m.update(u32(i), u32(i));
    const k = keys(m).map((x) => rdU32(x)).sort((a, b) => a - b);
    assert.equal(k.length, left, `${n}`);
    assert.equal(k[0], first, `${n}`);
  }
});

test('lru percpu hash with BPF_F_NO_COMMON_LRU: one LRU list per CPU, refilled 4 at a time', () => {
  const e = env(2);
  const m = createMap(e, spec(T.LRU_PERCPU_HASH, 4, 8, 3, BPF_F_NO_COMMON_LRU));
  assert.equal(m.spec.maxEntries, 4); // rounded up to a multiple of the CPUs, as htab_map_alloc()
  const val = scratchKey(e, u64(1n));
  for (const k of [1, 2]) assert.equal(m.updateElem(scratchKey(e, u32(k)), val, BPF_ANY, 0), 0);
  for (const k of [3, 4]) assert.equal(m.updateElem(scratchKey(e, u32(k)), val, BPF_ANY, 1), 0);
  // CPU 1's list is full: the kernel shrinks up to 4 of its nodes, so both 3 and 4 go
  assert.equal(m.updateElem(scratchKey(e, u32(5)), val, BPF_ANY, 1), 0);
  assert.deepEqual(keys(m).map((k) => rdU32(k)).sort(), [1, 2, 5]);
});

test('hash: batches go by bucket, ENOSPC when the first bucket does not fit, ENOENT at the end', () => {
  const m = createMap(env(), spec(T.HASH, 4, 8, 8));
  for (let i = 0; i < 6; i++) m.update(u32(i), u64(i * 10));
  const seen: number[] = [];
  let batch: Uint8Array | undefined;
  for (;;) {
    const r = m.lookupBatch(batch, 2);
    seen.push(...r.keys.map((k) => rdU32(k)));
    r.keys.forEach((k, i) => assert.equal(rdU64(r.values[i]), BigInt(rdU32(k) * 10)));
    batch = r.outBatch;
    if (r.end) break;
  }
  assert.deepEqual(seen, keys(m).map((k) => rdU32(k)));
  const all = m.lookupAndDeleteBatch(undefined, 100);
  assert.equal(all.end, true);
  assert.equal(all.keys.length, 6);
  assert.equal(code(() => m.getNextKey()), 'ENOENT');
  assert.equal(m.updateBatch([u32(1), u32(2)], [u64(1n), u64(2n)]), 2);
  assert.equal(code(() => m.updateBatch([u32(3)], [u64(3n)], BPF_NOEXIST)), 'EINVAL'); // elem_flags: BPF_F_LOCK only (Linux 6.18)
  const small = createMap(env(), spec(T.HASH, 4, 8, 2));
  small.updateBatch([u32(1), u32(2)], [u64(1n), u64(2n)]);
  assert.throws(() => small.updateBatch([u32(1), u32(3)], [u64(3n), u64(1n)]), (e: unknown) => e instanceof MapBatchError && e.count === 1 && e.code === 'E2BIG');
  assert.equal(m.deleteBatch([u32(1), u32(2)]), 2);
  m.update(u32(3), u64(3n));
  assert.throws(() => m.deleteBatch([u32(3), u32(3)]), (e: unknown) => e instanceof MapBatchError && e.count === 1 && e.code === 'ENOENT');
});

test('array: lookup batch continues after in_batch, update batch works, delete batch is not supported', () => {
  const m = createMap(env(), spec(T.ARRAY, 4, 4, 5));
  m.updateBatch([u32(0), u32(4)], [u32(100), u32(104)]);
  const a = m.lookupBatch(undefined, 3);
  assert.deepEqual(a.keys.map((k) => rdU32(k)), [0, 1, 2]);
  assert.equal(a.end, false);
  const b = m.lookupBatch(a.outBatch, 3);
  assert.deepEqual(b.keys.map((k) => rdU32(k)), [3, 4]);
  assert.equal(rdU32(b.values[1]), 104);
  assert.equal(b.end, true);
  assert.equal(code(() => m.deleteBatch([u32(0)])), 'ENOTSUPP');
  assert.equal(code(() => m.lookupAndDeleteBatch(undefined, 1)), 'ENOTSUPP');
});

// ---- freeze and access flags ----

test('freeze and BPF_F_RDONLY/WRONLY: EPERM on the syscall side; programs still write', () => {
  const e = env();
  const m = createMap(e, spec(T.ARRAY, 4, 4, 2));
  m.freeze();
  assert.equal(m.frozen, true);
  assert.equal(code(() => m.update(u32(0), u32(1))), 'EPERM');
  assert.equal(code(() => m.freeze()), 'EPERM');
  assert.equal(rdU32(m.lookup(u32(0))), 0);
  assert.equal(m.updateElem(scratchKey(e, u32(0)), scratchKey(e, u32(5)), 0, 0), 0);
  const h = createMap(e, spec(T.HASH, 4, 4, 2));
  h.freeze();
  assert.equal(code(() => h.freeze()), 'EPERM'); // a frozen map is not writable: EPERM before EBUSY (Linux 6.18)
  assert.equal(code(() => h.delete(u32(0))), 'EPERM');
  const ro = createMap(e, spec(T.HASH, 4, 4, 2, BPF_F_RDONLY));
  assert.equal(code(() => ro.update(u32(0), u32(0))), 'EPERM');
  assert.equal(code(() => ro.lookup(u32(0))), 'ENOENT');
  const wo = createMap(e, spec(T.HASH, 4, 4, 2, BPF_F_WRONLY));
  wo.update(u32(0), u32(0));
  assert.equal(code(() => wo.lookup(u32(0))), 'EPERM');
  assert.equal(code(() => wo.getNextKey()), 'EPERM');
  assert.equal(code(() => m.lookup(u32(0), 8)), 'EINVAL');
});

test('spin lock field: updates keep the lock word, lookups zero it, BPF_F_LOCK accepted', () => {
  const e = env();
  const m = createMap(e, spec(T.HASH, 4, 8, 2, 0, { spinLockOff: 0 }));
  m.update(u32(1), new Uint8Array([1, 1, 1, 1, 5, 0, 0, 0]));
  const a = m.lookupElem(scratchKey(e, u32(1)), 0);
  assert.deepEqual([...e.space.read(a, 8)], [0, 0, 0, 0, 5, 0, 0, 0]);
  e.space.write(a, u32(1)); // held
  m.update(u32(1), new Uint8Array([0, 0, 0, 0, 6, 0, 0, 0]), BPF_F_LOCK);
  assert.equal(m.lookupElem(scratchKey(e, u32(1)), 0), a); // in place
  assert.deepEqual([...m.lookup(u32(1), BPF_F_LOCK)], [0, 0, 0, 0, 6, 0, 0, 0]);
  assert.equal(code(() => m.freeze()), 'ENOTSUPP');
});

// ---- queue, stack, bloom ----

test('queue and stack: order, full (E2BIG or overwrite with BPF_EXIST), empty (ENOENT)', () => {
  const q = createMap(env(), spec(T.QUEUE, 0, 4, 3));
  const s = createMap(env(), spec(T.STACK, 0, 4, 3));
  for (const m of [q, s]) {
    for (let i = 1; i <= 3; i++) m.update(new Uint8Array(0), u32(i));
    assert.equal(code(() => m.update(new Uint8Array(0), u32(9))), 'E2BIG');
    assert.equal(code(() => m.update(new Uint8Array(0), u32(9), BPF_NOEXIST)), 'EINVAL');
    m.update(new Uint8Array(0), u32(4), BPF_EXIST); // drops the oldest (1)
    assert.equal(code(() => m.delete(new Uint8Array(0))), 'EINVAL');
    assert.equal(code(() => m.getNextKey()), 'EINVAL');
  }
  const drain = (m: BpfMap): number[] => {
    const out: number[] = [];
    for (;;) {
      try { out.push(rdU32(m.lookupAndDelete())); } catch (e) { assert.equal((e as BpfError).code, 'ENOENT'); return out; }
    }
  };
  assert.equal(rdU32(q.lookup(new Uint8Array(0))), 2); // peek
  assert.deepEqual(drain(q), [2, 3, 4]);
  assert.deepEqual(drain(s), [4, 3, 2]);
  assert.equal((q as QueueStackMap).length, 0);
});

test('queue: program push/pop/peek through addresses', () => {
  const e = env();
  const q = createMap(e, spec(T.QUEUE, 0, 8, 2));
  const v = scratchKey(e, u64(5n));
  assert.equal(q.pushElem(v, 0, 0), 0);
  const out = scratchKey(e, u64(0n));
  assert.equal(q.peekElem(out, 0), 0);
  assert.equal(rdU64(e.space.read(out, 8)), 5n);
  assert.equal(q.popElem(out, 0), 0);
  e.space.write(out, u64(77n));
  assert.equal(q.popElem(out, 0), -2);
  assert.equal(rdU64(e.space.read(out, 8)), 0n); // zeroed when empty
  assert.equal(q.lookupElem(v, 0), 0);
});

test('bloom filter: no false negatives, ENOENT for most absent values, no delete', () => {
  const m = createMap(env(), spec(T.BLOOM_FILTER, 0, 4, 100)) as BloomFilterMap;
  assert.equal(m.nrHashFuncs, 5);
  assert.equal(m.bitsetMask, 1023); // roundup_pow_of_two(100 * 5 / 5 * 7)
  for (let i = 0; i < 100; i++) m.update(new Uint8Array(0), u32(i * 7919));
  for (let i = 0; i < 100; i++) assert.deepEqual(m.lookup(u32(i * 7919)), u32(i * 7919));
  let absent = 0;
  for (let i = 0; i < 1000; i++) if (code(() => m.lookup(u32(1_000_000 + i))) === 'ENOENT') absent++;
  assert.ok(absent > 900, `false positives: ${1000 - absent}`);
  assert.equal(code(() => m.update(new Uint8Array(0), u32(1), BPF_EXIST)), 'EINVAL');
  assert.equal(code(() => m.delete(new Uint8Array(0))), 'ENOTSUPP');
  const m3 = createMap(env(), spec(T.BLOOM_FILTER, 0, 3, 1, 0, { mapExtra: 3n })) as BloomFilterMap;
  assert.equal(m3.nrHashFuncs, 3);
  assert.equal(m3.bitsetMask, 63);
});

test('bloom filter: the same false positives as Linux 6.18 (BPF_F_ZERO_SEED: same bits, same jhash)', () => {
  // values 0..9 pushed, values 10..1999 peeked: those the kernel reported present
  const fp = (valueSize: number, mapExtra: bigint): number[] => {
    const m = createMap(env(), spec(T.BLOOM_FILTER, 0, valueSize, 10, BPF_F_ZERO_SEED, { mapExtra }));
    const enc = (v: number): Uint8Array => Uint8Array.from({ length: valueSize }, (_, i) => (v >> (8 * i)) & 255);
    for (let v = 0; v < 10; v++) m.update(new Uint8Array(0), enc(v));
    const out: number[] = [];
    for (let v = 10; v < 2000; v++) if (code(() => m.lookup(enc(v))) === 'ok') out.push(v);
    return out;
  };
  assert.deepEqual(fp(4, 0n), [324, 954, 1345, 1474, 1963]);
  assert.deepEqual(fp(3, 3n), [26, 29, 36, 61, 113, 149, 194, 195, 213, 240, 299, 314, 331, 397, 431, 441, 452, 458, 468, 472,
    482, 499, 557, 561, 572, 657, 668, 691, 729, 740, 797, 815, 858, 896, 911, 946, 951, 1009, 1066, 1093, 1103, 1105, 1190, 1201,
    1207, 1277, 1341, 1353, 1368, 1425, 1447, 1469, 1471, 1479, 1486, 1516, 1523, 1526, 1569, 1575, 1606, 1616, 1630, 1668, 1686,
    1733, 1746, 1763, 1768, 1796, 1805, 1809, 1835, 1863, 1865, 1867, 1883, 1901, 1923, 1934, 1954, 1966, 1976, 1997]);
});

// ---- fd arrays, map-in-map ----

test('prog array: BPF_ANY only, E2BIG past the end, ENOENT when empty, ids on lookup', () => {
  const progs = new Map<number, ProgRef>([[10, { insns: [], type: 6, name: 'a' }], [11, { insns: [], type: 6 }], [12, { insns: [], type: 3 }]]);
  const ids = new Map([...progs.values()].map((p, i) => [p, 100 + i]));
  const held: unknown[] = [];
  const e = env(4, {
    progFromFd: (fd) => progs.get(fd), progId: (p) => ids.get(p)!, hold: (o) => held.push(o), release: (o) => held.splice(held.indexOf(o), 1),
  });
  const m = createMap(e, spec(T.PROG_ARRAY, 4, 4, 2)) as FdArrayMap;
  assert.equal(code(() => m.update(u32(0), u32(10), BPF_NOEXIST)), 'EINVAL');
  assert.equal(code(() => m.update(u32(2), u32(10))), 'E2BIG');
  assert.equal(code(() => m.update(u32(0), u32(99))), 'EBADF');
  m.update(u32(0), u32(10));
  assert.equal(code(() => m.update(u32(1), u32(12))), 'EINVAL'); // another program type
  assert.equal(rdU32(m.lookup(u32(0))), 100);
  assert.equal(code(() => m.lookup(u32(1))), 'ENOENT');
  assert.equal(m.progAt(0), progs.get(10));
  assert.equal(held.length, 1);
  assert.equal(code(() => m.delete(u32(1))), 'ENOENT');
  assert.equal(code(() => m.delete(u32(5))), 'E2BIG');
  m.delete(u32(0));
  assert.equal(held.length, 0);
});

test('perf event array: records captured per index/CPU, lookups not supported', () => {
  const m = createMap(env(), spec(T.PERF_EVENT_ARRAY, 4, 4, 4)) as FdArrayMap;
  m.update(u32(1), u32(33));
  assert.equal(code(() => m.lookup(u32(1))), 'ENOTSUPP');
  assert.equal(m.output(0xffffffff, 1, new Uint8Array([1, 2])), 0);
  assert.equal(m.output(0, 1, new Uint8Array([3])), -2);
  assert.equal(m.output(9, 1, new Uint8Array([3])), -7);
  assert.deepEqual(m.drain(), [{ index: 1, cpu: 1, data: new Uint8Array([1, 2]) }]);
});

test('array of maps / hash of maps: inner maps by fd, shape checked, programs get the inner handle', () => {
  const e = env();
  const inner = createMap(e, spec(T.ARRAY, 4, 4, 2));
  const same = createMap(e, spec(T.ARRAY, 4, 4, 2));
  const bigger = createMap(e, spec(T.ARRAY, 4, 4, 3));
  const hashInner = createMap(e, spec(T.HASH, 4, 4, 2));
  const ids = new Map<BpfMap, number>([[inner, 1], [same, 2], [bigger, 3]]);
  const byFd = new Map<number, BpfMap>([[3, inner], [4, same], [5, bigger], [6, hashInner]]);
  const e2: MapEnv = { ...e, mapFromFd: (fd) => byFd.get(fd), mapId: (m) => ids.get(m) ?? 0 };
  const aom = createMap(e2, spec(T.ARRAY_OF_MAPS, 4, 4, 2, 0, { innerMap: inner }));
  aom.update(u32(0), u32(4));
  assert.equal(rdU32(aom.lookup(u32(0))), 2);
  assert.equal(code(() => aom.update(u32(1), u32(5))), 'EINVAL'); // max_entries differs
  assert.equal(code(() => aom.update(u32(1), u32(6))), 'EINVAL'); // type differs
  assert.equal(code(() => aom.update(u32(1), u32(9))), 'EBADF');
  assert.equal(aom.lookupElem(scratchKey(e, u32(0)), 0), same.handleAddr);
  const flexible = createMap(e, spec(T.ARRAY, 4, 4, 2, BPF_F_INNER_MAP));
  byFd.set(7, createMap(e, spec(T.ARRAY, 4, 4, 9, BPF_F_INNER_MAP)));
  const aom2 = createMap(e2, spec(T.ARRAY_OF_MAPS, 4, 4, 2, 0, { innerMap: flexible }));
  aom2.update(u32(0), u32(7)); // BPF_F_INNER_MAP: any max_entries
  const hom = createMap(e2, spec(T.HASH_OF_MAPS, 4, 4, 2, 0, { innerMap: inner }));
  hom.update(u32(42), u32(3));
  assert.equal(rdU32(hom.lookup(u32(42))), 1);
  assert.equal(hom.lookupElem(scratchKey(e, u32(42)), 0), inner.handleAddr);
  assert.equal(code(() => createMap(e2, spec(T.ARRAY_OF_MAPS, 4, 4, 1, 0, { innerMap: aom }))), 'EINVAL');
});

// ---- redirect targets ----

test('devmap, devmap_hash, cpumap, xskmap: update and delete rules', () => {
  const e = env(2, { ifindexExists: (i) => i === 1 || i === 2 });
  const dev = createMap(e, spec(T.DEVMAP, 4, 4, 4)) as TargetArrayMap;
  assert.equal(dev.spec.flags, 0); // what a re-create passes (the kernel refuses 0x80 from users) ...
  assert.equal(dev.mapFlags, BPF_F_RDONLY_PROG); // ... and what bpf_map_info shows (bpftool: flags 0x80)
  assert.equal(code(() => dev.update(u32(0), u32(1), BPF_NOEXIST)), 'EEXIST');
  assert.equal(code(() => dev.update(u32(4), u32(1))), 'E2BIG');
  assert.equal(code(() => dev.update(u32(0), u32(7))), 'EINVAL'); // no such device
  dev.update(u32(0), u32(2));
  assert.deepEqual(dev.lookup(u32(0)), u32(2));
  assert.equal(dev.targetAt(0)?.target, 2);
  dev.delete(u32(3)); // empty slot: fine
  assert.equal(code(() => dev.delete(u32(4))), 'EINVAL');
  assert.equal(code(() => dev.lookup(u32(3))), 'ENOENT');

  const dh = createMap(e, spec(T.DEVMAP_HASH, 4, 8, 2));
  dh.update(u32(100), new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0]));
  assert.equal(code(() => dh.update(u32(101), new Uint8Array(8))), 'EINVAL'); // ifindex 0
  dh.update(u32(101), new Uint8Array([2, 0, 0, 0, 0, 0, 0, 0]));
  assert.equal(code(() => dh.update(u32(102), new Uint8Array([2, 0, 0, 0, 0, 0, 0, 0]))), 'E2BIG');
  assert.equal(code(() => dh.update(u32(100), new Uint8Array([2, 0, 0, 0, 0, 0, 0, 0]), BPF_NOEXIST)), 'EEXIST');
  assert.deepEqual(keys(dh).map((k) => rdU32(k)), [100, 101]);
  assert.equal(code(() => dh.delete(u32(5))), 'ENOENT');

  const cpu = createMap(e, spec(T.CPUMAP, 4, 4, 4));
  cpu.update(u32(1), u32(128));
  assert.deepEqual(cpu.lookup(u32(1)), u32(128));
  assert.equal(code(() => cpu.update(u32(3), u32(128))), 'ENODEV'); // CPU 3 is not possible
  assert.equal(code(() => cpu.update(u32(0), u32(16385))), 'ERANGE'); // EOVERFLOW
  cpu.update(u32(1), u32(0)); // qsize 0 deletes
  assert.equal(code(() => cpu.lookup(u32(1))), 'ENOENT');

  const xsk = createMap(e, spec(T.XSKMAP, 4, 4, 2));
  assert.equal(code(() => xsk.update(u32(0), u32(5), BPF_EXIST)), 'ENOENT');
  xsk.update(u32(0), u32(5));
  assert.equal(code(() => xsk.update(u32(0), u32(6), BPF_NOEXIST)), 'EEXIST');
  assert.equal(code(() => xsk.lookup(u32(0))), 'ENOTSUPP');
  xsk.delete(u32(1));
});

// ---- persistence ----

test('snapshot/restore: same contents and iteration order, type checked', () => {
  const e = env(2);
  for (const s of [spec(T.HASH, 4, 8, 8), spec(T.PERCPU_HASH, 4, 4, 8), spec(T.ARRAY, 4, 4, 4), spec(T.LRU_HASH, 4, 4, 8),
    spec(T.LPM_TRIE, 8, 4, 8, BPF_F_NO_PREALLOC)]) {
    const a = createMap(e, s);
    const b = createMap(e, s);
    for (let i = 0; i < 4; i++) {
      const k = s.type === T.LPM_TRIE ? new Uint8Array([8 + i * 8, 0, 0, 0, 10, i, 0, 0]) : u32(i * 3 % 4);
      a.update(k, new Uint8Array(s.type === T.PERCPU_HASH ? 16 : s.valueSize).fill(i + 1));
    }
    b.update(keys(a)[0], new Uint8Array(a.lookup(keys(a)[0]).length)); // something to be replaced
    b.restore(a.snapshot());
    assert.deepEqual(keys(b), keys(a), `type ${s.type}`);
    for (const k of keys(a)) assert.deepEqual(b.lookup(k), a.lookup(k));
  }
  const q = createMap(e, spec(T.QUEUE, 0, 4, 4));
  q.update(new Uint8Array(0), u32(1));
  q.update(new Uint8Array(0), u32(2));
  const q2 = createMap(e, spec(T.QUEUE, 0, 4, 4));
  q2.restore(q.snapshot());
  assert.equal(rdU32(q2.lookupAndDelete()), 1);
  assert.equal(code(() => q2.restore(createMap(e, spec(T.ARRAY, 4, 4, 1)).snapshot())), 'EINVAL');
  assert.equal(code(() => q2.restore(new Uint8Array([1, 2, 3]))), 'EINVAL');
});

test('close releases the storage', () => {
  const e = env();
  const before = e.space.list().length;
  const maps = [createMap(e, spec(T.HASH, 4, 8, 8)), createMap(e, spec(T.ARRAY, 4, 8, 8)),
    createMap(e, spec(T.LPM_TRIE, 8, 8, 8, BPF_F_NO_PREALLOC)), createMap(e, spec(T.RINGBUF, 0, 0, 4096))];
  maps[2].update(new Uint8Array([8, 0, 0, 0, 1, 0, 0, 0]), u64(1n));
  for (const m of maps) m.close();
  assert.equal(e.space.list().length, before);
  assert.equal(code(() => maps[0].lookup(u32(0))), 'EBADF');
});

test('HashMap: BPF_F_NO_PREALLOC grows storage on demand', () => {
  const e = env();
  const m = createMap(e, spec(T.HASH, 4, 8, 100000, BPF_F_NO_PREALLOC));
  const before = e.space.list().length;
  m.update(u32(1), u64(1n));
  assert.equal(e.space.list().length, before + 1);
  assert.equal(m instanceof HashMap, true);
});

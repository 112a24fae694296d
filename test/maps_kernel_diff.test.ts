/*
 * Differential tests of map semantics against the running kernel through bpftool (root, bpftool
 * and a mounted bpffs; skipped with a message otherwise): the same create/update/delete commands
 * on both, comparing errnos (bpftool's "Error: ... failed: <strerror>") and get_next_key order
 * (`bpftool map dump`), for hash maps with BPF_F_ZERO_SEED (jhash bucket order), LPM tries
 * (postorder), arrays, queues and stacks. Pins live under /sys/fs/bpf/bpfkit_maps_<pid>_* and
 * are removed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { BpfError, ERRNO, strerror } from '../src/errors.js';
import { BPF_F_NO_PREALLOC, BPF_F_ZERO_SEED, BPF_MAP_TYPE as T, type BpfMap, MAP_TYPE_NAMES, type MapSpec, createMap } from '../src/maps/index.js';
import { AddressSpace } from '../src/vm/address_space.js';
import { missingKernel } from './oracles.js';

let pinCount = 0;
const pins: string[] = [];

function bpftool(args: string[], cpu0 = false): { status: number; out: string; err: string } {
  const r = cpu0 ? spawnSync('taskset', ['-c', '0', 'bpftool', ...args], { encoding: 'utf8' }) : spawnSync('bpftool', args, { encoding: 'utf8' });
  return { status: r.status ?? -1, out: r.stdout, err: r.stderr };
}

/** The kernel side: a pinned map and its bpftool operations. */
class KernelMap {
  readonly pin: string;
  constructor(s: MapSpec) {
    this.pin = `/sys/fs/bpf/bpfkit_maps_${process.pid}_${pinCount++}`;
    const r = bpftool(['map', 'create', this.pin, 'type', MAP_TYPE_NAMES[s.type], 'key', String(s.keySize), 'value', String(s.valueSize),
      'entries', String(s.maxEntries), 'name', 'bpfkit_t', 'flags', String(s.flags)]);
    if (r.status !== 0) throw new Error(`bpftool map create failed: ${r.err}`);
    pins.push(this.pin);
  }
  /** undefined on success, else the strerror text bpftool printed. `cpu0`: run bpftool on CPU 0. */
  op(cmd: string[], cpu0 = false): string | undefined {
    const args = ['map', cmd[0], 'pinned', this.pin, ...cmd.slice(1)];
    const r = cpu0 ? bpftool(args, true) : bpftool(args);
    const status = r.status;
    const err = r.err;
    if (status === 0) return undefined;
    if (err.trim() === '') { // `map lookup` of a missing key: "Not found" on stdout, exit status -errno
      const name = Object.entries(ERRNO).find(([, n]) => n === 256 - status)?.[0];
      return name ? strerror(name) : `exit ${status}`;
    }
    const m = /failed: (.*)$/m.exec(err) ?? /Error: (.*)$/m.exec(err);
    return m ? m[1].trim() : err.trim();
  }
  keys(): string[] {
    const r = bpftool(['-j', 'map', 'dump', 'pinned', this.pin]);
    const j = JSON.parse(r.out) as { key: string[] }[];
    return j.map((e) => e.key.map((b) => b.replace(/^0x/, '')).join(' '));
  }
}

function createError(s: MapSpec): string | undefined {
  const pin = `/sys/fs/bpf/bpfkit_maps_${process.pid}_${pinCount++}`;
  const r = bpftool(['map', 'create', pin, 'type', MAP_TYPE_NAMES[s.type], 'key', String(s.keySize), 'value', String(s.valueSize),
    'entries', String(s.maxEntries), 'name', 'bpfkit_t', 'flags', String(s.flags)]);
  if (r.status === 0) {
    rmSync(pin, { force: true });
    return undefined;
  }
  const m = /failed: (.*)$/m.exec(r.err);
  return m ? m[1].trim() : r.err.trim();
}

const hex = (b: Uint8Array): string => [...b].map((x) => x.toString(16).padStart(2, '0')).join(' ');
const bytesArg = (b: Uint8Array): string[] => ['hex', ...[...b].map((x) => x.toString(16).padStart(2, '0'))];

function ours(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (e) {
    assert.ok(e instanceof BpfError, String(e));
    return strerror(e.code);
  }
}

function ourKeys(m: BpfMap): string[] {
  const out: string[] = [];
  let k: Uint8Array | undefined;
  for (;;) {
    try { k = m.getNextKey(k); } catch { return out; }
    out.push(hex(k));
  }
}

function pair(s: MapSpec, nrCpus = 1): [BpfMap, KernelMap] {
  return [createMap({ space: new AddressSpace(), nrCpus }, s), new KernelMap(s)];
}

/** The kernel's number of possible CPUs (/sys/devices/system/cpu/possible, "0-N"). */
function possibleCpus(): number {
  const text = readFileSync('/sys/devices/system/cpu/possible', 'utf8').trim();
  return text.split(',').reduce((n, part) => {
    const [a, b] = part.split('-').map(Number);
    return n + (b === undefined ? 1 : b - a + 1);
  }, 0);
}

function cleanup(): void {
  for (const p of pins.splice(0)) rmSync(p, { force: true });
}

let rngState = 99;
const rand = (n: number): number => { rngState = (Math.imul(rngState, 1103515245) + 12345) >>> 0; return (rngState >>> 8) % n; };

test('kernel diff: hash maps with BPF_F_ZERO_SEED iterate in the kernel\'s order (jhash and jhash2 keys)', (t) => {
  const why = missingKernel();
  if (why) { t.skip(why); return; }
  try {
    for (const keySize of [4, 3, 8, 13, 16]) {
      const s: MapSpec = { type: T.HASH, keySize, valueSize: 4, maxEntries: 24, flags: BPF_F_ZERO_SEED };
      const [m, k] = pair(s);
      for (let i = 0; i < 20; i++) {
        const key = Uint8Array.from({ length: keySize }, () => rand(256));
        const value = Uint8Array.from({ length: 4 }, () => rand(256));
        assert.equal(ours(() => m.update(key, value)), k.op(['update', 'key', ...bytesArg(key), 'value', ...bytesArg(value)]));
        if (i % 5 === 4) { // replace an existing key: it moves to the head of its bucket in both
          const again = m.getNextKey();
          assert.equal(ours(() => m.update(again, value)), k.op(['update', 'key', ...bytesArg(again), 'value', ...bytesArg(value)]));
        }
      }
      assert.deepEqual(ourKeys(m), k.keys(), `key_size ${keySize}`);
    }
  } finally {
    cleanup();
  }
});

test('kernel diff: update/delete errnos of hash, array, LPM trie, queue and stack', (t) => {
  const why = missingKernel();
  if (why) { t.skip(why); return; }
  try {
    const u32 = (n: number): Uint8Array => Uint8Array.of(n & 255, (n >> 8) & 255, (n >> 16) & 255, n >>> 24);
    const ops: [MapSpec, [string, Uint8Array?, Uint8Array?, string?][]][] = [
      [{ type: T.HASH, keySize: 4, valueSize: 4, maxEntries: 2, flags: 0 }, [
        ['update', u32(1), u32(1)], ['update', u32(2), u32(2), 'noexist'], ['update', u32(3), u32(3)], ['update', u32(3), u32(3), 'exist'],
        ['update', u32(1), u32(9), 'noexist'], ['update', u32(1), u32(9), 'exist'], ['delete', u32(7)], ['delete', u32(1)],
        ['lookup', u32(1)], ['lookup', u32(2)],
      ]],
      [{ type: T.ARRAY, keySize: 4, valueSize: 4, maxEntries: 2, flags: 0 }, [
        ['update', u32(1), u32(1)], ['update', u32(2), u32(1)], ['update', u32(1), u32(1), 'noexist'], ['delete', u32(0)],
        ['lookup', u32(2)],
      ]],
      [{ type: T.LPM_TRIE, keySize: 8, valueSize: 4, maxEntries: 2, flags: BPF_F_NO_PREALLOC }, [
        ['update', Uint8Array.of(8, 0, 0, 0, 10, 0, 0, 0), u32(1)], ['update', Uint8Array.of(33, 0, 0, 0, 10, 0, 0, 0), u32(1)],
        ['update', Uint8Array.of(16, 0, 0, 0, 10, 1, 0, 0), u32(2)], ['update', Uint8Array.of(24, 0, 0, 0, 10, 1, 2, 0), u32(3)],
        ['update', Uint8Array.of(8, 0, 0, 0, 10, 0, 0, 0), u32(4), 'noexist'], ['delete', Uint8Array.of(12, 0, 0, 0, 10, 0, 0, 0)],
        ['lookup', Uint8Array.of(32, 0, 0, 0, 10, 1, 9, 9)], ['lookup', Uint8Array.of(32, 0, 0, 0, 11, 1, 9, 9)],
      ]],
    ];
    for (const [s, list] of ops) {
      const [m, k] = pair(s);
      for (const [op, key, value, flag] of list) {
        const flags = flag === 'noexist' ? 1 : flag === 'exist' ? 2 : 0;
        const kargs = [op, 'key', ...bytesArg(key!), ...(value ? ['value', ...bytesArg(value)] : []), ...(flag ? [flag] : [])];
        const mine = ours(() => (op === 'update' ? m.update(key!, value!, flags) : op === 'delete' ? m.delete(key!) : m.lookup(key!)));
        const theirs = k.op(kargs);
        assert.equal(mine, theirs && theirs.replace(/^.*: /, ''), `${MAP_TYPE_NAMES[s.type]} ${kargs.join(' ')}`);
      }
    }
    // queue and stack: push beyond capacity, pop order
    for (const type of [T.QUEUE, T.STACK]) {
      const s: MapSpec = { type, keySize: 0, valueSize: 4, maxEntries: 2, flags: 0 };
      const [m, k] = pair(s);
      for (const v of [1, 2, 3]) assert.equal(ours(() => m.update(new Uint8Array(0), u32(v))), k.op(['push', 'value', ...bytesArg(u32(v))]));
      const popped: string[] = [];
      for (let i = 0; i < 2; i++) {
        const r = bpftool(['-j', 'map', 'pop', 'pinned', k.pin]);
        popped.push((JSON.parse(r.out) as { value: string[] }).value.map((b) => b.replace(/^0x/, '')).join(' '));
      }
      assert.deepEqual([hex(m.lookupAndDelete()), hex(m.lookupAndDelete())], popped);
    }
  } finally {
    cleanup();
  }
});

test('kernel diff: LPM trie get_next_key order on random prefixes', (t) => {
  const why = missingKernel();
  if (why) { t.skip(why); return; }
  try {
    const s: MapSpec = { type: T.LPM_TRIE, keySize: 8, valueSize: 4, maxEntries: 64, flags: BPF_F_NO_PREALLOC };
    const [m, k] = pair(s);
    for (let i = 0; i < 40; i++) {
      const len = [0, 4, 8, 9, 16, 20, 24, 32][rand(8)];
      const a = [rand(4) * 64, rand(3), rand(256), rand(256)];
      const key = Uint8Array.of(len, 0, 0, 0, ...a);
      for (let bit = len; bit < 32; bit++) key[4 + (bit >> 3)] &= ~(0x80 >> (bit & 7));
      const v = Uint8Array.of(i, 0, 0, 0);
      assert.equal(ours(() => m.update(key, v)), k.op(['update', 'key', ...bytesArg(key), 'value', ...bytesArg(v)]));
      if (i % 7 === 6) {
        const victim = m.getNextKey();
        assert.equal(ours(() => m.delete(victim)), k.op(['delete', 'key', ...bytesArg(victim)]));
      }
    }
    assert.deepEqual(ourKeys(m), k.keys());
  } finally {
    cleanup();
  }
});

test('kernel diff: LRU hash eviction (common and per-CPU lists) matches the kernel, syscalls on CPU 0', (t) => {
  const why = missingKernel() ?? (spawnSync('taskset', ['-c', '0', 'true']).status === 0 ? undefined : 'taskset cannot pin to CPU 0');
  if (why) { t.skip(why); return; }
  const nrCpus = possibleCpus();
  try {
    for (const [maxEntries, flags] of [[8, 0], [40, 0], [300, 0], [8, 2], [24, 2]]) {
      const s: MapSpec = { type: T.LRU_HASH, keySize: 4, valueSize: 4, maxEntries, flags: flags | BPF_F_ZERO_SEED };
      const [m, k] = pair(s, nrCpus);
      const ops = maxEntries > 100 ? 2 * maxEntries : 6 * maxEntries;
      for (let i = 0; i < ops; i++) {
        const key = Uint8Array.of(rand(maxEntries > 100 ? 256 : 2 * maxEntries), rand(2), 0, 0);
        const value = Uint8Array.of(i & 255, 0, 0, 0);
        const r = rand(10);
        const flag = r === 8 ? 'noexist' : r === 9 ? 'exist' : undefined;
        if (r === 7) {
          assert.equal(ours(() => m.delete(key)), k.op(['delete', 'key', ...bytesArg(key)], true), `delete #${i}`);
        } else {
          const mine = ours(() => m.update(key, value, flag === 'noexist' ? 1 : flag === 'exist' ? 2 : 0));
          assert.equal(mine, k.op(['update', 'key', ...bytesArg(key), 'value', ...bytesArg(value), ...(flag ? [flag] : [])], true), `update #${i}`);
        }
      }
      assert.deepEqual(ourKeys(m), k.keys(), `max_entries ${maxEntries} flags ${flags}`);
    }
  } finally {
    cleanup();
  }
});

test('kernel diff: BPF_MAP_CREATE errnos', (t) => {
  const why = missingKernel();
  if (why) { t.skip(why); return; }
  const specs: MapSpec[] = [
    { type: T.HASH, keySize: 0, valueSize: 4, maxEntries: 1, flags: 0 },
    { type: T.HASH, keySize: 4, valueSize: 4, maxEntries: 1, flags: 1 << 5 },
    { type: T.HASH, keySize: 4, valueSize: 4, maxEntries: 1, flags: 2 },
    { type: T.HASH, keySize: 4, valueSize: (4 << 20) - 60, maxEntries: 1, flags: 0 },
    { type: T.LRU_HASH, keySize: 4, valueSize: 4, maxEntries: 1, flags: 1 },
    { type: T.PERCPU_HASH, keySize: 4, valueSize: 32769, maxEntries: 1, flags: 0 },
    { type: T.ARRAY, keySize: 8, valueSize: 4, maxEntries: 1, flags: 0 },
    { type: T.ARRAY, keySize: 4, valueSize: 4, maxEntries: 0, flags: 0 },
    { type: T.ARRAY, keySize: 4, valueSize: 4, maxEntries: 1, flags: 1 },
    { type: T.PERCPU_ARRAY, keySize: 4, valueSize: 32769, maxEntries: 1, flags: 0 },
    { type: T.LPM_TRIE, keySize: 8, valueSize: 4, maxEntries: 1, flags: 0 },
    { type: T.LPM_TRIE, keySize: 4, valueSize: 4, maxEntries: 1, flags: 1 },
    { type: T.QUEUE, keySize: 4, valueSize: 4, maxEntries: 1, flags: 0 },
    { type: T.RINGBUF, keySize: 0, valueSize: 0, maxEntries: 12288, flags: 0 },
    { type: T.RINGBUF, keySize: 0, valueSize: 0, maxEntries: 4096, flags: 0 },
    { type: T.DEVMAP, keySize: 4, valueSize: 12, maxEntries: 1, flags: 0 },
    { type: T.CPUMAP, keySize: 4, valueSize: 4, maxEntries: 9000, flags: 0 },
    { type: T.XSKMAP, keySize: 4, valueSize: 8, maxEntries: 1, flags: 0 },
    { type: T.PROG_ARRAY, keySize: 4, valueSize: 8, maxEntries: 1, flags: 0 },
    { type: T.HASH, keySize: 4, valueSize: 4, maxEntries: 1, flags: 8 | 16 },
  ];
  for (const s of specs) {
    const mine = ours(() => createMap({ space: new AddressSpace(), nrCpus: 1 }, s));
    assert.equal(mine, createError(s), `${MAP_TYPE_NAMES[s.type]} key ${s.keySize} value ${s.valueSize} entries ${s.maxEntries} flags ${s.flags}`);
  }
});

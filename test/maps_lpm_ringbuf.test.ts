/*
 * LPM trie matching (/0, /32, nested prefixes, deletes that collapse intermediate nodes, the
 * kernel's postorder get_next_key) checked against a naive longest-prefix search on random
 * operations; ring buffer record layout (header, busy/discard bits, pg_off), wraparound,
 * capacity and the consumer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BpfError } from '../src/errors.js';
import {
  BPF_EXIST, BPF_F_NO_PREALLOC, BPF_MAP_TYPE as T, BPF_NOEXIST, BPF_RB_AVAIL_DATA, BPF_RB_CONS_POS, BPF_RB_PROD_POS,
  BPF_RB_RING_SIZE, BPF_RINGBUF_BUSY_BIT, BPF_RINGBUF_DISCARD_BIT, type BpfMap, LpmTrieMap, RingbufMap, createMap,
} from '../src/maps/index.js';
import { AddressSpace } from '../src/vm/address_space.js';

const env = () => ({ space: new AddressSpace(), nrCpus: 2 });
const u32 = (n: number): Uint8Array => { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, n >>> 0, true); return b; };
const rdU32 = (b: Uint8Array, off = 0): number => new DataView(b.buffer, b.byteOffset).getUint32(off, true);
const ip = (s: string): number[] => s.split('.').map(Number);
const key = (prefixlen: number, addr: string): Uint8Array => new Uint8Array([...u32(prefixlen), ...ip(addr)]);
const fmt = (k: Uint8Array): string => `${[...k.subarray(4)].join('.')}/${rdU32(k)}`;

function code(fn: () => unknown): string {
  try { fn(); } catch (e) { assert.ok(e instanceof BpfError); return e.code; }
  return 'ok';
}

function keys(map: BpfMap): string[] {
  const out: string[] = [];
  let k: Uint8Array | undefined;
  for (;;) {
    try { k = map.getNextKey(k); } catch { return out; }
    out.push(fmt(k));
  }
}

const lpm = (max = 16) => createMap(env(), { type: T.LPM_TRIE, keySize: 8, valueSize: 4, maxEntries: max, flags: BPF_F_NO_PREALLOC });

test('lpm: longest prefix wins; /0 matches everything; /32 only itself', () => {
  const m = lpm();
  const table: [string, number][] = [['0.0.0.0/0', 1], ['10.0.0.0/8', 2], ['10.1.0.0/16', 3], ['10.1.2.3/32', 4], ['192.168.0.0/24', 5]];
  for (const [p, v] of table) {
    const [a, l] = p.split('/');
    m.update(key(Number(l), a), u32(v));
  }
  const lookups: [string, number][] = [
    ['10.1.2.3', 4], ['10.1.2.4', 3], ['10.2.0.0', 2], ['11.0.0.0', 1], ['192.168.0.255', 5], ['192.168.1.0', 1], ['0.0.0.0', 1],
  ];
  for (const [a, want] of lookups) assert.equal(rdU32(m.lookup(key(32, a))), want, a);
  // the key's own prefixlen limits the match: 10.1.2.3/16 looked up matches 10.1.0.0/16
  assert.equal(rdU32(m.lookup(key(16, '10.1.2.3'))), 3);
  m.delete(key(0, '0.0.0.0'));
  assert.equal(code(() => m.lookup(key(32, '11.0.0.0'))), 'ENOENT');
  assert.equal(rdU32(m.lookup(key(32, '10.9.9.9'))), 2);
});

test('lpm: update flags, prefixlen bounds, capacity (ENOSPC), exact-match delete', () => {
  const m = lpm(3);
  m.update(key(24, '1.2.3.0'), u32(1));
  assert.equal(code(() => m.update(key(24, '1.2.3.0'), u32(2), BPF_NOEXIST)), 'EEXIST');
  assert.equal(code(() => m.update(key(24, '1.2.4.0'), u32(2), BPF_EXIST)), 'ENOENT');
  m.update(key(24, '1.2.3.0'), u32(3), BPF_EXIST);
  assert.equal(code(() => m.update(key(33, '1.2.3.0'), u32(2))), 'EINVAL');
  assert.equal(code(() => m.update(key(8, '1.0.0.0'), u32(2), 4)), 'EINVAL');
  m.update(key(8, '1.0.0.0'), u32(8));
  m.update(key(16, '9.9.0.0'), u32(16)); // creates an intermediate node too
  assert.equal(code(() => m.update(key(16, '9.8.0.0'), u32(16))), 'ENOSPC');
  m.update(key(16, '9.9.0.0'), u32(17)); // replacing when full is fine
  assert.equal(code(() => m.delete(key(16, '1.2.0.0'))), 'ENOENT'); // no exact match
  assert.equal(code(() => m.delete(key(33, '1.2.0.0'))), 'EINVAL');
  assert.equal(code(() => m.delete(key(0, '0.0.0.0'))), 'ENOENT'); // the intermediate node is not an entry
  m.delete(key(24, '1.2.3.0'));
  assert.equal(rdU32(m.lookup(key(32, '1.2.3.4'))), 8);
  assert.equal((m as LpmTrieMap).size, 2);
});

test('lpm: get_next_key in the kernel\'s postorder, leftmost first for a missing key', () => {
  const m = lpm();
  // the example at the top of kernel/bpf/lpm_trie.c's trie_get_next_key()
  for (const [a, l] of [['192.168.0.0', 16], ['192.168.0.0', 24], ['192.168.1.0', 24], ['192.168.128.0', 24]] as const) m.update(key(l, a), u32(l));
  assert.deepEqual(keys(m), ['192.168.0.0/24', '192.168.1.0/24', '192.168.128.0/24', '192.168.0.0/16']);
  assert.equal(fmt(m.getNextKey(key(20, '10.0.0.0'))), '192.168.0.0/24');
  assert.equal(fmt(m.getNextKey(key(40, '10.0.0.0'))), '192.168.0.0/24');
  assert.equal(code(() => m.getNextKey(key(16, '192.168.0.0'))), 'ENOENT');
});

test('lpm: random inserts/deletes agree with a naive longest-prefix search (syscall and program lookups)', () => {
  let seed = 12345;
  const rand = (n: number): number => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return (seed >>> 8) % n; };
  const m = lpm(64);
  // bpf_map_lookup_elem from a program reads the key in VM memory.
  const space = (m as unknown as { space: AddressSpace }).space;
  const keyAt = space.alloc(8, 'probe key', { writable: true }).addr;
  const naive = new Map<string, [number, number, number]>(); // "addr/len" -> [addr, len, value]
  const mask = (len: number): number => (len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0);
  const str = (a: number): string => [a >>> 24, (a >>> 16) & 255, (a >>> 8) & 255, a & 255].join('.');
  for (let step = 0; step < 3000; step++) {
    const len = [0, 1, 7, 8, 12, 16, 23, 24, 31, 32][rand(10)];
    const a = ((((rand(4) << 30) | (rand(4) << 28) | rand(1 << 20)) >>> 0) & mask(len)) >>> 0;
    const id = `${str(a)}/${len}`;
    if (rand(3) === 0) {
      const want = naive.has(id) ? 'ok' : 'ENOENT';
      assert.equal(code(() => m.delete(key(len, str(a)))), want, `delete ${id}`);
      naive.delete(id);
    } else if (naive.size < 64 || naive.has(id)) {
      m.update(key(len, str(a)), u32(step));
      naive.set(id, [a, len, step]);
    }
    const probe = ((rand(4) << 30) | (rand(4) << 28) | rand(1 << 20)) >>> 0;
    let best: [number, number, number] | undefined;
    for (const e of naive.values()) if (((probe & mask(e[1])) >>> 0) === e[0] && (!best || e[1] > best[1])) best = e;
    const got = code(() => m.lookup(key(32, str(probe))));
    if (!best) assert.equal(got, 'ENOENT');
    else assert.equal(rdU32(m.lookup(key(32, str(probe)))), best[2], `lookup ${str(probe)}`);
    space.write(keyAt, key(32, str(probe)));
    const addr = m.lookupElem(keyAt, 0);
    if (!best) assert.equal(addr, 0);
    else assert.equal(rdU32(space.read(addr, 4)), best[2], `program lookup ${str(probe)}`);
  }
  assert.equal(keys(m).length, naive.size);
  assert.deepEqual(new Set(keys(m)), new Set(naive.keys()));
});

// ---- ring buffer ----

const ring = (size = 4096) => createMap(env(), { type: T.RINGBUF, keySize: 0, valueSize: 0, maxEntries: size, flags: 0 }) as RingbufMap;

test('ringbuf: record header layout (len with busy/discard bits, pg_off), consumer order', () => {
  const rb = ring();
  const space = (rb as unknown as { space: AddressSpace }).space;
  const a = rb.reserve(5);
  assert.equal(a, rb.dataAddr + 8);
  const hdr = () => space.read(a - 8, 8);
  assert.equal(rdU32(hdr()), (5 | BPF_RINGBUF_BUSY_BIT) >>> 0);
  assert.equal(rdU32(hdr(), 4), 3); // data starts 3 pages after the struct bpf_ringbuf
  space.write(a, new Uint8Array([1, 2, 3, 4, 5]));
  const b = rb.reserve(3);
  assert.equal(b, a + 16); // 8-byte header + 5 bytes, rounded up to 8
  assert.deepEqual(rb.consume(), []); // the first record is still reserved
  rb.commit(b, 0, true);
  rb.commit(a, 0, false);
  assert.equal(rdU32(hdr()), 5);
  assert.equal(rdU32(space.read(b - 8, 4)), (3 | BPF_RINGBUF_DISCARD_BIT) >>> 0);
  assert.equal(rb.query(BPF_RB_AVAIL_DATA), 32n);
  assert.deepEqual(rb.consume(), [{ pos: 0, data: new Uint8Array([1, 2, 3, 4, 5]) }]);
  assert.equal(rb.query(BPF_RB_CONS_POS), 32n);
  assert.equal(rb.query(BPF_RB_PROD_POS), 32n);
  assert.equal(rb.query(BPF_RB_RING_SIZE), 4096n);
  assert.equal(rb.query(99), 0n);
  // consumer/producer positions are mirrored in memory, as the mmap'ed pages show them
  assert.equal(new DataView(space.read(rb.baseAddr + 4096, 8).buffer).getBigUint64(0, true), 32n);
  assert.equal(new DataView(space.read(rb.baseAddr + 8192, 8).buffer).getBigUint64(0, true), 32n);
});

test('ringbuf: capacity (size - 1 ahead of the consumer), output EAGAIN, reserve too large', () => {
  const rb = ring();
  assert.equal(rb.reserve(4096), 0);
  assert.equal(rb.reserve(4096 - 8), 0); // would fill the ring exactly: needs size - 1
  const a = rb.reserve(4096 - 16);
  assert.notEqual(a, 0);
  assert.equal(rb.output(new Uint8Array(1), 0), -11);
  rb.commit(a, 0, false);
  assert.equal(rb.output(new Uint8Array(1), 0), -11);
  assert.equal(rb.consume().length, 1);
  assert.equal(rb.output(new Uint8Array(1), 0), 0);
  assert.equal(rb.output(new Uint8Array(1), 4), -22);
});

test('ringbuf: records wrap around the end contiguously and read back intact', () => {
  const rb = ring();
  const space = (rb as unknown as { space: AddressSpace }).space;
  let n = 0;
  for (let round = 0; round < 50; round++) {
    const size = 100 + ((round * 37) % 900);
    const a = rb.reserve(size);
    assert.notEqual(a, 0);
    const data = Uint8Array.from({ length: size }, (_, i) => (i + round) & 255);
    space.write(a, data); // contiguous even when it crosses the end of the ring
    rb.commit(a, 0, false);
    const got = rb.consume();
    assert.equal(got.length, 1);
    assert.deepEqual(got[0].data, data);
    n += (size + 8 + 7) & ~7;
  }
  assert.equal(rb.consumerPosition, n);
  assert.ok(n > 3 * 4096);
});

test('ringbuf: the consumer stops at a record still reserved and resumes after its commit', () => {
  const rb = ring();
  const a = rb.reserve(1000);
  const b = rb.reserve(1000);
  rb.commit(b, 0, false);
  assert.equal(rb.consume().length, 0); // a is still reserved
  assert.equal(rb.reserve(2100), 0); // 2016 + 2112 > 4095 ahead of the consumer
  rb.commit(a, 0, false);
  assert.equal(rb.consume().length, 2);
  assert.notEqual(rb.reserve(2100), 0);
});

test('ringbuf: bpf(2) element operations are not supported', () => {
  const rb = ring();
  assert.equal(code(() => rb.lookup(new Uint8Array(0))), 'ENOTSUPP');
  assert.equal(code(() => rb.getNextKey()), 'ENOTSUPP');
});

/*
 * Map memory accounting (fdinfo memlock, what `bpftool map show` prints): bpfkit's estimate
 * against values read from bpftool v7.1 on Linux 6.18.44 (x86_64, 2 possible CPUs).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { estimateMapMemlock } from '../src/kernel/bpf.js';
import { MAP_TYPE_NAMES } from '../src/kernel/names.js';

// type key value entries flags -> bytes_memlock
const MEASURED = `
hash 4 8 16 0 2320
hash 4 8 1 0 1120
hash 4 8 1000 0 81424
hash 8 16 16 0 2464
hash 4 100 16 0 4048
hash 40 8 16 0 2896
hash 4 8 17 0 2640
array 4 8 16 0 440
array 4 40 4 0 472
array 4 8 1 0 320
array 4 100 1000 0 104312
array 4 8 100000 0 800312
percpu_array 4 8 16 0 696
percpu_hash 4 8 16 0 2432
percpu_hash 4 8 1000 0 97280
lru_hash 4 8 16 0 2176
lru_percpu_hash 4 8 16 0 2432
queue 0 4 4 0 332
stack 0 8 100 0 1120
lpm_trie 8 8 16 1 0
prog_array 4 4 16 0 440
prog_array 4 4 1000 0 8312
perf_event_array 4 4 16 0 440
perf_event_array 4 4 2 0 328
ringbuf 0 0 4096 0 16728
ringbuf 0 0 65536 0 78408
bloom_filter 0 8 100 0 440
bloom_filter 0 4 1000 0 1336
devmap 4 4 16 0 472
devmap 4 8 100 0 1144
devmap_hash 4 4 16 0 472
devmap_hash 4 8 100 0 1368
cpumap 4 4 2 0 320
cpumap 4 8 4 0 336
xskmap 4 4 16 0 432
array_of_maps 4 4 16 0 440
hash_of_maps 4 4 16 0 2192
`.trim().split('\n');

for (const row of MEASURED) {
  const [name, key, value, entries, flags, memlock] = row.split(' ');
  test(`memlock of ${name} key ${key} value ${value} entries ${entries}: ${memlock}`, () => {
    const type = MAP_TYPE_NAMES.indexOf(name);
    assert.ok(type > 0);
    const spec = { type, keySize: Number(key), valueSize: Number(value), maxEntries: Number(entries), flags: Number(flags) };
    assert.equal(estimateMapMemlock(spec, 2), Number(memlock));
  });
}

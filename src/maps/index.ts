/*
 * maps/: map types with bpf(2) semantics, storage inside the VM address space.
 *
 * createMap() is BPF_MAP_CREATE: the checks of map_create() in kernel/bpf/syscall.c and of each
 * type's map_alloc_check/map_alloc (array_map_alloc_check, htab_map_alloc_check, trie_alloc,
 * queue_stack_map_alloc_check, bloom_map_alloc, ringbuf_map_alloc, dev_map_init_map,
 * cpu_map_alloc, xsk_map_alloc, bpf_map_meta_alloc), with the errno the kernel gives, then the
 * map. Sizes follow x86_64 (KMALLOC_MAX_SIZE 4 MiB, PCPU_MIN_UNIT_SIZE 32 KiB, NR_CPUS 8192).
 */
import { BpfError } from '../errors.js';
import { ArrayMap } from './arraymap.js';
import { BloomFilterMap } from './bloom_filter.js';
import { DevMapHash, TargetArrayMap } from './devmap.js';
import { FdArrayMap } from './fd_array.js';
import { HashMap } from './hashtab.js';
import { isMapInMap } from './inner.js';
import { LpmTrieMap } from './lpm_trie.js';
import { QueueStackMap } from './queue_stack.js';
import { RingbufMap } from './ringbuf.js';
import {
  BPF_F_INNER_MAP, BPF_F_MMAPABLE, BPF_F_NO_COMMON_LRU, BPF_F_NO_PREALLOC, BPF_F_NUMA_NODE, BPF_F_RDONLY,
  BPF_F_RDONLY_PROG, BPF_F_WRONLY, BPF_F_WRONLY_PROG, BPF_F_ZERO_SEED, BPF_MAP_TYPE, type BpfMap, type MapEnv,
  type MapSpec,
} from './types.js';

export * from './types.js';
export { ArrayMap } from './arraymap.js';
export { BloomFilterMap } from './bloom_filter.js';
export { DevMapHash, TargetArrayMap, type RedirectTarget } from './devmap.js';
export { BPF_F_CURRENT_CPU, BPF_F_INDEX_MASK, FdArrayMap, type PerfEventRecord } from './fd_array.js';
export { HashMap } from './hashtab.js';
export { LpmTrieMap } from './lpm_trie.js';
export { QueueStackMap } from './queue_stack.js';
export {
  BPF_RB_AVAIL_DATA, BPF_RB_CONS_POS, BPF_RB_FORCE_WAKEUP, BPF_RB_NO_WAKEUP, BPF_RB_PROD_POS, BPF_RB_RING_SIZE,
  BPF_RINGBUF_BUSY_BIT, BPF_RINGBUF_DISCARD_BIT, BPF_RINGBUF_HDR_SZ, RingbufMap, type RingbufRecord,
} from './ringbuf.js';
export { HANDLE_SIZE, MapBase, MapBatchError } from './common.js';
export { mapFromHandle, mapsOf } from './registry.js';
export { htabHash, jhash, jhash2 } from './jhash.js';

export const BPF_F_PRESERVE_ELEMS = 1 << 11;
const BPF_F_ACCESS_MASK = BPF_F_RDONLY | BPF_F_RDONLY_PROG | BPF_F_WRONLY | BPF_F_WRONLY_PROG;
const KMALLOC_MAX_SIZE = 1 << 22;
const PCPU_MIN_UNIT_SIZE = 32768;
const NR_CPUS = 8192;
const PAGE_SIZE = 4096;
/** sizeof(struct htab_elem), sizeof(struct lpm_trie_node) on x86_64. */
const HTAB_ELEM_SIZE = 48;
const LPM_NODE_SIZE = 40;
const LPM_DATA_SIZE_MAX = 256;
const INT_MAX = 0x7fffffff;

/** Kernel names of map types (bpftool's "type" words). */
export const MAP_TYPE_NAMES: Record<number, string> = {
  0: 'unspec', 1: 'hash', 2: 'array', 3: 'prog_array', 4: 'perf_event_array', 5: 'percpu_hash', 6: 'percpu_array',
  7: 'stack_trace', 8: 'cgroup_array', 9: 'lru_hash', 10: 'lru_percpu_hash', 11: 'lpm_trie', 12: 'array_of_maps',
  13: 'hash_of_maps', 14: 'devmap', 15: 'sockmap', 16: 'cpumap', 17: 'xskmap', 18: 'sockhash', 19: 'cgroup_storage',
  20: 'reuseport_sockarray', 21: 'percpu_cgroup_storage', 22: 'queue', 23: 'stack', 24: 'sk_storage',
  25: 'devmap_hash', 26: 'struct_ops', 27: 'ringbuf', 28: 'inode_storage', 29: 'task_storage', 30: 'bloom_filter',
  31: 'user_ringbuf', 32: 'cgrp_storage', 33: 'arena',
};

const SUPPORTED = new Set<number>([
  BPF_MAP_TYPE.HASH, BPF_MAP_TYPE.ARRAY, BPF_MAP_TYPE.PROG_ARRAY, BPF_MAP_TYPE.PERF_EVENT_ARRAY,
  BPF_MAP_TYPE.PERCPU_HASH, BPF_MAP_TYPE.PERCPU_ARRAY, BPF_MAP_TYPE.LRU_HASH, BPF_MAP_TYPE.LRU_PERCPU_HASH,
  BPF_MAP_TYPE.LPM_TRIE, BPF_MAP_TYPE.ARRAY_OF_MAPS, BPF_MAP_TYPE.HASH_OF_MAPS, BPF_MAP_TYPE.DEVMAP,
  BPF_MAP_TYPE.CPUMAP, BPF_MAP_TYPE.XSKMAP, BPF_MAP_TYPE.QUEUE, BPF_MAP_TYPE.STACK, BPF_MAP_TYPE.DEVMAP_HASH,
  BPF_MAP_TYPE.RINGBUF, BPF_MAP_TYPE.BLOOM_FILTER,
]);

function fail(code: 'EINVAL' | 'E2BIG' | 'ENOTSUPP' | 'EBADF' | 'EPERM', why: string): never {
  throw new BpfError(code, `map_create: ${why}`);
}

const accessOk = (flags: number): boolean => (flags & (BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG)) !== (BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG);
const isPow2 = (n: number): boolean => n > 0 && (n & (n - 1)) === 0 && n <= 0x80000000;

/** array_map_alloc_check (with fd_array_map_alloc_check first for the fd arrays). */
function arrayCheck(s: MapSpec): void {
  const t = s.type;
  const percpu = t === BPF_MAP_TYPE.PERCPU_ARRAY;
  const mask = BPF_F_NUMA_NODE | BPF_F_MMAPABLE | BPF_F_ACCESS_MASK | BPF_F_PRESERVE_ELEMS | BPF_F_INNER_MAP;
  if (t === BPF_MAP_TYPE.PROG_ARRAY || t === BPF_MAP_TYPE.PERF_EVENT_ARRAY || t === BPF_MAP_TYPE.ARRAY_OF_MAPS) {
    if (s.valueSize !== 4) fail('EINVAL', `value_size ${s.valueSize}: this map type holds 4-byte fds`);
    if (s.flags & (BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG)) fail('EINVAL', 'BPF_F_RDONLY_PROG/BPF_F_WRONLY_PROG not allowed');
  }
  if (s.maxEntries === 0 || s.keySize !== 4 || s.valueSize === 0 || (s.flags & ~mask) || !accessOk(s.flags) ||
      (percpu && (s.flags & BPF_F_NUMA_NODE))) {
    fail('EINVAL', s.keySize !== 4 ? `key_size ${s.keySize}: array keys are 4 bytes` : 'invalid max_entries, value_size or flags');
  }
  if (t !== BPF_MAP_TYPE.ARRAY && (s.flags & (BPF_F_MMAPABLE | BPF_F_INNER_MAP))) fail('EINVAL', 'BPF_F_MMAPABLE/BPF_F_INNER_MAP only for arrays');
  if (t !== BPF_MAP_TYPE.PERF_EVENT_ARRAY && (s.flags & BPF_F_PRESERVE_ELEMS)) fail('EINVAL', 'BPF_F_PRESERVE_ELEMS only for perf event arrays');
  if (s.valueSize > INT_MAX) fail('E2BIG', `value_size ${s.valueSize} too large`);
  if (percpu && ((s.valueSize + 7) & ~7) > PCPU_MIN_UNIT_SIZE) fail('E2BIG', `per-CPU value_size ${s.valueSize} too large`);
}

/** htab_map_alloc_check + htab_map_alloc's size checks. */
function htabCheck(s: MapSpec): void {
  const t = s.type;
  const percpu = t === BPF_MAP_TYPE.PERCPU_HASH || t === BPF_MAP_TYPE.LRU_PERCPU_HASH;
  const lru = t === BPF_MAP_TYPE.LRU_HASH || t === BPF_MAP_TYPE.LRU_PERCPU_HASH;
  const percpuLru = (s.flags & BPF_F_NO_COMMON_LRU) !== 0;
  const prealloc = !(s.flags & BPF_F_NO_PREALLOC);
  const mask = BPF_F_NO_PREALLOC | BPF_F_NO_COMMON_LRU | BPF_F_NUMA_NODE | BPF_F_ACCESS_MASK | BPF_F_ZERO_SEED;
  if (t === BPF_MAP_TYPE.HASH_OF_MAPS && s.valueSize !== 4) fail('EINVAL', `value_size ${s.valueSize}: hash of maps holds 4-byte fds`);
  if ((s.flags & ~mask) || !accessOk(s.flags)) fail('EINVAL', `invalid flags 0x${s.flags.toString(16)}`);
  if (!lru && percpuLru) fail('EINVAL', 'BPF_F_NO_COMMON_LRU needs an LRU map');
  if (lru && !prealloc) fail('ENOTSUPP', 'LRU maps must be preallocated');
  if ((s.flags & BPF_F_NUMA_NODE) && (percpu || percpuLru)) fail('EINVAL', 'BPF_F_NUMA_NODE with per-CPU storage');
  if (s.maxEntries === 0 || s.keySize === 0 || s.valueSize === 0) fail('EINVAL', 'max_entries, key_size and value_size must be non-zero');
  if (s.keySize + s.valueSize >= KMALLOC_MAX_SIZE - HTAB_ELEM_SIZE) fail('E2BIG', `key_size + value_size ${s.keySize + s.valueSize} too large`);
  if (percpu && ((s.valueSize + 7) & ~7) > PCPU_MIN_UNIT_SIZE) fail('E2BIG', `per-CPU value_size ${s.valueSize} too large`);
  if (s.maxEntries > 2 ** 31) fail('E2BIG', `max_entries ${s.maxEntries} too large`);
}

function allocCheck(s: MapSpec, nrCpus: number): void {
  const T = BPF_MAP_TYPE;
  const t = s.type;
  switch (t) {
    case T.ARRAY: case T.PERCPU_ARRAY: case T.PROG_ARRAY: case T.PERF_EVENT_ARRAY: case T.ARRAY_OF_MAPS:
      arrayCheck(s);
      break;
    case T.HASH: case T.PERCPU_HASH: case T.LRU_HASH: case T.LRU_PERCPU_HASH: case T.HASH_OF_MAPS:
      htabCheck(s);
      break;
    case T.LPM_TRIE:
      if (s.maxEntries === 0 || !(s.flags & BPF_F_NO_PREALLOC) || (s.flags & ~(BPF_F_NO_PREALLOC | BPF_F_NUMA_NODE | BPF_F_ACCESS_MASK)) ||
          !accessOk(s.flags) || s.keySize < 5 || s.keySize > 4 + LPM_DATA_SIZE_MAX || s.valueSize < 1 ||
          s.valueSize > KMALLOC_MAX_SIZE - LPM_DATA_SIZE_MAX - LPM_NODE_SIZE) {
        fail('EINVAL', !(s.flags & BPF_F_NO_PREALLOC) ? 'LPM tries need BPF_F_NO_PREALLOC' : 'invalid LPM trie attributes');
      }
      break;
    case T.QUEUE: case T.STACK:
      if (s.maxEntries === 0 || s.keySize !== 0 || s.valueSize === 0 || (s.flags & ~(BPF_F_NUMA_NODE | BPF_F_ACCESS_MASK)) || !accessOk(s.flags)) {
        fail('EINVAL', s.keySize !== 0 ? 'queue/stack key_size must be 0' : 'invalid queue/stack attributes');
      }
      if (s.valueSize > KMALLOC_MAX_SIZE) fail('E2BIG', `value_size ${s.valueSize} too large`);
      break;
    case T.BLOOM_FILTER:
      if (s.keySize !== 0 || s.valueSize === 0 || s.maxEntries === 0 || (s.flags & ~(BPF_F_NUMA_NODE | BPF_F_ZERO_SEED | BPF_F_ACCESS_MASK)) ||
          !accessOk(s.flags) || ((s.mapExtra ?? 0n) & ~0xfn)) {
        fail('EINVAL', 'invalid bloom filter attributes');
      }
      if (s.valueSize > KMALLOC_MAX_SIZE) fail('E2BIG', `value_size ${s.valueSize} too large`);
      break;
    case T.RINGBUF:
      if (s.flags & ~BPF_F_NUMA_NODE) fail('EINVAL', `invalid flags 0x${s.flags.toString(16)}`);
      if (s.keySize || s.valueSize || !isPow2(s.maxEntries) || s.maxEntries % PAGE_SIZE) {
        fail('EINVAL', 'ring buffers have key_size 0, value_size 0 and a power-of-2, page-aligned max_entries');
      }
      break;
    case T.DEVMAP: case T.DEVMAP_HASH:
      if (s.maxEntries === 0 || s.keySize !== 4 || (s.valueSize !== 4 && s.valueSize !== 8) ||
          (s.flags & ~(BPF_F_NUMA_NODE | BPF_F_RDONLY | BPF_F_WRONLY))) {
        fail('EINVAL', 'invalid devmap attributes');
      }
      if (t === T.DEVMAP_HASH && s.maxEntries > 2 ** 31) fail('EINVAL', `max_entries ${s.maxEntries} too large`);
      break;
    case T.CPUMAP:
      if (s.maxEntries === 0 || s.keySize !== 4 || (s.valueSize !== 4 && s.valueSize !== 8) || (s.flags & ~BPF_F_NUMA_NODE)) {
        fail('EINVAL', 'invalid cpumap attributes');
      }
      if (s.maxEntries > NR_CPUS) fail('E2BIG', `max_entries ${s.maxEntries} above NR_CPUS`);
      break;
    case T.XSKMAP:
      if (s.maxEntries === 0 || s.keySize !== 4 || s.valueSize !== 4 || (s.flags & ~(BPF_F_NUMA_NODE | BPF_F_RDONLY | BPF_F_WRONLY))) {
        fail('EINVAL', 'invalid xskmap attributes');
      }
      break;
    default:
      break;
  }
  void nrCpus;
}

/** bpf_obj_name_cpy(): up to 15 characters of [A-Za-z0-9_.]. */
function checkName(name: string | undefined): void {
  if (name === undefined) return;
  if (name.length > 15 || !/^[A-Za-z0-9_.]*$/.test(name)) fail('EINVAL', `invalid map name '${name}'`);
}

function isU32(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= 0xffffffff;
}

/** BPF_MAP_CREATE. */
export function createMap(env: MapEnv, spec: MapSpec): BpfMap {
  const t = spec.type;
  if (!isU32(spec.keySize) || !isU32(spec.valueSize) || !isU32(spec.maxEntries) || !isU32(spec.flags)) {
    fail('EINVAL', 'key_size, value_size, max_entries and map_flags are u32');
  }
  if (t !== BPF_MAP_TYPE.BLOOM_FILTER && spec.mapExtra !== undefined && spec.mapExtra !== 0n) fail('EINVAL', 'map_extra is only for bloom filters');
  if ((spec.flags & BPF_F_RDONLY) && (spec.flags & BPF_F_WRONLY)) fail('EINVAL', 'BPF_F_RDONLY and BPF_F_WRONLY together');
  if ((spec.flags & BPF_F_NUMA_NODE) && (spec.numaNode ?? 0) !== 0) fail('EINVAL', `NUMA node ${spec.numaNode} is not online`);
  if (!Number.isInteger(t) || t < 0 || t > BPF_MAP_TYPE.ARENA || t === BPF_MAP_TYPE.UNSPEC) fail('EINVAL', `invalid map type ${t}`);
  allocCheck(spec, env.nrCpus);
  if (!SUPPORTED.has(t)) fail('ENOTSUPP', `map type ${MAP_TYPE_NAMES[t] ?? t} is not supported by bpfkit`);
  if (isMapInMap(t)) { // bpf_map_meta_alloc
    const inner = spec.innerMap;
    if (!inner) fail('EBADF', 'map-in-map needs an inner map');
    if (isMapInMap(inner.spec.type)) fail('EINVAL', 'an inner map cannot itself hold maps');
  }
  if (spec.spinLockOff !== undefined) { // map_check_btf: bpf_spin_lock only in hash and array values
    if (t !== BPF_MAP_TYPE.HASH && t !== BPF_MAP_TYPE.ARRAY) fail('ENOTSUPP', 'bpf_spin_lock is only allowed in hash and array values');
    if (spec.spinLockOff < 0 || spec.spinLockOff % 4 || spec.spinLockOff + 4 > spec.valueSize) fail('EINVAL', `bad bpf_spin_lock offset ${spec.spinLockOff}`);
  }
  checkName(spec.name);
  const T = BPF_MAP_TYPE;
  switch (t) {
    case T.ARRAY: case T.PERCPU_ARRAY: return new ArrayMap(env, spec);
    case T.PROG_ARRAY: case T.PERF_EVENT_ARRAY: case T.ARRAY_OF_MAPS: return new FdArrayMap(env, spec);
    case T.HASH: case T.PERCPU_HASH: case T.LRU_HASH: case T.LRU_PERCPU_HASH: case T.HASH_OF_MAPS: return new HashMap(env, spec);
    case T.LPM_TRIE: return new LpmTrieMap(env, spec);
    case T.QUEUE: case T.STACK: return new QueueStackMap(env, spec);
    case T.BLOOM_FILTER: return new BloomFilterMap(env, spec);
    case T.RINGBUF: return new RingbufMap(env, spec);
    case T.DEVMAP: case T.CPUMAP: case T.XSKMAP: return new TargetArrayMap(env, spec);
    case T.DEVMAP_HASH: return new DevMapHash(env, spec);
    default: return fail('ENOTSUPP', `map type ${t} is not supported`);
  }
}

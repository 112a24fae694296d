/*
 * The contract of maps/ (bpf(2) map semantics, storage inside the VM address space), written
 * first so that kernel/ (ids, fds, pins), helpers/ and the loader can be built beside it.
 *
 * Two faces, as in the kernel: the syscall side (bytes in, bytes out, errno-style BpfError) used
 * by the bpf() API and the CLI, and the program side (addresses in the VM's memory, results as
 * the helpers return them) used by bpf_map_*_elem helpers and later inlined by the JIT.
 */
import type { AddressSpace } from '../vm/address_space.js';

/** enum bpf_map_type (include/uapi/linux/bpf.h). */
export const BPF_MAP_TYPE = {
  UNSPEC: 0, HASH: 1, ARRAY: 2, PROG_ARRAY: 3, PERF_EVENT_ARRAY: 4, PERCPU_HASH: 5, PERCPU_ARRAY: 6,
  STACK_TRACE: 7, CGROUP_ARRAY: 8, LRU_HASH: 9, LRU_PERCPU_HASH: 10, LPM_TRIE: 11, ARRAY_OF_MAPS: 12,
  HASH_OF_MAPS: 13, DEVMAP: 14, SOCKMAP: 15, CPUMAP: 16, XSKMAP: 17, SOCKHASH: 18, CGROUP_STORAGE: 19,
  REUSEPORT_SOCKARRAY: 20, PERCPU_CGROUP_STORAGE: 21, QUEUE: 22, STACK: 23, SK_STORAGE: 24,
  DEVMAP_HASH: 25, STRUCT_OPS: 26, RINGBUF: 27, INODE_STORAGE: 28, TASK_STORAGE: 29, BLOOM_FILTER: 30,
  USER_RINGBUF: 31, CGRP_STORAGE: 32, ARENA: 33,
} as const;

/** BPF_MAP_UPDATE_ELEM flags. */
export const BPF_ANY = 0;
export const BPF_NOEXIST = 1;
export const BPF_EXIST = 2;
export const BPF_F_LOCK = 4;

/** BPF_MAP_CREATE map_flags. */
export const BPF_F_NO_PREALLOC = 1 << 0;
export const BPF_F_NO_COMMON_LRU = 1 << 1;
export const BPF_F_NUMA_NODE = 1 << 2;
export const BPF_F_RDONLY = 1 << 3;
export const BPF_F_WRONLY = 1 << 4;
export const BPF_F_ZERO_SEED = 1 << 6;
export const BPF_F_RDONLY_PROG = 1 << 7;
export const BPF_F_WRONLY_PROG = 1 << 8;
export const BPF_F_MMAPABLE = 1 << 10;
export const BPF_F_INNER_MAP = 1 << 12;

export interface MapSpec {
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  /** BPF_OBJ_NAME_LEN - 1 = 15 characters at most. */
  name?: string;
  /** Map-in-map: the inner map whose shape every element must have. */
  innerMap?: BpfMap;
  numaNode?: number;
  /** map_extra (bloom filter hash count). */
  mapExtra?: bigint;
}

/** What a map needs from the "kernel" it lives in. */
export interface MapEnv {
  readonly space: AddressSpace;
  /** Number of possible CPUs (per-CPU maps keep one value slot per CPU). */
  readonly nrCpus: number;
}

export interface BpfMap {
  readonly spec: Readonly<MapSpec>;
  /** Address of the map's handle in VM memory: what ld_imm64 src=1 resolves to (struct bpf_map *). */
  readonly handleAddr: number;
  readonly frozen: boolean;

  // Syscall side (bpf(2)): throws BpfError with the kernel's errno.
  /** Per-CPU maps give nrCpus values, each rounded up to 8 bytes, as the syscall does. */
  lookup(key: Uint8Array, flags?: number): Uint8Array;
  update(key: Uint8Array, value: Uint8Array, flags?: number): void;
  delete(key: Uint8Array): void;
  /** undefined key = first key; throws ENOENT after the last. */
  getNextKey(key?: Uint8Array): Uint8Array;
  /** Queue/stack: key is undefined (pop/dequeue). */
  lookupAndDelete(key?: Uint8Array): Uint8Array;
  freeze(): void;

  // Program side (helpers): addresses in the VM memory; results as the helper returns them.
  /** bpf_map_lookup_elem: address of the value (this CPU's slot), or 0. */
  lookupElem(keyAddr: number, cpu: number): number;
  /** bpf_map_update_elem: 0 or -errno. */
  updateElem(keyAddr: number, valueAddr: number, flags: number, cpu: number): number;
  /** bpf_map_delete_elem: 0 or -errno. */
  deleteElem(keyAddr: number, cpu: number): number;

  // Persistence for pinned maps (kernel/'s pin store).
  /** Contents (not the spec) as bytes; restore() of them recreates the same state. */
  snapshot(): Uint8Array;
  restore(data: Uint8Array): void;
  /** Release the map's storage. */
  close(): void;
}

/*
 * The contract of maps/ (bpf(2) map semantics, storage inside the VM address space), written
 * first so that kernel/ (ids, fds, pins), helpers/ and the loader can be built beside it.
 *
 * Two faces, as in the kernel: the syscall side (bytes in, bytes out, errno-style BpfError) used
 * by the bpf() API and the CLI, and the program side (addresses in the VM's memory, results as
 * the helpers return them) used by bpf_map_*_elem helpers and later inlined by the JIT.
 */
import type { Insn } from '../isa/insn.js';
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
  /**
   * Offset of a struct bpf_spin_lock (4 bytes) inside the value, as BTF would describe it (HASH
   * and ARRAY only): BPF_F_LOCK updates/lookups copy around it, lookups zero it.
   */
  spinLockOff?: number;
}

/** A program as PROG_ARRAY (tail calls), DEVMAP/CPUMAP entries hold it. */
export interface ProgRef {
  readonly insns: readonly Insn[];
  /** enum bpf_prog_type (PROG_ARRAY keeps every program of one type, as the kernel). */
  readonly type?: number;
  readonly name?: string;
}

/** What a map needs from the "kernel" it lives in. */
export interface MapEnv {
  readonly space: AddressSpace;
  /** Number of possible CPUs (per-CPU maps keep one value slot per CPU). */
  readonly nrCpus: number;

  // Hooks for the object table (kernel/): fds and ids on the syscall side of fd-holding maps
  // (ARRAY_OF_MAPS, HASH_OF_MAPS, PROG_ARRAY, PERF_EVENT_ARRAY, DEVMAP/CPUMAP programs, XSKMAP).
  // Missing hooks: fds are taken as they are (tests), ids are 0.
  /** The map an fd names (map-in-map updates); undefined = EBADF. */
  mapFromFd?(fd: number): BpfMap | undefined;
  /** The id the syscall shows for a map held in a map-in-map. */
  mapId?(map: BpfMap): number;
  /** The program an fd names (PROG_ARRAY updates, DEVMAP/CPUMAP bpf_prog.fd); undefined = EBADF. */
  progFromFd?(fd: number): ProgRef | undefined;
  progId?(prog: ProgRef): number;
  /** restore() of a pinned fd-holding map: objects by the ids its snapshot holds. */
  mapFromId?(id: number): BpfMap | undefined;
  progFromId?(id: number): ProgRef | undefined;
  /** A map element took (hold) or dropped (release) a reference to a map or program. */
  hold?(obj: BpfMap | ProgRef): void;
  release?(obj: BpfMap | ProgRef): void;
  /** DEVMAP targets: whether ifindex names a device (default: any non-zero ifindex). */
  ifindexExists?(ifindex: number): boolean;
  /** XSKMAP updates: whether fd names an AF_XDP socket (default: any fd >= 0). */
  xskFromFd?(fd: number): boolean;
  /** PERF_EVENT_ARRAY updates: whether fd names a perf event (default: any fd >= 0). */
  perfEventFromFd?(fd: number): boolean;
}

/** One batch of BPF_MAP_LOOKUP_BATCH / LOOKUP_AND_DELETE_BATCH. */
export interface MapBatch {
  keys: Uint8Array[];
  values: Uint8Array[];
  /** out_batch: pass as inBatch to continue (undefined when nothing was returned). */
  outBatch?: Uint8Array;
  /** The kernel returned -ENOENT: the walk reached the end (count is still valid). */
  end: boolean;
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
  /** map_release_uref: the last fd or pin is gone while programs still hold the map. */
  releaseUref?(): void;
  /** BPF_MAP_LOOKUP_BATCH: up to `count` elements after inBatch (undefined = from the start). */
  lookupBatch(inBatch: Uint8Array | undefined, count: number, elemFlags?: number): MapBatch;
  /** BPF_MAP_LOOKUP_AND_DELETE_BATCH (hash maps; ENOTSUPP elsewhere). */
  lookupAndDeleteBatch(inBatch: Uint8Array | undefined, count: number, elemFlags?: number): MapBatch;
  /** BPF_MAP_UPDATE_BATCH: returns how many were updated; on error throws MapBatchError (count). */
  updateBatch(keys: readonly Uint8Array[], values: readonly Uint8Array[], elemFlags?: number): number;
  /** BPF_MAP_DELETE_BATCH: same convention. */
  deleteBatch(keys: readonly Uint8Array[], elemFlags?: number): number;

  // Program side (helpers): addresses in the VM memory; results as the helper returns them.
  /** bpf_map_lookup_elem: address of the value (this CPU's slot), or 0. */
  lookupElem(keyAddr: number, cpu: number): number;
  /** bpf_map_update_elem: 0 or -errno. */
  updateElem(keyAddr: number, valueAddr: number, flags: number, cpu: number): number;
  /** bpf_map_delete_elem: 0 or -errno. */
  deleteElem(keyAddr: number, cpu: number): number;
  /** bpf_map_push_elem (QUEUE, STACK, BLOOM_FILTER): 0 or -errno. */
  pushElem(valueAddr: number, flags: number, cpu: number): number;
  /** bpf_map_pop_elem: copies the value to valueAddr; 0 or -errno. */
  popElem(valueAddr: number, cpu: number): number;
  /** bpf_map_peek_elem (bloom filter: membership test of the value at valueAddr); 0 or -errno. */
  peekElem(valueAddr: number, cpu: number): number;

  // Persistence for pinned maps (kernel/'s pin store).
  /** Contents (not the spec) as bytes; restore() of them recreates the same state. */
  snapshot(): Uint8Array;
  restore(data: Uint8Array): void;
  /** Release the map's storage. */
  close(): void;
}

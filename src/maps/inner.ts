/*
 * Map-in-map plumbing shared by ARRAY_OF_MAPS and HASH_OF_MAPS: resolving the fd the syscall
 * passes, and the kernel's shape check of an inner map against the template
 * (bpf_map_meta_equal(), plus max_entries for arrays unless BPF_F_INNER_MAP).
 */
import { mapFromHandle } from './registry.js';
import { BPF_F_INNER_MAP, BPF_MAP_TYPE, type BpfMap, type MapEnv } from './types.js';

/** The map an fd names: env.mapFromFd, or (without a kernel) a handle address taken as the fd. */
export function mapFromFd(env: MapEnv, fd: number): BpfMap | undefined {
  if (env.mapFromFd) return env.mapFromFd(fd);
  return mapFromHandle(env.space, fd);
}

export function isMapInMap(type: number): boolean {
  return type === BPF_MAP_TYPE.ARRAY_OF_MAPS || type === BPF_MAP_TYPE.HASH_OF_MAPS;
}

export function innerMapCompatible(meta: BpfMap | undefined, inner: BpfMap): boolean {
  if (!meta) return false;
  const a = meta.spec;
  const b = inner.spec;
  if (isMapInMap(b.type)) return false;
  if (a.type !== b.type || a.keySize !== b.keySize || a.valueSize !== b.valueSize) return false;
  if (a.flags !== b.flags) return false;
  if ((a.spinLockOff ?? -1) !== (b.spinLockOff ?? -1)) return false;
  const isArray = a.type === BPF_MAP_TYPE.ARRAY || a.type === BPF_MAP_TYPE.PERCPU_ARRAY;
  if (isArray && !(a.flags & BPF_F_INNER_MAP) && a.maxEntries !== b.maxEntries) return false;
  return true;
}

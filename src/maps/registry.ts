/*
 * From a handle address (what a program has in r1 for bpf_map_*_elem: ld_imm64 src=1 resolved,
 * the kernel's struct bpf_map *) back to the map, per address space. Helpers use it to find the
 * map a program passes; the JIT can use it to inline lookups.
 */
import type { AddressSpace } from '../vm/address_space.js';
import type { BpfMap } from './types.js';

const bySpace = new WeakMap<AddressSpace, Map<number, BpfMap>>();

export function registerMap(space: AddressSpace, map: BpfMap): void {
  let m = bySpace.get(space);
  if (m === undefined) bySpace.set(space, (m = new Map()));
  m.set(map.handleAddr, map);
}

export function unregisterMap(space: AddressSpace, map: BpfMap): void {
  const m = bySpace.get(space);
  if (m?.get(map.handleAddr) === map) m.delete(map.handleAddr);
}

/** The map whose handle is at `addr`, or undefined (not a map pointer). */
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

export function mapFromHandle(space: AddressSpace, addr: number | bigint): BpfMap | undefined {
  const a = typeof addr === 'bigint' ? (addr <= MAX_SAFE ? Number(addr) : -1) : addr;
  return bySpace.get(space)?.get(a);
}

/** Every live map of an address space, by handle address. */
export function mapsOf(space: AddressSpace): BpfMap[] {
  return [...(bySpace.get(space)?.values() ?? [])].sort((a, b) => a.handleAddr - b.handleAddr);
}

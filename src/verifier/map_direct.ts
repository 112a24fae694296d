/*
 * Loads from frozen read-only maps (check_mem_access() -> bpf_map_direct_read() in Linux 6.18):
 * a map value of a BPF_F_RDONLY_PROG map that is frozen cannot change any more, so a load at a
 * constant offset is the constant in the map (libbpf freezes .rodata: `if (CONFIG)` branches on it
 * are decided at load time and their dead side is never verified).
 */
import { ENOTSUPP, fail } from './errors.js';
import type { RegState } from './reg_state.js';
import { tnumIsConst } from './tnum.js';

const BPF_F_RDONLY_PROG = 1 << 7;
const MAP_TYPE_ARRAY = 2;

/** bpf_map_is_rdonly() && map->ops->map_direct_value_addr (array maps) */
function isDirectReadable(r: RegState): boolean {
  const m = r.map;
  return !!m && (m.spec.flags & BPF_F_RDONLY_PROG) !== 0 && m.frozen === true && m.spec.type === MAP_TYPE_ARRAY && m.lookup !== undefined;
}

/**
 * The value a load of `size` bytes at `off` (the register's fixed offset plus the insn's) reads
 * from a frozen read-only map, zero-extended; undefined when the load is not a direct read.
 */
export function frozenMapRead(r: RegState, off: number, size: number): bigint | undefined {
  if (!tnumIsConst(r.varOff) || !isDirectReadable(r)) return undefined;
  const m = r.map!;
  // array_map_direct_value_addr(): one-element arrays only; the error ends verification silently
  if (m.spec.maxEntries !== 1) fail('', ENOTSUPP);
  const at = off + Number(r.varOff.value);
  const value = m.lookup!(new Uint8Array(4));
  let v = 0n;
  for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(value[at + i] ?? 0);
  return v;
}

/*
 * Number forms of the hot helpers (vm/helpers.ts, FastHelperFn), for the JIT's cheap call path:
 * r1..r5 arrive as exact numbers, r0 leaves as a safe integer, no BigInt on the way. Each does
 * exactly what its BigInt form in table.ts does (same map method, same errors); NaN means "not
 * handled here" and is returned before any effect. Also the ARRAY layout and the IPv4 LPM stride
 * table the JIT inlines bpf_map_lookup_elem with (the kernel's array_map_gen_lookup()).
 */
import { ArrayMap } from '../maps/arraymap.js';
import { LpmTrieMap } from '../maps/lpm_trie.js';
import { mapFromHandle } from '../maps/registry.js';
import { BPF_MAP_TYPE } from '../maps/types.js';
import type { AddressSpace } from '../vm/address_space.js';
import type { ArrayLayout, FastHelperFn, HelperRegistry } from '../vm/helpers.js';
import type { HelperCallContext } from '../vm/types.js';
import type { Vm } from '../vm/vm.js';
import type { HelperHost } from './host.js';

const BPF_FUNC_map_lookup_elem = 1;
const BPF_FUNC_map_update_elem = 2;
const BPF_FUNC_map_delete_elem = 3;
const BPF_FUNC_ktime_get_ns = 5;
const BPF_FUNC_get_prandom_u32 = 7;
const BPF_FUNC_get_smp_processor_id = 8;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

type FastImpl = (h: HelperHost, ctx: HelperCallContext, r1: number, r2: number, r3: number, r4: number, r5: number) => number | bigint;

/**
 * The map whose handle is at r1: mapFromHandle() with a one-entry cache per address space, valid
 * while the space has not changed (maps allocate and free regions when created and closed).
 */
const lastMaps = new WeakMap<AddressSpace, { gen: number; handle: number; map: ReturnType<typeof mapFromHandle> }>();

function mapAt(ctx: HelperCallContext, r1: number): ReturnType<typeof mapFromHandle> {
  const space = (ctx.vm as Vm).space;
  const last = lastMaps.get(space);
  if (last !== undefined && last.handle === r1 && last.gen === space.generation) return last.map;
  const map = mapFromHandle(space, r1);
  lastMaps.set(space, { gen: space.generation, handle: r1, map });
  return map;
}

const FAST: Record<number, FastImpl> = {
  [BPF_FUNC_map_lookup_elem]: (h, ctx, m, key) => mapAt(ctx, m)?.lookupElem(key, h.cpu) ?? NaN,
  // flagsNum() of table.ts: flags above u32 stay "huge"
  [BPF_FUNC_map_update_elem]: (h, ctx, m, key, value, flags) =>
    mapAt(ctx, m)?.updateElem(key, value, flags > 0xffffffff ? 0x100000000 : flags, h.cpu) ?? NaN,
  [BPF_FUNC_map_delete_elem]: (h, ctx, m, key) => mapAt(ctx, m)?.deleteElem(key, h.cpu) ?? NaN,
  [BPF_FUNC_ktime_get_ns]: (h) => {
    const t = h.ktimeNs();
    return t <= MAX_SAFE ? Number(t) : t; // (u64 from the host clock)
  },
  [BPF_FUNC_get_prandom_u32]: (h) => h.prandomU32() >>> 0,
  [BPF_FUNC_get_smp_processor_id]: (h) => h.cpu,
};

function arrayLayout(space: AddressSpace, addr: number): ArrayLayout | undefined {
  const map = mapFromHandle(space, addr);
  if (!(map instanceof ArrayMap)) return undefined;
  const t = map.spec.type;
  if (t !== BPF_MAP_TYPE.ARRAY && t !== BPF_MAP_TYPE.PERCPU_ARRAY) return undefined;
  return {
    maxEntries: map.spec.maxEntries, elemSize: map.elemSize, valuesAddr: map.valuesAddr,
    percpu: map.percpu, nrCpus: map.percpu ? map.env.nrCpus : 1,
  };
}

/** Give the hot helpers registered in `registry` their number forms, bound to `host`. */
export function registerFastHelpers(registry: HelperRegistry, host: HelperHost): void {
  for (const [id, impl] of Object.entries(FAST)) {
    const n = Number(id);
    if (!registry.has(n)) continue;
    const fast: FastHelperFn = (ctx, r1, r2, r3, r4, r5) => impl(host, ctx, r1, r2, r3, r4, r5);
    registry.registerFast(n, fast);
  }
  registry.arrayLayout = arrayLayout;
  registry.lpmTable = (space, addr) => {
    const map = mapFromHandle(space, addr);
    return map instanceof LpmTrieMap ? map.ipv4Table() : undefined;
  };
  registry.currentCpu = () => host.cpu;
}

/*
 * The helper call ABI as the engines see it: a table from the kernel's helper id (BPF_FUNC_*) to a
 * function taking r1..r5 as unsigned 64-bit bigints and returning r0. The helper implementations
 * and their prototypes live in helpers/; this is only the registry a VM calls through.
 *
 * After a helper call the interpreter leaves r1..r5 unchanged (the kernel treats them as
 * clobbered, and the verifier refuses to read them, so verified programs cannot tell).
 *
 * The JIT's cheap path (no BigInt): a helper may also have a `fast` twin taking r1..r5 as plain
 * numbers (the JIT calls it only when all five are below 2^53, so they are exact) and returning
 * r0 as a safe integer (negative for -errno; a bigint when it does not fit), or NaN to say "take
 * the BigInt path" (it must then have had no effect yet). Both forms must behave identically; the interpreter uses `fn` only.
 * `arrayLayout` lets the JIT inline bpf_map_lookup_elem on ARRAY/PERCPU_ARRAY maps whose handle
 * it sees as a constant (the kernel's array_map_gen_lookup()).
 */
import { BpfError } from '../errors.js';
import type { AddressSpace } from './address_space.js';
import type { HelperCallContext, HelperEntry, HelperFn } from './types.js';

/**
 * A helper's number form: r1..r5 exact (< 2^53); r0 a safe integer, a bigint when it does not fit
 * (rare: the JIT then takes it through a global), or NaN (nothing done: use the BigInt form).
 */
export type FastHelperFn = (ctx: HelperCallContext, r1: number, r2: number, r3: number, r4: number, r5: number) => number | bigint;

/** Where an ARRAY/PERCPU_ARRAY map keeps its values (fixed for the map's lifetime). */
export interface ArrayLayout {
  readonly maxEntries: number;
  /** round_up(value_size, 8). */
  readonly elemSize: number;
  /** Address of index 0 (CPU 0). */
  readonly valuesAddr: number;
  /** PERCPU_ARRAY: one slot per CPU, side by side per index. */
  readonly percpu: boolean;
  readonly nrCpus: number;
}

/** BPF_FUNC_map_lookup_elem. */
export const HELPER_MAP_LOOKUP_ELEM = 1;

export class HelperRegistry {
  private readonly byId = new Map<number, HelperEntry>();
  private readonly fastById = new Map<number, FastHelperFn>();
  /** The ARRAY layout of the map whose handle is at `addr`, if it is one (set by helpers/). */
  arrayLayout: ((space: AddressSpace, addr: number) => ArrayLayout | undefined) | undefined;
  /** The stride table address of the IPv4 LPM trie whose handle is at `addr`, if it is one (set by helpers/). */
  lpmTable: ((space: AddressSpace, addr: number) => number | undefined) | undefined;
  /** The current CPU (what a per-CPU lookup selects), for inlined PERCPU_ARRAY lookups. */
  currentCpu: (() => number) | undefined;
  /** Bumped by every (re)registration, so callers may cache lookups. */
  version = 0;

  /** Register (or replace) helper `id`; a replaced helper loses its fast twin. */
  register(id: number, name: string, fn: HelperFn): void {
    if (!Number.isInteger(id) || id < 0 || id > 0x7fffffff) {
      throw new BpfError('EINVAL', `helper ${name}: invalid id ${id}`);
    }
    this.byId.set(id, Object.freeze({ id, name, fn }));
    this.fastById.delete(id);
    this.version++;
  }

  /** Give the registered helper `id` its number form (same behaviour as its BigInt form). */
  registerFast(id: number, fn: FastHelperFn): void {
    if (!this.byId.has(id)) throw new BpfError('EINVAL', `helper ${id}: no helper to give a fast form`);
    this.fastById.set(id, fn);
    this.version++;
  }

  get(id: number): HelperEntry | undefined {
    return this.byId.get(id);
  }

  getFast(id: number): FastHelperFn | undefined {
    return this.fastById.get(id);
  }

  has(id: number): boolean {
    return this.byId.has(id);
  }

  /** Registered helpers, by id. */
  entries(): HelperEntry[] {
    return [...this.byId.values()].sort((a, b) => a.id - b.id);
  }
}

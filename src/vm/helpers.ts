/*
 * The helper call ABI as the engines see it: a table from the kernel's helper id (BPF_FUNC_*) to a
 * function taking r1..r5 as unsigned 64-bit bigints and returning r0. The helper implementations
 * and their prototypes live in helpers/; this is only the registry a VM calls through.
 *
 * After a helper call the interpreter leaves r1..r5 unchanged (the kernel treats them as
 * clobbered, and the verifier refuses to read them, so verified programs cannot tell).
 */
import { BpfError } from '../errors.js';
import type { HelperEntry, HelperFn } from './types.js';

export class HelperRegistry {
  private readonly byId = new Map<number, HelperEntry>();

  /** Register (or replace) helper `id`. */
  register(id: number, name: string, fn: HelperFn): void {
    if (!Number.isInteger(id) || id < 0 || id > 0x7fffffff) {
      throw new BpfError('EINVAL', `helper ${name}: invalid id ${id}`);
    }
    this.byId.set(id, Object.freeze({ id, name, fn }));
  }

  get(id: number): HelperEntry | undefined {
    return this.byId.get(id);
  }

  has(id: number): boolean {
    return this.byId.has(id);
  }

  /** Registered helpers, by id. */
  entries(): HelperEntry[] {
    return [...this.byId.values()].sort((a, b) => a.id - b.id);
  }
}

/*
 * A VM: one address space plus the helpers its programs may call. Engines (the interpreter here,
 * the WebAssembly JIT) run programs against a Vm; maps, contexts and packets are allocated in its
 * address space so every engine sees the same bytes.
 */
import { AddressSpace } from './address_space.js';
import { HelperRegistry } from './helpers.js';

export interface VmOptions {
  /** Upper bound of the address space in bytes (default 256 MiB). */
  maxMemoryBytes?: number;
  /** Helper table (default: an empty registry). */
  helpers?: HelperRegistry;
  /** Back the memory with a SharedArrayBuffer. */
  sharedMemory?: boolean;
}

export class Vm {
  readonly space: AddressSpace;
  readonly helpers: HelperRegistry;

  constructor(options: VmOptions = {}) {
    this.space = new AddressSpace({ maxBytes: options.maxMemoryBytes, shared: options.sharedMemory });
    this.helpers = options.helpers ?? new HelperRegistry();
  }
}

/*
 * The VM layer's public surface: address space, helper registry, Vm, the reference interpreter
 * (one-shot interpret() and the steppable Execution) and the shared types.
 */
export { AddressSpace, DEFAULT_MAX_BYTES, NULL_GUARD, REDZONE, formatRegion } from './address_space.js';
export type { AddressSpaceOptions, AllocOptions, WasmMemory } from './address_space.js';
export { HelperRegistry } from './helpers.js';
export { DEFAULT_BUDGET, Execution, MAX_BUDGET, MAX_TAIL_CALL_CNT, MAY_GOTO_BUDGET, interpret } from './interpreter.js';
export { Vm } from './vm.js';
export type { VmOptions } from './vm.js';
export type { HelperCallContext, HelperEntry, HelperFn, Region, RunOptions, RunResult } from './types.js';

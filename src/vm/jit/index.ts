/*
 * The WebAssembly JIT's public surface: compileJit() (cached per VM, program and entry), its
 * asynchronous twin compileJitAsync() for browsers' main threads, and runJit(), interpret()'s
 * drop-in replacement.
 */
export { BATCH_ENTRY_HEADER, JitProgram, compileJit, compileJitAsync, runJit } from './jit.js';

/*
 * The WebAssembly JIT's public surface: compileJit() (cached per VM, program and entry), its
 * asynchronous twin compileJitAsync() for browsers' main threads, and runJit(), interpret()'s
 * drop-in replacement; markVerified() selects the verified tier for a program that passed the
 * verifier.
 */
export { BATCH_ENTRY_HEADER, JitProgram, compileJit, compileJitAsync, isVerified, markVerified, runJit, verifiedTierOf } from './jit.js';
export type { VerifiedTier } from './compile.js';

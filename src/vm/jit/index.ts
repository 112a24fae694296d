/*
 * The WebAssembly JIT's public surface: compileJit() (cached per VM, program and entry) and
 * runJit(), interpret()'s drop-in replacement.
 */
export { JitProgram, compileJit, runJit } from './jit.js';

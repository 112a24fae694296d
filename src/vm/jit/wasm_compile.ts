/*
 * Synchronous WebAssembly compilation, eager where the host allows it.
 *
 * V8 compiles a module's functions lazily by default (--wasm-lazy-compilation): `new
 * WebAssembly.Module` validates every function (a job on a worker thread the main thread waits
 * for), then each function's first call stops in the runtime (Runtime_WasmCompileLazy), decodes
 * it again and compiles it with Liftoff on the calling thread, one at a time. Compiled eagerly,
 * the constructor hands all functions to V8's compile job, which runs Liftoff on the calling
 * thread and the platform's worker threads at once (wasm::CompileNativeModule) and validates as
 * it decodes. A JIT compiles a module in order to run it, and prepare() calls every function
 * anyway, so eager costs nothing lazy would not; on two cores it took a 10,000-instruction
 * program (ten functions: regions.ts) from 0.66-0.91 to 0.52-0.63 ms per 1,000 instructions, and
 * big.o's one function 0.53-0.59 to 0.48-0.55.
 *
 * The switch is a process-wide V8 flag, so it is set for the duration of the constructor only
 * and restored after: on Node itself (where v8.setFlagsFromString() is supported and V8's flags
 * are not frozen after initialisation), and only when the process was not started with an
 * opinion of its own on the flag (node --[no-]wasm-lazy-compilation, in its arguments or
 * NODE_OPTIONS). Elsewhere (browsers, runtimes that present themselves as Node, Node before
 * 20.16 without process.getBuiltinModule) it is `new WebAssembly.Module`, lazy. The flag is one
 * per process: a module another thread compiles meanwhile (a worker of the user's, or bpfkit's
 * on another worker thread) may be compiled the other way, which changes when V8 compiles its
 * functions, never what they do. (No `node:*` import: the browser-safe core only asks the
 * runtime whether it has the module.)
 */

interface WasmModuleCtor<M> {
  new (bytes: Uint8Array): M;
}

interface NodeProcess {
  release?: { name?: string };
  versions?: Record<string, string | undefined>;
  execArgv?: readonly string[];
  env?: Record<string, string | undefined>;
  getBuiltinModule?: (id: string) => unknown;
}

interface NodeV8 {
  setFlagsFromString(flags: string): void;
}

/** Modules smaller than this compile as V8 chooses: eager gains nothing on a function or two. */
export const EAGER_MIN_BYTES = 4096;

let v8Flags: NodeV8 | null | undefined;

/** Node's v8 module when flags may be switched around a compile, else null (decided once). */
function switchableV8(): NodeV8 | null {
  if (v8Flags !== undefined) return v8Flags;
  v8Flags = null;
  const proc = (globalThis as { process?: NodeProcess }).process;
  // Node itself: other runtimes that present themselves as Node (Deno, Bun, Electron) have flags of
  // their own to keep, or V8 flags frozen after start (writing one then crashes the process)
  const versions = proc?.versions ?? {};
  if (proc?.release?.name !== 'node' || typeof proc.getBuiltinModule !== 'function' || versions.v8 === undefined ||
      versions.deno !== undefined || versions.bun !== undefined || versions.electron !== undefined) return null;
  const args = [...(proc.execArgv ?? []), ...(proc.env?.NODE_OPTIONS ?? '').split(/\s+/)];
  if (args.some((a) => /^--(no-?)?wasm[-_]lazy[-_]compilation(=|$)/.test(a))) return null;
  try {
    const v8 = proc.getBuiltinModule('node:v8') as NodeV8 | undefined;
    if (typeof v8?.setFlagsFromString === 'function') v8Flags = v8;
  } catch {
    // no v8 module: compile lazily
  }
  return v8Flags;
}

/** `new Module(bytes)`, compiled eagerly on Node (see above). Throws what the constructor throws. */
export function compileWasmModule<M>(Module: WasmModuleCtor<M>, bytes: Uint8Array): M {
  const v8 = bytes.length >= EAGER_MIN_BYTES ? switchableV8() : null;
  if (v8 === null) return new Module(bytes);
  v8.setFlagsFromString('--no-wasm-lazy-compilation');
  try {
    return new Module(bytes);
  } finally {
    v8.setFlagsFromString('--wasm-lazy-compilation');
  }
}

/** Whether compileWasmModule() compiles modules (of EAGER_MIN_BYTES or more) eagerly in this process. */
export function eagerCompilation(): boolean {
  return switchableV8() !== null;
}

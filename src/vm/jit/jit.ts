/*
 * The WebAssembly JIT's host side (DESIGN.md, "Engines"): compileJit() turns a program into one
 * wasm module (compile.ts) over the VM's own memory, and JitProgram.run() runs it with the same
 * RunOptions/RunResult, errors and results as the reference interpreter's interpret().
 *
 * The module imports the address space's WebAssembly.Memory (shared if the VM's is), the frame
 * tops of one nesting level (f0..f7), and a table `hosts` through which it calls three host
 * functions (one process-wide shim instance exports them as wasm functions; each instance gets a
 * table of its own holding them): importing JS functions instead would cost V8 ~0.1 ms more per
 * module compile and ~0.05 ms per signature per instantiation (import wrappers). The host
 * functions serve the instance running now (`running.inst`), which every way into a module sets:
 *   host(kind, a, b, c)                       the slow paths: kind ACCESS_* is a memory check's
 *                                             (pc, address, size): the region lookup of the
 *                                             interpreter (throws its EFAULT or refills the
 *                                             module's region cache); HOST_FAIL + FAIL_* throws
 *                                             (decode trap, budget, frames, no packet); HOST_FINISH
 *                                             is LD_ABS/LD_IND out of bounds in a subprogram: the
 *                                             run ends, r0 = 0; HOST_STOP: prepare()'s
 *   helper(id or callx register, pc, r1..r5)  the helper ABI (HelperRegistry), r0 back (programs
 *                                             with helper calls)
 *   fast(id, pc, r1..r5 as f64)               a helper's number form (no BigInt), NaN when it
 *                                             has none; tried first when r1..r5 < 2^53
 * so faults surface as the interpreter's BpfErrors (insn index, address, size).
 * bpf_map_lookup_elem on an ARRAY/PERCPU_ARRAY map or an IPv4 LPM trie known at the call site is
 * compiled inline.
 *
 * Many runs per call: runRepeat() (bpf_test_run's repeat loop) and runBatch() (one context image
 * per run, e.g. every packet of a capture) loop inside the module.
 *
 * Stack frames: each VM gets its own 8 frames per nesting level, allocated like the
 * interpreter's ('stack', 'stack[1]', ... deeper frames at lower addresses), so a fresh VM gives
 * the JIT the same r10 the interpreter would have. Runs may nest (a helper running a program):
 * each level has its own frames and module instance.
 *
 * Calls from JS pass r1..r5 as i32 halves and get r0's low word back, so the hot path
 * (runCtx: one pointer in, a 32-bit verdict out) has no BigInt at all.
 *
 * Tail calls (HelperCallContext.tailCall, for bpf_tail_call): the helper marks the call; after it
 * returns the module stores r0..r10 in the null guard (memory no program can reach: layout.ts,
 * TAIL_REGS_AT) and leaves, and the run continues in the
 * target program's module (compiled on demand, at the same nesting level) entered in MODE_RESUME
 * with those registers and the frame kept, the budget and may_goto count carried over,
 * as the interpreter does. A tail call with r10 changed from the frame top is ENOTSUPP (the
 * compiled target assumes it).
 */
import { BpfError, type ErrnoName } from '../../errors.js';
import type { Insn } from '../../isa/insn.js';
import { MAX_BPF_STACK, MAX_CALL_FRAMES } from '../../isa/opcodes.js';
import { decodeForInterpreter, type DecodedProgram, OP_CALL_LOCAL } from '../decode.js';
import { DEFAULT_BUDGET, MAX_BUDGET, MAX_TAIL_CALL_CNT, MAY_GOTO_BUDGET } from '../interpreter.js';
import type { HelperCallContext, RunOptions, RunResult } from '../types.js';
import type { Vm } from '../vm.js';
import type { ArrayLayout, FastHelperFn } from '../helpers.js';
import {
  ACCESS_LOAD, BPF_FUNC_TAIL_CALL, FAIL_BUDGET, FAIL_NO_PACKET, FAIL_TAIL_SUB, FAIL_TRAP, GLOBAL_NAMES, HOST_FAIL, HOST_FINISH, HOST_SLOT_FAST,
  HOST_SLOT_HELPER, HOST_SLOT_HOST, HOST_STOP, type JitHelperOptions, MODE_BATCH, MODE_REPEAT, MODE_RESUME, MODE_RUN, MODE_WARM, TAIL_REGS, TAIL_REGS_AT,
  type CompiledModule, type VerifiedTier, compileModule, constantR1AtLookups, hostShimModule,
} from './compile.js';
import type { Trap } from '../decode.js';
import { JUMP_OP } from './layout.js';
import { compileWasmModule, eagerCompilation } from './wasm_compile.js';

/**
 * Instruction arrays that passed the verifier, with what it proved (kernel/ marks the arrays it
 * hands to the engines for verified programs): they compile to the verified tier. A copy of the
 * array is unverified.
 */
const verifiedPrograms = new WeakMap<readonly Insn[], VerifiedTier>();

/** Compile `insns` in the verified tier from now on (before its first compileJit on a VM). */
export function markVerified(insns: readonly Insn[], tier: VerifiedTier): void {
  if (tier.unchecked.length !== insns.length) fail('EINVAL', `jit: verified tier for ${tier.unchecked.length} insns, program has ${insns.length}`);
  verifiedPrograms.set(insns, tier);
}

/** Whether `insns` compiles to the verified tier. */
export function isVerified(insns: readonly Insn[]): boolean {
  return verifiedPrograms.has(insns);
}

/** What markVerified() recorded for `insns` (undefined: the checked tier). */
export function verifiedTierOf(insns: readonly Insn[]): VerifiedTier | undefined {
  return verifiedPrograms.get(insns);
}

// The part of the WebAssembly JS API used here (the project's lib has no WebAssembly types).
interface WasmGlobal { value: number }
interface WasmGlobal64 { value: bigint }
interface WasmModule { readonly __wasmModule?: never }
interface WasmInstance { readonly exports: Record<string, unknown> }
interface WasmTable { set(index: number, value: unknown): void }
interface WasmApi {
  Table: new (descriptor: { element: 'anyfunc'; initial: number }) => WasmTable;
  Module: new (bytes: Uint8Array) => WasmModule;
  compile(bytes: Uint8Array): Promise<WasmModule>;
  Instance: new (module: WasmModule, imports: Record<string, Record<string, unknown>>) => WasmInstance;
  RuntimeError: new () => Error;
}
const WA = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

/** The module's one exported function: a MODE_* and its arguments (compile.ts, entryBody()). */
type EntryFn = (
  mode: number, a0: number, a1: number, a2: number, a3: number, a4: number, a5: number, a6: number, a7: number, a8: number, a9: number,
  a10: number, a11: number, a12: number,
) => number;

type Globals = Record<(typeof GLOBAL_NAMES)[number], WasmGlobal>;

interface Instance {
  readonly enter: EntryFn;
  /** What the host functions need of the program (they serve every instance: see `running`). */
  readonly vm: Vm;
  readonly st: VmJitState;
  readonly code: Int32Array;
  readonly traps: readonly Trap[];
  readonly segStart: Int32Array;
  readonly segCount: Int32Array;
  /** The helper call context (its pc set per call). */
  readonly ctx: HelperCallContext & { pc: number };
  /** i64 global `fr`: a fast helper's result that does not fit a double. */
  readonly fr: WasmGlobal64;
  /** The current CPU (inlined PERCPU_ARRAY lookups read it). */
  readonly cpu: WasmGlobal;
  /** The batch runs' packet region cache entry. */
  readonly pb: WasmGlobal;
  readonly pl: WasmGlobal;
  readonly g: Globals;
  /** bpf_tail_call: the program to continue in, set by ctx.tailCall() during a helper call. */
  pendingTail: readonly Insn[] | undefined;
  /** The helper call that asked for it; tail calls made so far in this run. */
  tailPc: number;
  tailCalls: number;
  /** Address space generation the region cache was filled at. */
  gen: number;
  /** Inside runBatch(): tail calls are refused. */
  batching: boolean;
  /** Budget of the current run (for the error message). */
  budget: number;
  /** Base of this level's main frame: the always-valid "empty" cache entry. */
  readonly frame0: number;
  /** Tops of this level's frames. */
  readonly tops: readonly number[];
}

interface VmJitState {
  depth: number;
  /** Per nesting level: whether its frames may hold bytes written since they were zeroed. */
  readonly dirty: Uint8Array;
  /** Frame tops per nesting level. */
  readonly levels: number[][];
  readonly programs: WeakMap<readonly Insn[], Map<number, JitProgram>>;
  /** Helpers' number forms by id (below FAST_CACHE), as of registry version `fastVersion`. */
  readonly fastFns: (FastHelperFn | undefined)[];
  fastVersion: number;
}

const MAX_NESTED_RUNS = 8;
/** Helper ids below this have their number form cached per instance. */
const FAST_CACHE = 256;
/** Bytes before the context image in a runBatch() table entry: a (base, size) u32 pair. */
export const BATCH_ENTRY_HEADER = 8;
const ACCESS_NAMES = ['load', 'store', 'atomic access'];
const TWO32 = 4294967296;
const states = new WeakMap<Vm, VmJitState>();

/**
 * Compiled modules by program content (and entry, memory kind), shared by all VMs: a module does
 * not depend on its VM (memory and frame addresses are imports), and V8 keeps the code it has
 * tiered up per module, so reloading a program (a new VM per `prog run`) starts warm.
 */
interface CachedModule {
  readonly module: WasmModule;
  readonly pure: boolean;
  /** The predecoded program it was compiled from. */
  readonly code: Int32Array;
  readonly segStart: Int32Array;
  readonly segCount: Int32Array;
  readonly functions: number;
  /** CompiledModule.warmHosts. */
  readonly warmHosts: boolean;
  readonly insnCount: number;
  readonly wasmSize: number;
  /** Some inlined lookup is on a PERCPU_ARRAY (runs set the `cpu` global). */
  readonly percpu: boolean;
  /** The verified tier's unchecked slots it was compiled with (none: the checked tier). */
  readonly unchecked?: Uint8Array;
}
const MODULE_CACHE_SIZE = 64;
const moduleCache = new Map<string, CachedModule>();

/**
 * The cache key: entry, memory kind and a hash of the predecoded program (which is all the module
 * depends on; trap messages stay with each JitProgram). A hit is confirmed by comparing the code,
 * so a collision costs a compile, never a wrong module.
 */
function programKey(code: Int32Array, entry: number, shared: boolean, maxPages: number, helperKey: string): string {
  hashWordsTwice(code);
  return `${entry}${shared ? 's' : 'p'}${maxPages}:${code.length}:${(hashA >>> 0).toString(36)}:` +
    `${(hashB >>> 0).toString(36)}${helperKey}`;
}

const FNV_BASIS = 0x811c9dc5 | 0;
const FNV_PRIME = 0x01000193;

/**
 * An FNV-1a-style hash of `words`, an int32. Int32 arithmetic only (no `>>> 0`, whose results
 * above 2^31 are not int32), in a function of its own: the loop's optimized (OSR) code then covers
 * all of it. (Mixed with the key's formatting and with sums overflowing int32, it deoptimized on
 * every call: ~0.3 ms per big.o compile.)
 */
function hashWords(words: Int32Array | Uint8Array, seed: number): number {
  let h = seed;
  for (let i = 0; i < words.length; i++) h = Math.imul(h ^ words[i], FNV_PRIME);
  return h;
}

/** hashWords(words, FNV_BASIS) into hashA and hashWords(words, FNV_PRIME) into hashB, in one pass (half the loop in a first compile, before V8 optimises it). */
function hashWordsTwice(words: Int32Array): void {
  // (imul, n and the prime in locals: fewer bytecodes per word while the loop is interpreted, so
  // V8 spends less on it and compiles it on stack later, if at all, in a one-compile process)
  const imul = Math.imul;
  const prime = FNV_PRIME;
  const n = words.length;
  let a = FNV_BASIS;
  let b = prime;
  for (let i = 0; i < n; i++) {
    const w = words[i];
    a = imul(a ^ w, prime);
    b = imul(b ^ w, prime);
  }
  hashA = a;
  hashB = b;
}
let hashA = 0;
let hashB = 0;

/** Helper ids the fast path is tried for (those helpers/ gives a number form when they have one). */
const FAST_CANDIDATES = [1, 2, 3, 5, 7, 8];

/**
 * What the module takes from the VM's helpers: the calls with a number form, and the lookups on
 * ARRAY maps and IPv4 LPM tries known at the call site (only while map_lookup_elem is the
 * registry's own, which has its fast form); with their key part (a module is shared by VMs with
 * the same answers).
 */
function helperOptionsFor(vm: Vm, prog: DecodedProgram, insns: readonly Insn[]): { options: JitHelperOptions; key: string } {
  const helpers = vm.helpers;
  const verified = verifiedPrograms.get(insns);
  const fastHelpers = new Set<number>();
  for (const id of FAST_CANDIDATES) if (helpers.getFast(id) !== undefined) fastHelpers.add(id);
  const arrayLookups = new Map<number, ArrayLayout>();
  const lpmLookups = new Map<number, number>();
  let key = fastHelpers.size > 0 ? `:f${[...fastHelpers].join(',')}` : '';
  if (fastHelpers.has(1) && helpers.arrayLayout !== undefined) {
    for (const [pc, addr] of constantR1AtLookups(prog)) {
      const m = helpers.arrayLayout(vm.space, addr);
      if (m === undefined) {
        const l1 = helpers.lpmTable?.(vm.space, addr);
        if (l1 !== undefined) {
          lpmLookups.set(pc, l1);
          key += `:l${pc}/${l1}`;
        }
        continue;
      }
      arrayLookups.set(pc, m);
      key += `:a${pc}/${m.maxEntries}/${m.elemSize}/${m.valuesAddr}/${m.percpu ? m.nrCpus : 0}`;
    }
  }
  if (verified !== undefined) key += `:v${verified.stackDepth}:${tierHash(verified.unchecked)}`;
  return { options: { fastHelpers, arrayLookups, lpmLookups, verified }, key };
}

function tierHash(unchecked: Uint8Array): string {
  return (hashWords(unchecked, FNV_BASIS) >>> 0).toString(36);
}

function cachedModule(key: string, code: Int32Array, verified: VerifiedTier | undefined): CachedModule | undefined {
  const m = moduleCache.get(key);
  if (m === undefined || m.code.length !== code.length) return undefined;
  for (let i = 0; i < code.length; i++) if (m.code[i] !== code[i]) return undefined;
  if (!sameBytes(m.unchecked, verified?.unchecked)) return undefined;
  return m;
}

function sameBytes(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
/**
 * A wasm trap (only an access outside the whole memory, in the verified tier, where the verifier's
 * proof is trusted) as a one-line error rather than a RuntimeError's stack.
 */
function asBpfError(err: unknown): unknown {
  if (!(err instanceof WA.RuntimeError)) return err;
  return new BpfError('EFAULT', `jit: ${err.message} in a verified program (the verifier's proof did not hold)`);
}

/** Thrown by the `host` import (HOST_FINISH: LD_ABS/LD_IND out of bounds), caught by the run. */
const FINISH = { finish: true };
/** Thrown by the host for prepare()'s calls (HOST_STOP, or a zero budget while warming): no error object, no stack. */
const STOP = { stop: true };

/**
 * `inst`: the instance running now (the innermost, when runs nest): the host functions, shared by
 * every module through the shim, serve it; each way into a module sets it and restores it after.
 * `warming`: prepare() is calling into a module (a zero budget's stop throws STOP).
 * (Properties of a constant object: a module-level `let` written per run cost ~150 more machine
 * instructions per runCtx(), by callgrind.)
 */
const running: { inst: Instance | undefined; warming: boolean } = { inst: undefined, warming: false };

/** The slow paths of the module: a memory check's (kind ACCESS_*), failures (HOST_FAIL + FAIL_*), finish, prepare()'s. */
function hostCall(kind: number, a: number, b64: bigint, c: number): void {
  const inst = running.inst!;
  if (kind < HOST_FAIL) accessSlowPath(inst, kind, a, b64, c);
  else if (kind < HOST_FINISH) failure(inst, kind - HOST_FAIL, a, c);
  else if (kind === HOST_FINISH) throw FINISH; // LD_ABS/LD_IND out of bounds in a subprogram
  else if (kind === HOST_STOP) throw STOP;
}

/** The slow path of a memory check: refill the region cache, or fault as the interpreter. */
function accessSlowPath(inst: Instance, kind: number, pc: number, a64: bigint, size: number): void {
  const space = inst.vm.space;
  const full = BigInt.asUintN(64, a64);
  if (full <= 0xffffffffn) {
    const addr = Number(full);
    const region = space.regionAt(addr);
    if (region !== undefined && addr + size <= region.addr + region.size && (kind === ACCESS_LOAD || region.writable)) {
      if (region.size >= 8 && region.addr + region.size <= 0xffff0000) {
        const g = inst.g;
        if (kind === ACCESS_LOAD) {
          g.qb.value = g.rb.value;
          g.ql.value = g.rl.value;
          g.rb.value = region.addr;
          g.rl.value = region.size - 8;
        } else {
          g.wb.value = region.addr;
          g.wl.value = region.size - 8;
        }
      }
      return;
    }
  }
  const why = (full <= BigInt(Number.MAX_SAFE_INTEGER) ? space.accessError(Number(full), size, kind !== ACCESS_LOAD) : undefined) ??
    `addr 0x${full.toString(16)}, size ${size}, no region`;
  fail('EFAULT', `out of bounds memory ${ACCESS_NAMES[kind]} (insn #${pc}): ${why}`);
}

/** A failure the module reports (FAIL_*): the interpreter's error. */
function failure(inst: Instance, kind: number, a: number, b: number): void {
  const P = inst.code;
  switch (kind) {
    case FAIL_TRAP: {
      if (a < 0) fail('EINVAL', `invalid instruction (insn #${b}): internal op 0x${(P[b << 2] & 0xfff).toString(16)}`);
      const t = inst.traps[a];
      fail(t.code, t.message);
    }
    // falls through (never: fail() throws)
    case FAIL_BUDGET: { // segment a overdrew: b is the budget left after its charge
      if (a < 0) fail('E2BIG', `stack frames exhausted: more than ${MAX_CALL_FRAMES} nested calls (insn #${-1 - a})`); // (FAIL_FRAMES)
      if (running.warming && inst.budget === 0) throw STOP;
      let slot = inst.segStart[a];
      let count = inst.segCount[a];
      let skipped = count < 0; // (~count: a selected block was skipped, the walk takes the jump over it; see emit_segment.ts, holeySegment())
      if (skipped) count = ~count;
      for (let j = b + count; j > 0; j--) {
        const o = P[slot << 2] & 0xfff;
        if (skipped && JUMP_OP[o] === 1) { slot = P[(slot << 2) + 1]; skipped = false; } else slot += o === 0x18 ? 2 : 1;
      }
      fail('ELOOP', `instruction budget of ${inst.budget} exceeded (insn #${slot})`);
    }
    // falls through
    case FAIL_NO_PACKET:
      fail('EINVAL', `LD_ABS/LD_IND without a packet (insn #${a}): pass options.packet`);
    // falls through
    case FAIL_TAIL_SUB:
      fail('ENOTSUPP', `tail call from a subprogram is not supported (insn #${a})`);
    // falls through
    default:
      fail('EINVAL', `jit: unknown failure ${kind}`);
  }
}

/** A helper call through the helper ABI (HelperRegistry), r0 back. */
function helperCall(idv: bigint, pc: number, a1: bigint, a2: bigint, a3: bigint, a4: bigint, a5: bigint): bigint {
  if (pc < 0) return 0n; // prepare()'s
  const inst = running.inst!;
  const P = inst.code;
  const space = inst.vm.space;
  const call = (P[pc << 2] & 0xfff) === 0x85;
  let id: number;
  if (call) id = P[(pc << 2) + 2];
  else {
    const u = BigInt.asUintN(64, idv);
    id = u <= 0x7fffffffn ? Number(u) : -1;
  }
  const helper = id >= 0 ? inst.vm.helpers.get(id) : undefined;
  if (helper === undefined) fail('EINVAL', `invalid func unknown#${call ? id : BigInt.asUintN(64, idv)} (insn #${pc})`);
  const ctx = inst.ctx;
  ctx.pc = pc;
  const r = helper.fn(ctx, BigInt.asUintN(64, a1), BigInt.asUintN(64, a2), BigInt.asUintN(64, a3),
    BigInt.asUintN(64, a4), BigInt.asUintN(64, a5));
  if (space.generation !== inst.gen) resetCache(inst, space.generation);
  if (typeof r === 'bigint') return r;
  const n = Number(r);
  if (!Number.isFinite(n)) fail('EINVAL', `helper ${helper.name} returned ${String(r)}, not a 64-bit value (insn #${pc})`);
  return BigInt(Math.trunc(n));
}

/** The number form of a helper (HelperRegistry.getFast): NaN when there is none. */
function fastCall(id: number, pc: number, a1: number, a2: number, a3: number, a4: number, a5: number): number {
  if (pc < 0) return NaN; // prepare()'s
  const inst = running.inst!;
  const st = inst.st;
  const helpers = inst.vm.helpers;
  if (st.fastVersion !== helpers.version) { // (re)registered since: look them up again
    st.fastVersion = helpers.version;
    st.fastFns.fill(undefined);
  }
  let fn = id < FAST_CACHE ? st.fastFns[id] : undefined;
  if (fn === undefined) {
    fn = helpers.getFast(id);
    if (fn === undefined) return NaN;
    if (id < FAST_CACHE) st.fastFns[id] = fn;
  }
  const ctx = inst.ctx;
  ctx.pc = pc;
  const r = fn(ctx, a1, a2, a3, a4, a5);
  const space = inst.vm.space;
  if (space.generation !== inst.gen) resetCache(inst, space.generation);
  if (typeof r === 'number') return r;
  inst.fr.value = BigInt.asUintN(64, r);
  return Infinity;
}

let shim: Record<string, unknown> | undefined;

/**
 * The table an instance calls the host through (compile.ts, hostStub()): the shim's exports,
 * which wrap hostCall, helperCall and fastCall (one shim per process, or thread). A table per
 * instance: a table lists every instance importing it, for good (a shared one would keep them
 * all alive, and make each instantiation slower than the last).
 */
function hostTable(): WasmTable {
  shim ??= new WA.Instance(new WA.Module(hostShimModule()), { env: { host: hostCall, helper: helperCall, fast: fastCall } }).exports;
  const t = new WA.Table({ element: 'anyfunc', initial: 3 });
  t.set(HOST_SLOT_HOST, shim.host);
  t.set(HOST_SLOT_HELPER, shim.helper);
  t.set(HOST_SLOT_FAST, shim.fast);
  return t;
}

function stateOf(vm: Vm): VmJitState {
  let st = states.get(vm);
  if (st === undefined) {
    st = {
      depth: 0, dirty: new Uint8Array(MAX_NESTED_RUNS).fill(1), levels: [], programs: new WeakMap(),
      fastFns: new Array<FastHelperFn | undefined>(FAST_CACHE).fill(undefined), fastVersion: vm.helpers.version,
    };
    states.set(vm, st);
  }
  return st;
}

/** The frame tops of nesting level `level` (allocated on first use, deeper frames lower). */
function levelFrames(vm: Vm, st: VmJitState, level: number): number[] {
  let tops = st.levels[level];
  if (tops === undefined) {
    tops = new Array<number>(MAX_CALL_FRAMES);
    for (let f = MAX_CALL_FRAMES - 1; f >= 0; f--) {
      const name = level === 0 ? (f === 0 ? 'stack' : `stack[${f}]`) : `stack[${level}:${f}]`;
      tops[f] = vm.space.alloc(MAX_BPF_STACK, name, { align: 16 }).addr + MAX_BPF_STACK;
    }
    st.levels[level] = tops;
  }
  return tops;
}

function isShared(buf: ArrayBuffer | SharedArrayBuffer): boolean {
  return typeof SharedArrayBuffer !== 'undefined' && buf instanceof SharedArrayBuffer;
}

function fail(code: ErrnoName, message: string): never {
  throw new BpfError(code, message);
}

function now(): number {
  return (globalThis as unknown as { performance: { now(): number } }).performance.now();
}

/**
 * Compile `insns` (run from slot `entry`) for `vm`; cached per VM, insns array and entry. The
 * array must not be modified afterwards (as for the interpreter's predecoding).
 */
export function compileJit(vm: Vm, insns: readonly Insn[], entry = 0): JitProgram {
  const st = stateOf(vm);
  let byEntry = st.programs.get(insns);
  if (byEntry === undefined) {
    byEntry = new Map();
    st.programs.set(insns, byEntry);
  }
  let p = byEntry.get(entry);
  if (p === undefined || p.length !== insns.length) {
    p = new JitProgram(vm, st, insns, entry);
    byEntry.set(entry, p);
  }
  return p;
}

/**
 * compileJit() with the WebAssembly compilation done asynchronously (browsers refuse to compile
 * all but small modules synchronously on the main thread); the result is cached like compileJit's.
 */
export async function compileJitAsync(vm: Vm, insns: readonly Insn[], entry = 0): Promise<JitProgram> {
  const prog = decodeForInterpreter(insns);
  if (!Number.isInteger(entry) || entry < 0 || entry >= prog.length) fail('EINVAL', `interpret: entry ${entry} is outside the program`);
  const shared = isShared(vm.space.memory.buffer);
  const maxPages = Math.ceil(vm.space.maxBytes / 65536);
  const h = helperOptionsFor(vm, prog, insns);
  const key = programKey(prog.code, entry, shared, maxPages, h.key);
  if (cachedModule(key, prog.code, h.options.verified) === undefined) {
    const compiled = compileModule(prog, entry, { shared, maxPages }, MAY_GOTO_BUDGET, h.options);
    let module: WasmModule;
    try {
      // (a copy: the bytes are compileModule()'s kept writer, rewritten by the next compile; the
      // JS API copies them before returning, but this need not rely on it)
      module = await WA.compile(compiled.bytes.slice());
    } catch (err) {
      throw new BpfError('EFAULT', `jit: the generated module is invalid: ${(err as Error).message}`);
    }
    cacheModule(key, cachedModuleOf(module, compiled, prog.code, h.options));
  }
  return compileJit(vm, insns, entry);
}

/** The cache entry of a module just compiled from `code` with helper options `o`. */
function cachedModuleOf(module: WasmModule, compiled: CompiledModule, code: Int32Array, o: JitHelperOptions): CachedModule {
  return {
    module, pure: compiled.pure, code, segStart: compiled.segStart, segCount: compiled.segCount, functions: compiled.functions, warmHosts: compiled.warmHosts,
    insnCount: compiled.insnCount, wasmSize: compiled.bytes.length, percpu: hasPercpu(o), unchecked: o.verified?.unchecked,
  };
}

function hasPercpu(o: JitHelperOptions): boolean {
  for (const m of o.arrayLookups?.values() ?? []) if (m.percpu) return true;
  return false;
}

function cacheModule(key: string, m: CachedModule): void {
  moduleCache.delete(key); // most recently used last
  if (moduleCache.size >= MODULE_CACHE_SIZE) moduleCache.delete(moduleCache.keys().next().value!);
  moduleCache.set(key, m);
}

/** Run `insns` on `vm` with the JIT: interpret()'s drop-in replacement. */
export function runJit(vm: Vm, insns: readonly Insn[], options: RunOptions = {}): RunResult {
  return compileJit(vm, insns, options.entry ?? 0).run(options);
}

export class JitProgram {
  readonly vm: Vm;
  readonly insns: readonly Insn[];
  readonly entry: number;
  /** Slots in the program when compiled. */
  readonly length: number;
  /** Milliseconds spent compiling (eBPF -> wasm bytes -> WebAssembly.Module). */
  readonly compileMs: number;
  /**
   * Where they went (0 for a module from the cache): decoding and wasm code generation, then
   * `new WebAssembly.Module` (V8 validates every function; on Node it compiles a module of
   * EAGER_MIN_BYTES or more there too, else each function lazily, on its first call:
   * wasm_compile.ts). prepare() adds the rest of what a first run would pay: instantiation (import
   * object, frames) and the first calls (V8's baseline compiler, Liftoff, on lazy functions).
   */
  readonly codegenMs: number;
  readonly moduleMs: number;
  /** Set by prepare() (0 before, or when the instance existed). */
  instantiateMs = 0;
  firstCallMs = 0;
  /** Size of the wasm module in bytes. */
  readonly wasmSize: number;
  /** eBPF instructions compiled (reachable slots, counted once per function they appear in). */
  readonly compiledInsns: number;
  /** The program writes no memory (compile.ts): its runs need not zero clean frames. */
  private readonly pure: boolean;
  /** Whether the module came from the compile cache (same program compiled before, any VM). */
  readonly cached: boolean;
  /** Functions in the module (the entry and every local-call target). */
  readonly functions: number;
  /** prepare() has helper, fast-call or ftop functions to compile (CompiledModule.warmHosts). */
  private readonly warmHosts: boolean;
  /** bpf_map_lookup_elem calls inlined (ARRAY maps and IPv4 LPM tries known at the call site). */
  readonly inlinedLookups: number;
  /** Compiled in the verified tier (markVerified()): no region checks where proved, no budget. */
  readonly verified: boolean;
  private readonly percpu: boolean;
  private readonly st: VmJitState;
  private readonly prog: DecodedProgram;
  private readonly module: WasmModule;
  private readonly segStart: Int32Array;
  private readonly segCount: Int32Array;
  private readonly instances: (Instance | undefined)[] = [];
  /** The instance of the last run, and whether it ended by LD_ABS/LD_IND out of bounds. */
  private lastInst: Instance | undefined;
  private finished = false;

  constructor(vm: Vm, st: VmJitState, insns: readonly Insn[], entry: number) {
    const t0 = now();
    this.vm = vm;
    this.st = st;
    this.insns = insns;
    this.entry = entry;
    this.length = insns.length;
    this.prog = decodeForInterpreter(insns);
    if (!Number.isInteger(entry) || entry < 0 || entry >= this.prog.length) fail('EINVAL', `interpret: entry ${entry} is outside the program`);
    const space = vm.space;
    const shared = isShared(space.memory.buffer);
    const maxPages = Math.ceil(space.maxBytes / 65536);
    const h = helperOptionsFor(vm, this.prog, insns);
    const key = programKey(this.prog.code, entry, shared, maxPages, h.key);
    let m = cachedModule(key, this.prog.code, h.options.verified);
    this.verified = h.options.verified !== undefined;
    this.cached = m !== undefined;
    this.inlinedLookups = (h.options.arrayLookups?.size ?? 0) + (h.options.lpmLookups?.size ?? 0);
    let codegenMs = 0;
    let moduleMs = 0;
    if (m === undefined) {
      const compiled = compileModule(this.prog, entry, { shared, maxPages, parallel: eagerCompilation() }, MAY_GOTO_BUDGET, h.options);
      const t1 = now();
      codegenMs = t1 - t0;
      let module: WasmModule;
      try {
        module = compileWasmModule(WA.Module, compiled.bytes);
      } catch (err) {
        throw new BpfError('EFAULT', `jit: the generated module is invalid: ${(err as Error).message}`);
      }
      moduleMs = now() - t1;
      m = cachedModuleOf(module, compiled, this.prog.code, h.options);
    }
    this.percpu = m.percpu;
    cacheModule(key, m);
    this.module = m.module;
    this.pure = m.pure;
    this.segStart = m.segStart;
    this.segCount = m.segCount;
    this.functions = m.functions;
    this.warmHosts = m.warmHosts;
    this.compiledInsns = m.insnCount;
    this.wasmSize = m.wasmSize;
    this.compileMs = now() - t0;
    this.codegenMs = codegenMs;
    this.moduleMs = moduleMs;
  }

  /** Run from the compiled entry (options.entry, if given, selects another compiled program). */
  run(options: RunOptions = {}): RunResult {
    if (options.entry !== undefined && options.entry !== this.entry) {
      return compileJit(this.vm, this.insns, options.entry).run(options);
    }
    const a = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    const args = options.args;
    if (args !== undefined) {
      for (let r = 0; r < 5 && r < args.length; r++) {
        const v = args[r];
        const n = Number(v);
        if (n >= 0 && n <= Number.MAX_SAFE_INTEGER) {
          a[2 * r] = n % TWO32;
          a[2 * r + 1] = Math.floor(n / TWO32);
        } else {
          const u = BigInt.asUintN(64, v);
          a[2 * r] = Number(u & 0xffffffffn);
          a[2 * r + 1] = Number(u >> 32n);
        }
      }
    }
    let pAddr = 0;
    let pLen = -1;
    if (options.packet !== undefined) {
      const { addr, len } = options.packet;
      const why = len > 0 ? this.vm.space.accessError(addr, len, false) : undefined;
      if (why !== undefined || !Number.isInteger(len) || len < 0) fail('EFAULT', `interpret: invalid packet: ${why ?? `length ${len}`}`);
      pAddr = addr;
      pLen = len;
    }
    const budget = this.budgetOf(options.budget);
    const lo = this.exec(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], budget, pAddr, pLen);
    const g = this.lastInst!.g;
    const hi = this.finished ? 0 : g.r0hi.value;
    const r0 = hi === 0 ? BigInt(lo >>> 0) : (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
    return { r0, insnCount: budget - g.left.value };
  }

  /**
   * The hot path: r1 = `r1` (a non-negative integer below 2^32, e.g. a context address), no
   * packet; returns r0's low 32 bits, unsigned. No BigInt, no allocation.
   */
  runCtx(r1: number, budget?: number): number {
    return this.exec(r1, 0, 0, 0, 0, 0, 0, 0, 0, 0, this.budgetOf(budget), 0, -1) >>> 0;
  }

  /**
   * runCtx() (runCtxPacket() with a packet) `n` times (at least once) in one call into the
   * module, as bpf_test_run()'s repeat loop runs in the kernel; the last run's r0 (low 32 bits,
   * unsigned). Programs that are not batchable loop here instead.
   */
  runRepeat(r1: number, n: number, budget?: number, packet?: { addr: number; len: number }): number {
    const count = Math.max(1, Math.floor(n));
    let pAddr = 0;
    let pLen = -1;
    if (packet !== undefined) {
      const why = packet.len > 0 ? this.vm.space.accessError(packet.addr, packet.len, false) : undefined;
      if (why !== undefined || !Number.isInteger(packet.len) || packet.len < 0) fail('EFAULT', `interpret: invalid packet: ${why ?? `length ${packet.len}`}`);
      pAddr = packet.addr;
      pLen = packet.len;
    }
    if (!this.batchable || count > 0x7fffffff) {
      let r = 0;
      for (let i = 0; i < count; i++) r = packet ? this.runCtxPacket(r1, pAddr, pLen, budget) : this.runCtx(r1, budget);
      return r;
    }
    return this.inModule(budget, (inst, b) => inst.enter(MODE_REPEAT, count, r1, b, pAddr, pLen, 0, 0, 0, 0, 0, 0, 0, 0) >>> 0);
  }

  /** One call into the module for many runs (repeat, batch): the instance of this nesting level, set up once. */
  private inModule<T>(budget: number | undefined, body: (inst: Instance, budget: number) => T): T {
    const st = this.st;
    const level = st.depth;
    const b = this.budgetOf(budget);
    const inst = this.enter(level, b);
    const outer = running.inst;
    running.inst = inst;
    st.depth = level + 1;
    inst.batching = true;
    try {
      return body(inst, b);
    } catch (err) {
      throw asBpfError(err);
    } finally {
      inst.batching = false;
      running.inst = outer;
      st.depth = level;
      this.lastInst = inst;
      this.finished = false;
    }
  }

  /**
   * runCtx() with LD_ABS/LD_IND reading the `pLen` bytes at `pAddr` (RunOptions.packet, checked
   * the same way); no BigInt.
   */
  runCtxPacket(r1: number, pAddr: number, pLen: number, budget?: number): number {
    const why = pLen > 0 ? this.vm.space.accessError(pAddr, pLen, false) : undefined;
    if (why !== undefined || !Number.isInteger(pLen) || pLen < 0) fail('EFAULT', `interpret: invalid packet: ${why ?? `length ${pLen}`}`);
    return this.exec(r1, 0, 0, 0, 0, 0, 0, 0, 0, 0, this.budgetOf(budget), pAddr, pLen) >>> 0;
  }

  /**
   * Whether runBatch() and runRepeat() can run this program: no tail calls (bpf_tail_call,
   * callx), which need the host between runs, and no LD_ABS/LD_IND in a program with local
   * calls (out of the packet in a subprogram, the host ends the run; the kernel refuses the mix).
   */
  get batchable(): boolean {
    const P = this.prog.code;
    let ldAbs = false;
    let calls = false;
    for (let s = 0; s < P.length >> 2; s++) {
      const o = P[s << 2] & 0xfff;
      if (o === 0x8d || (o === 0x85 && P[(s << 2) + 2] === BPF_FUNC_TAIL_CALL)) return false;
      if ((o & 7) === 0 && (o & 0xe0) !== 0 && o !== 0x18) ldAbs = true;
      if (o === OP_CALL_LOCAL) calls = true;
      if (o === 0x18) s++;
    }
    return !(ldAbs && calls);
  }

  /**
   * The batch API: `n` runs in one call into the module, over a table of BATCH_ENTRY_HEADER +
   * ctxSize bytes per run at `table` (all addresses in the VM memory, laid out by the caller):
   * u32 base and size of a writable region (a whole region: the data the run works on, e.g. its
   * packet's page; a dedicated access-cache entry, so the others keep context and map values),
   * then the context image, copied to `ctx` before the run (r1 = ctx). r0's low 32 bits go to the
   * Int32Array at `verdicts`. A fault ends the batch with the interpreter's error, prefixed by
   * the run's index. The program must be batchable; helpers it calls see no per-run host state
   * (the caller's to ensure).
   */
  runBatch(n: number, table: number, ctx: number, ctxSize: number, verdicts: number, budget?: number): void {
    if (!this.batchable) fail('EINVAL', 'jit: runBatch on a program with tail calls or LD_ABS/LD_IND');
    const space = this.vm.space;
    const stride = BATCH_ENTRY_HEADER + ctxSize;
    for (const [addr, size] of [[table, n * stride], [ctx, ctxSize], [verdicts, n * 4]]) {
      const why = size > 0 ? space.accessError(addr, size, false) : undefined;
      if (why !== undefined) fail('EFAULT', `jit: runBatch: ${why}`);
    }
    // the cache seeds must be exactly regions (the first writable): checks then stay exact
    const words = new Uint32Array(space.memory.buffer, table, (n * stride) >> 2);
    if ((table & 3) !== 0 || (stride & 3) !== 0) fail('EINVAL', 'jit: runBatch: table and context size must be 4-byte aligned');
    for (let i = 0; i < n; i++) {
      const w = (i * stride) >> 2;
      const r = space.regionAt(words[w]);
      if (r === undefined || r.addr !== words[w] || r.size !== words[w + 1] || r.size < 8 || !r.writable) {
        fail('EINVAL', `jit: runBatch: entry ${i}: 0x${words[w].toString(16)}+${words[w + 1]} is not a writable region`);
      }
    }
    this.inModule(budget, (inst, b) => {
      try {
        inst.enter(MODE_BATCH, n, table, ctx, ctxSize, verdicts, b, 0, 0, 0, 0, 0, 0, 0);
      } catch (err) {
        if (err instanceof BpfError) throw new BpfError(err.code, `run ${-1 - inst.g.pLen.value} of the batch: ${err.message}`);
        throw err;
      }
    });
  }

  /**
   * Instantiate for the current nesting level now (frames allocated) and have V8 compile every
   * function a run can reach (unless it compiled them eagerly, it compiles each on its first
   * call: wasm_compile.ts): the entry function and the program's entry by a run with a zero
   * budget, which stops before the first instruction, then the host functions and each
   * local-call target by MODE_WARM calls, which stop before theirs; so a first run compiles
   * nothing more and a timed run starts warm.
   */
  prepare(): this {
    const level = this.st.depth;
    if (level < MAX_NESTED_RUNS && this.instances[level] === undefined) {
      const t0 = now();
      const inst = this.instantiate(level);
      const t1 = now();
      const outer = running.inst;
      const outerWarming = running.warming;
      running.inst = inst;
      running.warming = true;
      inst.budget = 0;
      try {
        for (let k = -1; k <= this.functions; k++) {
          try {
            if (k < 0) inst.enter(MODE_RUN, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, -1);
            else if (k > 0 || this.warmHosts) inst.enter(MODE_WARM, k, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
          } catch (err) {
            if (err !== STOP) throw asBpfError(err);
          }
        }
      } finally {
        running.inst = outer;
        running.warming = outerWarming;
      }
      this.instantiateMs = t1 - t0;
      this.firstCallMs = now() - t1;
    }
    return this;
  }

  /** Instructions executed by the last run. */
  get lastInsnCount(): number {
    const inst = this.lastInst;
    return inst === undefined ? 0 : inst.budget - inst.g.left.value;
  }

  private budgetOf(budget: number | undefined): number {
    const b = budget ?? DEFAULT_BUDGET;
    if (!(b >= 0)) fail('EINVAL', `interpret: invalid instruction budget ${b}`);
    return Math.min(Math.floor(b), MAX_BUDGET);
  }

  private exec(
    l1: number, h1: number, l2: number, h2: number, l3: number, h3: number, l4: number, h4: number, l5: number, h5: number,
    budget: number, pAddr: number, pLen: number,
  ): number {
    const st = this.st;
    const level = st.depth;
    const inst = this.enter(level, budget);
    if (inst.pendingTail !== undefined) { // asked for by a helper that then failed
      inst.pendingTail = undefined;
      inst.g.tail.value = 0;
    }
    let cur = inst;
    let tailed = false;
    const outer = running.inst;
    running.inst = inst;
    st.depth = level + 1;
    try {
      let lo = inst.enter(MODE_RUN, l1, h1, l2, h2, l3, h3, l4, h4, l5, h5, budget, pAddr, pLen);
      while (cur.pendingTail !== undefined) {
        // bpf_tail_call: continue in the target with the same registers and frame, as the
        // interpreter does (the target's own module, instance of this level)
        const from = cur;
        const target = from.pendingTail!;
        from.pendingTail = undefined;
        from.g.tail.value = 0;
        tailed = true;
        if (tailR10(this.vm) !== from.frame0 + MAX_BPF_STACK) {
          fail('ENOTSUPP', `tail call with r10 changed is not supported by the JIT (insn #${from.tailPc})`);
        }
        const next = compileJit(this.vm, target).instanceAt(level, budget, from.tailCalls + 1);
        next.pendingTail = undefined;
        cur = next;
        running.inst = next;
        lo = next.enter(MODE_RESUME, from.g.left.value, pAddr, pLen, from.g.mayGoto.value, 0, 0, 0, 0, 0, 0, 0, 0, 0);
      }
      this.finished = false;
      return lo;
    } catch (err) {
      if (err !== FINISH) throw asBpfError(err);
      this.finished = true;
      return 0;
    } finally {
      if (tailed) clearTailRegs(this.vm);
      st.depth = level;
      running.inst = outer;
      this.lastInst = cur; // (after any nested run of this program)
    }
  }

  /** A run's entry at nesting level `level`: its instance, set up for the run, frames prepared. */
  private enter(level: number, budget: number): Instance {
    if (level >= MAX_NESTED_RUNS) fail('E2BIG', `interpret: more than ${MAX_NESTED_RUNS} nested runs on one VM`);
    const inst = this.instanceAt(level, budget, 0);
    this.prepareFrames(inst, level);
    return inst;
  }

  /** This program's instance at nesting level `level` (made on first use), with its region cache current, the run's budget, tail-call count and CPU. */
  private instanceAt(level: number, budget: number, tailCalls: number): Instance {
    const inst = this.instances[level] ?? this.instantiate(level);
    const space = this.vm.space;
    if (inst.gen !== space.generation) resetCache(inst, space.generation);
    inst.budget = budget;
    inst.tailCalls = tailCalls;
    if (this.percpu) inst.cpu.value = this.vm.helpers.currentCpu?.() ?? 0;
    return inst;
  }

  /** A program that writes no memory finds its frames zeroed (by the host, when dirtied). */
  private prepareFrames(inst: Instance, level: number): void {
    const st = this.st;
    if (!this.pure) st.dirty[level] = 1;
    else if (st.dirty[level] !== 0) {
      const u8 = new Uint8Array(this.vm.space.memory.buffer);
      for (const top of inst.tops) u8.fill(0, top - MAX_BPF_STACK, top);
      st.dirty[level] = 0;
    }
  }

  private instantiate(level: number): Instance {
    const vm = this.vm;
    const P = this.prog.code;
    const tops = levelFrames(vm, this.st, level);
    let inst: Instance | undefined;
    const ctx: HelperCallContext & { pc: number } = {
      vm, pc: 0, insns: this.insns,
      tailCall(target: readonly Insn[]): boolean {
        const i = inst!;
        // (the module checks for a scheduled tail call only after bpf_tail_call and callx)
        const at = ctx.pc << 2;
        if ((P[at] & 0xfff) !== 0x8d && P[at + 2] !== BPF_FUNC_TAIL_CALL) fail('ENOTSUPP', `tail call from helper ${P[at + 2]}, not bpf_tail_call: not supported by the JIT (insn #${ctx.pc})`);
        if (i.batching) fail('ENOTSUPP', `tail call inside a batch run (insn #${ctx.pc})`);
        if (i.tailCalls >= MAX_TAIL_CALL_CNT) return false;
        i.pendingTail = target;
        i.tailPc = ctx.pc;
        i.g.tail.value = 1;
        return true;
      },
    };
    const env: Record<string, unknown> = { memory: vm.space.memory, hosts: hostTable() };
    for (let f = 0; f < MAX_CALL_FRAMES; f++) env[`f${f}`] = tops[f];
    const ex = new WA.Instance(this.module, { env }).exports;
    const g = {} as Globals;
    for (const name of GLOBAL_NAMES) g[name] = ex[name] as WasmGlobal;
    inst = {
      enter: ex.run as EntryFn, vm, st: this.st, code: P, traps: this.prog.traps, segStart: this.segStart, segCount: this.segCount, ctx,
      fr: ex.fr as WasmGlobal64, cpu: ex.cpu as WasmGlobal, pb: ex.pb as WasmGlobal, pl: ex.pl as WasmGlobal, g, pendingTail: undefined,
      tailPc: 0, tailCalls: 0, gen: -1, batching: false, budget: 0, frame0: tops[0] - MAX_BPF_STACK, tops,
    };
    this.instances[level] = inst;
    return inst;
  }
}

/** r10 as a tail call left it (at TAIL_REGS_AT). */
function tailR10(vm: Vm): number {
  const v = new DataView(vm.space.memory.buffer);
  const at = TAIL_REGS_AT + 8 * 10;
  return v.getUint32(at + 4, true) * TWO32 + v.getUint32(at, true);
}

/** Zero the registers tail calls left (after the run: TAIL_REGS_AT is memory the interpreter leaves 0). */
function clearTailRegs(vm: Vm): void {
  new Uint8Array(vm.space.memory.buffer, TAIL_REGS_AT, 8 * TAIL_REGS).fill(0);
}

/** Forget cached regions (they may have been freed): every entry becomes the main frame. */
function resetCache(inst: Instance, gen: number): void {
  const g = inst.g;
  g.rb.value = g.qb.value = g.wb.value = inst.pb.value = inst.frame0;
  inst.pl.value = MAX_BPF_STACK - 8;
  g.rl.value = g.ql.value = g.wl.value = MAX_BPF_STACK - 8;
  inst.gen = gen;
}

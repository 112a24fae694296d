/*
 * eBPF -> WebAssembly: one module per program (and entry slot), compiled from the interpreter's
 * predecoded form (decode.ts), so both engines see the same operations, jump targets and traps.
 *
 * Functions. Every local-call target (and the entry) becomes a wasm function of type
 *   (r0..r9: i64, depth: i32, left: i32, resume: i32) -> (r0..r5: i64, left: i32)
 * with r10 and temporaries as locals: the callee starts with the caller's r0..r9 (as in the
 * interpreter, where registers are global and a call only saves r6-r9 and r10), gets a fresh
 * zeroed 512-byte frame (frame `depth`, top from the imported globals f0..f7; kept as it is when
 * `resume`, the entry of a tail call; zeroed by the host beforehand when the program writes no
 * memory at all), and returns r0..r5; the caller keeps its own r6..r10 (the entry as the runs
 * call it returns only r0 and left: a cheaper return on every run; so do all functions in the
 * verified tier, where r1-r5 are unreadable after a call).
 * `left` is the instruction budget still available.
 *
 * Control flow. A function's reachable slots are split into basic blocks, laid out in slot order
 * inside `loop $L { block $Bn-1 { ... block $B0 { br_table } code0 } code1 ... } coden-1 }`:
 * forward edges are plain `br`s to the end of the target's block, falling through needs nothing,
 * a block that jumps to itself is wrapped in its own `loop`, and other backward edges store the
 * target in $pc and re-enter the dispatch `br_table` (irreducible flow works the same way).
 *
 * Checks (programs may be unverified). Every load/store/atomic computes the 64-bit address and
 * takes a fast path when it lies in the current frame or in one of the regions last seen (two
 * for loads, one for stores; mutable globals filled by the host); otherwise it calls the `host`
 * import (kind ACCESS_*), which checks against the address space's regions exactly as the
 * interpreter does and either throws its error or refills the cache. In a function that never writes r10, an
 * access at r10 + off inside the frame is in bounds by construction and goes unchecked. The budget
 * is charged per segment: a run of instructions ending at the first one that can fault, leave or
 * write memory (checked loads, stores other than into the frame, atomics, calls, LD_ABS, traps);
 * when a charge overdraws, the host names the exact instruction, so budget errors, faults, memory
 * contents and instruction counts are those of the interpreter. Overdraft checks (`br_if`s, the
 * costliest thing here for V8's Liftoff: each merges every local) are saved where that stays
 * exact: stores into the frame are guarded instead (guardedFrame()), and a block falling
 * through into the next leaves its check to that block (segment()).
 *
 * The verified tier (JitHelperOptions.verified, for programs the verifier accepted): accesses it
 * proved in bounds (VerifiedTier.unchecked) are plain wasm loads and stores, inlined lookups take
 * the key pointer as proved, no budget is charged (one check at entry keeps a zero budget's stop
 * before the first instruction), and a call zeroes only the frame bytes the program can reach.
 */
import { BpfError } from '../../errors.js';
import { MAX_BPF_STACK, MAX_CALL_FRAMES } from '../../isa/opcodes.js';
import { type DecodedProgram, OP_CALL_LOCAL, OP_TRAP } from '../decode.js';
import type { ArrayLayout } from '../helpers.js';
import { ByteWriter, F64, I32, I64, ModuleBuilder, Op, type ValType } from './wasm_writer.js';

// Locals of a program function: parameters r0..r9, depth, left, resume; then the rest.
const DEPTH = 10;
const LEFT = 11;
const RESUME = 12; // entered by a tail call: the frame is kept, not zeroed
const R10 = 13;
const PC = 14;
const FB = 15; // frame base (frame top - 512)
const T1 = 16; // i64 temporary
const A32 = 17; // i32 temporaries
const B32 = 18;
const ADDR = 19; // checked address
const A64 = 20; // 64-bit address before checking
/** Bytes of wasm emitted for one instruction at most, with room to spare (the largest, a helper call with its inlined lookup and tail call, is under 500). */
const ROOM = 2048;
/** The same for a register-only (ALU, ld_imm64) instruction, as unrolled loops repeat them. */
const MAX_REGISTER_INSN_BYTES = 96;
/** V8's limit on br_table entries. */
const MAX_DISPATCH = 65520;
/** V8's limit on the size of one function body. */
const MAX_FUNCTION_BYTES = 7654321;
const FUNC_LOCALS: ValType[] = [I64, I32, I32, I64, I32, I32, I32, I64]; // R10, PC, FB, T1, A32, B32, ADDR, A64

/**
 * The host functions (indices in the module): small module functions that forward to the JS
 * functions through the imported table `env.hosts` (call_indirect, slots HOST_SLOT_*), filled once
 * per process by hostShimModule()'s instance. A module importing JS functions pays V8 about
 * 0.1 ms more to compile and 0.05 ms per signature to instantiate (import wrappers, per module);
 * a table import costs neither. They come first (host 0, helper, fast), ftop right after them at
 * index `count`; helper and fast only with programs that call helpers.
 */
interface Imports {
  /** host(kind, a, b, c): a memory check's slow path (kind ACCESS_*: pc, address, size), a failure (HOST_FAIL + FAIL_*: a, -, c), HOST_FINISH. */
  readonly host: number;
  /** helper(id or callx register, pc, r1..r5) -> r0; -1 when not imported. A negative pc: prepare()'s call, r0 = 0. */
  readonly helper: number;
  /** fast(id, pc, r1..r5 as f64) -> r0 as f64 (NaN: no number form); -1 when not imported. A negative pc: prepare()'s call, NaN. */
  readonly fast: number;
  readonly count: number;
  /** The module function wrapping `fast` (fastCallFunction()), when imported. */
  fastCall: number;
}

/**
 * fastCall(id, pc, r1..r5) -> (r0, handled): a helper's number form through the `fast` import
 * when r1..r5 are all below 2^53 (exact as doubles). NaN back: not handled (the call site makes
 * the BigInt call); +Inf: r0 is in global `fr`; else r0 = the (integer) double.
 */
function fastCallFunction(mb: ModuleBuilder, imports: Imports): void {
  const f = mb.declareFunc(mb.type([I32, I32, I64, I64, I64, I64, I64], [I64, I32]));
  imports.fastCall = f;
  const FT_ = 7;
  const b = new ByteWriter();
  b.byte(Op.local_get).u32(2);
  for (let r = 3; r <= 6; r++) b.byte(Op.local_get).u32(r).byte(Op.i64_or);
  b.byte(Op.i64_const).s32(53).byte(Op.i64_shr_u).byte(Op.i64_eqz);
  b.byte(Op.if).byte(0x40);
  b.byte(Op.local_get).u32(0).byte(Op.local_get).u32(1);
  for (let r = 2; r <= 6; r++) b.byte(Op.local_get).u32(r).byte(Op.f64_convert_i64_u);
  b.byte(Op.call).u32(imports.fast).byte(Op.local_tee).u32(FT_);
  b.byte(Op.local_get).u32(FT_).byte(Op.f64_eq); // not NaN
  b.byte(Op.if).byte(0x40);
  b.byte(Op.local_get).u32(FT_).byte(Op.f64_const).f64(Infinity).byte(Op.f64_eq);
  b.byte(Op.if).byte(I64).byte(Op.global_get).u32(G_FR).byte(Op.else).byte(Op.local_get).u32(FT_).byte(Op.i64_trunc_f64_s).byte(Op.end);
  b.byte(Op.i32_const).s32(1).byte(Op.return);
  b.byte(Op.end);
  b.byte(Op.end);
  b.byte(Op.i64_const).s32(0).byte(Op.i32_const).s32(0);
  mb.setBody(f, [F64], b);
}
/**
 * `host` kinds after the access kinds: HOST_FAIL + FAIL_*, HOST_FINISH, and prepare()'s: HOST_STOP
 * (throw: ftop() called with depth MAX_CALL_FRAMES, a function compiled but not run) and
 * HOST_WARM (return).
 */
export const HOST_FAIL = 8;
export const HOST_FINISH = 16;
export const HOST_STOP = 17;
export const HOST_WARM = 18;

/** Slots of the `env.hosts` table. */
export const HOST_SLOT_HOST = 0;
export const HOST_SLOT_HELPER = 1;
export const HOST_SLOT_FAST = 2;
const HOST_SLOTS = 3;

/** Signatures of the host functions, by slot. */
const HOST_TYPES: readonly { params: ValType[]; results: ValType[] }[] = [
  { params: [I32, I32, I64, I32], results: [] },
  { params: [I64, I32, I64, I64, I64, I64, I64], results: [I64] },
  { params: [I32, I32, F64, F64, F64, F64, F64], results: [F64] },
];

/**
 * The shim: a module importing the JS host functions `env.host`, `env.helper` and `env.fast` and
 * exporting them as wasm functions (`host`, `helper`, `fast`), which a WebAssembly.Table can hold.
 */
export function hostShimModule(): Uint8Array {
  const mb = new ModuleBuilder();
  const names = ['host', 'helper', 'fast'];
  for (let slot = 0; slot < HOST_SLOTS; slot++) {
    const t = HOST_TYPES[slot];
    mb.exportFunc(names[slot], mb.importFunc('env', names[slot], mb.type(t.params, t.results)));
  }
  return mb.finish();
}

/** A module function forwarding to the table's host function at `slot`. */
function hostStub(mb: ModuleBuilder, slot: number): number {
  const t = HOST_TYPES[slot];
  const type = mb.type(t.params, t.results);
  const f = mb.declareFunc(type);
  const b = new ByteWriter(32);
  for (let i = 0; i < t.params.length; i++) b.byte(Op.local_get).u32(i);
  b.byte(Op.i32_const).s32(slot).byte(CALL_INDIRECT).u32(type).byte(0);
  mb.setBody(f, [], b);
  return f;
}
const CALL_INDIRECT = 0x11;

/** Modes of the exported entry function `run` (one export: each costs V8 time per module). */
export const MODE_RUN = 0;
export const MODE_RESUME = 1;
export const MODE_BATCH = 2;
export const MODE_REPEAT = 3;
export const MODE_WARM = 4;

/** Access kinds for the `host` import (as the interpreter's). */
export const ACCESS_LOAD = 0;
export const ACCESS_STORE = 1;
export const ACCESS_ATOMIC = 2;

/** Failures reported through the `host` import (as HOST_FAIL + kind). */
export const FAIL_TRAP = 0;
export const FAIL_BUDGET = 1;
/** (2, frames exhausted, is reported as FAIL_BUDGET with a negative segment: one out-of-line handler.) */
export const FAIL_NO_PACKET = 3;
export const FAIL_TAIL_SUB = 4;

/** Global indices (after the 8 imported frame tops). */
export const G = {
  rb: 8, rl: 9, qb: 10, ql: 11, wb: 12, wl: 13, r0hi: 14, left: 15, mayGoto: 16, pAddr: 17, pLen: 18, tail: 19,
} as const;
export const GLOBAL_NAMES = Object.keys(G) as (keyof typeof G)[];
/** i64 globals x0..x10: the registers handed over by a tail call. */
const G_X = 20;
export const TAIL_REGS = 11;
/** i64 global `fr`: a fast helper's result that does not fit a double (the host returns +Inf). */
const G_FR = 31;
/** i32 global `cpu`: the current CPU, for inlined PERCPU_ARRAY lookups. */
const G_CPU = 32;
/**
 * i32 globals `pb`, `pl`: a third cached region for loads and stores, checked after the others
 * and never rotated by the `host` import: what a batch run sets to its packet's region, so the
 * other entries keep the context and map values (the frame when not batching).
 */
const G_PB = 33;
const G_PL = 34;
/** BPF_FUNC_map_lookup_elem. */
const MAP_LOOKUP = 1;
/** BPF_FUNC_tail_call: the only helper whose calls check for a scheduled tail call. */
export const BPF_FUNC_TAIL_CALL = 12;

/** What the JIT may take from the VM's helper registry (both part of the module cache key). */
export interface JitHelperOptions {
  /** Helper ids whose calls try the number form first (import `fast`; NaN = BigInt form). */
  readonly fastHelpers?: ReadonlySet<number>;
  /** bpf_map_lookup_elem call sites (slot) on a known ARRAY/PERCPU_ARRAY map: inlined. */
  readonly arrayLookups?: ReadonlyMap<number, ArrayLayout>;
  /** bpf_map_lookup_elem call sites (slot) on a known IPv4 LPM trie: its stride table's address. */
  readonly lpmLookups?: ReadonlyMap<number, number>;
  /** The program passed the verifier: compile the verified tier (see VerifiedTier). */
  readonly verified?: VerifiedTier;
}

/**
 * What the verifier proved, in the JIT's terms (kernel/ derives it from the verifier's verdict;
 * never from a caller's say-so). The verified tier compiles memory accesses at `unchecked` slots
 * (every path reached them through the stack, the context, a packet pointer proved in range or a
 * map value at a proved offset) with no region check, charges no instruction budget (the
 * verifier bounded every loop; may_goto keeps its own count) and zeroes only the `stackDepth`
 * bytes of a frame the program can reach, as the kernel's JIT runs what do_check() accepted.
 */
export interface VerifiedTier {
  /** 1 at slots whose memory access needs no check. */
  readonly unchecked: Uint8Array;
  /** Bytes at the top of each frame the program may access (the deepest subprogram's). */
  readonly stackDepth: number;
}

/**
 * bpf_map_lookup_elem call sites where r1 is a constant (an ld_imm64 into r1 earlier in the same
 * straight-line block, r1 not written since): slot -> that constant, the map handle's address
 * when the loader resolved a map reference there. A leader is any jump target or the slot after
 * a jump or exit, over the whole program (a superset of each function's leaders: safe).
 */
export function constantR1AtLookups(prog: DecodedProgram): Map<number, number> {
  const P = prog.code;
  const nslots = P.length >> 2;
  const op = (s: number): number => P[s << 2] & 0xfff;
  const leader = new Uint8Array(nslots + 1);
  for (let s = 0; s < nslots; s++) {
    const o = op(s);
    if (o === 0x18) s++; // (its second slot decodes as a trap)
    else if (isJump(o)) {
      const t = P[(s << 2) + 1];
      if (t >= 0 && t < nslots) leader[t] = 1;
      leader[s + 1] = 1;
    } else if (o === 0x95 || o === OP_TRAP) leader[s + 1] = 1;
    else if (o === OP_CALL_LOCAL) { const t = P[(s << 2) + 1]; if (t >= 0 && t < nslots) leader[t] = 1; }
  }
  const out = new Map<number, number>();
  let known: number | undefined;
  for (let s = 0; s < nslots; s++) {
    if (leader[s]) known = undefined;
    const word = P[s << 2];
    const o = word & 0xfff;
    const d = (word >> 12) & 15;
    const src = (word >> 16) & 15;
    const c = o & 7;
    if (o === 0x18) {
      // (second slot carries nothing; a constant above 2^32 is no VM address)
      if (d === 1) known = P[(s << 2) + 3] === 0 ? P[(s << 2) + 2] >>> 0 : undefined;
      s++;
      continue;
    }
    if (o === 0x85 && P[(s << 2) + 2] === MAP_LOOKUP && known !== undefined) out.set(s, known);
    if (o === 0x85 || o === 0x8d || o === OP_CALL_LOCAL) known = undefined; // r1..r5 clobbered
    else if ((c === 4 || c === 7 || c === 1 || c === 0) && d === 1) known = undefined;
    else if ((o === 0xc3 || o === 0xdb) && src === 1) known = undefined; // atomic fetch into src
  }
  return out;
}

export interface CompiledModule {
  /** The module (a view of a writer kept across compiles: valid until the next compileModule()). */
  readonly bytes: Uint8Array;
  /** First slot of each budget segment, by segment id. */
  readonly segStart: Int32Array;
  /** Instructions each segment charges (FAIL_BUDGET reports the budget left after the charge). */
  readonly segCount: Int32Array;
  /** Number of functions (entry + local-call targets). */
  readonly functions: number;
  /** eBPF instructions (slots reached) compiled. */
  readonly insnCount: number;
  /**
   * No slot of the program writes memory (no store, atomic or helper call): its frames are then
   * left as they are at entry, and the host zeroes them only when another program dirtied them.
   */
  readonly pure: boolean;
}

interface Block {
  start: number;
  /** Slots of the block's instructions, in order (a view of one array for all blocks). */
  slots: Int32Array;
  /** Index in the function's block order. */
  index: number;
  selfLoop: boolean;
}

export function compileModule(
  prog: DecodedProgram, entry: number, memory: { shared: boolean; maxPages: number }, mayGotoBudget: number,
  helperOptions: JitHelperOptions = {},
): CompiledModule {
  const P = prog.code;
  const nslots = P.length >> 2;
  const mb = new ModuleBuilder();
  const tFunc = mb.type([I64, I64, I64, I64, I64, I64, I64, I64, I64, I64, I32, I32, I32], [I64, I64, I64, I64, I64, I64, I32]);
  // the entry as runs call it: only r0 and left come back (fewer results, a cheaper return)
  const tMain = mb.type([I64, I64, I64, I64, I64, I64, I64, I64, I64, I64, I32, I32, I32], [I64, I32]);
  const tFtop = mb.type([I32], [I32]);
  const tRun = mb.type([I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32], [I32]);
  // One pass over the opcodes: the imports the module needs (helper calls, number forms), whether
  // it writes memory (st, stx, atomics, helper calls: else it is `pure`) and whether it has may_goto
  // (batch and repeat runs, which allow no tail calls, reset the may_goto count only then).
  let calls = false;
  let fastCalls = false;
  let stores = false;
  let hasMayGoto = false;
  for (let t = 0; t < nslots; t++) {
    const o = P[t << 2] & 0xfff;
    const c = o & 7;
    if (o === 0x85 || o === 0x8d) {
      calls = true;
      if (o === 0x85 && helperOptions.fastHelpers?.has(P[(t << 2) + 2]) === true) fastCalls = true;
    } else if (c === 2 || c === 3) stores = true;
    else if (o === 0xe5) hasMayGoto = true;
  }
  const pure = !calls && !stores;
  mb.importTable('env', 'hosts', HOST_SLOTS);
  mb.importMemory('env', 'memory', memory.shared ? { min: 0, max: memory.maxPages, shared: true } : { min: 0, shared: false });
  for (let f = 0; f < MAX_CALL_FRAMES; f++) mb.importGlobal('env', `f${f}`);
  for (const name of GLOBAL_NAMES) {
    const idx = mb.global(I32);
    if (idx !== G[name]) throw new Error('jit: global layout');
    mb.exportGlobal(name, idx);
  }
  for (let r = 0; r < TAIL_REGS; r++) mb.exportGlobal(`x${r}`, mb.global(I64));
  if (mb.global(I64) !== G_FR || mb.global(I32) !== G_CPU) throw new Error('jit: global layout');
  mb.exportGlobal('fr', G_FR);
  mb.exportGlobal('cpu', G_CPU);
  if (mb.global(I32) !== G_PB || mb.global(I32) !== G_PL) throw new Error('jit: global layout');
  mb.exportGlobal('pb', G_PB);
  mb.exportGlobal('pl', G_PL);
  const host = hostStub(mb, HOST_SLOT_HOST);
  const helper = calls ? hostStub(mb, HOST_SLOT_HELPER) : -1;
  const fast = fastCalls ? hostStub(mb, HOST_SLOT_FAST) : -1;
  const imports: Imports = { host, helper, fast, count: 1 + (calls ? 1 : 0) + (fastCalls ? 1 : 0), fastCall: -1 };
  const fFtop = mb.declareFunc(tFtop);
  if (fFtop !== imports.count) throw new Error('jit: function layout');
  const fRun = mb.declareFunc(tRun);
  mb.exportFunc('run', fRun);
  if (fastCalls) fastCallFunction(mb, imports);

  // Functions: discovered from the entry through local calls.
  // (the entry compiles once more as a local-call target if some call goes there)
  const funcIndex = new Map<number, number>();
  const mainFunc = mb.declareFunc(tMain);
  const queue: { start: number; func: number; main: boolean }[] = [{ start: entry, func: mainFunc, main: true }];
  const funcOf = (slot: number): number => {
    let f = funcIndex.get(slot);
    if (f === undefined) {
      // (verified tier: a subprogram returns only r0, as the entry: the verifier leaves r1-r5
      // unreadable after a call, as check_func_call() marks the caller-saved registers)
      f = mb.declareFunc(helperOptions.verified === undefined ? tFunc : tMain);
      funcIndex.set(slot, f);
      queue.push({ start: slot, func: f, main: false });
    }
    return f;
  };
  const segStart: number[] = [];
  const segCount: number[] = [];
  let insnCount = 0;
  for (let q = 0; q < queue.length; q++) {
    const { start, func, main } = queue[q];
    const body = bodyWriter(q, main ? 64 + nslots * 24 : 4096);
    insnCount += compileFunction(P, nslots, start, main, body, funcOf, segStart, segCount, memory.shared, pure, helperOptions, imports);
    if (body.length > MAX_FUNCTION_BYTES) {
      bodyWriters[q] = new ByteWriter(4096); // (not kept: too big)
      throw new BpfError('E2BIG', `jit: the function at insn #${start} needs ${body.length} bytes of wasm, more than the ${MAX_FUNCTION_BYTES} V8 accepts`);
    }
    mb.setBody(func, FUNC_LOCALS, body);
  }

  // ftop(depth): the frame top of `depth`, from the imported globals; depth MAX_CALL_FRAMES
  // (prepare()'s call of a function, never a run's) stops at the host, before the function's
  // first instruction.
  {
    const b = new ByteWriter(128);
    for (let f = 0; f < MAX_CALL_FRAMES; f++) {
      b.byte(Op.local_get).u32(0).byte(Op.i32_const).s32(f).byte(Op.i32_eq);
      b.byte(Op.if).byte(0x40).byte(Op.global_get).u32(f).byte(Op.return).byte(Op.end);
    }
    b.byte(Op.i32_const).s32(HOST_STOP).byte(Op.i32_const).s32(0).byte(Op.i64_const).s32(0).byte(Op.i32_const).s32(0);
    b.byte(Op.call).u32(imports.host).byte(Op.unreachable);
    mb.setBody(fFtop, [], b);
  }
  mb.setBody(fRun, RUN_LOCALS, entryBody(mainFunc, mayGotoBudget, hasMayGoto, imports, fFtop, [...funcIndex.values()]));
  const bytes = mb.finish(moduleWriter);
  for (let q = 0; q < queue.length; q++) if (bodyWriters[q].capacity > MAX_KEPT_WRITER) bodyWriters[q] = new ByteWriter(4096);
  if (moduleWriter.capacity > MAX_KEPT_WRITER) { // (the bytes returned stay valid: a new writer takes its place)
    moduleWriter = new ByteWriter(1 << 16);
  }
  return { bytes, segStart: Int32Array.from(segStart), segCount: Int32Array.from(segCount), functions: funcIndex.size, insnCount, pure };
}

/**
 * Writers kept across compiles (module bytes, function bodies): they grow to the largest program
 * seen instead of being allocated, grown and freed per module. Fresh pages cost a page fault each
 * (tens of microseconds in a VM), a large part of a compile's time when it allocated megabytes.
 * compileModule() is not reentrant, and the module bytes it returns are valid until its next call.
 */
let moduleWriter = new ByteWriter(1 << 16);
const bodyWriters: ByteWriter[] = [];
/** A writer kept above this size is dropped after use (one huge program should not pin it). */
const MAX_KEPT_WRITER = 4 << 20;

/** The writer for the q-th function compiled (compileModule() replaces those grown beyond MAX_KEPT_WRITER). */
function bodyWriter(q: number, capacity: number): ByteWriter {
  const w = bodyWriters[q] ?? (bodyWriters[q] = new ByteWriter(capacity));
  return w.reset();
}

// Locals of the entry function `run`: its parameters (mode, a0..a12), then these.
const RUN_I = 14; // i32: loop counter
const RUN_R0 = 15; // i64: the main function's r0
const RUN_LO = 16; // i32: r0's low word
const RUN_E = 17; // i32: a batch table entry
const RUN_LOCALS: ValType[] = [I32, I64, I32, I32];

/**
 * The entry function: run(mode, a0..a12) -> r0's low word (or runs done), one exported function
 * (fewer exports and functions for V8 to set up per module; prepare()'s first call compiles every
 * way in at once). Modes:
 *   MODE_RUN     (r1 lo, r1 hi, ..., r5 lo, r5 hi, budget, packet addr, packet len)
 *   MODE_RESUME  (left, packet addr, packet len, may_goto budget): enter after a tail call,
 *                registers from x0..x9, the frame kept
 *   MODE_BATCH   (n, table, ctx, ctx size, verdicts, budget) -> runs done: for each i < n, entry i
 *                of the table (8 + ctx size bytes: a region [base, size] for the pb/pl cache entry,
 *                then the context image) is applied, the image copied to ctx, a run made with
 *                r1 = ctx (no packet for LD_ABS), r0's low word stored to verdicts[i]. Global
 *                `left` and r0hi as after a run; pLen's global names the run in progress. (The
 *                host checks the regions.)
 *   MODE_REPEAT  (n, r1, budget, packet addr, packet len) -> r0's low word of the last run: n >= 1
 *                runs with r1 = the context, nothing in between (bpf_test_run()'s loop)
 *   MODE_WARM    (k): prepare()'s. k = 0 calls the host functions (harmless arguments) and ftop;
 *                k >= 1 calls the k-th local-call target with depth MAX_CALL_FRAMES, which stops in
 *                ftop(): V8 compiles each function at its first call, so after these every
 *                function a run can reach is compiled.
 */
function entryBody(
  mainFunc: number, mayGotoBudget: number, hasMayGoto: boolean, imports: Imports, fFtop: number, subprograms: number[],
): ByteWriter {
  const b = new ByteWriter(512 + subprograms.length * 40);
  const A = 1; // a0
  const callMain = (): void => { b.byte(Op.call).u32(mainFunc); };
  const i64zeros = (n: number): void => { for (let i = 0; i < n; i++) b.byte(Op.i64_const).s32(0); };
  // block $warm { block $repeat { block $batch { block $resume { block $run { br_table } run } resume } batch } repeat } warm
  for (let i = 0; i < 5; i++) b.byte(Op.block).byte(0x40);
  b.byte(Op.local_get).u32(0).byte(Op.br_table).u32(4).u32(0).u32(1).u32(2).u32(3).u32(4);
  b.byte(Op.end);
  // MODE_RUN
  b.byte(Op.local_get).u32(A + 11).byte(Op.global_set).u32(G.pAddr);
  b.byte(Op.local_get).u32(A + 12).byte(Op.global_set).u32(G.pLen);
  b.byte(Op.i32_const).s32(mayGotoBudget).byte(Op.global_set).u32(G.mayGoto);
  b.byte(Op.i64_const).s32(0);
  for (let r = 0; r < 5; r++) {
    b.byte(Op.local_get).u32(A + 2 * r).byte(Op.i64_extend_i32_u);
    b.byte(Op.local_get).u32(A + 2 * r + 1).byte(Op.i64_extend_i32_u).byte(Op.i64_const).s32(32).byte(Op.i64_shl).byte(Op.i64_or);
  }
  i64zeros(4);
  b.byte(Op.i32_const).s32(0).byte(Op.local_get).u32(A + 10).byte(Op.i32_const).s32(0);
  callMain();
  epilogue(b, RUN_R0);
  b.byte(Op.return).byte(Op.end);
  // MODE_RESUME
  b.byte(Op.local_get).u32(A + 1).byte(Op.global_set).u32(G.pAddr);
  b.byte(Op.local_get).u32(A + 2).byte(Op.global_set).u32(G.pLen);
  b.byte(Op.local_get).u32(A + 3).byte(Op.global_set).u32(G.mayGoto);
  for (let r = 0; r < 10; r++) b.byte(Op.global_get).u32(G_X + r);
  b.byte(Op.i32_const).s32(0).byte(Op.local_get).u32(A).byte(Op.i32_const).s32(1);
  callMain();
  epilogue(b, RUN_R0);
  b.byte(Op.return).byte(Op.end);
  // MODE_BATCH
  {
    const N = A, TABLE = A + 1, CTX = A + 2, SIZE = A + 3, OUT = A + 4, BUDGET = A + 5;
    b.byte(Op.i32_const).s32(0).byte(Op.global_set).u32(G.pAddr);
    b.byte(Op.block).byte(0x40).byte(Op.loop).byte(0x40);
    b.byte(Op.local_get).u32(RUN_I).byte(Op.local_get).u32(N).byte(Op.i32_ge_u).byte(Op.br_if).u32(1);
    b.byte(Op.local_get).u32(TABLE).byte(Op.local_get).u32(RUN_I).byte(Op.local_get).u32(SIZE).byte(Op.i32_const).s32(8).byte(Op.i32_add)
      .byte(Op.i32_mul).byte(Op.i32_add).byte(Op.local_set).u32(RUN_E);
    b.byte(Op.local_get).u32(RUN_E).byte(Op.i32_load).u32(2).u32(0).byte(Op.global_set).u32(G_PB);
    b.byte(Op.local_get).u32(RUN_E).byte(Op.i32_load).u32(2).u32(4).byte(Op.i32_const).s32(8).byte(Op.i32_sub).byte(Op.global_set).u32(G_PL);
    b.byte(Op.local_get).u32(CTX);
    b.byte(Op.local_get).u32(RUN_E).byte(Op.i32_const).s32(8).byte(Op.i32_add);
    b.byte(Op.local_get).u32(SIZE).byte(0xfc).u32(10).byte(0).byte(0); // memory.copy
    // pLen = -1 - i: no packet, and which run a fault happened in
    b.byte(Op.i32_const).s32(-1).byte(Op.local_get).u32(RUN_I).byte(Op.i32_sub).byte(Op.global_set).u32(G.pLen);
    if (hasMayGoto) b.byte(Op.i32_const).s32(mayGotoBudget).byte(Op.global_set).u32(G.mayGoto);
    b.byte(Op.i64_const).s32(0).byte(Op.local_get).u32(CTX).byte(Op.i64_extend_i32_u);
    i64zeros(8);
    b.byte(Op.i32_const).s32(0).byte(Op.local_get).u32(BUDGET).byte(Op.i32_const).s32(0);
    callMain();
    epilogue(b, RUN_R0);
    b.byte(Op.local_set).u32(RUN_LO);
    b.byte(Op.local_get).u32(OUT).byte(Op.local_get).u32(RUN_I).byte(Op.i32_const).s32(2).byte(Op.i32_shl).byte(Op.i32_add);
    b.byte(Op.local_get).u32(RUN_LO).byte(Op.i32_store).u32(2).u32(0);
    b.byte(Op.local_get).u32(RUN_I).byte(Op.i32_const).s32(1).byte(Op.i32_add).byte(Op.local_set).u32(RUN_I);
    b.byte(Op.br).u32(0);
    b.byte(Op.end).byte(Op.end);
    b.byte(Op.local_get).u32(RUN_I).byte(Op.return).byte(Op.end);
  }
  // MODE_REPEAT
  {
    const N = A, R1 = A + 1, BUDGET = A + 2, PADDR = A + 3, PLEN = A + 4;
    b.byte(Op.local_get).u32(PADDR).byte(Op.global_set).u32(G.pAddr);
    b.byte(Op.local_get).u32(PLEN).byte(Op.global_set).u32(G.pLen);
    b.byte(Op.loop).byte(0x40);
    if (hasMayGoto) b.byte(Op.i32_const).s32(mayGotoBudget).byte(Op.global_set).u32(G.mayGoto);
    b.byte(Op.i64_const).s32(0).byte(Op.local_get).u32(R1).byte(Op.i64_extend_i32_u);
    i64zeros(8);
    b.byte(Op.i32_const).s32(0).byte(Op.local_get).u32(BUDGET).byte(Op.i32_const).s32(0);
    callMain();
    epilogue(b, RUN_R0);
    b.byte(Op.local_set).u32(RUN_LO);
    b.byte(Op.local_get).u32(RUN_I).byte(Op.i32_const).s32(1).byte(Op.i32_add).byte(Op.local_tee).u32(RUN_I);
    b.byte(Op.local_get).u32(N).byte(Op.i32_lt_u).byte(Op.br_if).u32(0);
    b.byte(Op.end);
    b.byte(Op.local_get).u32(RUN_LO).byte(Op.return).byte(Op.end);
  }
  // MODE_WARM
  b.byte(Op.local_get).u32(A).byte(Op.i32_eqz).byte(Op.if).byte(0x40);
  b.byte(Op.i32_const).s32(HOST_WARM).byte(Op.i32_const).s32(0).byte(Op.i64_const).s32(0).byte(Op.i32_const).s32(0).byte(Op.call).u32(imports.host);
  if (imports.helper >= 0) {
    b.byte(Op.i64_const).s32(0).byte(Op.i32_const).s32(-1);
    i64zeros(5);
    b.byte(Op.call).u32(imports.helper).byte(Op.drop);
  }
  if (imports.fastCall >= 0) {
    b.byte(Op.i32_const).s32(-1).byte(Op.i32_const).s32(-1);
    i64zeros(5);
    b.byte(Op.call).u32(imports.fastCall).byte(Op.drop).byte(Op.drop);
  }
  b.byte(Op.i32_const).s32(0).byte(Op.call).u32(fFtop).byte(Op.drop);
  b.byte(Op.end);
  for (let k = 0; k < subprograms.length; k++) {
    b.byte(Op.local_get).u32(A).byte(Op.i32_const).s32(k + 1).byte(Op.i32_eq).byte(Op.if).byte(0x40);
    i64zeros(10);
    b.byte(Op.i32_const).s32(MAX_CALL_FRAMES).byte(Op.i32_const).s32(0).byte(Op.i32_const).s32(1);
    b.byte(Op.call).u32(subprograms[k]).byte(Op.unreachable);
    b.byte(Op.end);
  }
  b.byte(Op.i32_const).s32(0);
  return b;
}

/** Binary ALU operations that map to one wasm instruction, by BPF_OP. */
const ALU64_OPS = denseTable<number>({
  0x00: Op.i64_add, 0x10: Op.i64_sub, 0x20: Op.i64_mul, 0x40: Op.i64_or, 0x50: Op.i64_and,
  0x60: Op.i64_shl, 0x70: Op.i64_shr_u, 0xa0: Op.i64_xor, 0xc0: Op.i64_shr_s,
});
const ALU32_OPS = denseTable<number>({
  0x00: Op.i32_add, 0x10: Op.i32_sub, 0x20: Op.i32_mul, 0x40: Op.i32_or, 0x50: Op.i32_and,
  0x60: Op.i32_shl, 0x70: Op.i32_shr_u, 0xa0: Op.i32_xor, 0xc0: Op.i32_shr_s,
});

/**
 * A lookup table by opcode as a plain array (V8 keeps objects with sparse integer keys as slow
 * dictionaries; these are read for every instruction compiled).
 */
function denseTable<T>(entries: Record<number, T>): Record<number, T> {
  const out = new Array<T | undefined>(0x1000).fill(undefined);
  for (const [k, v] of Object.entries(entries)) out[Number(k)] = v;
  return out as T[];
}

const CMP64 = denseTable<number>({
  0x10: Op.i64_eq, 0x50: Op.i64_ne, 0x20: Op.i64_gt_u, 0x30: Op.i64_ge_u, 0xa0: Op.i64_lt_u, 0xb0: Op.i64_le_u,
  0x60: Op.i64_gt_s, 0x70: Op.i64_ge_s, 0xc0: Op.i64_lt_s, 0xd0: Op.i64_le_s,
});
const CMP32 = denseTable<number>({
  0x10: Op.i32_eq, 0x50: Op.i32_ne, 0x20: Op.i32_gt_u, 0x30: Op.i32_ge_u, 0xa0: Op.i32_lt_u, 0xb0: Op.i32_le_u,
  0x60: Op.i32_gt_s, 0x70: Op.i32_ge_s, 0xc0: Op.i32_lt_s, 0xd0: Op.i32_le_s,
});
const LOADS = denseTable<[number, number]>({ // op -> [wasm load, size]
  0x71: [Op.i64_load8_u, 1], 0x69: [Op.i64_load16_u, 2], 0x61: [Op.i64_load32_u, 4], 0x79: [Op.i64_load, 8],
  0x91: [Op.i64_load8_s, 1], 0x89: [Op.i64_load16_s, 2], 0x81: [Op.i64_load32_s, 4],
});
const STORES = denseTable<[number, number]>({
  1: [Op.i64_store8, 1], 2: [Op.i64_store16, 2], 4: [Op.i64_store32, 4], 8: [Op.i64_store, 8],
});
const STORE_SIZE = denseTable<number>({ 0x00: 4, 0x08: 2, 0x10: 1, 0x18: 8 });

/** After the main function's call (r0, left): left and r0's high word to globals, r0's low word returned. */
function epilogue(b: ByteWriter, tmp: number): void {
  b.byte(Op.global_set).u32(G.left);
  b.byte(Op.local_tee).u32(tmp).byte(Op.i64_const).s32(32).byte(Op.i64_shr_u).byte(Op.i32_wrap_i64).byte(Op.global_set).u32(G.r0hi);
  b.byte(Op.local_get).u32(tmp).byte(Op.i32_wrap_i64);
}

/** Operations that may fault, leave the program or write memory. */
function mayFault(op: number): boolean {
  switch (op) {
    case 0x61: case 0x69: case 0x71: case 0x79: case 0x81: case 0x89: case 0x91:
    case 0x62: case 0x6a: case 0x72: case 0x7a: case 0x63: case 0x6b: case 0x73: case 0x7b:
    case 0xc3: case 0xdb:
    case 0x20: case 0x28: case 0x30: case 0x40: case 0x48: case 0x50:
    case 0x85: case 0x8d: case OP_CALL_LOCAL: case OP_TRAP:
      return true;
    default:
      return false;
  }
}

/** Jump (conditional or not) that ends a block; targets in word 1. */
function isJump(op: number): boolean {
  const cls = op & 7;
  if (cls !== 5 && cls !== 6) return false;
  const o = op & 0xf0;
  return op < 0x100 && o !== 0x80 && o !== 0x90; // not call/callx/exit
}

function compileFunction(
  P: Int32Array, nslots: number, entry: number, isMain: boolean, out: ByteWriter, funcOf: (slot: number) => number,
  segStart: number[], segCount: number[], shared: boolean, pure: boolean, helperOptions: JitHelperOptions, imports: Imports,
): number {
  const verified = helperOptions.verified;
  const op = (s: number): number => P[s << 2] & 0xfff;
  const next = (s: number): number => s + (op(s) === 0x18 ? 2 : 1);
  // Reachable slots and block leaders.
  const seen = new Uint8Array(nslots);
  const leader = new Uint8Array(nslots);
  leader[entry] = 1;
  const stack = [entry];
  while (stack.length > 0) {
    let s = stack.pop()!;
    for (;;) {
      if (seen[s]) break;
      seen[s] = 1;
      const o = op(s);
      if (o === 0x95 || o === OP_TRAP) break;
      if (isJump(o)) {
        const t = P[(s << 2) + 1];
        leader[t] = 1;
        stack.push(t);
        if (o !== 0x05) {
          leader[next(s)] = 1;
          stack.push(next(s));
        }
        break;
      }
      if (o === OP_CALL_LOCAL) funcOf(P[(s << 2) + 1]);
      s = next(s);
    }
  }
  const blocks: Block[] = [];
  const blockAt = new Int32Array(nslots).fill(-1);
  const order = new Int32Array(nslots); // the blocks' slots, block after block
  let ordered = 0;
  for (let s = 0; s < nslots; s++) {
    if (!seen[s] || !leader[s]) continue;
    blockAt[s] = blocks.length;
    const from = ordered;
    let t = s;
    for (;;) {
      order[ordered++] = t;
      const o = op(t);
      if (o === 0x95 || o === OP_TRAP || isJump(o)) break;
      t = next(t);
      if (leader[t]) break;
    }
    blocks.push({ start: s, slots: order.subarray(from, ordered), index: blocks.length, selfLoop: false });
  }
  // Dispatch entries: the entry block and every target of a backward jump (a jump to the start
  // of its own block is a `loop` of its own instead).
  const dispatch: number[] = [blockAt[entry]];
  const dispatchOf = new Int32Array(blocks.length).fill(-1);
  dispatchOf[blockAt[entry]] = 0;
  for (let bi = 0; bi < blocks.length; bi++) { // (indexed loops: for-of's iterators are slow before V8 optimises)
    const b = blocks[bi];
    const last = b.slots[b.slots.length - 1];
    if (!isJump(op(last))) continue;
    const j = blockAt[P[(last << 2) + 1]];
    if (j === b.index) b.selfLoop = true;
    else if (j < b.index && dispatchOf[j] < 0) {
      dispatchOf[j] = dispatch.length;
      dispatch.push(j);
    }
  }
  if (dispatch.length > MAX_DISPATCH) {
    throw new BpfError('E2BIG', `jit: ${dispatch.length} loop heads in one function (at most ${MAX_DISPATCH})`);
  }
  const n = blocks.length;
  // Is r10 never written in this function? Then it is always the frame top, and accesses at
  // r10 + off inside the frame need no check (and cannot fault).
  let r10Fixed = true;
  for (let t = 0; t < nslots && r10Fixed; t++) {
    if (!seen[t]) continue;
    const o = op(t);
    const c = o & 7;
    const dd = (P[t << 2] >> 12) & 15;
    const ss = (P[t << 2] >> 16) & 15;
    if (o === OP_TRAP) continue;
    if (dd === 10 && (c === 4 || c === 7 || c === 1 || o === 0x18)) r10Fixed = false;
    if ((o === 0xc3 || o === 0xdb) && ss === 10) r10Fixed = false;
  }
  const staticFrame = (reg: number, off: number, size: number): boolean =>
    reg === 10 && r10Fixed && off >= -MAX_BPF_STACK && off <= -size;
  /**
   * Whether the instruction at slot t may fault, leave or write memory: a budget segment ends
   * after it (charged up front, a segment must not contain effects before its last instruction).
   */
  const endsSegment = (t: number): boolean => {
    const o = op(t);
    if (!mayFault(o)) return false;
    const word = P[t << 2];
    const c = o & 7;
    if (c === 1) return !staticFrame((word >> 16) & 15, P[(t << 2) + 1], LOADS[o][1]); // ldx: base is src
    return !silentStore(t);
  };
  /**
   * A store (not atomic) at r10 + off inside the frame: it cannot fault, so it need not end a
   * budget segment; inside one it is guarded instead (see guardedFrame).
   */
  const silentStore = (t: number): boolean => {
    const o = op(t);
    const c = o & 7;
    return (c === 2 || c === 3) && (o & 0xe0) === 0x60 && staticFrame((P[t << 2] >> 12) & 15, P[(t << 2) + 1], STORE_SIZE[o & 0x18]);
  };
  // Both, once per reachable slot (the checked tier only: the verified one charges nothing).
  const SEG_END = 1;
  const SEG_SILENT = 2;
  const segKind = new Uint8Array(verified === undefined ? nslots : 0);
  for (let t = 0; t < segKind.length; t++) if (seen[t] !== 0) segKind[t] = endsSegment(t) ? SEG_END : silentStore(t) ? SEG_SILENT : 0;

  // The body goes to `buf` directly, `out` gets it at the end: a byte is a store, not a call (this
  // code often runs before V8 optimises it, where calls cost most). room() before each
  // instruction leaves ROOM bytes, more than any one emits (checked after each: pos <= length).
  let buf = new Uint8Array(4096 + ordered * 20); // (about what the checked tier needs; grows if not)
  let pos = 0;
  const room = (n: number): void => {
    if (pos + n <= buf.length) return;
    const grown = new Uint8Array(Math.max(buf.length * 2, pos + n));
    grown.set(buf.subarray(0, pos));
    buf = grown;
  };
  const u32 = (n: number): void => { // unsigned LEB128
    n >>>= 0;
    while (n >= 0x80) { buf[pos++] = (n & 0x7f) | 0x80; n >>>= 7; }
    buf[pos++] = n;
  };
  const s32 = (n: number): void => { // signed LEB128
    n |= 0;
    while (n >= 64 || n < -64) { buf[pos++] = (n & 0x7f) | 0x80; n >>= 7; }
    buf[pos++] = n & 0x7f;
  };
  const s64 = (hi: number, lo: number): void => {
    if (hi === lo >> 31) { s32(lo); return; }
    const bytes = new ByteWriter(16).s64(hi, lo).finish();
    buf.set(bytes, pos);
    pos += bytes.length;
  };

  // `local.set x` directly followed by `local.get x` (an instruction reading the register the
  // previous one wrote) becomes `local.tee x`: fewer bytes and operations for V8 to compile.
  // Adjacent in the byte stream means no label or other code between them. (Locals are < 128:
  // one LEB128 byte.)
  let setAt = -1;
  let setEnd = -1;
  let setLocal = -1;
  const lset = (l: number): void => { setAt = pos; buf[pos++] = Op.local_set; buf[pos++] = l; setEnd = pos; setLocal = l; };
  const lget = (l: number): void => {
    if (pos === setEnd && setLocal === l) {
      buf[setAt] = Op.local_tee;
      setEnd = -1;
      return;
    }
    buf[pos++] = Op.local_get; buf[pos++] = l;
  };
  const get = (r: number): void => {
    const l = r === 10 ? R10 : r;
    if (pos === setEnd && setLocal === l) { buf[setAt] = Op.local_tee; setEnd = -1; return; }
    buf[pos++] = Op.local_get; buf[pos++] = l;
  };
  const set = (r: number): void => { setAt = pos; buf[pos++] = Op.local_set; buf[pos++] = setLocal = r === 10 ? R10 : r; setEnd = pos; };
  const i64c = (hi: number, lo: number): void => { buf[pos++] = Op.i64_const; s64(hi, lo); };
  const i32c = (v: number): void => { buf[pos++] = Op.i32_const; s32(v); };
  const sx = (k: number): void => { buf[pos++] = Op.i64_const; s32(k); }; // imm sign-extended to 64 bits
  const zx = (k: number): void => i64c(0, k); // imm zero-extended
  const ltee = (l: number): void => { buf[pos++] = Op.local_tee; buf[pos++] = l; };
  const fail = (kind: number, a: number, bb: number): void => {
    i32c(HOST_FAIL + kind); i32c(a); i64c(0, 0); i32c(bb); buf[pos++] = Op.call; u32(imports.host); buf[pos++] = Op.unreachable;
  };
  const mem = (o: number, offset: number): void => { buf[pos++] = o; u32(0); u32(offset); };
  /** Return from the function with r0 as `r0` pushes it: the entry (and any function of the verified tier) gives r0 and left, a local-call target r0..r5 and left. */
  const leave = (r0: () => void): void => {
    r0();
    if (!isMain && verified === undefined) for (let r = 1; r <= 5; r++) get(r);
    lget(LEFT); buf[pos++] = Op.return;
  };
  const bswap32 = (): void => { // i32 on the stack
    ltee(B32); i32c(8); buf[pos++] = Op.i32_rotl; i32c(0x00ff00ff); buf[pos++] = Op.i32_and;
    lget(B32); i32c(8); buf[pos++] = Op.i32_rotr; i32c(0xff00ff00 | 0); buf[pos++] = Op.i32_and; buf[pos++] = Op.i32_or;
  };

  // Prologue: r10 = frame top, frame zeroed.
  lget(DEPTH);
  buf[pos++] = Op.if; buf[pos++] = I32; lget(DEPTH); buf[pos++] = Op.call; u32(imports.count); // ftop is the first module function
  buf[pos++] = Op.else; buf[pos++] = Op.global_get; u32(0); buf[pos++] = Op.end; // (depth 0, every run's entry: f0)
  ltee(A32); buf[pos++] = Op.i64_extend_i32_u; lset(R10);
  lget(A32); i32c(MAX_BPF_STACK); buf[pos++] = Op.i32_sub; lset(FB);
  if (!pure) { // (a program writing no memory finds its frames zeroed by the host)
    lget(RESUME); buf[pos++] = Op.i32_eqz;
    buf[pos++] = Op.if; buf[pos++] = 0x40;
    // verified: only the bytes the program can reach (the rest is never read, so never differs)
    const depth = verified === undefined ? MAX_BPF_STACK : Math.min(MAX_BPF_STACK, (verified.stackDepth + 7) & ~7);
    if (depth <= 64) for (let o = MAX_BPF_STACK - depth; o < MAX_BPF_STACK; o += 8) { lget(FB); i64c(0, 0); mem(Op.i64_store, o); }
    else { lget(FB); i32c(MAX_BPF_STACK - depth); buf[pos++] = Op.i32_add; i32c(0); i32c(depth); buf[pos++] = 0xfc; u32(0x0b); buf[pos++] = 0; }
    buf[pos++] = Op.end;
  }
  if (verified !== undefined && isMain) {
    // no budget in the verified tier, but a zero budget still stops before the first
    // instruction (prepare() compiles the entry that way without running the program)
    lget(LEFT); i32c(1); buf[pos++] = Op.i32_lt_s;
    buf[pos++] = Op.if; buf[pos++] = 0x40;
    i32c(HOST_FAIL + FAIL_BUDGET); i32c(segStart.length); i64c(0, 0); lget(LEFT); buf[pos++] = Op.call; u32(imports.host); buf[pos++] = Op.unreachable;
    buf[pos++] = Op.end;
    segStart.push(entry);
    segCount.push(0);
  }
  const dispatched = dispatch.length > 1 || dispatch[0] !== 0;
  if (dispatched) {
    i32c(0); lset(PC);
  }

  // The dispatch skeleton.
  let inner = 0; // labels opened inside the current block's code
  let cur = 0; // current block index
  // Only blocks something branches to get a wasm `block` (the rest are only fallen into), so
  // labels are counted by rank: rank[j] labeled blocks come before block j. (Filled in below.)
  const labeled = new Uint8Array(n);
  const rank = new Int32Array(n + 1);
  const depthOf = (j: number): number => {
    if (labeled[j] === 0) throw new Error(`jit: no label for block ${j}`); // (cannot happen: see the labels below)
    return inner + rank[j] - rank[cur + 1];
  };
  const depthL = (): number => inner + rank[n] - rank[cur + 1];
  /** Unconditional jump to the block starting at slot t (the code after it is dead). */
  const jumpTo = (t: number): void => {
    const j = blockAt[t];
    if (j === cur && blocks[cur].selfLoop) {
      buf[pos++] = Op.br; u32(inner - 1);
    } else if (j > cur) {
      buf[pos++] = Op.br; u32(depthOf(j));
    } else {
      i32c(dispatchOf[j]); lset(PC); buf[pos++] = Op.br; u32(depthL());
    }
  };
  /** Conditional jump, the condition (i32) on the stack. */
  const jumpIf = (t: number, prologue?: () => void): void => {
    const j = blockAt[t];
    if (prologue === undefined && j === cur && blocks[cur].selfLoop) {
      buf[pos++] = Op.br_if; u32(inner - 1);
    } else if (prologue === undefined && j > cur) {
      buf[pos++] = Op.br_if; u32(depthOf(j));
    } else {
      buf[pos++] = Op.if; buf[pos++] = 0x40; inner++;
      prologue?.();
      jumpTo(t);
      buf[pos++] = Op.end; inner--;
    }
  };
  /**
   * Charge `count` instructions of segment `seg` (checked tier). An overdraft branches to the
   * function's one out-of-line handler ($budget, around the dispatch loop) with the segment in
   * $pc: a `br_if` costs V8's baseline compiler (Liftoff) far less than an `if` holding a call.
   * ($pc is free here: it is only read by the dispatch `br_table`, right after being set.)
   */
  const charge = (seg: number, count: number): void => {
    i32c(seg); lset(PC);
    lget(LEFT); i32c(count); buf[pos++] = Op.i32_sub; ltee(LEFT); i32c(0); buf[pos++] = Op.i32_lt_s;
    buf[pos++] = Op.br_if; u32(depthL() + 1);
  };
  /**
   * A segment with silent stores before its last instruction is charged just before that one
   * (the same charge()), and each of those stores goes ahead only if the budget covered it
   * (guardedFrame(); else to the never-allocated page at 0: the null guard, which no region,
   * program or comparison sees): one `br_if` per segment, the costly part for Liftoff, instead
   * of one per store. (Also the unchecked last segment of a block that falls through, with
   * every silent store guarded and `left` lowered after its last instruction.)
   */
  const lowerLeft = (count: number): void => {
    lget(LEFT); i32c(count); buf[pos++] = Op.i32_sub; lset(LEFT);
  };
  /**
   * A segment for the $budget handler, which walks `count` instructions from slot `first` (less
   * what was left). A segment entered by falling through from an unchecked one (see `carry`
   * below) starts where that one did, with both counts: right for either way in, as the two
   * are adjacent in slot order and the unchecked one was either run in full or not entered.
   */
  const segment = (first: number, count: number): number => {
    segStart.push(first);
    segCount.push(count);
    return segStart.length - 1;
  };
  /**
   * With the frame base on the stack, for a silent store at position `at` of a segment not
   * charged yet: the frame base when the budget (left) exceeds `at`, as the interpreter would
   * have run the store; else 0.
   */
  const guardedFrame = (at: number): void => {
    i32c(0); lget(LEFT); i32c(at + 1); buf[pos++] = Op.i32_ge_s; buf[pos++] = Op.select;
  };

  /**
   * Check [reg + off, +size) for kind and push the i32 base of the access; returns the memarg
   * offset to use with it. ADDR holds the exact address when `exact` (atomics).
   */
  const access = (pc: number, reg: number, off: number, size: number, kind: number, exact = false): number => {
    if (staticFrame(reg, off, size)) { // inside the current frame by construction: no check
      if (!exact) { lget(FB); return off + MAX_BPF_STACK; }
      lget(FB); i32c(off + MAX_BPF_STACK); buf[pos++] = Op.i32_add; ltee(ADDR);
      return 0;
    }
    if (verified?.unchecked[pc] === 1) { // proved in bounds by the verifier
      get(reg); buf[pos++] = Op.i32_wrap_i64;
      if (!exact && off >= 0) return off;
      if (off !== 0) { i32c(off); buf[pos++] = Op.i32_add; }
      if (exact) ltee(ADDR);
      return 0;
    }
    buf[pos++] = Op.block; buf[pos++] = 0x40;
    buf[pos++] = Op.block; buf[pos++] = 0x40;
    get(reg);
    if (off !== 0) { sx(off); buf[pos++] = Op.i64_add; }
    ltee(A64); i64c(0, -1); buf[pos++] = Op.i64_gt_u; buf[pos++] = Op.br_if; u32(0);
    lget(A64); buf[pos++] = Op.i32_wrap_i64; ltee(ADDR);
    lget(FB); buf[pos++] = Op.i32_sub; i32c(MAX_BPF_STACK - size); buf[pos++] = Op.i32_le_u; buf[pos++] = Op.br_if; u32(1);
    const cached = (gb: number, gl: number): void => {
      lget(ADDR); buf[pos++] = Op.global_get; u32(gb); buf[pos++] = Op.i32_sub;
      buf[pos++] = Op.global_get; u32(gl);
      if (size !== 8) { i32c(8 - size); buf[pos++] = Op.i32_add; }
      buf[pos++] = Op.i32_le_u; buf[pos++] = Op.br_if; u32(1);
    };
    if (kind === ACCESS_LOAD) { cached(G.rb, G.rl); cached(G.qb, G.ql); } else cached(G.wb, G.wl);
    cached(G_PB, G_PL);
    buf[pos++] = Op.end;
    i32c(kind); i32c(pc); lget(A64); i32c(size); buf[pos++] = Op.call; u32(imports.host);
    lget(A64); buf[pos++] = Op.i32_wrap_i64; lset(ADDR);
    buf[pos++] = Op.end;
    lget(ADDR);
    return 0;
  };

  const alu = (o: number, d: number, s: number, k: number): boolean => {
    const is64 = (o & 7) === 7;
    const isX = (o & 8) !== 0;
    const aop = o & 0xf0;
    const variant = o >> 8;
    if (aop === 0xd0) { // le / be / bswap
      const bits = variant === 1 ? 16 : variant === 2 ? 32 : 64;
      const swap = (o & 0xff) !== 0xd4;
      if (!swap) {
        if (bits === 64) return true;
        get(d); zx(bits === 16 ? 0xffff : -1); buf[pos++] = Op.i64_and; set(d);
      } else if (bits === 16) {
        get(d); buf[pos++] = Op.i32_wrap_i64; ltee(A32); i32c(8); buf[pos++] = Op.i32_shl; i32c(0xff00); buf[pos++] = Op.i32_and;
        lget(A32); i32c(8); buf[pos++] = Op.i32_shr_u; i32c(0xff); buf[pos++] = Op.i32_and; buf[pos++] = Op.i32_or; buf[pos++] = Op.i64_extend_i32_u; set(d);
      } else if (bits === 32) {
        get(d); buf[pos++] = Op.i32_wrap_i64; bswap32(); buf[pos++] = Op.i64_extend_i32_u; set(d);
      } else {
        get(d); buf[pos++] = Op.i32_wrap_i64; bswap32(); buf[pos++] = Op.i64_extend_i32_u; i64c(0, 32); buf[pos++] = Op.i64_shl;
        get(d); i64c(0, 32); buf[pos++] = Op.i64_shr_u; buf[pos++] = Op.i32_wrap_i64; bswap32(); buf[pos++] = Op.i64_extend_i32_u; buf[pos++] = Op.i64_or; set(d);
      }
      return true;
    }
    if (aop === 0xb0) { // mov / movsx
      if (!isX) { if (is64) sx(k); else zx(k); set(d); return true; }
      get(s);
      if (is64) {
        if (variant === 1) buf[pos++] = Op.i64_extend8_s;
        else if (variant === 2) buf[pos++] = Op.i64_extend16_s;
        else if (variant === 3) buf[pos++] = Op.i64_extend32_s;
      } else {
        buf[pos++] = Op.i32_wrap_i64;
        if (variant === 1) buf[pos++] = Op.i32_extend8_s;
        else if (variant === 2) buf[pos++] = Op.i32_extend16_s;
        buf[pos++] = Op.i64_extend_i32_u;
      }
      set(d);
      return true;
    }
    if (aop === 0x80) { // neg
      if (is64) { i64c(0, 0); get(d); buf[pos++] = Op.i64_sub; } else { i32c(0); get(d); buf[pos++] = Op.i32_wrap_i64; buf[pos++] = Op.i32_sub; buf[pos++] = Op.i64_extend_i32_u; }
      set(d);
      return true;
    }
    const signed = variant === 1;
    if (is64) {
      if (aop === 0x30 || aop === 0x90) { // div / mod, 64-bit
        const isDiv = aop === 0x30;
        if (!isX) {
          if (k === 0) { if (isDiv) { i64c(0, 0); set(d); } return true; }
          if (signed && k === -1) { if (isDiv) { i64c(0, 0); get(d); buf[pos++] = Op.i64_sub; } else i64c(0, 0); set(d); return true; }
          get(d); sx(k); buf[pos++] = isDiv ? (signed ? Op.i64_div_s : Op.i64_div_u) : (signed ? Op.i64_rem_s : Op.i64_rem_u); set(d);
          return true;
        }
        // Branch-free (selects, no `if`: cheaper for Liftoff to compile): divide by a divisor
        // made safe (0, and -1 when signed, become 1), then fix those cases up as the kernel's
        // rules say: x / 0 = 0, x % 0 = x, x s/ -1 = -x, x s% -1 = 0.
        if (!signed) { // A32 = !y; select(0 or x, x / (y | A32) or x % (y | A32), A32)
          if (isDiv) i64c(0, 0); else get(d);
          get(d); get(s); get(s); buf[pos++] = Op.i64_eqz; ltee(A32); buf[pos++] = Op.i64_extend_i32_u; buf[pos++] = Op.i64_or;
          buf[pos++] = isDiv ? Op.i64_div_u : Op.i64_rem_u;
          lget(A32); buf[pos++] = Op.select; set(d);
          return true;
        }
        get(d);
        i64c(0, 1); get(s); get(s); i64c(0, 1); buf[pos++] = Op.i64_add; i64c(0, 1); buf[pos++] = Op.i64_le_u; buf[pos++] = Op.select;
        buf[pos++] = isDiv ? Op.i64_div_s : Op.i64_rem_s;
        if (isDiv && signed) { lset(T1); i64c(0, 0); lget(T1); buf[pos++] = Op.i64_sub; lget(T1); get(s); i64c(-1, -1); buf[pos++] = Op.i64_eq; buf[pos++] = Op.select; }
        if (isDiv) i64c(0, 0); else get(d);
        get(s); buf[pos++] = Op.i64_eqz; buf[pos++] = Op.i32_eqz; buf[pos++] = Op.select;
        set(d);
        return true;
      }
      const wop = ALU64_OPS[aop];
      if (wop === undefined || variant !== 0) return false;
      get(d); if (isX) get(s); else sx(k); buf[pos++] = wop; set(d);
      return true;
    }
    // 32-bit
    if (aop === 0x30 || aop === 0x90) {
      const isDiv = aop === 0x30;
      if (!isX) {
        if (k === 0) { if (isDiv) i64c(0, 0); else { get(d); zx(-1); buf[pos++] = Op.i64_and; } set(d); return true; }
        if (signed && k === -1) {
          if (isDiv) { i32c(0); get(d); buf[pos++] = Op.i32_wrap_i64; buf[pos++] = Op.i32_sub; buf[pos++] = Op.i64_extend_i32_u; } else i64c(0, 0);
          set(d);
          return true;
        }
        get(d); buf[pos++] = Op.i32_wrap_i64; i32c(k); buf[pos++] = isDiv ? (signed ? Op.i32_div_s : Op.i32_div_u) : (signed ? Op.i32_rem_s : Op.i32_rem_u);
        buf[pos++] = Op.i64_extend_i32_u; set(d);
        return true;
      }
      // branch-free, as the 64-bit form
      get(s); buf[pos++] = Op.i32_wrap_i64; lset(B32);
      get(d); buf[pos++] = Op.i32_wrap_i64; ltee(A32);
      if (signed) { i32c(1); lget(B32); lget(B32); i32c(1); buf[pos++] = Op.i32_add; i32c(1); buf[pos++] = Op.i32_le_u; buf[pos++] = Op.select; } else { lget(B32); lget(B32); buf[pos++] = Op.i32_eqz; buf[pos++] = Op.i32_or; }
      buf[pos++] = isDiv ? (signed ? Op.i32_div_s : Op.i32_div_u) : (signed ? Op.i32_rem_s : Op.i32_rem_u);
      if (isDiv && signed) { ltee(A32); i32c(0); lget(A32); buf[pos++] = Op.i32_sub; lget(B32); i32c(-1); buf[pos++] = Op.i32_ne; buf[pos++] = Op.select; } // (A32 = the quotient)
      if (isDiv) i32c(0); else lget(A32);
      lget(B32); buf[pos++] = Op.select;
      buf[pos++] = Op.i64_extend_i32_u; set(d);
      return true;
    }
    const wop = ALU32_OPS[aop];
    if (wop === undefined || variant !== 0) return false;
    get(d); buf[pos++] = Op.i32_wrap_i64;
    if (isX) { get(s); buf[pos++] = Op.i32_wrap_i64; } else i32c(k);
    buf[pos++] = wop; buf[pos++] = Op.i64_extend_i32_u; set(d);
    return true;
  };

  /** The plain (non-atomic) read-modify-write of an atomic instruction at ADDR. */
  const atomicPlain = (s: number, k: number, size: number): void => {
    const [st] = STORES[size];
    lget(ADDR); mem(size === 8 ? Op.i64_load : Op.i64_load32_u, 0); lset(T1);
    if (k === 0xf1) { // cmpxchg: if (old == r0) store src; r0 = old
      lget(T1); get(0); if (size === 4) { zx(-1); buf[pos++] = Op.i64_and; } buf[pos++] = Op.i64_eq;
      buf[pos++] = Op.if; buf[pos++] = 0x40; lget(ADDR); get(s); mem(st, 0); buf[pos++] = Op.end;
      lget(T1); set(0);
      return;
    }
    lget(ADDR);
    if (k === 0xe1) get(s);
    else {
      lget(T1); get(s);
      const o = k & ~1;
      buf[pos++] = o === 0x00 ? Op.i64_add : o === 0x40 ? Op.i64_or : o === 0x50 ? Op.i64_and : Op.i64_xor;
    }
    mem(st, 0);
    if ((k & 1) !== 0) { lget(T1); set(s); }
  };
  const atomicShared = (s: number, k: number, size: number): void => {
    const a = size === 8 ? 3 : 2;
    const pick = (base: number): number => (size === 8 ? base + 1 : base + 6);
    const rmw = (base: number): void => { buf[pos++] = 0xfe; u32(pick(base)); u32(a); u32(0); };
    lget(ADDR);
    if (k === 0xf1) { get(0); get(s); rmw(0x48); set(0); return; }
    get(s);
    const o = k & ~1;
    rmw(k === 0xe1 ? 0x41 : o === 0x00 ? 0x1e : o === 0x40 ? 0x33 : o === 0x50 ? 0x2c : 0x3a);
    if ((k & 1) !== 0) set(s); else buf[pos++] = Op.drop;
  };

  /**
   * Inside `block $done { block $generic {`: bpf_map_lookup_elem on a known ARRAY map as the
   * kernel's array_map_gen_lookup() emits it: r0 = index < max_entries ? values + index *
   * elem_size : 0 (PERCPU_ARRAY: this CPU's slot, as array_map_lookup_elem's this_cpu_ptr()).
   * The key (r2) must lie in the frame or a cached load region; anything else takes the helper
   * call, which faults as the interpreter does. Registers other than r0 are left as they are.
   */
  /**
   * Inside `block $done { block $generic {`: ADDR = the lookup key (r2) of `size` bytes, when it
   * lies in the frame or a cached load region (verified tier: as the verifier proved); anything
   * else takes the helper call, which faults as the interpreter does.
   */
  const lookupKey = (size: number): void => {
    if (verified !== undefined) {
      get(2); buf[pos++] = Op.i32_wrap_i64; lset(ADDR);
      return;
    }
    buf[pos++] = Op.block; buf[pos++] = 0x40; inner++; // $ok
    get(2); ltee(A64); i64c(0, -1); buf[pos++] = Op.i64_gt_u; buf[pos++] = Op.br_if; u32(1);
    lget(A64); buf[pos++] = Op.i32_wrap_i64; ltee(ADDR);
    lget(FB); buf[pos++] = Op.i32_sub; i32c(MAX_BPF_STACK - size); buf[pos++] = Op.i32_le_u; buf[pos++] = Op.br_if; u32(0);
    for (const [gb, gl] of [[G.rb, G.rl], [G.qb, G.ql], [G_PB, G_PL]]) {
      lget(ADDR); buf[pos++] = Op.global_get; u32(gb); buf[pos++] = Op.i32_sub;
      buf[pos++] = Op.global_get; u32(gl); i32c(8 - size); buf[pos++] = Op.i32_add;
      buf[pos++] = Op.i32_le_u; buf[pos++] = Op.br_if; u32(0);
    }
    buf[pos++] = Op.br; u32(1);
    buf[pos++] = Op.end; inner--;
  };
  /**
   * bpf_map_lookup_elem on a known ARRAY map as the kernel's array_map_gen_lookup() emits it:
   * r0 = index < max_entries ? values + index * elem_size : 0 (PERCPU_ARRAY: this CPU's slot, as
   * array_map_lookup_elem's this_cpu_ptr()). Registers other than r0 are left as they are.
   */
  const inlineArrayLookup = (m: ArrayLayout): void => {
    lookupKey(4);
    lget(ADDR); mem(Op.i32_load, 0); ltee(A32); i32c(m.maxEntries | 0); buf[pos++] = Op.i32_lt_u;
    buf[pos++] = Op.if; buf[pos++] = I64;
    lget(A32); buf[pos++] = Op.i64_extend_i32_u;
    if (m.percpu) {
      i64c(0, m.nrCpus); buf[pos++] = Op.i64_mul; buf[pos++] = Op.global_get; u32(G_CPU); buf[pos++] = Op.i64_extend_i32_s; buf[pos++] = Op.i64_add;
    }
    i64c(0, m.elemSize); buf[pos++] = Op.i64_mul; i64c(Math.floor(m.valuesAddr / 4294967296), m.valuesAddr | 0); buf[pos++] = Op.i64_add;
    buf[pos++] = Op.else; i64c(0, 0); buf[pos++] = Op.end;
    set(0);
    buf[pos++] = Op.br; u32(1); // $done
  };
  /**
   * bpf_map_lookup_elem on a known IPv4 LPM trie with a /32 key: the map's stride table (maps/
   * lpm_table.ts) at `l1`, three loads at most; other prefix lengths take the helper call.
   */
  const inlineLpmLookup = (l1: number): void => {
    lookupKey(8);
    lget(ADDR); mem(Op.i32_load, 0); i32c(32); buf[pos++] = Op.i32_ne; buf[pos++] = Op.br_if; u32(0);
    lget(ADDR); mem(Op.i32_load, 4); bswap32(); lset(A32); // the address, host order
    lget(A32); i32c(16); buf[pos++] = Op.i32_shr_u; i32c(2); buf[pos++] = Op.i32_shl; mem(Op.i32_load, l1); ltee(B32);
    i32c(1); buf[pos++] = Op.i32_and;
    buf[pos++] = Op.if; buf[pos++] = 0x40;
    lget(B32); i32c(-2); buf[pos++] = Op.i32_and; lget(A32); i32c(6); buf[pos++] = Op.i32_shr_u; i32c(0x3fc); buf[pos++] = Op.i32_and; buf[pos++] = Op.i32_add;
    mem(Op.i32_load, 0); ltee(B32);
    i32c(1); buf[pos++] = Op.i32_and;
    buf[pos++] = Op.if; buf[pos++] = 0x40;
    lget(B32); i32c(-2); buf[pos++] = Op.i32_and; lget(A32); i32c(255); buf[pos++] = Op.i32_and; i32c(2); buf[pos++] = Op.i32_shl; buf[pos++] = Op.i32_add;
    mem(Op.i32_load, 0); lset(B32);
    buf[pos++] = Op.end;
    buf[pos++] = Op.end;
    lget(B32); buf[pos++] = Op.i64_extend_i32_u; set(0);
    buf[pos++] = Op.br; u32(1); // $done
  };
  /**
   * Inside `block $done { block $generic {`: the helper's number form (the module's fastCall
   * function, shared by the call sites: fewer bytes for V8 to compile); not handled: the call.
   */
  const fastCall = (id: number, pc: number): void => {
    i32c(id); i32c(pc); for (let r = 1; r <= 5; r++) get(r);
    buf[pos++] = Op.call; u32(imports.fastCall); // (r0, handled)
    buf[pos++] = Op.i32_eqz; buf[pos++] = Op.br_if; u32(0); // (the r0 left below is dropped by the branch)
    set(0);
    buf[pos++] = Op.br; u32(1); // $done
  };

  /** The condition of the conditional jump at slot pc, as an i32 on the stack. */
  const condition = (pc: number): void => {
    const word = P[pc << 2];
    const o = word & 0xfff;
    const d = (word >> 12) & 15;
    const s = (word >> 16) & 15;
    const k = P[(pc << 2) + 2];
    const jop = o & 0xf0;
    const isX = (o & 8) !== 0;
    if ((o & 7) === 5) {
      get(d); if (isX) get(s); else sx(k);
      if (jop === 0x40) { buf[pos++] = Op.i64_and; i64c(0, 0); buf[pos++] = Op.i64_ne; } else buf[pos++] = CMP64[jop];
    } else {
      get(d); buf[pos++] = Op.i32_wrap_i64; if (isX) { get(s); buf[pos++] = Op.i32_wrap_i64; } else i32c(k);
      if (jop === 0x40) { buf[pos++] = Op.i32_and; i32c(0); buf[pos++] = Op.i32_ne; } else buf[pos++] = CMP32[jop];
    }
  };
  /** ALU and ld_imm64 only: no memory, no fault, no effect outside the registers. */
  const isRegisterOnly = (t: number): boolean => {
    const o = op(t);
    const c = o & 7;
    return o === 0x18 || ((c === 4 || c === 7) && o !== OP_TRAP);
  };
  /**
   * A small loop that is one block of register-only instructions ending in a conditional jump
   * back to its start (a hash or checksum loop) runs two iterations per budget check while at
   * least two are affordable: the budget is charged for both up front and refunded when the loop
   * ends after the first, so errors and counts stay exact; otherwise one iteration, as usual.
   */
  const canUnroll = (blk: Block): boolean => {
    const slots = blk.slots;
    const last = slots[slots.length - 1];
    if (verified !== undefined || !blk.selfLoop || slots.length > 48 || op(last) === 0x05 || op(last) === 0xe5) return false;
    for (let x = 0; x < slots.length - 1; x++) if (!isRegisterOnly(slots[x])) return false;
    return true;
  };
  const unrolledLoop = (blk: Block): boolean => {
    if (!canUnroll(blk)) return false;
    const slots = blk.slots;
    const last = slots[slots.length - 1];
    const n1 = slots.length;
    const body = (): void => {
      for (let x = 0; x < slots.length - 1; x++) {
        const at = slots[x] << 2;
        const o = P[at] & 0xfff;
        const d = (P[at] >> 12) & 15;
        if (o === 0x18) { i64c(P[at + 3], P[at + 2]); set(d); } else alu(o, d, (P[at] >> 16) & 15, P[at + 2]);
      }
    };
    const exitTo = next(last);
    // inner = 1 (the block's own loop)
    lget(LEFT); i32c(2 * n1); buf[pos++] = Op.i32_lt_s;
    buf[pos++] = Op.if; buf[pos++] = 0x40; inner++;
    charge(segment(blk.start, n1), n1);
    body(); condition(last); buf[pos++] = Op.br_if; u32(inner - 1); jumpTo(exitTo);
    buf[pos++] = Op.else;
    lget(LEFT); i32c(2 * n1); buf[pos++] = Op.i32_sub; lset(LEFT);
    body(); condition(last); buf[pos++] = Op.i32_eqz;
    buf[pos++] = Op.if; buf[pos++] = 0x40; inner++;
    lget(LEFT); i32c(n1); buf[pos++] = Op.i32_add; lset(LEFT); jumpTo(exitTo);
    buf[pos++] = Op.end; inner--;
    body(); condition(last); buf[pos++] = Op.br_if; u32(inner - 1); jumpTo(exitTo);
    buf[pos++] = Op.end; inner--;
    return true;
  };

  // The labels: dispatch entries, forward jump targets, and blocks reached from a non-adjacent
  // block or from an unrolled loop by falling through (jumpTo()).
  for (let k = 0; k < dispatch.length; k++) labeled[dispatch[k]] = 1;
  for (let bi = 0; bi < blocks.length; bi++) {
    const blk = blocks[bi];
    const last = blk.slots[blk.slots.length - 1];
    const o = op(last);
    if (isJump(o)) {
      const j = blockAt[P[(last << 2) + 1]];
      if (j > blk.index) labeled[j] = 1;
    }
    if (o !== 0x95 && o !== OP_TRAP && o !== 0x05) {
      const j = blockAt[next(last)];
      if (j > blk.index && (j !== blk.index + 1 || canUnroll(blk))) labeled[j] = 1;
    }
  }
  for (let j = 0; j < n; j++) rank[j + 1] = rank[j] + labeled[j];

  // Emit: [$budget handler block,] dispatch header, then each block's code.
  room(ROOM + n * 2 + dispatch.length * 5);
  if (verified === undefined) { buf[pos++] = Op.block; buf[pos++] = 0x40; }
  buf[pos++] = Op.loop; buf[pos++] = 0x40;
  for (let j = n - 1; j >= 0; j--) if (labeled[j] === 1) { buf[pos++] = Op.block; buf[pos++] = 0x40; }
  if (dispatched) { // (inside the innermost label, that of block j is at depth rank[j])
    lget(PC); buf[pos++] = Op.br_table; u32(dispatch.length);
    for (let k = 0; k < dispatch.length; k++) u32(rank[dispatch[k]]);
    u32(rank[dispatch[0]]);
  }
  let compiled = 0;
  // The unchecked segment the next block falls in from: its count (-1: none) and first slot.
  let carry = -1;
  let carryFirst = 0;
  // The current block's segments (set per block; one startSegment for all blocks).
  let slots: Int32Array = order;
  let segFrom = 0;
  let checkAt = -1; // a deferred segment's last instruction (index in slots): its check comes first
  let guardTo = -1; // silent stores before this index go through guardedFrame
  let segDeferred = 0;
  let segSize = 0;
  let uncheckedEnd = false;
  let carryIn = -1;
  const startSegment = (from: number): void => {
    if (verified !== undefined) return;
    let to = from;
    let silent = false;
    while (to < slots.length - 1 && segKind[slots[to]] !== SEG_END) { if (segKind[slots[to]] === SEG_SILENT) silent = true; to++; }
    segSize = to - from + 1;
    const first = from === 0 && carryIn >= 0 ? carryFirst : slots[from];
    const count = from === 0 && carryIn >= 0 ? carryIn + segSize : segSize;
    if (to === slots.length - 1 && uncheckedEnd) { // (left lowered after the block's last instruction)
      carryFirst = first;
      carry = count;
      checkAt = -1;
      guardTo = to + 1;
    } else if (silent) {
      segDeferred = segment(first, count);
      checkAt = to;
      guardTo = to;
    } else {
      charge(segment(first, count), segSize);
      checkAt = -1;
      guardTo = -1;
    }
  };
  for (let bi = 0; bi < blocks.length; bi++) {
    const blk = blocks[bi];
    cur = blk.index;
    inner = 0;
    if (labeled[cur] === 1) buf[pos++] = Op.end; // end of $B(cur): this block's code follows
    if (blk.selfLoop) { buf[pos++] = Op.loop; buf[pos++] = 0x40; inner = 1; }
    slots = blk.slots;
    room(ROOM + slots.length * 3 * MAX_REGISTER_INSN_BYTES);
    if (unrolledLoop(blk)) {
      compiled += slots.length;
      buf[pos++] = Op.end;
      continue;
    }
    segFrom = 0;
    checkAt = -1;
    guardTo = -1;
    // A block ending in a register-only instruction (or a silent store, or a load from the frame)
    // that falls through into the next block in layout charges its last segment with no check:
    // the next block's first check covers it (see segment()). One `br_if` fewer per such block.
    const lastSlot = slots[slots.length - 1];
    const lastOp = op(lastSlot);
    uncheckedEnd = verified === undefined && lastOp !== 0x95 && lastOp !== OP_TRAP && !isJump(lastOp) && segKind[lastSlot] !== SEG_END &&
      blockAt[next(lastSlot)] === cur + 1 && !canUnroll(blocks[cur + 1]);
    carryIn = carry;
    carry = -1;
    startSegment(0);
    let terminated = false;
    for (let x = 0; x < slots.length; x++) {
      const pc = slots[x];
      if (x > segFrom && segKind[slots[x - 1]] === SEG_END) { segFrom = x; startSegment(x); }
      if (x === checkAt) charge(segDeferred, segSize);
      compiled++;
      if (pos > buf.length - ROOM) { // (the last one overran its room: bytes were lost)
        if (pos > buf.length) throw new Error('jit: an instruction emitted more than its room');
        room(ROOM);
      }
      const at = pc << 2;
      const word = P[at];
      const o = word & 0xfff;
      const d = (word >> 12) & 15;
      const s = (word >> 16) & 15;
      const w1 = P[at + 1];
      const k = P[at + 2];
      const cls = o & 7;
      if (o === OP_TRAP) { fail(FAIL_TRAP, k, 0); terminated = true; break; }
      if (o === 0x95) { // exit
        leave(() => get(0));
        terminated = true;
        break;
      }
      if (o === 0x18) { i64c(P[at + 3], k); set(d); continue; }
      if (cls === 4 || cls === 7) {
        if (!alu(o, d, s, k)) fail(FAIL_TRAP, -1, pc);
        continue;
      }
      if (o === 0x05) { jumpTo(w1); terminated = true; break; }
      if (o === 0xe5) { // may_goto: jump once the loop budget is spent
        buf[pos++] = Op.global_get; u32(G.mayGoto); i32c(1); buf[pos++] = Op.i32_sub; ltee(A32); buf[pos++] = Op.global_set; u32(G.mayGoto);
        lget(A32); i32c(0); buf[pos++] = Op.i32_lt_s;
        jumpIf(w1, () => { i32c(0); buf[pos++] = Op.global_set; u32(G.mayGoto); });
        continue;
      }
      if ((cls === 5 || cls === 6) && isJump(o)) {
        condition(pc);
        jumpIf(w1);
        continue;
      }
      if (o === 0x85 || o === 0x8d) { // helper call (imm) / callx (id in dst)
        const layout = o === 0x85 && k === MAP_LOOKUP ? helperOptions.arrayLookups?.get(pc) : undefined;
        const lpm = o === 0x85 && k === MAP_LOOKUP ? helperOptions.lpmLookups?.get(pc) : undefined;
        const fast = o === 0x85 && helperOptions.fastHelpers?.has(k) === true;
        // block $done { block $generic { inline or fast path; br $done } generic call }
        const inline = layout !== undefined || lpm !== undefined || fast;
        if (inline) { buf[pos++] = Op.block; buf[pos++] = 0x40; buf[pos++] = Op.block; buf[pos++] = 0x40; inner += 2; }
        if (layout !== undefined) inlineArrayLookup(layout);
        else if (lpm !== undefined) inlineLpmLookup(lpm);
        else if (fast) fastCall(k, pc);
        if (inline) { buf[pos++] = Op.end; inner--; }
        if (o === 0x85) sx(k); else get(d);
        i32c(pc);
        for (let r = 1; r <= 5; r++) get(r);
        buf[pos++] = Op.call; u32(imports.helper);
        if (o === 0x8d || k === BPF_FUNC_TAIL_CALL) { // (no other helper may tail call: jit.ts refuses)
          lset(T1);
          // bpf_tail_call scheduled by the helper: hand the registers over and leave; the host
          // continues in the target program (its result is dropped, as the interpreter does)
          buf[pos++] = Op.global_get; u32(G.tail); buf[pos++] = Op.if; buf[pos++] = 0x40; inner++;
          lget(DEPTH); buf[pos++] = Op.if; buf[pos++] = 0x40; fail(FAIL_TAIL_SUB, pc, 0); buf[pos++] = Op.end;
          for (let r = 0; r <= 10; r++) { get(r); buf[pos++] = Op.global_set; u32(G_X + r); }
          leave(() => get(0));
          buf[pos++] = Op.end; inner--;
          lget(T1);
        }
        set(0);
        if (inline) { buf[pos++] = Op.end; inner--; }
        continue;
      }
      if (o === OP_CALL_LOCAL) {
        // frames exhausted: to the out-of-line handler with $pc = -1 - pc (the verified tier has
        // none: the verifier bounds the call depth, as check_max_stack_depth())
        if (verified === undefined) {
          i32c(-1 - pc); lset(PC);
          lget(DEPTH); i32c(MAX_CALL_FRAMES - 1); buf[pos++] = Op.i32_ge_u; buf[pos++] = Op.br_if; u32(depthL() + 1);
        }
        for (let r = 0; r <= 9; r++) get(r);
        lget(DEPTH); i32c(1); buf[pos++] = Op.i32_add; lget(LEFT); i32c(0);
        buf[pos++] = Op.call; u32(funcOf(w1));
        lset(LEFT);
        if (verified === undefined) for (let r = 5; r >= 0; r--) set(r); else set(0);
        continue;
      }
      const loadInfo = LOADS[o];
      if (loadInfo !== undefined) {
        mem(loadInfo[0], access(pc, s, w1, loadInfo[1], ACCESS_LOAD)); set(d);
        continue;
      }
      if (cls === 2 || cls === 3) {
        const size = STORE_SIZE[o & 0x18];
        if ((o & 0xe0) === 0xc0) { // atomic
          access(pc, d, w1, size, ACCESS_ATOMIC, true); buf[pos++] = Op.drop;
          if (shared) {
            lget(ADDR); i32c(size - 1); buf[pos++] = Op.i32_and;
            buf[pos++] = Op.if; buf[pos++] = 0x40; atomicPlain(s, k, size); buf[pos++] = Op.else; atomicShared(s, k, size); buf[pos++] = Op.end;
          } else {
            atomicPlain(s, k, size);
          }
          continue;
        }
        const at0 = access(pc, d, w1, size, ACCESS_STORE);
        if (guardTo > x) guardedFrame(x - segFrom); // (a silent store: access() pushed the frame base)
        if (cls === 2) sx(k); else get(s);
        mem(STORES[size][0], at0);
        continue;
      }
      if (cls === 0 && (o & 0xe0) !== 0) { // LD_ABS / LD_IND into r0, big-endian
        const size = STORE_SIZE[o & 0x18];
        buf[pos++] = Op.global_get; u32(G.pLen); i32c(0); buf[pos++] = Op.i32_lt_s;
        buf[pos++] = Op.if; buf[pos++] = 0x40; fail(FAIL_NO_PACKET, pc, 0); buf[pos++] = Op.end;
        if ((o & 0xe0) === 0x40) { get(s); buf[pos++] = Op.i32_wrap_i64; i32c(k); buf[pos++] = Op.i32_add; } else i32c(k);
        ltee(A32); i32c(0); buf[pos++] = Op.i32_lt_s;
        lget(A32); buf[pos++] = Op.global_get; u32(G.pLen); i32c(size); buf[pos++] = Op.i32_sub; buf[pos++] = Op.i32_gt_s;
        buf[pos++] = Op.i32_or;
        // out of the packet: the program ends with r0 = 0 (a plain return from the main
        // function; from a subprogram through the host, which unwinds)
        buf[pos++] = Op.if; buf[pos++] = 0x40;
        lget(DEPTH); buf[pos++] = Op.i32_eqz;
        buf[pos++] = Op.if; buf[pos++] = 0x40; leave(() => i64c(0, 0)); buf[pos++] = Op.end;
        lget(LEFT); buf[pos++] = Op.global_set; u32(G.left); i32c(HOST_FINISH); i32c(0); i64c(0, 0); i32c(0); buf[pos++] = Op.call; u32(imports.host); buf[pos++] = Op.unreachable;
        buf[pos++] = Op.end;
        buf[pos++] = Op.global_get; u32(G.pAddr); lget(A32); buf[pos++] = Op.i32_add;
        if (size === 1) mem(Op.i32_load8_u, 0);
        else if (size === 2) {
          mem(Op.i32_load16_u, 0); ltee(B32); i32c(8); buf[pos++] = Op.i32_shl; i32c(0xff00); buf[pos++] = Op.i32_and;
          lget(B32); i32c(8); buf[pos++] = Op.i32_shr_u; buf[pos++] = Op.i32_or;
        } else { mem(Op.i32_load, 0); bswap32(); }
        buf[pos++] = Op.i64_extend_i32_u; set(0);
        continue;
      }
      fail(FAIL_TRAP, -1, pc); // unknown internal op (cannot happen for decoded programs)
      terminated = true;
      break;
    }
    if (!terminated) {
      if (carry >= 0) lowerLeft(segSize); // (the block's unchecked last segment)
      const last = slots[slots.length - 1];
      const t = next(last);
      if (blockAt[t] !== cur + 1) jumpTo(t);
    }
    if (blk.selfLoop) buf[pos++] = Op.end;
  }
  room(ROOM);
  buf[pos++] = Op.end; // loop $L
  buf[pos++] = Op.unreachable;
  if (verified === undefined) { // $budget: segment $pc overdrew (or $pc < 0: frames exhausted at insn -1 - $pc); the host names the instruction
    buf[pos++] = Op.end;
    i32c(HOST_FAIL + FAIL_BUDGET); lget(PC); i64c(0, 0); lget(LEFT); buf[pos++] = Op.call; u32(imports.host); buf[pos++] = Op.unreachable;
  }
  if (pos > buf.length) throw new Error('jit: the function emitted more than its room');
  out.bytes(buf.subarray(0, pos));
  return compiled;
}

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
 * `left` is the instruction budget still available. A large entry (regions.ts) is a chain of
 * functions of the entry's type, each continuing in the next with `resume` set.
 *
 * Control flow. A function's reachable slots are split into basic blocks, laid out in slot order
 * inside `loop $L { block $Bn-1 { ... block $B0 { br_table } code0 } code1 ... } coden-1 }`
 * (a label opens only where it must: at its first jump, see findLabels()):
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
 *
 * Files. This one builds the module (imports, globals, the entry `run`, ftop, fastCall); a
 * function body is emit_function.ts's, over one FunctionEmitter (emitter.ts: the per-function
 * state as one object, kept across compiles) with an emitter per instruction class (emit_alu,
 * emit_mem, emit_jump, emit_call), the control flow (emit_cfg) and the budget (emit_segment);
 * layout.ts holds the locals, globals and `host` kinds they share.
 */
import { BpfError } from '../../errors.js';
import { MAX_CALL_FRAMES } from '../../isa/opcodes.js';
import { type DecodedProgram, OP_CALL_LOCAL, OP_TRAP } from '../decode.js';
import { compileFunction, lastLabelDepth, releaseEmitter } from './emit_function.js';
import { emitter } from './emitter.js';
import { REGION_SLOTS, regionCuts } from './regions.js';
import {
  G, G_FR, G_CPU, G_PB, G_PL, GLOBAL_NAMES, HOST_FINISH, HOST_SLOT_FAST, HOST_SLOT_HELPER, HOST_SLOT_HOST, HOST_STOP, type Imports, JUMP_OP, type JitHelperOptions, MAP_LOOKUP,
  TAIL_REGS_AT,
} from './layout.js';
import { ByteWriter, F64, I32, I64, ModuleBuilder, Op, type ValType } from './wasm_writer.js';

export {
  ACCESS_ATOMIC, ACCESS_LOAD, ACCESS_STORE, BPF_FUNC_TAIL_CALL, FAIL_BUDGET, FAIL_NO_PACKET, FAIL_TAIL_SUB, FAIL_TRAP, G, GLOBAL_NAMES,
  HOST_FAIL, HOST_FINISH, HOST_SLOT_FAST, HOST_SLOT_HELPER, HOST_SLOT_HOST, HOST_STOP, TAIL_REGS, TAIL_REGS_AT,
} from './layout.js';
export type { JitHelperOptions, VerifiedTier } from './layout.js';

/** No region cuts (functions other than the entry's chain). */
const NO_CUTS = new Uint8Array(0);

/** V8's limit on the size of one function body. */
const MAX_FUNCTION_BYTES = 7654321;
const FUNC_LOCALS: ValType[] = [I64, I32, I32, I64, I32, I32, I32, I64]; // R10, PC, FB, T1, A32, B32, ADDR, A64

/**
 * fastCall(id, pc, r1..r5) -> (r0, handled): a helper's number form through the `fast` import
 * when r1..r5 are all below 2^53 (exact as doubles). NaN back: not handled (the call site makes
 * the BigInt call); +Inf: r0 is in global `fr`; else r0 = the (integer) double.
 */
function fastCallFunction(mb: ModuleBuilder, imports: Imports): void {
  const f = mb.declareFunc(mb.type([I32, I32, I64, I64, I64, I64, I64], [I64, I32]));
  imports.fastCall = f;
  mb.setBody(f, [F64], fixedBody(`c${imports.fastType}`, () => fastCallBody(imports.fastType)));
}

function fastCallBody(fastType: number): ByteWriter {
  const FT_ = 7;
  const b = new ByteWriter(96);
  b.byte(Op.local_get).u32(2);
  for (let r = 3; r <= 6; r++) b.byte(Op.local_get).u32(r).byte(Op.i64_or);
  b.byte(Op.i64_const).s32(53).byte(Op.i64_shr_u).byte(Op.i64_eqz);
  b.byte(Op.if).byte(0x40);
  b.byte(Op.local_get).u32(0).byte(Op.local_get).u32(1);
  for (let r = 2; r <= 6; r++) b.byte(Op.local_get).u32(r).byte(Op.f64_convert_i64_u);
  b.byte(Op.i32_const).s32(HOST_SLOT_FAST).byte(Op.call_indirect).u32(fastType).byte(0).byte(Op.local_tee).u32(FT_);
  b.byte(Op.local_get).u32(FT_).byte(Op.f64_eq); // not NaN
  b.byte(Op.if).byte(0x40);
  b.byte(Op.local_get).u32(FT_).byte(Op.f64_const).f64(Infinity).byte(Op.f64_eq);
  b.byte(Op.if).byte(I64).byte(Op.global_get).u32(G_FR).byte(Op.else).byte(Op.local_get).u32(FT_).byte(Op.i64_trunc_f64_s).byte(Op.end);
  b.byte(Op.i32_const).s32(1).byte(Op.return);
  b.byte(Op.end);
  b.byte(Op.end);
  b.byte(Op.i64_const).s32(0).byte(Op.i32_const).s32(0);
  return b;
}

/**
 * Bodies that depend only on the module's shape (function and type indices), by a key naming
 * what they depend on: built once, shared by every module of that shape (the module writer
 * copies them), instead of allocated and written per compile.
 */
const fixedBodies = new Map<string, ByteWriter>();
const MAX_FIXED_BODIES = 256;

function fixedBody(key: string, build: () => ByteWriter): ByteWriter {
  let b = fixedBodies.get(key);
  if (b === undefined) {
    if (fixedBodies.size >= MAX_FIXED_BODIES) fixedBodies.clear();
    b = build();
    fixedBodies.set(key, b);
  }
  return b;
}
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

/** Call host(kind, a, b, c), its arguments pushed (as the emitters' callHost()). */
function callHost(b: ByteWriter, imports: Imports): ByteWriter {
  if (imports.host >= 0) return b.byte(Op.call).u32(imports.host);
  return b.byte(Op.i32_const).s32(HOST_SLOT_HOST).byte(Op.call_indirect).u32(imports.hostType).byte(0);
}

/** The most call sites of host() or helper() that call through the table directly. */
const MAX_INDIRECT_SITES = 4;

/** The type of the table's host function at `slot`. */
function tableFuncType(mb: ModuleBuilder, slot: number): number {
  return mb.type(HOST_TYPES[slot].params, HOST_TYPES[slot].results);
}

/** A module function forwarding to the table's host function at `slot`. */
function hostStub(mb: ModuleBuilder, slot: number): number {
  const t = HOST_TYPES[slot];
  const type = tableFuncType(mb, slot);
  const f = mb.declareFunc(type);
  mb.setBody(f, [], fixedBody(`s${slot}:${type}`, () => {
    const b = new ByteWriter(32);
    for (let i = 0; i < t.params.length; i++) b.byte(Op.local_get).u32(i);
    return b.byte(Op.i32_const).s32(slot).byte(Op.call_indirect).u32(type).byte(0);
  }));
  return f;
}

/** Modes of the exported entry function `run` (one export: each costs V8 time per module). */
export const MODE_RUN = 0;
export const MODE_RESUME = 1;
export const MODE_BATCH = 2;
export const MODE_REPEAT = 3;
export const MODE_WARM = 4;

/**
 * bpf_map_lookup_elem call sites where r1 is a constant (an ld_imm64 into r1 earlier in the same
 * straight-line block, r1 not written since): slot -> that constant, the map handle's address
 * when the loader resolved a map reference there. A leader is any jump target or the slot after
 * a jump or exit, over the whole program (a superset of each function's leaders: safe).
 */
export function constantR1AtLookups(prog: DecodedProgram): Map<number, number> {
  const P = prog.code;
  const nslots = P.length >> 2;
  const leader = emitter.slots(nslots).r1Leader; // (the emitter's scratch, zeroed here: no fresh pages per compile)
  leader.fill(0, 0, nslots + 1);
  for (let s = 0; s < nslots; s++) {
    const o = P[s << 2] & 0xfff;
    if (o === 0x18) s++; // (its second slot decodes as a trap)
    else if (JUMP_OP[o] === 1) {
      const t = P[(s << 2) + 1];
      if (t >= 0 && t < nslots) leader[t] = 1;
      leader[s + 1] = 1;
    } else if (o === 0x95 || o === OP_TRAP) leader[s + 1] = 1;
    else if (o === OP_CALL_LOCAL) { const t = P[(s << 2) + 1]; if (t >= 0 && t < nslots) leader[t] = 1; }
  }
  const out = new Map<number, number>();
  let known = -1; // (-1: not known; else an address below 2^32)
  for (let s = 0; s < nslots; s++) {
    if (leader[s] === 1) known = -1;
    const word = P[s << 2];
    const o = word & 0xfff;
    const d = (word >> 12) & 15;
    const c = o & 7;
    if (o === 0x18) {
      // (second slot carries nothing; a constant above 2^32 is no VM address)
      if (d === 1) known = P[(s << 2) + 3] === 0 ? P[(s << 2) + 2] >>> 0 : -1;
      s++;
      continue;
    }
    if (o === 0x85 && P[(s << 2) + 2] === MAP_LOOKUP && known >= 0) out.set(s, known);
    if (o === 0x85 || o === 0x8d || o === OP_CALL_LOCAL) known = -1; // r1..r5 clobbered
    else if ((c === 4 || c === 7 || c === 1 || c === 0) && d === 1) known = -1;
    else if ((o === 0xc3 || o === 0xdb) && ((word >> 16) & 15) === 1) known = -1; // atomic fetch into src
  }
  emitter.dropLarge();
  return out;
}

export interface CompiledModule {
  /** The module (a view of a writer kept across compiles: valid until the next compileModule()). */
  readonly bytes: Uint8Array;
  /** First slot of each budget segment, by segment id. */
  readonly segStart: Int32Array;
  /** Instructions each segment charges (FAIL_BUDGET reports the budget left after the charge). */
  readonly segCount: Int32Array;
  /** Number of functions (entry + local-call targets + the regions a large entry continues in). */
  readonly functions: number;
  /** eBPF instructions (slots reached) compiled. */
  readonly insnCount: number;
  /**
   * No slot of the program writes memory (no store, atomic or helper call): its frames are then
   * left as they are at entry, and the host zeroes them only when another program dirtied them.
   */
  readonly pure: boolean;
  /**
   * Whether prepare()'s MODE_WARM 0 has something to compile (helper, fast call, ftop): the host
   * function is compiled by the zero-budget run, which stops through it.
   */
  readonly warmHosts: boolean;
  /** The most wasm labels open at once in any function (findLabels() keeps it to how far forward jumps overlap). */
  readonly labelDepth: number;
}

/**
 * What a module is compiled for: its memory (shared, pages at most), and whether V8 will compile
 * its functions in parallel (wasm_compile.ts, eagerCompilation(): regions.ts then cuts a
 * mid-sized program in two).
 */
export interface CompileTarget {
  readonly shared: boolean;
  readonly maxPages: number;
  readonly parallel?: boolean;
}

export function compileModule(
  prog: DecodedProgram, entry: number, memory: CompileTarget, mayGotoBudget: number,
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
  let localCalls = false;
  let helperCalls = 0;
  let checkedAccesses = 0; // (loads, stores, atomics, LD_ABS/LD_IND; in the verified tier those not proved in bounds)
  const unchecked = helperOptions.verified?.unchecked;
  for (let t = 0; t < nslots; t++) {
    const o = P[t << 2] & 0xfff;
    const c = o & 7;
    if ((c === 1 || c === 2 || c === 3 || (c === 0 && (o & 0xe0) !== 0 && o !== 0x18)) && unchecked?.[t] !== 1) checkedAccesses++;
    if (o === OP_CALL_LOCAL) localCalls = true;
    else if (o === 0x85 || o === 0x8d) {
      calls = true;
      helperCalls++;
      if (o === 0x85 && helperOptions.fastHelpers?.has(P[(t << 2) + 2]) === true) fastCalls = true;
    } else if (c === 2 || c === 3) stores = true;
    else if (o === 0xe5) hasMayGoto = true;
  }
  const pure = !calls && !stores;
  mb.importTable('env', 'hosts', HOST_SLOTS);
  mb.importMemory('env', 'memory', memory.shared ? { min: 0, max: memory.maxPages, shared: true } : { min: 0, shared: false });
  for (let f = 0; f < MAX_CALL_FRAMES; f++) mb.importGlobal('env', `f${f}`);
  for (const name of Object.keys(G) as (keyof typeof G)[]) if (mb.global(I32) !== G[name]) throw new Error('jit: global layout');
  for (const name of GLOBAL_NAMES) mb.exportGlobal(name, G[name]);
  if (mb.global(I64) !== G_FR || mb.global(I32) !== G_CPU) throw new Error('jit: global layout');
  mb.exportGlobal('fr', G_FR);
  mb.exportGlobal('cpu', G_CPU);
  if (mb.global(I32) !== G_PB || mb.global(I32) !== G_PL) throw new Error('jit: global layout');
  mb.exportGlobal('pb', G_PB);
  mb.exportGlobal('pl', G_PL);
  // A large entry: a chain of functions (regions.ts), each of the main type, continuing in the next
  // (compiled as the entry is: a region is the entry's code).
  const cuts = regionCuts(P, entry, memory.parallel === true) ?? NO_CUTS;
  const hostType = tableFuncType(mb, HOST_SLOT_HOST);
  // host(): a module function where many sites call it (each call_indirect costs Liftoff ~3x a
  // direct call's code: +50% first-call time for big.o's checked tier), else called through the
  // table directly (e.g. a verified program's stop before its first instruction): one function
  // less. Sites: memory checks, and in the checked tier each function's budget handler.
  const checked = unchecked === undefined;
  const hostSites = checkedAccesses + (checked ? 1 : 0);
  const host = hostSites > MAX_INDIRECT_SITES || (checked && (localCalls || cuts !== NO_CUTS)) ? hostStub(mb, HOST_SLOT_HOST) : -1;
  // (likewise helper(); fast() only from fastCall, through the table)
  const helperType = calls ? tableFuncType(mb, HOST_SLOT_HELPER) : -1;
  const helper = helperCalls > MAX_INDIRECT_SITES ? hostStub(mb, HOST_SLOT_HELPER) : -1;
  const fastType = fastCalls ? tableFuncType(mb, HOST_SLOT_FAST) : -1;
  // ftop only where some function can be entered at a depth other than 0 (a local-call target, a
  // region, each warmed by prepare() at depth MAX_CALL_FRAMES): one function less for V8 to
  // validate, set up and compile in most modules
  const fFtop = localCalls || cuts !== NO_CUTS ? mb.declareFunc(tFtop) : -1;
  const imports: Imports = {
    host, hostType, helper, helperType, fastType, count: (host >= 0 ? 1 : 0) + (helper >= 0 ? 1 : 0), fastCall: -1, ftop: fFtop,
  };
  if (fFtop >= 0 && fFtop !== imports.count) throw new Error('jit: function layout');
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
  const contOf = (slot: number): number => {
    let f = funcIndex.get(-1 - slot);
    if (f === undefined) {
      f = mb.declareFunc(tMain);
      funcIndex.set(-1 - slot, f); // (keyed apart from local-call targets: prepare() warms both)
      queue.push({ start: slot, func: f, main: true });
    }
    return f;
  };
  const segStart: number[] = [];
  const segCount: number[] = [];
  let insnCount = 0;
  let labelDepth = 0;
  try {
    for (let q = 0; q < queue.length; q++) {
      const { start, func, main } = queue[q];
      const body = bodyWriter(q, q === 0 ? 64 + Math.min(nslots, 2 * REGION_SLOTS) * 24 : 4096);
      insnCount += compileFunction(P, start, main, body, funcOf, segStart, segCount, memory.shared, pure, helperOptions, imports, main ? cuts : NO_CUTS, contOf);
      labelDepth = Math.max(labelDepth, lastLabelDepth());
      if (body.length > MAX_FUNCTION_BYTES) {
        bodyWriters[q] = new ByteWriter(4096); // (not kept: too big)
        throw new BpfError('E2BIG', `jit: the function at insn #${start} needs ${body.length} bytes of wasm, more than the ${MAX_FUNCTION_BYTES} V8 accepts`);
      }
      mb.setBody(func, FUNC_LOCALS, body);
    }
  } finally {
    releaseEmitter();
  }

  if (fFtop >= 0) mb.setBody(fFtop, [], fixedBody(`t${imports.host}:${imports.hostType}`, () => ftopBody(imports)));
  const run = (): ByteWriter => entryBody(mainFunc, mayGotoBudget, hasMayGoto, imports, fFtop, [...funcIndex.values()]);
  mb.setBody(fRun, RUN_LOCALS, funcIndex.size > 0 ? run() : fixedBody(
    `r${mainFunc}:${mayGotoBudget}:${hasMayGoto ? 1 : 0}:${imports.host}:${imports.hostType}:${imports.helper}:${imports.fastCall}:${fFtop}`, run,
  ));
  const bytes = mb.finish(moduleWriter);
  for (let q = 0; q < queue.length; q++) if (bodyWriters[q].capacity > MAX_KEPT_WRITER) bodyWriters[q] = new ByteWriter(4096);
  if (moduleWriter.capacity > MAX_KEPT_WRITER) { // (the bytes returned stay valid: a new writer takes its place)
    moduleWriter = new ByteWriter(1 << 16);
  }
  return { bytes, segStart: Int32Array.from(segStart), segCount: Int32Array.from(segCount), functions: funcIndex.size, insnCount, pure, labelDepth,
    warmHosts: helper >= 0 || imports.fastCall >= 0 || fFtop >= 0 }; // (as entryBody()'s MODE_WARM 0)
}

/**
 * ftop(depth): the frame top of `depth`, from the imported globals; depth MAX_CALL_FRAMES
 * (prepare()'s call of a function, never a run's) stops at the host, before the function's first
 * instruction.
 */
function ftopBody(imports: Imports): ByteWriter {
  const b = new ByteWriter(128);
  for (let f = 0; f < MAX_CALL_FRAMES; f++) {
    b.byte(Op.local_get).u32(0).byte(Op.i32_const).s32(f).byte(Op.i32_eq);
    b.byte(Op.if).byte(0x40).byte(Op.global_get).u32(f).byte(Op.return).byte(Op.end);
  }
  b.byte(Op.i32_const).s32(HOST_STOP).byte(Op.i32_const).s32(0).byte(Op.i64_const).s32(0).byte(Op.i32_const).s32(0);
  return callHost(b, imports).byte(Op.unreachable);
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
 *                registers r0..r9 where the tail call left them (TAIL_REGS_AT), the frame kept
 *   MODE_BATCH   (n, table, ctx, ctx size, verdicts, budget) -> runs done: for each i < n, entry i
 *                of the table (8 + ctx size bytes: a region [base, size] for the pb/pl cache entry,
 *                then the context image) is applied, the image copied to ctx, a run made with
 *                r1 = ctx (no packet for LD_ABS), r0's low word stored to verdicts[i]. Global
 *                `left` and r0hi as after a run; pLen's global names the run in progress. (The
 *                host checks the regions.)
 *   MODE_REPEAT  (n, r1, budget, packet addr, packet len) -> r0's low word of the last run: n >= 1
 *                runs with r1 = the context, nothing in between (bpf_test_run()'s loop)
 *   MODE_WARM    (k): prepare()'s. k = 0 calls the helper and fastCall functions (harmless
 *                arguments) and ftop, those the module has (host() is compiled by the zero-budget run,
 *                which stops through it);
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
  for (let r = 0; r < 10; r++) b.byte(Op.i32_const).s32(0).byte(Op.i64_load).u32(0).u32(TAIL_REGS_AT + 8 * r);
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
  // MODE_WARM (k = 0 only where there is something to compile: prepare() makes that call only then)
  const warm0 = imports.helper >= 0 || imports.fastCall >= 0 || fFtop >= 0;
  if (warm0) b.byte(Op.local_get).u32(A).byte(Op.i32_eqz).byte(Op.if).byte(0x40);
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
  if (fFtop >= 0) b.byte(Op.i32_const).s32(0).byte(Op.call).u32(fFtop).byte(Op.drop);
  if (warm0) b.byte(Op.end);
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

/** After the main function's call (r0, left): left and r0's high word to globals, r0's low word returned. */
function epilogue(b: ByteWriter, tmp: number): void {
  b.byte(Op.global_set).u32(G.left);
  b.byte(Op.local_tee).u32(tmp).byte(Op.i64_const).s32(32).byte(Op.i64_shr_u).byte(Op.i32_wrap_i64).byte(Op.global_set).u32(G.r0hi);
  b.byte(Op.local_get).u32(tmp).byte(Op.i32_wrap_i64);
}

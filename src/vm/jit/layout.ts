/*
 * The JIT's fixed layout, shared by the module builder (compile.ts) and the function emitters
 * (emit_*.ts): locals of a program function, globals, `host` kinds, the import indices, and what
 * the JIT may take from the VM (helper options, the verified tier). compile.ts re-exports the
 * public part: the host (jit.ts) imports it from there.
 */
import { NULL_GUARD } from '../address_space.js';
import type { ArrayLayout } from '../helpers.js';

// Locals of a program function: parameters r0..r9, depth, left, resume; then the rest.
export const DEPTH = 10;
export const LEFT = 11;
export const RESUME = 12; // entered by a tail call: the frame is kept, not zeroed
export const R10 = 13;
export const PC = 14;
export const FB = 15; // frame base (frame top - 512)
export const T1 = 16; // i64 temporary
export const A32 = 17; // i32 temporaries
export const B32 = 18;
export const ADDR = 19; // checked address
export const A64 = 20; // 64-bit address before checking

/**
 * `host` kinds after the access kinds: HOST_FAIL + FAIL_*, HOST_FINISH, and prepare()'s HOST_STOP
 * (throw: ftop() called with depth MAX_CALL_FRAMES, a function compiled but not run).
 */
export const HOST_FAIL = 8;
export const HOST_FINISH = 16;
export const HOST_STOP = 17;

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
/** The globals the host reads or writes (exported): all but pAddr. */
export const GLOBAL_NAMES = (Object.keys(G) as (keyof typeof G)[]).filter((name) => name !== 'pAddr');
/** Registers a tail call hands over (r0..r10). */
export const TAIL_REGS = 11;
/**
 * Where a tail call hands r0..r10 over (register r at TAIL_REGS_AT + 8 r): in the VM's null guard,
 * memory no program can reach (in no region) and nothing else writes. The module stores them
 * before leaving, the target's MODE_RESUME loads them, with nothing run in between (hence one
 * place per VM, at any nesting level; threads running programs at once on one shared memory would
 * need one each); the host zeroes them after the run (the memory is the
 * interpreter's byte for byte again). As 11 i64 globals they cost V8 time in every module (their
 * initializers decoded, exported at instantiation). (Constant addresses: from an imported global's,
 * Liftoff's code for `run` grows by ~170 bytes, past the page its code space's first page holds
 * for a small program: one more page fault, ~25 us here.)
 */
export const TAIL_REGS_AT = NULL_GUARD - 128;
/** i64 global `fr`: a fast helper's result that does not fit a double (the host returns +Inf). */
export const G_FR = 20;
/** i32 global `cpu`: the current CPU, for inlined PERCPU_ARRAY lookups. */
export const G_CPU = 21;
/**
 * i32 globals `pb`, `pl`: a third cached region for loads and stores, checked after the others
 * and never rotated by the `host` import: what a batch run sets to its packet's region, so the
 * other entries keep the context and map values (the frame when not batching).
 */
export const G_PB = 22;
export const G_PL = 23;
/** Slots of the `env.hosts` table (compile.ts fills the shim's functions into it; modules call through it). */
export const HOST_SLOT_HOST = 0;
export const HOST_SLOT_HELPER = 1;
export const HOST_SLOT_FAST = 2;
/** BPF_FUNC_map_lookup_elem. */
export const MAP_LOOKUP = 1;
/** BPF_FUNC_tail_call: the only helper whose calls check for a scheduled tail call. */
export const BPF_FUNC_TAIL_CALL = 12;

/**
 * The host functions (indices in the module): small module functions that forward to the JS
 * functions through the imported table `env.hosts` (call_indirect, slots HOST_SLOT_*), filled once
 * per process by hostShimModule()'s instance. A module importing JS functions pays V8 about
 * 0.1 ms more to compile and 0.05 ms per signature to instantiate (import wrappers, per module);
 * a table import costs neither. They come first (host, helper, each when the module has it), ftop
 * after them at index `count`. Each is a function only where many call sites call it (a
 * call_indirect costs Liftoff ~3x a direct call's code), else sites call through the table.
 */
export interface Imports {
  /**
   * host(kind, a, b, c): a memory check's slow path (kind ACCESS_*: pc, address, size), a failure
   * (HOST_FAIL + FAIL_*: a, -, c), HOST_FINISH. -1: no such module function, calls go through the
   * table (call_indirect of type `hostType`, slot HOST_SLOT_HOST), as in verified programs with few
   * memory checks (one function less per module).
   */
  readonly host: number;
  readonly hostType: number;
  /**
   * helper(id or callx register, pc, r1..r5) -> r0, a module function, or -1: called through the
   * table (type `helperType`, slot HOST_SLOT_HELPER), as in programs with few helper calls, or none
   * (helperType -1). A negative pc: prepare()'s call, r0 = 0.
   */
  readonly helper: number;
  readonly helperType: number;
  /**
   * The type of fast(id, pc, r1..r5 as f64) -> r0 as f64 (NaN: no number form), which fastCall
   * calls through the table (slot HOST_SLOT_FAST); -1 when not used. A negative pc: prepare()'s call, NaN.
   */
  readonly fastType: number;
  readonly count: number;
  /** ftop(depth) -> frame top (index `count`), or -1: the module has no function entered at a depth other than 0 (its frame top is f0). */
  readonly ftop: number;
  /** The module function wrapping `fast` (fastCallFunction()), when imported. */
  fastCall: number;
}

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
 * 1 at the operations (0..0xfff) isJump() accepts: the per-slot passes read it instead of calling
 * isJump() (a call per slot costs most in a process's first compile, before V8 optimises).
 */
export const JUMP_OP = jumpOps();

function jumpOps(): Uint8Array {
  const t = new Uint8Array(0x1000);
  for (let op = 0; op < 0x100; op++) if (isJump(op)) t[op] = 1;
  return t;
}

/** Jump (conditional or not) that ends a block; targets in word 1. */
export function isJump(op: number): boolean {
  const cls = op & 7;
  if (cls !== 5 && cls !== 6) return false;
  const o = op & 0xf0;
  return op < 0x100 && o !== 0x80 && o !== 0x90; // not call/callx/exit
}

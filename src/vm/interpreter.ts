/*
 * The reference interpreter: eBPF as RFC 9669 and the kernel's ___bpf_prog_run() define it, exact
 * in 64 bits, over the VM's address space.
 *
 * Registers are two Int32Array halves (L = low word, H = high word) so 64-bit add/sub/logic/
 * shifts/compares are done in 32-bit integer math; BigInt appears only on rare paths (64-bit
 * division by a 64-bit operand, helper arguments). The program is pre-decoded once (decode.ts).
 * The loop is one switch case per operation, semantics visible on the line; long operations live
 * in alu64.ts.
 *
 * Programs run unverified: every load/store/atomic is checked against the address space's regions
 * (stores also for writability), through a small cache of the last region hit (the current stack
 * frame, last read region, last written region), and an instruction budget bounds the run. Every
 * failure is a BpfError naming the instruction index.
 *
 * Calls: a local call (call src=1) pushes a fresh zeroed 512-byte frame (at most MAX_CALL_FRAMES,
 * main program included), saving r6-r9 and r10; exit from a subframe returns to the caller.
 * Helper calls pass r1..r5 as unsigned bigints and put the result in r0; r1..r5 are left as they
 * were (the verifier treats them as clobbered). callx calls the helper whose id is in dst.
 * interpret() is re-entrant (a helper may run a callback of the same or another program): each
 * nesting level gets its own registers and stack frames. A helper may also ask for a tail call
 * (HelperCallContext.tailCall): the run continues in the target program, same registers and frame.
 *
 * LD_ABS/LD_IND read options.packet big-endian; out of bounds ends the program with r0 = 0.
 * may_goto falls through until the kernel's loop budget (8M) is spent, then jumps. Stack frames
 * are zeroed on entry so results never depend on a previous run.
 *
 * The state of a run lives in a Machine, so a run can pause after any number of instructions:
 * interpret() runs one to the end, Execution (the debugger's handle) steps it.
 */
import { BpfError, type ErrnoName } from '../errors.js';
import type { Insn } from '../isa/insn.js';
import { MAX_BPF_STACK, MAX_CALL_FRAMES } from '../isa/opcodes.js';
import type { AddressSpace } from './address_space.js';
import {
  arsh64, bswap16, bswap32, divU64, gtS64, gtU64, lsh64, modU64, mul64, neg64, rsh64, sdiv32,
  sdiv64, smod32, smod64, toU64,
} from './alu64.js';
import { atomic32, atomic64 } from './atomic.js';
import { decodeForInterpreter, type DecodedProgram } from './decode.js';
import type { HelperCallContext, Region, RunOptions, RunResult } from './types.js';
import type { Vm } from './vm.js';

export const DEFAULT_BUDGET = 1_000_000;
/** Budgets are clamped to this (the loop counts in int32). */
export const MAX_BUDGET = 0x7fffffff;
/** may_goto's loop budget, as the kernel's BPF_MAX_LOOPS. */
export const MAY_GOTO_BUDGET = 8 * 1024 * 1024;

/**
 * Everything one run needs, resumable: registers, call frames, position, budget. interpret() keeps
 * one per nesting level on each Vm and reuses it; an Execution owns one and steps it.
 */
interface Machine {
  readonly vm: Vm;
  readonly L: Int32Array;
  readonly H: Int32Array;
  /** Per frame: return slot, then r6..r10 as (lo, hi) pairs. */
  readonly save: Int32Array;
  readonly frames: readonly Region[];
  /** Views of the memory, kept across runs (re-made when the memory grows). */
  buf: ArrayBuffer | SharedArrayBuffer;
  u8: Uint8Array;
  dv: DataView;
  insns: readonly Insn[];
  prog: DecodedProgram;
  /** Next slot to execute. */
  pc: number;
  /** Call depth (0 = main program). */
  frame: number;
  budget: number;
  executed: number;
  mayGoto: number;
  /** LD_ABS/LD_IND packet; pLen < 0: none. */
  pAddr: number;
  pLen: number;
  /** What helpers see; one per machine, updated before each call. */
  readonly ctx: HelperContext;
  tailCalls: number;
  tailTarget: readonly Insn[] | undefined;
}

/** As the kernel's MAX_TAIL_CALL_CNT. */
export const MAX_TAIL_CALL_CNT = 33;

class HelperContext implements HelperCallContext {
  readonly vm: Vm;
  pc = 0;
  insns: readonly Insn[] = EMPTY;
  machine: Machine | undefined;

  constructor(vm: Vm) {
    this.vm = vm;
  }

  tailCall(insns: readonly Insn[]): boolean {
    const m = this.machine;
    if (m === undefined || m.tailCalls >= MAX_TAIL_CALL_CNT) return false;
    m.tailTarget = insns;
    return true;
  }
}

interface VmRunStates {
  depth: number;
  readonly levels: Machine[];
}

const SAVE_STRIDE = 11;
const MAX_NESTED_RUNS = 8;
const vmStates = new WeakMap<Vm, VmRunStates>();
const EMPTY: readonly Insn[] = [];

function newMachine(vm: Vm, stackName: (frame: number) => string): Machine {
  // Deeper frames at lower addresses, as a machine stack grows down.
  const frames: Region[] = new Array(MAX_CALL_FRAMES);
  for (let f = MAX_CALL_FRAMES - 1; f >= 0; f--) frames[f] = vm.space.alloc(MAX_BPF_STACK, stackName(f), { align: 16 });
  const buf = vm.space.memory.buffer;
  const m: Machine = {
    vm, L: new Int32Array(11), H: new Int32Array(11), save: new Int32Array(MAX_CALL_FRAMES * SAVE_STRIDE), frames,
    buf, u8: new Uint8Array(buf), dv: new DataView(buf),
    insns: EMPTY, prog: decodeForInterpreter(EMPTY), pc: 0, frame: 0, budget: 0, executed: 0, mayGoto: 0, pAddr: 0, pLen: -1,
    ctx: new HelperContext(vm), tailCalls: 0, tailTarget: undefined,
  };
  m.ctx.machine = m;
  return m;
}

/** 'stack' for the main frame, 'stack[2]' for the frame of the 2nd nested call ('stack[1:2]' in a nested run). */
function levelStackName(level: number): (frame: number) => string {
  if (level === 0) return (f) => (f === 0 ? 'stack' : `stack[${f}]`);
  return (f) => `stack[${level}:${f}]`;
}

/** Load a program and its options into a machine: registers from args, fresh main frame. */
function startMachine(m: Machine, insns: readonly Insn[], options: RunOptions): void {
  const { L, H } = m;
  const space = m.vm.space;
  m.insns = insns;
  m.prog = decodeForInterpreter(insns);
  for (let r = 0; r < 11; r++) {
    L[r] = 0;
    H[r] = 0;
  }
  const args = options.args;
  if (args !== undefined) {
    for (let r = 1; r <= 5 && r <= args.length; r++) {
      const v = args[r - 1];
      const n = Number(v);
      if (n >= 0 && n <= Number.MAX_SAFE_INTEGER) {
        L[r] = n; // wraps to the low word
        H[r] = n / 4294967296; // truncated to the high word
      } else {
        const u = BigInt.asUintN(64, v);
        L[r] = Number(u & 0xffffffffn);
        H[r] = Number(u >> 32n);
      }
    }
  }
  // A non-shared memory's old buffer is detached (length 0) when it grows; a shared one keeps
  // its length, so it is re-fetched every run.
  if (m.buf.byteLength === 0 || isShared(m.buf)) refreshViews(space, m);
  m.frame = 0;
  const top = m.frames[0].addr + MAX_BPF_STACK;
  m.u8.fill(0, top - MAX_BPF_STACK, top);
  L[10] = top;
  m.pAddr = 0;
  m.pLen = -1;
  if (options.packet !== undefined) {
    const { addr, len } = options.packet;
    const why = len > 0 ? space.accessError(addr, len, false) : undefined;
    if (why !== undefined || !Number.isInteger(len) || len < 0) fail('EFAULT', `interpret: invalid packet: ${why ?? `length ${len}`}`);
    m.pAddr = addr;
    m.pLen = len;
  }
  const budget = options.budget ?? DEFAULT_BUDGET;
  if (!(budget >= 0)) fail('EINVAL', `interpret: invalid instruction budget ${budget}`);
  m.budget = Math.min(Math.floor(budget), MAX_BUDGET);
  m.executed = 0;
  m.mayGoto = MAY_GOTO_BUDGET;
  m.tailCalls = 0;
  m.tailTarget = undefined;
  const entry = options.entry ?? 0;
  if (!Number.isInteger(entry) || entry < 0 || entry >= m.prog.length) fail('EINVAL', `interpret: entry ${entry} is outside the program`);
  m.pc = entry;
}

function isShared(buf: ArrayBuffer | SharedArrayBuffer): boolean {
  return typeof SharedArrayBuffer !== 'undefined' && buf instanceof SharedArrayBuffer;
}

/** Run `insns` on `vm` until exit from the main frame; r0 is the result. */
export function interpret(vm: Vm, insns: readonly Insn[], options: RunOptions = {}): RunResult {
  let states = vmStates.get(vm);
  if (states === undefined) {
    states = { depth: 0, levels: [] };
    vmStates.set(vm, states);
  }
  const level = states.depth;
  if (level >= MAX_NESTED_RUNS) fail('E2BIG', `interpret: more than ${MAX_NESTED_RUNS} nested runs on one VM`);
  const m = states.levels[level] ?? (states.levels[level] = newMachine(vm, levelStackName(level)));
  startMachine(m, insns, options);
  states.depth++;
  try {
    return execute(m, Infinity) as RunResult;
  } finally {
    states.depth--;
  }
}

/**
 * A run that can be stepped (the debugger's view of the interpreter): it owns its registers and
 * stack frames, executes `step(n)` instructions at a time, and exposes pc and registers between
 * steps. After an error, every further step throws that error again. dispose() frees its stack.
 */
export class Execution {
  readonly vm: Vm;
  private readonly m: Machine;
  private finished: RunResult | undefined;
  private error: unknown;

  constructor(vm: Vm, insns: readonly Insn[], options: RunOptions = {}) {
    this.vm = vm;
    this.m = newMachine(vm, (f) => `exec stack[${f}]`);
    startMachine(this.m, insns, options);
  }

  get insns(): readonly Insn[] {
    return this.m.insns;
  }

  /** The next instruction to execute (the exit or fault instruction once finished). */
  get pc(): number {
    return this.m.pc;
  }

  /** Call depth: 0 in the main program, 1 in a subprogram it called, ... */
  get callDepth(): number {
    return this.m.frame;
  }

  get insnCount(): number {
    return this.m.executed;
  }

  /** The result once the program has exited. */
  get result(): RunResult | undefined {
    return this.finished;
  }

  /** Register r0..r10 as an unsigned 64-bit value. */
  reg(r: number): bigint {
    return toU64(this.m.H[r], this.m.L[r]);
  }

  setReg(r: number, value: bigint): void {
    const v = BigInt.asUintN(64, value);
    this.m.L[r] = Number(v & 0xffffffffn);
    this.m.H[r] = Number(v >> 32n);
  }

  /** Execute up to n instructions; the result if the program exited. */
  step(n = 1): RunResult | undefined {
    n = Math.max(0, Math.min(Math.floor(n), MAX_BUDGET));
    if (this.error !== undefined) throw this.error;
    if (this.finished !== undefined) return this.finished;
    try {
      this.finished = execute(this.m, n);
    } catch (e) {
      this.error = e;
      throw e;
    }
    return this.finished;
  }

  /** Run to the end (or the budget). */
  run(): RunResult {
    if (this.error !== undefined) throw this.error;
    if (this.finished !== undefined) return this.finished;
    try {
      this.finished = execute(this.m, Infinity) as RunResult;
    } catch (e) {
      this.error = e;
      throw e;
    }
    return this.finished;
  }

  dispose(): void {
    for (const f of this.m.frames) this.vm.space.free(f);
  }
}

// Access kinds for error messages.
const LOAD = 0;
const STORE = 1;
const ATOMIC = 2;
const ACCESS_NAMES = ['load', 'store', 'atomic access'];

/**
 * The slow path of every memory check: the region holding [addr, addr + size), or a BpfError
 * naming the instruction. `hi` is the high word of the 64-bit address (non-zero: no region).
 */
function accessRegion(space: AddressSpace, hi: number, addr: number, size: number, kind: number, pc: number): Region {
  if (hi === 0 && addr >= 0) {
    const region = space.regionAt(addr);
    if (region !== undefined && addr + size <= region.addr + region.size && (kind === LOAD || region.writable)) {
      return region;
    }
  }
  // the 64-bit address: hi:0 plus the (possibly negative or >= 2^32) low part
  const full = BigInt.asUintN(64, (BigInt(hi) << 32n) + BigInt(addr));
  const why = (full <= BigInt(Number.MAX_SAFE_INTEGER) ? space.accessError(Number(full), size, kind !== LOAD) : undefined) ??
    `addr 0x${full.toString(16)}, size ${size}, no region`;
  throw new BpfError('EFAULT', `out of bounds memory ${ACCESS_NAMES[kind]} (insn #${pc}): ${why}`);
}

function refreshViews(space: AddressSpace, m: Machine): void {
  const buf = space.memory.buffer;
  if (buf !== m.buf) {
    m.buf = buf;
    m.u8 = new Uint8Array(buf);
    m.dv = new DataView(buf);
  }
}

function fail(code: ErrnoName, message: string): never {
  throw new BpfError(code, message);
}

/**
 * The interpreter loop: run `m` until it exits (returns the result) or `maxSteps` instructions
 * have run (saves the position and returns undefined). The step limit and the budget share one
 * counter, so pausing costs nothing per instruction.
 */
function execute(m: Machine, maxSteps: number): RunResult | undefined {
  let P = m.prog.code;
  const { vm, L, H, save, frames, ctx } = m;
  const space = vm.space;
  const helpers = vm.helpers;
  const shared = isShared(m.buf);
  if (shared || m.buf.byteLength === 0) refreshViews(space, m);
  let u8 = m.u8;
  let dv = m.dv;
  let gen = space.generation;
  let frame = m.frame;
  let fLo = frames[frame].addr; // current frame [fLo, fHi)
  let fHi = fLo + MAX_BPF_STACK;
  // Region cache besides the frame: the last two regions read [rLo, rHi), [qLo, qHi) (e.g. the
  // context and the packet) and the last region written [wLo, wHi).
  let rLo = 0;
  let rHi = 0;
  let qLo = 0;
  let qHi = 0;
  let wLo = 0;
  let wHi = 0;
  let rg: Region;
  let a = 0; // memory address
  let t = 0; // ALU temporary
  const pAddr = m.pAddr;
  const pLen = m.pLen;
  const budgetLeft = m.budget - m.executed;
  const budgetBinds = maxSteps > budgetLeft;
  const steps = (budgetBinds ? budgetLeft : maxSteps) | 0; // an int32 counter in the loop
  let left = steps;
  let mayGoto = m.mayGoto;
  let pc = m.pc;

  for (;;) {
    const i = pc << 2;
    const w = P[i];
    const d = (w >> 12) & 15;
    const s = (w >> 16) & 15;
    const k = P[i + 2];
    if (--left < 0) {
      m.executed += steps;
      if (budgetBinds) fail('ELOOP', `instruction budget of ${m.budget} exceeded (insn #${pc})`);
      m.pc = pc; // pause before slot pc
      m.frame = frame;
      m.mayGoto = mayGoto;
      return undefined;
    }
    pc++;
    switch (w & 0xfff) {
      // ---- ALU64: dst = dst OP src|imm (imm sign-extended to 64 bits) ----
      case 0x07: t = (L[d] >>> 0) + (k >>> 0); L[d] = t; H[d] = H[d] + (k >> 31) + (t > 0xffffffff ? 1 : 0); break; // add
      case 0x0f: t = (L[d] >>> 0) + (L[s] >>> 0); L[d] = t; H[d] = H[d] + H[s] + (t > 0xffffffff ? 1 : 0); break;
      case 0x17: t = (L[d] >>> 0) - (k >>> 0); L[d] = t; H[d] = H[d] - (k >> 31) - (t < 0 ? 1 : 0); break; // sub
      case 0x1f: t = (L[d] >>> 0) - (L[s] >>> 0); L[d] = t; H[d] = H[d] - H[s] - (t < 0 ? 1 : 0); break;
      case 0x27: mul64(L, H, d, k >> 31, k); break; // mul
      case 0x2f: mul64(L, H, d, H[s], L[s]); break;
      case 0x37: divU64(L, H, d, k >> 31, k); break; // div (unsigned; by 0 gives 0)
      case 0x3f: divU64(L, H, d, H[s], L[s]); break;
      case 0x137: sdiv64(L, H, d, k >> 31, k); break; // sdiv (off 1)
      case 0x13f: sdiv64(L, H, d, H[s], L[s]); break;
      case 0x47: L[d] |= k; H[d] |= k >> 31; break; // or
      case 0x4f: L[d] |= L[s]; H[d] |= H[s]; break;
      case 0x57: L[d] &= k; H[d] &= k >> 31; break; // and
      case 0x5f: L[d] &= L[s]; H[d] &= H[s]; break;
      case 0x67: lsh64(L, H, d, k & 63); break; // lsh (amount masked to 6 bits)
      case 0x6f: lsh64(L, H, d, L[s] & 63); break;
      case 0x77: rsh64(L, H, d, k & 63); break; // rsh
      case 0x7f: rsh64(L, H, d, L[s] & 63); break;
      case 0x87: neg64(L, H, d); break; // neg
      case 0x97: modU64(L, H, d, k >> 31, k); break; // mod (unsigned; by 0 keeps dst)
      case 0x9f: modU64(L, H, d, H[s], L[s]); break;
      case 0x197: smod64(L, H, d, k >> 31, k); break; // smod (off 1)
      case 0x19f: smod64(L, H, d, H[s], L[s]); break;
      case 0xa7: L[d] ^= k; H[d] ^= k >> 31; break; // xor
      case 0xaf: L[d] ^= L[s]; H[d] ^= H[s]; break;
      case 0xb7: L[d] = k; H[d] = k >> 31; break; // mov
      case 0xbf: L[d] = L[s]; H[d] = H[s]; break;
      case 0x1bf: t = (L[s] << 24) >> 24; L[d] = t; H[d] = t >> 31; break; // movsx 8
      case 0x2bf: t = (L[s] << 16) >> 16; L[d] = t; H[d] = t >> 31; break; // movsx 16
      case 0x3bf: t = L[s]; L[d] = t; H[d] = t >> 31; break; // movsx 32
      case 0xc7: arsh64(L, H, d, k & 63); break; // arsh
      case 0xcf: arsh64(L, H, d, L[s] & 63); break;
      case 0x1d7: L[d] = bswap16(L[d]); H[d] = 0; break; // bswap16
      case 0x2d7: L[d] = bswap32(L[d]); H[d] = 0; break; // bswap32
      case 0x3d7: t = L[d]; L[d] = bswap32(H[d]); H[d] = bswap32(t); break; // bswap64

      // ---- ALU (32-bit): dst = (u32)(dst OP src|imm), upper half zeroed ----
      case 0x04: L[d] = L[d] + k; H[d] = 0; break; // add32
      case 0x0c: L[d] = L[d] + L[s]; H[d] = 0; break;
      case 0x14: L[d] = L[d] - k; H[d] = 0; break; // sub32
      case 0x1c: L[d] = L[d] - L[s]; H[d] = 0; break;
      case 0x24: L[d] = Math.imul(L[d], k); H[d] = 0; break; // mul32
      case 0x2c: L[d] = Math.imul(L[d], L[s]); H[d] = 0; break;
      case 0x34: L[d] = k === 0 ? 0 : (L[d] >>> 0) / (k >>> 0); H[d] = 0; break; // div32
      case 0x3c: t = L[s]; L[d] = t === 0 ? 0 : (L[d] >>> 0) / (t >>> 0); H[d] = 0; break;
      case 0x134: L[d] = sdiv32(L[d], k); H[d] = 0; break; // sdiv32
      case 0x13c: L[d] = sdiv32(L[d], L[s]); H[d] = 0; break;
      case 0x44: L[d] |= k; H[d] = 0; break; // or32
      case 0x4c: L[d] |= L[s]; H[d] = 0; break;
      case 0x54: L[d] &= k; H[d] = 0; break; // and32
      case 0x5c: L[d] &= L[s]; H[d] = 0; break;
      case 0x64: L[d] <<= k & 31; H[d] = 0; break; // lsh32
      case 0x6c: L[d] <<= L[s] & 31; H[d] = 0; break;
      case 0x74: L[d] = L[d] >>> (k & 31); H[d] = 0; break; // rsh32
      case 0x7c: L[d] = L[d] >>> (L[s] & 31); H[d] = 0; break;
      case 0x84: L[d] = -L[d]; H[d] = 0; break; // neg32
      case 0x94: if (k !== 0) L[d] = (L[d] >>> 0) % (k >>> 0); H[d] = 0; break; // mod32 (by 0 keeps dst)
      case 0x9c: t = L[s]; if (t !== 0) L[d] = (L[d] >>> 0) % (t >>> 0); H[d] = 0; break;
      case 0x194: L[d] = smod32(L[d], k); H[d] = 0; break; // smod32
      case 0x19c: L[d] = smod32(L[d], L[s]); H[d] = 0; break;
      case 0xa4: L[d] ^= k; H[d] = 0; break; // xor32
      case 0xac: L[d] ^= L[s]; H[d] = 0; break;
      case 0xb4: L[d] = k; H[d] = 0; break; // mov32
      case 0xbc: L[d] = L[s]; H[d] = 0; break;
      case 0x1bc: L[d] = (L[s] << 24) >> 24; H[d] = 0; break; // movsx32 8
      case 0x2bc: L[d] = (L[s] << 16) >> 16; H[d] = 0; break; // movsx32 16
      case 0xc4: L[d] >>= k & 31; H[d] = 0; break; // arsh32
      case 0xcc: L[d] >>= L[s] & 31; H[d] = 0; break;
      case 0x1d4: L[d] &= 0xffff; H[d] = 0; break; // le16 (host order is little-endian)
      case 0x2d4: H[d] = 0; break; // le32
      case 0x3d4: break; // le64
      case 0x1dc: L[d] = bswap16(L[d]); H[d] = 0; break; // be16
      case 0x2dc: L[d] = bswap32(L[d]); H[d] = 0; break; // be32
      case 0x3dc: t = L[d]; L[d] = bswap32(H[d]); H[d] = bswap32(t); break; // be64

      // ---- JMP: 64-bit compares (imm sign-extended); word 1 is the target slot ----
      case 0x05: pc = P[i + 1]; break; // goto / gotol
      case 0x15: if (L[d] === k && H[d] === k >> 31) pc = P[i + 1]; break; // jeq
      case 0x1d: if (L[d] === L[s] && H[d] === H[s]) pc = P[i + 1]; break;
      case 0x55: if (L[d] !== k || H[d] !== k >> 31) pc = P[i + 1]; break; // jne
      case 0x5d: if (L[d] !== L[s] || H[d] !== H[s]) pc = P[i + 1]; break;
      case 0x45: if ((L[d] & k) !== 0 || (H[d] & (k >> 31)) !== 0) pc = P[i + 1]; break; // jset
      case 0x4d: if ((L[d] & L[s]) !== 0 || (H[d] & H[s]) !== 0) pc = P[i + 1]; break;
      case 0x25: if (gtU64(H[d], L[d], k >> 31, k)) pc = P[i + 1]; break; // jgt
      case 0x2d: if (gtU64(H[d], L[d], H[s], L[s])) pc = P[i + 1]; break;
      case 0x35: if (!gtU64(k >> 31, k, H[d], L[d])) pc = P[i + 1]; break; // jge
      case 0x3d: if (!gtU64(H[s], L[s], H[d], L[d])) pc = P[i + 1]; break;
      case 0xa5: if (gtU64(k >> 31, k, H[d], L[d])) pc = P[i + 1]; break; // jlt
      case 0xad: if (gtU64(H[s], L[s], H[d], L[d])) pc = P[i + 1]; break;
      case 0xb5: if (!gtU64(H[d], L[d], k >> 31, k)) pc = P[i + 1]; break; // jle
      case 0xbd: if (!gtU64(H[d], L[d], H[s], L[s])) pc = P[i + 1]; break;
      case 0x65: if (gtS64(H[d], L[d], k >> 31, k)) pc = P[i + 1]; break; // jsgt
      case 0x6d: if (gtS64(H[d], L[d], H[s], L[s])) pc = P[i + 1]; break;
      case 0x75: if (!gtS64(k >> 31, k, H[d], L[d])) pc = P[i + 1]; break; // jsge
      case 0x7d: if (!gtS64(H[s], L[s], H[d], L[d])) pc = P[i + 1]; break;
      case 0xc5: if (gtS64(k >> 31, k, H[d], L[d])) pc = P[i + 1]; break; // jslt
      case 0xcd: if (gtS64(H[s], L[s], H[d], L[d])) pc = P[i + 1]; break;
      case 0xd5: if (!gtS64(H[d], L[d], k >> 31, k)) pc = P[i + 1]; break; // jsle
      case 0xdd: if (!gtS64(H[d], L[d], H[s], L[s])) pc = P[i + 1]; break;
      case 0xe5: if (mayGoto-- <= 0) { mayGoto = 0; pc = P[i + 1]; } break; // may_goto: jump once the loop budget is spent

      // ---- JMP32: compares of the low 32 bits ----
      case 0x16: if (L[d] === k) pc = P[i + 1]; break; // jeq32
      case 0x1e: if (L[d] === L[s]) pc = P[i + 1]; break;
      case 0x56: if (L[d] !== k) pc = P[i + 1]; break; // jne32
      case 0x5e: if (L[d] !== L[s]) pc = P[i + 1]; break;
      case 0x46: if ((L[d] & k) !== 0) pc = P[i + 1]; break; // jset32
      case 0x4e: if ((L[d] & L[s]) !== 0) pc = P[i + 1]; break;
      case 0x26: if ((L[d] >>> 0) > (k >>> 0)) pc = P[i + 1]; break; // jgt32
      case 0x2e: if ((L[d] >>> 0) > (L[s] >>> 0)) pc = P[i + 1]; break;
      case 0x36: if ((L[d] >>> 0) >= (k >>> 0)) pc = P[i + 1]; break; // jge32
      case 0x3e: if ((L[d] >>> 0) >= (L[s] >>> 0)) pc = P[i + 1]; break;
      case 0xa6: if ((L[d] >>> 0) < (k >>> 0)) pc = P[i + 1]; break; // jlt32
      case 0xae: if ((L[d] >>> 0) < (L[s] >>> 0)) pc = P[i + 1]; break;
      case 0xb6: if ((L[d] >>> 0) <= (k >>> 0)) pc = P[i + 1]; break; // jle32
      case 0xbe: if ((L[d] >>> 0) <= (L[s] >>> 0)) pc = P[i + 1]; break;
      case 0x66: if (L[d] > k) pc = P[i + 1]; break; // jsgt32
      case 0x6e: if (L[d] > L[s]) pc = P[i + 1]; break;
      case 0x76: if (L[d] >= k) pc = P[i + 1]; break; // jsge32
      case 0x7e: if (L[d] >= L[s]) pc = P[i + 1]; break;
      case 0xc6: if (L[d] < k) pc = P[i + 1]; break; // jslt32
      case 0xce: if (L[d] < L[s]) pc = P[i + 1]; break;
      case 0xd6: if (L[d] <= k) pc = P[i + 1]; break; // jsle32
      case 0xde: if (L[d] <= L[s]) pc = P[i + 1]; break;

      // ---- calls and exit ----
      case 0x85: // call helper imm
      case 0x8d: { // callx: helper id in dst
        const id = (w & 0xfff) === 0x85 ? k : H[d] === 0 ? L[d] : -1;
        const helper = id >= 0 ? helpers.get(id) : undefined;
        if (helper === undefined) {
          fail('EINVAL', `invalid func unknown#${(w & 0xfff) === 0x85 ? k : toU64(H[d], L[d])} (insn #${pc - 1})`);
        }
        ctx.pc = pc - 1;
        ctx.insns = m.insns;
        const r = helper.fn(ctx, toU64(H[1], L[1]), toU64(H[2], L[2]), toU64(H[3], L[3]), toU64(H[4], L[4]), toU64(H[5], L[5]));
        if (m.tailTarget !== undefined) { // bpf_tail_call: continue in the target program, same frame
          const target = m.tailTarget;
          m.tailTarget = undefined;
          if (frame !== 0) fail('ENOTSUPP', `tail call from a subprogram is not supported (insn #${pc - 1})`);
          m.tailCalls++;
          m.insns = target;
          m.prog = decodeForInterpreter(target);
          P = m.prog.code;
          pc = 0;
        } else {
          // (a plain-JS helper may return a number: accept it)
          const n = Number(r);
          if (n >= 0 && n <= Number.MAX_SAFE_INTEGER && Number.isInteger(n)) {
            L[0] = n; // wraps to the low word
            H[0] = n / 4294967296; // truncated to the high word
          } else {
            if (typeof r !== 'bigint' && !Number.isFinite(n)) {
              fail('EINVAL', `helper ${helper.name} returned ${String(r)}, not a 64-bit value (insn #${pc - 1})`);
            }
            const r64 = typeof r === 'bigint' ? r : BigInt(Math.trunc(n));
            L[0] = Number(BigInt.asIntN(32, r64));
            H[0] = Number(BigInt.asIntN(32, r64 >> 32n));
          }
        }
        if (shared || m.buf.byteLength === 0) {
          refreshViews(space, m);
          u8 = m.u8;
          dv = m.dv;
        }
        if (space.generation !== gen) { // regions were allocated or freed: forget cached bounds
          gen = space.generation;
          rLo = rHi = qLo = qHi = wLo = wHi = 0;
        }
        break;
      }
      case 0x185: { // call local (bpf-to-bpf): new frame, r6-r9 and r10 saved
        if (frame === MAX_CALL_FRAMES - 1) {
          fail('E2BIG', `stack frames exhausted: more than ${MAX_CALL_FRAMES} nested calls (insn #${pc - 1})`);
        }
        const b = frame * SAVE_STRIDE;
        save[b] = pc;
        save[b + 1] = L[6]; save[b + 2] = H[6]; save[b + 3] = L[7]; save[b + 4] = H[7];
        save[b + 5] = L[8]; save[b + 6] = H[8]; save[b + 7] = L[9]; save[b + 8] = H[9];
        save[b + 9] = L[10]; save[b + 10] = H[10];
        frame++;
        fLo = frames[frame].addr;
        fHi = fLo + MAX_BPF_STACK;
        u8.fill(0, fLo, fHi);
        L[10] = fHi;
        H[10] = 0;
        pc = P[i + 1];
        break;
      }
      case 0x95: { // exit
        if (frame === 0) {
          m.executed += steps - left;
          m.pc = pc - 1;
          return { r0: toU64(H[0], L[0]), insnCount: m.executed };
        }
        frame--;
        const b = frame * SAVE_STRIDE;
        pc = save[b];
        L[6] = save[b + 1]; H[6] = save[b + 2]; L[7] = save[b + 3]; H[7] = save[b + 4];
        L[8] = save[b + 5]; H[8] = save[b + 6]; L[9] = save[b + 7]; H[9] = save[b + 8];
        L[10] = save[b + 9]; H[10] = save[b + 10];
        fLo = frames[frame].addr;
        fHi = fLo + MAX_BPF_STACK;
        break;
      }

      // ---- ld_imm64 (plain constant; pseudo forms are resolved by the loader) ----
      case 0x18: L[d] = k; H[d] = P[i + 3]; pc++; break;

      // ---- LD_ABS / LD_IND: big-endian packet loads into r0; out of bounds ends the program with r0 = 0 ----
      case 0x20: case 0x28: case 0x30: case 0x40: case 0x48: case 0x50: {
        const size = (w & 0x18) === 0 ? 4 : (w & 0x18) === 0x08 ? 2 : 1;
        const o = (w & 0x40) !== 0 ? (L[s] + k) | 0 : k;
        if (pLen < 0) fail('EINVAL', `LD_ABS/LD_IND without a packet (insn #${pc - 1}): pass options.packet`);
        if (o < 0 || o + size > pLen) {
          m.executed += steps - left;
          m.pc = pc - 1;
          L[0] = 0;
          H[0] = 0;
          return { r0: 0n, insnCount: m.executed };
        }
        a = pAddr + o;
        L[0] = size === 4 ? dv.getInt32(a, false) : size === 2 ? dv.getUint16(a, false) : u8[a];
        H[0] = 0;
        break;
      }

      // ---- LDX: dst = *(size *)(src + off), checked ----
      case 0x71: // ldxb
        a = (L[s] >>> 0) + P[i + 1];
        if (H[s] !== 0 || ((a < fLo || a + 1 > fHi) && (a < rLo || a + 1 > rHi) && (a < qLo || a + 1 > qHi))) {
          rg = accessRegion(space, H[s], a, 1, LOAD, pc - 1); qLo = rLo; qHi = rHi; rLo = rg.addr; rHi = rLo + rg.size;
        }
        L[d] = u8[a]; H[d] = 0; break;
      case 0x69: // ldxh
        a = (L[s] >>> 0) + P[i + 1];
        if (H[s] !== 0 || ((a < fLo || a + 2 > fHi) && (a < rLo || a + 2 > rHi) && (a < qLo || a + 2 > qHi))) {
          rg = accessRegion(space, H[s], a, 2, LOAD, pc - 1); qLo = rLo; qHi = rHi; rLo = rg.addr; rHi = rLo + rg.size;
        }
        L[d] = dv.getUint16(a, true); H[d] = 0; break;
      case 0x61: // ldxw
        a = (L[s] >>> 0) + P[i + 1];
        if (H[s] !== 0 || ((a < fLo || a + 4 > fHi) && (a < rLo || a + 4 > rHi) && (a < qLo || a + 4 > qHi))) {
          rg = accessRegion(space, H[s], a, 4, LOAD, pc - 1); qLo = rLo; qHi = rHi; rLo = rg.addr; rHi = rLo + rg.size;
        }
        L[d] = dv.getInt32(a, true); H[d] = 0; break;
      case 0x79: // ldxdw
        a = (L[s] >>> 0) + P[i + 1];
        if (H[s] !== 0 || ((a < fLo || a + 8 > fHi) && (a < rLo || a + 8 > rHi) && (a < qLo || a + 8 > qHi))) {
          rg = accessRegion(space, H[s], a, 8, LOAD, pc - 1); qLo = rLo; qHi = rHi; rLo = rg.addr; rHi = rLo + rg.size;
        }
        L[d] = dv.getInt32(a, true); H[d] = dv.getInt32(a + 4, true); break;
      case 0x91: // ldxsb: sign-extending
        a = (L[s] >>> 0) + P[i + 1];
        if (H[s] !== 0 || ((a < fLo || a + 1 > fHi) && (a < rLo || a + 1 > rHi) && (a < qLo || a + 1 > qHi))) {
          rg = accessRegion(space, H[s], a, 1, LOAD, pc - 1); qLo = rLo; qHi = rHi; rLo = rg.addr; rHi = rLo + rg.size;
        }
        a = dv.getInt8(a); L[d] = a; H[d] = a >> 31; break;
      case 0x89: // ldxsh
        a = (L[s] >>> 0) + P[i + 1];
        if (H[s] !== 0 || ((a < fLo || a + 2 > fHi) && (a < rLo || a + 2 > rHi) && (a < qLo || a + 2 > qHi))) {
          rg = accessRegion(space, H[s], a, 2, LOAD, pc - 1); qLo = rLo; qHi = rHi; rLo = rg.addr; rHi = rLo + rg.size;
        }
        a = dv.getInt16(a, true); L[d] = a; H[d] = a >> 31; break;
      case 0x81: // ldxsw
        a = (L[s] >>> 0) + P[i + 1];
        if (H[s] !== 0 || ((a < fLo || a + 4 > fHi) && (a < rLo || a + 4 > rHi) && (a < qLo || a + 4 > qHi))) {
          rg = accessRegion(space, H[s], a, 4, LOAD, pc - 1); qLo = rLo; qHi = rHi; rLo = rg.addr; rHi = rLo + rg.size;
        }
        a = dv.getInt32(a, true); L[d] = a; H[d] = a >> 31; break;

      // ---- ST / STX: *(size *)(dst + off) = imm | src, checked (and writable) ----
      case 0x72: case 0x73: // stb, stxb
        a = (L[d] >>> 0) + P[i + 1];
        if (H[d] !== 0 || ((a < fLo || a + 1 > fHi) && (a < wLo || a + 1 > wHi))) { rg = accessRegion(space, H[d], a, 1, STORE, pc - 1); wLo = rg.addr; wHi = wLo + rg.size; }
        u8[a] = (w & 0xff) === 0x72 ? k : L[s]; break;
      case 0x6a: case 0x6b: // sth, stxh
        a = (L[d] >>> 0) + P[i + 1];
        if (H[d] !== 0 || ((a < fLo || a + 2 > fHi) && (a < wLo || a + 2 > wHi))) { rg = accessRegion(space, H[d], a, 2, STORE, pc - 1); wLo = rg.addr; wHi = wLo + rg.size; }
        dv.setInt16(a, (w & 0xff) === 0x6a ? k : L[s], true); break;
      case 0x62: case 0x63: // stw, stxw
        a = (L[d] >>> 0) + P[i + 1];
        if (H[d] !== 0 || ((a < fLo || a + 4 > fHi) && (a < wLo || a + 4 > wHi))) { rg = accessRegion(space, H[d], a, 4, STORE, pc - 1); wLo = rg.addr; wHi = wLo + rg.size; }
        dv.setInt32(a, (w & 0xff) === 0x62 ? k : L[s], true); break;
      case 0x7a: // stdw: imm sign-extended
        a = (L[d] >>> 0) + P[i + 1];
        if (H[d] !== 0 || ((a < fLo || a + 8 > fHi) && (a < wLo || a + 8 > wHi))) { rg = accessRegion(space, H[d], a, 8, STORE, pc - 1); wLo = rg.addr; wHi = wLo + rg.size; }
        dv.setInt32(a, k, true); dv.setInt32(a + 4, k >> 31, true); break;
      case 0x7b: // stxdw
        a = (L[d] >>> 0) + P[i + 1];
        if (H[d] !== 0 || ((a < fLo || a + 8 > fHi) && (a < wLo || a + 8 > wHi))) { rg = accessRegion(space, H[d], a, 8, STORE, pc - 1); wLo = rg.addr; wHi = wLo + rg.size; }
        dv.setInt32(a, L[s], true); dv.setInt32(a + 4, H[s], true); break;

      // ---- atomics: imm selects the operation (atomic.ts); fetch forms return the old value in src ----
      case 0xc3: // 32-bit
        a = (L[d] >>> 0) + P[i + 1];
        if (H[d] !== 0 || ((a < fLo || a + 4 > fHi) && (a < wLo || a + 4 > wHi))) { rg = accessRegion(space, H[d], a, 4, ATOMIC, pc - 1); wLo = rg.addr; wHi = wLo + rg.size; }
        atomic32(dv, shared, L, H, s, a, k); break;
      case 0xdb: // 64-bit
        a = (L[d] >>> 0) + P[i + 1];
        if (H[d] !== 0 || ((a < fLo || a + 8 > fHi) && (a < wLo || a + 8 > wHi))) { rg = accessRegion(space, H[d], a, 8, ATOMIC, pc - 1); wLo = rg.addr; wHi = wLo + rg.size; }
        atomic64(dv, shared, L, H, s, a, k); break;

      case 0xfff: { // trap: an instruction that cannot run (see decode.ts)
        const t = m.prog.traps[k];
        fail(t.code, t.message);
      }
      default:
        fail('EINVAL', `invalid instruction (insn #${pc - 1}): internal op 0x${(w & 0xfff).toString(16)}`);
    }
  }
}

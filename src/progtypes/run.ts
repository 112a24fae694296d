/*
 * Running a program on a context, the part of bpf_test_run() every type shares: pick the engine,
 * prepare it once (JIT compiled and instantiated, interpreter warmed) so a timed loop measures
 * the program only, then run `repeat` times and report the average duration in ns.
 *
 * The JIT's hot path (runCtx: the context address in, the 32-bit verdict out; runCtxPacket with
 * the skb data for LD_ABS/LD_IND) has no BigInt.
 */
import type { Insn } from '../isa/insn.js';
import { MAX_BUDGET, interpret } from '../vm/interpreter.js';
import { type JitProgram, compileJit, isVerified } from '../vm/jit/index.js';
import type { Vm } from '../vm/vm.js';

export type Engine = 'interp' | 'jit';

/** A program ready to run many times on one VM. */
export interface PreparedProgram {
  /** Run once: r1 = ctx, LD_ABS/LD_IND read `packet`; returns r0's low 32 bits, unsigned. */
  run(ctx: number, packet?: { addr: number; len: number }): number;
  readonly usesLdAbs: boolean;
  /** Run `n` times (bpf_test_run's repeat loop), the last verdict; JIT only. */
  runRepeat?(ctx: number, n: number, packet?: { addr: number; len: number }): number;
  /** The compiled program (engine jit): compile figures, the batch API. */
  readonly jit?: JitProgram;
}

const WARM_UP: readonly Insn[] = [
  { code: 0xb7, dst: 0, src: 0, off: 0, imm: 0 },
  { code: 0x95, dst: 0, src: 0, off: 0, imm: 0 },
];

/** Whether the program has a classic packet load (LD_ABS/LD_IND, any size). */
export function hasLdAbs(insns: readonly Insn[]): boolean {
  for (const i of insns) {
    const cls = i.code & 7;
    const mode = i.code & 0xe0;
    if (cls === 0 && (mode === 0x20 || mode === 0x40)) return true;
  }
  return false;
}

export function prepareProgram(vm: Vm, insns: readonly Insn[], engine: Engine, budget?: number): PreparedProgram {
  const usesLdAbs = hasLdAbs(insns);
  if (engine === 'jit') {
    const jit = compileJit(vm, insns).prepare();
    if (!usesLdAbs) return { usesLdAbs, jit, run: (ctx) => jit.runCtx(ctx, budget), runRepeat: (ctx, n) => jit.runRepeat(ctx, n, budget) };
    return {
      usesLdAbs, jit,
      runRepeat: (ctx, n, packet) => jit.runRepeat(ctx, n, budget, packet),
      run: (ctx, packet) => (packet === undefined ? jit.runCtx(ctx, budget) : jit.runCtxPacket(ctx, packet.addr, packet.len, budget)),
    };
  }
  // Set up the VM's stack frames and warm the interpreter on a program that touches nothing.
  interpret(vm, WARM_UP, { budget: 2 });
  const args = [0n];
  // A program the verifier accepted runs to its end, as in the kernel (which has no run-time
  // instruction limit) and in the JIT's verified tier: the default budget is only for unverified
  // programs (a may_goto loop alone may take 8M iterations).
  if (budget === undefined && isVerified(insns)) budget = MAX_BUDGET;
  return {
    usesLdAbs,
    run: (ctx, packet) => {
      args[0] = BigInt(ctx);
      return Number(BigInt.asUintN(32, interpret(vm, insns, { args, packet, budget }).r0));
    },
  };
}

/** bpf_test_run(): `repeat` runs (at least one), the last verdict and the average duration in ns. */
export function timedRuns(p: PreparedProgram, ctx: number, repeat: number, packet?: { addr: number; len: number }): { retval: number; duration: number } {
  const n = Math.max(repeat, 1);
  let retval = 0;
  const timer = startTimer();
  // (the JIT loops inside its module, as the kernel's loop runs in the kernel)
  if (p.runRepeat) retval = p.runRepeat(ctx, n, packet);
  else for (let i = 0; i < n; i++) retval = p.run(ctx, packet);
  return { retval, duration: Math.min(Math.floor(timer() / n), 0xffffffff) };
}

/** The process's CPU time in ns, where the host has it (Node's process.cpuUsage, microseconds). */
const cpuUsage = (globalThis as unknown as { process?: { cpuUsage?(): { user: number; system: number } } }).process?.cpuUsage;
/** Below this much CPU time the microsecond clock is too coarse: wall time is used. */
const MIN_CPU_NS = 2_000_000;

/**
 * A timer for test runs: returns a function giving the ns elapsed since. Like the kernel's
 * bpf_test_timer, which stops while the task is rescheduled, it counts the time this process
 * ran (CPU time) rather than the time other tasks had the CPU, when that is measurable (over
 * 2 ms, on hosts with process.cpuUsage); short runs use the wall clock.
 */
export function startTimer(): () => number {
  const wall0 = nowNs();
  const c0 = cpuUsage?.();
  return () => {
    const wall = nowNs() - wall0;
    if (c0 === undefined || cpuUsage === undefined) return wall;
    const c1 = cpuUsage();
    const cpu = (c1.user - c0.user + c1.system - c0.system) * 1000;
    return cpu >= MIN_CPU_NS ? Math.min(cpu, wall) : wall;
  };
}

/** Nanoseconds, from the high-resolution clock both Node and browsers have. */
export function nowNs(): number {
  return (globalThis as unknown as { performance: { now(): number } }).performance.now() * 1e6;
}

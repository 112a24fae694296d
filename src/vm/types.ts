/*
 * The contract of the VM layer (see DESIGN.md, "The address space"). Upper layers (maps, helpers,
 * loader, CLI, conformance) program against these types; vm/ implements them.
 */
import type { Insn } from '../isa/insn.js';

/** A named block of the VM's linear memory. Addresses are plain numbers (< 2^53), never 0. */
export interface Region {
  readonly name: string;
  readonly addr: number;
  readonly size: number;
  readonly writable: boolean;
}

/**
 * A helper as the kernel calls it: five 64-bit arguments in r1..r5, a 64-bit result in r0.
 * Arguments and result are unsigned 64-bit bigints (BigInt.asUintN(64, x)).
 */
export type HelperFn = (ctx: HelperCallContext, r1: bigint, r2: bigint, r3: bigint, r4: bigint, r5: bigint) => bigint;

export interface HelperCallContext {
  readonly vm: unknown;
  /** Slot index of the call instruction (for error messages). */
  readonly pc: number;
  /** The running program (a helper such as bpf_loop may run one of its subprograms). */
  readonly insns?: readonly Insn[];
  /**
   * bpf_tail_call: when the helper returns, replace the running program with `insns` (registers
   * and stack frame kept, like the kernel's JMP_TAIL_CALL; the helper's return value is dropped).
   * False (nothing scheduled) once MAX_TAIL_CALL_CNT (33) tail calls have been made in this run.
   * Engines that cannot do it leave it undefined.
   */
  tailCall?(insns: readonly Insn[]): boolean;
}

export interface HelperEntry {
  readonly id: number;
  readonly name: string;
  readonly fn: HelperFn;
}

export interface RunOptions {
  /** Initial r1..r5 (unsigned 64-bit); missing ones are 0. */
  args?: bigint[];
  /** Instruction budget for unverified programs (default 1_000_000); exceeding it is an error. */
  budget?: number;
  /**
   * The skb data LD_ABS/LD_IND read (as the kernel's bpf_gen_ld_abs): big-endian loads of 1/2/4
   * bytes at imm (ABS) or src32 + imm (IND). An access outside [0, len) ends the program with
   * r0 = 0. The range must lie inside one region of the address space.
   */
  packet?: { addr: number; len: number };
  /** Slot to start at (default 0), e.g. a subprogram run as a callback. */
  entry?: number;
}

export interface RunResult {
  /** r0 at exit, unsigned 64-bit. */
  r0: bigint;
  /** Instructions executed. */
  insnCount: number;
}

export type { Insn };

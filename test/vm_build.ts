/*
 * Small instruction builders for the VM tests, so programs read like assembly:
 *   prog(lddw(R1, -1n), alu64X(BPF_ADD, R1, R2), exit())
 * plus run() that sets up a Vm, optional memory block (address in r1, length in r2, like the
 * conformance runner), and returns r0.
 */
import { type Insn, makeInsn, makeLdImm64 } from '../src/isa/insn.js';
import {
  BPF_ALU, BPF_ALU64, BPF_ATOMIC, BPF_JMP, BPF_JMP32, BPF_K, BPF_LDX, BPF_MEM, BPF_MEMSX, BPF_ST, BPF_STX,
  BPF_X, SIZE_OF_BYTES,
} from '../src/isa/opcodes.js';
import { HelperRegistry } from '../src/vm/helpers.js';
import { interpret } from '../src/vm/interpreter.js';
import type { RunOptions, RunResult } from '../src/vm/types.js';
import { Vm } from '../src/vm/vm.js';

export const [R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, R10] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];

export type Part = Insn | readonly Insn[];

export function prog(...parts: Part[]): Insn[] {
  return parts.flatMap((p) => (Array.isArray(p) ? [...(p as readonly Insn[])] : [p as Insn]));
}

export const lddw = (dst: number, v: bigint): Insn[] => makeLdImm64(dst, v);
export const alu64K = (op: number, dst: number, imm: number, off = 0): Insn => makeInsn(BPF_ALU64 | op | BPF_K, dst, 0, off, imm);
export const alu64X = (op: number, dst: number, src: number, off = 0): Insn => makeInsn(BPF_ALU64 | op | BPF_X, dst, src, off, 0);
export const alu32K = (op: number, dst: number, imm: number, off = 0): Insn => makeInsn(BPF_ALU | op | BPF_K, dst, 0, off, imm);
export const alu32X = (op: number, dst: number, src: number, off = 0): Insn => makeInsn(BPF_ALU | op | BPF_X, dst, src, off, 0);
export const mov64 = (dst: number, imm: number): Insn => makeInsn(0xb7, dst, 0, 0, imm);
export const mov64X = (dst: number, src: number): Insn => makeInsn(0xbf, dst, src, 0, 0);
export const mov32 = (dst: number, imm: number): Insn => makeInsn(0xb4, dst, 0, 0, imm);
export const jmpK = (op: number, dst: number, imm: number, off: number): Insn => makeInsn(BPF_JMP | op | BPF_K, dst, 0, off, imm);
export const jmpX = (op: number, dst: number, src: number, off: number): Insn => makeInsn(BPF_JMP | op | BPF_X, dst, src, off, 0);
export const jmp32K = (op: number, dst: number, imm: number, off: number): Insn => makeInsn(BPF_JMP32 | op | BPF_K, dst, 0, off, imm);
export const jmp32X = (op: number, dst: number, src: number, off: number): Insn => makeInsn(BPF_JMP32 | op | BPF_X, dst, src, off, 0);
export const ja = (off: number): Insn => makeInsn(0x05, 0, 0, off, 0);
export const gotol = (imm: number): Insn => makeInsn(0x06, 0, 0, 0, imm);
export const ldx = (size: number, dst: number, src: number, off: number): Insn => makeInsn(BPF_LDX | BPF_MEM | SIZE_OF_BYTES[size], dst, src, off, 0);
export const ldxsx = (size: number, dst: number, src: number, off: number): Insn => makeInsn(BPF_LDX | BPF_MEMSX | SIZE_OF_BYTES[size], dst, src, off, 0);
export const st = (size: number, dst: number, off: number, imm: number): Insn => makeInsn(BPF_ST | BPF_MEM | SIZE_OF_BYTES[size], dst, 0, off, imm);
export const stx = (size: number, dst: number, off: number, src: number): Insn => makeInsn(BPF_STX | BPF_MEM | SIZE_OF_BYTES[size], dst, src, off, 0);
export const atomic = (size: 4 | 8, op: number, dst: number, off: number, src: number): Insn => makeInsn(BPF_STX | BPF_ATOMIC | SIZE_OF_BYTES[size], dst, src, off, op);
export const call = (id: number): Insn => makeInsn(0x85, 0, 0, 0, id);
export const callLocal = (rel: number): Insn => makeInsn(0x85, 0, 1, 0, rel);
export const callx = (reg: number): Insn => makeInsn(0x8d, reg, 0, 0, 0);
export const exit = (): Insn => makeInsn(0x95);

export interface TestRun extends RunResult {
  vm: Vm;
  /** Address of the memory block (0 when none). */
  memAddr: number;
  /** The memory block's bytes after the run. */
  mem: Uint8Array;
}

export interface TestRunOptions extends RunOptions {
  /** Memory block: address in r1, length in r2 (unless args are given). */
  mem?: Uint8Array;
  memWritable?: boolean;
  vm?: Vm;
  helpers?: HelperRegistry;
}

/** One VM reused by runs that bring neither a VM nor helpers (thousands of runs, one memory). */
let sharedVm: Vm | undefined;

export function run(insns: readonly Insn[], options: TestRunOptions = {}): TestRun {
  const shared = options.vm === undefined && options.helpers === undefined;
  const vm = options.vm ?? (shared ? (sharedVm ??= new Vm()) : new Vm({ helpers: options.helpers }));
  let memAddr = 0;
  let region;
  const opts: RunOptions = { ...options };
  if (options.mem) {
    region = vm.space.alloc(options.mem.length, 'mem', { writable: options.memWritable ?? true });
    vm.space.write(region.addr, options.mem);
    memAddr = region.addr;
    opts.args ??= [BigInt(region.addr), BigInt(options.mem.length)];
  }
  try {
    const result = interpret(vm, insns, opts);
    const mem = region ? vm.space.read(region.addr, region.size) : new Uint8Array(0);
    return { ...result, vm, memAddr, mem };
  } finally {
    if (shared && region) vm.space.free(region);
  }
}

/** r0 of running `insns` (unsigned 64-bit). */
export function r0(insns: readonly Insn[], options: TestRunOptions = {}): bigint {
  return run(insns, options).r0;
}

export const u64 = (v: bigint): bigint => BigInt.asUintN(64, v);

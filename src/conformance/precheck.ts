/*
 * A small static check run before an unverified (conformance) program: no instruction may read a
 * register that no path has written. The kernel's verifier ("R0 !read_ok", check_reg_arg()) and
 * PREVAIL refuse such programs; the interpreter alone would happily read a zero. At entry r1 (the
 * memory/context pointer), r2 (its length) and r10 (the frame pointer) are initialized; after a
 * call r0 is set and r1-r5 are clobbered, as in the kernel's calling convention.
 *
 * A forward must-analysis over the slots: the initialized set at an instruction is the
 * intersection over its predecessors. A subprogram (`call local`) starts with r10 plus whatever of
 * r1-r5 every caller had initialized, and its exit returns to the caller. Malformed control flow
 * (jumps out of the program) is left to the decoder and interpreter to report.
 */
import { type Insn, isLdImm64 } from '../isa/insn.js';
import {
  BPF_CMPXCHG, BPF_FETCH, BPF_PSEUDO_CALL, BPF_JMP32, bpfClass, opInfo,
} from '../isa/opcodes.js';

const R0 = 1 << 0;
const ARGS = 0b111110; // r1..r5
const FP = 1 << 10;
const ALL = (1 << 11) - 1;

/** Registers initialized on entry to the main program of a conformance test. */
export const CONFORMANCE_ENTRY_REGS = (1 << 1) | (1 << 2) | FP;

export interface UninitRead {
  /** Slot index of the reading instruction. */
  pc: number;
  reg: number;
}

/** The first read of an uninitialized register, or undefined when there is none. */
export function findUninitializedRead(insns: readonly Insn[], entryRegs = CONFORMANCE_ENTRY_REGS): UninitRead | undefined {
  const n = insns.length;
  // in[i]: must-initialized registers before slot i; -1 = not reached yet
  const state = new Int32Array(n).fill(-1);
  const work: number[] = [];
  const merge = (pc: number, regs: number): void => {
    if (pc < 0 || pc >= n) return;
    const old = state[pc];
    const next = old === -1 ? regs : old & regs;
    if (next !== old) {
      state[pc] = next;
      work.push(pc);
    }
  };
  merge(0, entryRegs & ALL);
  let found: UninitRead | undefined;
  const note = (pc: number, reg: number): void => {
    if (!found || pc < found.pc) found = { pc, reg };
  };
  const need = (pc: number, regs: number, reg: number): void => {
    if (!(regs & (1 << reg))) note(pc, reg);
  };
  while (work.length > 0) {
    const pc = work.pop()!;
    const insn = insns[pc];
    let regs = state[pc];
    const info = opInfo(insn.code);
    if (!info) continue;
    const { dst, src } = insn;
    const def = (r: number): void => { regs |= 1 << r; };
    const afterCall = (): void => { regs = (regs & ~ARGS) | R0; };
    const next = pc + (isLdImm64(insn) ? 2 : 1);
    switch (info.kind) {
      case 'alu':
        need(pc, regs, dst);
        if (info.srcReg) need(pc, regs, src);
        def(dst);
        merge(next, regs);
        break;
      case 'mov':
        if (info.srcReg) need(pc, regs, src);
        def(dst);
        merge(next, regs);
        break;
      case 'neg':
      case 'end':
        need(pc, regs, dst);
        merge(next, regs);
        break;
      case 'lddw':
        def(dst);
        merge(next, regs);
        break;
      case 'ldx':
      case 'ldxsx':
        need(pc, regs, src);
        def(dst);
        merge(next, regs);
        break;
      case 'st':
        need(pc, regs, dst);
        merge(next, regs);
        break;
      case 'stx':
        need(pc, regs, dst);
        need(pc, regs, src);
        merge(next, regs);
        break;
      case 'atomic':
        need(pc, regs, dst);
        need(pc, regs, src);
        if (insn.imm === BPF_CMPXCHG) {
          need(pc, regs, 0);
          def(0);
        } else if (insn.imm & BPF_FETCH) {
          def(src);
        }
        merge(next, regs);
        break;
      case 'ldabs':
      case 'ldind':
        need(pc, regs, 6);
        if (info.kind === 'ldind') need(pc, regs, src);
        afterCall();
        merge(next, regs);
        break;
      case 'ja':
        merge(pc + 1 + (bpfClass(insn.code) === BPF_JMP32 ? insn.imm : insn.off), regs);
        break;
      case 'jcond':
        need(pc, regs, dst);
        if (info.srcReg) need(pc, regs, src);
        merge(next, regs);
        merge(pc + 1 + insn.off, regs);
        break;
      case 'may_goto':
        merge(next, regs);
        merge(pc + 1 + insn.off, regs);
        break;
      case 'call':
        if (insn.src === BPF_PSEUDO_CALL) {
          // the callee sees the caller's r1-r5 and its own frame pointer
          merge(pc + 1 + insn.imm, (regs & ARGS) | FP);
        }
        afterCall();
        merge(next, regs);
        break;
      case 'callx':
        need(pc, regs, dst);
        afterCall();
        merge(next, regs);
        break;
      case 'exit':
        need(pc, regs, 0);
        break;
    }
  }
  return found;
}

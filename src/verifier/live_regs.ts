/*
 * Register liveness before each instruction (compute_live_registers() of Linux 6.18): a backward
 * data-flow pass, live_before = use | (live_after & ~def), printed at log level 2 as the
 * "Live regs before insn:" table.
 */
import type { Insn } from '../isa/insn.js';
import {
  BPF_ALU, BPF_ALU64, BPF_ATOMIC, BPF_CALL, BPF_EXIT, BPF_FETCH, BPF_IMM, BPF_JA, BPF_JCOND, BPF_JMP, BPF_JMP32, BPF_K,
  BPF_LD, BPF_LDX, BPF_ST, BPF_STX, bpfClass, bpfMode, bpfOp, bpfSrc,
} from '../isa/opcodes.js';

const bit = (r: number): number => 1 << r;
const CALLER_SAVED = 0x3f; // r0-r5
const BPF_CMPXCHG = 0xf1, BPF_LOAD_ACQ = 0x100, BPF_STORE_REL = 0x110;

/** compute_insn_live_regs(): registers an instruction reads (use) and writes (def) */
function useDef(insn: Insn, callArgs: (insn: Insn) => number | undefined): { use: number; def: number } {
  const cls = bpfClass(insn.code), dst = bit(insn.dst), src = bit(insn.src);
  const isK = bpfSrc(insn.code) === BPF_K;
  switch (cls) {
    case BPF_LD:
      if (bpfMode(insn.code) === BPF_IMM) return { use: 0, def: dst };
      // ld_abs/ind keep compute_insn_live_regs()'s defaults: they may end the program, so every register is used
      return { use: 0xffff, def: 0 };
    case BPF_LDX: return { use: src, def: dst };
    case BPF_ST: return { use: dst, def: 0 };
    case BPF_STX:
      if (bpfMode(insn.code) !== BPF_ATOMIC) return { use: dst | src, def: 0 };
      if (insn.imm === BPF_CMPXCHG) return { use: bit(0) | dst | src, def: bit(0) };
      if (insn.imm === BPF_LOAD_ACQ) return { use: src, def: dst };
      if (insn.imm === BPF_STORE_REL) return { use: dst | src, def: 0 };
      return { use: dst | src, def: insn.imm & BPF_FETCH ? src : 0 };
    case BPF_ALU: case BPF_ALU64: {
      const op = bpfOp(insn.code);
      if (op === 0xb0) return { use: isK ? 0 : src, def: dst }; // mov
      if (op === 0xd0 || op === 0x80) return { use: dst, def: dst }; // end, neg
      return { use: dst | (isK ? 0 : src), def: dst };
    }
    case BPF_JMP: case BPF_JMP32: {
      const op = bpfOp(insn.code);
      if (op === BPF_JA || op === BPF_JCOND) return { use: 0, def: 0 }; // may_goto reads no register
      if (op === BPF_EXIT) return { use: bit(0), def: 0 };
      if (op === BPF_CALL) {
        const n = callArgs(insn);
        // get_call_summary(): a helper reads only its declared arguments
        return { use: n === undefined ? CALLER_SAVED & ~bit(0) : ((1 << (n + 1)) - 2), def: CALLER_SAVED };
      }
      return { use: isK ? dst : dst | src, def: 0 };
    }
  }
  return { use: 0, def: 0 };
}

/**
 * The live register mask (bit i = r_i) before each instruction, over the flat successors of
 * cfg_order.ts's insnSuccessors() (the second half of an ld_imm64 is never reached).
 */
export function liveRegsBefore(insns: readonly Insn[], succ: Int32Array, callArgs: (insn: Insn) => number | undefined): Uint16Array {
  const n = insns.length;
  const ud = insns.map((i) => useDef(i, callArgs));
  const live = new Uint16Array(n);
  for (let changed = true; changed;) {
    changed = false;
    for (let pc = n - 1; pc >= 0; pc--) {
      if (pc > 0 && insns[pc - 1].code === 0x18) continue; // second half of ld_imm64
      let after = 0;
      for (let k = 2 * pc; k < 2 * pc + 2; k++) if (succ[k] >= 0 && succ[k] < n) after |= live[succ[k]];
      const before = ud[pc].use | (after & ~ud[pc].def);
      if (before !== live[pc]) { live[pc] = before; changed = true; }
    }
  }
  return live;
}

/**
 * The level-2 table: `SCC IDX: 0123456789 (OP) insn`, the SCC column blank outside loops, dots for
 * dead registers (r10 not shown).
 */
export function liveRegsTable(insns: readonly Insn[], live: Uint16Array, scc: Uint32Array, insnText: (pc: number) => string): string {
  let out = 'Live regs before insn:\n';
  for (let pc = 0; pc < insns.length; pc++) {
    let regs = '';
    for (let r = 0; r < 10; r++) regs += live[pc] & bit(r) ? String(r) : '.';
    out += `${scc[pc] ? String(scc[pc]).padStart(3) + ' ' : '    '}${String(pc).padStart(3)}: ${regs} ${insnText(pc)}\n`;
    if (insns[pc].code === 0x18) pc++;
  }
  return out;
}

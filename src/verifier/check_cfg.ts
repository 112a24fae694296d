/*
 * Program structure checks before do_check, as check_subprogs() and check_cfg(): jump targets in
 * range and not into the middle of an ld_imm64, every instruction reachable, each subprogram
 * ending in exit or an unconditional jump. Privileged: back-edges are allowed.
 */
import type { Insn } from '../isa/insn.js';
import { BPF_CALL, BPF_EXIT, BPF_JA, BPF_JMP, BPF_JMP32, BPF_PSEUDO_CALL, BPF_PSEUDO_FUNC, bpfClass, bpfOp } from '../isa/opcodes.js';

export interface CfgResult {
  error?: string; subprogStarts: number[];
  /** the error comes from check_subprogs() (or add_subprog()), which runs before resolve_pseudo_ldimm64(); else from check_cfg() after it */
  early?: boolean;
}

const isJmp = (i: Insn): boolean => bpfClass(i.code) === BPF_JMP || bpfClass(i.code) === BPF_JMP32;

/** Jump target of a (non-call, non-exit) jump at pc */
export function jumpTarget(insns: readonly Insn[], pc: number): number {
  const i = insns[pc];
  return pc + 1 + (i.code === (BPF_JMP32 | BPF_JA) ? i.imm : i.off);
}

export function checkCfg(insns: readonly Insn[]): CfgResult {
  const n = insns.length;
  const starts = new Set<number>([0]);
  // check_subprogs(): pseudo calls and ld_imm64 of functions define subprograms
  for (let pc = 0; pc < n; pc++) {
    const i = insns[pc];
    if (i.code === (BPF_JMP | BPF_CALL) && i.src === BPF_PSEUDO_CALL) {
      const t = pc + 1 + i.imm;
      // add_subprog()
      if (t < 0 || t >= n) return { error: 'call to invalid destination', subprogStarts: [], early: true };
      starts.add(t);
    } else if (i.code === 0x18 && i.src === BPF_PSEUDO_FUNC) {
      const t = pc + 1 + i.imm;
      if (t < 0 || t >= n) return { error: 'call to invalid destination', subprogStarts: [], early: true };
      starts.add(t);
    }
  }
  const subprogStarts = [...starts].sort((a, b) => a - b);
  const ldMiddle = new Uint8Array(n);
  for (let pc = 0; pc < n; pc++) if (insns[pc].code === 0x18) { ldMiddle[pc + 1] = 1; pc++; }
  // jumps stay inside their subprogram
  for (let s = 0; s < subprogStarts.length; s++) {
    const start = subprogStarts[s], end = s + 1 < subprogStarts.length ? subprogStarts[s + 1] : n;
    for (let pc = start; pc < end; pc++) {
      const i = insns[pc];
      if (!isJmp(i)) { if (i.code === 0x18) pc++; continue; }
      const op = bpfOp(i.code);
      if (op === BPF_CALL || op === BPF_EXIT) continue;
      const t = jumpTarget(insns, pc);
      if (t < start || t >= end) return { error: `jump out of range from insn ${pc} to ${t}`, subprogStarts, early: true };
    }
    const lastPc = end - 1;
    const last = insns[lastPc];
    if (!(last.code === (BPF_JMP | BPF_EXIT) || last.code === (BPF_JMP | BPF_JA) || last.code === (BPF_JMP32 | BPF_JA))) {
      return { error: 'last insn is not an exit or jmp', subprogStarts, early: true };
    }
  }
  // check_cfg(): DFS over the flow graph
  const seen = new Uint8Array(n);
  const stack: number[] = [0];
  seen[0] = 1;
  const visit = (from: number, t: number): string | undefined => {
    if (t < 0 || t >= n) return `jump out of range from insn ${from} to ${t}`;
    if (ldMiddle[t]) return `jump into the middle of ldimm64 insn ${t - 1}`;
    if (!seen[t]) { seen[t] = 1; stack.push(t); }
    return undefined;
  };
  for (const s of subprogStarts) if (!seen[s]) { seen[s] = 1; stack.push(s); }
  while (stack.length) {
    const pc = stack.pop()!;
    const i = insns[pc];
    let err: string | undefined;
    if (isJmp(i)) {
      const op = bpfOp(i.code);
      if (op === BPF_EXIT) continue;
      if (op === BPF_CALL) { err = visit(pc, pc + 1); }
      else if (op === BPF_JA) err = visit(pc, jumpTarget(insns, pc));
      else { err = visit(pc, pc + 1) ?? visit(pc, jumpTarget(insns, pc)); }
    } else {
      err = visit(pc, pc + (i.code === 0x18 ? 2 : 1));
    }
    if (err) return { error: err, subprogStarts };
  }
  for (let pc = 0; pc < n; pc++) {
    if (ldMiddle[pc]) continue;
    if (!seen[pc]) return { error: `unreachable insn ${pc}`, subprogStarts };
  }
  return { subprogStarts };
}

/** find_containing_subprog(): the index of the subprogram (by its sorted start) holding `insn`. */
export function subprogIndexOf(subprogStarts: readonly number[], insn: number): number {
  let i = subprogStarts.length - 1;
  while (i > 0 && subprogStarts[i] > insn) i--;
  return i;
}

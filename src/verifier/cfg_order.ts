/*
 * The control flow orders of Linux 6.18's verifier that its level-2 log depends on:
 * bpf_insn_successors() (kernel/bpf/liveness.c), compute_postorder() (the order the liveness
 * passes visit instructions in) and compute_scc() (strongly connected components: loops, numbered
 * as Tarjan's algorithm closes them; printed in the live registers table and "SCC enter (N)").
 */
import type { Insn } from '../isa/insn.js';
import { BPF_CALL, BPF_EXIT, BPF_JA, BPF_JMP, BPF_JMP32, bpfClass, bpfOp } from '../isa/opcodes.js';

/**
 * bpf_insn_successors(): fall-through first, then the jump target. Calls fall through (callees are
 * separate subprograms), exit has none, ld_imm64 skips its second half.
 */
export function insnSuccessors(insns: readonly Insn[], idx: number): number[] {
  const insn = insns[idx];
  const cls = bpfClass(insn.code);
  const size = insn.code === 0x18 ? 2 : 1;
  if (cls !== BPF_JMP && cls !== BPF_JMP32) return [idx + size];
  const op = bpfOp(insn.code);
  if (op === BPF_EXIT) return [];
  if (op === BPF_CALL) return [idx + 1];
  const target = idx + 1 + (insn.code === (BPF_JMP32 | BPF_JA) ? insn.imm : insn.off);
  return op === BPF_JA ? [target] : [idx + 1, target];
}

export interface Postorder {
  /** instructions of each subprogram in postorder, subprogram after subprogram */
  postorder: Int32Array;
  /** postorder[postorderStart[i]..postorderStart[i + 1]) belongs to subprogram i */
  postorderStart: number[];
}

/** compute_postorder(): an iterative DFS per subprogram; all undiscovered successors are pushed at once */
export function computePostorder(insns: readonly Insn[], subprogStarts: readonly number[], succ: readonly number[][]): Postorder {
  const DISCOVERED = 1, EXPLORED = 2;
  const n = insns.length;
  const order = new Int32Array(n), state = new Uint8Array(n), stack = new Int32Array(n + 1);
  const start: number[] = [];
  let cur = 0;
  for (const s of subprogStarts) {
    start.push(cur);
    stack[0] = s;
    let sz = 1;
    do {
      const top = stack[sz - 1];
      state[top] |= DISCOVERED;
      if (state[top] & EXPLORED) { order[cur++] = top; sz--; continue; }
      for (const t of succ[top]) if (!state[t]) { stack[sz++] = t; state[t] |= DISCOVERED; }
      state[top] |= EXPLORED;
    } while (sz);
  }
  start.push(cur);
  return { postorder: order.subarray(0, cur), postorderStart: start };
}

/**
 * compute_scc(): the SCC number of each instruction, 0 for one not in a loop (a single instruction
 * without a self edge). Tarjan's algorithm as the kernel iterates it, every instruction a root in
 * turn (second halves of ld_imm64 included, as the kernel does not skip them).
 */
export function computeScc(insns: readonly Insn[], succ: readonly number[][], callsCallback: (insn: number) => boolean): Uint32Array {
  const n = insns.length, NOT_ON_STACK = 0xffffffff;
  const scc = new Uint32Array(n), pre = new Uint32Array(n), low = new Uint32Array(n);
  const stack = new Int32Array(n), dfs = new Int32Array(n + 1);
  let nextPre = 1, nextScc = 1;
  for (let i = 0; i < n; i++) {
    if (pre[i]) continue;
    let stackSz = 0, dfsSz = 1;
    dfs[0] = i;
    outer: while (dfsSz) {
      const w = dfs[dfsSz - 1];
      if (pre[w] === 0) { low[w] = pre[w] = nextPre++; stack[stackSz++] = w; }
      const ss = succ[w];
      for (const s of ss) {
        if (pre[s]) low[w] = Math.min(low[w], low[s]);
        else { dfs[dfsSz++] = s; continue outer; }
      }
      // a vertex above on the stack is reachable from w: w stays on the stack
      if (low[w] < pre[w]) { dfsSz--; continue; }
      // a number only for two or more instructions, a self edge, or a helper call that runs a
      // callback (an implicit loop: the verifier comes back to the call after each callback run)
      const assign = stack[stackSz - 1] !== w || ss.includes(w) || callsCallback(w);
      let t: number;
      do {
        t = stack[--stackSz];
        low[t] = NOT_ON_STACK;
        if (assign) scc[t] = nextScc;
      } while (t !== w);
      if (assign) nextScc++;
      dfsSz--;
    }
  }
  return scc;
}

/** Successors of every instruction (the second half of an ld_imm64 gets what the kernel would compute for code 0). */
export function allSuccessors(insns: readonly Insn[]): number[][] {
  return insns.map((_, i) => insnSuccessors(insns, i));
}

export interface ControlFlow extends Postorder {
  successors: number[][];
  scc: Uint32Array;
}

/** What check_cfg() leaves for the later passes: successors, postorder and SCCs. */
export function controlFlow(insns: readonly Insn[], subprogStarts: readonly number[], callsCallback: (insn: number) => boolean): ControlFlow {
  const successors = allSuccessors(insns);
  return { successors, ...computePostorder(insns, subprogStarts, successors), scc: computeScc(insns, successors, callsCallback) };
}

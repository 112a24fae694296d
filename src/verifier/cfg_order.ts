/*
 * The control flow orders of Linux 6.18's verifier that its level-2 log depends on:
 * bpf_insn_successors() (kernel/bpf/liveness.c), compute_postorder() (the order the liveness
 * passes visit instructions in) and compute_scc() (strongly connected components: loops, numbered
 * as Tarjan's algorithm closes them; printed in the live registers table and "SCC enter (N)").
 */
import type { Insn } from '../isa/insn.js';
import { BPF_CALL, BPF_EXIT, BPF_JA, BPF_JMP, BPF_JMP32, bpfClass, bpfOp } from '../isa/opcodes.js';
import { jumpTarget } from './check_cfg.js';

/**
 * bpf_insn_successors() of every instruction, flat: succ[2i] and succ[2i + 1], -1 where there is
 * none; fall-through first, then the jump target. Calls fall through (callees are separate
 * subprograms), exit has none, ld_imm64 skips its second half (which, as in the kernel, gets what
 * code 0 would have: the next instruction).
 */
export function insnSuccessors(insns: readonly Insn[]): Int32Array {
  const succ = new Int32Array(insns.length * 2).fill(-1);
  for (let i = 0; i < insns.length; i++) {
    const insn = insns[i], cls = bpfClass(insn.code);
    if (cls !== BPF_JMP && cls !== BPF_JMP32) { succ[2 * i] = i + (insn.code === 0x18 ? 2 : 1); continue; }
    const op = bpfOp(insn.code);
    if (op === BPF_EXIT) continue;
    if (op === BPF_CALL) { succ[2 * i] = i + 1; continue; }
    const target = jumpTarget(insns, i);
    if (op === BPF_JA) succ[2 * i] = target;
    else { succ[2 * i] = i + 1; succ[2 * i + 1] = target; }
  }
  return succ;
}

export interface Postorder {
  /** instructions of each subprogram in postorder, subprogram after subprogram */
  postorder: Int32Array;
  /** postorder[postorderStart[i]..postorderStart[i + 1]) belongs to subprogram i */
  postorderStart: number[];
}

/** compute_postorder(): an iterative DFS per subprogram; all undiscovered successors are pushed at once */
export function computePostorder(n: number, subprogStarts: readonly number[], succ: Int32Array): Postorder {
  const DISCOVERED = 1, EXPLORED = 2;
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
      for (let k = 2 * top; k < 2 * top + 2; k++) {
        const t = succ[k];
        if (t >= 0 && !state[t]) { stack[sz++] = t; state[t] |= DISCOVERED; }
      }
      state[top] |= EXPLORED;
    } while (sz);
  }
  start.push(cur);
  return { postorder: order.subarray(0, cur), postorderStart: start };
}

/**
 * compute_scc(): the SCC number of each instruction, 0 for one not in a loop. Tarjan's algorithm
 * as the kernel iterates it, every instruction a root in turn (second halves of ld_imm64
 * included, as the kernel does not skip them).
 */
export function computeScc(n: number, succ: Int32Array, callsCallback: (insn: number) => boolean): Uint32Array {
  const NOT_ON_STACK = 0xffffffff;
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
      for (let k = 2 * w; k < 2 * w + 2; k++) {
        const s = succ[k];
        if (s < 0) continue;
        if (pre[s]) low[w] = Math.min(low[w], low[s]);
        else { dfs[dfsSz++] = s; continue outer; }
      }
      // a vertex above on the stack is reachable from w: w stays on the stack
      if (low[w] < pre[w]) { dfsSz--; continue; }
      // a number only for two or more instructions, a self edge, or a helper call that runs a
      // callback (an implicit loop: the verifier comes back to the call after each callback run)
      const assign = stack[stackSz - 1] !== w || succ[2 * w] === w || succ[2 * w + 1] === w || callsCallback(w);
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

export interface ControlFlow extends Postorder {
  successors: Int32Array;
  /** SCC numbers, when asked for */
  scc?: Uint32Array;
}

/** What check_cfg() leaves for the later passes: successors, postorder, and SCCs if callsCallback is given. */
export function controlFlow(insns: readonly Insn[], subprogStarts: readonly number[], callsCallback?: (insn: number) => boolean): ControlFlow {
  const successors = insnSuccessors(insns);
  return {
    successors, ...computePostorder(insns.length, subprogStarts, successors),
    scc: callsCallback && computeScc(insns.length, successors, callsCallback),
  };
}

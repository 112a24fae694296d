/*
 * The compiler's intermediate form, as libpcap's gencode.h: statements in singly linked lists
 * (struct slist), basic blocks ending in one conditional jump or a return (struct block) with a
 * true and a false edge. The code generator builds them; the optimizer (optimize.ts) rewrites
 * them in place; icodeToFcode flattens them to classic BPF.
 */
import { BPF_MEMWORDS } from '../cbpf/insn.js';

/** A deleted instruction. */
export const NOP = -1;
/** Atoms: M[0..15], then A and X (optimize.c's A_ATOM / X_ATOM). */
export const A_ATOM = BPF_MEMWORDS;
export const X_ATOM = BPF_MEMWORDS + 1;
export const N_ATOMS = BPF_MEMWORDS + 2;
export const AX_ATOM = N_ATOMS;

export interface Stmt {
  code: number;
  k: number;
  /** Block-local jump targets (only protochain's inner loop uses them). */
  jt: Slist | null;
  jf: Slist | null;
}

export interface Slist {
  s: Stmt;
  next: Slist | null;
}

export interface Edge {
  id: number;
  /** The branch opcode, negated for the false edge (optimize.c's trick). */
  code: number;
  edom: Uint32Array;
  succ: Block | null;
  pred: Block;
  next: Edge | null;
}

export interface Block {
  id: number;
  stmts: Slist | null;
  s: Stmt;
  mark: number;
  longjt: number;
  longjf: number;
  level: number;
  offset: number;
  sense: boolean;
  et: Edge;
  ef: Edge;
  head: Block;
  link: Block | null;
  dom: Uint32Array;
  closure: Uint32Array;
  inEdges: Edge | null;
  def: number;
  kill: number;
  inUse: number;
  outUse: number;
  oval: number;
  val: Uint32Array;
}

const EMPTY = new Uint32Array(0);

export function newStmt(code: number, k = 0): Slist {
  return { s: { code, k: k >>> 0, jt: null, jf: null }, next: null };
}

export function newBlock(code: number, k = 0): Block {
  const b = {
    id: 0, stmts: null, s: { code, k: k >>> 0, jt: null, jf: null }, mark: 0, longjt: 0, longjf: 0, level: 0,
    offset: 0, sense: false, head: null as unknown as Block, link: null, dom: EMPTY, closure: EMPTY,
    inEdges: null, def: 0, kill: 0, inUse: 0, outUse: 0, oval: 0, val: new Uint32Array(N_ATOMS),
  } as unknown as Block;
  b.et = { id: 0, code: 0, edom: EMPTY, succ: null, pred: b, next: null };
  b.ef = { id: 0, code: 0, edom: EMPTY, succ: null, pred: b, next: null };
  b.head = b;
  return b;
}

export const JT = (b: Block): Block | null => b.et.succ;
export const JF = (b: Block): Block | null => b.ef.succ;

/** Append list s1 to the end of list s0. */
export function sappend(s0: Slist, s1: Slist | null): void {
  let s = s0;
  while (s.next) s = s.next;
  s.next = s1;
}

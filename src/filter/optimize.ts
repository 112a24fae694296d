/*
 * The optimizer and the flattener, following libpcap's optimize.c step by step: levels,
 * dominators and edge dominators, use-def sets, value numbering with constant folding (opt_stmt),
 * peephole rules (opt_peep), dead stores, branch threading along dominating edges (opt_j),
 * or/and pull-ups, block interning, opt_root; then icode_to_fcode's back-to-front layout with
 * long-jump insertion. Same algorithm, same iteration order, so the same listing as tcpdump -d.
 */
import {
  BPF_A, BPF_ABS, BPF_ADD, BPF_ALU, BPF_AND, BPF_B, BPF_DIV, BPF_IMM, BPF_IND, BPF_JA, BPF_JEQ, BPF_JGE,
  BPF_JGT, BPF_JMP, BPF_JSET, BPF_K, BPF_LD, BPF_LDX, BPF_LEN, BPF_LSH, BPF_MEM, BPF_MISC, BPF_MOD, BPF_MSH,
  BPF_MUL, BPF_NEG, BPF_OR, BPF_RET, BPF_RSH, BPF_ST, BPF_STX, BPF_SUB, BPF_TAX, BPF_TXA, BPF_X, BPF_XOR,
  type CInsn, bpfClass, bpfMiscOp, bpfMode, bpfOp, bpfRval, bpfSize, bpfSrc,
} from '../cbpf/insn.js';
import { A_ATOM, AX_ATOM, type Block, type Edge, JF, JT, N_ATOMS, NOP, type Slist, type Stmt, X_ATOM } from './block.js';
import { FilterError } from './errors.js';

const VAL_UNKNOWN = 0;
const ATOMMASK = (n: number): number => 1 << n;
const ATOMELEM = (d: number, n: number): boolean => ((d >>> n) & 1) !== 0;

let curMark = 1;
const isMarked = (b: Block): boolean => b.mark === curMark;
const mark = (b: Block): void => { b.mark = curMark; };
const unMarkAll = (): void => { curMark++; };

function atomuse(s: Stmt): number {
  const c = s.code;
  if (c === NOP) return -1;
  switch (bpfClass(c)) {
    case BPF_RET: return bpfRval(c) === BPF_A ? A_ATOM : bpfRval(c) === BPF_X ? X_ATOM : -1;
    case BPF_LD: case BPF_LDX: return bpfMode(c) === BPF_IND ? X_ATOM : bpfMode(c) === BPF_MEM ? s.k : -1;
    case BPF_ST: return A_ATOM;
    case BPF_STX: return X_ATOM;
    case BPF_JMP: case BPF_ALU: return bpfSrc(c) === BPF_X ? AX_ATOM : A_ATOM;
    case BPF_MISC: return bpfMiscOp(c) === BPF_TXA ? X_ATOM : A_ATOM;
  }
  throw new Error('atomuse');
}

function atomdef(s: Stmt): number {
  if (s.code === NOP) return -1;
  switch (bpfClass(s.code)) {
    case BPF_LD: case BPF_ALU: return A_ATOM;
    case BPF_LDX: return X_ATOM;
    case BPF_ST: case BPF_STX: return s.k;
    case BPF_MISC: return bpfMiscOp(s.code) === BPF_TAX ? X_ATOM : A_ATOM;
  }
  return -1;
}

function setMember(p: Uint32Array, a: number): boolean { return ((p[a >>> 5] >>> (a & 31)) & 1) !== 0; }
function setInsert(p: Uint32Array, a: number): void { p[a >>> 5] |= 1 << (a & 31); }

class OptState {
  done = false;
  nonBranchMovementPerformed = false;
  nBlocks = 0;
  blocks: Block[] = [];
  nEdges = 0;
  edges: Edge[] = [];
  nodewords = 0;
  edgewords = 0;
  levels: (Block | null)[] = [];
  curval = 0;
  hashtbl = new Map<string, number>();
  vmapConst: boolean[] = [];
  vmapVal: number[] = [];

  // -- graph analysis ---------------------------------------------------------------------
  findLevelsR(b: Block): void {
    if (isMarked(b)) return;
    mark(b);
    b.link = null;
    let level: number;
    const jt = JT(b);
    if (jt) {
      const jf = JF(b) as Block;
      this.findLevelsR(jt);
      this.findLevelsR(jf);
      level = Math.max(jt.level, jf.level) + 1;
    } else level = 0;
    b.level = level;
    b.link = this.levels[level];
    this.levels[level] = b;
  }

  findLevels(root: Block): void {
    this.levels = new Array<Block | null>(this.nBlocks).fill(null);
    unMarkAll();
    this.findLevelsR(root);
  }

  findDom(root: Block): void {
    for (const b of this.blocks) b.dom.fill(0xffffffff);
    root.dom.fill(0);
    for (let i = root.level; i >= 0; --i) {
      for (let b = this.levels[i]; b; b = b.link) {
        setInsert(b.dom, b.id);
        const jt = JT(b);
        if (!jt) continue;
        const jf = JF(b) as Block;
        for (let w = 0; w < this.nodewords; w++) { jt.dom[w] &= b.dom[w]; jf.dom[w] &= b.dom[w]; }
      }
    }
  }

  propedom(ep: Edge): void {
    setInsert(ep.edom, ep.id);
    if (ep.succ) {
      const et = ep.succ.et.edom;
      const ef = ep.succ.ef.edom;
      for (let w = 0; w < this.edgewords; w++) { et[w] &= ep.edom[w]; ef[w] &= ep.edom[w]; }
    }
  }

  findEdom(root: Block): void {
    for (const b of this.blocks) { b.et.edom.fill(0xffffffff); b.ef.edom.fill(0xffffffff); }
    root.et.edom.fill(0);
    root.ef.edom.fill(0);
    for (let i = root.level; i >= 0; --i) {
      for (let b = this.levels[i]; b; b = b.link) {
        this.propedom(b.et);
        this.propedom(b.ef);
      }
    }
  }

  findClosure(root: Block): void {
    for (const b of this.blocks) b.closure.fill(0);
    for (let i = root.level; i >= 0; --i) {
      for (let b = this.levels[i]; b; b = b.link) {
        setInsert(b.closure, b.id);
        const jt = JT(b);
        if (!jt) continue;
        const jf = JF(b) as Block;
        for (let w = 0; w < this.nodewords; w++) { jt.closure[w] |= b.closure[w]; jf.closure[w] |= b.closure[w]; }
      }
    }
  }

  computeLocalUd(b: Block): void {
    let def = 0, use = 0, killed = 0;
    const useOf = (s: Stmt): void => {
      const atom = atomuse(s);
      if (atom >= 0) {
        if (atom === AX_ATOM) {
          if (!ATOMELEM(def, X_ATOM)) use |= ATOMMASK(X_ATOM);
          if (!ATOMELEM(def, A_ATOM)) use |= ATOMMASK(A_ATOM);
        } else if (atom < N_ATOMS) {
          if (!ATOMELEM(def, atom)) use |= ATOMMASK(atom);
        } else throw new Error('atom');
      }
    };
    for (let s = b.stmts; s; s = s.next) {
      if (s.s.code === NOP) continue;
      useOf(s.s);
      const atom = atomdef(s.s);
      if (atom >= 0) {
        if (!ATOMELEM(use, atom)) killed |= ATOMMASK(atom);
        def |= ATOMMASK(atom);
      }
    }
    if (bpfClass(b.s.code) === BPF_JMP) useOf(b.s);
    b.def = def;
    b.kill = killed;
    b.inUse = use;
  }

  findUd(root: Block): void {
    const maxlevel = root.level;
    for (let i = maxlevel; i >= 0; --i) {
      for (let p = this.levels[i]; p; p = p.link) { this.computeLocalUd(p); p.outUse = 0; }
    }
    for (let i = 1; i <= maxlevel; ++i) {
      for (let p = this.levels[i]; p; p = p.link) {
        p.outUse |= (JT(p) as Block).inUse | (JF(p) as Block).inUse;
        p.inUse |= p.outUse & ~p.kill;
      }
    }
  }

  // -- value numbering ----------------------------------------------------------------------
  initVal(): void {
    this.curval = 0;
    this.hashtbl.clear();
    this.vmapConst = [false];
    this.vmapVal = [0];
  }

  F(code: number, v0: number, v1: number): number {
    const key = `${code},${v0},${v1}`;
    const hit = this.hashtbl.get(key);
    if (hit !== undefined) return hit;
    const val = ++this.curval;
    if (bpfMode(code) === BPF_IMM && (bpfClass(code) === BPF_LD || bpfClass(code) === BPF_LDX)) {
      this.vmapVal[val] = v0 >>> 0;
      this.vmapConst[val] = true;
    } else {
      this.vmapConst[val] = false;
      this.vmapVal[val] = 0;
    }
    this.hashtbl.set(key, val);
    return val;
  }

  K(i: number): number { return this.F(BPF_LD | BPF_IMM | 0, i >>> 0, 0); }
  isConst(v: number): boolean { return this.vmapConst[v] === true; }
  constVal(v: number): number { return this.vmapVal[v] >>> 0; }

  changed(): void { this.nonBranchMovementPerformed = true; this.done = false; }

  vstore(s: Stmt | null, val: Uint32Array, idx: number, newval: number, alter: boolean): void {
    if (alter && newval !== VAL_UNKNOWN && val[idx] === newval) (s as Stmt).code = NOP;
    else val[idx] = newval;
  }

  foldOp(s: Stmt, v0: number, v1: number): void {
    let a = this.constVal(v0);
    const b = this.constVal(v1);
    switch (bpfOp(s.code)) {
      case BPF_ADD: a = (a + b) >>> 0; break;
      case BPF_SUB: a = (a - b) >>> 0; break;
      case BPF_MUL: a = Math.imul(a, b) >>> 0; break;
      case BPF_DIV: if (b === 0) throw new FilterError('division by zero'); a = Math.floor(a / b) >>> 0; break;
      case BPF_MOD: if (b === 0) throw new FilterError('modulus by zero'); a = (a % b) >>> 0; break;
      case BPF_AND: a = (a & b) >>> 0; break;
      case BPF_OR: a = (a | b) >>> 0; break;
      case BPF_XOR: a = (a ^ b) >>> 0; break;
      case BPF_LSH: a = b < 32 ? (a << b) >>> 0 : 0; break;
      case BPF_RSH: a = b < 32 ? a >>> b : 0; break;
      default: throw new Error('fold_op');
    }
    s.k = a;
    s.code = BPF_LD | BPF_IMM;
    this.changed();
  }

  optPeep(b: Block): void {
    let s: Slist | null = b.stmts;
    if (!s) return;
    let last: Slist = s;
    let next: Slist | null;
    for (;; s = next) {
      s = thisOp(s);
      if (!s) break;
      next = thisOp(s.next);
      if (!next) break;
      last = next;
      if (s.s.code === BPF_ST && next.s.code === (BPF_LDX | BPF_MEM) && s.s.k === next.s.k) {
        this.changed();
        next.s.code = BPF_MISC | BPF_TAX;
      }
      if (s.s.code === (BPF_LD | BPF_IMM) && next.s.code === (BPF_MISC | BPF_TAX)) {
        s.s.code = BPF_LDX | BPF_IMM;
        next.s.code = BPF_MISC | BPF_TXA;
        this.changed();
      }
      if (s.s.code === (BPF_LD | BPF_IMM)) {
        if (ATOMELEM(b.outUse, X_ATOM)) continue;
        const add: Slist | null = next.s.code !== (BPF_LDX | BPF_MSH | BPF_B) ? next : thisOp(next.next);
        if (!add || add.s.code !== (BPF_ALU | BPF_ADD | BPF_X)) continue;
        const tax = thisOp(add.next);
        if (!tax || tax.s.code !== (BPF_MISC | BPF_TAX)) continue;
        const ild = thisOp(tax.next);
        if (!ild || bpfClass(ild.s.code) !== BPF_LD || bpfMode(ild.s.code) !== BPF_IND) continue;
        ild.s.k = (ild.s.k + s.s.k) >>> 0;
        s.s.code = NOP;
        add.s.code = NOP;
        tax.s.code = NOP;
        this.changed();
      }
    }
    if (b.s.code === (BPF_JMP | BPF_JEQ | BPF_K) && !ATOMELEM(b.outUse, A_ATOM)) {
      if (last.s.code === (BPF_ALU | BPF_SUB | BPF_X)) {
        const val = b.val[X_ATOM];
        if (this.isConst(val)) {
          b.s.k = (b.s.k + this.constVal(val)) >>> 0;
          last.s.code = NOP;
          this.changed();
        } else if (b.s.k === 0) {
          last.s.code = NOP;
          b.s.code = BPF_JMP | BPF_JEQ | BPF_X;
          this.changed();
        }
      } else if (last.s.code === (BPF_ALU | BPF_SUB | BPF_K)) {
        last.s.code = NOP;
        b.s.k = (b.s.k + last.s.k) >>> 0;
        this.changed();
      } else if (last.s.code === (BPF_ALU | BPF_AND | BPF_K) && b.s.k === 0) {
        b.s.k = last.s.k;
        b.s.code = BPF_JMP | BPF_K | BPF_JSET;
        last.s.code = NOP;
        this.changed();
        const tmp = b.et.succ; b.et.succ = b.ef.succ; b.ef.succ = tmp;
      }
    }
    if (b.s.code === (BPF_JMP | BPF_K | BPF_JSET)) {
      if (b.s.k === 0) b.et.succ = b.ef.succ;
      if (b.s.k === 0xffffffff) b.ef.succ = b.et.succ;
    }
    let val = b.val[X_ATOM];
    if (this.isConst(val) && bpfSrc(b.s.code) === BPF_X) {
      b.s.code &= ~BPF_X;
      b.s.k = this.constVal(val);
    }
    val = b.val[A_ATOM];
    if (this.isConst(val) && bpfSrc(b.s.code) === BPF_K) {
      let v = this.constVal(val);
      switch (bpfOp(b.s.code)) {
        case BPF_JEQ: v = v === b.s.k ? 1 : 0; break;
        case BPF_JGT: v = v > b.s.k ? 1 : 0; break;
        case BPF_JGE: v = v >= b.s.k ? 1 : 0; break;
        case BPF_JSET: v = (v & b.s.k) >>> 0; break;
        default: throw new Error('opt_peep');
      }
      if (b.ef.succ !== b.et.succ) this.changed();
      if (v) b.ef.succ = b.et.succ; else b.et.succ = b.ef.succ;
    }
  }

  optStmt(s: Stmt, val: Uint32Array, alter: boolean): void {
    let v: number;
    switch (s.code) {
      case BPF_LD | BPF_ABS | 0x00: case BPF_LD | BPF_ABS | 0x08: case BPF_LD | BPF_ABS | 0x10:
        v = this.F(s.code, s.k, 0);
        this.vstore(s, val, A_ATOM, v, alter);
        break;
      case BPF_LD | BPF_IND | 0x00: case BPF_LD | BPF_IND | 0x08: case BPF_LD | BPF_IND | 0x10:
        v = val[X_ATOM];
        if (alter && this.isConst(v)) {
          s.code = BPF_LD | BPF_ABS | bpfSize(s.code);
          s.k = (s.k + this.constVal(v)) >>> 0;
          v = this.F(s.code, s.k, 0);
          this.changed();
        } else v = this.F(s.code, s.k, v);
        this.vstore(s, val, A_ATOM, v, alter);
        break;
      case BPF_LD | BPF_LEN:
        v = this.F(s.code, 0, 0);
        this.vstore(s, val, A_ATOM, v, alter);
        break;
      case BPF_LD | BPF_IMM:
        v = this.K(s.k);
        this.vstore(s, val, A_ATOM, v, alter);
        break;
      case BPF_LDX | BPF_IMM:
        v = this.K(s.k);
        this.vstore(s, val, X_ATOM, v, alter);
        break;
      case BPF_LDX | BPF_MSH | BPF_B:
        v = this.F(s.code, s.k, 0);
        this.vstore(s, val, X_ATOM, v, alter);
        break;
      case BPF_ALU | BPF_NEG:
        if (alter && this.isConst(val[A_ATOM])) {
          s.code = BPF_LD | BPF_IMM;
          s.k = (0 - this.constVal(val[A_ATOM])) >>> 0;
          val[A_ATOM] = this.K(s.k);
        } else val[A_ATOM] = this.F(s.code, val[A_ATOM], 0);
        break;
      case BPF_ALU | BPF_ADD | BPF_K: case BPF_ALU | BPF_SUB | BPF_K: case BPF_ALU | BPF_MUL | BPF_K:
      case BPF_ALU | BPF_DIV | BPF_K: case BPF_ALU | BPF_MOD | BPF_K: case BPF_ALU | BPF_AND | BPF_K:
      case BPF_ALU | BPF_OR | BPF_K: case BPF_ALU | BPF_XOR | BPF_K: case BPF_ALU | BPF_LSH | BPF_K:
      case BPF_ALU | BPF_RSH | BPF_K: {
        const op = bpfOp(s.code);
        if (alter) {
          if (s.k === 0) {
            if (op === BPF_ADD || op === BPF_LSH || op === BPF_RSH || op === BPF_OR || op === BPF_XOR) {
              s.code = NOP;
              break;
            }
            if (op === BPF_MUL || op === BPF_AND) {
              s.code = BPF_LD | BPF_IMM;
              val[A_ATOM] = this.K(s.k);
              break;
            }
            if (op === BPF_DIV) throw new FilterError('division by zero');
            if (op === BPF_MOD) throw new FilterError('modulus by zero');
          }
          if (this.isConst(val[A_ATOM])) {
            this.foldOp(s, val[A_ATOM], this.K(s.k));
            val[A_ATOM] = this.K(s.k);
            break;
          }
        }
        val[A_ATOM] = this.F(s.code, val[A_ATOM], this.K(s.k));
        break;
      }
      case BPF_ALU | BPF_ADD | BPF_X: case BPF_ALU | BPF_SUB | BPF_X: case BPF_ALU | BPF_MUL | BPF_X:
      case BPF_ALU | BPF_DIV | BPF_X: case BPF_ALU | BPF_MOD | BPF_X: case BPF_ALU | BPF_AND | BPF_X:
      case BPF_ALU | BPF_OR | BPF_X: case BPF_ALU | BPF_XOR | BPF_X: case BPF_ALU | BPF_LSH | BPF_X:
      case BPF_ALU | BPF_RSH | BPF_X: {
        const op = bpfOp(s.code);
        if (alter && this.isConst(val[X_ATOM])) {
          if (this.isConst(val[A_ATOM])) {
            this.foldOp(s, val[A_ATOM], val[X_ATOM]);
            val[A_ATOM] = this.K(s.k);
          } else {
            s.code = BPF_ALU | BPF_K | op;
            s.k = this.constVal(val[X_ATOM]);
            if ((op === BPF_LSH || op === BPF_RSH) && s.k > 31) throw new FilterError('shift by more than 31 bits');
            this.changed();
            val[A_ATOM] = this.F(s.code, val[A_ATOM], this.K(s.k));
          }
          break;
        }
        if (alter && this.isConst(val[A_ATOM]) && this.constVal(val[A_ATOM]) === 0) {
          if (op === BPF_ADD || op === BPF_OR || op === BPF_XOR) {
            s.code = BPF_MISC | BPF_TXA;
            this.vstore(s, val, A_ATOM, val[X_ATOM], alter);
            break;
          } else if (op === BPF_MUL || op === BPF_DIV || op === BPF_MOD || op === BPF_AND || op === BPF_LSH || op === BPF_RSH) {
            s.code = BPF_LD | BPF_IMM;
            s.k = 0;
            this.vstore(s, val, A_ATOM, this.K(s.k), alter);
            break;
          } else if (op === BPF_NEG) {
            s.code = NOP;
            break;
          }
        }
        val[A_ATOM] = this.F(s.code, val[A_ATOM], val[X_ATOM]);
        break;
      }
      case BPF_MISC | BPF_TXA:
        this.vstore(s, val, A_ATOM, val[X_ATOM], alter);
        break;
      case BPF_LD | BPF_MEM:
        v = val[s.k];
        if (alter && this.isConst(v)) {
          s.code = BPF_LD | BPF_IMM;
          s.k = this.constVal(v);
          this.changed();
        }
        this.vstore(s, val, A_ATOM, v, alter);
        break;
      case BPF_MISC | BPF_TAX:
        this.vstore(s, val, X_ATOM, val[A_ATOM], alter);
        break;
      case BPF_LDX | BPF_MEM:
        v = val[s.k];
        if (alter && this.isConst(v)) {
          s.code = BPF_LDX | BPF_IMM;
          s.k = this.constVal(v);
          this.changed();
        }
        this.vstore(s, val, X_ATOM, v, alter);
        break;
      case BPF_ST:
        this.vstore(s, val, s.k, val[A_ATOM], alter);
        break;
      case BPF_STX:
        this.vstore(s, val, s.k, val[X_ATOM], alter);
        break;
    }
  }

  deadstmt(s: Stmt, last: (Stmt | null)[]): void {
    let atom = atomuse(s);
    if (atom >= 0) {
      if (atom === AX_ATOM) { last[X_ATOM] = null; last[A_ATOM] = null; } else last[atom] = null;
    }
    atom = atomdef(s);
    if (atom >= 0) {
      const l = last[atom];
      if (l) { this.changed(); l.code = NOP; }
      last[atom] = s;
    }
  }

  optDeadstores(b: Block): void {
    const last: (Stmt | null)[] = new Array<Stmt | null>(N_ATOMS).fill(null);
    for (let s = b.stmts; s; s = s.next) this.deadstmt(s.s, last);
    this.deadstmt(b.s, last);
    for (let atom = 0; atom < N_ATOMS; ++atom) {
      const l = last[atom];
      if (l && !ATOMELEM(b.outUse, atom)) {
        // 1.10.3's opt_deadstores() keeps the atom's value number after removing its dead store
        // (later libpcap marks it VAL_UNKNOWN); a successor then still sees, e.g., X's constant and
        // may drop statements that recompute A (tcpdump -y RAW 'link[0] = 1 or igrp or ip6').
        l.code = NOP;
        this.changed();
      }
    }
  }

  optBlk(b: Block, doStmts: boolean): void {
    let p = b.inEdges;
    if (!p) b.val.fill(0);
    else {
      b.val.set(p.pred.val);
      while ((p = p.next) !== null) {
        for (let i = 0; i < N_ATOMS; ++i) if (b.val[i] !== p.pred.val[i]) b.val[i] = 0;
      }
    }
    const aval = b.val[A_ATOM];
    const xval = b.val[X_ATOM];
    for (let s = b.stmts; s; s = s.next) this.optStmt(s.s, b.val, doStmts);
    if (doStmts && ((b.outUse === 0 && aval !== VAL_UNKNOWN && b.val[A_ATOM] === aval &&
      xval !== VAL_UNKNOWN && b.val[X_ATOM] === xval) || bpfClass(b.s.code) === BPF_RET)) {
      if (b.stmts) { b.stmts = null; this.changed(); }
    } else {
      this.optPeep(b);
      this.optDeadstores(b);
    }
    if (bpfSrc(b.s.code) === BPF_K) b.oval = this.K(b.s.k);
    else b.oval = b.val[X_ATOM];
    b.et.code = b.s.code;
    b.ef.code = -b.s.code;
  }

  optJ(ep: Edge): void {
    const succ0 = ep.succ as Block;
    if (!JT(succ0)) return;
    if (JT(succ0) === JF(succ0)) {
      if (!useConflict(ep.pred, JT(succ0) as Block)) {
        this.changed();
        ep.succ = JT(succ0);
      }
    }
    top: for (;;) {
      for (let i = 0; i < this.edgewords; ++i) {
        let x = ep.edom[i];
        while (x !== 0) {
          const k0 = 31 - Math.clz32(x & -x);
          x = (x & ~(1 << k0)) >>> 0;
          const k = k0 + i * 32;
          const target = foldEdge(ep.succ as Block, this.edges[k]);
          if (target && !useConflict(ep.pred, target)) {
            this.done = false;
            ep.succ = target;
            if (JT(target)) continue top;
            return;
          }
        }
      }
      return;
    }
  }

  orPullup(b: Block, root: Block): void {
    let ep = b.inEdges;
    if (!ep) return;
    const val = ep.pred.val[A_ATOM];
    for (ep = ep.next; ep; ep = ep.next) if (val !== ep.pred.val[A_ATOM]) return;
    const first = (b.inEdges as Edge).pred;
    // diffp as (owner block, which edge) pairs.
    let dOwner: Block = first;
    let dTrue = JT(first) === b;
    let atTop = true;
    for (;;) {
      const d = edgeGet(dOwner, dTrue);
      if (!d) return;
      if (JT(d) !== JT(b)) return;
      if (!setMember(d.dom, b.id)) return;
      if (d.val[A_ATOM] !== val) break;
      dOwner = d; dTrue = false;
      atTop = false;
    }
    const dblk = edgeGet(dOwner, dTrue) as Block;
    let sOwner: Block = dblk;
    let sTrue = false;
    for (;;) {
      const sm = edgeGet(sOwner, sTrue);
      if (!sm) return;
      if (JT(sm) !== JT(b)) return;
      if (!setMember(sm.dom, b.id)) return;
      if (sm.val[A_ATOM] === val) break;
      sOwner = sm; sTrue = false;
    }
    const pull = edgeGet(sOwner, sTrue) as Block;
    edgePut(sOwner, sTrue, JF(pull));
    pull.ef.succ = edgeGet(dOwner, dTrue);
    if (atTop) {
      for (ep = b.inEdges; ep; ep = ep.next) {
        if (JT(ep.pred) === b) ep.pred.et.succ = pull; else ep.pred.ef.succ = pull;
      }
    } else edgePut(dOwner, dTrue, pull);
    this.done = false;
    this.findDom(root);
  }

  andPullup(b: Block, root: Block): void {
    let ep = b.inEdges;
    if (!ep) return;
    const val = ep.pred.val[A_ATOM];
    for (ep = ep.next; ep; ep = ep.next) if (val !== ep.pred.val[A_ATOM]) return;
    const first = (b.inEdges as Edge).pred;
    let dOwner: Block = first;
    let dTrue = JT(first) === b;
    let atTop = true;
    for (;;) {
      const d = edgeGet(dOwner, dTrue);
      if (!d) return;
      if (JF(d) !== JF(b)) return;
      if (!setMember(d.dom, b.id)) return;
      if (d.val[A_ATOM] !== val) break;
      dOwner = d; dTrue = true;
      atTop = false;
    }
    const dblk = edgeGet(dOwner, dTrue) as Block;
    let sOwner: Block = dblk;
    let sTrue = true;
    for (;;) {
      const sm = edgeGet(sOwner, sTrue);
      if (!sm) return;
      if (JF(sm) !== JF(b)) return;
      if (!setMember(sm.dom, b.id)) return;
      if (sm.val[A_ATOM] === val) break;
      sOwner = sm; sTrue = true;
    }
    const pull = edgeGet(sOwner, sTrue) as Block;
    edgePut(sOwner, sTrue, JT(pull));
    pull.et.succ = edgeGet(dOwner, dTrue);
    if (atTop) {
      for (ep = b.inEdges; ep; ep = ep.next) {
        if (JT(ep.pred) === b) ep.pred.et.succ = pull; else ep.pred.ef.succ = pull;
      }
    } else edgePut(dOwner, dTrue, pull);
    this.done = false;
    this.findDom(root);
  }

  findInedges(root: Block): void {
    for (const b of this.blocks) b.inEdges = null;
    for (let level = root.level; level > 0; --level) {
      for (let b = this.levels[level]; b; b = b.link) {
        linkInedge(b.et, JT(b) as Block);
        linkInedge(b.ef, JF(b) as Block);
      }
    }
  }

  optBlks(ic: { root: Block }, doStmts: boolean): void {
    this.initVal();
    const maxlevel = ic.root.level;
    this.findInedges(ic.root);
    for (let i = maxlevel; i >= 0; --i) for (let p = this.levels[i]; p; p = p.link) this.optBlk(p, doStmts);
    if (doStmts) return;
    for (let i = 1; i <= maxlevel; ++i) {
      for (let p = this.levels[i]; p; p = p.link) { this.optJ(p.et); this.optJ(p.ef); }
    }
    this.findInedges(ic.root);
    for (let i = 1; i <= maxlevel; ++i) {
      for (let p = this.levels[i]; p; p = p.link) { this.orPullup(p, ic.root); this.andPullup(p, ic.root); }
    }
  }

  optLoop(ic: { root: Block }, doStmts: boolean): void {
    let loopCount = 0;
    for (;;) {
      this.done = true;
      this.nonBranchMovementPerformed = false;
      this.findLevels(ic.root);
      this.findDom(ic.root);
      this.findClosure(ic.root);
      this.findUd(ic.root);
      this.findEdom(ic.root);
      this.optBlks(ic, doStmts);
      if (this.done) break;
      if (this.nonBranchMovementPerformed) loopCount = 0;
      else if (++loopCount >= 100) { this.done = true; break; }
    }
  }

  numberBlksR(p: Block | null): void {
    if (!p || isMarked(p)) return;
    mark(p);
    const n = this.nBlocks++;
    p.id = n;
    this.blocks[n] = p;
    this.numberBlksR(JT(p));
    this.numberBlksR(JF(p));
  }

  optInit(root: Block): void {
    unMarkAll();
    this.nBlocks = 0;
    this.blocks = [];
    this.numberBlksR(root);
    this.nEdges = 2 * this.nBlocks;
    this.edgewords = Math.floor(this.nEdges / 32) + 1;
    this.nodewords = Math.floor(this.nBlocks / 32) + 1;
    this.edges = new Array<Edge>(this.nEdges);
    for (let i = 0; i < this.nBlocks; i++) {
      const b = this.blocks[i];
      b.dom = new Uint32Array(this.nodewords);
      b.closure = new Uint32Array(this.nodewords);
      b.et.edom = new Uint32Array(this.edgewords);
      b.ef.edom = new Uint32Array(this.edgewords);
      b.et.id = i;
      this.edges[i] = b.et;
      b.ef.id = this.nBlocks + i;
      this.edges[this.nBlocks + i] = b.ef;
      b.et.pred = b;
      b.ef.pred = b;
    }
  }

  internBlocks(ic: { root: Block }): void {
    for (;;) {
      let done1 = true;
      for (const b of this.blocks) b.link = null;
      unMarkAll();
      makeMarks(ic.root);
      // As intern_blocks(): each block links to the first later block equal to it (eq_blk()),
      // found through a signature map instead of the quadratic scan.
      const latest = new Map<string, Block>();
      const sig = (b: Block): string =>
        `${b.s.code}|${b.s.k}|${b.et.succ ? b.et.succ.id : -1}|${b.ef.succ ? b.ef.succ.id : -1}|${slistKey(b.stmts)}`;
      const last = this.blocks[this.nBlocks - 1];
      if (last && isMarked(last)) latest.set(sig(last), last);
      for (let i = this.nBlocks - 1; i !== 0;) {
        --i;
        const bi = this.blocks[i];
        if (!isMarked(bi)) continue;
        const key = sig(bi);
        const bj = latest.get(key);
        if (bj) bi.link = bj.link ? bj.link : bj;
        latest.set(key, bi);
      }
      for (const p of this.blocks) {
        if (!JT(p)) continue;
        const jt = JT(p) as Block;
        const jf = JF(p) as Block;
        if (jt.link) { done1 = false; p.et.succ = jt.link; }
        if (jf.link) { done1 = false; p.ef.succ = jf.link; }
      }
      if (done1) return;
    }
  }
}

function edgeGet(o: Block, t: boolean): Block | null { return t ? o.et.succ : o.ef.succ; }
function edgePut(o: Block, t: boolean, v: Block | null): void { if (t) o.et.succ = v; else o.ef.succ = v; }

/** eq_slist()'s notion of a statement list, as a string (NOPs skipped). */
function slistKey(x: Slist | null): string {
  let k = '';
  for (; x; x = x.next) if (x.s.code !== NOP) k += `${x.s.code}:${x.s.k},`;
  return k;
}

function thisOp(s: Slist | null): Slist | null {
  while (s && s.s.code === NOP) s = s.next;
  return s;
}

function useConflict(b: Block, succ: Block): boolean {
  const use = succ.outUse;
  if (use === 0) return false;
  for (let atom = 0; atom < N_ATOMS; ++atom) if (ATOMELEM(use, atom) && b.val[atom] !== succ.val[atom]) return true;
  return false;
}

function foldEdge(child: Block, ep: Edge): Block | null {
  let code = ep.code;
  let sense: boolean;
  if (code < 0) { code = -code; sense = false; } else sense = true;
  if (child.s.code !== code) return null;
  const aval0 = child.val[A_ATOM];
  const oval0 = child.oval;
  const aval1 = ep.pred.val[A_ATOM];
  const oval1 = ep.pred.oval;
  if (aval0 !== aval1) return null;
  if (oval0 === oval1) return sense ? JT(child) : JF(child);
  if (sense && code === (BPF_JMP | BPF_JEQ | BPF_K)) return JF(child);
  return null;
}

function linkInedge(parent: Edge, child: Block): void {
  parent.next = child.inEdges;
  child.inEdges = parent;
}

function makeMarks(p: Block): void {
  if (!isMarked(p)) {
    mark(p);
    if (bpfClass(p.s.code) !== BPF_RET) { makeMarks(JT(p) as Block); makeMarks(JF(p) as Block); }
  }
}

function optRoot(ic: { root: Block }): void {
  const s = ic.root.stmts;
  ic.root.stmts = null;
  while (bpfClass(ic.root.s.code) === BPF_JMP && JT(ic.root) === JF(ic.root)) ic.root = JT(ic.root) as Block;
  const tmp = ic.root.stmts;
  let merged = s;
  if (tmp) {
    if (merged) { let e = merged; while (e.next) e = e.next; e.next = tmp; } else merged = tmp;
  }
  ic.root.stmts = merged;
  if (bpfClass(ic.root.s.code) === BPF_RET) ic.root.stmts = null;
}

/** bpf_optimize(): rewrites the graph in place; returns the new root. */
export function bpfOptimize(root: Block): Block {
  const st = new OptState();
  const ic = { root };
  st.optInit(ic.root);
  st.optLoop(ic, false);
  st.optLoop(ic, true);
  st.internBlocks(ic);
  optRoot(ic);
  return ic.root;
}

function slength(s: Slist | null): number {
  let n = 0;
  for (; s; s = s.next) if (s.s.code !== NOP) ++n;
  return n;
}

function countStmts(p: Block | null): number {
  if (!p || isMarked(p)) return 0;
  mark(p);
  const n = countStmts(JT(p)) + countStmts(JF(p));
  return slength(p.stmts) + n + 1 + p.longjt + p.longjf;
}

/** icode_to_fcode(): lay the blocks out back to front, as libpcap does. */
export function icodeToFcode(root: Block): CInsn[] {
  for (;;) {
    unMarkAll();
    const n = countStmts(root);
    const out: CInsn[] = [];
    for (let i = 0; i < n; i++) out.push({ code: 0, jt: 0, jf: 0, k: 0 });
    let ftail = n;
    unMarkAll();
    const convert = (p: Block | null): boolean => {
      if (!p || isMarked(p)) return true;
      mark(p);
      if (!convert(JF(p))) return false;
      if (!convert(JT(p))) return false;
      const slen = slength(p.stmts);
      ftail -= slen + 1 + p.longjt + p.longjf;
      let dst = ftail;
      p.offset = dst;
      const offset: Slist[] = [];
      for (let src = p.stmts; src && offset.length < slen; src = src.next) offset.push(src);
      let off = 0;
      for (let src = p.stmts; src; src = src.next) {
        if (src.s.code === NOP) continue;
        out[dst].code = src.s.code;
        out[dst].k = src.s.k >>> 0;
        // Block-local relative jumps (protochain), as convert_code_r().
        if (bpfClass(src.s.code) === BPF_JMP && src.s.code !== (BPF_JMP | BPF_JA) && off !== slen - 2) {
          if (!src.s.jt || !src.s.jf) throw new FilterError(`no jmp destination for block-local relative jump: off=${off}`);
          let jt = 0, jf = 0;
          for (let i = 0; i < slen; i++) {
            if (offset[i] === src.s.jt) { out[dst].jt = i - off - 1; jt++; }
            if (offset[i] === src.s.jf) { out[dst].jf = i - off - 1; jf++; }
          }
          if (!jt || !jf) throw new FilterError(`no destination found for block-local relative jump: off=${off}`);
        }
        dst++;
        off++;
      }
      out[dst].code = p.s.code;
      out[dst].k = p.s.k >>> 0;
      const jt = JT(p);
      if (jt) {
        let extrajmps = 0;
        let off = jt.offset - (p.offset + slen) - 1;
        if (off >= 256) {
          if (p.longjt === 0) { p.longjt++; return false; }
          out[dst].jt = extrajmps;
          extrajmps++;
          out[dst + extrajmps].code = BPF_JMP | BPF_JA;
          out[dst + extrajmps].k = off - extrajmps;
        } else out[dst].jt = off;
        off = (JF(p) as Block).offset - (p.offset + slen) - 1;
        if (off >= 256) {
          if (p.longjf === 0) { p.longjf++; return false; }
          out[dst].jf = extrajmps;
          extrajmps++;
          out[dst + extrajmps].code = BPF_JMP | BPF_JA;
          out[dst + extrajmps].k = off - extrajmps;
        } else out[dst].jf = off;
      }
      return true;
    };
    if (convert(root)) return out;
  }
}


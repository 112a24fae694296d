/*
 * Precision tracking (kernel/bpf/verifier.c of Linux 6.18: __mark_chain_precision(),
 * backtrack_insn(), get_prev_insn_idx(), the bt_* masks, mark_all_scalars_precise(),
 * propagate_precision()). Scalars start imprecise, so that an explored state's scalar matches any
 * scalar when pruning; when a scalar's value decides something (a branch, a pointer offset, a
 * helper size...), the instructions that computed it are walked backwards through the jump history
 * and every register and stack slot they came from is marked precise in the parent states.
 */
import type { Insn } from '../isa/insn.js';
import { BPF_ABS, BPF_ALU, BPF_ALU64, BPF_ATOMIC, BPF_CALL, BPF_CMPXCHG, BPF_EXIT, BPF_FETCH, BPF_IND, BPF_JMP, BPF_JMP32, BPF_K, BPF_LD, BPF_LDX, BPF_PSEUDO_CALL, BPF_PSEUDO_KFUNC_CALL, BPF_ST, BPF_STX, bpfClass, bpfMode, bpfOp, bpfSrc } from '../isa/opcodes.js';
import { HIST_STRIDE, MAX_CALL_FRAMES, STACK_SPILL, type FuncState, type VState } from './state.js';

/** INSN_F_*: a history entry's flags; a stack access records the frame and slot it spilled or filled */
export const INSN_F_STACK_ACCESS = 1 << 9;
export const stackAccessFlags = (frameno: number, spi: number): number => INSN_F_STACK_ACCESS | (spi << 3) | frameno;
const flagsSpi = (f: number): number => (f >> 3) & 0x3f;
const flagsFrame = (f: number): number => f & 7;

/** One linked register (struct linked_reg), packed: frame (3 bits), register or slot (6), is_reg (1). */
export const packLinked = (frameno: number, regOrSpi: number, isReg: boolean): number => frameno | (regOrSpi << 3) | (isReg ? 1 << 9 : 0);

const REGMASK_ARGS = 0x3e; // r1-r5
/** Helpers calling a callback synchronously (is_sync_callback_calling_insn()): for_each_map_elem, find_vma, loop, user_ringbuf_drain */
export const SYNC_CALLBACK_HELPERS = new Set([164, 180, 181, 209]);

/** What the backtracking reads from and writes to in the verifier. */
export interface PrecisionHost {
  insns: readonly Insn[];
  /** Log level 2 lines, or undefined below level 2. */
  log2?: (line: string) => void;
  insnText(pc: number): string;
  /** Linked-register records referenced by history entries (index + 1). */
  linked: number[][];
  /** print_verifier_state(st, frame, true) without the newline */
  stateText(st: VState, frame: number): string;
}

/** struct backtrack_state: registers and stack slots still needing precision, per frame */
export class Backtrack {
  frame = 0;
  regs = new Uint32Array(MAX_CALL_FRAMES);
  stackLo = new Uint32Array(MAX_CALL_FRAMES);
  stackHi = new Uint32Array(MAX_CALL_FRAMES);
  reset(): void { this.frame = 0; this.regs.fill(0); this.stackLo.fill(0); this.stackHi.fill(0); }
  empty(): boolean {
    for (let i = 0; i <= this.frame; i++) if (this.regs[i] | this.stackLo[i] | this.stackHi[i]) return false;
    return true;
  }
  setReg(fr: number, r: number): void { this.regs[fr] |= 1 << r; }
  clearReg(fr: number, r: number): void { this.regs[fr] &= ~(1 << r); }
  isReg(fr: number, r: number): boolean { return (this.regs[fr] & (1 << r)) !== 0; }
  setSlot(fr: number, spi: number): void { if (spi < 32) this.stackLo[fr] |= 1 << spi; else this.stackHi[fr] |= 1 << (spi - 32); }
  clearSlot(fr: number, spi: number): void { if (spi < 32) this.stackLo[fr] &= ~(1 << spi); else this.stackHi[fr] &= ~(1 << (spi - 32)); }
  isSlot(fr: number, spi: number): boolean { return ((spi < 32 ? this.stackLo[fr] >>> spi : this.stackHi[fr] >>> (spi - 32)) & 1) !== 0; }
  stackEmpty(fr: number): boolean { return (this.stackLo[fr] | this.stackHi[fr]) === 0; }
  /** fmt_reg_mask(): "r0,r2" */
  regsText(fr: number): string {
    const out: string[] = [];
    for (let i = 0; i < 32; i++) if ((this.regs[fr] >>> i) & 1) out.push(`r${i}`);
    return out.join(',');
  }
  /** bpf_fmt_stack_mask(): "-8,-24" */
  stackText(fr: number): string {
    const out: string[] = [];
    for (let i = 0; i < 64; i++) if (this.isSlot(fr, i)) out.push(String(-(i + 1) * 8));
    return out.join(',');
  }
}

class NotSupported { }

/** bt_sync_linked_regs(): if one register of a linked set needs precision, all of them do */
function syncLinked(host: PrecisionHost, bt: Backtrack, linkedRef: number): void {
  if (!linkedRef) return;
  const set = host.linked[linkedRef - 1];
  let some = false;
  for (const e of set) {
    const fr = e & 7, n = (e >> 3) & 0x3f;
    if ((e >> 9) & 1 ? bt.isReg(fr, n) : bt.isSlot(fr, n)) { some = true; break; }
  }
  if (!some) return;
  for (const e of set) {
    const fr = e & 7, n = (e >> 3) & 0x3f;
    if ((e >> 9) & 1) bt.setReg(fr, n); else bt.setSlot(fr, n);
  }
}

/** backtrack_insn(): which registers and slots need precision before insn idx, given those needed after it */
function backtrackInsn(host: PrecisionHost, idx: number, subseqIdx: number, histFlags: number, histLinked: number, bt: Backtrack): void {
  const insn = host.insns[idx];
  if (insn.code === 0) return; // second half of ld_imm64
  if (host.log2) host.log2(`mark_precise: frame${bt.frame}: regs=${bt.regsText(bt.frame)} stack=${bt.stackText(bt.frame)} before ${idx}: ${host.insnText(idx)}`);
  syncLinked(host, bt, histLinked);
  const cls = bpfClass(insn.code), op = bpfOp(insn.code), fr = bt.frame;
  const dreg = insn.dst, sreg = insn.src;
  if (cls === BPF_ALU || cls === BPF_ALU64) {
    if (!bt.isReg(fr, dreg)) return;
    if (op === 0xd0 || op === 0x80) return; // end, neg: dreg still needs precision
    if (op === 0xb0) {
      bt.clearReg(fr, dreg);
      if (bpfSrc(insn.code) !== BPF_K && sreg !== 10) bt.setReg(fr, sreg);
    } else if (bpfSrc(insn.code) !== BPF_K && sreg !== 10) bt.setReg(fr, sreg);
  } else if (cls === BPF_LDX || (cls === BPF_STX && bpfMode(insn.code) === BPF_ATOMIC && ((insn.imm & BPF_FETCH) !== 0 || insn.imm === 0x100))) {
    // loads, and atomics that load (fetch into src, r0 for cmpxchg; load-acquire into dst): a fill
    // from the stack carries the need on to the slot (is_atomic_fetch_insn(), is_atomic_load_insn())
    const loadReg = cls === BPF_LDX || insn.imm === 0x100 ? dreg : insn.imm === BPF_CMPXCHG ? 0 : sreg;
    if (!bt.isReg(fr, loadReg)) return;
    bt.clearReg(fr, loadReg);
    // only a fill from the stack carries the value on; other loads are as precise as their type
    if (!(histFlags & INSN_F_STACK_ACCESS)) return;
    bt.setSlot(flagsFrame(histFlags), flagsSpi(histFlags));
  } else if (cls === BPF_STX || cls === BPF_ST) {
    if (bt.isReg(fr, dreg)) throw new NotSupported(); // scalar used as an address: pointer subtraction
    if (!(histFlags & INSN_F_STACK_ACCESS)) return;
    const sf = flagsFrame(histFlags), spi = flagsSpi(histFlags);
    if (!bt.isSlot(sf, spi)) return;
    bt.clearSlot(sf, spi);
    if (cls === BPF_STX) bt.setReg(fr, sreg);
  } else if (cls === BPF_JMP || cls === BPF_JMP32) {
    if (op === BPF_CALL && insn.src === BPF_PSEUDO_CALL) {
      // static subprogram: leaving it backwards, r1-r5 continue in the caller
      if (bt.regs[fr] & ~REGMASK_ARGS || !bt.stackEmpty(fr)) throw new Error(`verifier bug: static subprog unexpected regs ${bt.regs[fr].toString(16)}`);
      for (let i = 1; i <= 5; i++) if (bt.isReg(fr, i)) { bt.clearReg(fr, i); bt.setReg(fr - 1, i); }
      if (bt.frame === 0) throw new Error('verifier bug: subprog exit from frame 0');
      bt.frame--;
      return;
    }
    if (op === BPF_CALL && insn.src === 0 && SYNC_CALLBACK_HELPERS.has(insn.imm) && idx !== subseqIdx - 1) {
      // back from a callback into the helper calling it: r1-r5 were set by the helper
      for (let i = 1; i <= 5; i++) bt.clearReg(fr, i);
      bt.frame--;
      return;
    }
    if (op === BPF_CALL) {
      if (insn.src === BPF_PSEUDO_KFUNC_CALL && insn.imm === 0) throw new NotSupported();
      bt.clearReg(fr, 0); // the helper sets r0
      if (bt.regs[fr] & REGMASK_ARGS) throw new Error(`verifier bug: backtracking call unexpected regs ${bt.regs[fr].toString(16)}`);
    } else if (op === BPF_EXIT) {
      // entering a subprogram backwards; r0 stays needed only when returning from a static subprogram.
      // Out of a callback back into its helper call, the caller's r1-r5 stay marked: 6.18's level-2
      // logs show them reaching the checkpoint before the call (bpf_loop's flags, r4)
      const prev = host.insns[subseqIdx - 1];
      const r0 = subseqIdx - 1 >= 0 && prev !== undefined && prev.code === 0x85 && prev.src === BPF_PSEUDO_CALL && bt.isReg(fr, 0);
      bt.clearReg(fr, 0);
      if (bt.frame === MAX_CALL_FRAMES - 1) throw new Error('verifier bug: subprog enter');
      bt.frame++;
      if (r0) bt.setReg(bt.frame, 0);
      return;
    } else if (bpfSrc(insn.code) !== BPF_K && op !== 0x00 /* ja */) {
      if (!bt.isReg(fr, dreg) && !bt.isReg(fr, sreg)) return;
      // dreg <cond> sreg: both need precision before it
      bt.setReg(fr, sreg);
      bt.setReg(fr, dreg);
    }
  } else if (cls === BPF_LD) {
    if (!bt.isReg(fr, dreg)) return;
    bt.clearReg(fr, dreg);
    const mode = bpfMode(insn.code);
    if (mode === BPF_IND || mode === BPF_ABS) throw new NotSupported();
  }
  syncLinked(host, bt, histLinked);
}

/**
 * backtrack_insn()'s early returns without any change to bt: an ALU op, load or ld_imm64 whose
 * destination is not needed, a store that is no stack spill and does not use a needed register
 * as its address.
 */
function leavesBtAlone(insn: Insn, histFlags: number, bt: Backtrack): boolean {
  const cls = insn.code & 7;
  if (cls === BPF_JMP || cls === BPF_JMP32) return false;
  const dstNeeded = ((bt.regs[bt.frame] >>> insn.dst) & 1) !== 0;
  if (cls === BPF_STX || cls === BPF_ST) return !dstNeeded && !(histFlags & INSN_F_STACK_ACCESS);
  return !dstNeeded; // ALU, ALU64, LDX, LD (and the second half of ld_imm64, code 0)
}

/** mark_all_scalars_precise(): the fallback when backtracking cannot follow a value */
function markAllScalarsPrecise(host: PrecisionHost, st: VState): void {
  host.log2?.(`mark_precise: frame${st.frames.length - 1}: falling back to forcing all scalars precise`);
  for (let e = st.parent; e; e = e.state.parent) {
    const s = e.state;
    s.frames.forEach((f: FuncState, i: number) => {
      for (let j = 0; j < 10; j++) {
        const r = f.regs[j];
        if (r.type !== 'scalar' || r.precise) continue;
        r.precise = true;
        host.log2?.(`force_precise: frame${i}: forcing r${j} to be precise`);
      }
      f.stack.forEach((slot, j) => {
        const r = slot.spilled;
        if (slot.types[7] !== STACK_SPILL || !r || r.type !== 'scalar' || r.precise) return;
        r.precise = true;
        host.log2?.(`force_precise: frame${i}: forcing fp${-(j + 1) * 8} to be precise`);
      });
    });
  }
}

/** get_prev_insn_idx(): the instruction before i on this path, or -1 at the state's start */
function prevInsn(st: VState, i: number, cnt: { n: number }): number {
  const h = st.hist;
  if (i === st.firstInsnIdx) {
    if (cnt.n === 0) return -1;
    if (cnt.n === 1 && h[0] === i) return -1;
  }
  if (cnt.n && h[(cnt.n - 1) * HIST_STRIDE] === i) {
    cnt.n--;
    return h[cnt.n * HIST_STRIDE + 1];
  }
  return i - 1;
}

/**
 * __mark_chain_precision(): with bt holding what the current instruction of `starting` needs
 * (regno >= 0 adds that register), walk back through the state's instructions and its parents,
 * marking what each parent checkpoint must keep precise. The current state itself is not marked.
 * Returns whether some mark was newly set.
 */
export function markChainPrecision(host: PrecisionHost, starting: VState, regno: number, bt: Backtrack): boolean {
  let st: VState = starting;
  let firstIdx = st.firstInsnIdx, lastIdx = st.insnIdx, subseqIdx = -1;
  let skipFirst = true, changed = false;
  bt.frame = starting.frames.length - 1;
  if (regno >= 0) {
    if (st.frames[bt.frame].regs[regno].type !== 'scalar') throw new Error('verifier bug: backtracking misuse');
    bt.setReg(bt.frame, regno);
  }
  if (bt.empty()) return false;
  try {
    for (;;) {
      const cnt = { n: st.hist.length / HIST_STRIDE };
      host.log2?.(`mark_precise: frame${bt.frame}: last_idx ${lastIdx} first_idx ${firstIdx} subseq_idx ${subseqIdx} `);
      if (lastIdx < 0) throw new Error(`verifier bug: backtracking func entry reg_mask ${bt.regs[bt.frame].toString(16)}`);
      const hist = st.hist, insns = host.insns, quiet = !host.log2;
      for (let i = lastIdx; ;) {
        if (skipFirst) {
          skipFirst = false;
          if (bt.empty()) return changed;
        } else {
          // get_jmp_hist_entry(): the last unconsumed entry, if it is for this instruction
          const top = (cnt.n - 1) * HIST_STRIDE;
          const has = cnt.n > 0 && hist[top] === i;
          const flags = has ? hist[top + 2] : 0, linked = has ? hist[top + 3] : 0;
          // most instructions on the way back touch none of the needed registers: backtrack_insn()
          // would return early leaving bt as it is (non-empty), so it is not called
          if (!(quiet && linked === 0 && leavesBtAlone(insns[i], flags, bt))) {
            backtrackInsn(host, i, subseqIdx, flags, linked, bt);
            if (bt.empty()) return changed;
          }
        }
        subseqIdx = i;
        i = prevInsn(st, i, cnt);
        if (i < 0) break;
        if (i >= insns.length) throw new Error(`verifier bug: backtracking idx ${i}`);
      }
      const parent = st.parent?.state;
      if (!parent) break;
      st = parent;
      for (let fr = bt.frame; fr >= 0; fr--) {
        const func = st.frames[fr];
        // only the set bits of the masks (most are empty)
        for (let m = bt.regs[fr]; m !== 0; m &= m - 1) {
          const i = 31 - Math.clz32(m & -m);
          const r = func.regs[i];
          if (r.type !== 'scalar' || r.precise) bt.clearReg(fr, i);
          else { r.precise = true; changed = true; }
        }
        for (let half = 0; half < 2; half++) {
          for (let m = half ? bt.stackHi[fr] : bt.stackLo[fr]; m !== 0; m &= m - 1) {
            const i = half * 32 + 31 - Math.clz32(m & -m);
            const slot = func.stack[i];
            const r = slot?.spilled;
            if (!slot || slot.types[7] !== STACK_SPILL || !r || r.type !== 'scalar' || r.precise) bt.clearSlot(fr, i);
            else { r.precise = true; changed = true; }
          }
        }
        host.log2?.(`mark_precise: frame${fr}: parent state regs=${bt.regsText(fr)} stack=${bt.stackText(fr)}: ${host.stateText(st, fr)}`);
      }
      if (bt.empty()) return changed;
      subseqIdx = firstIdx;
      lastIdx = st.lastInsnIdx;
      firstIdx = st.firstInsnIdx;
    }
  } catch (e) {
    if (!(e instanceof NotSupported)) throw e;
    markAllScalarsPrecise(host, starting);
    bt.reset();
    return changed;
  }
  // something was missed (e.g. a stack access not through r10): be conservative
  if (!bt.empty()) { markAllScalarsPrecise(host, starting); bt.reset(); }
  return changed;
}

/** mark_all_scalars_imprecise(): before checkpointing, forget inherited marks (children re-mark what they need) */
export function markAllScalarsImprecise(st: VState): void {
  for (const f of st.frames) {
    for (let j = 0; j < 10; j++) if (f.regs[j].type === 'scalar') f.regs[j].precise = false;
    for (const slot of f.stack) if (slot.types[7] === STACK_SPILL && slot.spilled?.type === 'scalar') slot.spilled.precise = false;
  }
}

/**
 * propagate_precision(): cur was pruned by old; what old needed precise, cur's parents need too.
 * Logs the level-2 "frame N: propagating r1,fp-8" lines (the kernel ends them with a newline at
 * every log level); true if some mark was newly set.
 */
export function propagatePrecision(host: PrecisionHost, old: VState, cur: VState, bt: Backtrack, logAny: ((s: string) => void) | undefined): boolean {
  for (let fr = old.frames.length - 1; fr >= 0; fr--) {
    const f = old.frames[fr];
    let first = true, text = '';
    for (let i = 0; i < 10; i++) {
      const r = f.regs[i];
      if (r.type !== 'scalar' || !r.precise) continue;
      text += first ? `frame ${fr}: propagating r${i}` : `,r${i}`;
      bt.setReg(fr, i);
      first = false;
    }
    f.stack.forEach((slot, i) => {
      const r = slot.spilled;
      if (slot.types[7] !== STACK_SPILL || !r || r.type !== 'scalar' || !r.precise) return;
      text += first ? `frame ${fr}: propagating fp${(-i - 1) * 8}` : `,fp${(-i - 1) * 8}`;
      bt.setSlot(fr, i);
      first = false;
    });
    if (!first) logAny?.(host.log2 ? text + '\n' : '\n');
  }
  return markChainPrecision(host, cur, -1, bt);
}

/*
 * Stack slot liveness as kernel/bpf/liveness.c of Linux 6.18 computes it, call chain sensitive:
 * each (call chain, instruction) gathers the slots it may read (union over visits) and the slots
 * it always writes whole (intersection over visits), for every frame of the chain; at the end of
 * each path (and at each subprogram exit) bpf_update_live_stack() solves the backward data flow
 *   live_before = (live_after & ~must_write) | may_read
 * over the subprogram in postorder, and hands a callee's entry reads and must-writes to its call
 * instruction in the caller's instance. clean_func_state() then wipes slots no longer live from
 * finished explored states, so more states match. At log level 2 the pass prints every change
 * ("(0) frame 0 insn 7 +live -16,-24") and its iteration count, as the kernel does.
 *
 * Masks are 64-bit (one bit per 8-byte slot), kept as pairs of u32 (lo, hi).
 */
import { subprogIndexOf } from './check_cfg.js';
import type { FuncState } from './state.js';

/** per instruction and frame: may_read, must_write, must_write_acc, live_before (lo, hi each) */
const MAY = 0, WRITE = 2, ACC = 4, LIVE = 6, STRIDE = 8;

interface Instance {
  /** call sites leading here, then the subprogram's first instruction (struct callchain) */
  callsites: number[];
  curframe: number;
  start: number;
  subprog: number;
  /** per frame 0..curframe, allocated on first use (frames[] of struct func_instance) */
  frames: (Uint32Array | undefined)[];
  mustWriteSet: Uint8Array;
  updated: boolean;
  mustWriteDropped: boolean;
}

export interface LivenessHost {
  subprogStarts: readonly number[];
  insnCount: number;
  /** bpf_insn_successors(), two per instruction, -1 for none (cfg_order.ts) */
  successors: Int32Array;
  /** compute_postorder(): instructions per subprogram in postorder */
  postorder: Int32Array;
  postorderStart: readonly number[];
  prunePoints: Uint8Array;
  /** bpf_calls_callback(): a helper call that runs a callback (its frame's slots live before the call) */
  callsCallback: (insn: number) => boolean;
  /** level 2: the pass's debug lines */
  log?: (text: string) => void;
}

/** bpf_fmt_stack_mask(): "-8,-16" */
export function fmtStackMask(lo: number, hi: number): string {
  const out: string[] = [];
  for (let i = 0; i < 64; i++) if (((i < 32 ? lo >>> i : hi >>> (i - 32)) & 1) === 1) out.push(String(-(i + 1) * 8));
  return out.join(',');
}

export class StackLiveness {
  private readonly host: LivenessHost;
  /** by call chain: the main program's instances by start, deeper ones by "callsite,...,start" */
  private readonly instances = new Map<number | string, Instance>();
  /** instance of the current state's frame (cur_instance), undefined after a call or an update */
  private cur: Instance | undefined;
  /** write marks of the current instruction per frame, before bpf_commit_stack_write_marks() */
  private readonly accLo = new Uint32Array(8);
  private readonly accHi = new Uint32Array(8);
  private writeInsn = 0;
  /** live_stack_query */
  private query: Instance[] = [];
  private queryInsn = 0;

  constructor(host: LivenessHost) { this.host = host; }

  private subprogEnd(subprog: number): number {
    const s = this.host.subprogStarts;
    return subprog + 1 < s.length ? s[subprog + 1] : this.host.insnCount;
  }

  /** compute_callchain() + __lookup_instance(): the instance for frames[0..frameno] */
  private lookup(frames: readonly FuncState[], frameno: number): Instance {
    const subprog = frames[frameno].subprog, start = this.host.subprogStarts[subprog];
    if (frameno === 0) return this.instances.get(start) ?? this.lookupChain([start], subprog);
    const callsites: number[] = [];
    for (let i = 0; i < frameno; i++) callsites.push(frames[i + 1].callsite);
    callsites.push(start);
    return this.lookupChain(callsites, subprog);
  }

  private lookupChain(callsites: number[], subprog: number): Instance {
    const key = callsites.length === 1 ? callsites[0] : callsites.join(',');
    let inst = this.instances.get(key);
    if (!inst) {
      const start = this.host.subprogStarts[subprog];
      inst = {
        callsites, curframe: callsites.length - 1, start, subprog, frames: [],
        mustWriteSet: new Uint8Array(this.subprogEnd(subprog) - start), updated: false, mustWriteDropped: false,
      };
      this.instances.set(key, inst);
    }
    return inst;
  }

  private masks(inst: Instance, frame: number): Uint32Array {
    let m = inst.frames[frame];
    if (!m) { m = new Uint32Array(inst.mustWriteSet.length * STRIDE); inst.frames[frame] = m; }
    return m;
  }

  private ensureCur(frames: readonly FuncState[]): Instance {
    if (!this.cur) this.cur = this.lookup(frames, frames.length - 1);
    return this.cur;
  }

  /** bpf_reset_live_stack_callchain(): the call stack changed (a subprogram was entered) */
  resetCallchain(): void { this.cur = undefined; }

  /** bpf_mark_stack_read(): slot spi of frame frameno may be read at insn */
  read(frames: readonly FuncState[], frameno: number, insn: number, spi: number): void {
    if (spi < 0 || spi >= 64) return;
    this.markRead(this.ensureCur(frames), frameno, insn, spi < 32 ? (1 << spi) >>> 0 : 0, spi < 32 ? 0 : (1 << (spi - 32)) >>> 0);
  }

  /** mark_stack_read() */
  private markRead(inst: Instance, frame: number, insn: number, lo: number, hi: number): void {
    const m = this.masks(inst, frame), b = (insn - inst.start) * STRIDE;
    const nlo = (m[b + MAY] | lo) >>> 0, nhi = (m[b + MAY + 1] | hi) >>> 0;
    if ((nlo !== m[b + MAY] || nhi !== m[b + MAY + 1]) && (((nlo | m[b + LIVE]) >>> 0) !== m[b + LIVE] || ((nhi | m[b + LIVE + 1]) >>> 0) !== m[b + LIVE + 1])) inst.updated = true;
    m[b + MAY] = nlo; m[b + MAY + 1] = nhi;
  }

  /** bpf_reset_stack_write_marks(): before each instruction */
  resetWrites(frames: readonly FuncState[], insn: number): void {
    this.resetWriteMarks(this.ensureCur(frames), insn);
  }

  private resetWriteMarks(inst: Instance, insn: number): void {
    this.writeInsn = insn;
    for (let i = 0; i <= inst.curframe; i++) { this.accLo[i] = 0; this.accHi[i] = 0; }
  }

  /** bpf_mark_stack_write(): slot spi of frame frameno is written whole by the current instruction */
  write(frameno: number, spi: number): void {
    if (spi < 0 || spi >= 64) return;
    if (spi < 32) this.accLo[frameno] |= 1 << spi; else this.accHi[frameno] |= 1 << (spi - 32);
  }

  /** bpf_commit_stack_write_marks(): after each instruction; must_write is the intersection over visits */
  commit(): void { if (this.cur) this.commitTo(this.cur); }

  private commitTo(inst: Instance): void {
    const idx = this.writeInsn - inst.start;
    for (let frame = 0; frame <= inst.curframe; frame++) {
      let lo = this.accLo[frame] >>> 0, hi = this.accHi[frame] >>> 0;
      if (!(lo | hi)) {
        // nothing written: only an earlier must_write can shrink (the kernel would allocate an
        // all-zero frame here, which changes nothing either)
        const w = inst.frames[frame];
        if (!inst.mustWriteSet[idx] || !w || (w[idx * STRIDE + WRITE] | w[idx * STRIDE + WRITE + 1]) === 0) continue;
      }
      const m = this.masks(inst, frame), b = idx * STRIDE;
      const olo = m[b + WRITE], ohi = m[b + WRITE + 1];
      if (inst.mustWriteSet[idx]) { lo = (lo & olo) >>> 0; hi = (hi & ohi) >>> 0; }
      if (olo !== lo || ohi !== hi) { m[b + WRITE] = lo; m[b + WRITE + 1] = hi; inst.updated = true; }
      if ((olo & ~lo) | (ohi & ~hi)) inst.mustWriteDropped = true;
    }
    inst.mustWriteSet[idx] = 1;
    this.writeInsn = 0;
  }

  /**
   * bpf_update_live_stack(): at the end of a path and at a subprogram's exit, solve every instance
   * of the state's call chain that changed, the callee's first so that its marks reach the caller.
   */
  update(frames: readonly FuncState[]): void {
    this.cur = undefined;
    for (let frame = frames.length - 1; frame >= 0; frame--) {
      const inst = this.lookup(frames, frame);
      if (!inst.updated) continue;
      this.updateInstance(inst);
      inst.updated = false;
      inst.mustWriteDropped = false;
    }
  }

  private chainText(inst: Instance): string { return `(${inst.callsites.join(',')})`; }

  /** log_mask_change() */
  private logChange(inst: Instance, what: string, frame: number, insn: number, olo: number, ohi: number, nlo: number, nhi: number): void {
    const clo = (olo ^ nlo) >>> 0, chi = (ohi ^ nhi) >>> 0;
    if (!(clo | chi)) return;
    let line = `${this.chainText(inst)} frame ${frame} insn ${insn} `;
    if ((nlo & clo) | (nhi & chi)) line += `+${what} ${fmtStackMask((nlo & clo) >>> 0, (nhi & chi) >>> 0)} `;
    if ((~nlo & clo) | (~nhi & chi)) line += `-${what} ${fmtStackMask((~nlo & clo) >>> 0, (~nhi & chi) >>> 0)}`;
    this.host.log!(line + '\n');
  }

  /** update_insn(): one step of the data flow; true if the instruction's marks changed */
  private updateInsn(inst: Instance, m: Uint32Array, frame: number, insn: number): boolean {
    const succ = this.host.successors;
    if (succ[2 * insn] < 0) return false;
    const b = (insn - inst.start) * STRIDE;
    let afterLo = 0, afterHi = 0, accLo = 0xffffffff, accHi = 0xffffffff;
    for (let k = 2 * insn; k < 2 * insn + 2; k++) {
      if (succ[k] < 0) continue;
      const sb = (succ[k] - inst.start) * STRIDE;
      afterLo |= m[sb + LIVE]; afterHi |= m[sb + LIVE + 1];
      accLo &= m[sb + ACC]; accHi &= m[sb + ACC + 1];
    }
    accLo = (accLo | m[b + WRITE]) >>> 0; accHi = (accHi | m[b + WRITE + 1]) >>> 0;
    const liveLo = ((afterLo & ~m[b + WRITE]) | m[b + MAY]) >>> 0, liveHi = ((afterHi & ~m[b + WRITE + 1]) | m[b + MAY + 1]) >>> 0;
    const changed = liveLo !== m[b + LIVE] || liveHi !== m[b + LIVE + 1] || accLo !== m[b + ACC] || accHi !== m[b + ACC + 1];
    if (this.host.log && (m[b + MAY] | m[b + MAY + 1] | m[b + WRITE] | m[b + WRITE + 1] || insn === inst.start || this.host.prunePoints[insn])) {
      this.logChange(inst, 'live', frame, insn, m[b + LIVE], m[b + LIVE + 1], liveLo, liveHi);
      this.logChange(inst, 'written', frame, insn, m[b + ACC], m[b + ACC + 1], accLo, accHi);
    }
    m[b + LIVE] = liveLo; m[b + LIVE + 1] = liveHi;
    m[b + ACC] = accLo; m[b + ACC + 1] = accHi;
    return changed;
  }

  /** update_instance(): to a fixed point in postorder, then on to the caller's instance */
  private updateInstance(inst: Instance): void {
    // must_write sets shrank: must_write_acc is recomputed from nothing
    if (inst.mustWriteDropped) for (const m of inst.frames) if (m) for (let b = 0; b < m.length; b += STRIDE) { m[b + ACC] = 0; m[b + ACC + 1] = 0; }
    const { postorder, postorderStart } = this.host;
    const from = postorderStart[inst.subprog], to = postorderStart[inst.subprog + 1];
    let cnt = 0, changed: boolean;
    do {
      cnt++;
      changed = false;
      for (let frame = 0; frame <= inst.curframe; frame++) {
        const m = inst.frames[frame];
        if (!m) continue;
        for (let i = from; i < to; i++) if (this.updateInsn(inst, m, frame, postorder[i])) changed = true;
      }
    } while (changed);
    this.host.log?.(`${this.chainText(inst)} live stack update done in ${cnt} iterations\n`);
    if (inst.curframe > 0) this.propagateToOuter(inst);
  }

  /** propagate_to_outer_instance(): the callee entry's reads and must-writes count at the call */
  private propagateToOuter(inst: Instance): void {
    const callsites = inst.callsites.slice(0, inst.curframe);
    const callsite = callsites[inst.curframe - 1];
    const outerSubprog = subprogIndexOf(this.host.subprogStarts, callsite);
    callsites[inst.curframe - 1] = this.host.subprogStarts[outerSubprog];
    const outer = this.lookupChain(callsites, outerSubprog);
    this.resetWriteMarks(outer, callsite);
    for (let frame = 0; frame < inst.curframe; frame++) {
      const m = inst.frames[frame];
      if (!m) continue;
      this.accLo[frame] |= m[ACC]; this.accHi[frame] |= m[ACC + 1];
      this.markRead(outer, frame, callsite, m[LIVE], m[LIVE + 1]);
    }
    this.commitTo(outer);
  }

  /** bpf_live_stack_query_init(): queries below are about the explored state with these frames at insn */
  queryInit(frames: readonly FuncState[], insn: number): void {
    this.query = frames.map((_, i) => this.lookup(frames, i));
    this.queryInsn = insn;
  }

  /**
   * bpf_stack_slot_alive(): read later in the state's own function, or, for a caller's frame, after
   * the call (before it when the call runs a callback, which may run again)
   */
  alive(frameno: number, spi: number): boolean {
    const q = this.query, curframe = q.length - 1, top = q[curframe];
    if (liveBefore(top, this.queryInsn, frameno, spi)) return true;
    for (let i = frameno; i < curframe; i++) {
      const callsite = top.callsites[i];
      if (liveBefore(q[i], this.host.callsCallback(callsite) ? callsite : callsite + 1, frameno, spi)) return true;
    }
    return false;
  }
}

/** is_live_before() */
function liveBefore(inst: Instance, insn: number, frame: number, spi: number): boolean {
  const m = inst.frames[frame];
  if (!m) return false;
  const b = (insn - inst.start) * STRIDE;
  return ((spi < 32 ? m[b + LIVE] >>> spi : m[b + LIVE + 1] >>> (spi - 32)) & 1) === 1;
}

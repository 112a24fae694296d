/*
 * SCC visits of Linux 6.18 (kernel/bpf/verifier.c: compute_scc_callchain(), maybe_enter_scc(),
 * maybe_exit_scc(), add_scc_backedge(), propagate_backedges()): the first checkpoint a path makes
 * inside a loop (per call chain leading to it) enters the loop's SCC, "SCC enter (N)". A state
 * matching a checkpoint of the same SCC that is still being explored (a callback's next run) is
 * pruned, but its copy is kept as a backedge ("SCC backedge (N)"), because the checkpoint's
 * precision marks are not final yet. When every path from the entry checkpoint is explored the SCC
 * is left, "SCC exit (N)", and precision is propagated over the backedges to a fixed point.
 */
import type { FuncState, VState } from './state.js';

interface Backedge { state: VState; equal: VState }
interface Visit { entry: object | null; backedges: Backedge[] }

const MAX_BACKEDGE_ITERS = 64;

export class SccVisits {
  private readonly scc: Uint32Array;
  private readonly log: ((line: string) => void) | undefined;
  private readonly visits = new Map<string, Visit>();
  /** backedges held now (num_backedges), counted in peak_states */
  backedgeCount = 0;
  /** visits with an entry state now */
  private entries = 0;

  constructor(scc: Uint32Array, log: ((line: string) => void) | undefined) { this.scc = scc; this.log = log; }

  /**
   * compute_scc_callchain(): call sites up to the first frame standing in an SCC, then its number;
   * undefined when no frame is in a loop. Keyed and printed as format_callchain() does,
   * "(callsite,...,scc)", where the kernel stops printing call sites at the first one that is 0.
   */
  private callchain(frames: readonly FuncState[], insnIdx: number): { key: string; text: string } | undefined {
    const sites: number[] = [];
    for (let i = 0; i < frames.length; i++) {
      const idx = i === frames.length - 1 ? insnIdx : frames[i + 1].callsite;
      const scc = this.scc[idx];
      if (scc) {
        const zero = sites.indexOf(0);
        const shown = zero < 0 ? sites : sites.slice(0, zero);
        return { key: `${sites.join(',')}/${scc}`, text: `(${shown.map((s) => `${s},`).join('')}${scc})` };
      }
      if (i === frames.length - 1) return undefined;
      sites.push(idx);
    }
    return undefined;
  }

  private visit(st: VState): { visit?: Visit; text: string } | undefined {
    const cc = this.callchain(st.frames, st.insnIdx);
    return cc && { visit: this.visits.get(cc.key), text: cc.text };
  }

  /** maybe_enter_scc(): for a new checkpoint (its state's insnIdx set) */
  enter(checkpoint: object, st: VState): void {
    const cc = this.callchain(st.frames, st.insnIdx);
    if (!cc) return;
    let v = this.visits.get(cc.key);
    if (!v) { v = { entry: null, backedges: [] }; this.visits.set(cc.key, v); }
    if (v.entry) return;
    v.entry = checkpoint;
    this.entries++;
    this.log?.(`SCC enter ${cc.text}`);
  }

  /**
   * maybe_exit_scc(): for a checkpoint all of whose paths are explored; when it entered its SCC,
   * propagate_backedges(): `propagate(equal, backedge)` (propagate_precision()) over every backedge,
   * newest first, until none changes anything.
   */
  exit(checkpoint: object, st: VState, propagate: (equal: VState, st: VState) => boolean): void {
    if (!this.entries) return;
    const found = this.visit(st);
    if (!found?.visit || found.visit.entry !== checkpoint) return;
    const v = found.visit;
    this.log?.(`SCC exit ${found.text}`);
    v.entry = null;
    this.entries--;
    this.backedgeCount -= v.backedges.length;
    for (let i = 0, changed = true; changed;) {
      if (i++ > MAX_BACKEDGE_ITERS) { this.log?.('propagate_backedges: too many iterations'); break; }
      changed = false;
      for (const b of v.backedges) if (propagate(b.equal, b.state)) changed = true;
    }
    v.backedges = [];
  }

  /** add_scc_backedge(): `state` (a copy of the pruned state) matched checkpoint `equal` of a loop still being explored */
  addBackedge(equal: VState, state: VState): void {
    const found = this.visit(equal);
    if (!found?.visit) return;
    this.log?.(`SCC backedge ${found.text}`);
    found.visit.backedges.unshift({ state, equal });
    this.backedgeCount++;
  }

  /** incomplete_read_marks(): the checkpoint's loop has backedges whose marks are not propagated yet */
  incomplete(st: VState): boolean {
    return this.backedgeCount > 0 && (this.visit(st)?.visit?.backedges.length ?? 0) > 0;
  }
}

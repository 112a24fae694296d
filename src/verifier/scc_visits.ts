/*
 * SCC visits of Linux 6.18 (kernel/bpf/verifier.c: compute_scc_callchain(), maybe_enter_scc(),
 * maybe_exit_scc()) as far as the level-2 log shows them: the first checkpoint a path makes inside
 * a loop (per call chain leading to it) enters the loop's SCC, "SCC enter (N)"; when every path
 * from that checkpoint is explored the SCC is left, "SCC exit (N)". Only used at log level 2.
 */
import type { FuncState } from './state.js';

export class SccVisits {
  private readonly scc: Uint32Array;
  private readonly log: (line: string) => void;
  /** call chain -> the checkpoint that entered it on the current path (bpf_scc_visit.entry_state) */
  private readonly entry = new Map<string, object | null>();

  constructor(scc: Uint32Array, log: (line: string) => void) { this.scc = scc; this.log = log; }

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
        const shown = sites.indexOf(0) < 0 ? sites : sites.slice(0, sites.indexOf(0));
        return { key: `${sites.join(',')}/${scc}`, text: `(${shown.map((s) => `${s},`).join('')}${scc})` };
      }
      if (i === frames.length - 1) return undefined;
      sites.push(idx);
    }
    return undefined;
  }

  /** maybe_enter_scc(): for a new checkpoint */
  enter(checkpoint: object, frames: readonly FuncState[], insnIdx: number): void {
    const cc = this.callchain(frames, insnIdx);
    if (!cc || this.entry.get(cc.key)) return;
    this.entry.set(cc.key, checkpoint);
    this.log(`SCC enter ${cc.text}`);
  }

  /** maybe_exit_scc(): for a checkpoint all of whose paths are explored */
  exit(checkpoint: object, frames: readonly FuncState[], insnIdx: number): void {
    const cc = this.callchain(frames, insnIdx);
    if (!cc || this.entry.get(cc.key) !== checkpoint) return;
    this.log(`SCC exit ${cc.text}`);
    this.entry.set(cc.key, null);
  }
}

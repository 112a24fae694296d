/*
 * Stack slot liveness (kernel/bpf/liveness.c of Linux 6.18, simplified): while verifying, each
 * instruction records which 8-byte slots of its frame it may read and which it always writes whole;
 * a backward data-flow pass over the control flow graph then tells which slots are still read
 * later. clean_func_state() wipes dead slots (and dead registers) from finished explored states so
 * that more states match. Reads of a caller's slots from a callee count at the call instruction;
 * every call of a subprogram shares one record (the kernel keeps one per call chain), which only
 * keeps more slots alive.
 */
import type { Insn } from '../isa/insn.js';
import { BPF_CALL, BPF_EXIT, BPF_JA, BPF_JMP, BPF_JMP32, bpfClass, bpfOp } from '../isa/opcodes.js';
import { jumpTarget } from './check_cfg.js';

export class StackLiveness {
  private readonly insns: readonly Insn[];
  private readonly readLo: Uint32Array; private readonly readHi: Uint32Array;
  private readonly writeLo: Uint32Array; private readonly writeHi: Uint32Array;
  /** instructions whose write mask was recorded at least once (must-write = intersection over visits) */
  private readonly written: Uint8Array;
  private readonly liveLo: Uint32Array; private readonly liveHi: Uint32Array;
  private dirty = false;
  /** the current instruction's whole-slot writes, committed after it (bpf_commit_stack_write_marks()) */
  private pendLo = 0; private pendHi = 0; private pendInsn = -1;

  constructor(insns: readonly Insn[]) {
    const n = insns.length;
    this.insns = insns;
    this.readLo = new Uint32Array(n); this.readHi = new Uint32Array(n);
    this.writeLo = new Uint32Array(n); this.writeHi = new Uint32Array(n);
    this.written = new Uint8Array(n);
    this.liveLo = new Uint32Array(n); this.liveHi = new Uint32Array(n);
  }

  /** bpf_mark_stack_read(): slot spi may be read at insn */
  read(insn: number, spi: number): void {
    if (spi < 0 || spi >= 64) return;
    if (spi < 32) { const b = (1 << spi) >>> 0; if ((this.readLo[insn] & b) === 0) { this.readLo[insn] |= b; this.dirty = true; } }
    else { const b = (1 << (spi - 32)) >>> 0; if ((this.readHi[insn] & b) === 0) { this.readHi[insn] |= b; this.dirty = true; } }
  }

  /** bpf_mark_stack_write(): slot spi is overwritten whole by the current instruction */
  write(insn: number, spi: number): void {
    if (this.pendInsn !== insn) { this.pendInsn = insn; this.pendLo = 0; this.pendHi = 0; }
    if (spi < 32) this.pendLo |= 1 << spi; else this.pendHi |= 1 << (spi - 32);
  }

  /** bpf_commit_stack_write_marks(): a slot is killed by an instruction only if every visit wrote it */
  commit(insn: number): void {
    const lo = this.pendInsn === insn ? this.pendLo >>> 0 : 0, hi = this.pendInsn === insn ? this.pendHi >>> 0 : 0;
    this.pendInsn = -1;
    if (!this.written[insn]) {
      this.written[insn] = 1;
      if (lo | hi) { this.writeLo[insn] = lo; this.writeHi[insn] = hi; this.dirty = true; }
      return;
    }
    const nlo = (this.writeLo[insn] & lo) >>> 0, nhi = (this.writeHi[insn] & hi) >>> 0;
    if (nlo !== this.writeLo[insn] || nhi !== this.writeHi[insn]) { this.writeLo[insn] = nlo; this.writeHi[insn] = nhi; this.dirty = true; }
  }

  /** Is slot spi of the frame standing at insn read later on some path? */
  alive(insn: number, spi: number): boolean {
    if (this.dirty) this.solve();
    return spi < 32 ? ((this.liveLo[insn] >>> spi) & 1) === 1 : ((this.liveHi[insn] >>> (spi - 32)) & 1) === 1;
  }

  /** live_before = read | (live_after & ~write), to a fixed point, walking backwards */
  private solve(): void {
    this.dirty = false;
    const insns = this.insns, n = insns.length;
    for (let changed = true; changed;) {
      changed = false;
      for (let i = n - 1; i >= 0; i--) {
        const insn = insns[i];
        if (insn.code === 0 && i > 0 && insns[i - 1].code === 0x18) continue;
        let aLo = 0, aHi = 0;
        const succ = (t: number): void => { if (t >= 0 && t < n) { aLo |= this.liveLo[t]; aHi |= this.liveHi[t]; } };
        const cls = bpfClass(insn.code);
        if (cls === BPF_JMP || cls === BPF_JMP32) {
          const op = bpfOp(insn.code);
          if (op === BPF_EXIT) { /* no successor in this function */ }
          else if (op === BPF_CALL) succ(i + 1);
          else if (op === BPF_JA) succ(jumpTarget(insns, i));
          else { succ(i + 1); succ(jumpTarget(insns, i)); }
        } else succ(insn.code === 0x18 ? i + 2 : i + 1);
        const lo = (this.readLo[i] | (aLo & ~this.writeLo[i])) >>> 0, hi = (this.readHi[i] | (aHi & ~this.writeHi[i])) >>> 0;
        if (lo !== this.liveLo[i] || hi !== this.liveHi[i]) { this.liveLo[i] = lo; this.liveHi[i] = hi; changed = true; }
      }
    }
  }
}

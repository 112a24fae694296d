/*
 * A step debugger in the spirit of the kernel's tools/bpf/bpf_dbg, in two layers:
 *
 * - Debugger: breakpoints, run, step forward and back (a history of snapshots), over any
 *   StepTarget. The target is one instruction set's machine; CbpfStepper is classic BPF's, and an
 *   eBPF target (over the reference interpreter's Execution) plugs in the same way.
 * - BpfDbgSession: bpf_dbg's command language and output (`load bpf 6,40 0 0 12,...`,
 *   `load pcap FILE`, `select N`, `step [N|-N]`, `run [N]`, `breakpoint [N|reset]`,
 *   `disassemble [N]`, `dump`, `quit`), with file access left to the caller so it runs anywhere.
 *
 * The classic machine follows runCbpf(): libpcap's semantics, or Linux's with packet metadata.
 * Unlike bpf_dbg, `select N` selects packet N (bpf_dbg's selects N + 1), a breakpoint stops before
 * its instruction runs, and ancillary loads work.
 */
import { BpfError } from '../errors.js';
import { formatBpfAsmC } from './asm.js';
import { linuxCheckError } from './check.js';
import { parseBytecode } from './dump.js';
import { BPF_MEMWORDS, type CInsn } from './insn.js';
import { MAX_BACKWARD_JUMPS, type PacketMeta, cbpfStepLoad } from './interp.js';

/** One machine the debugger can drive, one instruction at a time. */
export interface StepTarget<Snapshot = unknown> {
  /** Index of the next instruction. */
  readonly pc: number;
  /** The program's result once it has finished. */
  readonly result: number | bigint | undefined;
  /** Execute one instruction (no-op once finished). */
  step(): void;
  /** For stepping back; a target without them cannot step back. */
  snapshot?(): Snapshot;
  restore?(snapshot: Snapshot): void;
  /** Registers by name, for display. */
  registers(): Array<[string, number | bigint]>;
  /** One instruction as text (for `breakpoint`, the current instruction, ...). */
  describe(pc: number): string;
  readonly length: number;
}

export type StopReason = 'exit' | 'breakpoint' | 'limit';

export interface StopInfo {
  reason: StopReason;
  pc: number;
  result?: number | bigint;
  steps: number;
}

/** Breakpoints, run, step and step back over a StepTarget. */
export class Debugger<S = unknown> {
  readonly target: StepTarget<S>;
  readonly breakpoints = new Set<number>();
  private readonly history: S[] = [];
  /** Snapshots kept for stepping back. */
  historyLimit = 4096;

  constructor(target: StepTarget<S>) {
    this.target = target;
  }

  get finished(): boolean {
    return this.target.result !== undefined;
  }

  private one(): void {
    if (this.target.snapshot) this.history.push(this.target.snapshot());
    if (this.history.length > this.historyLimit) this.history.shift();
    this.target.step();
  }

  /** Run until the program ends, a breakpoint is reached (not the one we start on) or `limit` steps. */
  run(limit = Infinity): StopInfo {
    let steps = 0;
    while (!this.finished) {
      if (steps >= limit) return { reason: 'limit', pc: this.target.pc, steps };
      if (steps > 0 && this.breakpoints.has(this.target.pc)) return { reason: 'breakpoint', pc: this.target.pc, steps };
      this.one();
      steps++;
    }
    return { reason: 'exit', pc: this.target.pc, result: this.target.result, steps };
  }

  /** n > 0: execute n instructions (ignoring breakpoints); n < 0: go back -n instructions. */
  step(n = 1): StopInfo {
    if (n < 0) {
      if (!this.target.restore) throw new BpfError('ENOTSUPP', 'this machine cannot step back');
      const back = Math.min(-n, this.history.length);
      if (back < -n) throw new BpfError('ERANGE', 'reached bottom of register history stack!');
      let s: S | undefined;
      for (let i = 0; i < back; i++) s = this.history.pop();
      if (s !== undefined) this.target.restore(s);
      return { reason: 'limit', pc: this.target.pc, steps: -back };
    }
    return this.runSteps(n);
  }

  private runSteps(n: number): StopInfo {
    let steps = 0;
    while (!this.finished && steps < n) { this.one(); steps++; }
    return this.finished
      ? { reason: 'exit', pc: this.target.pc, result: this.target.result, steps }
      : { reason: 'limit', pc: this.target.pc, steps };
  }
}

const LOADS = new Set([0x20, 0x28, 0x30, 0x40, 0x48, 0x50, 0xb1]);

interface CbpfSnapshot { pc: number; A: number; X: number; M: Int32Array; result: number | undefined; back: number }

/** The classic machine, one instruction at a time, with runCbpf()'s semantics. */
export class CbpfStepper implements StepTarget<CbpfSnapshot> {
  readonly prog: readonly CInsn[];
  readonly packet: Uint8Array;
  readonly wireLen: number;
  readonly meta: PacketMeta | undefined;
  pc = 0;
  A = 0;
  X = 0;
  readonly M = new Int32Array(BPF_MEMWORDS);
  result: number | undefined;
  private back = 0;

  constructor(prog: readonly CInsn[], packet: Uint8Array, wireLen: number, meta?: PacketMeta) {
    this.prog = prog;
    this.packet = packet;
    this.wireLen = wireLen;
    this.meta = meta;
    if (prog.length === 0) this.result = 0;
  }

  get length(): number {
    return this.prog.length;
  }

  snapshot(): CbpfSnapshot {
    return { pc: this.pc, A: this.A, X: this.X, M: this.M.slice(), result: this.result, back: this.back };
  }

  restore(s: CbpfSnapshot): void {
    this.pc = s.pc; this.A = s.A; this.X = s.X; this.M.set(s.M); this.result = s.result; this.back = s.back;
  }

  registers(): Array<[string, number]> {
    const regs: Array<[string, number]> = [['A', this.A >>> 0], ['X', this.X >>> 0]];
    this.M.forEach((v, i) => regs.push([`M[${i}]`, v >>> 0]));
    return regs;
  }

  describe(pc: number): string {
    return dbgDisasm(this.prog[pc], pc);
  }

  private end(v: number): void {
    this.result = v >>> 0;
  }

  step(): void {
    if (this.result !== undefined) return;
    const n = this.prog.length;
    if (this.pc >= n) { this.end(0); return; }
    const insn = this.prog[this.pc];
    const { code, jt, jf } = insn;
    const k = insn.k | 0;
    this.pc++;
    // packet and ancillary loads: the interpreter's own code
    if (LOADS.has(code)) {
      const r = cbpfStepLoad(insn, this.A, this.X, this.packet, this.meta);
      if ('end' in r) { this.end(r.end); return; }
      if (code === 0xb1) this.X = r.value; else this.A = r.value;
      return;
    }
    const u = (v: number): number => v >>> 0;
    switch (code) {
      case 0x06: this.end(k); return;
      case 0x16: this.end(this.A); return;
      case 0x80: this.A = this.wireLen | 0; return;
      case 0x81: this.X = this.wireLen | 0; return;
      case 0x00: this.A = k; return;
      case 0x01: this.X = k; return;
      case 0x60: case 0x61: case 0x02: case 0x03:
        if (u(k) >= BPF_MEMWORDS) { this.end(0); return; }
        if (code === 0x60) this.A = this.M[k]; else if (code === 0x61) this.X = this.M[k];
        else this.M[k] = code === 0x02 ? this.A : this.X;
        return;
      case 0x05:
        if (u(this.pc + k) >= n || (k < 0 && (k === -1 || this.back++ >= MAX_BACKWARD_JUMPS))) { this.end(0); return; }
        this.pc += k;
        return;
      case 0x07: this.X = this.A; return;
      case 0x87: this.A = this.X; return;
      case 0x84: this.A = -this.A | 0; return;
    }
    if ((code & ~0xf8) === 0x05) {
      const rhs = code & 0x08 ? this.X : k;
      let cond: boolean;
      switch (code & 0xf0) {
        case 0x10: cond = this.A === rhs; break;
        case 0x20: cond = u(this.A) > u(rhs); break;
        case 0x30: cond = u(this.A) >= u(rhs); break;
        case 0x40: cond = (this.A & rhs) !== 0; break;
        default: this.end(0); return;
      }
      this.pc += cond ? jt : jf;
      return;
    }
    if ((code & ~0xf8) === 0x04) {
      const rhs = code & 0x08 ? this.X : k;
      const linux = this.meta !== undefined;
      const A = this.A;
      switch (code & 0xf0) {
        case 0x00: this.A = (A + rhs) | 0; return;
        case 0x10: this.A = (A - rhs) | 0; return;
        case 0x20: this.A = Math.imul(A, rhs); return;
        case 0x30: if (rhs === 0) { this.end(0); return; } this.A = (u(A) / u(rhs)) | 0; return;
        case 0x90: if (rhs === 0) { this.end(0); return; } this.A = (u(A) % u(rhs)) | 0; return;
        case 0x50: this.A = A & rhs; return;
        case 0x40: this.A = A | rhs; return;
        case 0xa0: this.A = A ^ rhs; return;
        case 0x60: this.A = linux ? A << (rhs & 31) : u(rhs) < 32 ? A << rhs : 0; return;
        case 0x70: this.A = linux ? (A >>> (rhs & 31)) | 0 : u(rhs) < 32 ? (A >>> rhs) | 0 : 0; return;
      }
    }
    this.end(0);
  }

}

/** bpf_dbg's disassembly line: `l3:\tjeq #0x800, l4, l9`. */
export function dbgDisasm(f: CInsn, i: number): string {
  const k = f.k | 0;
  const hx = (v: number): string => (v === 0 ? '0' : `0x${(v >>> 0).toString(16)}`);
  const forms: Record<number, [string, string]> = {
    0x06: ['ret', `#${hx(k)}`], 0x16: ['ret', 'a'], 0x0e: ['ret', 'x'], 0x07: ['tax', ''], 0x87: ['txa', ''],
    0x02: ['st', `M[${k}]`], 0x03: ['stx', `M[${k}]`], 0x20: ['ld', `[${k}]`], 0x28: ['ldh', `[${k}]`],
    0x30: ['ldb', `[${k}]`], 0x80: ['ld', '#len'], 0x40: ['ld', `[x+${k}]`], 0x48: ['ldh', `[x+${k}]`],
    0x50: ['ldb', `[x+${k}]`], 0x00: ['ld', `#${hx(k)}`], 0x01: ['ldx', `#${hx(k)}`], 0xb1: ['ldxb', `4*([${k}]&0xf)`],
    0x60: ['ld', `M[${k}]`], 0x61: ['ldx', `M[${k}]`], 0x05: ['ja', String((i + 1 + k) | 0)],
    0x2d: ['jgt', 'x'], 0x25: ['jgt', `#${hx(k)}`], 0x3d: ['jge', 'x'], 0x35: ['jge', `#${hx(k)}`],
    0x1d: ['jeq', 'x'], 0x15: ['jeq', `#${hx(k)}`], 0x4d: ['jset', 'x'], 0x45: ['jset', `#${hx(k)}`],
    0x84: ['neg', ''], 0x6c: ['lsh', 'x'], 0x64: ['lsh', `#${k}`], 0x7c: ['rsh', 'x'], 0x74: ['rsh', `#${k}`],
    0x0c: ['add', 'x'], 0x04: ['add', `#${k}`], 0x1c: ['sub', 'x'], 0x14: ['sub', `#${k}`], 0x2c: ['mul', 'x'],
    0x24: ['mul', `#${k}`], 0x3c: ['div', 'x'], 0x34: ['div', `#${k}`], 0x9c: ['mod', 'x'], 0x94: ['mod', `#${k}`],
    0x5c: ['and', 'x'], 0x54: ['and', `#${hx(k)}`], 0x4c: ['or', 'x'], 0x44: ['or', `#${hx(k)}`], 0xac: ['xor', 'x'],
    0xa4: ['xor', `#${hx(k)}`],
  };
  const [op, operand] = forms[f.code] ?? ['nosup', hx(f.code)];
  if ((f.code & 0x07) === 0x05 && (f.code & 0xf0) !== 0) return `l${i}:\t${op} ${operand}, l${i + 1 + f.jt}, l${i + 1 + f.jf}`;
  return `l${i}:\t${op} ${operand}`;
}

/** printf("%#08x"): 0x counted in the width; zero has no prefix. */
function hex08(v: number): string {
  return v === 0 ? '00000000' : '0x' + (v >>> 0).toString(16).padStart(6, '0');
}

/** A captured packet as the debugger takes it. */
export interface DbgPacket { data: Uint8Array; wireLen: number }

/**
 * bpf_dbg's shell without the terminal: exec(line) runs one command and returns its output.
 * `loadPcap` reads a capture for `load pcap FILE` (the CLI passes a file reader).
 */
export class BpfDbgSession {
  prog: CInsn[] = [];
  packets: DbgPacket[] = [];
  /** Index of the selected packet. */
  current = 0;
  /** Linux packet metadata for every packet (Linux semantics), or undefined for libpcap's. */
  meta: PacketMeta | undefined;
  readonly breakpoints = new Set<number>();
  private dbg: Debugger<CbpfSnapshot> | undefined;
  private readonly loadPcap: (path: string) => DbgPacket[];

  constructor(loadPcap: (path: string) => DbgPacket[]) {
    this.loadPcap = loadPcap;
  }

  /** Run one command line; returns its output, and whether it was `quit`. */
  exec(line: string): { output: string; quit: boolean } {
    const out: string[] = [];
    const words = line.trim().split(/\s+/).filter(Boolean);
    const [cmd, ...rest] = words;
    const arg = rest.join(' ');
    switch (cmd) {
      case undefined: break;
      case 'load': this.cmdLoad(rest, out); break;
      case 'select': this.cmdSelect(arg, out); break;
      case 'step': this.cmdStep(arg, out); break;
      case 'run': this.cmdRun(arg, out); break;
      case 'breakpoint': this.cmdBreakpoint(arg, out); break;
      case 'disassemble': if (this.progLoaded(out)) this.cmdDisassemble(arg, out); break;
      case 'dump':
        if (this.progLoaded(out)) out.push('/* { op, jt, jf, k }, */\n', formatBpfAsmC(this.prog));
        break;
      case 'quit': return { output: '', quit: true };
      default: out.push(`unknown command '${cmd}' (load, select, step, run, breakpoint, disassemble, dump, quit)\n`);
    }
    return { output: out.join(''), quit: false };
  }

  private progLoaded(out: string[]): boolean {
    if (this.prog.length === 0) out.push('no bpf program loaded!\n');
    return this.prog.length > 0;
  }

  private pcapLoaded(out: string[]): boolean {
    if (this.packets.length === 0) out.push('no pcap file loaded!\n');
    return this.packets.length > 0;
  }

  private cmdLoad(rest: string[], out: string[]): void {
    const [sub, ...more] = rest;
    if (sub === 'bpf' && more.length > 0) {
      this.breakpoints.clear();
      this.dbg = undefined;
      this.prog = [];
      let prog: CInsn[];
      try {
        prog = parseBytecode(more.join(' '));
      } catch (e) {
        out.push(`syntax error: ${(e as Error).message.replace(/^bytecode: /, '')}\n`);
        return;
      }
      const why = linuxCheckError(prog);
      if (why !== undefined) { out.push(`program not allowed to run by kernel! (${why})\n`); return; }
      this.prog = prog;
      return;
    }
    if (sub === 'pcap' && more.length > 0) {
      try {
        this.packets = this.loadPcap(more[0]);
      } catch (e) {
        out.push(`cannot open pcap [${(e as Error).message}]!\n`);
        this.packets = [];
        return;
      }
      this.current = 0;
      this.dbg = undefined;
      return;
    }
    out.push('bpf <code>:  load bpf code\n', 'pcap <file>: load pcap file\n');
  }

  private cmdSelect(arg: string, out: string[]): void {
    if (!this.pcapLoaded(out) || arg === '') return;
    let which = Number.parseInt(arg, 10) || 0;
    if (which === 0) { out.push('packet count starts with 1, clamping!\n'); which = 1; }
    if (which > this.packets.length) { out.push(`no packet #${which} available!\n`); this.current = 0; return; }
    this.current = which - 1;
    this.dbg = undefined;
  }

  private session(): Debugger<CbpfSnapshot> {
    if (this.dbg === undefined) {
      const p = this.packets[this.current];
      this.dbg = new Debugger(new CbpfStepper(this.prog, p.data, p.wireLen, this.meta));
      for (const b of this.breakpoints) this.dbg.breakpoints.add(b);
    }
    return this.dbg;
  }

  private nextPacket(out: string[]): void {
    this.dbg = undefined;
    if (this.current + 1 >= this.packets.length) { this.current = 0; out.push('(going back to first packet)\n'); }
    else { this.current++; out.push('(next packet)\n'); }
  }

  private dumpState(out: string[]): void {
    const d = this.session();
    const t = d.target as CbpfStepper;
    const pc = t.pc;
    if (pc < this.prog.length) {
      const f = this.prog[pc];
      out.push(`pc:       [${pc}]\n`);
      out.push(`code:     [${f.code}] jt[${f.jt}] jf[${f.jf}] k[${f.k >>> 0}]\n`);
      out.push(`curr:     ${dbgDisasm(f, pc)}\n`);
      if (f.jt || f.jf) {
        if (pc + f.jt + 1 < this.prog.length) out.push(`jt:       ${dbgDisasm(this.prog[pc + f.jt + 1], pc + f.jt + 1)}\n`);
        if (pc + f.jf + 1 < this.prog.length) out.push(`jf:       ${dbgDisasm(this.prog[pc + f.jf + 1], pc + f.jf + 1)}\n`);
      }
    }
    out.push(`A:        [${hex08(t.A)}][${t.A >>> 0}]\n`);
    out.push(`X:        [${hex08(t.X)}][${t.X >>> 0}]\n`);
    if (t.result !== undefined) out.push(`ret:      [${hex08(t.result)}][${t.result}]!\n`);
    let m = 0;
    t.M.forEach((v, i) => { if (v !== 0) { m++; out.push(`M[${i}]: [${hex08(v)}][${v >>> 0}]\n`); } });
    if (m === 0) out.push(`M[0,${BPF_MEMWORDS - 1}]:  [${hex08(0)}][0]\n`);
    const p = this.packets[this.current];
    out.push('-- packet dump --\n');
    out.push(p.data.length !== p.wireLen ? `cap: ${p.data.length}, len: ${p.wireLen}\n` : `len: ${p.wireLen}\n`);
    let hex = '  0: ';
    p.data.forEach((b, i) => {
      if (i && i % 16 === 0) hex += `\n${String(i).padStart(3)}: `;
      hex += b.toString(16).padStart(2, '0') + ' ';
    });
    out.push(hex + '\n');
  }

  private cmdStep(arg: string, out: string[]): void {
    if (!this.progLoaded(out) || !this.pcapLoaded(out)) return;
    const steps = Number.parseInt(arg, 10) || 1;
    const d = this.session();
    try {
      d.step(steps);
    } catch (e) {
      out.push(`${(e as Error).message}\n`);
      return;
    }
    out.push('-- register dump --\n');
    this.dumpState(out);
    if (d.finished) this.nextPacket(out);
  }

  private cmdRun(arg: string, out: string[]): void {
    if (!this.progLoaded(out) || !this.pcapLoaded(out)) return;
    const limit = Number.parseInt(arg, 10) || 0;
    let pass = 0;
    let fail = 0;
    let ran = 0;
    for (;;) {
      const d = this.session();
      const stop = d.run();
      if (stop.reason === 'breakpoint') {
        out.push('-- register dump --\n');
        this.dumpState(out);
        out.push('(breakpoint)\n');
        return;
      }
      if (stop.result !== 0) pass++; else fail++;
      ran++;
      this.dbg = undefined;
      if (this.current + 1 >= this.packets.length || (limit > 0 && ran >= limit)) break;
      this.current++;
    }
    out.push(`bpf passes:${pass} fails:${fail}\n`);
    this.current = 0;
    this.dbg = undefined;
  }

  private cmdBreakpoint(arg: string, out: string[]): void {
    if (!this.progLoaded(out)) return;
    if (arg === '') {
      out.push(`breakpoints: ${[...this.breakpoints].sort((a, b) => a - b).map((b) => `${b} `).join('')}\n`);
      return;
    }
    if (arg === 'reset') { this.breakpoints.clear(); this.dbg?.breakpoints.clear(); return; }
    const where = Number.parseInt(arg, 10);
    if (!(where >= 0 && where < this.prog.length)) return;
    if (this.breakpoints.has(where)) out.push('breakpoint already set!\n');
    this.breakpoints.add(where);
    this.dbg?.breakpoints.add(where);
    out.push(`breakpoint at: ${dbgDisasm(this.prog[where], where)}\n`);
  }

  private cmdDisassemble(arg: string, out: string[]): void {
    const line = Number.parseInt(arg, 10);
    if (arg !== '' && line >= 0 && line < this.prog.length) { out.push(dbgDisasm(this.prog[line], line) + '\n'); return; }
    this.prog.forEach((f, i) => out.push(dbgDisasm(f, i) + '\n'));
  }
}


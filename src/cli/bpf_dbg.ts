/*
 * `bpfkit bpf_dbg [SCRIPT]`: the classic-BPF step debugger in the kernel's tools/bpf/bpf_dbg
 * command language (load bpf / load pcap / select / step / run / breakpoint / disassemble / dump /
 * quit), reading commands from SCRIPT or standard input, one per line (with bpf_dbg's `> ` prompt
 * when standard input is a terminal). The session logic is
 * cbpf/dbg.ts; this file adds files and a small capture reader (classic pcap in either byte
 * order, pcapng enhanced/simple packet blocks) until net/ provides one.
 */
import { BpfError } from '../errors.js';
import { BpfDbgSession, type DbgPacket, type StepTarget } from '../cbpf/dbg.js';
import type { Insn } from '../isa/insn.js';
import { formatXlatedInsn } from '../isa/disasm_xlated.js';
import type { Execution } from '../vm/interpreter.js';
import type { CommandHandler } from './context.js';
import { readCapture } from '../net/pcap.js';

/**
 * The eBPF side of the debugger: the reference interpreter's Execution as a StepTarget, so the
 * same Debugger (breakpoints, run, step) drives eBPF programs. Registers r0..r10 as unsigned
 * 64-bit values; instructions print as `bpftool prog dump xlated`. No stepping back (the stack
 * and memory are not snapshotted).
 */
export class EbpfStepTarget implements StepTarget<never> {
  readonly exec: Execution;
  readonly insns: readonly Insn[];

  constructor(exec: Execution) {
    this.exec = exec;
    this.insns = exec.insns;
  }

  get pc(): number {
    return this.exec.pc;
  }

  get result(): bigint | undefined {
    return this.exec.result?.r0;
  }

  get length(): number {
    return this.insns.length;
  }

  step(): void {
    this.exec.step(1);
  }

  registers(): Array<[string, bigint]> {
    return Array.from({ length: 11 }, (_, r) => [`r${r}`, this.exec.reg(r)] as [string, bigint]);
  }

  describe(pc: number): string {
    return formatXlatedInsn(this.insns, pc);
  }
}

/** Packets of a pcap or pcapng file (net/'s reader; its errors name the offset). */
export function readCapturePackets(b: Uint8Array): DbgPacket[] {
  return readCapture(b).records.map((r) => ({ data: r.data, wireLen: r.len }));
}

export const bpfDbgCommand: CommandHandler = async (args, ctx) => {
  if (args.length > 1) throw new BpfError('EINVAL', 'usage: bpfkit bpf_dbg [SCRIPT]');
  const fs = await import('node:fs');
  const session = new BpfDbgSession((path) => {
    let bytes: Uint8Array;
    try {
      bytes = fs.readFileSync(path);
    } catch (err) {
      throw new Error((err as NodeJS.ErrnoException).code === 'ENOENT' ? 'No such file or directory' : (err as Error).message);
    }
    return readCapturePackets(bytes);
  });
  if (args.length === 0 && process.stdin.isTTY) {
    // an interactive shell with bpf_dbg's prompt
    const readline = await import('node:readline');
    const rl = readline.createInterface({ input: process.stdin, output: process.stdout, prompt: '> ' });
    rl.prompt();
    for await (const line of rl) {
      const { output, quit } = session.exec(line);
      ctx.stdout(output);
      if (quit) break;
      rl.prompt();
    }
    rl.close();
    return 0;
  }
  let script: string;
  if (args.length === 1 && args[0] !== '-') {
    try {
      script = fs.readFileSync(args[0], 'utf8');
    } catch (err) {
      throw new BpfError('ENOENT', `failed to open ${args[0]}: ${(err as Error).message}`);
    }
  } else {
    script = new TextDecoder().decode(await ctx.readStdin());
  }
  for (const line of script.split(/\r?\n/)) {
    const { output, quit } = session.exec(line);
    ctx.stdout(output);
    if (quit) break;
  }
  return 0;
};

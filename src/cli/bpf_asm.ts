/*
 * `bpfkit bpf_asm [-c] [FILE]`: the kernel's classic-BPF assembler (tools/bpf/bpf_asm). Prints
 * `N,code jt jf k,...,` (the form tc and xt_bpf take), or with -c a C array body
 * (`{ 0x28,  0,  0, 0x0000000c },`). FILE `-` or none: standard input. Extensions: `-d` prints
 * bpf_asm source for bytecode in FILE (tc's `N,c t f k,...` or `tcpdump -ddd` text), `-l`
 * prints a `tcpdump -d` style listing. Errors are one line, `FILE:line:col: message`, exit 255.
 */
import { BpfError } from '../errors.js';
import { bpfAsm, bpfDisasm, formatBpfAsm, formatBpfAsmC } from '../cbpf/asm.js';
import { bpfDump, parseBytecode } from '../cbpf/dump.js';
import type { CommandHandler } from './context.js';

const USAGE = 'usage: bpfkit bpf_asm [-c | -l | -d] [FILE]';

export const bpfAsmCommand: CommandHandler = async (args, ctx) => {
  let mode: 'list' | 'c' | 'image' | 'disasm' = 'list';
  let input: string | undefined;
  for (const a of args) {
    if (a === '-c') mode = 'c';
    else if (a === '-l') mode = 'image';
    else if (a === '-d') mode = 'disasm';
    else if (a === 'help' || a === '-h' || a === '--help') { ctx.stdout(USAGE + '\n'); return 0; }
    else if (a.startsWith('-') && a !== '-') throw new BpfError('EINVAL', `unknown option '${a}' (${USAGE})`);
    else if (input === undefined) input = a;
    else throw new BpfError('EINVAL', `unexpected argument '${a}' (${USAGE})`);
  }
  let source: string;
  if (input === undefined || input === '-') {
    source = new TextDecoder().decode(await ctx.readStdin());
  } else {
    const fs = await import('node:fs/promises');
    try {
      source = await fs.readFile(input, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new BpfError('ENOENT', `failed to open ${input}: ${code === 'ENOENT' ? 'No such file or directory' : (err as Error).message}`);
    }
  }
  const name = input === undefined || input === '-' ? '<stdin>' : input;
  if (mode === 'disasm') {
    ctx.stdout(bpfDisasm(parseBytecode(source)));
    return 0;
  }
  const prog = bpfAsm(source, name);
  if (mode === 'c') ctx.stdout(formatBpfAsmC(prog));
  else if (mode === 'image') ctx.stdout(bpfDump(prog, 1));
  else ctx.stdout(formatBpfAsm(prog));
  return 0;
};

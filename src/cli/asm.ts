/*
 * `bpfkit asm FILE [-o OBJ]`: assemble LLVM-syntax BPF assembly (what `llvm-mc -triple bpfel
 * -filetype=obj` accepts) into an ELF relocatable object that libbpf, the kernel and llvm-objdump
 * take as llvm-mc's own. FILE may be `-` (standard input); OBJ defaults to FILE with `.o` for
 * its extension (`out.o` for standard input).
 */
import { BpfError } from '../errors.js';
import type { AsmUnit } from '../isa/asm_unit.js';
import { writeElf } from '../loader/elf_writer.js';
import type { CommandHandler } from './context.js';

interface AsmLlvmModule {
  assembleLlvm(source: string, fileName: string): AsmUnit;
}

export async function loadAssembler(): Promise<AsmLlvmModule> {
  // By computed name: the LLVM-syntax assembler is written alongside and may not be in the tree yet.
  const path = '../isa/asm_llvm.js';
  try {
    return (await import(path)) as AsmLlvmModule;
  } catch {
    throw new BpfError('ENOTSUPP', 'the LLVM-syntax assembler (isa/asm_llvm) is not available in this build');
  }
}

/** Assemble source text to object bytes. */
export async function assembleToElf(source: string, fileName: string): Promise<Uint8Array> {
  const { assembleLlvm } = await loadAssembler();
  return writeElf(assembleLlvm(source, fileName));
}

export const asmCommand: CommandHandler = async (args, ctx) => {
  let input: string | undefined;
  let output: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '-o') {
      output = args[++i];
      if (output === undefined) throw new BpfError('EINVAL', "'-o' needs an output file name");
    } else if (a.startsWith('-o') && a.length > 2) {
      output = a.slice(2);
    } else if (a.startsWith('-') && a !== '-') {
      throw new BpfError('EINVAL', `unknown option '${a}' (usage: bpfkit asm FILE [-o OBJ])`);
    } else if (input === undefined) {
      input = a;
    } else {
      throw new BpfError('EINVAL', `unexpected argument '${a}' (usage: bpfkit asm FILE [-o OBJ])`);
    }
  }
  if (input === undefined) throw new BpfError('EINVAL', 'expected an assembly file (usage: bpfkit asm FILE [-o OBJ])');
  const fs = await import('node:fs/promises');
  let source: string;
  try {
    source = input === '-' ? new TextDecoder().decode(await ctx.readStdin()) : await fs.readFile(input, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new BpfError('ENOENT', `failed to open ${input}: ${code === 'ENOENT' ? 'No such file or directory' : (err as Error).message}`);
  }
  const out = output ?? (input === '-' ? 'out.o' : input.replace(/\.[^./]*$/, '') + '.o');
  const bytes = await assembleToElf(source, input === '-' ? '<stdin>' : input);
  try {
    await fs.writeFile(out, bytes);
  } catch (err) {
    throw new BpfError('EACCES', `failed to write ${out}: ${(err as Error).message}`);
  }
  return 0;
};

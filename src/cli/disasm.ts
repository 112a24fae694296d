/*
 * `bpfkit disasm OBJ...`: the text `llvm-objdump-19 -d OBJ` prints. The ELF reader picks the
 * sections llvm-objdump disassembles (SHF_EXECINSTR) and the symbols it labels them with (named,
 * defined in the section, not STT_SECTION/STT_FILE); the printer (isa/disasm_llvm.ts) does the rest.
 */
import { BpfError } from '../errors.js';
import { type ObjdumpSectionInput, objdumpFile } from '../isa/disasm_llvm.js';
import { type ElfFile, SHF_EXECINSTR, STT_FILE, STT_FUNC, STT_OBJECT, STT_SECTION, readElf } from '../loader/elf.js';
import type { CommandHandler } from './context.js';

const STT_COMMON = 5;

/** The sections and symbols `llvm-objdump -d` works from. */
export function objdumpInput(elf: ElfFile): ObjdumpSectionInput[] {
  return elf.sections
    .filter((s) => (s.flags & SHF_EXECINSTR) !== 0 && s.size > 0)
    .map((s) => ({
      name: s.name,
      bytes: s.data,
      executable: true,
      symbols: elf.symbols
        .filter((y) => y.index !== 0 && y.shndx === s.index && y.name !== '' && y.type !== STT_SECTION && y.type !== STT_FILE)
        .map((y) => ({ name: y.name, offset: y.value, isFunction: y.type === STT_FUNC, isObject: y.type === STT_OBJECT || y.type === STT_COMMON })),
    }));
}

/** `llvm-objdump -d` of an object's bytes. */
export function disassembleObject(bytes: Uint8Array, fileName: string): string {
  return objdumpFile(fileName, objdumpInput(readElf(bytes, fileName)));
}

export const disasmCommand: CommandHandler = async (args, ctx) => {
  const files: string[] = [];
  for (const a of args) {
    if (a === '-d' || a === '--disassemble') continue;
    if (a.startsWith('-') && a !== '-') throw new BpfError('EINVAL', `unknown option '${a}' (usage: bpfkit disasm OBJ...)`);
    files.push(a);
  }
  if (files.length === 0) throw new BpfError('EINVAL', 'expected an object file (usage: bpfkit disasm OBJ...)');
  const { readFile } = await import('node:fs/promises');
  for (const file of files) {
    let bytes: Uint8Array;
    try {
      bytes = file === '-' ? await ctx.readStdin() : new Uint8Array(await readFile(file));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new BpfError('ENOENT', `'${file}': ${code === 'ENOENT' ? 'No such file or directory' : code === 'EISDIR' ? 'Is a directory' : (err as Error).message}`);
    }
    ctx.stdout(disassembleObject(bytes, file));
  }
  return 0;
};

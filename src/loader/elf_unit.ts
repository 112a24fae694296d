/*
 * An ELF object back to the assembler's AsmUnit: sections with their bytes or instruction slots,
 * symbols and relocations by name. writeElf(unitFromElf(x)) gives an equivalent object, which is
 * how the writer is tested against llvm-mc's output (and how objects can be edited and rewritten).
 * Only the sections an assembler produces are kept: PROGBITS/NOBITS contents; symbol tables,
 * string tables and relocation sections are rebuilt by the writer.
 */
import { BpfError } from '../errors.js';
import type { AsmRelocationType, AsmSection, AsmSymbolType, AsmUnit } from '../isa/asm_unit.js';
import { decodeSlots } from '../isa/insn.js';
import {
  type ElfFile, R_BPF_64_32, R_BPF_64_64, R_BPF_64_ABS32, R_BPF_64_ABS64, R_BPF_64_NODYLD32,
  SHF_EXECINSTR, SHF_WRITE, SHT_NOBITS, SHT_PROGBITS, STB_LOCAL, STT_FUNC, STT_OBJECT, STT_SECTION,
} from './elf.js';

const RELOC_NAMES: Record<number, AsmRelocationType> = {
  [R_BPF_64_64]: 'R_BPF_64_64', [R_BPF_64_32]: 'R_BPF_64_32', [R_BPF_64_ABS64]: 'R_BPF_64_ABS64',
  [R_BPF_64_ABS32]: 'R_BPF_64_ABS32', [R_BPF_64_NODYLD32]: 'R_BPF_64_NODYLD32',
};

export function unitFromElf(elf: ElfFile): AsmUnit {
  const sections: AsmSection[] = [];
  for (const sec of elf.sections) {
    if (sec.type !== SHT_PROGBITS && sec.type !== SHT_NOBITS) continue;
    const executable = (sec.flags & SHF_EXECINSTR) !== 0;
    const out: AsmSection = {
      name: sec.name,
      executable,
      writable: (sec.flags & SHF_WRITE) !== 0,
      insns: executable ? decodeSlots(sec.data) : [],
      data: executable ? new Uint8Array(0) : sec.type === SHT_NOBITS ? new Uint8Array(sec.size) : sec.data.slice(),
      symbols: [],
      relocations: [],
    };
    for (const sym of elf.symbols) {
      if (sym.index === 0 || sym.shndx !== sec.index || sym.name === '' || sym.type === STT_SECTION) continue;
      const type: AsmSymbolType = sym.type === STT_FUNC ? 'func' : sym.type === STT_OBJECT ? 'object' : 'notype';
      out.symbols.push({ name: sym.name, offset: sym.value, global: sym.bind !== STB_LOCAL, type, size: sym.size || undefined });
    }
    for (const rel of elf.relocations.get(sec.index)?.entries ?? []) {
      const type = RELOC_NAMES[rel.type];
      if (!type) throw new BpfError('EINVAL', `${elf.fileName}: section '${sec.name}': relocation type ${rel.type} is not a BPF relocation`);
      const sym = elf.symbols[rel.symbol];
      const symbol = sym.type === STT_SECTION && sym.name === '' ? elf.sections[sym.shndx]?.name ?? '' : sym.name;
      out.relocations.push({ offset: rel.offset, type, symbol });
    }
    sections.push(out);
  }
  return { sections };
}

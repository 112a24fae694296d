/*
 * ELF64 relocatable object writer (EM_BPF, little-endian) for what an assembler produced: the
 * inverse of elf.ts, laid out as llvm-mc lays its objects out so libbpf and the kernel accept them
 * (`bpftool prog load out.o ...`) and llvm-objdump reads them the same way:
 *
 *   [0] null  [1] .strtab (section and symbol names)  then each section of the unit in order,
 *   each followed by its `.rel<name>` (SHT_REL) when it has relocations, and .symtab last.
 *
 * The symbol table holds locals first (section symbols for sections that relocations refer to,
 * then local symbols), then globals, then undefined symbols that relocations need (externs);
 * sh_info is the index of the first non-local, as the ELF spec requires.
 */
import { BpfError } from '../errors.js';
import type { AsmRelocationType, AsmSection, AsmSymbol, AsmUnit } from '../isa/asm_unit.js';
import { encodeProgram } from '../isa/insn.js';
import {
  ELF64_EHDR_SIZE, ELF64_REL_SIZE, ELF64_SHDR_SIZE, ELF64_SYM_SIZE, EM_BPF, ET_REL,
  R_BPF_64_32, R_BPF_64_64, R_BPF_64_ABS32, R_BPF_64_ABS64, R_BPF_64_NODYLD32,
  SHF_ALLOC, SHF_EXECINSTR, SHF_INFO_LINK, SHF_WRITE, SHT_NOBITS, SHT_PROGBITS, SHT_REL, SHT_STRTAB,
  SHT_SYMTAB, STB_GLOBAL, STB_LOCAL, STT_FUNC, STT_NOTYPE, STT_OBJECT, STT_SECTION,
} from './elf.js';

const RELOC_TYPES: Record<AsmRelocationType, number> = {
  R_BPF_64_64, R_BPF_64_32, R_BPF_64_ABS64, R_BPF_64_ABS32, R_BPF_64_NODYLD32,
};

interface OutSection {
  name: string;
  type: number;
  flags: number;
  data: Uint8Array;
  /** For SHT_NOBITS: the size (data is empty). */
  size: number;
  link: number;
  info: number;
  align: number;
  entsize: number;
  offset: number;
}

interface OutSymbol {
  name: string;
  value: number;
  size: number;
  type: number;
  bind: number;
  shndx: number;
}

/** Sections that are not loaded (no SHF_ALLOC), as the compiler marks them. */
function isNonAlloc(name: string): boolean {
  return name === '.BTF' || name === '.BTF.ext' || name.startsWith('.debug') || name === '.llvm_addrsig' || name.startsWith('.comment');
}

function isBss(name: string): boolean {
  return name === '.bss' || name.startsWith('.bss.');
}

const symType = (s: AsmSymbol): number =>
  s.type === 'func' ? STT_FUNC : s.type === 'object' ? STT_OBJECT : s.type === 'section' ? STT_SECTION : STT_NOTYPE;

/** Serialize an assembled unit as an ELF64 relocatable BPF object. */
export function writeElf(unit: AsmUnit): Uint8Array {
  const names = new StringTableBuilder();
  const out: OutSection[] = [];
  const push = (s: Omit<OutSection, 'offset'>): number => { out.push({ ...s, offset: 0 }); return out.length; };
  // Index 0 is the null section; out[] starts at index 1.
  const strtabIndex = push({ name: '.strtab', type: SHT_STRTAB, flags: 0, data: new Uint8Array(0), size: 0, link: 0, info: 0, align: 1, entsize: 0 });

  const secIndex = new Map<AsmSection, number>();
  const relSections: { rel: number; sec: AsmSection }[] = [];
  for (const sec of unit.sections) {
    const bytes = sec.executable ? encodeProgram(sec.insns) : sec.data;
    const bss = isBss(sec.name) && !sec.executable;
    let flags = isNonAlloc(sec.name) ? 0 : SHF_ALLOC;
    if (sec.executable) flags |= SHF_EXECINSTR;
    if (sec.writable) flags |= SHF_WRITE;
    const index = push({
      name: sec.name, type: bss ? SHT_NOBITS : SHT_PROGBITS, flags, data: bss ? new Uint8Array(0) : bytes,
      size: bytes.length, link: 0, info: 0, align: sec.executable ? 8 : 1, entsize: 0,
    });
    secIndex.set(sec, index);
    if (sec.relocations.length > 0) {
      const rel = push({
        name: `.rel${sec.name}`, type: SHT_REL, flags: SHF_INFO_LINK, data: new Uint8Array(0), size: 0, link: 0,
        info: index, align: 8, entsize: ELF64_REL_SIZE,
      });
      relSections.push({ rel, sec });
    }
  }
  const symtabIndex = push({ name: '.symtab', type: SHT_SYMTAB, flags: 0, data: new Uint8Array(0), size: 0, link: strtabIndex, info: 0, align: 8, entsize: ELF64_SYM_SIZE });

  // Symbols: locals (section symbols, then named locals), then globals, then externs.
  const sectionByName = new Map<string, AsmSection>();
  for (const sec of unit.sections) if (!sectionByName.has(sec.name)) sectionByName.set(sec.name, sec);
  const defined = new Map<string, { sym: AsmSymbol; sec: AsmSection }>();
  for (const sec of unit.sections) {
    for (const sym of sec.symbols) {
      if (sym.type === 'section' || sym.name === '') continue;
      const prev = defined.get(sym.name);
      if (!prev || (!prev.sym.global && sym.global)) defined.set(sym.name, { sym, sec });
    }
  }
  const referenced = new Set(unit.sections.flatMap((s) => s.relocations.map((r) => r.symbol)));
  const sectionSymbolNeeded = new Set<AsmSection>();
  const externs: string[] = [];
  for (const sec of unit.sections) {
    for (const rel of sec.relocations) {
      if (defined.has(rel.symbol)) continue;
      const target = sectionByName.get(rel.symbol);
      if (target) sectionSymbolNeeded.add(target);
      else if (!externs.includes(rel.symbol)) externs.push(rel.symbol);
    }
    for (const sym of sec.symbols) if (sym.type === 'section') sectionSymbolNeeded.add(sec);
  }

  const symbols: OutSymbol[] = [{ name: '', value: 0, size: 0, type: STT_NOTYPE, bind: STB_LOCAL, shndx: 0 }];
  const symIndexByName = new Map<string, number>();
  const sectionSymIndex = new Map<AsmSection, number>();
  for (const sec of unit.sections) {
    if (!sectionSymbolNeeded.has(sec)) continue;
    sectionSymIndex.set(sec, symbols.length);
    symbols.push({ name: '', value: 0, size: 0, type: STT_SECTION, bind: STB_LOCAL, shndx: secIndex.get(sec)! });
  }
  const addDefined = (global: boolean): void => {
    for (const sec of unit.sections) {
      for (const sym of sec.symbols) {
        if (sym.type === 'section' || sym.name === '' || sym.global !== global) continue;
        // Assembler temporaries stay out, as in llvm-mc, unless a relocation needs them.
        if (!global && sym.name.startsWith('.L') && !referenced.has(sym.name)) continue;
        if (defined.get(sym.name)?.sym !== sym) continue;
        symIndexByName.set(sym.name, symbols.length);
        symbols.push({
          name: sym.name, value: sym.offset, size: sym.size ?? 0, type: symType(sym),
          bind: global ? STB_GLOBAL : STB_LOCAL, shndx: secIndex.get(sec)!,
        });
      }
    }
  };
  addDefined(false);
  const firstGlobal = symbols.length;
  addDefined(true);
  for (const name of externs) {
    symIndexByName.set(name, symbols.length);
    symbols.push({ name, value: 0, size: 0, type: STT_NOTYPE, bind: STB_GLOBAL, shndx: 0 });
  }

  // Relocation entries.
  for (const { rel, sec } of relSections) {
    const data = new Uint8Array(sec.relocations.length * ELF64_REL_SIZE);
    const view = new DataView(data.buffer);
    sec.relocations.forEach((r, i) => {
      const type = RELOC_TYPES[r.type];
      if (type === undefined) throw new BpfError('EINVAL', `section '${sec.name}': unknown relocation type ${r.type}`);
      let symIndex = symIndexByName.get(r.symbol);
      if (symIndex === undefined) {
        // A relocation against a section by name: its section symbol.
        const target = sectionByName.get(r.symbol);
        if (target) symIndex = sectionSymIndex.get(target);
      }
      if (symIndex === undefined) throw new BpfError('EINVAL', `section '${sec.name}': relocation against unknown symbol '${r.symbol}'`);
      view.setBigUint64(i * ELF64_REL_SIZE, BigInt(r.offset), true);
      view.setUint32(i * ELF64_REL_SIZE + 8, type, true);
      view.setUint32(i * ELF64_REL_SIZE + 12, symIndex, true);
    });
    const o = out[rel - 1];
    o.data = data;
    o.size = data.length;
    o.link = symtabIndex;
  }

  // Names, then the symbol table bytes.
  const symData = new Uint8Array(symbols.length * ELF64_SYM_SIZE);
  const symView = new DataView(symData.buffer);
  symbols.forEach((s, i) => {
    const at = i * ELF64_SYM_SIZE;
    symView.setUint32(at, s.name ? names.add(s.name) : 0, true);
    symView.setUint8(at + 4, (s.bind << 4) | s.type);
    symView.setUint8(at + 5, 0);
    symView.setUint16(at + 6, s.shndx, true);
    symView.setBigUint64(at + 8, BigInt(s.value), true);
    symView.setBigUint64(at + 16, BigInt(s.size), true);
  });
  const symtab = out[symtabIndex - 1];
  symtab.data = symData;
  symtab.size = symData.length;
  symtab.info = firstGlobal;
  const nameOffsets = out.map((s) => names.add(s.name));
  const strtab = out[strtabIndex - 1];
  strtab.data = names.finish();
  strtab.size = strtab.data.length;

  // Layout, in llvm-mc's order: section contents, .symtab, .rel*, .strtab, then section headers.
  let offset = ELF64_EHDR_SIZE;
  const place = (s: OutSection): void => {
    offset = alignUp(offset, Math.max(s.align, 1));
    s.offset = offset;
    offset += s.data.length;
  };
  for (let i = 0; i < out.length; i++) {
    const s = out[i];
    if (s.type === SHT_STRTAB || s.type === SHT_REL) continue;
    if (s.type === SHT_NOBITS) { s.offset = offset; continue; }
    place(s);
  }
  for (const s of out) if (s.type === SHT_REL) place(s);
  place(strtab);
  const shoff = alignUp(offset, 8);
  const shnum = out.length + 1;
  const file = new Uint8Array(shoff + shnum * ELF64_SHDR_SIZE);
  const view = new DataView(file.buffer);

  // ELF header.
  file.set([0x7f, 0x45, 0x4c, 0x46, 2 /* ELFCLASS64 */, 1 /* ELFDATA2LSB */, 1 /* EV_CURRENT */, 0 /* ELFOSABI_NONE */]);
  view.setUint16(16, ET_REL, true);
  view.setUint16(18, EM_BPF, true);
  view.setUint32(20, 1, true);
  view.setBigUint64(40, BigInt(shoff), true);
  view.setUint16(52, ELF64_EHDR_SIZE, true);
  view.setUint16(58, ELF64_SHDR_SIZE, true);
  view.setUint16(60, shnum, true);
  view.setUint16(62, strtabIndex, true);

  out.forEach((s, i) => {
    if (s.type !== SHT_NOBITS) file.set(s.data, s.offset);
    const h = shoff + (i + 1) * ELF64_SHDR_SIZE;
    view.setUint32(h, nameOffsets[i], true);
    view.setUint32(h + 4, s.type, true);
    view.setBigUint64(h + 8, BigInt(s.flags), true);
    view.setBigUint64(h + 24, BigInt(s.offset), true);
    view.setBigUint64(h + 32, BigInt(s.size), true);
    view.setUint32(h + 40, s.link, true);
    view.setUint32(h + 44, s.info, true);
    view.setBigUint64(h + 48, BigInt(s.align), true);
    view.setBigUint64(h + 56, BigInt(s.entsize), true);
  });
  return file;
}

function alignUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

class StringTableBuilder {
  private readonly offsets = new Map<string, number>();
  private readonly chunks: Uint8Array[] = [new Uint8Array(1)];
  private length = 1;
  private readonly encoder = new TextEncoder();

  add(name: string): number {
    if (name === '') return 0;
    const known = this.offsets.get(name);
    if (known !== undefined) return known;
    const bytes = this.encoder.encode(name + '\0');
    const at = this.length;
    this.offsets.set(name, at);
    this.chunks.push(bytes);
    this.length += bytes.length;
    return at;
  }

  finish(): Uint8Array {
    const all = new Uint8Array(this.length);
    let at = 0;
    for (const c of this.chunks) { all.set(c, at); at += c.length; }
    return all;
  }
}

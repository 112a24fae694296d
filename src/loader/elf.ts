/*
 * ELF64 little-endian reader for BPF objects: header, section headers and their names, the symbol
 * table and SHT_REL relocations — what libbpf's bpf_object__elf_init()/elf_collect() read through
 * libelf. Every offset and size is checked against the file before it is used, so a hostile file
 * gives one clear BpfError naming the section and offsets, never a crash or a hang (the work done
 * is linear in the file size).
 */
import { BpfError } from '../errors.js';

// e_ident, e_type, e_machine (elf.h).
const ELFCLASS32 = 1;
const ELFCLASS64 = 2;
const ELFDATA2LSB = 1;
const ELFDATA2MSB = 2;
export const ET_REL = 1;
export const EM_BPF = 247;

// Section types and flags.
export const SHT_NULL = 0;
export const SHT_PROGBITS = 1;
export const SHT_SYMTAB = 2;
export const SHT_STRTAB = 3;
export const SHT_RELA = 4;
export const SHT_NOBITS = 8;
export const SHT_REL = 9;
export const SHF_WRITE = 0x1;
export const SHF_ALLOC = 0x2;
export const SHF_EXECINSTR = 0x4;
export const SHF_INFO_LINK = 0x40;

// Special section indexes.
export const SHN_UNDEF = 0;
export const SHN_LORESERVE = 0xff00;
export const SHN_ABS = 0xfff1;
export const SHN_COMMON = 0xfff2;
export const SHN_XINDEX = 0xffff;

// Symbol binding, type, visibility.
export const STB_LOCAL = 0;
export const STB_GLOBAL = 1;
export const STB_WEAK = 2;
export const STT_NOTYPE = 0;
export const STT_OBJECT = 1;
export const STT_FUNC = 2;
export const STT_SECTION = 3;
export const STT_FILE = 4;
export const STV_DEFAULT = 0;
export const STV_HIDDEN = 2;

// BPF relocation types (llvm/BinaryFormat/ELFRelocs/BPF.def).
export const R_BPF_NONE = 0;
export const R_BPF_64_64 = 1;
export const R_BPF_64_ABS64 = 2;
export const R_BPF_64_ABS32 = 3;
export const R_BPF_64_NODYLD32 = 4;
export const R_BPF_64_32 = 10;

export const ELF64_EHDR_SIZE = 64;
export const ELF64_SHDR_SIZE = 64;
export const ELF64_SYM_SIZE = 24;
export const ELF64_REL_SIZE = 16;
export const ELF64_RELA_SIZE = 24;

export interface ElfSection {
  index: number;
  name: string;
  type: number;
  flags: number;
  offset: number;
  size: number;
  link: number;
  info: number;
  addralign: number;
  entsize: number;
  /** The section's bytes (a view into the file); empty for SHT_NOBITS and SHT_NULL. */
  data: Uint8Array;
}

export interface ElfSymbol {
  index: number;
  name: string;
  value: number;
  size: number;
  /** STT_* */
  type: number;
  /** STB_* */
  bind: number;
  /** STV_* */
  visibility: number;
  /** Section index, or SHN_* for special ones (SHT_SYMTAB_SHNDX extended indexes are not read). */
  shndx: number;
}

export interface ElfRelocation {
  /** Byte offset inside the target section. */
  offset: number;
  /** R_BPF_* */
  type: number;
  /** Index into the symbol table. */
  symbol: number;
  /** SHT_RELA only. */
  addend?: bigint;
}

export interface ElfFile {
  fileName: string;
  /** e_type (ET_REL for objects). */
  type: number;
  machine: number;
  sections: ElfSection[];
  /** Symbols of .symtab (index 0 is the null symbol); empty when there is none. */
  symbols: ElfSymbol[];
  /** The SHT_SYMTAB section, if any. */
  symtab?: ElfSection;
  /** Relocation sections (SHT_REL / SHT_RELA) by the index of the section they apply to. */
  relocations: Map<number, { section: ElfSection; entries: ElfRelocation[] }>;
}

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

class Reader {
  readonly view: DataView;
  readonly size: number;
  constructor(bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.size = bytes.byteLength;
  }
  u8(off: number): number { return this.view.getUint8(off); }
  u16(off: number): number { return this.view.getUint16(off, true); }
  u32(off: number): number { return this.view.getUint32(off, true); }
  /** u64 as a number; values beyond 2^53 become Infinity so bounds checks reject them. */
  u64(off: number): number {
    const lo = this.view.getUint32(off, true);
    const hi = this.view.getUint32(off + 4, true);
    const v = hi * 0x1_0000_0000 + lo;
    return v > MAX_SAFE ? Infinity : v;
  }
}

const hex = (n: number): string => (Number.isFinite(n) ? '0x' + n.toString(16) : 'beyond 2^53');

/** Parse an ELF64 little-endian BPF object. Throws BpfError (EINVAL) with one line naming the problem. */
export function readElf(bytes: Uint8Array, fileName: string): ElfFile {
  const fail = (msg: string): never => { throw new BpfError('EINVAL', `${fileName}: ${msg}`); };
  if (bytes.length < 4 || bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) {
    fail('not an ELF file (bad magic)');
  }
  if (bytes.length < 6) fail(`truncated ELF header (${bytes.length} bytes, need ${ELF64_EHDR_SIZE})`);
  const cls = bytes[4];
  if (cls === ELFCLASS32) fail('32-bit ELF objects are not supported (BPF objects are ELF64)');
  if (cls !== ELFCLASS64) fail(`bad ELF class ${cls}`);
  const data = bytes[5];
  if (data === ELFDATA2MSB) fail('big-endian objects are not supported');
  if (data !== ELFDATA2LSB) fail(`bad ELF data encoding ${data}`);
  if (bytes.length < ELF64_EHDR_SIZE) fail(`truncated ELF header (${bytes.length} bytes, need ${ELF64_EHDR_SIZE})`);

  const r = new Reader(bytes);
  const type = r.u16(16);
  const machine = r.u16(18);
  if (machine !== EM_BPF) fail(`not a BPF object (e_machine ${machine}, expected ${EM_BPF} EM_BPF)`);
  const shoff = r.u64(40);
  const shentsize = r.u16(58);
  let shnum = r.u16(60);
  let shstrndx = r.u16(62);

  const sections: ElfSection[] = [];
  const nameOffsets: number[] = [];
  if (shoff !== 0) {
    if (shentsize !== ELF64_SHDR_SIZE) fail(`bad section header size ${shentsize} (expected ${ELF64_SHDR_SIZE})`);
    if (shoff + ELF64_SHDR_SIZE > r.size) {
      fail(`section headers at offset ${hex(shoff)} extend past the end of the file (${r.size} bytes)`);
    }
    // Extended numbering: the real counts live in section 0 (e_shnum == 0, e_shstrndx == SHN_XINDEX).
    if (shnum === 0) shnum = r.u64(shoff + 32);
    if (shstrndx === SHN_XINDEX) shstrndx = r.u32(shoff + 40);
    const end = shoff + shnum * ELF64_SHDR_SIZE;
    if (end > r.size) {
      fail(`section headers at offset ${hex(shoff)} (${shnum} x ${ELF64_SHDR_SIZE} bytes) extend past the end of the file (${r.size} bytes)`);
    }
    for (let i = 0; i < shnum; i++) {
      const h = shoff + i * ELF64_SHDR_SIZE;
      const sec: ElfSection = {
        index: i,
        name: '',
        type: r.u32(h + 4),
        flags: r.u64(h + 8),
        offset: r.u64(h + 24),
        size: r.u64(h + 32),
        link: r.u32(h + 40),
        info: r.u32(h + 44),
        addralign: r.u64(h + 48),
        entsize: r.u64(h + 56),
        data: new Uint8Array(0),
      };
      nameOffsets.push(r.u32(h));
      sections.push(sec);
    }
  } else if (shnum !== 0) {
    fail(`e_shoff is 0 but e_shnum is ${shnum}`);
  }

  // Section names first (so later messages can name sections), then every section's data.
  const dataOf = (sec: ElfSection, label: string): Uint8Array => {
    if (sec.type === SHT_NOBITS || sec.type === SHT_NULL) return new Uint8Array(0);
    if (sec.offset + sec.size > r.size) {
      fail(`section ${label} data at offset ${hex(sec.offset)} size ${hex(sec.size)} extends past the end of the file (${r.size} bytes)`);
    }
    return bytes.subarray(sec.offset, sec.offset + sec.size);
  };
  if (sections.length > 0) {
    if (shstrndx === 0 || shstrndx >= sections.length) fail(`bad section name table index ${shstrndx} (${sections.length} sections)`);
    const shstr = sections[shstrndx];
    if (shstr.type !== SHT_STRTAB) fail(`section name table #${shstrndx} is not a string table (type ${shstr.type})`);
    const names = dataOf(shstr, `#${shstrndx} (section name table)`);
    const table = new StringTable(names, 'the section name table', fail);
    for (const sec of sections) sec.name = table.get(nameOffsets[sec.index], `section #${sec.index} name`);
    for (const sec of sections) sec.data = dataOf(sec, `'${sec.name}' (#${sec.index})`);
  }

  // Symbol table (libbpf requires exactly one; objects without it are rejected by the object layer).
  const symtabs = sections.filter((s) => s.type === SHT_SYMTAB);
  if (symtabs.length > 1) fail('more than one symbol table');
  const symtab = symtabs[0];
  const symbols: ElfSymbol[] = [];
  if (symtab) {
    if (symtab.size % ELF64_SYM_SIZE !== 0) {
      fail(`section '${symtab.name}' size ${symtab.size} is not a multiple of the symbol size ${ELF64_SYM_SIZE}`);
    }
    if (symtab.link === 0 || symtab.link >= sections.length) fail(`section '${symtab.name}' links to bad string table #${symtab.link}`);
    const strtab = sections[symtab.link];
    if (strtab.type !== SHT_STRTAB) fail(`section '${symtab.name}' links to section '${strtab.name}', which is not a string table`);
    const count = symtab.size / ELF64_SYM_SIZE;
    const names = new StringTable(strtab.data, `'${strtab.name}'`, fail);
    for (let i = 0; i < count; i++) {
      const s = symtab.offset + i * ELF64_SYM_SIZE;
      const nameOff = r.u32(s);
      const info = r.u8(s + 4);
      symbols.push({
        index: i,
        name: names.get(nameOff, `symbol #${i} name`),
        type: info & 0xf,
        bind: info >> 4,
        visibility: r.u8(s + 5) & 0x3,
        shndx: r.u16(s + 6),
        value: r.u64(s + 8),
        size: r.u64(s + 16),
      });
    }
  }

  // Relocations.
  const relocations = new Map<number, { section: ElfSection; entries: ElfRelocation[] }>();
  for (const sec of sections) {
    if (sec.type !== SHT_REL && sec.type !== SHT_RELA) continue;
    const entSize = sec.type === SHT_REL ? ELF64_REL_SIZE : ELF64_RELA_SIZE;
    if (sec.size % entSize !== 0) fail(`section '${sec.name}' size ${sec.size} is not a multiple of the entry size ${entSize}`);
    if (sec.info === 0 || sec.info >= sections.length) fail(`section '${sec.name}' applies to bad section #${sec.info}`);
    if (relocations.has(sec.info)) fail(`more than one relocation section for section '${sections[sec.info].name}'`);
    const entries: ElfRelocation[] = [];
    for (let off = sec.offset; off < sec.offset + sec.size; off += entSize) {
      const rel: ElfRelocation = { offset: r.u64(off), type: r.u32(off + 8), symbol: r.u32(off + 12) };
      if (sec.type === SHT_RELA) rel.addend = r.view.getBigInt64(off + 16, true);
      if (symtab && sec.link !== symtab.index) fail(`section '${sec.name}' links to section #${sec.link}, not the symbol table`);
      if (rel.symbol >= symbols.length) {
        fail(`section '${sec.name}' relocation #${entries.length} refers to symbol #${rel.symbol} (the symbol table has ${symbols.length})`);
      }
      entries.push(rel);
    }
    relocations.set(sec.info, { section: sec, entries });
  }

  return { fileName, type, machine, sections, symbols, symtab, relocations };
}

/** Longest name accepted: far beyond any C identifier or SEC() name, small enough that a hostile
 * file cannot blow a few megabytes up into gigabytes of strings. */
export const MAX_NAME_LENGTH = 1024;

/**
 * A string table with the position of the next NUL precomputed, so reading many names stays
 * linear in the file size even when a hostile file points every name into one long run.
 */
class StringTable {
  private readonly nextNul: Int32Array;
  private readonly bytes: Uint8Array;
  private readonly tableName: string;
  private readonly fail: (msg: string) => never;
  private readonly cache = new Map<number, string>();
  constructor(bytes: Uint8Array, tableName: string, fail: (msg: string) => never) {
    this.bytes = bytes;
    this.tableName = tableName;
    this.fail = fail;
    this.nextNul = new Int32Array(bytes.length);
    let next = -1;
    for (let i = bytes.length - 1; i >= 0; i--) {
      if (bytes[i] === 0) next = i;
      this.nextNul[i] = next;
    }
  }
  get(off: number, what: string): string {
    if (off === 0 && this.bytes.length === 0) return '';
    const known = this.cache.get(off);
    if (known !== undefined) return known;
    if (off >= this.bytes.length) this.fail(`${what} offset ${off} is outside ${this.tableName} (${this.bytes.length} bytes)`);
    const end = this.nextNul[off];
    if (end < 0) this.fail(`${what} at offset ${off} is not NUL-terminated inside ${this.tableName}`);
    if (end - off > MAX_NAME_LENGTH) this.fail(`${what} at offset ${off} is longer than ${MAX_NAME_LENGTH} bytes`);
    const name = utf8.decode(this.bytes.subarray(off, end));
    this.cache.set(off, name);
    return name;
  }
}

const utf8 = new TextDecoder('utf-8');

/** Name of a section by index, or a placeholder for special indexes (for messages). */
export function sectionName(elf: ElfFile, index: number): string {
  if (index === SHN_UNDEF) return '<undefined>';
  if (index === SHN_ABS) return '<abs>';
  if (index === SHN_COMMON) return '<common>';
  return elf.sections[index]?.name ?? `#${index}`;
}

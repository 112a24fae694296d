/*
 * The libbpf object model, first cut: the programs of a clang / llvm-mc object and their
 * bpf-to-bpf calls, with no maps or global data yet (a later issue).
 *
 *  - programs are the STT_FUNC symbols of executable sections other than .text, named by the
 *    symbol, typed by their section name (SEC("xdp")), as bpf_object__add_programs();
 *  - functions of .text are subprograms: a program gets the ones it calls (transitively) appended
 *    after its own instructions, and each call's imm is patched to the new position, exactly as
 *    bpf_object__reloc_code() does; so does `ld_imm64 rX, func` (BPF_PSEUDO_FUNC);
 *  - the `license` section gives the license string.
 *
 * One leniency: a call the assembler resolved inside a non-.text section (no relocation) runs as
 * written when it lands in the calling function, and appends the function it lands in otherwise;
 * libbpf only ever looks such targets up in .text.
 *
 * Error messages follow libbpf's where it has one ("prog 'x': bad call relo against ...").
 */
import { BpfError } from '../errors.js';
import { type Insn, decodeProgram } from '../isa/insn.js';
import {
  BPF_CALL, BPF_INSN_SIZE, BPF_JMP, BPF_PSEUDO_CALL, BPF_PSEUDO_FUNC,
} from '../isa/opcodes.js';
import {
  type ElfFile, type ElfSection, type ElfSymbol, ET_REL, SHF_EXECINSTR, SHN_LORESERVE, SHN_UNDEF,
  SHT_PROGBITS, SHT_REL, STB_LOCAL, STT_FUNC, STT_SECTION, readElf, sectionName,
} from './elf.js';

export interface BpfProgramSpec {
  /** The function's symbol name (bpf_program__name()). */
  name: string;
  /** Its ELF section, i.e. SEC("...") (bpf_program__section_name()). */
  section: string;
  /** Instructions after call relocation: the program's own, then the subprograms it calls. */
  insns: Insn[];
  /** Slot index of the program inside its section. */
  sectionInsnOffset: number;
  /** Number of the program's own slots (the rest of `insns` are appended subprograms). */
  ownInsnCount: number;
  /** Subprograms appended, in order, with their slot offset inside `insns`. */
  subprograms: { name: string; offset: number }[];
}

export interface BpfObject {
  fileName: string;
  /** From the `license` section; "" when there is none. */
  license: string;
  /** Main programs in section order, then symbol order (libbpf's order). */
  programs: BpfProgramSpec[];
}

/** A function of an executable section (libbpf: struct bpf_program, main or sub). */
interface Func {
  name: string;
  secIndex: number;
  secName: string;
  /** Slot offset and count inside the section. */
  secInsnOff: number;
  secInsnCnt: number;
  insns: Insn[];
  isSubprog: boolean;
  relos: Map<number, Relo>;
}

type Relo =
  | { kind: 'call'; symOff: number; symName: string }
  | { kind: 'subprog_addr'; symOff: number; symName: string }
  | { kind: 'data'; symName: string; secName: string }
  | { kind: 'extern'; symName: string };

const MAX_LICENSE = 64; // libbpf: char license[64]

/** Parse an object file's programs. Throws BpfError with a one-line message on anything malformed. */
export function openObject(bytes: Uint8Array, fileName: string): BpfObject {
  const elf = readElf(bytes, fileName);
  const fail = (msg: string): never => { throw new BpfError('EINVAL', `${fileName}: ${msg}`); };
  if (elf.type !== ET_REL) fail(`not a relocatable object (e_type ${elf.type}, expected ${ET_REL} ET_REL)`);
  if (!elf.symtab) fail('no symbol table found (stripped object file?)');

  const text = elf.sections.find((s) => s.name === '.text' && s.type === SHT_PROGBITS && (s.flags & SHF_EXECINSTR));
  const textIndex = text?.index ?? -1;

  let license = '';
  const licenseSec = elf.sections.find((s) => s.name === 'license');
  if (licenseSec) {
    const nul = licenseSec.data.indexOf(0);
    license = new TextDecoder().decode(licenseSec.data.subarray(0, nul < 0 ? licenseSec.data.length : nul))
      .slice(0, MAX_LICENSE - 1);
  }

  // Functions of every executable section, as bpf_object__add_programs().
  const funcs: Func[] = [];
  const funcsBySection = new Map<number, Func[]>();
  for (const sec of elf.sections) {
    if (sec.type !== SHT_PROGBITS || !(sec.flags & SHF_EXECINSTR) || sec.size === 0) continue;
    if (sec.size % BPF_INSN_SIZE !== 0) {
      fail(`section '${sec.name}': size ${sec.size} is not a multiple of ${BPF_INSN_SIZE} (the size of an instruction)`);
    }
    const list: Func[] = [];
    for (const sym of elf.symbols) {
      if (sym.shndx !== sec.index || sym.type !== STT_FUNC) continue;
      list.push(makeFunc(sec, sym, sec.index === textIndex, fail));
    }
    list.sort((a, b) => a.secInsnOff - b.secInsnOff);
    funcsBySection.set(sec.index, list);
    funcs.push(...list);
  }

  // Relocations of executable sections, as bpf_object__collect_prog_relos().
  for (const [secIndex, list] of funcsBySection) {
    const rels = elf.relocations.get(secIndex);
    if (!rels || rels.section.type !== SHT_REL) continue; // libbpf reads SHT_REL only
    const sec = elf.sections[secIndex];
    rels.entries.forEach((rel, i) => {
      const sym = elf.symbols[rel.symbol];
      if (sym.shndx >= elf.sections.length && sym.shndx < SHN_LORESERVE) {
        fail(`sec '${rels.section.name}': corrupted symbol #${rel.symbol} pointing to invalid section #${sym.shndx} for relo #${i}`);
      }
      if (rel.offset % BPF_INSN_SIZE !== 0 || rel.offset >= sec.size) {
        fail(`sec '${rels.section.name}': invalid offset 0x${rel.offset.toString(16)} for relo #${i}`);
      }
      const insnIdx = rel.offset / BPF_INSN_SIZE;
      const func = findFunc(list, insnIdx);
      if (!func) return; // libbpf: "couldn't find program ... probably overridden weak function, skipping"
      const symName = sym.type === STT_SECTION && sym.name === '' ? sectionName(elf, sym.shndx) : (sym.name || '<?>');
      const idx = insnIdx - func.secInsnOff;
      func.relos.set(idx, recordReloc(elf, func, idx, symName, sym, textIndex, fail));
    });
  }

  const programs: BpfProgramSpec[] = [];
  for (const main of funcs) {
    if (main.isSubprog) continue;
    programs.push(relocateProgram(main, funcsBySection, textIndex, fileName));
  }
  return { fileName, license, programs };
}

function makeFunc(sec: ElfSection, sym: ElfSymbol, isSubprog: boolean, fail: (m: string) => never): Func {
  const name = sym.name;
  if (sym.value % BPF_INSN_SIZE !== 0 || sym.size % BPF_INSN_SIZE !== 0) {
    fail(`sec '${sec.name}': function '${name}' at offset ${sym.value} size ${sym.size} is not instruction-aligned`);
  }
  if (sym.value + sym.size > sec.size) {
    fail(`sec '${sec.name}': program at offset ${sym.value} crosses section boundary`);
  }
  if (sym.size === 0) fail(`sec '${sec.name}': function '${name}' has size 0 (missing .size directive?)`);
  if (!isSubprog && sym.bind === STB_LOCAL) fail(`sec '${sec.name}': program '${name}' is static and not supported`);
  let insns: Insn[];
  try {
    insns = decodeProgram(sec.data.subarray(sym.value, sym.value + sym.size));
  } catch (err) {
    if (err instanceof BpfError) fail(`${isSubprog ? 'subprog' : 'prog'} '${name}' (section '${sec.name}'): ${err.message}`);
    throw err;
  }
  return {
    name, secIndex: sec.index, secName: sec.name, secInsnOff: sym.value / BPF_INSN_SIZE,
    secInsnCnt: sym.size / BPF_INSN_SIZE, insns, isSubprog, relos: new Map(),
  };
}

function findFunc(list: readonly Func[], secInsnIdx: number): Func | undefined {
  return list.find((f) => secInsnIdx >= f.secInsnOff && secInsnIdx < f.secInsnOff + f.secInsnCnt);
}

const isCall = (insn: Insn): boolean => insn.code === (BPF_JMP | BPF_CALL);
const isLdImm64 = (insn: Insn): boolean => insn.code === 0x18;

/** As bpf_program__record_reloc(). */
function recordReloc(
  elf: ElfFile, func: Func, idx: number, symName: string, sym: ElfSymbol, textIndex: number, fail: (m: string) => never,
): Relo {
  const kind = func.isSubprog ? 'subprog' : 'prog';
  const insn = func.insns[idx];
  if (!insn || (!isCall(insn) && !isLdImm64(insn))) {
    fail(`${kind} '${func.name}': invalid relo against '${symName}' for insns[${idx}].code 0x${(insn?.code ?? 0).toString(16)}`);
  }
  if (sym.shndx === SHN_UNDEF && sym.bind !== STB_LOCAL) return { kind: 'extern', symName };
  if (isCall(insn)) {
    if (insn.src !== BPF_PSEUDO_CALL) fail(`${kind} '${func.name}': incorrect bpf_call opcode`);
    if (sym.shndx === SHN_UNDEF || sym.shndx !== textIndex) {
      fail(`${kind} '${func.name}': bad call relo against '${symName}' in section '${sectionName(elf, sym.shndx)}'`);
    }
    if (sym.value % BPF_INSN_SIZE) fail(`${kind} '${func.name}': bad call relo against '${symName}' at offset ${sym.value}`);
    return { kind: 'call', symOff: sym.value, symName };
  }
  if (sym.shndx === SHN_UNDEF || sym.shndx >= SHN_LORESERVE) {
    fail(`${kind} '${func.name}': invalid relo against '${symName}' in special section 0x${sym.shndx.toString(16)}; forgot to initialize global var?..`);
  }
  // sym_is_subprog(): a function of .text, or the .text section itself.
  if (sym.shndx === textIndex && (sym.type === STT_FUNC || sym.type === STT_SECTION)) {
    if (sym.value % BPF_INSN_SIZE || insn.imm % BPF_INSN_SIZE) {
      fail(`${kind} '${func.name}': bad subprog addr relo against '${symName}' at offset ${sym.value}+${insn.imm}`);
    }
    return { kind: 'subprog_addr', symOff: sym.value, symName };
  }
  return { kind: 'data', symName, secName: sectionName(elf, sym.shndx) };
}

/** Build one main program: its instructions plus every subprogram it reaches (bpf_object__relocate_calls()). */
function relocateProgram(main: Func, funcsBySection: Map<number, Func[]>, textIndex: number, fileName: string): BpfProgramSpec {
  const fail = (msg: string): never => { throw new BpfError('EINVAL', `${fileName}: ${msg}`); };
  const insns: Insn[] = main.insns.map((i) => ({ ...i }));
  // sub_insn_off of each function appended to this main program.
  const placed = new Map<Func, number>([[main, 0]]);
  const subprograms: { name: string; offset: number }[] = [];

  const relocCode = (prog: Func): void => {
    const base = placed.get(prog)!;
    const kind = prog.isSubprog ? 'subprog' : 'prog';
    for (let idx = 0; idx < prog.secInsnCnt; idx++) {
      const insn = insns[base + idx];
      const relo = prog.relos.get(idx);
      if (relo?.kind === 'data') {
        fail(`maps/global data are not supported yet (program ${main.name}, insn ${base + idx})`);
      }
      if (relo?.kind === 'extern') {
        fail(`extern '${relo.symName}' is not supported yet (program ${main.name}, insn ${base + idx})`);
      }
      const subprogCall = isCall(insn) && insn.src === BPF_PSEUDO_CALL;
      const pseudoFunc = isLdImm64(insn) && insn.src === BPF_PSEUDO_FUNC;
      if (!subprogCall && !pseudoFunc) {
        if (relo?.kind === 'subprog_addr') fail(`${kind} '${prog.name}': bad insn for subprog addr relo at insn #${idx}`);
        continue;
      }
      let targetSection: number;
      let subInsnIdx: number;
      if (relo?.kind === 'call' && subprogCall) {
        targetSection = textIndex;
        subInsnIdx = relo.symOff / BPF_INSN_SIZE + insn.imm + 1;
      } else if (relo?.kind === 'subprog_addr' && pseudoFunc) {
        targetSection = textIndex;
        subInsnIdx = (relo.symOff + insn.imm) / BPF_INSN_SIZE;
      } else if (relo) {
        fail(`${kind} '${prog.name}': unexpected relo for insn #${idx}`);
        continue;
      } else if (pseudoFunc) {
        fail(`${kind} '${prog.name}': missing subprog addr relo for insn #${idx}`);
        continue;
      } else {
        // A call resolved by the assembler inside the same section: imm is relative already.
        targetSection = prog.secIndex;
        subInsnIdx = prog.secInsnOff + idx + insn.imm + 1;
        if (subInsnIdx >= prog.secInsnOff && subInsnIdx < prog.secInsnOff + prog.secInsnCnt) continue;
      }
      const subprog = findFunc(funcsBySection.get(targetSection) ?? [], subInsnIdx);
      if (!subprog) {
        fail(`${kind} '${prog.name}': no sub-program found for the call at insn #${idx} (target insn ${subInsnIdx} of section '${
          [...funcsBySection.values()].flat().find((f) => f.secIndex === targetSection)?.secName ?? '.text'}')`);
        continue;
      }
      if (!placed.has(subprog)) {
        placed.set(subprog, insns.length);
        subprograms.push({ name: subprog.name, offset: insns.length });
        for (const i of subprog.insns) insns.push({ ...i });
        relocCode(subprog);
      }
      insns[base + idx].imm = placed.get(subprog)! - (base + idx) - 1;
    }
  };
  relocCode(main);
  return {
    name: main.name, section: main.secName, insns, sectionInsnOffset: main.secInsnOff,
    ownInsnCount: main.secInsnCnt, subprograms,
  };
}

/**
 * Pick a program as bpftool's `file OBJ [sec SECTION]` does: the first program, or the first one
 * in SECTION. `name` selects by function name instead.
 */
export function findProgram(obj: BpfObject, opts: { section?: string; name?: string } = {}): BpfProgramSpec {
  if (obj.programs.length === 0) throw new BpfError('ENOENT', `${obj.fileName}: object file doesn't contain any bpf program`);
  const found = obj.programs.find((p) =>
    (opts.section === undefined || p.section === opts.section) && (opts.name === undefined || p.name === opts.name));
  if (!found) {
    const what = [opts.name !== undefined ? `named '${opts.name}'` : '', opts.section !== undefined ? `in section '${opts.section}'` : '']
      .filter(Boolean).join(' ');
    const have = obj.programs.map((p) => `${p.name} (${p.section})`).join(', ');
    throw new BpfError('ENOENT', `${obj.fileName}: no program ${what} (programs: ${have})`);
  }
  return found;
}

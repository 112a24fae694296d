/*
 * The libbpf object model (bpf_object__open()): programs, maps, global data, BTF and the
 * relocations that tie them together, for clang / llvm-mc objects.
 *
 *  - programs are the STT_FUNC symbols of executable sections other than .text, named by the
 *    symbol, typed by their section name (SEC("xdp")), as bpf_object__add_programs();
 *  - functions of .text are subprograms: a program gets the ones it calls (transitively) appended
 *    after its own instructions, and each call's imm is patched to the new position, exactly as
 *    bpf_object__reloc_code() does; so does `ld_imm64 rX, func` (BPF_PSEUDO_FUNC);
 *  - the `license` section gives the license string, `version` the kernel version;
 *  - programs are typed by libbpf's SEC() table (sec_defs.ts), with the older conventions as a
 *    fallback (`legacySection`); a '?' prefix means not autoloaded;
 *  - maps come from `.maps` (BTF), legacy `maps` sections and the global data sections
 *    (maps.ts); `ld_imm64` against a map becomes src BPF_PSEUDO_MAP_IDX with imm = the map's
 *    index in `maps`, against global data src BPF_PSEUDO_MAP_IDX_VALUE with the offset in the
 *    second slot (the fd_array form of BPF_PROG_LOAD); kernel/load.ts turns indices into maps;
 *  - .BTF / .BTF.ext are parsed (DATASEC fix-up as libbpf), and each program gets its func_info,
 *    line_info and CO-RE relocations at its own instruction indices.
 *
 * One leniency: a call the assembler resolved inside a non-.text section (no relocation) runs as
 * written when it lands in the calling function, and appends the function it lands in otherwise;
 * libbpf only ever looks such targets up in .text.
 *
 * Error messages follow libbpf's where it has one ("prog 'x': bad call relo against ...").
 */
import { BpfError } from '../errors.js';
import { fixupDatasecs, parseBtf, parseBtfExt } from '../btf/parse.js';
import type { Btf, BtfExt, BtfExtSection } from '../btf/types.js';
import { type Insn, decodeProgram, copyInsn } from '../isa/insn.js';
import { kfuncByName } from '../isa/kfuncs.js';
import {
  BPF_CALL, BPF_INSN_SIZE, BPF_JMP, BPF_PSEUDO_CALL, BPF_PSEUDO_FUNC, BPF_PSEUDO_KFUNC_CALL, BPF_PSEUDO_MAP_IDX, BPF_PSEUDO_MAP_IDX_VALUE,
} from '../isa/opcodes.js';
import {
  type ElfFile, type ElfSection, type ElfSymbol, ET_REL, SHF_EXECINSTR, SHN_LORESERVE, SHN_UNDEF,
  SHT_PROGBITS, SHT_REL, STB_LOCAL, STT_FUNC, STT_OBJECT, STT_SECTION, STV_HIDDEN, readElf, sectionName,
} from './elf.js';
import {
  type GlobalVar, type KconfigExtern, type MapDef, type MapsContext, btfMaps, collectMapRelos, dataSectionKind,
  globalDataMaps, globalVariables, kconfigExterns, legacyMaps, linkElfMapInMap, objectNameFromPath,
} from './maps.js';
import { secDefForSection } from './sec_defs.js';

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
  /** enum bpf_prog_type from the SEC() table; undefined when the section names no type. */
  progType?: number;
  expectedAttachType: number;
  /** False for SEC("?...") programs (bpf_program__autoload()). */
  autoload: boolean;
  /** Typed only by the conventions of libbpf < 1.0 / samples/bpf (libbpf 1.x would refuse it). */
  legacySection: boolean;
  /** Map references: slot of the ld_imm64 (src BPF_PSEUDO_MAP_IDX[_VALUE], imm = index in `maps`). */
  mapRelocs: MapReloc[];
  /** bpf_func_info of the program and its subprograms (insn = slot index in `insns`). */
  funcInfo: { insn: number; typeId: number }[];
  /** bpf_line_info (insn = slot index in `insns`). */
  lineInfo: { insn: number; fileName: string; line: string; lineNum: number; lineCol: number }[];
  /** CO-RE relocations still to apply against a target BTF (insn = slot index in `insns`). */
  coreRelos: { insn: number; typeId: number; accessStr: string; kind: number }[];
}

export interface MapReloc {
  insn: number;
  /** Index in BpfObject.maps. */
  map: number;
  /** 'map': the map itself (BPF_PSEUDO_MAP_FD); 'value': address of its value + off (BPF_PSEUDO_MAP_VALUE). */
  kind: 'map' | 'value';
  off: number;
}

export interface BpfObject {
  fileName: string;
  /** bpf_object__name(): the file's basename up to the first '.'. */
  name: string;
  /** From the `license` section; "" when there is none. */
  license: string;
  /** From the `version` section (kern_version), 0 when there is none. */
  kernVersion: number;
  /** Main programs in section order, then symbol order (libbpf's order). */
  programs: BpfProgramSpec[];
  /** Maps in libbpf's order: legacy maps, .maps (BTF), global data, .kconfig. */
  maps: MapDef[];
  /** Variables of the global data maps (settable before load through MapDef.data). */
  globals: GlobalVar[];
  kconfig: KconfigExtern[];
  btf?: Btf;
  btfExt?: BtfExt;
}

export interface OpenObjectOptions {
  /** Object name (default: from the file name, as libbpf). */
  objName?: string;
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
  | { kind: 'map'; map: number; symName: string }
  | { kind: 'data'; map: number; symOff: number; symName: string }
  | { kind: 'kconfig'; map: number; off: number; symName: string }
  | { kind: 'extern'; symName: string };

interface ObjState {
  elf: ElfFile;
  maps: MapDef[];
  kconfig: KconfigExtern[];
  textIndex: number;
  fail: (m: string) => never;
}

const MAX_LICENSE = 64; // libbpf: char license[64]

/** Parse an object file's programs. Throws BpfError with a one-line message on anything malformed. */
export function openObject(bytes: Uint8Array, fileName: string, opts: OpenObjectOptions = {}): BpfObject {
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
  let kernVersion = 0;
  const versionSec = elf.sections.find((s) => s.name === 'version');
  if (versionSec) {
    if (versionSec.data.length !== 4) fail(`invalid kver section in ${fileName}`);
    kernVersion = new DataView(versionSec.data.buffer, versionSec.data.byteOffset, 4).getUint32(0, true);
  }
  const objName = opts.objName ?? objectNameFromPath(fileName);

  // BTF (bpf_object__init_btf() + btf_finalize_data()).
  let btf: Btf | undefined;
  let btfExt: BtfExt | undefined;
  const btfSec = elf.sections.find((s) => s.name === '.BTF');
  if (btfSec) {
    btf = parseBtf(btfSec.data, { label: `${fileName}: section '.BTF'` });
    fixupDatasecs(btf, {
      sectionSize: (n) => elf.sections.find((s) => s.name === n)?.size,
      varSymbol: (n) => {
        const sym = elf.symbols.find((x) => x.name === n && x.type === STT_OBJECT && x.shndx !== SHN_UNDEF);
        return sym ? { value: sym.value, hidden: sym.visibility === STV_HIDDEN } : undefined;
      },
    }, `${fileName}: section '.BTF'`);
    const extSec = elf.sections.find((s) => s.name === '.BTF.ext');
    if (extSec) btfExt = parseBtfExt(extSec.data, btf, `${fileName}: section '.BTF.ext'`);
  }

  // Maps (bpf_object__init_maps()): .maps, legacy maps, global data, .kconfig.
  const mctx: MapsContext = { elf, objName, btf, fail };
  const maps: MapDef[] = [];
  try {
  // Legacy `maps` first, as libbpf 0.x's bpf_object__init_user_maps() ran before the BTF ones.
  const legacySec = elf.sections.find((s) => s.name === 'maps');
  if (legacySec) {
    const list = legacyMaps(mctx, legacySec);
    linkElfMapInMap(mctx, list);
    maps.push(...list);
  }
  const btfMapsSec = elf.sections.find((s) => s.name === '.maps');
  if (btfMapsSec) {
    const list = btfMaps(mctx, btfMapsSec);
    collectMapRelos(mctx, btfMapsSec, list);
    maps.push(...list);
  }
  maps.push(...globalDataMaps(mctx));
  } catch (err) {
    // Type chains the BTF validation cannot rule out (loops) end in the map parser: name the file.
    if (err instanceof BpfError && err.message.startsWith('BTF: ')) fail(`section '.BTF': ${err.message.slice(5)}`);
    throw err;
  }
  let kc: ReturnType<typeof kconfigExterns>;
  try {
    kc = kconfigExterns(mctx);
  } catch (err) {
    if (err instanceof BpfError && err.message.startsWith('BTF: ')) fail(`section '.BTF': ${err.message.slice(5)}`);
    throw err;
  }
  if (kc.map) maps.push(kc.map);
  const seen = new Set<string>();
  for (const m of maps) {
    if (seen.has(m.name)) fail(`map '${m.name}' is defined more than once`);
    seen.add(m.name);
  }
  const state: ObjState = { elf, maps, kconfig: kc.externs, textIndex, fail };

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
      func.relos.set(idx, recordReloc(state, func, idx, symName, sym));
    });
  }

  const programs: BpfProgramSpec[] = [];
  for (const main of funcs) {
    if (main.isSubprog) continue;
    const prog = relocateProgram(main, funcsBySection, textIndex, fileName, btfExt);
    programs.push(prog);
  }
  for (const m of maps) {
    if (m.type !== 3) continue;
    for (const slot of m.initSlots) {
      if (slot !== undefined && !programs.some((p) => p.name === slot)) fail(`map '${m.name}': slot target '${slot}' is not a program`);
    }
  }
  return {
    fileName, name: objName, license, kernVersion, programs, maps, globals: globalVariables(btf, maps), kconfig: kc.externs,
    btf, btfExt,
  };
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
function recordReloc(st: ObjState, func: Func, idx: number, symName: string, sym: ElfSymbol): Relo {
  const { elf, textIndex, fail } = st;
  const kind = func.isSubprog ? 'subprog' : 'prog';
  const insn = func.insns[idx];
  if (!insn || (!isCall(insn) && !isLdImm64(insn))) {
    fail(`${kind} '${func.name}': invalid relo against '${symName}' for insns[${idx}].code 0x${(insn?.code ?? 0).toString(16)}`);
  }
  if (sym.shndx === SHN_UNDEF && sym.bind !== STB_LOCAL) {
    const ext = st.kconfig.find((e) => e.name === symName);
    if (ext && isLdImm64(insn)) {
      return { kind: 'kconfig', map: st.maps.findIndex((m) => m.kind === 'kconfig'), off: ext.offset, symName };
    }
    return { kind: 'extern', symName };
  }
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
  // Maps (bpf_object__record_reloc(): RELO_LD64) and global data (RELO_DATA).
  const sec = elf.sections[sym.shndx];
  if (sec.name === '.maps' || sec.name === 'maps') {
    if (sym.type === STT_SECTION && sec.name === '.maps') fail(`${kind} '${func.name}': bad map relo against '${symName}' in section '${sec.name}'`);
    const map = st.maps.findIndex((m) => m.secIndex === sym.shndx && m.secOffset === sym.value + (sym.type === STT_SECTION ? insn.imm : 0));
    if (map < 0) fail(`${kind} '${func.name}': map relo failed to find map for section '${sec.name}', off ${sym.value}`);
    return { kind: 'map', map, symName };
  }
  if (dataSectionKind(sec)) {
    const map = st.maps.findIndex((m) => m.secIndex === sym.shndx && m.kind !== 'btf' && m.kind !== 'legacy' && m.kind !== 'elf_map');
    if (map < 0) fail(`${kind} '${func.name}': bad data relo against '${symName}' in section '${sec.name}' (empty section?)`);
    return { kind: 'data', map, symOff: sym.type === STT_SECTION ? 0 : sym.value, symName };
  }
  fail(`${kind} '${func.name}': bad data relo against '${symName}' in section '${sec.name}' at insn #${idx}`);
  throw new Error('unreachable');
}

/** Build one main program: its instructions plus every subprogram it reaches (bpf_object__relocate_calls()). */
function relocateProgram(
  main: Func, funcsBySection: Map<number, Func[]>, textIndex: number, fileName: string, btfExt: BtfExt | undefined,
): BpfProgramSpec {
  const fail = (msg: string): never => { throw new BpfError('EINVAL', `${fileName}: ${msg}`); };
  const insns: Insn[] = main.insns.map((i) => copyInsn(i));
  // sub_insn_off of each function appended to this main program.
  const placed = new Map<Func, number>([[main, 0]]);
  const subprograms: { name: string; offset: number }[] = [];
  const mapRelocs: MapReloc[] = [];

  const relocCode = (prog: Func): void => {
    const base = placed.get(prog)!;
    const kind = prog.isSubprog ? 'subprog' : 'prog';
    for (let idx = 0; idx < prog.secInsnCnt; idx++) {
      const insn = insns[base + idx];
      const relo = prog.relos.get(idx);
      if (relo?.kind === 'map' || relo?.kind === 'data' || relo?.kind === 'kconfig') {
        // bpf_object__relocate_data(): the fd_array form, resolved by kernel/load.ts.
        const at = base + idx;
        if (relo.kind === 'map') {
          insns[at] = copyInsn(insn, { src: BPF_PSEUDO_MAP_IDX, imm: relo.map });
          mapRelocs.push({ insn: at, map: relo.map, kind: 'map', off: 0 });
        } else {
          const off = relo.kind === 'data' ? insn.imm + relo.symOff : relo.off;
          insns[at] = copyInsn(insn, { src: BPF_PSEUDO_MAP_IDX_VALUE, imm: relo.map });
          insns[at + 1] = copyInsn(insns[at + 1], { imm: off | 0 });
          mapRelocs.push({ insn: at, map: relo.map, kind: 'value', off });
        }
        continue;
      }
      if (relo?.kind === 'extern') {
        if (!isCall(insn)) fail(`extern '${relo.symName}' is not supported yet (program ${main.name}, insn ${base + idx})`);
        // bpf_object__resolve_ksym_func_btf_id() + RELO_EXTERN_CALL: a `.ksyms` function is a kfunc
        // call by its vmlinux BTF id (off 0: vmlinux, not a module)
        const kfunc = kfuncByName(relo.symName);
        if (!kfunc) fail(`extern (func ksym) '${relo.symName}': not found in kernel or module BTFs`);
        insns[base + idx] = copyInsn(insn, { src: BPF_PSEUDO_KFUNC_CALL, imm: kfunc!.btfId, off: 0 });
        continue;
      }
      // libbpf marks ld_imm64 of a subprogram's address BPF_PSEUDO_FUNC before relocating calls.
      if (relo?.kind === 'subprog_addr' && isLdImm64(insn)) insn.src = BPF_PSEUDO_FUNC;
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
        for (const i of subprog.insns) insns.push(copyInsn(i));
        relocCode(subprog);
      }
      insns[base + idx].imm = placed.get(subprog)! - (base + idx) - 1;
    }
  };
  relocCode(main);

  // func_info / line_info / CO-RE relocations of every placed function, at their new slots.
  const funcInfo: BpfProgramSpec['funcInfo'] = [];
  const lineInfo: BpfProgramSpec['lineInfo'] = [];
  const coreRelos: BpfProgramSpec['coreRelos'] = [];
  const mapExt = <T extends { insnOff: number }>(secs: BtfExtSection<T>[] | undefined, out: (insn: number, r: T) => void): void => {
    for (const [f, base] of placed) {
      const sec = secs?.find((x) => x.secName === f.secName);
      if (!sec) continue;
      for (const r of sec.records) {
        const slot = r.insnOff / BPF_INSN_SIZE;
        if (slot >= f.secInsnOff && slot < f.secInsnOff + f.secInsnCnt) out(base + slot - f.secInsnOff, r);
      }
    }
  };
  mapExt(btfExt?.funcInfo, (insn, r) => funcInfo.push({ insn, typeId: r.typeId }));
  mapExt(btfExt?.lineInfo, (insn, r) => lineInfo.push({ insn, fileName: r.fileName, line: r.line, lineNum: r.lineNum, lineCol: r.lineCol }));
  mapExt(btfExt?.coreRelos, (insn, r) => coreRelos.push({ insn, typeId: r.typeId, accessStr: r.accessStr, kind: r.kind }));
  for (const list of [funcInfo, lineInfo, coreRelos]) list.sort((a, b) => a.insn - b.insn);

  // The section's program type (bpf_object_init_prog(): a leading '?' = not autoloaded).
  const autoload = !main.secName.startsWith('?');
  const section = autoload ? main.secName : main.secName.slice(1);
  const match = secDefForSection(section);
  return {
    name: main.name, section, insns, sectionInsnOffset: main.secInsnOff,
    ownInsnCount: main.secInsnCnt, subprograms, progType: match?.progType, expectedAttachType: match?.expectedAttachType ?? 0,
    autoload, legacySection: match?.legacy ?? false, mapRelocs, funcInfo, lineInfo, coreRelos,
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

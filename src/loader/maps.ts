/*
 * Map definitions of an object, as libbpf reads them:
 *
 *  - BTF-defined maps in `.maps` (bpf_object__init_user_btf_maps(), parse_btf_map_def()): each VAR
 *    of the .maps DATASEC is a struct whose members encode the definition (`__uint(x, N)` is a
 *    pointer to an array of N, `__type(key, T)` a pointer to T, `__array(values, T)` a trailing
 *    array of pointers: inner map definition or program prototype), initial `values` from
 *    .rel.maps (bpf_object__collect_map_relos());
 *  - legacy `maps` sections (libbpf < 1.0 / samples/bpf `struct bpf_map_def`, 5 u32; iproute2's
 *    `struct bpf_elf_map`, 9 u32 with id, pinning, inner_id, inner_idx), which libbpf 1.x refuses;
 *  - global data (.data, .rodata, .bss, .data.*, .rodata.*): one-element array maps named by
 *    internal_map_name() (bpf_object__init_global_data_maps());
 *  - .kconfig externs: a read-only array map the host fills (bpf_object__init_kconfig_map()).
 */
import { BpfError } from '../errors.js';
import { BTF_KIND, BTF_VAR_STATIC, type Btf, type BtfComposite } from '../btf/types.js';
import { type ElfFile, type ElfSection, SHF_ALLOC, SHF_EXECINSTR, SHT_NOBITS, SHT_PROGBITS, SHN_UNDEF, STT_SECTION } from './elf.js';

export const BPF_F_RDONLY_PROG = 1 << 7;
export const BPF_F_MMAPABLE = 1 << 10;
export const BPF_OBJ_NAME_LEN = 16;
const MAP_TYPE_ARRAY = 2;
const MAP_TYPE_PROG_ARRAY = 3;
const MAP_TYPE_ARRAY_OF_MAPS = 12;
const MAP_TYPE_HASH_OF_MAPS = 13;

export const LIBBPF_PIN_NONE = 0;
export const LIBBPF_PIN_BY_NAME = 1;
/** iproute2 (include/bpf_elf.h). */
export const PIN_NONE = 0;
export const PIN_OBJECT_NS = 1;
export const PIN_GLOBAL_NS = 2;

export type MapDefKind = 'btf' | 'legacy' | 'elf_map' | 'data' | 'rodata' | 'bss' | 'kconfig';

export interface MapDef {
  /** bpf_map__name(): the variable name, or the internal name for global data. */
  name: string;
  kind: MapDefKind;
  /** ELF section the definition (or the data) lives in. */
  secName: string;
  secIndex: number;
  /** Offset of the definition inside its section (maps), 0 for data maps. */
  secOffset: number;
  /** Size of the definition in its section. */
  defSize: number;
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  mapFlags: number;
  numaNode: number;
  mapExtra: bigint;
  /** BTF ids of key/value (0 = none). */
  btfKeyTypeId: number;
  btfValueTypeId: number;
  /** LIBBPF_PIN_BY_NAME (btf/legacy maps), or iproute2's PIN_OBJECT_NS / PIN_GLOBAL_NS (elf_map). */
  pinning: number;
  /** Map-in-map: the inner map's definition. */
  inner?: MapDef;
  /**
   * Initial slots of a PROG_ARRAY (program names) or map-in-map (map names), by index
   * (`.values = { [i] = &x }`); undefined = empty.
   */
  initSlots: (string | undefined)[];
  /** Global data: the initial value (mutable before load: skeleton-style globals). */
  data?: Uint8Array;
  /** iproute2 bpf_elf_map fields. */
  elf?: { id: number; innerId: number; innerIdx: number };
}

export interface GlobalVar {
  name: string;
  /** The internal map it lives in. */
  map: MapDef;
  offset: number;
  size: number;
  btfTypeId: number;
  /** BTF VAR linkage (static variables are not part of a skeleton). */
  linkage: number;
}

/** What the ELF side gives the map parser. */
export interface MapsContext {
  elf: ElfFile;
  objName: string;
  btf?: Btf;
  fail: (msg: string) => never;
}

/** internal_map_name() of libbpf. */
export function internalMapName(objName: string, realName: string): string {
  const sfxLen = Math.max(7, realName.length);
  let pfxLen: number;
  if (realName.indexOf('.', 1) >= 0) pfxLen = 0;
  else pfxLen = BPF_OBJ_NAME_LEN - sfxLen - 1 < 0 ? objName.length : Math.min(BPF_OBJ_NAME_LEN - sfxLen - 1, objName.length);
  const name = (objName.slice(0, pfxLen) + realName.slice(0, sfxLen)).slice(0, BPF_OBJ_NAME_LEN - 1);
  return name.replace(/[^A-Za-z0-9_.]/g, '_');
}

/** The object name libbpf derives from a path: basename up to the first '.'. */
export function objectNameFromPath(path: string): string {
  const base = path.split('/').pop() ?? path;
  const dot = base.indexOf('.');
  return (dot >= 0 ? base.slice(0, dot) : base).slice(0, 63);
}

export type DataSecKind = 'data' | 'rodata' | 'bss';

/** Which global-data kind an ELF section is (bpf_object__elf_collect()), or undefined. */
export function dataSectionKind(sec: ElfSection): DataSecKind | undefined {
  if (sec.flags & SHF_EXECINSTR) return undefined;
  const n = sec.name;
  if (sec.type === SHT_NOBITS && (n === '.bss' || n.startsWith('.bss.'))) return 'bss';
  if (sec.type !== SHT_PROGBITS || !(sec.flags & SHF_ALLOC)) return undefined;
  if (n === '.data' || n.startsWith('.data.')) return 'data';
  if (n === '.rodata' || n.startsWith('.rodata.')) return 'rodata';
  return undefined;
}

function emptyDef(name: string, kind: MapDefKind, sec: ElfSection, secOffset: number, defSize: number): MapDef {
  return {
    name, kind, secName: sec.name, secIndex: sec.index, secOffset, defSize, type: 0, keySize: 0, valueSize: 0,
    maxEntries: 0, mapFlags: 0, numaNode: 0, mapExtra: 0n, btfKeyTypeId: 0, btfValueTypeId: 0, pinning: 0, initSlots: [],
  };
}

/* -------------------------------------------------------------------------------------------- */
/* BTF-defined maps                                                                               */

/** bpf_object__init_user_btf_maps(): every VAR of the .maps DATASEC. */
export function btfMaps(ctx: MapsContext, sec: ElfSection): MapDef[] {
  const { btf, fail } = ctx;
  if (!btf) fail(`sec '${sec.name}': BTF-defined maps need .BTF (compile with -g)`);
  const dsId = btf!.findOne(sec.name, BTF_KIND.DATASEC);
  if (dsId === undefined) fail(`DATASEC '${sec.name}' not found`);
  const ds = btf!.type(dsId!);
  if (ds.kind !== BTF_KIND.DATASEC) throw new Error('unreachable');
  const maps: MapDef[] = [];
  for (const vsi of ds.vars) {
    const v = btf!.type(vsi.type);
    if (v.kind !== BTF_KIND.VAR) fail(`map #${maps.length}: unexpected var kind ${v.kind}`);
    const name = v.name;
    if (v.kind !== BTF_KIND.VAR) continue;
    if (v.linkage !== 1 && v.linkage !== 0) fail(`map '${name}': unsupported map linkage ${v.linkage}`);
    const def = emptyDef(name, 'btf', sec, vsi.offset, vsi.size);
    if (vsi.offset + vsi.size > sec.size) fail(`map '${name}' BTF data is corrupted`);
    parseBtfMapDef(ctx, btf!, def, v.type, true, name);
    maps.push(def);
  }
  return maps;
}

function mapFail(ctx: MapsContext, mapName: string, msg: string): never {
  return ctx.fail(`map '${mapName}': ${msg}`);
}

/** get_map_field_int(): `int (*name)[N]` gives N. */
function fieldInt(ctx: MapsContext, btf: Btf, mapName: string, member: string, typeId: number): number {
  const t = btf.type(btf.skipModsAndTypedefs(typeId));
  if (t.kind === BTF_KIND.ENUM || t.kind === BTF_KIND.ENUM64) {
    // __ulong(): an enum whose single value is the number.
    const v = t.values[0]?.value;
    return v === undefined ? 0 : Number(v);
  }
  if (t.kind !== BTF_KIND.PTR) mapFail(ctx, mapName, `attr '${member}': expected PTR, got ${t.kind}.`);
  const arr = btf.type(btf.skipModsAndTypedefs((t as { type: number }).type));
  if (arr.kind !== BTF_KIND.ARRAY) mapFail(ctx, mapName, `attr '${member}': type [${(t as { type: number }).type}] is not an array.`);
  return (arr as { nelems: number }).nelems;
}

/** parse_btf_map_def(). */
function parseBtfMapDef(ctx: MapsContext, btf: Btf, def: MapDef, typeId: number, outer: boolean, mapName: string): void {
  const st = btf.type(btf.skipModsAndTypedefs(typeId));
  if (st.kind !== BTF_KIND.STRUCT) mapFail(ctx, mapName, `unexpected def kind ${st.kind}.`);
  const members = (st as BtfComposite).members;
  members.forEach((m, i) => {
    const name = m.name;
    if (!name) mapFail(ctx, mapName, `invalid field #${i}.`);
    switch (name) {
      case 'type': def.type = fieldInt(ctx, btf, mapName, name, m.type); break;
      case 'max_entries': def.maxEntries = fieldInt(ctx, btf, mapName, name, m.type); break;
      case 'map_flags': def.mapFlags = fieldInt(ctx, btf, mapName, name, m.type); break;
      case 'numa_node': def.numaNode = fieldInt(ctx, btf, mapName, name, m.type); break;
      case 'map_extra': def.mapExtra = BigInt(fieldInt(ctx, btf, mapName, name, m.type)); break;
      case 'key_size': case 'value_size': {
        const sz = fieldInt(ctx, btf, mapName, name, m.type);
        const cur = name === 'key_size' ? def.keySize : def.valueSize;
        if (cur && cur !== sz) mapFail(ctx, mapName, `conflicting ${name.replace('_', ' ')} ${cur} != ${sz}.`);
        if (name === 'key_size') def.keySize = sz; else def.valueSize = sz;
        break;
      }
      case 'key': case 'value': {
        const t = btf.type(m.type);
        if (t.kind !== BTF_KIND.PTR) mapFail(ctx, mapName, `${name} spec is not PTR: ${t.kind}.`);
        const target = (t as { type: number }).type;
        let sz: number;
        try { sz = btf.resolveSize(target); } catch { mapFail(ctx, mapName, `can't determine ${name} size for type [${target}].`); }
        const cur = name === 'key' ? def.keySize : def.valueSize;
        if (cur && cur !== sz!) mapFail(ctx, mapName, `conflicting ${name} size ${cur} != ${sz!}.`);
        if (name === 'key') { def.keySize = sz!; def.btfKeyTypeId = target; } else { def.valueSize = sz!; def.btfValueTypeId = target; }
        break;
      }
      case 'values': {
        if (i !== members.length - 1) mapFail(ctx, mapName, `'${name}' member should be last.`);
        const isMapInMap = def.type === MAP_TYPE_ARRAY_OF_MAPS || def.type === MAP_TYPE_HASH_OF_MAPS;
        const isProgArray = def.type === MAP_TYPE_PROG_ARRAY;
        if (!isMapInMap && !isProgArray) mapFail(ctx, mapName, `should be map-in-map or prog-array.`);
        if (def.valueSize && def.valueSize !== 4) mapFail(ctx, mapName, `conflicting value size ${def.valueSize} != 4.`);
        def.valueSize = 4;
        const arr = btf.type(m.type);
        if (arr.kind !== BTF_KIND.ARRAY || arr.nelems !== 0) mapFail(ctx, mapName, `${name} spec is not a zero-sized array.`);
        const ptr = btf.type(btf.skipModsAndTypedefs((arr as { type: number }).type));
        if (ptr.kind !== BTF_KIND.PTR) mapFail(ctx, mapName, `${name} elem is not a pointer.`);
        const elem = btf.skipModsAndTypedefs((ptr as { type: number }).type);
        if (isProgArray) {
          if (btf.type(elem).kind !== BTF_KIND.FUNC_PROTO) mapFail(ctx, mapName, `prog-array value type should be a function prototype.`);
          break;
        }
        if (!outer) mapFail(ctx, mapName, `multi-level inner maps not supported.`);
        if (btf.type(elem).kind !== BTF_KIND.STRUCT) mapFail(ctx, mapName, `map-in-map inner def is of unexpected kind.`);
        const inner = { ...def, name: `${mapName}.inner`, kind: def.kind, type: 0, keySize: 0, valueSize: 0, maxEntries: 0, mapFlags: 0,
          numaNode: 0, mapExtra: 0n, btfKeyTypeId: 0, btfValueTypeId: 0, pinning: 0, initSlots: [], inner: undefined };
        parseBtfMapDef(ctx, btf, inner, elem, false, `${mapName}.inner`);
        def.inner = inner;
        break;
      }
      case 'pinning': {
        if (!outer) mapFail(ctx, mapName, `inner def can't be pinned.`);
        const v = fieldInt(ctx, btf, mapName, name, m.type);
        if (v !== LIBBPF_PIN_NONE && v !== LIBBPF_PIN_BY_NAME) mapFail(ctx, mapName, `invalid pinning value ${v}.`);
        def.pinning = v;
        break;
      }
      default:
        mapFail(ctx, mapName, `unknown field '${name}'.`);
    }
  });
  if (def.type === 0) mapFail(ctx, mapName, `map type isn't specified.`);
}

/** bpf_object__collect_map_relos(): `.values = { [i] = &x }` of prog arrays and map-in-maps. */
export function collectMapRelos(ctx: MapsContext, sec: ElfSection, maps: MapDef[]): void {
  const { elf, fail } = ctx;
  const rels = elf.relocations.get(sec.index);
  if (!rels) return;
  rels.entries.forEach((rel, i) => {
    const sym = elf.symbols[rel.symbol];
    const symName = sym.type === STT_SECTION ? elf.sections[sym.shndx]?.name ?? '' : sym.name;
    const map = maps.find((m) => rel.offset >= m.secOffset && rel.offset < m.secOffset + m.defSize);
    if (!map) fail(`.maps relo #${i}: cannot find map for offset 0x${rel.offset.toString(16)}`);
    const isProgArray = map!.type === MAP_TYPE_PROG_ARRAY;
    if (!isProgArray && !map!.inner) fail(`.maps relo #${i}: '${map!.name}' is not a prog array or map-in-map`);
    if (sym.shndx === SHN_UNDEF) fail(`.maps relo #${i}: '${map!.name}' slot refers to undefined symbol '${symName}'`);
    if (isProgArray) {
      if (sym.type !== 2) fail(`.maps relo #${i}: '${symName}' is not a function (sym type ${sym.type})`);
    } else if (sym.shndx !== sec.index) {
      fail(`.maps relo #${i}: '${symName}' is not a map in '${sec.name}'`);
    }
    // The `values` member is the last one: its slots start after the fixed part of the struct.
    const valuesOff = valuesMemberOffset(ctx, map!);
    const slotOff = rel.offset - map!.secOffset - valuesOff;
    if (slotOff < 0 || slotOff % 8) fail(`.maps relo #${i}: map '${map!.name}': invalid relo offset 0x${rel.offset.toString(16)}`);
    const idx = slotOff / 8;
    if (idx >= map!.maxEntries) fail(`.maps relo #${i}: map '${map!.name}': slot [${idx}] is out of bounds (max_entries ${map!.maxEntries})`);
    let target = symName;
    if (!isProgArray) {
      const t = maps.find((m) => m.secOffset === sym.value && m.secIndex === sym.shndx);
      if (!t) fail(`.maps relo #${i}: '${symName}' is not a map in '${sec.name}'`);
      target = t!.name;
    }
    map!.initSlots[idx] = target;
  });
}

function valuesMemberOffset(ctx: MapsContext, map: MapDef): number {
  const btf = ctx.btf!;
  const dsId = btf.findOne(map.secName, BTF_KIND.DATASEC)!;
  const ds = btf.type(dsId);
  if (ds.kind !== BTF_KIND.DATASEC) return 0;
  for (const vsi of ds.vars) {
    const v = btf.type(vsi.type);
    if (v.kind !== BTF_KIND.VAR || v.name !== map.name) continue;
    const st = btf.type(btf.skipModsAndTypedefs(v.type));
    if (st.kind !== BTF_KIND.STRUCT) return 0;
    const values = st.members[st.members.length - 1];
    return values?.name === 'values' ? values.bitOffset / 8 : st.size;
  }
  return 0;
}

/* -------------------------------------------------------------------------------------------- */
/* Legacy `maps` sections                                                                         */

const BPF_MAP_DEF_SIZE = 20;
const BPF_ELF_MAP_SIZE = 36;

/**
 * libbpf 0.x's bpf_object__init_user_maps() and iproute2's bpf_fetch_maps(): every symbol of the
 * section is a definition; the definition size is the section size over the symbol count (20
 * bytes = struct bpf_map_def, 36 = iproute2's struct bpf_elf_map; a larger libbpf definition must
 * be zero past the fields we know).
 */
export function legacyMaps(ctx: MapsContext, sec: ElfSection): MapDef[] {
  const { elf, fail } = ctx;
  const syms = elf.symbols.filter((s) => s.shndx === sec.index && s.type !== STT_SECTION && s.name !== '' && s.type !== 4)
    .sort((a, b) => a.value - b.value);
  if (syms.length === 0) {
    if (sec.size === 0) return [];
    fail(`sec '${sec.name}': legacy map definitions without symbols`);
  }
  if (sec.size % syms.length) fail(`sec '${sec.name}': unable to determine legacy map definition size (section size ${sec.size}, ${syms.length} maps)`);
  const defSize = sec.size / syms.length;
  if (defSize < BPF_MAP_DEF_SIZE) fail(`sec '${sec.name}': legacy map definition size ${defSize} is smaller than struct bpf_map_def (${BPF_MAP_DEF_SIZE})`);
  const iproute2 = defSize === BPF_ELF_MAP_SIZE;
  const view = new DataView(sec.data.buffer, sec.data.byteOffset, sec.data.byteLength);
  return syms.map((sym) => {
    if (sym.value + defSize > sec.size) fail(`sec '${sec.name}': map '${sym.name}' definition at offset ${sym.value} extends past the section`);
    if (sym.value % defSize) fail(`sec '${sec.name}': map '${sym.name}' at offset ${sym.value} is not aligned to the definition size ${defSize}`);
    const u = (i: number): number => view.getUint32(sym.value + i * 4, true);
    const def = emptyDef(sym.name, iproute2 ? 'elf_map' : 'legacy', sec, sym.value, defSize);
    def.type = u(0);
    def.keySize = u(1);
    def.valueSize = u(2);
    def.maxEntries = u(3);
    def.mapFlags = u(4);
    if (iproute2) {
      def.elf = { id: u(5), innerId: u(7), innerIdx: u(8) };
      def.pinning = u(6);
    } else {
      for (let b = BPF_MAP_DEF_SIZE; b < defSize; b++) {
        if (sec.data[sym.value + b] !== 0) fail(`sec '${sec.name}': map '${sym.name}' has unrecognized, non-zero options`);
      }
    }
    return def;
  });
}

/**
 * iproute2's map-in-map (lib/bpf_legacy.c, bpf_map_attach() and bpf_maps_attach_all()): an outer
 * map is created with the map whose `id` is its `inner_id` as template (bpf_find_map_id()); then
 * every map with an `id`, no `inner_id` and an `inner_idx` other than -1 is stored at that index
 * of each outer map whose `inner_id` is its id. An index past an array of maps is iproute2's
 * "Cannot insert map into map!" error.
 */
export function linkElfMapInMap(ctx: MapsContext, maps: MapDef[]): void {
  const isMapInMap = (m: MapDef): boolean => m.type === MAP_TYPE_ARRAY_OF_MAPS || m.type === MAP_TYPE_HASH_OF_MAPS;
  for (const outer of maps) {
    if (outer.kind !== 'elf_map' || !isMapInMap(outer)) continue;
    const innerId = outer.elf!.innerId;
    const tmpl = maps.find((m) => m.kind === 'elf_map' && m !== outer && innerId !== 0 && m.elf!.id === innerId);
    if (!tmpl) ctx.fail(`map '${outer.name}' cannot be loaded: inner map with ID ${innerId} not found`);
    outer.inner = { ...tmpl!, initSlots: [] };
  }
  for (const inner of maps) {
    const e = inner.elf;
    if (inner.kind !== 'elf_map' || !e || !e.id || e.innerId || e.innerIdx === 0xffffffff) continue;
    for (const outer of maps) {
      if (outer.kind !== 'elf_map' || !isMapInMap(outer) || outer.elf!.innerId !== e.id) continue;
      if (outer.type === MAP_TYPE_ARRAY_OF_MAPS && e.innerIdx >= outer.maxEntries) {
        ctx.fail(`map '${inner.name}': Cannot insert map into map! Outer map has ${outer.maxEntries} elements, index ${e.innerIdx} is invalid!`);
      }
      outer.initSlots[e.innerIdx] = inner.name;
    }
  }
}

/* -------------------------------------------------------------------------------------------- */
/* Global data and .kconfig                                                                       */

/** bpf_object__init_global_data_maps(): a map per non-empty data section. */
export function globalDataMaps(ctx: MapsContext): MapDef[] {
  const maps: MapDef[] = [];
  for (const sec of ctx.elf.sections) {
    const kind = dataSectionKind(sec);
    if (!kind || sec.size === 0) continue;
    const def = emptyDef(internalMapName(ctx.objName, sec.name), kind, sec, 0, sec.size);
    def.type = MAP_TYPE_ARRAY;
    def.keySize = 4;
    def.valueSize = sec.size;
    def.maxEntries = 1;
    def.mapFlags = kind === 'rodata' ? BPF_F_RDONLY_PROG : 0;
    const dsId = ctx.btf?.findOne(sec.name, BTF_KIND.DATASEC);
    if (dsId !== undefined) {
      def.btfValueTypeId = dsId;
      if (mapIsMmapable(ctx.btf!, dsId)) def.mapFlags |= BPF_F_MMAPABLE;
    }
    def.data = kind === 'bss' ? new Uint8Array(sec.size) : sec.data.slice();
    maps.push(def);
  }
  return maps;
}

/** map_is_mmapable(): a DATASEC with at least one non-static variable. */
function mapIsMmapable(btf: Btf, dsId: number): boolean {
  const ds = btf.type(dsId);
  if (ds.kind !== BTF_KIND.DATASEC) return false;
  return ds.vars.some((v) => { const t = btf.type(v.type); return t.kind === BTF_KIND.VAR && t.linkage !== BTF_VAR_STATIC; });
}

/** Variables of the global data maps, from their DATASECs (the skeleton's fields). */
export function globalVariables(btf: Btf | undefined, maps: readonly MapDef[]): GlobalVar[] {
  const out: GlobalVar[] = [];
  if (!btf) return out;
  for (const map of maps) {
    if (map.kind !== 'data' && map.kind !== 'rodata' && map.kind !== 'bss' && map.kind !== 'kconfig') continue;
    const ds = map.btfValueTypeId ? btf.type(map.btfValueTypeId) : undefined;
    if (!ds || ds.kind !== BTF_KIND.DATASEC) continue;
    for (const vsi of ds.vars) {
      const v = btf.type(vsi.type);
      if (v.kind !== BTF_KIND.VAR) continue;
      out.push({ name: v.name, map, offset: vsi.offset, size: vsi.size, btfTypeId: v.type, linkage: v.linkage });
    }
  }
  return out;
}

export interface KconfigExtern {
  name: string;
  /** Offset in the .kconfig map's value. */
  offset: number;
  size: number;
  weak: boolean;
  btfTypeId: number;
  /** 'bool' | 'tristate' | 'char_array' | 'int' (libbpf's kcfg types). */
  kcfgType: 'bool' | 'tristate' | 'char_array' | 'int';
  signed: boolean;
}

/**
 * .kconfig externs (bpf_object__collect_externs(), kcfg part): their layout in the .kconfig map,
 * sorted by alignment (desc), size (asc), name as libbpf's cmp_externs(), then packed aligned.
 */
export function kconfigExterns(ctx: MapsContext): { externs: KconfigExtern[]; map?: MapDef } {
  const btf = ctx.btf;
  const dsId = btf?.findOne('.kconfig', BTF_KIND.DATASEC);
  if (!btf || dsId === undefined) return { externs: [] };
  const ds = btf.type(dsId);
  if (ds.kind !== BTF_KIND.DATASEC) return { externs: [] };
  const list: (KconfigExtern & { align: number })[] = [];
  for (const vsi of ds.vars) {
    const v = btf.type(vsi.type);
    if (v.kind !== BTF_KIND.VAR) continue;
    const sym = ctx.elf.symbols.find((s) => s.name === v.name && s.shndx === SHN_UNDEF);
    const t = btf.type(btf.skipModsAndTypedefs(v.type));
    let kcfgType: KconfigExtern['kcfgType'];
    let size: number;
    let align: number;
    let signed = false;
    if (t.kind === BTF_KIND.INT) {
      size = t.size;
      align = t.size;
      signed = (t.encoding & 1) !== 0;
      kcfgType = t.encoding & 4 ? 'bool' : 'int';
      if (t.name === 'char' && t.size === 1) kcfgType = 'int';
    } else if (t.kind === BTF_KIND.ENUM && t.name === 'libbpf_tristate') {
      size = 4; align = 4; kcfgType = 'tristate';
    } else if (t.kind === BTF_KIND.ARRAY) {
      size = btf.resolveSize(v.type); align = 1; kcfgType = 'char_array';
    } else if (t.kind === BTF_KIND.ENUM || t.kind === BTF_KIND.ENUM64) {
      size = t.size; align = t.size; kcfgType = 'int'; signed = t.signed;
    } else {
      ctx.fail(`extern (kcfg) '${v.name}': type is unsupported`);
      throw new Error('unreachable');
    }
    list.push({ name: v.name, offset: 0, size, weak: sym?.bind === 2, btfTypeId: v.type, kcfgType, signed, align });
  }
  list.sort((a, b) => (a.align !== b.align ? b.align - a.align : a.size !== b.size ? a.size - b.size : a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  let off = 0;
  for (const e of list) {
    off = Math.ceil(off / e.align) * e.align;
    e.offset = off;
    off += e.size;
  }
  for (const vsi of ds.vars) {
    const v = btf.type(vsi.type);
    const e = list.find((x) => x.name === v.name);
    if (e) { vsi.offset = e.offset; vsi.size = e.size; }
  }
  ds.size = off;
  if (list.length === 0) return { externs: [] };
  const fakeSec = { name: '.kconfig', index: -1 } as ElfSection;
  const map = emptyDef(internalMapName(ctx.objName, '.kconfig'), 'kconfig', fakeSec, 0, off);
  map.type = MAP_TYPE_ARRAY;
  map.keySize = 4;
  map.valueSize = off;
  map.maxEntries = 1;
  map.mapFlags = BPF_F_RDONLY_PROG | BPF_F_MMAPABLE;
  map.btfValueTypeId = dsId;
  map.data = new Uint8Array(off);
  return { externs: list.map(({ align: _a, ...e }) => e), map };
}

export type KconfigValue = bigint | number | boolean | string;

/** Write host-given values into the .kconfig map image (bpf_object__resolve_externs(), kcfg part). */
export function fillKconfig(map: MapDef, externs: readonly KconfigExtern[], values: Readonly<Record<string, KconfigValue>>, label: string): void {
  const data = map.data!;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  for (const e of externs) {
    const v = values[e.name];
    if (v === undefined) {
      if (!e.weak) throw new BpfError('EINVAL', `${label}: extern (kcfg) '${e.name}': value not found (give it in kconfig)`);
      continue;
    }
    if (e.kcfgType === 'char_array') {
      const bytes = new TextEncoder().encode(String(v));
      data.set(bytes.subarray(0, e.size - 1), e.offset);
      continue;
    }
    let n: bigint;
    if (typeof v === 'boolean') n = v ? 1n : 0n;
    else if (typeof v === 'string') n = v === 'y' ? 1n : v === 'm' ? 2n : v === 'n' ? 0n : BigInt(v);
    else n = BigInt(v);
    for (let i = 0; i < e.size; i++) view.setUint8(e.offset + i, Number((BigInt.asUintN(64, n) >> BigInt(8 * i)) & 0xffn));
  }
}

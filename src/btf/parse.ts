/*
 * BTF and BTF.ext from bytes, checked as libbpf's btf_parse_hdr() / btf_parse_str_sec() /
 * btf_parse_type_sec() / btf_validate_type() and btf_ext_parse() check them: every offset and
 * length against the data, every name offset against the string section, every referenced type
 * id against the type count. A malformed input gives one BpfError (EINVAL) naming the section and
 * the offset, never a crash; work is linear in the input (type chains are walked with a depth
 * limit, so loops end).
 *
 * fixupDatasecs() is libbpf's btf_fixup_datasec(): clang leaves DATASEC sizes and VAR offsets 0
 * in objects; the ELF symbol table has them.
 */
import { BpfError } from '../errors.js';
import {
  BTF_KIND, BTF_KIND_NAMES, BTF_MAGIC, BTF_MAX_NAME_OFFSET, BTF_VAR_GLOBAL_EXTERN, BTF_VAR_STATIC, BTF_VERSION, Btf,
  type BtfCoreRelo, type BtfExt, type BtfExtHeader, type BtfExtSection, type BtfFuncInfo, type BtfHeader,
  type BtfLineInfo, type BtfMember, type BtfType,
} from './types.js';

export const BTF_HEADER_SIZE = 24;
const BTF_TYPE_SIZE = 12;
/** Kernel's BTF_MAX_TYPE / BTF_MAX_VLEN. */
const BTF_MAX_TYPE = 0x000fffff;

export interface ParseBtfOptions {
  /** Label for messages (e.g. "prog.o: .BTF"). Default "BTF". */
  label?: string;
  /** Split BTF (a module's): ids and string offsets continue the base's. */
  base?: Btf;
}

const utf8 = new TextDecoder('utf-8');

/** Parse raw BTF (the .BTF section of an object, /sys/kernel/btf/vmlinux, a .btf file). */
export function parseBtf(bytes: Uint8Array, opts: ParseBtfOptions = {}): Btf {
  const label = opts.label ?? 'BTF';
  const fail = (msg: string): never => { throw new BpfError('EINVAL', `${label}: ${msg}`); };
  if (bytes.length < BTF_HEADER_SIZE) fail(`BTF header not found (${bytes.length} bytes, need ${BTF_HEADER_SIZE})`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let le = true;
  const magicLe = view.getUint16(0, true);
  if (magicLe !== BTF_MAGIC) {
    if (view.getUint16(0, false) === BTF_MAGIC) le = false;
    else fail(`invalid BTF magic 0x${magicLe.toString(16)} at offset 0`);
  }
  const u8 = (off: number): number => view.getUint8(off);
  const u16 = (off: number): number => view.getUint16(off, le);
  const u32 = (off: number): number => view.getUint32(off, le);
  const i32 = (off: number): number => view.getInt32(off, le);

  const header: BtfHeader = {
    magic: BTF_MAGIC, version: u8(2), flags: u8(3), hdrLen: u32(4), typeOff: u32(8), typeLen: u32(12),
    strOff: u32(16), strLen: u32(20),
  };
  if (header.version !== BTF_VERSION) fail(`unsupported BTF version ${header.version}`);
  if (header.flags !== 0) fail(`unsupported BTF flags 0x${header.flags.toString(16)}`);
  if (header.hdrLen < BTF_HEADER_SIZE) fail(`BTF header length ${header.hdrLen} is smaller than ${BTF_HEADER_SIZE}`);
  if (header.hdrLen > bytes.length) fail(`BTF header length ${header.hdrLen} is larger than the data (${bytes.length} bytes)`);
  // A longer header than we know must have zeroes in the part we don't (btf_check_sec_info()).
  for (let i = BTF_HEADER_SIZE; i < header.hdrLen; i++) if (bytes[i] !== 0) fail(`unsupported BTF header field at offset ${i}`);
  const dataLen = bytes.length - header.hdrLen;
  const meta = header.hdrLen;
  if (header.typeOff % 4) fail(`BTF type section offset ${header.typeOff} is not 4-byte aligned`);
  if (header.typeOff + header.typeLen > dataLen) {
    fail(`BTF type section at offset ${header.typeOff} length ${header.typeLen} extends past the data (${dataLen} bytes)`);
  }
  if (header.strOff + header.strLen > dataLen) {
    fail(`BTF string section at offset ${header.strOff} length ${header.strLen} extends past the data (${dataLen} bytes)`);
  }
  if (header.typeOff < header.strOff + header.strLen && header.strOff < header.typeOff + header.typeLen) {
    fail(`BTF sections overlap: types at ${header.typeOff}+${header.typeLen}, strings at ${header.strOff}+${header.strLen}`);
  }

  // Strings: NUL-terminated, the first one empty (not required of split BTF).
  const strings = bytes.subarray(meta + header.strOff, meta + header.strOff + header.strLen);
  const base = opts.base;
  if (!base && (strings.length === 0 || strings[0] !== 0)) fail('invalid BTF string section: first string is not empty');
  if (strings.length > 0 && strings[strings.length - 1] !== 0) fail('invalid BTF string section: not NUL-terminated');
  if (base && strings.length === 0 && header.typeLen > 0) {
    // Split BTF without own strings is possible: names then point into the base.
  }
  const baseStrLen = base ? base.strings.length : 0;
  const strCache = new Map<number, string>();
  const name = (off: number, what: string): string => {
    if (off === 0) return '';
    const cached = strCache.get(off);
    if (cached !== undefined) return cached;
    let s: string;
    if (base && off < baseStrLen) {
      s = base.str(off);
    } else {
      const rel = off - baseStrLen;
      if (off > BTF_MAX_NAME_OFFSET || rel >= strings.length) {
        fail(`${what}: name offset ${off} is outside the string section (${baseStrLen + strings.length} bytes)`);
      }
      const end = strings.indexOf(0, rel);
      s = utf8.decode(strings.subarray(rel, end));
    }
    strCache.set(off, s);
    return s;
  };

  // Types.
  const startId = base ? base.types.length : 1;
  const types: BtfType[] = base ? base.types.slice() : [{ id: 0, kind: BTF_KIND.UNKN, name: '', nameOff: 0, kindFlag: false }];
  const typeStart = meta + header.typeOff;
  const typeEnd = typeStart + header.typeLen;
  let off = typeStart;
  while (off < typeEnd) {
    const id = types.length;
    const where = `type [${id}] at offset ${off - typeStart}`;
    if (id > BTF_MAX_TYPE) fail(`${where}: more than ${BTF_MAX_TYPE} types`);
    if (off + BTF_TYPE_SIZE > typeEnd) fail(`${where}: truncated type header (${typeEnd - off} bytes left)`);
    const nameOff = u32(off);
    const info = u32(off + 4);
    const sizeOrType = u32(off + 8);
    const vlen = info & 0xffff;
    const kind = (info >>> 24) & 0x1f;
    const kindFlag = (info >>> 31) === 1;
    if ((info & 0x60ff0000) !== 0) fail(`${where}: reserved bits set in info 0x${(info >>> 0).toString(16)}`);
    const tname = name(nameOff, where);
    off += BTF_TYPE_SIZE;
    const need = (n: number): void => {
      if (off + n > typeEnd) fail(`${where} (${BTF_KIND_NAMES[kind] ?? kind}): ${n} bytes of data extend past the type section`);
    };
    const b = { id, name: tname, nameOff, kindFlag };
    let t: BtfType;
    switch (kind) {
      case BTF_KIND.INT: {
        need(4);
        const v = u32(off);
        off += 4;
        t = { ...b, kind, size: sizeOrType, encoding: (v >>> 24) & 0xf, bitOffset: (v >>> 16) & 0xff, bits: v & 0xff };
        if (![1, 2, 4, 8, 16].includes(sizeOrType)) fail(`${where}: INT size ${sizeOrType} is invalid`);
        if (t.bits + t.bitOffset > sizeOrType * 8) fail(`${where}: INT bits ${t.bits} at offset ${t.bitOffset} exceed size ${sizeOrType}`);
        break;
      }
      case BTF_KIND.PTR: case BTF_KIND.TYPEDEF: case BTF_KIND.VOLATILE: case BTF_KIND.CONST:
      case BTF_KIND.RESTRICT: case BTF_KIND.TYPE_TAG:
        t = { ...b, kind, type: sizeOrType };
        break;
      case BTF_KIND.ARRAY: {
        need(12);
        t = { ...b, kind, type: u32(off), indexType: u32(off + 4), nelems: u32(off + 8) };
        off += 12;
        break;
      }
      case BTF_KIND.STRUCT: case BTF_KIND.UNION: {
        need(vlen * 12);
        const members: BtfMember[] = [];
        for (let i = 0; i < vlen; i++, off += 12) {
          const mOff = u32(off + 8);
          members.push({
            name: name(u32(off), `${where} member #${i}`), nameOff: u32(off), type: u32(off + 4),
            bitOffset: kindFlag ? mOff & 0xffffff : mOff, bitfieldSize: kindFlag ? mOff >>> 24 : 0,
          });
        }
        t = { ...b, kind, size: sizeOrType, members };
        break;
      }
      case BTF_KIND.ENUM: {
        need(vlen * 8);
        const values = [];
        for (let i = 0; i < vlen; i++, off += 8) {
          values.push({ name: name(u32(off), `${where} enumerator #${i}`), nameOff: u32(off), value: kindFlag ? i32(off + 4) : u32(off + 4) });
        }
        t = { ...b, kind, size: sizeOrType, signed: kindFlag, values };
        break;
      }
      case BTF_KIND.ENUM64: {
        need(vlen * 12);
        const values = [];
        for (let i = 0; i < vlen; i++, off += 12) {
          const raw = (BigInt(u32(off + 8)) << 32n) | BigInt(u32(off + 4));
          values.push({ name: name(u32(off), `${where} enumerator #${i}`), nameOff: u32(off), value: kindFlag ? BigInt.asIntN(64, raw) : raw });
        }
        t = { ...b, kind, size: sizeOrType, signed: kindFlag, values };
        break;
      }
      case BTF_KIND.FWD:
        t = { ...b, kind, union: kindFlag };
        break;
      case BTF_KIND.FUNC:
        t = { ...b, kind, type: sizeOrType, linkage: vlen };
        break;
      case BTF_KIND.FUNC_PROTO: {
        need(vlen * 8);
        const params = [];
        for (let i = 0; i < vlen; i++, off += 8) {
          params.push({ name: name(u32(off), `${where} param #${i}`), nameOff: u32(off), type: u32(off + 4) });
        }
        t = { ...b, kind, returnType: sizeOrType, params };
        break;
      }
      case BTF_KIND.VAR:
        need(4);
        t = { ...b, kind, type: sizeOrType, linkage: u32(off) };
        off += 4;
        break;
      case BTF_KIND.DATASEC: {
        need(vlen * 12);
        const vars = [];
        for (let i = 0; i < vlen; i++, off += 12) vars.push({ type: u32(off), offset: u32(off + 4), size: u32(off + 8) });
        t = { ...b, kind, size: sizeOrType, vars };
        break;
      }
      case BTF_KIND.FLOAT:
        t = { ...b, kind, size: sizeOrType };
        if (![2, 4, 8, 12, 16].includes(sizeOrType)) fail(`${where}: FLOAT size ${sizeOrType} is invalid`);
        break;
      case BTF_KIND.DECL_TAG:
        need(4);
        t = { ...b, kind, type: sizeOrType, componentIdx: i32(off) };
        off += 4;
        break;
      default:
        fail(`${where}: unsupported BTF kind ${kind}`);
        throw new Error('unreachable');
    }
    types.push(t);
  }

  // References (btf_validate_type()): every type id a type names must exist.
  const count = types.length;
  const checkId = (id: number, t: BtfType, what: string): void => {
    if (id >= count) fail(`type [${t.id}] ${BTF_KIND_NAMES[t.kind]} '${t.name}': ${what} refers to type [${id}], beyond the last type [${count - 1}]`);
  };
  for (let id = startId; id < count; id++) {
    const t = types[id];
    switch (t.kind) {
      case BTF_KIND.PTR: case BTF_KIND.TYPEDEF: case BTF_KIND.VOLATILE: case BTF_KIND.CONST:
      case BTF_KIND.RESTRICT: case BTF_KIND.TYPE_TAG: case BTF_KIND.VAR: case BTF_KIND.DECL_TAG:
        checkId(t.type, t, 'its type');
        break;
      case BTF_KIND.FUNC:
        checkId(t.type, t, 'its prototype');
        if (types[t.type].kind !== BTF_KIND.FUNC_PROTO) fail(`type [${id}] FUNC '${t.name}': type [${t.type}] is not a FUNC_PROTO`);
        break;
      case BTF_KIND.ARRAY:
        checkId(t.type, t, 'its element type');
        checkId(t.indexType, t, 'its index type');
        break;
      case BTF_KIND.STRUCT: case BTF_KIND.UNION:
        t.members.forEach((m, i) => checkId(m.type, t, `member #${i} '${m.name}'`));
        break;
      case BTF_KIND.FUNC_PROTO:
        checkId(t.returnType, t, 'its return type');
        t.params.forEach((p, i) => checkId(p.type, t, `param #${i}`));
        break;
      case BTF_KIND.DATASEC:
        t.vars.forEach((v, i) => checkId(v.type, t, `var #${i}`));
        break;
      default:
        break;
    }
  }
  return new Btf({
    header, types, strings, base, startId, littleEndian: le,
    raw: bytes.subarray(0, meta + Math.max(header.typeOff + header.typeLen, header.strOff + header.strLen)),
  });
}

/* -------------------------------------------------------------------------------------------- */

export interface DatasecElfInfo {
  /** Size of the ELF section named `name`, or undefined when there is none. */
  sectionSize(name: string): number | undefined;
  /** The global/static STT_OBJECT symbol named `name`: its value and whether its visibility is hidden. */
  varSymbol(name: string): { value: number; hidden: boolean } | undefined;
}

/**
 * btf_fixup_datasec() for every DATASEC: size from the ELF section, VAR offsets from the symbols
 * (when clang left the size 0), hidden globals marked static; VARs sorted by offset. Mutates `btf`.
 */
export function fixupDatasecs(btf: Btf, elf: DatasecElfInfo, label = 'BTF'): void {
  const fail = (msg: string): never => { throw new BpfError('ENOENT', `${label}: ${msg}`); };
  for (let id = btf.startId; id < btf.types.length; id++) {
    const t = btf.types[id];
    if (t.kind !== BTF_KIND.DATASEC) continue;
    const sec = t.name;
    if (sec !== '.kconfig' && sec !== '.ksyms') {
      let fixupOffsets = false;
      if (t.size === 0) {
        const size = elf.sectionSize(sec);
        if (!size) fail(`sec '${sec}': failed to determine size from ELF: size ${size ?? 0}`);
        t.size = size!;
        fixupOffsets = true;
      }
      for (const vsi of t.vars) {
        const v = btf.types[vsi.type];
        if (v.kind !== BTF_KIND.VAR) {
          if (v.kind === BTF_KIND.FUNC) continue;
          fail(`sec '${sec}': unexpected non-VAR type [${vsi.type}] found`);
        }
        const vr = v as Extract<BtfType, { kind: typeof BTF_KIND.VAR }>;
        if (vr.linkage === BTF_VAR_STATIC || vr.linkage === BTF_VAR_GLOBAL_EXTERN) continue;
        const sym = elf.varSymbol(vr.name);
        if (!sym) fail(`sec '${sec}': failed to find ELF symbol for VAR '${vr.name}'`);
        if (fixupOffsets) vsi.offset = sym!.value;
        if (sym!.hidden) vr.linkage = BTF_VAR_STATIC;
      }
    }
    t.vars.sort((a, b) => a.offset - b.offset);
  }
}

/* -------------------------------------------------------------------------------------------- */
/* .BTF.ext                                                                                       */

const BTF_EXT_MIN_HDR = 24;

/**
 * Parse .BTF.ext (btf_ext_parse()): func_info, line_info and CO-RE relocation blocks, names from
 * `btf`'s strings. Records longer than we know are accepted (their extra bytes ignored), shorter
 * ones are an error, as libbpf.
 */
export function parseBtfExt(bytes: Uint8Array, btf: Btf, label = 'BTF.ext'): BtfExt {
  const fail = (msg: string): never => { throw new BpfError('EINVAL', `${label}: ${msg}`); };
  if (bytes.length < BTF_EXT_MIN_HDR) fail(`header not found (${bytes.length} bytes, need ${BTF_EXT_MIN_HDR})`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const le = btf.littleEndian;
  const u32 = (off: number): number => view.getUint32(off, le);
  const magic = view.getUint16(0, le);
  if (magic !== BTF_MAGIC) fail(`invalid magic 0x${magic.toString(16)} at offset 0`);
  const header: BtfExtHeader = {
    magic, version: view.getUint8(2), flags: view.getUint8(3), hdrLen: u32(4),
    funcInfoOff: u32(8), funcInfoLen: u32(12), lineInfoOff: u32(16), lineInfoLen: u32(20),
    coreReloOff: 0, coreReloLen: 0,
  };
  if (header.version !== BTF_VERSION) fail(`unsupported version ${header.version}`);
  if (header.flags !== 0) fail(`unsupported flags 0x${header.flags.toString(16)}`);
  if (header.hdrLen < BTF_EXT_MIN_HDR || header.hdrLen > bytes.length) {
    fail(`header length ${header.hdrLen} is invalid (data is ${bytes.length} bytes)`);
  }
  if (header.hdrLen >= 32) {
    header.coreReloOff = u32(24);
    header.coreReloLen = u32(28);
  }
  const dataLen = bytes.length - header.hdrLen;
  const str = (off: number, what: string): string => {
    if (off >= btf.strings.length + (btf.base?.strings.length ?? 0)) fail(`${what}: string offset ${off} is outside the BTF string section`);
    return btf.str(off);
  };

  const block = <T>(
    what: string, off: number, len: number, minRec: number, rec: (at: number, where: string) => T,
  ): { recSize: number; sections: BtfExtSection<T>[] } => {
    if (len === 0) return { recSize: 0, sections: [] };
    if (off % 4) fail(`${what} at offset ${off} is not 4-byte aligned`);
    if (off + len > dataLen || len < 4) fail(`${what} at offset ${off} length ${len} extends past the data (${dataLen} bytes)`);
    let at = header.hdrLen + off;
    const end = at + len;
    const recSize = u32(at);
    at += 4;
    if (recSize < minRec || recSize % 4) fail(`${what}: record size ${recSize} is invalid (need at least ${minRec})`);
    const sections: BtfExtSection<T>[] = [];
    while (at < end) {
      const where = `${what} at offset ${at - header.hdrLen}`;
      if (at + 8 > end) fail(`${where}: truncated section header`);
      const secNameOff = u32(at);
      const num = u32(at + 4);
      at += 8;
      if (num === 0) fail(`${where}: section has no records`);
      if (num > (end - at) / recSize) fail(`${where}: ${num} records of ${recSize} bytes extend past the block`);
      const secName = str(secNameOff, where);
      const records: T[] = [];
      for (let i = 0; i < num; i++, at += recSize) records.push(rec(at, `${where} record #${i}`));
      sections.push({ secNameOff, secName, records });
    }
    return { recSize, sections };
  };

  const fi = block<BtfFuncInfo>('func_info', header.funcInfoOff, header.funcInfoLen, 8, (at) => ({
    insnOff: u32(at), typeId: u32(at + 4),
  }));
  const li = block<BtfLineInfo>('line_info', header.lineInfoOff, header.lineInfoLen, 16, (at, where) => {
    const lineCol = u32(at + 12);
    return {
      insnOff: u32(at), fileNameOff: u32(at + 4), lineOff: u32(at + 8),
      fileName: str(u32(at + 4), where), line: str(u32(at + 8), where), lineNum: lineCol >>> 10, lineCol: lineCol & 0x3ff,
    };
  });
  const cr = block<BtfCoreRelo>('core_relo', header.coreReloOff, header.coreReloLen, 16, (at, where) => ({
    insnOff: u32(at), typeId: u32(at + 4), accessStrOff: u32(at + 8), accessStr: str(u32(at + 8), where), kind: u32(at + 12),
  }));
  return {
    header, funcInfoRecSize: fi.recSize, lineInfoRecSize: li.recSize, coreReloRecSize: cr.recSize,
    funcInfo: fi.sections, lineInfo: li.sections, coreRelos: cr.sections,
  };
}

/*
 * The BTF data model (include/uapi/linux/btf.h): every kind as a typed record, the string
 * section, and the records of .BTF.ext (func_info, line_info, CO-RE relocations). parse.ts builds
 * these from bytes; format/dump/CO-RE code reads them. Type ids index `Btf.types` directly (id 0
 * is void); split BTF (a module's over vmlinux) continues the base's ids.
 *
 * Names are resolved at parse time (`name`), and the string offsets kept (`nameOff`) so raw dumps
 * and re-emission can show them as bpftool does.
 */
import { BpfError } from '../errors.js';

/** enum btf_kind (BTF_KIND_*). */
export const BTF_KIND = {
  UNKN: 0, INT: 1, PTR: 2, ARRAY: 3, STRUCT: 4, UNION: 5, ENUM: 6, FWD: 7, TYPEDEF: 8, VOLATILE: 9,
  CONST: 10, RESTRICT: 11, FUNC: 12, FUNC_PROTO: 13, VAR: 14, DATASEC: 15, FLOAT: 16, DECL_TAG: 17,
  TYPE_TAG: 18, ENUM64: 19,
} as const;

/** Kind names as bpftool's raw dump prints them (btf_kind_str[]). */
export const BTF_KIND_NAMES: readonly string[] = [
  'UNKNOWN', 'INT', 'PTR', 'ARRAY', 'STRUCT', 'UNION', 'ENUM', 'FWD', 'TYPEDEF', 'VOLATILE', 'CONST',
  'RESTRICT', 'FUNC', 'FUNC_PROTO', 'VAR', 'DATASEC', 'FLOAT', 'DECL_TAG', 'TYPE_TAG', 'ENUM64',
];

export const BTF_MAGIC = 0xeb9f;
export const BTF_VERSION = 1;
export const BTF_MAX_NAME_OFFSET = 0xffffff;
/** libbpf's MAX_RESOLVE_DEPTH: longest modifier/typedef/array chain followed before giving up (loops). */
export const MAX_RESOLVE_DEPTH = 32;

/** BTF_INT_ENCODING bits. */
export const BTF_INT_SIGNED = 1 << 0;
export const BTF_INT_CHAR = 1 << 1;
export const BTF_INT_BOOL = 1 << 2;

/** FUNC linkage (btf_func_linkage) and VAR linkage (BTF_VAR_*). */
export const BTF_FUNC_STATIC = 0;
export const BTF_FUNC_GLOBAL = 1;
export const BTF_FUNC_EXTERN = 2;
export const BTF_VAR_STATIC = 0;
export const BTF_VAR_GLOBAL_ALLOCATED = 1;
export const BTF_VAR_GLOBAL_EXTERN = 2;

interface BtfTypeBase {
  /** Type id. */
  id: number;
  name: string;
  nameOff: number;
  /** info bit 31 (bitfield offsets for structs, signedness for enums, union for FWD). */
  kindFlag: boolean;
}

export interface BtfVoid extends BtfTypeBase { kind: typeof BTF_KIND.UNKN }

export interface BtfInt extends BtfTypeBase {
  kind: typeof BTF_KIND.INT;
  size: number;
  /** BTF_INT_SIGNED | BTF_INT_CHAR | BTF_INT_BOOL */
  encoding: number;
  /** BTF_INT_OFFSET(): bit offset of the value inside the int. */
  bitOffset: number;
  /** BTF_INT_BITS(). */
  bits: number;
}

/** PTR, TYPEDEF, VOLATILE, CONST, RESTRICT, TYPE_TAG: a name (maybe) and the type they refer to. */
export interface BtfRef extends BtfTypeBase {
  kind: typeof BTF_KIND.PTR | typeof BTF_KIND.TYPEDEF | typeof BTF_KIND.VOLATILE | typeof BTF_KIND.CONST
    | typeof BTF_KIND.RESTRICT | typeof BTF_KIND.TYPE_TAG;
  type: number;
}

export interface BtfArray extends BtfTypeBase {
  kind: typeof BTF_KIND.ARRAY;
  type: number;
  indexType: number;
  nelems: number;
}

export interface BtfMember {
  name: string;
  nameOff: number;
  type: number;
  /** Bit offset from the start of the struct. */
  bitOffset: number;
  /** Bitfield size in bits (kind_flag structs), 0 otherwise. */
  bitfieldSize: number;
}

export interface BtfComposite extends BtfTypeBase {
  kind: typeof BTF_KIND.STRUCT | typeof BTF_KIND.UNION;
  size: number;
  members: BtfMember[];
}

export interface BtfEnumValue { name: string; nameOff: number; value: number }
export interface BtfEnum64Value { name: string; nameOff: number; value: bigint }

export interface BtfEnum extends BtfTypeBase {
  kind: typeof BTF_KIND.ENUM;
  size: number;
  /** kind_flag: values are signed (otherwise unsigned). `value` holds the signed reading when signed. */
  signed: boolean;
  values: BtfEnumValue[];
}

export interface BtfEnum64 extends BtfTypeBase {
  kind: typeof BTF_KIND.ENUM64;
  size: number;
  signed: boolean;
  values: BtfEnum64Value[];
}

export interface BtfFwd extends BtfTypeBase {
  kind: typeof BTF_KIND.FWD;
  /** kind_flag: `union X;` rather than `struct X;`. */
  union: boolean;
}

export interface BtfFunc extends BtfTypeBase {
  kind: typeof BTF_KIND.FUNC;
  /** The FUNC_PROTO. */
  type: number;
  /** BTF_FUNC_STATIC / GLOBAL / EXTERN (stored in vlen). */
  linkage: number;
}

export interface BtfParam { name: string; nameOff: number; type: number }

export interface BtfFuncProto extends BtfTypeBase {
  kind: typeof BTF_KIND.FUNC_PROTO;
  returnType: number;
  params: BtfParam[];
}

export interface BtfVar extends BtfTypeBase {
  kind: typeof BTF_KIND.VAR;
  type: number;
  /** BTF_VAR_STATIC / GLOBAL_ALLOCATED / GLOBAL_EXTERN. */
  linkage: number;
}

export interface BtfVarSecinfo {
  /** The VAR (or FUNC, for .ksyms). */
  type: number;
  offset: number;
  size: number;
}

export interface BtfDatasec extends BtfTypeBase {
  kind: typeof BTF_KIND.DATASEC;
  size: number;
  vars: BtfVarSecinfo[];
}

export interface BtfFloat extends BtfTypeBase {
  kind: typeof BTF_KIND.FLOAT;
  size: number;
}

export interface BtfDeclTag extends BtfTypeBase {
  kind: typeof BTF_KIND.DECL_TAG;
  type: number;
  /** -1 = the type itself; otherwise the member / parameter index. */
  componentIdx: number;
}

export type BtfType =
  | BtfVoid | BtfInt | BtfRef | BtfArray | BtfComposite | BtfEnum | BtfEnum64 | BtfFwd | BtfFunc
  | BtfFuncProto | BtfVar | BtfDatasec | BtfFloat | BtfDeclTag;

/** struct btf_header. */
export interface BtfHeader {
  magic: number;
  version: number;
  flags: number;
  hdrLen: number;
  typeOff: number;
  typeLen: number;
  strOff: number;
  strLen: number;
}

/** Parsed BTF. `types[id]` for ids of this BTF and, for split BTF, of its base. */
export class Btf {
  readonly header: BtfHeader;
  /** Index = type id; [0] is void. Split BTF: base ids come first (shared objects). */
  readonly types: BtfType[];
  /** The string section of this BTF (offsets are relative to it; split BTF continues the base's). */
  readonly strings: Uint8Array;
  readonly base?: Btf;
  /** First id defined by this BTF (1, or the base's type count for split BTF). */
  readonly startId: number;
  /** The raw bytes parsed (header + types + strings). */
  readonly raw: Uint8Array;
  readonly littleEndian: boolean;
  private byNameCache?: Map<string, number[]>;

  constructor(init: {
    header: BtfHeader; types: BtfType[]; strings: Uint8Array; base?: Btf; startId: number; raw: Uint8Array;
    littleEndian: boolean;
  }) {
    this.header = init.header;
    this.types = init.types;
    this.strings = init.strings;
    this.base = init.base;
    this.startId = init.startId;
    this.raw = init.raw;
    this.littleEndian = init.littleEndian;
  }

  /** Number of type ids including void (btf__type_cnt()). */
  get typeCount(): number {
    return this.types.length;
  }

  /** The type with this id; BpfError (EINVAL) for an unknown id. */
  type(id: number): BtfType {
    const t = this.types[id];
    if (!t) throw new BpfError('EINVAL', `BTF: no type with id ${id} (${this.types.length - 1} types)`);
    return t;
  }

  /** Ids of the types named `name` (optionally of one kind), in id order. */
  findByName(name: string, kind?: number): number[] {
    if (!this.byNameCache) {
      this.byNameCache = new Map();
      for (const t of this.types) {
        if (!t.name) continue;
        const list = this.byNameCache.get(t.name);
        if (list) list.push(t.id);
        else this.byNameCache.set(t.name, [t.id]);
      }
    }
    const ids = this.byNameCache.get(name) ?? [];
    return kind === undefined ? ids : ids.filter((id) => this.types[id].kind === kind);
  }

  /** btf__find_by_name_kind(): the first id, or undefined. */
  findOne(name: string, kind?: number): number | undefined {
    return this.findByName(name, kind)[0];
  }

  /** String at a string-section offset (split BTF: offsets past the base's strings are ours). */
  str(off: number): string {
    return readString(this, off) ?? '';
  }

  /** Follow typedefs and modifiers (CONST, VOLATILE, RESTRICT, TYPE_TAG) to the type they name (btf__resolve_type()). */
  skipModsAndTypedefs(id: number): number {
    let cur = id;
    for (let depth = 0; depth <= MAX_RESOLVE_DEPTH; depth++) {
      const t = this.type(cur);
      if (t.kind === BTF_KIND.TYPEDEF || t.kind === BTF_KIND.VOLATILE || t.kind === BTF_KIND.CONST
        || t.kind === BTF_KIND.RESTRICT || t.kind === BTF_KIND.TYPE_TAG) {
        cur = t.type;
        continue;
      }
      return cur;
    }
    throw new BpfError('EINVAL', `BTF: type [${id}]: modifier/typedef chain longer than ${MAX_RESOLVE_DEPTH} (loop?)`);
  }

  /** Size in bytes of a type, as btf__resolve_size() (arrays multiply; VARs size their type). */
  resolveSize(id: number): number {
    let cur = id;
    let nelems = 1;
    for (let depth = 0; depth <= MAX_RESOLVE_DEPTH; depth++) {
      const t = this.type(cur);
      switch (t.kind) {
        case BTF_KIND.INT: case BTF_KIND.STRUCT: case BTF_KIND.UNION: case BTF_KIND.ENUM: case BTF_KIND.ENUM64:
        case BTF_KIND.DATASEC: case BTF_KIND.FLOAT:
          return t.size * nelems;
        case BTF_KIND.PTR:
          return 8 * nelems;
        case BTF_KIND.TYPEDEF: case BTF_KIND.VOLATILE: case BTF_KIND.CONST: case BTF_KIND.RESTRICT:
        case BTF_KIND.TYPE_TAG: case BTF_KIND.VAR: case BTF_KIND.DECL_TAG:
          cur = t.type;
          continue;
        case BTF_KIND.ARRAY:
          nelems *= t.nelems;
          if (nelems > 0xffffffff) throw new BpfError('EINVAL', `BTF: type [${id}]: array size overflows`);
          cur = t.type;
          continue;
        default:
          throw new BpfError('EINVAL', `BTF: type [${id}] (${BTF_KIND_NAMES[t.kind]}) has no size`);
      }
    }
    throw new BpfError('EINVAL', `BTF: type [${id}]: type chain longer than ${MAX_RESOLVE_DEPTH} (loop?)`);
  }
}

const utf8 = new TextDecoder('utf-8');

function readString(btf: Btf, off: number): string | undefined {
  if (btf.base && off < btf.base.strings.length) return readString(btf.base, off);
  const rel = btf.base ? off - btf.base.strings.length : off;
  if (rel < 0 || rel >= btf.strings.length) return undefined;
  const end = btf.strings.indexOf(0, rel);
  return utf8.decode(btf.strings.subarray(rel, end < 0 ? btf.strings.length : end));
}

/* -------------------------------------------------------------------------------------------- */
/* .BTF.ext                                                                                       */

/** bpf_func_info: a function starting at `insnOff` (bytes in the ELF section) has BTF FUNC `typeId`. */
export interface BtfFuncInfo {
  insnOff: number;
  typeId: number;
}

/** bpf_line_info: source position of the instruction at `insnOff` (bytes). */
export interface BtfLineInfo {
  insnOff: number;
  fileNameOff: number;
  lineOff: number;
  fileName: string;
  /** The source line's text. */
  line: string;
  /** BPF_LINE_INFO_LINE_NUM(line_col) / BPF_LINE_INFO_LINE_COL(line_col). */
  lineNum: number;
  lineCol: number;
}

/** enum bpf_core_relo_kind. */
export const BPF_CORE = {
  FIELD_BYTE_OFFSET: 0, FIELD_BYTE_SIZE: 1, FIELD_EXISTS: 2, FIELD_SIGNED: 3, FIELD_LSHIFT_U64: 4,
  FIELD_RSHIFT_U64: 5, TYPE_ID_LOCAL: 6, TYPE_ID_TARGET: 7, TYPE_EXISTS: 8, TYPE_SIZE: 9,
  ENUMVAL_EXISTS: 10, ENUMVAL_VALUE: 11, TYPE_MATCHES: 12,
} as const;

/** Names as libbpf's core_relo_kind_str() gives them. */
export const BPF_CORE_KIND_NAMES: readonly string[] = [
  'byte_off', 'byte_sz', 'field_exists', 'signed', 'lshift_u64', 'rshift_u64', 'local_type_id',
  'target_type_id', 'type_exists', 'type_size', 'enumval_exists', 'enumval_value', 'type_matches',
];

/** bpf_core_relo. */
export interface BtfCoreRelo {
  insnOff: number;
  typeId: number;
  accessStrOff: number;
  /** The access string ("0:1:2"). */
  accessStr: string;
  /** BPF_CORE_* */
  kind: number;
}

/** Records of one ELF section in one .BTF.ext info block. */
export interface BtfExtSection<T> {
  secNameOff: number;
  /** The ELF section name the records apply to. */
  secName: string;
  records: T[];
}

export interface BtfExtHeader {
  magic: number;
  version: number;
  flags: number;
  hdrLen: number;
  funcInfoOff: number;
  funcInfoLen: number;
  lineInfoOff: number;
  lineInfoLen: number;
  coreReloOff: number;
  coreReloLen: number;
}

export interface BtfExt {
  header: BtfExtHeader;
  /** Record sizes as the file gives them (func_info_rec_size...). */
  funcInfoRecSize: number;
  lineInfoRecSize: number;
  coreReloRecSize: number;
  funcInfo: BtfExtSection<BtfFuncInfo>[];
  lineInfo: BtfExtSection<BtfLineInfo>[];
  coreRelos: BtfExtSection<BtfCoreRelo>[];
}

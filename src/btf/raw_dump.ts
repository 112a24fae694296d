/*
 * `btf dump ... format raw`: one record per type, as bpftool's dump_btf_type() (tools/bpf/bpftool/
 * btf.c, v7.1) prints them — the text form (`[1] INT 'int' size=4 bits_offset=0 nr_bits=32
 * encoding=SIGNED`) and the JSON form as an ordered tree the CLI writes with bpftool's json_writer.
 * Values that can exceed 2^53 (ENUM64) stay bigint.
 */
import { BTF_FUNC_EXTERN, BTF_FUNC_GLOBAL, BTF_FUNC_STATIC, BTF_INT_BOOL, BTF_INT_CHAR, BTF_INT_SIGNED, BTF_KIND,
  BTF_KIND_NAMES, BTF_VAR_GLOBAL_ALLOCATED, BTF_VAR_GLOBAL_EXTERN, BTF_VAR_STATIC, type Btf, type BtfType } from './types.js';

/** A JSON value in the order bpftool writes its fields; `int` marks jsonw_int_field (signed) values. */
export type RawJson = string | number | bigint | RawJson[] | { [key: string]: RawJson };

/** btf_int_enc_str(). */
export function btfIntEncodingName(encoding: number): string {
  switch (encoding) {
    case 0: return '(none)';
    case BTF_INT_SIGNED: return 'SIGNED';
    case BTF_INT_CHAR: return 'CHAR';
    case BTF_INT_BOOL: return 'BOOL';
    default: return 'UNKN';
  }
}

/** btf_var_linkage_str(). */
export function btfVarLinkageName(linkage: number): string {
  switch (linkage) {
    case BTF_VAR_STATIC: return 'static';
    case BTF_VAR_GLOBAL_ALLOCATED: return 'global';
    case BTF_VAR_GLOBAL_EXTERN: return 'extern';
    default: return '(unknown)';
  }
}

/** btf_func_linkage_str(). */
export function btfFuncLinkageName(linkage: number): string {
  switch (linkage) {
    case BTF_FUNC_STATIC: return 'static';
    case BTF_FUNC_GLOBAL: return 'global';
    case BTF_FUNC_EXTERN: return 'extern';
    default: return '(unknown)';
  }
}

/** btf_str(): "(anon)" for offset 0. */
function nameOf(nameOff: number, name: string): string {
  return nameOff === 0 ? '(anon)' : name;
}

const kindName = (t: BtfType): string => BTF_KIND_NAMES[t.kind] ?? 'UNKNOWN';

/** One type as bpftool's plain-text raw dump prints it (with its trailing newline). */
export function btfRawTypeText(btf: Btf, t: BtfType): string {
  let s = `[${t.id}] ${kindName(t)} '${nameOf(t.nameOff, t.name)}'`;
  switch (t.kind) {
    case BTF_KIND.INT:
      s += ` size=${t.size} bits_offset=${t.bitOffset} nr_bits=${t.bits} encoding=${btfIntEncodingName(t.encoding)}`;
      break;
    case BTF_KIND.PTR: case BTF_KIND.CONST: case BTF_KIND.VOLATILE: case BTF_KIND.RESTRICT:
    case BTF_KIND.TYPEDEF: case BTF_KIND.TYPE_TAG:
      s += ` type_id=${t.type}`;
      break;
    case BTF_KIND.ARRAY:
      s += ` type_id=${t.type} index_type_id=${t.indexType} nr_elems=${t.nelems}`;
      break;
    case BTF_KIND.STRUCT: case BTF_KIND.UNION:
      s += ` size=${t.size} vlen=${t.members.length}`;
      for (const m of t.members) {
        s += `\n\t'${nameOf(m.nameOff, m.name)}' type_id=${m.type} bits_offset=${m.bitOffset}`;
        if (m.bitfieldSize) s += ` bitfield_size=${m.bitfieldSize}`;
      }
      break;
    case BTF_KIND.ENUM:
      s += ` encoding=${t.signed ? 'SIGNED' : 'UNSIGNED'} size=${t.size} vlen=${t.values.length}`;
      for (const v of t.values) s += `\n\t'${nameOf(v.nameOff, v.name)}' val=${v.value}`;
      break;
    case BTF_KIND.ENUM64:
      s += ` encoding=${t.signed ? 'SIGNED' : 'UNSIGNED'} size=${t.size} vlen=${t.values.length}`;
      for (const v of t.values) s += `\n\t'${nameOf(v.nameOff, v.name)}' val=${v.value}${t.signed ? 'LL' : 'ULL'}`;
      break;
    case BTF_KIND.FWD:
      s += ` fwd_kind=${t.union ? 'union' : 'struct'}`;
      break;
    case BTF_KIND.FUNC:
      s += ` type_id=${t.type} linkage=${btfFuncLinkageName(t.linkage)}`;
      break;
    case BTF_KIND.FUNC_PROTO:
      s += ` ret_type_id=${t.returnType} vlen=${t.params.length}`;
      for (const p of t.params) s += `\n\t'${nameOf(p.nameOff, p.name)}' type_id=${p.type}`;
      break;
    case BTF_KIND.VAR:
      s += ` type_id=${t.type}, linkage=${btfVarLinkageName(t.linkage)}`;
      break;
    case BTF_KIND.DATASEC:
      s += ` size=${t.size} vlen=${t.vars.length}`;
      for (const v of t.vars) {
        s += `\n\ttype_id=${v.type} offset=${v.offset} size=${v.size}`;
        const vt = btf.types[v.type];
        if (vt) s += ` (${kindName(vt)} '${nameOf(vt.nameOff, vt.name)}')`;
      }
      break;
    case BTF_KIND.FLOAT:
      s += ` size=${t.size}`;
      break;
    case BTF_KIND.DECL_TAG:
      s += ` type_id=${t.type} component_idx=${t.componentIdx}`;
      break;
    default:
      break;
  }
  return s + '\n';
}

/** One type as bpftool's -j raw dump writes it (field order kept). */
export function btfRawTypeJson(btf: Btf, t: BtfType): { [key: string]: RawJson } {
  const o: { [key: string]: RawJson } = { id: t.id, kind: kindName(t), name: nameOf(t.nameOff, t.name) };
  switch (t.kind) {
    case BTF_KIND.INT:
      o.size = t.size; o.bits_offset = t.bitOffset; o.nr_bits = t.bits; o.encoding = btfIntEncodingName(t.encoding);
      break;
    case BTF_KIND.PTR: case BTF_KIND.CONST: case BTF_KIND.VOLATILE: case BTF_KIND.RESTRICT:
    case BTF_KIND.TYPEDEF: case BTF_KIND.TYPE_TAG:
      o.type_id = t.type;
      break;
    case BTF_KIND.ARRAY:
      o.type_id = t.type; o.index_type_id = t.indexType; o.nr_elems = t.nelems;
      break;
    case BTF_KIND.STRUCT: case BTF_KIND.UNION:
      o.size = t.size; o.vlen = t.members.length;
      o.members = t.members.map((m) => {
        const r: { [key: string]: RawJson } = { name: nameOf(m.nameOff, m.name), type_id: m.type, bits_offset: m.bitOffset };
        if (m.bitfieldSize) r.bitfield_size = m.bitfieldSize;
        return r;
      });
      break;
    case BTF_KIND.ENUM:
      // jsonw_uint_field(w, "val", v->val) widens the __s32 with sign extension (a bpftool quirk kept here).
      o.encoding = t.signed ? 'SIGNED' : 'UNSIGNED'; o.size = t.size; o.vlen = t.values.length;
      o.values = t.values.map((v) => ({
        name: nameOf(v.nameOff, v.name), val: t.signed || v.value < 0x80000000 ? v.value : BigInt.asUintN(64, BigInt(v.value | 0)),
      }));
      break;
    case BTF_KIND.ENUM64:
      o.encoding = t.signed ? 'SIGNED' : 'UNSIGNED'; o.size = t.size; o.vlen = t.values.length;
      o.values = t.values.map((v) => ({ name: nameOf(v.nameOff, v.name), val: v.value }));
      break;
    case BTF_KIND.FWD:
      o.fwd_kind = t.union ? 'union' : 'struct';
      break;
    case BTF_KIND.FUNC:
      o.type_id = t.type; o.linkage = btfFuncLinkageName(t.linkage);
      break;
    case BTF_KIND.FUNC_PROTO:
      o.ret_type_id = t.returnType; o.vlen = t.params.length;
      o.params = t.params.map((p) => ({ name: nameOf(p.nameOff, p.name), type_id: p.type }));
      break;
    case BTF_KIND.VAR:
      o.type_id = t.type; o.linkage = btfVarLinkageName(t.linkage);
      break;
    case BTF_KIND.DATASEC:
      o.size = t.size; o.vlen = t.vars.length;
      o.vars = t.vars.map((v) => ({ type_id: v.type, offset: v.offset, size: v.size }));
      break;
    case BTF_KIND.FLOAT:
      o.size = t.size;
      break;
    case BTF_KIND.DECL_TAG:
      o.type_id = t.type; o.component_idx = t.componentIdx;
      break;
    default:
      break;
  }
  return o;
}

/** Ids a raw dump covers: all of this BTF's own (split BTF: not the base's), or the given roots. */
function dumpIds(btf: Btf, rootIds?: readonly number[]): number[] {
  if (rootIds && rootIds.length) return [...rootIds];
  const ids: number[] = [];
  for (let id = btf.startId; id < btf.types.length; id++) ids.push(id);
  return ids;
}

/** dump_btf_raw(), plain text. */
export function dumpBtfRaw(btf: Btf, rootIds?: readonly number[]): string {
  const parts: string[] = [];
  for (const id of dumpIds(btf, rootIds)) parts.push(btfRawTypeText(btf, btf.type(id)));
  return parts.join('');
}

/** dump_btf_raw(), JSON: `{"types": [...]}`. */
export function dumpBtfRawJson(btf: Btf, rootIds?: readonly number[]): { types: RawJson[] } {
  return { types: dumpIds(btf, rootIds).map((id) => btfRawTypeJson(btf, btf.type(id))) };
}

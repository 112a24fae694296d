/*
 * BTF back to bytes: what libbpf's btf__raw_data() hands BPF_BTF_LOAD after btf_finalize_data()
 * (DATASEC sizes, VAR offsets and linkage fixed up in the parsed types). Layout as libbpf writes
 * it: header, type section, string section (the strings kept verbatim, so every name offset stays
 * valid). Little-endian; base BTF only (split BTF is never loaded from an object).
 */
import { BpfError } from '../errors.js';
import { BTF_KIND, BTF_MAGIC, BTF_VERSION, type Btf, type BtfType } from './types.js';

const HDR_LEN = 24;

/** Bytes one type takes in the type section (struct btf_type + its kind's trailing data). */
function typeLen(t: BtfType): number {
  switch (t.kind) {
    case BTF_KIND.INT: case BTF_KIND.VAR: case BTF_KIND.DECL_TAG: return 16;
    case BTF_KIND.ARRAY: return 24;
    case BTF_KIND.STRUCT: case BTF_KIND.UNION: return 12 + 12 * t.members.length;
    case BTF_KIND.ENUM: return 12 + 8 * t.values.length;
    case BTF_KIND.ENUM64: return 12 + 12 * t.values.length;
    case BTF_KIND.FUNC_PROTO: return 12 + 8 * t.params.length;
    case BTF_KIND.DATASEC: return 12 + 12 * t.vars.length;
    default: return 12;
  }
}

/** The raw BTF of `btf`'s own types and strings. */
export function encodeBtf(btf: Btf): Uint8Array {
  if (btf.base) throw new BpfError('EINVAL', 'BTF: encoding split BTF is not supported');
  const types = btf.types.slice(1);
  const typesLen = types.reduce((n, t) => n + typeLen(t), 0);
  const out = new Uint8Array(HDR_LEN + typesLen + btf.strings.length);
  const v = new DataView(out.buffer);
  const u32 = (off: number, x: number): void => v.setUint32(off, x >>> 0, true);
  v.setUint16(0, BTF_MAGIC, true);
  out[2] = BTF_VERSION;
  out[3] = btf.header.flags;
  u32(4, HDR_LEN);
  u32(8, 0);
  u32(12, typesLen);
  u32(16, typesLen);
  u32(20, btf.strings.length);
  let off = HDR_LEN;
  const head = (t: BtfType, vlen: number, sizeOrType: number): void => {
    u32(off, t.nameOff);
    u32(off + 4, ((t.kindFlag ? 1 : 0) << 31) | (t.kind << 24) | (vlen & 0xffff));
    u32(off + 8, sizeOrType);
    off += 12;
  };
  for (const t of types) {
    switch (t.kind) {
      case BTF_KIND.INT:
        head(t, 0, t.size);
        u32(off, (t.encoding << 24) | (t.bitOffset << 16) | t.bits);
        off += 4;
        break;
      case BTF_KIND.PTR: case BTF_KIND.TYPEDEF: case BTF_KIND.VOLATILE: case BTF_KIND.CONST:
      case BTF_KIND.RESTRICT: case BTF_KIND.TYPE_TAG:
        head(t, 0, t.type);
        break;
      case BTF_KIND.ARRAY:
        head(t, 0, 0);
        u32(off, t.type); u32(off + 4, t.indexType); u32(off + 8, t.nelems);
        off += 12;
        break;
      case BTF_KIND.STRUCT: case BTF_KIND.UNION:
        head(t, t.members.length, t.size);
        for (const m of t.members) {
          u32(off, m.nameOff); u32(off + 4, m.type);
          u32(off + 8, t.kindFlag ? (m.bitfieldSize << 24) | m.bitOffset : m.bitOffset);
          off += 12;
        }
        break;
      case BTF_KIND.ENUM:
        head(t, t.values.length, t.size);
        for (const e of t.values) { u32(off, e.nameOff); u32(off + 4, e.value); off += 8; }
        break;
      case BTF_KIND.ENUM64:
        head(t, t.values.length, t.size);
        for (const e of t.values) {
          const raw = BigInt.asUintN(64, e.value);
          u32(off, e.nameOff); u32(off + 4, Number(raw & 0xffffffffn)); u32(off + 8, Number(raw >> 32n));
          off += 12;
        }
        break;
      case BTF_KIND.FWD:
        head(t, 0, 0);
        break;
      case BTF_KIND.FUNC:
        head(t, t.linkage, t.type);
        break;
      case BTF_KIND.FUNC_PROTO:
        head(t, t.params.length, t.returnType);
        for (const p of t.params) { u32(off, p.nameOff); u32(off + 4, p.type); off += 8; }
        break;
      case BTF_KIND.VAR:
        head(t, 0, t.type);
        u32(off, t.linkage);
        off += 4;
        break;
      case BTF_KIND.DATASEC:
        head(t, t.vars.length, t.size);
        for (const s of t.vars) { u32(off, s.type); u32(off + 4, s.offset); u32(off + 8, s.size); off += 12; }
        break;
      case BTF_KIND.FLOAT:
        head(t, 0, t.size);
        break;
      case BTF_KIND.DECL_TAG:
        head(t, 0, t.type);
        v.setInt32(off, t.componentIdx, true);
        off += 4;
        break;
      default:
        throw new BpfError('EINVAL', `BTF: cannot encode type [${(t as BtfType).id}] of kind ${(t as BtfType).kind}`);
    }
  }
  out.set(btf.strings, off);
  return out;
}

/*
 * CO-RE: BPF "compile once, run everywhere" relocations, as libbpf's relo_core.c computes them and
 * libbpf.c finds candidates. A relocation names a local type (from the object's BTF), an access
 * string ("0:1:2": pointer index, member indices, array indices) and a kind (field byte offset/size/
 * existence/signedness/shifts, type id/existence/size/match, enumerator existence/value). Target
 * candidates are the types of the target BTF (usually the host's vmlinux) with the same essential
 * name (everything before a `___flavor` suffix) and a compatible kind; each candidate's spec is
 * matched member by member by name (anonymous members searched through), all matching candidates
 * must agree, and the instruction's immediate, offset (and load/store size) or ld_imm64 value is
 * patched. A relocation that finds nothing poisons its instruction with `call 0xbad2310` (the
 * verifier then reports "invalid func unknown#195896080" if it is reachable), as libbpf does.
 */
import { BpfError } from '../errors.js';
import type { Insn } from '../isa/insn.js';
import { copyInsn } from '../isa/insn.js';
import { BPF_ALU, BPF_ALU64, BPF_CALL, BPF_JMP, BPF_K, BPF_LD, BPF_LDX, BPF_ST, BPF_STX } from '../isa/opcodes.js';
import { BPF_CORE, BPF_CORE_KIND_NAMES, BTF_INT_SIGNED, BTF_KIND, BTF_KIND_NAMES, type Btf, type BtfComposite, type BtfType } from './types.js';

/** A CO-RE relocation of a program: `insn` is the slot index in the program's instructions. */
export interface CoreReloRecord {
  insn: number;
  typeId: number;
  accessStr: string;
  kind: number;
}

/** The immediate of the call that replaces an unresolvable relocation's instruction (0xbad2310, "bad relo"). */
export const CORE_POISON_IMM = 195896080;
const BPF_CORE_SPEC_MAX_LEN = 64;

const EINVAL = -22;
const E2BIG = -7;
const ERANGE = -34;
const EOPNOTSUPP = -95;
const EUCLEAN = -117;

interface Accessor {
  typeId: number;
  idx: number;
  /** Member or enumerator name; undefined for array accessors (and the first, pointer-level one). */
  name?: string;
}

/** struct bpf_core_spec. */
interface CoreSpec {
  btf: Btf;
  rootTypeId: number;
  reloKind: number;
  spec: Accessor[];
  rawSpec: number[];
  bitOffset: number;
}

interface ReloRes {
  origVal: bigint;
  newVal: bigint;
  poison: boolean;
  validate: boolean;
  failMemszAdjust: boolean;
  origSz: number;
  newSz: number;
  origTypeId: number;
  newTypeId: number;
}

interface Cand { btf: Btf; id: number }

export interface CoreRelocateOptions {
  /** Program name for messages (libbpf's "prog '%s': relo #%d: ..."). */
  progName?: string;
  /** libbpf's candidate cache (per object, shared across its programs): local type id -> candidates. */
  candCache?: Map<number, Cand[]>;
  /** Name of the target BTF in messages (libbpf: "vmlinux" or the module's name). */
  targetName?: string;
  /** Receives libbpf's pr_debug/pr_warn lines. */
  log?: (line: string) => void;
}

const isFieldBased = (k: number): boolean => k <= BPF_CORE.FIELD_RSHIFT_U64;
const isTypeBased = (k: number): boolean =>
  k === BPF_CORE.TYPE_ID_LOCAL || k === BPF_CORE.TYPE_ID_TARGET || k === BPF_CORE.TYPE_EXISTS
  || k === BPF_CORE.TYPE_MATCHES || k === BPF_CORE.TYPE_SIZE;
const isEnumvalBased = (k: number): boolean => k === BPF_CORE.ENUMVAL_EXISTS || k === BPF_CORE.ENUMVAL_VALUE;
const kindStr = (k: number): string => BPF_CORE_KIND_NAMES[k] ?? 'unknown';
/** libbpf's btf_kind_str(): "struct", "enum", ..., "void" for kind 0. */
const btfKindStr = (t: BtfType): string => (t.kind === 0 ? 'void' : (BTF_KIND_NAMES[t.kind] ?? 'unknown').toLowerCase());
const isAnyEnum = (t: BtfType): boolean => t.kind === BTF_KIND.ENUM || t.kind === BTF_KIND.ENUM64;
const isComposite = (t: BtfType): boolean => t.kind === BTF_KIND.STRUCT || t.kind === BTF_KIND.UNION;
/** btf_kind_core_compat(). */
const kindCoreCompat = (a: BtfType, b: BtfType): boolean => a.kind === b.kind || (isAnyEnum(a) && isAnyEnum(b));

/** bpf_core_essential_name_len(): the length before the last `X___Y` flavor separator. */
export function coreEssentialNameLen(name: string): number {
  for (let i = name.length - 5; i >= 0; i--) {
    if (name[i] !== '_' && name[i + 1] === '_' && name[i + 2] === '_' && name[i + 3] === '_' && name[i + 4] !== '_') return i + 1;
  }
  return name.length;
}

/** The name without its `___flavor` suffix. */
export function coreEssentialName(name: string): string {
  return name.slice(0, coreEssentialNameLen(name));
}

function skip(btf: Btf, id: number): { id: number; t: BtfType } | undefined {
  try {
    const r = btf.skipModsAndTypedefs(id);
    return { id: r, t: btf.type(r) };
  } catch {
    return undefined;
  }
}

function resolveSize(btf: Btf, id: number): number {
  try {
    return btf.resolveSize(id);
  } catch {
    return EINVAL;
  }
}

/** __bpf_core_types_are_compat(). */
function typesAreCompat(lb: Btf, localId: number, tb: Btf, targId: number, level: number): number {
  if (!kindCoreCompat(lb.type(localId), tb.type(targId))) return 0;
  for (let depth = 32; ; ) {
    if (--depth < 0) return EINVAL;
    const l = skip(lb, localId);
    const r = skip(tb, targId);
    if (!l || !r) return EINVAL;
    localId = l.id; targId = r.id;
    const lt = l.t;
    const tt = r.t;
    if (!kindCoreCompat(lt, tt)) return 0;
    switch (lt.kind) {
      case BTF_KIND.UNKN: case BTF_KIND.STRUCT: case BTF_KIND.UNION: case BTF_KIND.ENUM: case BTF_KIND.FWD: case BTF_KIND.ENUM64:
        return 1;
      case BTF_KIND.INT:
        return lt.bitOffset === 0 && tt.kind === BTF_KIND.INT && tt.bitOffset === 0 ? 1 : 0;
      case BTF_KIND.PTR:
        localId = lt.type; targId = (tt as typeof lt).type;
        continue;
      case BTF_KIND.ARRAY:
        localId = lt.type; targId = (tt as typeof lt).type;
        continue;
      case BTF_KIND.FUNC_PROTO: {
        const tp = tt as typeof lt;
        if (lt.params.length !== tp.params.length) return 0;
        for (let i = 0; i < lt.params.length; i++) {
          if (level <= 0) return EINVAL;
          const a = skip(lb, lt.params[i].type);
          const b = skip(tb, tp.params[i].type);
          if (!a || !b) return EINVAL;
          const err = typesAreCompat(lb, a.id, tb, b.id, level - 1);
          if (err <= 0) return err;
        }
        const a = skip(lb, lt.returnType);
        const b = skip(tb, tp.returnType);
        if (!a || !b) return EINVAL;
        localId = a.id; targId = b.id;
        continue;
      }
      default:
        return 0;
    }
  }
}

/** bpf_core_names_match(). */
function namesMatch(localName: string, targName: string): boolean {
  if (!targName) return !localName;
  const tl = coreEssentialNameLen(targName);
  const ll = coreEssentialNameLen(localName);
  return tl === ll && localName.slice(0, ll) === targName.slice(0, tl);
}

function enumNames(t: BtfType): string[] {
  return t.kind === BTF_KIND.ENUM || t.kind === BTF_KIND.ENUM64 ? t.values.map((v) => v.name) : [];
}

/** __bpf_core_types_match() (TYPE_MATCHES). */
function typesMatch(lb: Btf, localId: number, tb: Btf, targId: number, behindPtr: boolean, level: number): number {
  if (level <= 0) return EINVAL;
  for (let depth = 32; ; ) {
    if (--depth < 0) return EINVAL;
    const l = skip(lb, localId);
    const r = skip(tb, targId);
    if (!l || !r) return EINVAL;
    const lt = l.t;
    const tt = r.t;
    if (!namesMatch(lt.name, tt.name)) return 0;
    switch (lt.kind) {
      case BTF_KIND.UNKN:
        return tt.kind === lt.kind ? 1 : 0;
      case BTF_KIND.FWD: {
        const lf = lt.kindFlag;
        if (behindPtr) {
          if (tt.kind === lt.kind) return lf === tt.kindFlag ? 1 : 0;
          return (tt.kind === BTF_KIND.STRUCT && !lf) || (tt.kind === BTF_KIND.UNION && lf) ? 1 : 0;
        }
        if (tt.kind !== lt.kind) return 0;
        return lf === tt.kindFlag ? 1 : 0;
      }
      case BTF_KIND.ENUM: case BTF_KIND.ENUM64: {
        if (!isAnyEnum(tt)) return 0;
        if ((lt as { size: number }).size !== (tt as { size: number }).size) return 0;
        const ln = enumNames(lt);
        const tn = enumNames(tt);
        if (ln.length > tn.length) return 0;
        return ln.every((n) => tn.some((m) => namesMatch(n, m))) ? 1 : 0;
      }
      case BTF_KIND.STRUCT: case BTF_KIND.UNION: {
        if (behindPtr) {
          if (lt.kind === tt.kind) return 1;
          if (tt.kind !== BTF_KIND.FWD) return 0;
          return (lt.kind === BTF_KIND.UNION) === tt.kindFlag ? 1 : 0;
        }
        if (lt.kind !== tt.kind) return 0;
        const tm = (tt as typeof lt).members;
        if (lt.members.length > tm.length) return 0;
        for (const m of lt.members) {
          let matched = false;
          for (const n of tm) {
            if (!namesMatch(m.name, n.name)) continue;
            const err = typesMatch(lb, m.type, tb, n.type, behindPtr, level - 1);
            if (err < 0) return err;
            if (err > 0) { matched = true; break; }
          }
          if (!matched) return 0;
        }
        return 1;
      }
      case BTF_KIND.INT: {
        if (tt.kind !== BTF_KIND.INT) return 0;
        return lt.size === tt.size && (lt.encoding & BTF_INT_SIGNED) === (tt.encoding & BTF_INT_SIGNED) ? 1 : 0;
      }
      case BTF_KIND.PTR:
        if (tt.kind !== BTF_KIND.PTR) return 0;
        behindPtr = true;
        localId = lt.type; targId = tt.type;
        continue;
      case BTF_KIND.ARRAY:
        if (tt.kind !== BTF_KIND.ARRAY || lt.nelems !== tt.nelems) return 0;
        localId = lt.type; targId = tt.type;
        continue;
      case BTF_KIND.FUNC_PROTO: {
        if (tt.kind !== BTF_KIND.FUNC_PROTO || lt.params.length !== tt.params.length) return 0;
        for (let i = 0; i < lt.params.length; i++) {
          const err = typesMatch(lb, lt.params[i].type, tb, tt.params[i].type, behindPtr, level - 1);
          if (err <= 0) return err;
        }
        localId = lt.returnType; targId = tt.returnType;
        continue;
      }
      default:
        return 0;
    }
  }
}

function isFlexArr(btf: Btf, acc: Accessor | undefined, nelems: number): boolean {
  if (!acc || !acc.name || nelems > 0) return false;
  const t = btf.type(acc.typeId);
  return isComposite(t) && acc.idx === (t as { members: unknown[] }).members.length - 1;
}

/** bpf_core_parse_spec(). */
function parseSpec(btf: Btf, relo: CoreReloRecord): CoreSpec | number {
  let specStr = relo.accessStr;
  if (!specStr || specStr[0] === ':') return EINVAL;
  const spec: CoreSpec = { btf, rootTypeId: relo.typeId, reloKind: relo.kind, spec: [], rawSpec: [], bitOffset: 0 };
  if (isTypeBased(relo.kind)) return specStr === '0' ? spec : EINVAL;
  while (specStr.length) {
    if (specStr[0] === ':') specStr = specStr.slice(1);
    const m = /^\s*[+-]?\d+/.exec(specStr);
    if (!m) return EINVAL;
    if (spec.rawSpec.length === BPF_CORE_SPEC_MAX_LEN) return E2BIG;
    spec.rawSpec.push(parseInt(m[0], 10) | 0);
    specStr = specStr.slice(m[0].length);
  }
  if (!spec.rawSpec.length) return EINVAL;
  let r = skip(btf, relo.typeId);
  if (!r) return EINVAL;
  let id = r.id;
  let t = r.t;
  let accessIdx = spec.rawSpec[0];
  spec.spec.push({ typeId: id, idx: accessIdx });
  if (isEnumvalBased(relo.kind)) {
    if (!isAnyEnum(t) || spec.rawSpec.length > 1 || accessIdx < 0 || accessIdx >= enumNames(t).length) return EINVAL;
    spec.spec[0].name = enumNames(t)[accessIdx];
    return spec;
  }
  if (!isFieldBased(relo.kind)) return EINVAL;
  let sz = resolveSize(btf, id);
  if (sz < 0) return sz;
  spec.bitOffset = accessIdx * sz * 8;
  for (let i = 1; i < spec.rawSpec.length; i++) {
    r = skip(btf, id);
    if (!r) return EINVAL;
    id = r.id;
    t = r.t;
    accessIdx = spec.rawSpec[i];
    if (t.kind === BTF_KIND.STRUCT || t.kind === BTF_KIND.UNION) {
      if (accessIdx < 0 || accessIdx >= t.members.length) return EINVAL;
      const m = t.members[accessIdx];
      spec.bitOffset += m.bitOffset;
      if (m.nameOff) {
        if (!m.name) return EINVAL;
        spec.spec.push({ typeId: id, idx: accessIdx, name: m.name });
      }
      id = m.type;
    } else if (t.kind === BTF_KIND.ARRAY) {
      const e = skip(btf, t.type);
      if (!e) return EINVAL;
      id = e.id;
      const flex = isFlexArr(btf, spec.spec[spec.spec.length - 1], t.nelems);
      if (!flex && accessIdx >= t.nelems) return EINVAL;
      spec.spec.push({ typeId: id, idx: accessIdx });
      sz = resolveSize(btf, id);
      if (sz < 0) return sz;
      spec.bitOffset += accessIdx * sz * 8;
    } else {
      return EINVAL;
    }
  }
  return spec;
}

/** bpf_core_fields_are_compat(). */
function fieldsAreCompat(lb: Btf, localId: number, tb: Btf, targId: number): number {
  for (let guard = 0; guard < 64; guard++) {
    const l = skip(lb, localId);
    const r = skip(tb, targId);
    if (!l || !r) return EINVAL;
    const lt = l.t;
    const tt = r.t;
    if (isComposite(lt) && isComposite(tt)) return 1;
    if (!kindCoreCompat(lt, tt)) return 0;
    switch (lt.kind) {
      case BTF_KIND.PTR: case BTF_KIND.FLOAT:
        return 1;
      case BTF_KIND.FWD: case BTF_KIND.ENUM64: case BTF_KIND.ENUM: {
        const ll = coreEssentialNameLen(lt.name);
        const tl = coreEssentialNameLen(tt.name);
        return ll === 0 || tl === 0 || (ll === tl && lt.name.slice(0, ll) === tt.name.slice(0, tl)) ? 1 : 0;
      }
      case BTF_KIND.INT:
        return lt.bitOffset === 0 && tt.kind === BTF_KIND.INT && tt.bitOffset === 0 ? 1 : 0;
      case BTF_KIND.ARRAY:
        localId = lt.type;
        targId = (tt as typeof lt).type;
        continue;
      default:
        return 0;
    }
  }
  return EINVAL;
}

/** bpf_core_match_member(): find the local named member in target type `targId`, through anonymous members. */
function matchMember(lb: Btf, localAcc: Accessor, tb: Btf, targId: number, spec: CoreSpec, next: { id: number }): number {
  const r = skip(tb, targId);
  if (!r) return EINVAL;
  targId = r.id;
  const tt = r.t;
  if (tt.kind !== BTF_KIND.STRUCT && tt.kind !== BTF_KIND.UNION) return 0;
  const lt = lb.type(localAcc.typeId) as BtfComposite;
  const localMember = lt.members[localAcc.idx];
  const localName = localMember.name;
  for (let i = 0; i < tt.members.length; i++) {
    const m = tt.members[i];
    if (spec.rawSpec.length === BPF_CORE_SPEC_MAX_LEN) return E2BIG;
    spec.bitOffset += m.bitOffset;
    spec.rawSpec.push(i);
    if (!m.name) {
      const found = matchMember(lb, localAcc, tb, m.type, spec, next);
      if (found) return found;
    } else if (m.name === localName) {
      spec.spec.push({ typeId: targId, idx: i, name: m.name });
      next.id = m.type;
      const found = fieldsAreCompat(lb, localMember.type, tb, m.type);
      if (!found) spec.spec.pop();
      return found;
    }
    spec.bitOffset -= m.bitOffset;
    spec.rawSpec.pop();
  }
  return 0;
}

/** bpf_core_spec_match(): 1 and `targ` filled when the local spec matches candidate `targId`. */
function specMatch(local: CoreSpec, tb: Btf, targId: number, targ: CoreSpec): number {
  targ.btf = tb;
  targ.rootTypeId = targId;
  targ.reloKind = local.reloKind;
  targ.spec = [];
  targ.rawSpec = [];
  targ.bitOffset = 0;
  if (isTypeBased(local.reloKind)) {
    if (local.reloKind === BPF_CORE.TYPE_MATCHES) return typesMatch(local.btf, local.rootTypeId, tb, targId, false, 32);
    return typesAreCompat(local.btf, local.rootTypeId, tb, targId, 32);
  }
  const localAcc0 = local.spec[0];
  if (isEnumvalBased(local.reloKind)) {
    const r = skip(tb, targId);
    if (!r || !isAnyEnum(r.t)) return 0;
    const localLen = coreEssentialNameLen(localAcc0.name ?? '');
    const names = enumNames(r.t);
    for (let i = 0; i < names.length; i++) {
      const tn = names[i];
      if (coreEssentialNameLen(tn) !== localLen) continue;
      if ((localAcc0.name ?? '').slice(0, localLen) === tn.slice(0, localLen)) {
        targ.spec.push({ typeId: r.id, idx: i, name: tn });
        targ.rawSpec.push(i);
        return 1;
      }
    }
    return 0;
  }
  if (!isFieldBased(local.reloKind)) return EINVAL;
  for (let i = 0; i < local.spec.length; i++) {
    const localAcc = local.spec[i];
    const r = skip(tb, targId);
    if (!r) return EINVAL;
    targId = r.id;
    const tt = r.t;
    if (localAcc.name) {
      const next = { id: targId };
      const matched = matchMember(local.btf, localAcc, tb, targId, targ, next);
      if (matched <= 0) return matched;
      targId = next.id;
    } else {
      if (i > 0) {
        if (tt.kind !== BTF_KIND.ARRAY) return 0;
        const flex = isFlexArr(tb, targ.spec[i - 1], tt.nelems);
        if (!flex && localAcc.idx >= tt.nelems) return 0;
        const e = skip(tb, tt.type);
        if (!e) return EINVAL;
        targId = e.id;
      }
      if (targ.rawSpec.length === BPF_CORE_SPEC_MAX_LEN) return E2BIG;
      targ.spec.push({ typeId: targId, idx: localAcc.idx });
      targ.rawSpec.push(localAcc.idx);
      const sz = resolveSize(tb, targId);
      if (sz < 0) return sz;
      targ.bitOffset += localAcc.idx * sz * 8;
    }
  }
  return 1;
}

interface FieldCalc { val: bigint; fieldSz: number; typeId: number; validate: boolean }

/** bpf_core_calc_field_relo(). */
function calcFieldRelo(relo: CoreReloRecord, spec: CoreSpec | undefined, out: FieldCalc, log: (s: string) => void, prog: string): number {
  out.fieldSz = 0;
  if (relo.kind === BPF_CORE.FIELD_EXISTS) {
    out.val = spec ? 1n : 0n;
    return 0;
  }
  if (!spec) return EUCLEAN;
  const acc = spec.spec[spec.spec.length - 1];
  const t = spec.btf.type(acc.typeId);
  if (!acc.name) {
    if (relo.kind === BPF_CORE.FIELD_BYTE_OFFSET) {
      out.val = BigInt(Math.floor(spec.bitOffset / 8));
      const sz = resolveSize(spec.btf, acc.typeId);
      if (sz < 0) return EINVAL;
      out.fieldSz = sz;
      out.typeId = acc.typeId;
    } else if (relo.kind === BPF_CORE.FIELD_BYTE_SIZE) {
      const sz = resolveSize(spec.btf, acc.typeId);
      if (sz < 0) return EINVAL;
      out.val = BigInt(sz);
    } else {
      log(`prog '${prog}': relo ${relo.kind} at insn #${relo.insn} can't be applied to array access`);
      return EINVAL;
    }
    out.validate = true;
    return 0;
  }
  const m = (t as BtfComposite).members[acc.idx];
  const mr = skip(spec.btf, m.type);
  if (!mr) return EINVAL;
  const mt = mr.t;
  const fieldTypeId = mr.id;
  const bitOff = spec.bitOffset;
  let bitSz = m.bitfieldSize;
  const bitfield = bitSz > 0;
  let byteSz: number;
  let byteOff: number;
  if (bitfield) {
    byteSz = (mt as { size?: number }).size ?? 0;
    if (!byteSz) return EINVAL;
    byteOff = Math.floor(bitOff / 8 / byteSz) * byteSz;
    while (bitOff + bitSz - byteOff * 8 > byteSz * 8) {
      if (byteSz >= 8) {
        log(`prog '${prog}': relo ${relo.kind} at insn #${relo.insn} can't be satisfied for bitfield`);
        return E2BIG;
      }
      byteSz *= 2;
      byteOff = Math.floor(bitOff / 8 / byteSz) * byteSz;
    }
  } else {
    const sz = resolveSize(spec.btf, fieldTypeId);
    if (sz < 0) return EINVAL;
    byteSz = sz;
    byteOff = Math.floor(spec.bitOffset / 8);
    bitSz = byteSz * 8;
  }
  out.validate = !bitfield;
  switch (relo.kind) {
    case BPF_CORE.FIELD_BYTE_OFFSET:
      out.val = BigInt(byteOff);
      if (!bitfield) {
        out.fieldSz = byteSz;
        out.typeId = fieldTypeId;
      }
      break;
    case BPF_CORE.FIELD_BYTE_SIZE:
      out.val = BigInt(byteSz);
      break;
    case BPF_CORE.FIELD_SIGNED:
      out.val = (isAnyEnum(mt) && mt.kindFlag) || (mt.kind === BTF_KIND.INT && (mt.encoding & BTF_INT_SIGNED) !== 0) ? 1n : 0n;
      out.validate = true;
      break;
    case BPF_CORE.FIELD_LSHIFT_U64:
      out.val = BigInt(64 - (bitOff + bitSz - byteOff * 8));
      break;
    case BPF_CORE.FIELD_RSHIFT_U64:
      out.val = BigInt(64 - bitSz);
      out.validate = true;
      break;
    default:
      return EOPNOTSUPP;
  }
  return 0;
}

/** bpf_core_calc_type_relo(). */
function calcTypeRelo(relo: CoreReloRecord, spec: CoreSpec | undefined, out: { val: bigint; validate: boolean }): number {
  out.validate = true;
  if (!spec) {
    out.val = 0n;
    return 0;
  }
  switch (relo.kind) {
    case BPF_CORE.TYPE_ID_TARGET:
      out.val = BigInt(spec.rootTypeId);
      out.validate = false;
      return 0;
    case BPF_CORE.TYPE_EXISTS: case BPF_CORE.TYPE_MATCHES:
      out.val = 1n;
      return 0;
    case BPF_CORE.TYPE_SIZE: {
      const sz = resolveSize(spec.btf, spec.rootTypeId);
      if (sz < 0) return EINVAL;
      out.val = BigInt(sz);
      return 0;
    }
    default:
      return EOPNOTSUPP;
  }
}

/** bpf_core_calc_enumval_relo(). */
function calcEnumvalRelo(relo: CoreReloRecord, spec: CoreSpec | undefined, out: { val: bigint }): number {
  switch (relo.kind) {
    case BPF_CORE.ENUMVAL_EXISTS:
      out.val = spec ? 1n : 0n;
      return 0;
    case BPF_CORE.ENUMVAL_VALUE: {
      if (!spec) return EUCLEAN;
      const t = spec.btf.type(spec.spec[0].typeId);
      if (t.kind === BTF_KIND.ENUM) out.val = BigInt.asUintN(64, BigInt(t.values[spec.spec[0].idx].value | 0));
      else if (t.kind === BTF_KIND.ENUM64) out.val = BigInt.asUintN(64, t.values[spec.spec[0].idx].value);
      else return EINVAL;
      return 0;
    }
    default:
      return EOPNOTSUPP;
  }
}

/** bpf_core_calc_relo(). */
function calcRelo(relo: CoreReloRecord, reloIdx: number, local: CoreSpec, targ: CoreSpec | undefined, log: (s: string) => void, prog: string): { err: number; res: ReloRes } {
  const res: ReloRes = {
    origVal: 0n, newVal: 0n, poison: false, validate: true, failMemszAdjust: false, origSz: 0, newSz: 0, origTypeId: 0, newTypeId: 0,
  };
  let err = EOPNOTSUPP;
  if (isFieldBased(relo.kind)) {
    const o: FieldCalc = { val: 0n, fieldSz: 0, typeId: 0, validate: true };
    err = calcFieldRelo(relo, local, o, log, prog);
    res.origVal = o.val; res.origSz = o.fieldSz; res.origTypeId = o.typeId; res.validate = o.validate;
    if (!err) {
      const n: FieldCalc = { val: 0n, fieldSz: 0, typeId: 0, validate: true };
      err = calcFieldRelo(relo, targ, n, log, prog);
      res.newVal = n.val; res.newSz = n.fieldSz; res.newTypeId = n.typeId;
    }
    if (!err && res.origSz !== res.newSz && targ) {
      const ot = local.btf.type(res.origTypeId);
      const nt = targ.btf.type(res.newTypeId);
      const ok = (ot.kind === BTF_KIND.PTR && nt.kind === BTF_KIND.PTR)
        || (ot.kind === BTF_KIND.INT && nt.kind === BTF_KIND.INT && ot.encoding !== BTF_INT_SIGNED && nt.encoding !== BTF_INT_SIGNED);
      res.failMemszAdjust = !ok;
    }
  } else if (isTypeBased(relo.kind)) {
    const o = { val: 0n, validate: true };
    err = calcTypeRelo(relo, local, o);
    res.origVal = o.val; res.validate = o.validate;
    if (!err) {
      const n = { val: 0n, validate: true };
      err = calcTypeRelo(relo, targ, n);
      res.newVal = n.val;
    }
  } else if (isEnumvalBased(relo.kind)) {
    const o = { val: 0n };
    err = calcEnumvalRelo(relo, local, o);
    res.origVal = o.val;
    if (!err) {
      const n = { val: 0n };
      err = calcEnumvalRelo(relo, targ, n);
      res.newVal = n.val;
    }
  }
  if (err === EUCLEAN) {
    res.poison = true;
    err = 0;
  } else if (err === EOPNOTSUPP) {
    log(`prog '${prog}': relo #${reloIdx}: unrecognized CO-RE relocation ${kindStr(relo.kind)} (${relo.kind}) at insn #${relo.insn}`);
  }
  return { err, res };
}

/** bpf_core_format_spec(). */
function formatSpec(spec: CoreSpec): string {
  const t = spec.btf.types[spec.rootTypeId];
  let s = `<${kindStr(spec.reloKind)}> [${spec.rootTypeId}] ${t ? btfKindStr(t) : '?'} ${t?.name || '<anon>'}`;
  if (isTypeBased(spec.reloKind)) return s;
  if (isEnumvalBased(spec.reloKind)) {
    const e = skip(spec.btf, spec.rootTypeId)?.t;
    if (e && (e.kind === BTF_KIND.ENUM || e.kind === BTF_KIND.ENUM64)) {
      const v = e.values[spec.rawSpec[0] ?? 0]; // a non-matching spec reads the zeroed raw_spec[0]
      if (v) s += `::${v.name} = ${v.value}`;
    }
    return s;
  }
  spec.spec.forEach((a, i) => {
    if (a.name) s += `.${a.name}`;
    else if (i > 0 || a.idx > 0) s += `[${a.idx}]`;
  });
  s += ` (${spec.rawSpec.join(':')}`;
  s += spec.bitOffset % 8 ? ` @ offset ${Math.floor(spec.bitOffset / 8)}.${spec.bitOffset % 8})` : ` @ offset ${spec.bitOffset / 8})`;
  return s;
}

/** bpf_core_add_cands(): target types with the local type's essential name and a compatible kind. */
export function findCoreCandidates(localBtf: Btf, localId: number, targetBtf: Btf): Cand[] {
  const lt = localBtf.type(localId);
  const localName = lt.name;
  if (!localName) return [];
  const len = coreEssentialNameLen(localName);
  const ess = localName.slice(0, len);
  const out: Cand[] = [];
  const targStart = targetBtf.base ? 1 : 1;
  for (let i = targStart; i < targetBtf.types.length; i++) {
    const t = targetBtf.types[i];
    if (!kindCoreCompat(t, lt)) continue;
    const tn = t.name;
    if (!tn || !tn.startsWith(ess)) continue;
    if (coreEssentialNameLen(tn) !== len) continue;
    out.push({ btf: targetBtf, id: i });
  }
  return out;
}

/** bpf_core_calc_relo_insn(): the result for one relocation, or a negative errno. */
function calcReloInsn(
  relo: CoreReloRecord, reloIdx: number, localBtf: Btf, cands: Cand[], log: (s: string) => void, prog: string,
): { err: number; res?: ReloRes; cands: Cand[] } {
  const lt = localBtf.types[relo.typeId];
  if (!lt) return { err: EINVAL, cands };
  const local = parseSpec(localBtf, relo);
  if (typeof local === 'number') {
    log(`prog '${prog}': relo #${reloIdx}: parsing [${relo.typeId}] ${btfKindStr(lt)} ${lt.name || '<anon>'} + ${relo.accessStr} failed: ${local}`);
    return { err: EINVAL, cands };
  }
  log(`prog '${prog}': relo #${reloIdx}: ${formatSpec(local)}`);
  if (relo.kind === BPF_CORE.TYPE_ID_LOCAL) {
    const id = BigInt(local.rootTypeId);
    return {
      err: 0, cands,
      res: { origVal: id, newVal: id, poison: false, validate: false, failMemszAdjust: false, origSz: 0, newSz: 0, origTypeId: 0, newTypeId: 0 },
    };
  }
  if (!lt.name) {
    log(`prog '${prog}': relo #${reloIdx}: <${kindStr(relo.kind)}> (${relo.kind}) relocation doesn't support anonymous types`);
    return { err: EOPNOTSUPP, cands };
  }
  let targRes: ReloRes | undefined;
  let targSpec: CoreSpec | undefined;
  const kept: Cand[] = [];
  for (let i = 0; i < cands.length; i++) {
    const cand: CoreSpec = { btf: cands[i].btf, rootTypeId: 0, reloKind: 0, spec: [], rawSpec: [], bitOffset: 0 };
    const m = specMatch(local, cands[i].btf, cands[i].id, cand);
    if (m < 0) {
      log(`prog '${prog}': relo #${reloIdx}: error matching candidate #${i} ${formatSpec(cand)}: ${m}`);
      return { err: m, cands };
    }
    log(`prog '${prog}': relo #${reloIdx}: ${m === 0 ? 'non-matching' : 'matching'} candidate #${i} ${formatSpec(cand)}`);
    if (m === 0) continue;
    const { err, res } = calcRelo(relo, reloIdx, local, cand, log, prog);
    if (err) return { err, cands };
    if (!targRes) {
      targRes = res;
      targSpec = cand;
    } else if (cand.bitOffset !== targSpec!.bitOffset) {
      log(`prog '${prog}': relo #${reloIdx}: field offset ambiguity: ${cand.bitOffset} != ${targSpec!.bitOffset}`);
      return { err: EINVAL, cands };
    } else if (res.poison !== targRes.poison || res.newVal !== targRes.newVal) {
      log(`prog '${prog}': relo #${reloIdx}: relocation decision ambiguity: ${res.poison ? 'failure' : 'success'} ${res.newVal} != ${targRes.poison ? 'failure' : 'success'} ${targRes.newVal}`);
      return { err: EINVAL, cands };
    }
    kept.push(cands[i]);
  }
  if (kept.length) return { err: 0, res: targRes, cands: kept };
  log(`prog '${prog}': relo #${reloIdx}: no matching targets found`);
  const { err, res } = calcRelo(relo, reloIdx, local, undefined, log, prog);
  return { err, res, cands };
}

function poisonInsn(insn: Insn): void {
  insn.code = BPF_JMP | BPF_CALL;
  insn.dst = 0;
  insn.src = 0;
  insn.off = 0;
  insn.imm = CORE_POISON_IMM;
}

const sizeBytes = (code: number): number => [4, 2, 1, 8][(code >> 3) & 3];
const bytesToSize = (n: number): number => (n === 8 ? 0x18 : n === 4 ? 0x00 : n === 2 ? 0x08 : n === 1 ? 0x10 : -1);

/** bpf_core_patch_insn(): 0 or a negative errno. */
function patchInsn(insns: Insn[], idx: number, reloIdx: number, res: ReloRes, log: (s: string) => void, prog: string): number {
  const insn = insns[idx];
  const cls = insn.code & 7;
  const poison = (): number => {
    if (insn.code === 0x18 && insns[idx + 1]) poisonInsn(insns[idx + 1]);
    poisonInsn(insn);
    log(`prog '${prog}': relo #${reloIdx}: substituting insn #${idx} w/ invalid insn`);
    return 0;
  };
  if (res.poison) return poison();
  const orig = res.origVal;
  const nv = res.newVal;
  switch (cls) {
    case BPF_ALU: case BPF_ALU64: {
      if ((insn.code & 0x08) !== BPF_K) return EINVAL;
      if (res.validate && BigInt.asUintN(64, BigInt(insn.imm)) !== orig) {
        log(`prog '${prog}': relo #${reloIdx}: unexpected insn #${idx} (ALU/ALU64) value: got ${insn.imm >>> 0}, exp ${orig} -> ${nv}`);
        return EINVAL;
      }
      const was = BigInt.asUintN(64, BigInt(insn.imm));
      insn.imm = Number(BigInt.asIntN(32, nv));
      log(`prog '${prog}': relo #${reloIdx}: patched insn #${idx} (ALU/ALU64) imm ${was} -> ${nv}`);
      return 0;
    }
    case BPF_LDX: case BPF_ST: case BPF_STX: {
      if (res.validate && BigInt.asUintN(64, BigInt(insn.off)) !== orig) {
        log(`prog '${prog}': relo #${reloIdx}: unexpected insn #${idx} (LDX/ST/STX) value: got ${insn.off}, exp ${orig} -> ${nv}`);
        return EINVAL;
      }
      if (nv > 0x7fffn) {
        log(`prog '${prog}': relo #${reloIdx}: insn #${idx} (LDX/ST/STX) value too big: ${nv}`);
        return ERANGE;
      }
      if (res.failMemszAdjust) {
        log(`prog '${prog}': relo #${reloIdx}: insn #${idx} (LDX/ST/STX) accesses field incorrectly. Make sure you are accessing pointers, unsigned integers, or fields of matching type and size.`);
        return poison();
      }
      const was = BigInt.asUintN(64, BigInt(insn.off));
      insn.off = Number(nv);
      log(`prog '${prog}': relo #${reloIdx}: patched insn #${idx} (LDX/ST/STX) off ${was} -> ${nv}`);
      if (res.newSz !== res.origSz) {
        const have = sizeBytes(insn.code);
        if (have !== res.origSz) {
          log(`prog '${prog}': relo #${reloIdx}: insn #${idx} (LDX/ST/STX) unexpected mem size: got ${have}, exp ${res.origSz}`);
          return EINVAL;
        }
        const sz = bytesToSize(res.newSz);
        if (sz < 0) {
          log(`prog '${prog}': relo #${reloIdx}: insn #${idx} (LDX/ST/STX) invalid new mem size: ${res.newSz}`);
          return EINVAL;
        }
        insn.code = (insn.code & 0xe0) | sz | cls;
        log(`prog '${prog}': relo #${reloIdx}: patched insn #${idx} (LDX/ST/STX) mem_sz ${res.origSz} -> ${res.newSz}`);
      }
      return 0;
    }
    case BPF_LD: {
      const hi = insns[idx + 1];
      if (insn.code !== 0x18 || insn.src !== 0 || insn.off !== 0 || !hi || hi.code !== 0 || hi.dst !== 0 || hi.src !== 0 || hi.off !== 0) {
        log(`prog '${prog}': relo #${reloIdx}: insn #${idx} (LDIMM64) has unexpected form`);
        return EINVAL;
      }
      const imm = (BigInt(hi.imm >>> 0) << 32n) | BigInt(insn.imm >>> 0);
      if (res.validate && imm !== orig) {
        log(`prog '${prog}': relo #${reloIdx}: unexpected insn #${idx} (LDIMM64) value: got ${imm}, exp ${orig} -> ${nv}`);
        return EINVAL;
      }
      insn.imm = Number(BigInt.asIntN(32, nv));
      hi.imm = Number(BigInt.asIntN(32, nv >> 32n));
      log(`prog '${prog}': relo #${reloIdx}: patched insn #${idx} (LDIMM64) imm64 ${imm} -> ${nv}`);
      return 0;
    }
    default:
      log(`prog '${prog}': relo #${reloIdx}: trying to relocate unrecognized insn #${idx}, code:0x${insn.code.toString(16)}, src:0x${insn.src.toString(16)}, dst:0x${insn.dst.toString(16)}, off:0x${(insn.off & 0xffff).toString(16)}, imm:0x${(insn.imm >>> 0).toString(16)}`);
      return EINVAL;
  }
}

const ERRNO_NAME: Record<number, 'EINVAL' | 'E2BIG' | 'ENOTSUPP'> = { [EINVAL]: 'EINVAL', [E2BIG]: 'E2BIG', [ERANGE]: 'EINVAL', [EOPNOTSUPP]: 'ENOTSUPP' };

/**
 * bpf_object__relocate_core() for one program: a copy of `insns` with every CO-RE relocation
 * applied against `targetBtf` (unresolvable ones poisoned). Throws a BpfError with libbpf's
 * message when a relocation is malformed or ambiguous.
 */
export function applyCoreRelocations(
  insns: readonly Insn[], coreRelos: readonly CoreReloRecord[], localBtf: Btf, targetBtf: Btf, opts: CoreRelocateOptions = {},
): Insn[] {
  const out = insns.map((i) => copyInsn(i));
  const prog = opts.progName ?? '';
  const lines: string[] = [];
  const log = (s: string): void => {
    lines.push(s);
    opts.log?.(s);
  };
  const cache = opts.candCache ?? new Map<number, Cand[]>();
  const fail = (msg: string, err: number): never => {
    throw new BpfError(ERRNO_NAME[err] ?? 'EINVAL', `${lines.length ? lines[lines.length - 1] + '; ' : ''}${msg}`);
  };
  coreRelos.forEach((relo, i) => {
    if (relo.insn < 0 || relo.insn >= out.length) fail(`prog '${prog}': relo #${i}: insn #${relo.insn} is outside the program (${out.length} insns)`, EINVAL);
    const lt = localBtf.types[relo.typeId];
    if (!lt) fail(`prog '${prog}': relo #${i}: bad type id ${relo.typeId}`, EINVAL);
    let cands = cache.get(relo.typeId);
    if (relo.kind !== BPF_CORE.TYPE_ID_LOCAL && !cands) {
      if (!lt.name) fail(`prog '${prog}': relo #${i}: target candidate search failed for [${relo.typeId}] ${btfKindStr(lt)} : -22`, EINVAL);
      cands = findCoreCandidates(localBtf, relo.typeId, targetBtf);
      for (const c of cands) {
        const ct = c.btf.type(c.id);
        log(`CO-RE relocating [${relo.typeId}] ${btfKindStr(lt)} ${lt.name}: found target candidate [${c.id}] ${btfKindStr(ct)} ${ct.name} in [${opts.targetName ?? 'vmlinux'}]`);
      }
      cache.set(relo.typeId, cands);
    }
    const r = calcReloInsn(relo, i, localBtf, cands ?? [], log, prog);
    if (cands) cache.set(relo.typeId, r.cands);
    if (r.err || !r.res) fail(`prog '${prog}': relo #${i}: failed to relocate: ${r.err}`, r.err || EINVAL);
    const err = patchInsn(out, relo.insn, i, r.res!, log, prog);
    if (err) fail(`prog '${prog}': relo #${i}: failed to patch insn #${relo.insn}: ${err}`, err);
  });
  return out;
}

/**
 * A CO-RE relocator for the loader (kernel/load.ts's CoreRelocator shape): relocates a program of
 * an object against the target BTF the load names, or else `defaultTarget` (e.g. the host's
 * /sys/kernel/btf/vmlinux, read on first use), sharing libbpf's per-object candidate cache.
 */
export function coreRelocatorFor(defaultTarget?: Btf | (() => Btf), opts: Omit<CoreRelocateOptions, 'progName' | 'candCache'> = {}):
  (obj: { btf?: Btf }, prog: { name: string; coreRelos: CoreReloRecord[] }, insns: Insn[], targetBtf?: Btf) => Insn[] {
  const caches = new WeakMap<object, Map<Btf, Map<number, Cand[]>>>();
  let resolved: Btf | undefined;
  return (obj, prog, insns, targetBtf) => {
    if (!prog.coreRelos.length) return insns;
    if (!obj.btf) throw new BpfError('EINVAL', `prog '${prog.name}': CO-RE relocations need the object's BTF`);
    let target = targetBtf;
    if (!target) {
      if (!defaultTarget) throw new BpfError('ENOENT', `prog '${prog.name}': CO-RE relocations need a target BTF (no kernel BTF given)`);
      resolved ??= typeof defaultTarget === 'function' ? defaultTarget() : defaultTarget;
      target = resolved;
    }
    let perObj = caches.get(obj);
    if (!perObj) caches.set(obj, perObj = new Map());
    let cache = perObj.get(target);
    if (!cache) perObj.set(target, cache = new Map());
    return applyCoreRelocations(insns, prog.coreRelos, obj.btf, target, { ...opts, progName: prog.name, candCache: cache });
  };
}

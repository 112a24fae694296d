/*
 * BTF to C, as libbpf's btf_dump.c (btf_dump__dump_type()) writes it and bpftool's `btf dump ...
 * format c` prints it: types topologically ordered so every embedded type is defined before use
 * (btf_dump_order_type(): strong links through embedding, weak ones through pointers with forward
 * declarations), anonymous structs/unions/enums inline, bitfields and explicit padding
 * (btf_dump_emit_bit_padding()), `__attribute__((packed))` when the layout needs it, duplicate
 * names made unique with `___N`, and the declarator syntax of arrays and function pointers
 * (btf_dump_emit_type_chain()). dumpBtfC() adds bpftool's vmlinux.h header and footer.
 */
import { BpfError } from '../errors.js';
import { BTF_KIND, type Btf, type BtfComposite, type BtfEnum, type BtfEnum64, type BtfRef, type BtfType } from './types.js';

const NOT_ORDERED = 0;
const ORDERING = 1;
const ORDERED = 2;
const NOT_EMITTED = 0;
const EMITTING = 1;
const EMITTED = 2;

const LONG_ALIASES = new Set([
  'long', 'long int', 'int long', 'unsigned long', 'long unsigned', 'unsigned long int', 'unsigned int long',
  'long unsigned int', 'long int unsigned', 'int unsigned long', 'int long unsigned',
]);

/** determine_ptr_size(): the size of `long` if the BTF has one, else 8 (a 64-bit host). */
export function btfPointerSize(btf: Btf): number {
  if (btf.base) return btfPointerSize(btf.base);
  for (let i = 1; i < btf.types.length; i++) {
    const t = btf.types[i];
    if (t.kind !== BTF_KIND.INT || (t.size !== 4 && t.size !== 8)) continue;
    if (LONG_ALIASES.has(t.name)) return t.size;
  }
  return 8;
}

/** btf__align_of(); 0 for kinds without an alignment. */
export function btfAlignOf(btf: Btf, id: number, ptrSize = btfPointerSize(btf), depth = 0): number {
  if (depth > 64) return 0;
  const t = btf.type(id);
  switch (t.kind) {
    case BTF_KIND.INT: case BTF_KIND.ENUM: case BTF_KIND.ENUM64: case BTF_KIND.FLOAT:
      return Math.min(ptrSize, t.size);
    case BTF_KIND.PTR:
      return ptrSize;
    case BTF_KIND.TYPEDEF: case BTF_KIND.VOLATILE: case BTF_KIND.CONST: case BTF_KIND.RESTRICT: case BTF_KIND.TYPE_TAG:
      return btfAlignOf(btf, t.type, ptrSize, depth + 1);
    case BTF_KIND.ARRAY:
      return btfAlignOf(btf, t.type, ptrSize, depth + 1);
    case BTF_KIND.STRUCT: case BTF_KIND.UNION: {
      let maxAlign = 1;
      for (const m of t.members) {
        const align = btfAlignOf(btf, m.type, ptrSize, depth + 1);
        if (align <= 0) return 0;
        maxAlign = Math.max(maxAlign, align);
        if (m.bitfieldSize === 0 && m.bitOffset % (8 * align) !== 0) return 1;
      }
      if (t.size % maxAlign !== 0) return 1;
      return maxAlign;
    }
    default:
      return 0;
  }
}

/** btf__resolve_size(), or -1 where the type has no size. */
function resolveSizeOr(btf: Btf, id: number): number {
  try {
    return btf.resolveSize(id);
  } catch {
    return -1;
  }
}

const isMod = (t: BtfType): boolean =>
  t.kind === BTF_KIND.VOLATILE || t.kind === BTF_KIND.CONST || t.kind === BTF_KIND.RESTRICT || t.kind === BTF_KIND.TYPE_TAG;

/** Deepest type nesting followed (real BTF, vmlinux included, stays far below). */
const MAX_NESTING = 2000;

const PREFIXES = '\t'.repeat(13);
const pfx = (lvl: number): string => (lvl >= PREFIXES.length ? PREFIXES : PREFIXES.slice(0, lvl));

export interface BtfDumpOptions {
  /** Pointer size for padding and enum attributes (default: from the BTF, as libbpf). */
  ptrSize?: number;
}

/** struct btf_dump: state kept across dumpType() calls so shared dependencies are emitted once. */
export class BtfCDumper {
  readonly btf: Btf;
  private readonly ptrSize: number;
  private readonly orderState: Uint8Array;
  private readonly emitState: Uint8Array;
  private readonly fwdEmitted: Uint8Array;
  private readonly referenced: Uint8Array;
  private readonly nameResolved: Uint8Array;
  private readonly cachedNames: (string | undefined)[];
  private readonly typeNames = new Map<string, number>();
  private readonly identNames = new Map<string, number>();
  private emitQueue: number[] = [];
  private out: string[] = [];
  /** Warnings libbpf would print (pr_warn). */
  readonly warnings: string[] = [];

  constructor(btf: Btf, opts: BtfDumpOptions = {}) {
    this.btf = btf;
    this.ptrSize = opts.ptrSize ?? btfPointerSize(btf);
    const n = btf.types.length;
    this.orderState = new Uint8Array(n);
    this.emitState = new Uint8Array(n);
    this.fwdEmitted = new Uint8Array(n);
    this.referenced = new Uint8Array(n);
    this.nameResolved = new Uint8Array(n);
    this.cachedNames = new Array(n);
    this.orderState[0] = ORDERED;
    this.emitState[0] = EMITTED;
    for (let i = 1; i < n; i++) this.markReferenced(btf.types[i]);
  }

  /** btf_dump_mark_referenced(). */
  private markReferenced(t: BtfType): void {
    const r = this.referenced;
    switch (t.kind) {
      case BTF_KIND.VOLATILE: case BTF_KIND.CONST: case BTF_KIND.RESTRICT: case BTF_KIND.PTR: case BTF_KIND.TYPEDEF:
      case BTF_KIND.FUNC: case BTF_KIND.VAR: case BTF_KIND.DECL_TAG: case BTF_KIND.TYPE_TAG:
        r[t.type] = 1;
        break;
      case BTF_KIND.ARRAY:
        r[t.indexType] = 1;
        r[t.type] = 1;
        break;
      case BTF_KIND.STRUCT: case BTF_KIND.UNION:
        for (const m of t.members) r[m.type] = 1;
        break;
      case BTF_KIND.FUNC_PROTO:
        for (const p of t.params) r[p.type] = 1;
        break;
      case BTF_KIND.DATASEC:
        for (const v of t.vars) r[v.type] = 1;
        break;
      default:
        break;
    }
  }

  /** btf_dump__dump_type(): the C text of `id` and whatever it needs that was not emitted yet. */
  dumpType(id: number): string {
    if (id >= this.btf.types.length) throw new BpfError('EINVAL', `BTF: no type with id ${id}`);
    this.depth = 0;
    this.out = [];
    this.emitQueue = [];
    const err = this.orderType(id, false);
    if (err < 0) throw new BpfError('EINVAL', `BTF: unsatisfiable type cycle, id:[${id}]`);
    for (const qid of this.emitQueue) this.emitType(qid, 0);
    return this.out.join('');
  }

  /** btf_dump__emit_type_decl(): a declaration of `fieldName` with type `id` (e.g. for kfunc prototypes). */
  typeDecl(id: number, fieldName = '', indent = 0): string {
    this.out = [];
    this.emitTypeDecl(id, fieldName, indent);
    return this.out.join('');
  }

  private p(s: string): void {
    this.out.push(s);
  }

  /** Recursion depth of orderType()/emitType()/emitTypeDecl(): malformed BTF with type loops ends in an error, not a crash. */
  private depth = 0;

  private enter(id: number): void {
    if (++this.depth > MAX_NESTING) throw new BpfError('EINVAL', `BTF: type [${id}]: type chain nests deeper than ${MAX_NESTING} (loop?)`);
  }

  /** btf_dump_order_type(): 1 = strong link, 0 = weak, <0 = error. */
  private orderType(id: number, throughPtr: boolean): number {
    this.enter(id);
    try {
      return this.orderTypeIn(id, throughPtr);
    } finally {
      this.depth--;
    }
  }

  private orderTypeIn(id: number, throughPtr: boolean): number {
    const state = this.orderState[id];
    if (state === ORDERED) return 1;
    const t = this.btf.type(id);
    if (state === ORDERING) {
      if ((t.kind === BTF_KIND.STRUCT || t.kind === BTF_KIND.UNION) && throughPtr && t.nameOff !== 0) return 0;
      this.warnings.push(`unsatisfiable type cycle, id:[${id}]`);
      return -1;
    }
    switch (t.kind) {
      case BTF_KIND.INT: case BTF_KIND.FLOAT:
        this.orderState[id] = ORDERED;
        return 0;
      case BTF_KIND.PTR: {
        const err = this.orderType(t.type, true);
        this.orderState[id] = ORDERED;
        return err;
      }
      case BTF_KIND.ARRAY:
        return this.orderType(t.type, false);
      case BTF_KIND.STRUCT: case BTF_KIND.UNION: {
        if (throughPtr && t.nameOff !== 0) return 0;
        this.orderState[id] = ORDERING;
        for (const m of t.members) {
          const err = this.orderType(m.type, false);
          if (err < 0) return err;
        }
        if (t.nameOff !== 0) this.emitQueue.push(id);
        this.orderState[id] = ORDERED;
        return 1;
      }
      case BTF_KIND.ENUM: case BTF_KIND.ENUM64: case BTF_KIND.FWD:
        if (t.nameOff !== 0 || !this.referenced[id]) this.emitQueue.push(id);
        this.orderState[id] = ORDERED;
        return 1;
      case BTF_KIND.TYPEDEF: {
        const isStrong = this.orderType(t.type, throughPtr);
        if (isStrong < 0) return isStrong;
        if (throughPtr && !isStrong) return 0;
        this.emitQueue.push(id);
        this.orderState[id] = ORDERED;
        return 1;
      }
      case BTF_KIND.VOLATILE: case BTF_KIND.CONST: case BTF_KIND.RESTRICT: case BTF_KIND.TYPE_TAG:
        return this.orderType(t.type, throughPtr);
      case BTF_KIND.FUNC_PROTO: {
        let err = this.orderType(t.returnType, throughPtr);
        if (err < 0) return err;
        let isStrong = err > 0;
        for (const p of t.params) {
          err = this.orderType(p.type, throughPtr);
          if (err < 0) return err;
          if (err > 0) isStrong = true;
        }
        return isStrong ? 1 : 0;
      }
      case BTF_KIND.FUNC: case BTF_KIND.VAR: case BTF_KIND.DATASEC: case BTF_KIND.DECL_TAG:
        this.orderState[id] = ORDERED;
        return 0;
      default:
        return -1;
    }
  }

  private isBlacklisted(id: number): boolean {
    const t = this.btf.type(id);
    return t.nameOff !== 0 && t.name === '__builtin_va_list';
  }

  /** btf_dump_emit_type(). */
  private emitType(id: number, contId: number): void {
    this.enter(id);
    try {
      this.emitTypeIn(id, contId);
    } finally {
      this.depth--;
    }
  }

  private emitTypeIn(id: number, contId: number): void {
    if (this.emitState[id] === EMITTED) return;
    const t = this.btf.type(id);
    const topLevel = contId === 0;
    if (this.emitState[id] === EMITTING) {
      if (this.fwdEmitted[id]) return;
      switch (t.kind) {
        case BTF_KIND.STRUCT: case BTF_KIND.UNION:
          if (id === contId) return;
          if (t.nameOff === 0) {
            this.warnings.push(`anonymous struct/union loop, id:[${id}]`);
            return;
          }
          this.emitStructFwd(id, t);
          this.p(';\n\n');
          this.fwdEmitted[id] = 1;
          break;
        case BTF_KIND.TYPEDEF:
          if (!this.isBlacklisted(id)) {
            this.emitTypedefDef(id, t, 0);
            this.p(';\n\n');
          }
          this.fwdEmitted[id] = 1;
          break;
        default:
          break;
      }
      return;
    }
    switch (t.kind) {
      case BTF_KIND.INT:
        this.emitMissingAliases(id);
        this.emitState[id] = EMITTED;
        break;
      case BTF_KIND.ENUM: case BTF_KIND.ENUM64:
        if (topLevel) {
          this.emitEnumDef(id, t, 0);
          this.p(';\n\n');
        }
        this.emitState[id] = EMITTED;
        break;
      case BTF_KIND.PTR: case BTF_KIND.VOLATILE: case BTF_KIND.CONST: case BTF_KIND.RESTRICT: case BTF_KIND.TYPE_TAG:
        this.emitType(t.type, contId);
        break;
      case BTF_KIND.ARRAY:
        this.emitType(t.type, contId);
        break;
      case BTF_KIND.FWD:
        this.emitFwdDef(id, t);
        this.p(';\n\n');
        this.emitState[id] = EMITTED;
        break;
      case BTF_KIND.TYPEDEF:
        this.emitState[id] = EMITTING;
        this.emitType(t.type, id);
        if (!this.fwdEmitted[id] && !this.isBlacklisted(id)) {
          this.emitTypedefDef(id, t, 0);
          this.p(';\n\n');
        }
        this.emitState[id] = EMITTED;
        break;
      case BTF_KIND.STRUCT: case BTF_KIND.UNION:
        this.emitState[id] = EMITTING;
        if (topLevel || t.nameOff === 0) {
          const newContId = t.nameOff === 0 ? contId : id;
          for (const m of t.members) this.emitType(m.type, newContId);
        } else if (!this.fwdEmitted[id] && id !== contId) {
          this.emitStructFwd(id, t);
          this.p(';\n\n');
          this.fwdEmitted[id] = 1;
        }
        if (topLevel) {
          this.emitStructDef(id, t, 0);
          this.p(';\n\n');
          this.emitState[id] = EMITTED;
        } else {
          this.emitState[id] = NOT_EMITTED;
        }
        break;
      case BTF_KIND.FUNC_PROTO:
        this.emitType(t.returnType, contId);
        for (const p of t.params) this.emitType(p.type, contId);
        break;
      default:
        break;
    }
  }

  /** btf_is_struct_packed(). */
  private isStructPacked(t: BtfComposite): boolean {
    let maxAlign = 1;
    for (const m of t.members) {
      const align = btfAlignOf(this.btf, m.type, this.ptrSize);
      if (align && m.bitfieldSize === 0 && m.bitOffset % (8 * align) !== 0) return true;
      maxAlign = Math.max(align, maxAlign);
    }
    return t.size % maxAlign !== 0;
  }

  /** btf_dump_emit_bit_padding(). */
  private emitBitPadding(curOff: number, nextOff: number, nextAlign: number, inBitfield: boolean, lvl: number): void {
    const pads: [string, number][] = [['long', this.ptrSize * 8], ['int', 32], ['short', 16], ['char', 8]];
    if (curOff >= nextOff) return;
    let newOff = 0;
    let padBits = 0;
    let padType = '';
    for (const [name, bits] of pads) {
      padBits = bits;
      padType = name;
      newOff = roundup(curOff, padBits);
      if (newOff <= nextOff) break;
    }
    if (newOff > curOff && newOff <= nextOff) {
      if (inBitfield
        || (newOff === nextOff && roundup(curOff, nextAlign * 8) !== newOff)
        || (newOff !== nextOff && nextOff - newOff <= newOff - curOff)) {
        this.p(`\n${pfx(lvl)}${padType}: ${inBitfield ? newOff - curOff : 0};`);
      }
      curOff = newOff;
    }
    while (curOff !== nextOff) {
      const bits = Math.min(nextOff - curOff, padBits);
      if (bits === padBits) {
        this.p(`\n${pfx(lvl)}${padType}: ${padBits};`);
        curOff += bits;
        continue;
      }
      for (let i = pads.length - 1; i >= 0; i--) {
        padType = pads[i][0];
        padBits = pads[i][1];
        if (padBits < bits) continue;
        this.p(`\n${pfx(lvl)}${padType}: ${bits};`);
        curOff += bits;
        break;
      }
    }
  }

  private emitStructFwd(id: number, t: BtfComposite): void {
    this.p(`${t.kind === BTF_KIND.STRUCT ? 'struct' : 'union'}${t.nameOff ? ' ' : ''}${this.typeName(id)}`);
  }

  /** btf_dump_emit_struct_def(). */
  private emitStructDef(id: number, t: BtfComposite, lvl: number): void {
    const isStruct = t.kind === BTF_KIND.STRUCT;
    const align = btfAlignOf(this.btf, id, this.ptrSize);
    const packed = isStruct ? this.isStructPacked(t) : false;
    this.p(`${isStruct ? 'struct' : 'union'}${t.nameOff ? ' ' : ''}${this.typeName(id)} {`);
    let off = 0;
    let prevBitfield = false;
    for (const m of t.members) {
      let mSz = m.bitfieldSize;
      const mOff = m.bitOffset;
      const mAlign = packed ? 1 : btfAlignOf(this.btf, m.type, this.ptrSize);
      const inBitfield = prevBitfield && mSz !== 0;
      this.emitBitPadding(off, mOff, mAlign, inBitfield, lvl + 1);
      this.p(`\n${pfx(lvl + 1)}`);
      this.emitTypeDecl(m.type, m.name, lvl + 1);
      if (mSz) {
        this.p(`: ${mSz}`);
        off = mOff + mSz;
        prevBitfield = true;
      } else {
        mSz = Math.max(0, resolveSizeOr(this.btf, m.type));
        off = mOff + mSz * 8;
        prevBitfield = false;
      }
      this.p(';');
    }
    if (isStruct) this.emitBitPadding(off, t.size * 8, align, false, lvl + 1);
    if (t.members.length || t.size) {
      this.p('\n');
      this.p(`${pfx(lvl)}}`);
    } else {
      this.p('}');
    }
    if (packed) this.p(' __attribute__((packed))');
  }

  private emitMissingAliases(id: number): void {
    const name = this.typeName(id);
    const alias = MISSING_BASE_TYPES.get(name);
    if (alias) this.p(`typedef ${alias} ${name};\n\n`);
  }

  private emitEnumFwd(id: number): void {
    this.p(`enum ${this.typeName(id)}`);
  }

  /** btf_dump_emit_enum_def(). */
  private emitEnumDef(id: number, t: BtfEnum | BtfEnum64, lvl: number): void {
    this.p(`enum${t.nameOff ? ' ' : ''}${this.typeName(id)}`);
    if (!t.values.length) return;
    this.p(' {');
    for (const v of t.values) {
      const dup = this.nameDups(this.identNames, v.name);
      const name = dup > 1 ? `${v.name}___${dup}` : v.name;
      if (t.kind === BTF_KIND.ENUM) this.p(`\n${pfx(lvl + 1)}${name} = ${v.value},`);
      else this.p(`\n${pfx(lvl + 1)}${name} = ${v.value}${t.signed ? 'LL' : 'ULL'},`);
    }
    this.p(`\n${pfx(lvl)}}`);
    // libbpf 1.1 (bpftool 7.1) adds no mode(byte)/mode(word) attributes for 1- and 8-byte enums.
  }

  private emitFwdDef(id: number, t: Extract<BtfType, { kind: typeof BTF_KIND.FWD }>): void {
    this.p(`${t.union ? 'union' : 'struct'} ${this.typeName(id)}`);
  }

  private emitTypedefDef(id: number, t: BtfRef, lvl: number): void {
    const name = this.identName(id);
    if (t.type === 0 && name === '__gnuc_va_list') {
      this.p('typedef __builtin_va_list __gnuc_va_list');
      return;
    }
    this.p('typedef ');
    this.emitTypeDecl(t.type, name, lvl);
  }

  /** btf_dump_emit_type_decl(): push the chain down to a terminal type, then emit it. */
  private emitTypeDecl(id: number, fname: string, lvl: number): void {
    this.enter(id);
    try {
      this.emitTypeDeclIn(id, fname, lvl);
    } finally {
      this.depth--;
    }
  }

  private emitTypeDeclIn(id: number, fname: string, lvl: number): void {
    const stack: number[] = [];
    for (let guard = 0; ; guard++) {
      if (guard > MAX_NESTING) throw new BpfError('EINVAL', `BTF: type [${id}]: declaration chain longer than ${MAX_NESTING} (loop?)`);
      stack.push(id);
      if (id === 0) break;
      const t = this.btf.type(id);
      let next: number | undefined;
      switch (t.kind) {
        case BTF_KIND.PTR: case BTF_KIND.VOLATILE: case BTF_KIND.CONST: case BTF_KIND.RESTRICT: case BTF_KIND.TYPE_TAG:
          next = t.type;
          break;
        case BTF_KIND.FUNC_PROTO:
          next = t.returnType;
          break;
        case BTF_KIND.ARRAY:
          next = t.type;
          break;
        case BTF_KIND.INT: case BTF_KIND.ENUM: case BTF_KIND.ENUM64: case BTF_KIND.FWD: case BTF_KIND.STRUCT:
        case BTF_KIND.UNION: case BTF_KIND.TYPEDEF: case BTF_KIND.FLOAT:
          break;
        default:
          this.warnings.push(`unexpected type in decl chain, kind:${t.kind}, id:[${id}]`);
          break;
      }
      if (next === undefined) break;
      id = next;
    }
    this.emitTypeChain({ ids: stack, cnt: stack.length }, fname, lvl);
  }

  private emitMods(decls: IdStack): void {
    while (decls.cnt) {
      const t = this.btf.type(decls.ids[decls.cnt - 1]);
      if (t.kind === BTF_KIND.VOLATILE) this.p('volatile ');
      else if (t.kind === BTF_KIND.CONST) this.p('const ');
      else if (t.kind === BTF_KIND.RESTRICT) this.p('restrict ');
      else return;
      decls.cnt--;
    }
  }

  private dropMods(decls: IdStack): void {
    while (decls.cnt) {
      const t = this.btf.type(decls.ids[decls.cnt - 1]);
      if (!isMod(t)) return;
      decls.cnt--;
    }
  }

  private emitName(name: string, lastWasPtr: boolean): void {
    this.p(`${name && !lastWasPtr ? ' ' : ''}${name}`);
  }

  /** btf_dump_emit_type_chain(). */
  private emitTypeChain(decls: IdStack, fname: string, lvl: number): void {
    let lastWasPtr = true;
    while (decls.cnt) {
      const id = decls.ids[--decls.cnt];
      if (id === 0) {
        this.emitMods(decls);
        this.p('void');
        lastWasPtr = false;
        continue;
      }
      const t = this.btf.type(id);
      switch (t.kind) {
        case BTF_KIND.INT: case BTF_KIND.FLOAT:
          this.emitMods(decls);
          this.p(t.name);
          break;
        case BTF_KIND.STRUCT: case BTF_KIND.UNION:
          this.emitMods(decls);
          if (t.nameOff === 0) this.emitStructDef(id, t, lvl);
          else this.emitStructFwd(id, t);
          break;
        case BTF_KIND.ENUM: case BTF_KIND.ENUM64:
          this.emitMods(decls);
          if (t.nameOff === 0) this.emitEnumDef(id, t, lvl);
          else this.emitEnumFwd(id);
          break;
        case BTF_KIND.FWD:
          this.emitMods(decls);
          this.emitFwdDef(id, t);
          break;
        case BTF_KIND.TYPEDEF:
          this.emitMods(decls);
          this.p(this.identName(id));
          break;
        case BTF_KIND.PTR:
          this.p(lastWasPtr ? '*' : ' *');
          break;
        case BTF_KIND.VOLATILE:
          this.p(' volatile');
          break;
        case BTF_KIND.CONST:
          this.p(' const');
          break;
        case BTF_KIND.RESTRICT:
          this.p(' restrict');
          break;
        case BTF_KIND.TYPE_TAG:
          this.emitMods(decls);
          this.p(` __attribute__((btf_type_tag("${t.name}")))`);
          break;
        case BTF_KIND.ARRAY: {
          this.dropMods(decls);
          if (decls.cnt === 0) {
            this.emitName(fname, lastWasPtr);
            this.p(`[${t.nelems}]`);
            return;
          }
          const next = this.btf.type(decls.ids[decls.cnt - 1]);
          const multidim = next.kind === BTF_KIND.ARRAY;
          if (fname && !lastWasPtr) this.p(' ');
          if (!multidim) this.p('(');
          this.emitTypeChain(decls, fname, lvl);
          if (!multidim) this.p(')');
          this.p(`[${t.nelems}]`);
          return;
        }
        case BTF_KIND.FUNC_PROTO: {
          this.dropMods(decls);
          if (decls.cnt) {
            this.p(' (');
            this.emitTypeChain(decls, fname, lvl);
            this.p(')');
          } else {
            this.emitName(fname, lastWasPtr);
          }
          this.p('(');
          const ps = t.params;
          if (ps.length === 0 || (ps.length === 1 && ps[0].type === 0)) {
            this.p('void)');
            return;
          }
          for (let i = 0; i < ps.length; i++) {
            if (i > 0) this.p(', ');
            if (i === ps.length - 1 && ps[i].type === 0) {
              this.p('...');
              break;
            }
            this.emitTypeDecl(ps[i].type, ps[i].name, lvl);
          }
          this.p(')');
          return;
        }
        default:
          this.warnings.push(`unexpected type in decl chain, kind:${t.kind}, id:[${id}]`);
          return;
      }
      lastWasPtr = t.kind === BTF_KIND.PTR;
    }
    this.emitName(fname, lastWasPtr);
  }

  /** btf_dump_name_dups(): occurrences of `name` so far, this one included. */
  private nameDups(map: Map<string, number>, name: string): number {
    const n = (map.get(name) ?? 0) + 1;
    map.set(name, n);
    return n;
  }

  /** btf_dump_resolve_name(). */
  private resolveName(id: number, map: Map<string, number>): string {
    const t = this.btf.type(id);
    if (t.nameOff === 0) return '';
    if (this.nameResolved[id]) return this.cachedNames[id] ?? t.name;
    if (t.kind === BTF_KIND.FWD || (t.kind === BTF_KIND.ENUM && t.values.length === 0)) {
      this.nameResolved[id] = 1;
      return t.name;
    }
    const dup = this.nameDups(map, t.name);
    if (dup > 1) this.cachedNames[id] = `${t.name}___${dup}`;
    this.nameResolved[id] = 1;
    return this.cachedNames[id] ?? t.name;
  }

  private typeName(id: number): string {
    return this.resolveName(id, this.typeNames);
  }

  private identName(id: number): string {
    return this.resolveName(id, this.identNames);
  }
}

interface IdStack { ids: number[]; cnt: number }

const MISSING_BASE_TYPES = new Map([
  ['__Poly8_t', 'unsigned char'], ['__Poly16_t', 'unsigned short'], ['__Poly64_t', 'unsigned long long'],
  ['__Poly128_t', 'unsigned __int128'],
]);

function roundup(x: number, y: number): number {
  return Math.ceil(x / y) * y;
}

/** bpftool's dump_btf_c(): every type (or the roots) in C, inside the vmlinux.h guard. */
export function dumpBtfC(btf: Btf, rootIds?: readonly number[], opts: BtfDumpOptions = {}): string {
  const d = new BtfCDumper(btf, opts);
  const parts: string[] = [
    '#ifndef __VMLINUX_H__\n#define __VMLINUX_H__\n\n',
    '#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n',
    '#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)\n',
    '#endif\n\n',
  ];
  if (rootIds && rootIds.length) {
    for (const id of rootIds) parts.push(d.dumpType(id));
  } else {
    for (let id = 1; id < btf.types.length; id++) parts.push(d.dumpType(id));
  }
  parts.push('#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n#pragma clang attribute pop\n#endif\n\n#endif /* __VMLINUX_H__ */\n');
  return parts.join('');
}

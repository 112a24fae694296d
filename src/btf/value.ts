/*
 * Map keys and values formatted by their BTF types, as bpftool's btf_dumper.c (v7.1) writes them
 * into a json_writer: structs as objects, arrays as arrays (char arrays holding a printable
 * NUL-terminated string as a string), enums by enumerator name, bitfields and 128-bit ints in hex,
 * pointers as `0x...`/`(nil)` in plain text or decimal in JSON, DATASECs as `{".bss": [{"var": v}]}`.
 * Plain-text mode (`map dump` without -j) is the same writer in pretty mode with is_plain_text set;
 * -j puts the compact form under "formatted". Numbers are formatted from bytes (bigint for 64 bits),
 * so every digit is exact. Quirks of btf_dumper are kept (bool reads 4 bytes; enums compare as
 * signed; FLOAT is "(unsupported-kind").
 */
import { BTF_INT_BOOL, BTF_INT_CHAR, BTF_INT_SIGNED, BTF_KIND, MAX_RESOLVE_DEPTH, type Btf, type BtfArray } from './types.js';
import { BpfJsonWriter } from './json_writer.js';

/** What btf_dumper writes to: bpftool's json_writer API (json_writer.ts's BpfJsonWriter fits). */
export interface BtfJsonSink {
  startObject(): void;
  endObject(): void;
  startArray(): void;
  endArray(): void;
  name(name: string): void;
  /** jsonw_printf(): text as is. */
  raw(text: string): void;
  /** jsonw_string(): quoted and escaped. */
  string(value: string): void;
  bool(value: boolean): void;
}

const EINVAL = -22;

/** Little-endian unsigned read of `n` bytes at `off` (bytes past the end read as 0, as bpftool reads past). */
function readLe(data: Uint8Array, off: number, n: number): bigint {
  let v = 0n;
  for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(data[off + i] ?? 0);
  return v;
}

const hex = (v: bigint): string => v.toString(16);

/** btf_int128_print(). */
function int128Print(w: BtfJsonSink, v: bigint, plain: boolean): void {
  const upper = v >> 64n;
  const lower = v & 0xffffffffffffffffn;
  const text = upper === 0n ? `0x${hex(lower)}` : `0x${hex(upper)}${hex(lower).padStart(16, '0')}`;
  w.raw(plain ? text : `"${text}"`);
}

/** btf_dumper_bitfield(): `nrBits` bits at `bitOffset` (< 8) from `off`, printed in hex. */
function bitfield(w: BtfJsonSink, nrBits: number, bitOffset: number, data: Uint8Array, off: number, plain: boolean): void {
  const bytes = Math.min(16, Math.ceil((bitOffset + nrBits) / 8));
  const num = readLe(data, off, bytes);
  const v = (num >> BigInt(bitOffset)) & ((1n << BigInt(nrBits)) - 1n);
  int128Print(w, v, plain);
}

function isPrint(c: number): boolean {
  return c >= 0x20 && c < 0x7f;
}

class Dumper {
  readonly btf: Btf;
  readonly w: BtfJsonSink;
  readonly plain: boolean;

  constructor(btf: Btf, w: BtfJsonSink, plain: boolean) {
    this.btf = btf;
    this.w = w;
    this.plain = plain;
  }

  /** btf_dumper_do_type(). */
  doType(typeId: number, bitOffset: number, data: Uint8Array, off: number, depth = 0): number {
    if (depth > 4 * MAX_RESOLVE_DEPTH) return EINVAL;
    const t = this.btf.types[typeId];
    if (!t) return EINVAL;
    const w = this.w;
    switch (t.kind) {
      case BTF_KIND.INT:
        return this.int(t.encoding, t.bitOffset, t.bits, bitOffset, data, off);
      case BTF_KIND.STRUCT: case BTF_KIND.UNION: {
        let ret = 0;
        w.startObject();
        for (const m of t.members) {
          w.name(m.name);
          const dOff = off + (m.bitOffset >>> 3);
          if (m.bitfieldSize) {
            bitfield(w, m.bitfieldSize, m.bitOffset & 7, data, dOff, this.plain);
          } else {
            ret = this.doType(m.type, m.bitOffset & 7, data, dOff, depth + 1);
            if (ret) break;
          }
        }
        w.endObject();
        return ret;
      }
      case BTF_KIND.ARRAY:
        return this.array(t, data, off, depth);
      case BTF_KIND.ENUM: {
        let value: bigint;
        switch (t.size) {
          case 8: value = BigInt.asIntN(64, readLe(data, off, 8)); break;
          case 4: value = BigInt.asIntN(32, readLe(data, off, 4)); break;
          case 2: value = BigInt.asIntN(16, readLe(data, off, 2)); break;
          case 1: value = BigInt.asIntN(8, readLe(data, off, 1)); break;
          default: return EINVAL;
        }
        for (const e of t.values) {
          if (value === BigInt(e.value | 0)) {
            w.string(e.name);
            return 0;
          }
        }
        w.raw(value.toString());
        return 0;
      }
      case BTF_KIND.ENUM64: {
        const value = readLe(data, off, 8);
        for (const e of t.values) {
          if (value === BigInt.asUintN(64, e.value)) {
            w.string(e.name);
            return 0;
          }
        }
        w.raw(BigInt.asIntN(64, value).toString());
        return 0;
      }
      case BTF_KIND.PTR: {
        const value = readLe(data, off, 8);
        if (this.plain) w.raw(value === 0n ? '(nil)' : `0x${hex(value)}`);
        else w.raw(value.toString());
        return 0;
      }
      case BTF_KIND.UNKN:
        w.raw('(unknown)');
        return 0;
      case BTF_KIND.FWD:
        w.raw('(fwd-kind-invalid)');
        return EINVAL;
      case BTF_KIND.TYPEDEF: case BTF_KIND.VOLATILE: case BTF_KIND.CONST: case BTF_KIND.RESTRICT: {
        // btf__resolve_type(): through typedefs, modifiers (TYPE_TAG included) and VARs.
        let id = typeId;
        for (let i = 0; i <= MAX_RESOLVE_DEPTH; i++) {
          const r = this.btf.types[id];
          if (!r) return EINVAL;
          if (id !== 0 && (r.kind === BTF_KIND.TYPEDEF || r.kind === BTF_KIND.VOLATILE || r.kind === BTF_KIND.CONST
            || r.kind === BTF_KIND.RESTRICT || r.kind === BTF_KIND.TYPE_TAG || r.kind === BTF_KIND.VAR)) {
            id = r.type;
            continue;
          }
          return this.doType(id, bitOffset, data, off, depth + 1);
        }
        return EINVAL;
      }
      case BTF_KIND.VAR: {
        w.startObject();
        w.name(t.name);
        const ret = this.doType(t.type, bitOffset, data, off, depth + 1);
        w.endObject();
        return ret;
      }
      case BTF_KIND.DATASEC: {
        let ret = 0;
        w.startObject();
        w.name(t.name);
        w.startArray();
        for (const v of t.vars) {
          ret = this.doType(v.type, 0, data, off + v.offset, depth + 1);
          if (ret) break;
        }
        w.endArray();
        w.endObject();
        return ret;
      }
      default:
        w.raw('(unsupported-kind');
        return EINVAL;
    }
  }

  /** btf_dumper_int(). */
  private int(encoding: number, intOffset: number, nrBits: number, bitOffset: number, data: Uint8Array, off: number): number {
    const w = this.w;
    if (bitOffset || intOffset || nrBits & 7) {
      this.intBits(intOffset, nrBits, bitOffset, data, off);
      return 0;
    }
    if (nrBits === 128) {
      int128Print(w, readLe(data, off, 16), this.plain);
      return 0;
    }
    switch (encoding) {
      case 0: case BTF_INT_SIGNED:
        if (nrBits === 64 || nrBits === 32 || nrBits === 16 || nrBits === 8) {
          const v = readLe(data, off, nrBits / 8);
          w.raw((encoding ? BigInt.asIntN(nrBits, v) : v).toString());
        } else {
          this.intBits(intOffset, nrBits, bitOffset, data, off);
        }
        return 0;
      case BTF_INT_CHAR: {
        const c = data[off] ?? 0;
        if (isPrint(c)) w.raw(`"${String.fromCharCode(c)}"`);
        else if (this.plain) w.raw(`0x${c.toString(16)}`);
        else w.raw(`"\\u00${c.toString(16).padStart(2, '0')}"`);
        return 0;
      }
      case BTF_INT_BOOL:
        // jsonw_bool(jw, *(int *)data): four bytes, whatever the int's size.
        w.bool(readLe(data, off, 4) !== 0n);
        return 0;
      default:
        return EINVAL;
    }
  }

  /** btf_dumper_int_bits(). */
  private intBits(intOffset: number, nrBits: number, bitOffset: number, data: Uint8Array, off: number): void {
    const total = bitOffset + intOffset;
    bitfield(this.w, nrBits, total & 7, data, off + (total >>> 3), this.plain);
  }

  /** is_str_array(): a char array holding a printable, NUL-terminated string. */
  private strArray(arr: BtfArray, data: Uint8Array, off: number): string | undefined {
    if (!arr.nelems) return undefined;
    let elem = this.btf.types[arr.type];
    for (let i = 0; elem && i <= MAX_RESOLVE_DEPTH
      && (elem.kind === BTF_KIND.VOLATILE || elem.kind === BTF_KIND.CONST || elem.kind === BTF_KIND.RESTRICT
        || elem.kind === BTF_KIND.TYPE_TAG); i++) {
      elem = this.btf.types[elem.type];
    }
    if (!elem || elem.kind !== BTF_KIND.INT || elem.size !== 1) return undefined;
    if (elem.encoding !== BTF_INT_CHAR && elem.name !== 'char') return undefined;
    let s = '';
    for (let i = 0; i < arr.nelems; i++) {
      const c = data[off + i] ?? 0;
      if (c === 0) return s;
      if (!isPrint(c)) return undefined;
      s += String.fromCharCode(c);
    }
    return undefined;
  }

  /** btf_dumper_array(). */
  private array(arr: BtfArray, data: Uint8Array, off: number, depth: number): number {
    const s = this.strArray(arr, data, off);
    if (s !== undefined) {
      this.w.string(s);
      return 0;
    }
    let elemSize: number;
    try {
      elemSize = this.btf.resolveSize(arr.type);
    } catch {
      return EINVAL;
    }
    let ret = 0;
    this.w.startArray();
    for (let i = 0; i < arr.nelems; i++) {
      ret = this.doType(arr.type, 0, data, off + i * elemSize, depth + 1);
      if (ret) break;
    }
    this.w.endArray();
    return ret;
  }
}

/**
 * btf_dumper_type(): write `data` (at `offset`) as type `typeId` into `sink`. `plainText` is
 * bpftool's is_plain_text (map dump without -j). Returns 0, or a negative errno where bpftool's
 * dumper stops (unsupported kinds).
 */
export function dumpBtfValue(sink: BtfJsonSink, btf: Btf, typeId: number, data: Uint8Array, plainText: boolean, offset = 0): number {
  return new Dumper(btf, sink, plainText).doType(typeId, 0, data, offset);
}

export interface BtfMapEntryInfo {
  /** btf_key_type_id (0: no key printed). */
  keyTypeId: number;
  valueTypeId: number;
  valueSize: number;
  /** Per-CPU map: `value` holds one slot per CPU, each rounded up to 8 bytes. */
  perCpu?: boolean;
  nCpus?: number;
}

/**
 * do_dump_btf() of bpftool's map.c: `{"key": ..., "value": ...}` (per-CPU maps: `"values": [{"cpu":
 * N, "value": ...}]`) for one map entry.
 */
export function dumpBtfMapEntry(
  sink: BtfJsonSink, btf: Btf, info: BtfMapEntryInfo, key: Uint8Array, value: Uint8Array, plainText: boolean,
): number {
  const d = new Dumper(btf, sink, plainText);
  let ret = 0;
  sink.startObject();
  if (info.keyTypeId) {
    sink.name('key');
    ret = d.doType(info.keyTypeId, 0, key, 0);
    if (ret) {
      sink.endObject();
      return ret;
    }
  }
  if (!info.perCpu) {
    sink.name('value');
    ret = d.doType(info.valueTypeId, 0, value, 0);
  } else {
    sink.name('values');
    sink.startArray();
    const step = Math.ceil(info.valueSize / 8) * 8;
    for (let i = 0; i < (info.nCpus ?? 1); i++) {
      sink.startObject();
      sink.name('cpu');
      sink.raw(String(i));
      sink.name('value');
      ret = d.doType(info.valueTypeId, 0, value, i * step);
      sink.endObject();
      if (ret) break;
    }
    sink.endArray();
  }
  sink.endObject();
  return ret;
}

/* -------------------------------------------------------------------------------------------- */

/**
 * A value formatted by its BTF type as text: `json` = the compact JSON bpftool puts under
 * "formatted" with -j; otherwise the plain-text form (pretty, is_plain_text) of `map dump`, as
 * printed at the top level of bpftool's writer.
 */
export function formatBtfValue(btf: Btf, typeId: number, bytes: Uint8Array, json: boolean): string {
  const w = new BpfJsonWriter(!json);
  dumpBtfValue(w, btf, typeId, bytes, !json);
  return w.text();
}

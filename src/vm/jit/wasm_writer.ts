/*
 * A small WebAssembly binary writer (the core spec's binary format, plus the sign-extension,
 * bulk-memory, multi-value and threads opcodes the JIT uses): a growable byte buffer with LEB128,
 * and a module builder holding types, imports, functions, globals and exports.
 *
 * Only what the eBPF JIT needs: one imported memory, an imported funcref table, imported functions
 * and immutable i32 globals, module-defined mutable i32/i64/f64 globals, functions with i32/i64/f64 locals (f64
 * carries helper arguments and results to the host without BigInt).
 */

export const I32 = 0x7f;
export const I64 = 0x7e;
export const F64 = 0x7c;
export type ValType = typeof I32 | typeof I64 | typeof F64;

/** Opcodes used by the JIT (single-byte ones; 0xfc/0xfe prefixed ones are written with their prefix). */
export const Op = {
  unreachable: 0x00, block: 0x02, loop: 0x03, if: 0x04, else: 0x05, end: 0x0b, br: 0x0c, br_if: 0x0d,
  br_table: 0x0e, return: 0x0f, call: 0x10, call_indirect: 0x11, drop: 0x1a, select: 0x1b,
  local_get: 0x20, local_set: 0x21, local_tee: 0x22, global_get: 0x23, global_set: 0x24,
  i32_load: 0x28, i64_load: 0x29, i32_load8_u: 0x2d, i32_load16_u: 0x2f,
  i64_load8_s: 0x30, i64_load8_u: 0x31, i64_load16_s: 0x32, i64_load16_u: 0x33, i64_load32_s: 0x34, i64_load32_u: 0x35,
  i32_store: 0x36, i64_store: 0x37, i64_store8: 0x3c, i64_store16: 0x3d, i64_store32: 0x3e,
  i32_const: 0x41, i64_const: 0x42,
  i32_eqz: 0x45, i32_eq: 0x46, i32_ne: 0x47, i32_lt_s: 0x48, i32_lt_u: 0x49, i32_gt_s: 0x4a, i32_gt_u: 0x4b,
  i32_le_s: 0x4c, i32_le_u: 0x4d, i32_ge_s: 0x4e, i32_ge_u: 0x4f,
  i64_eqz: 0x50, i64_eq: 0x51, i64_ne: 0x52, i64_lt_s: 0x53, i64_lt_u: 0x54, i64_gt_s: 0x55, i64_gt_u: 0x56,
  i64_le_s: 0x57, i64_le_u: 0x58, i64_ge_s: 0x59, i64_ge_u: 0x5a,
  i32_add: 0x6a, i32_sub: 0x6b, i32_mul: 0x6c, i32_div_s: 0x6d, i32_div_u: 0x6e, i32_rem_s: 0x6f, i32_rem_u: 0x70,
  i32_and: 0x71, i32_or: 0x72, i32_xor: 0x73, i32_shl: 0x74, i32_shr_s: 0x75, i32_shr_u: 0x76, i32_rotl: 0x77, i32_rotr: 0x78,
  i64_add: 0x7c, i64_sub: 0x7d, i64_mul: 0x7e, i64_div_s: 0x7f, i64_div_u: 0x80, i64_rem_s: 0x81, i64_rem_u: 0x82,
  i64_and: 0x83, i64_or: 0x84, i64_xor: 0x85, i64_shl: 0x86, i64_shr_s: 0x87, i64_shr_u: 0x88,
  i32_wrap_i64: 0xa7, i64_extend_i32_s: 0xac, i64_extend_i32_u: 0xad,
  f64_const: 0x44, f64_eq: 0x61, f64_ne: 0x62, i64_trunc_f64_s: 0xb0, f64_convert_i64_u: 0xba,
  i32_extend8_s: 0xc0, i32_extend16_s: 0xc1, i64_extend8_s: 0xc2, i64_extend16_s: 0xc3, i64_extend32_s: 0xc4,
} as const;

const F64_SCRATCH = new Float64Array(1);
const F64_BYTES = new Uint8Array(F64_SCRATCH.buffer);

/** A growable byte buffer with the LEB128 encodings. */
export class ByteWriter {
  private buf: Uint8Array;
  length = 0;

  constructor(capacity = 256) {
    this.buf = new Uint8Array(Math.max(16, capacity));
  }

  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }

  /** Empty it, keeping its buffer (a writer reused across compiles grows once, not per module). */
  reset(): this {
    this.length = 0;
    return this;
  }

  /** Bytes the buffer holds before it must grow. */
  get capacity(): number {
    return this.buf.length;
  }

  /**
   * Room for a u32 written later by patchU32(): 5 bytes (a padded LEB128 is valid wasm, so a size
   * can follow its contents without building them in a writer of their own and copying).
   */
  reserveU32(): number {
    this.room(5);
    const at = this.length;
    this.length += 5;
    return at;
  }

  /** Fill a reserveU32() slot with `n`, as a 5-byte LEB128. */
  patchU32(at: number, n: number): void {
    for (let i = 0; i < 4; i++) this.buf[at + i] = ((n >>> (7 * i)) & 0x7f) | 0x80;
    this.buf[at + 4] = (n >>> 28) & 0x0f;
  }

  /** Overwrite the byte at `at` (already written). */
  patch(at: number, b: number): void {
    this.buf[at] = b;
  }

  byte(b: number): this {
    this.room(1);
    this.buf[this.length++] = b;
    return this;
  }

  bytes(data: ArrayLike<number>): this {
    this.room(data.length);
    if (data instanceof Uint8Array) {
      this.buf.set(data, this.length);
      this.length += data.length;
    } else {
      for (let i = 0; i < data.length; i++) this.buf[this.length++] = data[i];
    }
    return this;
  }

  /** Unsigned LEB128 of a non-negative integer below 2^32. */
  u32(n: number): this {
    this.room(5);
    n >>>= 0;
    do {
      let b = n & 0x7f;
      n >>>= 7;
      if (n !== 0) b |= 0x80;
      this.buf[this.length++] = b;
    } while (n !== 0);
    return this;
  }

  /** Signed LEB128 of an int32. */
  s32(n: number): this {
    this.room(5);
    n |= 0;
    for (;;) {
      const b = n & 0x7f;
      n >>= 7;
      if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
        this.buf[this.length++] = b;
        return this;
      }
      this.buf[this.length++] = b | 0x80;
    }
  }

  /** An f64 immediate (little-endian IEEE 754). */
  f64(x: number): this {
    F64_SCRATCH[0] = x;
    return this.bytes(F64_BYTES);
  }

  /** Signed LEB128 of a 64-bit value given as int32 halves. */
  s64(hi: number, lo: number): this {
    if (hi === lo >> 31) return this.s32(lo);
    if (hi >= -0x100000 && hi < 0x100000) { // |value| < 2^52: exact in doubles
      let x = (hi | 0) * 4294967296 + (lo >>> 0);
      this.room(10);
      for (;;) {
        const b = x - Math.floor(x / 128) * 128;
        x = Math.floor(x / 128);
        if ((x === 0 && (b & 0x40) === 0) || (x === -1 && (b & 0x40) !== 0)) {
          this.buf[this.length++] = b;
          return this;
        }
        this.buf[this.length++] = b | 0x80;
      }
    }
    let v = (BigInt(hi | 0) << 32n) | BigInt(lo >>> 0);
    this.room(10);
    for (;;) {
      const b = Number(v & 0x7fn);
      v >>= 7n;
      if ((v === 0n && (b & 0x40) === 0) || (v === -1n && (b & 0x40) !== 0)) {
        this.buf[this.length++] = b;
        return this;
      }
      this.buf[this.length++] = b | 0x80;
    }
  }

  /** A name (the JIT's are ASCII: written as they are, no encoder). */
  name(s: string): this {
    this.u32(s.length);
    this.room(s.length);
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c > 0x7f) throw new Error(`wasm name ${JSON.stringify(s)} is not ASCII`);
      this.buf[this.length++] = c;
    }
    return this;
  }

  finish(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}

export interface FuncType {
  params: readonly ValType[];
  results: readonly ValType[];
}

interface ImportEntry {
  module: string;
  name: string;
  /** 0 function (typeIndex), 1 table (funcref, tableMin entries at least), 2 memory, 3 global (immutable i32). */
  kind: 0 | 1 | 2 | 3;
  typeIndex?: number;
  tableMin?: number;
  memory?: { min: number; max?: number; shared: boolean };
}

interface FuncEntry {
  typeIndex: number;
  locals: readonly ValType[];
  body: ByteWriter;
}

/**
 * The module under construction. Imported functions take the first function indices, imported
 * globals the first global indices, so imports are declared before functions and globals.
 */
export class ModuleBuilder {
  private readonly types: FuncType[] = [];
  private readonly imports: ImportEntry[] = [];
  private readonly funcs: FuncEntry[] = [];
  private readonly globals: ValType[] = []; // mutable globals (initial value 0)
  private readonly exports: { name: string; kind: 0 | 3; index: number }[] = [];
  private importedFuncs = 0;
  private importedGlobals = 0;

  type(params: readonly ValType[], results: readonly ValType[]): number {
    const i = this.types.findIndex((t) => same(t.params, params) && same(t.results, results));
    if (i >= 0) return i;
    this.types.push({ params, results });
    return this.types.length - 1;
  }

  importFunc(module: string, name: string, typeIndex: number): number {
    if (this.funcs.length > 0) throw new Error('imports must come before functions');
    this.imports.push({ module, name, kind: 0, typeIndex });
    return this.importedFuncs++;
  }

  /** An imported funcref table of at least `min` entries (its functions are called with call_indirect). */
  importTable(module: string, name: string, min: number): void {
    this.imports.push({ module, name, kind: 1, tableMin: min });
  }

  importMemory(module: string, name: string, memory: { min: number; max?: number; shared: boolean }): void {
    this.imports.push({ module, name, kind: 2, memory });
  }

  /** An immutable imported i32 global. */
  importGlobal(module: string, name: string): number {
    if (this.globals.length > 0) throw new Error('global imports must come before globals');
    this.imports.push({ module, name, kind: 3 });
    return this.importedGlobals++;
  }

  /** A mutable global, initially 0. */
  global(type: ValType = I32): number {
    this.globals.push(type);
    return this.importedGlobals + this.globals.length - 1;
  }

  /** Declare a function now (its index is fixed), give its body later with setBody(). */
  declareFunc(typeIndex: number): number {
    this.funcs.push({ typeIndex, locals: [], body: NO_BODY });
    return this.importedFuncs + this.funcs.length - 1;
  }

  setBody(funcIndex: number, locals: readonly ValType[], body: ByteWriter): void {
    const f = this.funcs[funcIndex - this.importedFuncs];
    f.locals = locals;
    f.body = body;
  }

  exportFunc(name: string, index: number): void {
    this.exports.push({ name, kind: 0, index });
  }

  exportGlobal(name: string, index: number): void {
    this.exports.push({ name, kind: 3, index });
  }

  /**
   * The module's bytes, written in one pass into `out` (emptied first; sizes are padded LEB128s
   * patched in afterwards, so no section or body is built apart and copied). With a writer kept
   * across compiles the result is a view of its buffer, valid until it is written again.
   */
  finish(out: ByteWriter = new ByteWriter(this.sizeEstimate())): Uint8Array {
    out.reset();
    out.bytes(HEADER);
    let at = 0;
    const open = (id: number): void => { out.byte(id); at = out.reserveU32(); };
    const close = (): void => out.patchU32(at, out.length - at - 5);
    open(1);
    out.u32(this.types.length);
    for (const t of this.types) out.byte(0x60).u32(t.params.length).bytes(t.params).u32(t.results.length).bytes(t.results);
    close();
    open(2);
    out.u32(this.imports.length);
    for (const im of this.imports) {
      out.name(im.module).name(im.name).byte(im.kind);
      if (im.kind === 0) out.u32(im.typeIndex!);
      else if (im.kind === 1) out.byte(FUNCREF).byte(0x00).u32(im.tableMin!);
      else if (im.kind === 3) out.byte(I32).byte(0);
      else {
        const m = im.memory!;
        if (m.shared) out.byte(0x03).u32(m.min).u32(m.max!);
        else if (m.max !== undefined) out.byte(0x01).u32(m.min).u32(m.max);
        else out.byte(0x00).u32(m.min);
      }
    }
    close();
    open(3);
    out.u32(this.funcs.length);
    for (const f of this.funcs) out.u32(f.typeIndex);
    close();
    if (this.globals.length > 0) {
      open(6);
      out.u32(this.globals.length);
      for (const t of this.globals) {
        out.byte(t).byte(1);
        if (t === F64) out.byte(Op.f64_const).f64(0);
        else out.byte(t === I32 ? Op.i32_const : Op.i64_const).s32(0);
        out.byte(Op.end);
      }
      close();
    }
    open(7);
    out.u32(this.exports.length);
    for (const e of this.exports) out.name(e.name).byte(e.kind).u32(e.index);
    close();
    open(10);
    out.u32(this.funcs.length);
    for (const f of this.funcs) {
      const size = out.reserveU32();
      // locals, run-length encoded
      let runs = 0;
      for (let i = 0; i < f.locals.length; i++) if (i === 0 || f.locals[i] !== f.locals[i - 1]) runs++;
      out.u32(runs);
      for (let i = 0; i < f.locals.length;) {
        let j = i + 1;
        while (j < f.locals.length && f.locals[j] === f.locals[i]) j++;
        out.u32(j - i).byte(f.locals[i]);
        i = j;
      }
      out.bytes(f.body.finish()).byte(Op.end);
      out.patchU32(size, out.length - size - 5);
    }
    close();
    return out.finish();
  }

  /** An upper bound of the module's size but for names, types, imports and exports (a first guess, the writer grows). */
  private sizeEstimate(): number {
    let n = 256 + 16 * (this.imports.length + this.exports.length + this.types.length) + 12 * this.globals.length;
    for (const f of this.funcs) n += f.body.length + 16;
    return n;
  }
}

/** A declared function's body until setBody() (never written to). */
const NO_BODY = new ByteWriter(16);
const HEADER = new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
/** The funcref reference type (a table's element type). */
const FUNCREF = 0x70;

function same(a: readonly ValType[], b: readonly ValType[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/*
 * The record scan (pcap.ts' RecordScan: the walk over a buffer of classic little-endian pcap
 * records with the filter fused in) compiled to WebAssembly, for a reader whose buffer lies in a
 * WebAssembly.Memory (scanMemory()). Why not only the JavaScript scan (compileRecordScan()): a
 * `tcpdump -r -w` process is short, and V8 runs a new JavaScript function in its interpreter and
 * baseline tier until TurboFan's code for it is ready, 6-10 ms of compiling later (~85 ns per
 * packet meanwhile, ~7 once optimised); WebAssembly starts in Liftoff, compiled in well under a
 * millisecond and near optimised speed from its first packet.
 *
 * The filter is translated as cbpf/compile.ts' cbpfToJs() does it, with libpcap's bpf_filter()
 * semantics (loads past caplen reject, division by zero rejects, `len` is the wire length): a
 * program that only jumps forward becomes nested blocks, a jump to instruction t being a `br` to
 * the block that ends just before t. Programs with backward jumps (protochain) are left to the
 * JavaScript scan.
 */
import { type CInsn } from '../cbpf/insn.js';
import { cbpfRuns } from '../cbpf/interp.js';
import { type CbpfBufferFilterFn, compileCbpfAt } from '../cbpf/jsc.js';
import { ByteWriter, I32, ModuleBuilder, Op } from '../vm/jit/wasm_writer.js';
import type { RecordScan } from './pcap.js';

const PAGE = 65536;

// The part of the WebAssembly JS API used here (the project's lib has no WebAssembly types).
export interface WasmMemory { readonly buffer: ArrayBuffer }
interface WasmGlobal { readonly value: number }
interface WasmApi {
  Memory: new (desc: { initial: number }) => WasmMemory;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: Record<string, Record<string, unknown>>) => { readonly exports: Record<string, unknown> };
}
const WA = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

/** The locals filter code uses: the packet at [B, B + N), wire length LEN, the result (filter()'s), A, X, M[]. */
interface FilterLocals { B: number; N: number; LEN: number; VERDICT: number; A: number; X: number; TMP: number; MEM0: number }

/** Locals of the scan function: its parameters, then its own (the filter's among them). */
const AT = 0, END = 1, TO = 2, LIMIT = 3, MAXCAP = 4, FRAC = 5, KEPT = 6, RUN = 7, NEXT = 8;
const SCAN: FilterLocals = { B: 9, N: 10, LEN: 11, VERDICT: -1 /* none: it branches */, A: 13, X: 14, TMP: 15, MEM0: 16 };
const SCAN_LOCALS = SCAN.MEM0 + 16 - 6;
/** Locals of the one-packet filter function: parameters b, n, len, then its own. */
const FILTER: FilterLocals = { B: 0, N: 1, LEN: 2, VERDICT: 3, A: 4, X: 5, TMP: 6, MEM0: 7 };
const FILTER_LOCALS = FILTER.MEM0 + 16 - 3;

/**
 * A WebAssembly.Memory of at least `bytes` bytes and a view of them (a reader's buffer); undefined
 * without WebAssembly, or where the memory cannot be had (its address space reservation refused,
 * e.g. under `ulimit -v`): the reader then takes a plain buffer and the JavaScript scan.
 */
export function scanMemory(bytes: number): { memory: WasmMemory; buffer: Uint8Array } | undefined {
  if (WA === undefined) return undefined;
  try {
    const memory = new WA.Memory({ initial: Math.ceil(bytes / PAGE) });
    return { memory, buffer: new Uint8Array(memory.buffer, 0, bytes) };
  } catch {
    return undefined;
  }
}

/** The record scan and the filter alone (for the records next() hands over), both over `memory`. */
export interface WasmScan {
  readonly scan: RecordScan;
  readonly filter: CbpfBufferFilterFn;
}

/**
 * The RecordScan and filter for `prog` over buffers in `memory`, or undefined where the program
 * has backward jumps, rejects everything without running (empty or too long, as cachedFilter()
 * rules) or WebAssembly is unavailable (a strict Content-Security-Policy). For a buffer elsewhere
 * (a reader that grew its buffer for a large record) the scan calls `other` (JavaScript's) and
 * the filter compileCbpfAt()'s.
 */
export function compileWasmScan(prog: readonly CInsn[], memory: WasmMemory, other: () => RecordScan | undefined): WasmScan | undefined {
  if (WA === undefined || !cbpfRuns(prog.length)) return undefined;
  const scanCode = filterCode(prog, SCAN, true);
  if (!scanCode) return undefined;
  let exports: Record<string, unknown>;
  try {
    const usesLen = prog.some((insn) => insn.code === 0x80 || insn.code === 0x81);
    exports = new WA.Instance(new WA.Module(scanModule(scanCode, usesLen, filterCode(prog, FILTER, false)!)), { m: { memory } }).exports;
  } catch {
    return undefined;
  }
  const wasmScan = exports.scan as (at: number, end: number, to: number, limit: number, maxCap: number, fracLimit: number) => number;
  const wasmFilter = exports.filter as (b: number, n: number, len: number) => number;
  const kept = exports.kept as WasmGlobal;
  const to = exports.to as WasmGlobal;
  let otherScan: RecordScan | undefined;
  const scan: RecordScan = (buf, dv, start, end, from, limit, maxCap, fracLimit, state) => {
    if (buf.buffer !== memory.buffer) {
      otherScan ??= other() ?? ((_b, _d, at, _e, t, _l, _m, _f, s) => { s[0] = t; s[1] = 0; return at; });
      return otherScan(buf, dv, start, end, from, limit, maxCap, fracLimit, state);
    }
    // Offsets in buf are addresses in the memory less buf's place in it.
    const base = buf.byteOffset;
    const at = wasmScan(base + start, base + end, base + from, limit > 0x7fffffff ? 0x7fffffff : limit, maxCap, fracLimit);
    state[0] = to.value - base;
    state[1] = kept.value;
    return at - base;
  };
  const filter: CbpfBufferFilterFn = (buf, off, caplen, len) => (buf.buffer === memory.buffer
    ? wasmFilter(buf.byteOffset + off, caplen, len) >>> 0 : compileCbpfAt(prog)(buf, off, caplen, len));
  return { scan, filter };
}

/** The module: memory m.memory imported; scan(), filter() and the globals `to` and `kept` exported. */
function scanModule(filter: ByteWriter, usesLen: boolean, alone: ByteWriter): Uint8Array {
  const m = new ModuleBuilder();
  const type = m.type([I32, I32, I32, I32, I32, I32], [I32]);
  m.importMemory('m', 'memory', { min: 1, shared: false });
  const fn = m.declareFunc(type);
  const filterFn = m.declareFunc(m.type([I32, I32, I32], [I32]));
  const gTo = m.global(I32);
  const gKept = m.global(I32);
  const w = new ByteWriter(1024);
  const get = (l: number): ByteWriter => w.byte(Op.local_get).u32(l);
  const set = (l: number): ByteWriter => w.byte(Op.local_set).u32(l);
  const load32 = (base: number, offset: number): ByteWriter => get(base).byte(Op.i32_load).u32(2).u32(offset);
  // Kept bytes [run, at) move down to `to`: memory.copy(to, run, at - run) unless in place.
  const move = (): void => {
    get(TO); get(RUN); w.byte(Op.i32_ne).byte(Op.if).byte(0x40);
    get(TO); get(RUN); get(AT); get(RUN); w.byte(Op.i32_sub).byte(0xfc).u32(10).byte(0).byte(0);
    w.byte(Op.end);
    get(TO); get(AT); get(RUN); w.byte(Op.i32_sub).byte(Op.i32_add); set(TO);
  };
  w.byte(Op.i32_const).s32(-1); set(RUN);
  w.byte(Op.block).byte(0x40).byte(Op.loop).byte(0x40);
  // Stop before a record not wholly buffered, one to cut or with a bad timestamp, or at the limit
  // (the caller hands those to next()).
  get(AT); w.byte(Op.i32_const).s32(16).byte(Op.i32_add); get(END); w.byte(Op.i32_gt_s).byte(Op.br_if).u32(1);
  get(KEPT); get(LIMIT); w.byte(Op.i32_ge_s).byte(Op.br_if).u32(1);
  load32(AT, 8); w.byte(Op.local_tee).u32(SCAN.N); get(MAXCAP); w.byte(Op.i32_gt_u).byte(Op.br_if).u32(1);
  get(AT); w.byte(Op.i32_const).s32(16).byte(Op.i32_add); get(SCAN.N); w.byte(Op.i32_add).byte(Op.local_tee).u32(NEXT);
  get(END); w.byte(Op.i32_gt_s).byte(Op.br_if).u32(1);
  load32(AT, 4); get(FRAC); w.byte(Op.i32_ge_u).byte(Op.br_if).u32(1);
  get(AT); w.byte(Op.i32_const).s32(16).byte(Op.i32_add); set(SCAN.B);
  if (usesLen) { load32(AT, 12); set(SCAN.LEN); } // (the wire length, only for a program that reads it)
  // The filter, inside a block `rejected` that it leaves open: it ends where a kept packet goes.
  w.bytes(filter.finish());
  // Kept: a run starts or goes on; on to the next record.
  get(RUN); w.byte(Op.i32_const).s32(0).byte(Op.i32_lt_s).byte(Op.if).byte(0x40);
  get(AT); set(RUN);
  w.byte(Op.end);
  get(KEPT); w.byte(Op.i32_const).s32(1).byte(Op.i32_add); set(KEPT);
  get(NEXT); set(AT);
  w.byte(Op.br).u32(1);
  w.byte(Op.end);
  // Rejected: the run so far moves down.
  get(RUN); w.byte(Op.i32_const).s32(0).byte(Op.i32_ge_s).byte(Op.if).byte(0x40);
  move();
  w.byte(Op.i32_const).s32(-1); set(RUN);
  w.byte(Op.end);
  get(NEXT); set(AT);
  w.byte(Op.br).u32(0);
  w.byte(Op.end).byte(Op.end);
  get(RUN); w.byte(Op.i32_const).s32(0).byte(Op.i32_ge_s).byte(Op.if).byte(0x40);
  move();
  w.byte(Op.end);
  get(TO); w.byte(Op.global_set).u32(gTo);
  get(KEPT); w.byte(Op.global_set).u32(gKept);
  get(AT);
  m.setBody(fn, new Array<typeof I32>(SCAN_LOCALS).fill(I32), w);
  m.exportFunc('scan', fn);
  alone.byte(Op.local_get).u32(FILTER.VERDICT);
  m.setBody(filterFn, new Array<typeof I32>(FILTER_LOCALS).fill(I32), alone);
  m.exportFunc('filter', filterFn);
  m.exportGlobal('to', gTo);
  m.exportGlobal('kept', gKept);
  return m.finish();
}

/**
 * The filter as WebAssembly instructions reading the packet at [B, B + N) and the wire length
 * LEN, leaving its return value in VERDICT; or, with `branches` (the scan, which needs only
 * zero or not), inside two blocks it opens: a packet rejected leaves the outer one, a packet
 * kept the inner one, which it closes (no result to store and test). Undefined for a program
 * with a backward jump. As cbpfToJs(): the same cases, in the same order.
 */
function filterCode(prog: readonly CInsn[], { B, N, LEN, VERDICT, A, X, TMP, MEM0 }: FilterLocals, branches: boolean): ByteWriter | undefined {
  const n = prog.length;
  const targets = new Set<number>();
  for (let i = 0; i < n; i++) {
    const { code, jt, jf } = prog[i];
    const k = prog[i].k >>> 0;
    if (code === 0x05) {
      if ((k | 0) < 0) return undefined; // backward (or the -1 self-loop that rejects): JavaScript's
      if (i + 1 + k < n) targets.add(i + 1 + k);
    } else if ((code & 0x07) === 0x05 && code !== 0x05) {
      if (i + 1 + jt < n) targets.add(i + 1 + jt);
      if (i + 1 + jf < n) targets.add(i + 1 + jf);
    }
  }
  const w = new ByteWriter(256 + n * 16);
  const get = (l: number): ByteWriter => w.byte(Op.local_get).u32(l);
  const set = (l: number): ByteWriter => w.byte(Op.local_set).u32(l);
  const i32 = (v: number): ByteWriter => w.byte(Op.i32_const).s32(v);
  // Every packet starts from zero: the verdict, A, X and the scratch words the program reads.
  const zero = new Set(branches ? [A, X] : [VERDICT, A, X]);
  for (const insn of prog) if ((insn.code === 0x60 || insn.code === 0x61) && insn.k >>> 0 < 16) zero.add(MEM0 + (insn.k >>> 0));
  for (const l of zero) { i32(0); set(l); }
  // Open blocks, outermost first: the one a rejected packet leaves (-2; with `branches`, then
  // the one a kept packet leaves, -1), then one per jump target.
  const open = [-2, ...(branches ? [-1] : []), ...[...targets].sort((a, b) => b - a)];
  const depth = (t: number): number => open.length - 1 - open.indexOf(t);
  const reject = (): void => { w.byte(Op.br).u32(depth(-2)); };
  const goto = (t: number): void => { if (t >= n) reject(); else w.byte(Op.br).u32(depth(t)); };
  /** return value (a constant when `k` is given) */
  const ret = (value: () => void, k?: number): void => {
    if (!branches) { value(); set(VERDICT); reject(); } else if (k === 0) reject();
    else if (k !== undefined) w.byte(Op.br).u32(depth(-1));
    else { value(); w.byte(Op.br_if).u32(depth(-1)); reject(); }
  };
  /** if (cond) reject */
  const rejectIf = (): void => { w.byte(Op.br_if).u32(depth(-2)); };
  /** A load of `size` bytes at b + [X +] k, big-endian, into A (or X for MSH), bounds-checked against n. */
  const load = (size: number, indirect: boolean, k: number): void => {
    if (indirect) {
      // (X >>> 0) + k + size > n, in 64 bits: X and k are both unsigned 32-bit.
      const bound = k + size;
      get(X); w.byte(Op.i64_extend_i32_u).byte(Op.i64_const).s64(Math.floor(bound / 4294967296), bound | 0).byte(Op.i64_add);
      get(N); w.byte(Op.i64_extend_i32_u).byte(Op.i64_gt_u); rejectIf();
      get(B); get(X); w.byte(Op.i32_add);
    } else {
      if (k + size > 0x7fffffff) { reject(); return; }
      i32(k + size); get(N); w.byte(Op.i32_gt_u); rejectIf();
      get(B);
    }
    const offset = k; // memarg offset: the address is b [+ X] + k
    if (size === 1) w.byte(Op.i32_load8_u).u32(0).u32(offset);
    else if (size === 2) {
      // Big-endian: the two bytes swapped.
      w.byte(Op.i32_load16_u).u32(0).u32(offset).byte(Op.local_tee).u32(TMP);
      i32(8); w.byte(Op.i32_shl); get(TMP); i32(8); w.byte(Op.i32_shr_u).byte(Op.i32_or); i32(0xffff); w.byte(Op.i32_and);
    } else {
      // Byte swap: (rotl(v, 8) & 0x00ff00ff) | (rotr(v, 8) & 0xff00ff00).
      w.byte(Op.i32_load).u32(0).u32(offset).byte(Op.local_tee).u32(TMP);
      i32(8); w.byte(Op.i32_rotl); i32(0x00ff00ff); w.byte(Op.i32_and);
      get(TMP); i32(8); w.byte(Op.i32_rotr); i32(0xff00ff00 | 0); w.byte(Op.i32_and).byte(Op.i32_or);
    }
    set(A);
  };
  const sizes: Record<number, number> = { 0x00: 4, 0x08: 2, 0x10: 1 };
  for (let t = 0; t < open.length; t++) w.byte(Op.block).byte(0x40);
  for (let i = 0; i < n; i++) {
    if (targets.has(i)) {
      w.byte(Op.end);
      open.pop();
    }
    const { code, jt, jf } = prog[i];
    const k = prog[i].k >>> 0;
    const ks = k | 0;
    const aluK = (op: number): void => { get(A); i32(ks); w.byte(op); set(A); };
    const aluX = (op: number): void => { get(A); get(X); w.byte(op); set(A); };
    switch (code) {
      case 0x06: ret(() => i32(ks), ks); break;
      case 0x16: ret(() => get(A)); break;
      case 0x20: case 0x28: case 0x30: load(sizes[code & 0x18], false, k); break;
      case 0x40: case 0x48: case 0x50: load(sizes[code & 0x18], true, k); break;
      case 0xb1:
        if (k >= 0x7fffffff) { reject(); break; }
        i32(k); get(N); w.byte(Op.i32_ge_u); rejectIf();
        get(B); w.byte(Op.i32_load8_u).u32(0).u32(k); i32(15); w.byte(Op.i32_and); i32(2); w.byte(Op.i32_shl); set(X);
        break;
      case 0x80: get(LEN); set(A); break;
      case 0x81: get(LEN); set(X); break;
      case 0x00: i32(ks); set(A); break;
      case 0x01: i32(ks); set(X); break;
      case 0x60: if (k < 16) { get(MEM0 + k); set(A); } else reject(); break;
      case 0x61: if (k < 16) { get(MEM0 + k); set(X); } else reject(); break;
      case 0x02: if (k < 16) { get(A); set(MEM0 + k); } else reject(); break;
      case 0x03: if (k < 16) { get(X); set(MEM0 + k); } else reject(); break;
      case 0x05: goto(i + 1 + k); break;
      case 0x15: case 0x25: case 0x35: case 0x45: case 0x1d: case 0x2d: case 0x3d: case 0x4d: {
        get(A);
        if (code & 0x08) get(X); else i32(ks);
        const op = code & 0xf0;
        if (op === 0x10) w.byte(Op.i32_eq);
        else if (op === 0x20) w.byte(Op.i32_gt_u);
        else if (op === 0x30) w.byte(Op.i32_ge_u);
        else w.byte(Op.i32_and);
        const t = i + 1 + jt, f = i + 1 + jf;
        // if (cond) goto t; goto f (a branch to the next instruction is falling through).
        if (t >= n) rejectIf(); else w.byte(Op.br_if).u32(depth(t));
        if (f !== i + 1) goto(f);
        break;
      }
      case 0x0c: aluX(Op.i32_add); break;
      case 0x1c: aluX(Op.i32_sub); break;
      case 0x2c: aluX(Op.i32_mul); break;
      case 0x3c: get(X); w.byte(Op.i32_eqz); rejectIf(); aluX(Op.i32_div_u); break;
      case 0x9c: get(X); w.byte(Op.i32_eqz); rejectIf(); aluX(Op.i32_rem_u); break;
      case 0x5c: aluX(Op.i32_and); break;
      case 0x4c: aluX(Op.i32_or); break;
      case 0xac: aluX(Op.i32_xor); break;
      // Shifts by X: 32 or more gives 0 (wasm would take the count modulo 32).
      case 0x6c: get(A); get(X); w.byte(Op.i32_shl); i32(0); get(X); i32(32); w.byte(Op.i32_lt_u).byte(Op.select); set(A); break;
      case 0x7c: get(A); get(X); w.byte(Op.i32_shr_u); i32(0); get(X); i32(32); w.byte(Op.i32_lt_u).byte(Op.select); set(A); break;
      case 0x04: aluK(Op.i32_add); break;
      case 0x14: aluK(Op.i32_sub); break;
      case 0x24: aluK(Op.i32_mul); break;
      case 0x34: if (k === 0) reject(); else aluK(Op.i32_div_u); break;
      case 0x94: if (k === 0) reject(); else aluK(Op.i32_rem_u); break;
      case 0x54: aluK(Op.i32_and); break;
      case 0x44: aluK(Op.i32_or); break;
      case 0xa4: aluK(Op.i32_xor); break;
      case 0x64: if (k < 32) aluK(Op.i32_shl); else { i32(0); set(A); } break;
      case 0x74: if (k < 32) aluK(Op.i32_shr_u); else { i32(0); set(A); } break;
      case 0x84: i32(0); get(A); w.byte(Op.i32_sub); set(A); break;
      case 0x07: get(A); set(X); break;
      case 0x87: get(X); set(A); break;
      default: reject();
    }
  }
  // Past the last instruction: reject (cbpfToJs()'s final `return 0`); with `branches` the
  // kept block closes here, the rejected one stays open for the caller.
  if (branches) reject();
  w.byte(Op.end);
  return w;
}

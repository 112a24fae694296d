/*
 * The state of one function's compilation, in one object of a fixed shape (every field set in the
 * constructor), and the byte-level writers every emitter (emit_*.ts) shares. One emitter is kept
 * across compiles (compileModule() is not reentrant): its buffers grow to the largest program seen
 * instead of being allocated per function, so a compile touches few fresh pages (each a page fault,
 * tens of microseconds in a VM).
 *
 * Its code runs for every instruction of every program: V8 optimises it once and keeps it so only
 * while each property access sees one shape and each field one kind of value (no closures created
 * per function or per instruction, no optional callbacks, numbers kept small integers). Before
 * that (a process's first compiles run in V8's interpreter and baseline tiers, where a call costs
 * most) the emitters write single bytes as stores, `e.buf[e.pos++] = op`, rather than calls.
 */
import { MAX_BPF_STACK } from '../../isa/opcodes.js';
import { Op } from './wasm_writer.js';
import { B32, FAIL_TRAP, HOST_FAIL, HOST_SLOT_HELPER, HOST_SLOT_HOST, type Imports, type JitHelperOptions, LEFT, R10, type VerifiedTier } from './layout.js';

/** Bytes of wasm emitted for one instruction at most, with room to spare (the largest, a helper call with its inlined lookup and tail call, is under 500). */
export const ROOM = 2048;
/** The same for a register-only (ALU, ld_imm64) instruction, as unrolled loops repeat them. */
export const MAX_REGISTER_INSN_BYTES = 96;
/** A body buffer kept above this size is dropped after use (one huge program should not pin it). */
const MAX_KEPT = 4 << 20;
/** The same for the per-slot arrays (about 60 bytes per slot), the one cap on the scratch memory a compile keeps. */
const MAX_KEPT_SLOTS = 1 << 16;

/** segKind: the slot ends a budget segment (it may fault, leave or write memory). */
export const SEG_END = 1;
/** segKind: a store into the frame that cannot fault (guarded instead; see guardedFrame()). */
export const SEG_SILENT = 2;

const EMPTY_SLOTS: number[] = [];
const NO_PROGRAM = new Int32Array(0);
const NO_CUTS = new Uint8Array(0);
const NO_UNCHECKED = new Uint8Array(0);
const NO_IMPORTS: Imports = { host: 0, hostType: 0, helper: -1, helperType: -1, fastType: -1, count: 1, fastCall: -1, ftop: -1 };
const NO_OPTIONS: JitHelperOptions = {};

export class FunctionEmitter {
  // The program and module (set per function by begin()).
  P: Int32Array;
  nslots: number;
  entry: number;
  isMain: boolean;
  /** Undefined in the checked tier. */
  verified: VerifiedTier | undefined;
  /** The verified tier (no budget, proved accesses unchecked). */
  isVerified: boolean;
  /** 1 at slots whose access the verifier proved in bounds (verified.unchecked; all 0 in the checked tier: one kind of array either way). */
  unchecked: Uint8Array;
  options: JitHelperOptions;
  imports: Imports;
  shared: boolean;
  pure: boolean;
  /** Budget segments of the whole module (first slot, count), by segment id. */
  segStart: number[];
  segCount: number[];
  /** The function index of a local-call target (declared on first sight). */
  funcOf: (slot: number) => number;
  /** Slots where the entry's code continues in another function (regions.ts; empty: none), and that function's index. */
  cuts: Uint8Array;
  contOf: (slot: number) => number;

  // The body being written, and the pending `local.set` a `local.get` of the same local may turn into a `local.tee`.
  buf: Uint8Array;
  pos!: number;
  setAt!: number;
  setEnd!: number;
  setLocal!: number;

  // Control flow (emit_cfg.ts): per slot, then per block (blocks in slot order, their slots
  // `order[blockFrom[b] .. blockTo[b])`), then the dispatch entries and labels.
  seen: Uint8Array;
  leader: Uint8Array;
  /**
   * The slots this function's walk reached or marked (lo..hi: its blocks, their jump targets and
   * next slots). Per-slot passes and the clearing for the next function stay inside them: a
   * program's functions (subprograms, regions) cost in proportion to their own size each.
   */
  lo: number;
  hi: number;
  /** Slots still to visit (a jump pushes two; each slot's jump once). */
  work: Int32Array;
  blockAt: Int32Array;
  order: Int32Array;
  ordered!: number;
  blocks!: number;
  blockFrom: Int32Array;
  blockTo: Int32Array;
  selfLoop: Uint8Array;
  /** 1 at a block the conditional jump ending the block before may skip without a branch: its instructions as selects (emit_jump.ts, selectable()). */
  selected: Uint8Array;
  dispatch: Int32Array;
  dispatches!: number;
  dispatchOf: Int32Array;
  labeled: Uint8Array;
  /** Labeled block j's `block` opens before block openAt[j]'s code (-1: around the dispatch header); see findLabels(). */
  openAt: Int32Array;
  /** Labels opening at the same place, by openAt + 1: the first, then each one's next (outermost first; -1 ends). */
  openHead: Int32Array;
  openNext: Int32Array;
  /** The labels open at the current code, outermost first (`opens` of them), and each one's index there. */
  open: Int32Array;
  opens!: number;
  openIdx: Int32Array;
  /** The most labels open at once so far in this function (V8 keeps a control stack that deep). */
  maxOpens!: number;
  /** r10 is never written in this function: it is always the frame top. */
  r10Fixed!: boolean;
  /** Per reachable slot, checked tier: SEG_END, SEG_SILENT or 0. */
  segKind: Uint8Array;
  /** All zeros (never written): `unchecked` of the checked tier. */
  noneUnchecked: Uint8Array;
  /** Scratch of the module's per-slot passes before its functions (each zeroes what it uses): regionCuts()'s jump crossings and cuts, constantR1AtLookups()'s leaders. */
  crossed: Int32Array;
  cutAt: Uint8Array;
  r1Leader: Uint8Array;

  // Where the emission is: labels opened inside the current block's code, the current block.
  inner!: number;
  cur!: number;

  // Budget segments of the current block (emit_segment.ts); slot positions are indices in `order`.
  /** The unchecked segment the next block falls in from: its count (-1: none) and first slot. */
  carry!: number;
  carryFirst!: number;
  carryIn!: number;
  /** Of `carry` and `carryIn`: the instructions of a selected block in them (0: none), run or skipped as $pc says (see holeySegment()). */
  carryHole!: number;
  holeIn!: number;
  /** The deferred segment is a holey pair (charge()). */
  segHoley!: boolean;
  /** Instructions carried but not yet taken off `left`: the next charge takes them, guards count them (block b of a holey segment). */
  unlowered!: number;
  blockEnd!: number;
  segFrom!: number;
  /** A deferred segment's last instruction: its check comes first. */
  checkAt!: number;
  /** Silent stores before this position go through guardedFrame(). */
  guardTo!: number;
  segDeferred!: number;
  segSize!: number;
  uncheckedEnd!: boolean;

  constructor() {
    this.P = NO_PROGRAM;
    this.nslots = 0;
    this.entry = 0;
    this.isMain = false;
    this.verified = undefined;
    this.isVerified = false;
    this.unchecked = NO_UNCHECKED;
    this.options = NO_OPTIONS;
    this.imports = NO_IMPORTS;
    this.shared = false;
    this.pure = false;
    this.segStart = EMPTY_SLOTS;
    this.segCount = EMPTY_SLOTS;
    this.funcOf = noFunction;
    this.cuts = NO_CUTS;
    this.contOf = noFunction;
    this.buf = new Uint8Array(1 << 16);
    this.seen = new Uint8Array(0);
    this.leader = new Uint8Array(0);
    this.lo = 0;
    this.hi = -1;
    this.work = new Int32Array(0);
    this.blockAt = new Int32Array(0);
    this.order = new Int32Array(0);
    this.blockFrom = new Int32Array(0);
    this.blockTo = new Int32Array(0);
    this.selfLoop = new Uint8Array(0);
    this.selected = new Uint8Array(0);
    this.dispatch = new Int32Array(0);
    this.dispatchOf = new Int32Array(0);
    this.labeled = new Uint8Array(0);
    this.openAt = new Int32Array(0);
    this.openHead = new Int32Array(0);
    this.openNext = new Int32Array(0);
    this.open = new Int32Array(0);
    this.openIdx = new Int32Array(0);
    this.segKind = new Uint8Array(0);
    this.noneUnchecked = new Uint8Array(0);
    this.crossed = new Int32Array(0);
    this.cutAt = new Uint8Array(0);
    this.r1Leader = new Uint8Array(0);
    this.resetFunction();
  }

  /** Start a function: per-slot arrays sized for the program (kept ones zeroed), the body emptied. */
  begin(
    P: Int32Array, entry: number, isMain: boolean, options: JitHelperOptions, imports: Imports, shared: boolean, pure: boolean,
    segStart: number[], segCount: number[], funcOf: (slot: number) => number, cuts: Uint8Array, contOf: (slot: number) => number,
  ): void {
    const nslots = P.length >> 2;
    this.P = P;
    this.nslots = nslots;
    this.entry = entry;
    this.isMain = isMain;
    this.verified = options.verified;
    this.isVerified = options.verified !== undefined;
    this.options = options;
    this.imports = imports;
    this.shared = shared;
    this.pure = pure;
    this.segStart = segStart;
    this.segCount = segCount;
    this.funcOf = funcOf;
    this.cuts = cuts;
    this.contOf = contOf;
    this.slots(nslots);
    this.unchecked = options.verified !== undefined ? options.verified.unchecked : this.noneUnchecked;
    // (the last function wrote these at its slots only; labeled and openHead: see findLabels())
    this.seen.fill(0, this.lo, this.hi + 1);
    this.leader.fill(0, this.lo, this.hi + 1);
    this.segKind.fill(0, this.lo, this.hi + 1);
    this.lo = entry;
    this.hi = entry;
    this.resetFunction();
  }

  /**
   * The per-function state a new function starts from (the constructor's too: one list). Every
   * field is declared in the class body, so V8 gives every emitter one shape whatever assigns it.
   */
  private resetFunction(): void {
    this.pos = 0;
    this.setAt = -1;
    this.setEnd = -1;
    this.setLocal = -1;
    this.opens = 0;
    this.maxOpens = 0;
    this.ordered = 0;
    this.blocks = 0;
    this.dispatches = 0;
    this.r10Fixed = true;
    this.inner = 0;
    this.cur = 0;
    this.carry = -1;
    this.carryFirst = 0;
    this.carryIn = -1;
    this.carryHole = 0;
    this.holeIn = 0;
    this.segHoley = false;
    this.unlowered = 0;
    this.blockEnd = 0;
    this.segFrom = 0;
    this.checkAt = -1;
    this.guardTo = -1;
    this.segDeferred = 0;
    this.segSize = 0;
    this.uncheckedEnd = false;
  }

  /** Per-slot arrays for a program of `nslots` slots (blocks and dispatch entries are at most one per slot). */
  slots(nslots: number): this {
    if (this.seen.length < nslots + 1) this.allocate(Math.max(nslots + 1, this.seen.length * 2));
    return this;
  }

  private allocate(size: number): void {
    this.lo = 0;
    this.hi = -1;
    this.seen = new Uint8Array(size);
    this.leader = new Uint8Array(size);
    this.work = new Int32Array(2 * size + 2);
    this.blockAt = new Int32Array(size);
    this.order = new Int32Array(size);
    this.blockFrom = new Int32Array(size);
    this.blockTo = new Int32Array(size);
    this.selfLoop = new Uint8Array(size);
    this.selected = new Uint8Array(size);
    this.dispatch = new Int32Array(size);
    this.dispatchOf = new Int32Array(size);
    this.labeled = new Uint8Array(size);
    this.openAt = new Int32Array(size);
    this.openHead = new Int32Array(size + 1);
    this.openNext = new Int32Array(size);
    this.open = new Int32Array(size);
    this.openIdx = new Int32Array(size);
    this.segKind = new Uint8Array(size);
    this.noneUnchecked = new Uint8Array(size);
    this.crossed = new Int32Array(size + 1);
    this.cutAt = new Uint8Array(size);
    this.r1Leader = new Uint8Array(size);
  }

  /** After a module: drop buffers grown beyond MAX_KEPT (a huge program should not pin them), and the references to it. */
  release(): void {
    if (this.buf.length > MAX_KEPT) this.buf = new Uint8Array(1 << 16);
    this.dropLarge();
    this.P = NO_PROGRAM;
    this.verified = undefined;
    this.unchecked = NO_UNCHECKED;
    this.options = NO_OPTIONS;
    this.segStart = EMPTY_SLOTS;
    this.segCount = EMPTY_SLOTS;
    this.funcOf = noFunction;
    this.cuts = NO_CUTS;
    this.contOf = noFunction;
  }

  /** Drop per-slot arrays grown beyond MAX_KEPT_SLOTS. */
  dropLarge(): void {
    if (this.seen.length > MAX_KEPT_SLOTS) this.allocate(0);
  }

  /** Room for `n` more bytes. */
  room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const grown = new Uint8Array(Math.max(this.buf.length * 2, this.pos + n));
    grown.set(this.buf.subarray(0, this.pos));
    this.buf = grown;
  }

  byte(b: number): void {
    this.buf[this.pos++] = b;
  }

  /** Unsigned LEB128. */
  u32(n: number): void {
    n >>>= 0;
    const buf = this.buf;
    while (n >= 0x80) { buf[this.pos++] = (n & 0x7f) | 0x80; n >>>= 7; }
    buf[this.pos++] = n;
  }

  /** Signed LEB128 of an int32. */
  s32(n: number): void {
    n |= 0;
    const buf = this.buf;
    while (n >= 64 || n < -64) { buf[this.pos++] = (n & 0x7f) | 0x80; n >>= 7; }
    buf[this.pos++] = n & 0x7f;
  }

  /** Signed LEB128 of a 64-bit value given as int32 halves (as ByteWriter.s64). */
  s64(hi: number, lo: number): void {
    if (hi === lo >> 31) { this.s32(lo); return; }
    const buf = this.buf;
    if (hi >= -0x100000 && hi < 0x100000) { // |value| < 2^52: exact in doubles
      let x = (hi | 0) * 4294967296 + (lo >>> 0);
      for (;;) {
        const b = x - Math.floor(x / 128) * 128;
        x = Math.floor(x / 128);
        if ((x === 0 && (b & 0x40) === 0) || (x === -1 && (b & 0x40) !== 0)) { buf[this.pos++] = b; return; }
        buf[this.pos++] = b | 0x80;
      }
    }
    // Larger: 7 bits at a time from the two halves (an arithmetic shift of the 64-bit value).
    let h = hi | 0;
    let l = lo >>> 0;
    for (;;) {
      const b = l & 0x7f;
      l = ((l >>> 7) | (h << 25)) >>> 0;
      h >>= 7;
      if ((h === 0 && l === 0 && (b & 0x40) === 0) || (h === -1 && l === 0xffffffff && (b & 0x40) !== 0)) { buf[this.pos++] = b; return; }
      buf[this.pos++] = b | 0x80;
    }
  }

  i64c(hi: number, lo: number): void { this.buf[this.pos++] = Op.i64_const; this.s64(hi, lo); }
  i32c(v: number): void { this.buf[this.pos++] = Op.i32_const; this.s32(v); }
  /** An immediate sign-extended to 64 bits. */
  sx(k: number): void { this.buf[this.pos++] = Op.i64_const; this.s32(k); }
  /** An immediate zero-extended to 64 bits. */
  zx(k: number): void { this.i64c(0, k); }

  // `local.set x` directly followed by `local.get x` (an instruction reading the register the
  // previous one wrote) becomes `local.tee x`: fewer bytes and operations for V8 to compile.
  // Adjacent in the byte stream means no label or other code between them. (Locals are < 128:
  // one LEB128 byte.)
  lset(l: number): void {
    const buf = this.buf;
    this.setAt = this.pos;
    buf[this.pos++] = Op.local_set;
    buf[this.pos++] = l;
    this.setEnd = this.pos;
    this.setLocal = l;
  }
  lget(l: number): void {
    if (this.pos === this.setEnd && this.setLocal === l) {
      this.buf[this.setAt] = Op.local_tee;
      this.setEnd = -1;
      return;
    }
    const buf = this.buf;
    buf[this.pos++] = Op.local_get;
    buf[this.pos++] = l;
  }
  ltee(l: number): void { const buf = this.buf; buf[this.pos++] = Op.local_tee; buf[this.pos++] = l; }
  /** Push register r (r10 is a local of its own). (lget() written out: the most frequent call, before V8 optimises.) */
  get(r: number): void {
    const l = r === 10 ? R10 : r;
    if (this.pos === this.setEnd && this.setLocal === l) {
      this.buf[this.setAt] = Op.local_tee;
      this.setEnd = -1;
      return;
    }
    const buf = this.buf;
    buf[this.pos++] = Op.local_get;
    buf[this.pos++] = l;
  }
  /** Pop into register r. */
  set(r: number): void {
    const l = r === 10 ? R10 : r;
    const buf = this.buf;
    this.setAt = this.pos;
    buf[this.pos++] = Op.local_set;
    buf[this.pos++] = l;
    this.setEnd = this.pos;
    this.setLocal = l;
  }
  /** A memory instruction with its memarg (alignment 0). */
  mem(o: number, offset: number): void { this.buf[this.pos++] = o; this.buf[this.pos++] = 0; this.u32(offset); }

  /** host(HOST_FAIL + kind, a, 0, b), which throws. */
  fail(kind: number, a: number, b: number): void {
    this.i32c(HOST_FAIL + kind); this.i32c(a); this.i64c(0, 0); this.i32c(b);
    this.callHost(); this.byte(Op.unreachable);
  }
  /** Call host(kind, a, b, c), its arguments pushed: the module's function, or through the table's HOST_SLOT_HOST (Imports.host). */
  callHost(): void {
    if (this.imports.host >= 0) { this.byte(Op.call); this.u32(this.imports.host); } else { this.i32c(HOST_SLOT_HOST); this.byte(Op.call_indirect); this.u32(this.imports.hostType); this.byte(0); }
  }
  /** Call helper(id, pc, r1..r5), its arguments pushed: the module's function, or through the table's HOST_SLOT_HELPER (Imports.helper). */
  callHelper(): void {
    if (this.imports.helper >= 0) { this.byte(Op.call); this.u32(this.imports.helper); } else { this.i32c(HOST_SLOT_HELPER); this.byte(Op.call_indirect); this.u32(this.imports.helperType); this.byte(0); }
  }
  /** An instruction the JIT has no form for (cannot happen for decoded programs). */
  trapAt(pc: number): void { this.fail(FAIL_TRAP, -1, pc); }

  /**
   * Return from the function with r0 (`zeroR0`: 0), as its type says: the entry (and any function
   * of the verified tier) gives r0 and left, a local-call target r0..r5 and left.
   */
  leave(zeroR0: boolean): void {
    if (zeroR0) this.i64c(0, 0); else this.get(0);
    if (!this.isMain && !this.isVerified) for (let r = 1; r <= 5; r++) this.get(r);
    this.lget(LEFT); this.byte(Op.return);
  }

  /** Byte-swap the i32 on the stack. */
  bswap32(): void {
    this.ltee(B32); this.i32c(8); this.byte(Op.i32_rotl); this.i32c(0x00ff00ff); this.byte(Op.i32_and);
    this.lget(B32); this.i32c(8); this.byte(Op.i32_rotr); this.i32c(0xff00ff00 | 0); this.byte(Op.i32_and); this.byte(Op.i32_or);
  }

  /** Branch depth of block j's label from the current code (open here: see findLabels()). */
  depthOf(j: number): number {
    if (this.labeled[j] === 0) throw new Error(`jit: no label for block ${j}`); // (cannot happen: see findLabels())
    return this.inner + this.opens - 1 - this.openIdx[j];
  }
  /** Branch depth of the dispatch loop $L (the $budget handler's block is one further). */
  depthL(): number {
    return this.inner + this.opens;
  }

  /** Open the labels findLabels() placed before block `at`'s code (-1: the dispatch header's), outermost first. */
  openLabels(at: number): void {
    for (let j = this.openHead[at + 1]; j >= 0; j = this.openNext[j]) {
      this.room(2);
      this.buf[this.pos++] = Op.block;
      this.buf[this.pos++] = 0x40;
      this.openIdx[j] = this.opens;
      this.open[this.opens++] = j;
    }
    if (this.opens > this.maxOpens) this.maxOpens = this.opens;
  }

  /** Close block b's label (the innermost open: labels nest), before its code. */
  closeLabel(b: number): void {
    if (this.opens === 0 || this.open[this.opens - 1] !== b) throw new Error(`jit: label of block ${b} is not the innermost`); // (cannot happen: see findLabels())
    this.opens--;
    this.buf[this.pos++] = Op.end;
  }

  /** Operation of the instruction at slot s. */
  op(s: number): number { return this.P[s << 2] & 0xfff; }
  /** The slot after the instruction at s (ld_imm64 takes two). */
  next(s: number): number { return s + ((this.P[s << 2] & 0xfff) === 0x18 ? 2 : 1); }

  /** Whether [r10 + off, +size) lies in the current frame by construction (r10 never written here). */
  staticFrame(reg: number, off: number, size: number): boolean {
    return reg === 10 && this.r10Fixed && off >= -MAX_BPF_STACK && off <= -size;
  }
}

function noFunction(): number {
  return -1;
}

/**
 * The one emitter (compileModule() is not reentrant), kept across compiles: its buffers are the
 * scratch memory of every per-slot pass of a compile, grown to the largest program seen (fresh
 * pages are page faults) under one cap.
 */
export const emitter = new FunctionEmitter();

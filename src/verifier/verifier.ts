/*
 * do_check(): the path-sensitive walk of kernel/bpf/verifier.c. Each instruction transforms the
 * current state (check_alu_op, check_mem_access, check_cond_jmp_op, check_helper_call, ...);
 * conditional jumps push the other branch (push_stack) and the walk pops pending branches when a
 * path ends (exit or pruned by is_state_visited). Errors end verification with the kernel's
 * message in the log and its errno.
 */
import { RET_BTF_STRUCT, SOCK_COMMON_STRUCTS, helperProto } from './protos_extra.js';
import type { ArgType, HelperProto } from '../helpers/proto.js';
import { formatXlatedInsn } from '../isa/disasm_xlated.js';
import { type Insn, insnEncodingError } from '../isa/insn.js';
import {
  BPF_ABS, BPF_ALU, BPF_ALU64, BPF_ATOMIC, BPF_CALL, BPF_DW, BPF_EXIT, BPF_FETCH, BPF_IND, BPF_JA, BPF_JCOND, BPF_JMP, BPF_JMP32,
  BPF_LD, BPF_LDX, BPF_MEM, BPF_MEMSX, BPF_PSEUDO_CALL, BPF_PSEUDO_FUNC, BPF_PSEUDO_KFUNC_CALL, BPF_PSEUDO_MAP_FD,
  BPF_PSEUDO_MAP_IDX, BPF_PSEUDO_MAP_IDX_VALUE, BPF_PSEUDO_MAP_VALUE, BPF_ST, BPF_STX, BPF_X, SIZE_BYTES,
  bpfClass, bpfMode, bpfOp, bpfSize, bpfSrc, opInfo,
} from '../isa/opcodes.js';
import { adjustScalar, endScalar, negScalar, scalarMinMaxAdd, signExtend } from './alu.js';
import { boundsInvalid, coerceRegToSize, regBoundsSync, zext32To64 } from './bounds.js';
import { checkCfg, jumpTarget, subprogIndexOf } from './check_cfg.js';
import { liveRegsBefore, liveRegsTable } from './live_regs.js';
import { LogBuffer, refsStr, stateStr, vlogAlignment, wholeStateStr } from './log.js';
import { ScratchMarks } from './scratch_marks.js';
import { StackLiveness } from './stack_liveness.js';
import { controlFlow } from './cfg_order.js';
import { SccVisits } from './scc_visits.js';
import { type ProgTypeOps, defaultProgTypeOps, sockAccessOk, tcpSockConversionMissing } from './prog_ops.js';
import {
  type RegState, type VerifierMap, S32_MAX, S32_MIN, S64_MAX, U32_MAX, U64_MAX, copyReg, isPktPointer, isPointer,
  markKnown, markNotInit, markReg32Known, markUnknown, newReg, regTypeStr, setKnown, BPF_ADD_CONST, baseId, hasAddConst,
} from './reg_state.js';
import {
  EXACT, type Explored, type FuncState, HIST_STRIDE, IdMap, NOT_EXACT, RANGE_WITHIN, type VState, STACK_DYNPTR, STACK_INVALID, STACK_ITER, STACK_MISC,
  MAX_CALL_FRAMES, STACK_SPILL, STACK_ZERO, checkCallDepth, copyState, newFuncState, releaseReference, sameCallsites, sameRegBits, statesEqual,
} from './state.js';
import {
  Backtrack, type PrecisionHost, SYNC_CALLBACK_HELPERS, markAllScalarsImprecise, markChainPrecision, packLinked, propagatePrecision,
  stackAccessFlags,
} from './precision.js';
import { FUNC_FIND_VMA, FUNC_TIMER_SET_CALLBACK, checkCallbackReturn, findPrevEntry, invalidScalar, isSyncCallbackHelper, scheduleAsyncCallback, scheduleCallback, widenAfterCallback, widenImpreciseScalars } from './callbacks.js';
import { FUNC_DYNPTR_DATA, FUNC_DYNPTR_FROM_MEM, checkNoDynptrBytes, destroyIfDynptrSlot, type DynptrCtx, processDynptrArg, releaseDynptr } from './dynptr.js';
import { frozenMapRead } from './map_direct.js';
import { finishIterCall, iterActiveDepthsDiffer, iterAtR1Active, processIterArg } from './iter.js';
import { kfuncByBtfId } from '../isa/kfuncs.js';
import { FUNC_SPIN_LOCK, checkCallUnderLock, checkLockFieldAccess, checkNoLockAt, mayPointToSpinLock, pointerRefs, processSpinLock } from './spin_lock.js';
import { fls64, tnumAdd, tnumAnd, tnumConst, tnumIntersect, tnumIsAligned, tnumIsConst, tnumOr, tnumStr, tnumSub, tnumSubreg, tnumWithSubreg } from './tnum.js';

import { E2BIG, EACCES, EAGAIN, EBADF, EFAULT, EINVAL, ENOTSUPP, EPROTO, VerifierError, fail } from './errors.js';
export { E2BIG, EACCES, EAGAIN, EBADF, EFAULT, EINVAL, EPERM, ENOTSUPP } from './errors.js';
const BPF_COMPLEXITY_LIMIT_INSNS = 1_000_000;
/** forceCheckpoint[]: why is_force_checkpoint() holds at an instruction */
const FC_CALLBACK = 1, FC_MAY_GOTO = 2, FC_ITER_NEXT = 3;
const BPF_COMPLEXITY_LIMIT_JMP_SEQ = 8192;
const LINKED_REGS_MAX = 6;
const MAX_BPF_STACK = 512;
const BPF_MAX_VAR_OFF = 1n << 29n;
const BPF_MAX_VAR_SIZ = 1n << 29n;
const BPF_F_STRICT_ALIGNMENT = 1, BPF_F_TEST_STATE_FREQ = 8;
/** test_verifier's F_LOAD_WITH_STRICT_ALIGNMENT maps to prog_flags BPF_F_STRICT_ALIGNMENT by the caller. */
const BPF_F_RDONLY_PROG = 1 << 7, BPF_F_WRONLY_PROG = 1 << 8;
const MAP_TYPE_RINGBUF = 27, MAP_TYPE_USER_RINGBUF = 31, MAP_TYPE_ARRAY = 2, MAP_TYPE_SOCKMAP = 15, MAP_TYPE_SOCKHASH = 18, MAP_TYPE_XSKMAP = 17, MAP_TYPE_ARRAY_OF_MAPS = 12, MAP_TYPE_HASH_OF_MAPS = 13, MAP_TYPE_PROG_ARRAY = 3;

export interface VerifyOptions {
  progType: number;
  /** expected_attach_type of BPF_PROG_LOAD (default 0): some context fields depend on it. */
  expectedAttachType?: number;
  /** ld_imm64 src=1/2 at slot insnIdx: the map it names (undefined: "fd N is not pointing to valid bpf_map"). */
  maps?: (insnIdx: number, fd: number) => VerifierMap | undefined;
  /** Helper prototype by id (default: the helper table). */
  helpers?: (id: number) => { name: string; proto: HelperProto } | undefined;
  /** Per-type context rules (default: defaultProgTypeOps(progType)). */
  progOps?: ProgTypeOps;
  /** 0, 1 or 2 (level 4 stats are always gathered). */
  logLevel?: number;
  /** prog_flags (BPF_F_STRICT_ALIGNMENT = 1, BPF_F_TEST_STATE_FREQ = 8). */
  flags?: number;
  /**
   * The source line (BTF line_info) that starts at or covers insnIdx, if any: the log prints
   * `; LINE @ FILE:NUM` before the first instruction of each new line, as verbose_linfo() does.
   */
  lineInfo?: (insnIdx: number) => LineInfo | undefined;
  /**
   * A wall-clock bound on the walk (ms; default none, as the kernel, whose 1M processed
   * instructions bound the work): past it the program is refused with EAGAIN, as do_check() is
   * when a signal interrupts it, so a pathological program cannot hold a caller indefinitely.
   */
  timeLimitMs?: number;
  /**
   * The program's BTF func_info (check_btf_func()): one entry per subprogram, with its name and
   * linkage; global functions are verified on their own, for any arguments of their prototype. A
   * boolean says only whether there is func_info: without it a callback reference (ld_imm64
   * BPF_PSEUDO_FUNC) is refused. Default: assumed present (objects with callbacks carry BTF).
   */
  funcInfo?: boolean | readonly FuncInfoEntry[];
  /** Whether a map was created with BTF (process_spin_lock()'s first complaint); default: no. */
  mapHasBtf?: (map: VerifierMap) => boolean;
}

export interface LineInfo { line: string; file: string; lineNum: number; col: number }

/** A global function's argument as btf_prepare_func_args() makes it (struct bpf_subprog_arg_info). */
export type GlobalFuncArg = { kind: 'ctx' } | { kind: 'scalar' } | { kind: 'mem'; size: number; nullable: boolean };

/** One func_info record: the subprogram starting at `insn`, its BTF FUNC's name and linkage. */
export interface FuncInfoEntry {
  insn: number;
  name: string;
  global: boolean;
  /** A global function's arguments, or the log line refusing its prototype. */
  args?: GlobalFuncArg[] | { error: string; errno: number };
}

export interface VerifyStats {
  insnProcessed: number; maxStatesPerInsn: number; totalStates: number; peakStates: number; stackDepth: number[];
}

/**
 * What the verifier learned about one instruction (the kernel's struct bpf_insn_aux_data), for the
 * rewrites after verification (convert_ctx_accesses(), do_misc_fixups(), dead-code removal).
 */
export interface InsnAux {
  /** Reached on some path (aux->seen); unreached code is removed or hard-wired after verification. */
  seen: boolean;
  /** Memory instruction: the kind of pointer it went through (aux->ptr_type): 'ctx', 'mem', 'sock', ... */
  ptrType?: string;
  /** Memory instruction: every register type it accessed memory through, on all paths (the JIT's verified tier elides checks by it). */
  memTypes?: string[];
  /** Helper call with a map argument: the one map it saw on every path (aux->map_ptr_state). */
  map?: VerifierMap;
  /** The call saw different maps on different paths (BPF_MAP_PTR_POISON): no inlining. */
  mapPoisoned?: boolean;
  /** bpf_loop call: inlinable (flags 0 and one callback on every path), and the callback's first insn (aux->loop_inline_state). */
  loopInline?: { fit: boolean; callback: number };
}

export interface VerifyResult { ok: boolean; errno: number; log: string; stats: VerifyStats; error?: string; aux: InsnAux[] }

const SIZE_NAME: Record<number, string> = {};
const mkScalar = (): RegState => { const r = newReg(); markUnknown(r); return r; };
const constScalar = (v: bigint): RegState => { const r = newReg(); markKnown(r, v); return r; };

/** struct bpf_call_arg_meta: what the arguments told about the call */
interface HelperMeta {
  map?: VerifierMap; lastPtr?: { regno: number; reg: RegState; arg: ArgType }; releaseId?: number; allocSize?: bigint; msizeMax?: bigint;
  /** the lookup key, when a constant on the stack (get_constant_map_key()) */
  constKey?: bigint;
}

export function verify(insns: readonly Insn[], options: VerifyOptions): VerifyResult {
  const v = new Verifier(insns, options);
  return v.run();
}

export class Verifier {
  insns: readonly Insn[];
  opts: VerifyOptions;
  ops: ProgTypeOps;
  level: number;
  /**
   * The log buffer (struct bpf_verifier_log): at level 1 pop_stack() rewinds it to where the branch
   * was pushed and a successful run clears it, so only the failing path remains, as in the kernel.
   */
  log = new LogBuffer();
  /** print_insn_state()'s bookkeeping: where the last instruction line ended and its length. */
  prevLogPos = 0;
  prevInsnPrintPos = 0;
  regsScratched = new ScratchMarks();
  slotsScratched = new ScratchMarks();
  /** mark_verifier_state_scratched(): every register and slot counts as scratched */
  allScratched = false;
  stack: { st: VState; insn: number; prev: number; logPos: number }[] = [];
  prunePoints: Uint8Array;
  jmpPoints: Uint8Array;
  forceCheckpoint: Uint8Array;
  liveRegs: Uint16Array = new Uint16Array(0);
  subprogStarts: number[] = [];
  stackDepth: number[] = [];
  processed = 0;
  totalStates = 0;
  peakStates = 0;
  maxStatesPerInsn = 0;
  idGen = 0;
  cur!: VState;
  insnIdx = 0;
  prevInsnIdx = 0;
  /** insn -> map pointer seen there (same insn cannot be used with different pointers) */
  insnMapPtr = new Map<number, VerifierMap | string>();
  /** insn -> every register type memAccess() saw there (InsnAux.memTypes) */
  insnMemTypes = new Map<number, Set<string>>();
  mapAt = new Map<number, VerifierMap>();
  /** insn -> its encoding was checked and is well formed */
  encodingOk: Uint8Array;
  /** insn -> reached (aux->seen) */
  seen!: Uint8Array;
  /** helper call insn -> the map argument it saw, or 'poison' when it differed between paths */
  callMap = new Map<number, VerifierMap | 'poison'>();
  /** bpf_loop call insn -> update_loop_inline_state() */
  loopInline = new Map<number, { fit: boolean; callback: number }>();
  strict: boolean;
  /** BPF_F_TEST_STATE_FREQ: a checkpoint at every prune point */
  testStateFreq: boolean;

  /** performance.now() past which the walk stops (VerifyOptions.timeLimitMs). */
  readonly deadline?: number;
  constructor(insns: readonly Insn[], opts: VerifyOptions) {
    this.insns = insns;
    this.opts = opts;
    if (opts.timeLimitMs !== undefined) this.deadline = performance.now() + opts.timeLimitMs;
    this.ops = opts.progOps ?? defaultProgTypeOps(opts.progType, opts.expectedAttachType);
    this.level = opts.logLevel ?? 0;
    this.prunePoints = new Uint8Array(insns.length + 1);
    this.jmpPoints = new Uint8Array(insns.length + 1);
    this.forceCheckpoint = new Uint8Array(insns.length + 1);
    this.seen = new Uint8Array(insns.length);
    this.encodingOk = new Uint8Array(insns.length);
    this.strict = ((opts.flags ?? 0) & BPF_F_STRICT_ALIGNMENT) !== 0;
    this.testStateFreq = ((opts.flags ?? 0) & BPF_F_TEST_STATE_FREQ) !== 0;
    this.precisionHost = {
      insns,
      log2: this.level >= 2 ? (line) => this.log.append(line + '\n') : undefined,
      insnText: (pc) => this.insnText(pc),
      linked: this.linkedSets,
      stateText: (st, fr) => wholeStateStr(st.frames[fr], st.refs),
    };
  }

  /** verbose(): text for the log at level 1 and above (whole lines; the newline is added) */
  verbose(line: string): void { if (this.level) this.log.append(line + '\n'); }
  /** Error context the kernel prints before failing; kept at level 0 too so the last lines carry it. */
  note(line: string): void { this.log.append(line + '\n'); }
  /** bpf_vlog_reset() */
  resetLog(pos: number): void { this.log.reset(pos); }
  markScratched(): void { this.allScratched = true; }
  scratched(): boolean { return this.allScratched || this.regsScratched.size > 0 || this.slotsScratched.size > 0; }
  /** print_verifier_state(): the current frame's registers and slots (all, or the scratched ones), then clean */
  printState(all: boolean, f = this.frame()): void {
    const every = all || this.allScratched;
    this.log.append(stateStr(f, every, this.regsScratched, this.slotsScratched) + refsStr(this.cur.refs) + (f.asyncCallback ? ' async_cb' : '') + (f.inCallback ? ' cb' : '') + '\n');
    this.regsScratched.clear(); this.slotsScratched.clear(); this.allScratched = false;
  }
  /** print_insn_state(): after the instruction line when nothing came between, else on its own "IDX:" line */
  printInsnState(): void {
    if (this.prevLogPos && this.prevLogPos === this.log.length) {
      this.resetLog(this.prevLogPos - 1);
      this.log.append(' '.repeat(vlogAlignment(this.prevInsnPrintPos)) + ';');
    } else this.log.append(`${this.insnIdx}:`);
    this.printState(false);
  }

  run(): VerifyResult {
    let errno = 0;
    let error: string | undefined;
    try {
      this.prepare();
      this.doCheck(0);
      // do_check_common(): at level 1 a successful walk leaves no trace; later passes log afresh
      if (this.level < 2) this.log.reset(0);
      this.checkGlobalSubprogs();
      this.checkMaxStackDepth();
      // convert_ctx_accesses() runs before do_misc_fixups()' kfunc check
      if (this.ctxConversionBug) fail('verifier bug: error during ctx access conversion (0)', EFAULT);
      if (this.kfuncPlaceholder) fail('invalid kernel function call not eliminated in verifier pass', EINVAL);
    } catch (e) {
      if (!(e instanceof VerifierError)) throw e;
      if (e.msg) this.log.append(e.msg + '\n');
      errno = e.errno;
      error = e.msg;
    }
    const stats: VerifyStats = { insnProcessed: this.processed, maxStatesPerInsn: this.maxStatesPerInsn, totalStates: this.totalStates, peakStates: this.peakStates, stackDepth: this.stackDepth };
    const tail = `processed ${this.processed} insns (limit ${BPF_COMPLEXITY_LIMIT_INSNS}) max_states_per_insn ${this.maxStatesPerInsn} total_states ${this.totalStates} peak_states ${this.peakStates} mark_read 0`;
    const log = this.log.toString() + tail + '\n';
    return { ok: errno === 0, errno, log, stats, error, aux: this.insnAux() };
  }

  insnAux(): InsnAux[] {
    const aux: InsnAux[] = [];
    for (let i = 0; i < this.insns.length; i++) {
      const a: InsnAux = { seen: this.seen[i] === 1 };
      const t = this.insnMapPtr.get(i);
      if (typeof t === 'string') a.ptrType = t;
      const mt = this.insnMemTypes.get(i);
      if (mt) a.memTypes = [...mt];
      const m = this.callMap.get(i);
      if (m === 'poison') a.mapPoisoned = true;
      else if (m) a.map = m;
      const loop = this.loopInline.get(i);
      if (loop) a.loopInline = loop;
      aux.push(a);
    }
    return aux;
  }

  // ---- before do_check: encodings, map fds (resolve_pseudo_ldimm64), CFG ----
  prepare(): void {
    const insns = this.insns;
    if (insns.length === 0) fail('program has no instructions', EINVAL);
    const cfg = checkCfg(insns);
    // add_kfunc_call(): every kfunc named must be one bpfkit has (vmlinux BTF ids, isa/kfuncs.ts);
    // a module's (off = its BTF's fd_array slot) cannot be, without an fd_array
    for (const insn of insns) {
      if (insn.code !== (BPF_JMP | BPF_CALL) || insn.src !== BPF_PSEUDO_KFUNC_CALL || (insn.imm === 0 && insn.off === 0)) continue;
      if (insn.off !== 0) {
        // find_kfunc_desc_btf() says why, add_kfunc_call() what
        this.note(insn.off < 0 ? 'negative offset disallowed for kernel module function call' : 'kfunc offset > 0 without fd_array is invalid');
        fail('failed to find BTF for kernel function', insn.off < 0 ? EINVAL : EPROTO);
      }
      if (!kfuncByBtfId(insn.imm)) fail(`kernel btf_id ${insn.imm} is not a function`, EINVAL);
    }
    // add_subprog_and_kfunc() lists the subprograms before check_subprogs() and check_cfg() complain
    if (this.level >= 2) cfg.subprogStarts.forEach((start, i) => this.verbose(`func#${i} @${start}`));
    if (cfg.error && cfg.early) fail(cfg.error, EINVAL);
    // check_btf_func(): a func_info record per subprogram, at its first instruction
    const fi = this.funcInfo;
    if (fi) {
      if (fi.length !== cfg.subprogStarts.length) fail('number of funcs in func_info doesn\'t match number of subprogs', EINVAL);
      if (fi.some((e, i) => e.insn !== cfg.subprogStarts[i])) fail('func_info BTF section doesn\'t match subprog layout in BPF program', EINVAL);
    }
    for (let i = 0; i < insns.length; i++) {
      const insn = insns[i];
      if (bpfClass(insn.code) === BPF_LDX && ((bpfMode(insn.code) !== BPF_MEM && bpfMode(insn.code) !== BPF_MEMSX) || insn.imm !== 0)) fail('BPF_LDX uses reserved fields', EINVAL);
      if (insn.code === 0x18) {
        const next = insns[i + 1];
        if (!next || next.code !== 0 || next.dst !== 0 || next.src !== 0 || next.off !== 0) fail('invalid bpf_ld_imm64 insn', EINVAL);
        const why = insn.off === 0 ? insnEncodingError(insns, i) : undefined; // off: check_ld_imm() during do_check
        if (why) fail(why, EINVAL);
        const src = insn.src;
        if (src === BPF_PSEUDO_MAP_FD || src === BPF_PSEUDO_MAP_VALUE || src === BPF_PSEUDO_MAP_IDX || src === BPF_PSEUDO_MAP_IDX_VALUE) {
          if ((src === BPF_PSEUDO_MAP_FD || src === BPF_PSEUDO_MAP_IDX) && insns[i + 1].imm !== 0) fail('unrecognized bpf_ld_imm64 insn', EINVAL);
          const map = this.opts.maps?.(i, insn.imm);
          if (!map) fail(`fd ${insn.imm} is not pointing to valid bpf_map`, EBADF);
          if (src === BPF_PSEUDO_MAP_VALUE || src === BPF_PSEUDO_MAP_IDX_VALUE) {
            const off = insns[i + 1].imm >>> 0;
            if (map.spec.type !== MAP_TYPE_ARRAY || map.spec.maxEntries !== 1) fail('map type does not support direct value access', EINVAL);
            if (off >= 1 << 29) fail(`direct value offset of ${off} is not allowed`, EINVAL);
            if (off >= map.spec.valueSize) fail(`invalid access to map value pointer, value_size=${map.spec.valueSize} off=${off}`, EINVAL);
          }
          this.mapAt.set(i, map);
        } else if (src === 0 || src === BPF_PSEUDO_FUNC) {
          if (src === 0 && false) fail('');
        } else fail('unrecognized bpf_ld_imm64 insn', EINVAL);
        i++;
        continue;
      }
      // resolve_pseudo_ldimm64(): bpf_opcode_in_insntable() before anything else looks at the program
      if (!opInfo(insn.code) || insn.code === 0x8d) fail(`unknown opcode ${insn.code.toString(16).padStart(2, '0')}`, EINVAL);
    }
    if (cfg.error) fail(cfg.error, EINVAL);
    this.subprogStarts = cfg.subprogStarts;
    this.stackDepth = cfg.subprogStarts.map(() => 0);
    this.markPrunePoints();
    const log2 = this.level >= 2 ? (text: string) => this.log.append(text) : undefined;
    // SCCs for the level-2 log, and for the backedges of callback loops (only those make any)
    const callsCallback = (i: number): boolean => this.forceCheckpoint[i] === FC_CALLBACK;
    const flow = controlFlow(insns, cfg.subprogStarts, log2 || this.forceCheckpoint.some((k) => k !== 0) ? callsCallback : undefined);
    // compute_live_registers(): states_equal() compares only the registers live at the instruction; the level-2 table
    this.liveRegs = liveRegsBefore(insns, flow.successors, this.helperArgCount);
    if (log2) log2(liveRegsTable(insns, this.liveRegs, flow.scc!, (pc) => this.insnText(pc)));
    if (flow.scc) this.sccVisits = new SccVisits(flow.scc, log2 && ((line) => log2(line + '\n')));
    this.liveStack = new StackLiveness({
      ...flow, subprogStarts: cfg.subprogStarts, insnCount: insns.length, prunePoints: this.prunePoints, callsCallback, log: log2,
    });
  }

  /** Arguments a helper call reads (for the liveness pass): up to its first ARG_DONTCARE. */
  helperArgCount = (insn: Insn): number | undefined => {
    if (insn.src === BPF_PSEUDO_KFUNC_CALL) return insn.off === 0 ? kfuncByBtfId(insn.imm)?.params : undefined;
    if (insn.src !== 0) return undefined;
    const def = this.opts.helpers ? this.opts.helpers(insn.imm) : helperProto(insn.imm);
    if (!def) return undefined;
    const n = def.proto.args.findIndex((a) => a.base === 'ARG_DONTCARE');
    return n < 0 ? def.proto.args.length : n;
  };

  /**
   * visit_insn()'s marks: prune points (where is_state_visited() runs) at conditional jumps, jump
   * targets, after calls and at subprogram calls; jump points (a jump history entry on arrival) at
   * jump targets and after calls; forced checkpoints at helpers calling callbacks.
   */
  markPrunePoints(): void {
    const insns = this.insns, n = insns.length;
    const mark = (t: number, jmp: boolean): void => { if (t >= 0 && t < n) { this.prunePoints[t] = 1; if (jmp) this.jmpPoints[t] = 1; } };
    for (let pc = 0; pc < n; pc++) {
      const i = insns[pc];
      const cls = bpfClass(i.code);
      if (i.code === 0x18) {
        if (i.src === BPF_PSEUDO_FUNC) { mark(pc + 2, true); mark(pc, false); mark(pc + 1 + i.imm, true); }
        pc++;
        continue;
      }
      if (cls !== BPF_JMP && cls !== BPF_JMP32) continue;
      const op = bpfOp(i.code);
      if (op === BPF_EXIT) continue;
      if (op === BPF_CALL) {
        if (i.src === 0 && i.imm === 170) mark(pc, false); // bpf_timer_set_callback: async callback
        if (i.src === 0 && SYNC_CALLBACK_HELPERS.has(i.imm)) { mark(pc, true); this.forceCheckpoint[pc] = FC_CALLBACK; }
        // an iterator's next(): where its loop converges
        if (i.src === BPF_PSEUDO_KFUNC_CALL && i.off === 0 && kfuncByBtfId(i.imm)?.kind === 'iter_next') { mark(pc, false); this.forceCheckpoint[pc] = FC_ITER_NEXT; }
        mark(pc + 1, true);
        if (i.src === BPF_PSEUDO_CALL) { mark(pc, false); mark(pc + 1 + i.imm, true); }
        continue;
      }
      if (op === BPF_JA) { mark(jumpTarget(insns, pc), true); continue; }
      if (i.code === (BPF_JMP | BPF_JCOND)) this.forceCheckpoint[pc] = FC_MAY_GOTO;
      mark(pc, false);
      mark(jumpTarget(insns, pc), true);
    }
  }

  frame(): FuncState { return this.cur.frames[this.cur.frames.length - 1]; }
  reg(i: number): RegState { return this.frame().regs[i]; }

  // ---- check_reg_arg ----
  readReg(r: number): RegState {
    if (r >= 11) fail(`R${r} is invalid`, EINVAL);
    const reg = this.reg(r);
    this.regsScratched.add(r);
    if (reg.type === 'not_init') fail(`R${r} !read_ok`);
    return reg;
  }
  writeRegCheck(r: number): RegState {
    if (r >= 11) fail(`R${r} is invalid`, EINVAL);
    if (r === 10) fail('frame pointer is read only');
    this.regsScratched.add(r);
    return this.reg(r);
  }

  newId(): number { return ++this.idGen; }

  // ---- main loop ----
  /** do_check_common(): the main program (0), or a global function for any arguments of its prototype */
  doCheck(subprog: number): void {
    const start = this.subprogStarts[subprog] ?? 0;
    const st: VState = { frames: [newFuncState(0, -1, subprog)], refs: [], parent: null, speculative: false, firstInsnIdx: start, lastInsnIdx: -1, insnIdx: start, hist: [], mayGotoDepth: 0, dfsDepth: 0 };
    const f = st.frames[0];
    if (subprog === 0) { f.regs[1].type = 'ctx'; setKnown(f.regs[1], 0n); } else this.globalArgs(subprog, f);
    this.cur = st;
    this.insnIdx = start;
    this.prevInsnIdx = -1;
    this.markScratched();
    let doPrintState = false, popped = false;
    for (;;) {
      this.curHistEnt = -1;
      this.histPrevIdx = this.prevInsnIdx;
      if (this.insnIdx >= this.insns.length) fail(`invalid insn idx ${this.insnIdx} insn_cnt ${this.insns.length}`, EFAULT);
      if (++this.processed > BPF_COMPLEXITY_LIMIT_INSNS) fail(`BPF program is too large. Processed ${this.processed} insn`, E2BIG);
      if ((this.processed & 4095) === 0 && this.deadline !== undefined && performance.now() > this.deadline) {
        fail(`verification time limit of ${this.opts.timeLimitMs} ms exceeded after ${this.processed} insns`, EAGAIN);
      }
      this.cur.lastInsnIdx = this.prevInsnIdx;
      this.cur.insnIdx = this.insnIdx;
      let endPath = false;
      if (this.prunePoints[this.insnIdx] && this.isStateVisited(this.insnIdx) === 'safe') {
        this.verbose(doPrintState ? `\nfrom ${this.prevInsnIdx} to ${this.insnIdx}: safe` : `${this.insnIdx}: safe`);
        endPath = true;
      }
      if (!endPath) {
        if (this.jmpPoints[this.insnIdx]) this.pushJmpHistory(0, 0);
        if (this.level >= 2 && doPrintState) {
          this.log.append(`\nfrom ${this.prevInsnIdx} to ${this.insnIdx}:`);
          this.printState(true);
          if (popped) this.markScratched(); // a popped state is printed again at its first instruction
          doPrintState = false;
        }
        const insn = this.insns[this.insnIdx];
        this.seen[this.insnIdx] = 1;
        if (this.level) {
          if (this.scratched()) this.printInsnState();
          this.printLineInfo(this.insnIdx);
          this.prevLogPos = this.log.length;
          this.log.append(`${this.insnIdx}: ${this.insnText(this.insnIdx)}\n`);
          this.prevInsnPrintPos = this.log.length - this.prevLogPos;
          this.prevLogPos = this.log.length;
        } else { this.regsScratched.clear(); this.slotsScratched.clear(); }
        this.prevInsnIdx = this.insnIdx;
        const at = this.insnIdx;
        this.liveStack.resetWrites(this.cur.frames, at);
        const res = this.checkInsn(insn);
        this.liveStack.commit();
        if (res === 'exit') endPath = true;
        // process_bpf_exit_full(): back in the caller, level 2 prints "from EXIT to CALLSITE+1"
        else if (res === 'return') { doPrintState = true; popped = false; }
      }
      if (endPath) {
        // process_bpf_exit: the popped state is printed in full; level 1 forgets the finished path
        this.markScratched();
        this.updateBranchCounts(this.cur.parent);
        this.liveStack.update(this.cur.frames);
        const next = this.stack.pop();
        if (!next) break;
        if (this.level === 1) this.resetLog(next.logPos);
        this.cur = next.st;
        this.insnIdx = next.insn;
        this.prevInsnIdx = next.prev;
        doPrintState = true;
        popped = true;
      }
    }
  }

  /** push_jmp_history(): one entry per instruction; a second push for the same instruction merges its flags */
  pushJmpHistory(flags: number, linked: number): void {
    const h = this.cur.hist;
    if (this.curHistEnt >= 0 && this.curHistEnt < h.length) {
      h[this.curHistEnt + 2] |= flags;
      h[this.curHistEnt + 3] = linked;
      return;
    }
    this.curHistEnt = h.length;
    h.push(this.insnIdx, this.histPrevIdx, flags, linked);
  }
  /** env->cur_hist_ent: this instruction's history entry (offset in cur.hist), -1 before any */
  curHistEnt = -1;
  /** env->prev_insn_idx while the instruction is processed */
  histPrevIdx = -1;

  /** mark_chain_precision(): the scalar in regno of the current frame decides something */
  markPrecise(regno: number): void {
    this.bt.reset();
    this.backtrack(() => markChainPrecision(this.precisionHost, this.cur, regno, this.bt));
  }
  /** mark_chain_precision_batch() for one spilled slot */
  markSlotPrecise(frameno: number, spi: number): void {
    this.bt.reset();
    this.bt.setSlot(frameno, spi);
    this.backtrack(() => markChainPrecision(this.precisionHost, this.cur, -1, this.bt));
  }
  /** A backtracking inconsistency ends verification with -EFAULT and the kernel's "verifier bug" text, never a stack trace. */
  backtrack(walk: () => unknown): void {
    try { walk(); } catch (e) {
      if (e instanceof Error && e.message.startsWith('verifier bug')) fail(e.message, EFAULT);
      throw e;
    }
  }
  bt = new Backtrack();
  linkedSets: number[][] = [];
  precisionHost!: PrecisionHost;

  /** verbose_insn(): map references print as a kernel address, as the kernel prints its map pointer */
  insnText(pc: number): string {
    return (this.insnTexts[pc] ??= this.formatInsn(pc));
  }
  /** insnText() per instruction, made on first use (a loop prints the same lines many times) */
  insnTexts: (string | undefined)[] = [];
  formatInsn(pc: number): string {
    const i = this.insns[pc];
    // print_bpf_insn() without cb_imm: a function reference prints its raw 64-bit immediate
    if (i.code === 0x18 && i.src === BPF_PSEUDO_FUNC) {
      const imm = (BigInt(this.insns[pc + 1]?.imm ?? 0) << 32n | BigInt(i.imm >>> 0)) & U64_MAX;
      return `(18) r${i.dst} = 0x${imm.toString(16)}`;
    }
    // __func_get_name(): a subprogram call is its imm as "%+d", whatever the off field holds
    if (i.code === (BPF_JMP | BPF_CALL) && i.src === BPF_PSEUDO_CALL) return `(85) call pc${i.imm >= 0 ? '+' : ''}${i.imm}`;
    // a kfunc placeholder (imm 0) names BTF type 0, which has no name: `call #0`
    return formatXlatedInsn(this.insns, pc, { mapRef: (x) => x.src === 1 || x.src === 2 ? '0xffff888100000000' : undefined, kfuncName: (imm) => (imm === 0 ? '' : undefined) });
  }

  /** verbose_linfo(): a source line is printed once, before the first instruction it covers */
  printLineInfo(idx: number): void {
    const li = this.opts.lineInfo?.(idx);
    if (!li || (this.prevLinfo && li.line === this.prevLinfo.line && li.file === this.prevLinfo.file && li.lineNum === this.prevLinfo.lineNum && li.col === this.prevLinfo.col)) return;
    this.log.append(`; ${li.line.trimStart()} @ ${li.file}:${li.lineNum}\n`);
    this.prevLinfo = li;
  }
  prevLinfo: LineInfo | undefined;

  /** update_branch_counts(): a finished path releases its checkpoints; evicted ones are freed then (maybe_free_verifier_state()) */
  updateBranchCounts(e: Explored | null): void {
    while (e) {
      if (--e.branches > 0) break;
      this.sccVisits?.exit(e, e.state, (equal, st) => {
        this.bt.reset();
        let changed = false;
        this.backtrack(() => { changed = propagatePrecision(this.precisionHost, equal, st, this.bt, this.level ? (t) => this.log.append(t) : undefined); });
        return changed;
      });
      if (e.inFreeList) { e.inFreeList = false; this.freeListSize--; }
      e = e.state.parent;
    }
  }

  pushStack(insn: number, prev: number): VState {
    const st = copyState(this.cur);
    if (st.parent) st.parent.branches++;
    this.stack.push({ st, insn, prev, logPos: this.log.length });
    if (this.stack.length > BPF_COMPLEXITY_LIMIT_JMP_SEQ) fail(`The sequence of ${this.stack.length} jumps is too complex.`, E2BIG);
    return st;
  }

  /** explored_state(): the hash bucket of (insn ^ callsite) % prog_len, newest state last */
  bucket(idx: number): Explored[] {
    const f = this.frame();
    const h = ((idx ^ f.callsite) >>> 0) % this.insns.length;
    let b = this.buckets[h];
    if (!b) { b = []; this.buckets[h] = b; }
    return b;
  }
  buckets: Explored[][] = [];
  /** free_states() between do_check_common() walks (explored_states_size and free_list_size keep counting) */
  resetExplored(): void {
    this.buckets = [];
  }
  exploredSize = 0;
  freeListSize = 0;
  idmap = new IdMap();

  /** is_state_visited() */
  isStateVisited(idx: number): 'safe' | 'new' {
    const cur = this.cur;
    // force_new_state: callback-calling helpers, and no endless jump history
    const force = this.testStateFreq || this.forceCheckpoint[idx] !== 0 || cur.hist.length / HIST_STRIDE > 40;
    // add a checkpoint only after 2 jumps and 8 instructions since the last one (fewer states)
    let addNewState = force || (this.jmpsProcessed - this.prevJmpsProcessed >= 2 && this.processed - this.prevInsnProcessed >= 8);
    const list = this.bucket(idx);
    this.cleanLiveStates(idx, list);
    let statesCnt = 0;
    // newest first, as list_add() puts new states at the head
    for (let k = list.length - 1; k >= 0; k--) {
      const e = list[k];
      statesCnt++;
      if (e.insn !== idx) continue;
      let hit = false, loop = false;
      if (e.branches > 0) {
        const kind = this.forceCheckpoint[idx];
        if (kind === FC_ITER_NEXT) {
          // the same state (ranges within) at next() with the iterator still active: the loop converged
          hit = loop = this.statesEqual(e.state, RANGE_WITHIN) && iterAtR1Active(cur);
        } else if (kind === FC_CALLBACK) {
          hit = loop = this.statesEqual(e.state, RANGE_WITHIN);
        } else if (kind === FC_MAY_GOTO && e.state.mayGotoDepth !== cur.mayGotoDepth && this.statesEqual(e.state, RANGE_WITHIN)) {
          // the same state one more may_goto deeper: the loop converged
          hit = loop = true;
        } else if (statesMaybeLooping(e.state, cur) && e.state.mayGotoDepth === cur.mayGotoDepth && this.statesEqual(e.state, EXACT) &&
          !iterActiveDepthsDiffer(e.state, cur)) {
          // a state still being explored on this path: an identical one means a loop that never ends
          this.note(`infinite loop detected at insn ${idx}`);
          this.note(`cur state:${wholeStateStr(this.frame(), cur.refs)}`);
          const of = e.state.frames[cur.frames.length - 1];
          fail(`old state:${wholeStateStr(of, e.state.refs)}`, EINVAL);
        }
        // inside a loop: checkpoints only now and then, iterations differ anyway
        if (!hit && !force && this.jmpsProcessed - this.prevJmpsProcessed < 20 && this.processed - this.prevInsnProcessed < 100) addNewState = false;
      } else {
        // incomplete_read_marks(): the checkpoint's loop still has backedges pending
        loop = this.sccVisits?.incomplete(e.state) ?? false;
        hit = this.statesEqual(e.state, loop ? RANGE_WITHIN : NOT_EXACT);
      }
      if (hit) {
        e.hits++;
        // what the old state needed precise, this path's checkpoints need too
        if (this.jmpPoints[idx]) this.pushJmpHistory(0, 0);
        this.bt.reset();
        this.backtrack(() => propagatePrecision(this.precisionHost, e.state, cur, this.bt, this.level ? (t) => this.log.append(t) : undefined));
        if (loop) {
          // a loop's checkpoint whose marks may still grow: keep this state to propagate them again at SCC exit
          const copy = copyState(cur);
          copy.insnIdx = idx;
          this.sccVisits?.addBackedge(e.state, copy);
          this.updatePeakStates();
        }
        return 'safe';
      }
      if (addNewState) e.misses++;
      // states that keep missing are evicted (they cost comparisons, rarely prune)
      const n = this.forceCheckpoint[idx] && e.branches > 0 ? 64 : 3;
      if (e.misses > e.hits * n + n) {
        list.splice(k, 1);
        this.exploredSize--;
        // still a parent of paths being explored: freed when they finish
        if (e.branches > 0) { e.inFreeList = true; this.freeListSize++; }
      }
    }
    if (statesCnt > this.maxStatesPerInsn) this.maxStatesPerInsn = statesCnt;
    if (!addNewState) return 'new';
    this.totalStates++;
    this.exploredSize++;
    this.updatePeakStates();
    this.prevJmpsProcessed = this.jmpsProcessed;
    this.prevInsnProcessed = this.processed;
    markAllScalarsImprecise(cur);
    const e: Explored = { state: copyState(cur), branches: 1, insn: idx, hits: 0, misses: 0, inFreeList: false, cleaned: false };
    e.state.insnIdx = idx;
    this.sccVisits?.enter(e, e.state);
    cur.parent = e;
    cur.dfsDepth = e.state.dfsDepth + 1;
    cur.firstInsnIdx = idx;
    cur.hist = [];
    list.push(e);
    return 'new';
  }

  /** update_peak_states(): explored states, evicted ones still referenced, and backedges */
  updatePeakStates(): void {
    this.peakStates = Math.max(this.peakStates, this.exploredSize + this.freeListSize + (this.sccVisits?.backedgeCount ?? 0));
  }

  statesEqual(old: VState, exact: number): boolean {
    return statesEqual(old, this.cur, exact, this.liveRegs, this.idmap, this.idGen);
  }
  kfuncPlaceholder = false;
  /** a reached load convert_ctx_accesses() will find no conversion for (tcpSockConversionMissing()) */
  ctxConversionBug = false;
  jmpsProcessed = 0;
  prevJmpsProcessed = 0;
  prevInsnProcessed = 0;

  // ---- one instruction (do_check_insn) ----
  checkInsn(insn: Insn): 'next' | 'exit' | 'jump' | 'return' {
    const cls = bpfClass(insn.code);
    // check_alu_op() looks at the reserved fields of a binary op before its registers
    const aop = bpfOp(insn.code);
    if ((cls === BPF_ALU || cls === BPF_ALU64) && aop !== 0xb0 && aop !== 0x80 && aop !== 0xd0 && aop <= 0xc0 &&
      ((bpfSrc(insn.code) === BPF_X ? insn.imm !== 0 : insn.src !== 0) || (insn.off !== 0 && insn.off !== 1) || (insn.off === 1 && aop !== 0x30 && aop !== 0x90))) {
      fail('BPF_ALU uses reserved fields', EINVAL);
    }
    if (insn.code === 0x18 && insn.off !== 0) fail('BPF_LD_IMM64 uses reserved fields', EINVAL); // check_ld_imm()
    // the encoding of an instruction does not change between visits: checked once
    if (!this.encodingOk[this.insnIdx]) {
      const why = insnEncodingError(this.insns, this.insnIdx);
      if (why) fail(why, EINVAL);
      this.encodingOk[this.insnIdx] = 1;
    }
    if (cls === BPF_ALU || cls === BPF_ALU64) { this.checkAlu(insn); this.insnIdx++; return 'next'; }
    if (cls === BPF_LDX) { this.checkLdx(insn); this.insnIdx++; return 'next'; }
    if (cls === BPF_STX) {
      if (bpfMode(insn.code) === BPF_ATOMIC) this.checkAtomic(insn);
      else this.checkStx(insn);
      this.insnIdx++; return 'next';
    }
    if (cls === BPF_ST) { this.checkSt(insn); this.insnIdx++; return 'next'; }
    if (cls === BPF_LD) {
      const mode = bpfMode(insn.code);
      if (mode === BPF_ABS || mode === BPF_IND) { this.checkLdAbs(insn); this.insnIdx++; return 'next'; }
      this.checkLdImm64(insn); this.insnIdx += 2; return 'next';
    }
    // JMP / JMP32
    this.jmpsProcessed++;
    const op = bpfOp(insn.code);
    if (op === BPF_CALL) {
      if (bpfSrc(insn.code) === BPF_X) fail(`unknown opcode ${insn.code.toString(16)}`, EINVAL);
      // static subprograms may be called with a lock held; helpers and kfuncs (mostly) not
      if (insn.src !== BPF_PSEUDO_CALL) checkCallUnderLock(this.cur, insn.src === 0 ? insn.imm : undefined);
      if (insn.src === BPF_PSEUDO_CALL) return this.checkFuncCall(insn) ? 'next' : 'jump';
      if (insn.src === BPF_PSEUDO_KFUNC_CALL) {
        // check_kfunc_call(): imm 0 is a placeholder the verifier passes over (fixup_kfunc_call() refuses it later)
        // (seen on 6.18: R0 counts as scratched, its state prints after the call)
        if (insn.imm === 0) { this.kfuncPlaceholder = true; this.regsScratched.add(0); this.insnIdx++; return 'next'; }
        this.checkKfuncCall(insn);
        this.insnIdx++;
        return 'next';
      }
      this.checkHelperCall(insn);
      this.insnIdx++;
      return 'next';
    }
    if (op === BPF_EXIT) return this.checkExit();
    if (op === BPF_JA) { this.insnIdx = jumpTarget(this.insns, this.insnIdx); return 'jump'; }
    if (op === BPF_JCOND) { this.checkMayGoto(insn); return 'jump'; }
    this.checkCondJmp(insn);
    return 'jump';
  }

  // ---- ALU (check_alu_op + adjust_reg_min_max_vals) ----
  checkAlu(insn: Insn): void {
    const op = bpfOp(insn.code);
    const alu32 = bpfClass(insn.code) === BPF_ALU;
    const isX = bpfSrc(insn.code) === BPF_X;
    if (op === 0xd0 || op === 0x80) {
      const d = this.readReg(insn.dst);
      this.writeRegCheck(insn.dst);
      if (isPointer(d)) { markUnknown(d); return; } // allow_ptr_leaks: the pointer becomes a scalar
      if (op === 0x80) negScalar(d, alu32);
      else endScalar(d, insn.imm, isX, !alu32);
      return;
    }
    if (op === 0xb0) { // mov
      let src: RegState;
      if (isX) src = this.readReg(insn.src);
      else src = constScalar(alu32 ? BigInt(insn.imm >>> 0) : BigInt(insn.imm));
      const d = this.writeRegCheck(insn.dst);
      if (isX) {
        if (insn.off === 0) {
          if (alu32) {
            if (isPointer(src)) { markUnknown(d); d.varOff = tnumSubreg(d.varOff); d.umax = U32_MAX; d.smin = 0n; d.smax = U32_MAX; regBoundsSync(d); return; }
            // w1 = w2 stays linked to r2 only when r2 fits in 32 bits
            const fits = regWidth(src) <= 32;
            if (fits) this.assignScalarIdBeforeMov(src);
            const c = copyReg(src);
            if (!fits) c.id = 0;
            Object.assign(d, c);
            this.zext(d);
          } else {
            this.assignScalarIdBeforeMov(src);
            Object.assign(d, src);
          }
        } else {
          // is_pointer_value() is false with allow_ptr_leaks (root): a sign-extended pointer is a scalar
          if (isPointer(src)) { markUnknown(d); if (alu32) this.zext(d); return; }
          // a sign extension that cannot change the value keeps the link
          const noSext = src.umax < 1n << BigInt(insn.off - 1);
          if (noSext) this.assignScalarIdBeforeMov(src);
          const c = copyReg(src);
          if (!noSext) c.id = 0;
          Object.assign(d, c);
          signExtend(d, insn.off / 8, alu32);
        }
      } else {
        Object.assign(d, src);
      }
      return;
    }
    // binary ops: check_alu_op() reads the source operand before the destination
    let src: RegState;
    if (isX) src = this.readReg(insn.src);
    else src = constScalar(BigInt(insn.imm));
    const d = this.readReg(insn.dst);
    if ((op === 0x30 || op === 0x90) && !isX && insn.imm === 0) fail('div by zero', EINVAL);
    if ((op === 0x60 || op === 0x70 || op === 0xc0) && !isX) {
      const bits = alu32 ? 32 : 64;
      if (insn.imm < 0 || insn.imm >= bits) fail(`invalid shift ${insn.imm}`, EINVAL);
    }
    this.writeRegCheck(insn.dst);
    const opName = ALU_NAME[op] ?? '?';
    // adjust_reg_min_max_vals(): pointer op pointer is only a (leaking) subtraction, 32-bit or not
    if (isPointer(d) && isPointer(src)) {
      if (op === 0x10) { markUnknown(d); if (alu32) this.zext(d); return; }
      fail(`R${insn.dst} pointer ${opName} pointer prohibited`);
    }
    // pointer +/- scalar: the offset's range decides what the pointer may reach
    if (isPointer(d)) {
      if (isX) this.markPrecise(insn.src);
      return this.adjustPtr(d, src, op, alu32, insn.dst);
    }
    if (isPointer(src)) { // scalar op= pointer: adjust_ptr_min_max_vals() with the roles swapped
      this.markPrecise(insn.dst);
      const sc = copyReg(d);
      Object.assign(d, copyReg(src));
      return this.adjustPtr(d, sc, op, alu32, insn.dst, true);
    }
    // a precise destination needs a precise source (adjust_reg_min_max_vals())
    if (isX && d.precise) this.markPrecise(insn.src);
    if ((op === 0x50 || op === 0x40) && tnumIsConst(src.varOff)) this.maybeForkScalars(insn.dst, d);
    const id = d.id;
    const val = tnumIsConst(src.varOff) ? src.varOff.value : undefined;
    adjustScalar(op, d, src, alu32);
    // `rX += K` on a linked scalar keeps the link with the delta K (BPF_ADD_CONST), once
    if (op === 0x00 && !alu32 && id && val !== undefined) {
      if (hasAddConst(id) || val > 0x7fffffffn) { d.off = 0; d.id = 0; }
      else { d.id = id + BPF_ADD_CONST; d.off = Number(val); }
    } else d.id = 0;
  }

  /**
   * maybe_fork_scalars() (6.18): a register in [-1, 0] (64-bit, else 32-bit signed range) and'ed or
   * or'ed with a constant is explored as -1 here and as 0 in a branch that re-runs this instruction
   * (`from N to N:`), so the usual `(x s>> 63) & C` select keeps an exact value on both paths.
   */
  maybeForkScalars(dst: number, d: RegState): void {
    const alu32 = !(d.smin === -1n && d.smax === 0n);
    if (alu32 && !(d.s32min === -1n && d.s32max === 0n)) return;
    const branch = this.pushStack(this.insnIdx, this.insnIdx);
    const b = branch.frames[branch.frames.length - 1].regs[dst];
    if (alu32) { markReg32Known(b, 0n); markReg32Known(d, U32_MAX); } else { markKnown(b, 0n); markKnown(d, -1n); }
  }

  /** zext_32_to_64() then reg_bounds_sync(), after a 32-bit ALU op */
  zext(d: RegState): void { zext32To64(d); regBoundsSync(d); }

  /** adjust_ptr_min_max_vals() */
  adjustPtr(d: RegState, off: RegState, op: number, alu32: boolean, dst: number, swapped = false): void {
    const name = regTypeStr(d);
    if (alu32) {
      if (op === 0x10) { markUnknown(d); this.zext(d); return; } // allow_ptr_leaks
      fail(`R${dst} 32-bit pointer arithmetic prohibited`);
    }
    if (d.type === 'map_ptr' && op === 0x00 && tnumIsConst(off.varOff) && off.varOff.value === 0n) return;
    if (d.maybeNull) fail(`R${dst} pointer arithmetic on ${name} prohibited, null-check it first`);
    if (d.type === 'map_ptr' || d.type === 'pkt_end' || d.type === 'sock' || d.type === 'sock_common' || d.type === 'tcp_sock' || d.type === 'xdp_sock' || (d.type === 'flow_keys' && !tnumIsConst(off.varOff)) || d.type === 'func') {
      fail(`R${dst} pointer arithmetic on ${name} prohibited`);
    }
    // check_reg_sane_offset() on the offset, then on the pointer, before the operator is looked at
    const known = tnumIsConst(off.varOff);
    const smin = off.smin;
    saneOffset(off, d.type);
    saneOffset(d, d.type);
    if (op !== 0x00 && op !== 0x10) {
      if (op === 0x50 || op === 0x40 || op === 0xa0) fail(`R${dst} bitwise operator ${ALU_NAME[op]} on pointer prohibited`);
      fail(`R${dst} pointer arithmetic with ${ALU_NAME[op]} operator prohibited`);
    }
    if (op === 0x10 && swapped) fail(`R${dst} tried to subtract pointer from scalar`);
    if (op === 0x10 && d.type === 'fp') fail(`R${dst} subtraction from stack pointer prohibited`);
    if (op === 0x00) {
      if (known) {
        d.off = Number(BigInt.asIntN(32, BigInt(d.off) + smin));
        if (BigInt(d.off) !== BigInt(d.off)) fail('');
      } else {
        d.varOff = tnumAdd(d.varOff, off.varOff);
        const a = d.smin + off.smin, b = d.smax + off.smax;
        // check_add/sub_overflow() on either end loses the whole signed range
        if (BigInt.asIntN(64, a) !== a || BigInt.asIntN(64, b) !== b) { d.smin = -(1n << 63n); d.smax = S64_MAX; } else { d.smin = a; d.smax = b; }
        const ua = d.umin + off.umin, ub = d.umax + off.umax;
        if (ub > U64_MAX) { d.umin = 0n; d.umax = U64_MAX; } else { d.umin = ua; d.umax = ub; }
        d.s32min = S32_MIN; d.s32max = S32_MAX; d.u32min = 0n; d.u32max = U32_MAX;
        regBoundsSync(d);
        if (isPktPointer(d)) { d.id = this.newId(); d.range = 0; }
      }
    } else {
      if (d.type === 'fp' && !known) { /* privileged: allowed */ }
      if (known) d.off = Number(BigInt.asIntN(32, BigInt(d.off) - smin));
      else {
        if (d.umin < off.umax) { d.umin = 0n; d.umax = U64_MAX; } else { d.umin -= off.umax; d.umax -= off.umin; }
        const a = d.smin - off.smax, b = d.smax - off.smin;
        // check_add/sub_overflow() on either end loses the whole signed range
        if (BigInt.asIntN(64, a) !== a || BigInt.asIntN(64, b) !== b) { d.smin = -(1n << 63n); d.smax = S64_MAX; } else { d.smin = a; d.smax = b; }
        d.varOff = tnumSub(d.varOff, off.varOff);
        d.s32min = S32_MIN; d.s32max = S32_MAX; d.u32min = 0n; d.u32max = U32_MAX;
        regBoundsSync(d);
        if (isPktPointer(d)) { d.id = this.newId(); d.range = 0; }
      }
    }
    // check_reg_sane_offset() on the result (sanitize_check_bounds() is skipped when privileged):
    // 6.18 bounds the fixed offset and, separately, the variable part's minimum, and names either
    // "pointer offset" (seen on the kernel: pkt -= u32 gives "pkt pointer offset -4294967295")
    for (const v of [BigInt(d.off), d.smin]) {
      if (v >= BPF_MAX_VAR_OFF || v <= -BPF_MAX_VAR_OFF) fail(`${d.type} pointer offset ${v} is not allowed`);
    }
  }

  // ---- memory (check_mem_access) ----
  checkLdx(insn: Insn): void {
    const size = SIZE_BYTES[bpfSize(insn.code)];
    const src = this.readReg(insn.src);
    this.writeRegCheck(insn.dst);
    const sx = bpfMode(insn.code) === BPF_MEMSX;
    const val = this.memAccess(insn.src, src, insn.off, size, 'read', undefined);
    this.checkSameType(src);
    const d = this.reg(insn.dst);
    Object.assign(d, val);
    if (d.type === 'scalar' && sx && size < 8) signExtend(d, size, false);
  }

  /** "same insn cannot be used with different pointers" (check_reg_type_match for ldx/stx) */
  checkSameType(r: RegState): void {
    const t = r.type === 'ctx' ? 'ctx' : r.type === 'fp' || r.type === 'map_value' ? 'mem' : r.type;
    const prev = this.insnMapPtr.get(this.insnIdx);
    if (prev === undefined) { this.insnMapPtr.set(this.insnIdx, t); return; }
    if (prev !== t && (prev === 'ctx' || t === 'ctx' || prev === 'sock' || t === 'sock')) fail('same insn cannot be used with different pointers', EINVAL);
  }

  checkStx(insn: Insn): void {
    const size = SIZE_BYTES[bpfSize(insn.code)];
    const val = this.readReg(insn.src);
    const d = this.readReg(insn.dst);
    this.memAccess(insn.dst, d, insn.off, size, 'write', val, insn.src);
    this.checkSameType(d);
  }

  checkSt(insn: Insn): void {
    const size = SIZE_BYTES[bpfSize(insn.code)];
    const d = this.readReg(insn.dst);
    this.memAccess(insn.dst, d, insn.off, size, 'write', constScalar(BigInt(insn.imm)));
    // save_aux_ptr_type() for BPF_ST too: the rewrites need the pointer kind (packet writes)
    this.checkSameType(d);
  }

  checkAtomic(insn: Insn): void {
    const size = SIZE_BYTES[bpfSize(insn.code)];
    if (size !== 4 && size !== 8) fail('invalid atomic operand size', EINVAL);
    this.readReg(insn.src);
    const d = this.readReg(insn.dst);
    if (insn.imm === 0xf1) this.readReg(0);
    if (insn.imm & BPF_FETCH && insn.imm !== 0xf1) this.writeRegCheck(insn.src);
    if (d.type === 'ctx' || isPktPointer(d) || d.type === 'flow_keys' || d.type === 'sock' || d.type === 'sock_common') {
      fail(`BPF_ATOMIC stores into R${insn.dst} ${regTypeStr(d)} is not allowed`);
    }
    this.checkAlign(d, insn.off, size, insn.dst, true);
    const loaded = this.memAccess(insn.dst, d, insn.off, size, 'read', undefined);
    this.memAccess(insn.dst, d, insn.off, size, 'write', mkScalar());
    if (insn.imm === 0xf1) { const r0 = this.writeRegCheck(0); Object.assign(r0, loaded); }
    else if (insn.imm & BPF_FETCH) { const r = this.writeRegCheck(insn.src); Object.assign(r, loaded); }
  }

  /** check_mem_access(): returns the loaded value for reads */
  memAccess(regno: number, r: RegState, insnOff: number, size: number, type: 'read' | 'write', val: RegState | undefined, valRegno?: number): RegState {
    const seenTypes = this.insnMemTypes.get(this.insnIdx);
    if (seenTypes) seenTypes.add(r.type); else this.insnMemTypes.set(this.insnIdx, new Set([r.type]));
    const off = r.off + insnOff;
    const out = mkScalar();
    // check_ptr_alignment()
    this.checkAlign(r, insnOff, size, regno);
    switch (r.type) {
      case 'scalar': fail(`R${regno} invalid mem access 'scalar'`);
      case 'not_init': fail(`R${regno} !read_ok`);
      case 'map_value': {
        if (type === 'write' && val && isPointer(val) && false) fail('');
        this.checkMapAccessType(r, off, size, type);
        this.checkMapAccess(regno, r, off, size, 'map value', r.map!.spec.valueSize);
        checkLockFieldAccess(r, off, size);
        // bpf_map_direct_read(): a frozen read-only map's bytes are known constants
        if (type === 'read' && !r.maybeNull) { const c = frozenMapRead(r, off, size); if (c !== undefined) return constScalar(c); }
        break;
      }
      case 'map_key':
        // a callback's key (bpf_for_each_map_elem) is read-only
        if (type === 'write') fail(`write to change key R${regno} not allowed`);
        this.checkMapAccess(regno, r, off, size, 'map key', r.map!.spec.keySize);
        break;
      case 'mem': {
        if (type === 'write' && r.rdonly) fail(`R${regno} cannot write into ${regTypeStr(r)}`);
        this.checkMapAccess(regno, r, off, size, 'mem', r.memSize);
        break;
      }
      case 'ctx': {
        // __check_ptr_off_reg()
        if (r.off < 0) fail(`negative offset ctx ptr R${regno} off=${r.off} disallowed`);
        if (r.off) fail(`dereference of modified ctx ptr R${regno} off=${r.off} disallowed`);
        if (!tnumIsConst(r.varOff) || r.varOff.value) fail(`variable ctx access var_off=${tnumStr(r.varOff)} disallowed`);
        const acc = this.ops.isValidAccess(off, size, type);
        if (!acc) fail(`invalid bpf_context access off=${off} size=${size}`);
        if (type === 'read' && acc.regType && acc.regType !== 'scalar') {
          out.type = acc.regType; setKnown(out, 0n); out.maybeNull = acc.maybeNull ?? false;
          if (out.maybeNull) out.id = this.newId();
        } else if (type === 'read' && size < 8) coerceRegToSize(out, size);
        return out;
      }
      case 'tp_buffer':
        // check_tp_buffer_access() / __check_buffer_access(): a constant, non-negative offset
        if (off < 0) fail(`R${regno} invalid tracepoint buffer access: off=${off}, size=${size}`, EACCES);
        if (!tnumIsConst(r.varOff) || r.varOff.value) fail(`R${regno} invalid variable buffer offset: off=${off}, var_off=${tnumStr(r.varOff)}`, EACCES);
        break;
      case 'fp': return this.stackAccess(regno, r, insnOff, size, type, val, valRegno, bpfClass(this.insns[this.insnIdx].code) === BPF_ST, this.insns[this.insnIdx].imm);
      case 'pkt': case 'pkt_meta': {
        if (type === 'write' && !this.ops.pktWrite) fail(`cannot write into packet`);
        this.checkPacketAccess(regno, r, off, size);
        break;
      }
      case 'flow_keys': {
        // check_mem_access() / check_flow_keys_access(): within struct bpf_flow_keys (56 bytes)
        if (type === 'write' && val && valRegno !== undefined && isPointer(val)) fail(`R${valRegno} leaks addr into flow keys`);
        if (off < 0 || off + size > 56) fail(`invalid access to flow keys off=${off} size=${size}`);
        break;
      }
      case 'map_ptr': {
        if (r.maybeNull) fail(`R${regno} invalid mem access '${regTypeStr(r)}'`);
        // check_ptr_to_map_access(): reads of the map's kernel struct, as BTF allows them
        const tname = MAP_STRUCT_NAME[r.map?.spec.type ?? -1];
        if (!tname) fail(`map_ptr access not supported for map type ${r.map?.spec.type}`, ENOTSUPP);
        if (off < 0) fail(`R${regno} is ${tname} invalid negative access: off=${off}`);
        if (type !== 'read') fail(`only read from ${tname} is supported`);
        return out; // the field's type is not modelled: an unknown scalar
      }
      case 'sock': case 'sock_common': case 'tcp_sock': case 'xdp_sock': {
        if (r.maybeNull) fail(`R${regno} invalid mem access '${regTypeStr(r)}'`);
        if (type === 'write') fail(`R${regno} cannot write into ${r.type}`);
        if (!sockAccessOk(r.type, off, size)) fail(`R${regno} invalid ${r.type} access off=${off} size=${size}`);
        if (r.type === 'tcp_sock' && tcpSockConversionMissing(off)) this.ctxConversionBug = true;
        break;
      }
      default:
        fail(`R${regno} invalid mem access '${regTypeStr(r)}'`);
    }
    if (r.maybeNull) fail(`R${regno} invalid mem access '${regTypeStr(r)}'`);
    if (type === 'read' && size < 8) coerceRegToSize(out, size);
    return out;
  }

  /** check_ptr_alignment(): stack always strict, others only with BPF_F_STRICT_ALIGNMENT */
  checkAlign(r: RegState, insnOff: number, size: number, _regno: number, once = false): void {
    if (size === 1) return;
    const strict = this.strict || once || r.type === 'fp';
    if (!strict) return;
    const tn = tnumIsConst(r.varOff) ? String(BigInt.asIntN(64, r.varOff.value)) : tnumStr(r.varOff);
    if (isPktPointer(r)) {
      const regOff = tnumAdd(r.varOff, tnumConst(BigInt(r.off + insnOff)));
      const ipOff = tnumAdd(regOff, tnumConst(2n)); // NET_IP_ALIGN
      if (!tnumIsAligned(ipOff, size)) fail(`misaligned packet access off 2+${tn}+${r.off}+${insnOff} size ${size}`);
      return;
    }
    const desc = r.type === 'fp' ? 'stack ' : r.type === 'ctx' ? 'context ' : r.type === 'map_value' ? 'value ' : r.type === 'flow_keys' ? 'flow keys ' : r.type.startsWith('sock') || r.type === 'tcp_sock' ? 'sock ' : '';
    const regOff = tnumAdd(r.varOff, tnumConst(BigInt(r.off + insnOff)));
    if (!tnumIsAligned(regOff, size)) fail(`misaligned ${desc}access off ${tn}+${r.off}+${insnOff} size ${size}`);
  }

  checkMapAccessType(r: RegState, off: number, size: number, type: 'read' | 'write'): void {
    const f = r.map!.spec.flags;
    if (type === 'write' && (f & BPF_F_RDONLY_PROG)) fail(`write into map forbidden, value_size=${r.map!.spec.valueSize} off=${off} size=${size}`);
    if (type === 'read' && (f & BPF_F_WRONLY_PROG)) fail(`read from map forbidden, value_size=${r.map!.spec.valueSize} off=${off} size=${size}`);
  }

  /** check_map_access() / check_mem_region_access() */
  checkMapAccess(regno: number, r: RegState, off: number, size: number, what: string, memSize: number): void {
    const msg = (o: bigint): string => what === 'mem'
      ? `invalid access to memory, mem_size=${memSize} off=${o} size=${size}`
      : `invalid access to ${what}, ${what === 'map key' ? 'key' : 'value'}_size=${memSize} off=${o} size=${size}`;
    const bad = (o: bigint): boolean => o < 0n || o + BigInt(size) > BigInt(memSize);
    if (r.smin < 0n && (r.smin === -(1n << 63n) || BigInt.asIntN(32, BigInt(off) + r.smin) !== BigInt(off) + r.smin || r.smin + BigInt(off) < 0n)) {
      fail(`R${regno} min value is negative, either use unsigned index or do a if (index >=0) check.`);
    }
    if (bad(BigInt(off) + r.smin)) { this.note(msg(BigInt(off) + r.smin)); fail(`R${regno} min value is outside of the allowed memory range`); }
    if (r.umax >= BPF_MAX_VAR_OFF) fail(`R${regno} unbounded memory access, make sure to bounds check any such access`);
    if (bad(BigInt(off) + r.umax)) { this.note(msg(BigInt(off) + r.umax)); fail(`R${regno} max value is outside of the allowed memory range`); }
  }

  /** check_packet_access() */
  checkPacketAccess(regno: number, r: RegState, off: number, size: number): void {
    if (r.smin < 0n) fail(`R${regno} min value is negative, either use unsigned index or do a if (index >=0) check.`);
    // a pointer known to be at or past pkt_end has no range at all
    if (r.range < 0) fail(`R${regno} offset is outside of the packet`, EINVAL);
    // the variable part was covered when the range was established for this id
    if (off < 0 || off + size > r.range) {
      // __check_mem_access() prints the access offset twice
      this.note(`invalid access to packet, off=${off} size=${size}, R${regno}(id=${r.id},off=${off},r=${r.range})`);
      fail(`R${regno} offset is outside of the packet`);
    }
  }

  slot(f: FuncState, i: number): { types: number[]; spilled?: RegState } {
    while (f.stack.length <= i) f.stack.push({ types: [0, 0, 0, 0, 0, 0, 0, 0], spilled: undefined }); // (copyFunc()'s shape)
    return f.stack[i];
  }

  /** check_stack_read/write (fixed and variable offset) */
  stackAccess(regno: number, r: RegState, insnOff: number, size: number, type: 'read' | 'write', val: RegState | undefined, valRegno: number | undefined, isSt: boolean, insnImm: number): RegState {
    const f = this.cur.frames[r.frameno];
    const varKnown = tnumIsConst(r.varOff);
    const base = r.off + insnOff;
    if (!varKnown && (r.smax >= BPF_MAX_VAR_OFF || r.smin <= -BPF_MAX_VAR_OFF)) {
      fail(`invalid unbounded variable-offset ${type === 'read' ? 'read from' : 'write to'} stack R${regno}`);
    }
    let lo: number, hi: number;
    if (varKnown) { lo = base + Number(BigInt.asIntN(64, r.varOff.value)); hi = lo; }
    else { lo = base + Number(r.smin); hi = base + Number(r.smax); }
    if (varKnown && (lo < -MAX_BPF_STACK || lo + size > 0)) {
      fail(`invalid ${type === 'read' ? 'read from' : 'write to'} stack R${regno} off=${lo} size=${size}`);
    }
    // check_stack_access_within_bounds(): only the reachable range [off + smin, off + smax + size) counts
    if (!varKnown && (lo < -MAX_BPF_STACK || hi + size > 0)) {
      fail(`invalid variable-offset ${type === 'read' ? 'read from' : 'write to'} stack R${regno} var_off=${tnumStr(r.varOff)} off=${base} size=${size}`);
    }
    if (-lo > (this.stackDepth[f.subprog] ?? 0)) this.stackDepth[f.subprog] = -lo;
    const out = mkScalar();
    if (type === 'write') {
      if (!varKnown) {
        // check_stack_write_var_off(): every byte in reach may be written; zeros written over zeros stay zero
        const isZero = (x: RegState | undefined): boolean => !!x && x.type === 'scalar' && tnumIsConst(x.varOff) && x.varOff.value === 0n;
        const writingZero = valRegno !== undefined ? isZero(val) : isSt && insnImm === 0;
        let zeroUsed = false;
        for (let o = lo; o < hi + size; o++) {
          const spi = Math.floor((-o - 1) / 8), j = (-o - 1) % 8;
          destroyIfDynptrSlot(this.cur, f, spi);
          const s = this.slot(f, spi);
          this.slotsScratched.add(spi);
          if (writingZero && s.types[j] === STACK_SPILL && isZero(s.spilled)) { zeroUsed = true; continue; }
          s.spilled = undefined;
          if (writingZero && s.types[j] === STACK_ZERO) zeroUsed = true;
          else s.types[j] = STACK_MISC;
        }
        // the zero kept in the slots came from the register: it must stay exactly zero
        if (zeroUsed && valRegno !== undefined) this.markPrecise(valRegno);
        return out;
      }
      return this.stackWriteFixed(f, lo, size, val, valRegno, isSt, insnImm);
    }
    // read
    if (!varKnown) {
      // allow_uninit_stack: any byte reads as unknown
      this.markStackRangeRead(f.frameno, lo, hi + size);
      if (size < 8) coerceRegToSize(out, size);
      return out;
    }
    return this.stackReadFixed(f, lo, size);
  }

  /** check_stack_write_fixed_off(): spills (of scalars at any aligned size, of pointers whole) or bytes */
  stackWriteFixed(f: FuncState, off: number, size: number, val: RegState | undefined, valRegno: number | undefined, isSt: boolean, imm: number): RegState {
    const spi = Math.floor((-off - 1) / 8);
    // only a whole aligned slot write ends the slot's liveness
    if (off % 8 === 0 && size === 8) this.liveStack.write(f.frameno, spi);
    this.slotsScratched.add(spi);
    destroyIfDynptrSlot(this.cur, f, spi);
    const slot = this.slot(f, spi);
    const aligned = off % 8 === 0;
    const save = (reg: RegState): void => {
      slot.spilled = reg;
      for (let i = 0; i < 8; i++) {
        if (i >= 8 - size) slot.types[i] = STACK_SPILL;
        else if (slot.types[i] !== STACK_ZERO && slot.types[i] !== STACK_INVALID) slot.types[i] = STACK_MISC;
      }
    };
    const reg = valRegno !== undefined ? val : undefined;
    // a spill is recorded in the jump history so backtracking can follow the value through the slot
    const flags = stackAccessFlags(f.frameno, spi);
    if (reg && aligned && reg.type === 'scalar') {
      const fits = regWidth(reg) <= size * 8;
      if (fits) this.assignScalarIdBeforeMov(reg);
      save(copyReg(reg));
      if (!fits) slot.spilled!.id = 0;
      this.pushJmpHistory(flags, 0);
    } else if (!reg && aligned && isSt) {
      save(constScalar(BigInt(imm)));
      this.pushJmpHistory(flags, 0);
    } else if (reg && isPointer(reg)) {
      if (size !== 8) fail('invalid size of register spill');
      if (f !== this.frame() && reg.type === 'fp') fail('cannot spill pointers to stack into stack frame of the caller', EINVAL);
      save(copyReg(reg));
      this.pushJmpHistory(flags, 0);
    } else {
      // a plain write ends any spill or iterator in the slot (scrub_spilled_slot())
      if (slot.types[7] === STACK_SPILL || slot.types[7] === STACK_ITER) slot.types = slot.types.map((t) => (t === STACK_INVALID ? t : STACK_MISC));
      slot.spilled = undefined;
      const zero = reg ? reg.type === 'scalar' && tnumIsConst(reg.varOff) && reg.varOff.value === 0n : isSt && imm === 0;
      // STACK_ZERO stands for the register's value: it must stay exactly zero
      if (zero && reg && valRegno !== undefined) this.markPrecise(valRegno);
      const slotByte = -off - 1;
      for (let i = 0; i < size; i++) slot.types[(slotByte - i) % 8] = zero ? STACK_ZERO : STACK_MISC;
    }
    return mkScalar();
  }

  /** check_stack_read_fixed_off(): fills restore the spilled register; plain bytes read as zero or unknown */
  stackReadFixed(f: FuncState, off: number, size: number): RegState {
    const spi = Math.floor((-off - 1) / 8);
    this.markStackRead(f.frameno, spi);
    this.slotsScratched.add(spi);
    const slot = f.stack[spi];
    const slotByte = -off - 1;
    const typeAt = (i: number): number => (slot ? slot.types[(slotByte - i) % 8] : STACK_INVALID);
    for (let i = 0; i < size; i++) if (typeAt(i) === STACK_DYNPTR || typeAt(i) === STACK_ITER) fail(`invalid read from stack off ${off}+${i} size ${size}`);
    let out: RegState;
    if (slot && slot.types[7] === STACK_SPILL && slot.spilled) {
      const reg = slot.spilled;
      let spillSize = 1;
      for (let i = 7; i > 0 && slot.types[i - 1] === STACK_SPILL; i--) spillSize++;
      // a fill restores the spilled register: recorded for backtracking
      const flags = stackAccessFlags(f.frameno, spi);
      if (size === 8 && spillSize === 8) { this.pushJmpHistory(flags, 0); return copyReg(reg); }
      if (reg.type !== 'scalar') fail('invalid size of register fill');
      if (size <= spillSize && off % 8 === 0) {
        this.pushJmpHistory(flags, 0);
        // bpf_stack_narrow_access_ok(): the low bytes of the spilled value (little endian)
        if (size === 4 && spillSize === 4 && regWidth(reg) <= 32) this.assignScalarIdBeforeMov(reg);
        out = copyReg(reg);
        if (regWidth(reg) > size * 8) out.id = 0;
      } else {
        let spills = 0, zeros = 0;
        for (let i = 0; i < size; i++) { const t = typeAt(i); if (t === STACK_SPILL) spills++; else if (t === STACK_ZERO) zeros++; }
        if (spills === size && tnumIsConst(reg.varOff) && reg.varOff.value === 0n) { this.pushJmpHistory(flags, 0); return constScalar(0n); }
        if (zeros === size) return constScalar(0n);
        out = mkScalar();
      }
    } else {
      let zeros = 0;
      for (let i = 0; i < size; i++) if (typeAt(i) === STACK_ZERO) zeros++;
      if (zeros === size) return constScalar(0n);
      out = mkScalar();
    }
    if (size < 8) coerceRegToSize(out, size);
    return out;
  }

  /**
   * get_constant_map_key(): a key on the stack that is all STACK_ZERO bytes, or a spilled constant
   * of exactly the key's size (which must then stay precise).
   */
  constantMapKey(key: RegState, keySize: number): bigint | undefined {
    if (key.type !== 'fp' || !tnumIsConst(key.varOff)) return undefined;
    const stackOff = key.off + Number(BigInt.asIntN(64, key.varOff.value));
    const slotByte = -stackOff - 1, spi = Math.floor(slotByte / 8), off = slotByte % 8;
    const slot = this.cur.frames[key.frameno].stack[spi];
    if (!slot) return undefined;
    let zeros = 0;
    for (let i = off; i >= 0 && slot.types[i] === STACK_ZERO; i--) zeros++;
    if (zeros >= keySize) return 0n;
    const reg = slot.spilled;
    if (slot.types[7] !== STACK_SPILL || !reg || reg.type !== 'scalar') return undefined;
    let spill = 0;
    for (let i = off; i >= 0 && slot.types[i] === STACK_SPILL; i--) spill++;
    if (spill !== keySize || !tnumIsConst(reg.varOff)) return undefined;
    this.markSlotPrecise(key.frameno, spi);
    return reg.varOff.value;
  }

  /** check_resource_leak(): each reference still held, then why it matters here */
  checkReferenceLeak(prefix: string): void {
    // check_reference_leak(): REF_TYPE_PTR only, held locks are checked on their own
    const leaked = pointerRefs(this.cur);
    if (!leaked.length) return;
    for (const r of leaked) this.note(`Unreleased reference id=${r.id} alloc_insn=${r.insn}`);
    fail(`${prefix} would lead to reference leak`, EINVAL);
  }

  /** bpf_mark_stack_read() */
  markStackRead(frameno: number, spi: number): void { this.liveStack.read(this.cur.frames, frameno, this.insnIdx, spi); }
  markStackRangeRead(frameno: number, lo: number, hi: number): void {
    for (let o = lo; o < hi; o++) if ((-o - 1) % 8 === 0 || o === lo) this.markStackRead(frameno, Math.floor((-o - 1) / 8));
  }
  liveStack!: StackLiveness;
  /** SCC visits and backedges: only where a callback loop or the level-2 log needs them */
  sccVisits: SccVisits | undefined;

  /** clean_live_states(): finished explored states here lose dead registers and slots, so they match more */
  cleanLiveStates(idx: number, list: readonly Explored[]): void {
    for (const e of list) {
      if (e.branches || e.insn !== idx || e.cleaned || !sameCallsites(e.state, this.cur) || this.sccVisits?.incomplete(e.state)) continue;
      e.cleaned = true;
      const frames = e.state.frames, last = frames.length - 1;
      this.liveStack.queryInit(frames, e.state.insnIdx);
      for (let i = 0; i <= last; i++) {
        const ip = i === last ? e.state.insnIdx : frames[i + 1].callsite;
        const f = frames[i], live = this.liveRegs[ip];
        for (let r = 0; r < 10; r++) if (!((live >> r) & 1)) markNotInit(f.regs[r]);
        f.stack.forEach((sl, spi) => { if (!this.liveStack.alive(i, spi)) { sl.types.fill(STACK_INVALID); sl.spilled = undefined; } });
      }
    }
  }

  /** assign_scalar_id_before_mov(): give an unknown scalar an id so its copy stays linked to it */
  assignScalarIdBeforeMov(r: RegState): void {
    if (r.type !== 'scalar') return;
    // a copy of `rY + K` starts a fresh link: one delta per register
    if (hasAddConst(r.id)) { r.id = 0; r.off = 0; }
    if (!r.id && !tnumIsConst(r.varOff)) r.id = this.newId();
  }

  checkLdAbs(insn: Insn): void {
    if (!this.ops.ldAbs) fail('BPF_LD_[ABS|IND] instructions not allowed for this program type', EINVAL);
    if (this.cur.frames.length > 1) fail('BPF_LD_[ABS|IND] instructions cannot be mixed with bpf-to-bpf calls', EINVAL);
    const r6 = this.readReg(6);
    if (bpfMode(insn.code) === BPF_IND) this.readReg(insn.src);
    // check_resource_leak() before the R6 type check, as check_ld_abs()
    checkNoLockAt(this.cur, 'BPF_LD_[ABS|IND]');
    this.checkReferenceLeak('BPF_LD_[ABS|IND]');
    if (r6.type !== 'ctx') fail('at the time of BPF_LD_ABS|IND R6 != pointing to skb', EINVAL);
    if (bpfSize(insn.code) === BPF_DW) fail('unknown opcode 38', EINVAL);
    for (let i = 1; i <= 5; i++) { markNotInit(this.reg(i)); this.regsScratched.add(i); }
    // check_ld_abs(): R0 is marked unknown, its width is not modelled
    markUnknown(this.writeRegCheck(0));
  }

  checkLdImm64(insn: Insn): void {
    if (insn.off !== 0) fail('BPF_LD_IMM64 uses reserved fields', EINVAL);
    const d = this.writeRegCheck(insn.dst);
    const next = this.insns[this.insnIdx + 1];
    if (insn.src === 0) { markKnown(d, (BigInt(next.imm >>> 0) << 32n) | BigInt(insn.imm >>> 0)); return; }
    // check_ld_imm(): a callback is named through BTF func_info (its linkage must be static)
    if (insn.src === BPF_PSEUDO_FUNC && (this.opts.funcInfo === false || (Array.isArray(this.opts.funcInfo) && !this.opts.funcInfo.length))) fail('missing btf func_info', EINVAL);
    if (insn.src === BPF_PSEUDO_FUNC) { markUnknown(d); d.type = 'func'; setKnown(d, 0n); d.subprog = this.insnIdx + 1 + insn.imm; return; }
    const map = this.mapAt.get(this.insnIdx)!;
    markUnknown(d);
    setKnown(d, 0n);
    d.map = map;
    if (insn.src === BPF_PSEUDO_MAP_VALUE || insn.src === BPF_PSEUDO_MAP_IDX_VALUE) { d.type = 'map_value'; d.off = next.imm >>> 0; }
    else d.type = 'map_ptr';
  }

  // ---- jumps (check_cond_jmp_op) ----
  /**
   * check_cond_jmp_op() for may_goto: the jump is followed first; the fall-through (the loop goes
   * on) is pushed one may_goto deeper, its imprecise scalars widened against the previous
   * iteration's checkpoint here (find_prev_entry() from this instruction's own checkpoint).
   */
  checkMayGoto(insn: Insn): void {
    const idx = this.insnIdx;
    const checkpoint = this.cur.parent?.state;
    const prev = checkpoint && findPrevEntry(this, checkpoint, idx);
    const queued = this.pushStack(idx + 1, idx);
    queued.mayGotoDepth++;
    if (prev) widenImpreciseScalars(prev, queued);
    this.insnIdx = idx + 1 + insn.off;
  }

  checkCondJmp(insn: Insn): void {
    const op = bpfOp(insn.code);
    const is32 = bpfClass(insn.code) === BPF_JMP32;
    const isX = bpfSrc(insn.code) === BPF_X;
    const d = this.readReg(insn.dst);
    let s: RegState;
    if (isX) { s = this.readReg(insn.src); }
    else s = constScalar(is32 ? BigInt(insn.imm >>> 0) : BigInt(insn.imm));
    if (isX && isPointer(s) && !isPointer(d) && false) fail('');
    const target = jumpTarget(this.insns, this.insnIdx);
    const taken = isBranchTaken(d, s, op, is32);
    if (taken >= 0) {
      // the outcome rests on the scalars' values: they must stay precise in the checkpoints behind
      if (!isPointer(d)) this.markPrecise(insn.dst);
      if (isX && !isPointer(s)) this.markPrecise(insn.src);
      if (this.level) this.printInsnState();
      if (taken === 1) this.insnIdx = target; else this.insnIdx++;
      return;
    }
    // registers sharing an id with either operand are refined together: remember them in the history
    const linked: number[] = [];
    if (isX && s.type === 'scalar' && s.id) this.collectLinked(s.id, linked);
    if (d.type === 'scalar' && d.id) this.collectLinked(d.id, linked);
    if (linked.length > 1) { this.linkedSets.push(linked); this.pushJmpHistory(0, this.linkedSets.length); }
    const other = this.pushStack(target, this.insnIdx);
    const of = other.frames[other.frames.length - 1];
    const od = of.regs[insn.dst], os = isX ? of.regs[insn.src] : copyReg(s);
    // refine both: other = branch taken, cur = fall through
    if (d.type === 'scalar' && s.type === 'scalar') {
      regSetMinMax(od, os, op, is32);
      regSetMinMax(d, isX ? s : copyReg(s), negateOp(op), is32);
      if (isX && s.id) { this.syncLinked(this.cur, s, linked); this.syncLinked(other, os, linked); }
      if (d.id) { this.syncLinked(this.cur, d, linked); this.syncLinked(other, od, linked); }
    }
    // null checks (mark_ptr_or_null_regs)
    if (!is32 && !isX && insn.imm === 0 && d.maybeNull && (op === 0x10 || op === 0x50)) {
      const id = d.id;
      // "== 0": the branch is the null case, the fall-through the non-null one
      this.markPtrOrNull(this.cur, id, op === 0x50);
      this.markPtrOrNull(other, id, op === 0x10);
    }
    // packet range (find_good_pkt_pointers)
    if (isX && !is32) this.pktCompare(d, s, op, other, insn);
    // a register compared with itself is refined in place through both roles; contradictory bounds
    // do not end the path (6.18 follows it, e.g. `if w5 s>= w5` falls through with R5=0x80000000)
    const sameReg = isX && insn.src === insn.dst;
    const otherDead = !sameReg && od.type === 'scalar' && (boundsInvalid(od) || (isX && boundsInvalid(os)));
    const curDead = !sameReg && d.type === 'scalar' && (boundsInvalid(d) || (isX && boundsInvalid(s)));
    if (otherDead) {
      // other branch impossible: drop it
      this.stack.pop(); if (other.parent) other.parent.branches--;
    }
    if (curDead && !otherDead) {
      // fallthrough impossible: take the branch instead
      const b = this.stack.pop()!;
      if (b.st.parent) b.st.parent.branches--;
      this.cur = b.st; this.insnIdx = target; return;
    }
    // the state after the jump is printed now, before is_state_visited() may prune the next instruction
    if (this.level) this.printInsnState();
    this.insnIdx++;
  }

  /** collect_linked_regs(): scalars (registers, then spilled slots; innermost frame first) with this base id */
  collectLinked(id: number, out: number[]): void {
    const base = baseId(id);
    const frames = this.cur.frames;
    for (let i = frames.length - 1; i >= 0; i--) {
      const f = frames[i];
      const add = (r: RegState, n: number, isReg: boolean): void => {
        if (r.type !== 'scalar' || baseId(r.id) !== base) return;
        if (out.length < LINKED_REGS_MAX) out.push(packLinked(i, n, isReg));
        else r.id = 0;
      };
      // only registers live at the frame's instruction (frame_insn_idx()) are linked
      const live = this.liveRegs[i === frames.length - 1 ? this.insnIdx : frames[i + 1].callsite];
      for (let j = 0; j < 10; j++) if ((live >> j) & 1) add(f.regs[j], j, true);
      f.stack.forEach((sl, j) => { if (sl.types[7] === STACK_SPILL && sl.spilled) add(sl.spilled, j, false); });
    }
  }

  /**
   * sync_linked_regs(): the refined known register's range goes to the registers linked with it
   * (adding the constant delta between them for `rX = rY + K` links).
   */
  syncLinked(st: VState, known: RegState, linked: readonly number[]): void {
    for (const e of linked) {
      const f = st.frames[e & 7], n = (e >> 3) & 0x3f;
      const r = (e >> 9) & 1 ? f.regs[n] : f.stack[n]?.spilled;
      if (!r || r.type !== 'scalar' || r === known || baseId(r.id) !== baseId(known.id)) continue;
      if ((!hasAddConst(r.id) && !hasAddConst(known.id)) || r.off === known.off) { Object.assign(r, copyReg(known)); continue; }
      const off = r.off, id = r.id;
      const delta = constScalar(BigInt(off - known.off));
      Object.assign(r, copyReg(known));
      r.off = off; r.id = id;
      scalarMinMaxAdd(r, delta);
    }
  }

  markPtrOrNull(st: VState, id: number, isNull: boolean): void {
    const each = (r: RegState): void => {
      if (!r.maybeNull || r.id !== id) return;
      if (isNull) { markKnown(r, 0n); return; }
      r.maybeNull = false;
      // mark_ptr_not_null_reg(): what a socket map's value really is
      const mt = r.type === 'map_value' ? r.map?.spec.type : undefined;
      if (mt === MAP_TYPE_XSKMAP) r.type = 'xdp_sock';
      else if (mt === MAP_TYPE_SOCKMAP || mt === MAP_TYPE_SOCKHASH) r.type = 'sock';
      if (!mayPointToSpinLock(r)) r.id = 0; // mark_ptr_or_null_reg(): spin-lock map values keep it (the lock's identity)
    };
    for (const f of st.frames) { f.regs.forEach(each); for (const s of f.stack) if (s.spilled) each(s.spilled); }
    if (isNull) st.refs = st.refs.filter((r) => r.id !== id);
  }

  /**
   * try_match_pkt_pointers(): a comparison of a packet pointer with pkt_end (or pkt_meta with the
   * packet start) gives the good branch a range (find_good_pkt_pointers()) and marks the pointer
   * in the bad one as past or at the end (mark_pkt_end()).
   */
  pktCompare(d: RegState, s: RegState, op: number, other: VState, insn: Insn): void {
    const initPkt = (r: RegState): boolean => r.type === 'pkt' && r.id === 0 && r.off === 0 && tnumIsConst(r.varOff) && r.varOff.value === 0n;
    const lhsPkt = (d.type === 'pkt' && s.type === 'pkt_end') || (d.type === 'pkt_meta' && initPkt(s));
    const rhsPkt = (d.type === 'pkt_end' && s.type === 'pkt') || (initPkt(d) && s.type === 'pkt_meta');
    if (!lhsPkt && !rhsPkt) return;
    const cur = this.cur;
    // [good state, open range, bad state, bad range open] per operator, for `pkt' OP end`
    let good: VState, open: boolean, bad: VState, badOpen: boolean;
    const o = lhsPkt ? op : flipOp(op);
    if (o === 0x20) { good = cur; open = false; bad = other; badOpen = true; } // pkt' > end: fallthrough good
    else if (o === 0xa0) { good = other; open = true; bad = cur; badOpen = false; } // pkt' < end: taken good
    else if (o === 0x30) { good = cur; open = true; bad = other; badOpen = false; } // pkt' >= end: fallthrough good
    else if (o === 0xb0) { good = other; open = false; bad = cur; badOpen = true; } // pkt' <= end: taken good
    else return;
    const regno = lhsPkt ? insn.dst : insn.src;
    const ptr = lhsPkt ? d : s;
    this.findGoodPktPointers(good, regno, ptr.type, open);
    const br = bad.frames[bad.frames.length - 1].regs[regno];
    if (br.type === 'pkt') br.range = badOpen ? BEYOND_PKT_END : AT_PKT_END;
  }

  /** find_good_pkt_pointers() */
  findGoodPktPointers(st: VState, regno: number, type: string, open: boolean): void {
    const fr = st.frames[st.frames.length - 1];
    const pr = fr.regs[regno];
    if (pr.off < 0 || (pr.off === 0 && open)) return;
    // MAX_PACKET_OFF: beyond it ptr + x may be below pkt_end only by wrapping
    if (pr.umax > 0xffffn || pr.umax + BigInt(pr.off) > 0xffffn) return;
    const newRange = pr.off + (open ? 1 : 0);
    const apply = (r: RegState): void => { if (r.type === type && r.id === pr.id && r.range < newRange) r.range = newRange; };
    for (const f of st.frames) { f.regs.forEach(apply); for (const sl of f.stack) if (sl.spilled) apply(sl.spilled); }
  }

  // ---- calls ----
  /** check_func_call(); true when the callee is a global function, assumed valid here */
  checkFuncCall(insn: Insn): boolean {
    const target = this.insnIdx + 1 + insn.imm;
    const sp = this.subprogStarts.indexOf(target);
    const entry = sp < 0 ? undefined : this.funcInfo?.[sp];
    if (entry?.global) { this.checkGlobalCall(sp, entry); return true; }
    checkCallDepth(this.cur);
    if (sp < 0) fail('call to invalid destination', EINVAL);
    const caller = this.frame();
    const callee = newFuncState(this.cur.frames.length, this.insnIdx, sp);
    for (let i = 1; i <= 5; i++) { callee.regs[i] = copyReg(caller.regs[i]); }
    for (let i = 0; i <= 5; i++) { if (i) markNotInit(caller.regs[i]); else markNotInit(caller.regs[0]); }
    this.cur.frames.push(callee);
    this.liveStack.resetCallchain();
    this.insnIdx = target;
    if (this.level) {
      this.log.append('caller:\n'); this.printState(true, caller);
      this.log.append('callee:\n'); this.printState(true, callee);
      this.markScratched();
    }
    return false;
  }
  curProto: HelperProto | undefined;

  /** clear_all_pkt_pointers(): packet pointers in every frame become unknown scalars (privileged) */
  clearAllPktPointers(): void {
    const clear = (r: RegState): void => { if (isPktPointer(r) || r.type === 'pkt_end') markUnknown(r); };
    for (const f of this.cur.frames) { f.regs.forEach(clear); for (const sl of f.stack) if (sl.spilled) clear(sl.spilled); }
  }

  /**
   * subprog_info[].changes_pkt_data: the subprogram, or one it calls, calls a helper that may move
   * the packet (check_cfg(): mark_subprog_changes_pkt_data() and merge_callee_effects())
   */
  changesPktData(sp: number): boolean {
    if (!this.pktChanging) {
      const starts = this.subprogStarts, n = starts.length;
      const subOf = (pc: number): number => subprogIndexOf(starts, pc);
      const direct = new Array<boolean>(n).fill(false), callees: number[][] = starts.map(() => []);
      this.insns.forEach((x, pc) => {
        if (x.code !== (BPF_JMP | BPF_CALL)) return;
        if (x.src === 0 && CHANGES_PKT_DATA.has(x.imm)) direct[subOf(pc)] = true;
        if (x.src === BPF_PSEUDO_CALL) { const t = starts.indexOf(pc + 1 + x.imm); if (t >= 0) callees[subOf(pc)].push(t); }
      });
      for (let changed = true; changed;) {
        changed = false;
        for (let k = 0; k < n; k++) if (!direct[k] && callees[k].some((c) => direct[c])) { direct[k] = true; changed = true; }
      }
      this.pktChanging = direct;
    }
    return this.pktChanging[sp] ?? false;
  }
  pktChanging: boolean[] | undefined;

  /** The func_info entries, when the program has them (VerifyOptions.funcInfo as a list). */
  get funcInfo(): readonly FuncInfoEntry[] | undefined {
    const fi = this.opts.funcInfo;
    return Array.isArray(fi) && fi.length ? fi : undefined;
  }

  /** global subprogram -> verified (subprog_aux()->called, then ->verified) */
  globalCalled = new Map<number, boolean>();

  /**
   * check_func_call() of a global function: btf_check_func_arg_match() of the caller's registers
   * with the prototype, then the call is assumed valid: caller-saved registers cleared, R0 an
   * unknown scalar; the function is verified after the main program (do_check_subprogs()).
   */
  checkGlobalCall(sp: number, entry: FuncInfoEntry): void {
    const args = entry.args ?? [];
    const regs = this.frame().regs;
    // btf_check_func_arg_match()'s complaint (logged at once; the call fails after the lock check)
    const why = Array.isArray(args) ? this.globalArgsMismatch(args, regs) : args.error;
    if (why) this.note(why);
    if (this.cur.refs.some((r) => r.lock !== undefined)) fail('global function calls are not allowed while holding a lock,\nuse static function instead', EINVAL);
    if (why) fail(`Caller passes invalid args into func#${sp} ('${entry.name}')`, EINVAL);
    this.verbose(`Func#${sp} ('${entry.name}') is global and assumed valid.`);
    if (this.changesPktData(sp)) this.clearAllPktPointers();
    if (!this.globalCalled.has(sp)) this.globalCalled.set(sp, false);
    // clear_caller_saved_regs(), then R0 = unknown 64-bit scalar
    for (let i = 1; i <= 5; i++) { markNotInit(regs[i]); this.regsScratched.add(i); }
    markUnknown(regs[0]);
    this.regsScratched.add(0);
    this.insnIdx++;
  }

  /** btf_check_func_arg_match(): why the caller's registers do not fit the prototype, or undefined */
  globalArgsMismatch(args: readonly GlobalFuncArg[], regs: readonly RegState[]): string | undefined {
    for (let i = 0; i < args.length; i++) {
      const a = args[i], regno = i + 1, r = regs[regno];
      if (a.kind === 'scalar') { if (r.type !== 'scalar') return `R${regno} is not a scalar`; continue; }
      if (a.kind === 'ctx') {
        // check_func_arg_reg_off(), then the type
        if (r.type === 'ctx' && r.off) return `dereference of modified ctx ptr R${regno} off=${r.off} disallowed`;
        if (r.type !== 'ctx') return `arg#${i} expects pointer to ctx`;
        continue;
      }
      // check_mem_reg(): a NULL constant passes; otherwise the memory must be readable and writable
      if (r.type === 'scalar' && tnumIsConst(r.varOff) && r.varOff.value === 0n) continue;
      const asNonNull = copyReg(r);
      asNonNull.maybeNull = false;
      try {
        this.checkHelperMem(regno, asNonNull, a.size, 'read', true);
        this.checkHelperMem(regno, asNonNull, a.size, 'write', true, false); // clobbers, unscratched
      } catch (e) {
        if (!(e instanceof VerifierError)) throw e;
        return e.msg;
      }
      if (!a.nullable && r.maybeNull) return `arg#${i} is expected to be non-NULL`;
    }
    return undefined;
  }

  /** btf_prepare_func_args() + do_check_common()'s argument registers of a global function */
  globalArgs(subprog: number, f: FuncState): void {
    const entry = this.funcInfo![subprog];
    this.verbose(`Validating ${entry.name}() func#${subprog}...`);
    const args = entry.args;
    if (!Array.isArray(args)) fail(args?.error ?? `func#${subprog} has no prototype`, args?.errno ?? EINVAL);
    (args as GlobalFuncArg[]).forEach((a, i) => {
      const r = f.regs[i + 1];
      if (a.kind === 'scalar') { markUnknown(r); return; }
      if (a.kind === 'ctx') { r.type = 'ctx'; setKnown(r, 0n); return; }
      r.type = 'mem'; setKnown(r, 0n);
      r.memSize = a.size;
      if (a.nullable) { r.maybeNull = true; r.id = this.newId(); }
    });
  }

  /**
   * do_check_subprogs(): each global function the verified code called, on its own, until no new
   * one is called; at level 1 each success leaves one line.
   */
  checkGlobalSubprogs(): void {
    for (let again = true; again;) {
      again = false;
      for (const [sp, verified] of [...this.globalCalled].sort((a, b) => a[0] - b[0])) {
        if (verified) continue;
        this.resetExplored();
        this.doCheck(sp);
        if (this.level < 2) this.log.reset(0);
        this.verbose(`Func#${sp} ('${this.funcInfo![sp].name}') is safe for any args that match its prototype`);
        this.globalCalled.set(sp, true);
        again = true;
      }
    }
  }

  checkExit(): 'exit' | 'return' {
    const frames = this.cur.frames;
    if (frames.length > 1) {
      this.liveStack.update(frames);
      const callee = frames[frames.length - 1];
      const r0 = callee.regs[0];
      if (r0.type === 'fp' && r0.frameno === callee.frameno) fail(`cannot return stack pointer to the caller`, EINVAL);
      // a callback returns a value in its range to the helper, which may call it again
      if (callee.inCallback) checkCallbackReturn(callee, () => this.markPrecise(0));
      frames.pop();
      const caller = frames[frames.length - 1];
      if (!callee.inCallback) caller.regs[0] = copyReg(r0);
      this.regsScratched.add(0);
      this.insnIdx = callee.inCallback ? callee.callsite : callee.callsite + 1;
      if (this.level) {
        this.log.append('returning from callee:\n'); this.printState(true, callee);
        this.log.append(`to caller at ${this.insnIdx}:\n`); this.printState(true, caller);
      }
      if (callee.inCallback) widenAfterCallback(this, this.cur, this.insnIdx);
      return 'return';
    }
    // check_resource_leak(): a held lock first, then unreleased references
    checkNoLockAt(this.cur, 'BPF_EXIT instruction in main prog');
    this.checkReferenceLeak('BPF_EXIT instruction in main prog');
    const r0 = this.reg(0);
    if (r0.type === 'not_init') fail('R0 !read_ok');
    // check_return_code(): a global function returns a scalar, whatever the program type's range
    if (frames[0].subprog !== 0 && !frames[0].asyncCallback) {
      if (r0.type !== 'scalar') fail(`At subprogram exit the register R0 is not a scalar value (${regTypeStr(r0)})`, EINVAL);
      return 'exit';
    }
    const async = frames[0].asyncCallback ? frames[0].callbackRet : undefined;
    if (async) {
      // check_return_code(): "enforce return zero from async callbacks like timer"
      if (r0.type !== 'scalar') fail(`At async callback return the register R0 is not a known value (${regTypeStr(r0)})`, EINVAL);
      this.markPrecise(0);
      if (r0.smin < BigInt(async.min) || r0.smax > BigInt(async.max)) fail(invalidScalar('At async callback return', 'R0', r0, async), EINVAL);
      return 'exit';
    }
    const rr = this.ops.returnRange;
    if (r0.type !== 'scalar' && rr) fail(`At program exit the register R0 is not a known value (${regTypeStr(r0)})`);
    // check_return_code(): the range check needs R0's value precise
    if (rr) this.markPrecise(0);
    if (rr && (r0.smin < BigInt(rr.min) || r0.smax > BigInt(rr.max))) {
      const has = r0.varOff.mask === U64_MAX ? 'unknown scalar value' : `smin=${r0.smin} smax=${r0.smax}`;
      fail(`At program exit the register R0 has ${has} should have been in [${rr.min}, ${rr.max}]`, EINVAL);
    }
    return 'exit';
  }

  /**
   * check_max_stack_depth(): after do_check, a static walk of the call graph from the main program
   * through every bpf-to-bpf call and callback reference (dead code included), with each
   * subprogram's stack rounded up to 16 (the JIT's rounding).
   */
  checkMaxStackDepth(): void {
    const starts = this.subprogStarts;
    const end = (idx: number): number => starts[idx + 1] ?? this.insns.length;
    const depthOf = (idx: number): number => Math.ceil((this.stackDepth[idx] ?? 0) / 16) * 16;
    const retInsn: number[] = [], retProg: number[] = [];
    let idx = 0, i = 0, frame = 0, depth = 0, entering = true;
    for (;;) {
      if (entering) {
        depth += depthOf(idx);
        if (depth > MAX_BPF_STACK) fail(`combined stack size of ${frame + 1} calls is ${depth}. Too large`, EACCES);
      }
      let called = false;
      for (; i < end(idx); i++) {
        const ins = this.insns[i];
        const isCall = ins.code === 0x85 && ins.src === BPF_PSEUDO_CALL;
        const isFunc = ins.code === 0x18 && ins.src === BPF_PSEUDO_FUNC;
        if (!isCall && !isFunc) continue;
        retInsn[frame] = i + 1; retProg[frame] = idx;
        const next = i + ins.imm + 1;
        const sidx = starts.indexOf(next);
        if (sidx < 0) fail(`verifier bug. No program starts at insn ${next}`, EFAULT);
        i = next; idx = sidx; frame++;
        if (frame >= MAX_CALL_FRAMES) fail(`the call stack of ${frame} frames is too deep !`, E2BIG);
        called = true;
        break;
      }
      entering = called;
      if (called) continue;
      if (frame === 0) return;
      depth -= depthOf(idx);
      frame--;
      i = retInsn[frame]; idx = retProg[frame];
    }
  }

  checkHelperCall(insn: Insn): void {
    const id = insn.imm;
    const def = this.opts.helpers ? this.opts.helpers(id) : helperProto(id);
    if (!def || !this.ops.helperAllowed(id)) {
      if (!def) fail(`invalid func unknown#${id}`, EINVAL);
      fail(`program of this type cannot use helper ${def.name}#${id}`, EINVAL);
    }
    const p = def.proto;
    if (id === 12) this.checkReferenceLeak('tail_call');
    this.curProto = p;
    const meta: HelperMeta = {};
    for (let i = 0; i < p.args.length; i++) this.checkFuncArg(i + 1, p.args[i], meta, def.name, id);
    if (meta.map) {
      // record_func_map(): one map on every path, else poisoned
      const prev = this.callMap.get(this.insnIdx);
      this.callMap.set(this.insnIdx, prev === undefined || prev === meta.map ? meta.map : 'poison');
    }
    if (id === 12 && meta.map?.spec.type === MAP_TYPE_PROG_ARRAY) {
      // record_func_key(): a constant in-range index is remembered per call site, so it must stay exact
      const r3 = this.reg(3);
      if (r3.type === 'scalar' && tnumIsConst(r3.varOff) && r3.varOff.value < BigInt(meta.map.spec.maxEntries)) this.markPrecise(3);
    }
    if (id === 181) {
      // update_loop_inline_state(): flags a known 0 and the same callback on every path
      const r4 = this.reg(4);
      const zero = r4.type === 'scalar' && tnumIsConst(r4.varOff) && r4.varOff.value === 0n;
      const prev = this.loopInline.get(this.insnIdx);
      // loop_flag_is_zero(): a zero flags argument is made precise while the call may be inlined
      if (zero && (prev === undefined || prev.fit)) this.markPrecise(4);
      const callback = this.reg(2).subprog;
      this.loopInline.set(this.insnIdx, { fit: (prev?.fit ?? true) && zero && (prev === undefined || prev.callback === callback), callback });
    }
    if (meta.releaseId !== undefined) {
      const rid = meta.releaseId;
      if (!this.cur.refs.some((r) => r.id === rid)) fail(`R1 must be referenced when passed to release function`, EINVAL);
      releaseReference(this.cur, rid);
    }
    if (id === 81) {
      const r2 = this.reg(2);
      if (!(r2.type === 'scalar' && tnumIsConst(r2.varOff) && r2.varOff.value === 0n)) fail('get_local_storage() doesn\'t support non-zero flags', EINVAL);
    }
    // unmark_stack_slots_dynptr(): bpf_ringbuf_submit/discard_dynptr end the dynptr and its reference
    if (meta.releaseDynptr) releaseDynptr(this.dynptrCtx(), meta.releaseDynptr);
    if (id === FUNC_DYNPTR_FROM_MEM && this.reg(1).type !== 'map_value') fail(`Unsupported reg type ${regTypeStr(this.reg(1))} for bpf_dynptr_from_mem data`, EACCES);
    // push_callback_call(): the callback runs with the arguments as they are now
    if (isSyncCallbackHelper(id)) scheduleCallback(this, id, (p.callbackArg ?? 1) + 1, meta.map);
    if (id === FUNC_TIMER_SET_CALLBACK) scheduleAsyncCallback(this, 2);
    // is_ptr_cast_function(): the result shares the argument's reference
    const castRef = PTR_CAST_HELPERS.has(id) ? this.reg(1).refObjId : 0;
    // clear_all_pkt_pointers(): a helper that may move packet data invalidates every packet
    // pointer in every frame (they become unknown scalars for a privileged program)
    if (CHANGES_PKT_DATA.has(id)) this.clearAllPktPointers();
    // clobber caller-saved registers
    for (let i = 1; i <= 5; i++) { markNotInit(this.reg(i)); this.regsScratched.add(i); }
    const r0 = this.reg(0);
    this.regsScratched.add(0);
    markUnknown(r0);
    const rt = p.ret;
    const maybeNull = rt.flags.includes('PTR_MAYBE_NULL');
    switch (rt.base) {
      case 'RET_INTEGER': break;
      case 'RET_VOID': markNotInit(r0); break;
      case 'RET_PTR_TO_MAP_VALUE': {
        const m = meta.map;
        if (!m) fail(`kernel subsystem misconfigured verifier`, EINVAL);
        setKnown(r0, 0n);
        if (m.spec.type === MAP_TYPE_ARRAY_OF_MAPS || m.spec.type === MAP_TYPE_HASH_OF_MAPS) {
          r0.type = 'map_ptr'; r0.map = m.spec.innerMap;
        } else { r0.type = 'map_value'; r0.map = m; }
        // 6.18: an array lookup with a constant in-range key cannot fail
        const elide = id === 1 && canElideValueNullness(m.spec.type) && meta.constKey !== undefined && meta.constKey < BigInt(m.spec.maxEntries);
        r0.maybeNull = maybeNull && !elide;
        if (r0.maybeNull) r0.id = this.newId();
        if (!r0.maybeNull && m.spec.spinLockOff !== undefined) r0.id = this.newId(); // the lock's identity
        // is_acquire_function(): a socket looked up in a sockmap/sockhash is a reference
        if (id === 1 && (m.spec.type === MAP_TYPE_SOCKMAP || m.spec.type === MAP_TYPE_SOCKHASH)) {
          r0.id = r0.refObjId = this.newId(); this.cur.refs.push({ id: r0.refObjId, insn: this.insnIdx });
        }
        break;
      }
      case 'RET_PTR_TO_MEM': {
        setKnown(r0, 0n);
        r0.type = 'mem';
        r0.ringbuf = rt.flags.includes('MEM_RINGBUF');
        r0.rdonly = rt.flags.includes('MEM_RDONLY');
        r0.memSize = Number(meta.allocSize ?? 0n);
        r0.maybeNull = maybeNull;
        r0.id = this.newId();
        // a dynptr slice: gone when the dynptr goes, and shares its reference (is_dynptr_ref_function())
        if (id === FUNC_DYNPTR_DATA && meta.dynptr) { r0.dynptrId = meta.dynptr.id; r0.refObjId = meta.dynptr.refObjId; }
        // acquire_reference() takes a fresh id after the _or_null one
        if (r0.ringbuf) { r0.id = r0.refObjId = this.newId(); this.cur.refs.push({ id: r0.id, insn: this.insnIdx }); }
        break;
      }
      case 'RET_PTR_TO_SOCKET': case 'RET_PTR_TO_TCP_SOCK': case 'RET_PTR_TO_SOCK_COMMON': {
        setKnown(r0, 0n);
        r0.type = rt.base === 'RET_PTR_TO_SOCKET' ? 'sock' : rt.base === 'RET_PTR_TO_TCP_SOCK' ? 'tcp_sock' : 'sock_common';
        r0.maybeNull = maybeNull;
        r0.id = this.newId();
        if (/sk_lookup|skc_lookup/.test(def.name)) { r0.id = r0.refObjId = this.newId(); this.cur.refs.push({ id: r0.id, insn: this.insnIdx }); }
        else if (castRef) r0.refObjId = castRef;
        break;
      }
      case 'RET_PTR_TO_BTF_ID': {
        // the struct is the helper's ret_btf_id: the current task (trusted), a bpf_skc_to_*() cast (or NULL)
        const btf = RET_BTF_STRUCT[id];
        if (!btf) break;
        setKnown(r0, 0n); r0.type = 'ptr_'; r0.btf = btf;
        r0.maybeNull = maybeNull;
        if (maybeNull) r0.id = this.newId();
        r0.refObjId = castRef;
        break;
      }
      default: break;
    }
    // do_refine_retval_range(): string/stack copies return at most the buffer size, or -errno
    if ((id === 45 || id === 67 || id === 114 || id === 115 || id === 141) && meta.msizeMax !== undefined) {
      r0.smax = r0.s32max = meta.msizeMax; r0.smin = r0.s32min = -4095n;
      regBoundsSync(r0);
    }
  }

  /** The stack access dynptr.ts needs. */
  dynptrCtx(): DynptrCtx {
    return {
      st: this.cur, frameOf: (r) => this.cur.frames[r.frameno], slot: (f, spi) => this.slot(f, spi),
      newId: () => this.newId(), scratch: (spi) => this.slotsScratched.add(spi), note: (l) => this.note(l), insnIdx: this.insnIdx,
      markRead: (frameno, spi) => this.markStackRead(frameno, spi), markWrite: (frameno, spi) => this.liveStack.write(frameno, spi),
    };
  }

  /**
   * check_kfunc_call() for the kfuncs bpfkit has (prepare() refused the others): the arguments
   * (check_kfunc_args(): the iterator first, then scalars), then the result.
   */
  checkKfuncCall(insn: Insn): void {
    const k = kfuncByBtfId(insn.imm)!;
    const meta = processIterArg(this, k);
    for (let regno = 2; regno <= k.params; regno++) {
      if (this.reg(regno).type !== 'scalar') fail(`R${regno} is not a scalar`, EINVAL);
    }
    finishIterCall(this, k, meta);
  }

  /** check_func_arg() */
  checkFuncArg(regno: number, a: ArgType, meta: HelperMeta, helper: string, id: number): void {
    const r = this.reg(regno);
    this.regsScratched.add(regno);
    if (a.base === 'ARG_DONTCARE') return;
    if (r.type === 'not_init') fail(`R${regno} !read_ok`);
    const typeFail = (expected: string): never => fail(`R${regno} type=${regTypeStr(r)} expected=${expected}`);
    const MEMLIKE = 'fp, pkt, pkt_meta, map_key, map_value, mem, ringbuf_mem, buf, trusted_ptr_';
    // check_func_arg(): packet pointers only into helpers marked pkt_access
    if (isPktPointer(r) && this.curProto && !this.curProto.pktAccess) fail('helper access to the packet is not allowed');
    const isMemLike = (x: RegState): boolean => ['fp', 'pkt', 'pkt_meta', 'map_key', 'map_value', 'mem', 'buf'].includes(x.type) && !x.maybeNull;
    switch (a.base) {
      case 'ARG_ANYTHING': return;
      case 'ARG_CONST_MAP_PTR':
        if (r.type !== 'map_ptr' || r.maybeNull) typeFail('map_ptr');
        meta.map = r.map;
        if (id === 81 && r.map && r.map.spec.type !== 19 && r.map.spec.type !== 21) fail(`cannot pass map_type ${r.map.spec.type} into func ${helper}#${id}`, EINVAL);
        if (id === 12 && r.map && r.map.spec.type !== MAP_TYPE_PROG_ARRAY) fail(`cannot pass map_type ${r.map.spec.type} into func ${helper}#${id}`, EINVAL);
        if (helper.startsWith('bpf_ringbuf') && r.map && r.map.spec.type !== MAP_TYPE_RINGBUF) fail(`cannot pass map_type ${r.map.spec.type} into func ${helper}#${id}`, EINVAL);
        if (id === 209 && r.map && r.map.spec.type !== MAP_TYPE_USER_RINGBUF) fail(`cannot pass map_type ${r.map.spec.type} into func ${helper}#${id}`, EINVAL);
        if ((helper === 'bpf_map_lookup_elem' || helper === 'bpf_map_update_elem' || helper === 'bpf_map_delete_elem') && r.map && (r.map.spec.type === MAP_TYPE_RINGBUF || r.map.spec.type === MAP_TYPE_PROG_ARRAY || r.map.spec.type === 4 || r.map.spec.type === 7)) {
          fail(`cannot pass map_type ${r.map.spec.type} into func ${helper}#${id}`, EINVAL);
        }
        return;
      case 'ARG_PTR_TO_CTX':
        if (a.flags.includes('PTR_MAYBE_NULL') && r.type === 'scalar' && tnumIsConst(r.varOff) && r.varOff.value === 0n) return;
        if (r.type !== 'ctx') typeFail('ctx');
        if (r.off < 0) fail(`negative offset ctx ptr R${regno} off=${r.off} disallowed`);
        if (r.off) fail(`dereference of modified ctx ptr R${regno} off=${r.off} disallowed`);
        if (!tnumIsConst(r.varOff) || r.varOff.value) fail(`variable ctx access var_off=${tnumStr(r.varOff)} disallowed`);
        return;
      case 'ARG_PTR_TO_MAP_KEY': case 'ARG_PTR_TO_MAP_VALUE': {
        if (!isMemLike(r) || r.type === 'mem') typeFail('fp, pkt, pkt_meta, map_key, map_value');
        if (!meta.map) fail('invalid map_ptr to access map->key', EACCES);
        const sz = a.base === 'ARG_PTR_TO_MAP_KEY' ? meta.map.spec.keySize : meta.map.spec.valueSize;
        this.checkHelperMem(regno, r, sz, a.base === 'ARG_PTR_TO_MAP_VALUE' && a.flags.includes('MEM_UNINIT') ? 'write' : 'read', false);
        if (a.base === 'ARG_PTR_TO_MAP_KEY' && canElideValueNullness(meta.map.spec.type)) meta.constKey = this.constantMapKey(r, sz);
        return;
      }
      case 'ARG_PTR_TO_MEM': {
        if (a.flags.includes('OBJ_RELEASE') || a.flags.includes('MEM_RINGBUF')) {
          if (!(r.type === 'mem' && r.ringbuf && !r.maybeNull)) typeFail('ringbuf_mem');
          if (!r.refObjId) fail(`R${regno} must be referenced when passed to release function`, EINVAL);
          if (r.off || !tnumIsConst(r.varOff)) fail(`R${regno} must have zero offset when passed to release func or trusted arg to kfunc`, EINVAL);
          meta.releaseId = r.refObjId;
          return;
        }
        if (r.type === 'scalar' && a.flags.includes('PTR_MAYBE_NULL') && tnumIsConst(r.varOff) && r.varOff.value === 0n) { meta.lastPtr = { regno, reg: r, arg: a }; return; }
        if (!isMemLike(r)) typeFail(MEMLIKE);
        meta.lastPtr = { regno, reg: r, arg: a };
        if (a.size !== undefined) {
          this.checkHelperMem(regno, r, a.size, a.flags.includes('MEM_UNINIT') || a.flags.includes('MEM_WRITE') ? 'write' : 'read', false);
          // MEM_ALIGNED: the fixed-size buffer must be aligned to its size (check_ptr_alignment(), strict)
          if (a.flags.includes('MEM_ALIGNED')) this.checkAlign(r, 0, a.size, regno, true);
        }
        return;
      }
      case 'ARG_CONST_SIZE': case 'ARG_CONST_SIZE_OR_ZERO': {
        if (r.type !== 'scalar') typeFail('scalar');
        const zeroOk = a.base === 'ARG_CONST_SIZE_OR_ZERO';
        if (r.smin < 0n) fail(`R${regno} min value is negative, either use unsigned or 'var &= const'`);
        if (r.umin === 0n && !zeroOk) {
          if (r.umax === 0n) fail(`R${regno} invalid zero-sized read: u64=[${r.umin},${r.umax}]`);
        }
        if (r.umax >= BPF_MAX_VAR_SIZ) fail(`R${regno} unbounded memory access, use 'var &= const' or 'if (var < const)'`);
        meta.msizeMax = r.umax;
        const lp = meta.lastPtr;
        if (lp && !(lp.reg.type === 'scalar')) {
          const w = lp.arg.flags.includes('MEM_UNINIT') || lp.arg.flags.includes('MEM_WRITE');
          this.checkHelperMem(lp.regno, lp.reg, Number(r.umax), w ? 'write' : 'read', zeroOk && r.umin === 0n);
        } else if (lp && !(zeroOk && r.umax === 0n)) {
          // check_helper_mem_access(): only a zero-byte access may go through NULL
          fail(`R${lp.regno} type=${regTypeStr(lp.reg)} expected=fp`);
        }
        // check_mem_size_reg(): the access was checked against this size's range
        this.markPrecise(regno);
        return;
      }
      case 'ARG_CONST_ALLOC_SIZE_OR_ZERO':
        if (r.type !== 'scalar') typeFail('scalar');
        if (!tnumIsConst(r.varOff)) fail(`R${regno} is not a known constant'`);
        meta.allocSize = r.varOff.value;
        this.markPrecise(regno);
        return;
      case 'ARG_PTR_TO_SOCK_COMMON': case 'ARG_PTR_TO_SOCKET': case 'ARG_PTR_TO_BTF_ID': {
        if (id === FUNC_FIND_VMA) { // bpf_find_vma(): arg1_btf_id task_struct
          if (r.type !== 'ptr_' || r.maybeNull) typeFail('ptr_, trusted_ptr_, rcu_ptr_');
          if (r.btf?.name !== 'task_struct') fail(`R${regno} is of type ${r.btf?.name ?? ''} but task_struct is expected`, EACCES);
          return;
        }
        // compatible_reg_types: sock_common_types, or btf_id_sock_common_types with the BTF pointers
        const btfOk = a.base === 'ARG_PTR_TO_BTF_ID' && r.type === 'ptr_';
        const ok = (['sock', 'sock_common', 'tcp_sock', 'xdp_sock'].includes(r.type) || btfOk) && !r.maybeNull;
        if (!ok) typeFail(a.base === 'ARG_PTR_TO_SOCKET' ? 'sock' : a.base === 'ARG_PTR_TO_SOCK_COMMON' ? 'sock_common, sock, tcp_sock, xdp_sock' : 'sock_common, sock, tcp_sock, xdp_sock, ptr_, trusted_ptr_');
        // check_reg_type(): btf_struct_ids_match() of the pointer's struct with sock_common
        if (btfOk && (r.off || !SOCK_COMMON_STRUCTS.has(r.btf?.name ?? ''))) fail(`R${regno} is of type ${r.btf?.name ?? ''} but sock_common is expected`, EACCES);
        if (a.flags.includes('OBJ_RELEASE')) {
          if (!r.refObjId) fail(`R${regno} must be referenced when passed to release function`, EINVAL);
          meta.releaseId = r.refObjId;
        }
        return;
      }
      case 'ARG_PTR_TO_FUNC':
        if (r.type !== 'func') typeFail('func');
        return;
      case 'ARG_PTR_TO_STACK':
        // a NULL callback context: 6.18 makes it precise (seen in its level-2 logs of bpf_loop and bpf_for_each_map_elem)
        if (a.flags.includes('PTR_MAYBE_NULL') && r.type === 'scalar' && tnumIsConst(r.varOff) && r.varOff.value === 0n) { this.markPrecise(regno); return; }
        if (r.type !== 'fp') typeFail('fp');
        return;
      case 'ARG_PTR_TO_TIMER': // process_timer_func()
        if (r.type !== 'map_value' || r.maybeNull) typeFail('map_value');
        if (!tnumIsConst(r.varOff)) fail(`R${regno} doesn't have constant offset. bpf_timer has to be at the constant offset`, EINVAL);
        // (bpfkit does not know where the value's bpf_timer is: "no valid bpf_timer" and its offset are not checked)
        if (r.map && this.opts.mapHasBtf && !this.opts.mapHasBtf(r.map)) fail(`map '${r.map.spec.name ?? ''}' has to have BTF in order to use bpf_timer`, EINVAL);
        return;
      case 'ARG_PTR_TO_SPIN_LOCK':
        if (r.type !== 'map_value' || r.maybeNull) typeFail('map_value, ptr_');
        processSpinLock(this.cur, regno, r, id === FUNC_SPIN_LOCK, this.insnIdx, this.opts.mapHasBtf ?? (() => false));
        return;
      case 'ARG_PTR_TO_DYNPTR': {
        if (r.type !== 'fp' && r.type !== 'dynptr') typeFail('fp, dynptr_ptr');
        const d = processDynptrArg(this.dynptrCtx(), regno, r, a, (off) => { this.stackAccess(regno, r, off, 8, 'write', undefined, undefined, false, 0); });
        if (a.flags.includes('OBJ_RELEASE')) meta.releaseDynptr = r;
        else meta.dynptr = d;
        return;
      }
      case 'ARG_PTR_TO_CONST_STR':
        if (r.type !== 'map_value' || !r.map || !(r.map.spec.flags & BPF_F_RDONLY_PROG) || !r.map.frozen) typeFail('map_value');
        return;
      default:
        if (!isPointer(r)) typeFail('ptr_');
    }
  }

  /** check_helper_mem_access() */
  checkHelperMem(regno: number, r: RegState, size: number, type: 'read' | 'write', zeroOk: boolean, scratch = true): void {
    if (size === 0 && zeroOk) return;
    switch (r.type) {
      case 'pkt': case 'pkt_meta': this.checkPacketAccess(regno, r, r.off, size); return;
      case 'map_value':
        this.checkMapAccessType(r, r.off, size, type);
        this.checkMapAccess(regno, r, r.off, size, 'map value', r.map!.spec.valueSize);
        checkLockFieldAccess(r, r.off, size);
        return;
      case 'map_key': this.checkMapAccess(regno, r, r.off, size, 'map key', r.map!.spec.keySize); return;
      case 'mem': this.checkMapAccess(regno, r, r.off, size, 'mem', r.memSize); return;
      case 'fp': {
        const f = this.cur.frames[r.frameno];
        const extra = type === 'write' ? 'write to' : 'read from';
        if (!tnumIsConst(r.varOff)) {
          // check_stack_access_within_bounds()
          if (r.smax >= BPF_MAX_VAR_OFF || r.smin <= -BPF_MAX_VAR_OFF) fail(`invalid unbounded variable-offset ${extra} stack R${regno}`);
          if (r.smin + BigInt(r.off) < -512n || r.smax + BigInt(r.off + size) > 0n) fail(`invalid variable-offset ${extra} stack R${regno} var_off=${tnumStr(r.varOff)} off=${r.off} size=${size}`);
          const vlo = r.off + Number(r.smin), vhi = r.off + Number(r.smax) + size;
          if (type === 'read') this.markStackRangeRead(r.frameno, vlo, vhi);
          if (-vlo > (this.stackDepth[f.subprog] ?? 0)) this.stackDepth[f.subprog] = -vlo;
          checkNoDynptrBytes(f, vlo, vhi - vlo, regno, type === 'write');
          // check_stack_write_var_off() byte by byte: every byte it may reach holds unknown data
          if (type === 'write') for (let o = vlo; o < vhi; o++) this.helperWriteByte(f, o);
          return;
        }
        const lo = r.off + Number(BigInt.asIntN(64, r.varOff.value));
        if (lo < -MAX_BPF_STACK || lo + size > 0 || size < 0) fail(`invalid ${type === 'write' ? 'write to' : 'indirect access to'} stack R${regno} off=${lo} size=${size}`);
        if (-lo > (this.stackDepth[f.subprog] ?? 0)) this.stackDepth[f.subprog] = -lo;
        checkNoDynptrBytes(f, lo, size, regno, type === 'write');
        for (let o = lo; o < lo + size; o++) {
          if (type === 'write') { const si = this.helperWriteByte(f, o); if (scratch) this.slotsScratched.add(si); continue; }
          // allow_uninit_stack: privileged helpers may read uninitialised stack
          this.markStackRead(f.frameno, Math.floor((-o - 1) / 8));
        }
        return;
      }
      default: fail(`R${regno} type=${regTypeStr(r)} expected=fp`);
    }
  }

  /** A helper writes an unknown byte at stack offset `o`: a spill there is forgotten (scrub_spilled_slot()). Returns the slot. */
  helperWriteByte(f: FuncState, o: number): number {
    const si = Math.floor((-o - 1) / 8);
    const s = this.slot(f, si);
    if (s.types[7] === STACK_SPILL) { s.types = s.types.map((t) => (t === STACK_INVALID ? t : STACK_MISC)); s.spilled = undefined; }
    s.types[(-o - 1) % 8] = STACK_MISC;
    return si;
  }
}

/** struct bpf_call_arg_meta: what check_func_arg() learns for check_helper_call(). */
interface HelperMeta {
  map?: VerifierMap; lastPtr?: { regno: number; reg: RegState; arg: ArgType }; releaseId?: number; allocSize?: bigint; msizeMax?: bigint;
  /** The dynptr argument (its first slot's register), for bpf_dynptr_data()'s slice. */
  dynptr?: RegState;
  /** The stack pointer to a dynptr a helper releases. */
  releaseDynptr?: RegState;
  /** An array map's key known at verification time (meta->const_map_key). */
  constKey?: bigint;
}

/** can_elide_value_nullness(): ARRAY and PERCPU_ARRAY */
const canElideValueNullness = (mapType: number): boolean => mapType === MAP_TYPE_ARRAY || mapType === 6;

/** bpf_helper_changes_pkt_data(): helpers that may move or resize the packet */
const CHANGES_PKT_DATA = new Set([9, 10, 11, 13, 18, 19, 31, 38, 39, 43, 44, 50, 54, 63, 65, 73, 74, 75, 76, 90, 91, 143]);

/** The kernel struct behind a map pointer (map->ops->map_btf_id), by map type. */
const MAP_STRUCT_NAME: Record<number, string> = {
  1: 'bpf_htab', 2: 'bpf_array', 3: 'bpf_array', 4: 'bpf_array', 5: 'bpf_htab', 6: 'bpf_array', 7: 'bpf_stack_map',
  8: 'bpf_array', 9: 'bpf_htab', 10: 'bpf_htab', 11: 'lpm_trie', 12: 'bpf_array', 13: 'bpf_htab', 14: 'bpf_dtab',
  15: 'bpf_stab', 16: 'bpf_cpu_map', 17: 'xsk_map', 18: 'bpf_stab', 22: 'bpf_queue_stack', 23: 'bpf_queue_stack',
  27: 'bpf_ringbuf_map',
};

/** is_ptr_cast_function(): sk_fullsock, tcp_sock and the bpf_skc_to_*() casts but unix_sock's */
const PTR_CAST_HELPERS = new Set([95, 96, 136, 137, 138, 139, 140, 196]);

const ALU_NAME: Record<number, string> = { 0x00: '+=', 0x10: '-=', 0x20: '*=', 0x30: '/=', 0x40: '|=', 0x50: '&=', 0x60: '<<=', 0x70: '>>=', 0x90: '%=', 0xa0: '^=', 0xc0: 's>>=' };

/** check_reg_sane_offset(): what a pointer of type `t` may be combined with (or hold). */
function saneOffset(r: RegState, t: string): void {
  if (tnumIsConst(r.varOff)) {
    const val = BigInt.asIntN(64, r.varOff.value);
    if (val >= BPF_MAX_VAR_OFF || val <= -BPF_MAX_VAR_OFF) fail(`math between ${t} pointer and ${val} is not allowed`);
  }
  // a scalar's off is its linked-register delta (BPF_ADD_CONST), not an offset: seen unchecked on 6.18
  if (r.type !== 'scalar' && (r.off >= Number(BPF_MAX_VAR_OFF) || r.off <= -Number(BPF_MAX_VAR_OFF))) fail(`${t} pointer offset ${r.off} is not allowed`);
  if (r.smin === -(1n << 63n)) fail(`math between ${t} pointer and register with unbounded min value is not allowed`);
  if (r.smin >= BPF_MAX_VAR_OFF || r.smin <= -BPF_MAX_VAR_OFF) fail(`value ${r.smin} makes ${t} pointer be out of bounds`);
}

/** The condition that holds on the fall-through path. */
function negateOp(op: number): number {
  switch (op) {
    case 0x10: return 0x50; case 0x50: return 0x10;
    case 0x20: return 0xb0; case 0xb0: return 0x20;
    case 0x30: return 0xa0; case 0xa0: return 0x30;
    case 0x60: return 0xd0; case 0xd0: return 0x60;
    case 0x70: return 0xc0; case 0xc0: return 0x70;
    case 0x40: return 0x140; // !jset
    default: return op;
  }
}

/** is_branch_taken(): 1 always, 0 never, -1 unknown */
function isBranchTaken(d: RegState, s: RegState, op: number, is32: boolean): number {
  const pktAny = (r: RegState): boolean => isPktPointer(r) || r.type === 'pkt_end';
  if (pktAny(d) && pktAny(s) && !is32) return isPktPtrBranchTaken(d, s, op);
  if (isPointer(d) || isPointer(s)) {
    // a pointer known not to be NULL (reg_not_null()) compared with 0
    const [p, c] = isPointer(d) ? [d, s] : [s, d];
    const ct = is32 ? tnumSubreg(c.varOff) : c.varOff;
    if (c.type !== 'scalar' || !tnumIsConst(ct) || ct.value !== 0n || !regNotNull(p)) return -1;
    if (op === 0x10) return 0;
    if (op === 0x50) return 1;
    return -1;
  }
  const r = rangeOf(d, is32), q = rangeOf(s, is32);
  switch (op) {
    case 0x10: case 0x50: {
      // is_scalar_branch_taken(): JEQ/JNE are decided by the constants, then tnums that share no
      // value (tnum_overlap()), then disjoint ranges, then (64-bit) disjoint 32-bit subranges
      const eq = op === 0x10 ? 1 : 0, t1 = is32 ? tnumSubreg(d.varOff) : d.varOff, t2 = is32 ? tnumSubreg(s.varOff) : s.varOff;
      if (tnumIsConst(t1) && tnumIsConst(t2)) return t1.value === t2.value ? eq : 1 - eq;
      const known = ~t1.mask & ~t2.mask;
      if ((t1.value & known) !== (t2.value & known)) return 1 - eq;
      if (r.umin > q.umax || r.umax < q.umin || r.smin > q.smax || r.smax < q.smin) return 1 - eq;
      if (!is32 && (d.u32min > s.u32max || d.u32max < s.u32min || d.s32min > s.s32max || d.s32max < s.s32min)) return 1 - eq;
      return -1;
    }
    case 0x20: if (r.umin > q.umax) return 1; if (r.umax <= q.umin) return 0; return -1;
    case 0x30: if (r.umin >= q.umax) return 1; if (r.umax < q.umin) return 0; return -1;
    case 0xa0: if (r.umax < q.umin) return 1; if (r.umin >= q.umax) return 0; return -1;
    case 0xb0: if (r.umax <= q.umin) return 1; if (r.umin > q.umax) return 0; return -1;
    case 0x60: if (r.smin > q.smax) return 1; if (r.smax <= q.smin) return 0; return -1;
    case 0x70: if (r.smin >= q.smax) return 1; if (r.smax < q.smin) return 0; return -1;
    case 0xc0: if (r.smax < q.smin) return 1; if (r.smin >= q.smax) return 0; return -1;
    case 0xd0: if (r.smax <= q.smin) return 1; if (r.smin > q.smax) return 0; return -1;
    case 0x40: {
      let dt = is32 ? tnumSubreg(d.varOff) : d.varOff, st = is32 ? tnumSubreg(s.varOff) : s.varOff;
      if (!tnumIsConst(st)) [dt, st] = [st, dt];
      if (!tnumIsConst(st)) return -1;
      if (dt.value & ~dt.mask & st.value) return 1;
      if (!((dt.value | dt.mask) & (st.value | st.mask))) return 0;
      return -1;
    }
  }
  return -1;
}

/** get_reg_width(): how many low bits the value can occupy */
const regWidth = (r: RegState): number => (r.umax === 0n ? 0 : fls64(r.umax));

const isPow2 = (v: bigint): boolean => v !== 0n && (v & (v - 1n)) === 0n;

/** states_maybe_looping(): the current frame's registers are bit-identical */
function statesMaybeLooping(old: VState, cur: VState): boolean {
  if (old.frames.length !== cur.frames.length) return false;
  const fo = old.frames[old.frames.length - 1], fc = cur.frames[cur.frames.length - 1];
  for (let i = 0; i < 11; i++) if (!sameRegBits(fo.regs[i], fc.regs[i])) return false;
  return true;
}

/** reg_not_null(): pointer types that are never NULL once not _or_null */
function regNotNull(r: RegState): boolean {
  if (r.maybeNull) return false;
  return ['sock', 'tcp_sock', 'map_value', 'map_key', 'sock_common', 'map_ptr'].includes(r.type) || (r.type === 'mem' && !r.ringbuf) || (r.type === 'mem' && r.ringbuf);
}

/** Packet ranges that say where a pointer stands against pkt_end (mark_pkt_end()). */
const AT_PKT_END = -1, BEYOND_PKT_END = -2;

/** is_pkt_ptr_branch_taken(): a pointer already known to be past (or at) pkt_end */
function isPktPtrBranchTaken(d: RegState, s: RegState, op: number): number {
  let pkt: RegState;
  if (s.type === 'pkt_end') pkt = d;
  else if (d.type === 'pkt_end') { pkt = s; op = flipOp(op); }
  else return -1;
  if (pkt.range >= 0) return -1;
  switch (op) {
    case 0xb0: case 0x20: // pkt <= / > pkt_end
      if (pkt.range === BEYOND_PKT_END) return op === 0x20 ? 1 : 0;
      break;
    case 0xa0: case 0x30: // pkt < / >= pkt_end
      if (pkt.range === BEYOND_PKT_END || pkt.range === AT_PKT_END) return op === 0x30 ? 1 : 0;
      break;
  }
  return -1;
}

/** flip_opcode(): the comparison with its operands swapped */
function flipOp(op: number): number {
  switch (op) {
    case 0x20: return 0xa0; case 0xa0: return 0x20; case 0x30: return 0xb0; case 0xb0: return 0x30;
    case 0x60: return 0xc0; case 0xc0: return 0x60; case 0x70: return 0xd0; case 0xd0: return 0x70;
    default: return op;
  }
}

function rangeOf(r: RegState, is32: boolean): { umin: bigint; umax: bigint; smin: bigint; smax: bigint } {
  return is32 ? { umin: r.u32min, umax: r.u32max, smin: r.s32min, smax: r.s32max } : { umin: r.umin, umax: r.umax, smin: r.smin, smax: r.smax };
}

/**
 * regs_refine_cond_op() + reg_bounds_sync() of reg_set_min_max(): refine d and s assuming `d op s`
 * holds. `d` and `s` may be the same register (`if r5 > r5`): the kernel refines it in place
 * through both roles, which can leave contradictory bounds the walk goes on with.
 */
function regSetMinMax(d: RegState, s: RegState, op: number, is32: boolean): void {
  const mx = (a: bigint, b: bigint): bigint => (a > b ? a : b);
  const mn = (a: bigint, b: bigint): bigint => (a < b ? a : b);
  const isConst = (r: RegState): boolean => tnumIsConst(is32 ? tnumSubreg(r.varOff) : r.varOff);
  // JNE and JSET learn from a constant operand on either side (swap(reg1, reg2)); from neither, nothing
  if ((op === 0x50 || op === 0x40 || op === 0x140) && !isConst(s)) {
    [d, s] = [s, d];
    if (!isConst(s)) op = 0;
  }
  const c = is32 ? s.varOff.value & U32_MAX : s.varOff.value;
  if (is32) {
    switch (op) {
      case 0x10: { const lo = mx(d.u32min, s.u32min), hi = mn(d.u32max, s.u32max); d.u32min = s.u32min = lo; d.u32max = s.u32max = hi;
        const slo = mx(d.s32min, s.s32min), shi = mn(d.s32max, s.s32max); d.s32min = s.s32min = slo; d.s32max = s.s32max = shi;
        const t = tnumIntersect(tnumSubreg(d.varOff), tnumSubreg(s.varOff));
        d.varOff = tnumWithSubreg(d.varOff, t); s.varOff = tnumWithSubreg(s.varOff, t); break; }
      case 0x50: if (d.u32min === c) d.u32min++; if (d.u32max === c) d.u32max--; if (d.s32min === BigInt.asIntN(32, c)) d.s32min++; if (d.s32max === BigInt.asIntN(32, c)) d.s32max--; break;
      case 0x20: d.u32min = mx(d.u32min, s.u32min + 1n); s.u32max = mn(s.u32max, d.u32max - 1n); break;
      case 0x30: d.u32min = mx(d.u32min, s.u32min); s.u32max = mn(s.u32max, d.u32max); break;
      case 0xa0: d.u32max = mn(d.u32max, s.u32max - 1n); s.u32min = mx(s.u32min, d.u32min + 1n); break;
      case 0xb0: d.u32max = mn(d.u32max, s.u32max); s.u32min = mx(s.u32min, d.u32min); break;
      case 0x60: d.s32min = mx(d.s32min, s.s32min + 1n); s.s32max = mn(s.s32max, d.s32max - 1n); break;
      case 0x70: d.s32min = mx(d.s32min, s.s32min); s.s32max = mn(s.s32max, d.s32max); break;
      case 0xc0: d.s32max = mn(d.s32max, s.s32max - 1n); s.s32min = mx(s.s32min, d.s32min + 1n); break;
      case 0xd0: d.s32max = mn(d.s32max, s.s32max); s.s32min = mx(s.s32min, d.s32min); break;
      // `if w & bit` sets a single known bit; `!(w & val)` clears val's bits
      case 0x40: if (isPow2(c)) d.varOff = tnumWithSubreg(d.varOff, tnumOr(tnumSubreg(d.varOff), tnumConst(c))); break;
      case 0x140: d.varOff = tnumWithSubreg(d.varOff, tnumAnd(tnumSubreg(d.varOff), tnumConst(~c & U32_MAX))); break;
    }
  } else {
    switch (op) {
      case 0x10: { const lo = mx(d.umin, s.umin), hi = mn(d.umax, s.umax); d.umin = s.umin = lo; d.umax = s.umax = hi;
        const slo = mx(d.smin, s.smin), shi = mn(d.smax, s.smax); d.smin = s.smin = slo; d.smax = s.smax = shi;
        d.varOff = s.varOff = tnumIntersect(d.varOff, s.varOff); break; }
      case 0x50: if (d.umin === c) d.umin++; if (d.umax === c) d.umax--; if (d.smin === BigInt.asIntN(64, c)) d.smin++; if (d.smax === BigInt.asIntN(64, c)) d.smax--; break;
      case 0x20: d.umin = mx(d.umin, s.umin + 1n); s.umax = mn(s.umax, d.umax - 1n); break;
      case 0x30: d.umin = mx(d.umin, s.umin); s.umax = mn(s.umax, d.umax); break;
      case 0xa0: d.umax = mn(d.umax, s.umax - 1n); s.umin = mx(s.umin, d.umin + 1n); break;
      case 0xb0: d.umax = mn(d.umax, s.umax); s.umin = mx(s.umin, d.umin); break;
      case 0x60: d.smin = mx(d.smin, s.smin + 1n); s.smax = mn(s.smax, d.smax - 1n); break;
      case 0x70: d.smin = mx(d.smin, s.smin); s.smax = mn(s.smax, d.smax); break;
      case 0xc0: d.smax = mn(d.smax, s.smax - 1n); s.smin = mx(s.smin, d.smin + 1n); break;
      case 0xd0: d.smax = mn(d.smax, s.smax); s.smin = mx(s.smin, d.smin); break;
      case 0x40: if (isPow2(c)) d.varOff = tnumOr(d.varOff, tnumConst(c)); break;
      case 0x140: d.varOff = tnumAnd(d.varOff, tnumConst(~c & U64_MAX)); break;
    }
  }
  regBoundsSync(d);
  regBoundsSync(s);
}

void SIZE_NAME; void S64_MAX; void BPF_JMP32; void STACK_ZERO;

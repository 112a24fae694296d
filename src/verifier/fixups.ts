/*
 * The rewrites the kernel applies after a program verifies (bpf_check() of Linux 6.18, after
 * do_check(), for a privileged loader on x86_64 with the JIT): hard-wiring branches into dead
 * code (opt_hard_wire_dead_code_branches), removing unreached instructions and `goto +0`
 * (opt_remove_dead_code, opt_remove_nops), context access conversion (convert_ctx_accesses), and
 * do_misc_fixups() (div/mod guards, LD_ABS, map helper inlining, helper call addresses). Every
 * patch moves branch offsets as bpf_patch_insn_data()/bpf_adj_branches() do and line info as
 * bpf_adj_linfo() does, so the result is the program `bpftool prog dump xlated` prints.
 *
 * For display only: bpfkit's engines run the original program against the uapi context layouts.
 */
import type { Insn } from '../isa/insn.js';
import { copyInsn } from '../isa/insn.js';
import { makeInsn } from '../isa/insn.js';
import { kfuncByBtfId } from '../isa/kfuncs.js';
import {
  BPF_REG_AX, alu32Imm, alu32Reg, alu64Imm, jmpA, jmpImm, jmpReg, ldxMem, mov32Imm, mov64Imm,
  mov64PercpuReg, mov64Reg, stMem, stxMem,
} from '../isa/insn_macros.js';
import {
  BPF_ABS, BPF_ALU, BPF_ALU64, BPF_CALL, BPF_DIV, BPF_EXIT, BPF_IND, BPF_JA, BPF_JCOND, BPF_JEQ, BPF_JGE, BPF_JGT, BPF_JLE,
  BPF_JMP, BPF_JMP32, BPF_JNE, BPF_K, BPF_LD, BPF_LDX, BPF_MEM, BPF_MOD, BPF_MOV, BPF_NEG,
  BPF_PSEUDO_CALL, BPF_PSEUDO_FUNC, BPF_PSEUDO_KFUNC_CALL, BPF_ST, BPF_STX, BPF_SUB, BPF_XOR, BPF_ADD,
  bpfClass, bpfMode, bpfOp, bpfSrc,
} from '../isa/opcodes.js';
import { convertCtxAccess, convertSockAccess, genLdAbs, genPrologue, readsTstampType } from '../progtypes/convert_ctx.js';
import { helperSymbol } from '../progtypes/helper_symbols.js';
import { LINUX_6_18_X86_64_DEBIAN, type KernelLayout } from '../progtypes/kernel_layout.js';
import { subprogIndexOf } from './check_cfg.js';
import { isMapOpsHelper, mapGenLookup, mapOpsSymbol } from './map_fixups.js';
import type { InsnAux } from './verifier.js';

const BPF_FUNC_tail_call = 12;
const BPF_FUNC_get_smp_processor_id = 8;
const BPF_FUNC_jiffies64 = 118;
const BPF_FUNC_loop = 181;
const BPF_MAX_LOOPS = 8 * 1024 * 1024;
const E2BIG = 7;
const BPF_LD_IMM_DW = 0x18;

export interface XlatedProgram {
  /** The program as the kernel holds it after verification (calls carry kernel displacements). */
  insns: Insn[];
  /** Per xlated slot: the index of the loaded instruction it came from. */
  origIndex: number[];
  /** Per xlated slot of a helper call: the kernel function it calls (bpftool prints its name). */
  callSymbols: Map<number, string>;
  /**
   * Where an instruction offset of line_info/func_info (an index into the loaded program) lands in
   * the xlated program, following bpf_adj_linfo() and its removal counterpart; undefined when
   * the record is dropped with removed code.
   */
  adjustInsnOffs(offs: readonly number[]): (number | undefined)[];
}

export interface FixupOptions {
  progType: number;
  /** The verifier's stack depth of each subprogram (VerifyStats.stackDepth): bpf_loop inlining spills below it. */
  stackDepth?: readonly number[];
  /** The kernel build whose structure offsets and function addresses to use. */
  layout?: KernelLayout;
}

interface Slot { insn: Insn; orig: number; aux: InsnAux; symbol?: string }

type Edit = { kind: 'patch'; off: number; delta: number } | { kind: 'remove'; off: number; cnt: number };

const isJmpClass = (code: number): boolean => bpfClass(code) === BPF_JMP || bpfClass(code) === BPF_JMP32;

/** insn_is_cond_jump() */
function isCondJump(code: number): boolean {
  const op = bpfOp(code);
  if (bpfClass(code) === BPF_JMP32) return op !== BPF_JA;
  if (bpfClass(code) !== BPF_JMP) return false;
  return op !== BPF_JA && op !== BPF_EXIT && op !== BPF_CALL;
}

class Rewriter {
  slots: Slot[];
  edits: Edit[] = [];
  readonly layout: KernelLayout;

  constructor(insns: readonly Insn[], aux: readonly InsnAux[], layout: KernelLayout) {
    this.layout = layout;
    this.slots = insns.map((insn, i) => ({ insn: copyInsn(insn), orig: i, aux: aux[i] ?? { seen: false } }));
    // A callback bpfkit's verifier did not walk (bpf_loop's, for one) is live code the kernel
    // verifies: keep a wholly unseen subprogram whose address a reached ld_imm64 takes.
    const starts = subprogStarts(insns);
    this.slots.forEach((slot, i) => {
      if (slot.insn.code !== BPF_LD_IMM_DW || slot.insn.src !== BPF_PSEUDO_FUNC || !slot.aux.seen) return;
      const k = starts.indexOf(i + slot.insn.imm + 1);
      const body = this.slots.slice(starts[k], starts[k + 1] ?? this.slots.length);
      if (k > 0 && body.every((b) => !b.aux.seen)) for (const b of body) b.aux = { ...b.aux, seen: true };
    });
    // The second slot of an ld_imm64 is reached with its first (aux->seen is set for both).
    for (let i = 0; i + 1 < this.slots.length; i++) {
      if (this.slots[i].insn.code === BPF_LD_IMM_DW) { this.slots[i + 1].aux = { ...this.slots[i + 1].aux, seen: this.slots[i].aux.seen }; i++; }
    }
  }

  /**
   * bpf_adj_delta_to_off()/_to_imm() over the whole program after a patch or a removal, with
   * pos/endOld/endNew as bpf_adj_branches() takes them.
   */
  adjustBranches(pos: number, endOld: number, endNew: number): void {
    const delta = endNew - endOld;
    this.slots.forEach((slot, curr) => {
      const insn = slot.insn;
      const pseudoFunc = insn.code === BPF_LD_IMM_DW && insn.src === BPF_PSEUDO_FUNC;
      const pseudoCall = insn.code === (BPF_JMP | BPF_CALL) && insn.src === BPF_PSEUDO_CALL;
      if (!pseudoFunc && !pseudoCall && (!isJmpClass(insn.code) || bpfOp(insn.code) === BPF_EXIT || bpfOp(insn.code) === BPF_CALL)) return;
      const useImm = pseudoFunc || pseudoCall || insn.code === (BPF_JMP32 | BPF_JA);
      let off = useImm ? insn.imm : insn.off;
      if (curr < pos && curr + off + 1 >= endOld) off += delta;
      else if (curr >= endNew && curr + off + 1 < endNew) off -= delta;
      else return;
      slot.insn = useImm ? copyInsn(insn, { imm: off }) : copyInsn(insn, { off });
    });
  }

  /** bpf_patch_insn_data(): slot `pos` becomes `insns`; the original aux stays with the last one. */
  patch(pos: number, insns: readonly Insn[], symbols: ReadonlyMap<number, string> = new Map()): void {
    const old = this.slots[pos];
    const fresh: Slot[] = insns.map((insn, k) => ({
      insn: copyInsn(insn), orig: old.orig,
      aux: k === insns.length - 1 ? old.aux : { seen: old.aux.seen },
      symbol: symbols.get(k),
    }));
    this.slots.splice(pos, 1, ...fresh);
    if (insns.length > 1) {
      this.adjustBranches(pos, pos + 1, pos + insns.length);
      this.edits.push({ kind: 'patch', off: pos, delta: insns.length - 1 });
    }
  }

  /** verifier_remove_insns() */
  remove(off: number, cnt: number): void {
    this.slots.splice(off, cnt);
    this.adjustBranches(off, off + cnt, off);
    this.edits.push({ kind: 'remove', off, cnt });
  }

  // ---- the passes, in bpf_check()'s order ----

  /** Per subprogram: stack bytes rewrites added below the verifier's depth (optimize_bpf_loop()'s spills). */
  stackExtra: number[] = [];

  /** optimize_bpf_loop(): inline_bpf_loop() at each bpf_loop call fit for it. */
  optimizeBpfLoop(stackDepth: readonly number[]): void {
    const starts = subprogStarts(this.slots.map((s) => s.insn));
    let delta = 0;
    const n = this.slots.length;
    for (let i = 0; i < n; i++) {
      const at = i + delta;
      const { insn, aux } = this.slots[at];
      const loop = aux.loopInline;
      if (insn.code !== (BPF_JMP | BPF_CALL) || insn.src !== 0 || insn.imm !== BPF_FUNC_loop || !loop?.fit) continue;
      const k = subprogIndexOf(starts, i), depth = stackDepth[k] ?? 0;
      const extra = 8 * 3 + (((depth + 7) & ~7) - depth);
      this.stackExtra[k] = extra; // the subprogram's stack_depth grows by it (later rewrites go below)
      const base = -(depth + extra);
      const [r6, r7, r8] = [base, base + 8, base + 16];
      const patch = [
        jmpImm(BPF_JLE, 1, BPF_MAX_LOOPS, 2),
        mov32Imm(0, -E2BIG),
        jmpA(16),
        stxMem(8, 10, 6, r6), stxMem(8, 10, 7, r7), stxMem(8, 10, 8, r8),
        mov64Reg(6, 1), mov32Imm(7, 0), mov64Reg(8, 3),
        jmpReg(BPF_JGE, 7, 6, 5),
        mov64Reg(1, 7), mov64Reg(2, 8),
        makeInsn(BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_CALL, 0, 0), // BPF_CALL_REL(0)
        alu64Imm(BPF_ADD, 7, 1),
        jmpImm(BPF_JEQ, 0, 0, -6),
        mov64Reg(0, 7),
        ldxMem(8, 6, 10, r6), ldxMem(8, 7, 10, r7), ldxMem(8, 8, 10, r8),
      ];
      this.patch(at, patch);
      delta += patch.length - 1;
      // the callback's start is known only after patching
      const callbackStart = this.slots.findIndex((s) => s.orig === loop.callback);
      const call = at + 12;
      this.slots[call].insn = { ...this.slots[call].insn, imm: callbackStart - call - 1 };
    }
  }

  hardWireDeadCodeBranches(): void {
    const s = this.slots;
    for (let i = 0; i < s.length; i++) {
      const insn = s[i].insn;
      if (!isCondJump(insn.code)) continue;
      let off: number;
      if (!s[i + 1]?.aux.seen) off = insn.off;
      else if (!s[i + 1 + insn.off]?.aux.seen) off = 0;
      else continue;
      s[i].insn = makeInsn(BPF_JMP | BPF_JA, 0, 0, off, 0);
    }
  }

  removeDeadCode(): void {
    for (let i = 0; i < this.slots.length; i++) {
      let j = 0;
      while (i + j < this.slots.length && !this.slots[i + j].aux.seen) j++;
      if (j) this.remove(i, j);
    }
  }

  removeNops(): void {
    for (let i = 0; i < this.slots.length; i++) {
      const x = this.slots[i].insn;
      if (x.code === (BPF_JMP | BPF_JA) && x.dst === 0 && x.src === 0 && x.off === 0 && x.imm === 0) {
        this.remove(i, 1);
        i--;
      }
    }
  }

  convertCtxAccesses(progType: number): void {
    // env->seen_direct_write: a store through a packet pointer
    const directWrite = this.slots.some(({ insn, aux }) =>
      (bpfClass(insn.code) === BPF_STX || bpfClass(insn.code) === BPF_ST) && bpfMode(insn.code) === BPF_MEM &&
      (aux.ptrType === 'pkt' || aux.ptrType === 'pkt_meta'));
    // prog->tstamp_type_access, which the verifier set when it let such a read through
    const tstampTypeAccess = this.slots.some(({ insn, aux }) => aux.ptrType === 'ctx' && readsTstampType(progType, insn));
    let delta = 0;
    const prologue = genPrologue(progType, directWrite, this.slots[0].insn, this.layout);
    if (prologue) {
      this.patch(0, prologue);
      delta += prologue.length - 1;
    }
    const n = this.slots.length - delta;
    for (let i = 0; i < n; i++) {
      const at = i + delta;
      const { insn, aux } = this.slots[at];
      const cls = bpfClass(insn.code);
      if (bpfMode(insn.code) !== BPF_MEM || (cls !== BPF_LDX && cls !== BPF_STX) || aux.ptrType === undefined) continue;
      const out = aux.ptrType === 'ctx' ? convertCtxAccess(progType, insn, cls === BPF_STX, this.layout, tstampTypeAccess)
        : cls === BPF_LDX ? convertSockAccess(aux.ptrType, insn, this.layout) : undefined;
      if (!out) continue;
      this.patch(at, out);
      delta += out.length - 1;
    }
  }

  doMiscFixups(progType: number, stackDepth: readonly number[]): void {
    let delta = 0;
    const n = this.slots.length;
    const starts = subprogStarts(this.slots.map((s) => s.insn));
    /** subprogram index -> the stack depth with may_goto's extra slots (stack_depth_extra) */
    const mayGotoDepth = new Map<number, number>();
    for (let i = 0; i < n; i++) {
      const at = i + delta;
      const slot = this.slots[at];
      const insn = slot.insn;
      const replace = (insns: Insn[], symbols?: Map<number, string>): void => {
        this.patch(at, insns, symbols);
        delta += insns.length - 1;
      };
      const divmod = divModGuard(insn);
      if (divmod) { replace(divmod); continue; }
      if (insn.code === (BPF_JMP | BPF_JCOND)) {
        const k = subprogIndexOf(starts, i), depth = (stackDepth[k] ?? 0) + (this.stackExtra[k] ?? 0);
        mayGotoDepth.set(k, depth + MAY_GOTO_TIMED_EXTRA);
        replace(timedMayGoto(insn, depth), new Map([[5, 'arch_bpf_timed_may_goto']]));
        continue;
      }
      if (bpfClass(insn.code) === BPF_LD && (bpfMode(insn.code) === BPF_ABS || bpfMode(insn.code) === BPF_IND)) {
        const ld = genLdAbs(insn);
        if (ld) replace(ld.insns, new Map([[ld.call, ld.symbol]]));
        continue;
      }
      if (insn.code !== (BPF_JMP | BPF_CALL) || insn.src === BPF_PSEUDO_CALL) continue;
      // fixup_kfunc_call(): the call keeps src BPF_PSEUDO_KFUNC_CALL, imm becomes the function's displacement
      if (insn.src === BPF_PSEUDO_KFUNC_CALL) { slot.symbol = insn.off === 0 ? kfuncByBtfId(insn.imm)?.name : undefined; continue; }
      const id = insn.imm;
      // BPF_TAIL_CALL: bpf_insn_prepare_dump() shows it as `call bpf_tail_call#12` again
      if (id === BPF_FUNC_tail_call) continue;
      if (isMapOpsHelper(id) && slot.aux.map && !slot.aux.mapPoisoned) {
        const gen = id === 1 ? mapGenLookup(slot.aux.map) : undefined;
        if (gen) { replace(gen.insns, gen.calls); continue; }
        const symbol = mapOpsSymbol(slot.aux.map, id);
        if (symbol) { slot.symbol = symbol; continue; }
      }
      if (id === BPF_FUNC_jiffies64) {
        // r0 = &jiffies (an address KASLR moves; 0 here); r0 = *(u64 *)(r0 + 0)
        replace([makeInsn(BPF_LD_IMM_DW, 0), makeInsn(0), ldxMem(8, 0, 0, 0)]);
        continue;
      }
      if (id === BPF_FUNC_get_smp_processor_id && this.layout.percpu.cpu_number !== undefined) {
        // verifier_inlines_helper_call(): r0 = this_cpu_read(cpu_number)
        replace([mov64Imm(0, this.layout.percpu.cpu_number), mov64PercpuReg(0, 0), ldxMem(4, 0, 0, 0)]);
        continue;
      }
      slot.symbol = helperSymbol(progType, id);
    }
    // the count and timestamp slots start each subprogram that has a may_goto (its first instruction kept after them)
    for (const [k, depth] of [...mayGotoDepth].sort((a, b) => a[0] - b[0])) {
      const start = subprogStarts(this.slots.map((s) => s.insn))[k];
      const first = this.slots[start].insn;
      this.patch(start, [stMem(8, 10, -depth, BPF_MAX_TIMED_LOOPS), stMem(8, 10, -depth + 8, 0), first]);
      this.adjustJmpOff(start, 2);
    }
    // patch_call_imm: imm = fn->func - __bpf_call_base, where the kernel build's address is known
    for (const slot of this.slots) {
      const d = slot.symbol !== undefined ? this.layout.calls[slot.symbol] : undefined;
      if (d !== undefined) slot.insn = { ...slot.insn, imm: d };
    }
  }

  /** adjust_jmp_off(): jumps (outside the `delta` slots at tgt) that target slot tgt move `delta` further. */
  adjustJmpOff(tgt: number, delta: number): void {
    this.slots.forEach((slot, i) => {
      const insn = slot.insn;
      if (i >= tgt && i < tgt + delta) return;
      if (!isJmpClass(insn.code) || bpfOp(insn.code) === BPF_CALL || bpfOp(insn.code) === BPF_EXIT) return;
      if (insn.code === (BPF_JMP32 | BPF_JA)) {
        if (i + 1 + insn.imm === tgt) slot.insn = copyInsn(insn, { imm: insn.imm + delta });
      } else if (i + 1 + insn.off === tgt) slot.insn = copyInsn(insn, { off: insn.off + delta });
    });
  }

  /** jit_subprogs()' last step: a bpf-to-bpf call keeps its displacement in off (imm: callee's subprog index). */
  finishSubprogCalls(): void {
    const sorted = subprogStarts(this.slots.map((s) => s.insn));
    if (sorted.length <= 1) return;
    this.slots.forEach((slot, i) => {
      const insn = slot.insn;
      if (insn.code === (BPF_JMP | BPF_CALL) && insn.src === BPF_PSEUDO_CALL) {
        slot.insn = copyInsn(insn, { off: insn.imm, imm: sorted.indexOf(i + insn.imm + 1) });
      } else if (insn.code === BPF_LD_IMM_DW && insn.src === BPF_PSEUDO_FUNC && this.slots[i + 1]) {
        this.slots[i + 1].insn = { ...this.slots[i + 1].insn, imm: sorted.indexOf(i + insn.imm + 1) };
      }
    });
  }

  /** bpf_adj_linfo() and bpf_adj_linfo_after_remove() replayed over sorted insn offsets. */
  adjustOffs(offs: readonly number[]): (number | undefined)[] {
    let cur: (number | undefined)[] = [...offs];
    let len = this.slots.length;
    for (const e of this.edits) len -= e.kind === 'patch' ? e.delta : -e.cnt;
    for (const e of this.edits) {
      if (e.kind === 'patch') {
        cur = cur.map((o) => (o !== undefined && o > e.off ? o + e.delta : o));
        len += e.delta;
        continue;
      }
      len -= e.cnt;
      const live = cur.map((o, k) => ({ o, k })).filter((x) => x.o !== undefined) as { o: number; k: number }[];
      const removed = live.filter((x) => x.o >= e.off && x.o < e.off + e.cnt);
      const after = live.find((x) => x.o >= e.off + e.cnt);
      const next = cur.slice();
      for (const x of live) if (x.o >= e.off + e.cnt) next[x.k] = x.o - e.cnt;
      for (const x of removed) next[x.k] = undefined;
      // The first live instruction inherits the last removed record when it has none of its own.
      if (len !== e.off && removed.length && (!after || after.o !== e.off + e.cnt)) next[removed[removed.length - 1].k] = e.off;
      cur = next;
    }
    return cur;
  }
}

/** First instruction of each subprogram: 0 and every bpf-to-bpf call or callback target. */
function subprogStarts(insns: readonly Insn[]): number[] {
  const starts = new Set<number>([0]);
  insns.forEach((insn, i) => {
    if ((insn.code === (BPF_JMP | BPF_CALL) && insn.src === BPF_PSEUDO_CALL) || (insn.code === BPF_LD_IMM_DW && insn.src === BPF_PSEUDO_FUNC)) {
      starts.add(i + insn.imm + 1);
    }
  });
  return [...starts].sort((a, b) => a - b);
}

/** BPF_MAX_TIMED_LOOPS: may_goto's iterations between two looks at the clock */
const BPF_MAX_TIMED_LOOPS = 0xffff;
/** The stack a subprogram with may_goto gains: the count (depth-16) and the loop's start time (depth-8). */
const MAY_GOTO_TIMED_EXTRA = 16;

/**
 * do_misc_fixups()' may_goto on x86-64 (bpf_jit_supports_timed_may_goto()): count down in the
 * stack slot; at 1 arch_bpf_timed_may_goto() refills the count unless the loop ran out of time
 * (then 0: the next may_goto jumps). AX carries the slot's offset in and the new count out.
 */
function timedMayGoto(insn: Insn, stackDepth: number): Insn[] {
  const cnt = -stackDepth - 16;
  return [
    ldxMem(8, BPF_REG_AX, 10, cnt),
    jmpImm(BPF_JEQ, BPF_REG_AX, 0, insn.off >= 0 ? insn.off + 5 : insn.off - 1),
    alu64Imm(BPF_SUB, BPF_REG_AX, 1),
    jmpImm(BPF_JNE, BPF_REG_AX, 0, 2),
    mov64Imm(BPF_REG_AX, cnt),
    makeInsn(BPF_JMP | BPF_CALL, 0, 0, 0, 0), // BPF_EMIT_CALL(arch_bpf_timed_may_goto)
    stxMem(8, 10, BPF_REG_AX, cnt),
  ];
}

/**
 * do_misc_fixups()' guards that make division by zero (and sdiv/smod by -1) impossible: the
 * instruction sequences of Linux 6.18. undefined: not a division that needs one.
 */
export function divModGuard(insn: Insn): Insn[] | undefined {
  const cls = bpfClass(insn.code);
  const op = bpfOp(insn.code);
  if ((cls !== BPF_ALU64 && cls !== BPF_ALU) || (op !== BPF_DIV && op !== BPF_MOD)) return undefined;
  const is64 = cls === BPF_ALU64;
  const jmp = is64 ? BPF_JMP : BPF_JMP32;
  const isDiv = op === BPF_DIV;
  const signed = insn.off === 1;
  if (bpfSrc(insn.code) === BPF_K) {
    // [R,W]x sdiv -1 -> -x; smod -1 -> 0
    if (!signed || insn.imm !== -1) return undefined;
    return [isDiv ? (is64 ? alu64Imm : alu32Imm)(BPF_NEG, insn.dst, 0) : mov32Imm(insn.dst, 0)];
  }
  const ja1 = jmpA(1);
  const zext = is64 ? [] : [ja1, alu32Reg(BPF_MOV, insn.dst, insn.dst)];
  const aluImm = (op: number, dst: number, imm: number): Insn => (is64 ? alu64Imm : alu32Imm)(op, dst, imm);
  const jmpK = (op: number, dst: number, imm: number, off: number): Insn => makeInsn(jmp | op | BPF_K, dst, 0, off, imm);
  if (signed && isDiv) {
    return [
      mov64Reg(BPF_REG_AX, insn.src),
      aluImm(BPF_ADD, BPF_REG_AX, 1),
      jmpK(BPF_JGT, BPF_REG_AX, 1, 4),
      jmpK(BPF_JEQ, BPF_REG_AX, 0, 1),
      aluImm(BPF_MOV, insn.dst, 0),
      aluImm(BPF_NEG, insn.dst, 0),
      ja1,
      insn,
    ];
  }
  if (signed) {
    return [
      mov64Reg(BPF_REG_AX, insn.src),
      aluImm(BPF_ADD, BPF_REG_AX, 1),
      jmpK(BPF_JGT, BPF_REG_AX, 1, 3),
      jmpK(BPF_JEQ, BPF_REG_AX, 1, 3 + (is64 ? 0 : 1)),
      mov32Imm(insn.dst, 0),
      ja1,
      insn,
      ...zext,
    ];
  }
  if (isDiv) return [jmpK(BPF_JNE, insn.src, 0, 2), alu32Reg(BPF_XOR, insn.dst, insn.dst), ja1, insn];
  return [jmpK(BPF_JEQ, insn.src, 0, 1 + (is64 ? 0 : 1)), insn, ...zext];
}

/** The xlated program of a verified program: `insns` as loaded, `aux` from verify(). */
export function rewriteForXlated(insns: readonly Insn[], aux: readonly InsnAux[], opts: FixupOptions): XlatedProgram {
  const r = new Rewriter(insns, aux, opts.layout ?? LINUX_6_18_X86_64_DEBIAN);
  r.optimizeBpfLoop(opts.stackDepth ?? []);
  r.hardWireDeadCodeBranches();
  r.removeDeadCode();
  r.removeNops();
  r.convertCtxAccesses(opts.progType);
  r.doMiscFixups(opts.progType, opts.stackDepth ?? []);
  r.finishSubprogCalls();
  const callSymbols = new Map<number, string>();
  r.slots.forEach((s, i) => { if (s.symbol !== undefined) callSymbols.set(i, s.symbol); });
  return {
    insns: r.slots.map((s) => s.insn),
    origIndex: r.slots.map((s) => s.orig),
    callSymbols,
    adjustInsnOffs: (offs) => r.adjustOffs(offs),
  };
}

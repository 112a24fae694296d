/*
 * Tracing program types, whose contexts the host builds from events it supplies: KPROBE (struct
 * pt_regs, x86_64), TRACEPOINT (the raw trace record: the 8-byte common header, then the
 * event's fields), RAW_TRACEPOINT (u64 args[]), PERF_EVENT (struct bpf_perf_event_data), and
 * SYSCALL (caller bytes, writable, up to U16_MAX).
 *
 * BPF_PROG_TEST_RUN exists in the kernel for RAW_TRACEPOINT (bpf_prog_test_run_raw_tp: ctx_in
 * only, no data, no ctx_out, no repeat) and SYSCALL (bpf_prog_test_run_syscall: ctx_in is written
 * back). KPROBE, TRACEPOINT and PERF_EVENT have none (ENOTSUPP); runTracing() runs them anyway
 * on a context from host bytes, which is how bpfkit feeds them synthetic events.
 */
import { Vm } from '../vm/vm.js';
import { helperAllowedFor } from './helper_sets.js';
import { vmForType } from './register.js';
import { type Engine, prepareProgram, timedRuns } from './run.js';
import { type CtxAccess, type CtxField, type ProgTypeOps, type TestRunInput, type TestRunResult, TestRunError } from './types.js';

export const BPF_PROG_TYPE_KPROBE = 2;
export const BPF_PROG_TYPE_TRACEPOINT = 5;
export const BPF_PROG_TYPE_PERF_EVENT = 7;
export const BPF_PROG_TYPE_RAW_TRACEPOINT = 17;
export const BPF_PROG_TYPE_SYSCALL = 31;

/** struct pt_regs on x86_64, in order (8 bytes each). */
export const PT_REGS_X86_64 = [
  'r15', 'r14', 'r13', 'r12', 'bp', 'bx', 'r11', 'r10', 'r9', 'r8', 'ax', 'cx', 'dx', 'si', 'di', 'orig_ax', 'ip',
  'cs', 'flags', 'sp', 'ss',
] as const;
export type PtRegName = (typeof PT_REGS_X86_64)[number];
export const PT_REGS_SIZE = PT_REGS_X86_64.length * 8;
/** sizeof(struct bpf_perf_event_data): regs, sample_period, addr. */
export const PERF_EVENT_DATA_SIZE = PT_REGS_SIZE + 16;
/** PERF_MAX_TRACE_SIZE. */
const PERF_MAX_TRACE_SIZE = 8192;
/** MAX_BPF_FUNC_ARGS. */
const MAX_BPF_FUNC_ARGS = 12;
const U16_MAX = 0xffff;

/** A pt_regs image from named registers (the rest zero); PT_REGS_PARM1..6 are di, si, dx, cx, r8, r9. */
export function buildPtRegs(regs: Partial<Record<PtRegName, bigint>>): Uint8Array {
  const out = new Uint8Array(PT_REGS_SIZE);
  const dv = new DataView(out.buffer);
  PT_REGS_X86_64.forEach((name, i) => dv.setBigUint64(i * 8, BigInt.asUintN(64, regs[name] ?? 0n), true));
  return out;
}

/** A bpf_perf_event_data image. */
export function buildPerfEventData(regs: Partial<Record<PtRegName, bigint>>, samplePeriod: bigint, addr = 0n): Uint8Array {
  const out = new Uint8Array(PERF_EVENT_DATA_SIZE);
  out.set(buildPtRegs(regs));
  const dv = new DataView(out.buffer);
  dv.setBigUint64(PT_REGS_SIZE, samplePeriod, true);
  dv.setBigUint64(PT_REGS_SIZE + 8, addr, true);
  return out;
}

const bad = (off: number, size: number): CtxAccess => ({ ok: false, message: `invalid bpf_context access off=${off} size=${size}` });
const scalar = (name: string, off: number, size: number): CtxField => Object.freeze({ name, off, size, kind: 'scalar', narrow: true, write: false });
const okField = (field: CtxField): CtxAccess => ({ ok: true, field, kind: 'scalar' });

const PT_REGS_FIELDS: readonly CtxField[] = PT_REGS_X86_64.map((n, i) => scalar(n, i * 8, 8));

function regsAccess(fields: readonly CtxField[], limit: number, off: number, size: number, write: boolean): CtxAccess {
  if (off < 0 || off >= limit || write || off % size !== 0 || off + size > limit) return bad(off, size);
  return okField(fields.find((x) => off >= x.off && off < x.off + x.size) ?? scalar('ctx', 0, limit));
}

function tracingOps(type: number, name: string, ctxName: string, ctxSize: number, fields: readonly CtxField[],
  isValidAccess: (off: number, size: number, write: boolean) => CtxAccess, testRun?: (i: TestRunInput) => Promise<TestRunResult>): ProgTypeOps {
  return Object.freeze({
    type, name, ctxName, ctxSize, fields, isValidAccess, helperAllowed: (id: number) => helperAllowedFor(type, id),
    directPacketAccess: false, testRun,
  });
}

export const KPROBE_OPS = tracingOps(BPF_PROG_TYPE_KPROBE, 'kprobe', 'struct pt_regs', PT_REGS_SIZE, PT_REGS_FIELDS,
  (off, size, write) => regsAccess(PT_REGS_FIELDS, PT_REGS_SIZE, off, size, write)); // kprobe_prog_is_valid_access()

export const TRACEPOINT_OPS = tracingOps(BPF_PROG_TYPE_TRACEPOINT, 'tracepoint', 'trace record', PERF_MAX_TRACE_SIZE, [],
  (off, size, write) => { // tp_prog_is_valid_access(): the common header (first 8 bytes) is off limits
    if (off < 8 || off >= PERF_MAX_TRACE_SIZE || write || off % size !== 0) return bad(off, size);
    return okField(scalar('field', off, size));
  });

export const PERF_EVENT_FIELDS: readonly CtxField[] = [
  ...PT_REGS_FIELDS, scalar('sample_period', PT_REGS_SIZE, 8), scalar('addr', PT_REGS_SIZE + 8, 8),
];
export const PERF_EVENT_OPS = tracingOps(BPF_PROG_TYPE_PERF_EVENT, 'perf_event', 'struct bpf_perf_event_data', PERF_EVENT_DATA_SIZE,
  PERF_EVENT_FIELDS, (off, size, write) => { // pe_prog_is_valid_access()
    if (off < 0 || off >= PERF_EVENT_DATA_SIZE || write || off % size !== 0) return bad(off, size);
    if (off < PT_REGS_SIZE && size !== 8) return bad(off, size); // registers: whole longs; sample_period, addr: narrow too
    if (off + size > PERF_EVENT_DATA_SIZE) return bad(off, size);
    return okField(PERF_EVENT_FIELDS.find((x) => off >= x.off && off < x.off + x.size)!);
  });

export const RAW_TRACEPOINT_OPS = tracingOps(BPF_PROG_TYPE_RAW_TRACEPOINT, 'raw_tracepoint', 'struct bpf_raw_tracepoint_args',
  MAX_BPF_FUNC_ARGS * 8, Array.from({ length: MAX_BPF_FUNC_ARGS }, (_, i) => scalar(`args[${i}]`, i * 8, 8)),
  (off, size, write) => { // raw_tp_prog_is_valid_access()
    if (off < 0 || off >= MAX_BPF_FUNC_ARGS * 8 || write || off % size !== 0) return bad(off, size);
    return okField(scalar(`args[${off >> 3}]`, off & ~7, 8));
  }, testRunRawTp);

export const SYSCALL_OPS = tracingOps(BPF_PROG_TYPE_SYSCALL, 'syscall', 'ctx', U16_MAX, [],
  (off, size, _write) => { // syscall_prog_is_valid_access(): reads and writes
    if (off < 0 || off >= U16_MAX || off % size !== 0) return bad(off, size);
    return { ok: true, field: scalar('ctx', off, size), kind: 'scalar' };
  }, testRunSyscall);

export interface TracingRunOptions {
  engine?: Engine;
  vm?: Vm;
  budget?: number;
  repeat?: number;
  /** The context region is writable (SYSCALL). */
  writable?: boolean;
}

/** Run a tracing program once (or `repeat` times) with r1 -> a copy of `ctx`; the context afterwards is returned too. */
export function runTracing(insns: TestRunInput['insns'], ctx: Uint8Array, options: TracingRunOptions = {}): { retval: number; duration: number; ctx: Uint8Array } {
  const vm = options.vm ?? new Vm();
  const region = ctx.length ? vm.space.alloc(ctx.length, 'tracing ctx', { writable: options.writable ?? false }) : undefined;
  try {
    if (region) vm.space.write(region.addr, ctx);
    const p = prepareProgram(vm, insns, options.engine ?? 'jit', options.budget);
    const r = timedRuns(p, region?.addr ?? 0, options.repeat ?? 1);
    return { ...r, ctx: region ? vm.space.read(region.addr, ctx.length) : new Uint8Array(0) };
  } finally {
    if (region) vm.space.free(region);
  }
}

/** bpf_prog_test_run_raw_tp(). */
async function testRunRawTp(input: TestRunInput): Promise<TestRunResult> {
  if (input.dataIn || input.ctxOut || input.repeat > 1) throw new TestRunError('EINVAL', 'raw_tracepoint test runs take ctx_in only (no data, ctx_out or repeat)');
  const ctx = input.ctxIn ?? new Uint8Array(0);
  if (ctx.length > MAX_BPF_FUNC_ARGS * 8) throw new TestRunError('EINVAL', `ctx_in is larger than ${MAX_BPF_FUNC_ARGS * 8} bytes`);
  const r = runTracing(input.insns, ctx, { engine: input.engine, vm: input.vm ?? vmForType(input.type), budget: input.budget });
  return { retval: r.retval, duration: 0, dataOut: new Uint8Array(0) };
}

/** bpf_prog_test_run_syscall(): the context is copied back into ctx_in's buffer (returned as ctxOut). */
async function testRunSyscall(input: TestRunInput): Promise<TestRunResult> {
  if (input.dataIn || input.ctxOut || input.repeat > 1) throw new TestRunError('EINVAL', 'syscall test runs take ctx_in only (no data, ctx_out or repeat)');
  const ctx = input.ctxIn ?? new Uint8Array(0);
  if (ctx.length > U16_MAX) throw new TestRunError('EINVAL', `ctx_in is larger than ${U16_MAX} bytes`);
  const r = runTracing(input.insns, ctx, { engine: input.engine, vm: input.vm ?? vmForType(input.type), budget: input.budget, writable: true });
  return { retval: r.retval, duration: 0, dataOut: new Uint8Array(0), ctxOut: ctx.length ? r.ctx : undefined };
}

/*
 * The environment helpers read and write: clocks, the random generator, the current CPU and
 * task, the trace buffer (bpf_trace_printk's output, read like /sys/kernel/tracing/trace_pipe),
 * memory regions bpf_probe_read_kernel/user may read, and the last redirect. Everything is
 * plain data the host sets, so tests are deterministic (fixed clock, seeded random).
 */
import type { BpfMap } from '../maps/types.js';

/** A block of "kernel" or "user" memory outside the VM that probe_read helpers may read. */
export interface ProbeRegion {
  readonly addr: bigint;
  readonly bytes: Uint8Array;
}

export interface TaskInfo {
  pid: number;
  tgid: number;
  uid: number;
  gid: number;
  /** TASK_COMM_LEN (16) bytes at most, NUL included. */
  comm: string;
  /** bpf_get_current_cgroup_id (cgroup v2 id). */
  cgroupId: bigint;
  /** bpf_get_current_task: the task_struct address a program sees (opaque here). */
  taskAddr: bigint;
}

export interface TraceEntry {
  cpu: number;
  pid: number;
  comm: string;
  timestampNs: bigint;
  /** The formatted message (bytes as Latin-1). */
  text: string;
}

/** bpf_trace_printk's ring (the kernel's trace buffer); read() drains it like trace_pipe. */
export class TraceBuffer {
  readonly entries: TraceEntry[] = [];
  /** Oldest entries are dropped beyond this many. */
  readonly capacity: number;

  constructor(capacity = 65536) {
    this.capacity = capacity;
  }

  push(e: TraceEntry): void {
    this.entries.push(e);
    if (this.entries.length > this.capacity) this.entries.shift();
  }

  /** Take every entry (as reading trace_pipe consumes it). */
  read(): TraceEntry[] {
    return this.entries.splice(0);
  }

  /** Drain and format as trace_pipe lines. */
  readPipe(): string {
    return this.read().map((e) => formatTraceLine(e)).join('');
  }

  clear(): void {
    this.entries.length = 0;
  }
}

/** A trace_pipe line: "<comm>-<pid> [<cpu>] d..1. <sec>.<usec>: bpf_trace_printk: <msg>\n". */
export function formatTraceLine(e: TraceEntry, flags = 'd..1.'): string {
  const sec = e.timestampNs / 1_000_000_000n;
  const usec = (e.timestampNs % 1_000_000_000n) / 1000n;
  const head = `${e.comm.padStart(16)}-${String(e.pid).padEnd(7)} [${String(e.cpu).padStart(3, '0')}] ${flags} ${String(sec).padStart(5)}.${String(usec).padStart(6, '0')}`;
  const msg = e.text.endsWith('\n') ? e.text : e.text + '\n';
  return `${head}: bpf_trace_printk: ${msg}`;
}

/** What bpf_redirect_map recorded (the datapath reads and clears it after the program). */
export interface RedirectRecord {
  map: BpfMap;
  key: number;
  flags: bigint;
}

export interface HelperHost {
  /** CLOCK_MONOTONIC in ns (bpf_ktime_get_ns). */
  ktimeNs(): bigint;
  /** CLOCK_BOOTTIME in ns (bpf_ktime_get_boot_ns): monotonic plus time suspended. */
  bootNs(): bigint;
  /** bpf_ktime_get_coarse_ns: monotonic at jiffy resolution. */
  coarseNs(): bigint;
  /** CLOCK_TAI in ns (bpf_ktime_get_tai_ns). */
  taiNs(): bigint;
  /** bpf_jiffies64. */
  jiffies64(): bigint;
  /** bpf_get_prandom_u32: the next pseudo-random u32. */
  prandomU32(): number;
  /** The CPU the program runs on (per-CPU map slots, bpf_get_smp_processor_id). */
  cpu: number;
  numaNode: number;
  task: TaskInfo;
  trace: TraceBuffer;
  kernelMemory: ProbeRegion[];
  userMemory: ProbeRegion[];
  /** Set by bpf_redirect_map on success. */
  redirect: RedirectRecord | undefined;
  /** Instruction budget of each callback run (bpf_loop, bpf_for_each_map_elem). */
  callbackBudget: number;
}

export interface HelperHostOptions {
  /** Monotonic clock in ns; default: performance.now() based. */
  clockNs?: () => bigint;
  /** Time spent suspended (added to the boot clock), ns. */
  suspendedNs?: bigint;
  /** CLOCK_TAI - CLOCK_MONOTONIC, ns. Default: Date.now() - monotonic at creation. */
  taiOffsetNs?: bigint;
  /** CONFIG_HZ (default 250). */
  hz?: number;
  /** Seed of bpf_get_prandom_u32 (default: random). */
  seed?: number;
  cpu?: number;
  numaNode?: number;
  task?: Partial<TaskInfo>;
  trace?: TraceBuffer;
  kernelMemory?: ProbeRegion[];
  userMemory?: ProbeRegion[];
  callbackBudget?: number;
}

/** A clock that advances `stepNs` at every read, starting at `startNs` (deterministic tests). */
export function virtualClock(startNs = 1_000_000_000n, stepNs = 1000n): () => bigint {
  let t = startNs - stepNs;
  return () => (t += stepNs);
}

/** A fixed clock (always `ns`). */
export function fixedClock(ns: bigint): () => bigint {
  return () => ns;
}

function realClock(): () => bigint {
  const perf = (globalThis as { performance?: { now(): number } }).performance;
  const base = 1_000_000_000n; // as if booted a second before
  return () => base + BigInt(Math.floor((perf ? perf.now() : Date.now()) * 1e6));
}

/** splitmix32-style generator: deterministic for a seed. */
function prandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

export function createHelperHost(options: HelperHostOptions = {}): HelperHost {
  const clock = options.clockNs ?? realClock();
  const hz = BigInt(options.hz ?? 250);
  const suspended = options.suspendedNs ?? 0n;
  const taiOffset = options.taiOffsetNs ?? BigInt(Date.now()) * 1_000_000n - clock();
  // INITIAL_JIFFIES: jiffies start 5 minutes before wrapping a 32-bit counter
  const initialJiffies = BigInt.asUintN(32, -300n * hz);
  const tickNs = 1_000_000_000n / hz;
  const rand = prandom(options.seed ?? Math.floor(Math.random() * 2 ** 32));
  return {
    ktimeNs: clock,
    bootNs: () => clock() + suspended,
    coarseNs: () => (clock() / tickNs) * tickNs,
    taiNs: () => clock() + taiOffset,
    jiffies64: () => initialJiffies + (clock() * hz) / 1_000_000_000n,
    prandomU32: rand,
    cpu: options.cpu ?? 0,
    numaNode: options.numaNode ?? 0,
    task: { pid: 1000, tgid: 1000, uid: 0, gid: 0, comm: 'bpfkit', cgroupId: 1n, taskAddr: 0xffff888100000000n, ...options.task },
    trace: options.trace ?? new TraceBuffer(),
    kernelMemory: options.kernelMemory ?? [],
    userMemory: options.userMemory ?? [],
    redirect: undefined,
    callbackBudget: options.callbackBudget ?? 1_000_000,
  };
}

/*
 * Running a program over a capture: every packet through an XDP, tc (SCHED_CLS/ACT) or socket
 * filter program, as the hook would run it, offline. One packet harness (progtypes/) is reused
 * for the whole capture and the program is prepared once (the JIT's runCtx by default), so the
 * per-packet cost is a copy in, the run, and a copy out of what passes.
 *
 * What passes (and goes to pcap_out, timestamps kept): XDP_PASS and XDP_TX (the frame as the
 * program left it); TC_ACT_OK, TC_ACT_PIPE and TC_ACT_UNSPEC (continue); a socket filter's
 * non-zero return, the packet cut to that many bytes (sk_filter_trim_cap(); the filter sees the
 * whole frame, as a packet socket's does). The summary counts verdicts by name, packets
 * modified (bytes or length differ from the input) and written.
 */
import { BpfError } from '../errors.js';
import type { Insn } from '../isa/insn.js';
import { type Engine, prepareProgram } from '../progtypes/run.js';
import { SkbHarness, TC_ACT_NAMES } from '../progtypes/skb.js';
import { XDP_ACTION_NAMES, XdpHarness } from '../progtypes/xdp.js';
import { vmForType } from '../progtypes/register.js';
import type { Vm } from '../vm/vm.js';
import type { PcapRecord } from './pcap.js';

export const LINKTYPE_ETHERNET = 1;
const BPF_PROG_TYPE_SOCKET_FILTER = 1;
const BPF_PROG_TYPE_SCHED_CLS = 3;
const BPF_PROG_TYPE_SCHED_ACT = 4;
const BPF_PROG_TYPE_XDP = 6;

export interface CaptureRunOptions {
  insns: readonly Insn[];
  /** BPF_PROG_TYPE_*: XDP, SCHED_CLS, SCHED_ACT or SOCKET_FILTER. */
  type: number;
  engine?: Engine;
  /** The VM (a kernel's, for its maps; helpers registered); default: a fresh one. */
  vm?: Vm;
  budget?: number;
  /** Keep the verdict of every packet. */
  verdicts?: boolean;
  /** Called every `progressEvery` packets with (done, total). */
  onProgress?: (done: number, total: number) => void;
  progressEvery?: number;
}

export interface CaptureRunSummary {
  packets: number;
  /** Verdict name -> packets (XDP_PASS, TC_ACT_SHOT, ... ; socket filters: PASS/DROP). */
  verdicts: Record<string, number>;
  passed: number;
  modified: number;
  /** Average ns per packet (the run with the packet's copy in and out). */
  durationNs: number;
  /** Per-packet verdicts (when asked). */
  perPacket?: number[];
}

export interface CaptureRunResult {
  summary: CaptureRunSummary;
  /** The packets that passed, as the program left them. */
  out: PcapRecord[];
}

/** The verdict's name for a program type. */
export function verdictName(type: number, retval: number): string {
  if (type === BPF_PROG_TYPE_XDP) return XDP_ACTION_NAMES[retval] ?? `XDP_UNKNOWN(${retval})`;
  if (type === BPF_PROG_TYPE_SCHED_CLS || type === BPF_PROG_TYPE_SCHED_ACT) return TC_ACT_NAMES[retval | 0] ?? `TC_ACT_UNKNOWN(${retval | 0})`;
  return retval === 0 ? 'DROP' : 'PASS';
}

function passes(type: number, retval: number): boolean {
  if (type === BPF_PROG_TYPE_XDP) return retval === 2 || retval === 3;
  if (type === BPF_PROG_TYPE_SOCKET_FILTER) return retval !== 0;
  const r = retval | 0;
  return r === 0 || r === -1 || r === 3;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Run the program over `records` (Ethernet frames). */
export function runCapture(records: Iterable<PcapRecord>, linktype: number, options: CaptureRunOptions): CaptureRunResult {
  const type = options.type;
  if (type !== BPF_PROG_TYPE_XDP && type !== BPF_PROG_TYPE_SCHED_CLS && type !== BPF_PROG_TYPE_SCHED_ACT && type !== BPF_PROG_TYPE_SOCKET_FILTER) {
    throw new BpfError('ENOTSUPP', `program type ${type} cannot run over a capture (xdp, tc and socket filter programs can)`);
  }
  if (linktype !== LINKTYPE_ETHERNET) throw new BpfError('EINVAL', `capture link type ${linktype} is not Ethernet (LINKTYPE_ETHERNET, 1)`);
  const vm = options.vm ?? vmForType(type);
  const list = Array.isArray(records) ? records as PcapRecord[] : [...records];
  const xdp = type === BPF_PROG_TYPE_XDP ? new XdpHarness(vm) : undefined;
  // Socket filters over a capture see the frame from the MAC header, as on a packet socket.
  const skb = xdp ? undefined : new SkbHarness(vm, type === BPF_PROG_TYPE_SOCKET_FILTER ? BPF_PROG_TYPE_SCHED_CLS : type);
  const verdicts: Record<string, number> = {};
  const counts = new Map<number, number>();
  const out: PcapRecord[] = [];
  const perPacket: number[] | undefined = options.verdicts ? [] : undefined;
  let modified = 0;
  let runNs = 0;
  const every = options.progressEvery ?? 65536;
  try {
    const p = prepareProgram(vm, options.insns, options.engine ?? 'jit', options.budget);
    const perf = (globalThis as unknown as { performance: { now(): number } }).performance;
    const meta = { wireLen: 0 };
    const t0 = perf.now();
    for (let i = 0; i < list.length; i++) {
      const rec = list[i];
      let retval: number;
      let result: Uint8Array;
      if (xdp) {
        xdp.load(rec.data);
        retval = p.run(xdp.ctx.addr);
        result = xdp.output();
      } else {
        meta.wireLen = rec.len;
        skb!.load(rec.data, meta);
        retval = p.run(skb!.ctx.addr, p.usesLdAbs ? skb!.packet() : undefined);
        result = skb!.output();
      }
      counts.set(retval, (counts.get(retval) ?? 0) + 1);
      perPacket?.push(retval);
      const changed = !equalBytes(result, rec.data);
      if (changed) modified++;
      if (passes(type, retval)) {
        let data = result;
        let len = rec.len + (result.length - rec.caplen);
        if (type === BPF_PROG_TYPE_SOCKET_FILTER && retval < data.length) {
          data = data.subarray(0, retval);
          len = rec.len;
        }
        out.push({ sec: rec.sec, nsec: rec.nsec, caplen: data.length, len: Math.max(len, data.length), data: data.slice(), ifIndex: rec.ifIndex });
      }
      if (options.onProgress && (i + 1) % every === 0) options.onProgress(i + 1, list.length);
    }
    runNs = perf.now() - t0;
  } finally {
    xdp?.dispose();
    skb?.dispose();
  }
  for (const [r, n] of [...counts].sort((a, b) => a[0] - b[0])) verdicts[verdictName(type, r)] = n;
  return {
    summary: {
      packets: list.length, verdicts, passed: out.length, modified,
      durationNs: list.length ? Math.round((runNs * 1e6) / list.length) : 0, perPacket,
    },
    out,
  };
}

/*
 * progtypes/: one ProgTypeOps per program type (context layout, access rules, rewrites, helper
 * set, return range, test_run), looked up by BPF_PROG_TYPE_* or SEC() name, and the shared
 * entry points: testRun() (BPF_PROG_TEST_RUN for any type) and registerProgTypeHelpers() (a VM's
 * helper registry filled with what the type may call, packet helpers included).
 */
import { BpfError } from '../errors.js';
import { CGROUP_SKB_OPS, SCHED_ACT_OPS, SCHED_CLS_OPS, SK_SKB_OPS, SOCKET_FILTER_OPS } from './skb.js';
import { KPROBE_OPS, PERF_EVENT_OPS, RAW_TRACEPOINT_OPS, SYSCALL_OPS, TRACEPOINT_OPS } from './tracing.js';
import type { ProgTypeOps, TestRunInput, TestRunResult } from './types.js';
import { XDP_OPS } from './xdp.js';
import { FLOW_DISSECTOR_OPS } from './flow_dissector.js';

export * from './types.js';
export { XDP_OPS, XdpHarness, XDP_ACTION_NAMES, XDP_MD_FIELDS, XDP_MD_SIZE, XDP_PACKET_HEADROOM, testRunXdp } from './xdp.js';
export {
  CGROUP_SKB_OPS, SCHED_ACT_OPS, SCHED_CLS_OPS, SK_BUFF, SK_BUFF_FIELDS, SK_BUFF_SIZE, SK_SKB_OPS, SOCKET_FILTER_OPS, SkbHarness,
  TC_ACT_NAMES, classifierResult, ethTypeTrans, testRunSkb, type SkbMeta,
} from './skb.js';
export {
  KPROBE_OPS, PERF_EVENT_OPS, RAW_TRACEPOINT_OPS, SYSCALL_OPS, TRACEPOINT_OPS, buildPerfEventData, buildPtRegs, runTracing,
  PT_REGS_X86_64, type PtRegName,
} from './tracing.js';
export { HELPER_SETS, helperAllowedFor } from './helper_sets.js';
export { BPF_FLOW_KEYS_SIZE, FLOW_DISSECTOR_OPS, FLOW_KEYS, testRunFlowDissector } from './flow_dissector.js';
export { registerProgTypeHelpers, vmForType } from './register.js';
export { prepareProgram, timedRuns, hasLdAbs, type Engine, type PreparedProgram } from './run.js';

const ALL: readonly ProgTypeOps[] = [
  SOCKET_FILTER_OPS, KPROBE_OPS, SCHED_CLS_OPS, SCHED_ACT_OPS, TRACEPOINT_OPS, XDP_OPS, PERF_EVENT_OPS, CGROUP_SKB_OPS,
  SK_SKB_OPS, RAW_TRACEPOINT_OPS, SYSCALL_OPS, FLOW_DISSECTOR_OPS,
];
const BY_TYPE = new Map<number, ProgTypeOps>(ALL.map((o) => [o.type, o]));

/** The ops of BPF_PROG_TYPE_* `type`, if bpfkit has them. */
export function progTypeOps(type: number): ProgTypeOps | undefined {
  return BY_TYPE.get(type);
}

/** BPF_PROG_TEST_RUN for a program of `input.type`; ENOTSUPP (as the kernel) when the type has none. */
export async function testRun(input: TestRunInput): Promise<TestRunResult> {
  const ops = BY_TYPE.get(input.type);
  if (!ops?.testRun) {
    throw new BpfError('ENOTSUPP', `program type ${ops?.name ?? input.type} has no test run`);
  }
  return ops.testRun(input);
}


/**
 * The shape src/verifier/prog_ops.ts's ProgTypeOps has (struct bpf_verifier_ops as the verifier
 * consults it), built from this layer's ops, so the verifier can take the refined rules:
 * `isValidAccess(off, size, 'read' | 'write')` -> false or the loaded register's type.
 */
export interface VerifierProgTypeOps {
  isValidAccess(off: number, size: number, type: 'read' | 'write'): { regType?: 'pkt' | 'pkt_end' | 'pkt_meta' | 'flow_keys' | 'sock_common'; maybeNull?: boolean } | false;
  helperAllowed(id: number): boolean;
  returnRange?: { min: number; max: number };
  ldAbs: boolean;
  pktWrite: boolean;
}

export function verifierOps(type: number, expectedAttachType = 0): VerifierProgTypeOps | undefined {
  const ops = BY_TYPE.get(type);
  if (!ops) return undefined;
  return {
    isValidAccess(off, size, t) {
      const a = ops.isValidAccess(off, size, t === 'write', expectedAttachType);
      if (!a.ok) return false;
      switch (a.kind) {
        case 'pkt': case 'pkt_end': case 'pkt_meta': case 'flow_keys': return { regType: a.kind };
        case 'sock': return { regType: 'sock_common', maybeNull: true };
        default: return {};
      }
    },
    helperAllowed: (id) => ops.helperAllowed(id),
    returnRange: ops.retRange ? { min: ops.retRange[0], max: ops.retRange[1] } : undefined,
    // may_access_skb(): socket filters, tc and cgroup skb programs may use LD_ABS/LD_IND
    ldAbs: type === 1 || type === 3 || type === 4 || type === 8,
    pktWrite: type === 3 || type === 4 || type === 6 || type === 14,
  };
}

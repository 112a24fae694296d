/*
 * The kernel function behind a helper call, per program type: the `func` of the bpf_func_proto
 * that the type's get_func_proto() returns (net/core/filter.c, kernel/trace/bpf_trace.c,
 * kernel/bpf/helpers.c of Linux 6.18). do_misc_fixups() turns `call id` into a call of that
 * function, and bpftool prints the function's name. Most are `bpf_<helper>`; these differ.
 */
import { helperFuncName } from '../isa/disasm_xlated.js';

const BPF_PROG_TYPE_SK_SKB = 14;
const BPF_PROG_TYPE_XDP = 6;
const SKB_TC = new Set([3, 4, 10, 11, 12]); // sched_cls, sched_act, lwt_in/out/xmit

/** helper id -> function, for every program type. */
const COMMON: Record<number, string> = {
  4: 'bpf_probe_read_compat', // probe_read
  7: 'bpf_user_rnd_u32', // get_prandom_u32
  8: 'bpf_get_raw_cpu_id', // get_smp_processor_id (when not inlined)
  45: 'bpf_probe_read_compat_str', // probe_read_str
};

/** helper id -> function, for XDP programs. */
const XDP: Record<number, string> = {
  23: 'bpf_xdp_redirect', 51: 'bpf_xdp_redirect_map', 25: 'bpf_xdp_event_output', 69: 'bpf_xdp_fib_lookup', 163: 'bpf_xdp_check_mtu',
  84: 'bpf_xdp_sk_lookup_tcp', 85: 'bpf_xdp_sk_lookup_udp', 99: 'bpf_xdp_skc_lookup_tcp',
};

/** helper id -> function, for sk_buff programs of tc and lwt. */
const TC: Record<number, string> = {
  25: 'bpf_skb_event_output', 69: 'bpf_skb_fib_lookup', 163: 'bpf_skb_check_mtu',
  84: 'bpf_tc_sk_lookup_tcp', 85: 'bpf_tc_sk_lookup_udp', 99: 'bpf_tc_skc_lookup_tcp',
};

/** helper id -> function, for sk_skb programs. */
const SK_SKB: Record<number, string> = {
  25: 'bpf_skb_event_output', 39: 'sk_skb_pull_data', 38: 'sk_skb_change_tail', 43: 'sk_skb_change_head',
  50: 'sk_skb_adjust_room',
};

const SKB_TYPES = new Set([1, 3, 4, 8, 10, 11, 12, 14]);
const BPF_PROG_TYPE_FLOW_DISSECTOR = 22;

/** The kernel function `call id` reaches in a program of type progType. */
export function helperSymbol(progType: number, id: number): string | undefined {
  if (progType === BPF_PROG_TYPE_FLOW_DISSECTOR && id === 26) return 'bpf_flow_dissector_load_bytes';
  const perType = progType === BPF_PROG_TYPE_XDP ? XDP : SKB_TC.has(progType) ? TC : progType === BPF_PROG_TYPE_SK_SKB ? SK_SKB : {};
  if (id === 25 && perType[id] === undefined) return SKB_TYPES.has(progType) ? 'bpf_skb_event_output' : 'bpf_perf_event_output';
  return perType[id] ?? COMMON[id] ?? helperFuncName(id);
}

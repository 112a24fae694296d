/*
 * Which helpers each program type may call: the kernel's *_func_proto() switch statements
 * (net/core/filter.c, kernel/trace/bpf_trace.c, kernel/bpf/syscall.c, Linux 6.18), as sets of
 * helper names without the bpf_ prefix. A helper is allowed when its func_proto returns non-NULL
 * for a privileged (CAP_BPF + CAP_PERFMON) loader.
 */
import { helperFuncName } from '../isa/disasm_xlated.js';

/** bpf_base_func_proto() with CAP_BPF and CAP_PERFMON. */
const BASE = [
  'map_lookup_elem', 'map_update_elem', 'map_delete_elem', 'map_push_elem', 'map_pop_elem', 'map_peek_elem',
  'map_lookup_percpu_elem', 'get_prandom_u32', 'get_smp_processor_id', 'get_numa_node_id', 'tail_call',
  'ktime_get_ns', 'ktime_get_boot_ns', 'ktime_get_coarse_ns', 'ktime_get_tai_ns', 'ringbuf_output',
  'ringbuf_reserve', 'ringbuf_submit', 'ringbuf_discard', 'ringbuf_query', 'ringbuf_reserve_dynptr',
  'ringbuf_submit_dynptr', 'ringbuf_discard_dynptr', 'for_each_map_elem', 'loop', 'strncmp', 'strtol', 'strtoul',
  'spin_lock', 'spin_unlock', 'jiffies64', 'per_cpu_ptr', 'this_cpu_ptr', 'timer_init', 'timer_set_callback',
  'timer_start', 'timer_cancel', 'kptr_xchg', 'dynptr_from_mem', 'dynptr_read', 'dynptr_write', 'dynptr_data',
  'user_ringbuf_drain', 'cgrp_storage_get', 'cgrp_storage_delete', 'trace_printk', 'trace_vprintk', 'snprintf',
  'snprintf_btf', 'get_current_task', 'get_current_task_btf', 'task_pt_regs', 'probe_read_kernel',
  'probe_read_kernel_str', 'probe_read_user', 'probe_read_user_str', 'copy_from_user', 'copy_from_user_task',
  'get_current_pid_tgid', 'get_current_uid_gid', 'get_current_comm', 'get_current_cgroup_id',
  'get_current_ancestor_cgroup_id', 'get_ns_current_pid_tgid', 'task_storage_get', 'task_storage_delete',
];

/** bpf_tracing_func_proto(): kprobes, tracepoints, perf events, raw tracepoints. */
const TRACING = [
  ...BASE, 'probe_read', 'probe_read_str', 'probe_write_user', 'perf_event_read', 'current_task_under_cgroup',
  'send_signal', 'send_signal_thread', 'perf_event_read_value', 'get_task_stack', 'd_path', 'find_vma',
  'get_branch_snapshot', 'get_func_ip',
];

/** sk_filter_func_proto(). */
const SOCKET_FILTER = [...BASE, 'skb_load_bytes', 'skb_load_bytes_relative', 'get_socket_cookie', 'get_socket_uid', 'perf_event_output'];

/** cg_skb_func_proto(). */
const CGROUP_SKB = [
  ...SOCKET_FILTER, 'get_local_storage', 'sk_fullsock', 'sk_storage_get', 'sk_storage_delete', 'skb_cgroup_id',
  'skb_ancestor_cgroup_id', 'sk_cgroup_id', 'sk_ancestor_cgroup_id', 'tcp_sock', 'get_listener_sock', 'skb_ecn_set_ce',
];

/** tc_cls_act_func_proto(). */
const TC = [
  ...BASE, 'skb_store_bytes', 'skb_load_bytes', 'skb_load_bytes_relative', 'skb_pull_data', 'csum_diff', 'csum_update',
  'csum_level', 'l3_csum_replace', 'l4_csum_replace', 'clone_redirect', 'get_cgroup_classid', 'skb_vlan_push',
  'skb_vlan_pop', 'skb_change_proto', 'skb_change_type', 'skb_adjust_room', 'skb_change_tail', 'skb_change_head',
  'skb_get_tunnel_key', 'skb_set_tunnel_key', 'skb_get_tunnel_opt', 'skb_set_tunnel_opt', 'redirect',
  'redirect_neigh', 'redirect_peer', 'get_route_realm', 'get_hash_recalc', 'set_hash_invalid', 'set_hash',
  'perf_event_output', 'skb_under_cgroup', 'get_socket_cookie', 'get_socket_uid', 'fib_lookup', 'sk_fullsock',
  'sk_storage_get', 'sk_storage_delete', 'skb_get_xfrm_state', 'skb_cgroup_classid', 'skb_cgroup_id',
  'skb_ancestor_cgroup_id', 'sk_lookup_tcp', 'sk_lookup_udp', 'sk_release', 'tcp_sock', 'get_listener_sock',
  'skc_lookup_tcp', 'tcp_check_syncookie', 'skb_ecn_set_ce', 'tcp_gen_syncookie', 'sk_assign', 'skb_set_tstamp',
  'check_mtu', 'tcp_raw_gen_syncookie_ipv4', 'tcp_raw_gen_syncookie_ipv6', 'tcp_raw_check_syncookie_ipv4',
  'tcp_raw_check_syncookie_ipv6',
];

/** xdp_func_proto(). */
const XDP = [
  ...BASE, 'perf_event_output', 'csum_diff', 'xdp_adjust_head', 'xdp_adjust_meta', 'redirect', 'redirect_map',
  'xdp_adjust_tail', 'xdp_get_buff_len', 'xdp_load_bytes', 'xdp_store_bytes', 'fib_lookup', 'check_mtu',
  'sk_lookup_udp', 'sk_lookup_tcp', 'sk_release', 'skc_lookup_tcp', 'tcp_check_syncookie', 'tcp_gen_syncookie',
  'tcp_raw_gen_syncookie_ipv4', 'tcp_raw_gen_syncookie_ipv6', 'tcp_raw_check_syncookie_ipv4',
  'tcp_raw_check_syncookie_ipv6',
];

/** sk_skb_func_proto(). */
const SK_SKB = [
  ...BASE, 'skb_store_bytes', 'skb_load_bytes', 'skb_pull_data', 'skb_change_tail', 'skb_change_head',
  'skb_adjust_room', 'get_socket_cookie', 'get_socket_uid', 'sk_redirect_map', 'sk_redirect_hash',
  'perf_event_output', 'sk_lookup_tcp', 'sk_lookup_udp', 'sk_release', 'skc_lookup_tcp',
];

/** flow_dissector_func_proto(): skb_load_bytes (the flow dissector's own), bpf_sk_base_func_proto(). */
const FLOW_DISSECTOR = [
  ...BASE, 'skb_load_bytes', 'skc_to_tcp6_sock', 'skc_to_tcp_sock', 'skc_to_tcp_timewait_sock', 'skc_to_tcp_request_sock',
  'skc_to_udp6_sock', 'skc_to_unix_sock', 'skc_to_mptcp_sock',
];

const KPROBE = [...TRACING, 'perf_event_output', 'get_stackid', 'get_stack', 'override_return', 'get_attach_cookie', 'get_func_ip'];
const TRACEPOINT = [...TRACING, 'perf_event_output', 'get_stackid', 'get_stack', 'get_attach_cookie'];
const RAW_TRACEPOINT = [...TRACING, 'perf_event_output', 'get_stackid', 'get_stack'];
const PERF_EVENT = [...TRACING, 'perf_event_output', 'get_stackid', 'get_stack', 'perf_prog_read_value', 'read_branch_records', 'get_attach_cookie'];
/** syscall_prog_func_proto(). */
const SYSCALL = [...TRACING, 'sys_bpf', 'btf_find_by_name_kind', 'sys_close', 'kallsyms_lookup_name'];

function idSet(names: readonly string[]): ReadonlySet<number> {
  const want = new Set(names.map((n) => `bpf_${n}`));
  const ids = new Set<number>();
  for (let i = 0; i < 512; i++) {
    const n = helperFuncName(i);
    if (n !== undefined && want.has(n)) ids.add(i);
  }
  return ids;
}

/** Helper ids by BPF_PROG_TYPE_*. */
export const HELPER_SETS: ReadonlyMap<number, ReadonlySet<number>> = new Map([
  [1, idSet(SOCKET_FILTER)],
  [2, idSet(KPROBE)],
  [3, idSet(TC)],
  [4, idSet(TC)],
  [5, idSet(TRACEPOINT)],
  [6, idSet(XDP)],
  [7, idSet(PERF_EVENT)],
  [8, idSet(CGROUP_SKB)],
  [14, idSet(SK_SKB)],
  [17, idSet(RAW_TRACEPOINT)],
  [22, idSet(FLOW_DISSECTOR)],
  [31, idSet(SYSCALL)],
]);

export function helperAllowedFor(type: number, id: number): boolean {
  return HELPER_SETS.get(type)?.has(id) ?? false;
}

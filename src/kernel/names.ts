/*
 * Names of map and program types as libbpf prints them (libbpf_bpf_map_type_str(),
 * libbpf_bpf_prog_type_str(), follows libbpf 1.5 / Linux 6.18 uapi), and the SEC() prefixes that
 * give a program its type (a subset of libbpf's section_defs[]).
 */

/** Index = enum bpf_map_type. */
export const MAP_TYPE_NAMES: readonly string[] = [
  'unspec', 'hash', 'array', 'prog_array', 'perf_event_array', 'percpu_hash', 'percpu_array',
  'stack_trace', 'cgroup_array', 'lru_hash', 'lru_percpu_hash', 'lpm_trie', 'array_of_maps',
  'hash_of_maps', 'devmap', 'sockmap', 'cpumap', 'xskmap', 'sockhash', 'cgroup_storage',
  'reuseport_sockarray', 'percpu_cgroup_storage', 'queue', 'stack', 'sk_storage', 'devmap_hash',
  'struct_ops', 'ringbuf', 'inode_storage', 'task_storage', 'bloom_filter', 'user_ringbuf',
  'cgrp_storage', 'arena',
];

/** Index = enum bpf_prog_type. */
export const PROG_TYPE_NAMES: readonly string[] = [
  'unspec', 'socket_filter', 'kprobe', 'sched_cls', 'sched_act', 'tracepoint', 'xdp', 'perf_event',
  'cgroup_skb', 'cgroup_sock', 'lwt_in', 'lwt_out', 'lwt_xmit', 'sock_ops', 'sk_skb', 'cgroup_device',
  'sk_msg', 'raw_tracepoint', 'cgroup_sock_addr', 'lwt_seg6local', 'lirc_mode2', 'sk_reuseport',
  'flow_dissector', 'cgroup_sysctl', 'raw_tracepoint_writable', 'cgroup_sockopt', 'tracing',
  'struct_ops', 'ext', 'lsm', 'sk_lookup', 'syscall', 'netfilter',
];

export const BPF_PROG_TYPE_XDP = 6;

export function mapTypeName(type: number): string | undefined {
  return MAP_TYPE_NAMES[type];
}

export function progTypeName(type: number): string | undefined {
  return PROG_TYPE_NAMES[type];
}

/** Map type by exact name (bpftool refuses prefixes here: "possible future shadowing"). */
export function mapTypeFromName(name: string): number | undefined {
  const i = MAP_TYPE_NAMES.indexOf(name);
  return i > 0 ? i : undefined;
}

/** SEC() prefix -> prog type, first match wins (libbpf: "xdp" matches "xdp" and "xdp/..."). */
const SECTION_TYPES: readonly [string, number][] = [
  ['socket', 1], ['sk_reuseport', 21], ['kprobe', 2], ['uprobe', 2], ['kretprobe', 2], ['uretprobe', 2],
  ['ksyscall', 2], ['tc', 3], ['classifier', 3], ['action', 4], ['tracepoint', 5], ['tp', 5],
  ['raw_tracepoint', 17], ['raw_tp', 17], ['xdp.frags', 6], ['xdp/devmap', 6], ['xdp/cpumap', 6], ['xdp', 6],
  ['perf_event', 7], ['cgroup/skb', 8], ['cgroup_skb', 8], ['cgroup/sock', 9], ['lwt_in', 10],
  ['lwt_out', 11], ['lwt_xmit', 12], ['sockops', 13], ['sk_skb', 14], ['cgroup/dev', 15], ['sk_msg', 16],
  ['flow_dissector', 22], ['cgroup/sysctl', 23], ['fentry', 26], ['fexit', 26], ['struct_ops', 27],
  ['lsm', 29], ['sk_lookup', 30], ['syscall', 31], ['netfilter', 32],
];

export function progTypeFromSection(section: string): number | undefined {
  for (const [prefix, type] of SECTION_TYPES) {
    if (section === prefix || section.startsWith(prefix + '/') || section.startsWith(prefix + '.')) return type;
  }
  return undefined;
}

export function progTypeFromName(name: string): number | undefined {
  const i = PROG_TYPE_NAMES.indexOf(name);
  return i > 0 ? i : undefined;
}

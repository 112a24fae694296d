/*
 * GENERATED TABLE — libbpf's section_defs[] (src/libbpf.c), following libbpf v1.5.0, transcribed
 * row for row: SEC() name, program type, expected attach type, flags. Do not reorder: the first
 * match wins, as find_sec_def() walks it. Checked entry by entry against libbpf/libbpf's
 * src/libbpf.c (the v1.4 tree, commit 00db402f, plus v1.5's kprobe.session+): netkit/* sit after
 * "action" as there, and "sk_skb/verdict" is gone (libbpf has no such SEC(); the attach type
 * BPF_SK_SKB_VERDICT is only reachable with `type`). test/loader_sec_defs.test.ts checks the
 * table against that transcription and its program types against the installed libbpf (bpftool).
 *
 * Matching (sec_def_matches()): "x/" matches names starting with "x/"; "x+" matches "x" exactly or
 * "x/anything"; anything else matches exactly. A leading '?' on a section name means "do not
 * autoload" and is dropped before matching (bpf_object_init_prog()).
 *
 * Beyond libbpf 1.x (issue 9: objects of every era), secDefForSection() falls back to the
 * conventions of libbpf < 1.0 (SEC_SLOPPY_PFX: any name starting with a definition's name, e.g.
 * "xdp/simple", "socket1", "kprobe/sys_write") and of iproute2 ("classifier", "action", and any
 * section under `type`). Such matches say `legacy: true`; bpftool/libbpf 1.x would refuse them.
 */
import { ATTACH_TYPE_NAMES } from '../progtypes/types.js';

// enum bpf_attach_type is one table, in progtypes/ (the verifier's context rules read it too).
export { ATTACH_TYPE_NAMES };

/** enum bpf_prog_type, index = value (libbpf_bpf_prog_type_str()). */
const PROG_TYPES: readonly string[] = [
  'unspec', 'socket_filter', 'kprobe', 'sched_cls', 'sched_act', 'tracepoint', 'xdp', 'perf_event',
  'cgroup_skb', 'cgroup_sock', 'lwt_in', 'lwt_out', 'lwt_xmit', 'sock_ops', 'sk_skb', 'cgroup_device',
  'sk_msg', 'raw_tracepoint', 'cgroup_sock_addr', 'lwt_seg6local', 'lirc_mode2', 'sk_reuseport',
  'flow_dissector', 'cgroup_sysctl', 'raw_tracepoint_writable', 'cgroup_sockopt', 'tracing',
  'struct_ops', 'ext', 'lsm', 'sk_lookup', 'syscall', 'netfilter',
];

export const SEC_NONE = 0;
export const SEC_EXP_ATTACH_OPT = 1;
export const SEC_ATTACHABLE = 2;
export const SEC_ATTACH_BTF = 4;
export const SEC_SLEEPABLE = 8;
export const SEC_XDP_FRAGS = 16;
export const SEC_USDT = 32;
export const SEC_ATTACHABLE_OPT = SEC_ATTACHABLE | SEC_EXP_ATTACH_OPT;

// name  prog_type(BPF_PROG_TYPE_*)  expected_attach_type(BPF_*, '-' = 0)  flags
const TABLE = `
socket SOCKET_FILTER - NONE
sk_reuseport/migrate SK_REUSEPORT SK_REUSEPORT_SELECT_OR_MIGRATE ATTACHABLE
sk_reuseport SK_REUSEPORT SK_REUSEPORT_SELECT ATTACHABLE
kprobe+ KPROBE - NONE
uprobe+ KPROBE - NONE
uprobe.s+ KPROBE - SLEEPABLE
kretprobe+ KPROBE - NONE
uretprobe+ KPROBE - NONE
uretprobe.s+ KPROBE - SLEEPABLE
kprobe.multi+ KPROBE TRACE_KPROBE_MULTI NONE
kretprobe.multi+ KPROBE TRACE_KPROBE_MULTI NONE
kprobe.session+ KPROBE TRACE_KPROBE_SESSION NONE
uprobe.multi+ KPROBE TRACE_UPROBE_MULTI NONE
uretprobe.multi+ KPROBE TRACE_UPROBE_MULTI NONE
uprobe.multi.s+ KPROBE TRACE_UPROBE_MULTI SLEEPABLE
uretprobe.multi.s+ KPROBE TRACE_UPROBE_MULTI SLEEPABLE
ksyscall+ KPROBE - NONE
kretsyscall+ KPROBE - NONE
usdt+ KPROBE - USDT
usdt.s+ KPROBE - USDT|SLEEPABLE
tc/ingress SCHED_CLS TCX_INGRESS NONE
tc/egress SCHED_CLS TCX_EGRESS NONE
tcx/ingress SCHED_CLS TCX_INGRESS NONE
tcx/egress SCHED_CLS TCX_EGRESS NONE
tc SCHED_CLS - NONE
classifier SCHED_CLS - NONE
action SCHED_ACT - NONE
netkit/primary SCHED_CLS NETKIT_PRIMARY NONE
netkit/peer SCHED_CLS NETKIT_PEER NONE
tracepoint+ TRACEPOINT - NONE
tp+ TRACEPOINT - NONE
raw_tracepoint+ RAW_TRACEPOINT - NONE
raw_tp+ RAW_TRACEPOINT - NONE
raw_tracepoint.w+ RAW_TRACEPOINT_WRITABLE - NONE
raw_tp.w+ RAW_TRACEPOINT_WRITABLE - NONE
tp_btf+ TRACING TRACE_RAW_TP ATTACH_BTF
fentry+ TRACING TRACE_FENTRY ATTACH_BTF
fmod_ret+ TRACING MODIFY_RETURN ATTACH_BTF
fexit+ TRACING TRACE_FEXIT ATTACH_BTF
fentry.s+ TRACING TRACE_FENTRY ATTACH_BTF|SLEEPABLE
fmod_ret.s+ TRACING MODIFY_RETURN ATTACH_BTF|SLEEPABLE
fexit.s+ TRACING TRACE_FEXIT ATTACH_BTF|SLEEPABLE
freplace+ EXT - ATTACH_BTF
lsm+ LSM LSM_MAC ATTACH_BTF
lsm.s+ LSM LSM_MAC ATTACH_BTF|SLEEPABLE
lsm_cgroup+ LSM LSM_CGROUP ATTACH_BTF
iter+ TRACING TRACE_ITER ATTACH_BTF
iter.s+ TRACING TRACE_ITER ATTACH_BTF|SLEEPABLE
syscall SYSCALL - SLEEPABLE
xdp.frags/devmap XDP XDP_DEVMAP XDP_FRAGS
xdp/devmap XDP XDP_DEVMAP ATTACHABLE
xdp.frags/cpumap XDP XDP_CPUMAP XDP_FRAGS
xdp/cpumap XDP XDP_CPUMAP ATTACHABLE
xdp.frags XDP XDP XDP_FRAGS
xdp XDP XDP ATTACHABLE_OPT
perf_event PERF_EVENT - NONE
lwt_in LWT_IN - NONE
lwt_out LWT_OUT - NONE
lwt_xmit LWT_XMIT - NONE
lwt_seg6local LWT_SEG6LOCAL - NONE
sockops SOCK_OPS CGROUP_SOCK_OPS ATTACHABLE_OPT
sk_skb/stream_parser SK_SKB SK_SKB_STREAM_PARSER ATTACHABLE_OPT
sk_skb/stream_verdict SK_SKB SK_SKB_STREAM_VERDICT ATTACHABLE_OPT
sk_skb SK_SKB - NONE
sk_msg SK_MSG SK_MSG_VERDICT ATTACHABLE_OPT
lirc_mode2 LIRC_MODE2 LIRC_MODE2 ATTACHABLE_OPT
flow_dissector FLOW_DISSECTOR FLOW_DISSECTOR ATTACHABLE_OPT
cgroup_skb/ingress CGROUP_SKB CGROUP_INET_INGRESS ATTACHABLE_OPT
cgroup_skb/egress CGROUP_SKB CGROUP_INET_EGRESS ATTACHABLE_OPT
cgroup/skb CGROUP_SKB - NONE
cgroup/sock_create CGROUP_SOCK CGROUP_INET_SOCK_CREATE ATTACHABLE
cgroup/sock_release CGROUP_SOCK CGROUP_INET_SOCK_RELEASE ATTACHABLE
cgroup/sock CGROUP_SOCK CGROUP_INET_SOCK_CREATE ATTACHABLE_OPT
cgroup/post_bind4 CGROUP_SOCK CGROUP_INET4_POST_BIND ATTACHABLE
cgroup/post_bind6 CGROUP_SOCK CGROUP_INET6_POST_BIND ATTACHABLE
cgroup/bind4 CGROUP_SOCK_ADDR CGROUP_INET4_BIND ATTACHABLE
cgroup/bind6 CGROUP_SOCK_ADDR CGROUP_INET6_BIND ATTACHABLE
cgroup/connect4 CGROUP_SOCK_ADDR CGROUP_INET4_CONNECT ATTACHABLE
cgroup/connect6 CGROUP_SOCK_ADDR CGROUP_INET6_CONNECT ATTACHABLE
cgroup/connect_unix CGROUP_SOCK_ADDR CGROUP_UNIX_CONNECT ATTACHABLE
cgroup/sendmsg4 CGROUP_SOCK_ADDR CGROUP_UDP4_SENDMSG ATTACHABLE
cgroup/sendmsg6 CGROUP_SOCK_ADDR CGROUP_UDP6_SENDMSG ATTACHABLE
cgroup/sendmsg_unix CGROUP_SOCK_ADDR CGROUP_UNIX_SENDMSG ATTACHABLE
cgroup/recvmsg4 CGROUP_SOCK_ADDR CGROUP_UDP4_RECVMSG ATTACHABLE
cgroup/recvmsg6 CGROUP_SOCK_ADDR CGROUP_UDP6_RECVMSG ATTACHABLE
cgroup/recvmsg_unix CGROUP_SOCK_ADDR CGROUP_UNIX_RECVMSG ATTACHABLE
cgroup/getpeername4 CGROUP_SOCK_ADDR CGROUP_INET4_GETPEERNAME ATTACHABLE
cgroup/getpeername6 CGROUP_SOCK_ADDR CGROUP_INET6_GETPEERNAME ATTACHABLE
cgroup/getpeername_unix CGROUP_SOCK_ADDR CGROUP_UNIX_GETPEERNAME ATTACHABLE
cgroup/getsockname4 CGROUP_SOCK_ADDR CGROUP_INET4_GETSOCKNAME ATTACHABLE
cgroup/getsockname6 CGROUP_SOCK_ADDR CGROUP_INET6_GETSOCKNAME ATTACHABLE
cgroup/getsockname_unix CGROUP_SOCK_ADDR CGROUP_UNIX_GETSOCKNAME ATTACHABLE
cgroup/sysctl CGROUP_SYSCTL CGROUP_SYSCTL ATTACHABLE
cgroup/getsockopt CGROUP_SOCKOPT CGROUP_GETSOCKOPT ATTACHABLE
cgroup/setsockopt CGROUP_SOCKOPT CGROUP_SETSOCKOPT ATTACHABLE
cgroup/dev CGROUP_DEVICE CGROUP_DEVICE ATTACHABLE_OPT
struct_ops+ STRUCT_OPS - NONE
struct_ops.s+ STRUCT_OPS - SLEEPABLE
sk_lookup SK_LOOKUP SK_LOOKUP ATTACHABLE
netfilter NETFILTER NETFILTER NONE
`;

export interface SecDef {
  /** The definition's name as in libbpf ("kprobe+", "xdp", "tc/ingress"). */
  sec: string;
  progType: number;
  expectedAttachType: number;
  /** SEC_* flags. */
  flags: number;
}

const FLAG_BITS: Record<string, number> = {
  NONE: SEC_NONE, ATTACHABLE: SEC_ATTACHABLE, ATTACHABLE_OPT: SEC_ATTACHABLE_OPT, ATTACH_BTF: SEC_ATTACH_BTF,
  SLEEPABLE: SEC_SLEEPABLE, XDP_FRAGS: SEC_XDP_FRAGS, USDT: SEC_USDT,
};

function upper(names: readonly string[]): Map<string, number> {
  return new Map(names.map((n, i) => [n.toUpperCase(), i]));
}

export const SECTION_DEFS: readonly SecDef[] = ((): SecDef[] => {
  const progs = upper(PROG_TYPES);
  const attach = upper(ATTACH_TYPE_NAMES);
  return TABLE.trim().split('\n').map((line) => {
    const [sec, prog, att, flags] = line.split(' ');
    const progType = progs.get(prog);
    const expectedAttachType = att === '-' ? 0 : attach.get(att);
    if (progType === undefined || expectedAttachType === undefined) throw new Error(`sec_defs: bad row '${line}'`);
    const f = flags.split('|').reduce((acc, n) => acc | (FLAG_BITS[n] ?? 0), 0);
    return { sec, progType, expectedAttachType, flags: f };
  });
})();

/** sec_def_matches(). */
export function secDefMatches(def: SecDef, secName: string): boolean {
  const s = def.sec;
  if (s.endsWith('/')) return secName.startsWith(s);
  if (s.endsWith('+')) {
    const base = s.slice(0, -1);
    if (!secName.startsWith(base)) return false;
    return secName.length === base.length || secName[base.length] === '/';
  }
  return secName === s;
}

export interface SecMatch {
  def: SecDef;
  progType: number;
  expectedAttachType: number;
  /** Matched only by the conventions of libbpf < 1.0 / samples/bpf / iproute2. */
  legacy: boolean;
}

/** Legacy prefixes libbpf 1.x no longer knows (libbpf 0.x names, samples/bpf's loader). */
const LEGACY_DEFS: readonly SecDef[] = [
  { sec: 'xdp_devmap/', progType: 6, expectedAttachType: 33, flags: SEC_ATTACHABLE },
  { sec: 'xdp_cpumap/', progType: 6, expectedAttachType: 35, flags: SEC_ATTACHABLE },
  { sec: 'raw_tracepoint_writable/', progType: 24, expectedAttachType: 0, flags: SEC_NONE },
  { sec: 'sk_reuseport', progType: 21, expectedAttachType: 0, flags: SEC_NONE },
];

/**
 * find_sec_def() for a section name (without the '?' autoload prefix), then the legacy rules:
 * a prefix match of any definition name (libbpf 0.x SEC_SLOPPY_PFX, samples/bpf's "kprobe/",
 * "socket1", "xdp/simple"...), first row wins.
 */
export function secDefForSection(secName: string): SecMatch | undefined {
  for (const def of SECTION_DEFS) {
    if (secDefMatches(def, secName)) return { def, progType: def.progType, expectedAttachType: def.expectedAttachType, legacy: false };
  }
  for (const def of [...LEGACY_DEFS, ...SECTION_DEFS]) {
    const base = def.sec.replace(/[+/]$/, '');
    if (base && secName.startsWith(base)) return { def, progType: def.progType, expectedAttachType: def.expectedAttachType, legacy: true };
  }
  return undefined;
}

/** The names libbpf lists in "supported section(type) names are: ..." (its table order). */
export function supportedSectionNames(): string {
  return SECTION_DEFS.map((d) => d.sec).join(' ');
}

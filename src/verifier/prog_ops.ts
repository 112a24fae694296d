/*
 * Per-program-type hooks the verifier consults (struct bpf_verifier_ops): which context accesses
 * are valid and what register type a load yields, which helpers are allowed, what R0 must hold at
 * exit. These defaults follow net/core/filter.c and kernel/trace/bpf_trace.c closely enough for
 * the common types; the progtypes layer may supply refined ones.
 */
import { BPF_XDP_DEVMAP, attachTypeId } from '../progtypes/types.js';
import type { RegType } from './reg_state.js';

export type AccessType = 'read' | 'write';

export interface CtxAccess {
  /** The loaded register's type (default scalar). */
  regType?: RegType;
  maybeNull?: boolean;
}

export interface ProgTypeOps {
  /** is_valid_access(): false = "invalid bpf_context access". */
  isValidAccess(off: number, size: number, type: AccessType): CtxAccess | false;
  /** get_func_proto() != NULL */
  helperAllowed(id: number): boolean;
  /** Return value range R0 must be in at exit (check_return_code), or undefined = any. */
  returnRange?: { min: number; max: number };
  /** LD_ABS/LD_IND allowed (may_access_skb). */
  ldAbs: boolean;
  /** Packet data can be written directly (may_access_direct_pkt_data for writes). */
  pktWrite: boolean;
}

export const BPF_PROG_TYPE = {
  SOCKET_FILTER: 1, KPROBE: 2, SCHED_CLS: 3, SCHED_ACT: 4, TRACEPOINT: 5, XDP: 6, PERF_EVENT: 7,
  CGROUP_SKB: 8, CGROUP_SOCK: 9, LWT_IN: 10, LWT_OUT: 11, LWT_XMIT: 12, SOCK_OPS: 13, SK_SKB: 14,
  CGROUP_DEVICE: 15, SK_MSG: 16, RAW_TRACEPOINT: 17, CGROUP_SOCK_ADDR: 18, LWT_SEG6LOCAL: 19,
  LIRC_MODE2: 20, SK_REUSEPORT: 21, FLOW_DISSECTOR: 22, CGROUP_SYSCTL: 23, RAW_TRACEPOINT_WRITABLE: 24,
  CGROUP_SOCKOPT: 25, TRACING: 26, STRUCT_OPS: 27, EXT: 28, LSM: 29, SK_LOOKUP: 30, SYSCALL: 31,
} as const;

// struct __sk_buff field offsets
const SKB = { len: 0, mark: 8, queue_mapping: 12, priority: 32, tc_index: 44, cb0: 48, cbEnd: 68, hash: 68, tc_classid: 72, data: 76, data_end: 80, napi_id: 84, family: 88, remote_ip4: 92, local_ip4: 96, remote_ip6: 100, local_ip6: 116, remote_port: 132, local_port: 136, data_meta: 140, flow_keys: 144, tstamp: 152, wire_len: 160, gso_segs: 164, sk: 168, gso_size: 176, tstamp_type: 180, hwtstamp: 184, size: 192 };

/** bpf_ctx_narrow_access_ok() for a u32 field */
const narrowOk = (off: number, size: number, def: number): boolean => size <= def && (off & (size - 1)) === 0;

/** bpf_skb_is_valid_access() with the per-type rules of sk_filter/tc_cls_act/cg_skb/lwt/sk_skb */
function skbAccess(kind: 'filter' | 'tc' | 'cg' | 'lwt' | 'skskb'): ProgTypeOps['isValidAccess'] {
  return (off, size, type) => {
    if (off < 0 || off >= SKB.size || off % size !== 0) return false;
    const inCb = off >= SKB.cb0 && off < SKB.cbEnd;
    const field = (o: number, w = 4): boolean => off >= o && off < o + w;
    // per-type restrictions
    if (type === 'write') {
      const w: boolean =
        // sk_skb_is_valid_access(): only tc_index and priority are writable, not even cb[]
        (inCb && kind !== 'skskb') || (kind !== 'filter' && kind !== 'skskb' && (field(SKB.mark) || field(SKB.priority))) ||
        (kind === 'tc' && (field(SKB.tc_index) || field(SKB.tc_classid) || field(SKB.queue_mapping) || field(SKB.tstamp, 8))) ||
        (kind === 'skskb' && (field(SKB.priority) || field(SKB.tc_index))) ||
        (kind === 'cg' && field(SKB.tstamp, 8));
      if (!w) return false;
    }
    const pktTypes = kind === 'tc' || kind === 'cg' || kind === 'lwt' || kind === 'skskb';
    if (field(SKB.data) || field(SKB.data_end) || field(SKB.data_meta)) {
      if (!pktTypes || size !== 4) return false;
      if (field(SKB.data_meta) && kind !== 'tc') return false;
      if (type === 'write') return false;
      return { regType: field(SKB.data) ? 'pkt' : field(SKB.data_end) ? 'pkt_end' : 'pkt_meta' };
    }
    if (field(SKB.tc_classid) && kind !== 'tc') return false;
    const sockFields = off >= SKB.family && off < SKB.local_port + 4;
    if (sockFields && kind !== 'cg' && kind !== 'skskb') return false;
    // bpf_skb_is_valid_access(): the addresses are read whole
    if (off >= SKB.remote_ip4 && off < SKB.remote_port && size !== 4) return false;
    if (field(SKB.wire_len) && kind !== 'tc') return false;
    if (field(SKB.mark) && kind === 'skskb') return false;
    if ((field(SKB.tstamp, 8) || field(SKB.hwtstamp, 8)) && (kind === 'filter' || kind === 'lwt' || kind === 'skskb')) return false;
    if (field(SKB.flow_keys, 8)) return false;
    if (field(SKB.tstamp, 8)) return size === 8 ? {} : false;
    if (field(SKB.sk, 8)) return type === 'write' || size !== 8 ? false : { regType: 'sock_common', maybeNull: true };
    // tc_cls_act_is_valid_access(): tstamp_type reads as one byte; the rest up to hwtstamp is padding
    if (off === SKB.tstamp_type && kind === 'tc' && type === 'read' && size === 1) return {};
    if (off >= SKB.tstamp_type && off < SKB.hwtstamp) return false;
    if (field(SKB.hwtstamp, 8)) return size === 8 && type === 'read' ? {} : false;
    if (inCb) return off + size <= SKB.cbEnd ? {} : false;
    if (type === 'write') return size === 4 ? {} : false;
    return narrowOk(off, size, 4) ? {} : false;
  };
}

/** xdp_is_valid_access(): egress_ifindex (20) only for BPF_XDP_DEVMAP programs */
const xdpAccess = (expectedAttachType: number): ProgTypeOps['isValidAccess'] => (off, size, type) => {
  if (type === 'write') return false;
  if (off < 0 || off >= 24 || off % size !== 0 || size !== 4) return false;
  if (off === 20 && expectedAttachType !== BPF_XDP_DEVMAP) return false;
  if (off === 0) return { regType: 'pkt' };
  if (off === 4) return { regType: 'pkt_end' };
  if (off === 8) return { regType: 'pkt_meta' };
  return {};
};

/**
 * sk_msg_is_valid_access() over struct sk_msg_md (data 0, data_end 8, family..size 16..72, sk 72):
 * pointers are 8-byte loads, every u32 field exactly 4 bytes (no narrow loads).
 */
const skMsgAccess: ProgTypeOps['isValidAccess'] = (off, size, type) => {
  if (type === 'write' || off < 0 || off % size !== 0) return false;
  if (off === 0) return size === 8 ? { regType: 'pkt' } : false;
  if (off === 8) return size === 8 ? { regType: 'pkt_end' } : false;
  if (off === 72) return size === 8 ? { regType: 'sock', maybeNull: false } : false;
  if (off >= 16 && off < 72) return size === 4 ? {} : false;
  return false;
};

/** sk_lookup_is_valid_access() (struct bpf_sk_lookup, 72 bytes; the last field, ingress_ifindex, at 64) */
const skLookupAccess: ProgTypeOps['isValidAccess'] = (off, size, type) => {
  if (type === 'write' || off < 0 || off >= 68 || off % size !== 0) return false;
  if (off < 8) return off === 0 && size === 8 ? { regType: 'sock', maybeNull: true } : false;
  if (off === 36 && size <= 4) return {};
  return size <= 4 ? {} : false;
};

// enum bpf_attach_type values sock_addr_is_valid_access() tells address families apart by
const INET4_ATTACH = new Set(['bind', 'connect', 'getpeername', 'getsockname'].map((a) => attachTypeId(`cgroup_inet4_${a}`))
  .concat(['sendmsg', 'recvmsg'].map((a) => attachTypeId(`cgroup_udp4_${a}`))));
const INET6_ATTACH = new Set(['bind', 'connect', 'getpeername', 'getsockname'].map((a) => attachTypeId(`cgroup_inet6_${a}`))
  .concat(['sendmsg', 'recvmsg'].map((a) => attachTypeId(`cgroup_udp6_${a}`))));
const UDP4_SENDMSG = attachTypeId('cgroup_udp4_sendmsg'), UDP6_SENDMSG = attachTypeId('cgroup_udp6_sendmsg');
/** bpf_ctx_wide_access_ok(): an aligned 8-byte access inside a u32 array field [start, end) */
const wideOk = (off: number, size: number, start: number, end: number): boolean => size === 8 && off >= start && off + 8 <= end && off % 8 === 0;

/**
 * sock_addr_is_valid_access() (struct bpf_sock_addr, 72 bytes: user_family 0, user_ip4 4,
 * user_ip6 8..24, user_port 24, family 28, type 32, protocol 36, msg_src_ip4 40, msg_src_ip6
 * 44..60, sk 64): address fields only for the attach type's family; those and user_port read
 * narrow or, in the ip6 arrays, 8 bytes wide, and are written whole or 8 bytes wide.
 */
const sockAddrAccess = (expectedAttachType: number): ProgTypeOps['isValidAccess'] => (off, size, type) => {
  if (off < 0 || off >= 72 || off % size !== 0) return false;
  const userIp4 = off >= 4 && off < 8, userIp6 = off >= 8 && off < 24;
  const msgIp4 = off >= 40 && off < 44, msgIp6 = off >= 44 && off < 60;
  if (userIp4 && !INET4_ATTACH.has(expectedAttachType)) return false;
  if (userIp6 && !INET6_ATTACH.has(expectedAttachType)) return false;
  if (msgIp4 && expectedAttachType !== UDP4_SENDMSG) return false;
  if (msgIp6 && expectedAttachType !== UDP6_SENDMSG) return false;
  if (userIp4 || userIp6 || msgIp4 || msgIp6 || (off >= 24 && off < 28)) {
    if (wideOk(off, size, 8, 24) || wideOk(off, size, 44, 60)) return {};
    return (type === 'read' ? size <= 4 : size === 4) ? {} : false;
  }
  if (off === 64) return size === 8 && type === 'read' ? { regType: 'sock' } : false;
  if (off < 4 || (off >= 28 && off < 40)) return size === 4 && type === 'read' ? {} : false;
  return false;
};

/** struct bpf_tcp_sock (112 bytes): its two u64 counters, the rest u32 */
const TCP_SOCK_SIZE = 112, TCP_SOCK_U64 = [80, 88];

/**
 * A load bpf_tcp_sock_is_valid_access() lets through but bpf_tcp_sock_convert_ctx_access() has no
 * field for (the upper half of a u64 counter): convert_ctx_accesses() then fails the load.
 */
export const tcpSockConversionMissing = (off: number): boolean => TCP_SOCK_U64.includes(off - 4);

/**
 * bpf_sock_is_valid_access() / bpf_sock_common_is_valid_access() / bpf_tcp_sock_is_valid_access() /
 * bpf_xdp_sock_is_valid_access() (net/core/filter.c), by the verifier's pointer type
 */
export function sockAccessOk(type: string, off: number, size: number): boolean {
  if (off < 0 || off % size !== 0) return false;
  if (type === 'tcp_sock') return off < TCP_SOCK_SIZE && size === (TCP_SOCK_U64.includes(off) ? 8 : 4);
  if (type === 'xdp_sock') return off === 0 && size === 4; // struct bpf_xdp_sock { __u32 queue_id; }
  if (off >= 80) return false;
  if (type === 'sock_common' && off >= 8 && off < 24) return false;
  const narrow = (def: number): boolean => size <= def && (off & (size - 1)) === 0;
  if (off >= 48 && off < 50) return size === 4 ? off === 48 : narrow(2);
  if (off >= 50 && off < 52) return false;
  if (off === 72 || off === 4 || off === 8 || off === 12 || off === 44 || off === 76 || (off >= 24 && off < 44) || (off >= 52 && off < 72)) return narrow(4);
  return size === 4;
}

/** Read-only, aligned, within `limit` bytes (kprobe pt_regs, tracepoint, perf_event...). */
const readOnly = (limit: number, sizes?: number[]): ProgTypeOps['isValidAccess'] => (off, size, type) => {
  if (type === 'write' || off < 0 || off + size > limit || off % size !== 0) return false;
  if (sizes && !sizes.includes(size)) return false;
  return {};
};

/** raw_tp_writable_prog_is_valid_access(): the first u64 is the tracepoint's writable buffer */
const rawTpWritableAccess: ProgTypeOps['isValidAccess'] = (off, size, type) => {
  if (off === 0) return size === 8 && type === 'read' ? { regType: 'tp_buffer' } : false;
  return readOnly(96)(off, size, type);
};

/** tp_prog_is_valid_access(): the record after its common 8-byte header, read only */
const tracepointAccess: ProgTypeOps['isValidAccess'] = (off, size, type) => (off < 8 ? false : readOnly(2048)(off, size, type));

/**
 * pe_prog_is_valid_access() over struct bpf_perf_event_data (pt_regs 0..168, sample_period 168,
 * addr 176): the registers are whole longs, the two u64 fields may be read narrow.
 */
const perfEventAccess: ProgTypeOps['isValidAccess'] = (off, size, type) => {
  if (type === 'write' || off < 0 || off >= 184 || off % size !== 0) return false;
  if (off >= 168) return narrowOk(off, size, 8) ? {} : false;
  return size === 8 ? {} : false;
};

/** cgroup_dev_is_valid_access() (struct bpf_cgroup_dev_ctx: access_type, major, minor): read only, access_type narrow */
const cgroupDevAccess: ProgTypeOps['isValidAccess'] = (off, size, type) => {
  if (type === 'write' || off < 0 || off + size > 12 || off % size !== 0) return false;
  return (off < 4 ? narrowOk(off, size, 4) : size === 4) ? {} : false;
};

/** sysctl_is_valid_access() (struct bpf_sysctl: write, file_pos): write is read only, file_pos written whole */
const sysctlAccess: ProgTypeOps['isValidAccess'] = (off, size, type) => {
  if (off < 0 || off + size > 8 || off % size !== 0) return false;
  if (type === 'write') return off === 4 && size === 4 ? {} : false;
  return narrowOk(off, size, 4) ? {} : false;
};

// enum bpf_attach_type values __sock_filter_check_attach_type() looks at
const SOCK_CREATE = attachTypeId('cgroup_inet_sock_create'), SOCK_RELEASE = attachTypeId('cgroup_inet_sock_release');
const INET4_POST_BIND = attachTypeId('cgroup_inet4_post_bind'), INET6_POST_BIND = attachTypeId('cgroup_inet6_post_bind');

/**
 * sock_filter_is_valid_access() (struct bpf_sock for cgroup/sock programs): bpf_sock_is_valid_access(),
 * then __sock_filter_check_attach_type(): bound_dev_if, mark and priority only at socket creation
 * or release (and writable there), the source address and port only after bind, read only.
 */
const cgroupSockAccess = (expectedAttachType: number): ProgTypeOps['isValidAccess'] => (off, size, type) => {
  // bpf_prog_load_fixup_attach_type(): 0 (no attach type given) means socket creation
  const attach = expectedAttachType || SOCK_CREATE;
  if (!sockAccessOk('sock', off, size)) return false;
  if (off === 0 || off === 16 || off === 20) return attach === SOCK_CREATE || attach === SOCK_RELEASE ? {} : false;
  if (off >= 24 && off < 28 && attach !== INET4_POST_BIND) return false;
  if (off >= 28 && off < 44 && attach !== INET6_POST_BIND) return false;
  if (off >= 44 && off < 48 && attach !== INET4_POST_BIND && attach !== INET6_POST_BIND) return false;
  return type === 'read' ? {} : false;
};

/**
 * flow_dissector_is_valid_access(): data and data_end (4 bytes), flow_keys (8), nothing else, read
 * only, aligned.
 */
const flowDissectorAccess: ProgTypeOps['isValidAccess'] = (off, size, type) => {
  if (type === 'write' || off < 0 || off >= SKB.size || off % size !== 0) return false;
  if (off >= SKB.data && off < SKB.data + 4) return size === 4 ? { regType: 'pkt' } : false;
  if (off >= SKB.data_end && off < SKB.data_end + 4) return size === 4 ? { regType: 'pkt_end' } : false;
  if (off >= SKB.flow_keys && off < SKB.flow_keys + 8) return size === 8 ? { regType: 'flow_keys' } : false;
  return false;
};

/**
 * sk_reuseport_is_valid_access() (struct sk_reuseport_md: data 0, data_end 8, len 16, eth_protocol
 * 20, ip_protocol 24, bind_inany 28, hash 32, sk 40, migrating_sk 48), read only.
 */
const skReuseportAccess: ProgTypeOps['isValidAccess'] = (off, size, type) => {
  if (type === 'write' || off < 0 || off >= 56 || off % size !== 0) return false;
  switch (off) {
    case 0: return size === 8 ? { regType: 'pkt' } : false;
    case 8: return size === 8 ? { regType: 'pkt_end' } : false;
    case 32: return size === 4 ? {} : false;
    case 40: return size === 8 ? { regType: 'sock' } : false;
    case 48: return size === 8 ? { regType: 'sock_common', maybeNull: true } : false;
  }
  if (off >= 20 && off < 24 && size < 2) return false; // eth_protocol: at least sk_buff's __be16 protocol
  return off >= 16 && off < 32 && narrowOk(off, size, 4) ? {} : false;
};

const GETSOCKOPT = attachTypeId('cgroup_getsockopt'), SETSOCKOPT = attachTypeId('cgroup_setsockopt');
/**
 * cg_sockopt_is_valid_access() (struct bpf_sockopt: sk 0, optval 8, optval_end 16, level 24,
 * optname 28, optlen 32, retval 36): optlen always writable, retval for getsockopt (and only
 * readable there), level and optname written by setsockopt; reads whole.
 */
const sockoptAccess = (attach: number): ProgTypeOps['isValidAccess'] => (off, size, type) => {
  if (off < 0 || off >= 40 || off % size !== 0) return false;
  if (type === 'write') {
    if (size !== 4) return false;
    if (off === 36) return attach === GETSOCKOPT ? {} : false;
    if (off === 24 || off === 28) return attach === SETSOCKOPT ? {} : false;
    return off === 32 ? {} : false;
  }
  if (off < 24) {
    if (size !== 8 || off % 8 !== 0) return false;
    return { regType: off === 0 ? 'sock' : off === 8 ? 'pkt' : 'pkt_end' };
  }
  if (off >= 36) return size === 4 && attach === GETSOCKOPT ? {} : false;
  return size === 4 ? {} : false;
};

/**
 * sock_ops_is_valid_access() (struct bpf_sock_ops, 224 bytes): u32 fields read whole, the two u64
 * counters (168, 176) and the pointers sk (184, or NULL), skb_data (192), skb_data_end (200) and
 * skb_hwtstamp (216) as u64, skb_tcp_flags (212) narrow; only reply (4) and sk_txhash (164) written.
 */
const sockOpsAccess: ProgTypeOps['isValidAccess'] = (off, size, type) => {
  if (off < 0 || off >= 224 || off % size !== 0) return false;
  if (type === 'write') return (off === 4 || off === 164) && size === 4 ? {} : false;
  if (off === 184) return size === 8 ? { regType: 'sock', maybeNull: true } : false;
  if (off === 192) return size === 8 ? { regType: 'pkt' } : false;
  if (off === 200) return size === 8 ? { regType: 'pkt_end' } : false;
  if (off === 212) return narrowOk(off, size, 4) ? {} : false;
  if ((off >= 168 && off < 184) || off === 216) return size === 8 ? {} : false;
  if ((off >= 184 && off < 208) || off >= 216) return false; // the other halves of the u64s
  return size === 4 ? {} : false;
};

const noCoarse = (id: number): boolean => id !== 160;

export function defaultProgTypeOps(progType: number, expectedAttachType = 0): ProgTypeOps {
  const T = BPF_PROG_TYPE;
  const base = { helperAllowed: () => true, ldAbs: false, pktWrite: false };
  switch (progType) {
    case T.SOCKET_FILTER: return { ...base, isValidAccess: skbAccess('filter'), ldAbs: true };
    case T.SCHED_CLS: case T.SCHED_ACT: return { ...base, isValidAccess: skbAccess('tc'), ldAbs: true, pktWrite: true };
    case T.CGROUP_SKB: return { ...base, isValidAccess: skbAccess('cg'), ldAbs: true, returnRange: { min: 0, max: 3 } };
    case T.LWT_IN: case T.LWT_OUT: case T.LWT_XMIT: case T.LWT_SEG6LOCAL: return { ...base, isValidAccess: skbAccess('lwt'), pktWrite: progType === T.LWT_XMIT };
    case T.SK_SKB: return { ...base, isValidAccess: skbAccess('skskb'), pktWrite: true };
    case T.SK_MSG: return { ...base, isValidAccess: skMsgAccess, pktWrite: true };
    case T.SK_LOOKUP: return { ...base, isValidAccess: skLookupAccess, returnRange: { min: 0, max: 1 } };
    case T.XDP: return { ...base, isValidAccess: xdpAccess(expectedAttachType), pktWrite: true };
    // bpf_tracing_func_proto(): no bpf_ktime_get_coarse_ns (160) for tracing types
    case T.KPROBE: return { ...base, isValidAccess: readOnly(168), helperAllowed: noCoarse };
    case T.PERF_EVENT: return { ...base, isValidAccess: perfEventAccess, helperAllowed: noCoarse };
    case T.TRACEPOINT: return { ...base, isValidAccess: tracepointAccess, helperAllowed: noCoarse };
    // raw_tp_prog_is_valid_access() is bpf_tracing_ctx_access(): any aligned read of the 12 u64 args
    case T.RAW_TRACEPOINT: return { ...base, isValidAccess: readOnly(96), helperAllowed: noCoarse };
    case T.TRACING: case T.LSM: return { ...base, isValidAccess: readOnly(96, [8]), helperAllowed: noCoarse };
    case T.RAW_TRACEPOINT_WRITABLE: return { ...base, isValidAccess: rawTpWritableAccess, helperAllowed: noCoarse };
    case T.CGROUP_SOCK_ADDR: return { ...base, isValidAccess: sockAddrAccess(expectedAttachType), returnRange: { min: 0, max: 1 } };
    case T.CGROUP_DEVICE: return { ...base, isValidAccess: cgroupDevAccess, returnRange: { min: 0, max: 1 } };
    case T.CGROUP_SYSCTL: return { ...base, isValidAccess: sysctlAccess, returnRange: { min: 0, max: 1 } };
    case T.CGROUP_SOCK: return { ...base, isValidAccess: cgroupSockAccess(expectedAttachType), returnRange: { min: 0, max: 1 } };
    case T.FLOW_DISSECTOR: return { ...base, isValidAccess: flowDissectorAccess };
    case T.CGROUP_SOCKOPT: return { ...base, isValidAccess: sockoptAccess(expectedAttachType), returnRange: { min: 0, max: 1 } };
    case T.SK_REUSEPORT: return { ...base, isValidAccess: skReuseportAccess };
    case T.SOCK_OPS: return { ...base, isValidAccess: sockOpsAccess };
    default: return { ...base, isValidAccess: readOnly(256) };
  }
}

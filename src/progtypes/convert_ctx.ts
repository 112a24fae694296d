/*
 * The kernel's context-access rewrites, per program type (struct bpf_verifier_ops'
 * convert_ctx_access, gen_prologue and gen_ld_abs, net/core/filter.c of Linux 6.18): a load of
 * `xdp_md.data` becomes `*(u64 *)(r1 +0)` of struct xdp_buff, `__sk_buff.mark` a load from
 * struct sk_buff, and so on, with the internal offsets of the kernel build in kernel_layout.ts.
 * What `prog dump xlated` shows; bpfkit's engines keep running the uapi layouts.
 */
import type { Insn } from '../isa/insn.js';
import {
  BPF_REG_AX, alu32Imm as alu32, alu32Reg, alu64Imm as alu64, alu64Reg, call, exit, jmp32Imm as jmp32, jmpA as ja,
  jmpImm as jmp, ldxMem as ldx, mov64Imm as mov64imm, mov64Reg as mov64reg, sizeCode, stxMem as stx,
} from '../isa/insn_macros.js';
import {
  BPF_ABS, BPF_ADD, BPF_AND, BPF_B, BPF_H, BPF_IND, BPF_JEQ, BPF_JGE, BPF_JSET, BPF_JSGE, BPF_LDX,
  BPF_JNE, BPF_LSH, BPF_MEM, BPF_MOV, BPF_RSH, BPF_W, BPF_XOR, bpfClass, bpfMode, bpfSize,
} from '../isa/opcodes.js';
import { BPF_SOCK as SOCK } from '../helpers/sock.js';
import { LINUX_6_18_X86_64_DEBIAN, type KernelLayout } from './kernel_layout.js';
import { BPF_PROG_TYPE_CGROUP_SKB, BPF_PROG_TYPE_SCHED_ACT, BPF_PROG_TYPE_SCHED_CLS, BPF_PROG_TYPE_SOCKET_FILTER } from './skb.js';

const BPF_PROG_TYPE_XDP = 6;
const BPF_PROG_TYPE_LWT_IN = 10;
const BPF_PROG_TYPE_LWT_OUT = 11;
const BPF_PROG_TYPE_LWT_XMIT = 12;
const BPF_PROG_TYPE_FLOW_DISSECTOR = 22;

/** The result of one conversion: the instructions and the width of the field read (target_size). */
interface CtxConversion { insns: Insn[]; targetSize: number }

/** __sk_buff (include/uapi/linux/bpf.h) offsets the rewrites switch on. */
const SKB = {
  len: 0, pkt_type: 4, mark: 8, queue_mapping: 12, protocol: 16, vlan_present: 20, vlan_tci: 24,
  vlan_proto: 28, priority: 32, ingress_ifindex: 36, ifindex: 40, tc_index: 44, cb: 48, hash: 68,
  tc_classid: 72, data: 76, data_end: 80, napi_id: 84, family: 88, remote_ip4: 92, local_ip4: 96,
  remote_ip6: 100, local_ip6: 116, remote_port: 132, local_port: 136, data_meta: 140, flow_keys: 144,
  tstamp: 152, wire_len: 160, gso_segs: 164, sk: 168, gso_size: 176, tstamp_type: 180, hwtstamp: 184,
} as const;

/** xdp_md offsets. */
const XDP = { data: 0, data_end: 4, data_meta: 8, ingress_ifindex: 12, rx_queue_index: 16, egress_ifindex: 20 } as const;

// include/linux/skbuff.h bit masks (little endian).
const PKT_TYPE_MAX = 7;
const CLONED_MASK = 1;
const TC_AT_INGRESS_MASK = 1 << 2;
const SKB_TSTAMP_TYPE_MASK = 3;
const NO_QUEUE_MAPPING = 0xffff;
const TC_ACT_SHOT = 2;

export class KernelLayoutError extends Error {}

function field(layout: KernelLayout, path: string): { off: number; size: number } {
  const f = layout.fields[path];
  if (!f) throw new KernelLayoutError(`kernel layout has no ${path} (regenerate src/progtypes/kernel_layout.ts)`);
  return f;
}

/**
 * ctx_field_size the verifier records for an __sk_buff read (bpf_skb_is_valid_access()): 4 for
 * the fields narrower loads may read a part of, 0 for the fields accessed only whole or by any size.
 */
function skbCtxFieldSize(off: number, write: boolean): number {
  if (write) return 0;
  if (off >= SKB.cb && off < SKB.cb + 20) return 0;
  const whole: readonly number[] = [SKB.data, SKB.data_end, SKB.data_meta, SKB.remote_ip4, SKB.local_ip4, SKB.hwtstamp, SKB.tstamp, SKB.sk, SKB.tstamp_type];
  if (whole.includes(off)) return 0;
  if (off >= SKB.remote_ip6 && off < SKB.local_ip6 + 16) return 0;
  return 4;
}

/** bpf_convert_shinfo_access(): dst = skb_shinfo(skb) (NET_SKBUFF_DATA_USES_OFFSET on 64-bit). */
function shinfo(L: KernelLayout, si: Insn): Insn[] {
  return [
    ldx(field(L, 'sk_buff.end').size, BPF_REG_AX, si.src, field(L, 'sk_buff.end').off),
    ldx(field(L, 'sk_buff.head').size, si.dst, si.src, field(L, 'sk_buff.head').off),
    alu64Reg(BPF_ADD, si.dst, BPF_REG_AX),
  ];
}

/**
 * Whether `si` (a context access the verifier let through) reads __sk_buff->tstamp_type: then
 * tc_cls_act_is_valid_access() sets prog->tstamp_type_access, and tstamp is read and written as is.
 */
export function readsTstampType(progType: number, si: Insn): boolean {
  return (progType === BPF_PROG_TYPE_SCHED_CLS || progType === BPF_PROG_TYPE_SCHED_ACT) && bpfClass(si.code) === BPF_LDX && si.off === SKB.tstamp_type;
}

/** bpf_convert_ctx_access() (+ tc_cls_act_convert_ctx_access()'s ifindex when `tc`). */
function skbConvert(L: KernelLayout, si: Insn, write: boolean, tc: boolean, tstampTypeAccess: boolean): CtxConversion | undefined {
  const f = (p: string): number => field(L, 'sk_buff.' + p).off;
  const sz = (p: string): number => field(L, 'sk_buff.' + p).size;
  const cb = f('cb');
  const sock = (p: string): number => field(L, 'sock_common.' + p).off;
  const d = si.dst, s = si.src;
  const load = (size: number, off: number, target = size): CtxConversion => ({ insns: [ldx(size, d, s, off)], targetSize: target });
  const loadOrStore = (size: number, off: number): CtxConversion => ({ insns: [write ? stx(size, d, s, off) : ldx(size, d, s, off)], targetSize: size });
  const off = si.off;
  if (off >= SKB.cb && off < SKB.cb + 20) {
    const size = [4, 2, 1, 8][bpfSize(si.code) >> 3];
    return loadOrStore(size, off - SKB.cb + cb + field(L, 'qdisc_skb_cb.data').off);
  }
  if (off >= SKB.remote_ip6 && off < SKB.remote_ip6 + 16) {
    return { insns: [ldx(8, d, s, f('sk')), ldx(4, d, d, sock('skc_v6_daddr') + off - SKB.remote_ip6)], targetSize: 4 };
  }
  if (off >= SKB.local_ip6 && off < SKB.local_ip6 + 16) {
    return { insns: [ldx(8, d, s, f('sk')), ldx(4, d, d, sock('skc_v6_rcv_saddr') + off - SKB.local_ip6)], targetSize: 4 };
  }
  switch (off) {
    case SKB.len: return load(4, f('len'));
    case SKB.protocol: return load(2, f('protocol'));
    case SKB.vlan_proto: return load(2, f('vlan_proto'));
    case SKB.priority: return loadOrStore(4, f('priority'));
    case SKB.ingress_ifindex: return load(4, f('skb_iif'));
    case SKB.ifindex: {
      const dev = ldx(sz('dev'), d, s, f('dev'));
      const ifindex = ldx(4, d, d, field(L, 'net_device.ifindex').off);
      return { insns: tc ? [dev, ifindex] : [dev, jmp(BPF_JEQ, d, 0, 1), ifindex], targetSize: 4 };
    }
    case SKB.hash: return load(4, f('hash'));
    case SKB.mark: return loadOrStore(4, f('mark'));
    case SKB.pkt_type: return { insns: [ldx(1, d, s, f('__pkt_type_offset')), alu32(BPF_AND, d, PKT_TYPE_MAX)], targetSize: 1 };
    case SKB.queue_mapping:
      if (write) return { insns: [jmp(BPF_JGE, s, NO_QUEUE_MAPPING, 1), stx(2, d, s, f('queue_mapping'))], targetSize: 2 };
      return load(2, f('queue_mapping'));
    case SKB.vlan_present:
      return { insns: [ldx(sz('vlan_all'), d, s, f('vlan_all')), jmp(BPF_JEQ, d, 0, 1), alu32(BPF_MOV, d, 1)], targetSize: 4 };
    case SKB.vlan_tci: return load(2, f('vlan_tci'));
    case SKB.tc_classid: {
      const o = cb + field(L, 'qdisc_skb_cb.tc_classid').off;
      return { insns: [write ? stx(2, d, s, o) : ldx(2, d, s, o)], targetSize: 2 };
    }
    case SKB.data: return load(sz('data'), f('data'));
    case SKB.data_meta: return load(8, cb + field(L, 'bpf_skb_data_end.data_meta').off);
    case SKB.data_end: return load(8, cb + field(L, 'bpf_skb_data_end.data_end').off);
    case SKB.tc_index: return loadOrStore(2, f('tc_index'));
    case SKB.napi_id:
      return { insns: [ldx(4, d, s, f('napi_id')), jmp(BPF_JGE, d, L.nrCpus + 1, 1) /* MIN_NAPI_ID */, mov64imm(d, 0)], targetSize: 4 };
    case SKB.family: return { insns: [ldx(8, d, s, f('sk')), ldx(2, d, d, sock('skc_family'))], targetSize: 2 };
    case SKB.remote_ip4: return { insns: [ldx(8, d, s, f('sk')), ldx(4, d, d, sock('skc_daddr'))], targetSize: 4 };
    case SKB.local_ip4: return { insns: [ldx(8, d, s, f('sk')), ldx(4, d, d, sock('skc_rcv_saddr'))], targetSize: 4 };
    case SKB.remote_port:
      return { insns: [ldx(8, d, s, f('sk')), ldx(2, d, d, sock('skc_dport')), alu32(BPF_LSH, d, 16)], targetSize: 2 };
    case SKB.local_port: return { insns: [ldx(8, d, s, f('sk')), ldx(2, d, d, sock('skc_num'))], targetSize: 2 };
    case SKB.tstamp: return { insns: write ? tstampWrite(L, si, tstampTypeAccess) : tstampRead(L, si, tstampTypeAccess), targetSize: 8 };
    case SKB.tstamp_type: // bpf_convert_tstamp_type_read()
      return { insns: [ldx(1, d, s, f('__mono_tc_offset')), alu32(BPF_AND, d, SKB_TSTAMP_TYPE_MASK)], targetSize: 1 };
    case SKB.gso_segs: return { insns: [...shinfo(L, si), ldx(2, d, d, field(L, 'skb_shared_info.gso_segs').off)], targetSize: 2 };
    case SKB.gso_size: return { insns: [...shinfo(L, si), ldx(2, d, d, field(L, 'skb_shared_info.gso_size').off)], targetSize: 2 };
    case SKB.wire_len: return load(4, cb + field(L, 'qdisc_skb_cb.pkt_len').off, 4);
    case SKB.sk: return load(8, f('sk'));
    case SKB.hwtstamp: return { insns: [...shinfo(L, si), ldx(8, d, d, field(L, 'skb_shared_info.hwtstamps').off)], targetSize: 8 };
    default: return undefined;
  }
}

/*
 * bpf_convert_tstamp_read() / _write() with CONFIG_NET_XGRESS: unless the program reads
 * tstamp_type (then skb->tstamp as is), at ingress a delivery-time stamp reads as 0, and writing
 * one clears its type bits.
 */
function tstampRead(L: KernelLayout, si: Insn, tstampTypeAccess: boolean): Insn[] {
  const flags = field(L, 'sk_buff.__mono_tc_offset').off;
  if (tstampTypeAccess) return [ldx(8, si.dst, si.src, field(L, 'sk_buff.tstamp').off)];
  return [
    ldx(1, BPF_REG_AX, si.src, flags),
    jmp32(BPF_JSET, BPF_REG_AX, TC_AT_INGRESS_MASK, 1),
    ja(4),
    jmp32(BPF_JSET, BPF_REG_AX, SKB_TSTAMP_TYPE_MASK, 1),
    ja(2),
    mov64imm(si.dst, 0),
    ja(1),
    ldx(8, si.dst, si.src, field(L, 'sk_buff.tstamp').off),
  ];
}

function tstampWrite(L: KernelLayout, si: Insn, tstampTypeAccess: boolean): Insn[] {
  const flags = field(L, 'sk_buff.__mono_tc_offset').off;
  if (tstampTypeAccess) return [stx(8, si.dst, si.src, field(L, 'sk_buff.tstamp').off)];
  return [
    ldx(1, BPF_REG_AX, si.dst, flags),
    jmp32(BPF_JSET, BPF_REG_AX, TC_AT_INGRESS_MASK, 1),
    ja(2),
    alu32(BPF_AND, BPF_REG_AX, ~SKB_TSTAMP_TYPE_MASK),
    stx(1, si.dst, BPF_REG_AX, flags),
    stx(8, si.dst, si.src, field(L, 'sk_buff.tstamp').off),
  ];
}

/** xdp_convert_ctx_access(). */
function xdpConvert(L: KernelLayout, si: Insn): CtxConversion | undefined {
  const d = si.dst, s = si.src;
  const buf = (p: string): Insn => ldx(field(L, 'xdp_buff.' + p).size, d, s, field(L, 'xdp_buff.' + p).off);
  const ifindex = ldx(4, d, d, field(L, 'net_device.ifindex').off);
  switch (si.off) {
    case XDP.data: return { insns: [buf('data')], targetSize: 0 };
    case XDP.data_meta: return { insns: [buf('data_meta')], targetSize: 0 };
    case XDP.data_end: return { insns: [buf('data_end')], targetSize: 0 };
    case XDP.ingress_ifindex: return { insns: [buf('rxq'), ldx(8, d, d, field(L, 'xdp_rxq_info.dev').off), ifindex], targetSize: 0 };
    case XDP.rx_queue_index: return { insns: [buf('rxq'), ldx(4, d, d, field(L, 'xdp_rxq_info.queue_index').off)], targetSize: 0 };
    case XDP.egress_ifindex: return { insns: [buf('txq'), ldx(8, d, d, field(L, 'xdp_txq_info.dev').off), ifindex], targetSize: 0 };
    default: return undefined;
  }
}

/** flow_dissector_convert_ctx_access(): the context is a struct bpf_flow_dissector. */
function flowDissectorConvert(L: KernelLayout, si: Insn): CtxConversion | undefined {
  const load = (p: string): CtxConversion => {
    const f = field(L, 'bpf_flow_dissector.' + p);
    return { insns: [ldx(f.size, si.dst, si.src, f.off)], targetSize: 0 };
  };
  switch (si.off) {
    case SKB.data: return load('data');
    case SKB.data_end: return load('data_end');
    case SKB.flow_keys: return load('flow_keys');
    default: return undefined;
  }
}

const NO_QUEUE_MAPPING_16 = 0xffff;

/**
 * ctx_field_size bpf_sock_is_valid_access() records: 4 for the fields narrower loads may read a
 * part of, dst_port's own 2 unless read whole, 0 for the rest (read whole).
 */
function sockCtxFieldSize(off: number, size: number): number {
  if (off >= SOCK.dst_port && off < SOCK.dst_port + 2) return size === 4 ? 4 : 2;
  const whole: readonly number[] = [SOCK.bound_dev_if, SOCK.mark, SOCK.priority];
  return whole.includes(off) ? 0 : 4;
}

/** bpf_sock_convert_ctx_access(): struct bpf_sock read from struct sock / sock_common. */
function sockConvert(L: KernelLayout, si: Insn): CtxConversion | undefined {
  const load = (path: string, delta = 0): CtxConversion => {
    const f = field(L, path);
    return { insns: [ldx(f.size, si.dst, si.src, f.off + delta)], targetSize: f.size };
  };
  const off = si.off;
  if (off >= SOCK.src_ip6 && off < SOCK.src_ip6 + 16) return { insns: [ldx(4, si.dst, si.src, field(L, 'sock_common.skc_v6_rcv_saddr').off + off - SOCK.src_ip6)], targetSize: 4 };
  if (off >= SOCK.dst_ip6 && off < SOCK.dst_ip6 + 16) return { insns: [ldx(4, si.dst, si.src, field(L, 'sock_common.skc_v6_daddr').off + off - SOCK.dst_ip6)], targetSize: 4 };
  switch (off) {
    case SOCK.bound_dev_if: return load('sock_common.skc_bound_dev_if');
    case SOCK.mark: return load('sock.sk_mark');
    case SOCK.priority: return load('sock.sk_priority');
    case SOCK.family: return load('sock_common.skc_family');
    case SOCK.type: return load('sock.sk_type');
    case SOCK.protocol: return load('sock.sk_protocol');
    case SOCK.src_ip4: return load('sock_common.skc_rcv_saddr');
    case SOCK.dst_ip4: return load('sock_common.skc_daddr');
    case SOCK.src_port: return load('sock_common.skc_num');
    case SOCK.dst_port: return load('sock_common.skc_dport');
    case SOCK.state: return load('sock_common.skc_state');
    case SOCK.rx_queue_mapping: {
      // CONFIG_SOCK_RX_QUEUE_MAPPING: NO_QUEUE_MAPPING reads as -1, a 32-bit value, so a 2-byte
      // read is masked too (the running 6.18 kernel's rewrite: target_size 4)
      const c = load('sock_common.skc_rx_queue_mapping');
      return { insns: [...c.insns, jmp(BPF_JNE, si.dst, NO_QUEUE_MAPPING_16, 1), alu32(BPF_MOV, si.dst, -1)], targetSize: 4 };
    }
    default: return undefined;
  }
}

/** struct bpf_tcp_sock field -> struct tcp_sock member (bpf_tcp_sock_convert_ctx_access()), by offset. */
const TCP_SOCK_FIELDS: Readonly<Record<number, string>> = {
  0: 'tcp_sock.snd_cwnd', 4: 'tcp_sock.srtt_us', 12: 'tcp_sock.snd_ssthresh', 16: 'tcp_sock.rcv_nxt',
  20: 'tcp_sock.snd_nxt', 24: 'tcp_sock.snd_una', 28: 'tcp_sock.mss_cache', 32: 'tcp_sock.ecn_flags',
  36: 'tcp_sock.rate_delivered', 40: 'tcp_sock.rate_interval_us', 44: 'tcp_sock.packets_out', 48: 'tcp_sock.retrans_out',
  52: 'tcp_sock.total_retrans', 56: 'tcp_sock.segs_in', 60: 'tcp_sock.data_segs_in', 64: 'tcp_sock.segs_out',
  68: 'tcp_sock.data_segs_out', 72: 'tcp_sock.lost_out', 76: 'tcp_sock.sacked_out', 80: 'tcp_sock.bytes_received',
  88: 'tcp_sock.bytes_acked', 96: 'tcp_sock.dsack_dups', 100: 'tcp_sock.delivered', 104: 'tcp_sock.delivered_ce',
  108: 'inet_connection_sock.icsk_retransmits',
};
const TCP_SOCK_RTT_MIN = 8;

function tcpSockConvert(L: KernelLayout, si: Insn): CtxConversion | undefined {
  if (si.off === TCP_SOCK_RTT_MIN) {
    // rtt_min is a struct minmax: its first sample's value
    return { insns: [ldx(4, si.dst, si.src, field(L, 'tcp_sock.rtt_min').off + field(L, 'minmax_sample.v').off)], targetSize: 0 };
  }
  const path = TCP_SOCK_FIELDS[si.off];
  if (!path) return undefined;
  const f = field(L, path);
  return { insns: [ldx(f.size, si.dst, si.src, f.off)], targetSize: 0 };
}

/**
 * A load through a socket pointer (the verifier's 'sock', 'sock_common', 'tcp_sock', 'xdp_sock';
 * convert_ctx_accesses() with bpf_sock_, bpf_tcp_sock_ and bpf_xdp_sock_convert_ctx_access()),
 * narrower loads of bpf_sock fields widened, converted, then shifted and masked. undefined: no
 * conversion (bpf_tcp_sock's u64 halves, which the verifier refuses after all).
 */
export function convertSockAccess(ptrType: string, si: Insn, layout: KernelLayout = LINUX_6_18_X86_64_DEBIAN): Insn[] | undefined {
  if (ptrType === 'tcp_sock') return tcpSockConvert(layout, si)?.insns;
  if (ptrType === 'xdp_sock') {
    const f = field(layout, 'xdp_sock.queue_id');
    return si.off === 0 ? [ldx(f.size, si.dst, si.src, f.off)] : undefined;
  }
  if (ptrType !== 'sock' && ptrType !== 'sock_common') return undefined;
  const size = [4, 2, 1, 8][bpfSize(si.code) >> 3];
  return narrowed(si, sockCtxFieldSize(si.off, size), (insn) => sockConvert(layout, insn));
}

/**
 * convert_ctx_accesses()' handling of a load narrower than its field (ctx_field_size): the load is
 * widened to the field, converted, then shifted and masked (bpf_ctx_narrow_access_offset(), little endian).
 */
function narrowed(si: Insn, ctxFieldSize: number, convert: (insn: Insn) => CtxConversion | undefined): Insn[] | undefined {
  const size = [4, 2, 1, 8][bpfSize(si.code) >> 3];
  const narrow = size < ctxFieldSize;
  // size_default = bpf_ctx_off_adjust_machine(ctx_field_size): 4 stays 4 on 64-bit
  const insn = narrow ? { ...si, off: si.off & ~(ctxFieldSize - 1), code: BPF_LDX | BPF_MEM | sizeCode(ctxFieldSize) } : si;
  const conv = convert(insn);
  if (!conv) return undefined;
  const out = conv.insns;
  if (narrow && size < conv.targetSize) {
    const shift = (si.off & (ctxFieldSize - 1)) * 8;
    if (shift) out.push(alu32(BPF_RSH, si.dst, shift));
    out.push(alu32(BPF_AND, si.dst, size * 8 >= 32 ? -1 : (1 << (size * 8)) - 1));
  }
  return out;
}

const SKB_TYPES = new Set([BPF_PROG_TYPE_SOCKET_FILTER, BPF_PROG_TYPE_SCHED_CLS, BPF_PROG_TYPE_SCHED_ACT,
  BPF_PROG_TYPE_CGROUP_SKB, BPF_PROG_TYPE_LWT_IN, BPF_PROG_TYPE_LWT_OUT, BPF_PROG_TYPE_LWT_XMIT]);

/**
 * The rewrite of one context access (an LDX, or an STX when `write`), with convert_ctx_accesses()'
 * handling of narrower loads around it: the load is widened to the field, converted, then shifted
 * and masked. undefined: the type converts nothing (tracing contexts are the kernel's own structs)
 * or the field has no conversion here.
 */
export function convertCtxAccess(progType: number, si: Insn, write: boolean, layout: KernelLayout = LINUX_6_18_X86_64_DEBIAN, tstampTypeAccess = false): Insn[] | undefined {
  if (progType === BPF_PROG_TYPE_FLOW_DISSECTOR) return flowDissectorConvert(layout, si)?.insns;
  const skb = SKB_TYPES.has(progType);
  if (!skb && progType !== BPF_PROG_TYPE_XDP) return undefined;
  const tc = progType === BPF_PROG_TYPE_SCHED_CLS || progType === BPF_PROG_TYPE_SCHED_ACT;
  return narrowed(si, skb ? skbCtxFieldSize(si.off, write) : 0,
    (insn) => (skb ? skbConvert(layout, insn, write, tc, tstampTypeAccess) : xdpConvert(layout, insn)));
}

/**
 * gen_prologue (tc_cls_act_prologue() -> bpf_unclone_prologue()) when the program writes packet
 * data directly: unclone the skb first. `first` is the program's first instruction, which the
 * prologue ends with. Returns the instructions and the index of the skb_pull_data call.
 */
export function genPrologue(progType: number, directWrite: boolean, first: Insn, layout: KernelLayout = LINUX_6_18_X86_64_DEBIAN): Insn[] | undefined {
  const tc = progType === BPF_PROG_TYPE_SCHED_CLS || progType === BPF_PROG_TYPE_SCHED_ACT || progType === BPF_PROG_TYPE_LWT_XMIT;
  if (!tc || !directWrite) return undefined;
  return [
    ldx(1, 6, 1, field(layout, 'sk_buff.__cloned_offset').off),
    alu32(BPF_AND, 6, CLONED_MASK),
    jmp(BPF_JEQ, 6, 0, 7),
    mov64reg(6, 1),
    alu64Reg(BPF_XOR, 2, 2),
    call(39), // BPF_FUNC_skb_pull_data: do_misc_fixups() gives it its address
    jmp(BPF_JEQ, 0, 0, 2),
    alu32(BPF_MOV, 0, TC_ACT_SHOT),
    exit(),
    mov64reg(1, 6),
    first,
  ];
}

/**
 * bpf_gen_ld_abs(): LD_ABS/LD_IND as a call of bpf_skb_load_helper_{8,16,32}_no_cache (ctx in r6),
 * returning from the program with 0 when the load fails. The call's kernel function is returned
 * beside the instructions (its displacement is the kernel build's).
 */
export function genLdAbs(orig: Insn): { insns: Insn[]; call: number; symbol: string } | undefined {
  const mode = bpfMode(orig.code);
  if (mode !== BPF_ABS && mode !== BPF_IND) return undefined;
  const insns: Insn[] = [];
  if (mode === BPF_ABS) insns.push(mov64imm(2, orig.imm));
  else {
    insns.push(mov64reg(2, orig.src));
    if (orig.imm) insns.push(alu64(BPF_ADD, 2, orig.imm));
  }
  insns.push(mov64reg(1, 6));
  const bits = { [BPF_B]: 8, [BPF_H]: 16, [BPF_W]: 32 }[bpfSize(orig.code)];
  if (bits === undefined) return undefined;
  const at = insns.length;
  insns.push(call(), jmp(BPF_JSGE, 0, 0, 2), alu32Reg(BPF_XOR, 0, 0), exit());
  return { insns, call: at, symbol: `bpf_skb_load_helper_${bits}_no_cache` };
}

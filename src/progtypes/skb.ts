/*
 * Program types over struct __sk_buff: SOCKET_FILTER, SCHED_CLS, SCHED_ACT, CGROUP_SKB, SK_SKB.
 * The uapi context layout, each type's is_valid_access() (sk_filter_, tc_cls_act_, cg_skb_,
 * sk_skb_is_valid_access() over bpf_skb_is_valid_access(), net/core/filter.c), helper sets, and
 * BPF_PROG_TEST_RUN as bpf_prog_test_run_skb() (net/bpf/test_run.c) does it:
 *
 *  - data_in is at least ETH_HLEN bytes and at most PAGE_SIZE - NET_SKB_PAD - tailroom, an IPv4
 *    or IPv6 frame holds the whole fixed IP header, and socket filters get a non-empty skb (EINVAL);
 *  - eth_type_trans() on the loopback device: skb->protocol from the EtherType (network order in
 *    the context), pkt_type from the destination MAC, and skb->data after the Ethernet header;
 *  - tc programs (SCHED_CLS/ACT) get the Ethernet header pushed back: skb->len is the whole frame,
 *    direct packet access (data/data_end/data_meta); socket filters and cgroup skb programs see
 *    len without it, LD_ABS offsets from the network header, and data_out has 14 zero bytes
 *    where the Ethernet header was;
 *  - ctx_in may set only mark, priority, ingress_ifindex, ifindex (1, the loopback), cb[],
 *    tstamp, wire_len, gso_segs, gso_size, hwtstamp (EINVAL otherwise); ctx_out is ctx_in with
 *    mark, priority, ingress_ifindex, ifindex, tstamp, cb, wire_len, gso_segs, hwtstamp updated;
 *  - skb->sk is the test run's socket (sk_alloc(AF_UNSPEC) + sock_init_data(NULL)): TCP_CLOSE, no
 *    type or protocol, AF_INET/AF_INET6 with the IP header's addresses for IPv4/IPv6 frames; the
 *    context's family/remote_ip4/local_ip4/remote_ip6/local_ip6 read it (the ports are 0).
 *
 * The context holds 32-bit VM addresses in data/data_end/data_meta so programs work without the
 * verifier's rewrite; helpers that reshape the packet keep them in step (helpers/packet.ts).
 * tc-bpf(8) direct-action: the return value is the TC_ACT_* verdict; without direct action a
 * classifier's non-zero return (or -1 = the default classid) selects skb->tc_classid.
 */
import { memoryView, newPacketState, type PacketState, setPacketState, syncCtx } from '../helpers/packet.js';
import { AF_INET, AF_INET6, AF_UNSPEC, BPF_SOCK_SIZE, type SockFields, TCP_CLOSE, writeBpfSock } from '../helpers/sock.js';
import { Vm } from '../vm/vm.js';
import type { Region } from '../vm/types.js';
import { helperAllowedFor } from './helper_sets.js';
import { vmForType } from './register.js';
import { prepareProgram, timedRuns } from './run.js';
import {
  type CtxAccess, type CtxField, type ProgTypeOps, type TestRunInput, type TestRunResult, TestRunError, ctxFinish, ctxInit,
  dataFinish, requireZero,
} from './types.js';

export const BPF_PROG_TYPE_SOCKET_FILTER = 1;
export const BPF_PROG_TYPE_SCHED_CLS = 3;
export const BPF_PROG_TYPE_SCHED_ACT = 4;
export const BPF_PROG_TYPE_CGROUP_SKB = 8;
export const BPF_PROG_TYPE_SK_SKB = 14;

/** struct __sk_buff (include/uapi/linux/bpf.h), 192 bytes. */
export const SK_BUFF = {
  len: 0, pkt_type: 4, mark: 8, queue_mapping: 12, protocol: 16, vlan_present: 20, vlan_tci: 24, vlan_proto: 28,
  priority: 32, ingress_ifindex: 36, ifindex: 40, tc_index: 44, cb: 48, hash: 68, tc_classid: 72, data: 76,
  data_end: 80, napi_id: 84, family: 88, remote_ip4: 92, local_ip4: 96, remote_ip6: 100, local_ip6: 116,
  remote_port: 132, local_port: 136, data_meta: 140, flow_keys: 144, tstamp: 152, wire_len: 160, gso_segs: 164,
  sk: 168, gso_size: 176, tstamp_type: 180, hwtstamp: 184,
} as const;
export const SK_BUFF_SIZE = 192;

const f = (name: keyof typeof SK_BUFF, size: number, kind: CtxField['kind'] = 'scalar', elem?: number): CtxField =>
  Object.freeze({ name, off: SK_BUFF[name], size, kind, narrow: kind === 'scalar', write: false, elem });

/** The fields, as bpf_skb_is_valid_access() sees them (writability is per type). */
export const SK_BUFF_FIELDS: readonly CtxField[] = [
  f('len', 4), f('pkt_type', 4), f('mark', 4), f('queue_mapping', 4), f('protocol', 4), f('vlan_present', 4),
  f('vlan_tci', 4), f('vlan_proto', 4), f('priority', 4), f('ingress_ifindex', 4), f('ifindex', 4), f('tc_index', 4),
  f('cb', 20, 'scalar', 4), f('hash', 4), f('tc_classid', 4), f('data', 4, 'pkt'), f('data_end', 4, 'pkt_end'),
  f('napi_id', 4), f('family', 4), f('remote_ip4', 4), f('local_ip4', 4), f('remote_ip6', 16, 'scalar', 4),
  f('local_ip6', 16, 'scalar', 4), f('remote_port', 4), f('local_port', 4), f('data_meta', 4, 'pkt_meta'),
  f('flow_keys', 8, 'flow_keys'), f('tstamp', 8), f('wire_len', 4), f('gso_segs', 4), f('sk', 8, 'sock'),
  f('gso_size', 4), f('tstamp_type', 1), f('hwtstamp', 8),
];

type Variant = 'socket' | 'tc' | 'cgroup' | 'sk_skb';

const within = (off: number, name: keyof typeof SK_BUFF, size: number): boolean => off >= SK_BUFF[name] && off < SK_BUFF[name] + size;

/** bpf_skb_is_valid_access(). */
function skbValidAccess(off: number, size: number, write: boolean): boolean {
  if (off < 0 || off >= SK_BUFF_SIZE || off % size !== 0) return false;
  if (within(off, 'cb', 20)) return off + size <= SK_BUFF.cb + 20;
  if (within(off, 'remote_ip6', 16) || within(off, 'local_ip6', 16) || within(off, 'remote_ip4', 4) ||
    within(off, 'local_ip4', 4) || within(off, 'data', 4) || within(off, 'data_meta', 4) || within(off, 'data_end', 4)) return size === 4;
  if (within(off, 'flow_keys', 8)) return false;
  if (within(off, 'hwtstamp', 8)) return !write && size === 8;
  if (within(off, 'tstamp', 8)) return size === 8;
  if (off === SK_BUFF.sk) return !write && size === 8;
  if (within(off, 'sk', 8)) return false;
  if (off >= SK_BUFF.tstamp_type && off < SK_BUFF.hwtstamp) return false; // tstamp_type and padding
  // Everything else is a u32: full-size writes, narrow reads (bpf_ctx_narrow_access_ok()).
  if (write) return size === 4;
  return size <= 4;
}

function variantValid(v: Variant, off: number, size: number, write: boolean): boolean {
  const r = (name: keyof typeof SK_BUFF, n = 4): boolean => within(off, name, n);
  const sockRange = off >= SK_BUFF.family && off < SK_BUFF.local_port + 4;
  if (v === 'socket') {
    if (r('tc_classid') || r('data') || r('data_meta') || r('data_end') || sockRange || r('tstamp', 8) || r('wire_len') || r('hwtstamp', 8)) return false;
    if (write && !r('cb', 20)) return false;
  } else if (v === 'cgroup') {
    if (r('tc_classid') || r('data_meta') || r('wire_len')) return false;
    if (write && !(r('mark') || r('priority') || r('cb', 20) || r('tstamp', 8))) return false;
  } else if (v === 'tc') {
    if (write && !(r('mark') || r('tc_index') || r('priority') || r('tc_classid') || r('cb', 20) || r('tstamp', 8) || r('queue_mapping'))) return false;
    if (sockRange) return false;
    if (off === SK_BUFF.tstamp_type) return !write && size === 1; // tc_cls_act_is_valid_access(): one byte
  } else {
    if (r('tc_classid') || r('data_meta') || r('tstamp', 8) || r('wire_len') || r('hwtstamp', 8)) return false;
    if (write && !(r('tc_index') || r('priority'))) return false;
    if (r('mark')) return false;
  }
  return skbValidAccess(off, size, write);
}

function accessOf(v: Variant, off: number, size: number, write: boolean): CtxAccess {
  if (!variantValid(v, off, size, write)) return { ok: false, message: `invalid bpf_context access off=${off} size=${size}` };
  const field = SK_BUFF_FIELDS.find((x) => off >= x.off && off < x.off + x.size)!;
  return { ok: true, field, kind: field.kind };
}

/* ------------------------------------------------------------------------------------------ */
/* The packet harness: an sk_buff in a VM, reused packet after packet                          */

const ETH_HLEN = 14;
const PAGE_SIZE = 4096;
/** NET_SKB_PAD + NET_IP_ALIGN on x86_64. */
const SKB_PAD = 64;
/** SKB_DATA_ALIGN(sizeof(struct skb_shared_info)). */
const SKB_TAILROOM = 320;
/** Extra headroom for helpers that push (the kernel would reallocate the head). */
const EXTRA_HEAD = 512;
/** Room for skb_change_tail and friends: loopback MTU + Ethernet header. */
const MAX_LEN = 65536 + ETH_HLEN;
const LOOPBACK_IFINDEX = 1;

/** Metadata a capture or ctx_in gives a packet. */
export interface SkbMeta {
  mark?: number;
  priority?: number;
  ingressIfindex?: number;
  tstamp?: bigint;
  cb?: Uint8Array;
  wireLen?: number;
  gsoSegs?: number;
  gsoSize?: number;
  hwtstamp?: bigint;
  /** bpf_get_socket_cookie() (default 0: no socket). */
  socketCookie?: bigint;
  /** skb->sk is the test run's socket (default: no socket, skb->sk NULL). */
  testRunSocket?: boolean;
}

const ETH_P_IP = 0x0800, ETH_P_IPV6 = 0x86dd;

/**
 * bpf_prog_test_run_skb()'s socket for a frame whose network header is at `net`: AF_INET or
 * AF_INET6 with the IP header's source as sk_rcv_saddr and destination as sk_daddr.
 */
function testRunSock(mem: Uint8Array, net: number, protocol: number, end: number): SockFields {
  const s: SockFields = { family: AF_UNSPEC, state: TCP_CLOSE };
  if (protocol === ETH_P_IP) {
    s.family = AF_INET;
    if (net + 20 <= end) { s.srcIp4 = mem.slice(net + 12, net + 16); s.dstIp4 = mem.slice(net + 16, net + 20); }
  } else if (protocol === ETH_P_IPV6) {
    s.family = AF_INET6;
    if (net + 40 <= end) { s.srcIp6 = mem.slice(net + 8, net + 24); s.dstIp6 = mem.slice(net + 24, net + 40); }
  }
  return s;
}

/** eth_type_trans() against the loopback device (address and broadcast 00:00:00:00:00:00). */
export function ethTypeTrans(p: Uint8Array): { protocol: number; pktType: number } {
  let pktType = 0; // PACKET_HOST
  const zero = p[0] === 0 && p[1] === 0 && p[2] === 0 && p[3] === 0 && p[4] === 0 && p[5] === 0;
  if (!zero) {
    // The loopback device's broadcast address is all zeros too, so ff:ff:ff:ff:ff:ff is
    // PACKET_MULTICAST here, not PACKET_BROADCAST.
    pktType = p[0] & 1 ? 2 : 3; // PACKET_MULTICAST, PACKET_OTHERHOST
  }
  const proto = (p[12] << 8) | p[13];
  if (proto >= 0x600) return { protocol: proto, pktType };
  if (p.length >= 16 && p[14] === 0xff && p[15] === 0xff) return { protocol: 0x0001, pktType }; // ETH_P_802_3
  return { protocol: 0x0004, pktType }; // ETH_P_802_2
}

/** An sk_buff for one program type on one VM: load a packet, run, read the result. */
export class SkbHarness {
  readonly vm: Vm;
  readonly type: number;
  /** Whether the Ethernet header is part of the data (tc). */
  readonly l2: boolean;
  readonly state: PacketState;
  readonly buffer: Region;
  readonly ctx: Region;
  /** struct bpf_sock of the test run's socket (programs may not store to it) */
  readonly sock: Region;

  constructor(vm: Vm, type: number) {
    this.vm = vm;
    this.type = type;
    this.l2 = type === BPF_PROG_TYPE_SCHED_CLS || type === BPF_PROG_TYPE_SCHED_ACT;
    this.buffer = vm.space.alloc(EXTRA_HEAD + SKB_PAD + MAX_LEN + SKB_TAILROOM, 'sk_buff data', { writable: true, align: 64 });
    this.ctx = vm.space.alloc(SK_BUFF_SIZE, '__sk_buff', { writable: true });
    this.sock = vm.space.alloc(BPF_SOCK_SIZE, 'struct bpf_sock', { writable: false });
    this.state = newPacketState('skb');
  }

  /** Put `data` (a whole Ethernet frame) in the buffer and fill the context, as bpf_prog_test_run_skb() does. */
  load(data: Uint8Array, meta: SkbMeta = {}): void {
    const s = this.state;
    const space = this.vm.space;
    const mem = new Uint8Array(space.memory.buffer);
    const mac = this.buffer.addr + EXTRA_HEAD + SKB_PAD;
    mem.set(data, mac);
    const { protocol, pktType } = ethTypeTrans(data);
    s.head = this.buffer.addr;
    s.hardEnd = mac + MAX_LEN;
    s.mac = mac;
    s.network = mac + ETH_HLEN;
    s.data = this.l2 ? mac : mac + ETH_HLEN;
    s.dataEnd = mac + data.length;
    s.meta = s.data;
    s.ctx = this.ctx.addr;
    s.protocol = protocol;
    s.vlanPresent = false; s.vlanTci = 0; s.vlanProto = 0;
    s.hash = 0; s.hashValid = false;
    s.socketCookie = meta.socketCookie ?? 0n;
    s.redirect = undefined;
    s.clones.length = 0;
    s.modified = false;
    const dv = memoryView(this.vm);
    const c = this.ctx.addr;
    mem.fill(0, c, c + SK_BUFF_SIZE);
    dv.setUint32(c + SK_BUFF.pkt_type, pktType, true);
    dv.setUint32(c + SK_BUFF.mark, (meta.mark ?? 0) >>> 0, true);
    dv.setUint32(c + SK_BUFF.priority, (meta.priority ?? 0) >>> 0, true);
    dv.setUint32(c + SK_BUFF.ingress_ifindex, (meta.ingressIfindex ?? 0) >>> 0, true);
    dv.setUint32(c + SK_BUFF.ifindex, LOOPBACK_IFINDEX, true);
    if (meta.cb) mem.set(meta.cb.subarray(0, 20), c + SK_BUFF.cb);
    dv.setBigUint64(c + SK_BUFF.tstamp, meta.tstamp ?? 0n, true);
    dv.setUint32(c + SK_BUFF.wire_len, (meta.wireLen ?? 0) >>> 0, true); // qdisc_skb_cb(skb)->pkt_len
    dv.setUint32(c + SK_BUFF.gso_segs, meta.gsoSegs ?? 0, true);
    dv.setUint32(c + SK_BUFF.gso_size, meta.gsoSize ?? 0, true);
    dv.setBigUint64(c + SK_BUFF.hwtstamp, meta.hwtstamp ?? 0n, true);
    if (meta.testRunSocket) {
      const sk = testRunSock(mem, s.network, protocol, s.dataEnd);
      writeBpfSock(mem, this.sock.addr, sk);
      dv.setBigUint64(c + SK_BUFF.sk, BigInt(this.sock.addr), true);
      // bpf_convert_ctx_access(): the socket fields of __sk_buff read skb->sk's sock_common
      dv.setUint32(c + SK_BUFF.family, sk.family, true);
      if (sk.srcIp4) mem.set(sk.srcIp4, c + SK_BUFF.local_ip4);
      if (sk.dstIp4) mem.set(sk.dstIp4, c + SK_BUFF.remote_ip4);
      if (sk.srcIp6) mem.set(sk.srcIp6, c + SK_BUFF.local_ip6);
      if (sk.dstIp6) mem.set(sk.dstIp6, c + SK_BUFF.remote_ip6);
    }
    syncCtx(this.vm, s);
    setPacketState(this.vm, s);
  }

  /** What LD_ABS/LD_IND read: skb->data .. skb->data + headlen. */
  packet(): { addr: number; len: number } {
    return { addr: this.state.data, len: this.state.dataEnd - this.state.data };
  }

  /** The packet after the run, as bpf_prog_test_run_skb() copies it out (a copy). */
  output(): Uint8Array {
    const s = this.state;
    const mem = new Uint8Array(this.vm.space.memory.buffer);
    if (this.l2) return mem.slice(s.data, s.dataEnd);
    // memset(__skb_push(skb, hh_len), 0, hh_len)
    const out = new Uint8Array(ETH_HLEN + s.dataEnd - s.data);
    out.set(mem.subarray(s.data, s.dataEnd), ETH_HLEN);
    return out;
  }

  u32(field: keyof typeof SK_BUFF): number {
    return new DataView(this.vm.space.memory.buffer).getUint32(this.ctx.addr + SK_BUFF[field], true);
  }

  /** convert_skb_to___skb(): the fields ctx_out gets back. */
  writeBack(ctx: Uint8Array): void {
    const dv = new DataView(ctx.buffer, ctx.byteOffset, ctx.byteLength);
    const m = new DataView(this.vm.space.memory.buffer);
    const c = this.ctx.addr;
    for (const k of ['mark', 'priority', 'ingress_ifindex', 'ifindex', 'wire_len', 'gso_segs'] as const) {
      dv.setUint32(SK_BUFF[k], m.getUint32(c + SK_BUFF[k], true), true);
    }
    dv.setBigUint64(SK_BUFF.tstamp, m.getBigUint64(c + SK_BUFF.tstamp, true), true);
    dv.setBigUint64(SK_BUFF.hwtstamp, m.getBigUint64(c + SK_BUFF.hwtstamp, true), true);
    ctx.set(new Uint8Array(this.vm.space.memory.buffer, c + SK_BUFF.cb, 20), SK_BUFF.cb);
  }

  dispose(): void {
    setPacketState(this.vm, undefined);
    this.vm.space.free(this.ctx);
    this.vm.space.free(this.sock);
    this.vm.space.free(this.buffer);
  }
}

/** convert___skb_to_skb(): which ctx_in fields may be set, and their values. */
function skbMetaFromCtx(ctx: Uint8Array, len: number): SkbMeta {
  const dv = new DataView(ctx.buffer, ctx.byteOffset, ctx.byteLength);
  requireZero(ctx, 0, SK_BUFF.mark, 'len..queue_mapping... before mark');
  requireZero(ctx, SK_BUFF.mark + 4, SK_BUFF.priority, 'fields between mark and priority');
  requireZero(ctx, SK_BUFF.ifindex + 4, SK_BUFF.cb, 'tc_index');
  requireZero(ctx, SK_BUFF.cb + 20, SK_BUFF.tstamp, 'fields between cb and tstamp');
  requireZero(ctx, SK_BUFF.gso_segs + 4, SK_BUFF.gso_size, 'sk');
  requireZero(ctx, SK_BUFF.gso_size + 4, SK_BUFF.hwtstamp, 'tstamp_type');
  const ifindex = dv.getUint32(SK_BUFF.ifindex, true);
  if (ifindex > LOOPBACK_IFINDEX) throw new TestRunError('ENODEV', `no device with ifindex ${ifindex}`);
  const wireLen = dv.getUint32(SK_BUFF.wire_len, true);
  if (wireLen !== 0 && (wireLen < len || wireLen > 65536)) throw new TestRunError('EINVAL', `ctx_in: wire_len ${wireLen} is below len ${len} or above GSO_LEGACY_MAX_SIZE`);
  const gsoSegs = dv.getUint32(SK_BUFF.gso_segs, true);
  if (gsoSegs > 0xffff) throw new TestRunError('EINVAL', `ctx_in: gso_segs ${gsoSegs} above GSO_MAX_SEGS`);
  return {
    mark: dv.getUint32(SK_BUFF.mark, true), priority: dv.getUint32(SK_BUFF.priority, true),
    ingressIfindex: dv.getUint32(SK_BUFF.ingress_ifindex, true), tstamp: dv.getBigUint64(SK_BUFF.tstamp, true),
    cb: ctx.slice(SK_BUFF.cb, SK_BUFF.cb + 20), wireLen: wireLen || len, gsoSegs, gsoSize: dv.getUint32(SK_BUFF.gso_size, true),
    hwtstamp: dv.getBigUint64(SK_BUFF.hwtstamp, true),
  };
}

/** bpf_prog_test_run_skb(). */
export async function testRunSkb(input: TestRunInput): Promise<TestRunResult> {
  const data = input.dataIn ?? new Uint8Array(0);
  if (data.length < ETH_HLEN) throw new TestRunError('EINVAL', `data_in must hold at least ${ETH_HLEN} bytes`);
  if (data.length > PAGE_SIZE - SKB_PAD - SKB_TAILROOM) throw new TestRunError('EINVAL', `data_in is larger than ${PAGE_SIZE - SKB_PAD - SKB_TAILROOM} bytes`);
  const ctx = ctxInit(input, SK_BUFF_SIZE);
  const l2 = input.type === BPF_PROG_TYPE_SCHED_CLS || input.type === BPF_PROG_TYPE_SCHED_ACT;
  // An IPv4 or IPv6 EtherType needs its whole fixed header (pskb_may_pull() of the 6.18 test run).
  const { protocol } = ethTypeTrans(data);
  if (protocol === 0x0800 && data.length < ETH_HLEN + 20) throw new TestRunError('EINVAL', 'data_in: IPv4 frame shorter than its header');
  if (protocol === 0x86dd && data.length < ETH_HLEN + 40) throw new TestRunError('EINVAL', 'data_in: IPv6 frame shorter than its header');
  // convert___skb_to_skb(): an empty skb (a bare Ethernet header seen from the network layer)
  if (!l2 && data.length === ETH_HLEN) throw new TestRunError('EINVAL', 'data_in: no bytes after the Ethernet header');
  const meta = ctx ? skbMetaFromCtx(ctx, l2 ? data.length : data.length - ETH_HLEN) : {};
  const vm = input.vm ?? vmForType(input.type);
  const h = new SkbHarness(vm, input.type);
  try {
    h.load(data, { socketCookie: 1n, testRunSocket: true, ...meta });
    const p = prepareProgram(vm, input.insns, input.engine, input.budget);
    const { retval, duration } = timedRuns(p, h.ctx.addr, input.repeat, p.usesLdAbs ? h.packet() : undefined);
    const dataOut = dataFinish(input, h.output());
    if (ctx) h.writeBack(ctx);
    return { retval, duration, dataOut, ctxOut: ctxFinish(input, ctx) };
  } finally {
    h.dispose();
  }
}

function skbOps(type: number, name: string, v: Variant, retRange?: readonly [number, number]): ProgTypeOps {
  return Object.freeze({
    type, name, ctxName: 'struct __sk_buff', ctxSize: SK_BUFF_SIZE, fields: SK_BUFF_FIELDS,
    isValidAccess: (off: number, size: number, write: boolean) => accessOf(v, off, size, write),
    helperAllowed: (id: number) => helperAllowedFor(type, id),
    retRange,
    directPacketAccess: v === 'tc' || v === 'sk_skb',
    testRun: v === 'sk_skb' ? undefined : testRunSkb,
  });
}

export const SOCKET_FILTER_OPS = skbOps(BPF_PROG_TYPE_SOCKET_FILTER, 'socket_filter', 'socket');
export const SCHED_CLS_OPS = skbOps(BPF_PROG_TYPE_SCHED_CLS, 'sched_cls', 'tc');
export const SCHED_ACT_OPS = skbOps(BPF_PROG_TYPE_SCHED_ACT, 'sched_act', 'tc');
/** Ingress range; egress programs may also return 2 and 3 (congestion notification). */
export const CGROUP_SKB_OPS = skbOps(BPF_PROG_TYPE_CGROUP_SKB, 'cgroup_skb', 'cgroup', [0, 1]);
export const SK_SKB_OPS = skbOps(BPF_PROG_TYPE_SK_SKB, 'sk_skb', 'sk_skb');

/** TC_ACT_* names (include/uapi/linux/pkt_cls.h). */
export const TC_ACT_NAMES: Readonly<Record<number, string>> = {
  [-1]: 'TC_ACT_UNSPEC', 0: 'TC_ACT_OK', 1: 'TC_ACT_RECLASSIFY', 2: 'TC_ACT_SHOT', 3: 'TC_ACT_PIPE', 4: 'TC_ACT_STOLEN',
  5: 'TC_ACT_QUEUED', 6: 'TC_ACT_REPEAT', 7: 'TC_ACT_REDIRECT', 8: 'TC_ACT_TRAP',
};

/**
 * tc-bpf(8) without direct-action: a classifier's return value is the class. 0 = no match,
 * -1 = the filter's default classid (its `classid`), anything else = that classid (major:minor
 * in the upper/lower 16 bits), taking skb->tc_classid when the program set it.
 */
export function classifierResult(retval: number, tcClassid: number, defaultClassid: number): { match: boolean; classid: number } {
  const r = retval | 0;
  if (r === 0) return { match: false, classid: 0 };
  if (r === -1) return { match: true, classid: defaultClassid >>> 0 };
  return { match: true, classid: (tcClassid || r) >>> 0 };
}

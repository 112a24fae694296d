/*
 * The classic BPF interpreter: one flat switch over a pre-decoded program, A/X/M[] as 32-bit
 * values, no allocation per packet.
 *
 * Two flavours, chosen by whether the caller passes packet metadata:
 * - without meta: libpcap's pcapint_filter_with_aux_data() (bpf_filter.c) with no aux data, which
 *   is what pcap_offline_filter() and tcpdump -r run: loads past the captured length, division
 *   or modulo by zero, M[k] with k >= 16, unknown opcodes and jumps out of the program return 0;
 *   shifts by X >= 32 give 0; `ja` may jump backwards (libpcap's protochain) a bounded number
 *   of times (MAX_BACKWARD_JUMPS).
 * - with meta (a Linux socket filter): the kernel's semantics after bpf_convert_filter() -- ABS
 *   loads at SKF_AD_OFF + SKF_AD_* read the metadata (convert_bpf_extensions()), negative offsets
 *   from SKF_NET_OFF / SKF_LL_OFF are relative to the network / link-layer header
 *   (bpf_internal_load_pointer_neg_helper()), X + k of an indirect load wraps as a signed 32-bit
 *   offset, and shifts by X use the low 5 bits of X (eBPF's 32-bit ALU).
 * `len` (ld #len) is the wire length in both.
 */
import {
  BPF_MEMWORDS, type CInsn, SKF_AD_ALU_XOR_X, SKF_AD_CPU, SKF_AD_HATYPE, SKF_AD_IFINDEX,
  SKF_AD_MARK, SKF_AD_NLATTR, SKF_AD_NLATTR_NEST, SKF_AD_OFF, SKF_AD_PAY_OFFSET, SKF_AD_PKTTYPE,
  SKF_AD_PROTOCOL, SKF_AD_QUEUE, SKF_AD_RANDOM, SKF_AD_RXHASH, SKF_AD_VLAN_TAG, SKF_AD_VLAN_TAG_PRESENT,
  SKF_AD_VLAN_TPID, SKF_LL_OFF, SKF_NET_OFF,
} from './insn.js';

/**
 * What a Linux socket filter can see of an sk_buff besides its bytes. Every field is optional
 * (default 0 / absent). Values are in host order (protocol 0x0800 for IPv4).
 */
export interface PacketMeta {
  /** skb->protocol, host order (SKF_AD_PROTOCOL). */
  protocol?: number;
  /** skb->pkt_type: PACKET_HOST 0, BROADCAST 1, MULTICAST 2, OTHERHOST 3, OUTGOING 4 (SKF_AD_PKTTYPE). */
  pktType?: number;
  /** skb->dev->ifindex (SKF_AD_IFINDEX). */
  ifindex?: number;
  /** skb->dev->type, an ARPHRD_* value (SKF_AD_HATYPE; 1 = ARPHRD_ETHER). */
  hatype?: number;
  /** No device: IFINDEX and HATYPE loads end the program returning A, as the kernel's NULL skb->dev check. */
  noDevice?: boolean;
  mark?: number;
  /** skb->queue_mapping (SKF_AD_QUEUE). */
  queue?: number;
  /** skb->hash (SKF_AD_RXHASH). */
  rxhash?: number;
  /** The CPU the filter runs on (SKF_AD_CPU). */
  cpu?: number;
  /** VLAN TCI the NIC stripped (SKF_AD_VLAN_TAG). */
  vlanTci?: number;
  /** Whether a stripped VLAN tag is present (SKF_AD_VLAN_TAG_PRESENT). */
  vlanPresent?: boolean;
  /** The stripped tag's TPID, host order (SKF_AD_VLAN_TPID), e.g. 0x8100. */
  vlanTpid?: number;
  /** Flow dissector's payload offset (SKF_AD_PAY_OFFSET). */
  payOffset?: number;
  /** Source of SKF_AD_RANDOM (default Math.random). */
  random?: () => number;
  /** Offset of the network header in the packet; SKF_NET_OFF loads fail without it. */
  netHeader?: number;
  /** Offset of the link-layer header in the packet (usually 0); SKF_LL_OFF loads fail without it. */
  macHeader?: number;
}

/** A program decoded for the interpreter: 4 ints per instruction (code, jt, jf, k). */
export interface PreparedCbpf {
  readonly insns: readonly CInsn[];
  readonly flat: Int32Array;
  readonly length: number;
}

const prepared = new WeakMap<readonly CInsn[], PreparedCbpf>();

/**
 * Decode once for many runs. runCbpf() caches this per program array, so change a program by
 * making a new array (an edited array keeps its old decoding).
 */
export function prepareCbpf(prog: readonly CInsn[]): PreparedCbpf {
  let p = prepared.get(prog);
  if (p === undefined) {
    const flat = new Int32Array(prog.length * 4);
    prog.forEach((insn, i) => {
      flat[i * 4] = insn.code;
      flat[i * 4 + 1] = insn.jt;
      flat[i * 4 + 2] = insn.jf;
      flat[i * 4 + 3] = insn.k;
    });
    p = { insns: prog, flat, length: prog.length };
    prepared.set(prog, p);
  }
  return p;
}

/**
 * Backward `ja` allowed per packet. libpcap master stops at 64 (MAX_BACKWARD_JUMPS) with its own
 * protochain code; 1.10's interpreter has no limit, and its protochain code takes one backward
 * jump per IPv6 extension header (libpcap's "deepstack" test has 100 and must match). A larger
 * bound keeps every run finite and agrees with both on real packets.
 */
export const MAX_BACKWARD_JUMPS = 1024;
/** libpcap's interpreter accepts programs far longer than the kernel's 4096. */
export const PCAP_MAXINSNS = 3060000;

/** bpf_filter()'s first check: a program of `n` instructions runs at all (else every packet is rejected). */
export function cbpfRuns(n: number): boolean {
  return n >= 1 && n <= PCAP_MAXINSNS;
}

const mem = new Int32Array(BPF_MEMWORDS);
/** Set by loadLinux(): the load failed and the program ends, returning failResult. */
let loadFailed = false;
let failResult = 0;

/**
 * Run a classic program over a packet; the return value (unsigned 32-bit) is the number of bytes
 * to keep, 0 = drop. `packet` holds the captured bytes, `wireLen` the original length (`len`).
 * With `meta`, Linux socket-filter semantics (see the file comment); without, libpcap's.
 */
export function runCbpf(prog: readonly CInsn[] | PreparedCbpf, packet: Uint8Array, wireLen: number, meta?: PacketMeta): number {
  const p = Array.isArray(prog) ? prepareCbpf(prog as readonly CInsn[]) : prog as PreparedCbpf;
  const f = p.flat;
  const n = p.length;
  if (!cbpfRuns(n)) return 0;
  const buflen = packet.length;
  const linux = meta !== undefined;
  let A = 0;
  let X = 0;
  let pc = 0;
  let back = 0;
  let k = 0;
  let o = 0;
  mem.fill(0);
  for (;;) {
    if (pc >= n) return 0;
    const i = pc << 2;
    k = f[i + 3];
    pc++;
    switch (f[i]) {
      case 0x06: return k >>> 0; // ret #k
      case 0x16: return A >>> 0; // ret a
      // ---- ld [k]: big-endian packet loads ----
      case 0x20:
        if (k < 0 && linux) { A = loadLinux(packet, k, 4, meta, A, X); if (loadFailed) return failResult; continue; }
        o = k >>> 0;
        if (o + 4 > buflen) return 0;
        A = (packet[o] << 24) | (packet[o + 1] << 16) | (packet[o + 2] << 8) | packet[o + 3];
        continue;
      case 0x28:
        if (k < 0 && linux) { A = loadLinux(packet, k, 2, meta, A, X); if (loadFailed) return failResult; continue; }
        o = k >>> 0;
        if (o + 2 > buflen) return 0;
        A = (packet[o] << 8) | packet[o + 1];
        continue;
      case 0x30:
        if (k < 0 && linux) { A = loadLinux(packet, k, 1, meta, A, X); if (loadFailed) return failResult; continue; }
        o = k >>> 0;
        if (o >= buflen) return 0;
        A = packet[o];
        continue;
      // ---- ld [x + k] ----
      case 0x40:
        if (linux) { A = loadLinuxInd(packet, (X + k) | 0, 4, meta); if (loadFailed) return failResult; continue; }
        o = (X >>> 0) + (k >>> 0);
        if (o + 4 > buflen) return 0;
        A = (packet[o] << 24) | (packet[o + 1] << 16) | (packet[o + 2] << 8) | packet[o + 3];
        continue;
      case 0x48:
        if (linux) { A = loadLinuxInd(packet, (X + k) | 0, 2, meta); if (loadFailed) return failResult; continue; }
        o = (X >>> 0) + (k >>> 0);
        if (o + 2 > buflen) return 0;
        A = (packet[o] << 8) | packet[o + 1];
        continue;
      case 0x50:
        if (linux) { A = loadLinuxInd(packet, (X + k) | 0, 1, meta); if (loadFailed) return failResult; continue; }
        o = (X >>> 0) + (k >>> 0);
        if (o >= buflen) return 0;
        A = packet[o];
        continue;
      case 0xb1: // ldxb 4*([k]&0xf)
        if (k < 0 && linux) { o = loadLinuxInd(packet, k, 1, meta); if (loadFailed) return failResult; X = (o & 0xf) << 2; continue; }
        o = k >>> 0;
        if (o >= buflen) return 0;
        X = (packet[o] & 0xf) << 2;
        continue;
      case 0x80: A = wireLen | 0; continue; // ld #len
      case 0x81: X = wireLen | 0; continue; // ldx #len
      case 0x00: A = k; continue; // ld #k
      case 0x01: X = k; continue; // ldx #k
      case 0x60: if ((k >>> 0) >= BPF_MEMWORDS) return 0; A = mem[k]; continue;
      case 0x61: if ((k >>> 0) >= BPF_MEMWORDS) return 0; X = mem[k]; continue;
      case 0x02: if ((k >>> 0) >= BPF_MEMWORDS) return 0; mem[k] = A; continue;
      case 0x03: if ((k >>> 0) >= BPF_MEMWORDS) return 0; mem[k] = X; continue;
      // ---- jumps ----
      case 0x05: // ja: libpcap's checks (the kernel's checker only lets forward jumps in)
        if (((pc + k) >>> 0) >= n) return 0;
        if (k < 0 && (k === -1 || back++ >= MAX_BACKWARD_JUMPS)) return 0;
        pc += k;
        continue;
      case 0x25: pc += (A >>> 0) > (k >>> 0) ? f[i + 1] : f[i + 2]; continue;
      case 0x35: pc += (A >>> 0) >= (k >>> 0) ? f[i + 1] : f[i + 2]; continue;
      case 0x15: pc += A === k ? f[i + 1] : f[i + 2]; continue;
      case 0x45: pc += (A & k) !== 0 ? f[i + 1] : f[i + 2]; continue;
      case 0x2d: pc += (A >>> 0) > (X >>> 0) ? f[i + 1] : f[i + 2]; continue;
      case 0x3d: pc += (A >>> 0) >= (X >>> 0) ? f[i + 1] : f[i + 2]; continue;
      case 0x1d: pc += A === X ? f[i + 1] : f[i + 2]; continue;
      case 0x4d: pc += (A & X) !== 0 ? f[i + 1] : f[i + 2]; continue;
      // ---- ALU ----
      case 0x0c: A = (A + X) | 0; continue;
      case 0x1c: A = (A - X) | 0; continue;
      case 0x2c: A = Math.imul(A, X); continue;
      case 0x3c: if (X === 0) return 0; A = ((A >>> 0) / (X >>> 0)) | 0; continue;
      case 0x9c: if (X === 0) return 0; A = ((A >>> 0) % (X >>> 0)) | 0; continue;
      case 0x5c: A &= X; continue;
      case 0x4c: A |= X; continue;
      case 0xac: A ^= X; continue;
      case 0x6c: A = linux ? A << (X & 31) : (X >>> 0) < 32 ? A << X : 0; continue;
      case 0x7c: A = linux ? (A >>> (X & 31)) | 0 : (X >>> 0) < 32 ? (A >>> X) | 0 : 0; continue;
      case 0x04: A = (A + k) | 0; continue;
      case 0x14: A = (A - k) | 0; continue;
      case 0x24: A = Math.imul(A, k); continue;
      case 0x34: if (k === 0) return 0; A = ((A >>> 0) / (k >>> 0)) | 0; continue;
      case 0x94: if (k === 0) return 0; A = ((A >>> 0) % (k >>> 0)) | 0; continue;
      case 0x54: A &= k; continue;
      case 0x44: A |= k; continue;
      case 0xa4: A ^= k; continue;
      case 0x64: A = linux ? A << (k & 31) : (k >>> 0) < 32 ? A << k : 0; continue;
      case 0x74: A = linux ? (A >>> (k & 31)) | 0 : (k >>> 0) < 32 ? (A >>> k) | 0 : 0; continue;
      case 0x84: A = -A | 0; continue;
      case 0x07: X = A; continue; // tax
      case 0x87: A = X; continue; // txa
      default: return 0;
    }
  }
}

/** An ABS load at a negative offset in Linux mode: an ancillary field or a header-relative load. */
function loadLinux(packet: Uint8Array, k: number, size: number, meta: PacketMeta, A: number, X: number): number {
  loadFailed = false;
  failResult = 0;
  if (k >= SKF_AD_OFF) return ancillary(packet, k - SKF_AD_OFF, meta, A, X);
  return loadLinuxInd(packet, k, size, meta);
}

/** bpf_skb_load_helper_*: a packet load at a signed offset; loadFailed on failure. */
function loadLinuxInd(packet: Uint8Array, off: number, size: number, meta: PacketMeta): number {
  loadFailed = false;
  failResult = 0;
  let at: number;
  if (off >= 0) at = off;
  else if (off >= SKF_NET_OFF && meta.netHeader !== undefined) at = meta.netHeader + off - SKF_NET_OFF;
  else if (off < SKF_NET_OFF && off >= SKF_LL_OFF && meta.macHeader !== undefined) at = meta.macHeader + off - SKF_LL_OFF;
  else at = -1;
  if (at < 0 || at + size > packet.length) {
    loadFailed = true;
    return 0;
  }
  if (size === 1) return packet[at];
  if (size === 2) return (packet[at] << 8) | packet[at + 1];
  return (packet[at] << 24) | (packet[at + 1] << 16) | (packet[at + 2] << 8) | packet[at + 3];
}

/** convert_bpf_extensions(): what each SKF_AD_* load gives. */
function ancillary(packet: Uint8Array, ad: number, meta: PacketMeta, A: number, X: number): number {
  switch (ad) {
    case SKF_AD_PROTOCOL: return (meta.protocol ?? 0) & 0xffff;
    case SKF_AD_PKTTYPE: return (meta.pktType ?? 0) & 7;
    // no device: the kernel's converted code exits with A in r0
    case SKF_AD_IFINDEX: if (meta.noDevice) { loadFailed = true; failResult = A >>> 0; return 0; } return meta.ifindex ?? 0;
    case SKF_AD_HATYPE: if (meta.noDevice) { loadFailed = true; failResult = A >>> 0; return 0; } return (meta.hatype ?? 0) & 0xffff;
    case SKF_AD_MARK: return meta.mark ?? 0;
    case SKF_AD_QUEUE: return (meta.queue ?? 0) & 0xffff;
    case SKF_AD_RXHASH: return meta.rxhash ?? 0;
    case SKF_AD_CPU: return meta.cpu ?? 0;
    case SKF_AD_VLAN_TAG: return (meta.vlanTci ?? 0) & 0xffff;
    case SKF_AD_VLAN_TAG_PRESENT: return meta.vlanPresent ? 1 : 0;
    case SKF_AD_VLAN_TPID: return (meta.vlanTpid ?? 0) & 0xffff;
    case SKF_AD_PAY_OFFSET: return meta.payOffset ?? 0;
    case SKF_AD_RANDOM: return meta.random ? meta.random() | 0 : (Math.random() * 0x100000000) | 0;
    case SKF_AD_ALU_XOR_X: return A ^ X;
    case SKF_AD_NLATTR: return skbGetNlattr(packet, A >>> 0, X >>> 0);
    case SKF_AD_NLATTR_NEST: return skbGetNlattrNest(packet, A >>> 0, X >>> 0);
  }
  loadFailed = true;
  return 0;
}

const NLA_HDRLEN = 4;
const NLA_TYPE_MASK = 0x3fff;

/** nla_find(): offset (from the packet start) of the first attribute of `type` in [start, start+len). */
function nlaFind(packet: Uint8Array, start: number, len: number, type: number): number {
  let at = start;
  let rem = len;
  while (rem >= NLA_HDRLEN) {
    const nlaLen = packet[at] | (packet[at + 1] << 8);
    if (nlaLen < NLA_HDRLEN || nlaLen > rem) break;
    if (((packet[at + 2] | (packet[at + 3] << 8)) & NLA_TYPE_MASK) === type) return at;
    const step = (nlaLen + 3) & ~3;
    at += step;
    rem -= step;
  }
  return 0;
}

/** __skb_get_nlattr(): A = offset of netlink attribute X searched from offset A, or 0. */
export function skbGetNlattr(packet: Uint8Array, a: number, x: number): number {
  const len = packet.length;
  if (len < NLA_HDRLEN || a > len - NLA_HDRLEN) return 0;
  return nlaFind(packet, a, len - a, x);
}

/** __skb_get_nlattr_nest(): like skbGetNlattr, inside the attribute at offset A. */
export function skbGetNlattrNest(packet: Uint8Array, a: number, x: number): number {
  const len = packet.length;
  if (len < NLA_HDRLEN || a > len - NLA_HDRLEN) return 0;
  const nlaLen = packet[a] | (packet[a + 1] << 8);
  if (nlaLen > len - a) return 0;
  return nlaFind(packet, a + NLA_HDRLEN, nlaLen - NLA_HDRLEN, x);
}


/**
 * One load instruction (ld/ldh/ldb [k] or [x + k], ldxb 4*([k]&0xf)) with runCbpf()'s semantics,
 * for single-stepping: the value loaded, or `end` with the program's result when the load ends
 * the program. Not for hot loops (it allocates its answer).
 */
export function cbpfStepLoad(insn: CInsn, A: number, X: number, packet: Uint8Array, meta?: PacketMeta): { value: number } | { end: number } {
  const code = insn.code;
  const k = insn.k | 0;
  const size = code === 0xb1 ? 1 : (code & 0x18) === 0 ? 4 : (code & 0x18) === 0x08 ? 2 : 1;
  const ind = (code & 0xe0) === 0x40;
  let v: number;
  if (meta !== undefined && (ind || k < 0)) {
    v = !ind && code !== 0xb1 ? loadLinux(packet, k, size, meta, A, X) : loadLinuxInd(packet, ind ? (X + k) | 0 : k, size, meta);
    if (loadFailed) return { end: failResult };
  } else {
    const o = (ind ? X >>> 0 : 0) + (k >>> 0);
    if (o + size > packet.length) return { end: 0 };
    v = size === 1 ? packet[o] : size === 2 ? (packet[o] << 8) | packet[o + 1]
      : (packet[o] << 24) | (packet[o + 1] << 16) | (packet[o + 2] << 8) | packet[o + 3];
  }
  return { value: code === 0xb1 ? (v & 0xf) << 2 : v | 0 };
}

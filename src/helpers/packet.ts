/*
 * Packet helpers (net/core/filter.c), by kernel id, prototype and semantics: the bytes of the
 * current packet, its checksums, its head and tail, VLAN tags, redirects. They act on the packet
 * state the running program type installed for its VM (setPacketState()): a struct xdp_buff or
 * sk_buff as plain data, the context's pointer fields kept in step (the context holds VM
 * addresses, progtypes/), so after a helper that moves data the program reads new pointers.
 *
 * PACKET_HELPERS is a separate table beside helpers/table.ts's HELPERS; register both (the
 * program type's filter picks the allowed ones). Helpers that exist for XDP and tc with different
 * prototypes (bpf_redirect) look at the state's kind, as the kernel's two func_protos would.
 *
 * Checksums follow the kernel's one's-complement arithmetic on the bytes as little-endian words
 * (x86_64): csum_replace2/4, csum_replace_by_diff, csum_partial + csum_from32to16 for csum_diff.
 */
import { BpfError } from '../errors.js';
import { helperFuncName } from '../isa/disasm_xlated.js';
import { jhash2 } from '../maps/jhash.js';
import type { HelperCallContext } from '../vm/types.js';
import type { Vm } from '../vm/vm.js';
import { type HelperProto, arg, proto, ret } from './proto.js';
import type { HelperDef, HelperImpl } from './table.js';

/** A packet as the helpers see it: absolute VM addresses. */
export interface PacketState {
  kind: 'xdp' | 'skb';
  /** Buffer bounds: data_hard_start / skb->head, and the last usable byte + 1 (tailroom excluded). */
  head: number;
  hardEnd: number;
  data: number;
  dataEnd: number;
  meta: number;
  /** The context (struct xdp_md / __sk_buff) whose pointer fields follow the state. */
  ctx: number;
  /** skb: mac and network header addresses (skb_mac_header(), skb_network_header()). */
  mac: number;
  network: number;
  /** skb->protocol, host order. */
  protocol: number;
  vlanPresent: boolean;
  vlanTci: number;
  /** Host order. */
  vlanProto: number;
  hash: number;
  /** skb->l4_hash / sw_hash set (bpf_set_hash) */
  hashValid: boolean;
  /** bpf_get_socket_cookie() (0: no socket). */
  socketCookie: bigint;
  /** bpf_redirect()'s target, ifindex and flags (the datapath reads it after the program). */
  redirect?: { ifindex: number; flags: number };
  /** Packets bpf_clone_redirect() sent: bytes and target. */
  clones: { ifindex: number; flags: number; data: Uint8Array }[];
  /** The program changed the packet's bytes or shape (adjust/store/csum helpers). */
  modified: boolean;
  /** Ifindexes that exist (redirect targets): the loopback device by default. */
  devices: readonly number[];
  /** bpf_fib_lookup's table (host-configured). */
  fib?: FibTable;
}

/** A route for bpf_fib_lookup: IPv4 prefix -> egress device and neighbour MACs. */
export interface FibRoute {
  /** Network-order IPv4 address as 4 bytes and a prefix length. */
  prefix: Uint8Array;
  prefixLen: number;
  ifindex: number;
  smac: Uint8Array;
  dmac: Uint8Array;
  mtu?: number;
}
export interface FibTable { routes: FibRoute[] }

const states = new WeakMap<Vm, PacketState>();

/** Install (or clear) the packet the helpers of `vm` act on. */
export function setPacketState(vm: Vm, state: PacketState | undefined): void {
  if (state) states.set(vm, state);
  else states.delete(vm);
}

export function packetStateOf(vm: Vm): PacketState | undefined {
  return states.get(vm);
}

/** A fresh state with the defaults of a test run (loopback device, no VLAN, no hash). */
export function newPacketState(kind: 'xdp' | 'skb'): PacketState {
  return {
    kind, head: 0, hardEnd: 0, data: 0, dataEnd: 0, meta: 0, ctx: 0, mac: 0, network: 0, protocol: 0,
    vlanPresent: false, vlanTci: 0, vlanProto: 0, hash: 0, hashValid: false, socketCookie: 0n,
    clones: [], modified: false, devices: [1],
  };
}

// xdp_md and __sk_buff offsets of the fields helpers keep in step.
const XDP_MD = { data: 0, data_end: 4, data_meta: 8 };
const SKB = { len: 0, protocol: 16, vlan_present: 20, vlan_tci: 24, vlan_proto: 28, hash: 68, data: 76, data_end: 80, data_meta: 140 };

const swap16 = (v: number): number => ((v & 0xff) << 8) | ((v >> 8) & 0xff);

let lastBuffer: ArrayBuffer | SharedArrayBuffer | undefined;
let lastView: DataView | undefined;

/** A DataView of the memory, reused while the buffer stays the same (no allocation per packet). */
export function memoryView(vm: Vm): DataView {
  const b = vm.space.memory.buffer;
  if (b !== lastBuffer) {
    lastBuffer = b;
    lastView = new DataView(b);
  }
  return lastView!;
}

/** Write the state's pointer fields (and the skb's len, protocol, VLAN, hash) into the context. */
export function syncCtx(vm: Vm, s: PacketState): void {
  const dv = memoryView(vm);
  if (s.kind === 'xdp') {
    dv.setUint32(s.ctx + XDP_MD.data, s.data, true);
    dv.setUint32(s.ctx + XDP_MD.data_end, s.dataEnd, true);
    dv.setUint32(s.ctx + XDP_MD.data_meta, s.meta, true);
    return;
  }
  dv.setUint32(s.ctx + SKB.len, s.dataEnd - s.data, true);
  dv.setUint32(s.ctx + SKB.protocol, swap16(s.protocol), true);
  dv.setUint32(s.ctx + SKB.vlan_present, s.vlanPresent ? 1 : 0, true);
  dv.setUint32(s.ctx + SKB.vlan_tci, s.vlanTci, true);
  dv.setUint32(s.ctx + SKB.vlan_proto, swap16(s.vlanProto), true);
  dv.setUint32(s.ctx + SKB.hash, s.hash >>> 0, true);
  dv.setUint32(s.ctx + SKB.data, s.data, true);
  dv.setUint32(s.ctx + SKB.data_end, s.dataEnd, true);
  dv.setUint32(s.ctx + SKB.data_meta, s.meta, true);
}

// ---- errno and constants ----

const EINVAL = -22n, EFAULT = -14n, EACCES = -13n, ENOTSUPP = -524n, ENOMEM = -12n, EAGAIN = -11n;
const ETH_HLEN = 14;
const VLAN_HLEN = 4;
const XDP_FRAME_SIZE = 40;
const XDP_ABORTED = 0n, XDP_REDIRECT = 4n;
const TC_ACT_SHOT = 2n, TC_ACT_REDIRECT = 7n;
const BPF_F_RECOMPUTE_CSUM = 1n, BPF_F_INVALIDATE_HASH = 2n;
const BPF_F_HDR_FIELD_MASK = 0xfn, BPF_F_PSEUDO_HDR = 0x10n, BPF_F_MARK_MANGLED_0 = 0x20n, BPF_F_MARK_ENFORCE = 0x40n, BPF_F_IPV6 = 0x80n;
const BPF_F_INGRESS = 1n;
const ETH_P_IP = 0x0800, ETH_P_IPV6 = 0x86dd, ETH_P_8021Q = 0x8100, ETH_P_8021AD = 0x88a8;
/** loopback MTU + hard_header_len: __bpf_skb_max_len() with the loopback device. */
const SKB_MAX_LEN = 65536 + ETH_HLEN;

function stateOf(ctx: HelperCallContext, helper: string): PacketState {
  const s = states.get(ctx.vm as Vm);
  if (!s) throw new BpfError('EINVAL', `${helper}: no packet (the program type has none; insn #${ctx.pc})`);
  return s;
}

function mem(ctx: HelperCallContext): Uint8Array {
  return new Uint8Array((ctx.vm as Vm).space.memory.buffer);
}

function addr(r: bigint): number {
  return r <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(r) : -1;
}

/** A program pointer argument as a writable/readable view (EFAULT from the address space). */
function view(ctx: HelperCallContext, p: bigint, n: number): Uint8Array {
  return (ctx.vm as Vm).space.view(addr(p), n);
}

const s32 = (r: bigint): number => Number(BigInt.asIntN(32, r));
const u32 = (r: bigint): number => Number(r & 0xffffffffn);

function touched(ctx: HelperCallContext, s: PacketState): void {
  s.modified = true;
  syncCtx(ctx.vm as Vm, s);
}

// ---- one's-complement arithmetic (include/net/checksum.h, arch/x86/include/asm/checksum_64.h) ----

/** 32-bit one's-complement add (csum_add). */
export function csumAdd(a: number, b: number): number {
  const s = (a >>> 0) + (b >>> 0);
  return (s > 0xffffffff ? s - 0xffffffff : s) >>> 0;
}
export function csumSub(a: number, b: number): number {
  return csumAdd(a, ~b >>> 0);
}
/** csum_fold(): 32 -> 16 bits, complemented. */
export function csumFold(sum: number): number {
  let s = (sum & 0xffff) + (sum >>> 16);
  s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}
/** csum_partial() over bytes (little-endian 32-bit words, x86_64), from `seed`. */
export function csumPartial(b: Uint8Array, seed: number): number {
  let s = seed >>> 0;
  let i = 0;
  for (; i + 4 <= b.length; i += 4) s += (b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24)) >>> 0;
  if (i + 2 <= b.length) { s += b[i] | (b[i + 1] << 8); i += 2; }
  if (i < b.length) s += b[i];
  while (s > 0xffffffff) s = (s % 0x100000000) + Math.floor(s / 0x100000000);
  return s >>> 0;
}
/** csum_from32to16(): fold without complement. */
function from32to16(sum: number): number {
  let s = (sum & 0xffff) + (sum >>> 16);
  s = (s & 0xffff) + (s >>> 16);
  return s & 0xffff;
}

function readU16(m: Uint8Array, a: number): number { return m[a] | (m[a + 1] << 8); }
function writeU16(m: Uint8Array, a: number, v: number): void { m[a] = v & 0xff; m[a + 1] = (v >> 8) & 0xff; }

/** csum_replace_by_diff / csum_replace4 / csum_replace2 on the __sum16 at `a`. */
function csumReplace(m: Uint8Array, a: number, field: number, from: number, to: number): void {
  const sum = readU16(m, a);
  let tmp: number;
  if (field === 0) tmp = csumAdd(to, ~sum & 0xffff);
  else if (field === 4) tmp = csumAdd(csumSub(~sum & 0xffff, from), to);
  else tmp = csumAdd(csumSub(~sum & 0xffff, from & 0xffff), to & 0xffff);
  writeU16(m, a, csumFold(tmp));
}

// ---- skb shape changes ----

/** Move [from, from + n) to `to` in VM memory (memmove). */
function move(m: Uint8Array, to: number, from: number, n: number): void {
  m.copyWithin(to, from, from + n);
}

/** Insert `len` zero bytes at data + off (bpf_skb_net_hdr_push()): the head grows down. */
function skbPush(ctx: HelperCallContext, s: PacketState, off: number, len: number): boolean {
  if (s.data - len < s.head) return false;
  const m = mem(ctx);
  move(m, s.data - len, s.data, off);
  m.fill(0, s.data - len + off, s.data + off);
  s.data -= len;
  s.meta = s.data;
  s.mac = Math.max(s.head, s.mac - len);
  return true;
}

/** Remove `len` bytes at data + off (bpf_skb_net_hdr_pop()). */
function skbPop(ctx: HelperCallContext, s: PacketState, off: number, len: number): void {
  const m = mem(ctx);
  move(m, s.data + len, s.data, off);
  s.data += len;
  s.meta = s.data;
  s.mac += len;
}

function etherProto(m: Uint8Array, s: PacketState): number {
  return (m[s.mac + 12] << 8) | m[s.mac + 13];
}

// ---- the table ----

const I = ret('RET_INTEGER');
const ANY = arg('ARG_ANYTHING');
const CTX = arg('ARG_PTR_TO_CTX');
const MAP = arg('ARG_CONST_MAP_PTR');
const MEM_RO = arg('ARG_PTR_TO_MEM', 'MEM_RDONLY');
const UNINIT = arg('ARG_PTR_TO_MEM', 'MEM_UNINIT', 'MEM_WRITE');
const SIZE = arg('ARG_CONST_SIZE');
const SIZE0 = arg('ARG_CONST_SIZE_OR_ZERO');
const MEM_RO_NULL = arg('ARG_PTR_TO_MEM', 'PTR_MAYBE_NULL', 'MEM_RDONLY');

function id(name: string): number {
  for (let i = 0; i < 512; i++) if (helperFuncName(i) === `bpf_${name}`) return i;
  throw new Error(`packet helper table: no id for bpf_${name}`);
}

function def(name: string, p: HelperProto, impl: (ctx: HelperCallContext, r1: bigint, r2: bigint, r3: bigint, r4: bigint, r5: bigint) => bigint): HelperDef {
  const wrapped: HelperImpl = (_h, ctx, r1, r2, r3, r4, r5) => impl(ctx, r1, r2, r3, r4, r5);
  return Object.freeze({ id: id(name), name: `bpf_${name}`, proto: p, impl: wrapped });
}

/** skb bytes [data + off, data + off + len) inside the linear data (bpf_try_make_writable / skb_header_pointer). */
function inSkb(s: PacketState, off: number, len: number): boolean {
  return off >= 0 && len >= 0 && s.data + off + len <= s.dataEnd;
}

function flowHash(m: Uint8Array, s: PacketState): number {
  // A deterministic stand-in for __skb_get_hash()'s siphash over the flow keys: jhash2 of the
  // addresses, ports and protocol (the kernel's value depends on a boot-time random key).
  const key = new Uint8Array(40);
  const n = s.network;
  if (s.protocol === ETH_P_IP && n + 20 <= s.dataEnd) {
    key.set(m.subarray(n + 12, n + 20), 0);
    key[8] = m[n + 9];
    const ihl = (m[n] & 15) * 4;
    if (n + ihl + 4 <= s.dataEnd) key.set(m.subarray(n + ihl, n + ihl + 4), 12);
  } else if (s.protocol === ETH_P_IPV6 && n + 40 <= s.dataEnd) {
    key.set(m.subarray(n + 8, n + 40), 0);
    key[32] = m[n + 6];
    if (n + 44 <= s.dataEnd) key.set(m.subarray(n + 40, n + 44), 36);
  } else {
    return 0;
  }
  return jhash2(key, 0x5eed) || 1;
}

export const PACKET_HELPERS: readonly HelperDef[] = [
  // XDP: bpf_xdp_adjust_head / adjust_tail / adjust_meta
  def('xdp_adjust_head', proto(I, [CTX, ANY]), (ctx, _x, delta) => {
    const s = stateOf(ctx, 'bpf_xdp_adjust_head');
    const off = s32(delta);
    const metalen = s.data - s.meta;
    const data = s.data + off;
    if (data < s.head + XDP_FRAME_SIZE + metalen || data > s.dataEnd - ETH_HLEN) return EINVAL;
    if (metalen) move(mem(ctx), s.meta + off, s.meta, metalen);
    s.meta += off;
    s.data = data;
    touched(ctx, s);
    return 0n;
  }),
  def('xdp_adjust_tail', proto(I, [CTX, ANY]), (ctx, _x, delta) => {
    const s = stateOf(ctx, 'bpf_xdp_adjust_tail');
    const off = s32(delta);
    const end = s.dataEnd + off;
    if (end > s.hardEnd || end < s.data + ETH_HLEN) return EINVAL;
    if (off > 0) mem(ctx).fill(0, s.dataEnd, end);
    s.dataEnd = end;
    touched(ctx, s);
    return 0n;
  }),
  def('xdp_adjust_meta', proto(I, [CTX, ANY]), (ctx, _x, delta) => {
    const s = stateOf(ctx, 'bpf_xdp_adjust_meta');
    const meta = s.meta + s32(delta);
    if (meta < s.head + XDP_FRAME_SIZE || meta > s.data) return EINVAL;
    const metalen = s.data - meta;
    if ((metalen & 3) !== 0 || metalen > 255) return EACCES;
    s.meta = meta;
    touched(ctx, s);
    return 0n;
  }),
  def('xdp_get_buff_len', proto(I, [CTX]), (ctx) => {
    const s = stateOf(ctx, 'bpf_xdp_get_buff_len');
    return BigInt(s.dataEnd - s.data);
  }),
  def('xdp_load_bytes', proto(I, [CTX, ANY, UNINIT, SIZE]), (ctx, _x, offset, buf, len) => {
    const s = stateOf(ctx, 'bpf_xdp_load_bytes');
    const off = u32(offset), n = u32(len);
    if (s.data + off + n > s.dataEnd) return EINVAL;
    view(ctx, buf, n).set(mem(ctx).subarray(s.data + off, s.data + off + n));
    return 0n;
  }),
  def('xdp_store_bytes', proto(I, [CTX, ANY, MEM_RO, SIZE]), (ctx, _x, offset, buf, len) => {
    const s = stateOf(ctx, 'bpf_xdp_store_bytes');
    const off = u32(offset), n = u32(len);
    if (s.data + off + n > s.dataEnd) return EINVAL;
    mem(ctx).set(view(ctx, buf, n).slice(), s.data + off);
    s.modified = true;
    return 0n;
  }),

  // bpf_redirect: XDP (bpf_xdp_redirect) and tc (bpf_redirect) flavours
  def('redirect', proto(I, [ANY, ANY]), (ctx, ifindex, flags) => {
    const s = stateOf(ctx, 'bpf_redirect');
    if (s.kind === 'xdp') {
      if (flags) return XDP_ABORTED;
      s.redirect = { ifindex: u32(ifindex), flags: 0 };
      return XDP_REDIRECT;
    }
    if (flags & ~BPF_F_INGRESS) return TC_ACT_SHOT;
    s.redirect = { ifindex: u32(ifindex), flags: Number(flags) };
    return TC_ACT_REDIRECT;
  }),
  def('clone_redirect', proto(I, [CTX, ANY, ANY]), (ctx, _skb, ifindex, flags) => {
    const s = stateOf(ctx, 'bpf_clone_redirect');
    if (flags & ~BPF_F_INGRESS) return EINVAL;
    const dev = u32(ifindex);
    if (!s.devices.includes(dev)) return EINVAL;
    s.clones.push({ ifindex: dev, flags: Number(flags), data: mem(ctx).slice(s.mac, s.dataEnd) });
    return 0n;
  }),

  // skb bytes
  def('skb_load_bytes', proto(I, [CTX, ANY, UNINIT, SIZE]), (ctx, _skb, offset, to, len) => {
    const s = stateOf(ctx, 'bpf_skb_load_bytes');
    const n = u32(len);
    const out = view(ctx, to, n);
    const off = offset > 0x7fffffffn ? -1 : Number(offset);
    if (!inSkb(s, off, n)) { out.fill(0); return EFAULT; }
    out.set(mem(ctx).subarray(s.data + off, s.data + off + n));
    return 0n;
  }),
  def('skb_load_bytes_relative', proto(I, [CTX, ANY, UNINIT, SIZE, ANY]), (ctx, _skb, offset, to, len, start) => {
    const s = stateOf(ctx, 'bpf_skb_load_bytes_relative');
    const n = u32(len);
    const out = view(ctx, to, n);
    const base = start === 0n ? s.mac : start === 1n ? s.network : -1;
    const p = base + Number(BigInt.asUintN(32, offset));
    if (base < 0 || offset > 0xffffn || p < s.mac || p + n > s.dataEnd) { out.fill(0); return EFAULT; }
    out.set(mem(ctx).subarray(p, p + n));
    return 0n;
  }),
  def('skb_store_bytes', proto(I, [CTX, ANY, MEM_RO, SIZE, ANY]), (ctx, _skb, offset, from, len, flags) => {
    const s = stateOf(ctx, 'bpf_skb_store_bytes');
    if (flags & ~(BPF_F_RECOMPUTE_CSUM | BPF_F_INVALIDATE_HASH)) return EINVAL;
    if (offset > 0xffffn) return EFAULT;
    const off = Number(offset), n = u32(len);
    if (!inSkb(s, off, n)) return EFAULT;
    mem(ctx).set(view(ctx, from, n).slice(), s.data + off);
    if (flags & BPF_F_INVALIDATE_HASH) { s.hash = 0; s.hashValid = false; }
    touched(ctx, s);
    return 0n;
  }),
  def('l3_csum_replace', proto(I, [CTX, ANY, ANY, ANY, ANY]), (ctx, _skb, offset, from, to, flags) => {
    const s = stateOf(ctx, 'bpf_l3_csum_replace');
    if (flags & ~BPF_F_HDR_FIELD_MASK) return EINVAL;
    if (offset > 0xffffn || offset & 1n) return EFAULT;
    const off = Number(offset);
    if (!inSkb(s, off, 2)) return EFAULT;
    const field = Number(flags & BPF_F_HDR_FIELD_MASK);
    if (field === 0 && from !== 0n) return EINVAL;
    if (field !== 0 && field !== 2 && field !== 4) return EINVAL;
    csumReplace(mem(ctx), s.data + off, field, u32(from), u32(to));
    touched(ctx, s);
    return 0n;
  }),
  def('l4_csum_replace', proto(I, [CTX, ANY, ANY, ANY, ANY]), (ctx, _skb, offset, from, to, flags) => {
    const s = stateOf(ctx, 'bpf_l4_csum_replace');
    if (flags & ~(BPF_F_MARK_MANGLED_0 | BPF_F_MARK_ENFORCE | BPF_F_PSEUDO_HDR | BPF_F_HDR_FIELD_MASK | BPF_F_IPV6)) return EINVAL;
    if (offset > 0xffffn || offset & 1n) return EFAULT;
    const off = Number(offset);
    if (!inSkb(s, off, 2)) return EFAULT;
    const m = mem(ctx);
    const a = s.data + off;
    const mmzero = (flags & BPF_F_MARK_MANGLED_0) !== 0n;
    if (mmzero && !(flags & BPF_F_MARK_ENFORCE) && readU16(m, a) === 0) return 0n;
    const field = Number(flags & BPF_F_HDR_FIELD_MASK);
    if (field === 0 && from !== 0n) return EINVAL;
    if (field !== 0 && field !== 2 && field !== 4) return EINVAL;
    // ip_summed is CHECKSUM_NONE here: the pseudo-header flag changes nothing in the bytes.
    csumReplace(m, a, field, u32(from), u32(to));
    if (mmzero && readU16(m, a) === 0) writeU16(m, a, 0xffff);
    touched(ctx, s);
    return 0n;
  }),
  def('csum_diff', proto(I, [MEM_RO_NULL, SIZE0, MEM_RO_NULL, SIZE0, ANY], { pktAccess: true }), (ctx, from, fromSize, to, toSize, seed) => {
    const fs = u32(fromSize), ts = u32(toSize);
    if (((fs | ts) & 3) !== 0 || fs + ts > 512) return EINVAL;
    const sd = u32(seed);
    const a = fs ? view(ctx, from, fs) : new Uint8Array(0);
    const b = ts ? view(ctx, to, ts) : new Uint8Array(0);
    // bpf_csum_diff() of 6.13+: csum_from32to16() of the partial sums.
    if (fs && ts) return BigInt(from32to16(csumSub(csumPartial(b, sd), csumPartial(a, 0))));
    if (ts) return BigInt(from32to16(csumPartial(b, sd)));
    if (fs) return BigInt(from32to16(~csumPartial(a, ~sd >>> 0) >>> 0));
    return BigInt(sd);
  }),
  def('csum_update', proto(I, [CTX, ANY]), (_ctx) => 0n), // CHECKSUM_COMPLETE only: none here
  def('csum_level', proto(I, [CTX, ANY]), (_ctx, _skb, level) => (level === 3n ? 0n : level <= 2n ? 0n : EINVAL)),

  // skb head, tail and room
  def('skb_change_head', proto(I, [CTX, ANY, ANY]), (ctx, _skb, headRoom, flags) => {
    const s = stateOf(ctx, 'bpf_skb_change_head');
    if (flags || headRoom > 0x7fffffffn) return EINVAL;
    const room = Number(headRoom);
    const len = s.dataEnd - s.data;
    if (len + room > SKB_MAX_LEN) return EINVAL;
    if (!skbPush(ctx, s, 0, room)) return ENOMEM;
    s.mac = s.data;
    touched(ctx, s);
    return 0n;
  }),
  def('skb_change_tail', proto(I, [CTX, ANY, ANY]), (ctx, _skb, newLen, flags) => {
    const s = stateOf(ctx, 'bpf_skb_change_tail');
    const minLen = Math.max(0, s.network - s.data);
    if (flags || newLen > BigInt(SKB_MAX_LEN) || newLen < BigInt(minLen)) return EINVAL;
    const end = s.data + Number(newLen);
    if (end > s.hardEnd) return ENOMEM;
    if (end > s.dataEnd) mem(ctx).fill(0, s.dataEnd, end);
    s.dataEnd = end;
    touched(ctx, s);
    return 0n;
  }),
  def('skb_adjust_room', proto(I, [CTX, ANY, ANY, ANY]), (ctx, _skb, lenDiff, mode, flags) => {
    const s = stateOf(ctx, 'bpf_skb_adjust_room');
    const diff = s32(lenDiff);
    if (mode > 1n) return ENOTSUPP;
    if (flags & ~0x1ffn) return EINVAL; // BPF_F_ADJ_ROOM_* (encapsulation flags kept, not modelled)
    if (Math.abs(diff) > 0xfff) return EFAULT;
    if (s.protocol !== ETH_P_IP && s.protocol !== ETH_P_IPV6) return ENOTSUPP;
    const base = s.protocol === ETH_P_IP ? 20 : 40;
    const macLen = s.network - s.mac;
    const off = macLen + (mode === 0n ? base : 0);
    const len = s.dataEnd - s.data;
    if (diff < 0) {
      if (len - -diff < off + (mode === 0n ? 0 : base)) return ENOTSUPP;
      skbPop(ctx, s, s.mac - s.data + off, -diff);
    } else if (diff > 0) {
      if (len + diff > SKB_MAX_LEN) return ENOTSUPP;
      if (!skbPush(ctx, s, s.mac - s.data + off, diff)) return ENOMEM;
    }
    s.mac = s.data + (s.mac - s.data < 0 ? 0 : s.mac - s.data);
    s.network = s.mac + macLen;
    touched(ctx, s);
    return 0n;
  }),
  def('skb_change_proto', proto(I, [CTX, ANY, ANY]), (ctx, _skb, proto16, flags) => {
    const s = stateOf(ctx, 'bpf_skb_change_proto');
    if (flags) return EINVAL;
    const to = swap16(u32(proto16) & 0xffff);
    const macLen = s.network - s.mac;
    const off = s.mac - s.data + macLen;
    if (s.protocol === ETH_P_IP && to === ETH_P_IPV6) {
      if (!skbPush(ctx, s, off, 20)) return ENOMEM;
    } else if (s.protocol === ETH_P_IPV6 && to === ETH_P_IP) {
      if (s.dataEnd - s.data < off + 40) return EINVAL;
      skbPop(ctx, s, off, 20);
    } else if (s.protocol !== to) {
      return ENOTSUPP;
    } else {
      return 0n;
    }
    s.mac = s.data + Math.max(0, off - macLen);
    s.network = s.mac + macLen;
    s.protocol = to;
    touched(ctx, s);
    return 0n;
  }),
  def('skb_vlan_push', proto(I, [CTX, ANY, ANY]), (ctx, _skb, vlanProto, vlanTci) => {
    const s = stateOf(ctx, 'bpf_skb_vlan_push');
    let p = swap16(u32(vlanProto) & 0xffff);
    if (p !== ETH_P_8021Q && p !== ETH_P_8021AD) p = ETH_P_8021Q;
    if (s.vlanPresent) {
      // __vlan_insert_tag(): the current accelerated tag goes into the payload first.
      if (s.data !== s.mac) return EINVAL;
      if (!skbPush(ctx, s, 12, VLAN_HLEN)) return ENOMEM;
      const m = mem(ctx);
      s.mac = s.data;
      m[s.data + 12] = s.vlanProto >> 8; m[s.data + 13] = s.vlanProto & 0xff;
      m[s.data + 14] = (s.vlanTci >> 8) & 0xff; m[s.data + 15] = s.vlanTci & 0xff;
      s.protocol = s.vlanProto;
    }
    s.vlanPresent = true;
    s.vlanProto = p;
    s.vlanTci = u32(vlanTci) & 0xffff;
    touched(ctx, s);
    return 0n;
  }),
  def('skb_vlan_pop', proto(I, [CTX]), (ctx) => {
    const s = stateOf(ctx, 'bpf_skb_vlan_pop');
    const m = mem(ctx);
    const isVlan = (p: number): boolean => p === ETH_P_8021Q || p === ETH_P_8021AD;
    const popPayload = (): number | undefined => { // __skb_vlan_pop()
      if (s.dataEnd - s.mac < ETH_HLEN + VLAN_HLEN) return undefined;
      const tci = (m[s.mac + 14] << 8) | m[s.mac + 15];
      const inner = (m[s.mac + 16] << 8) | m[s.mac + 17];
      const macOff = s.mac - s.data;
      move(m, s.mac + VLAN_HLEN, s.mac, 12);
      if (macOff === 0) { s.data += VLAN_HLEN; s.meta = s.data; }
      s.mac += VLAN_HLEN;
      s.protocol = inner;
      return tci;
    };
    if (s.vlanPresent) {
      s.vlanPresent = false; s.vlanTci = 0; s.vlanProto = 0;
    } else {
      if (!isVlan(s.protocol)) return 0n;
      if (popPayload() === undefined) return EFAULT;
    }
    if (isVlan(s.protocol)) {
      const p = s.protocol;
      const tci = popPayload();
      if (tci === undefined) return EFAULT;
      s.vlanPresent = true; s.vlanProto = p; s.vlanTci = tci;
    }
    s.network = s.mac + ETH_HLEN;
    void etherProto;
    touched(ctx, s);
    return 0n;
  }),

  // hashes, cgroups, sockets
  def('get_hash_recalc', proto(I, [CTX]), (ctx) => {
    const s = stateOf(ctx, 'bpf_get_hash_recalc');
    if (!s.hashValid) { s.hash = flowHash(mem(ctx), s); s.hashValid = s.hash !== 0; syncCtx(ctx.vm as Vm, s); }
    return BigInt(s.hash >>> 0);
  }),
  def('set_hash_invalid', proto(I, [CTX]), (ctx) => {
    const s = stateOf(ctx, 'bpf_set_hash_invalid');
    s.hash = 0; s.hashValid = false;
    syncCtx(ctx.vm as Vm, s);
    return 0n;
  }),
  def('set_hash', proto(I, [CTX, ANY]), (ctx, _skb, hash) => {
    const s = stateOf(ctx, 'bpf_set_hash');
    s.hash = u32(hash); s.hashValid = true;
    syncCtx(ctx.vm as Vm, s);
    return 0n;
  }),
  def('skb_under_cgroup', proto(I, [CTX, MAP, ANY]), () => 0n),
  def('get_socket_cookie', proto(I, [CTX]), (ctx) => stateOf(ctx, 'bpf_get_socket_cookie').socketCookie),
  def('get_cgroup_classid', proto(I, [CTX]), () => 0n),
  def('get_route_realm', proto(I, [CTX]), () => 0n),
  def('skb_cgroup_id', proto(I, [CTX]), () => 0n),
  def('get_socket_uid', proto(I, [CTX]), () => 65534n), // overflowuid: the test run's socket has no owner

  // bpf_fib_lookup over the host's table (IPv4, struct bpf_fib_lookup)
  def('fib_lookup', proto(I, [CTX, arg('ARG_PTR_TO_MEM', 'MEM_WRITE'), SIZE, ANY]), (ctx, _c, params, plen, flags) => {
    const s = stateOf(ctx, 'bpf_fib_lookup');
    if (plen !== 64n) return EINVAL;
    if (flags & ~0x3fn) return EINVAL;
    const p = view(ctx, params, 64);
    const family = p[0];
    if (family !== 2) return BigInt(4); // BPF_FIB_LKUP_RET_NOT_FWDED for what the table cannot answer
    const dst = p.subarray(32, 36); // ipv4_dst
    let best: FibRoute | undefined;
    for (const r of s.fib?.routes ?? []) {
      let match = true;
      for (let bit = 0; bit < r.prefixLen; bit++) {
        const mask = 0x80 >> (bit & 7);
        if ((dst[bit >> 3] & mask) !== (r.prefix[bit >> 3] & mask)) { match = false; break; }
      }
      if (match && (!best || r.prefixLen > best.prefixLen)) best = r;
    }
    if (!best) return 4n; // BPF_FIB_LKUP_RET_NOT_FWDED
    const dv = new DataView(p.buffer, p.byteOffset, 64);
    dv.setUint32(8, best.ifindex, true);
    if (best.mtu) dv.setUint16(6, best.mtu, true); // mtu_result shares tot_len's slot
    p.set(best.smac.subarray(0, 6), 52);
    p.set(best.dmac.subarray(0, 6), 58);
    return 0n;
  }),
];

void EAGAIN;

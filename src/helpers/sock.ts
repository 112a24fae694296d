/*
 * Sockets as programs read them: struct bpf_sock (include/uapi/linux/bpf.h) in the VM's memory,
 * which skb->sk, bpf_sk_fullsock() and bpf_get_listener_sock() point to (the engines run the uapi
 * layouts; the kernel's bpf_sock_convert_ctx_access() reads the same values from struct sock),
 * and the helpers that turn one socket pointer into another (net/core/filter.c).
 *
 * The runtime's only socket is the one bpf_prog_test_run_skb() gives every test-run skb
 * (progtypes/skb.ts): never TCP, never listening. So bpf_tcp_sock() and bpf_get_listener_sock()
 * find nothing, and there is no struct bpf_tcp_sock to read.
 */
import type { HelperCallContext } from '../vm/types.js';
import type { Vm } from '../vm/vm.js';
import { arg, proto, ret } from './proto.js';
import type { HelperDef, HelperImpl } from './table.js';

/** struct bpf_sock offsets; 80 bytes. dst_port is a __be16 followed by 2 zero bytes. */
export const BPF_SOCK = {
  bound_dev_if: 0, family: 4, type: 8, protocol: 12, mark: 16, priority: 20, src_ip4: 24, src_ip6: 28,
  src_port: 44, dst_port: 48, dst_ip4: 52, dst_ip6: 56, state: 72, rx_queue_mapping: 76,
} as const;
export const BPF_SOCK_SIZE = 80;

export const AF_UNSPEC = 0, AF_INET = 2, AF_INET6 = 10;
/** include/net/tcp_states.h */
export const TCP_CLOSE = 7;
const TCP_TIME_WAIT = 6, TCP_LISTEN = 10, TCP_NEW_SYN_RECV = 12;

/** What a struct bpf_sock holds; addresses as the 4 or 16 network-order bytes. */
export interface SockFields {
  family: number; type?: number; protocol?: number; state: number;
  srcIp4?: Uint8Array; dstIp4?: Uint8Array; srcIp6?: Uint8Array; dstIp6?: Uint8Array;
  /** sk_rx_queue_mapping; -1: none (NO_QUEUE_MAPPING reads as -1) */
  rxQueueMapping?: number;
}

/** Fill the struct bpf_sock at `at` of `mem` (little endian), every field not given 0. */
export function writeBpfSock(mem: Uint8Array, at: number, s: SockFields): void {
  const dv = new DataView(mem.buffer, mem.byteOffset + at, BPF_SOCK_SIZE);
  new Uint8Array(mem.buffer, mem.byteOffset + at, BPF_SOCK_SIZE).fill(0);
  dv.setUint32(BPF_SOCK.family, s.family, true);
  dv.setUint32(BPF_SOCK.type, s.type ?? 0, true);
  dv.setUint32(BPF_SOCK.protocol, s.protocol ?? 0, true);
  dv.setUint32(BPF_SOCK.state, s.state, true);
  dv.setInt32(BPF_SOCK.rx_queue_mapping, s.rxQueueMapping ?? -1, true);
  const put = (off: number, b: Uint8Array | undefined): void => { if (b) mem.set(b, at + off); };
  put(BPF_SOCK.src_ip4, s.srcIp4); put(BPF_SOCK.dst_ip4, s.dstIp4);
  put(BPF_SOCK.src_ip6, s.srcIp6); put(BPF_SOCK.dst_ip6, s.dstIp6);
}

/** A u32 field of the struct bpf_sock at `sk` (EFAULT when no socket is there: unverified programs) */
function sockU32(ctx: HelperCallContext, sk: bigint, off: number): number {
  const b = (ctx.vm as Vm).space.view(Number(sk) + off, 4);
  return (b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24)) >>> 0;
}

/** sk_fullsock(): not a timewait or request socket */
const fullsock = (ctx: HelperCallContext, sk: bigint): boolean => {
  const state = sockU32(ctx, sk, BPF_SOCK.state);
  return state !== TCP_TIME_WAIT && state !== TCP_NEW_SYN_RECV;
};

const SOCK_COMMON = arg('ARG_PTR_TO_SOCK_COMMON');
function def(id: number, name: string, retType: 'RET_PTR_TO_SOCKET' | 'RET_PTR_TO_TCP_SOCK', f: (ctx: HelperCallContext, sk: bigint) => bigint): HelperDef {
  const impl: HelperImpl = (_h, ctx, sk) => f(ctx, sk);
  return Object.freeze({ id, name: `bpf_${name}`, proto: proto(ret(retType, 'PTR_MAYBE_NULL'), [SOCK_COMMON]), impl });
}

/** The socket helpers, by kernel id, with the prototypes the verifier checks them by. */
export const SOCK_HELPERS: readonly HelperDef[] = [
  def(95, 'sk_fullsock', 'RET_PTR_TO_SOCKET', (ctx, sk) => (fullsock(ctx, sk) ? sk : 0n)),
  // bpf_tcp_sock(): a full TCP socket; the runtime's sockets are not TCP (no struct bpf_tcp_sock to return)
  def(96, 'tcp_sock', 'RET_PTR_TO_TCP_SOCK', () => 0n),
  // bpf_get_listener_sock(): a full socket in TCP_LISTEN (with SOCK_RCU_FREE, which listeners have)
  def(98, 'get_listener_sock', 'RET_PTR_TO_SOCKET', (ctx, sk) => (fullsock(ctx, sk) && sockU32(ctx, sk, BPF_SOCK.state) === TCP_LISTEN ? sk : 0n)),
];

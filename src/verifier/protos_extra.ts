/*
 * Prototypes of helpers the runtime table (helpers/table.ts) does not implement yet, for the
 * verifier only, as net/core/filter.c and kernel/bpf/helpers.c declare them (Linux 6.18).
 * Helpers known by name but absent here get a permissive fallback (RET_INTEGER, no checked args).
 */
import { helperDef } from '../helpers/index.js';
import { SOCK_HELPERS } from '../helpers/sock.js';
import { type HelperProto, arg, fixedArg, proto, ret } from '../helpers/proto.js';
import { helperFuncName } from '../isa/disasm_xlated.js';

const I = ret('RET_INTEGER');
const CTX = arg('ARG_PTR_TO_CTX');
const ANY = arg('ARG_ANYTHING');
const MEM = arg('ARG_PTR_TO_MEM', 'MEM_RDONLY');
const MEM_OR_NULL = arg('ARG_PTR_TO_MEM', 'PTR_MAYBE_NULL', 'MEM_RDONLY');
const UNINIT = arg('ARG_PTR_TO_MEM', 'MEM_UNINIT', 'MEM_WRITE');
const SIZE = arg('ARG_CONST_SIZE');
const SIZE0 = arg('ARG_CONST_SIZE_OR_ZERO');
const MAP = arg('ARG_CONST_MAP_PTR');
const TIMER = arg('ARG_PTR_TO_TIMER');
const SKC_TO = proto(ret('RET_PTR_TO_BTF_ID', 'PTR_MAYBE_NULL'), [arg('ARG_PTR_TO_BTF_ID')]);

/**
 * The kernel struct a RET_PTR_TO_BTF_ID helper returns (its ret_btf_id) and whether it is
 * PTR_TRUSTED: bpf_get_current_task_btf() and the bpf_skc_to_*() casts (btf_sock_ids[]).
 */
export const RET_BTF_STRUCT: Readonly<Record<number, { readonly name: string; readonly trusted: boolean }>> = {
  158: { name: 'task_struct', trusted: true },
  136: { name: 'tcp6_sock', trusted: false }, 137: { name: 'tcp_sock', trusted: false },
  138: { name: 'tcp_timewait_sock', trusted: false }, 139: { name: 'tcp_request_sock', trusted: false },
  140: { name: 'udp6_sock', trusted: false }, 178: { name: 'unix_sock', trusted: false },
  196: { name: 'mptcp_sock', trusted: false },
};

/**
 * Kernel structs whose first member leads (at offset 0) to struct sock_common: what
 * btf_struct_ids_match() accepts for ARG_PTR_TO_BTF_ID_SOCK_COMMON.
 */
export const SOCK_COMMON_STRUCTS: ReadonlySet<string> = new Set([
  'sock_common', 'sock', 'inet_sock', 'inet_connection_sock', 'tcp_sock', 'tcp6_sock', 'udp_sock', 'udp6_sock',
  'unix_sock', 'mptcp_sock', 'inet_timewait_sock', 'tcp_timewait_sock', 'request_sock', 'inet_request_sock', 'tcp_request_sock',
]);

const EXTRA: Record<number, HelperProto> = {
  9: proto(I, [CTX, ANY, MEM, SIZE, ANY]), // skb_store_bytes
  10: proto(I, [CTX, ANY, ANY, ANY, ANY]), // l3_csum_replace
  11: proto(I, [CTX, ANY, ANY, ANY, ANY]), // l4_csum_replace
  13: proto(I, [CTX, ANY, ANY]), // clone_redirect
  17: proto(I, [CTX]), // get_cgroup_classid
  18: proto(I, [CTX, ANY, ANY]), // skb_vlan_push
  19: proto(I, [CTX]), // skb_vlan_pop
  20: proto(I, [CTX, UNINIT, SIZE, ANY]), // skb_get_tunnel_key
  21: proto(I, [CTX, MEM, SIZE, ANY]), // skb_set_tunnel_key
  26: proto(I, [CTX, ANY, UNINIT, SIZE]), // skb_load_bytes
  27: proto(I, [CTX, MAP, ANY]), // get_stackid
  28: proto(ret('RET_INTEGER'), [MEM_OR_NULL, SIZE0, MEM_OR_NULL, SIZE0, ANY], { pktAccess: true }), // csum_diff
  31: proto(I, [CTX, ANY, ANY]), // skb_change_proto
  32: proto(I, [CTX, ANY]), // skb_change_type
  34: proto(I, [CTX]), // get_hash_recalc
  38: proto(I, [CTX, ANY, ANY]), // skb_change_tail
  39: proto(I, [CTX, ANY]), // skb_pull_data
  40: proto(I, [CTX, ANY]), // csum_update
  43: proto(I, [CTX, ANY, ANY]), // skb_change_head
  44: proto(I, [CTX, ANY]), // xdp_adjust_head
  46: proto(I, [CTX]), // get_socket_cookie
  47: proto(I, [CTX]), // get_socket_uid
  50: proto(I, [CTX, ANY, ANY, ANY]), // skb_adjust_room
  54: proto(I, [CTX, ANY]), // xdp_adjust_meta
  57: proto(I, [CTX, ANY, ANY, UNINIT, SIZE]), // getsockopt
  65: proto(I, [CTX, ANY]), // xdp_adjust_tail
  67: proto(I, [CTX, UNINIT, SIZE0, ANY]), // get_stack
  68: proto(I, [CTX, ANY, UNINIT, SIZE, ANY]), // skb_load_bytes_relative
  81: proto(ret('RET_PTR_TO_MAP_VALUE'), [MAP, ANY]), // get_local_storage
  84: proto(ret('RET_PTR_TO_SOCKET', 'PTR_MAYBE_NULL'), [CTX, MEM, SIZE, ANY, ANY], { pktAccess: true }), // sk_lookup_tcp
  85: proto(ret('RET_PTR_TO_SOCKET', 'PTR_MAYBE_NULL'), [CTX, MEM, SIZE, ANY, ANY], { pktAccess: true }), // sk_lookup_udp
  86: proto(I, [arg('ARG_PTR_TO_BTF_ID', 'OBJ_RELEASE')]), // sk_release
  97: proto(I, [CTX]), // skb_ecn_set_ce
  99: proto(ret('RET_PTR_TO_SOCK_COMMON', 'PTR_MAYBE_NULL'), [CTX, MEM, SIZE, ANY, ANY], { pktAccess: true }), // skc_lookup_tcp
  122: proto(I, [arg('ARG_PTR_TO_CTX', 'PTR_MAYBE_NULL')]), // get_netns_cookie
  124: proto(I, [CTX, arg('ARG_PTR_TO_BTF_ID', 'PTR_MAYBE_NULL'), ANY]), // sk_assign
  // bpf_skc_to_*(): RET_PTR_TO_BTF_ID_OR_NULL of the struct in RET_BTF_STRUCT, from ARG_PTR_TO_BTF_ID_SOCK_COMMON
  136: SKC_TO, 137: SKC_TO, 138: SKC_TO, 139: SKC_TO, 140: SKC_TO, 178: SKC_TO, 196: SKC_TO,
  // timers (kernel/bpf/helpers.c); bpf_timer_set_callback's callback is verified as an async callback
  169: proto(I, [TIMER, MAP, ANY]), // timer_init
  170: proto(I, [TIMER, arg('ARG_PTR_TO_FUNC')], { callbackArg: 1 }), // timer_set_callback
  171: proto(I, [TIMER, ANY, ANY]), // timer_start
  172: proto(I, [TIMER]), // timer_cancel
  158: proto(ret('RET_PTR_TO_BTF_ID'), []), // get_current_task_btf: trusted_ptr_task_struct
  // find_vma (kernel/bpf/task_iter.c): its callback is verified as a synchronous callback
  180: proto(I, [arg('ARG_PTR_TO_BTF_ID'), ANY, arg('ARG_PTR_TO_FUNC'), arg('ARG_PTR_TO_STACK', 'PTR_MAYBE_NULL'), ANY], { callbackArg: 2 }),
  // dynptrs (kernel/bpf/helpers.c, kernel/bpf/ringbuf.c)
  197: proto(I, [UNINIT, SIZE0, ANY, arg('ARG_PTR_TO_DYNPTR', 'DYNPTR_TYPE_LOCAL', 'MEM_UNINIT', 'MEM_WRITE')]), // dynptr_from_mem
  198: proto(I, [MAP, ANY, ANY, arg('ARG_PTR_TO_DYNPTR', 'DYNPTR_TYPE_RINGBUF', 'MEM_UNINIT', 'MEM_WRITE')]), // ringbuf_reserve_dynptr
  199: proto(ret('RET_VOID'), [arg('ARG_PTR_TO_DYNPTR', 'DYNPTR_TYPE_RINGBUF', 'OBJ_RELEASE'), ANY]), // ringbuf_submit_dynptr
  200: proto(ret('RET_VOID'), [arg('ARG_PTR_TO_DYNPTR', 'DYNPTR_TYPE_RINGBUF', 'OBJ_RELEASE'), ANY]), // ringbuf_discard_dynptr
  201: proto(I, [UNINIT, SIZE0, arg('ARG_PTR_TO_DYNPTR', 'MEM_RDONLY'), ANY, ANY]), // dynptr_read
  202: proto(I, [arg('ARG_PTR_TO_DYNPTR', 'MEM_RDONLY'), ANY, MEM, SIZE0, ANY]), // dynptr_write
  203: proto(ret('RET_PTR_TO_MEM', 'PTR_MAYBE_NULL'), [arg('ARG_PTR_TO_DYNPTR', 'MEM_RDONLY'), ANY, arg('ARG_CONST_ALLOC_SIZE_OR_ZERO')]), // dynptr_data
  209: proto(I, [MAP, arg('ARG_PTR_TO_FUNC'), arg('ARG_PTR_TO_STACK', 'PTR_MAYBE_NULL'), ANY], { callbackArg: 1 }), // user_ringbuf_drain
};
void fixedArg;

const FALLBACK = proto(I, []);

/** The prototype the verifier checks a call to helper `id` against. */
export function helperProto(id: number): { name: string; proto: HelperProto } | undefined {
  const d = helperDef(id) ?? SOCK_HELPERS.find((h) => h.id === id);
  if (d) return { name: d.name, proto: d.proto };
  const name = helperFuncName(id);
  if (!name || id === 0) return undefined;
  return { name, proto: EXTRA[id] ?? FALLBACK };
}

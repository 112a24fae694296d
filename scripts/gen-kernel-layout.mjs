#!/usr/bin/env node
// Regenerates src/progtypes/kernel_layout.ts: the internal kernel struct offsets the verifier's
// post-verification rewrites use (convert_ctx_access(), map_gen_lookup()) and the helper call
// displacements (fn - __bpf_call_base) `prog dump xlated` prints, for the running kernel.
// Reads /sys/kernel/btf/vmlinux and /proc/kallsyms (root, kptr_restrict 0). Run after `npx tsc -p .`:
//   node scripts/gen-kernel-layout.mjs > src/progtypes/kernel_layout.ts
import { readFileSync } from 'node:fs';
import { release } from 'node:os';
import { parseBtf } from '../dist/src/btf/parse.js';
import { BTF_KIND } from '../dist/src/btf/types.js';
import { helperFuncName } from '../dist/src/isa/disasm_xlated.js';

/** struct.member paths (members of anonymous structs/unions are found through them). */
const FIELDS = [
  'xdp_buff.data', 'xdp_buff.data_end', 'xdp_buff.data_meta', 'xdp_buff.rxq', 'xdp_buff.txq',
  'xdp_rxq_info.dev', 'xdp_rxq_info.queue_index', 'xdp_txq_info.dev', 'net_device.ifindex',
  'sk_buff.len', 'sk_buff.protocol', 'sk_buff.vlan_proto', 'sk_buff.priority', 'sk_buff.skb_iif',
  'sk_buff.dev', 'sk_buff.hash', 'sk_buff.mark', 'sk_buff.__pkt_type_offset', 'sk_buff.queue_mapping',
  'sk_buff.vlan_all', 'sk_buff.vlan_tci', 'sk_buff.cb', 'sk_buff.data', 'sk_buff.tc_index',
  'sk_buff.napi_id', 'sk_buff.sk', 'sk_buff.tstamp', 'sk_buff.end', 'sk_buff.head',
  'sk_buff.__mono_tc_offset', 'sk_buff.__cloned_offset',
  'qdisc_skb_cb.pkt_len', 'qdisc_skb_cb.tc_classid', 'qdisc_skb_cb.data',
  'bpf_skb_data_end.data_meta', 'bpf_skb_data_end.data_end',
  'sock_common.skc_family', 'sock_common.skc_daddr', 'sock_common.skc_rcv_saddr',
  'sock_common.skc_v6_daddr', 'sock_common.skc_v6_rcv_saddr', 'sock_common.skc_dport', 'sock_common.skc_num',
  // struct bpf_sock / bpf_tcp_sock / bpf_xdp_sock reads (bpf_sock_convert_ctx_access() and friends)
  'sock_common.skc_bound_dev_if', 'sock_common.skc_state', 'sock.sk_mark', 'sock.sk_priority', 'sock.sk_type',
  'sock.sk_protocol', 'sock_common.skc_rx_queue_mapping', 'tcp_sock.rtt_min', 'minmax_sample.v', 'tcp_sock.snd_cwnd',
  'tcp_sock.srtt_us', 'tcp_sock.snd_ssthresh', 'tcp_sock.rcv_nxt', 'tcp_sock.snd_nxt', 'tcp_sock.snd_una',
  'tcp_sock.mss_cache', 'tcp_sock.ecn_flags', 'tcp_sock.rate_delivered', 'tcp_sock.rate_interval_us',
  'tcp_sock.packets_out', 'tcp_sock.retrans_out', 'tcp_sock.total_retrans', 'tcp_sock.segs_in',
  'tcp_sock.data_segs_in', 'tcp_sock.segs_out', 'tcp_sock.data_segs_out', 'tcp_sock.lost_out', 'tcp_sock.sacked_out',
  'tcp_sock.bytes_received', 'tcp_sock.bytes_acked', 'tcp_sock.dsack_dups', 'tcp_sock.delivered',
  'tcp_sock.delivered_ce', 'inet_connection_sock.icsk_retransmits', 'xdp_sock.queue_id',
  'skb_shared_info.gso_segs', 'skb_shared_info.gso_size', 'skb_shared_info.hwtstamps',
  'bpf_flow_dissector.data', 'bpf_flow_dissector.data_end', 'bpf_flow_dissector.flow_keys',
  'bpf_array.value', 'bpf_array.pptrs', 'htab_elem.key', 'htab_elem.lru_node', 'bpf_lru_node.ref',
];

/** Kernel functions a rewritten call may target besides the `bpf_<helper>` ones. */
const EXTRA_SYMBOLS = [
  // may_goto's timed loop check (do_misc_fixups()) and the kfuncs bpfkit implements (fixup_kfunc_call())
  'arch_bpf_timed_may_goto', 'bpf_iter_num_new', 'bpf_iter_num_next', 'bpf_iter_num_destroy',
  'bpf_skb_load_helper_8_no_cache', 'bpf_skb_load_helper_16_no_cache', 'bpf_skb_load_helper_32_no_cache',
  '__htab_map_lookup_elem', 'bpf_user_rnd_u32', 'bpf_get_raw_cpu_id', 'bpf_probe_read_compat',
  'bpf_probe_read_compat_str', 'bpf_skb_event_output', 'bpf_xdp_event_output', 'bpf_xdp_redirect', 'bpf_xdp_redirect_map',
  'bpf_xdp_fib_lookup', 'bpf_skb_fib_lookup', 'bpf_xdp_check_mtu', 'bpf_skb_check_mtu',
  'bpf_xdp_sk_lookup_tcp', 'bpf_xdp_sk_lookup_udp', 'bpf_xdp_skc_lookup_tcp',
  'bpf_tc_sk_lookup_tcp', 'bpf_tc_sk_lookup_udp', 'bpf_tc_skc_lookup_tcp',
  'sk_skb_pull_data', 'sk_skb_change_tail', 'sk_skb_change_head', 'sk_skb_adjust_room',
  'bpf_get_socket_cookie', 'bpf_get_socket_uid', 'bpf_flow_dissector_load_bytes', 'bpf_skb_get_pay_offset',
  'array_map_lookup_elem', 'array_map_update_elem', 'array_map_delete_elem',
  'percpu_array_map_lookup_elem', 'percpu_array_map_lookup_percpu_elem',
  'array_of_map_lookup_elem', 'htab_of_map_lookup_elem',
  'htab_map_lookup_elem', 'htab_map_update_elem', 'htab_map_delete_elem',
  'htab_lru_map_lookup_elem', 'htab_lru_map_update_elem', 'htab_lru_map_delete_elem',
  'htab_percpu_map_lookup_elem', 'htab_percpu_map_lookup_percpu_elem', 'htab_percpu_map_update_elem',
  'htab_lru_percpu_map_lookup_elem', 'htab_lru_percpu_map_lookup_percpu_elem', 'htab_lru_percpu_map_update_elem',
  'trie_lookup_elem', 'trie_update_elem', 'trie_delete_elem',
  'queue_stack_map_push_elem', 'queue_map_pop_elem', 'queue_map_peek_elem', 'stack_map_pop_elem', 'stack_map_peek_elem',
  'bloom_map_push_elem', 'bloom_map_peek_elem',
  'bpf_for_each_array_elem', 'bpf_for_each_hash_elem',
  'fd_array_map_delete_elem', 'bpf_fd_array_map_update_elem',
  'dev_map_lookup_elem', 'dev_map_hash_lookup_elem', 'dev_map_update_elem', 'dev_map_delete_elem',
  'cpu_map_lookup_elem', 'cpu_map_update_elem', 'cpu_map_delete_elem', 'xsk_map_lookup_elem',
  'ringbuf_map_lookup_elem',
];

/** Per-CPU variables whose address an inlined helper loads (from the .data..percpu DATASEC). */
const PERCPU = ['cpu_number'];

const btf = parseBtf(readFileSync('/sys/kernel/btf/vmlinux'));
const fail = (why) => { process.stderr.write(`gen-kernel-layout: ${why}\n`); process.exit(1); };

function struct(name) {
  for (const id of btf.findByName(name)) {
    const t = btf.type(id);
    if (t.kind === BTF_KIND.STRUCT || t.kind === BTF_KIND.UNION) return t;
  }
  fail(`no struct ${name} in /sys/kernel/btf/vmlinux`);
}

function typeSize(id) {
  const t = btf.type(btf.skipModsAndTypedefs(id));
  if (t.kind === BTF_KIND.PTR) return 8;
  if (t.kind === BTF_KIND.ARRAY) return t.nelems * typeSize(t.type);
  return t.size ?? 0;
}

/** Byte offset and size of `member` in t, looking through anonymous members. */
function find(t, member) {
  for (const m of t.members) {
    if (m.name === member) return { off: m.bitOffset / 8, size: m.bitfieldSize ? m.bitfieldSize / 8 : typeSize(m.type) };
    if (m.name === '') {
      const inner = btf.type(btf.skipModsAndTypedefs(m.type));
      if (inner.kind !== BTF_KIND.STRUCT && inner.kind !== BTF_KIND.UNION) continue;
      const r = find(inner, member);
      if (r) return { off: r.off + m.bitOffset / 8, size: r.size };
    }
  }
  return undefined;
}

const fields = {};
for (const path of FIELDS) {
  const [s, m] = path.split('.');
  const r = find(struct(s), m);
  if (!r) fail(`no member ${m} in struct ${s}`);
  fields[path] = r;
}

const syms = new Map();
for (const line of readFileSync('/proc/kallsyms', 'utf8').split('\n')) {
  const [addr, type, name, mod] = line.split(/\s+/);
  if (!name || mod || !/^[tT]$/.test(type) || syms.has(name)) continue;
  syms.set(name, BigInt('0x' + addr));
}
const base = syms.get('__bpf_call_base');
if (!base) fail('__bpf_call_base not in /proc/kallsyms (run as root with kptr_restrict 0)');
const wanted = new Set(EXTRA_SYMBOLS);
for (let id = 1; helperFuncName(id); id++) wanted.add(helperFuncName(id));
const calls = {};
for (const name of [...wanted].sort()) {
  const a = syms.get(name);
  if (a !== undefined) calls[name] = Number(BigInt.asIntN(32, a - base));
}

// CONFIG_NR_CPUS (MIN_NAPI_ID = NR_CPUS + 1): kernel_max is NR_CPUS - 1.
const nrCpus = Number(readFileSync('/sys/devices/system/cpu/kernel_max', 'utf8')) + 1;

const percpu = {};
for (const id of btf.findByName('.data..percpu', BTF_KIND.DATASEC)) {
  for (const v of btf.type(id).vars ?? []) {
    const name = btf.type(v.type).name;
    if (PERCPU.includes(name)) percpu[name] = v.offset;
  }
}

/** One entry a line: `'key': value,`. */
const table = (o, value) => '{\n' + Object.entries(o).map(([k, v]) => `    '${k}': ${value(v)},\n`).join('') + '  }';
process.stdout.write(`/*
 * GENERATED by scripts/gen-kernel-layout.mjs from /sys/kernel/btf/vmlinux and /proc/kallsyms of
 * Linux ${release()} (x86_64, Debian config). Do not edit; regenerate on the kernel to match:
 *   npx tsc -p . && node scripts/gen-kernel-layout.mjs > src/progtypes/kernel_layout.ts
 * The kernel's own structures (struct xdp_buff, sk_buff, qdisc_skb_cb, bpf_array, htab_elem ...)
 * that its context-access and map-lookup rewrites address, and each kernel function's call
 * displacement (func - __bpf_call_base) as \`prog dump xlated\` prints it after do_misc_fixups().
 */

export interface KernelField { readonly off: number; readonly size: number }

export interface KernelLayout {
  readonly kernel: string;
  /** 'struct.member' -> byte offset and size. */
  readonly fields: Readonly<Record<string, KernelField>>;
  /** Kernel function -> its BPF_CALL imm (address - __bpf_call_base). */
  readonly calls: Readonly<Record<string, number>>;
  /**
   * Per-CPU variable -> its offset in .data..percpu. The kernel's inlined helpers load the
   * variable's address, which moves with the kernel's load address (KASLR).
   */
  readonly percpu: Readonly<Record<string, number>>;
  /** CONFIG_NR_CPUS. */
  readonly nrCpus: number;
}

export const LINUX_6_18_X86_64_DEBIAN: KernelLayout = {
  kernel: '${release()}',
  fields: ${table(fields, (f) => `{ off: ${f.off}, size: ${f.size} }`)},
  calls: ${table(calls, String)},
  percpu: ${table(percpu, String)},
  nrCpus: ${nrCpus},
};
`);

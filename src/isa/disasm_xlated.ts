/*
 * The kernel's instruction printer (kernel/bpf/disasm.c, print_bpf_insn()) as bpftool uses it for
 * `prog dump xlated` (tools/bpf/bpftool/xlated_dumper.c, dump_xlated_plain()/dump_xlated_json()):
 *
 *      0: (b7) r0 = 2
 *      1: (18) r1 = map[id:5]
 *      3: (85) call bpf_map_lookup_elem#1
 *      4: (15) if r0 == 0x0 goto pc+1
 *      5: (61) r0 = *(u32 *)(r0 +0)
 *      6: (95) exit
 *
 * Every format string is the kernel's (Linux 6.13 era: movsx, ldsx, sdiv/smod, bswap, gotol,
 * may_goto, load_acquire/store_release, addr_space_cast). The program is read as the kernel dumps
 * it (bpf_insn_prepare_dump()): ld_imm64 of a map carries the map id in imm, and a bpf-to-bpf
 * call carries its displacement in off (imm then holds the callee's subprogram index). A call
 * with off 0 is taken to be in ISA form (displacement in imm), so plain programs print too.
 */
import type { Insn } from './insn.js';
import { kfuncByBtfId } from './kfuncs.js';
import {
  BPF_ABS, BPF_ADDR_SPACE_CAST, BPF_ALU, BPF_ALU64, BPF_AND, BPF_ATOMIC, BPF_CALL, BPF_CMPXCHG,
  BPF_DIV, BPF_DW, BPF_END, BPF_EXIT, BPF_FETCH, BPF_IMM, BPF_IND, BPF_JA, BPF_JCOND, BPF_JMP,
  BPF_JMP32, BPF_LD, BPF_LDX, BPF_MEM, BPF_MEMSX, BPF_MOD, BPF_MOV, BPF_NEG, BPF_OR,
  BPF_PSEUDO_CALL, BPF_PSEUDO_FUNC, BPF_PSEUDO_KFUNC_CALL, BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE,
  BPF_ST, BPF_STX, BPF_TO_BE, BPF_X, BPF_XCHG, BPF_XOR, BPF_ADD, bpfClass, bpfMode, bpfOp, bpfSize,
  bpfSrc,
} from './opcodes.js';

// GENERATED from include/uapi/linux/bpf.h __BPF_FUNC_MAPPER (Linux 6.13; ids 0..211): the
// kernel's func_id_str[] without the "bpf_" prefix.
const FUNC_NAMES: readonly string[] = [
  'unspec', 'map_lookup_elem', 'map_update_elem', 'map_delete_elem', 'probe_read', 'ktime_get_ns',
  'trace_printk', 'get_prandom_u32', 'get_smp_processor_id', 'skb_store_bytes', 'l3_csum_replace',
  'l4_csum_replace', 'tail_call', 'clone_redirect', 'get_current_pid_tgid', 'get_current_uid_gid',
  'get_current_comm', 'get_cgroup_classid', 'skb_vlan_push', 'skb_vlan_pop', 'skb_get_tunnel_key',
  'skb_set_tunnel_key', 'perf_event_read', 'redirect', 'get_route_realm', 'perf_event_output',
  'skb_load_bytes', 'get_stackid', 'csum_diff', 'skb_get_tunnel_opt', 'skb_set_tunnel_opt',
  'skb_change_proto', 'skb_change_type', 'skb_under_cgroup', 'get_hash_recalc', 'get_current_task',
  'probe_write_user', 'current_task_under_cgroup', 'skb_change_tail', 'skb_pull_data',
  'csum_update', 'set_hash_invalid', 'get_numa_node_id', 'skb_change_head', 'xdp_adjust_head',
  'probe_read_str', 'get_socket_cookie', 'get_socket_uid', 'set_hash', 'setsockopt',
  'skb_adjust_room', 'redirect_map', 'sk_redirect_map', 'sock_map_update', 'xdp_adjust_meta',
  'perf_event_read_value', 'perf_prog_read_value', 'getsockopt', 'override_return',
  'sock_ops_cb_flags_set', 'msg_redirect_map', 'msg_apply_bytes', 'msg_cork_bytes',
  'msg_pull_data', 'bind', 'xdp_adjust_tail', 'skb_get_xfrm_state', 'get_stack',
  'skb_load_bytes_relative', 'fib_lookup', 'sock_hash_update', 'msg_redirect_hash',
  'sk_redirect_hash', 'lwt_push_encap', 'lwt_seg6_store_bytes', 'lwt_seg6_adjust_srh',
  'lwt_seg6_action', 'rc_repeat', 'rc_keydown', 'skb_cgroup_id', 'get_current_cgroup_id',
  'get_local_storage', 'sk_select_reuseport', 'skb_ancestor_cgroup_id', 'sk_lookup_tcp',
  'sk_lookup_udp', 'sk_release', 'map_push_elem', 'map_pop_elem', 'map_peek_elem', 'msg_push_data',
  'msg_pop_data', 'rc_pointer_rel', 'spin_lock', 'spin_unlock', 'sk_fullsock', 'tcp_sock',
  'skb_ecn_set_ce', 'get_listener_sock', 'skc_lookup_tcp', 'tcp_check_syncookie',
  'sysctl_get_name', 'sysctl_get_current_value', 'sysctl_get_new_value', 'sysctl_set_new_value',
  'strtol', 'strtoul', 'sk_storage_get', 'sk_storage_delete', 'send_signal', 'tcp_gen_syncookie',
  'skb_output', 'probe_read_user', 'probe_read_kernel', 'probe_read_user_str',
  'probe_read_kernel_str', 'tcp_send_ack', 'send_signal_thread', 'jiffies64',
  'read_branch_records', 'get_ns_current_pid_tgid', 'xdp_output', 'get_netns_cookie',
  'get_current_ancestor_cgroup_id', 'sk_assign', 'ktime_get_boot_ns', 'seq_printf', 'seq_write',
  'sk_cgroup_id', 'sk_ancestor_cgroup_id', 'ringbuf_output', 'ringbuf_reserve', 'ringbuf_submit',
  'ringbuf_discard', 'ringbuf_query', 'csum_level', 'skc_to_tcp6_sock', 'skc_to_tcp_sock',
  'skc_to_tcp_timewait_sock', 'skc_to_tcp_request_sock', 'skc_to_udp6_sock', 'get_task_stack',
  'load_hdr_opt', 'store_hdr_opt', 'reserve_hdr_opt', 'inode_storage_get', 'inode_storage_delete',
  'd_path', 'copy_from_user', 'snprintf_btf', 'seq_printf_btf', 'skb_cgroup_classid',
  'redirect_neigh', 'per_cpu_ptr', 'this_cpu_ptr', 'redirect_peer', 'task_storage_get',
  'task_storage_delete', 'get_current_task_btf', 'bprm_opts_set', 'ktime_get_coarse_ns',
  'ima_inode_hash', 'sock_from_file', 'check_mtu', 'for_each_map_elem', 'snprintf', 'sys_bpf',
  'btf_find_by_name_kind', 'sys_close', 'timer_init', 'timer_set_callback', 'timer_start',
  'timer_cancel', 'get_func_ip', 'get_attach_cookie', 'task_pt_regs', 'get_branch_snapshot',
  'trace_vprintk', 'skc_to_unix_sock', 'kallsyms_lookup_name', 'find_vma', 'loop', 'strncmp',
  'get_func_arg', 'get_func_ret', 'get_func_arg_cnt', 'get_retval', 'set_retval',
  'xdp_get_buff_len', 'xdp_load_bytes', 'xdp_store_bytes', 'copy_from_user_task', 'skb_set_tstamp',
  'ima_file_hash', 'kptr_xchg', 'map_lookup_percpu_elem', 'skc_to_mptcp_sock', 'dynptr_from_mem',
  'ringbuf_reserve_dynptr', 'ringbuf_submit_dynptr', 'ringbuf_discard_dynptr', 'dynptr_read',
  'dynptr_write', 'dynptr_data', 'tcp_raw_gen_syncookie_ipv4', 'tcp_raw_gen_syncookie_ipv6',
  'tcp_raw_check_syncookie_ipv4', 'tcp_raw_check_syncookie_ipv6', 'ktime_get_tai_ns',
  'user_ringbuf_drain', 'cgrp_storage_get', 'cgrp_storage_delete',
];

/** The kernel's name of helper `id` (`bpf_map_lookup_elem`), or undefined. */
export function helperFuncName(id: number): string | undefined {
  const n = Number.isInteger(id) && id >= 0 ? FUNC_NAMES[id] : undefined;
  return n === undefined ? undefined : `bpf_${n}`;
}

export interface XlatedOptions {
  /**
   * Name of the kernel function the helper call at slot pc calls, checked first: after the
   * kernel's fix-ups a call's imm is the function's displacement from __bpf_call_base and
   * bpftool prints the function's kallsyms name (`call bpf_trace_printk#-62992`).
   */
  callName?: (pc: number) => string | undefined;
  /** Name of helper `id` (then the kernel's table; then "unknown"). */
  helperName?: (id: number) => string | undefined;
  /** Name of the kfunc a `call` with src 2 targets (bpftool: its kallsyms name); default "kernel-function". */
  kfuncName?: (imm: number) => string | undefined;
  /**
   * Text for the value of an ld_imm64 at slot pc (bpftool's print_imm(): `map[id:5]`,
   * `map[id:5][0]+16`, `subprog[+3]`, `0x...`); undefined = that default.
   */
  mapRef?: (insn: Insn, next: Insn | undefined, pc: number) => string | undefined;
  /** Suffix for a bpf-to-bpf call (bpftool with JIT: `#bpf_prog_<tag>_<name>`): the callee's name. */
  subprogName?: (targetPc: number) => string | undefined;
  /** bpftool's `opcodes`: each instruction's bytes on the next line. */
  opcodes?: boolean;
  /** BTF func_info: the prototype of the function starting at pc (`int prog(struct xdp_md * ctx)`). */
  funcProto?: (pc: number) => string | undefined;
  /** BTF line_info starting at pc: printed `; <source line>` above the instruction. */
  lineInfo?: (pc: number) => XlatedLineInfo | undefined;
  /** bpftool's `linum`: add `[file:F line_num:N line_col:C]` to each source line. */
  linum?: boolean;
}

export interface XlatedLineInfo {
  /** The source line text (leading blanks are trimmed, as bpftool's ltrim()). */
  line: string;
  file?: string;
  lineNum?: number;
  lineCol?: number;
}

const ALU_STRING: Record<number, string> = {
  0x00: '+=', 0x10: '-=', 0x20: '*=', 0x30: '/=', 0x40: '|=', 0x50: '&=', 0x60: '<<=', 0x70: '>>=',
  0x80: 'neg', 0x90: '%=', 0xa0: '^=', 0xb0: '=', 0xc0: 's>>=', 0xd0: 'endian',
};
const ALU_SIGN_STRING: Record<number, string> = { [BPF_DIV]: 's/=', [BPF_MOD]: 's%=' };
const MOVSX_STRING: Record<number, string> = { 8: '(s8)', 16: '(s16)', 32: '(s32)' };
const ATOMIC_ALU_STRING: Record<number, string> = { [BPF_ADD]: 'add', [BPF_AND]: 'and', [BPF_OR]: 'or', [BPF_XOR]: 'xor' };
const LDST_STRING: Record<number, string> = { 0x00: 'u32', 0x08: 'u16', 0x10: 'u8', 0x18: 'u64' };
const LDSX_STRING: Record<number, string> = { 0x00: 's32', 0x08: 's16', 0x10: 's8' };
const JMP_STRING: Record<number, string> = {
  0x00: 'jmp', 0x10: '==', 0x20: '>', 0xa0: '<', 0x30: '>=', 0xb0: '<=', 0x40: '&', 0x50: '!=',
  0x60: 's>', 0xc0: 's<', 0x70: 's>=', 0xd0: 's<=', 0x80: 'call', 0x90: 'exit',
};
const BPF_LOAD_ACQ = 0x100;
const BPF_STORE_REL = 0x110;
const BPF_NOSPEC = 0xc0;
const BPF_MAY_GOTO = 0;
const BPF_ADDR_PERCPU = -1;

/** printf's "%s" of a missing table entry, as glibc prints a NULL string. */
const str = (table: Record<number, string>, key: number): string => table[key] ?? '(null)';
const hex2 = (n: number): string => (n & 0xff).toString(16).padStart(2, '0');
/** printf "%+d". */
const signed = (n: number): string => (n >= 0 ? `+${n}` : String(n));

/** bpftool's print_imm() for an ld_imm64. */
function immText(insns: readonly Insn[], pc: number, options: XlatedOptions): string {
  const insn = insns[pc];
  const next = insns[pc + 1];
  const custom = options.mapRef?.(insn, next, pc);
  if (custom !== undefined) return custom;
  if (insn.src === BPF_PSEUDO_MAP_FD) return `map[id:${insn.imm >>> 0}]`;
  if (insn.src === BPF_PSEUDO_MAP_VALUE) return `map[id:${insn.imm >>> 0}][0]+${(next?.imm ?? 0) >>> 0}`;
  if (insn.src === BPF_PSEUDO_FUNC) return `subprog[${signed(insn.imm)}]`;
  const full = (BigInt((next?.imm ?? 0) >>> 0) << 32n) | BigInt(insn.imm >>> 0);
  return '0x' + full.toString(16);
}

/** print_bpf_insn() for the instruction at slot pc, without the index (`(b7) r0 = 2`). */
export function formatXlatedInsn(insns: readonly Insn[], pc: number, options: XlatedOptions = {}): string {
  const insn = insns[pc];
  const { code, dst, src, off, imm } = insn;
  const cls = bpfClass(code);
  const op = bpfOp(code);
  const c = `(${hex2(code)})`;
  if (cls === BPF_ALU || cls === BPF_ALU64) {
    const r = cls === BPF_ALU ? 'w' : 'r';
    if (op === BPF_END) {
      if (cls === BPF_ALU64) return `${c} r${dst} = bswap${imm} r${dst}`;
      return `${c} r${dst} = ${bpfSrc(code) === BPF_TO_BE ? 'be' : 'le'}${imm} r${dst}`;
    }
    if (op === BPF_NEG) return `${c} ${r}${dst} = -${r}${dst}`;
    if (code === (BPF_ALU64 | BPF_MOV | BPF_X) && off === BPF_ADDR_SPACE_CAST) {
      return `${c} r${dst} = addr_space_cast(r${src}, ${imm >>> 16}, ${imm & 0xffff})`;
    }
    if (code === (BPF_ALU64 | BPF_MOV | BPF_X) && off === BPF_ADDR_PERCPU) {
      return `${c} r${dst} = &(void __percpu *)(r${src})`;
    }
    const opText = (op === BPF_DIV || op === BPF_MOD) && off === 1 ? ALU_SIGN_STRING[op] : str(ALU_STRING, op);
    if (bpfSrc(code) === BPF_X) {
      const sx = op === BPF_MOV && (off === 8 || off === 16 || off === 32) ? MOVSX_STRING[off] : '';
      return `${c} ${r}${dst} ${opText} ${sx}${r}${src}`;
    }
    return `${c} ${r}${dst} ${opText} ${imm}`;
  }
  if (cls === BPF_STX) {
    const mode = bpfMode(code);
    const size = str(LDST_STRING, bpfSize(code));
    const is64 = bpfSize(code) === BPF_DW ? '64' : '';
    if (mode === BPF_MEM) return `${c} *(${size} *)(r${dst} ${signed(off)}) = r${src}`;
    if (mode === BPF_ATOMIC) {
      if (imm === BPF_ADD || imm === BPF_AND || imm === BPF_OR || imm === BPF_XOR) {
        return `${c} lock *(${size} *)(r${dst} ${signed(off)}) ${ALU_STRING[imm]} r${src}`;
      }
      const base = imm & ~BPF_FETCH;
      if ((imm & BPF_FETCH) && (base === BPF_ADD || base === BPF_AND || base === BPF_OR || base === BPF_XOR)) {
        return `${c} r${src} = atomic${is64}_fetch_${ATOMIC_ALU_STRING[base]}((${size} *)(r${dst} ${signed(off)}), r${src})`;
      }
      if (imm === BPF_CMPXCHG) return `${c} r0 = atomic${is64}_cmpxchg((${size} *)(r${dst} ${signed(off)}), r0, r${src})`;
      if (imm === BPF_XCHG) return `${c} r${src} = atomic${is64}_xchg((${size} *)(r${dst} ${signed(off)}), r${src})`;
      if (imm === BPF_LOAD_ACQ) return `${c} r${dst} = load_acquire((${size} *)(r${src} ${signed(off)}))`;
      if (imm === BPF_STORE_REL) return `${c} store_release((${size} *)(r${dst} ${signed(off)}), r${src})`;
    }
    return `BUG_${hex2(code)}`;
  }
  if (cls === BPF_ST) {
    const mode = bpfMode(code);
    if (mode === BPF_MEM) return `${c} *(${str(LDST_STRING, bpfSize(code))} *)(r${dst} ${signed(off)}) = ${imm}`;
    if (mode === BPF_NOSPEC) return `${c} nospec`;
    return `BUG_st_${hex2(code)}`;
  }
  if (cls === BPF_LDX) {
    const mode = bpfMode(code);
    if (mode !== BPF_MEM && mode !== BPF_MEMSX) return `BUG_ldx_${hex2(code)}`;
    const size = mode === BPF_MEM ? str(LDST_STRING, bpfSize(code)) : str(LDSX_STRING, bpfSize(code));
    return `${c} r${dst} = *(${size} *)(r${src} ${signed(off)})`;
  }
  if (cls === BPF_LD) {
    const mode = bpfMode(code);
    const size = str(LDST_STRING, bpfSize(code));
    if (mode === BPF_ABS) return `${c} r0 = *(${size} *)skb[${imm}]`;
    if (mode === BPF_IND) return `${c} r0 = *(${size} *)skb[r${src} + ${imm}]`;
    if (mode === BPF_IMM && bpfSize(code) === BPF_DW) return `${c} r${dst} = ${immText(insns, pc, options)}`;
    return `BUG_ld_${hex2(code)}`;
  }
  // BPF_JMP / BPF_JMP32
  const r = cls === BPF_JMP32 ? 'w' : 'r';
  if (op === BPF_CALL) {
    if (src === BPF_PSEUDO_CALL) {
      const disp = off !== 0 ? off : imm;
      const name = options.subprogName?.(pc + 1 + disp);
      return `${c} call pc${signed(disp)}${name !== undefined ? '#' + name : ''}`;
    }
    let name: string | undefined;
    // a kfunc call: by its BTF id as loaded, by its kernel function once fixed up (fixup_kfunc_call())
    if (src === BPF_PSEUDO_KFUNC_CALL) name = options.callName?.(pc) ?? options.kfuncName?.(imm) ?? (insn.off === 0 ? kfuncByBtfId(imm)?.name : undefined) ?? 'kernel-function';
    else if (src === 0) name = options.callName?.(pc) ?? options.helperName?.(imm) ?? helperFuncName(imm);
    return `${c} call ${name ?? 'unknown'}#${imm}`;
  }
  if (code === (BPF_JMP | BPF_JA)) return `${c} goto pc${signed(off)}`;
  if (code === (BPF_JMP | BPF_JA | BPF_X)) return `${c} gotox r${dst}`;
  if (code === (BPF_JMP | BPF_JCOND) && src === BPF_MAY_GOTO) return `${c} may_goto pc${signed(off)}`;
  if (code === (BPF_JMP32 | BPF_JA)) return `${c} gotol pc${signed(imm)}`;
  if (code === (BPF_JMP | BPF_EXIT)) return `${c} exit`;
  if (bpfSrc(code) === BPF_X) return `${c} if ${r}${dst} ${str(JMP_STRING, op)} ${r}${src} goto pc${signed(off)}`;
  return `${c} if ${r}${dst} ${str(JMP_STRING, op)} 0x${(imm >>> 0).toString(16)} goto pc${signed(off)}`;
}

function slotBytes(insn: Insn): number[] {
  const b = [insn.code & 0xff, ((insn.src & 0xf) << 4) | (insn.dst & 0xf), insn.off & 0xff, (insn.off >> 8) & 0xff];
  for (let s = 0; s < 32; s += 8) b.push((insn.imm >>> s) & 0xff);
  return b;
}

const isDouble = (insn: Insn): boolean => insn.code === (BPF_LD | BPF_IMM | BPF_DW);

/** printf("% 4d: ", i). */
function indexText(i: number): string {
  return (' ' + i).padStart(4);
}

/** `bpftool prog dump xlated` text: one `% 4d: ` line per instruction (ld_imm64 takes one for two slots). */
export function formatXlated(insns: readonly Insn[], options: XlatedOptions = {}): string {
  let out = '';
  for (let i = 0; i < insns.length; i++) {
    const proto = options.funcProto?.(i);
    if (proto) out += `${proto}:\n`;
    const linfo = options.lineInfo?.(i);
    if (linfo) {
      // btf_dump_linfo_plain()
      out += `; ${linfo.line.trimStart()}`;
      if (options.linum) out += ` [file:${linfo.file ?? ''} line_num:${linfo.lineNum ?? 0} line_col:${linfo.lineCol ?? 0}]`;
      out += '\n';
    }
    out += `${indexText(i)}: ${formatXlatedInsn(insns, i, options)}\n`;
    const double = isDouble(insns[i]);
    if (options.opcodes) {
      let bytes = slotBytes(insns[i]);
      if (double && i + 1 < insns.length) bytes = bytes.concat(slotBytes(insns[i + 1]));
      out += `       ${bytes.map(hex2).join(' ')}\n`;
    }
    if (double) i++;
  }
  return out;
}

export interface XlatedJsonInsn {
  proto?: string;
  src?: string;
  file?: string;
  line_num?: number;
  line_col?: number;
  disasm: string;
  opcodes?: { code: string; src_reg: string; dst_reg: string; off: string[]; imm: string[] };
}

/** `bpftool -j prog dump xlated` (dump_xlated_json()): one object per instruction, in bpftool's key order. */
export function xlatedJson(insns: readonly Insn[], options: XlatedOptions = {}): XlatedJsonInsn[] {
  const out: XlatedJsonInsn[] = [];
  for (let i = 0; i < insns.length; i++) {
    const insn = insns[i];
    const double = isDouble(insn);
    const entry = {} as XlatedJsonInsn;
    const proto = options.funcProto?.(i);
    if (proto) entry.proto = proto;
    const linfo = options.lineInfo?.(i);
    if (linfo) {
      // btf_dump_linfo_json()
      entry.src = linfo.line.trimStart();
      if (options.linum) {
        if (linfo.file !== undefined) entry.file = linfo.file;
        if (linfo.lineNum) entry.line_num = linfo.lineNum;
        if (linfo.lineCol) entry.line_col = linfo.lineCol;
      }
    }
    entry.disasm = formatXlatedInsn(insns, i, options);
    if (options.opcodes) {
      const bytes = slotBytes(insn);
      let imm = bytes.slice(4);
      if (double && i + 1 < insns.length) imm = imm.concat(slotBytes(insns[i + 1]));
      entry.opcodes = {
        code: '0x' + hex2(insn.code),
        src_reg: '0x' + (insn.src & 0xf).toString(16),
        dst_reg: '0x' + (insn.dst & 0xf).toString(16),
        off: bytes.slice(2, 4).map((b) => '0x' + hex2(b)),
        imm: imm.map((b) => '0x' + hex2(b)),
      };
    }
    out.push(entry);
    if (double) i++;
  }
  return out;
}

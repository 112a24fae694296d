/*
 * What every program type provides (the kernel's struct bpf_verifier_ops + bpf_prog_ops, as data
 * the verifier and the runtime both read): the context struct and its layout, which context
 * accesses are valid (is_valid_access()), how an access is rewritten for the xlated program
 * (convert_ctx_access(), described, not emitted), the helpers a program may call (get_func_proto()),
 * the return values the verifier accepts, and BPF_PROG_TEST_RUN.
 *
 * Contexts are laid out so programs that read them without the verifier's rewrite still work:
 * pointer fields (data, data_end, data_meta) hold 32-bit VM addresses (the memory is a
 * WebAssembly.Memory, so every address fits), as progtypes/xdp.ts started it.
 */
import { BpfError } from '../errors.js';
import type { Insn } from '../isa/insn.js';

/** The test-run failure the kernel would report, as an errno. */
export class TestRunError extends BpfError {}

/** enum bpf_attach_type (include/uapi/linux/bpf.h), index = value. */
export const ATTACH_TYPE_NAMES: readonly string[] = [
  'cgroup_inet_ingress', 'cgroup_inet_egress', 'cgroup_inet_sock_create', 'cgroup_sock_ops',
  'sk_skb_stream_parser', 'sk_skb_stream_verdict', 'cgroup_device', 'sk_msg_verdict', 'cgroup_inet4_bind',
  'cgroup_inet6_bind', 'cgroup_inet4_connect', 'cgroup_inet6_connect', 'cgroup_inet4_post_bind',
  'cgroup_inet6_post_bind', 'cgroup_udp4_sendmsg', 'cgroup_udp6_sendmsg', 'lirc_mode2', 'flow_dissector',
  'cgroup_sysctl', 'cgroup_udp4_recvmsg', 'cgroup_udp6_recvmsg', 'cgroup_getsockopt', 'cgroup_setsockopt',
  'trace_raw_tp', 'trace_fentry', 'trace_fexit', 'modify_return', 'lsm_mac', 'trace_iter',
  'cgroup_inet4_getpeername', 'cgroup_inet6_getpeername', 'cgroup_inet4_getsockname', 'cgroup_inet6_getsockname',
  'xdp_devmap', 'cgroup_inet_sock_release', 'xdp_cpumap', 'sk_lookup', 'xdp', 'sk_skb_verdict',
  'sk_reuseport_select', 'sk_reuseport_select_or_migrate', 'perf_event', 'trace_kprobe_multi', 'lsm_cgroup',
  'struct_ops', 'netfilter', 'tcx_ingress', 'tcx_egress', 'trace_uprobe_multi', 'cgroup_unix_connect',
  'cgroup_unix_sendmsg', 'cgroup_unix_recvmsg', 'cgroup_unix_getpeername', 'cgroup_unix_getsockname',
  'netkit_primary', 'netkit_peer', 'trace_kprobe_session',
];

/** The value of enum bpf_attach_type's BPF_<NAME> (lower case, without BPF_); throws for a name not in the table. */
export function attachTypeId(name: string): number {
  const id = ATTACH_TYPE_NAMES.indexOf(name);
  if (id < 0) throw new Error(`unknown attach type ${name}`);
  return id;
}

/** An XDP program run by a DEVMAP entry (it may read egress_ifindex). */
export const BPF_XDP_DEVMAP = attachTypeId('xdp_devmap');

/** What a context field holds, as the verifier types the loaded register. */
export type CtxFieldKind = 'scalar' | 'pkt' | 'pkt_end' | 'pkt_meta' | 'flow_keys' | 'sock' | 'ctx_ptr';

export interface CtxField {
  readonly name: string;
  readonly off: number;
  /** Size of the field in the uapi struct. */
  readonly size: number;
  readonly kind: CtxFieldKind;
  /** Narrower loads (1/2 bytes of a u32, 4 of a u64) are allowed (bpf_ctx_narrow_access_ok()). */
  readonly narrow: boolean;
  /** Stores allowed (at the field's full size). */
  readonly write: boolean;
  /** Array fields (cb[5], remote_ip6[4]): element size; each element is accessed alone. */
  readonly elem?: number;
}

/** A verdict of is_valid_access(): the register type a load produces, or the verifier's message. */
export type CtxAccess =
  | { readonly ok: true; readonly field: CtxField; readonly kind: CtxFieldKind }
  | { readonly ok: false; readonly message: string };

/**
 * One step of a context access rewrite as `prog dump xlated` shows it: a load from the kernel's
 * internal structure (`dst = *(u64 *)(src + off)`), a chain for nested pointers.
 */
export interface CtxRewriteStep {
  readonly op: 'ldx' | 'stx' | 'alu';
  readonly size: 1 | 2 | 4 | 8;
  /** Offset in the internal struct (kernel 6.18, x86_64), or the ALU immediate. */
  readonly off: number;
  /** Internal field the step reads (for documentation and dumps). */
  readonly what: string;
}

export interface TestRunInput {
  insns: readonly Insn[];
  /** BPF_PROG_TYPE_*. */
  type: number;
  /** Section name (expected attach type, XDP flavours). */
  section: string;
  dataIn?: Uint8Array;
  /** Room the caller gives for data_out (0: unlimited). */
  dataSizeOut: number;
  ctxIn?: Uint8Array;
  /** Whether a ctx_out buffer is passed, and its size. */
  ctxOut?: { size: number };
  repeat: number;
  engine: 'interp' | 'jit';
  budget?: number;
  /**
   * The VM to run on (a Bpf kernel's, so its maps are visible); default: a fresh one. Its helper
   * registry must already hold the helpers the program calls.
   */
  vm?: import('../vm/vm.js').Vm;
}

export interface TestRunResult {
  retval: number;
  /** Average nanoseconds per run, as the kernel reports it. */
  duration: number;
  dataOut: Uint8Array;
  ctxOut?: Uint8Array;
}

export interface ProgTypeOps {
  /** BPF_PROG_TYPE_* and libbpf's name ('sched_cls'). */
  readonly type: number;
  readonly name: string;
  /** The uapi context struct: 'struct __sk_buff'. */
  readonly ctxName: string;
  readonly ctxSize: number;
  readonly fields: readonly CtxField[];
  /** is_valid_access(off, size, type, prog, info); some fields depend on prog->expected_attach_type. */
  isValidAccess(off: number, size: number, write: boolean, expectedAttachType?: number): CtxAccess;
  /** convert_ctx_access(): the rewrite of a valid access (empty: left as is). */
  convertCtxAccess?(off: number, size: number, write: boolean): readonly CtxRewriteStep[];
  /** get_func_proto() != NULL for helper id. */
  helperAllowed(id: number): boolean;
  /** The return values the verifier accepts (check_return_code()); undefined: any. */
  readonly retRange?: readonly [number, number];
  /** Packet data is reachable directly (data/data_end), so helpers that change it invalidate packet pointers. */
  readonly directPacketAccess: boolean;
  /** BPF_PROG_TEST_RUN; undefined: the kernel answers ENOTSUPP. */
  testRun?(input: TestRunInput): Promise<TestRunResult>;
}

const einval = (why: string): never => { throw new TestRunError('EINVAL', why); };

/**
 * is_valid_access over a field table, with the checks every type shares: in bounds, aligned
 * (off % size), a field's full size or an allowed narrow load, writes only to writable fields.
 * The messages are the verifier's ("invalid bpf_context access off=%d size=%d").
 */
export function accessByTable(fields: readonly CtxField[], ctxSize: number, off: number, size: number, write: boolean): CtxAccess {
  const bad = { ok: false as const, message: `invalid bpf_context access off=${off} size=${size}` };
  if (off < 0 || off + size > ctxSize || off % size !== 0) return bad;
  if (size !== 1 && size !== 2 && size !== 4 && size !== 8) return bad;
  for (const f of fields) {
    if (off < f.off || off >= f.off + f.size) continue;
    const unit = f.elem ?? f.size;
    const start = f.off + Math.floor((off - f.off) / unit) * unit;
    if (off + size > start + unit) return bad;
    if (write) {
      if (!f.write || size !== unit || off !== start) return bad;
      return { ok: true, field: f, kind: f.kind };
    }
    if (size === unit && off === start) return { ok: true, field: f, kind: f.kind };
    if (!f.narrow || f.kind !== 'scalar') return bad;
    return { ok: true, field: f, kind: f.kind };
  }
  return bad;
}

/** bpf_ctx_init(): ctx_in may be longer than the struct only when the extra bytes are zero. */
export function ctxInit(input: TestRunInput, size: number): Uint8Array | undefined {
  if (!input.ctxIn && !input.ctxOut) return undefined;
  const buf = new Uint8Array(size);
  if (input.ctxIn) {
    if (input.ctxIn.length > size && input.ctxIn.subarray(size).some((b) => b !== 0)) {
      throw new TestRunError('E2BIG', `ctx_in has non-zero bytes beyond the ${size}-byte context`);
    }
    buf.set(input.ctxIn.subarray(0, size));
  }
  return buf;
}

/** bpf_ctx_finish(): ctx_out gets the context, ENOSPC when its buffer is smaller. */
export function ctxFinish(input: TestRunInput, ctx: Uint8Array | undefined): Uint8Array | undefined {
  if (!ctx || !input.ctxOut) return undefined;
  if (input.ctxOut.size < ctx.length) throw new TestRunError('ENOSPC', `ctx_out needs ${ctx.length} bytes, ctx_size_out is ${input.ctxOut.size}`);
  return ctx;
}

/** bpf_test_finish(): ENOSPC when data_size_out is set and smaller than the output. */
export function dataFinish(input: TestRunInput, out: Uint8Array): Uint8Array {
  if (input.dataSizeOut && out.length > input.dataSizeOut) {
    throw new TestRunError('ENOSPC', `data_out needs ${out.length} bytes, data_size_out is ${input.dataSizeOut}`);
  }
  return out;
}

/** The range check of a bpf_ctx area that must be zero (range_is_zero()). */
export function requireZero(buf: Uint8Array, from: number, to: number, what: string): void {
  for (let i = from; i < to; i++) if (buf[i] !== 0) einval(`ctx_in: ${what} must be zero (byte ${i})`);
}

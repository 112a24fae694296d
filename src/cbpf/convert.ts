/*
 * cBPF -> eBPF, as the kernel's bpf_convert_filter() (net/core/filter.c) does when a classic
 * socket filter is attached, so classic programs run on the eBPF engines:
 *
 *   A = r0, X = r7, ctx (struct __sk_buff *) = r6 (from r1), TMP = r2, M[k] = the 32-bit word at
 *   r10 - (16 - k) * 4. Prologue: A = 0, X = 0, r6 = r1 (with `mov`, where the kernel uses `xor`).
 *   ld/ldh/ldb [k], [x + k]   -> eBPF LD_ABS / LD_IND (the engines read RunOptions.packet; a load
 *                                outside the packet ends the program with 0)
 *   ld #len                   -> A = __sk_buff.len
 *   ancillary loads           -> __sk_buff fields, or calls (convert_bpf_extensions())
 *   div/mod x                 -> `if X == 0 return 0` first
 *   jxx #k with k >= 2^31     -> k goes through TMP (eBPF immediates are sign-extended)
 *   jxx with jf == 0 / jt == 0 -> one jump (inverted when jt == 0), else jump + ja
 *   ret #k / ret a            -> r0 = k; exit / exit
 *
 * With { seccomp: true } the filter is a seccomp one, over struct seccomp_data (as
 * seccomp_check_filter() rewrites its loads before the kernel converts it).
 *
 * The context is the uapi `struct __sk_buff` (what SOCKET_FILTER programs see), not the kernel's
 * internal sk_buff, so the result is an ordinary eBPF socket filter. What the kernel reaches with
 * internal calls (netlink attributes, payload offset, device type, CPU, random) are helpers with
 * ids in a private range (CBPF_HELPER_*, from cbpfHelpers()). Like the kernel, an
 * IFINDEX or HATYPE load without a device ends the program returning A.
 */
import { BpfError } from '../errors.js';
import { type Insn, makeInsn } from '../isa/insn.js';
import { linuxCheckError } from './check.js';
import {
  type CInsn, SKF_AD_ALU_XOR_X, SKF_AD_CPU, SKF_AD_HATYPE, SKF_AD_IFINDEX, SKF_AD_MARK, SKF_AD_NLATTR,
  SKF_AD_NLATTR_NEST, SKF_AD_OFF, SKF_AD_PAY_OFFSET, SKF_AD_PKTTYPE, SKF_AD_PROTOCOL, SKF_AD_QUEUE,
  SKF_AD_RANDOM, SKF_AD_RXHASH, SKF_AD_VLAN_TAG, SKF_AD_VLAN_TAG_PRESENT, SKF_AD_VLAN_TPID,
} from './insn.js';
import { type PacketMeta, skbGetNlattr, skbGetNlattrNest } from './interp.js';
import { SECCOMP_DATA_SIZE, seccompCheckError } from './seccomp.js';

const A = 0;
const X = 7;
const CTX = 6;
const TMP = 2;
const FP = 10;
const SAVED_A = 8;

/** Field offsets in the uapi struct __sk_buff. */
export const SKB = {
  len: 0, pkt_type: 4, mark: 8, queue_mapping: 12, protocol: 16, vlan_present: 20, vlan_tci: 24,
  vlan_proto: 28, priority: 32, ingress_ifindex: 36, ifindex: 40, tc_index: 44, cb: 48, hash: 68,
  tc_classid: 72, data: 76, data_end: 80, napi_id: 84, wire_len: 160,
} as const;
export const SKB_SIZE = 192;

// Kernel-internal calls of converted programs, as helpers in a private id range.
export const CBPF_HELPER_BASE = 0x7ffff000;
export const CBPF_HELPER_NLATTR = CBPF_HELPER_BASE + 1; // bpf_skb_get_nlattr(ctx, A, X)
export const CBPF_HELPER_NLATTR_NEST = CBPF_HELPER_BASE + 2; // bpf_skb_get_nlattr_nest(ctx, A, X)
export const CBPF_HELPER_PAY_OFFSET = CBPF_HELPER_BASE + 3; // bpf_skb_get_pay_offset(ctx)
export const CBPF_HELPER_CPU = CBPF_HELPER_BASE + 4; // bpf_get_raw_cpu_id()
export const CBPF_HELPER_RANDOM = CBPF_HELPER_BASE + 5; // bpf_user_rnd_u32()
/** skb->dev->ifindex (which = 0) or ->type (which = 1); 2^32 when there is no device. */
export const CBPF_HELPER_DEV_FIELD = CBPF_HELPER_BASE + 6;

const ins = makeInsn;
const mov64 = (dst: number, src: number): Insn => ins(0xbf, dst, src);
const mov32i = (dst: number, imm: number): Insn => ins(0xb4, dst, 0, 0, imm);
const ldxw = (dst: number, src: number, off: number): Insn => ins(0x61, dst, src, off);
const call = (id: number): Insn => ins(0x85, 0, 0, 0, id);
const exit = (): Insn => ins(0x95);
const be16 = (dst: number): Insn => ins(0xdc, dst, 0, 0, 16);

export interface ConvertOptions {
  /**
   * A seccomp filter (seccompCheckError's rules): r1 points to struct seccomp_data, `ld [k]`
   * reads its 32-bit words, `len` is 64. Run it with the data as context and no packet.
   */
  seccomp?: boolean;
}

/** One eBPF instruction, or a jump whose offset is set once every cBPF instruction is placed. */
interface Slot { insn: Insn; target?: number }

/**
 * Convert a classic program to eBPF (a SOCKET_FILTER over struct __sk_buff; run it with r1 = the
 * context and the packet as RunOptions.packet). The program must pass the Linux checker, as in
 * the kernel; otherwise EINVAL with the checker's reason.
 */
export function convertCbpfToEbpf(prog: readonly CInsn[], options: ConvertOptions = {}): Insn[] {
  const seccomp = options.seccomp === true;
  const why = seccomp ? seccompCheckError(prog) : linuxCheckError(prog);
  if (why !== undefined) throw new BpfError('EINVAL', `${seccomp ? 'seccomp filter' : 'classic BPF program'} rejected: ${why}`);
  // The kernel clears A and X with `xor` (converted classic programs skip the verifier); `mov 0`
  // does the same and keeps the program verifiable, as a SOCKET_FILTER loaded through bpf(2).
  const slots: Slot[] = [
    { insn: mov32i(A, 0) },
    { insn: mov32i(X, 0) },
    { insn: mov64(CTX, 1) },
  ];
  const addrs: number[] = new Array(prog.length + 1);
  const emit = (...insns: Insn[]): void => { for (const insn of insns) slots.push({ insn }); };
  const jump = (insn: Insn, target: number): void => { slots.push({ insn, target }); };

  prog.forEach((fp, i) => {
    addrs[i] = slots.length;
    const { code, k } = fp;
    switch (code) {
      // ALU: the classic codes are eBPF's 32-bit ALU codes
      case 0x04: case 0x14: case 0x24: case 0x34: case 0x94: case 0x54: case 0x44: case 0xa4:
      case 0x64: case 0x74:
        emit(ins(code, A, 0, 0, k));
        break;
      case 0x3c: case 0x9c: // div/mod x: return 0 on division by zero
        emit(ins(0x55, X, 0, 2, 0), ins(0xac, A, A), exit());
        emit(ins(code, A, X));
        break;
      case 0x0c: case 0x1c: case 0x2c: case 0x5c: case 0x4c: case 0xac: case 0x6c: case 0x7c:
        emit(ins(code, A, X));
        break;
      case 0x84: emit(ins(0x84, A)); break;
      // loads
      case 0x20: case 0x28: case 0x30:
        // seccomp: a 32-bit word of struct seccomp_data (seccomp_check_filter's BPF_LDX | BPF_W | BPF_ABS)
        if (seccomp) { emit(ldxw(A, CTX, k)); break; }
        if ((k | 0) < 0 && (k | 0) >= SKF_AD_OFF) { emitExtension(emit, (k | 0) - SKF_AD_OFF); break; }
        emit(ins(code, A, 0, 0, k));
        break;
      case 0x40: case 0x48: case 0x50:
        emit(ins(code, A, X, 0, k));
        break;
      case 0xb1: // X = 4 * (pkt[k] & 0xf), keeping A
        emit(mov64(X, A), ins(0x30, A, 0, 0, k), ins(0x54, A, 0, 0, 0xf), ins(0x64, A, 0, 0, 2),
          mov64(TMP, X), mov64(X, A), mov64(A, TMP));
        break;
      case 0x00: emit(mov32i(A, k)); break;
      case 0x01: emit(mov32i(X, k)); break;
      case 0x80: emit(seccomp ? mov32i(A, SECCOMP_DATA_SIZE) : ldxw(A, CTX, SKB.len)); break;
      case 0x81: emit(seccomp ? mov32i(X, SECCOMP_DATA_SIZE) : ldxw(X, CTX, SKB.len)); break;
      case 0x60: emit(ldxw(A, FP, -(16 - k) * 4)); break;
      case 0x61: emit(ldxw(X, FP, -(16 - k) * 4)); break;
      case 0x02: emit(ins(0x63, FP, A, -(16 - k) * 4)); break;
      case 0x03: emit(ins(0x63, FP, X, -(16 - k) * 4)); break;
      case 0x07: emit(mov64(X, A)); break;
      case 0x87: emit(mov64(A, X)); break;
      case 0x06: emit(mov32i(0, k), exit()); break;
      case 0x16: emit(exit()); break;
      case 0x05: jump(ins(0x05), i + 1 + k); break;
      default: { // conditional jumps
        const op = code & 0xf0;
        let src = code & 0x08;
        let base: Insn;
        if (src === 0 && (k | 0) < 0) {
          emit(mov32i(TMP, k));
          base = ins(0x05 | op | 0x08, A, TMP);
          src = 0x08;
        } else {
          base = src ? ins(0x05 | op | 0x08, A, X) : ins(0x05 | op, A, 0, 0, k);
        }
        if (fp.jf === 0) { jump(base, i + 1 + fp.jt); break; }
        const inverse: Record<number, number> = { 0x10: 0x50, 0x20: 0xb0, 0x30: 0xa0 }; // jne, jle, jlt
        if (fp.jt === 0 && inverse[op] !== undefined) {
          jump({ ...base, code: 0x05 | inverse[op] | src }, i + 1 + fp.jf);
          break;
        }
        jump(base, i + 1 + fp.jt);
        jump(ins(0x05), i + 1 + fp.jf);
      }
    }
  });
  addrs[prog.length] = slots.length;
  return slots.map((s, at) => {
    if (s.target === undefined) return s.insn;
    const off = addrs[s.target] - at - 1;
    if (off > 0x7fff) throw new BpfError('E2BIG', 'converted program too large: jump offset does not fit in 16 bits');
    return { ...s.insn, off };
  });
}

/** convert_bpf_extensions(): the ancillary load at SKF_AD_OFF + ad. */
function emitExtension(emit: (...insns: Insn[]) => void, ad: number): void {
  switch (ad) {
    case SKF_AD_PROTOCOL: emit(ldxw(A, CTX, SKB.protocol), be16(A)); return;
    case SKF_AD_PKTTYPE: emit(ldxw(A, CTX, SKB.pkt_type)); return;
    case SKF_AD_MARK: emit(ldxw(A, CTX, SKB.mark)); return;
    case SKF_AD_QUEUE: emit(ldxw(A, CTX, SKB.queue_mapping)); return;
    case SKF_AD_RXHASH: emit(ldxw(A, CTX, SKB.hash)); return;
    case SKF_AD_VLAN_TAG: emit(ldxw(A, CTX, SKB.vlan_tci)); return;
    case SKF_AD_VLAN_TAG_PRESENT: emit(ldxw(A, CTX, SKB.vlan_present)); return;
    case SKF_AD_VLAN_TPID: emit(ldxw(A, CTX, SKB.vlan_proto), be16(A)); return;
    case SKF_AD_IFINDEX: case SKF_AD_HATYPE:
      // no device: return A, as the kernel's `if (skb->dev == NULL) exit`
      emit(mov64(SAVED_A, A), mov64(1, CTX), ins(0xb7, 2, 0, 0, ad === SKF_AD_IFINDEX ? 0 : 1), call(CBPF_HELPER_DEV_FIELD),
        mov64(TMP, 0), ins(0x77, TMP, 0, 0, 32), ins(0x15, TMP, 0, 2, 0), mov64(A, SAVED_A), exit());
      return;
    case SKF_AD_PAY_OFFSET: emit(mov64(1, CTX), call(CBPF_HELPER_PAY_OFFSET)); return;
    case SKF_AD_NLATTR: case SKF_AD_NLATTR_NEST:
      emit(mov64(1, CTX), mov64(2, A), mov64(3, X), call(ad === SKF_AD_NLATTR ? CBPF_HELPER_NLATTR : CBPF_HELPER_NLATTR_NEST));
      return;
    case SKF_AD_CPU: emit(call(CBPF_HELPER_CPU)); return;
    case SKF_AD_RANDOM: emit(call(CBPF_HELPER_RANDOM)); return;
    case SKF_AD_ALU_XOR_X: emit(ins(0xac, A, X)); return;
  }
  throw new BpfError('EINVAL', `unknown ancillary load SKF_AD_OFF + ${ad}`);
}

/** Write the __sk_buff a converted program reads for this packet. */
export function buildSkbContext(out: Uint8Array, wireLen: number, meta: PacketMeta, dataAddr = 0, dataLen = 0): void {
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  out.fill(0, 0, SKB_SIZE);
  const swap16 = (v: number): number => ((v & 0xff) << 8) | ((v >> 8) & 0xff);
  dv.setUint32(SKB.len, wireLen >>> 0, true);
  dv.setUint32(SKB.pkt_type, (meta.pktType ?? 0) & 7, true);
  dv.setUint32(SKB.mark, (meta.mark ?? 0) >>> 0, true);
  dv.setUint32(SKB.queue_mapping, (meta.queue ?? 0) & 0xffff, true);
  // __be16 fields read as little-endian u32, as on x86
  dv.setUint32(SKB.protocol, swap16((meta.protocol ?? 0) & 0xffff), true);
  dv.setUint32(SKB.vlan_present, meta.vlanPresent ? 1 : 0, true);
  dv.setUint32(SKB.vlan_tci, (meta.vlanTci ?? 0) & 0xffff, true);
  dv.setUint32(SKB.vlan_proto, swap16((meta.vlanTpid ?? 0) & 0xffff), true);
  dv.setUint32(SKB.ifindex, meta.noDevice ? 0 : (meta.ifindex ?? 0) >>> 0, true);
  dv.setUint32(SKB.hash, (meta.rxhash ?? 0) >>> 0, true);
  dv.setUint32(SKB.data, dataAddr >>> 0, true);
  dv.setUint32(SKB.data_end, (dataAddr + dataLen) >>> 0, true);
  dv.setUint32(SKB.wire_len, wireLen >>> 0, true);
}

/** What the CBPF_HELPER_* helpers read: the current packet and its metadata (set before each run). */
export interface CbpfHelperEnv {
  packet: Uint8Array;
  meta: PacketMeta;
}

/** A helper as the VM's HelperRegistry takes it (r1..r5 in, r0 out, unsigned 64-bit). */
export interface CbpfHelper {
  readonly id: number;
  readonly name: string;
  readonly fn: (ctx: unknown, r1: bigint, r2: bigint, r3: bigint, r4: bigint, r5: bigint) => bigint;
}

/**
 * The kernel-internal calls of converted programs, reading `env` (mutate it per packet). Register
 * them on the VM that runs the program: `for (const h of cbpfHelpers(env)) vm.helpers.register(h.id, h.name, h.fn)`.
 */
export function cbpfHelpers(env: CbpfHelperEnv): CbpfHelper[] {
  const u = (v: number): bigint => BigInt(v >>> 0);
  const lo = (v: bigint): number => Number(v & 0xffffffffn);
  return [
    { id: CBPF_HELPER_NLATTR, name: 'bpf_skb_get_nlattr', fn: (_c, _skb, a, x) => u(skbGetNlattr(env.packet, lo(a), lo(x))) },
    { id: CBPF_HELPER_NLATTR_NEST, name: 'bpf_skb_get_nlattr_nest', fn: (_c, _skb, a, x) => u(skbGetNlattrNest(env.packet, lo(a), lo(x))) },
    { id: CBPF_HELPER_PAY_OFFSET, name: 'bpf_skb_get_pay_offset', fn: () => u(env.meta.payOffset ?? 0) },
    { id: CBPF_HELPER_CPU, name: 'bpf_get_raw_cpu_id', fn: () => u(env.meta.cpu ?? 0) },
    {
      id: CBPF_HELPER_RANDOM, name: 'bpf_user_rnd_u32',
      fn: () => u(env.meta.random ? env.meta.random() : Math.random() * 0x100000000),
    },
    {
      id: CBPF_HELPER_DEV_FIELD, name: 'skb_dev_field',
      fn: (_c, _skb, which) => {
        if (env.meta.noDevice) return 1n << 32n;
        return u(which === 0n ? env.meta.ifindex ?? 0 : (env.meta.hatype ?? 0) & 0xffff);
      },
    },
  ];
}

/*
 * BPF_PROG_TEST_RUN for XDP programs (bpf_prog_test_run_xdp() in net/bpf/test_run.c) over the
 * reference interpreter or the WebAssembly JIT (`engine`): the packet sits after
 * XDP_PACKET_HEADROOM bytes of headroom in a page-sized buffer, the linear part is at most
 * PAGE_SIZE - headroom - tailroom bytes (or ends at ctx_in's data_end) and the rest goes to
 * fragments the program cannot reach directly, the optional ctx_in is a struct xdp_md checked as
 * the kernel checks it (metadata from ctx_in's data, taken from the headroom), and the packet is
 * not reset between repeats. This follows the kernel of early 2026 (6.18.y: data_end <=
 * data_size_in, metadata <= 216 bytes).
 *
 * struct xdp_md holds 32-bit data/data_end/data_meta; VM addresses fit in 32 bits (the memory is
 * a WebAssembly.Memory), so programs read real pointers without the verifier's ctx rewrite.
 */
import { BpfError } from '../errors.js';
import type { Insn } from '../isa/insn.js';
import { memoryView, newPacketState, type PacketState, setPacketState, syncCtx } from '../helpers/packet.js';
import type { Region } from '../vm/types.js';
import { Vm } from '../vm/vm.js';
import { vmForType } from './register.js';
import { prepareProgram, timedRuns } from './run.js';
import { helperAllowedFor } from './helper_sets.js';
import { type CtxAccess, type CtxField, type CtxRewriteStep, type ProgTypeOps, type TestRunInput, type TestRunResult, TestRunError, accessByTable, BPF_XDP_DEVMAP } from './types.js';

export { TestRunError };

export const XDP_PACKET_HEADROOM = 256;
const PAGE_SIZE = 4096;
/** SKB_DATA_ALIGN(sizeof(struct skb_shared_info)) on x86_64. */
const XDP_TAILROOM = 320;
/** The page an xdp_buff lives in, and the most of a frame its linear part holds. */
export const XDP_PAGE_SIZE = PAGE_SIZE;
export const XDP_MAX_LINEAR = PAGE_SIZE - XDP_PACKET_HEADROOM - XDP_TAILROOM;
const MAX_SKB_FRAGS = 17;
const ETH_HLEN = 14;
/** sizeof(struct xdp_frame) on 64-bit machines: kept free at the start of the headroom. */
const XDP_FRAME_SIZE = 40;
/** sizeof(struct xdp_md): data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress_ifindex. */
export const XDP_MD_SIZE = 24;
/** The loopback device, whose rx queue 0 test runs use when ctx_in names no device. */
const LOOPBACK_IFINDEX = 1;

export interface XdpTestRunInput {
  insns: readonly Insn[];
  /** Section name (program type and expected attach type come from it). */
  section: string;
  dataIn?: Uint8Array;
  /** Room the caller gives for data_out (0: unlimited, like a zero data_size_out in bpf_attr). */
  dataSizeOut: number;
  ctxIn?: Uint8Array;
  /** Whether a ctx_out buffer is passed, and its size. */
  ctxOut?: { size: number };
  repeat: number;
  engine: 'interp' | 'jit';
  budget?: number;
  /** The VM to run on (a kernel's, so its maps are visible; helpers registered); default: a fresh one. */
  vm?: Vm;
}

export interface XdpTestRunResult {
  retval: number;
  /** Average nanoseconds per run, as the kernel reports it. */
  duration: number;
  dataOut: Uint8Array;
  ctxOut?: Uint8Array;
}

const einval = (why: string): never => { throw new TestRunError('EINVAL', why); };

/** Which XDP flavour a section name selects (libbpf's SEC table); undefined when not XDP. */
export function xdpSectionKind(section: string): 'xdp' | 'devmap' | 'cpumap' | undefined {
  if (section.startsWith('xdp_devmap/')) return 'devmap'; // libbpf's legacy names
  if (section.startsWith('xdp_cpumap/')) return 'cpumap';
  const m = /^xdp(\.frags)?(?:\/(.*))?$/.exec(section);
  if (!m) return undefined;
  if (m[2] === 'devmap') return 'devmap';
  if (m[2] === 'cpumap') return 'cpumap';
  return 'xdp';
}

/** bpf_prog_test_run_xdp() over the interpreter or the JIT. Throws TestRunError with the kernel's errno. */
export async function testRunXdp(input: XdpTestRunInput): Promise<XdpTestRunResult> {
  const kind = xdpSectionKind(input.section);
  if (kind === undefined) {
    throw new BpfError('ENOTSUPP', `program type of section '${input.section}' is not supported yet (only xdp programs can run)`);
  }
  if (kind !== 'xdp') einval(`xdp/${kind} programs cannot be test-run`);

  // bpf_ctx_init(): ctx_in may be larger than struct xdp_md only if the tail is zero.
  let md: DataView | undefined;
  if (input.ctxIn || input.ctxOut) {
    const buf = new Uint8Array(XDP_MD_SIZE);
    if (input.ctxIn) {
      if (input.ctxIn.length > XDP_MD_SIZE && input.ctxIn.subarray(XDP_MD_SIZE).some((b) => b !== 0)) {
        throw new TestRunError('E2BIG', 'ctx_in has non-zero bytes beyond struct xdp_md');
      }
      buf.set(input.ctxIn.subarray(0, XDP_MD_SIZE));
    }
    md = new DataView(buf.buffer);
  }
  const dataIn = input.dataIn ?? new Uint8Array(0);
  const size = dataIn.length;
  let headroom = XDP_PACKET_HEADROOM;
  let metalen = 0;
  let linear = size;
  if (md) {
    const data = md.getUint32(0, true);
    const dataEnd = md.getUint32(4, true);
    const dataMeta = md.getUint32(8, true);
    // "There can't be user provided data before the meta data"; data_end may stop short of the
    // end of data_in (the rest goes to fragments).
    if (dataMeta !== 0 || dataEnd > size || data > dataEnd) einval('ctx_in: bad data/data_end/data_meta');
    // xdp_metalen_invalid(), and room for struct xdp_frame in the headroom.
    if ((data & 3) !== 0 || data > 255 || data > XDP_PACKET_HEADROOM - XDP_FRAME_SIZE) einval(`ctx_in: bad metadata size ${data}`);
    metalen = data;
    headroom -= data;
    linear = dataEnd;
  }
  const maxLinear = PAGE_SIZE - headroom - XDP_TAILROOM;
  linear = Math.min(linear, maxLinear);
  if (size - metalen < ETH_HLEN) einval(`data_in must hold at least ${ETH_HLEN} bytes after the metadata`);
  if (size > linear && Math.ceil((size - linear) / PAGE_SIZE) > MAX_SKB_FRAGS) {
    throw new TestRunError('ENOMEM', 'data_in needs more than MAX_SKB_FRAGS fragments');
  }
  // xdp_convert_md_to_buff()
  let ingressIfindex = LOOPBACK_IFINDEX;
  let rxQueueIndex = 0;
  if (md) {
    if (md.getUint32(20, true) !== 0) einval('ctx_in: egress_ifindex must be 0');
    const ifindex = md.getUint32(12, true);
    rxQueueIndex = md.getUint32(16, true);
    if (!ifindex && rxQueueIndex) einval('ctx_in: rx_queue_index without ingress_ifindex');
    if (ifindex) {
      if (ifindex !== LOOPBACK_IFINDEX) throw new TestRunError('ENODEV', `no device with ifindex ${ifindex}`);
      if (rxQueueIndex >= 1) einval(`ctx_in: device ${ifindex} has no rx queue ${rxQueueIndex}`);
    }
    ingressIfindex = LOOPBACK_IFINDEX;
  }

  const vm = input.vm ?? vmForType(BPF_PROG_TYPE_XDP);
  const h = new XdpHarness(vm);
  try {
    h.loadRaw(dataIn.subarray(0, linear), headroom, metalen, ingressIfindex, rxQueueIndex);
    const p = prepareProgram(vm, input.insns, input.engine, input.budget);
    const { retval, duration } = timedRuns(p, h.ctx.addr, input.repeat);
    const s = h.state;
    // bpf_test_finish(): data_out is copied from data_meta, fragments included.
    const head = vm.space.read(s.meta, s.dataEnd - s.meta);
    const dataOut = new Uint8Array(head.length + size - linear);
    dataOut.set(head);
    dataOut.set(dataIn.subarray(linear), head.length);
    if (input.dataSizeOut && dataOut.length > input.dataSizeOut) {
      throw new TestRunError('ENOSPC', `data_out needs ${dataOut.length} bytes, data_size_out is ${input.dataSizeOut}`);
    }
    let ctxOut: Uint8Array | undefined;
    if (md && input.ctxOut) {
      // xdp_convert_buff_to_md(): data and data_end relative to data_meta; the rest as given.
      md.setUint32(0, s.data - s.meta, true);
      md.setUint32(4, s.dataEnd - s.meta, true);
      ctxOut = new Uint8Array(md.buffer.slice(0));
      if (input.ctxOut.size < XDP_MD_SIZE) throw new TestRunError('ENOSPC', `ctx_out needs ${XDP_MD_SIZE} bytes`);
    }
    return { retval, duration, dataOut, ctxOut };
  } finally {
    h.dispose();
  }
}

/** An xdp_buff in a VM (one page, XDP_PACKET_HEADROOM before the data), reused packet after packet. */
export class XdpHarness {
  readonly vm: Vm;
  readonly buffer: Region;
  readonly ctx: Region;
  readonly state: PacketState;

  constructor(vm: Vm) {
    this.vm = vm;
    this.buffer = vm.space.alloc(PAGE_SIZE, 'xdp_buff', { writable: true, align: PAGE_SIZE });
    this.ctx = vm.space.alloc(XDP_MD_SIZE, 'xdp_md', { writable: false });
    this.state = newPacketState('xdp');
  }

  /** A frame as a driver hands it over: at most a page's linear part (the rest is cut). */
  load(data: Uint8Array, ingressIfindex = LOOPBACK_IFINDEX, rxQueueIndex = 0): void {
    this.loadRaw(data.subarray(0, XDP_MAX_LINEAR), XDP_PACKET_HEADROOM, 0, ingressIfindex, rxQueueIndex);
  }

  loadRaw(linear: Uint8Array, headroom: number, metalen: number, ingressIfindex: number, rxQueueIndex: number): void {
    const space = this.vm.space;
    const metaAddr = this.buffer.addr + headroom;
    new Uint8Array(space.memory.buffer).set(linear, metaAddr);
    const s = this.state;
    s.head = this.buffer.addr;
    s.hardEnd = this.buffer.addr + PAGE_SIZE - XDP_TAILROOM;
    s.meta = metaAddr;
    s.data = metaAddr + metalen;
    s.dataEnd = metaAddr + linear.length;
    s.ctx = this.ctx.addr;
    s.redirect = undefined;
    s.modified = false;
    const dv = memoryView(this.vm);
    dv.setUint32(this.ctx.addr + 12, ingressIfindex, true);
    dv.setUint32(this.ctx.addr + 16, rxQueueIndex, true);
    dv.setUint32(this.ctx.addr + 20, 0, true);
    syncCtx(this.vm, s);
    setPacketState(this.vm, s);
  }

  /** The frame after the run (from data; a live view: copy before the next load). */
  output(): Uint8Array {
    return new Uint8Array(this.vm.space.memory.buffer, this.state.data, this.state.dataEnd - this.state.data);
  }

  dispose(): void {
    setPacketState(this.vm, undefined);
    this.vm.space.free(this.ctx);
    this.vm.space.free(this.buffer);
  }
}

/* ------------------------------------------------------------------------------------------ */
/* The type: struct xdp_md, xdp_is_valid_access(), xdp_convert_ctx_access()                     */

export const BPF_PROG_TYPE_XDP = 6;
export { BPF_XDP_DEVMAP };

const xf = (name: string, off: number, kind: CtxField['kind']): CtxField =>
  Object.freeze({ name, off, size: 4, kind, narrow: false, write: false }); // __is_valid_xdp_access(): u32 only

export const XDP_MD_FIELDS: readonly CtxField[] = [
  xf('data', 0, 'pkt'), xf('data_end', 4, 'pkt_end'), xf('data_meta', 8, 'pkt_meta'),
  xf('ingress_ifindex', 12, 'scalar'), xf('rx_queue_index', 16, 'scalar'), xf('egress_ifindex', 20, 'scalar'),
];

/**
 * xdp_convert_ctx_access() (6.18, x86_64 struct xdp_buff: data 0, data_end 8, data_meta 16,
 * data_hard_start 24, rxq 32, txq 40; xdp_rxq_info: dev 0, queue_index 8; xdp_txq_info: dev 0).
 * The net_device ifindex offset depends on the kernel's config: 224 here (6.18 defconfig).
 */
const XDP_REWRITES: Readonly<Record<number, readonly CtxRewriteStep[]>> = {
  0: [{ op: 'ldx', size: 8, off: 0, what: 'xdp_buff.data' }],
  4: [{ op: 'ldx', size: 8, off: 8, what: 'xdp_buff.data_end' }],
  8: [{ op: 'ldx', size: 8, off: 16, what: 'xdp_buff.data_meta' }],
  12: [{ op: 'ldx', size: 8, off: 32, what: 'xdp_buff.rxq' }, { op: 'ldx', size: 8, off: 0, what: 'xdp_rxq_info.dev' }, { op: 'ldx', size: 4, off: 224, what: 'net_device.ifindex' }],
  16: [{ op: 'ldx', size: 8, off: 32, what: 'xdp_buff.rxq' }, { op: 'ldx', size: 4, off: 8, what: 'xdp_rxq_info.queue_index' }],
  20: [{ op: 'ldx', size: 8, off: 40, what: 'xdp_buff.txq' }, { op: 'ldx', size: 8, off: 0, what: 'xdp_txq_info.dev' }, { op: 'ldx', size: 4, off: 224, what: 'net_device.ifindex' }],
};

/** XDP_* verdict names. */
export const XDP_ACTION_NAMES: readonly string[] = ['XDP_ABORTED', 'XDP_DROP', 'XDP_PASS', 'XDP_TX', 'XDP_REDIRECT'];

export const XDP_OPS: ProgTypeOps = Object.freeze({
  type: BPF_PROG_TYPE_XDP, name: 'xdp', ctxName: 'struct xdp_md', ctxSize: XDP_MD_SIZE, fields: XDP_MD_FIELDS,
  /** xdp_is_valid_access(): no writes; egress_ifindex only for BPF_XDP_DEVMAP programs. */
  isValidAccess(off: number, size: number, write: boolean, expectedAttachType = 0): CtxAccess {
    if (write || (off >= 20 && off < 24 && expectedAttachType !== BPF_XDP_DEVMAP)) {
      return { ok: false, message: `invalid bpf_context access off=${off} size=${size}` };
    }
    return accessByTable(XDP_MD_FIELDS, XDP_MD_SIZE, off, size, false);
  },
  convertCtxAccess: (off: number) => XDP_REWRITES[off] ?? [],
  helperAllowed: (id: number) => helperAllowedFor(BPF_PROG_TYPE_XDP, id),
  directPacketAccess: true,
  testRun: (input: TestRunInput): Promise<TestRunResult> => testRunXdp({ ...input, section: input.section || 'xdp' }),
});

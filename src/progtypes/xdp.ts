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
import { interpret } from '../vm/interpreter.js';
import { compileJit } from '../vm/jit/index.js';
import { Vm } from '../vm/vm.js';

export const XDP_PACKET_HEADROOM = 256;
const PAGE_SIZE = 4096;
/** SKB_DATA_ALIGN(sizeof(struct skb_shared_info)) on x86_64. */
const XDP_TAILROOM = 320;
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
}

export interface XdpTestRunResult {
  retval: number;
  /** Average nanoseconds per run, as the kernel reports it. */
  duration: number;
  dataOut: Uint8Array;
  ctxOut?: Uint8Array;
}

const WARM_UP: readonly Insn[] = [
  { code: 0xb7, dst: 0, src: 0, off: 0, imm: 0 },
  { code: 0x95, dst: 0, src: 0, off: 0, imm: 0 },
];

/** The test-run failure the kernel would report, as an errno. */
export class TestRunError extends BpfError {}
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

  const vm = new Vm();
  const buffer = vm.space.alloc(PAGE_SIZE, 'xdp_buff', { writable: true, align: PAGE_SIZE });
  const metaAddr = buffer.addr + headroom;
  const dataAddr = metaAddr + metalen;
  const dataEndAddr = metaAddr + linear;
  vm.space.write(metaAddr, dataIn.subarray(0, linear));
  const ctx = vm.space.alloc(XDP_MD_SIZE, 'xdp_md', { writable: false });
  const ctxBytes = new Uint8Array(XDP_MD_SIZE);
  const cv = new DataView(ctxBytes.buffer);
  cv.setUint32(0, dataAddr, true);
  cv.setUint32(4, dataEndAddr, true);
  cv.setUint32(8, metaAddr, true);
  cv.setUint32(12, ingressIfindex, true);
  cv.setUint32(16, rxQueueIndex, true);
  cv.setUint32(20, 0, true);
  vm.space.write(ctx.addr, ctxBytes);

  const repeat = Math.max(input.repeat, 1);
  let r0 = 0n;
  let start: number;
  if (input.engine === 'jit') {
    // Compile and instantiate (stack frames allocated as the interpreter would) before timing.
    const jit = compileJit(vm, input.insns).prepare();
    let ret = 0;
    start = now();
    for (let i = 0; i < repeat; i++) ret = jit.runCtx(ctx.addr, input.budget);
    r0 = BigInt(ret);
  } else {
    // Set up the VM's stack frames and warm the interpreter on a program that touches nothing
    // (r0 = 0; exit), so the reported duration is the program's, not first-call setup.
    interpret(vm, WARM_UP, { budget: 2 });
    start = now();
    for (let i = 0; i < repeat; i++) {
      r0 = interpret(vm, input.insns, { args: [BigInt(ctx.addr)], budget: input.budget }).r0;
    }
  }
  const elapsed = now() - start;
  const duration = Math.min(Math.floor(elapsed / repeat), 0xffffffff);

  // bpf_test_finish(): data_out is copied from data_meta, fragments included.
  const dataOut = new Uint8Array(size);
  dataOut.set(vm.space.read(metaAddr, linear));
  dataOut.set(dataIn.subarray(linear), linear);
  if (input.dataSizeOut && dataOut.length > input.dataSizeOut) {
    throw new TestRunError('ENOSPC', `data_out needs ${dataOut.length} bytes, data_size_out is ${input.dataSizeOut}`);
  }
  let ctxOut: Uint8Array | undefined;
  if (md && input.ctxOut) {
    // xdp_convert_buff_to_md(): data and data_end relative to data_meta; the rest as given.
    md.setUint32(0, dataAddr - metaAddr, true);
    md.setUint32(4, dataEndAddr - metaAddr, true);
    ctxOut = new Uint8Array(md.buffer.slice(0));
    if (input.ctxOut.size < XDP_MD_SIZE) throw new TestRunError('ENOSPC', `ctx_out needs ${XDP_MD_SIZE} bytes`);
  }
  return { retval: Number(BigInt.asUintN(32, r0)), duration, dataOut, ctxOut };
}

function now(): number {
  // Nanoseconds, from the high-resolution clock both Node and browsers have.
  return (globalThis as unknown as { performance: { now(): number } }).performance.now() * 1e6;
}

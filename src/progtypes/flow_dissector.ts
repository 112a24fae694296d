/*
 * BPF_PROG_TYPE_FLOW_DISSECTOR (net/core/flow_dissector.c, net/bpf/test_run.c): the program sees
 * a struct __sk_buff of which only data, data_end (u32) and flow_keys (u64) may be read
 * (flow_dissector_is_valid_access()), fills struct bpf_flow_keys, and returns BPF_OK, BPF_DROP or
 * BPF_FLOW_DISSECTOR_CONTINUE. BPF_PROG_TEST_RUN (bpf_prog_test_run_flow_dissector()) runs it on
 * data_in as an Ethernet frame: bpf_flow_dissect() zeroes the keys, sets n_proto = h_proto,
 * nhoff = thoff = ETH_HLEN and flags (from ctx_in's flags), runs the program, clamps nhoff/thoff
 * to [ETH_HLEN, len] and [nhoff, len], and data_out is the 56-byte struct bpf_flow_keys.
 *
 * In a test run there is no skb (ctx->skb == NULL), so bpf_skb_load_bytes, which is
 * bpf_flow_dissector_load_bytes() for this type, zeroes its buffer and returns -EFAULT there.
 */
import { memoryView } from '../helpers/packet.js';
import { vmForType } from './register.js';
import { prepareProgram, timedRuns } from './run.js';
import { helperAllowedFor } from './helper_sets.js';
import { SK_BUFF, SK_BUFF_FIELDS, SK_BUFF_SIZE } from './skb.js';
import { type CtxAccess, type ProgTypeOps, type TestRunInput, type TestRunResult, TestRunError } from './types.js';

export const BPF_PROG_TYPE_FLOW_DISSECTOR = 22;
/** sizeof(struct bpf_flow_keys). */
export const BPF_FLOW_KEYS_SIZE = 56;
/** struct bpf_flow_keys offsets (include/uapi/linux/bpf.h). */
export const FLOW_KEYS = { nhoff: 0, thoff: 2, addr_proto: 4, is_frag: 6, is_first_frag: 7, is_encap: 8, ip_proto: 9, n_proto: 10, sport: 12, dport: 14, src: 16, dst: 20, flags: 48, flow_label: 52 } as const;
const ETH_HLEN = 14;

const field = (name: 'data' | 'data_end' | 'flow_keys') => SK_BUFF_FIELDS.find((f) => f.name === name)!;

/** flow_dissector_is_valid_access(): reads of data, data_end (4 bytes) and flow_keys (8) only. */
function isValidAccess(off: number, size: number, write: boolean): CtxAccess {
  const bad = { ok: false as const, message: `invalid bpf_context access off=${off} size=${size}` };
  if (write || off < 0 || off >= SK_BUFF_SIZE) return bad;
  if (off === SK_BUFF.data && size === 4) return { ok: true, field: field('data'), kind: 'pkt' };
  if (off === SK_BUFF.data_end && size === 4) return { ok: true, field: field('data_end'), kind: 'pkt_end' };
  if (off === SK_BUFF.flow_keys && size === 8) return { ok: true, field: field('flow_keys'), kind: 'flow_keys' };
  return bad;
}

/** bpf_prog_test_run_flow_dissector(). */
export async function testRunFlowDissector(input: TestRunInput): Promise<TestRunResult> {
  const data = input.dataIn ?? new Uint8Array(0);
  if (data.length < ETH_HLEN) throw new TestRunError('EINVAL', `data_in must hold at least ${ETH_HLEN} bytes`);
  let flags = 0;
  let userKeys: Uint8Array | undefined;
  if (input.ctxIn || input.ctxOut) {
    // bpf_ctx_init(): a struct bpf_flow_keys; verify_user_bpf_flow_keys(): only flags may be set.
    userKeys = new Uint8Array(BPF_FLOW_KEYS_SIZE);
    if (input.ctxIn) {
      if (input.ctxIn.length > BPF_FLOW_KEYS_SIZE && input.ctxIn.subarray(BPF_FLOW_KEYS_SIZE).some((b) => b !== 0)) {
        throw new TestRunError('E2BIG', 'ctx_in has non-zero bytes beyond struct bpf_flow_keys');
      }
      userKeys.set(input.ctxIn.subarray(0, BPF_FLOW_KEYS_SIZE));
      const dv = new DataView(userKeys.buffer);
      const onlyFlags = userKeys.every((b, i) => b === 0 || (i >= FLOW_KEYS.flags && i < FLOW_KEYS.flags + 4));
      if (!onlyFlags) throw new TestRunError('EINVAL', 'ctx_in: only flags may be set in struct bpf_flow_keys');
      flags = dv.getUint32(FLOW_KEYS.flags, true); // any value: verify_user_bpf_flow_keys() checks only the other fields
    }
  }
  const vm = input.vm ?? vmForType(BPF_PROG_TYPE_FLOW_DISSECTOR);
  const space = vm.space;
  const pkt = space.alloc(Math.max(data.length, 1), 'flow_dissector data', { writable: false });
  const keys = space.alloc(BPF_FLOW_KEYS_SIZE, 'bpf_flow_keys', { writable: true });
  const ctx = space.alloc(SK_BUFF_SIZE, 'bpf_flow_dissector', { writable: false });
  try {
    new Uint8Array(space.memory.buffer).set(data, pkt.addr);
    const dv = memoryView(vm);
    new Uint8Array(space.memory.buffer, ctx.addr, SK_BUFF_SIZE).fill(0);
    dv.setUint32(ctx.addr + SK_BUFF.data, pkt.addr, true);
    dv.setUint32(ctx.addr + SK_BUFF.data_end, pkt.addr + data.length, true);
    dv.setBigUint64(ctx.addr + SK_BUFF.flow_keys, BigInt(keys.addr), true);
    const hProto = (data[12] << 8) | data[13];
    const p = prepareProgram(vm, input.insns, input.engine, input.budget);
    // bpf_flow_dissect() on every repeat: keys reset, the program run, offsets clamped.
    const once = {
      run: (c: number): number => {
        const k = keys.addr;
        new Uint8Array(space.memory.buffer, k, BPF_FLOW_KEYS_SIZE).fill(0);
        const v = memoryView(vm);
        v.setUint16(k + FLOW_KEYS.n_proto, hProto, false); // __be16, as h_proto is
        v.setUint16(k + FLOW_KEYS.nhoff, ETH_HLEN, true);
        v.setUint16(k + FLOW_KEYS.thoff, ETH_HLEN, true);
        v.setUint32(k + FLOW_KEYS.flags, flags, true);
        const r = p.run(c);
        const clamp = (x: number, lo: number, hi: number): number => Math.min(Math.max(x, lo), hi);
        const nhoff = clamp(v.getUint16(k + FLOW_KEYS.nhoff, true), ETH_HLEN, data.length);
        v.setUint16(k + FLOW_KEYS.nhoff, nhoff, true);
        v.setUint16(k + FLOW_KEYS.thoff, clamp(v.getUint16(k + FLOW_KEYS.thoff, true), nhoff, data.length), true);
        return r;
      },
      usesLdAbs: false,
    };
    const { retval, duration } = timedRuns(once, ctx.addr, input.repeat);
    const dataOut = space.read(keys.addr, BPF_FLOW_KEYS_SIZE);
    if (input.dataSizeOut && input.dataSizeOut < BPF_FLOW_KEYS_SIZE) {
      throw new TestRunError('ENOSPC', `data_out needs ${BPF_FLOW_KEYS_SIZE} bytes, data_size_out is ${input.dataSizeOut}`);
    }
    // bpf_ctx_finish(): ctx_out is the user's struct as given (the kernel copies user_ctx back).
    const ctxOut = input.ctxOut && userKeys ? userKeys : undefined;
    return { retval, duration, dataOut, ctxOut };
  } finally {
    space.free(ctx);
    space.free(keys);
    space.free(pkt);
  }
}

export const FLOW_DISSECTOR_OPS: ProgTypeOps = Object.freeze({
  type: BPF_PROG_TYPE_FLOW_DISSECTOR, name: 'flow_dissector', ctxName: 'struct __sk_buff', ctxSize: SK_BUFF_SIZE,
  fields: SK_BUFF_FIELDS.filter((f) => f.name === 'data' || f.name === 'data_end' || f.name === 'flow_keys'),
  isValidAccess,
  helperAllowed: (id: number) => helperAllowedFor(BPF_PROG_TYPE_FLOW_DISSECTOR, id),
  directPacketAccess: true,
  testRun: testRunFlowDissector,
});

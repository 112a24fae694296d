/*
 * Program types without the kernel: context access rules per type (valid and invalid offsets,
 * sizes, writes, with the verifier's message), BPF_PROG_TEST_RUN semantics of the __sk_buff
 * types (EINVAL under 14 bytes, skb->len with and without the Ethernet header, skb->protocol in
 * network order, ENOSPC, ctx_in/ctx_out, LD_ABS from the network header), XDP headroom limits,
 * packet helpers' checksums against independently computed ones, and the tracing types.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { makeInsn, type Insn } from '../src/isa/insn.js';
import { findProgram, openObject } from '../src/loader/object.js';
import {
  CGROUP_SKB_OPS, KPROBE_OPS, PERF_EVENT_OPS, RAW_TRACEPOINT_OPS, SCHED_CLS_OPS, SK_SKB_OPS, SOCKET_FILTER_OPS, SYSCALL_OPS,
  TRACEPOINT_OPS, XDP_OPS, buildPtRegs, classifierResult, helperAllowedFor, runTracing, testRun, type TestRunInput, verifierOps,
} from '../src/progtypes/index.js';
import { csumPartial } from '../src/helpers/packet.js';
import { helperFuncName } from '../src/isa/disasm_xlated.js';
import { tcpFrame } from './progtypes_packets.js';

const FIX = fileURLToPath(new URL('../../test/fixtures/progtypes/', import.meta.url));
const ldxw = (dst: number, src: number, off: number): Insn => makeInsn(0x61, dst, src, off);
const EXIT = makeInsn(0x95);
const mov = (dst: number, imm: number): Insn => makeInsn(0xb7, dst, 0, 0, imm);

function run(type: number, insns: Insn[], extra: Partial<TestRunInput> = {}, data: Uint8Array = tcpFrame()) {
  return testRun({ insns, type, section: '', dataIn: data, dataSizeOut: 0, repeat: 1, engine: 'jit', ...extra });
}

function fixture(name: string): Insn[] {
  return findProgram(openObject(readFileSync(`${FIX}${name}.o`), name), {}).insns;
}

function helperId(name: string): number {
  for (let i = 0; i < 300; i++) if (helperFuncName(i) === `bpf_${name}`) return i;
  throw new Error(name);
}

test('__sk_buff access rules per type (is_valid_access)', () => {
  const ok = (o: typeof SCHED_CLS_OPS, off: number, size: number, write = false): boolean => o.isValidAccess(off, size, write).ok;
  // tc: writes to mark, priority, tc_classid, cb, tstamp, queue_mapping; direct packet pointers
  assert.ok(ok(SCHED_CLS_OPS, 8, 4, true));
  assert.ok(ok(SCHED_CLS_OPS, 72, 4, true));
  assert.ok(!ok(SCHED_CLS_OPS, 0, 4, true)); // len
  assert.deepEqual(SCHED_CLS_OPS.isValidAccess(0, 4, true), { ok: false, message: 'invalid bpf_context access off=0 size=4' });
  const data = SCHED_CLS_OPS.isValidAccess(76, 4, false);
  assert.ok(data.ok && data.kind === 'pkt');
  assert.ok(!ok(SCHED_CLS_OPS, 76, 2)); // data: full size only
  assert.ok(ok(SCHED_CLS_OPS, 0, 1) && ok(SCHED_CLS_OPS, 2, 2)); // narrow loads of len
  assert.ok(!ok(SCHED_CLS_OPS, 1, 2)); // misaligned
  assert.ok(ok(SCHED_CLS_OPS, 48, 8) && ok(SCHED_CLS_OPS, 64, 4) && !ok(SCHED_CLS_OPS, 64, 8)); // cb[]
  assert.ok(!ok(SCHED_CLS_OPS, 88, 4)); // family: sk_skb only
  assert.ok(!ok(SCHED_CLS_OPS, 144, 8)); // flow_keys
  assert.ok(ok(SCHED_CLS_OPS, 152, 8, true) && !ok(SCHED_CLS_OPS, 152, 4)); // tstamp
  assert.ok(ok(SCHED_CLS_OPS, 184, 8) && !ok(SCHED_CLS_OPS, 184, 8, true)); // hwtstamp read-only
  assert.ok(ok(SCHED_CLS_OPS, 180, 1) && !ok(SCHED_CLS_OPS, 180, 4) && !ok(SCHED_CLS_OPS, 181, 1)); // tstamp_type: one byte in tc (as Linux 6.18 loads it), then padding
  assert.ok(!ok(SCHED_CLS_OPS, 192, 4)); // past the end
  // socket filters: no packet pointers, no tc_classid, writes only to cb[]
  assert.ok(!ok(SOCKET_FILTER_OPS, 76, 4) && !ok(SOCKET_FILTER_OPS, 72, 4));
  assert.ok(ok(SOCKET_FILTER_OPS, 48, 4, true) && !ok(SOCKET_FILTER_OPS, 8, 4, true));
  assert.ok(ok(SOCKET_FILTER_OPS, 8, 4)); // mark readable
  // cgroup skb: mark/priority writable, data readable, data_meta not
  assert.ok(ok(CGROUP_SKB_OPS, 8, 4, true) && ok(CGROUP_SKB_OPS, 76, 4) && !ok(CGROUP_SKB_OPS, 140, 4));
  assert.deepEqual(CGROUP_SKB_OPS.retRange, [0, 1]);
  // sk_skb: the socket fields, no mark
  assert.ok(ok(SK_SKB_OPS, 88, 4) && !ok(SK_SKB_OPS, 8, 4) && ok(SK_SKB_OPS, 44, 4, true));
  assert.equal(SK_SKB_OPS.testRun, undefined);
});

test('xdp_md and tracing contexts: access rules and rewrites', () => {
  assert.ok(XDP_OPS.isValidAccess(0, 4, false).ok);
  assert.ok(!XDP_OPS.isValidAccess(0, 4, true).ok);
  assert.ok(!XDP_OPS.isValidAccess(12, 2, false).ok); // u32 only
  assert.ok(!XDP_OPS.isValidAccess(24, 4, false).ok);
  assert.deepEqual(XDP_OPS.convertCtxAccess!(0, 4, false), [{ op: 'ldx', size: 8, off: 0, what: 'xdp_buff.data' }]);
  assert.ok(KPROBE_OPS.isValidAccess(112, 8, false).ok && !KPROBE_OPS.isValidAccess(112, 8, true).ok && !KPROBE_OPS.isValidAccess(168, 8, false).ok);
  assert.ok(!TRACEPOINT_OPS.isValidAccess(0, 4, false).ok && TRACEPOINT_OPS.isValidAccess(8, 4, false).ok);
  // pe_prog_is_valid_access(): sample_period and addr read narrow, the registers only whole (as Linux 6.18 loads them)
  assert.ok(PERF_EVENT_OPS.isValidAccess(168, 4, false).ok && PERF_EVENT_OPS.isValidAccess(176, 4, false).ok && !PERF_EVENT_OPS.isValidAccess(0, 4, false).ok);
  assert.ok(RAW_TRACEPOINT_OPS.isValidAccess(88, 8, false).ok && !RAW_TRACEPOINT_OPS.isValidAccess(96, 8, false).ok);
  assert.ok(SYSCALL_OPS.isValidAccess(100, 4, true).ok);
});

test('helper sets follow the func_protos', () => {
  const has = (t: number, n: string): boolean => helperAllowedFor(t, helperId(n));
  assert.ok(has(3, 'skb_store_bytes') && has(3, 'l4_csum_replace') && has(3, 'redirect') && !has(3, 'xdp_adjust_head'));
  assert.ok(has(6, 'xdp_adjust_head') && has(6, 'redirect_map') && !has(6, 'skb_store_bytes'));
  assert.ok(has(1, 'skb_load_bytes') && !has(1, 'skb_store_bytes') && !has(1, 'redirect'));
  assert.ok(has(2, 'probe_read_kernel') && has(2, 'get_current_pid_tgid') && !has(2, 'skb_load_bytes'));
  assert.ok(has(1, 'map_lookup_elem') && has(6, 'ktime_get_ns'));
  assert.ok(SCHED_CLS_OPS.helperAllowed(helperId('set_hash')));
});

test('skb test run: length checks, len with and without the Ethernet header, protocol in network order', async () => {
  const len = [ldxw(0, 1, 0), EXIT];
  const frame = tcpFrame({ payload: 26 }); // 80 bytes
  assert.equal((await run(3, len, {}, frame)).retval, 80);
  assert.equal((await run(4, len, {}, frame)).retval, 80);
  assert.equal((await run(1, len, {}, frame)).retval, 66);
  assert.equal((await run(8, len, {}, frame)).retval, 66);
  assert.equal((await run(3, [ldxw(0, 1, 16), EXIT], {}, frame)).retval, 0x0008); // htons(ETH_P_IP)
  await assert.rejects(run(3, len, {}, new Uint8Array(13)), { code: 'EINVAL' });
  await assert.rejects(run(3, len, {}, frame.subarray(0, 30)), { code: 'EINVAL' }); // IPv4 without its header
  const arp = Uint8Array.from([...new Array(12).fill(2), 8, 6]);
  assert.equal((await run(3, len, {}, arp)).retval, 14);
  await assert.rejects(run(1, len, {}, arp), { code: 'EINVAL' }); // empty at the network layer
  await assert.rejects(run(3, len, { dataSizeOut: 10 }, frame), { code: 'ENOSPC' });
  await assert.rejects(run(2, len, {}, frame), { code: 'ENOTSUPP' }); // kprobe: no test run
});

test('skb test run: data_out, ctx_in/ctx_out, LD_ABS', async () => {
  const frame = tcpFrame();
  const r0 = [mov(0, 0), EXIT];
  const tc = await run(3, r0, {}, frame);
  assert.deepEqual([...tc.dataOut], [...frame]);
  const sock = await run(1, r0, {}, frame);
  assert.deepEqual([...sock.dataOut.subarray(0, 14)], new Array(14).fill(0)); // the Ethernet header zeroed
  assert.deepEqual([...sock.dataOut.subarray(14)], [...frame.subarray(14)]);
  // ld_abs b [9]: the IP protocol for a socket filter, a MAC byte for tc
  const ldabs = [makeInsn(0x30, 0, 0, 0, 9), EXIT];
  assert.equal((await run(1, ldabs, {}, frame)).retval, 6);
  assert.equal((await run(3, ldabs, {}, frame)).retval, frame[9]);
  // ctx_in: mark in, mark + 1 out (stx w [r1 + 8]); fields that must be zero
  const ctx = new Uint8Array(192);
  new DataView(ctx.buffer).setUint32(8, 41, true);
  const incMark = [ldxw(2, 1, 8), makeInsn(0x07, 2, 0, 0, 1), makeInsn(0x63, 1, 2, 8), mov(0, 0), EXIT];
  const out = await run(3, incMark, { ctxIn: ctx, ctxOut: { size: 192 } }, frame);
  assert.equal(new DataView(out.ctxOut!.buffer).getUint32(8, true), 42);
  assert.equal(new DataView(out.ctxOut!.buffer).getUint32(40, true), 1); // ifindex: the loopback
  const badCtx = new Uint8Array(192);
  badCtx[0] = 1; // len
  await assert.rejects(run(3, r0, { ctxIn: badCtx, ctxOut: { size: 192 } }, frame), { code: 'EINVAL' });
  const devCtx = new Uint8Array(192);
  devCtx[40] = 7; // ifindex 7
  await assert.rejects(run(3, r0, { ctxIn: devCtx }, frame), { code: 'ENODEV' });
  await assert.rejects(run(3, r0, { ctxIn: ctx, ctxOut: { size: 100 } }, frame), { code: 'ENOSPC' });
  // repeat: the last verdict, an average duration
  const rep = await run(3, r0, { repeat: 50, engine: 'interp' }, frame);
  assert.equal(rep.retval, 0);
});

/** The Internet checksum over bytes (big-endian words). */
function inetSum(b: Uint8Array): number {
  let s = 0;
  for (let i = 0; i < b.length; i += 2) s += (b[i] << 8) | (b[i + 1] ?? 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

test('tc_rewrite: port 80 -> 8080, TTL and address rewrites leave valid IP and TCP checksums', async () => {
  for (const engine of ['jit', 'interp'] as const) {
    const frame = tcpFrame({ payload: 31 });
    const r = await run(3, fixture('tc_rewrite'), { engine }, frame);
    const out = r.dataOut;
    assert.equal(out.length, frame.length + 6); // change_tail(len + 6)
    const ip = out.subarray(14, 34);
    assert.equal(inetSum(ip), 0xffff, 'IPv4 header checksum');
    assert.equal((out[36] << 8) | out[37], 8080);
    assert.equal(out[22], 63);
    assert.deepEqual([...out.subarray(26, 30)], [192, 168, 2, 2]);
    const tcpLen = frame.length - 34;
    const ph = new Uint8Array(12 + tcpLen);
    ph.set(out.subarray(26, 34), 0); ph[9] = 6; ph[10] = tcpLen >> 8; ph[11] = tcpLen & 0xff;
    ph.set(out.subarray(34, 34 + tcpLen), 12);
    assert.equal(inetSum(ph), 0xffff, 'TCP checksum with the pseudo-header');
  }
});

test('XDP: adjust_head within the headroom only, adjust_tail, csum_diff', async () => {
  const adjust = (delta: number): Insn[] => [makeInsn(0xb7, 2, 0, 0, delta), makeInsn(0x85, 0, 0, 0, helperId('xdp_adjust_head')), EXIT];
  const r = async (insns: Insn[]): Promise<number> => (await testRun({ insns, type: 6, section: 'xdp', dataIn: tcpFrame(), dataSizeOut: 0, repeat: 1, engine: 'jit' })).retval;
  assert.equal(await r(adjust(-216)), 0); // 256 bytes of headroom, struct xdp_frame kept free
  assert.equal(await r(adjust(-217)) | 0, -22);
  assert.equal(await r(adjust(tcpFrame().length - 14)), 0); // ETH_HLEN must stay
  assert.equal(await r(adjust(tcpFrame().length - 13)) | 0, -22);
  const grow = await testRun({ insns: adjust(-20), type: 6, section: 'xdp', dataIn: tcpFrame(), dataSizeOut: 0, repeat: 1, engine: 'jit' });
  assert.equal(grow.dataOut.length, tcpFrame().length + 20);
  const tail = [makeInsn(0xb7, 2, 0, 0, 3455), makeInsn(0x85, 0, 0, 0, helperId('xdp_adjust_tail')), EXIT];
  assert.equal(await r(tail) | 0, -22); // past the page's end minus the tailroom (256 + 66 + 3455 > 3776)
  const tailOk = [makeInsn(0xb7, 2, 0, 0, 3454), makeInsn(0x85, 0, 0, 0, helperId('xdp_adjust_tail')), EXIT];
  assert.equal(await r(tailOk), 0);
  // csum_diff of 4 bytes against the kernel's csum_partial arithmetic
  const sum = csumPartial(Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]), 0);
  assert.equal(sum, 0x0c0a0806 + 0);
});

test('tracing types: kprobe on pt_regs, raw_tracepoint and syscall test runs', async () => {
  // r0 = PT_REGS_PARM1 (di, offset 112)
  const regs = buildPtRegs({ di: 0x1234n, si: 5n });
  assert.equal(runTracing([makeInsn(0x79, 0, 1, 112), EXIT], regs).retval, 0x1234);
  const args = new Uint8Array(16);
  new DataView(args.buffer).setBigUint64(8, 77n, true);
  const raw = await testRun({ insns: [makeInsn(0x79, 0, 1, 8), EXIT], type: 17, section: 'raw_tp', ctxIn: args, dataSizeOut: 0, repeat: 0, engine: 'jit' });
  assert.equal(raw.retval, 77);
  await assert.rejects(testRun({ insns: [mov(0, 0), EXIT], type: 17, section: '', ctxIn: args, dataSizeOut: 0, repeat: 5, engine: 'jit' }), { code: 'EINVAL' });
  // syscall: the context is written back
  const sys = await testRun({ insns: [mov(2, 99), makeInsn(0x63, 1, 2, 4), mov(0, 1), EXIT], type: 31, section: 'syscall', ctxIn: new Uint8Array(8), dataSizeOut: 0, repeat: 0, engine: 'interp' });
  assert.deepEqual([...sys.ctxOut!], [0, 0, 0, 0, 99, 0, 0, 0]);
});

test('tc-bpf(8) classid semantics without direct-action', () => {
  assert.deepEqual(classifierResult(0, 0, 0x10001), { match: false, classid: 0 });
  assert.deepEqual(classifierResult(-1 >>> 0, 0, 0x10001), { match: true, classid: 0x10001 });
  assert.deepEqual(classifierResult(0x10002, 0, 0x10001), { match: true, classid: 0x10002 });
  assert.deepEqual(classifierResult(1, 0x10003, 0x10001), { match: true, classid: 0x10003 });
});

test('verifierOps: the verifier\'s view of a type', () => {
  const tc = verifierOps(3)!;
  assert.deepEqual(tc.isValidAccess(76, 4, 'read'), { regType: 'pkt' });
  assert.deepEqual(tc.isValidAccess(168, 8, 'read'), { regType: 'sock_common', maybeNull: true });
  assert.equal(tc.isValidAccess(0, 4, 'write'), false);
  assert.deepEqual(tc.isValidAccess(8, 4, 'write'), {});
  assert.ok(tc.ldAbs && tc.pktWrite);
  assert.deepEqual(verifierOps(8)!.returnRange, { min: 0, max: 1 });
  assert.equal(verifierOps(9999), undefined);
});

test('packet helpers: redirect (XDP and tc flavours), hashes, socket cookie, fib_lookup', async () => {
  const call = (name: string): Insn => makeInsn(0x85, 0, 0, 0, helperId(name));
  const frame = tcpFrame();
  // bpf_redirect(1, 0): XDP_REDIRECT for XDP, TC_ACT_REDIRECT for tc; bad flags: XDP_ABORTED / TC_ACT_SHOT
  const redirect = (flags: number): Insn[] => [mov(1, 1), mov(2, flags), call('redirect'), EXIT];
  const xdp = async (insns: Insn[]): Promise<number> => (await testRun({ insns, type: 6, section: 'xdp', dataIn: frame, dataSizeOut: 0, repeat: 1, engine: 'jit' })).retval;
  assert.equal(await xdp(redirect(0)), 4);
  assert.equal(await xdp(redirect(8)), 0);
  assert.equal((await run(3, redirect(0))).retval, 7);
  assert.equal((await run(3, redirect(1))).retval, 7); // BPF_F_INGRESS
  assert.equal((await run(3, redirect(2))).retval, 2);
  // set_hash then skb->hash; get_hash_recalc is stable and non-zero for an IPv4 flow
  const setHash = [makeInsn(0xbf, 6, 1), makeInsn(0x18, 2, 0, 0, 0x12345678 | 0), makeInsn(0, 0, 0, 0, 0), call('set_hash'), ldxw(0, 6, 68), EXIT];
  assert.equal((await run(3, setHash)).retval, 0x12345678);
  const recalc = [call('get_hash_recalc'), EXIT];
  const h1 = (await run(3, recalc)).retval;
  assert.notEqual(h1, 0);
  assert.equal((await run(3, recalc)).retval, h1);
  assert.notEqual((await run(3, [call('get_socket_cookie'), EXIT])).retval, 0); // the test run's socket
  // bpf_fib_lookup without a table: not forwarded
  const fib = [makeInsn(0x62, 10, 0, -64, 2), makeInsn(0xbf, 2, 10), makeInsn(0x07, 2, 0, 0, -64), mov(3, 64), mov(4, 0), call('fib_lookup'), EXIT];
  for (let o = -60; o < 0; o += 4) fib.unshift(makeInsn(0x62, 10, 0, o, 0));
  assert.equal((await run(3, fib)).retval, 4); // BPF_FIB_LKUP_RET_NOT_FWDED
  // a helper outside the type's set is not registered (an unknown helper at run time)
  await assert.rejects(run(1, [mov(1, 1), mov(2, 0), call('redirect'), EXIT]));
});

/*
 * The verifier's callbacks, spin locks, dynptrs, frozen read-only maps and helper stack writes.
 * The C fixtures in test/fixtures/verifier/ are loaded by bpfkit and, where root and bpftool are
 * present, by the running kernel (`bpftool prog load`): verdicts and the last log line must agree.
 * Without the kernel they are checked against what Linux 6.18 printed for them (recorded below).
 * Small hand-written programs pin down the kernel's messages and the state each feature leaves.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { test } from 'node:test';
import '../src/api/index.js';
import { type Insn, makeInsn } from '../src/isa/insn.js';
import { Bpf } from '../src/kernel/bpf.js';
import { loadObjectIntoKernel } from '../src/kernel/load.js';
import { VerifierRejection, verifyForLoad } from '../src/kernel/verify.js';
import { verifierOps } from '../src/progtypes/index.js';
import type { VerifierMap } from '../src/verifier/reg_state.js';
import { type FuncInfoEntry, type VerifyOptions, verify } from '../src/verifier/verifier.js';
import { findTool, missingKernel } from './oracles.js';
import { comparableFixtureLog, lastErrorLine } from './verifier_corpus_lib.js';

const FIXTURES = new URL('../../test/fixtures/verifier/', import.meta.url).pathname;

/** Linux 6.18's verdict on each fixture: '' = loaded, else the last line of its verifier log. */
const KERNEL_618: Record<string, string> = {
  dynptr_leak: 'BPF_EXIT instruction in main prog would lead to reference leak',
  dynptr_ok: '',
  dynptr_overwrite: 'cannot overwrite referenced dynptr',
  dynptr_slice_after_submit: 'R6 invalid mem access \'scalar\'',
  dynptr_uninit: 'Expected an initialized dynptr as arg #2',
  find_vma_bad_ret: 'At callback return the register R0 has smin=2 smax=2 should have been in [0, 1]',
  find_vma_ok: '',
  foreach_count: '',
  foreach_write_key: 'write to change key R2 not allowed',
  // global functions (BTF func_info linkage global): verified on their own after the main program
  global_func_args: 'Caller passes invalid args into func#1 (\'queue_of\')',
  global_func_ctx_off: 'Caller passes invalid args into func#1 (\'queue_of\')',
  global_func_bad: 'R1 invalid mem access \'mem_or_null\'',
  global_func_ok: '',
  global_func_pkt: 'R6 invalid mem access \'scalar\'',
  helper_stack_write: 'math between map_value pointer and register with unbounded min value is not allowed',
  iter_num_for: '',
  iter_num_leak: 'BPF_EXIT instruction in main prog would lead to reference leak',
  iter_num_nested: '',
  iter_num_oob: 'expected an initialized iter_num as arg #0',
  iter_num_repeat: '',
  iter_num_sum: '',
  iter_num_uninit: 'expected an initialized iter_num as arg #0',
  loop_bad_ret: 'At callback return the register R0 has smin=2 smax=2 should have been in [0, 1]',
  loop_ctx_oob: 'invalid write to stack R2 off=0 size=1',
  loop_index: '',
  loop_sum: '',
  loop_unroll: '',
  may_goto_bounded: '',
  may_goto_loop: '',
  may_goto_oob: 'invalid write to stack R4 off=0 size=1',
  may_goto_subprog: '',
  may_goto_sum: '',
  rodata_live: 'R1 offset is outside of the packet',
  rodata_prune: '',
  spin_call: 'function calls are not allowed while holding a lock',
  spin_direct: 'bpf_spin_lock cannot be accessed directly by load/store',
  spin_no_unlock: 'BPF_EXIT instruction in main prog cannot be used inside bpf_spin_lock-ed region',
  spin_ok: '',
  spin_unlock_only: 'bpf_spin_unlock without taking a lock',
  timer_bad_ret: 'At async callback return the register R0 has smin=1 smax=1 should have been in [0, 0]',
  timer_ok: '',
  timer_write_key: 'write to change key R2 not allowed',
};

/**
 * Instructions Linux 6.18 processed verifying the accepted fixtures (`bpftool -d prog load`):
 * the callback iterations, pruning and precision give the same count in bpfkit.
 */
const KERNEL_618_PROCESSED: Record<string, number> = {
  dynptr_ok: 44, find_vma_ok: 32, global_func_ok: 27, loop_index: 52, loop_sum: 49, loop_unroll: 31, rodata_prune: 5, spin_ok: 17, timer_ok: 26,
  // the callback's backedge states (SCC) keep cleaning and pruning back until the loop is done
  foreach_count: 40,
};

function bpfkitLoad(name: string): string { return lastErrorLine(bpfkitLog(name)); }

/** The level-1 log of a rejected load ('' when accepted). */
function bpfkitLog(name: string): string {
  try {
    loadObjectIntoKernel(new Bpf(), new Uint8Array(readFileSync(FIXTURES + name + '.o')), name + '.o');
    return '';
  } catch (e) {
    if (e instanceof VerifierRejection) return e.log;
    throw e;
  }
}

/** The `processed N insns` of bpfkit's verifier for an accepted fixture. */
function bpfkitProcessed(name: string): number {
  let processed = -1;
  loadObjectIntoKernel(new Bpf(), new Uint8Array(readFileSync(FIXTURES + name + '.o')), name + '.o', {
    verifier: (req) => {
      verifyForLoad(req);
      processed = verify(req.insns, { progType: req.progType, maps: (_i, fd) => req.bpf.mapOf(fd).map, progOps: verifierOps(req.progType) }).stats.insnProcessed;
    },
  });
  return processed;
}

/** bpftool's verdict: '' or the verifier log's last line; with `-d`, the processed count too. */
function kernelLoad(name: string, debug = false): { last: string; log?: string; processed?: number } {
  const pin = `/sys/fs/bpf/bpfkit_vf_${process.pid}_${name}`;
  try {
    const r = spawnSync(findTool('bpftool')!, [...(debug ? ['-d'] : []), 'prog', 'load', FIXTURES + name + '.o', pin], { encoding: 'utf8' });
    const processed = /^processed (\d+) insns/m.exec(r.stderr)?.[1];
    if (r.status === 0) return { last: '', processed: processed === undefined ? undefined : Number(processed) };
    const log = /-- BEGIN PROG LOAD LOG --\n([\s\S]*?)-- END PROG LOAD LOG --/.exec(r.stderr)?.[1];
    assert.ok(log, `bpftool prog load ${name}.o failed without a verifier log:\n${r.stderr}`);
    return { last: lastErrorLine(log), log };
  } finally {
    rmSync(pin, { force: true });
  }
}

test('fixtures: every object in test/fixtures/verifier has a recorded verdict', () => {
  const objs = readdirSync(FIXTURES).filter((f) => f.endsWith('.o')).map((f) => f.slice(0, -2)).sort();
  assert.deepEqual(objs, Object.keys(KERNEL_618).sort());
});

test('fixtures: bpfkit gives Linux 6.18\'s verdict and last log line', () => {
  for (const [name, want] of Object.entries(KERNEL_618)) assert.equal(bpfkitLoad(name), want, name);
});

test('fixtures: bpfkit agrees with the running kernel', (t) => {
  const why = missingKernel();
  if (why) { t.skip(why); return; }
  for (const name of Object.keys(KERNEL_618)) {
    const k = kernelLoad(name), ours = bpfkitLog(name);
    assert.equal(lastErrorLine(ours), k.last, name);
    // a rejection's whole level-1 log: the failing path, instruction by instruction, with states
    if (k.log) assert.deepEqual(comparableFixtureLog(ours), comparableFixtureLog(k.log), name);
  }
});

test('fixtures: bpfkit processes as many instructions as Linux 6.18', () => {
  for (const [name, n] of Object.entries(KERNEL_618_PROCESSED)) assert.equal(bpfkitProcessed(name), n, name);
});

test('fixtures: ... and as the running kernel', (t) => {
  const why = missingKernel();
  if (why) { t.skip(why); return; }
  for (const name of Object.keys(KERNEL_618_PROCESSED)) assert.equal(bpfkitProcessed(name), kernelLoad(name, true).processed, name);
});

// ---- hand-written programs ----
const mov = (dst: number, imm: number): Insn => makeInsn(0xb7, dst, 0, 0, imm);
const movr = (dst: number, src: number): Insn => makeInsn(0xbf, dst, src);
const add = (dst: number, imm: number): Insn => makeInsn(0x07, dst, 0, 0, imm);
const addr = (dst: number, src: number): Insn => makeInsn(0x0f, dst, src);
const and = (dst: number, imm: number): Insn => makeInsn(0x57, dst, 0, 0, imm);
const call = (id: number): Insn => makeInsn(0x85, 0, 0, 0, id);
const exit = makeInsn(0x95);
const ldx64 = (dst: number, src: number, off: number): Insn => makeInsn(0x79, dst, src, off);
const ldx32 = (dst: number, src: number, off: number): Insn => makeInsn(0x61, dst, src, off);
const stx64 = (dst: number, src: number, off: number): Insn => makeInsn(0x7b, dst, src, off);
const st32 = (dst: number, off: number, imm: number): Insn => makeInsn(0x62, dst, 0, off, imm);
const st64 = (dst: number, off: number, imm: number): Insn => makeInsn(0x7a, dst, 0, off, imm);
const jne = (dst: number, imm: number, off: number): Insn => makeInsn(0x55, dst, 0, off, imm);
const jeq = (dst: number, imm: number, off: number): Insn => makeInsn(0x15, dst, 0, off, imm);
/** ld_imm64 of a map (src 1) or a map value (src 2); the test's maps() resolves it by instruction. */
const ldMap = (dst: number, src = 1, valueOff = 0): Insn[] => [makeInsn(0x18, dst, src, 0, 1), makeInsn(0, 0, 0, 0, valueOff)];
/** ld_imm64 of the function `delta` instructions after this one's second slot (BPF_PSEUDO_FUNC). */
const ldFunc = (dst: number, delta: number): Insn[] => [makeInsn(0x18, dst, 4, 0, delta), makeInsn(0)];

const XDP = 6, KPROBE = 2, SOCKET_FILTER = 1;
const mapSpec = (type: number, keySize: number, valueSize: number, maxEntries: number, extra: Partial<VerifierMap['spec']> = {}): VerifierMap['spec'] =>
  ({ type, keySize, valueSize, maxEntries, flags: 0, ...extra });
const ringbuf = { spec: mapSpec(27, 0, 0, 4096, { name: 'rb' }) } as VerifierMap;

function run(insns: Insn[], progType: number, map?: VerifierMap, extra: Partial<VerifyOptions> = {}): { ok: boolean; last: string; errno: number; log: string; processed: number } {
  const r = verify(insns, { progType, maps: () => map, logLevel: 1, ...extra });
  return { ok: r.ok, last: r.ok ? '' : lastErrorLine(r.log), errno: r.errno, log: r.log, processed: r.stats.insnProcessed };
}

/** bpf_loop(nrLoops, callback, ctx, 0) from the main program; `callback` starts at the end. */
function loopProgram(nrLoops: number, callback: Insn[], ctx: 'stack' | 'null' = 'null'): Insn[] {
  const main: Insn[] = [
    st64(10, -8, 0),
    mov(1, nrLoops),
    ...ldFunc(2, 0), // patched below
    ...(ctx === 'stack' ? [movr(3, 10), add(3, -8)] : [mov(3, 0), mov(3, 0)]),
    mov(4, 0),
    call(181),
    ldx64(0, 10, -8),
    and(0, 1),
    exit,
  ];
  main[2] = makeInsn(0x18, 2, 4, 0, main.length - 3); // from slot 2: target = 2 + 1 + imm = main.length
  return [...main, ...callback];
}

/** helper(map, callback, 0, 0) from the main program (for_each_map_elem, user_ringbuf_drain); `callback` starts at the end. */
function mapCallbackProgram(helper: number, callback: Insn[]): Insn[] {
  const main = [...ldMap(1), ...ldFunc(2, 0), mov(3, 0), mov(4, 0), call(helper), mov(0, 0), exit];
  main[2] = makeInsn(0x18, 2, 4, 0, main.length - 3); // from slot 2: target = 2 + 1 + imm = main.length
  return [...main, ...callback];
}

test('bpf_loop: the callback\'s return value is checked at its exit', () => {
  const r = run(loopProgram(4, [mov(0, 2), exit]), XDP);
  assert.equal(r.last, 'At callback return the register R0 has smin=2 smax=2 should have been in [0, 1]');
  assert.equal(r.errno, 22);
  assert.match(r.log, /frame1: R1=scalar\(\) R2=0 R10=fp0 cb/);
  assert.equal(run(loopProgram(4, [mov(0, 1), exit]), XDP).ok, true);
  // the index is any 64-bit value to the verifier; its low 32 bits have a range
  assert.equal(run(loopProgram(4, [movr(0, 1), exit]), XDP).last, 'At callback return the register R0 has unknown scalar value should have been in [0, 1]');
  assert.equal(run(loopProgram(4, [makeInsn(0xbc, 0, 1), exit]), XDP).last, 'At callback return the register R0 has smin=0 smax=4294967295 should have been in [0, 1]');
});

test('bpf_loop: callbacks run only while the loop count allows (callback_depth < nr_loops)', () => {
  const bad = [ldx64(0, 1, 0), exit]; // R1 is the index, a scalar
  assert.equal(run(loopProgram(0, bad), XDP).ok, true, 'nr_loops 0: the callback is never entered');
  assert.equal(run(loopProgram(1, bad), XDP).last, 'R1 invalid mem access \'scalar\'');
});

test('bpf_loop: a counter in the caller\'s stack converges instead of unrolling a million times', () => {
  // ctx->n += 1 each iteration; widening at the call makes the state repeat after two visits
  const inc = [ldx64(1, 2, 0), add(1, 1), stx64(2, 1, 0), mov(0, 0), exit];
  const r = run(loopProgram(1 << 20, inc, 'stack'), XDP);
  assert.equal(r.ok, true, r.log);
  assert.ok(r.processed < 100, `processed ${r.processed} instructions`);
  // the context pointer is the caller's stack: writing past it fails like any stack access
  const past = run(loopProgram(3, [stx64(2, 1, 8), mov(0, 0), exit], 'stack'), XDP);
  assert.equal(past.last, 'invalid write to stack R2 off=0 size=8');
});

test('bpf_for_each_map_elem: callback arguments, a read-only key, unsupported maps', () => {
  const arr = { spec: mapSpec(2, 4, 8, 4, { name: 'arr' }) } as VerifierMap;
  const prog = (callback: Insn[]): Insn[] => mapCallbackProgram(164, callback);
  // value (R3) is the map's value: 8 bytes readable
  assert.equal(run(prog([ldx64(0, 3, 0), and(0, 1), exit]), XDP, arr).ok, true);
  assert.equal(run(prog([ldx64(0, 3, 8), mov(0, 0), exit]), XDP, arr).last, 'R3 min value is outside of the allowed memory range');
  assert.equal(run(prog([st32(2, 0, 0), mov(0, 0), exit]), XDP, arr).last, 'write to change key R2 not allowed');
  assert.equal(run(prog([movr(0, 3), exit]), XDP, arr).last, 'R0 not a scalar value');
  const lpm = { spec: mapSpec(11, 8, 8, 4, { flags: 1 }) } as VerifierMap;
  const r = run(prog([mov(0, 0), exit]), XDP, lpm);
  assert.equal(r.last, 'callback function not allowed for map');
  assert.equal(r.errno, 524);
});

test('bpf_user_ringbuf_drain: the callback gets a read-only dynptr to each sample', () => {
  const urb = { spec: mapSpec(31, 0, 0, 4096, { name: 'urb' }) } as VerifierMap;
  const prog = (callback: Insn[]): Insn[] => mapCallbackProgram(209, callback);
  // bpf_dynptr_read(fp-8, 8, sample, 0, 0)
  const read = [movr(3, 1), movr(1, 10), add(1, -8), mov(2, 8), mov(4, 0), mov(5, 0), call(201), mov(0, 0), exit];
  assert.equal(run(prog(read), KPROBE, urb).ok, true);
  assert.match(run(prog([mov(0, 2), exit]), KPROBE, urb).log, /frame1: R1=dynptr_ptr\(\) R2=0 R10=fp0 cb/);
  assert.equal(run(prog([mov(2, 0), call(199), mov(0, 0), exit]), KPROBE, urb).last, 'cannot release unowned const bpf_dynptr');
  assert.equal(run(prog(read), KPROBE, ringbuf).last, 'cannot pass map_type 27 into func bpf_user_ringbuf_drain#209');
});

/** lookup key 0 in the map (fp-4), bail out on NULL, R6 = the value; then `body`. */
function lockProgram(body: Insn[], lookups = 1): Insn[] {
  const one = (reg: number): Insn[] => [movr(2, 10), add(2, -4), ...ldMap(1), call(1), jne(0, 0, 2), mov(0, 0), exit, movr(reg, 0)];
  return [st32(10, -4, 0), ...one(6), ...(lookups > 1 ? one(7) : []), ...body];
}
const lockMap = (spinLockOff?: number): VerifierMap => ({ spec: mapSpec(1, 4, 8, 1, { name: 'lk', ...(spinLockOff === undefined ? {} : { spinLockOff }) }) });
const lock = (reg: number, off = 0): Insn[] => [movr(1, reg), ...(off ? [add(1, off)] : []), call(93)];
const unlock = (reg: number): Insn[] => [movr(1, reg), call(94)];

test('bpf_spin_lock: the kernel\'s rules and messages', () => {
  const m = lockMap(0);
  const ret0 = [mov(0, 0), exit];
  const cases: [Insn[], string, number?][] = [
    [lockProgram([...lock(6), ldx32(0, 6, 4), ...unlock(6), ...ret0]), ''],
    [lockProgram([...lock(6), ...ret0]), 'BPF_EXIT instruction in main prog cannot be used inside bpf_spin_lock-ed region'],
    [lockProgram([...lock(6), call(7), ...unlock(6), ...ret0]), 'function calls are not allowed while holding a lock'],
    [lockProgram([ldx32(0, 6, 0), exit]), 'bpf_spin_lock cannot be accessed directly by load/store'],
    [lockProgram([...lock(6), ...lock(6), ...ret0]), 'function calls are not allowed while holding a lock'],
    [lockProgram([...unlock(6), ...ret0]), 'bpf_spin_unlock without taking a lock'],
    [lockProgram([...lock(6, 4), ...unlock(6), ...ret0]), 'off 4 doesn\'t point to \'struct bpf_spin_lock\' that is at 0'],
    [lockProgram([...lock(6), ...unlock(7), ...ret0], 2), 'bpf_spin_unlock of different lock'],
  ];
  for (const [insns, want] of cases) {
    const r = run(insns, XDP, m);
    assert.equal(r.last, want, want || 'accepted');
    if (want) assert.equal(r.errno, want.includes('directly') ? 13 : 22, want);
  }
  // the held lock shows as a reference in the state, with the value's id
  const held = run(lockProgram([...lock(6), ...ret0]), XDP, m);
  assert.match(held.log, /call bpf_spin_lock#93 +; refs=1\n/);
  const noLock = lockProgram([...lock(6), ...unlock(6), ...ret0]);
  assert.equal(run(noLock, XDP, lockMap()).last, 'map \'lk\' has to have BTF in order to use bpf_spin_lock');
  assert.equal(run(noLock, XDP, lockMap(), { mapHasBtf: () => true }).last, 'map \'lk\' has no valid bpf_spin_lock');
});

test('bpf_spin_lock: the lock map\'s offset comes from its BTF value type', () => {
  const bpf = new Bpf();
  const lo = loadObjectIntoKernel(bpf, new Uint8Array(readFileSync(FIXTURES + 'spin_ok.o')), 'spin_ok.o');
  assert.equal(bpf.mapOf(lo.map('counters').fd).map.spec.spinLockOff, 0);
});

/** A ring buffer dynptr at fp-16 (reserve), then `body`. */
function dynptrProgram(body: Insn[]): Insn[] {
  return [...ldMap(1), mov(2, 8), mov(3, 0), movr(4, 10), add(4, -16), call(198), ...body];
}
const dptr = (reg: number): Insn[] => [movr(reg, 10), add(reg, -16)];

test('dynptr: initialisation, release and the kernel\'s messages', () => {
  const submit = [...dptr(1), mov(2, 0), call(199)];
  const ret0 = [mov(0, 0), exit];
  assert.equal(run(dynptrProgram([...submit, ...ret0]), XDP, ringbuf).ok, true);
  const leak = run(dynptrProgram(ret0), XDP, ringbuf);
  assert.deepEqual(leak.log.trimEnd().split('\n').slice(-3, -1), ['Unreleased reference id=2 alloc_insn=6', 'BPF_EXIT instruction in main prog would lead to reference leak']);
  assert.match(leak.log, /fp-16=dynptr_ringbuf\(id=1,ref_id=2,dynptr_id=1\) refs=2/);
  const cases: [Insn[], string][] = [
    [dynptrProgram([ldx64(0, 10, -16), ...submit, ...ret0]), 'invalid read from stack off -16+0 size 8'],
    [dynptrProgram([st64(10, -8, 0), ...submit, ...ret0]), 'cannot overwrite referenced dynptr'],
    [dynptrProgram([...submit, ...submit, ...ret0]), 'arg 1 is an unacquired reference'],
    [[...dptr(1), mov(2, 0), call(199), ...ret0], 'arg 1 is an unacquired reference'],
    [dynptrProgram([movr(1, 10), add(1, -12), mov(2, 0), call(199), ...ret0]), 'arg 1 is an unacquired reference'],
    [dynptrProgram([movr(1, 10), add(1, -12), mov(2, 0), mov(3, 0), call(203), ...ret0]), 'cannot pass in dynptr at an offset=-12'],
    // bpf_dynptr_read(dst = fp-24, 8, dynptr, 0, 0) into a buffer that overlaps the dynptr
    [dynptrProgram([movr(1, 10), add(1, -20), mov(2, 8), ...dptr(3), mov(4, 0), mov(5, 0), call(201), ...submit, ...ret0]), 'potential write to dynptr at off=-16 disallowed'],
    // bpf_dynptr_from_mem() only wraps map values
    [[movr(1, 10), add(1, -32), mov(2, 8), mov(3, 0), ...dptr(4), call(197), ...ret0], 'Unsupported reg type fp for bpf_dynptr_from_mem data'],
  ];
  for (const [insns, want] of cases) assert.equal(run(insns, XDP, ringbuf).last, want);
  // a slice shares the dynptr's reference: gone (a scalar) after the submit
  const slice = dynptrProgram([...dptr(1), mov(2, 0), mov(3, 8), call(203), movr(6, 0), ...submit, jeq(6, 0, 1), st64(6, 0, 1), ...ret0]);
  assert.equal(run(slice, XDP, ringbuf).last, 'R6 invalid mem access \'scalar\'');
});

test('frozen read-only maps: loads at constant offsets are the map\'s bytes', () => {
  const RDONLY_PROG = 1 << 7;
  const ro = (bytes: number[], frozen = true): VerifierMap => ({
    spec: mapSpec(2, 4, 8, 1, { flags: RDONLY_PROG }), frozen, lookup: () => new Uint8Array(bytes),
  });
  // r0 = *(u32 *)(value + 4); if r0 == 7 reach an invalid access
  const prog = (load: Insn, cmp: number): Insn[] => [...ldMap(1, 2), load, jeq(0, cmp, 1), exit, ldx64(0, 0, 0), exit];
  const u32at4 = ldx32(0, 1, 4);
  assert.equal(run(prog(u32at4, 7), SOCKET_FILTER, ro([0, 0, 0, 0, 3, 0, 0, 0])).ok, true, 'value 3: the branch is dead');
  assert.equal(run(prog(u32at4, 7), SOCKET_FILTER, ro([0, 0, 0, 0, 7, 0, 0, 0])).last, 'R0 invalid mem access \'scalar\'');
  assert.equal(run(prog(u32at4, 7), SOCKET_FILTER, ro([0, 0, 0, 0, 3, 0, 0, 0], false)).last, 'R0 invalid mem access \'scalar\'', 'not frozen: unknown');
  // sign-extending loads (BPF_MEMSX) see the sign-extended byte
  const s8at0 = makeInsn(0x91, 0, 1, 0);
  assert.equal(run(prog(s8at0, -1), SOCKET_FILTER, ro([0xff, 0, 0, 0, 0, 0, 0, 0])).last, 'R0 invalid mem access \'scalar\'');
  assert.equal(run(prog(s8at0, -1), SOCKET_FILTER, ro([0x7f, 0, 0, 0, 0, 0, 0, 0])).ok, true);
  // the whole 8 bytes, little endian
  const r = verify([...ldMap(1, 2), ldx64(0, 1, 0), exit], { progType: SOCKET_FILTER, maps: () => ro([1, 2, 3, 4, 5, 6, 7, 8]), logLevel: 2 });
  assert.match(r.log, /R0=0x807060504030201/);
});

test('helper stack writes: a spilled constant the helper may overwrite is forgotten', () => {
  const arr = { spec: mapSpec(2, 4, 8, 1) } as VerifierMap;
  // idx = 0 at fp-8; bpf_probe_read_kernel(buf, 8, NULL) with buf at fp-16 + (0 or 8); table[idx]
  const prog = (buf: Insn[]): Insn[] => [
    mov(6, 0), stx64(10, 6, -8), call(7), movr(7, 0), and(7, 8), ...buf, mov(2, 8), mov(3, 0), call(113),
    ldx64(0, 10, -8), ...ldMap(1, 2), addr(1, 0), ldx64(0, 1, 0), exit,
  ];
  const unbounded = 'math between map_value pointer and register with unbounded min value is not allowed';
  assert.equal(run(prog([movr(1, 10), add(1, -16), addr(1, 7)]), KPROBE, arr).last, unbounded, 'variable offset reaching fp-8');
  assert.equal(run(prog([movr(1, 10), add(1, -8)]), KPROBE, arr).last, unbounded, 'fixed offset at fp-8');
  assert.equal(run(prog([movr(1, 10), add(1, -24)]), KPROBE, arr).ok, true, 'fp-24: fp-8 keeps its 0');
});

test('func_info: one record per subprogram, at its first instruction (check_btf_func())', () => {
  // r0 = 0; call +1; exit; | r0 = 1; exit (subprograms at 0 and 3)
  const insns = [mov(0, 0), makeInsn(0x85, 0, 1, 0, 1), exit, mov(0, 1), exit];
  const entry = (insn: number, global = false): FuncInfoEntry => ({ insn, name: `f${insn}`, global, args: global ? [] : undefined });
  const run = (funcInfo: FuncInfoEntry[]): string => lastErrorLine(verify(insns, { progType: 6, logLevel: 1, funcInfo }).log);
  assert.equal(run([entry(0)]), 'number of funcs in func_info doesn\'t match number of subprogs');
  assert.equal(run([entry(0), entry(2)]), 'func_info BTF section doesn\'t match subprog layout in BPF program');
  assert.equal(verify(insns, { progType: 6, funcInfo: [entry(0), entry(3)] }).ok, true);
  // a global subprogram: assumed valid at the call, then verified alone (its R0 must be a scalar)
  const g = verify(insns, { progType: 6, logLevel: 1, funcInfo: [entry(0), entry(3, true)] });
  assert.equal(g.ok, true);
  assert.match(g.log, /^Func#1 \('f3'\) is safe for any args that match its prototype\n/);
  const leak = [mov(0, 0), makeInsn(0x85, 0, 1, 0, 1), exit, movr(0, 10), exit];
  assert.equal(lastErrorLine(verify(leak, { progType: 6, logLevel: 1, funcInfo: [entry(0), entry(3, true)] }).log), 'At subprogram exit the register R0 is not a scalar value (fp)');
});

test('bpf_xdp_sock: only queue_id, a whole u32 (bpf_xdp_sock_is_valid_access())', () => {
  const xskmap: VerifierMap = { spec: mapSpec(17, 4, 4, 1, { name: 'xsks' }) };
  // r0 = bpf_map_lookup_elem(xsks, &0): an xdp_sock after the null check; then `load`
  const prog = (load: Insn): Insn[] => [st32(10, -4, 0), movr(2, 10), add(2, -4), ...ldMap(1), call(1), jne(0, 0, 2), mov(0, 0), exit, load, mov(0, 2), exit];
  assert.equal(run(prog(ldx32(2, 0, 0)), XDP, xskmap).ok, true);
  assert.equal(run(prog(ldx32(2, 0, 4)), XDP, xskmap).last, 'R0 invalid xdp_sock access off=4 size=4');
  assert.equal(run(prog(makeInsn(0x69, 2, 0, 0)), XDP, xskmap).last, 'R0 invalid xdp_sock access off=0 size=2');
  assert.equal(run(prog(ldx64(2, 0, 0)), XDP, xskmap).last, 'R0 invalid xdp_sock access off=0 size=8');
});

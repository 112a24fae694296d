/*
 * The loops of current BPF code, against Linux 6.18: may_goto (libbpf's can_loop / cond_break)
 * and open-coded numeric iterators (bpf_for() over bpf_iter_num_new/next/destroy). The C fixtures
 * in test/fixtures/verifier/ (may_goto_*, iter_num_*) are loaded by bpfkit and, where root and
 * bpftool are present, by the running kernel: verdicts, whole verifier logs (levels 1 and 2),
 * `prog dump xlated` and `prog run` results must agree. Without the kernel they are checked
 * against what Linux 6.18.44 printed for them (recorded below). Small hand-written programs pin
 * down the encoding checks, the convergence and the rewrite.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { test } from 'node:test';
import '../src/api/index.js';
import { runCliCaptured } from '../src/cli/main.js';
import { setCliKernel } from '../src/cli/map.js';
import { registerHelpers } from '../src/helpers/index.js';
import { type Insn, makeInsn } from '../src/isa/insn.js';
import { type KfuncInfo, kfuncByName } from '../src/isa/kfuncs.js';
import { formatXlatedInsn } from '../src/isa/disasm_xlated.js';
import { Bpf } from '../src/kernel/bpf.js';
import { loadObjectIntoKernel } from '../src/kernel/load.js';
import { PinStore } from '../src/kernel/pin_store.js';
import { openObject } from '../src/loader/object.js';
import { MemoryStoreFs } from '../src/kernel/store_fs.js';
import { VerifierRejection, loadVerifyOptions } from '../src/kernel/verify.js';
import { createMap } from '../src/maps/index.js';
import { rewriteForXlated } from '../src/verifier/fixups.js';
import { verify } from '../src/verifier/verifier.js';
import { decodeForInterpreter } from '../src/vm/decode.js';
import { interpret } from '../src/vm/interpreter.js';
import { runJit } from '../src/vm/jit/index.js';
import { Vm } from '../src/vm/vm.js';
import { kernelLoadAll, kernelLoader } from './kernel_bpf_loader.js';
import { findTool, missingKernel, missingTool } from './oracles.js';
import { comparableFixtureLog, lastErrorLine } from './verifier_corpus_lib.js';

const FIXTURES = new URL('../../test/fixtures/verifier/', import.meta.url).pathname;
const XDP = 6;

/** Linux 6.18.44's verdict ('' = loaded, else the log's last line) and instructions processed. */
const KERNEL_618: Record<string, { last: string; processed: number; retval?: number; engines?: string[] }> = {
  may_goto_sum: { last: '', processed: 35 },
  may_goto_bounded: { last: '', processed: 203, retval: 2 },
  may_goto_oob: { last: 'invalid write to stack R4 off=0 size=1', processed: 223 },
  // the loop runs until may_goto says stop (s doubles: 0 in the low bit after 64 rounds); a
  // verified program has no instruction budget in either engine, so both see may_goto's 8M
  may_goto_subprog: { last: '', processed: 60, retval: 1 },
  // bpf_loop inlined and may_goto in one frame: may_goto's slots below bpf_loop's spills
  may_goto_loop: { last: '', processed: 122, retval: 2 },
  iter_num_sum: { last: '', processed: 75, retval: 2 },
  iter_num_for: { last: '', processed: 214, retval: 2 },
  iter_num_repeat: { last: '', processed: 176, retval: 2 },
  iter_num_nested: { last: '', processed: 431, retval: 2 },
  iter_num_leak: { last: 'BPF_EXIT instruction in main prog would lead to reference leak', processed: 17 },
  iter_num_uninit: { last: 'expected an initialized iter_num as arg #0', processed: 6 },
  // the variable-offset write to arr[] may hit the iterator's slot: next() finds no iterator
  iter_num_oob: { last: 'expected an initialized iter_num as arg #0', processed: 29 },
};

/** bpfkit's verifier over a fixture as the loader hands it over: the log at `level` and the counts. */
function bpfkitVerify(name: string, level: number): { ok: boolean; log: string; processed: number } {
  let out = { ok: false, log: '', processed: -1 };
  try {
    loadObjectIntoKernel(new Bpf(), new Uint8Array(readFileSync(FIXTURES + name + '.o')), name + '.o', {
      verifier: (req) => {
        const r = verify(req.insns, loadVerifyOptions(req, level));
        out = { ok: r.ok, log: r.log, processed: r.stats.insnProcessed };
        if (!r.ok) throw new VerifierRejection('EACCES', 'rejected', r.log);
      },
    });
  } catch (e) {
    if (!(e instanceof VerifierRejection)) throw e;
  }
  return out;
}

/** `bpftool [-d] prog load`: the verifier log the kernel printed ('' when it loaded at level 1). */
function kernelLog(name: string, level2: boolean): { ok: boolean; log: string } {
  const pin = `/sys/fs/bpf/bpfkit_loops_${process.pid}_${name}`;
  try {
    const r = spawnSync(findTool('bpftool')!, [...(level2 ? ['-d'] : []), 'prog', 'load', FIXTURES + name + '.o', pin], { encoding: 'utf8' });
    const log = /-- BEGIN PROG LOAD LOG --\n([\s\S]*?)-- END PROG LOAD LOG --/.exec(r.stderr)?.[1] ?? '';
    if (r.status !== 0) assert.ok(log, `bpftool prog load ${name}.o failed without a verifier log:\n${r.stderr}`);
    return { ok: r.status === 0, log };
  } finally {
    rmSync(pin, { force: true });
  }
}

const kernelMissing = (): string | undefined => missingKernel() ?? missingTool('bpftool');

for (const [name, want] of Object.entries(KERNEL_618)) {
  test(`${name}: Linux 6.18's verdict, last log line and instruction count`, () => {
    const r = bpfkitVerify(name, 1);
    assert.equal(r.ok ? '' : lastErrorLine(r.log), want.last);
    assert.equal(r.processed, want.processed);
  });

  test(`${name}: the whole level-1 and level-2 logs are the running kernel's`, (t) => {
    const why = kernelMissing();
    if (why) return t.skip(why);
    for (const level2 of [false, true]) {
      const k = kernelLog(name, level2), ours = bpfkitVerify(name, level2 ? 2 : 1);
      assert.equal(ours.ok, k.ok, name);
      // level 1 prints nothing for a program that loads
      if (k.log || !level2) assert.deepEqual(comparableFixtureLog(ours.ok && !level2 ? '' : ours.log), comparableFixtureLog(k.log), `${name} level ${level2 ? 2 : 1}`);
    }
  });

  if (want.last) continue;

  test(`${name}: prog dump xlated is the kernel's (may_goto's rewrite and stack slots, kfunc calls by address)`, async (t) => {
    const why = kernelMissing();
    if (why) return t.skip(why);
    setCliKernel(() => new Bpf({ store: new PinStore(new MemoryStoreFs()), createMap, nrCpus: 1 }));
    const pin = `/sys/fs/bpf/bpfkit_loops_x_${process.pid}`;
    try {
      const ours = await runCliCaptured(['prog', 'dump', 'xlated', 'file', FIXTURES + name + '.o']);
      assert.equal(ours.status, 0, ours.stderr);
      const load = spawnSync('bpftool', ['prog', 'load', FIXTURES + name + '.o', pin], { encoding: 'utf8' });
      assert.equal(load.status, 0, load.stderr);
      const theirs = spawnSync('bpftool', ['prog', 'dump', 'xlated', 'pinned', pin], { encoding: 'utf8' }).stdout;
      // a bpf-to-bpf call: bpftool names the JIT-ed callee (#bpf_prog_<tag>_<name>), bpfkit has no JIT image
      const lines = (text: string): string[] => text.split('\n').map((l) => l.replace(/#bpf_prog_[0-9a-f]+_\w+$/, ''));
      assert.deepEqual(lines(ours.stdout), lines(theirs));
    } finally {
      rmSync(pin, { force: true });
      setCliKernel(undefined);
    }
  });

  if (want.retval === undefined) continue;

  test(`${name}: prog run gives the kernel's return value with both engines`, async (t) => {
    const pkt = FIXTURES + '../../../examples/udp.bin';
    for (const engine of want.engines ?? ['interp', 'jit']) {
      const r = await runCliCaptured(['prog', 'run', 'file', FIXTURES + name + '.o', 'data_in', pkt, 'engine', engine]);
      assert.match(r.stdout, new RegExp(`^Return value: ${want.retval},`), `${engine}: ${r.stdout}${r.stderr}`);
    }
    const why = kernelMissing();
    if (why) return t.skip(why);
    const pin = `/sys/fs/bpf/bpfkit_loops_r_${process.pid}`;
    try {
      assert.equal(spawnSync('bpftool', ['prog', 'load', FIXTURES + name + '.o', pin]).status, 0);
      const k = spawnSync('bpftool', ['prog', 'run', 'pinned', pin, 'data_in', pkt], { encoding: 'utf8' });
      assert.match(k.stdout, new RegExp(`^Return value: ${want.retval},`), k.stdout + k.stderr);
    } finally {
      rmSync(pin, { force: true });
    }
  });
}

test('may_goto_sum: both engines run the loop until may_goto\'s budget (BPF_MAX_LOOPS) is spent', async () => {
  // s = 0 + 1 + ... + (8M - 1) is even: XDP_DROP (the kernel's timed may_goto stops on time
  // instead); a verified program runs without an instruction budget in the interpreter too
  for (const engine of ['jit', 'interp']) {
    const r = await runCliCaptured(['prog', 'run', 'file', FIXTURES + 'may_goto_sum.o', 'data_in', FIXTURES + '../../../examples/udp.bin', 'engine', engine]);
    assert.match(r.stdout, /^Return value: 1,/, `${engine}: ${r.stdout}${r.stderr}`);
  }
});

// ---- hand-written programs ----
const mov = (dst: number, imm: number): Insn => makeInsn(0xb7, dst, 0, 0, imm);
const add = (dst: number, imm: number): Insn => makeInsn(0x07, dst, 0, 0, imm);
const mayGoto = (off: number, imm = 0, dst = 0): Insn => makeInsn(0xe5, dst, 0, off, imm);
const ja = (off: number): Insn => makeInsn(0x05, 0, 0, off);
const and = (dst: number, imm: number): Insn => makeInsn(0x57, dst, 0, 0, imm);
const jeq = (dst: number, imm: number, off: number): Insn => makeInsn(0x15, dst, 0, off, imm);
const st64 = (dst: number, off: number, imm: number): Insn => makeInsn(0x7a, dst, 0, off, imm);
const exit = makeInsn(0x95);

function run(insns: Insn[], logLevel = 1): { ok: boolean; last: string; log: string; processed: number } {
  const r = verify(insns, { progType: XDP, logLevel });
  return { ok: r.ok, last: r.ok ? '' : lastErrorLine(r.log), log: r.log, processed: r.stats.insnProcessed };
}

test('may_goto: reserved fields are refused as check_cond_jmp_op() does', () => {
  assert.equal(run([mov(0, 0), mayGoto(1, 5), mov(0, 1), exit]).last, 'invalid may_goto imm 5');
  assert.equal(run([mov(0, 0), mayGoto(1, 0, 3), mov(0, 1), exit]).last, 'invalid may_goto imm 0');
  assert.equal(run([mov(0, 0), mayGoto(1), mov(0, 1), exit]).ok, true);
});

test('may_goto: a counter nothing compares converges in a few iterations (widened, then the same state one may_goto deeper)', () => {
  // r0 = 0; loop: may_goto out; r0 += 1; goto loop; out: r0 = 0; exit
  const r = run([mov(0, 0), mayGoto(2), add(0, 1), ja(-3), mov(0, 0), exit], 2);
  assert.equal(r.ok, true, r.log);
  assert.ok(r.processed < 30, `processed ${r.processed}`);
  assert.match(r.log, /SCC backedge \(1\)\n1: safe/);
  // without may_goto the same loop never ends: the verifier sees it
  const inf = run([mov(0, 0), add(0, 0), ja(-2), exit]);
  assert.equal(inf.ok, false);
});

test('may_goto: the jump is explored first, each fall-through one may_goto deeper', () => {
  // a counter compared with a constant stays precise: every value up to the bound is explored
  // r1 = 0; loop: may_goto out; r1 += 1; if r1 == 5 goto bad; goto loop; out: r0 = 0; exit; bad: r0 = *(u64 *)(r1 + 0)
  const prog = [mov(1, 0), mayGoto(3), add(1, 1), jeq(1, 5, 3), ja(-4), mov(0, 0), exit, makeInsn(0x79, 0, 1, 0), exit];
  const r = run(prog, 2);
  assert.equal(r.last, 'R1 invalid mem access \'scalar\'');
  // the exit path of each iteration comes before its fall-through, which starts one deeper
  const order = [...r.log.matchAll(/^(5: \(b7\) r0 = 0|from 1 to 2: R1=\d)/gm)].map((m) => m[1]);
  assert.deepEqual(order, ['5: (b7) r0 = 0', 'from 1 to 2: R1=0', '5: (b7) r0 = 0', 'from 1 to 2: R1=1', '5: (b7) r0 = 0',
    'from 1 to 2: R1=2', '5: (b7) r0 = 0', 'from 1 to 2: R1=3', '5: (b7) r0 = 0', 'from 1 to 2: R1=4']);
});

test('may_goto: the xlated rewrite is the timed sequence with its count and start time below the stack', () => {
  // may_goto as the first instruction, and a backward jump to it (adjust_jmp_off())
  const prog = [mayGoto(3), st64(10, -8, 1), add(0, 0), ja(-4), mov(0, 0), exit];
  const x = rewriteForXlated(prog, prog.map(() => ({ seen: true })), { progType: XDP, stackDepth: [8] });
  const text = x.insns.map((_, i) => formatXlatedInsn(x.insns, i, { callName: (pc) => x.callSymbols.get(pc) }));
  assert.deepEqual(text.slice(0, 9), [
    '(7a) *(u64 *)(r10 -24) = 65535',
    '(7a) *(u64 *)(r10 -16) = 0',
    '(79) r11 = *(u64 *)(r10 -24)',
    '(15) if r11 == 0x0 goto pc+8',
    '(17) r11 -= 1',
    '(55) if r11 != 0x0 goto pc+2',
    '(b7) r11 = -24',
    `(85) call arch_bpf_timed_may_goto#${x.insns[7].imm}`,
    '(7b) *(u64 *)(r10 -24) = r11',
  ]);
  // the loop's backward jump lands on the count's load, not on the set-up
  assert.equal(text[11], '(05) goto pc-10');
  assert.equal(x.origIndex[2], 0);
});

// ---- numeric iterators, hand-written ----
const NEW = kfuncByName('bpf_iter_num_new')!, NEXT = kfuncByName('bpf_iter_num_next')!, DESTROY = kfuncByName('bpf_iter_num_destroy')!;
const kcall = (k: KfuncInfo): Insn => makeInsn(0x85, 0, 2, 0, k.btfId);
const movr = (dst: number, src: number): Insn => makeInsn(0xbf, dst, src);
const fp = (reg: number, off: number): Insn[] => [movr(reg, 10), add(reg, off)];
const jne = (dst: number, imm: number, off: number): Insn => makeInsn(0x55, dst, 0, off, imm);
const ldx32 = (dst: number, src: number, off: number): Insn => makeInsn(0x61, dst, src, off);
/** bpf_iter_num_new(fp-8, start, end) */
const iterNew = (start: number, end: number): Insn[] => [...fp(1, -8), mov(2, start), mov(3, end), kcall(NEW)];
const iterNext = [...fp(1, -8), kcall(NEXT)];
const iterDestroy = [...fp(1, -8), kcall(DESTROY)];

const ret0 = [mov(0, 0), exit];
/** Hand-written iterator programs and Linux 6.18's last log line for each ('' = accepted). */
const ITER_CASES: [Insn[], string][] = [
  [[...iterNew(0, 3), ...iterDestroy, ...ret0], ''],
  [[mov(1, 0), kcall(NEXT), ...ret0], 'Possibly NULL pointer passed to trusted arg0'],
  [[mov(1, 5), kcall(NEXT), ...ret0], 'arg#0 expected pointer to an iterator on stack'],
  [[...fp(1, -8), mov(3, 1), kcall(NEW), ...ret0], 'R2 is not a scalar'],
  [[...iterNew(0, 3), ...iterNew(0, 3), ...iterDestroy, ...ret0], 'expected uninitialized iter_num as arg #0'],
  [[...iterNext, ...ret0], 'expected an initialized iter_num as arg #0'],
  [[...iterNew(0, 3), ...iterDestroy, ...iterDestroy, ...ret0], 'expected an initialized iter_num as arg #0'],
  [[...fp(1, -8), mov(2, 0), movr(3, 10), kcall(NEW), ...ret0], 'R3 is not a scalar'],
  [[...fp(1, -12), mov(2, 0), mov(3, 1), kcall(NEW), ...ret0], 'expected uninitialized iter_num as arg #0'],
  [[...iterNew(0, 3), ...ret0], 'BPF_EXIT instruction in main prog would lead to reference leak'],
  // the iterator's bytes are not data: not read, and a write (store or helper) leaves no iterator
  [[...iterNew(0, 3), makeInsn(0x79, 0, 10, -8), ...iterDestroy, ...ret0], 'invalid read from stack off -8+0 size 8'],
  [[...iterNew(0, 3), ...fp(1, -8), mov(2, 8), makeInsn(0x85, 0, 0, 0, 6), ...iterDestroy, ...ret0], 'invalid read from stack R1 off -8+0 size 8'],
  [[...iterNew(0, 3), ...fp(1, -8), mov(2, 8), mov(3, 0), makeInsn(0x85, 0, 0, 0, 113), ...iterDestroy, ...ret0], 'expected an initialized iter_num as arg #0'],
  [[...iterNew(0, 3), makeInsn(0x62, 10, 0, -4, 0), ...iterDestroy, ...ret0], 'expected an initialized iter_num as arg #0'],
  [[...iterNew(0, 3), st64(10, -8, 0), ...ret0], 'BPF_EXIT instruction in main prog would lead to reference leak'],
  [[makeInsn(0x85, 0, 2, 0, 1), ...ret0], 'kernel btf_id 1 is not a function'],
  // a module's kfunc (off: its BTF's slot in fd_array, which the load gave none of)
  [[...fp(1, -8), makeInsn(0x85, 0, 2, 1, NEXT.btfId), ...ret0], 'failed to find BTF for kernel function'],
  [[...fp(1, -8), makeInsn(0x85, 0, 2, -1, NEXT.btfId), ...ret0], 'failed to find BTF for kernel function'],
];

test('iterators: the kernel\'s argument rules and messages (process_iter_arg(), check_kfunc_args())', () => {
  for (const [insns, want] of ITER_CASES) assert.equal(run(insns).last, want, want || 'accepted');
  // a misaligned iterator: why, then the refusal
  const odd = run([...fp(1, -12), mov(2, 0), mov(3, 1), kcall(NEW), ...ret0]);
  assert.deepEqual(odd.log.trimEnd().split('\n').slice(-3, -1), ['cannot pass in iter at an offset=-12', 'expected uninitialized iter_num as arg #0']);
});

test('iterators and may_goto: hand-written programs get the running kernel\'s verdict, errno and whole logs (levels 1 and 2)', (t) => {
  const loader = kernelLoader();
  if (!loader.exe) return t.skip(loader.why);
  const pcall = (off: number): Insn => makeInsn(0x85, 0, 1, 0, off);
  const programs = [
    ...ITER_CASES.map(([insns]) => insns),
    [mov(0, 0), mayGoto(1, 5), mov(0, 1), exit],
    [mov(0, 0), mayGoto(2), add(0, 1), ja(-3), mov(0, 0), exit],
    [mov(1, 0), mayGoto(3), add(1, 1), jeq(1, 5, 3), ja(-4), mov(0, 0), exit, makeInsn(0x79, 0, 1, 0), exit],
    [mov(0, 0), mayGoto(0), exit], // may_goto +0: 6.18 no longer refuses it
    // two may_goto loops, one in the other
    [mov(1, 0), mov(2, 0), mayGoto(5), mayGoto(2), add(1, 1), ja(-3), add(2, 1), ja(-6), mov(0, 0), exit],
    // an iterator made in the main program, stepped and destroyed by a subprogram given its address
    [...iterNew(0, 3), ...fp(1, -8), pcall(2), mov(0, 0), exit, movr(6, 1), movr(1, 6), kcall(NEXT), jeq(0, 0, 1), ja(-4), movr(1, 6), kcall(DESTROY), mov(0, 0), exit],
    // two iterators at once; next() on a drained one again returns NULL without a fork
    [...iterNew(0, 3), ...fp(1, -16), mov(2, 0), mov(3, 2), kcall(NEW), ...iterDestroy, ...fp(1, -16), kcall(NEXT), ...fp(1, -16), kcall(DESTROY), ...ret0],
    [...iterNew(0, 0), ...iterNext, jeq(0, 0, 1), ja(-4), ...iterNext, ...iterDestroy, ...ret0],
    // an iterator loop inside a may_goto loop
    [mov(6, 0), ...iterNew(0, 100), mayGoto(5), ...iterNext, jeq(0, 0, 2), add(6, 1), ja(-6), ...iterDestroy, movr(0, 6), and(0, 1), exit],
  ];
  for (const level of [1, 2]) {
    const kernel = kernelLoadAll(loader.exe, programs.map((insns) => ({ insns, progType: XDP })), level);
    programs.forEach((insns, i) => {
      const ours = verify(insns, { progType: XDP, logLevel: level });
      assert.equal(ours.ok, kernel[i].ok, `program ${i}: ${kernel[i].log}`);
      if (!ours.ok) assert.equal(ours.errno, kernel[i].errno, `program ${i}`);
      assert.deepEqual(comparableFixtureLog(ours.log), comparableFixtureLog(kernel[i].log), `program ${i} level ${level}`);
    });
  }
});

test('iterators: new() takes a reference and an active iterator, next() forks drained/active, destroy() releases', () => {
  // r6 = 0; new(0, 3); loop: next(); if r0 == 0 goto out; r6 += *(u32 *)(r0 + 0); goto loop; out: destroy(); r0 = 0
  const prog = [mov(6, 0), ...iterNew(0, 3), ...iterNext, jeq(0, 0, 2), ldx32(7, 0, 0), ja(-6), ...iterDestroy, mov(0, 0), exit];
  const r = run(prog, 2);
  assert.equal(r.ok, true, r.log);
  assert.match(r.log, /call bpf_iter_num_new#63675 +; R0=scalar\(\) fp-8=iter_num\(ref_id=1,state=active,depth=0\) refs=1\n/);
  assert.match(r.log, /call bpf_iter_num_next#63678 +; R0=0 fp-8=iter_num\(ref_id=1,state=drained,depth=0\) refs=1\n/);
  assert.match(r.log, /from 8 to 9: R0=rdonly_mem\(id=2,ref_obj_id=1,sz=4\) .*fp-8=iter_num\(ref_id=1,state=active,depth=1\) refs=1\n/);
  // the element is 4 readable bytes, read-only
  const past = run([...iterNew(0, 3), ...iterNext, jeq(0, 0, 1), ldx32(7, 0, 4), ...iterDestroy, mov(0, 0), exit]);
  assert.deepEqual(past.log.trimEnd().split('\n').slice(-3, -1), ['invalid access to memory, mem_size=4 off=4 size=4', 'R0 min value is outside of the allowed memory range']);
  assert.equal(run([...iterNew(0, 3), ...iterNext, jeq(0, 0, 1), st64(0, 0, 1), ...iterDestroy, mov(0, 0), exit]).last,
    'R0 cannot write into rdonly_mem');
  // destroy() ends the element pointer too (it shares the iterator's reference)
  const after = run([...iterNew(0, 3), ...iterNext, movr(6, 0), ...iterDestroy, jeq(6, 0, 1), ldx32(0, 6, 0), mov(0, 0), exit]);
  assert.equal(after.last, 'R6 invalid mem access \'scalar\'');
});

test('iterators: a loop over an iterator converges at next() in a few iterations', () => {
  // count every element in r6, never compared: widened, then the same state at next() one deeper
  const prog = [mov(6, 0), ...iterNew(0, 1000000), ...iterNext, jeq(0, 0, 2), add(6, 1), ja(-6), ...iterDestroy, movr(0, 6), and(0, 3), exit];
  const r = run(prog, 2);
  assert.equal(r.ok, true, r.log);
  assert.ok(r.processed < 60, `processed ${r.processed}`);
  assert.match(r.log, /SCC backedge \(1\)\n8: safe/);
});

/**
 * r7 = the sum of the elements, r8 = their count, r6 = new()'s result; r0 = r6 << 32 | r8 << 16 | (r7 & 0xffff).
 * Run unverified by both engines, the kfunc calls decoded as helper calls.
 */
function iterRunProgram(start: number, end: number): Insn[] {
  return [
    mov(7, 0), mov(8, 0), ...iterNew(start, end), movr(6, 0),
    ...iterNext, jeq(0, 0, 4), ldx32(1, 0, 0), makeInsn(0x0f, 7, 1), add(8, 1), ja(-8),
    ...iterDestroy,
    makeInsn(0x67, 6, 0, 0, 32), makeInsn(0x67, 8, 0, 0, 16), makeInsn(0x57, 7, 0, 0, 0xffff),
    movr(0, 6), makeInsn(0x4f, 0, 8), makeInsn(0x4f, 0, 7), exit,
  ];
}

test('iterators: the interpreter and the JIT call bpf_iter_num_* as kernel/bpf/bpf_iter.c behaves', () => {
  const expect = (start: number, end: number): bigint => {
    // bpf_iter_num_new(): -EINVAL for start > end, -E2BIG past BPF_MAX_LOOPS values (the int zero-extended in r0)
    if (start > end) return BigInt(-22 >>> 0) << 32n;
    if (end - start > 8 * 1024 * 1024) return BigInt(-7 >>> 0) << 32n;
    let sum = 0;
    for (let i = start; i < end; i++) sum = (sum + i) | 0;
    return (BigInt(end - start) << 16n) | BigInt(sum & 0xffff);
  };
  const cases: [number, number][] = [[0, 10], [5, 5], [3, 1], [-3, 2], [0, 8 * 1024 * 1024 + 1], [0x7ffffffd, 0x7fffffff], [-0x80000000, -0x7ffffffe]];
  for (const [start, end] of cases) {
    const insns = iterRunProgram(start, end);
    for (const engine of ['interp', 'jit'] as const) {
      const vm = new Vm();
      registerHelpers(vm.helpers);
      const r = engine === 'jit' ? runJit(vm, insns) : interpret(vm, insns);
      assert.equal(r.r0, expect(start, end), `${engine} [${start}, ${end})`);
    }
  }
  // the kfunc call is an ordinary helper call of the kfunc's internal id for both engines
  const decoded = decodeForInterpreter(iterRunProgram(0, 1));
  const at = 6; // bpf_iter_num_new
  assert.equal(decoded.code[at * 4] & 0xfff, 0x85);
  assert.equal(decoded.code[at * 4 + 2], NEW.helperId);
  // a kfunc bpfkit does not have stays a trap naming it
  const vm = new Vm();
  registerHelpers(vm.helpers);
  assert.throws(() => interpret(vm, [makeInsn(0x85, 0, 2, 0, 12345), exit]), /kfunc calls not supported \(insn #0\): kfunc btf id 12345/);
});

test('iterators: the loader resolves .ksyms functions to vmlinux BTF ids and refuses others as libbpf does', () => {
  const obj = openObject(new Uint8Array(readFileSync(FIXTURES + 'iter_num_sum.o')), 'iter_num_sum.o');
  const calls = obj.programs[0].insns.filter((i) => i.code === 0x85);
  assert.deepEqual(calls.map((i) => [i.src, i.imm, i.off]), [[2, NEW.btfId, 0], [2, NEXT.btfId, 0], [2, NEXT.btfId, 0], [2, DESTROY.btfId, 0]]);
  // the same object with one kfunc's name changed (same length) in its string table
  const bytes = new Uint8Array(readFileSync(FIXTURES + 'iter_num_sum.o'));
  const text = new TextDecoder('latin1').decode(bytes);
  let at = -1;
  while ((at = text.indexOf('\0bpf_iter_num_destroy\0', at + 1)) >= 0) bytes.set(new TextEncoder().encode('bpf_iter_num_destroX'), at + 1);
  assert.throws(() => openObject(bytes, 'renamed.o'), (e: Error) => e.message === 'renamed.o: extern (func ksym) \'bpf_iter_num_destroX\': not found in kernel or module BTFs');
});

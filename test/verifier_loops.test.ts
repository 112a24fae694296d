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
import { type Insn, makeInsn } from '../src/isa/insn.js';
import { formatXlatedInsn } from '../src/isa/disasm_xlated.js';
import { Bpf } from '../src/kernel/bpf.js';
import { loadObjectIntoKernel } from '../src/kernel/load.js';
import { PinStore } from '../src/kernel/pin_store.js';
import { MemoryStoreFs } from '../src/kernel/store_fs.js';
import { VerifierRejection, loadVerifyOptions } from '../src/kernel/verify.js';
import { createMap } from '../src/maps/index.js';
import { rewriteForXlated } from '../src/verifier/fixups.js';
import { verify } from '../src/verifier/verifier.js';
import { findTool, missingKernel, missingTool } from './oracles.js';
import { comparableFixtureLog, lastErrorLine } from './verifier_corpus_lib.js';

const FIXTURES = new URL('../../test/fixtures/verifier/', import.meta.url).pathname;
const XDP = 6;

/** Linux 6.18.44's verdict ('' = loaded, else the log's last line) and instructions processed. */
const KERNEL_618: Record<string, { last: string; processed: number; retval?: number }> = {
  may_goto_sum: { last: '', processed: 35 },
  may_goto_bounded: { last: '', processed: 203, retval: 2 },
  may_goto_oob: { last: 'invalid write to stack R4 off=0 size=1', processed: 223 },
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

  test(`${name}: prog dump xlated is the kernel's (may_goto rewritten, its stack slots set up)`, async (t) => {
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
      assert.deepEqual(ours.stdout.split('\n'), theirs.split('\n'));
    } finally {
      rmSync(pin, { force: true });
      setCliKernel(undefined);
    }
  });

  if (want.retval === undefined) continue;

  test(`${name}: prog run gives the kernel's return value with both engines`, async (t) => {
    const pkt = FIXTURES + '../../../examples/udp.bin';
    for (const engine of ['interp', 'jit']) {
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

test('may_goto_sum: the JIT runs the loop until may_goto\'s budget (BPF_MAX_LOOPS) is spent', async () => {
  // s = 0 + 1 + ... + (8M - 1) is even: XDP_DROP (the kernel's timed may_goto stops on time instead)
  const r = await runCliCaptured(['prog', 'run', 'file', FIXTURES + 'may_goto_sum.o', 'data_in', FIXTURES + '../../../examples/udp.bin', 'engine', 'jit']);
  assert.match(r.stdout, /^Return value: 1,/, r.stdout + r.stderr);
});

// ---- hand-written programs ----
const mov = (dst: number, imm: number): Insn => makeInsn(0xb7, dst, 0, 0, imm);
const add = (dst: number, imm: number): Insn => makeInsn(0x07, dst, 0, 0, imm);
const mayGoto = (off: number, imm = 0, dst = 0): Insn => makeInsn(0xe5, dst, 0, off, imm);
const ja = (off: number): Insn => makeInsn(0x05, 0, 0, off);
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

/*
 * Reads through the socket pointers against the running kernel (check_sock_access() with
 * bpf_sock_common_is_valid_access(), bpf_sock_is_valid_access(), bpf_tcp_sock_is_valid_access()):
 * `skb->sk` (sock_common), bpf_sk_fullsock() and bpf_get_listener_sock() (sock) and bpf_tcp_sock()
 * (tcp_sock), in a tc and a cgroup_skb program, one load and one store of every size at every
 * offset of struct bpf_sock / bpf_tcp_sock and a little around it, each a program of its own,
 * loaded with BPF_PROG_LOAD and verified by bpfkit; verdicts, errno and the rejection's last log
 * line must agree (the upper half of a bpf_tcp_sock u64 passes the access check and fails its
 * conversion: EFAULT). Skips without root/cc.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { assembleToElf } from '../src/cli/asm.js';
import { runCliCaptured } from '../src/cli/main.js';
import type { Insn } from '../src/isa/insn.js';
import { sockAccessOk, tcpSockConversionMissing } from '../src/verifier/prog_ops.js';
import { verify } from '../src/verifier/verifier.js';
import { kernelLoadAll, kernelLoader } from './kernel_bpf_loader.js';
import { missingKernel } from './oracles.js';
import { normalizedLog } from './verifier_corpus_lib.js';
import { type AccessCase, againstKernel, I, memAccess } from './verifier_kernel_diff.js';

const SKB_SK = 168; // offsetof(struct __sk_buff, sk)

/** Where the pointer comes from: the helper that turns skb->sk into it (none: skb->sk itself), bytes to walk. */
const SOURCES: { name: string; helper?: number; bytes: number }[] = [
  { name: 'skb->sk (sock_common)', bytes: 88 },
  { name: 'bpf_sk_fullsock() (sock)', helper: 95, bytes: 88 },
  { name: 'bpf_tcp_sock() (tcp_sock)', helper: 96, bytes: 120 },
  { name: 'bpf_get_listener_sock() (sock)', helper: 98, bytes: 88 },
];
const PROG_TYPES = [{ name: 'tc', progType: 3 }, { name: 'cgroup_skb', progType: 8 }];

/**
 * r6 = skb->sk; if (!r6) goto out; [r1 = r6; r0 = helper(r1); if (!r0) goto out; r6 = r0;]
 * r2 = 0; r2 = *(size *)(r6 + off) or *(size *)(r6 + off) = r2; out: return 1.
 */
function sockAccess(helper: number | undefined, off: number, size: number, write: boolean): Insn[] {
  const toOut = (reg: number): Insn => I(0x15, reg, 0, -1, 0); // if reg == 0 goto out (placed below)
  const viaHelper = helper === undefined ? [] : [I(0xbf, 1, 6, 0, 0), I(0x85, 0, 0, 0, helper), toOut(0), I(0xbf, 6, 0, 0, 0)];
  const insns = [I(0x79, 6, 1, SKB_SK, 0), toOut(6), ...viaHelper, I(0xb7, 2, 0, 0, 0), memAccess(6, off, size, write), I(0xb7, 0, 0, 0, 1), I(0x95, 0, 0, 0, 0)];
  const out = insns.length - 2;
  return insns.map((x, i) => (x.code === 0x15 ? { ...x, off: out - i - 1 } : x));
}

test('socket pointer loads and stores: bpfkit and the kernel agree on every offset and size', (t) => {
  const { exe, why } = kernelLoader();
  if (!exe) return t.skip(why!);
  const cases: AccessCase[] = [];
  for (const p of PROG_TYPES) {
    for (const s of SOURCES) {
      for (let off = -8; off < s.bytes; off++) {
        for (const size of [1, 2, 4, 8]) {
          for (const write of [false, true]) {
            cases.push({ what: `${p.name} ${s.name}: ${write ? 'store' : 'load'} off=${off} size=${size}`, insns: sockAccess(s.helper, off, size, write), progType: p.progType });
          }
        }
      }
    }
  }
  const { accepted, differ } = againstKernel(exe, cases, true);
  // the walk must reach both verdicts, or it tests nothing
  assert.ok(accepted > 200 && accepted < cases.length - 200, `kernel accepted ${accepted} of ${cases.length}`);
  assert.ok(differ.length === 0, `${differ.length} differ:\n${differ.slice(0, 40).join('\n')}`);
});

/**
 * r0 = bpf_sk_lookup_tcp(skb, zeroed tuple, 12, -1, 0); if r0: spill it to fp-24, bpf_sk_release(r0),
 * then `tail`: the spilled copy after the release.
 */
function releasedSpill(tail: Insn[]): Insn[] {
  return [
    I(0x7a, 10, 0, -16, 0), I(0x7a, 10, 0, -8, 0),
    I(0xbf, 2, 10, 0, 0), I(0x07, 2, 0, 0, -16), I(0xb7, 3, 0, 0, 12), I(0xb7, 4, 0, 0, -1), I(0xb7, 5, 0, 0, 0),
    I(0x85, 0, 0, 0, 84), I(0x15, 0, 0, 3 + tail.length, 0),
    I(0x7b, 10, 0, -24, 0), I(0xbf, 1, 0, 0, 0), I(0x85, 0, 0, 0, 86), ...tail,
    I(0xb7, 0, 0, 0, 0), I(0x95, 0, 0, 0, 0),
  ];
}

test('release_reference(): a released socket\'s spilled copy stays a spill, of an unknown scalar (level-2 logs equal the kernel\'s)', (t) => {
  const { exe, why } = kernelLoader();
  if (!exe) return t.skip(why!);
  const programs = [
    releasedSpill([I(0x79, 0, 10, -24, 0), I(0x61, 0, 0, 0, 0)]), // dereferenced: refused
    releasedSpill([I(0x79, 2, 10, -24, 0), I(0xbf, 0, 2, 0, 0), I(0x77, 0, 0, 0, 1)]), // used as a number: accepted
  ];
  const kernel = kernelLoadAll(exe, programs.map((insns) => ({ insns, progType: 3 })), 2);
  assert.deepEqual(kernel.map((k) => k.ok), [false, true]);
  programs.forEach((insns, i) => {
    const ours = verify(insns, { progType: 3, logLevel: 2 });
    assert.equal(ours.ok, kernel[i].ok);
    assert.deepEqual(normalizedLog(ours.log), normalizedLog(kernel[i].log));
  });
});

/** Every load through `reg` the socket type allows, as assembly (r2 = *(uN *)(reg + off)). */
function everyLoad(type: string, reg: string, bytes: number): string[] {
  const out: string[] = [];
  for (let off = 0; off < bytes; off++) {
    for (const size of [1, 2, 4, 8]) {
      if (sockAccessOk(type, off, size) && !(type === 'tcp_sock' && tcpSockConversionMissing(off))) out.push(`\tr2 = *(u${size * 8} *)(${reg} + ${off})`);
    }
  }
  return out;
}

test('prog dump xlated: every socket load converted as the kernel converts it (bpf_sock_/bpf_tcp_sock_convert_ctx_access())', async (t) => {
  const why = missingKernel();
  if (why) return t.skip(why);
  const source = [
    '\t.section tc,"ax",@progbits', '\t.globl sock_loads', '\t.type sock_loads,@function', 'sock_loads:',
    `\tr6 = *(u64 *)(r1 + ${SKB_SK})`, '\tif r6 == 0 goto out',
    ...everyLoad('sock_common', 'r6', 88),
    '\tr1 = r6', '\tcall 95', '\tif r0 == 0 goto out', '\tr7 = r0',
    ...everyLoad('sock', 'r7', 88),
    '\tr1 = r6', '\tcall 96', '\tif r0 == 0 goto out',
    ...everyLoad('tcp_sock', 'r0', 120),
    'out:', '\tr0 = 0', '\texit', '.Lend:', '\t.size sock_loads, .Lend-sock_loads', '',
  ].join('\n');
  const dir = mkdtempSync(join(tmpdir(), 'bpfkit-sockx-'));
  const obj = join(dir, 'sock_loads.o'), pin = `/sys/fs/bpf/bpfkit_sockx_${process.pid}`;
  try {
    writeFileSync(obj, await assembleToElf(source, 'sock_loads.s'));
    const load = spawnSync('bpftool', ['prog', 'load', obj, pin], { encoding: 'utf8' });
    assert.equal(load.status, 0, load.stderr);
    const theirs = spawnSync('bpftool', ['prog', 'dump', 'xlated', 'pinned', pin], { encoding: 'utf8' }).stdout;
    const ours = await runCliCaptured(['prog', 'dump', 'xlated', 'file', obj]);
    assert.equal(ours.status, 0, ours.stderr);
    // call displacements are the kernel build's: names only
    const lines = (text: string): string[] => text.split('\n').map((l) => l.replace(/(call \w+)#-?\d+/, '$1'));
    assert.ok(lines(theirs).length > 200, 'the kernel converted the loads');
    assert.deepEqual(lines(ours.stdout), lines(theirs));
  } finally {
    rmSync(pin, { force: true });
    rmSync(dir, { recursive: true, force: true });
  }
});

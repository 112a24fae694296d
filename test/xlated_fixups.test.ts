/*
 * The post-verification rewrites (verifier/fixups.ts) without a kernel: every branch of the
 * rewritten program still reaches the instruction it reached before (bpf_adj_branches()), line
 * info follows bpf_adj_linfo() through patches and removals, and the committed kernel layout is
 * what scripts/gen-kernel-layout.mjs generates on the kernel it names. The instruction-exact
 * comparison with the kernel's own rewrite is cli_dump_xlated.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { release } from 'node:os';
import { fileURLToPath } from 'node:url';
import { type Insn, makeInsn } from '../src/isa/insn.js';
import { Bpf } from '../src/kernel/bpf.js';
import { loadObjectIntoKernel } from '../src/kernel/load.js';
import { xlatedProgram } from '../src/kernel/verify.js';
import { createMap } from '../src/maps/index.js';
import { LINUX_6_18_X86_64_DEBIAN } from '../src/progtypes/kernel_layout.js';
import { divModGuard, rewriteForXlated } from '../src/verifier/fixups.js';
import type { InsnAux } from '../src/verifier/verifier.js';

const repo = (rel: string): string => fileURLToPath(new URL(`../../${rel}`, import.meta.url));

const OBJECTS = [
  'test/fixtures/progtypes/tc_fields.o', 'test/fixtures/progtypes/tc_shape.o', 'test/fixtures/progtypes/sockex1.o',
  'test/fixtures/progtypes/tc_pair.o', 'test/fixtures/xlated/dead_code.o', 'test/fixtures/xlated/xdp_maps.o',
  'test/fixtures/xlated/calls_misc.o', 'test/fixtures/xlated/skb_fields.o', 'examples/xdp_udp_drop.o',
];

/** Where a jump or call at slot i of `insns` goes (undefined: not a branch). */
function target(insns: readonly Insn[], i: number): number | undefined {
  const { code, src, off, imm } = insns[i];
  const cls = code & 7;
  if (cls !== 5 && cls !== 6) return undefined;
  const op = code & 0xf0;
  if (op === 0x90) return undefined; // exit
  if (op === 0x80) return src === 1 ? i + 1 + (off !== 0 ? off : imm) : undefined; // bpf-to-bpf call (off after jit_subprogs)
  return i + 1 + (code === 0x06 ? imm : off);
}

for (const rel of OBJECTS) {
  test(`xlated ${rel}: every original branch reaches the instruction it reached before`, () => {
    const bpf = new Bpf({ createMap });
    const loaded = loadObjectIntoKernel(bpf, new Uint8Array(readFileSync(repo(rel))), rel, {});
    try {
      const prog = bpf.progOf(loaded.programs[0].fd);
      const x = xlatedProgram(prog);
      assert.ok(x, `${rel} verifies`);
      assert.equal(x.origIndex.length, x.insns.length);
      // The first xlated slot of each original instruction (a patch starts where the instruction was).
      const firstSlot = new Map<number, number>();
      x.origIndex.forEach((o, i) => { if (!firstSlot.has(o)) firstSlot.set(o, i); });
      let checked = 0;
      x.insns.forEach((insn, i) => {
        const o = x.origIndex[i];
        const orig = prog.insns[o];
        // Only branches the rewrite kept as they were (not emitted by a patch, not hard-wired).
        if (firstSlot.get(o) !== i || orig.code !== insn.code || target(prog.insns, o) === undefined) return;
        const t = target(x.insns, i)!;
        const wanted = target(prog.insns, o)!;
        // A branch whose old target was removed (dead) lands on the next live instruction.
        let next = wanted;
        while (!firstSlot.has(next) && next < prog.insns.length) next++;
        assert.equal(t, firstSlot.get(next), `${rel}: branch at ${o} (xlated ${i}) went to ${wanted}`);
        checked++;
      });
      assert.ok(checked > 0, `${rel} has branches`);
    } finally {
      loaded.close();
    }
  });
}

const seen = (n: number, dead: number[] = []): InsnAux[] => Array.from({ length: n }, (_, i) => ({ seen: !dead.includes(i) }));

test('line info follows patches (bpf_adj_linfo) and removals (the last removed record moves to the next live insn)', () => {
  const insns = [
    makeInsn(0xb7, 2, 0, 0, 1), // 0: r2 = 1
    makeInsn(0x3f, 0, 2), // 1: r0 /= r2 (guarded: 4 instructions)
    makeInsn(0x05, 0, 0, 2), // 2: goto +2 (over the dead code)
    makeInsn(0xb7, 0, 0, 0, 7), // 3: dead
    makeInsn(0xb7, 0, 0, 0, 8), // 4: dead
    makeInsn(0xb7, 3, 0, 0, 0), // 5
    makeInsn(0x95), // 6
  ];
  const x = rewriteForXlated(insns, seen(insns.length, [3, 4]), { progType: 6 });
  // 0, the guard (jne, xor, ja, div), 5, 6: with 3-4 removed the goto is `goto +0`, dropped too.
  assert.deepEqual(x.origIndex, [0, 1, 1, 1, 1, 5, 6]);
  assert.deepEqual(x.insns.map((i) => i.code), [0xb7, 0x55, 0xac, 0x05, 0x3f, 0xb7, 0x95]);
  // Records at 1 (patched: stays at the patch's start), 2 (the dropped goto: 5 inherits 4's),
  // 4 (removed: moves to 5, which has none), 6 (after the patch: +3, after the removals: -3).
  assert.deepEqual(x.adjustInsnOffs([0, 1, 2, 4, 6]), [0, 1, undefined, 5, 6]);
  // When 5 has a record of its own, the removed ones go.
  assert.deepEqual(x.adjustInsnOffs([0, 3, 4, 5]), [0, undefined, undefined, 5]);
});

test('div/mod guards: a register divisor gets the 6.18 sequence, an immediate only sdiv/smod by -1', () => {
  const div64 = divModGuard(makeInsn(0x3f, 1, 2))!; // r1 /= r2
  assert.deepEqual(div64.map((i) => i.code), [0x55, 0xac, 0x05, 0x3f]); // if r2 != 0 goto +2; w1 ^= w1; goto +1; div
  const mod32 = divModGuard(makeInsn(0x9c, 1, 2))!; // w1 %= w2: mod, then w1 = w1 to zero-extend
  assert.deepEqual(mod32.map((i) => i.code), [0x16, 0x9c, 0x05, 0xbc]);
  assert.equal(mod32[0].off, 2);
  assert.equal(divModGuard(makeInsn(0x37, 1, 0, 0, 3)), undefined); // r1 /= 3
  assert.deepEqual(divModGuard(makeInsn(0x37, 1, 0, 1, -1))!.map((i) => i.code), [0x87]); // r1 s/= -1 -> r1 = -r1
  assert.deepEqual(divModGuard(makeInsn(0x97, 1, 0, 1, -1))!.map((i) => [i.code, i.imm]), [[0xb4, 0]]); // r1 s%= -1 -> w1 = 0
});

test('the committed kernel layout is what scripts/gen-kernel-layout.mjs generates on its kernel', (t) => {
  if (release() !== LINUX_6_18_X86_64_DEBIAN.kernel) { t.skip(`running ${release()}, the table is of ${LINUX_6_18_X86_64_DEBIAN.kernel}`); return; }
  if (process.getuid?.() !== 0) { t.skip('not root: /proc/kallsyms hides addresses'); return; }
  const r = spawnSync(process.execPath, [repo('scripts/gen-kernel-layout.mjs')], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, readFileSync(repo('src/progtypes/kernel_layout.ts'), 'utf8'));
});

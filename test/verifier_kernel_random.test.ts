/*
 * Random programs loaded by both verifiers (issue #5, "randomly generated programs loaded in both,
 * verdicts compared"): each program of verifier_random_gen.ts goes to the running kernel through
 * BPF_PROG_LOAD (log level 1) and to bpfkit's verify(); the verdicts must agree and, for a
 * rejection, the kernel's error line (the last before `processed N insns`) must be bpfkit's too.
 * Skips without root/BPF/cc.
 *
 * BPFKIT_VRAND_SEED (default 1) and BPFKIT_VRAND_COUNT (default 600) pick the programs;
 * a longer campaign is just a larger count.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatXlatedInsn } from '../src/isa/disasm_xlated.js';
import { verify } from '../src/verifier/verifier.js';
import { Rng } from './cbpf_gen.js';
import { kernelLoadAll, kernelLoader } from './kernel_bpf_loader.js';
import { randomProgram } from './verifier_random_gen.js';

/** The log's error line: the last line before the `processed` statistics. */
function errorLine(log: string): string {
  const lines = log.trimEnd().split('\n');
  let at = lines.length - 1;
  while (at > 0 && !lines[at].startsWith('processed ')) at--;
  return (at > 0 ? lines[at - 1] : lines[lines.length - 1]) ?? '';
}

test('random programs: bpfkit and the kernel agree on verdicts and error messages', (t) => {
  const { exe, why } = kernelLoader();
  if (!exe) return t.skip(why!);
  const seed = Number(process.env.BPFKIT_VRAND_SEED ?? 1);
  const count = Number(process.env.BPFKIT_VRAND_COUNT ?? 600);
  const rng = new Rng(seed);
  const programs = Array.from({ length: count }, () => randomProgram(rng));
  const kernel = kernelLoadAll(exe, programs, 1);
  let accepted = 0;
  const differ: string[] = [];
  programs.forEach((p, i) => {
    const k = kernel[i];
    const ours = verify(p.insns, { progType: p.progType, logLevel: 1 });
    if (k.ok) accepted++;
    const why = ours.ok !== k.ok ? `kernel ${k.ok ? 'accepts' : 'rejects'}, bpfkit ${ours.ok ? 'accepts' : 'rejects'}`
      : !k.ok && errorLine(ours.log) !== errorLine(k.log) ? 'messages differ' : undefined;
    if (!why) return;
    const listing = p.insns.map((_, pc) => `  ${pc}: ${formatXlatedInsn(p.insns, pc)}`).join('\n');
    differ.push(`program ${i} (seed ${seed}, prog type ${p.progType}): ${why}\n  kernel: ${errorLine(k.log)}\n  bpfkit: ${errorLine(ours.log)}\n${listing}`);
  });
  console.log(`random programs: ${count - differ.length}/${count} agree (kernel accepted ${accepted})`);
  // both verdicts must be well represented, or the comparison says little
  assert.ok(accepted > count / 5 && accepted < count * 4 / 5, `kernel accepted ${accepted} of ${count}`);
  assert.equal(differ.length, 0, `${differ.length} disagreements; first:\n${differ.slice(0, 3).join('\n')}`);
});

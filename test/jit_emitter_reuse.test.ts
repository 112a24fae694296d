/*
 * The JIT's function emitter is kept across compiles (its buffers and per-slot arrays reused):
 * a module must not depend on what was compiled before it. The same programs compiled in two
 * orders (small and large interleaved, checked and verified tier, loops and calls) give the same
 * bytes and budget segments, and each is valid WebAssembly.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Insn, makeInsn } from '../src/isa/insn.js';
import { type DecodedProgram, decodeForInterpreter } from '../src/vm/decode.js';
import { type JitHelperOptions, compileModule } from '../src/vm/jit/compile.js';
import { generate, rng } from './vm_random_lib.js';

const WA = (globalThis as unknown as { WebAssembly: { validate(bytes: Uint8Array): boolean } }).WebAssembly;

interface Case { name: string; prog: DecodedProgram; options: JitHelperOptions; shared: boolean }

/** A loop over the stack with a local call, `n` times unrolled in the source: blocks, a backward jump, a subprogram. */
function loopProgram(n: number): Insn[] {
  const out: Insn[] = [makeInsn(0xb7, 6, 0, 0, 0)];
  for (let i = 0; i < n; i++) out.push(makeInsn(0x7b, 10, 6, -8 * (1 + (i % 8))), makeInsn(0x07, 6, 0, 0, i + 1), makeInsn(0x79, 0, 10, -8));
  out.push(makeInsn(0xa5, 6, 0, -(3 * n + 1), 1 << 20)); // if r6 < 2^20 goto start
  out.push(makeInsn(0x85, 0, 1, 0, 1)); // call the subprogram
  out.push(makeInsn(0x95));
  out.push(makeInsn(0x07, 0, 0, 0, 1), makeInsn(0x95));
  return out;
}

function cases(): Case[] {
  const out: Case[] = [];
  const rand = rng(4242);
  for (let k = 0; k < 40; k++) {
    const insns = k % 10 === 3 ? loopProgram(50 + k * 40) : generate(rand, 10 + Math.floor(rand() * 60));
    const prog = decodeForInterpreter(insns);
    const unchecked = new Uint8Array(insns.length);
    for (let i = 0; i < unchecked.length; i++) unchecked[i] = rand() < 0.5 ? 1 : 0;
    out.push({ name: `program ${k}`, prog, options: {}, shared: k % 2 === 0 });
    out.push({ name: `program ${k} (verified)`, prog, options: { verified: { unchecked, stackDepth: 8 * (k % 64) } }, shared: false });
  }
  return out;
}

function compileAll(order: readonly Case[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const c of order) {
    const m = compileModule(c.prog, 0, { shared: c.shared, maxPages: 16 }, 1000, c.options);
    assert.ok(WA.validate(m.bytes), `${c.name}: invalid module`);
    out.set(c.name, `${Buffer.from(m.bytes).toString('base64')} ${m.segStart.join(',')} ${m.segCount.join(',')} ${m.insnCount}`);
  }
  return out;
}

test('JIT modules do not depend on the programs compiled before them', () => {
  const all = cases();
  const forward = compileAll(all);
  const backward = compileAll([...all].reverse());
  const shuffled = compileAll(all.filter((_, i) => i % 3 === 0).concat(all.filter((_, i) => i % 3 !== 0)));
  for (const c of all) {
    assert.equal(backward.get(c.name), forward.get(c.name), `${c.name}: bytes differ with another compile order`);
    assert.equal(shuffled.get(c.name), forward.get(c.name), `${c.name}: bytes differ with another compile order`);
  }
  // the verified tier compiles differently from the checked one (the comparison above is not vacuous)
  assert.notEqual(forward.get('program 0 (verified)'), forward.get('program 0'));
});

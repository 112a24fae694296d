/*
 * The verifier's bounds on work: a wall-clock limit (VerifyOptions.timeLimitMs) stops a walk that
 * would otherwise run to the 1M-instruction limit, with EAGAIN and a log line saying so.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { makeInsn } from '../src/isa/insn.js';
import { EAGAIN, verify } from '../src/verifier/verifier.js';

// r0 = 0; do r0 += 1 while (r0 < 0x7fffffff); exit: every iteration is a new known state
const LONG_LOOP = [makeInsn(0xb7, 0, 0, 0, 0), makeInsn(0x07, 0, 0, 0, 1), makeInsn(0xa5, 0, 0, -2, 0x7fffffff), makeInsn(0x95)];

test('timeLimitMs: a walk past its time limit is refused with EAGAIN, promptly', () => {
  const started = performance.now();
  const r = verify(LONG_LOOP, { progType: 6, logLevel: 1, timeLimitMs: 5 });
  const took = performance.now() - started;
  assert.equal(r.ok, false);
  assert.equal(r.errno, EAGAIN);
  assert.match(r.log, /verification time limit of 5 ms exceeded after \d+ insns/);
  // far from the 1M instructions the walk would otherwise process (seconds)
  assert.ok(r.stats.insnProcessed < 1_000_000, `processed ${r.stats.insnProcessed}`);
  assert.ok(took < 2000, `took ${took} ms`);
});

test('timeLimitMs: a program that verifies in time is unaffected', () => {
  const short = [makeInsn(0xb7, 0, 0, 0, 0), makeInsn(0x07, 0, 0, 0, 1), makeInsn(0xa5, 0, 0, -2, 10), makeInsn(0x95)];
  const r = verify(short, { progType: 6, logLevel: 1, timeLimitMs: 60_000 });
  assert.equal(r.ok, true, r.log);
});

/*
 * The verifier's arithmetic shortcuts against the long way round: reg_bounds_sync() skips
 * constants and unknown scalars because they are its fixed points, and constant +/- constant is
 * set directly to the wrapped result; both must give exactly what the full computation gives.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { adjustScalar, adjustScalarFull } from '../src/verifier/alu.js';
import { regBoundsSync, regBoundsSyncFull } from '../src/verifier/bounds.js';
import { type RegState, copyReg, markKnown, markUnknown, newReg } from '../src/verifier/reg_state.js';

/** Values at the edges of every bound (sign and width changes) and some in between. */
const EDGES = [0n, 1n, 2n, 0x7fffn, 0x8000n, 0x7fffffffn, 0x80000000n, 0xffffffffn, 0x100000000n, 0x17fffffffn,
  (1n << 63n) - 1n, 1n << 63n, (1n << 64n) - 1n, (1n << 64n) - 2n, 0xffffffff80000000n, 0xdeadbeefcafef00dn];

const constReg = (v: bigint): RegState => { const r = newReg(); markKnown(r, v); return r; };

/** The value part of a register: bounds and tnum. */
const bits = (r: RegState): string =>
  [r.type, r.varOff.value, r.varOff.mask, r.smin, r.smax, r.umin, r.umax, r.s32min, r.s32max, r.u32min, r.u32max].join(' ');

test('reg_bounds_sync(): constants and unknown scalars are fixed points of the full computation', () => {
  const unknown = newReg(); markUnknown(unknown);
  for (const r of [...EDGES.map(constReg), unknown]) {
    const full = copyReg(r);
    regBoundsSyncFull(full);
    assert.equal(bits(full), bits(r), `reg_bounds_sync() changed ${bits(r)}`);
    const quick = copyReg(r);
    regBoundsSync(quick);
    assert.equal(bits(quick), bits(full));
  }
});

test('constant +/- constant equals the transfer functions and reg_bounds_sync(), 32 and 64 bits', () => {
  for (const a of EDGES) for (const b of EDGES) for (const op of [0x00, 0x10]) for (const alu32 of [false, true]) {
    const quick = constReg(a), full = constReg(a);
    adjustScalar(op, quick, constReg(b), alu32);
    adjustScalarFull(op, full, constReg(b), alu32);
    assert.equal(bits(quick), bits(full), `${a} ${op ? '-' : '+'} ${b}${alu32 ? ' (alu32)' : ''}`);
  }
});

/*
 * Random programs against a second, deliberately naive interpreter written with BigInt (one
 * line per operation, straight from RFC 9669). The programs mix every ALU/ALU64 op (both operand
 * forms, sdiv/smod, movsx, byte swaps), conditional jumps of both widths (forward only, so they
 * end), stack stores/loads of every size and sign-extending loads, with registers aliased freely
 * (dst == src). All registers are folded into r0 at the end, so any difference shows. The
 * generator and the naive interpreter are in vm_random_lib.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { interpret } from '../src/vm/interpreter.js';
import { Vm } from '../src/vm/vm.js';
import { generate, reference, rng } from './vm_random_lib.js';

test('random programs: the interpreter agrees with a naive BigInt interpreter', () => {
  const vm = new Vm();
  const rand = rng(0xb9f);
  for (let n = 0; n < 600; n++) {
    const insns = generate(rand, 5 + Math.floor(rand() * 40));
    const want = reference(insns);
    const got = interpret(vm, insns).r0;
    if (got !== want) {
      const listing = insns.map((x, i) => `${i}: ${x.code.toString(16)} d${x.dst} s${x.src} off ${x.off} imm ${x.imm}`).join('\n');
      assert.fail(`program ${n}: interpreter 0x${got.toString(16)}, reference 0x${want.toString(16)}\n${listing}`);
    }
  }
});

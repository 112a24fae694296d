/*
 * JUMP_OP, the table the JIT's per-slot passes read instead of calling isJump(), checked against
 * it for every operation; and writesR10() (which decides r10Fixed and region cuts) against what
 * the instructions write (decoded words from decode.ts, as the passes see them).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeInsn } from '../src/isa/insn.js';
import { decodeForInterpreter, OP_TRAP } from '../src/vm/decode.js';
import { writesR10 } from '../src/vm/jit/emit_cfg.js';
import { isJump, JUMP_OP } from '../src/vm/jit/layout.js';

test('JUMP_OP marks exactly the operations isJump() accepts', () => {
  assert.equal(JUMP_OP.length, 0x1000);
  for (let op = 0; op < 0x1000; op++) assert.equal(JUMP_OP[op], isJump(op) ? 1 : 0, `op 0x${op.toString(16)}`);
  // conditional jumps and goto are jumps; call, exit and local calls (0x185) are not
  for (const op of [0x05, 0x15, 0x1d, 0x16, 0xde]) assert.equal(JUMP_OP[op], 1, `op 0x${op.toString(16)}`);
  for (const op of [0x85, 0x8d, 0x95, 0x185, OP_TRAP]) assert.equal(JUMP_OP[op], 0, `op 0x${op.toString(16)}`);
});

test('writesR10() finds the instructions that write r10', () => {
  const cases: [string, ReturnType<typeof makeInsn>[], boolean][] = [
    ['r10 = r1', [makeInsn(0xbf, 10, 1)], true],
    ['w10 += 1', [makeInsn(0x04, 10, 0, 0, 1)], true],
    ['r10 s/= 3 (internal sdiv op)', [makeInsn(0x37, 10, 0, 1, 3)], true],
    ['r10 = *(u64 *)(r1 + 0)', [makeInsn(0x79, 10, 1, 0)], true],
    ['r10 = 5 ll', [makeInsn(0x18, 10, 0, 0, 5), makeInsn(0, 0, 0, 0, 0)], true],
    ['r10 = atomic_fetch_add((u64 *)(r1 + 0), r10)', [makeInsn(0xdb, 1, 10, 0, 0x01)], true],
    ['*(u64 *)(r10 - 8) = r1', [makeInsn(0x7b, 10, 1, -8)], false],
    ['*(u64 *)(r10 - 8) = 1', [makeInsn(0x7a, 10, 0, -8, 1)], false],
    ['r1 = r10', [makeInsn(0xbf, 1, 10)], false],
    ['if r10 == 0 goto +0', [makeInsn(0x15, 10, 0, 0, 0)], false],
    ['atomic add into r10 - 8 (base r10, src r1)', [makeInsn(0xdb, 10, 1, -8, 0x00)], false],
  ];
  for (const [name, insns, writes] of cases) {
    const prog = decodeForInterpreter([...insns, makeInsn(0x95)]);
    const word = prog.code[0];
    assert.notEqual(word & 0xfff, OP_TRAP, `${name}: decodes`);
    assert.equal(writesR10(word), writes, name);
  }
  // a trap slot never writes, whatever its register bits
  assert.equal(writesR10(OP_TRAP | (10 << 12) | (10 << 16)), false);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeProgram, decodeSlots, encodeProgram, makeInsn, makeLdImm64, ldImm64Value, checkProgram } from '../src/isa/insn.js';
import { OPCODES } from '../src/isa/opcodes.js';

const hex = (s: string): Uint8Array => new Uint8Array(s.replace(/\s+/g, '').match(/../g)!.map((b) => parseInt(b, 16)));

test('decode/encode round trip keeps every field', () => {
  const bytes = hex('b7 01 00 00 ff ff ff ff  7b 1a f8 ff 00 00 00 00  95 00 00 00 00 00 00 00');
  const insns = decodeProgram(bytes);
  assert.deepEqual(insns[0], { code: 0xb7, dst: 1, src: 0, off: 0, imm: -1 });
  assert.deepEqual(insns[1], { code: 0x7b, dst: 10, src: 1, off: -8, imm: 0 });
  assert.deepEqual(encodeProgram(insns), bytes);
});

test('ld_imm64 spans two slots and keeps all 64 bits', () => {
  const [a, b] = makeLdImm64(3, 0x8877665544332211n);
  const insns = [a, b, makeInsn(0x95)];
  assert.equal(ldImm64Value(insns, 0), 0x8877665544332211n);
  checkProgram(insns);
  assert.deepEqual(decodeProgram(encodeProgram(insns)), insns);
});

test('the opcode table knows the RFC 9669 instruction set', () => {
  const known = OPCODES.filter((o) => o !== undefined).length;
  // 2 ALU classes x (11 binary ops x 2 + mov x 2 + neg) + 3 end + 2 JMP classes x (11 x 2 + ja)
  // + call + callx + exit + may_goto + lddw + 3 abs + 3 ind + 3 ldxsx + 4 ldx + 4 st + 4 stx + 2 atomic
  assert.equal(known, 2 * 25 + 3 + 2 * 23 + 4 + 1 + 3 + 3 + 3 + 12 + 2);
});

const reserved: [string, string, string][] = [
  ['add64 imm with offset', '07 00 01 00 01 00 00 00', 'insn 0: BPF_ALU uses reserved fields'],
  ['add imm with src', '04 10 00 00 01 00 00 00', 'insn 0: BPF_ALU uses reserved fields'],
  ['add64 reg with imm', '0f 10 00 00 01 00 00 00', 'insn 0: BPF_ALU uses reserved fields'],
  ['exit with dst', '95 01 00 00 00 00 00 00', 'insn 0: BPF_EXIT uses reserved fields'],
  ['ja with imm', '05 00 00 00 01 00 00 00', 'insn 0: BPF_JA uses reserved fields'],
  ['neg with src', '87 10 00 00 00 00 00 00', 'insn 0: BPF_NEG uses reserved fields'],
  ['be16 with offset', 'dc 01 01 00 10 00 00 00', 'insn 0: BPF_END uses reserved fields'],
  ['bad end width', 'dc 01 00 00 08 00 00 00', 'insn 0: BPF_END uses reserved fields'],
  ['ldxw with imm', '61 10 00 00 01 00 00 00', 'insn 0: BPF_LDX uses reserved fields'],
  ['stw with src', '62 10 00 00 01 00 00 00', 'insn 0: BPF_ST uses reserved fields'],
  ['stxw with imm', '63 10 00 00 01 00 00 00', 'insn 0: BPF_STX uses reserved fields'],
  ['call with dst', '85 01 00 00 01 00 00 00', 'insn 0: BPF_CALL uses reserved fields'],
  ['jeq imm with src', '15 10 00 00 01 00 00 00', 'insn 0: BPF_JMP/JMP32 uses reserved fields'],
  ['unknown opcode', 'ff 00 00 00 00 00 00 00', 'insn 0: unknown opcode ff'],
  ['neg by register', '8c 01 00 00 00 00 00 00', 'insn 0: unknown opcode 8c'],
  ['register 11', 'b7 0b 00 00 00 00 00 00', 'insn 0: R11 is invalid'],
  ['lddw without second slot', '18 01 00 00 01 00 00 00', 'insn 0: invalid bpf_ld_imm64 insn'],
  ['lddw bad pseudo', '18 71 00 00 01 00 00 00 00 00 00 00 00 00 00 00', 'insn 0: unrecognized bpf_ld_imm64 insn'],
  ['bad atomic op', 'db 21 00 00 02 00 00 00', 'insn 0: BPF_ATOMIC uses invalid atomic opcode 02'],
  ['movsx64 by 24', 'bf 21 18 00 00 00 00 00', 'insn 0: BPF_MOV uses reserved fields'],
  ['sdiv with bad offset', '3f 21 02 00 00 00 00 00', 'insn 0: BPF_ALU uses reserved fields'],
  ['ld_abs with dst', '30 01 00 00 00 00 00 00', 'insn 0: BPF_LD_[ABS|IND] uses reserved fields'],
];

for (const [name, bytes, message] of reserved) {
  test(`decoding rejects ${name}`, () => {
    assert.throws(() => decodeProgram(hex(bytes + ' 95 00 00 00 00 00 00 00')), { message });
  });
}

test('the index of the bad instruction is named', () => {
  assert.throws(() => decodeProgram(hex('b7 00 00 00 00 00 00 00 b7 00 00 00 00 00 00 00 95 01 00 00 00 00 00 00')),
    { message: 'insn 2: BPF_EXIT uses reserved fields' });
});

test('odd-sized input is refused', () => {
  assert.throws(() => decodeSlots(new Uint8Array(12)), /not a multiple of 8/);
});

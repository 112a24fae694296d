/*
 * The bpf_conformance dialect: exact encodings, errors with line:column, and
 * asm -> bytes -> formatConformance -> asm identity over every program of the suite.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { BpfError } from '../src/errors.js';
import { assembleConformance } from '../src/isa/asm_conformance.js';
import { formatConformance } from '../src/isa/disasm_conformance.js';
import { decodeSlots, encodeProgram } from '../src/isa/insn.js';
import { parseConformanceFile } from '../src/conformance/data_file.js';

const SUITE = fileURLToPath(new URL('../../../shared/conformance', import.meta.url));

function hexOf(source: string): string {
  return Buffer.from(encodeProgram(assembleConformance(source))).toString('hex');
}

function slot(code: number, dst: number, src: number, off: number, imm: number): string {
  const b = Buffer.alloc(8);
  b[0] = code;
  b[1] = (src << 4) | dst;
  b.writeInt16LE(off, 2);
  b.writeInt32LE(imm, 4);
  return b.toString('hex');
}

test('encodes each instruction form exactly', () => {
  const cases: [string, string][] = [
    ['mov32 %r0, 1', slot(0xb4, 0, 0, 0, 1)],
    ['mov %r0, -1', slot(0xb7, 0, 0, 0, -1)],
    ['mov %r1, %r10', slot(0xbf, 1, 10, 0, 0)],
    ['add32 %r0, 0xffffffff', slot(0x04, 0, 0, 0, -1)],
    ['ldxb %r0, [%r1+2]', slot(0x71, 0, 1, 2, 0)],
    ['ldxdw %r0, [%r1]', slot(0x79, 0, 1, 0, 0)],
    ['ldxsh %r0, [%r10-2]', slot(0x89, 0, 10, -2, 0)],
    ['stxdw [%r10-8], %r1', slot(0x7b, 10, 1, -8, 0)],
    ['stw [%r1+0x4], 0x11223344', slot(0x62, 1, 0, 4, 0x11223344)],
    ['be16 %r3', slot(0xdc, 3, 0, 0, 16)],
    ['le64 %r0', slot(0xd4, 0, 0, 0, 64)],
    ['swap32 %r0', slot(0xd7, 0, 0, 0, 32)],
    ['neg32 %r2', slot(0x84, 2, 0, 0, 0)],
    ['neg %r2', slot(0x87, 2, 0, 0, 0)],
    ['sdiv %r0, %r1', slot(0x3f, 0, 1, 1, 0)],
    ['smod32 %r0, -3', slot(0x94, 0, 0, 1, -3)],
    ['movsx1632 %r0, %r1', slot(0xbc, 0, 1, 16, 0)],
    ['movsx3264 %r0, %r1', slot(0xbf, 0, 1, 32, 0)],
    ['jeq %r1, 0, +2', slot(0x15, 1, 0, 2, 0)],
    ['jsgt32 %r1, %r2, -1', slot(0x6e, 1, 2, -1, 0)],
    ['ja +3', slot(0x05, 0, 0, 3, 0)],
    ['ja32 -1', slot(0x06, 0, 0, 0, -1)],
    ['call 5', slot(0x85, 0, 0, 0, 5)],
    ['call %r2', slot(0x8d, 2, 0, 0, 0)],
    ['call local +1', slot(0x85, 0, 1, 0, 1)],
    ['call helper 7', slot(0x85, 0, 0, 0, 7)],
    ['call helper %r3', slot(0x8d, 3, 0, 0, 0)],
    ['call runtime 9', slot(0x85, 0, 2, 0, 9)],
    ['bswap16 %r1', slot(0xd7, 1, 0, 0, 16)],
    ['ldxsw %r0, [%r10-4]', slot(0x81, 0, 10, -4, 0)],
    ['jset %r1, 0x80, -0x2', slot(0x45, 1, 0, -2, 0x80)],
    ['stdw [%r10 - 8], -1', slot(0x7a, 10, 0, -8, -1)],
    ['lock add [%r10-8], %r1', slot(0xdb, 10, 1, -8, 0x00)],
    ['lock fetch add32 [%r1+0], %r2', slot(0xc3, 1, 2, 0, 0x01)],
    ['lock fetch xor [%r1], %r2', slot(0xdb, 1, 2, 0, 0xa1)],
    ['lock xchg [%r1], %r2', slot(0xdb, 1, 2, 0, 0xe1)],
    ['lock cmpxchg32 [%r1], %r2', slot(0xc3, 1, 2, 0, 0xf1)],
    ['exit', slot(0x95, 0, 0, 0, 0)],
  ];
  for (const [src, want] of cases) assert.equal(hexOf(src), want, src);
  assert.equal(hexOf('lddw %r0, 0x1122334455667788'), slot(0x18, 0, 0, 0, 0x55667788) + slot(0, 0, 0, 0, 0x11223344));
  assert.equal(hexOf('lddw %r2, -1'), slot(0x18, 2, 0, 0, -1) + slot(0, 0, 0, 0, -1));
});

test('resolves labels, the implicit exit label, and comments', () => {
  const insns = assembleConformance([
    '# a comment',
    'mov %r0, 0 # trailing comment',
    'jeq %r1, 0, out',
    'call local f',
    'ja32 out',
    'out: exit # label and instruction on one line',
    'f:',
    'jne %r1, 1, exit',
    'exit',
  ].join('\n'));
  assert.deepEqual(insns.map((i) => [i.off, i.imm]), [[0, 0], [2, 0], [0, 2], [0, 0], [0, 0], [-2, 1], [0, 0]]);
});

test('refuses bad input with line:column', () => {
  const bad: [string, RegExp][] = [
    ['or %r0, %r50', /^1:9: Invalid register: %r50$/],
    ['mov %r0, 1\nldxq %r0, %r1', /^2:1: Invalid mnemonic: ldxq$/],
    ['lddw %r0', /^1:1: Invalid number of operands for lddw/],
    ['ldxb %r0, %r1', /^1:11: Invalid memory operand/],
    ['ldxb %r0, [%r1+0x10000]', /^1:11: offset out of range/],
    ['mov32 %r0, 2147483648', /^1:12: imm32 out of range/],
    ['mov32 %r0, 0x100000000', /^1:12: imm32 out of range/],
    ['mov32 %r0, -2147483649', /imm32 out of range/],
    ['ja NOT_A_LABEL\nexit', /^1:4: Invalid label: NOT_A_LABEL$/],
    ['lock or [%r10-8]', /^1:6: Invalid number of operands for lock$/],
    ['lock', /Invalid number of operands for lock/],
    ['lock nand [%r1], %r2', /Invalid atomic operation: nand/],
    ['call far 3', /Invalid call mode: far/],
    ['a:\na:\nexit', /^2:1: Duplicate label: a$/],
    ['mov %r0,', /Empty operand/],
    ['exit %r0', /Invalid number of operands for exit/],
  ];
  for (const [src, re] of bad) {
    assert.throws(() => assembleConformance(src), (e: unknown) => {
      assert.ok(e instanceof BpfError, src);
      assert.match(e.message, re, src);
      return true;
    });
  }
  assert.throws(() => assembleConformance('bogus', 'x.s'), /x\.s:1:1: Invalid mnemonic: bogus/);
});

test('formatConformance prints the dialect', () => {
  const src = 'lddw %r1, 0x1122334455667788\nstxdw [%r10-8], %r1\nlock fetch or32 [%r10-4], %r3\n' +
    'jsge32 %r4, -1, +1\nmovsx864 %r0, %r1\ncall local -6\ncall %r2\nsmod %r0, 0x7fffffff\nja32 +0\nexit\n';
  assert.equal(formatConformance(assembleConformance(src)), src);
  assert.equal(formatConformance(decodeSlots(new Uint8Array([0xff, 0, 0, 0, 0, 0, 0, 0]))), 'unknown 0xff\n');
});

test('asm -> bytes -> formatConformance -> asm is the identity over the suite', (t) => {
  const dir = join(SUITE, 'tests');
  if (!existsSync(dir)) return t.skip(`${dir} not present (the shared conformance data)`);
  let n = 0;
  for (const name of readdirSync(dir).filter((f) => f.endsWith('.data'))) {
    const file = parseConformanceFile(readFileSync(join(dir, name), 'utf8'), name);
    if (file.asm === undefined) continue;
    const bytes = encodeProgram(assembleConformance(file.asm, name));
    const text = formatConformance(decodeSlots(bytes));
    const again = encodeProgram(assembleConformance(text, name + ' (reprinted)'));
    assert.deepEqual(Buffer.from(again).toString('hex'), Buffer.from(bytes).toString('hex'), name);
    n++;
  }
  assert.equal(n, 313);
});

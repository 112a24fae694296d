import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeSlots, encodeProgram } from '../src/isa/insn.js';
import { formatInsnLlvm, objdumpFile, objdumpSection } from '../src/isa/disasm_llvm.js';
import type { ObjdumpSectionInput } from '../src/isa/disasm_llvm.js';
import { LLVM_MC, LLVM_OBJDUMP, missingTool } from './oracles.js';
import { corpusProgram, llvmMcObject, llvmObjdump, readElf, rng } from './isa_llvm_corpus.js';

const hex = (s: string): Uint8Array => new Uint8Array(s.replace(/\s+/g, '').match(/../g)!.map((b) => parseInt(b, 16)));
const missing = missingTool(LLVM_MC) ?? missingTool(LLVM_OBJDUMP);

// (bytes, default text, alu32 text) as llvm-objdump-19 -d / --mattr=+alu32 print them.
const CASES: [string, string, string?][] = [
  ['b7 00 00 00 02 00 00 00', 'r0 = 0x2'],
  ['bc 10 00 00 00 00 00 00', 'w0 = w1'],
  ['3f 10 01 00 00 00 00 00', 'r0 s/= r1'],
  ['97 00 01 00 05 00 00 00', 'r0 s%= 0x5'],
  ['bf 21 08 00 00 00 00 00', 'r1 = (s8)r2'],
  ['bc 21 10 00 00 00 00 00', 'w1 = (s16)w2'],
  ['bf 21 01 00 00 00 01 00', 'r1 = addr_space_cast(r2, 0x1, 0x0)'],
  ['91 21 01 00 00 00 00 00', 'r1 = *(s8 *)(r2 + 0x1)'],
  ['89 21 ff ff 00 00 00 00', 'r1 = *(s16 *)(r2 - 0x1)'],
  ['dc 01 00 00 10 00 00 00', 'r1 = be16 r1'],
  ['d4 01 00 00 40 00 00 00', 'r1 = le64 r1'],
  ['d7 01 00 00 20 00 00 00', 'r1 = bswap32 r1'],
  ['87 01 00 00 00 00 00 00', 'r1 = -r1'],
  ['84 01 00 00 00 00 00 00', 'w1 = -w1'],
  ['18 01 00 00 88 77 66 55 00 00 00 00 44 33 22 11', 'r1 = 0x1122334455667788 ll'],
  ['18 01 00 00 ff ff ff ff 00 00 00 00 ff ff ff ff', 'r1 = -0x1 ll'],
  ['18 11 00 00 ff ff ff ff 00 00 00 00 05 00 00 00', 'ld_pseudo\tr1, 0x1, 0xffffffff'],
  ['73 1a f8 ff 00 00 00 00', '*(u8 *)(r10 - 0x8) = r1', '*(u8 *)(r10 - 0x8) = w1'],
  ['7a 0a f8 ff fb ff ff ff', '*(u64 *)(r10 - 0x8) = -0x5'],
  ['61 a1 f8 ff 00 00 00 00', 'r1 = *(u32 *)(r10 - 0x8)', 'w1 = *(u32 *)(r10 - 0x8)'],
  ['7b 1a 00 80 00 00 00 00', '*(u64 *)(r10 - 0x8000) = r1'],
  ['c3 21 00 00 00 00 00 00', 'lock *(u32 *)(r1 + 0x0) += r2', 'lock *(u32 *)(r1 + 0x0) += w2'],
  ['c3 21 00 00 01 00 00 00', 'lock *(u32 *)(r1 + 0x0) += r2', 'w2 = atomic_fetch_add((u32 *)(r1 + 0x0), w2)'],
  ['c3 21 00 00 e1 00 00 00', '<unknown>', 'w2 = xchg32_32(r1 + 0x0, w2)'],
  ['c3 21 00 00 f1 00 00 00', '<unknown>', 'w0 = cmpxchg32_32(r1 + 0x0, w0, w2)'],
  ['db 21 00 00 a1 00 00 00', 'r2 = atomic_fetch_xor((u64 *)(r1 + 0x0), r2)'],
  ['db 21 00 00 0f 00 00 00', 'lock *(u64 *)(r1 + 0x0) += r2'],
  ['db 21 00 00 f1 00 00 00', 'r0 = cmpxchg_64(r1 + 0x0, r0, r2)'],
  ['15 01 02 00 05 00 00 00', 'if r1 == 0x5 goto +0x2'],
  ['6d 21 fe ff 00 00 00 00', 'if r1 s> r2 goto -0x2'],
  ['06 00 00 00 00 80 ff ff', 'gotol -0x8000'],
  ['85 00 00 00 ff ff ff ff', 'call -0x1'],
  ['8d 01 00 00 00 00 00 00', 'callx r1'],
  ['e5 00 02 00 00 00 00 00', 'may_goto +0x2'],
  ['30 00 00 00 0c 00 00 00', 'r0 = *(u8 *)skb[0xc]'],
  ['48 10 00 00 00 00 00 00', 'r0 = *(u16 *)skb[r1]'],
  ['95 00 00 00 00 00 00 00', 'exit'],
  ['95 00 00 00 01 00 00 00', '<unknown>'],
  ['b7 b0 00 00 00 00 00 00', 'r0 = 0x0'], // src ignored by the K form
  ['b7 0b 00 00 01 00 00 00', 'r11 = 0x1'],
  ['b7 0c 00 00 01 00 00 00', '<unknown>'],
  ['ff 00 00 00 00 00 00 00', '<unknown>'],
];

for (const [bytes, text, alu32] of CASES) {
  test(`formatInsnLlvm ${bytes} -> ${text}`, () => {
    const insns = decodeSlots(hex(bytes));
    assert.equal(formatInsnLlvm(insns, 0), text);
    assert.equal(formatInsnLlvm(insns, 0, { alu32: true }), alu32 ?? text);
  });
}

test('objdumpSection: labels, branch targets, dummy section symbol, zero runs, short tail', () => {
  // goto -3 from slot 1 wraps below 0 and resolves against the last symbol (as llvm-objdump).
  const bytes = hex(
    'b7 00 00 00 01 00 00 00  05 00 fd ff 00 00 00 00' + // .text dummy
    '25 01 fc ff 02 00 00 00  95 00 00 00 00 00 00 00' + // aa/bb/zz at 0x10
    '00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00' + // zeros: "..."
    '05 00 fe ff 00 00 00 00  18 00 00 00',
  );
  const out = objdumpSection({
    name: '.text', bytes,
    symbols: [
      { name: 'zz', offset: 16, isFunction: false }, { name: 'bb', offset: 16, isFunction: true },
      { name: 'aa', offset: 16, isFunction: true }, { name: 'obj', offset: 16, isFunction: false, isObject: true },
    ],
  });
  assert.equal(out, [
    '',
    'Disassembly of section .text:',
    '',
    '0000000000000000 <.text>:',
    '       0:\tb7 00 00 00 01 00 00 00\tr0 = 0x1',
    '       1:\t05 00 fd ff 00 00 00 00\tgoto -0x3 <zz+0xffffffffffffffe8>',
    '',
    '0000000000000010 <zz>:',
    '       2:\t25 01 fc ff 02 00 00 00\tif r1 > 0x2 goto -0x4 <zz+0xffffffffffffffe8>',
    '       3:\t95 00 00 00 00 00 00 00\texit',
    '\t\t...',
    '       6:\t05 00 fe ff 00 00 00 00\tgoto -0x2 <zz+0x18>',
    '       7:\t18\t<unknown>',
    '       7:\t00\t<unknown>',
    '       7:\t00\t<unknown>',
    '       7:\t00\t<unknown>',
    '',
  ].join('\n'));
});

test('objdumpSection: a chunk headed only by object symbols is dumped as data', () => {
  const out = objdumpSection({
    name: '.text', bytes: hex('b7 00 00 00 01 00 00 00 41 42 43 00 01'),
    symbols: [{ name: 'o1', offset: 8, isFunction: false, isObject: true }],
  });
  assert.match(out, /\n0000000000000008 <o1>:\n {7}8: 41 42 43 00 01 {18}ABC\.\.\n$/);
});

test('objdumpFile: header, empty and non-code sections skipped', () => {
  const out = objdumpFile('x.o', [
    { name: 'empty', bytes: new Uint8Array(0), symbols: [] },
    { name: '.data', bytes: hex('01 02'), symbols: [], executable: false },
    { name: 'xdp', bytes: hex('95 00 00 00 00 00 00 00'), symbols: [{ name: 'prog', offset: 0, isFunction: true }] },
  ]);
  assert.equal(out, '\nx.o:\tfile format elf64-bpf\n\nDisassembly of section xdp:\n\n0000000000000000 <prog>:\n       0:\t95 00 00 00 00 00 00 00\texit\n');
});

/** Sections of an llvm-mc object as objdumpFile input, with its ELF symbols. */
function sectionsOf(obj: Uint8Array): ObjdumpSectionInput[] {
  const elf = readElf(obj);
  return elf.sections.filter((s) => s.type === 1 && (s.flags & 4n) !== 0n).map((s) => ({
    name: s.name, bytes: s.bytes,
    symbols: elf.symbols.filter((y) => y.shndx === s.index && y.type !== 3 && y.type !== 4 && y.name !== '')
      .map((y) => ({ name: y.name, offset: y.value, isFunction: y.type === 2, isObject: y.type === 1 })),
  }));
}

test('differential: random bytes disassemble exactly as llvm-objdump-19 -d', (t) => {
  if (missing) return t.skip(missing);
  const r = rng(7);
  const slots = 3000;
  const buf = new Uint8Array(slots * 8 + 5);
  const view = new DataView(buf.buffer);
  const imms = [0, 1, -1, 16, 32, 64, 8, 0x7fffffff, -0x80000000, 0x10000, 0x01, 0xe1, 0xf1, 0xa1, 0x51, 0x41, 0xe0, 0x100];
  for (let i = 0; i < slots; i++) {
    buf[i * 8] = Math.floor(r() * 256);
    buf[i * 8 + 1] = r() < 0.5 ? Math.floor(r() * 0xbb) : Math.floor(r() * 256);
    view.setInt16(i * 8 + 2, r() < 0.5 ? 0 : r() < 0.5 ? [1, -1, 8, 16, 32, 0x7fff, -0x8000][Math.floor(r() * 7)] : Math.floor(r() * 65536) - 32768, true);
    view.setInt32(i * 8 + 4, r() < 0.3 ? 0 : r() < 0.6 ? imms[Math.floor(r() * imms.length)] : Math.floor(r() * 2 ** 32) | 0, true);
  }
  // .byte data in .text: llvm-mc copies it verbatim.
  const source = '\t.text\n' + Array.from({ length: Math.ceil(buf.length / 64) }, (_, k) =>
    '\t.byte ' + Array.from(buf.subarray(k * 64, k * 64 + 64)).join(',')).join('\n') + '\n';
  const obj = llvmMcObject(source);
  const sections = sectionsOf(obj);
  assert.deepEqual(sections[0].bytes, buf);
  for (const alu32 of [false, true]) {
    const want = llvmObjdump(obj, 'rand.o', alu32 ? ['--mattr=+alu32'] : []);
    const got = objdumpFile('rand.o', sections, { alu32 });
    assert.deepEqual(got.split('\n'), want.split('\n'));
  }
});

test('differential: the opcode corpus with symbols disassembles as llvm-objdump-19 -d', (t) => {
  if (missing) return t.skip(missing);
  const prog = corpusProgram(3, 3);
  const bytes = encodeProgram(prog);
  const lines: string[] = ['\t.text', '\t.globl f', '\t.type f,@function', 'f:'];
  for (let i = 0; i < bytes.length; i += 8) {
    if (i === 96) lines.push('\t.type o,@object', 'o:', 'local_a:');
    if (i === 200) lines.push('\t.type o2,@object', 'o2:');
    if (i === 400) lines.push('LBB0_1:');
    lines.push('\t.byte ' + Array.from(bytes.subarray(i, i + 8)).join(','));
  }
  lines.push('\t.section\txdp,"ax",@progbits', '\t.byte 0x95,0,0,0,0,0,0,0', 'second:', '\t.byte 0x05,0,0xfe,0xff,0,0,0,0');
  const obj = llvmMcObject(lines.join('\n') + '\n');
  const want = llvmObjdump(obj, 'corpus.o');
  assert.deepEqual(objdumpFile('corpus.o', sectionsOf(obj)).split('\n'), want.split('\n'));
});

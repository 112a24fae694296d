import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { assembleLlvm, asmSectionBytes } from '../src/isa/asm_llvm.js';
import { formatInsnLlvm, objdumpFile, objdumpUnit } from '../src/isa/disasm_llvm.js';
import { encodeProgram } from '../src/isa/insn.js';
import type { Insn } from '../src/isa/insn.js';
import type { AsmUnit } from '../src/isa/asm_unit.js';
import { BpfError } from '../src/errors.js';
import { LLVM_MC, LLVM_OBJDUMP, missingTool } from './oracles.js';
import { corpusProgram, llvmMcObject, llvmObjdump, readElf, rng } from './isa_llvm_corpus.js';

const missing = missingTool(LLVM_MC) ?? missingTool(LLVM_OBJDUMP);
const fixture = (name: string): string =>
  readFileSync(fileURLToPath(new URL(`../../test/fixtures/llvm/${name}`, import.meta.url)), 'utf8');
const hexOf = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
const section = (u: AsmUnit, name: string) => {
  const s = u.sections.find((x) => x.name === name);
  assert.ok(s, `section ${name}`);
  return s!;
};

/** The corpus as LLVM assembly text (one instruction a line) in the given printing mode. */
function corpusSource(prog: Insn[], alu32: boolean, keep: (insn: Insn) => boolean = () => true): { text: string; insns: Insn[] } {
  const lines = ['\t.text', '\t.globl\tprog', '\t.type\tprog,@function', 'prog:'];
  const insns: Insn[] = [];
  for (let i = 0; i < prog.length; i++) {
    const wide = prog[i].code === 0x18;
    if (keep(prog[i])) {
      lines.push('\t' + formatInsnLlvm(prog, i, { alu32 }));
      insns.push(prog[i]);
      if (wide) insns.push(prog[i + 1]);
    }
    if (wide) i++;
  }
  return { text: lines.join('\n') + '\n', insns };
}

test('round trip: every corpus instruction -> alu32 text -> assembler -> same bytes', () => {
  for (const seed of [1, 2, 3]) {
    const prog = corpusProgram(seed, 6);
    const { text } = corpusSource(prog, true);
    const unit = assembleLlvm(text, 'corpus.s');
    assert.equal(hexOf(asmSectionBytes(section(unit, '.text'))), hexOf(encodeProgram(prog)), `seed ${seed}`);
  }
});

test('round trip: default (no alu32) text re-assembles except the forms it cannot tell apart', () => {
  // Without alu32 llvm-objdump prints every 32-bit atomic as `lock ... +=` (or <unknown>).
  const lossy = (insn: Insn): boolean => insn.code === 0xc3 && insn.imm !== 0;
  const prog = corpusProgram(4, 6);
  const { text, insns } = corpusSource(prog, false, (insn) => !lossy(insn));
  assert.ok(insns.length > 700);
  assert.equal(hexOf(asmSectionBytes(section(assembleLlvm(text), '.text'))), hexOf(encodeProgram(insns)));
});

test('round trip: objdump listing lines re-assemble to the same section', () => {
  const prog = corpusProgram(5, 2);
  const unit = assembleLlvm(corpusSource(prog, true).text, 'c.s');
  const listing = objdumpUnit('c.o', unit, { alu32: true });
  const body = listing.split('\n').filter((l) => /^ +\d+:\t/.test(l))
    .map((l) => '\t' + l.split('\t').slice(2).join('\t').replace(/ <[^<>]*>$/, ''));
  const again = assembleLlvm(body.join('\n') + '\n');
  assert.equal(hexOf(asmSectionBytes(again.sections[0])), hexOf(encodeProgram(prog)));
});

test('syntax: numbers, expressions, comments, separators, labels', () => {
  const unit = assembleLlvm([
    '# comment line',
    '\tr0 = 010 // octal',
    '\tr1 = 0b101 + 0x10 * 2 - \'a\'',
    '\tr2 = -2147483648; w3 = 0xffffffff /* block */ ; r4 =+ 1',
    'top: if r1 s>= r2 goto top',
    '\tif w1 != -1 goto .Lout',
    '\tgoto +0',
    '.Lout:',
    '\t*(u32 *)(r10 - 4) = w1',
    '\tr5 = 1 << 40 ll',
    '\texit',
  ].join('\n'));
  const insns = section(unit, '.text').insns;
  assert.deepEqual(insns.slice(0, 5).map((i) => i.imm), [8, 5 + 32 - 97, -2147483648, -1, 1]);
  assert.deepEqual(insns[5], { code: 0x7d, dst: 1, src: 2, off: -1, imm: 0 });
  assert.deepEqual(insns[6], { code: 0x56, dst: 1, src: 0, off: 1, imm: -1 });
  assert.deepEqual(insns[8], { code: 0x63, dst: 10, src: 1, off: -4, imm: 0 });
  assert.deepEqual([insns[9].imm, insns[10].imm], [0, 256]);
  assert.deepEqual(section(unit, '.text').symbols, [{ name: 'top', offset: 40, global: false, type: 'notype' }]);
});

test('symbols and relocations: llvm-mc conventions', () => {
  const unit = assembleLlvm(fixture('prog.s'), 'prog.s');
  assert.deepEqual(unit.sections.map((s) => [s.name, s.executable, s.writable]), [
    ['.text', true, false], ['xdp', true, false], ['.maps', false, true], ['.rodata.str1.1', false, false],
    ['.bss', false, true], ['license', false, true],
  ]);
  const xdp = section(unit, 'xdp');
  assert.deepEqual(xdp.relocations, [
    { offset: 0, type: 'R_BPF_64_64', symbol: 'map' },
    { offset: 16, type: 'R_BPF_64_64', symbol: 'map' },
    { offset: 32, type: 'R_BPF_64_64', symbol: '.rodata.str1.1' },
    { offset: 48, type: 'R_BPF_64_64', symbol: '.bss' },
    { offset: 64, type: 'R_BPF_64_32', symbol: '.text' },
    { offset: 80, type: 'R_BPF_64_32', symbol: 'ext' },
    { offset: 96, type: 'R_BPF_64_32', symbol: 'glob_in_xdp' },
  ]);
  // map+8: addend in imm; local call in the same section resolved (src 1, slot displacement)
  assert.equal(xdp.insns[2].imm, 8);
  assert.deepEqual([xdp.insns[8].src, xdp.insns[8].imm], [1, -1]);
  assert.deepEqual([xdp.insns[9].src, xdp.insns[9].imm], [0, 5]);
  assert.deepEqual([xdp.insns[11].src, xdp.insns[11].imm], [1, 7]);
  assert.deepEqual(xdp.symbols.find((s) => s.name === 'prog'), { name: 'prog', offset: 0, global: true, type: 'func', size: 152 });
  assert.deepEqual(xdp.symbols.find((s) => s.name === 'glob_in_xdp'), { name: 'glob_in_xdp', offset: 168, global: true, type: 'func', size: 16 });
  assert.equal(new TextDecoder().decode(section(unit, '.rodata.str1.1').data), 'hello\n\t"x"A\0');
  assert.deepEqual(section(unit, 'license').relocations.map((r) => r.type), ['R_BPF_64_ABS32', 'R_BPF_64_ABS64', 'R_BPF_64_ABS64']);
});

const RELOC_NAMES: Record<number, string> = { 1: 'R_BPF_64_64', 2: 'R_BPF_64_ABS64', 3: 'R_BPF_64_ABS32', 4: 'R_BPF_64_NODYLD32', 10: 'R_BPF_64_32' };

/** Sections llvm-mc synthesizes from .loc/.file/.cfi_* (DWARF line tables, CFI), which we do not. */
const SYNTHESIZED = new Set(['.debug_line', '.debug_line_str', '.debug_frame']);

/** Compare our unit with llvm-mc's object: bytes, relocations, symbols of every section. */
function assertSameAsLlvmMc(source: string): Uint8Array {
  const obj = llvmMcObject(source);
  const elf = readElf(obj);
  const unit = assembleLlvm(source);
  for (const s of unit.sections) {
    if (SYNTHESIZED.has(s.name)) continue;
    const es = elf.sections.find((x) => x.name === s.name);
    assert.ok(es, `llvm-mc has section ${s.name}`);
    assert.equal(hexOf(asmSectionBytes(s)), hexOf(es!.bytes), `bytes of ${s.name}`);
    assert.deepEqual(s.relocations.map((r) => [r.offset, r.type, r.symbol]),
      (elf.relocs.get(s.name) ?? []).map((r) => [r.offset, RELOC_NAMES[r.type], r.symbol]), `relocations of ${s.name}`);
    const theirs = elf.symbols.filter((y) => y.shndx === es!.index && y.type !== 4)
      .map((y) => [y.name, y.value, y.bind === 1, ['notype', 'object', 'func', 'section'][y.type], y.size])
      .sort((a, b) => String(a[0]).localeCompare(String(b[0])));
    const ours = s.symbols.map((y) => [y.name, y.offset, y.global, y.type, y.size ?? 0])
      .sort((a, b) => String(a[0]).localeCompare(String(b[0])));
    assert.deepEqual(ours, theirs, `symbols of ${s.name}`);
  }
  const named = elf.sections.filter((s) => s.type === 1 || s.type === 8).map((s) => s.name)
    .filter((n) => n !== '.llvm_addrsig' && !SYNTHESIZED.has(n) && !(n === '.text' && !unit.sections.some((s) => s.name === '.text')));
  assert.deepEqual(unit.sections.map((s) => s.name).filter((n) => !SYNTHESIZED.has(n)), named);
  return obj;
}

test('differential: corpus assembles to llvm-mc-19 bytes and objdumps as llvm-objdump-19', (t) => {
  if (missing) return t.skip(missing);
  const prog = corpusProgram(6, 4);
  const { text } = corpusSource(prog, true);
  const obj = assertSameAsLlvmMc(text);
  const unit = assembleLlvm(text);
  for (const alu32 of [false, true]) {
    const want = llvmObjdump(obj, 'corpus.o', alu32 ? ['--mattr=+alu32'] : []);
    assert.deepEqual(objdumpUnit('corpus.o', unit, { alu32 }).split('\n'), want.split('\n'));
  }
});

test('differential: directives, symbols and relocations match llvm-mc-19', (t) => {
  if (missing) return t.skip(missing);
  const source = fixture('prog.s');
  const obj = assertSameAsLlvmMc(source);
  assert.deepEqual(objdumpUnit('prog.o', assembleLlvm(source)).split('\n'), llvmObjdump(obj, 'prog.o').split('\n'));
});

test('clang -S output (BTF, DWARF) assembles; .BTF/.BTF.ext get R_BPF_64_NODYLD32', () => {
  const unit = assembleLlvm(fixture('clang_prog.s'), 'clang_prog.s');
  const btf = section(unit, '.BTF').relocations;
  assert.deepEqual(btf.map((r) => [r.symbol, r.type]), [
    ['glob', 'R_BPF_64_NODYLD32'], ['mymap', 'R_BPF_64_NODYLD32'], ['fmt', 'R_BPF_64_ABS32'], ['_license', 'R_BPF_64_NODYLD32'],
  ]);
  assert.ok(section(unit, '.BTF.ext').relocations.every((r) => r.type === 'R_BPF_64_NODYLD32'));
  const xdp = section(unit, 'xdp');
  assert.ok(xdp.insns.length > 10);
  assert.deepEqual(xdp.symbols.find((s) => s.name === 'prog')?.type, 'func');
});

test('differential: clang -S output matches llvm-mc-19 (except DWARF line/CFI tables llvm-mc generates)', (t) => {
  if (missing) return t.skip(missing);
  const source = fixture('clang_prog.s');
  const obj = assertSameAsLlvmMc(source);
  assert.deepEqual(objdumpUnit('clang_prog.o', assembleLlvm(source)).split('\n'), llvmObjdump(obj, 'clang_prog.o').split('\n'));
});

test('differential: accepted syntax variants match llvm-mc-19', (t) => {
  if (missing) return t.skip(missing);
  assertSameAsLlvmMc([
    '\tr0 =+ 1', '\tr0=1', '\tr1 = 1 + 2 * 3', '\tr0 += -1', '\tr0 -= - 1', '\tr0 = 010', '\tr0 = 0b11', "\tr0 = 'a'",
    '\tr0 = 1 << 3', '\tif r1 == 1 goto 5', '\tgoto 1+1', '\tr1 = -1 ll', '\tld_pseudo r1, 2, 3', '\tr1 = 5 ll',
    '\tr0 = 1 # c', '\tr0 = 1 // c', '\tr0 = 1 ; r1 = 2', '\tr0 = 1;', '\tr1 = addr_space_cast(r2, 5, 1)', '\tmay_goto 5',
    '\t*(u64 *)(r10 - 0x8000) = r1', '\tr0 = *(u8 *)skb[5]', '\tr0 = *(u32 *)skb[r3]', '\tlock *(u32 *)(r1 + 0) += r2',
    '\tr1 = (s32)r2', '\tr1 = *(s8 *)(r2 + 0x7fff)', '\tcallx r3', '\tcall 0x7fffffff', '\tw0 = cmpxchg32_32(r1 + 0, w0, w2)',
    '\texit', '',
  ].join('\n'));
});

test('differential: whatever the disassembler prints for random bytes, we and llvm-mc-19 assemble alike', (t) => {
  if (missing) return t.skip(missing);
  const r = rng(11);
  const buf = new Uint8Array(2000 * 8);
  const view = new DataView(buf.buffer);
  const imms = [0, 1, -1, 16, 32, 64, 0xe1, 0xf1, 0x41, 0x51, 0xa1, 0x10000];
  for (let i = 0; i < 2000; i++) {
    for (let k = 0; k < 8; k++) buf[i * 8 + k] = Math.floor(r() * 256);
    if (r() < 0.5) view.setInt32(i * 8 + 4, imms[Math.floor(r() * imms.length)], true);
    if (r() < 0.3) view.setInt16(i * 8 + 2, 0, true);
  }
  for (const alu32 of [false, true]) {
    const text = objdumpFile('x.o', [{ name: '.text', bytes: buf, symbols: [] }], { alu32 }).split('\n')
      .filter((l) => /^ +\d+:\t/.test(l)).map((l) => l.split('\t').slice(2).join('\t').replace(/ <[^<>]*>$/, ''))
      // llvm-mc 19 takes only 16-bit gotol constants
      .filter((l) => l !== '<unknown>' && !/^gotol /.test(l));
    assert.ok(text.length > 400);
    const source = text.map((l) => '\t' + l).join('\n') + '\n';
    const theirs = readElf(llvmMcObject(source)).sections.find((s) => s.name === '.text')!.bytes;
    assert.equal(hexOf(asmSectionBytes(assembleLlvm(source).sections[0])), hexOf(theirs));
  }
});

test('differential: alignment (code gets BPF nops) and data directives match llvm-mc-19', (t) => {
  if (missing) return t.skip(missing);
  assertSameAsLlvmMc([
    '\t.text', '\tr0 = 1', '\t.p2align 4', '\texit', '\t.section .data,"aw",@progbits', '\t.byte 1', '\t.p2align 3, 0xff',
    '\t.byte 2, -1, 0x7f', '\t.balign 4', '\t.short -2, 0xffff', '\t.2byte 7', '\t.long -1, 0x12345678', '\t.4byte 9',
    '\t.quad -1, 0x8000000000000000', '\t.8byte 3', '\t.zero 3', '\t.zero 2, 0x41', '\t.space 2', '\t.ascii "ab", "c\\x41\\101\\n"',
    '\t.asciz "z"', '\t.string "y"', 'end:', '\t.long end - .data', '\t.uleb128 300', '\t.sleb128 -129', '\t.uleb128 end - .data', '',
  ].join('\n'));
});

const ERRORS: [string, string][] = [
  ['\tfoo r0\n', 'x.s:1:2: invalid register/token name \'foo\''],
  ['\tr0 = 1\n\tr12 = 1\n', 'x.s:2:2: invalid register \'r12\''],
  ['\tr0 = r12\n', 'x.s:1:7: invalid register \'r12\''],
  ['\tr0 = (1)\n', 'x.s:1:8: invalid operand for instruction'],
  ['\t*(u64 *)(r10 + -8) = r1\n', 'x.s:1:15: operand is not a 16-bit signed integer'],
  ['\t*(u64 *)(r10 - 0x8001) = r1\n', 'x.s:1:15: operand is not a 16-bit signed integer'],
  ['\tif r1 == 1 goto +0x8000\n', 'x.s:1:18: operand is not an identifier or 16-bit signed integer'],
  ['\texit\n\tgoto nowhere\n', 'x.s:2:7: unknown label \'nowhere\''],
  ['\tr0 = 0x1ffffffff\n', 'x.s:1:7: immediate out of range (32 bits)'],
  ['\tr0 = r0, r1\n', 'x.s:1:11: invalid operand for instruction'],
  ['\tr1 = -r2\n', 'x.s:1:2: additional inst constraint not met'],
  ['\tr1 = bswap16 r2\n', 'x.s:1:2: additional inst constraint not met'],
  ['\texit 1\n', 'x.s:1:7: invalid operand for instruction'],
  ['\tr0 = x\n', 'x.s:1:7: expected a constant expression'],
  ['\tr0 =\n', 'x.s:1:2: too few operands for instruction'],
  ['\tr0 = ~0\n', 'x.s:1:7: unexpected token'],
  ['\t.foo 1\n', 'x.s:1:2: unknown directive \'.foo\''],
  ['l:\nl:\n', 'x.s:2:1: symbol \'l\' is already defined'],
  ['\t.section xdp,"ax",@progbits\n\tgoto l\n\t.text\nl: exit\n', 'x.s:2:7: jump target \'l\' is in section \'.text\', not \'xdp\''],
  ['\tw1 = (s32)w2\n', 'x.s:1:8: invalid operand for instruction'],
  ['\t.byte 256\n', 'x.s:1:8: out of range literal value'],
  ['\t.long 1\n', 'x.s:1:1: code section \'.text\' is 4 bytes, not a multiple of 8'],
  ['\tr0 = 1 +\n', 'x.s:1:10: unknown token in expression'],
];

for (const [source, message] of ERRORS) {
  test(`assembler error: ${message}`, () => {
    assert.throws(() => assembleLlvm(source, 'x.s'), (e: unknown) => {
      assert.ok(e instanceof BpfError);
      assert.equal(e.message, message);
      assert.equal(e.code, 'EINVAL');
      assert.equal(e.pos?.line, Number(message.split(':')[1]));
      return true;
    });
  });
}

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AsmUnit } from '../src/isa/asm_unit.js';
import { makeInsn, makeLdImm64 } from '../src/isa/insn.js';
import {
  type ElfFile, R_BPF_64_32, R_BPF_64_64, SHF_ALLOC, SHF_EXECINSTR, SHF_INFO_LINK, SHF_WRITE, SHT_REL,
  STB_GLOBAL, STB_LOCAL, STT_FUNC, STT_NOTYPE, STT_OBJECT, STT_SECTION, readElf,
} from '../src/loader/elf.js';
import { unitFromElf } from '../src/loader/elf_unit.js';
import { writeElf } from '../src/loader/elf_writer.js';
import { LLVM_OBJDUMP, missingTool, runTool } from './oracles.js';

const root = new URL('../../', import.meta.url);
const fixtures = ['test/fixtures/calls.o', 'test/fixtures/global_data.o', 'test/fixtures/xdp_meta.o', 'examples/xdp_udp_drop.o'];
const load = (name: string): ElfFile => readElf(new Uint8Array(readFileSync(new URL(name, root))), name);

/** What must survive a round trip, by name rather than index. */
function summary(elf: ElfFile) {
  const secName = (i: number): string => elf.sections[i]?.name ?? `#${i}`;
  const symName = (i: number): string => {
    const s = elf.symbols[i];
    return s.type === STT_SECTION ? `[section ${secName(s.shndx)}]` : s.name;
  };
  return {
    sections: elf.sections
      .filter((s) => s.type === 1 || s.type === 8)
      .map((s) => ({ name: s.name, flags: s.flags & (SHF_ALLOC | SHF_WRITE | SHF_EXECINSTR), data: Array.from(s.data) })),
    symbols: elf.symbols
      .filter((s) => s.index !== 0 && s.type !== STT_SECTION && s.type !== 4 /* STT_FILE: not in AsmUnit */)
      .map((s) => ({ name: s.name, section: secName(s.shndx), value: s.value, size: s.size, type: s.type, bind: s.bind }))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
    relocations: [...elf.relocations.values()].map(({ section, entries }) => ({
      section: secName(section.info),
      entries: entries.map((r) => [r.offset, r.type, symName(r.symbol)]),
    })).sort((a, b) => (a.section < b.section ? -1 : 1)),
  };
}

for (const name of fixtures) {
  test(`round trip through the writer keeps ${name}`, () => {
    const elf = load(name);
    const again = readElf(writeElf(unitFromElf(elf)), 'again.o');
    assert.deepEqual(summary(again), summary(elf));
  });
}

test('layout follows llvm-mc: .strtab first, .rel<sec> after its section, .symtab last, locals first', () => {
  const unit: AsmUnit = {
    sections: [
      {
        name: '.text', executable: true, writable: false, insns: [makeInsn(0xb7, 0, 0, 0, 7), makeInsn(0x95)], data: new Uint8Array(0),
        symbols: [{ name: 'helper', offset: 0, global: false, type: 'func', size: 16 }], relocations: [],
      },
      {
        name: 'xdp', executable: true, writable: false,
        insns: [makeInsn(0x85, 0, 1, 0, -1), makeInsn(0x85, 0, 1, 0, -1), ...makeLdImm64(1, 0n), makeInsn(0x95)], data: new Uint8Array(0),
        symbols: [{ name: 'prog', offset: 0, global: true, type: 'func', size: 40 }, { name: '.Ltmp', offset: 8, global: false, type: 'notype' }],
        relocations: [
          { offset: 0, type: 'R_BPF_64_32', symbol: 'helper' },
          { offset: 8, type: 'R_BPF_64_32', symbol: '.text' },
          { offset: 16, type: 'R_BPF_64_64', symbol: 'ext_var' },
        ],
      },
      {
        name: '.rodata', executable: false, writable: false, insns: [], data: new Uint8Array([1, 2, 3, 4]),
        symbols: [{ name: 'table', offset: 0, global: true, type: 'object', size: 4 }], relocations: [],
      },
      { name: '.bss', executable: false, writable: true, insns: [], data: new Uint8Array(16), symbols: [], relocations: [] },
    ],
  };
  const bytes = writeElf(unit);
  const elf = readElf(bytes, 'w.o');
  assert.deepEqual(elf.sections.map((s) => s.name), ['', '.strtab', '.text', 'xdp', '.relxdp', '.rodata', '.bss', '.symtab']);
  const [, , text, xdp, rel, rodata, bss, symtab] = elf.sections;
  assert.equal(text.flags, SHF_ALLOC | SHF_EXECINSTR);
  assert.equal(xdp.addralign, 8);
  assert.equal(rel.type, SHT_REL);
  assert.equal(rel.flags, SHF_INFO_LINK);
  assert.equal(rel.link, symtab.index);
  assert.equal(rel.info, xdp.index);
  assert.equal(rodata.flags, SHF_ALLOC);
  assert.equal(bss.type, 8);
  assert.equal(bss.size, 16);
  assert.equal(bss.flags, SHF_ALLOC | SHF_WRITE);
  // Locals (null, section symbol of .text, helper), then globals, then the extern.
  assert.deepEqual(elf.symbols.map((s) => [s.name, s.type, s.bind]), [
    ['', STT_NOTYPE, STB_LOCAL],
    ['', STT_SECTION, STB_LOCAL],
    ['helper', STT_FUNC, STB_LOCAL],
    ['prog', STT_FUNC, STB_GLOBAL],
    ['table', STT_OBJECT, STB_GLOBAL],
    ['ext_var', STT_NOTYPE, STB_GLOBAL],
  ]);
  assert.equal(symtab.info, 3);
  assert.equal(elf.symbols[5].shndx, 0);
  assert.deepEqual(elf.relocations.get(xdp.index)!.entries.map((r) => [r.offset, r.type, r.symbol]), [
    [0, R_BPF_64_32, 2], [8, R_BPF_64_32, 1], [16, R_BPF_64_64, 5],
  ]);
  assert.ok(!elf.symbols.some((s) => s.name === '.Ltmp'), 'assembler temporaries are left out');
});

test('llvm-objdump -dr reads written objects exactly as the originals', (t) => {
  const why = missingTool(LLVM_OBJDUMP);
  if (why) { t.skip(why); return; }
  const dir = mkdtempSync(join(tmpdir(), 'bpfkit-writer-'));
  try {
    for (const name of fixtures) {
      const out = join(dir, 'again.o');
      writeFileSync(out, writeElf(unitFromElf(load(name))));
      const original = runTool(LLVM_OBJDUMP, ['-dr', new URL(name, root).pathname]).split('\n').slice(2).join('\n');
      const written = runTool(LLVM_OBJDUMP, ['-dr', out]).split('\n').slice(2).join('\n');
      assert.equal(written, original, name);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

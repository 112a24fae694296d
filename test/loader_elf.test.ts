import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { BpfError } from '../src/errors.js';
import {
  R_BPF_64_32, SHF_EXECINSTR, SHT_REL, STB_GLOBAL, STB_LOCAL, STT_FUNC, readElf,
} from '../src/loader/elf.js';
import { openObject } from '../src/loader/object.js';

const root = new URL('../../', import.meta.url);
const fixture = (name: string): Uint8Array => new Uint8Array(readFileSync(new URL(name, root)));
const calls = fixture('test/fixtures/calls.o');

/** A copy of `bytes` with `edit` applied through a DataView. */
function patched(bytes: Uint8Array, edit: (v: DataView, b: Uint8Array) => void): Uint8Array {
  const b = bytes.slice();
  edit(new DataView(b.buffer), b);
  return b;
}

const shoff = (b: Uint8Array): number => Number(new DataView(b.buffer, b.byteOffset).getBigUint64(40, true));
const shdr = (b: Uint8Array, i: number): number => shoff(b) + 64 * i;

function sectionIndex(bytes: Uint8Array, name: string): number {
  return readElf(bytes, 'x.o').sections.find((s) => s.name === name)!.index;
}

test('reads sections, names, symbols and relocations of an llvm-mc object', () => {
  const elf = readElf(calls, 'calls.o');
  assert.deepEqual(elf.sections.map((s) => s.name), ['', '.strtab', '.text', 'xdp', '.relxdp', 'xdp.frags', '.relxdp.frags', 'license', '.symtab']);
  const xdp = elf.sections[3];
  assert.ok(xdp.flags & SHF_EXECINSTR);
  assert.equal(xdp.data.length, 7 * 8);
  const addOne = elf.symbols.find((s) => s.name === 'add_one')!;
  assert.equal(addOne.type, STT_FUNC);
  assert.equal(addOne.bind, STB_GLOBAL);
  assert.equal(addOne.size, 40);
  assert.equal(elf.sections[addOne.shndx].name, '.text');
  assert.equal(elf.symbols.find((s) => s.name === 'times_ten')!.bind, STB_LOCAL);
  const rel = elf.relocations.get(3)!;
  assert.equal(rel.section.type, SHT_REL);
  assert.deepEqual(rel.entries.map((r) => [r.offset, r.type, elf.symbols[r.symbol].name]), [
    [8, R_BPF_64_32, 'add_one'],
    [32, R_BPF_64_32, ''], // static times_ten: against the .text section symbol
  ]);
});

test('reads a clang -g object with BTF and DWARF sections', () => {
  const elf = readElf(fixture('examples/xdp_udp_drop.o'), 'xdp_udp_drop.o');
  const names = elf.sections.map((s) => s.name);
  for (const n of ['.text', 'xdp', 'license', '.BTF', '.BTF.ext', '.rel.BTF.ext', '.symtab']) assert.ok(names.includes(n), n);
  assert.ok(elf.relocations.size >= 5);
});

const bad: [string, Uint8Array, RegExp][] = [
  ['empty file', new Uint8Array(0), /^f\.o: not an ELF file \(bad magic\)$/],
  ['text file', new TextEncoder().encode('hello world, not an object\n'), /^f\.o: not an ELF file \(bad magic\)$/],
  ['32-bit', patched(calls, (_, b) => { b[4] = 1; }), /^f\.o: 32-bit ELF objects are not supported/],
  ['big-endian', patched(calls, (_, b) => { b[5] = 2; }), /^f\.o: big-endian objects are not supported$/],
  ['x86-64 object', patched(calls, (v) => v.setUint16(18, 62, true)), /^f\.o: not a BPF object \(e_machine 62, expected 247 EM_BPF\)$/],
  ['truncated header', calls.slice(0, 40), /^f\.o: truncated ELF header \(40 bytes, need 64\)$/],
  ['magic only', calls.slice(0, 4), /^f\.o: truncated ELF header/],
  ['truncated file', calls.slice(0, calls.length - 100), /^f\.o: section headers at offset 0x[0-9a-f]+ \(9 x 64 bytes\) extend past the end of the file/],
  ['section header size', patched(calls, (v) => v.setUint16(58, 32, true)), /^f\.o: bad section header size 32 \(expected 64\)$/],
  ['section data out of the file', patched(calls, (v, b) => v.setBigUint64(shdr(b, 3) + 24, 0x7fff0000n, true)),
    /^f\.o: section 'xdp' \(#3\) data at offset 0x7fff0000 size 0x38 extends past the end of the file \(\d+ bytes\)$/],
  ['huge section size', patched(calls, (v, b) => v.setBigUint64(shdr(b, 3) + 32, 0xffffffffffffffffn, true)),
    /^f\.o: section 'xdp' \(#3\) data at offset 0x[0-9a-f]+ size beyond 2\^53 extends past the end of the file/],
  ['section name offset', patched(calls, (v, b) => v.setUint32(shdr(b, 2), 0xffffff, true)),
    /^f\.o: section #2 name offset 16777215 is outside the section name table \(\d+ bytes\)$/],
  ['section name table index', patched(calls, (v) => v.setUint16(62, 99, true)), /^f\.o: bad section name table index 99 \(9 sections\)$/],
  ['symbol name offset', patched(calls, (v, b) => {
    const symtab = readElf(b, 'x').symtab!;
    v.setUint32(symtab.offset + 24, 0x123456, true);
  }), /^f\.o: symbol #1 name offset 1193046 is outside '\.strtab' \(\d+ bytes\)$/],
  ['unterminated string table', patched(calls, (_, b) => {
    const strtab = readElf(b, 'x').sections[1];
    b.fill(0x41, strtab.offset, strtab.offset + strtab.size);
  }), /^f\.o: section #0 name at offset 0 is not NUL-terminated inside the section name table$/],
  ['relocation symbol index', patched(calls, (v, b) => {
    const rel = readElf(b, 'x').relocations.get(3)!.section;
    v.setUint32(rel.offset + 12, 5000, true);
  }), /^f\.o: section '\.relxdp' relocation #0 refers to symbol #5000 \(the symbol table has \d+\)$/],
  ['symbol table size', patched(calls, (v, b) => {
    const i = sectionIndex(b, '.symtab');
    v.setBigUint64(shdr(b, i) + 32, BigInt(readElf(b, 'x').symtab!.size - 5), true);
  }), /^f\.o: section '\.symtab' size \d+ is not a multiple of the symbol size 24$/],
];

for (const [what, bytes, message] of bad) {
  test(`rejects ${what} with one clear line`, () => {
    assert.throws(() => readElf(bytes, 'f.o'), (err: unknown) => {
      assert.ok(err instanceof BpfError, `not a BpfError: ${String(err)}`);
      assert.equal(err.code, 'EINVAL');
      assert.match(err.message, message);
      assert.ok(!err.message.includes('\n'));
      return true;
    });
  });
}

test('a hostile section count is rejected without reading it', () => {
  // Extended numbering: e_shnum = 0 and section 0's sh_size holds the count.
  const b = patched(calls, (v, bytes) => {
    v.setUint16(60, 0, true);
    v.setBigUint64(shdr(bytes, 0) + 32, 0x7fffffffn, true);
  });
  const start = performance.now();
  assert.throws(() => readElf(b, 'f.o'), /2147483647 x 64 bytes\) extend past the end of the file/);
  assert.ok(performance.now() - start < 100);
});

test('many symbols naming one long run of bytes are refused quickly', () => {
  // 40000 symbols whose names all start inside one 400 KB run without a NUL: a few MB that
  // would decode to gigabytes of names.
  const count = 40000;
  const strtab = new Uint8Array(400_000).fill(0x61);
  strtab[0] = 0;
  strtab[strtab.length - 1] = 0;
  const symtab = new Uint8Array(count * 24);
  const sv = new DataView(symtab.buffer);
  for (let i = 1; i < count; i++) sv.setUint32(i * 24, 1 + (i % 1000), true);
  const shstr = new TextEncoder().encode('\0.strtab\0.symtab\0');
  const parts = [shstr, strtab, symtab];
  let off = 64;
  const offsets = parts.map((p) => { const o = off; off += p.length; return o; });
  const shoffAt = Math.ceil(off / 8) * 8;
  const file = new Uint8Array(shoffAt + 4 * 64);
  const v = new DataView(file.buffer);
  file.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
  v.setUint16(16, 1, true);
  v.setUint16(18, 247, true);
  v.setBigUint64(40, BigInt(shoffAt), true);
  v.setUint16(58, 64, true);
  v.setUint16(60, 4, true);
  v.setUint16(62, 1, true);
  parts.forEach((p, i) => file.set(p, offsets[i]));
  const sh = (i: number, name: number, type: number, o: number, size: number, link = 0): void => {
    const h = shoffAt + i * 64;
    v.setUint32(h, name, true);
    v.setUint32(h + 4, type, true);
    v.setBigUint64(h + 24, BigInt(o), true);
    v.setBigUint64(h + 32, BigInt(size), true);
    v.setUint32(h + 40, link, true);
  };
  sh(1, 1, 3, offsets[0], shstr.length);
  sh(2, 1, 3, offsets[1], strtab.length);
  sh(3, 9, 2, offsets[2], symtab.length, 2);
  const start = performance.now();
  assert.throws(() => readElf(file, 'many.o'), /many\.o: symbol #1 name at offset 2 is longer than 1024 bytes$/);
  assert.ok(performance.now() - start < 3000, 'reading took too long');
  // Short names at shared offsets are fine, however many symbols use them.
  for (let i = 1; i < 1100; i += 7) strtab[i] = 0;
  file.set(strtab, offsets[1]);
  const elf = readElf(file, 'many.o');
  assert.equal(elf.symbols.length, count);
});

test('random corruption never escapes as anything but a one-line BpfError', () => {
  let seed = 12345;
  const rand = (n: number): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % n;
  };
  const sources = [calls, fixture('examples/xdp_udp_drop.o')];
  let rejected = 0;
  const start = performance.now();
  for (let round = 0; round < 3000; round++) {
    const b = sources[round % 2].slice();
    const flips = 1 + rand(8);
    for (let k = 0; k < flips; k++) {
      // Mostly the header and section headers, where the structure is.
      const at = rand(3) === 0 ? rand(64) : rand(4) === 0 ? rand(b.length) : shoff(sources[round % 2]) + rand(b.length - shoff(sources[round % 2]));
      b[at] = rand(256);
    }
    const cut = rand(10) === 0 ? b.subarray(0, rand(b.length)) : b;
    try {
      openObject(cut, 'fuzz.o');
    } catch (err) {
      assert.ok(err instanceof BpfError, `round ${round}: ${(err as Error)?.stack}`);
      assert.ok(!err.message.includes('\n'), err.message);
      rejected++;
    }
  }
  assert.ok(rejected > 100);
  assert.ok(performance.now() - start < 10000);
});

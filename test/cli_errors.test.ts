/*
 * Bad input through the real `bpfkit` process: whatever is wrong (the object, the packet, the
 * arguments, the program at run time), the user gets exactly one line on stderr starting with
 * `Error: `, a non-zero exit status, and never a stack trace.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeInsn } from '../src/isa/insn.js';
import { readElf } from '../src/loader/elf.js';
import { writeElf } from '../src/loader/elf_writer.js';

const root = new URL('../../', import.meta.url);
const path = (name: string): string => new URL(name, root).pathname;
const bin = path('bin/bpfkit.js');
const udp = path('examples/udp.bin');
const example = readFileSync(path('examples/xdp_udp_drop.o'));

const tmp = mkdtempSync(join(tmpdir(), 'bpfkit-cli-err-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
const file = (name: string, bytes: Uint8Array): string => { const p = join(tmp, name); writeFileSync(p, bytes); return p; };

function oddLength(): Uint8Array {
  const b = new Uint8Array(example);
  const xdp = readElf(b, 'x').sections.find((s) => s.name === 'xdp')!;
  const v = new DataView(b.buffer, b.byteOffset);
  const shoff = Number(v.getBigUint64(40, true));
  v.setBigUint64(shoff + 64 * xdp.index + 32, BigInt(xdp.size - 3), true);
  return b;
}

const reserved = writeElf({
  sections: [{
    name: 'xdp', executable: true, writable: false, data: new Uint8Array(0),
    insns: [makeInsn(0xb7, 0, 0, 0, 2), makeInsn(0x8e, 0, 1), makeInsn(0x95)],
    symbols: [{ name: 'p', offset: 0, global: true, type: 'func', size: 24 }], relocations: [],
  }],
});

const cases: [string, string[], RegExp][] = [
  ['a truncated object', ['prog', 'run', 'file', file('trunc.o', example.subarray(0, 300)), 'data_in', udp], /section headers at offset .* extend past the end of the file/],
  ['a header-only object', ['prog', 'run', 'file', file('head.o', example.subarray(0, 20)), 'data_in', udp], /truncated ELF header \(20 bytes, need 64\)/],
  ['bad magic', ['prog', 'run', 'file', file('magic.o', new TextEncoder().encode('#!/bin/sh\necho hi\n')), 'data_in', udp], /not an ELF file \(bad magic\)/],
  ['an odd-length code section', ['prog', 'run', 'file', file('odd.o', oddLength()), 'data_in', udp], /section 'xdp': size \d+ is not a multiple of 8/],
  ['a reserved opcode', ['prog', 'run', 'file', file('reserved.o', reserved), 'data_in', udp], /prog 'p' \(section 'xdp'\): insn 1: unknown opcode 8e/],
  ['a jump out of range', ['prog', 'run', 'file', path('test/fixtures/bad_jump.o'), 'data_in', udp], /jump out of range/],
  ['a missing packet file', ['prog', 'run', 'file', path('examples/xdp_udp_drop.o'), 'data_in', join(tmp, 'nope.bin')], /failed to open .*nope\.bin: No such file or directory/],
  ['a missing object', ['prog', 'run', 'file', join(tmp, 'nope.o'), 'data_in', udp], /failed to open object file .*nope\.o: No such file or directory/],
  ['bad arguments', ['prog', 'run', 'file', path('examples/xdp_udp_drop.o'), 'data_in', udp, 'repeat', 'lots'], /can't parse lots as repeat number/],
  ['an unknown object', ['frobnicate'], /object 'frobnicate' is unknown/],
  ['disasm of a missing file', ['disasm', join(tmp, 'nope.o')], /No such file or directory/],
  ['disasm of a big-endian object', ['disasm', file('be.o', Uint8Array.from(example, (b, i) => (i === 5 ? 2 : b)))], /big-endian objects are not supported/],
];

for (const [what, args, message] of cases) {
  test(`one Error: line for ${what}`, () => {
    const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });
    assert.notEqual(r.status, 0);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^Error: [^\n]+\n$/, `stderr: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.doesNotMatch(r.stderr, /\bat .*\.js:\d+/);
  });
}

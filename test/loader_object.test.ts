import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { BpfError } from '../src/errors.js';
import type { AsmSection, AsmUnit } from '../src/isa/asm_unit.js';
import { type Insn, makeInsn, makeLdImm64 } from '../src/isa/insn.js';
import { readElf } from '../src/loader/elf.js';
import { writeElf } from '../src/loader/elf_writer.js';
import { findProgram, openObject } from '../src/loader/object.js';
import { interpret } from '../src/vm/interpreter.js';
import { Vm } from '../src/vm/vm.js';

const root = new URL('../../', import.meta.url);
const fixture = (name: string): Uint8Array => new Uint8Array(readFileSync(new URL(name, root)));

const MOV_IMM = 0xb7;
const EXIT = makeInsn(0x95);
const CALL_LOCAL = (imm: number): Insn => makeInsn(0x85, 0, 1, 0, imm);
const mov = (dst: number, imm: number): Insn => makeInsn(MOV_IMM, dst, 0, 0, imm);

function code(name: string, insns: Insn[], symbols: AsmSection['symbols'], relocations: AsmSection['relocations'] = []): AsmSection {
  return { name, executable: true, writable: false, insns, data: new Uint8Array(0), symbols, relocations };
}
const func = (name: string, offset: number, slots: number, global = true) =>
  ({ name, offset, global, type: 'func' as const, size: slots * 8 });
const license: AsmSection = {
  name: 'license', executable: false, writable: true, insns: [], data: new TextEncoder().encode('GPL\0'), symbols: [], relocations: [],
};

function open(unit: AsmUnit): ReturnType<typeof openObject> {
  return openObject(writeElf(unit), 'unit.o');
}

function expectError(fn: () => unknown, message: string | RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof BpfError, `not a BpfError: ${String(err)}`);
    if (typeof message === 'string') assert.equal(err.message, message);
    else assert.match(err.message, message);
    return true;
  });
}

const run = (insns: Insn[]): bigint => interpret(new Vm(), insns, { args: [0n] }).r0;

test('programs of calls.o get their subprograms appended and calls patched (bpf_object__reloc_code)', () => {
  const obj = openObject(fixture('test/fixtures/calls.o'), 'calls.o');
  assert.equal(obj.license, 'Dual BSD/GPL');
  assert.deepEqual(obj.programs.map((p) => [p.name, p.section, p.sectionInsnOffset, p.ownInsnCount]), [
    ['prog_a', 'xdp', 0, 3], ['prog_b', 'xdp', 3, 4], ['prog_c', 'xdp.frags', 0, 7],
  ]);
  const [a, b, c] = obj.programs;
  // prog_a: add_one appended at 3, which calls times_ten (appended at 8).
  assert.deepEqual(a.subprograms, [{ name: 'add_one', offset: 3 }, { name: 'times_ten', offset: 8 }]);
  assert.equal(a.insns.length, 11);
  assert.equal(a.insns[1].imm, 3 - 1 - 1);
  assert.equal(a.insns[3 + 3].imm, 8 - 6 - 1); // add_one's call, relocated
  // prog_b: only times_ten.
  assert.deepEqual(b.subprograms, [{ name: 'times_ten', offset: 4 }]);
  assert.equal(b.insns[1].imm, 4 - 1 - 1);
  // prog_c calls both; each is appended once.
  assert.deepEqual(c.subprograms.map((s) => s.name), ['add_one', 'times_ten']);
  assert.deepEqual(obj.programs.map((p) => run(p.insns)), [50n, 73n, 90n]);
});

test('a clang object with BTF, DWARF and a static subprogram', () => {
  const obj = openObject(fixture('examples/xdp_udp_drop.o'), 'xdp_udp_drop.o');
  assert.equal(obj.license, 'GPL');
  assert.equal(obj.programs.length, 1);
  const p = obj.programs[0];
  assert.equal(p.name, 'xdp_udp_drop');
  assert.equal(p.section, 'xdp');
  assert.deepEqual(p.subprograms, [{ name: 'verdict_for_port', offset: p.ownInsnCount }]);
  const call = p.insns.findIndex((i) => i.code === 0x85);
  assert.equal(call + 1 + p.insns[call].imm, p.ownInsnCount);
});

test('global data: a .bss map named like libbpf, ld_imm64 in the fd_array form', () => {
  const obj = openObject(fixture('test/fixtures/global_data.o'), 'global_data.o');
  assert.deepEqual(obj.maps.map((m) => [m.name, m.kind, m.type, m.keySize, m.valueSize, m.maxEntries]), [['global_d.bss', 'bss', 2, 4, 4, 1]]);
  const p = findProgram(obj);
  assert.deepEqual(p.mapRelocs, [{ insn: 0, map: 0, kind: 'value', off: 0 }]);
  assert.equal(p.insns[0].src, 6); // BPF_PSEUDO_MAP_IDX_VALUE
  assert.equal(p.progType, 6);
  assert.deepEqual(obj.globals.map((g) => [g.name, g.offset, g.size]), [['counter', 0, 4]]);
});

test('findProgram picks by section and by name, and says what exists', () => {
  const obj = openObject(fixture('test/fixtures/calls.o'), 'calls.o');
  assert.equal(findProgram(obj).name, 'prog_a');
  assert.equal(findProgram(obj, { section: 'xdp.frags' }).name, 'prog_c');
  assert.equal(findProgram(obj, { name: 'prog_b' }).name, 'prog_b');
  expectError(() => findProgram(obj, { section: 'tc' }),
    "calls.o: no program in section 'tc' (programs: prog_a (xdp), prog_b (xdp), prog_c (xdp.frags))");
  expectError(() => findProgram(obj, { name: 'nope', section: 'xdp' }), /no program named 'nope' in section 'xdp'/);
});

test('.text alone holds no programs (subprograms only, as libbpf)', () => {
  const obj = open({ sections: [code('.text', [mov(0, 1), EXIT], [func('f', 0, 2)])] });
  assert.equal(obj.programs.length, 0);
  expectError(() => findProgram(obj), "unit.o: object file doesn't contain any bpf program");
});

test('calls the assembler resolved: inside .text, inside the program, to a neighbour', () => {
  // outer calls inner with no relocation (same section); q calls into its own body; r calls p,
  // another function of its section (libbpf only looks in .text; bpfkit appends it).
  const text = code('.text', [CALL_LOCAL(1), EXIT, mov(0, 5), EXIT], [func('outer', 0, 2), func('inner', 16, 2, false)]);
  const xdp = code('xdp', [CALL_LOCAL(-1), EXIT, CALL_LOCAL(1), EXIT, mov(0, 9), EXIT, CALL_LOCAL(-7), EXIT],
    [func('p', 0, 2), func('q', 16, 4), func('r', 48, 2)], [{ offset: 0, type: 'R_BPF_64_32', symbol: 'outer' }]);
  const obj = open({ sections: [text, xdp, license] });
  const p = findProgram(obj, { name: 'p' });
  assert.deepEqual(p.subprograms.map((s) => s.name), ['outer', 'inner']);
  assert.equal(run(p.insns), 5n);
  const q = findProgram(obj, { name: 'q' });
  assert.deepEqual(q.subprograms, []);
  assert.equal(q.insns[0].imm, 1);
  assert.equal(run(q.insns), 9n);
  const r = findProgram(obj, { name: 'r' });
  assert.deepEqual(r.subprograms.map((s) => s.name), ['p', 'outer', 'inner']);
  assert.equal(run(r.insns), 5n);
  // A call landing outside every function of the section.
  expectError(() => open({ sections: [code('xdp', [mov(0, 1), EXIT, CALL_LOCAL(5), EXIT], [func('p', 0, 2), func('q', 16, 2)])] }),
    "unit.o: prog 'q': no sub-program found for the call at insn #0 (target insn 8 of section 'xdp')");
});

const rejected: [string, AsmUnit, string | RegExp][] = [
  ['a reserved opcode', { sections: [code('xdp', [mov(0, 1), makeInsn(0xff), EXIT], [func('p', 0, 3)])] },
    "unit.o: prog 'p' (section 'xdp'): insn 1: unknown opcode ff"],
  ['a reserved field', { sections: [code('xdp', [makeInsn(0x95, 1)], [func('p', 0, 1)])] },
    "unit.o: prog 'p' (section 'xdp'): insn 0: BPF_EXIT uses reserved fields"],
  ['a truncated ld_imm64', { sections: [code('xdp', [EXIT, makeLdImm64(1, 5n)[0]], [func('p', 0, 2)])] },
    "unit.o: prog 'p' (section 'xdp'): insn 1: invalid bpf_ld_imm64 insn"],
  ['a static program', { sections: [code('xdp', [mov(0, 1), EXIT], [func('p', 0, 2, false)])] },
    "unit.o: sec 'xdp': program 'p' is static and not supported"],
  ['a function without .size', { sections: [code('xdp', [mov(0, 1), EXIT], [{ name: 'p', offset: 0, global: true, type: 'func' }])] },
    "unit.o: sec 'xdp': function 'p' has size 0 (missing .size directive?)"],
  ['a function past its section', { sections: [code('xdp', [mov(0, 1), EXIT], [func('p', 8, 2)])] },
    "unit.o: sec 'xdp': program at offset 8 crosses section boundary"],
  ['a call relocation into another program section', {
    sections: [
      code('xdp', [CALL_LOCAL(-1), EXIT], [func('p', 0, 2)], [{ offset: 0, type: 'R_BPF_64_32', symbol: 'q' }]),
      code('tc', [mov(0, 1), EXIT], [func('q', 0, 2)]),
    ],
  }, "unit.o: prog 'p': bad call relo against 'q' in section 'tc'"],
  ['a relocation on a non-call', {
    sections: [code('xdp', [mov(0, 1), EXIT], [func('p', 0, 2)], [{ offset: 0, type: 'R_BPF_64_32', symbol: 'p' }])],
  }, "unit.o: prog 'p': invalid relo against 'p' for insns[0].code 0xb7"],
  ['a call to an extern (kfunc) the kernel does not have', {
    sections: [code('xdp', [CALL_LOCAL(-1), EXIT], [func('p', 0, 2)], [{ offset: 0, type: 'R_BPF_64_32', symbol: 'bpf_kfunc' }])],
  }, "unit.o: extern (func ksym) 'bpf_kfunc': not found in kernel or module BTFs"],
  ['a map reference', {
    sections: [
      code('xdp', [...makeLdImm64(1, 0n), mov(0, 2), EXIT], [func('p', 0, 4)], [{ offset: 0, type: 'R_BPF_64_64', symbol: 'my_map' }]),
      { name: '.maps', executable: false, writable: true, insns: [], data: new Uint8Array(32), symbols: [{ name: 'my_map', offset: 0, global: true, type: 'object', size: 32 }], relocations: [] },
    ],
  }, "unit.o: sec '.maps': BTF-defined maps need .BTF (compile with -g)"],
  ['a reference into a non-data section', {
    sections: [
      code('xdp', [...makeLdImm64(1, 0n), mov(0, 2), EXIT], [func('p', 0, 4)], [{ offset: 0, type: 'R_BPF_64_64', symbol: 'thing' }]),
      { name: 'other', executable: false, writable: false, insns: [], data: new Uint8Array(8), symbols: [{ name: 'thing', offset: 0, global: true, type: 'object', size: 8 }], relocations: [] },
    ],
  }, "unit.o: prog 'p': bad data relo against 'thing' in section 'other' at insn #0"],
];

for (const [what, unit, message] of rejected) {
  test(`refuses ${what}`, () => expectError(() => open(unit), message));
}

test('refuses odd-length code sections and non-relocatable files', () => {
  const bytes = writeElf({ sections: [code('xdp', [mov(0, 1), EXIT], [func('p', 0, 2)])] });
  const elf = readElf(bytes, 'x');
  const xdp = elf.sections.find((s) => s.name === 'xdp')!;
  const shoff = Number(new DataView(bytes.buffer).getBigUint64(40, true));
  const odd = bytes.slice();
  new DataView(odd.buffer).setBigUint64(shoff + 64 * xdp.index + 32, 13n, true);
  expectError(() => openObject(odd, 'odd.o'), "odd.o: section 'xdp': size 13 is not a multiple of 8 (the size of an instruction)");
  const exec = bytes.slice();
  new DataView(exec.buffer).setUint16(16, 2, true);
  expectError(() => openObject(exec, 'exec.o'), 'exec.o: not a relocatable object (e_type 2, expected 1 ET_REL)');
  const stripped = bytes.slice();
  const symtab = elf.symtab!;
  new DataView(stripped.buffer).setUint32(shoff + 64 * symtab.index + 4, 1, true);
  expectError(() => openObject(stripped, 's.o'), 's.o: no symbol table found (stripped object file?)');
});

test('the license string stops at its NUL and is at most 63 characters', () => {
  const long = { ...license, data: new TextEncoder().encode('x'.repeat(100)) };
  const obj = open({ sections: [code('xdp', [mov(0, 1), EXIT], [func('p', 0, 2)]), long] });
  assert.equal(obj.license, 'x'.repeat(63));
  assert.equal(open({ sections: [code('xdp', [mov(0, 1), EXIT], [func('p', 0, 2)])] }).license, '');
});

test('bad relocations and map value references: one line naming the program, section and offset', async () => {
  const { loadObject } = await import('../src/kernel/load.js');
  const { Bpf } = await import('../src/kernel/bpf.js');
  await import('../src/api/index.js');
  const data = { name: '.data', executable: false, writable: true, insns: [], data: new Uint8Array(8), symbols: [{ name: 'g', offset: 4, global: true, type: 'object' as const, size: 4 }], relocations: [] };
  const past = open({ sections: [code('xdp', [...makeLdImm64(1, 8n), mov(0, 2), EXIT], [func('p', 0, 4)], [{ offset: 0, type: 'R_BPF_64_64', symbol: 'g' }]), data, license] });
  assert.deepEqual(past.programs[0].mapRelocs, [{ insn: 0, map: 0, kind: 'value', off: 12 }]);
  expectError(() => loadObject(new Bpf(), past), "unit.o: prog 'p': insn 0: invalid access to map value pointer, value_size=8 off=12");
  const ok = open({ sections: [code('xdp', [...makeLdImm64(1, 2n), mov(0, 2), EXIT], [func('p', 0, 4)], [{ offset: 0, type: 'R_BPF_64_64', symbol: 'g' }]), data, license] });
  assert.equal(ok.programs[0].mapRelocs[0].off, 6);
  assert.equal(loadObject(new Bpf(), ok).programs.length, 1);
  // A relocation at an offset that is not an instruction.
  expectError(() => open({ sections: [code('xdp', [...makeLdImm64(1, 0n), mov(0, 2), EXIT], [func('p', 0, 4)], [{ offset: 4, type: 'R_BPF_64_64', symbol: 'g' }]), data, license] }),
    "unit.o: sec '.relxdp': invalid offset 0x4 for relo #0");
  // A legacy map definition the kernel refuses (type 0): the load names the map.
  const legacy = open({ sections: [code('xdp', [...makeLdImm64(1, 0n), mov(0, 2), EXIT], [func('p', 0, 4)], [{ offset: 0, type: 'R_BPF_64_64', symbol: 'm' }]),
    { name: 'maps', executable: false, writable: true, insns: [], data: new Uint8Array(20), symbols: [{ name: 'm', offset: 0, global: true, type: 'object', size: 20 }], relocations: [] }, license] });
  assert.deepEqual(legacy.maps.map((m) => [m.name, m.kind]), [['m', 'legacy']]);
  expectError(() => loadObject(new Bpf(), legacy), /^unit\.o: map 'm': failed to create: [^\n]+$/);
});

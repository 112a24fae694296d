/*
 * CO-RE relocations (relo_core.c): btf_core.o relocated against a synthetic target BTF whose
 * task_struct has its fields moved (expected values worked out from its layout), and against the
 * host's vmlinux BTF with libbpf's own decisions as the oracle (`bpftool -d prog load` prints
 * every relocation's spec, candidates and patch; needs root and bpftool).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { applyCoreRelocations, CORE_POISON_IMM, coreEssentialName, coreRelocatorFor } from '../src/btf/core.js';
import type { CoreRelocator } from '../src/kernel/load.js';
import { parseBtf } from '../src/btf/parse.js';
import type { Btf } from '../src/btf/types.js';
import { openObject } from '../src/loader/object.js';
import { readElf } from '../src/loader/elf.js';

const root = new URL('../../', import.meta.url);
const path = (name: string): string => new URL(name, root).pathname;

function coreProg() {
  const obj = openObject(new Uint8Array(readFileSync(path('test/fixtures/btf/btf_core.o'))), 'btf_core.o');
  const prog = obj.programs.find((p) => p.name === 'core_prog')!;
  return { obj, prog };
}

function elfBtf(name: string): Btf {
  const elf = readElf(new Uint8Array(readFileSync(path(name))), name);
  return parseBtf(elf.sections.find((s) => s.name === '.BTF')!.data);
}

/** relo # -> value patched in, from the log lines libbpf would print. */
function patched(lines: string[]): Map<number, string> {
  const m = new Map<number, string>();
  for (const l of lines) {
    const p = /relo #(\d+): patched insn #\d+ \((?:ALU\/ALU64|LDIMM64|LDX\/ST\/STX)\) (?:imm|imm64|off) \d+ -> (\d+)$/.exec(l);
    if (p) m.set(Number(p[1]), p[2]);
    const s = /relo #(\d+): substituting insn #\d+ w\/ invalid insn$/.exec(l);
    if (s) m.set(Number(s[1]), 'poison');
  }
  return m;
}

test('essential names strip the ___flavor suffix', () => {
  assert.equal(coreEssentialName('task_struct___l'), 'task_struct');
  assert.equal(coreEssentialName('a___b___c'), 'a___b');
  assert.equal(coreEssentialName('x____y'), 'x____y');
  assert.equal(coreEssentialName('___x'), '___x');
  assert.equal(coreEssentialName('plain'), 'plain');
});

test('CO-RE against a synthetic target whose fields moved', () => {
  const { obj, prog } = coreProg();
  assert.equal(prog.coreRelos.length, 24);
  const target = elfBtf('test/fixtures/btf/btf_core_target.o');
  const lines: string[] = [];
  const insns = applyCoreRelocations(prog.insns, prog.coreRelos, obj.btf!, target, { progName: prog.name, log: (l) => lines.push(l) });
  const got = patched(lines);
  const want: [number, string][] = [
    [0, '56'], // pid: long long at 448 bits
    [1, '88'], // real_parent
    [2, '64'], // tgid
    [3, '18'], // comm[1]: comm at byte 17
    [4, '32'], // sizeof comm
    [5, '1'], // pid signed
    [6, '0'], // flags (inside an anonymous struct) unsigned
    [7, '60'], // lshift of the 1-bit field at bit 131 in a 4-byte load at byte 16
    [8, '63'], // rshift
    [9, '16'], // bitfield byte offset
    [10, '4'], // bitfield load size
    [11, '0'], // no_such_field does not exist
    [12, '1'], // prio exists (through the anonymous struct)
    [13, 'poison'], // the guarded read of no_such_field
    [14, '1'], // struct task_struct exists
    [15, '0'], // struct no_such_struct does not
    [16, '16'], // sizeof(struct list_head)
    [17, '1'], // list_head matches
    [18, '1'], // PIDTYPE_PGID exists
    [19, '40'], // and is 40 there
    [20, '0'], // PIDTYPE_NOPE does not exist
    [21, '1'], // target type id of task_struct
    [22, '5'], // local type id
    [23, '80'], // children.prev
  ];
  for (const [relo, v] of want) assert.equal(got.get(relo), v, `relo #${relo}: ${lines.filter((l) => l.includes(`relo #${relo}:`)).join(' | ')}`);
  const poisoned = prog.coreRelos[13].insn;
  assert.deepEqual({ ...insns[poisoned] }, { code: 0x85, dst: 0, src: 0, off: 0, imm: CORE_POISON_IMM });
  assert.equal(insns[prog.coreRelos[0].insn].imm, 56);
  // The input is left alone.
  assert.equal(prog.insns[prog.coreRelos[0].insn].imm, 12);
});

test('CO-RE: malformed access strings and ambiguity are errors, missing targets are not', () => {
  const { obj, prog } = coreProg();
  const target = elfBtf('test/fixtures/btf/btf_core_target.o');
  const bad = prog.coreRelos.map((r, i) => (i === 0 ? { ...r, accessStr: '0:99' } : r));
  assert.throws(() => applyCoreRelocations(prog.insns, bad, obj.btf!, target, { progName: 'core_prog' }), /relo #0: failed to relocate/);
  const wrongInsn = prog.coreRelos.map((r, i) => (i === 0 ? { ...r, insn: r.insn + 1 } : r));
  assert.throws(() => applyCoreRelocations(prog.insns, wrongInsn, obj.btf!, target), /failed to patch insn|failed to relocate/);
  // An empty target: every field relocation poisons, existence checks give 0.
  const empty = elfBtf('test/fixtures/btf/btf_types.o');
  const lines: string[] = [];
  applyCoreRelocations(prog.insns, prog.coreRelos, obj.btf!, empty, { log: (l) => lines.push(l) });
  const got = patched(lines);
  assert.equal(got.get(0), 'poison');
  assert.equal(got.get(11), '0');
  assert.equal(got.get(14), '0');
});

test('CO-RE on direct loads/stores: offsets, load size adjustment, poisoning of a resized signed field', () => {
  const obj = openObject(new Uint8Array(readFileSync(path('test/fixtures/btf/btf_core_ldx.o'))), 'btf_core_ldx.o');
  const prog = obj.programs.find((p) => p.name === 'ldx_prog')!;
  const target = elfBtf('test/fixtures/btf/btf_core_target.o');
  const lines: string[] = [];
  const insns = applyCoreRelocations(prog.insns, prog.coreRelos, obj.btf!, target, { progName: prog.name, log: (l) => lines.push(l) });
  const at = (i: number) => ({ code: insns[i].code, off: insns[i].off, imm: insns[i].imm });
  assert.deepEqual(at(0), { code: 0x79, off: 88, imm: 0 }); // real_parent: u64 load at 88
  assert.deepEqual(at(1), { code: 0x85, off: 0, imm: CORE_POISON_IMM }); // int pid vs long long pid: poisoned
  assert.deepEqual(at(2), { code: 0x61, off: 64, imm: 0 }); // tgid
  assert.deepEqual(at(3), { code: 0x61, off: 8, imm: 0 }); // u16 flags -> u32 flags: load widened
  assert.deepEqual(at(5), { code: 0x63, off: 8, imm: 0 }); // and the store
  assert.ok(lines.includes("prog 'ldx_prog': relo #4: patched insn #5 (LDX/ST/STX) mem_sz 2 -> 4"), lines.join('\n'));
  assert.ok(lines.some((l) => l.includes('accesses field incorrectly')));
});

test('coreRelocatorFor fits the loader\'s CoreRelocator hook', () => {
  const { obj, prog } = coreProg();
  const target = elfBtf('test/fixtures/btf/btf_core_target.o');
  const relocate: CoreRelocator = coreRelocatorFor(() => target);
  const insns = relocate(obj, prog, prog.insns, undefined);
  assert.equal(insns[prog.coreRelos[0].insn].imm, 56);
  assert.equal(insns[prog.coreRelos[13].insn].imm, CORE_POISON_IMM);
  // A target given with the load wins over the default.
  const empty = elfBtf('test/fixtures/btf/btf_types.o');
  assert.equal(relocate(obj, prog, prog.insns, empty)[prog.coreRelos[0].insn].imm, CORE_POISON_IMM);
});

/* ------------------------------------------------------------------------------------------ */

function kernelSkip(): string | false {
  try {
    execFileSync('bpftool', ['version'], { stdio: 'ignore' });
  } catch {
    return 'bpftool not installed';
  }
  if (process.getuid?.() !== 0) return 'needs root to load into the kernel';
  if (!existsSync('/sys/kernel/btf/vmlinux')) return 'no /sys/kernel/btf/vmlinux';
  return false;
}

test('CO-RE against vmlinux: the same decisions and messages as libbpf', { skip: kernelSkip() }, () => {
  const { obj, prog } = coreProg();
  const vmlinux = parseBtf(new Uint8Array(readFileSync('/sys/kernel/btf/vmlinux')), { label: 'vmlinux' });
  const ours: string[] = [];
  applyCoreRelocations(prog.insns, prog.coreRelos, obj.btf!, vmlinux, { progName: prog.name, log: (l) => ours.push(l) });
  const pin = `/sys/fs/bpf/bpfkit_btf_core_${process.pid}`;
  rmSync(pin, { force: true });
  let out: string;
  try {
    out = execFileSync('bpftool', ['-d', 'prog', 'load', path('test/fixtures/btf/btf_core.o'), pin], {
      encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (err) {
    out = (err as { stderr?: string }).stderr ?? '';
  } finally {
    rmSync(pin, { force: true });
  }
  // bpftool prints libbpf's debug output on stderr; execFileSync returns stdout, so rerun capturing both.
  if (!out.includes('relo #')) {
    out = execFileSync('sh', ['-c', `bpftool -d prog load ${path('test/fixtures/btf/btf_core.o')} ${pin} 2>&1; rm -f ${pin}`], { encoding: 'utf8' });
  }
  const libbpf = out.split('\n').filter((l) => /^libbpf: (prog 'core_prog': relo #|CO-RE relocating)/.test(l)).map((l) => l.slice('libbpf: '.length));
  assert.ok(libbpf.length > 40, 'libbpf printed its CO-RE log');
  assert.deepEqual(ours, libbpf);
});

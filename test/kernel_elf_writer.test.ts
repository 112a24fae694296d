/*
 * The kernel (through libbpf in bpftool) must accept the objects our writer produces, and run
 * them as bpfkit runs them: rewritten copies of the fixtures and the example (BTF included), and
 * an object built from scratch with no assembler involved.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AsmUnit } from '../src/isa/asm_unit.js';
import { makeInsn } from '../src/isa/insn.js';
import { readElf } from '../src/loader/elf.js';
import { unitFromElf } from '../src/loader/elf_unit.js';
import { writeElf } from '../src/loader/elf_writer.js';
import { runCliCaptured } from '../src/cli/main.js';
import { missingKernel, runTool } from './oracles.js';
import { assembleToElf } from '../src/cli/asm.js';

const root = new URL('../../', import.meta.url);
const path = (name: string): string => new URL(name, root).pathname;
const packet = path('examples/udp.bin');

async function bpfkitRetval(obj: string, name: string): Promise<number> {
  const r = await runCliCaptured(['-j', 'prog', 'run', 'file', obj, 'name', name, 'data_in', packet]);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  return (JSON.parse(r.stdout) as { retval: number }).retval;
}

/** Load every program of `obj` with bpftool loadall, run each, compare with bpfkit. */
async function loadAllAndCompare(obj: string, expected: Record<string, number>): Promise<void> {
  const pin = `/sys/fs/bpf/bpfkit_writer_${process.pid}`;
  const load = spawnSync('bpftool', ['prog', 'loadall', obj, pin], { encoding: 'utf8' });
  assert.equal(load.status, 0, `bpftool prog loadall ${obj}:\n${load.stderr}`);
  try {
    const names = readdirSync(pin).sort();
    assert.deepEqual(names, Object.keys(expected).sort());
    for (const name of names) {
      const j = JSON.parse(runTool('bpftool', ['-j', 'prog', 'run', 'pinned', `${pin}/${name}`, 'data_in', packet])) as { retval: number };
      assert.equal(j.retval, expected[name], `kernel, ${name}`);
      assert.equal(await bpfkitRetval(obj, name), expected[name], `bpfkit, ${name}`);
    }
  } finally {
    rmSync(pin, { recursive: true, force: true });
  }
}

const rewritten: [string, Record<string, number>][] = [
  ['test/fixtures/calls.o', { prog_a: 50, prog_b: 73, prog_c: 90 }],
  ['test/fixtures/xdp_ctx.o', { xdp_ctx: 0x10000 | 61 }],
  ['test/fixtures/xdp_meta.o', { xdp_meta: 0 }],
  ['examples/xdp_udp_drop.o', { xdp_udp_drop: 1 }],
];

for (const [name, expected] of rewritten) {
  test(`the kernel loads and runs our rewrite of ${name}`, async (t) => {
    const why = missingKernel();
    if (why) { t.skip(why); return; }
    const dir = mkdtempSync(join(tmpdir(), 'bpfkit-kw-'));
    try {
      const out = join(dir, 'rewritten.o');
      writeFileSync(out, writeElf(unitFromElf(readElf(new Uint8Array(readFileSync(path(name))), name))));
      await loadAllAndCompare(out, expected);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('the kernel loads an object built from scratch (no assembler)', async (t) => {
  const why = missingKernel();
  if (why) { t.skip(why); return; }
  // .text: double(r1) = r1 * 2 (static); xdp: main = double(21) called through a relocation
  // against the .text section symbol, as llvm-mc does for static functions.
  const unit: AsmUnit = {
    sections: [
      {
        name: '.text', executable: true, writable: false, data: new Uint8Array(0),
        insns: [makeInsn(0xbf, 0, 1), makeInsn(0x27, 0, 0, 0, 2), makeInsn(0x95)],
        symbols: [{ name: 'double', offset: 0, global: false, type: 'func', size: 24 }], relocations: [],
      },
      {
        name: 'xdp', executable: true, writable: false, data: new Uint8Array(0),
        insns: [makeInsn(0xb7, 1, 0, 0, 21), makeInsn(0x85, 0, 1, 0, -1), makeInsn(0x95)],
        symbols: [{ name: 'scratch', offset: 0, global: true, type: 'func', size: 24 }],
        relocations: [{ offset: 8, type: 'R_BPF_64_32', symbol: '.text' }],
      },
      { name: 'license', executable: false, writable: true, insns: [], data: new TextEncoder().encode('GPL\0'), symbols: [], relocations: [] },
    ],
  };
  const dir = mkdtempSync(join(tmpdir(), 'bpfkit-kw-'));
  try {
    const out = join(dir, 'scratch.o');
    writeFileSync(out, writeElf(unit));
    await loadAllAndCompare(out, { scratch: 42 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const assembled: [string, Record<string, number>][] = [
  ['test/fixtures/calls.s', { prog_a: 50, prog_b: 73, prog_c: 90 }],
  ['test/fixtures/xdp_ctx.s', { xdp_ctx: 0x10000 | 61 }],
];

for (const [name, expected] of assembled) {
  test(`the kernel loads what bpfkit asm makes of ${name}`, async (t) => {
    const why = missingKernel();
    if (why) { t.skip(why); return; }
    const dir = mkdtempSync(join(tmpdir(), 'bpfkit-kw-'));
    try {
      const out = join(dir, 'assembled.o');
      writeFileSync(out, await assembleToElf(readFileSync(path(name), 'utf8'), name));
      await loadAllAndCompare(out, expected);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('objects the loader refuses are refused by libbpf and the kernel too', async (t) => {
  const why = missingKernel();
  if (why) { t.skip(why); return; }
  const code = (name: string, insns: ReturnType<typeof makeInsn>[], global = true, relocations: AsmUnit['sections'][0]['relocations'] = []) => ({
    name, executable: true, writable: false, data: new Uint8Array(0), insns,
    symbols: [{ name: `${name.replace(/\W/g, '_')}_prog`, offset: 0, global, type: 'func' as const, size: insns.length * 8 }], relocations,
  });
  const license = { name: 'license', executable: false, writable: true, insns: [], data: new TextEncoder().encode('GPL\0'), symbols: [], relocations: [] };
  const cases: [string, AsmUnit][] = [
    ['a reserved opcode', { sections: [code('xdp', [makeInsn(0xb7), makeInsn(0x8e, 0, 1), makeInsn(0x95)]), license] }],
    ['a static program', { sections: [code('xdp', [makeInsn(0xb7), makeInsn(0x95)], false), license] }],
    ['a call relocation into another program section', {
      sections: [code('xdp', [makeInsn(0x85, 0, 1, 0, -1), makeInsn(0x95)], true, [{ offset: 0, type: 'R_BPF_64_32', symbol: 'tc_prog' }]),
        code('tc', [makeInsn(0xb7), makeInsn(0x95)]), license],
    }],
    ['a call to an extern', {
      sections: [code('xdp', [makeInsn(0x85, 0, 1, 0, -1), makeInsn(0x95)], true, [{ offset: 0, type: 'R_BPF_64_32', symbol: 'nowhere' }]), license],
    }],
  ];
  const dir = mkdtempSync(join(tmpdir(), 'bpfkit-kw-'));
  try {
    for (const [what, unit] of cases) {
      const out = join(dir, 'refused.o');
      const bytes = writeElf(unit);
      writeFileSync(out, bytes);
      const pin = `/sys/fs/bpf/bpfkit_refused_${process.pid}`;
      const r = spawnSync('bpftool', ['prog', 'load', out, pin], { encoding: 'utf8' });
      rmSync(pin, { force: true });
      assert.notEqual(r.status, 0, `bpftool accepted ${what}`);
      const ours = await runCliCaptured(['prog', 'run', 'file', out, 'data_in', packet]);
      assert.notEqual(ours.status, 0, `bpfkit accepted ${what}`);
      assert.match(ours.stderr, /^Error: [^\n]+\n$/);
    }
    // An odd-length code section, by patching the size of a good object's section.
    const good = writeElf({ sections: [code('xdp', [makeInsn(0xb7), makeInsn(0x95)]), license] });
    const xdp = readElf(good, 'x').sections.find((s) => s.name === 'xdp')!;
    const odd = good.slice();
    new DataView(odd.buffer).setBigUint64(Number(new DataView(odd.buffer).getBigUint64(40, true)) + 64 * xdp.index + 32, 12n, true);
    const out = join(dir, 'odd.o');
    writeFileSync(out, odd);
    const r = spawnSync('bpftool', ['prog', 'load', out, `/sys/fs/bpf/bpfkit_refused_${process.pid}`], { encoding: 'utf8' });
    rmSync(`/sys/fs/bpf/bpfkit_refused_${process.pid}`, { force: true });
    assert.notEqual(r.status, 0, 'bpftool accepted an odd-length section');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

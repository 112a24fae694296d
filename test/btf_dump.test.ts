/*
 * `btf dump file OBJ [format raw|c]` (text and -j/-p) against bpftool's output: committed expected
 * files for our fixtures, and a live differential against bpftool (fixtures and the host's vmlinux
 * BTF) where bpftool is installed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { runCliCaptured } from '../src/cli/main.js';
import { parseBtf } from '../src/btf/parse.js';
import { dumpBtfC } from '../src/btf/c_dump.js';
import { dumpBtfRaw } from '../src/btf/raw_dump.js';

const root = new URL('../../', import.meta.url);
const path = (name: string): string => new URL(name, root).pathname;
const FIXTURES = [
  'test/fixtures/btf/btf_types.o', 'test/fixtures/btf/btf_values.o', 'test/fixtures/btf/btf_core.o', 'test/fixtures/btf/btf_core_ldx.o',
  'test/fixtures/btf/btf_core_target.o', 'test/fixtures/loader/btf_maps.o',
];

function bpftool(args: string[]): { stdout: string; status: number } | undefined {
  try {
    return { stdout: execFileSync('bpftool', args, { encoding: 'utf8', maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'ignore'] }), status: 0 };
  } catch (err) {
    const e = err as { code?: string; status?: number; stdout?: string };
    if (e.code === 'ENOENT') return undefined;
    return { stdout: e.stdout ?? '', status: e.status ?? -1 };
  }
}
const haveBpftool = bpftool(['version']) !== undefined;

test('raw, C and JSON dumps of btf_types.o equal the committed bpftool output', async () => {
  const obj = 'test/fixtures/btf/btf_types.o';
  const raw = await runCliCaptured(['btf', 'dump', 'file', path(obj)]);
  assert.equal(raw.status, 0, raw.stderr);
  assert.equal(raw.stdout, readFileSync(path('test/fixtures/btf/btf_types.raw.txt'), 'utf8'));
  const c = await runCliCaptured(['btf', 'dump', 'file', path(obj), 'format', 'c']);
  assert.equal(c.stdout, readFileSync(path('test/fixtures/btf/btf_types.h.txt'), 'utf8'));
  const j = await runCliCaptured(['-p', 'btf', 'dump', 'file', path(obj), 'format', 'raw']);
  assert.equal(j.stdout, readFileSync(path('test/fixtures/btf/btf_types.raw.json'), 'utf8'));
});

test('raw dump lines of each kind', () => {
  const btf = parseBtf(extractBtf('test/fixtures/btf/btf_types.o'));
  const text = dumpBtfRaw(btf);
  for (const line of [
    "[2] INT 'int' size=4 bits_offset=0 nr_bits=32 encoding=SIGNED",
    "\t'SB_NEG' val=-5000000000LL",
    "[44] FWD 'fwd_only' fwd_kind=struct",
    "[47] FLOAT 'float' size=4",
    "[49] TYPE_TAG 'user' type_id=2",
    "\t'd' type_id=52 bits_offset=15 bitfield_size=40",
  ]) assert.ok(text.includes(line), line);
  assert.match(text, /DECL_TAG 'decl_func' type_id=\d+ component_idx=-1/);
  assert.match(text, /\ttype_id=\d+ offset=0 size=12 \(VAR 'greeting'\)/);
  const c = dumpBtfC(btf);
  assert.ok(c.includes('\tint (*fn)(int, char *);\n'));
  assert.ok(c.includes('} __attribute__((packed));\n'));
  assert.ok(c.includes('\tchar * const * restrict rp;\n'));
});

function extractBtf(obj: string): Uint8Array {
  const bytes = readFileSync(path(obj));
  // Minimal ELF64 walk for the .BTF section (the CLI uses loader/elf.ts).
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shoff = Number(dv.getBigUint64(0x28, true));
  const shentsize = dv.getUint16(0x3a, true);
  const shnum = dv.getUint16(0x3c, true);
  const shstrndx = dv.getUint16(0x3e, true);
  const sh = (i: number) => ({
    name: dv.getUint32(shoff + i * shentsize, true),
    off: Number(dv.getBigUint64(shoff + i * shentsize + 0x18, true)),
    size: Number(dv.getBigUint64(shoff + i * shentsize + 0x20, true)),
  });
  const strtab = sh(shstrndx);
  for (let i = 0; i < shnum; i++) {
    const s = sh(i);
    let name = '';
    for (let k = strtab.off + s.name; bytes[k]; k++) name += String.fromCharCode(bytes[k]);
    if (name === '.BTF') return new Uint8Array(bytes.buffer, bytes.byteOffset + s.off, s.size);
  }
  throw new Error('no .BTF');
}

test('bpftool error messages and statuses', async () => {
  const missing = await runCliCaptured(['btf', 'dump', 'file', '/nonexistent/x.o']);
  assert.equal(missing.status, 254);
  assert.equal(missing.stderr, 'Error: failed to load BTF from /nonexistent/x.o: No such file or directory\n');
  const obj = path('test/fixtures/btf/btf_types.o');
  const fmt = await runCliCaptured(['btf', 'dump', 'file', obj, 'format', 'x']);
  assert.equal(fmt.status, 234);
  assert.equal(fmt.stderr, "Error: unrecognized format specifier: 'x', possible values: raw, c\n");
  const opt = await runCliCaptured(['btf', 'dump', 'file', obj, 'foo']);
  assert.equal(opt.stderr, "Error: unrecognized option: 'foo'\n");
  const jc = await runCliCaptured(['-j', 'btf', 'dump', 'file', obj, 'format', 'c']);
  assert.equal(jc.status, 161);
  assert.equal(jc.stdout, '{"error":"JSON output for C-syntax dump is not supported"}\n');
  const noBtf = await runCliCaptured(['btf', 'dump', 'file', path('test/fixtures/calls.o')]);
  assert.equal(noBtf.status, 254);
  const src = await runCliCaptured(['btf', 'dump', 'foo', 'bar']);
  assert.equal(src.status, 255);
  assert.equal(src.stderr, "Error: unrecognized BTF source specifier: 'foo'\n");
});

test('differential against bpftool: fixtures, raw/C/JSON', { skip: !haveBpftool && 'bpftool not installed' }, async () => {
  for (const obj of FIXTURES) {
    if (!existsSync(path(obj))) continue;
    for (const args of [[], ['format', 'c']]) {
      for (const opts of [[], ['-j'], ['-p']]) {
        if (args.length && opts.length) continue;
        const want = bpftool([...opts, 'btf', 'dump', 'file', path(obj), ...args])!;
        const got = await runCliCaptured([...opts, 'btf', 'dump', 'file', path(obj), ...args]);
        assert.equal(got.stdout, want.stdout, `${opts.join(' ')} btf dump file ${obj} ${args.join(' ')}`);
      }
    }
  }
});

test('differential against bpftool: host vmlinux BTF, format c and raw', {
  skip: (!haveBpftool && 'bpftool not installed') || (!existsSync('/sys/kernel/btf/vmlinux') && 'no /sys/kernel/btf/vmlinux'),
}, async () => {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync('/sys/kernel/btf/vmlinux'));
  } catch {
    return;
  }
  const btf = parseBtf(bytes, { label: 'vmlinux' });
  const wantC = bpftool(['btf', 'dump', 'file', '/sys/kernel/btf/vmlinux', 'format', 'c'])!.stdout;
  assert.ok(dumpBtfC(btf) === wantC, 'format c differs from bpftool on vmlinux');
  const wantRaw = bpftool(['btf', 'dump', 'file', '/sys/kernel/btf/vmlinux'])!.stdout;
  assert.ok(dumpBtfRaw(btf) === wantRaw, 'format raw differs from bpftool on vmlinux');
});

/** Raw BTF from type-section words (strings: "", "a"). */
function rawBtf(words: number[]): Uint8Array {
  const tl = words.length * 4;
  const strs = Uint8Array.from([0, 0x61, 0]);
  const b = new Uint8Array(24 + tl + strs.length);
  const dv = new DataView(b.buffer);
  dv.setUint16(0, 0xeb9f, true);
  b[2] = 1;
  dv.setUint32(4, 24, true);
  dv.setUint32(12, tl, true);
  dv.setUint32(16, tl, true);
  dv.setUint32(20, strs.length, true);
  words.forEach((v, i) => dv.setUint32(24 + i * 4, v >>> 0, true));
  b.set(strs, 24 + tl);
  return b;
}

test('type loops in malformed BTF: one error, no crash', () => {
  const loops = {
    ptr: [0, 2 << 24, 1],
    typedef: [1, 8 << 24, 1],
    struct: [1, (4 << 24) | 1, 4, 1, 1, 0],
    const: [0, 10 << 24, 2, 0, 10 << 24, 1],
    array: [0, 3 << 24, 0, 1, 1, 4],
  };
  for (const [name, words] of Object.entries(loops)) {
    const btf = parseBtf(rawBtf(words));
    assert.ok(dumpBtfRaw(btf).startsWith('[1] '), name);
    assert.throws(() => dumpBtfC(btf), (err: Error) => err.name === 'BpfError' && /loop|cycle/.test(err.message), name);
  }
});

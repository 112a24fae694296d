import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { BpfError } from '../src/errors.js';
import { fixupDatasecs, parseBtf, parseBtfExt } from '../src/btf/parse.js';
import { BTF_KIND, BTF_VAR_STATIC, type BtfType } from '../src/btf/types.js';
import { readElf } from '../src/loader/elf.js';

const root = new URL('../../', import.meta.url);
const fixture = (name: string): Uint8Array => new Uint8Array(readFileSync(new URL(name, root)));

function objectBtf(name: string) {
  const elf = readElf(fixture(name), name);
  const sec = (n: string) => elf.sections.find((s) => s.name === n)!;
  const btf = parseBtf(sec('.BTF').data, { label: `${name}: .BTF` });
  return { elf, btf, ext: parseBtfExt(sec('.BTF.ext').data, btf) };
}

function expectError(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof BpfError, `not a BpfError: ${String(err)}`);
    assert.match(err.message, message);
    assert.ok(!err.message.includes('\n'));
    return true;
  });
}

const byName = (types: BtfType[], name: string, kind: number) => types.find((t) => t.name === name && t.kind === kind);

test('BTF of a clang object: kinds, members, datasecs', () => {
  const { btf } = objectBtf('test/fixtures/loader/btf_maps.o');
  const pair = byName(btf.types, 'pair', BTF_KIND.STRUCT);
  assert.ok(pair && pair.kind === BTF_KIND.STRUCT);
  assert.equal(pair.size, 16);
  assert.deepEqual(pair.members.map((m) => [m.name, m.bitOffset]), [['packets', 0], ['bytes', 64]]);
  const fn = byName(btf.types, 'xdp_count', BTF_KIND.FUNC);
  assert.ok(fn && fn.kind === BTF_KIND.FUNC);
  assert.equal(btf.type(fn.type).kind, BTF_KIND.FUNC_PROTO);
  const limit = byName(btf.types, 'limit', BTF_KIND.VAR);
  assert.ok(limit && limit.kind === BTF_KIND.VAR);
  assert.equal(btf.resolveSize(limit.type), 4);
  assert.equal(btf.type(btf.skipModsAndTypedefs(limit.type)).name, 'unsigned int');
  assert.equal(btf.findOne('counts', BTF_KIND.VAR), byName(btf.types, 'counts', BTF_KIND.VAR)!.id);
});

test('DATASEC fix-up from the ELF symbol table (btf_fixup_datasec)', () => {
  const { elf, btf } = objectBtf('test/fixtures/loader/btf_maps.o');
  const maps = byName(btf.types, '.maps', BTF_KIND.DATASEC);
  assert.ok(maps && maps.kind === BTF_KIND.DATASEC);
  assert.equal(maps.size, 0);
  fixupDatasecs(btf, {
    sectionSize: (n) => elf.sections.find((s) => s.name === n)?.size,
    varSymbol: (n) => {
      const s = elf.symbols.find((x) => x.name === n && x.type === 1);
      return s ? { value: s.value, hidden: s.visibility === 2 } : undefined;
    },
  });
  assert.equal(maps.size, elf.sections.find((s) => s.name === '.maps')!.size);
  const offs = maps.vars.map((v) => v.offset);
  assert.deepEqual(offs, [...offs].sort((a, b) => a - b));
  assert.equal(new Set(offs).size, offs.length);
  const bss = byName(btf.types, '.bss', BTF_KIND.DATASEC);
  assert.ok(bss && bss.kind === BTF_KIND.DATASEC);
  assert.equal(bss.size, 12);
  const hidden = byName(btf.types, 'hidden_counter', BTF_KIND.VAR);
  assert.ok(hidden && hidden.kind === BTF_KIND.VAR && hidden.linkage === BTF_VAR_STATIC);
});

test('BTF.ext: func_info, line_info per section', () => {
  const { ext } = objectBtf('test/fixtures/loader/btf_maps.o');
  const secs = ext.funcInfo.map((s) => s.secName);
  assert.ok(secs.includes('xdp') && secs.includes('.text'));
  assert.equal(ext.funcInfoRecSize, 8);
  assert.equal(ext.lineInfoRecSize, 16);
  const xdpLines = ext.lineInfo.find((s) => s.secName === 'xdp')!;
  assert.ok(xdpLines.records.length > 5);
  assert.ok(xdpLines.records.some((r) => r.line.includes('total += len')));
  assert.match(xdpLines.records[0].fileName, /btf_maps\.c$/);
});

test('bpftool agrees on the type listing (names and kinds)', { skip: !existsSync('/usr/sbin/bpftool') && 'no bpftool' }, async () => {
  const { execFileSync } = await import('node:child_process');
  const out = execFileSync('bpftool', ['btf', 'dump', 'file', 'test/fixtures/loader/btf_maps.o'], { encoding: 'utf8', cwd: new URL('.', root).pathname });
  const { btf } = objectBtf('test/fixtures/loader/btf_maps.o');
  const lines = out.split('\n').filter((l) => l.startsWith('['));
  assert.equal(lines.length, btf.types.length - 1);
  const kinds = ['UNKNOWN', 'INT', 'PTR', 'ARRAY', 'STRUCT', 'UNION', 'ENUM', 'FWD', 'TYPEDEF', 'VOLATILE', 'CONST',
    'RESTRICT', 'FUNC', 'FUNC_PROTO', 'VAR', 'DATASEC', 'FLOAT', 'DECL_TAG', 'TYPE_TAG', 'ENUM64'];
  for (const l of lines) {
    const m = /^\[(\d+)\] (\w+) '([^']*)'/.exec(l)!;
    const t = btf.type(Number(m[1]));
    assert.equal(kinds[t.kind], m[2]);
    assert.equal(t.name || '(anon)', m[3]);
  }
});

test('vmlinux BTF parses', { skip: !existsSync('/sys/kernel/btf/vmlinux') && 'no vmlinux BTF' }, () => {
  let bytes: Uint8Array;
  try { bytes = new Uint8Array(readFileSync('/sys/kernel/btf/vmlinux')); } catch { return; }
  const btf = parseBtf(bytes, { label: 'vmlinux' });
  assert.ok(btf.types.length > 10000);
  const sk = btf.findOne('sk_buff', BTF_KIND.STRUCT);
  assert.ok(sk !== undefined);
});

function header(over: Partial<Record<string, number>> = {}): Uint8Array {
  const types = new Uint8Array([...u32(1), ...u32((1 << 24) | 0), ...u32(4), ...u32(32)]); // INT 'a' size 4 bits 32
  const strs = new Uint8Array([0, 0x61, 0]);
  const h = { hdr: 24, typeOff: 0, typeLen: types.length, strOff: types.length, strLen: strs.length, ...over };
  const out = new Uint8Array(24 + types.length + strs.length);
  const v = new DataView(out.buffer);
  v.setUint16(0, 0xeb9f, true); out[2] = 1;
  v.setUint32(4, h.hdr!, true); v.setUint32(8, h.typeOff!, true); v.setUint32(12, h.typeLen!, true);
  v.setUint32(16, h.strOff!, true); v.setUint32(20, h.strLen!, true);
  out.set(types, 24); out.set(strs, 24 + types.length);
  return out;
}
function u32(n: number): number[] { return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24]; }

test('hand-made BTF: minimal valid, then each malformation is one clear error', () => {
  const ok = parseBtf(header());
  assert.equal(ok.types.length, 2);
  assert.equal(ok.type(1).name, 'a');
  expectError(() => parseBtf(new Uint8Array(10)), /BTF header not found/);
  const badMagic = header(); badMagic[0] = 0; expectError(() => parseBtf(badMagic), /invalid BTF magic/);
  expectError(() => parseBtf(header({ typeLen: 400 })), /type section at offset 0 length 400 extends past/);
  expectError(() => parseBtf(header({ strLen: 100 })), /string section .* extends past/);
  const badName = header(); badName[24] = 99; expectError(() => parseBtf(badName), /type \[1\] at offset 0: name offset 99 is outside/);
  const badKind = header(); badKind[24 + 7] = 25; expectError(() => parseBtf(badKind), /unsupported BTF kind 25/);
  const trunc = header({ typeLen: 14, strOff: 16 }); // type data cut mid-record
  expectError(() => parseBtf(trunc), /./);
  // A typedef loop: resolving it ends with an error, not a hang.
  const loop = header({ typeLen: 12 });
  const v = new DataView(loop.buffer);
  v.setUint32(24 + 4, 8 << 24, true); v.setUint32(24 + 8, 1, true); // TYPEDEF a -> [1]
  const lb = parseBtf(loop);
  assert.throws(() => lb.resolveSize(1), /loop/);
  assert.throws(() => lb.skipModsAndTypedefs(1), /loop/);
  // Reference beyond the last type.
  v.setUint32(24 + 8, 9, true);
  expectError(() => parseBtf(loop), /refers to type \[9\], beyond the last type \[1\]/);
});

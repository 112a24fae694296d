/*
 * BTF-formatted map values (btf_dumper): unit checks, and a differential against bpftool's
 * `map dump` (plain and -j) of test/fixtures/btf/btf_values.o loaded into the kernel, with the
 * same key/value bytes written by bpftool (needs root and bpftool; skipped otherwise).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { fixupDatasecs, parseBtf } from '../src/btf/parse.js';
import { BTF_KIND, type Btf, type BtfType } from '../src/btf/types.js';
import { dumpBtfMapEntry, formatBtfValue } from '../src/btf/value.js';
import { BpfJsonWriter } from '../src/btf/json_writer.js';
import { readElf } from '../src/loader/elf.js';

const root = new URL('../../', import.meta.url);
const OBJ = new URL('test/fixtures/btf/btf_values.o', root).pathname;

function objectBtf(): Btf {
  const elf = readElf(new Uint8Array(readFileSync(OBJ)), OBJ);
  const btf = parseBtf(elf.sections.find((s) => s.name === '.BTF')!.data);
  fixupDatasecs(btf, {
    sectionSize: (n) => elf.sections.find((s) => s.name === n)?.size,
    varSymbol: (n) => {
      const s = elf.symbols.find((x) => x.name === n && x.type === 1);
      return s ? { value: s.value, hidden: s.visibility === 2 } : undefined;
    },
  });
  return btf;
}

/** Key and value type ids of a BTF-defined map (its VAR's struct members `key`/`value` point to them). */
function mapTypes(btf: Btf, name: string): { key: number; value: number } {
  const v = btf.types.find((t) => t.kind === BTF_KIND.VAR && t.name === name)!;
  const s = btf.type((v as Extract<BtfType, { kind: typeof BTF_KIND.VAR }>).type);
  assert.ok(s.kind === BTF_KIND.STRUCT);
  const ptrTarget = (m: string) => {
    const p = btf.type(s.members.find((x) => x.name === m)!.type);
    assert.ok(p.kind === BTF_KIND.PTR);
    return p.type;
  };
  return { key: ptrTarget('key'), value: ptrTarget('value') };
}

function memberOffset(btf: Btf, typeId: number, name: string): number {
  const t = btf.type(typeId);
  assert.ok(t.kind === BTF_KIND.STRUCT || t.kind === BTF_KIND.UNION);
  return t.members.find((m) => m.name === name)!.bitOffset / 8;
}

test('formatBtfValue: structs, strings, enums, bitfields, 64-bit exact', () => {
  const btf = objectBtf();
  const { value } = mapTypes(btf, 'values');
  const bytes = new Uint8Array(btf.resolveSize(value));
  const dv = new DataView(bytes.buffer);
  dv.setInt32(memberOffset(btf, value, 'col'), 5, true);
  dv.setInt32(memberOffset(btf, value, 'sg'), -3, true);
  bytes.set(new TextEncoder().encode('hi'), memberOffset(btf, value, 'str'));
  dv.setBigUint64(memberOffset(btf, value, 'big'), 0xfffffffffffffffen, true);
  dv.setBigInt64(memberOffset(btf, value, 'neg'), -9007199254740993n, true);
  bytes[memberOffset(btf, value, 'flag')] = 1;
  const bfOff = memberOffset(btf, value, 'bf');
  bytes[bfOff] = 0b101 | (0b11111 << 3);
  const json = formatBtfValue(btf, value, bytes, true);
  assert.match(json, /^\{"in":\{"i":0,"name":""\},"u":\{"word":0,"bytes":\[0,0,0,0\],"halves":\{"lo":0,"hi":0\}\},"col":"GREEN","sg":"NEG",/);
  assert.ok(json.includes('"str":"hi"'));
  assert.ok(json.includes('"big":18446744073709551614'));
  assert.ok(json.includes('"neg":-9007199254740993'));
  assert.ok(json.includes('"flag":true'));
  assert.ok(json.includes('"ptr":0'));
  assert.ok(json.includes('"u128":"0x0"'));
  assert.ok(json.includes('"bf":{"a":"0x5","b":"0x1f","c":"0x0"'));
  const plain = formatBtfValue(btf, value, bytes, false);
  assert.ok(plain.startsWith('{\n    "in": {\n        "i": 0,'));
  assert.ok(plain.includes('"ptr": (nil),'));
  assert.ok(plain.includes('"a": 0x5,'));
});

/* ------------------------------------------------------------------------------------------ */

function sh(args: string[]): string {
  return execFileSync('bpftool', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function canLoad(): string | false {
  try {
    sh(['version']);
  } catch {
    return 'bpftool not installed';
  }
  if (process.getuid?.() !== 0) return 'needs root to load into the kernel';
  try {
    readFileSync('/sys/fs/bpf/../bpf').length;
  } catch { /* directory: fine */ }
  return false;
}

const hexBytes = (b: Uint8Array): string[] => [...b].map((x) => x.toString(16).padStart(2, '0'));

/** print_hex_data_json(). */
function hexJson(w: BpfJsonWriter, b: Uint8Array): void {
  w.startArray();
  for (const x of b) w.raw(`"0x${x.toString(16).padStart(2, '0')}"`);
  w.endArray();
}

function possibleCpus(): number {
  const text = readFileSync('/sys/devices/system/cpu/possible', 'utf8').trim();
  let n = 0;
  for (const part of text.split(',')) {
    const [a, b] = part.split('-').map(Number);
    n = Math.max(n, (b ?? a) + 1);
  }
  return n;
}

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1103515245 + 12345) >>> 0;
    return (s >>> 16) & 0xff;
  };
}

test('differential against bpftool map dump (kernel-loaded btf_values.o)', { skip: canLoad() }, () => {
  const btf = objectBtf();
  const pin = `/sys/fs/bpf/bpfkit_btf_values_${process.pid}`;
  rmSync(pin, { force: true });
  sh(['prog', 'load', OBJ, pin]);
  try {
    const prog = JSON.parse(sh(['-j', 'prog', 'show', 'pinned', pin])) as { map_ids: number[] };
    const maps = prog.map_ids.map((id) => JSON.parse(sh(['-j', 'map', 'show', 'id', String(id)])) as {
      id: number; name: string; type: string; bytes_key: number; bytes_value: number;
    });
    const nCpus = possibleCpus();
    const next = rng(0x5eed);
    const random = (n: number) => Uint8Array.from({ length: n }, () => next());
    for (const m of maps) {
      const isData = m.name.includes('.');
      const perCpu = m.type.startsWith('percpu');
      let keyTypeId = 0;
      let valueTypeId: number;
      if (isData) {
        const sec = m.name.slice(m.name.indexOf('.'));
        valueTypeId = btf.types.find((t) => t.kind === BTF_KIND.DATASEC && t.name === sec)!.id;
      } else {
        const ts = mapTypes(btf, m.name);
        keyTypeId = ts.key;
        valueTypeId = ts.value;
      }
      // Fill entries with bytes both tools see; global data keeps its initial values.
      const entries: [Uint8Array, Uint8Array][] = [];
      if (!isData) {
        const n = m.type === 'hash' ? 2 : m.name === 'values' ? 2 : 1;
        for (let i = 0; i < n; i++) {
          const key = m.type === 'hash' ? random(m.bytes_key) : Uint8Array.from([i, 0, 0, 0]);
          const value = perCpu ? random(Math.ceil(m.bytes_value / 8) * 8 * nCpus) : random(m.bytes_value);
          if (i === 1 && !perCpu) value.fill(0, 0, Math.min(value.length, 40));
          const args = ['map', 'update', 'id', String(m.id), 'key', 'hex', ...hexBytes(key), 'value', 'hex', ...hexBytes(perCpu ? value.subarray(0, m.bytes_value) : value)];
          sh(args);
          entries.push([key, value]);
        }
      }
      const dump = JSON.parse(sh(['-j', 'map', 'dump', 'id', String(m.id)])) as { key: string[]; value?: string[]; values?: { value: string[] }[] }[];
      const bytesOf = (h: string[]) => Uint8Array.from(h.map((x) => parseInt(x, 16)));
      const kernelEntries = dump.map((e): [Uint8Array, Uint8Array] => {
        if (e.values) {
          const step = Math.ceil(m.bytes_value / 8) * 8;
          const all = new Uint8Array(step * e.values.length);
          e.values.forEach((v, i) => all.set(bytesOf(v.value), i * step));
          return [bytesOf(e.key), all];
        }
        return [bytesOf(e.key), bytesOf(e.value!)];
      });
      assert.ok(kernelEntries.length >= entries.length);
      const info = { keyTypeId, valueTypeId, valueSize: m.bytes_value, perCpu, nCpus };
      // Plain text: bpftool's pretty writer with is_plain_text.
      const plain = new BpfJsonWriter(true);
      plain.startArray();
      for (const [k, v] of kernelEntries) dumpBtfMapEntry(plain, btf, info, k, v, true);
      plain.endArray();
      assert.equal(plain.text() + '\n', sh(['map', 'dump', 'id', String(m.id)]), `plain map dump of ${m.name}`);
      if (perCpu) continue; // -j per-CPU entries print per-CPU hex arrays; the formatted part is covered above.
      const j = new BpfJsonWriter(false);
      j.startArray();
      for (const [k, v] of kernelEntries) {
        j.startObject();
        j.name('key'); hexJson(j, k);
        j.name('value'); hexJson(j, v);
        j.name('formatted');
        dumpBtfMapEntry(j, btf, info, k, v, false);
        j.endObject();
      }
      j.endArray();
      assert.equal(j.text() + '\n', sh(['-j', 'map', 'dump', 'id', String(m.id)]), `-j map dump of ${m.name}`);
    }
  } finally {
    rmSync(pin, { force: true });
  }
});

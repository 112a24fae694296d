/*
 * BTF through the kernel object model: encoding parsed BTF back to bytes (what BPF_BTF_LOAD gets),
 * BTF objects with ids held by the maps and programs of a load, kept in the pin store with them
 * (read back by a later kernel; stores without BTF records still load), bpftool's function
 * prototypes (btf_dumper_type_only) and the order `btf list` prints users in.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import '../src/api/index.js';
import { encodeBtf } from '../src/btf/emit.js';
import { parseBtf } from '../src/btf/parse.js';
import { btfTypeOnly } from '../src/btf/type_name.js';
import { BTF_KIND } from '../src/btf/types.js';
import { btfUserTable } from '../src/cli/btf.js';
import { BpfError } from '../src/errors.js';
import { Bpf } from '../src/kernel/bpf.js';
import { loadObjectIntoKernel } from '../src/kernel/load.js';
import { PinStore } from '../src/kernel/pin_store.js';
import { MemoryStoreFs } from '../src/kernel/store_fs.js';
import { readElf } from '../src/loader/elf.js';
import { openObject } from '../src/loader/object.js';

const root = new URL('../../', import.meta.url);
const fixture = (rel: string): string => new URL(`test/fixtures/${rel}`, root).pathname;
const objectBytes = (rel: string): Uint8Array => new Uint8Array(readFileSync(fixture(rel)));

function fixturesWithBtf(): string[] {
  const out: string[] = [];
  for (const dir of ['', 'btf/', 'loader/', 'progtypes/']) {
    for (const f of readdirSync(fixture(dir || '.'))) {
      if (!f.endsWith('.o')) continue;
      const elf = readElf(objectBytes(dir + f), f);
      if (elf.sections.some((s) => s.name === '.BTF')) out.push(dir + f);
    }
  }
  return out;
}

test('encodeBtf(parseBtf(x)) gives back x for every fixture\'s .BTF; the fixed-up BTF re-parses to the same types', () => {
  const names = fixturesWithBtf();
  assert.ok(names.length >= 8, `fixtures with BTF: ${names.join(', ')}`);
  for (const name of names) {
    const elf = readElf(objectBytes(name), name);
    const raw = elf.sections.find((s) => s.name === '.BTF')!.data;
    assert.deepEqual(encodeBtf(parseBtf(raw)), raw.subarray(0, encodeBtf(parseBtf(raw)).length), name);
    assert.equal(encodeBtf(parseBtf(raw)).length, raw.length, name);
    const fixed = openObject(objectBytes(name), name).btf!;
    const again = parseBtf(encodeBtf(fixed));
    assert.deepEqual(again.types.map((t) => ({ ...t })), fixed.types.map((t) => ({ ...t })), name);
  }
});

test('btfTypeOnly: bpftool\'s prototype text, spacing and all', () => {
  const btf = openObject(objectBytes('loader/btf_maps.o'), 'btf_maps.o').btf!;
  const func = (name: string): number => btf.findOne(name, BTF_KIND.FUNC)!;
  assert.equal(btfTypeOnly(btf, func('xdp_count')), 'int xdp_count(struct xdp_md * ctx)');
  assert.equal(btfTypeOnly(btf, func('add_len')), '__u32 add_len(struct xdp_md * ctx, __u32 k)');
  assert.equal(btfTypeOnly(btf, func('loop_cb')), 'long loop_cb(__u32 i, void * data)');
  assert.equal(btfTypeOnly(btf, 0), 'void ');
  assert.equal(btfTypeOnly(btf, btf.types.length + 5), '', 'an unknown id prints nothing');
  const bss = btf.findOne('.bss', BTF_KIND.DATASEC)!;
  assert.equal(btfTypeOnly(btf, bss), 'section (".bss") ');
});

test('btfUserTable: the order bpftool prints (observed: maps 152..158 of one BTF listed 158,157,156,152,153,154)', () => {
  const users = [152, 153, 154, 156, 157, 158].map((id) => ({ id, btfId: 286 }));
  assert.deepEqual(btfUserTable(users).get(286), [158, 157, 156, 152, 153, 154]);
  assert.deepEqual(btfUserTable([{ id: 1, btfId: 7 }, { id: 2, btfId: 0 }, { id: 3, btfId: 7 }]).get(7), [3, 1]);
  // Another BTF's users count toward the table's growth (one table for all of them).
  const mixed = btfUserTable([1, 2, 3, 4, 5].map((id) => ({ id, btfId: id === 2 ? 9 : 8 })));
  assert.deepEqual(mixed.get(8), [5, 4, 1, 3]); // 1, 3 reversed when the 4th entry grows the table
  assert.deepEqual(mixed.get(9), [2]);
});

test('a load creates one BTF object held by its BTF maps and programs; the store keeps it with a pinned map', () => {
  const fs = new MemoryStoreFs();
  const bpf = new Bpf({ store: new PinStore(fs) });
  const lo = loadObjectIntoKernel(bpf, objectBytes('loader/btf_maps.o'), 'btf_maps.o', { pinRoot: '/sys/fs/bpf/t' });
  const counts = bpf.mapInfo(lo.map('counts').fd);
  assert.ok(counts.btfId > 0);
  const btf = lo.obj.btf!;
  assert.equal(btf.types[counts.btfKeyTypeId].name, '__u32');
  assert.equal(btf.types[counts.btfValueTypeId].name, 'pair');
  const bss = bpf.mapInfo(lo.map('btf_maps.bss').fd);
  assert.deepEqual([bss.btfId, bss.btfKeyTypeId, btf.types[bss.btfValueTypeId].name], [counts.btfId, 0, '.bss']);
  // key_size/value_size maps, prog arrays and map-in-map have none (as libbpf creates them).
  for (const name of ['pinned_arr', 'jmp', 'outer']) assert.equal(bpf.mapInfo(lo.map(name).fd).btfId, 0, name);
  const prog = bpf.progBtf(lo.program('xdp_count').fd)!;
  assert.equal(prog.btfId, counts.btfId);
  assert.deepEqual(prog.funcInfo.map((f) => btf.types[f.typeId].name), ['xdp_count', 'add_len', 'loop_cb']);
  assert.equal(prog.lineInfo[0].insn, 0);
  assert.ok(prog.lineInfo.some((l) => l.line.includes('bpf_loop(4, loop_cb, &sum, 0);')));
  // The BTF object outlives this load's fd while its users live; it goes with the last of them.
  const btfFd = bpf.getFdById('btf', counts.btfId);
  assert.equal(bpf.btfInfo(btfFd).size, encodeBtf(btf).length);
  bpf.close(btfFd);
  bpf.objPin(lo.map('counts').fd, '/sys/fs/bpf/counts');
  const key = new Uint8Array(4);
  bpf.mapUpdate(lo.map('counts').fd, key, new Uint8Array(16).fill(1));
  lo.close();
  bpf.shutdown();
  // A later kernel over the same store: the pinned map comes back with its BTF.
  const later = new Bpf({ store: new PinStore(fs) });
  const fd = later.objGet('/sys/fs/bpf/counts');
  const kv = later.mapBtf(fd)!;
  assert.equal(kv.btfId, counts.btfId);
  assert.equal(kv.btf.types[kv.valueTypeId].name, 'pair');
  assert.deepEqual(later.mapInfo(fd).btfId, counts.btfId);
  assert.deepEqual([...later.mapLookup(fd, key)], new Array(16).fill(1));
  assert.deepEqual(later.getNextId('btf'), counts.btfId);
  later.shutdown();
  // Unpinning the last user collects the stored BTF too.
  const last = new Bpf({ store: new PinStore(fs) });
  last.unpin('/sys/fs/bpf/counts');
  assert.throws(() => last.getNextId('btf'), (e: unknown) => e instanceof BpfError && e.code === 'ENOENT');
});

test('map_check_btf: wrong sizes and map types without BTF are refused; stores from before BTF still load', () => {
  const fs = new MemoryStoreFs();
  const bpf = new Bpf({ store: new PinStore(fs) });
  const btf = openObject(objectBytes('loader/btf_maps.o'), 'btf_maps.o').btf!;
  const btfFd = bpf.btfLoad(encodeBtf(btf));
  const u32 = btf.findOne('__u32', BTF_KIND.TYPEDEF)!;
  const pair = btf.findOne('pair', BTF_KIND.STRUCT)!;
  const spec = { type: 1, keySize: 4, valueSize: 16, maxEntries: 4, flags: 0, name: 'h' };
  const fd = bpf.mapCreate(spec, { btfFd, keyTypeId: u32, valueTypeId: pair });
  assert.equal(bpf.mapInfo(fd).btfKeyTypeId, u32);
  const einval = (e: unknown): boolean => e instanceof BpfError && e.code === 'EINVAL';
  assert.throws(() => bpf.mapCreate({ ...spec, valueSize: 8 }, { btfFd, keyTypeId: u32, valueTypeId: pair }), einval);
  assert.throws(() => bpf.mapCreate({ ...spec, type: 3, valueSize: 4 }, { btfFd, keyTypeId: u32, valueTypeId: u32 }), einval);
  assert.throws(() => bpf.mapCreate(spec, { btfFd, keyTypeId: 0, valueTypeId: pair }), einval, 'a hash needs a key type');
  assert.throws(() => bpf.btfLoad(new Uint8Array([0x9f, 0xeb, 1, 0])), (e: unknown) => e instanceof BpfError);
  // A map record written before BTF existed in the store (no btf fields) loads without BTF.
  bpf.objPin(fd, '/sys/fs/bpf/h');
  const store = new PinStore(fs);
  const rec = store.readObject('map', bpf.mapInfo(fd).id)!;
  for (const k of ['btfId', 'btfKeyTypeId', 'btfValueTypeId', 'holds']) delete rec.header[k];
  store.writeObject('map', bpf.mapInfo(fd).id, rec);
  bpf.shutdown();
  const later = new Bpf({ store: new PinStore(fs) });
  const again = later.objGet('/sys/fs/bpf/h');
  assert.equal(later.mapInfo(again).btfId, 0);
  assert.equal(later.mapBtf(again), undefined);
  later.shutdown();
});

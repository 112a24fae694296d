/*
 * iproute2's object conventions (tc-bpf(8), lib/bpf_legacy.c): struct bpf_elf_map maps with
 * id / inner_id / inner_idx building a map-in-map, and a classifier + action pair in one object
 * sharing a map pinned in tc's global namespace. test/fixtures/loader/tc_elf_map.o runs both
 * programs on packets and the shared map holds what both counted. (libbpf 1.x refuses `maps`
 * sections, so bpftool cannot serve as the oracle here; the expected values follow from the
 * packets.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCliCaptured } from '../src/cli/main.js';
import { setCliKernel } from '../src/cli/map.js';
import { BpfError } from '../src/errors.js';
import { Bpf } from '../src/kernel/bpf.js';
import { loadObjectIntoKernel } from '../src/kernel/load.js';
import { PinStore } from '../src/kernel/pin_store.js';
import { MemoryStoreFs } from '../src/kernel/store_fs.js';
import { makeInsn } from '../src/isa/insn.js';
import { writeElf } from '../src/loader/elf_writer.js';
import { openObject } from '../src/loader/object.js';
import { createMap } from '../src/maps/index.js';

const root = new URL('../../', import.meta.url);
const OBJ = new URL('test/fixtures/loader/tc_elf_map.o', root).pathname;
const UDP = new URL('examples/udp.bin', root).pathname;
const DNS = new URL('examples/udp_dns.bin', root).pathname;
const u32 = (n: number): Uint8Array => new Uint8Array(new Uint32Array([n]).buffer);
const rdU32 = (b: Uint8Array): number => new DataView(b.buffer, b.byteOffset).getUint32(0, true);

test('map-in-map as iproute2 builds it: map_outer created from map_inner (inner_id = its id), map_inner at inner_idx', () => {
  const bpf = new Bpf({ createMap });
  const lo = loadObjectIntoKernel(bpf, new Uint8Array(readFileSync(OBJ)), 'tc_elf_map.o');
  const inner = bpf.mapInfo(lo.map('map_inner').fd);
  const outer = lo.map('map_outer');
  assert.equal(bpf.mapInfo(outer.fd).type, 12);
  assert.deepEqual(bpf.mapOf(outer.fd).innerSpec && [bpf.mapOf(outer.fd).innerSpec!.type, bpf.mapOf(outer.fd).innerSpec!.valueSize], [2, 4]);
  assert.equal(rdU32(bpf.mapLookup(outer.fd, u32(0))), inner.id, 'slot inner_idx (0) holds map_inner');
  // The slot is the map itself: what a program writes through the outer map lands in map_inner.
  bpf.mapUpdate(lo.map('map_inner').fd, u32(0), u32(0xabcd));
  assert.equal(rdU32(bpf.mapLookup(bpf.getFdById('map', inner.id), u32(0))), 0xabcd);
  lo.close();
});

/** An object of three bpf_elf_map definitions: an inner (id 2, inner_idx `idx`), an outer of `entries`, and a program. */
function elfMapObject(idx: number, entries: number): Uint8Array {
  const def = (v: number[]): number[] => [...v, ...new Array(9 - v.length).fill(0)];
  //            type key val max flags id pin inner_id inner_idx
  const defs = [def([2, 4, 4, 1, 0, 2, 0, 0, idx]), def([12, 4, 4, entries, 0, 0, 0, 2, 0])];
  const data = new Uint8Array(new Uint32Array(defs.flat()).buffer);
  return writeElf({ sections: [
    { name: 'classifier', executable: true, writable: false, insns: [makeInsn(0xb7, 0, 0, 0, 0), makeInsn(0x95)], data: new Uint8Array(0),
      symbols: [{ name: 'cls', offset: 0, global: true, type: 'func', size: 16 }], relocations: [] },
    { name: 'maps', executable: false, writable: true, insns: [], data,
      symbols: [{ name: 'inner', offset: 0, global: true, type: 'object', size: 36 }, { name: 'outer', offset: 36, global: true, type: 'object', size: 36 }],
      relocations: [] },
    { name: 'license', executable: false, writable: true, insns: [], data: new TextEncoder().encode('GPL\0'), symbols: [], relocations: [] },
  ] });
}

test('inner_idx past the outer array is iproute2\'s error; inner_idx -1 leaves the outer map empty', () => {
  assert.throws(() => openObject(elfMapObject(4, 4), 'bad.o'),
    (e: unknown) => e instanceof BpfError && /map 'inner': Cannot insert map into map! Outer map has 4 elements, index 4 is invalid!$/.test(e.message));
  const obj = openObject(elfMapObject(0xffffffff, 4), 'none.o');
  assert.deepEqual(obj.maps.find((m) => m.name === 'outer')!.initSlots, []);
  const two = openObject(elfMapObject(3, 4), 'three.o');
  assert.equal(two.maps.find((m) => m.name === 'outer')!.initSlots[3], 'inner');
});

test('tc-bpf(8): classifier and action of one object count into the map pinned at /sys/fs/bpf/tc/globals', async () => {
  const fs = new MemoryStoreFs();
  setCliKernel(() => new Bpf({ store: new PinStore(fs), createMap, nrCpus: 1 }));
  const dir = mkdtempSync(join(tmpdir(), 'bpfkit-tc-'));
  try {
    const run = async (...args: string[]): Promise<string> => {
      const r = await runCliCaptured(args);
      assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
      return r.stdout;
    };
    await run('prog', 'loadall', OBJ, '/sys/fs/bpf/tc/obj');
    const ctx = (mark: number): string => {
      const c = new Uint8Array(192);
      new DataView(c.buffer).setUint32(8, mark, true); // __sk_buff.mark
      const file = join(dir, `ctx${mark}.bin`);
      writeFileSync(file, c);
      return file;
    };
    // Each run: (program, packet, mark) -> the classifier returns TC_H_MAKE(TC_H_ROOT, mark), the action TC_ACT_OK.
    const runs: [string, string, number][] = [['cls_main', UDP, 5], ['act_main', DNS, 5], ['act_main', UDP, 7], ['cls_main', DNS, 5]];
    for (const [prog, pkt, mark] of runs) {
      const out = await run('prog', 'run', 'pinned', `/sys/fs/bpf/tc/obj/${prog}`, 'data_in', pkt, 'ctx_in', ctx(mark));
      const want = prog === 'cls_main' ? (0xffff0000 | mark) >>> 0 : 0;
      assert.match(out, new RegExp(`^Return value: ${want}, `), `${prog} mark ${mark}`);
    }
    // The shared map: per mark, packets and bytes of both programs' runs.
    const stats = new Map<number, [number, number]>();
    for (const [, pkt, mark] of runs) {
      const [p, b] = stats.get(mark) ?? [0, 0];
      stats.set(mark, [p + 1, b + readFileSync(pkt).length]);
    }
    const dump = JSON.parse(await run('-j', 'map', 'dump', 'pinned', '/sys/fs/bpf/tc/globals/map_stats')) as { key: string[]; value: string[] }[];
    const bytes = (h: string[]): Uint8Array => Uint8Array.from(h.map((x) => parseInt(x, 16)));
    const got = new Map(dump.map((e) => {
      const v = new DataView(bytes(e.value).buffer);
      return [rdU32(bytes(e.key)), [Number(v.getBigUint64(0, true)), Number(v.getBigUint64(8, true))] as [number, number]];
    }));
    assert.deepEqual(got, stats);
    // Both programs hold that one map (and only it: the map-in-map pair has no user left).
    const progs = JSON.parse(await run('-j', 'prog', 'show')) as { name: string; map_ids: number[] }[];
    const statsId = (JSON.parse(await run('-j', 'map', 'show', 'pinned', '/sys/fs/bpf/tc/globals/map_stats')) as { id: number }).id;
    assert.deepEqual(progs.map((p) => [p.name, p.map_ids]).sort(), [['act_main', [statsId]], ['cls_main', [statsId]]]);
    // Loading the object again reuses the pinned map: counts continue.
    await run('prog', 'load', OBJ, '/sys/fs/bpf/tc/again');
    await run('prog', 'run', 'pinned', '/sys/fs/bpf/tc/again', 'data_in', UDP, 'ctx_in', ctx(7));
    const again = await run('map', 'lookup', 'pinned', '/sys/fs/bpf/tc/globals/map_stats', 'key', '7', '0', '0', '0');
    assert.equal(again, 'key: 07 00 00 00  value: 02 00 00 00 00 00 00 00  7a 00 00 00 00 00 00 00\n');
  } finally {
    setCliKernel(undefined);
    rmSync(dir, { recursive: true, force: true });
  }
});

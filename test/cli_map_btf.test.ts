/*
 * BTF-formatted map output and BTF objects through the CLI, against bpftool and the kernel (root,
 * bpftool and bpffs needed; skipped with a message otherwise): test/fixtures/loader/btf_dump.o is
 * loaded by both, its program runs on the same packets (the kernel's pinned to CPU 0, as ours
 * runs), then for every map `map dump` (plain and -j with "formatted"), `map lookup` and
 * `btf dump map` (each root choice, raw and C) must print the same text, and `prog dump xlated
 * linum` the same prototypes and source lines. Without the kernel: the same commands over a pin
 * store read by a later kernel, `btf list`/`btf show`, and their errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { runCliCaptured } from '../src/cli/main.js';
import { setCliKernel } from '../src/cli/map.js';
import { Bpf } from '../src/kernel/bpf.js';
import { PinStore } from '../src/kernel/pin_store.js';
import { MemoryStoreFs } from '../src/kernel/store_fs.js';
import { createMap } from '../src/maps/index.js';
import { readElf } from '../src/loader/elf.js';
import { missingKernel, runTool } from './oracles.js';

const root = new URL('../../', import.meta.url);
const OBJ = new URL('test/fixtures/loader/btf_dump.o', root).pathname;
const PACKETS = ['examples/udp.bin', 'examples/udp_dns.bin'].map((p) => new URL(p, root).pathname);
const PIN = '/sys/fs/bpf/bd';

function possibleCpus(): number {
  let n = 0;
  for (const part of readFileSync('/sys/devices/system/cpu/possible', 'utf8').trim().split(',')) {
    const [a, b] = part.split('-').map(Number);
    n = Math.max(n, (b ?? a) + 1);
  }
  return n;
}

/** A fresh in-memory pin store; every command is a new kernel over it (as separate processes are). */
function fresh(nrCpus = 1): void {
  const fs = new MemoryStoreFs();
  setCliKernel(() => new Bpf({ store: new PinStore(fs), createMap, nrCpus }));
}

const run = (...args: string[]) => runCliCaptured(args);

async function ok(...args: string[]): Promise<string> {
  const r = await run(...args);
  assert.equal(r.status, 0, `bpfkit ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** Lines of a dump that come from BTF: prototypes ("...):") and source lines ("; ..."). */
const btfLines = (text: string): string[] => text.split('\n').filter((l) => l.startsWith(';') || l.endsWith('):'));

test('map dump, lookup and btf dump map print what bpftool prints, after the same packets', async (t) => {
  const why = missingKernel();
  if (why) { t.skip(why); return; }
  const kpin = `/sys/fs/bpf/bpfkit_btf_dump_${process.pid}`;
  rmSync(kpin, { force: true });
  try {
    runTool('bpftool', ['prog', 'load', OBJ, kpin]);
    for (const p of PACKETS) execFileSync('taskset', ['-c', '0', 'bpftool', 'prog', 'run', 'pinned', kpin, 'data_in', p]);
    fresh(possibleCpus());
    await ok('prog', 'load', OBJ, PIN);
    for (const p of PACKETS) await ok('prog', 'run', 'pinned', PIN, 'data_in', p);
    const prog = JSON.parse(runTool('bpftool', ['-j', 'prog', 'show', 'pinned', kpin])) as { map_ids: number[]; btf_id: number };
    assert.ok(prog.btf_id > 0);
    assert.match(await ok('prog', 'show', 'pinned', PIN), /\n\tbtf_id \d+\n$/);
    const names: string[] = [];
    for (const id of prog.map_ids) {
      const info = JSON.parse(runTool('bpftool', ['-j', 'map', 'show', 'id', String(id)])) as { name: string; btf_id?: number };
      names.push(info.name);
      const ours = ['name', info.name];
      const kernel = ['id', String(id)];
      const show = JSON.parse(await ok('-j', 'map', 'show', ...ours)) as { btf_id?: number };
      assert.equal(show.btf_id !== undefined, info.btf_id !== undefined, `btf_id shown for ${info.name}`);
      for (const opts of [[], ['-j'], ['-p']]) {
        assert.equal(await ok(...opts, 'map', 'dump', ...ours), runTool('bpftool', [...opts, 'map', 'dump', ...kernel]), `${opts} map dump ${info.name}`);
      }
      const first = (JSON.parse(runTool('bpftool', ['-j', 'map', 'dump', ...kernel])) as { key: string[] }[])[0];
      const key = ['key', 'hex', ...first.key.map((x) => x.slice(2))];
      for (const opts of [[], ['-j']]) {
        assert.equal(await ok(...opts, 'map', 'lookup', ...ours, ...key), runTool('bpftool', [...opts, 'map', 'lookup', ...kernel, ...key]), `lookup ${info.name}`);
      }
      for (const root of [[], ['key'], ['value'], ['kv'], ['all']]) {
        for (const fmt of [[], ['format', 'c']]) {
          if (root[0] === 'key' && !first.key.length) continue;
          const theirs = runTool('bpftool', ['btf', 'dump', 'map', ...kernel, ...root, ...fmt]);
          assert.equal(await ok('btf', 'dump', 'map', ...ours, ...root, ...fmt), theirs, `btf dump map ${info.name} ${root} ${fmt}`);
        }
        assert.equal(await ok('-j', 'btf', 'dump', 'map', ...ours, ...root), runTool('bpftool', ['-j', 'btf', 'dump', 'map', ...kernel, ...root]));
      }
    }
    assert.deepEqual(names.sort(), ['btf_dump.bss', 'btf_dump.data', 'btf_dump.rodata', 'flows', 'per_cpu']);
    // The program's BTF: the whole of it, and the func_info / line_info a dump shows.
    assert.equal(await ok('btf', 'dump', 'prog', 'pinned', PIN), runTool('bpftool', ['btf', 'dump', 'prog', 'pinned', kpin]));
    for (const linum of [[], ['linum']]) {
      const theirs = btfLines(runTool('bpftool', ['prog', 'dump', 'xlated', 'pinned', kpin, ...linum]));
      assert.ok(theirs.length > 10 && theirs.some((l) => l.startsWith('int classify(__u16 proto):')));
      assert.deepEqual(btfLines(await ok('prog', 'dump', 'xlated', 'pinned', PIN, ...linum)), theirs);
      // -j: the same records as "proto", "src", "file", "line_num", "line_col" members.
      const records = (text: string): string[] => (JSON.parse(text) as Record<string, unknown>[])
        .map(({ disasm: _d, opcodes: _o, ...btf }) => JSON.stringify(btf)).filter((x) => x !== '{}');
      assert.deepEqual(records(await ok('-j', 'prog', 'dump', 'xlated', 'pinned', PIN, ...linum)),
        records(runTool('bpftool', ['-j', 'prog', 'dump', 'xlated', 'pinned', kpin, ...linum])));
    }
  } finally {
    rmSync(kpin, { force: true });
    setCliKernel(undefined);
  }
});

test('pinned maps keep their BTF for later processes; btf list/show; errors as bpftool', async () => {
  fresh();
  try {
    await ok('prog', 'load', OBJ, PIN, 'pinmaps', '/sys/fs/bpf/bdm');
    await ok('prog', 'run', 'pinned', PIN, 'data_in', PACKETS[0]);
    const dump = await ok('map', 'dump', 'pinned', '/sys/fs/bpf/bdm/flows');
    assert.match(dump, /^\[\{\n {8}"key": \{\n {12}"proto": 8,/);
    assert.match(dump, /"kind": "PK_IPV4",\n {12}"tag": "seen",/);
    assert.doesNotMatch(dump, /Found/);
    const bss = JSON.parse(await ok('-j', 'map', 'dump', 'pinned', '/sys/fs/bpf/bdm/btf_dump.bss'));
    assert.deepEqual(bss[0].formatted, { value: { '.bss': [{ total_bytes: 61 }] } });
    // Every user of the BTF object, in bpftool's order (a libbpf hashmap: see btfUserTable()).
    const prog = JSON.parse(await ok('-j', 'prog', 'show', 'pinned', PIN)) as { id: number; btf_id: number };
    const list = await ok('btf', 'list');
    assert.match(list, new RegExp(`^${prog.btf_id}: name <anon>  size \\d+B  prog_ids ${prog.id}  map_ids [\\d,]+\\n$`));
    const shown = JSON.parse(await ok('-j', 'btf', 'show', 'id', String(prog.btf_id)));
    assert.deepEqual(Object.keys(shown), ['id', 'size', 'prog_ids', 'map_ids', 'kernel']);
    assert.equal(shown.map_ids.length, 5);
    assert.equal(shown.size, readBtfSize());
    // Errors: bpftool's words and exit statuses.
    const bad = await run('btf', 'show', 'id', '999');
    assert.deepEqual([bad.status, bad.stderr], [254, "Error: can't get BTF object by id (999): No such file or directory\n"]);
    const word = await run('btf', 'show', 'foo', '1');
    assert.deepEqual([word.status, word.stderr], [255, "Error: expected 'id', got: 'foo'?\n"]);
    const opt = await run('btf', 'dump', 'map', 'name', 'flows', 'value', 'extra');
    assert.deepEqual([opt.status, opt.stderr], [234, "Error: unrecognized option: 'extra'\n"]);
    const parse = await run('btf', 'dump', 'id', '1x');
    assert.deepEqual([parse.status, parse.stderr], [255, "Error: can't parse 1x as ID\n"]);
    // A map without BTF (created by hand): the two lines bpftool prints.
    await ok('map', 'create', '/sys/fs/bpf/plain', 'type', 'array', 'key', '4', 'value', '4', 'entries', '1', 'name', 'plain');
    const none = await run('btf', 'dump', 'map', 'pinned', '/sys/fs/bpf/plain');
    assert.deepEqual([none.status, none.stderr], [254,
      "Error: can't get BTF object by id (0): No such file or directory\nError: get btf by id (0): No such file or directory\n"]);
    assert.match(await ok('map', 'dump', 'pinned', '/sys/fs/bpf/plain'), /^key: 00 00 00 00 {2}value: 00 00 00 00\nFound 1 element\n$/);
  } finally {
    setCliKernel(undefined);
  }
});

function readBtfSize(): number {
  // The size the kernel reports is the raw BTF libbpf loads: as long as the object's .BTF.
  const elf = readElf(new Uint8Array(readFileSync(OBJ)), OBJ);
  return elf.sections.find((x) => x.name === '.BTF')!.size;
}

/*
 * `bpfkit prog dump xlated PROG` against the real bpftool: the same object loaded by both
 * (`prog load OBJ /sys/fs/bpf/...`), both dumps compared after the differences that are not
 * bpfkit's to reproduce are taken out: BTF func/line info lines (bpfkit prints none yet), map
 * ids (each kernel numbers its own maps) and the JIT's `#bpf_prog_<tag>_<name>` call suffix.
 * The fixtures are programs the kernel does not rewrite (no ctx access conversion, no inlined
 * helpers), so every remaining line must match.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { missingKernel } from './oracles.js';

const repo = (rel: string): string => fileURLToPath(new URL(`../../${rel}`, import.meta.url));
const BPFKIT = repo('bin/bpfkit.js');

function bpfkit(state: string, args: string[]): string {
  const r = spawnSync(process.execPath, [BPFKIT, ...args], { env: { ...process.env, BPFKIT_STATE: state }, encoding: 'utf8' });
  assert.equal(r.status, 0, `bpfkit ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

function bpftool(args: string[]): string {
  const r = spawnSync('bpftool', args, { encoding: 'utf8' });
  assert.equal(r.status, 0, `bpftool ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

const normalize = (text: string): string[] => {
  const lines = text.split('\n').filter((l) => l !== '' && !l.startsWith('; ') && !/^\S.*\):$/.test(l));
  // With the JIT, the kernel rewrites a bpf-to-bpf call's off/imm (jit_subprogs()): its opcode bytes differ.
  return lines.filter((l, i) => !(/^ {7}85 1/.test(l) && /call pc/.test(lines[i - 1] ?? '')))
    .map((l) => l.replace(/map\[id:\d+\]/g, 'map[id:N]').replace(/#bpf_prog_[0-9a-f]+_\w+/, ''))
    // A map reference's imm is the map id in the opcode bytes too.
    .map((l) => l.replace(/^( {7}18 \S\S \S\S \S\S)( \S\S){4}/, '$1 <id>'));
};

/** Longest common subsequence length of two line lists (instruction text without the index). */
function lcs(a: string[], b: string[]): number {
  let prev = new Array<number>(b.length + 1).fill(0);
  for (const x of a) {
    const cur = [0];
    for (let j = 0; j < b.length; j++) cur.push(x === b[j] ? prev[j] + 1 : Math.max(prev[j + 1], cur[j]));
    prev = cur;
  }
  return prev[b.length];
}
const text = (lines: string[]): string[] => lines.map((l) => l.replace(/^ *\d+: /, ''));

const FIXTURES = [
  'test/fixtures/calls.o', // map-less, bpf-to-bpf calls
  'test/fixtures/global_data.o', // map value reference: map[id:N][0]+0
  'test/fixtures/loader/btf_maps.o',
];

test('prog dump xlated tc_pair.o: the lines the kernel does not rewrite are bpftool\'s', (t) => {
  const why = missingKernel();
  if (why) { t.skip(why); return; }
  // An array lookup is inlined by the kernel and __sk_buff loads are converted: compare the
  // instruction texts (indices shift) as a common subsequence holding the map reference.
  const obj = repo('test/fixtures/progtypes/tc_pair.o');
  const state = mkdtempSync(join(tmpdir(), 'bpfkit-xlated-'));
  const pin = `/sys/fs/bpf/bpfkit_xlated_${process.pid}`;
  try {
    bpfkit(state, ['prog', 'load', obj, pin]);
    bpftool(['prog', 'load', obj, pin]);
    const ours = text(normalize(bpfkit(state, ['prog', 'dump', 'xlated', 'pinned', pin])));
    const theirs = text(normalize(bpftool(['prog', 'dump', 'xlated', 'pinned', pin])));
    assert.ok(ours.includes('(18) r1 = map[id:N]') && theirs.includes('(18) r1 = map[id:N]'));
    assert.ok(ours.includes('(85) call bpf_map_lookup_elem#1'));
    const rewritten = ours.filter((l) => /call bpf_map_lookup_elem|\(r[1-9] \+\d+\)$/.test(l) && !theirs.includes(l)).length;
    assert.equal(lcs(ours, theirs), ours.length - rewritten, `ours:\n${ours.join('\n')}\ntheirs:\n${theirs.join('\n')}`);
  } finally {
    rmSync(pin, { force: true });
    rmSync(state, { recursive: true, force: true });
  }
});

for (const fixture of FIXTURES) {
  test(`prog dump xlated ${fixture}: the lines bpftool prints for the same object`, (t) => {
    const why = missingKernel();
    if (why) { t.skip(why); return; }
    const obj = repo(fixture);
    const state = mkdtempSync(join(tmpdir(), 'bpfkit-xlated-'));
    const pin = `/sys/fs/bpf/bpfkit_xlated_${process.pid}`;
    try {
      bpfkit(state, ['prog', 'load', obj, pin]);
      bpftool(['prog', 'load', obj, pin]);
      for (const extra of [[], ['opcodes']]) {
        const ours = normalize(bpfkit(state, ['prog', 'dump', 'xlated', 'pinned', pin, ...extra]));
        const theirs = normalize(bpftool(['prog', 'dump', 'xlated', 'pinned', pin, ...extra]));
        assert.ok(ours.length > 0);
        assert.deepEqual(ours, theirs);
      }
      const disasm = (text: string): string[] => (JSON.parse(text) as { disasm: string }[]).map((x) => normalize(x.disasm)[0]);
      assert.deepEqual(
        disasm(bpfkit(state, ['-j', 'prog', 'dump', 'xlated', 'pinned', pin])),
        disasm(bpftool(['-j', 'prog', 'dump', 'xlated', 'pinned', pin])),
      );
      // The same program by `file OBJ` (resolved as `prog run` resolves it) and by `id`.
      assert.deepEqual(normalize(bpfkit(state, ['prog', 'dump', 'xlated', 'file', obj])), normalize(bpftool(['prog', 'dump', 'xlated', 'pinned', pin])));
    } finally {
      rmSync(pin, { force: true });
      rmSync(state, { recursive: true, force: true });
    }
  });
}

test('prog dump xlated: map references print as map[id:N] with the map ids of prog show', (t) => {
  const state = mkdtempSync(join(tmpdir(), 'bpfkit-xlated-'));
  try {
    bpfkit(state, ['prog', 'load', repo('test/fixtures/progtypes/tc_pair.o'), '/sys/fs/bpf/x']);
    const show = JSON.parse(bpfkit(state, ['-j', 'prog', 'show', 'pinned', '/sys/fs/bpf/x'])) as { id: number; map_ids: number[] };
    const text = bpfkit(state, ['prog', 'dump', 'xlated', 'id', String(show.id)]);
    const ids = [...text.matchAll(/map\[id:(\d+)\]/g)].map((m) => Number(m[1]));
    assert.ok(ids.length > 0, text);
    for (const id of ids) assert.ok(show.map_ids.includes(id), `${id} not in ${show.map_ids}`);
    assert.match(text, /call bpf_map_\w+#\d+/);
    assert.deepEqual(text, bpfkit(state, ['prog', 'dump', 'xlated', 'pinned', '/sys/fs/bpf/x']));
    t.diagnostic(text);
  } finally {
    rmSync(state, { recursive: true, force: true });
  }
});

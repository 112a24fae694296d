/*
 * Differential: the same `map ...` (and `prog show` first line) commands through bpftool on the
 * kernel and through bpfkit over a temporary BPFKIT_STATE, compared byte for byte (stdout, stderr,
 * exit status) modulo object ids. Skips where the kernel cannot serve (not root, no bpftool, no
 * bpffs). Every pin made in bpffs is removed in `finally`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findTool, missingKernel } from './oracles.js';

const BIN = new URL('../../bin/bpfkit.js', import.meta.url).pathname;
const FIXTURE = new URL('../../test/fixtures/xdp_ctx.o', import.meta.url).pathname;
const TAG = `bk${process.pid % 100000}`;
const pin = (name: string): string => `/sys/fs/bpf/${TAG}_${name}`;

interface Run { status: number | null; stdout: string; stderr: string }

function normalize(r: Run): Run {
  const ids = (s: string): string => s
    .replace(/^\d+: /gm, 'ID: ')
    .replace(/"id":( ?)\d+/g, '"id":$10')
    .replace(/by id \(\d+\)/g, 'by id (ID)');
  return { status: r.status, stdout: ids(r.stdout), stderr: ids(r.stderr) };
}

function kernelRun(args: string[]): Run {
  const r = spawnSync(findTool('bpftool')!, args, { encoding: 'utf8' });
  return normalize({ status: r.status, stdout: r.stdout, stderr: r.stderr });
}

function bpfkitRun(state: string, args: string[]): Run {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, BPFKIT_STATE: state } });
  return normalize({ status: r.status, stdout: r.stdout, stderr: r.stderr });
}

/** The first n lines of stdout (a hash map's next key after a missing one depends on hash order). */
const firstLines = (n: number) => (r: Run): Run => ({ ...r, stdout: r.stdout.split('\n').slice(0, n).join('\n') });

/** A map-in-map's values are inner map ids. */
const innerId = (r: Run): Run => ({ ...r, stdout: r.stdout.replace(/value: [0-9a-f ]+/, 'value: ID').replace(/"value":\[[^\]]*\]/, '"value":ID') });

/** Hash maps iterate in hash order: compare their dumps as sets of lines. */
const sortLines = (r: Run): Run => ({ ...r, stdout: r.stdout.split('\n').sort().join('\n') });

test('map commands: bpfkit prints what bpftool prints', async (t) => {
  const why = missingKernel();
  if (why) { t.skip(why); return; }
  const state = mkdtempSync(join(tmpdir(), 'bpfkit-diff-'));
  // Every map type bpfkit has, for `map show` (memlock as the kernel accounts it).
  const shapes: [string, string, string, string][] = [
    ['prog_array', '4', '4', '1000'], ['perf_event_array', '4', '4', '2'], ['ringbuf', '0', '0', '65536'],
    ['bloom_filter', '0', '4', '1000'], ['devmap', '4', '8', '100'], ['devmap_hash', '4', '8', '100'],
    ['cpumap', '4', '8', '4'], ['xskmap', '4', '4', '16'], ['lru_percpu_hash', '4', '8', '16'],
    ['percpu_hash', '4', '8', '1000'], ['array', '4', '8', '100000'], ['array_of_maps', '4', '4', '16'],
    ['hash_of_maps', '4', '4', '16'], ['lpm_trie', '8', '8', '16'], ['stack', '0', '4', '3'],
  ];
  const made = ['h', 'a', 'a2', 'q', 'pc', 'lru', 'ph', 's', 'p', 'lpm', ...shapes.map((_, i) => `t${i}`)].map(pin);
  const H = pin('h');
  const A = pin('a');
  const Q = pin('q');
  const PC = pin('pc');
  const seq40 = Array.from({ length: 40 }, (_, i) => String(i + 1));
  const steps: [string[], ((r: Run) => Run)?][] = [
    [['map', 'create', H, 'type', 'hash', 'key', '4', 'value', '8', 'entries', '16', 'name', TAG]],
    [['map', 'show', 'pinned', H]],
    [['-j', 'map', 'show', 'pinned', H]],
    [['-p', 'map', 'show', 'pinned', H]],
    [['map', 'show', 'name', TAG]],
    [['map', 'update', 'pinned', H, 'key', '1', '0', '0', '0', 'value', '1', '2', '3', '4', '5', '6', '7', '8']],
    [['map', 'update', 'pinned', H, 'key', '1', '0', '0', '0', 'value', '1', '2', '3', '4', '5', '6', '7', '8', 'noexist']],
    [['-j', 'map', 'update', 'pinned', H, 'key', '1', '0', '0', '0', 'value', '1', '2', '3', '4', '5', '6', '7', '8', 'noexist']],
    [['map', 'update', 'pinned', H, 'key', 'hex', '02', '0', '0', '0', 'value', '0x10', '2', '3', '4', '5', '6', '7', '0377', 'any']],
    [['map', 'update', 'pinned', H, 'key', '3', '0', '0', '0', 'value', '0377', '+2', '', '0X1f', '5', '6', '7', '8']],
    [['map', 'update', 'pinned', H, 'key', '1', '0', '0', '0', 'value', '9', '9', '9', '9', '9', '9', '9', '9', 'exist']],
    [['map', 'dump', 'pinned', H], sortLines],
    [['-j', 'map', 'lookup', 'pinned', H, 'key', '2', '0', '0', '0']],
    [['-p', 'map', 'lookup', 'pinned', H, 'key', '2', '0', '0', '0']],
    [['map', 'lookup', 'pinned', H, 'key', '1', '0', '0', '0']],
    [['map', 'lookup', 'pinned', H, 'key', '9', '0', '0', '0']],
    [['-j', 'map', 'lookup', 'pinned', H, 'key', '9', '0', '0', '0']],
    [['map', 'lookup', 'pinned', H, 'key', '9', '0', '0', '0', 'value', '1']],
    [['map', 'delete', 'pinned', H, 'key', '3', '0', '0', '0']],
    [['map', 'delete', 'pinned', H, 'key', '3', '0', '0', '0']],
    [['map', 'delete', 'pinned', H]],
    [['map', 'update', 'pinned', H, 'key', '1', '0', '0', 'value', '1']],
    [['map', 'update', 'pinned', H, 'key', '1', '0', '0', '0', '0', 'value', '1']],
    [['map', 'update', 'pinned', H, 'key', '1', '0', '0', 'zz', 'value', '1']],
    [['map', 'update', 'pinned', H, 'key', '1', '0', '0', '0', 'value', '1', '2', '3', '4', '5', '6', '7']],
    [['map', 'update', 'pinned', H, 'key', '1', '0', '0', '0']],
    [['map', 'update', 'pinned', H, 'key', '1', '0', '0', '0', 'value', '1', '2', '3', '4', '5', '6', '7', '8', 'bogus']],
    [['map', 'update', 'pinned', H, 'key', '1', '0', '0', '0', 'value', '1', '2', '3', '4', '5', '6', '7', '8', 'any', 'exist']],
    [['map', 'show', 'id', '4294967295']],
    [['map', 'show', 'id', '12x']],
    [['map', 'show', 'pinned', pin('nonexistent')]],
    [['-j', 'map', 'show', 'pinned', pin('nonexistent')]],
    [['map', 'show', 'name', 'bk_no_such_map']],
    [['map', 'show', 'bogus', 'x']],
    [['map', 'show', 'pinned']],
    [['map', 'show', 'pinned', '/sys/fs/bpf']],
    [['map', 'show', 'pinned', '/tmp/bpfkit-no-such-pin']],
    [['map', 'create', H, 'type', 'hash', 'key', '4', 'value', '8', 'entries', '16', 'name', TAG]],
    [['map', 'create', pin('x'), 'type', 'hashx', 'key', '4', 'value', '8', 'entries', '16', 'name', 'x']],
    [['map', 'create', pin('x'), 'type', 'hash', 'key', '0', 'value', '8', 'entries', '16', 'name', 'x']],
    [['map', 'create', pin('x'), 'type', 'array', 'key', '8', 'value', '8', 'entries', '16', 'name', 'x']],
    [['map', 'create', pin('x'), 'type', 'hash', 'key', '4', 'value', '8', 'entries', '16']],
    [['map', 'create', pin('x'), 'type', 'hash', 'key', '4', 'value', '8', 'entries', '16', 'name', 'x', 'key', '5']],
    [['map', 'create', pin('x'), 'type', 'hash', 'key', '4', 'value', '8', 'entries', '16', 'name', 'x', 'bogus', '1']],
    [['map', 'create', pin('x'), 'type', 'hash']],
    [['map', 'getnext', 'pinned', H, 'key', '9', '9', '9', '9'], firstLines(3)],
    [['map', 'pin', 'pinned', H, pin('h')]],
    [['map', 'create', A, 'type', 'array', 'key', '4', 'value', '40', 'entries', '4', 'name', 'arr']],
    [['map', 'update', 'pinned', A, 'key', '1', '0', '0', '0', 'value', ...seq40]],
    [['map', 'dump', 'pinned', A]],
    [['-j', 'map', 'dump', 'pinned', A]],
    [['map', 'getnext', 'pinned', A]],
    [['map', 'getnext', 'pinned', A, 'key', '1', '0', '0', '0']],
    [['map', 'getnext', 'pinned', A, 'key', '3', '0', '0', '0']],
    [['map', 'lookup', 'pinned', A, 'key', '7', '0', '0', '0']],
    [['map', 'delete', 'pinned', A, 'key', '1', '0', '0', '0']],
    [['map', 'pin', 'pinned', A, pin('a2')]],
    [['map', 'pin', 'pinned', A, pin('a2')]],
    [['map', 'freeze', 'pinned', A]],
    [['map', 'freeze', 'pinned', A]],
    [['map', 'show', 'pinned', pin('a2')]],
    [['-j', 'map', 'show', 'pinned', A]],
    [['map', 'update', 'pinned', A, 'key', '1', '0', '0', '0', 'value', ...seq40]],
    [['map', 'create', Q, 'type', 'queue', 'key', '0', 'value', '4', 'entries', '2', 'name', 'q']],
    [['map', 'push', 'pinned', Q, 'value', '1', '2', '3', '4']],
    [['map', 'enqueue', 'pinned', Q, 'value', '5', '6', '7', '8']],
    [['map', 'push', 'pinned', Q, 'value', '9', '9', '9', '9']],
    [['map', 'peek', 'pinned', Q]],
    [['map', 'dump', 'pinned', Q]],
    [['map', 'pop', 'pinned', Q]],
    [['-j', 'map', 'dequeue', 'pinned', Q]],
    [['map', 'pop', 'pinned', Q]],
    [['map', 'peek', 'pinned', Q]],
    [['map', 'create', pin('s'), 'type', 'stack', 'key', '0', 'value', '8', 'entries', '100', 'name', 's']],
    [['map', 'show', 'pinned', pin('s')]],
    [['map', 'create', PC, 'type', 'percpu_array', 'key', '4', 'value', '4', 'entries', '2', 'name', 'pc']],
    [['map', 'update', 'pinned', PC, 'key', '1', '0', '0', '0', 'value', '1', '2', '3', '4']],
    [['map', 'lookup', 'pinned', PC, 'key', '1', '0', '0', '0']],
    [['-j', 'map', 'dump', 'pinned', PC]],
    [['map', 'show', 'pinned', PC]],
    [['map', 'create', pin('lru'), 'type', 'lru_hash', 'key', '4', 'value', '8', 'entries', '16', 'name', 'lru']],
    [['map', 'show', 'pinned', pin('lru')]],
    [['map', 'create', pin('ph'), 'type', 'percpu_hash', 'key', '8', 'value', '20', 'entries', '1000', 'name', 'ph']],
    [['map', 'show', 'pinned', pin('ph')]],
    ...shapes.flatMap(([type, k, v, n], i): [string[], ((r: Run) => Run)?][] => [
      [['map', 'create', pin(`t${i}`), 'type', type, 'key', k, 'value', v, 'entries', n, 'name', `t${i}`,
        ...(type.endsWith('_of_maps') ? ['inner_map', 'pinned', A] : [])]],
      [['map', 'show', 'pinned', pin(`t${i}`)]],
    ]),
    [['map', 'update', 'pinned', pin('t11'), 'key', '1', '0', '0', '0', 'value', 'pinned', A]],
    [['map', 'dump', 'pinned', pin('t11')], innerId],
    [['-j', 'map', 'lookup', 'pinned', pin('t11'), 'key', '1', '0', '0', '0'], innerId],
    // LPM trie: longest-prefix lookups, BPF_F_NO_PREALLOC required.
    [['map', 'create', pin('lpm'), 'type', 'lpm_trie', 'key', '8', 'value', '4', 'entries', '16', 'name', 'lpm', 'flags', '1']],
    [['map', 'show', 'pinned', pin('lpm')]],
    [['map', 'update', 'pinned', pin('lpm'), 'key', '24', '0', '0', '0', '10', '1', '2', '0', 'value', '24', '0', '0', '0']],
    [['map', 'update', 'pinned', pin('lpm'), 'key', '16', '0', '0', '0', '10', '1', '0', '0', 'value', '16', '0', '0', '0']],
    [['map', 'update', 'pinned', pin('lpm'), 'key', '33', '0', '0', '0', '10', '1', '0', '0', 'value', '16', '0', '0', '0']],
    [['map', 'lookup', 'pinned', pin('lpm'), 'key', '32', '0', '0', '0', '10', '1', '2', '3']],
    [['map', 'lookup', 'pinned', pin('lpm'), 'key', '32', '0', '0', '0', '10', '1', '9', '3']],
    [['map', 'lookup', 'pinned', pin('lpm'), 'key', '32', '0', '0', '0', '11', '1', '2', '3']],
    [['map', 'dump', 'pinned', pin('lpm')]],
    [['map', 'getnext', 'pinned', pin('lpm')]],
    [['map', 'delete', 'pinned', pin('lpm'), 'key', '24', '0', '0', '0', '10', '1', '2', '0']],
    [['map', 'delete', 'pinned', pin('lpm'), 'key', '24', '0', '0', '0', '10', '1', '2', '0']],
    // Stack: last in, first out.
    [['map', 'push', 'pinned', pin('s'), 'value', '1', '0', '0', '0', '0', '0', '0', '0']],
    [['map', 'push', 'pinned', pin('s'), 'value', '2', '0', '0', '0', '0', '0', '0', '0']],
    [['map', 'pop', 'pinned', pin('s')]],
    [['map', 'peek', 'pinned', pin('s')]],
    [['prog', 'load', FIXTURE, pin('p')]],
    [['map', 'show', 'pinned', pin('p')]],
    [['map', 'bogus']],
  ];
  try {
    for (const [args, view] of steps) {
      const f = view ?? ((r: Run) => r);
      const want = f(kernelRun(args));
      const got = f(bpfkitRun(state, args));
      if (args[0] === 'map' && args[1] === 'bogus') {
        // Same usage text but for the program's name (and bpftool's -l/-f/-n options).
        assert.equal(got.status, want.status);
        assert.equal(got.stderr.split('\n')[0].replace('bpfkit', 'BIN'), want.stderr.split('\n')[0].replace(/\S*bpftool/, 'BIN'));
        continue;
      }
      assert.deepEqual(got, want, args.join(' '));
    }
    // prog show: the first line (type, name, tag, gpl); the kernel's xlated/jited sizes differ.
    const first = (r: Run): string => r.stdout.split('\n')[0];
    assert.equal(first(bpfkitRun(state, ['prog', 'show', 'pinned', pin('p')])), first(kernelRun(['prog', 'show', 'pinned', pin('p')])));
    // -j: the same fields in the same order; values equal but for ids, times and sizes.
    const fields = (r: Run): [string, unknown][] => Object.entries(JSON.parse(r.stdout) as Record<string, unknown>)
      .filter(([k]) => k !== 'bytes_jited')
      .map(([k, v]) => [k, ['id', 'loaded_at', 'bytes_xlated', 'jited'].includes(k) ? typeof v : v]);
    assert.deepEqual(fields(bpfkitRun(state, ['-j', 'prog', 'show', 'pinned', pin('p')])), fields(kernelRun(['-j', 'prog', 'show', 'pinned', pin('p')])));
    assert.deepEqual(bpfkitRun(state, ['prog', 'show', 'id', '4294967295']), kernelRun(['prog', 'show', 'id', '4294967295']));
    assert.deepEqual(bpfkitRun(state, ['prog', 'pin', 'pinned', pin('p'), pin('p')]), kernelRun(['prog', 'pin', 'pinned', pin('p'), pin('p')]));
    assert.deepEqual(bpfkitRun(state, ['prog', 'show', 'pinned', pin('h')]), kernelRun(['prog', 'show', 'pinned', pin('h')]));
    assert.deepEqual(bpfkitRun(state, ['prog', 'show', 'tag', 'zz']), kernelRun(['prog', 'show', 'tag', 'zz']));
    for (const args of [
      ['prog', 'show', 'name', 'bk_nothing_here'], ['prog', 'show', 'name', 'xdp_ctx', 'extra'], ['prog', 'pin', 'id', '1'],
      ['map', 'pin', 'id', '1'], ['prog', 'load', FIXTURE], ['prog', 'load', '/nonexistent.o', pin('x')],
      ['prog', 'load', FIXTURE, pin('x'), 'type', 'bogus'],
    ]) {
      assert.deepEqual(bpfkitRun(state, args), kernelRun(args), args.join(' '));
    }
  } finally {
    for (const p of made) rmSync(p, { force: true });
    rmSync(state, { recursive: true, force: true });
  }
});

/*
 * Every command but tcpdump through the `main` single-file bundle (scripts/bundle.mjs ->
 * dist/bundle/main-HASH.cjs, run with a V8 code cache by bin/bundle.js) behaves exactly as through
 * dist/ (BPFKIT_NO_BUNDLE=1): the same stdout, stderr, exit status and files, for program runs,
 * loads and pins into a pin store, maps, dumps, the version (found through import.meta.url, which
 * the bundle shims) and errors. Builds the bundle when it is missing or stale; skips where esbuild
 * is not installed. (tcpdump's bundle: cli_tcpdump_bundle.test.ts.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleApi, ensureBundle, ROOT } from './bundle_lib.js';

const BIN = join(ROOT, 'bin', 'bpfkit.js');
const EXAMPLE = join(ROOT, 'examples', 'xdp_udp_drop.o');

interface Run { status: number | null; stdout: string; stderr: string; files: Record<string, string> }

/**
 * Run a sequence of commands in a work directory of their own (files named OUT/... there, a pin
 * store of their own), the way `how` says; the files the commands wrote, by name.
 */
function runAll(commands: string[][], how: 'bundle' | 'dist'): Run[] {
  const dir = mkdtempSync(join(tmpdir(), `bpfkit-main-bundle-${how}-`));
  try {
    const cache = join(dir, 'code-cache');
    return commands.map((args) => {
      rmSync(cache, { force: true });
      const r = spawnSync(process.execPath, [BIN, ...args.map((a) => a.replaceAll('WORK', dir))], {
        encoding: 'latin1',
        // The launcher writes the code cache only when it ran the bundle: proof of which path ran.
        env: { ...process.env, BPFKIT_NO_BUNDLE: how === 'dist' ? '1' : '', BPFKIT_CODE_CACHE_OUT: cache, BPFKIT_STATE: join(dir, 'state') },
      });
      assert.equal(existsSync(cache), how === 'bundle', `${args.join(' ')}: ran the ${how}`);
      const files: Record<string, string> = {};
      for (const f of readdirSync(dir)) if (f.startsWith('out')) files[f] = readFileSync(join(dir, f), 'latin1');
      // Timings differ from run to run; everything else must not (nor the work dir's name).
      const clean = (s: string): string => s.replaceAll(dir, 'WORK').replace(/duration( \(average\))?: \d+ns/g, 'duration: Nns')
        .replace(/"duration(_average)?": ?\d+/g, '"duration": N').replace(/loaded_at [^\n]*?  /g, 'loaded_at T  ')
        .replace(/"loaded_at": ?\d+/g, '"loaded_at": T');
      return { status: r.status, stdout: clean(r.stdout), stderr: clean(r.stderr), files };
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('the CLI through the main bundle == through dist/: output, files, pin store, errors, exit status', (t) => {
  const why = ensureBundle('main');
  if (why) { t.skip(why); return; }
  const udp = join(ROOT, 'examples', 'udp.bin');
  const commands: string[][] = [
    ['--version'],
    ['prog', 'run', 'file', EXAMPLE, 'data_in', udp, 'data_out', 'WORK/out.bin'],
    ['-j', 'prog', 'run', 'file', EXAMPLE, 'pcap_in', join(ROOT, 'examples', 'traffic.pcap'), 'pcap_out', 'WORK/out.pcap'],
    ['prog', 'run', 'file', EXAMPLE, 'data_in', udp, 'engine', 'interp', 'repeat', '3'],
    ['prog', 'load', EXAMPLE, '/sys/fs/bpf/bundle_test'],
    ['prog', 'dump', 'xlated', 'pinned', '/sys/fs/bpf/bundle_test', 'opcodes'],
    ['-j', 'prog', 'show', 'pinned', '/sys/fs/bpf/bundle_test'],
    ['map', 'create', '/sys/fs/bpf/bundle_map', 'type', 'hash', 'key', '4', 'value', '8', 'entries', '16', 'name', 'm'],
    ['map', 'update', 'pinned', '/sys/fs/bpf/bundle_map', 'key', '1', '0', '0', '0', 'value', '2', '0', '0', '0', '0', '0', '0', '0'],
    ['-j', 'map', 'dump', 'pinned', '/sys/fs/bpf/bundle_map'],
    ['btf', 'dump', 'file', EXAMPLE, 'format', 'c'],
    // errors: a missing file, bad arguments, an unknown object, a map that is not there
    ['prog', 'run', 'file', 'WORK/missing.o', 'data_in', udp],
    ['prog', 'run', 'file', EXAMPLE, 'data_in'],
    ['bogus'],
    ['map', 'dump', 'pinned', '/sys/fs/bpf/none'],
  ];
  const viaDist = runAll(commands, 'dist');
  const viaBundle = runAll(commands, 'bundle');
  commands.forEach((args, i) => assert.deepEqual(viaBundle[i], viaDist[i], args.join(' ')));
  // The commands did what they name (so the comparison covers working runs, not only errors).
  assert.match(viaDist[0].stdout, /^bpfkit \d+\.\d+\.\d+/);
  assert.equal(viaDist[1].status, 0);
  assert.ok(viaDist[1].files['out.bin'].length > 0);
  assert.match(viaDist[2].stdout, /"passed": ?750/);
  assert.ok((viaDist[2].files['out.pcap'] ?? '').length > 24);
  assert.equal(viaDist[5].status, 0);
  assert.match(viaDist[5].stdout, /exit/);
  assert.match(viaDist[9].stdout, /"key"/);
  for (const i of [11, 12, 13, 14]) assert.notEqual(viaDist[i].status, 0, commands[i].join(' '));
});

test('a verifier rejection prints the same log through the bundle (-d)', (t) => {
  const why = ensureBundle('main');
  if (why) { t.skip(why); return; }
  // r0 = *(u64 *)(r1 + 32000): out of the context, refused with the kernel-format log
  const args = ['-d', 'prog', 'run', 'file', join(ROOT, 'test', 'fixtures', 'oob_load.o'), 'data_in', join(ROOT, 'examples', 'udp.bin')];
  const [viaDist] = runAll([args], 'dist');
  const [viaBundle] = runAll([args], 'bundle');
  assert.deepEqual(viaBundle, viaDist);
  assert.notEqual(viaDist.status, 0);
  assert.match(viaDist.stderr, /-- BEGIN PROG LOAD LOG --\n[^]*invalid bpf_context access off=32000 size=8/);
});

test('a damaged bundle file (fresh inputs, a file that does not compile) is not run: the launcher falls back to dist/', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bpfkit-bundle-damaged-'));
  const g = globalThis as { bpfkitBundleTestRan?: number };
  try {
    const input = join(dir, 'a.js');
    writeFileSync(input, 'export const a = 1;\n');
    const st = statSync(input);
    const manifest = {
      version: bundleApi.MANIFEST_VERSION, bundle: 'x-0.cjs',
      inputs: [{ file: 'a.js', size: st.size, mtimeMs: st.mtimeMs, hash: bundleApi.contentHash(readFileSync(input)) }],
    };
    writeFileSync(join(dir, 'x.json'), JSON.stringify(manifest));
    const body = 'globalThis.bpfkitBundleTestRan = (globalThis.bpfkitBundleTestRan ?? 0) + 1;';
    writeFileSync(join(dir, 'x-0.cjs'), `${bundleApi.WRAPPER[0]}${body}${bundleApi.WRAPPER[1]}`);
    assert.equal(bundleApi.runBundle('x', dir, dir), true, 'an intact bundle runs');
    assert.equal(g.bpfkitBundleTestRan, 1);
    writeFileSync(join(dir, 'x-0.cjs'), `${bundleApi.WRAPPER[0]}${body}`); // cut short: no closing wrapper
    assert.equal(bundleApi.runBundle('x', dir, dir), false, 'a damaged one does not, and does not throw');
    assert.equal(g.bpfkitBundleTestRan, 1);
  } finally {
    delete g.bpfkitBundleTestRan;
    rmSync(dir, { recursive: true, force: true });
  }
});

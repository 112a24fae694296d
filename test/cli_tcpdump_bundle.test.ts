/*
 * `bpfkit tcpdump` through its single-file bundle (scripts/bundle.mjs -> dist/bundle, run with a
 * V8 code cache by bin/bundle.js) behaves exactly as through dist/ (BPFKIT_NO_BUNDLE=1): the same
 * output files, stdout, stderr and exit status, for filtering, printing, dumps, stdin/stdout and
 * errors; through a symlink too, as npm installs the bin. A bundle whose dist/ inputs changed is
 * not run. Builds the bundle when it is missing or stale; skips where esbuild is not installed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writePcap, writePcapng } from '../src/net/pcap.js';
import { bundleApi, ensureBundle, type Manifest, ROOT } from './bundle_lib.js';
import { makeTraffic } from './filter_traffic.js';

const BIN = join(ROOT, 'bin', 'bpfkit.js');
const bundle = bundleApi;

interface Run { status: number | null; stdout: string; stderr: string; out?: string }

function run(bin: string, args: string[], dir: string, how: 'bundle' | 'dist', input?: Buffer): Run {
  const out = join(dir, `out-${how}.pcap`);
  const cache = join(dir, `cache-${how}`);
  rmSync(out, { force: true });
  rmSync(cache, { force: true });
  const r = spawnSync(bin === BIN ? process.execPath : bin, [...(bin === BIN ? [BIN] : []), 'tcpdump', ...args.map((a) => (a === 'OUT' ? out : a))], {
    encoding: 'latin1', input,
    // The launcher writes the code cache only when it ran the bundle: proof of which path ran.
    env: { ...process.env, BPFKIT_NO_BUNDLE: how === 'dist' ? '1' : '', BPFKIT_CODE_CACHE_OUT: cache },
  });
  assert.equal(existsSync(cache), how === 'bundle', `${args.join(' ')}: ran the ${how}`);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, out: existsSync(out) ? readFileSync(out, 'latin1') : undefined };
}

test('the CLI through the bundle == through dist/: files, output, errors, exit status', (t) => {
  const why = ensureBundle('tcpdump');
  if (why) { t.skip(why); return; }
  const dir = mkdtempSync(join(tmpdir(), 'bpfkit-bundle-'));
  try {
    const traffic = makeTraffic(400, 31);
    const pcap = join(dir, 'in.pcap');
    const bytes = writePcap({ linktype: 1, snaplen: 262144 }, traffic);
    writeFileSync(pcap, bytes);
    writeFileSync(join(dir, 'in.pcapng'), writePcapng([{ linktype: 1, snaplen: 0 }], traffic));
    writeFileSync(join(dir, 'cut.pcap'), bytes.subarray(0, bytes.length - 7));
    writeFileSync(join(dir, 'filter'), 'udp # a comment\n or icmp\n');
    const link = join(dir, 'bpfkit');
    symlinkSync(BIN, link);
    const cases: [string[], Buffer?][] = [
      [['-r', pcap, '-w', 'OUT', 'tcp port 80 or ip6']],
      [['-r', pcap, '-w', 'OUT', '-c', '5', 'udp']],
      [['-r', pcap, '-w', 'OUT', '--nano', 'arp or icmp']],
      [['-r', join(dir, 'in.pcapng'), '-w', 'OUT', 'vlan or tcp']],
      [['-r', pcap, 'tcp or udp']],
      [['-r', pcap, '-F', join(dir, 'filter'), '-w', 'OUT']],
      [['-r', '-', '-w', '-', 'ip'], Buffer.from(bytes)],
      [['-r', join(dir, 'cut.pcap'), '-w', 'OUT', 'ip or ip6']],
      [['-r', join(dir, 'none.pcap'), 'tcp']],
      [['-r', pcap, 'tcp port']],
      [['-r', pcap, 'tcp and not tcp']],
      [['-d', 'tcp port 80']], [['-ddd', '-y', 'LINUX_SLL', 'ip6']],
      [['-Z']],
    ];
    for (const [args, input] of cases) {
      const viaDist = run(BIN, args, dir, 'dist', input);
      const viaBundle = run(BIN, args, dir, 'bundle', input);
      assert.deepEqual(viaBundle, viaDist, args.join(' '));
      // As npm installs the bin: a symlink to bin/bpfkit.js, run by its #! line.
      if (args.includes('-F') || args.includes('-d')) assert.deepEqual(run(link, args, dir, 'bundle', input), viaDist, `symlink: ${args.join(' ')}`);
    }
    // The cases did exercise what they name.
    const filtered = run(BIN, ['-r', pcap, '-w', 'OUT', 'tcp port 80 or ip6'], dir, 'bundle');
    assert.equal(filtered.status, 0);
    assert.ok(filtered.out && filtered.out.length > 24 && filtered.out.length < bytes.length);
    assert.match(run(BIN, ['-r', join(dir, 'cut.pcap'), '-w', 'OUT', 'ip'], dir, 'bundle').stderr, /^reading from file .*\ntcpdump: .*truncated dump file.* at offset \d+\n$/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a bundle is fresh while its inputs are unchanged in content, stale otherwise', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bpfkit-bundle-fresh-'));
  try {
    const a = join(dir, 'a.js');
    writeFileSync(a, 'export const a = 1;\n');
    const st = statSync(a);
    const real = bundle.contentHash(readFileSync(a));
    const manifest = (hash: string, mtimeMs = st.mtimeMs): Manifest => ({ version: bundle.MANIFEST_VERSION, bundle: 'x.cjs', inputs: [{ file: 'a.js', size: st.size, mtimeMs, hash }] });
    assert.equal(bundle.isFresh(manifest('0'), dir), true, 'same size and mtime: not read');
    utimesSync(a, new Date(), new Date(Date.now() + 5000));
    assert.equal(bundle.isFresh(manifest('0'), dir), false, 'rewritten, other bytes');
    // Rewritten with the same bytes: fresh, and the new mtime is recorded in the manifest file.
    const file = join(dir, 'x.json');
    writeFileSync(file, JSON.stringify(manifest(real)));
    assert.equal(bundle.isFresh(manifest(real), dir, file), true, 'rewritten with the same bytes');
    const recorded = JSON.parse(readFileSync(file, 'utf8')) as Manifest;
    assert.equal(recorded.inputs[0].mtimeMs, statSync(a).mtimeMs);
    assert.equal(bundle.isFresh(manifest('0', statSync(a).mtimeMs), dir), true, 'recorded mtime: not read again');
    writeFileSync(a, 'export const a = 2;\n');
    assert.notEqual(bundle.contentHash(readFileSync(a)), real);
    assert.equal(bundle.isFresh(manifest(real), dir), false, 'same size, other bytes');
    writeFileSync(a, 'export const a = 22;\n');
    assert.equal(bundle.isFresh(manifest(real), dir), false, 'other size');
    rmSync(a);
    assert.equal(bundle.isFresh(manifest(real), dir), false, 'input gone');
    assert.equal(bundle.isFresh({ version: bundle.MANIFEST_VERSION + 1, bundle: 'x.cjs', inputs: [] }, dir), false, 'unknown manifest');
    assert.equal(bundle.freshBundle('tcpdump', dir, dir), undefined, 'no manifest');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the bin starts through a plain `env node` #! line, which npm\'s cmd-shim turns into shims running node', (t) => {
  // busybox env has no -S and npm's sh shim cannot run NAME=value: anything more stops bpfkit there.
  assert.equal(readFileSync(BIN, 'utf8').split('\n')[0], '#!/usr/bin/env node');
  const dir = mkdtempSync(join(tmpdir(), 'bpfkit-shebang-'));
  try {
    const link = join(dir, 'bpfkit');
    symlinkSync(BIN, link);
    const viaLink = spawnSync(link, ['tcpdump', '-d', 'ip'], { encoding: 'utf8' });
    assert.equal(viaLink.status, 0, viaLink.stderr);
    assert.match(viaLink.stdout, /^\(000\) ldh +\[12\]/);
    const cmdShim = join(process.execPath, '..', '..', 'lib', 'node_modules', 'npm', 'node_modules', 'cmd-shim');
    if (!existsSync(cmdShim)) { t.diagnostic(`npm's cmd-shim not found at ${cmdShim}: shim check skipped`); return; }
    const r = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(cmdShim)})(${JSON.stringify(BIN)}, ${JSON.stringify(join(dir, 'shim', 'bpfkit'))})`], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(readFileSync(join(dir, 'shim', 'bpfkit.cmd'), 'utf8'), /SET "_prog=node"/);
    assert.match(readFileSync(join(dir, 'shim', 'bpfkit.ps1'), 'utf8'), /& "node\$exe" +"\$basedir\/[^"]*bpfkit\.js" \$args/);
    // the sh shim (Git Bash, Cygwin) runs it through node as well
    const sh = spawnSync(join(dir, 'shim', 'bpfkit'), ['tcpdump', '-d', 'ip'], { encoding: 'utf8', env: { ...process.env, PATH: `${join(process.execPath, '..')}:${process.env.PATH}` } });
    assert.equal(sh.status, 0, sh.stderr);
    assert.equal(sh.stdout, viaLink.stdout);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

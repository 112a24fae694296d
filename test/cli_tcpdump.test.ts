/*
 * `bpfkit tcpdump` against the local tcpdump (libpcap 1.10.3): the same -d/-dd/-ddd text, the same
 * packets selected from a generated capture (tcpdump -r in -w out EXPR, byte-identical output
 * files), the same rejections. Skips with a message where tcpdump is not installed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCliCaptured } from '../src/cli/main.js';
import { writePcap, writePcapng } from '../src/net/pcap.js';
import { DIFF_EXPRESSIONS, makeTraffic } from './filter_traffic.js';
import { findTool, missingTool } from './oracles.js';

const tcpdump = (args: string[]): { status: number | null; stdout: string; stderr: string } => {
  const r = spawnSync(findTool('tcpdump') as string, args, { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
};

test('dump formats -d, -dd, -ddd and -O match tcpdump', async (t) => {
  const why = missingTool('tcpdump');
  if (why) { t.skip(why); return; }
  const exprs = ['tcp port 80', 'ip6 and udp', 'vlan 10 and tcp', 'len <= 100', 'icmp[icmptype] = icmp-echo', 'ip protochain 17'];
  for (const e of exprs) {
    for (const flags of [['-d'], ['-dd'], ['-ddd'], ['-d', '-O'], ['-y', 'LINUX_SLL', '-d'], ['-y', 'RAW', '-dd'], ['-s', '96', '-d']]) {
      const want = tcpdump([...flags, ...(flags.includes('-y') ? [] : ['-y', 'EN10MB']), '--', e]);
      const got = await runCliCaptured(['tcpdump', ...flags, ...(flags.includes('-y') ? [] : ['-y', 'EN10MB']), '--', e]);
      if (want.status !== 0) {
        assert.notEqual(got.status, 0, `${flags.join(' ')} ${e}`);
        continue;
      }
      assert.equal(got.status, 0, `${flags.join(' ')} ${e}: ${got.stderr}`);
      assert.equal(got.stdout, want.stdout, `${flags.join(' ')} ${e}`);
    }
  }
});

test('-d listings equal tcpdump for the differential expression set', async (t) => {
  const why = missingTool('tcpdump');
  if (why) { t.skip(why); return; }
  const mismatched: string[] = [];
  for (const e of DIFF_EXPRESSIONS) {
    for (const opt of [[], ['-O']]) {
      const want = tcpdump(['-y', 'EN10MB', ...opt, '-d', '--', e]);
      const got = await runCliCaptured(['tcpdump', '-y', 'EN10MB', ...opt, '-d', '--', e]);
      if (want.status !== 0) {
        assert.notEqual(got.status, 0, `tcpdump rejects ${e}: ${want.stderr}`);
        continue;
      }
      if (got.stdout !== want.stdout) mismatched.push(`${opt.join('')} ${e}`);
    }
  }
  assert.deepEqual(mismatched, []);
});

test('-r/-w selects the same packets as tcpdump on a generated capture', async (t) => {
  const why = missingTool('tcpdump');
  if (why) { t.skip(why); return; }
  const dir = mkdtempSync(join(tmpdir(), 'bpfkit-tcpdump-'));
  try {
    const input = join(dir, 'in.pcap');
    writeFileSync(input, writePcap({ linktype: 1, snaplen: 262144 }, makeTraffic(400)));
    const differ: string[] = [];
    for (const e of DIFF_EXPRESSIONS) {
      const theirs = join(dir, 'theirs.pcap');
      const ours = join(dir, 'ours.pcap');
      const want = tcpdump(['-r', input, '-w', theirs, '--', e]);
      const got = await runCliCaptured(['tcpdump', '-r', input, '-w', ours, '--', e]);
      if (want.status !== 0) {
        assert.notEqual(got.status, 0, `tcpdump rejects ${e}`);
        continue;
      }
      assert.equal(got.status, 0, `${e}: ${got.stderr}`);
      if (!readFileSync(theirs).equals(readFileSync(ours))) differ.push(e);
    }
    assert.deepEqual(differ, []);
    // pcapng (big-endian section, nanosecond if_tsresol) and a nanosecond big-endian pcap in:
    // tcpdump writes a microsecond pcap in its own byte order; so must we.
    const variants: [string, Uint8Array][] = [
      ['in.pcapng', writePcapng([{ linktype: 1, snaplen: 0 }], makeTraffic(80), true)],
      ['in-ns.pcap', writePcap({ linktype: 1, snaplen: 65535, nanos: true, bigEndian: true }, makeTraffic(80))],
    ];
    for (const [name, bytes] of variants) {
      const p = join(dir, name);
      writeFileSync(p, bytes);
      tcpdump(['-r', p, '-w', join(dir, 't.pcap'), 'tcp or arp']);
      await runCliCaptured(['tcpdump', '-r', p, '-w', join(dir, 'o.pcap'), 'tcp or arp']);
      assert.ok(readFileSync(join(dir, 't.pcap')).equals(readFileSync(join(dir, 'o.pcap'))), name);
    }
    // -c and -O on the same file.
    for (const args of [['-c', '7', 'tcp'], ['-O', 'udp or icmp']]) {
      tcpdump(['-r', input, '-w', join(dir, 't.pcap'), ...args]);
      await runCliCaptured(['tcpdump', '-r', input, '-w', join(dir, 'o.pcap'), ...args]);
      assert.ok(readFileSync(join(dir, 't.pcap')).equals(readFileSync(join(dir, 'o.pcap'))), args.join(' '));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('errors: tcpdump\'s line (`tcpdump: MESSAGE`, exit 1), equal to the local tcpdump\'s where present', async () => {
  const cases: [string[], string][] = [
    [['-d', 'tcp and udp'], 'Warning: assuming Ethernet\ntcpdump: expression rejects all packets\n'],
    [['-d', 'tcp and ('], "Warning: assuming Ethernet\ntcpdump: can't parse filter expression: syntax error\n"],
    [['-y', 'FOO', '-d', 'tcp'], 'tcpdump: invalid data link type FOO\n'],
    [['-d', 'port 99999'], 'Warning: assuming Ethernet\ntcpdump: illegal port number 99999 > 65535\n'], // libpcap 1.10.3's text
    [['-r', '/nonexistent.pcap', 'tcp'], 'tcpdump: /nonexistent.pcap: No such file or directory\n'],
  ];
  const haveTcpdump = missingTool('tcpdump') === undefined;
  for (const [args, want] of cases) {
    const r = await runCliCaptured(['tcpdump', ...args]);
    assert.equal(r.status, 1, args.join(' '));
    assert.equal(r.stderr, want, args.join(' '));
    if (haveTcpdump) {
      const t = tcpdump(args);
      assert.deepEqual([r.status, r.stderr], [t.status, t.stderr], `tcpdump ${args.join(' ')}`);
    }
  }
  const opt = await runCliCaptured(['tcpdump', '-Z']);
  assert.equal(opt.status, 1);
  assert.match(opt.stderr, /^tcpdump: invalid option -- 'Z'/);
});

test('summaries without -w', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bpfkit-tcpdump-'));
  try {
    const input = join(dir, 'in.pcap');
    writeFileSync(input, writePcap({ linktype: 1, snaplen: 262144 }, makeTraffic(60)));
    const r = await runCliCaptured(['tcpdump', '-r', input, 'arp or tcp']);
    assert.equal(r.status, 0);
    const lines = r.stdout.trim().split('\n');
    assert.ok(lines.length > 3);
    for (const l of lines) assert.match(l, /^\d\d:\d\d:\d\d\.\d{6} (ARP|RARP|IP6?|vlan|\[)/, l);
    assert.match(r.stderr, /^reading from file .*in\.pcap, link-type EN10MB \(Ethernet\), snapshot length 262144\n$/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('streaming -r/-w over a multi-chunk capture, odd headers and corrupt files: byte-identical to tcpdump', async (t) => {
  const why = missingTool('tcpdump');
  if (why) { t.skip(why); return; }
  const dir = mkdtempSync(join(tmpdir(), 'bpfkit-tcpdump-'));
  try {
    // Over 1 MiB: records straddle the reader's chunk ends.
    const traffic = makeTraffic(16000, 21);
    const big = join(dir, 'big.pcap');
    writeFileSync(big, writePcap({ linktype: 1, snaplen: 262144 }, traffic));
    const ng = join(dir, 'big.pcapng');
    writeFileSync(ng, writePcapng([{ linktype: 1, snaplen: 0 }], traffic));
    const small = makeTraffic(60, 22);
    const full = writePcap({ linktype: 1, snaplen: 65535 }, small);
    const files: [string, Uint8Array | undefined][] = [
      [big, undefined], [ng, undefined],
      [join(dir, 'snap0.pcap'), writePcap({ linktype: 1, snaplen: 0 }, small)],
      [join(dir, 'snap500k.pcap'), writePcap({ linktype: 1, snaplen: 500000 }, small)],
      [join(dir, 'snap40.pcap'), writePcap({ linktype: 1, snaplen: 40 }, small)], // records cut to 40
      [join(dir, 'snap40.pcapng'), writePcapng([{ linktype: 1, snaplen: 40 }], small)], // refused mid-file
      [join(dir, 'cut.pcap'), full.subarray(0, full.length - 5)], // truncated last record
    ];
    const runs: [string, string[]][] = [];
    for (const [path, bytes] of files) {
      if (bytes) writeFileSync(path, bytes);
      for (const e of ['tcp port 80', 'ip6 or arp', '']) runs.push([path, [e]]);
    }
    // -c past the first chunk; protochain (backward jumps: the JavaScript scan, not WebAssembly's).
    runs.push([big, ['-c', '100', 'tcp']], [ng, ['-c', '1', '']], [big, ['-c', '15000', 'ip or ip6']], [big, ['ip protochain 6 or arp']]);
    for (const [path, args] of runs) {
      const theirs = join(dir, 'theirs.pcap');
      const ours = join(dir, 'ours.pcap');
      const want = tcpdump(['-r', path, '-w', theirs, ...args]);
      const got = await runCliCaptured(['tcpdump', '-r', path, '-w', ours, ...args]);
      const what = `${path} ${args.join(' ')}`;
      assert.equal(got.status === 0, want.status === 0, `${what}: ${want.stderr} / ${got.stderr}`);
      if (want.status !== 0) {
        // tcpdump: "tcpdump: pcap_loop: <libpcap message>"; we add the file and the offset.
        const msg = want.stderr.split('\n').find((l) => l.startsWith('tcpdump: pcap_loop: '))!.slice('tcpdump: pcap_loop: '.length);
        assert.ok(got.stderr.includes(`tcpdump: ${path}: ${msg} at offset `), `${what}: ${got.stderr}`);
      }
      assert.ok(readFileSync(theirs).equals(readFileSync(ours)), what);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the bpfkit process: tcpdump -r -w through bin/bpfkit.js (lean entry), exit codes', (t) => {
  const why = missingTool('tcpdump');
  if (why) { t.skip(why); return; }
  const dir = mkdtempSync(join(tmpdir(), 'bpfkit-tcpdump-'));
  try {
    const input = join(dir, 'in.pcap');
    writeFileSync(input, writePcap({ linktype: 1, snaplen: 262144 }, makeTraffic(300, 23)));
    const bin = fileURLToPath(new URL('../../bin/bpfkit.js', import.meta.url));
    const ours = spawnSync(process.execPath, [bin, 'tcpdump', '-r', input, '-w', join(dir, 'o.pcap'), 'tcp or udp'], { encoding: 'utf8' });
    assert.equal(ours.status, 0, ours.stderr);
    tcpdump(['-r', input, '-w', join(dir, 't.pcap'), 'tcp or udp']);
    assert.ok(readFileSync(join(dir, 'o.pcap')).equals(readFileSync(join(dir, 't.pcap'))));
    // -w -: the savefile on standard output (a pipe), the same bytes.
    const piped = spawnSync(process.execPath, [bin, 'tcpdump', '-r', input, '-w', '-', 'tcp or udp'], { maxBuffer: 1 << 26 });
    assert.equal(piped.status, 0, String(piped.stderr));
    assert.ok(piped.stdout.equals(readFileSync(join(dir, 't.pcap'))), '-w -');
    const bad = spawnSync(process.execPath, [bin, 'tcpdump', '-r', join(dir, 'none.pcap'), 'tcp'], { encoding: 'utf8' });
    assert.notEqual(bad.status, 0);
    assert.equal(bad.status, 1);
    assert.equal(bad.stderr, `tcpdump: ${join(dir, 'none.pcap')}: No such file or directory\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

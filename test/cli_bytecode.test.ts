/*
 * `prog run bytecode 'N,...' | bytecode-file FILE`: classic bytecode as tc-bpf(8) takes it, run
 * over a capture as a socket filter (converted to eBPF like the kernel). Each packet's verdict must
 * equal the classic interpreter's (libpcap bpf_filter semantics) on the same bytes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCliCaptured } from '../src/cli/main.js';
import { compileFilter } from '../src/filter/index.js';
import { bpfDump } from '../src/cbpf/dump.js';
import { runCbpf } from '../src/cbpf/interp.js';
import { writePcap } from '../src/net/pcap.js';
import { makeTraffic } from './filter_traffic.js';

const EXPRS = ['tcp', 'udp and dst port 53', 'ip6 or arp', 'tcp[tcpflags] & tcp-syn != 0', 'len > 100', 'vlan and ip'];

test('prog run bytecode: the converted filter keeps exactly the bytes the classic interpreter says', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bpfkit-bytecode-'));
  try {
    const records = makeTraffic(300, 11);
    const pcap = join(dir, 'in.pcap');
    writeFileSync(pcap, writePcap({ linktype: 1, snaplen: 262144 }, records));
    for (const [i, expr] of EXPRS.entries()) {
      const prog = compileFilter(expr, { linktype: 1, snaplen: 262144 });
      const ddd = bpfDump(prog, 3);
      // Both spellings tc accepts: the comma list inline, and a `tcpdump -ddd` file.
      const inline = ddd.trim().split('\n').join(',');
      const file = join(dir, `f${i}.ddd`);
      writeFileSync(file, ddd);
      const want = records.map((r) => runCbpf(prog, r.data, r.len));
      for (const spec of [['bytecode', inline], ['bytecode-file', file]]) {
        const r = await runCliCaptured(['prog', 'run', ...spec, 'pcap_in', pcap, 'verbose']);
        assert.equal(r.status, 0, r.stderr);
        const got = r.stdout.split('\n').filter((l) => /^\d+: /.test(l)).map((l) => Number(l.split(': ')[1]));
        assert.deepEqual(got, want, `${expr} via ${spec[0]}`);
        const passed = want.filter((v) => v !== 0).length;
        assert.match(r.stdout, new RegExp(`^Packets: ${records.length}, passed: ${passed},`), expr);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('prog run bytecode: bad bytecode is one clear line', async () => {
  const cases: [string[], RegExp][] = [
    [['bytecode', '2,6 0 0 0'], /count says 2 instructions, found 1/],
    [['bytecode', '1,6 0 0'], /expected 'code jt jf k'/],
    [['bytecode', '1,21 0 1 2048'], /classic BPF program rejected/],
    [['bytecode-file', '/nonexistent/x.ddd'], /cannot read bytecode file/],
    [['bytecode'], /needs at least/],
  ];
  for (const [spec, re] of cases) {
    const r = await runCliCaptured(['prog', 'run', ...spec, 'data_in', '/dev/null']);
    assert.notEqual(r.status, 0, spec.join(' '));
    assert.match(r.stderr, re, spec.join(' '));
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  }
});

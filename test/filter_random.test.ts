/*
 * Random compound expressions (and/or/not/parentheses over a set of primitives) compiled by us
 * and by the local tcpdump (libpcap 1.10.3): the -d listings must be identical, optimized and
 * with -O, and both must accept or reject alike. Deterministic seed; bounded for speed. A larger
 * campaign is the same loop with more iterations.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { bpfDump } from '../src/cbpf/dump.js';
import { compileFilter } from '../src/filter/index.js';
import { findTool, missingTool } from './oracles.js';
import { generator, randomExpressions } from './filter_random_lib.js';

test('random compound expressions: same listing as tcpdump -d (optimized and -O)', (t) => {
  const why = missingTool('tcpdump');
  if (why) { t.skip(why); return; }
  const tcpdump = findTool('tcpdump') as string;
  const next = generator(20261123);
  const mismatches: string[] = [];
  for (let i = 0; i < 60; i++) {
    const e = next();
    for (const opt of [true, false]) {
      const r = spawnSync(tcpdump, ['-y', 'EN10MB', ...(opt ? [] : ['-O']), '-d', '--', e], { encoding: 'utf8' });
      const want = r.status === 0 ? r.stdout : 'rejected';
      let got: string;
      try { got = bpfDump(compileFilter(e, { optimize: opt, netmask: 0 }), 1); } catch { got = 'rejected'; }
      if (got !== want) mismatches.push(`${opt ? '' : '-O '}${e}`);
    }
  }
  assert.deepEqual(mismatches, []);
});

test('wider random expressions (Geneve, encapsulations, arithmetic, every qualifier family): same -d and -dd as tcpdump', (t) => {
  const why = missingTool('tcpdump');
  if (why) { t.skip(why); return; }
  const tcpdump = findTool('tcpdump') as string;
  const mismatches: string[] = [];
  // A -y compile on this Linux host is a live one for 1.10.3 (inbound/outbound via SKF_AD_PKTTYPE).
  randomExpressions(30, 20261207).forEach((e, i) => {
    const level = i % 2 ? 2 : 1;
    const r = spawnSync(tcpdump, ['-y', 'EN10MB', level === 2 ? '-dd' : '-d', '--', e], { encoding: 'utf8' });
    const want = r.status === 0 ? r.stdout : 'rejected';
    let got: string;
    try { got = bpfDump(compileFilter(e, { netmask: 0, linuxExtensions: true }), level); } catch { got = 'rejected'; }
    if (got !== want) mismatches.push(`-${'d'.repeat(level)} ${e}`);
  });
  assert.deepEqual(mismatches, []);
});

const SOUP = [
  'tcp', 'udp', 'ip', 'ip6', 'host', 'net', 'port', 'portrange', 'src', 'dst', 'and', 'or', 'not', '(', ')', '80',
  '10.0.0.1', '10.0.0.0/8', '1.2.3', 'ftp', 'ftp-data', '20-25', '!', '&&', '||', 'ether', 'proto', '[', ']', '0', ':',
  '2', '=', '>', '<', '!=', '+', '-', '*', '&', 'len', 'less', 'greater', 'vlan', 'mpls', 'icmp', 'arp', 'broadcast',
  'multicast', 'gateway', 'fe80::1', 'aa:bb:cc:dd:ee:ff', 'mask', '255.0.0.0', 'protochain', '\\tcp', 'tcpflags',
  'tcp-syn', 'link', '>>', '<<', '|',
];

test('token soup: accepted and rejected alike, same listing when accepted', (t) => {
  const why = missingTool('tcpdump');
  if (why) { t.skip(why); return; }
  const tcpdump = findTool('tcpdump') as string;
  let s = 424242;
  const r = (): number => { s = (Math.imul(s, 1103515245) + 12345) >>> 0; return s >>> 8; };
  const differ: string[] = [];
  for (let i = 0; i < 150; i++) {
    const e = Array.from({ length: 1 + (r() % 6) }, () => SOUP[r() % SOUP.length]).join(' ');
    const res = spawnSync(tcpdump, ['-y', 'EN10MB', '-d', '--', e], { encoding: 'utf8' });
    let got: string;
    try { got = bpfDump(compileFilter(e, { netmask: 0 }), 1); } catch { got = 'rejected'; }
    if (got !== (res.status === 0 ? res.stdout : 'rejected')) differ.push(e);
  }
  assert.deepEqual(differ, []);
});

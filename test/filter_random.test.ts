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

const PRIMITIVES = [
  'tcp', 'udp', 'ip', 'ip6', 'arp', 'icmp', 'tcp port 80', 'udp port 53', 'host 10.0.0.1', 'src net 10.0.0.0/8',
  'dst host 1.2.3.4', 'port 22', 'portrange 1-1023', 'ether host aa:bb:cc:dd:ee:ff', 'vlan', 'vlan 10', 'len > 100',
  'less 64', 'ip[0] & 0xf > 5', 'tcp[tcpflags] & tcp-syn != 0', 'icmp[icmptype] = icmp-echo', 'ip6 host ::1',
  'ip proto 47', 'ether broadcast', 'ip multicast', 'tcp src port 1024', 'udp dst portrange 1000-2000', 'ip[2:2] > 576',
  'ether[12:2] = 0x800', 'mpls', 'pppoes', 'ip6 net fe80::/10', 'sctp', 'igmp', 'not ip', 'tcp[13] = 18', 'udp[8] = 1',
  'ip and ip[9] = 6', 'ether proto \\ip', 'len - 14 > 40 * 2',
];

function generator(seed: number): () => string {
  let s = seed >>> 0;
  const r = (): number => { s = (Math.imul(s, 1103515245) + 12345) >>> 0; return s; };
  const pick = <T>(a: readonly T[]): T => a[r() % a.length];
  const expr = (d: number): string => {
    if (d > 4 || r() % 3 === 0) return pick(PRIMITIVES);
    const k = r() % 4;
    if (k === 0) return `not ${expr(d + 1)}`;
    if (k === 1) return `(${expr(d + 1)})`;
    return `${expr(d + 1)} ${pick(['and', 'or', '&&', '||'])} ${expr(d + 1)}`;
  };
  return () => expr(0);
}

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

/*
 * Bad filter expressions for the error-wording differential test against the local tcpdump:
 * qualifier x operand combinations, out-of-range values, truncated and garbled expressions, and
 * the reject-test expressions of libpcap's suite. tcpdumpError() runs `tcpdump -y DLT -d EXPR`,
 * tcpdumpRun() any tcpdump command line; emptySavefile() makes the capture `-r` needs to compile
 * as for a savefile.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LINKTYPE_TO_DLT } from '../src/filter/dlt.js';
import { linktypeFromName } from '../src/filter/index.js';

const PROTOS = ['', 'ether', 'link', 'ip', 'ip6', 'arp', 'rarp', 'tcp', 'udp', 'sctp', 'icmp', 'decnet', 'atalk', 'iso', 'wlan', 'radio', 'vrrp', 'isis'];
const DIRS = ['', 'src', 'dst', 'src or dst', 'src and dst', 'addr1', 'ra'];
const TYPES = ['', 'host', 'net', 'port', 'portrange', 'proto', 'protochain', 'gateway'];
const IDS = ['1.2.3.4', '1.2.3.0/24', '10.0.0.1/8', '1.2.3.0 mask 255.255.255.0', 'fe80::1', 'fe80::/64', '1:2:3:4:5:6', '$21',
  'foo.invalid', 'ssh', 'tftp', '99999', '20-30', 'ssh-telnet', 'nosuch', '300', '70000', '1.2', 'ab:cd:ef:1'];

const SYNTAX = [
  'tcp and', '(tcp', 'tcp)', 'ip[', 'ip[1:3] = 1', 'len >', '1 +', 'not', 'host', 'port', 'tcp and and udp', 'ether proto',
  'tcp[tcpflags] &', 'ip[0] = ', '= 1', 'tcp port', 'vlan and or', 'ip proto', 'src', 'dst host', 'less', 'greater x',
  'byte 1 ! 2', 'ip[0:5] = 1', 'tcp[0] / 0 = 1', 'tcp[0] % 0 = 1', 'ip[0] << 40 = 1', 'ether[0] & = 1', '))', 'ip and ()',
  'icmp[icmptype] = icmp-nosuch', 'ip6 protochain', 'portrange 1-', 'net 1.2.3.4/33', 'net 1.2.3.4/24', 'net fe80::1/129',
  'host 1.2.3.4/24', 'ip host 1.2.3.256', 'ip host 1.2.3', 'ether host 1:2:3:4:5', 'ether host 1:2:3:4:5:6:7', '08', '0x1ffffffff',
  '4294967296', '09 = 1', 'vlan 5000', 'mpls 1048576', 'pppoes 65536', 'geneve 16777216', 'vxlan 16777216', 'ip proto 256',
  'ip6 proto 300', 'ether proto 70000', 'byte 300 = 1', 'ifindex 1', 'inbound', 'outbound', 'llc nosuch', 'type nosuch',
  'subtype nosuch', 'dir 9', 'type mgt subtype nosuch', 'action nosuch', 'reason nosuch', 'on abcdefghijklmnopq', 'fisu',
  'sio 1', 'vpi 1', 'lane', 'oam', 'link broadcast', 'ip broadcast', 'ip6 multicast', 'tcp multicast', 'radio[0] = 1',
  'tcp proto 1', 'udp port ssh', 'tcp port tftp', 'sctp port 1.2.3.4', 'port 1.2.3.4', 'proto 1.2.3.4', 'protochain fe80::1',
  'ip protochain 256', 'icmp6[0] = 1 and ip6 and ip', 'tcp and udp', 'ip and not ip', 'vlan 1 and mpls 1 and vlan 2',
  'gateway 1.2.3.4', 'gateway nosuch.invalid', 'link host $21', 'host $21', 'ether host $2', 'decnet host 1.2.3', 'decnet host 64.1',
  'decnet host 1.1024', 'atalk host 1.2', 'iso proto 300', 'isis proto 40', 'l1 proto 1', 'ip[1:2] > 70000 and',
  '\\tcp', 'tcp port 1 or or', 'tcp port 1 and (', 'ip and !', 'ip6 host 1.2.3.4', 'ip host fe80::1', 'arp host fe80::1',
];

/** Every generated expression, in a fixed order. */
export function badExpressions(): string[] {
  const out = [...SYNTAX];
  for (const p of PROTOS) {
    for (const d of DIRS) {
      for (const t of TYPES) {
        for (const id of IDS) out.push([p, d, t, id].filter(Boolean).join(' '));
      }
    }
  }
  return out;
}

export interface TcpdumpResult { rejected: boolean; message: string }

/** tcpdump -y DLT -d EXPR: whether it rejected the expression, and its message without "tcpdump: ". */
export function tcpdumpError(dlt: string, expr: string): Promise<TcpdumpResult> {
  return new Promise((resolve) => {
    const p = spawn('tcpdump', ['-y', dlt, '-d', '--', expr], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    p.on('close', (code) => {
      const last = err.trimEnd().split('\n').pop() ?? '';
      resolve({ rejected: code !== 0, message: last.replace(/^tcpdump: /, '') });
    });
  });
}

/** Run f over items, n at a time. */
export async function pool<T, R>(items: T[], n: number, f: (x: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < items.length) { const i = next++; out[i] = await f(items[i]); }
  }));
  return out;
}

/** A header-only pcap file of the DLT's LINKTYPE_ value, big-endian when swapped (this host is little-endian). */
export function emptySavefile(dlt: string, swapped: boolean): string {
  const v = linktypeFromName(dlt);
  const linktype = Number(Object.entries(LINKTYPE_TO_DLT).find(([lt, d]) => d === v && Number(lt) >= 100)?.[0] ?? v);
  const path = join(tmpdir(), `bpfkit-empty-${linktype}-${swapped ? 'be' : 'le'}.pcap`);
  const b = Buffer.alloc(24);
  const w = (off: number, x: number, size: 2 | 4): void => {
    if (size === 4) { if (swapped) b.writeUInt32BE(x, off); else b.writeUInt32LE(x, off); } else if (swapped) b.writeUInt16BE(x, off); else b.writeUInt16LE(x, off);
  };
  w(0, 0xa1b2c3d4, 4); w(4, 2, 2); w(6, 4, 2); w(16, 262144, 4); w(20, linktype, 4);
  writeFileSync(path, b);
  return path;
}

/** tcpdump with these arguments: exit status and stdout. */
export function tcpdumpRun(args: string[]): Promise<{ status: number | null; stdout: string }> {
  return new Promise((resolve) => {
    const p = spawn('tcpdump', args, { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    p.on('close', (status) => resolve({ status, stdout: out }));
  });
}

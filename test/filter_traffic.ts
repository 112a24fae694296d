/*
 * A generated capture with varied traffic for the differential tests against tcpdump: Ethernet
 * frames carrying IPv4 (TCP with and without options, UDP, ICMP, SCTP, IGMP, GRE, first and
 * later fragments), IPv6 (TCP, UDP, ICMPv6, fragment and hop-by-hop headers), 802.1Q and QinQ
 * VLANs, ARP/RARP, MPLS, PPPoE, 802.3/LLC, broadcast/multicast, and truncated copies.
 * Deterministic (a fixed LCG), so failures reproduce.
 */
import type { PcapRecord } from '../src/net/pcap.js';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s; };
}

const be16 = (v: number): number[] => [(v >> 8) & 0xff, v & 0xff];
const be32 = (v: number): number[] => [(v >>> 24) & 0xff, (v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff];

export function makeTraffic(count = 400, seed = 7): PcapRecord[] {
  const r = rng(seed);
  const pick = <T>(a: readonly T[]): T => a[r() % a.length];
  const hosts4 = [0x0a000001, 0x0a000002, 0xc0a80101, 0x01020304, 0xe0000012, 0xffffffff, 0x0a0000ff];
  const hosts6 = [
    [0xfe, 0x80, ...new Array(13).fill(0), 1], [0x20, 0x01, 0x0d, 0xb8, ...new Array(11).fill(0), 2],
    [0xff, 0x02, ...new Array(13).fill(0), 0x12], [...new Array(15).fill(0), 1],
  ];
  const macs = [[0, 0x11, 0x22, 0x33, 0x44, 0x55], [0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff], [0xff, 0xff, 0xff, 0xff, 0xff, 0xff], [0x01, 0x00, 0x5e, 0, 0, 0x12]];
  const ports = [20, 21, 22, 23, 25, 53, 67, 68, 80, 123, 443, 1024, 8080, 65535];
  const out: PcapRecord[] = [];
  for (let i = 0; i < count; i++) {
    const payload = (n: number): number[] => Array.from({ length: n }, () => r() & 0xff);
    const l4 = (proto: number): number[] => {
      switch (proto) {
        case 6: {
          const opts = r() % 2 ? [2, 4, 5, 0xb4, 1, 1, 4, 2] : [];
          const off = (20 + opts.length) / 4;
          return [...be16(pick(ports)), ...be16(pick(ports)), ...be32(r()), ...be32(r()), off << 4, r() & 0x3f, ...be16(1024), 0, 0, 0, 0, ...opts, ...payload(r() % 40)];
        }
        case 17: case 132: {
          const p = payload(r() % 30);
          return [...be16(pick(ports)), ...be16(pick(ports)), ...be16(8 + p.length), 0, 0, ...p];
        }
        case 1: case 58: return [pick([0, 3, 8, 11, 128, 129, 135]), r() & 3, 0, 0, ...payload(8)];
        default: return payload(12);
      }
    };
    const ipv4 = (proto: number): number[] => {
      const body = l4(proto);
      const withOpts = r() % 5 === 0;
      const ihl = withOpts ? 6 : 5;
      const fragKind = r() % 8;
      const frag = fragKind === 0 ? 0x2000 : fragKind === 1 ? 0x0010 : fragKind === 2 ? 0x4000 : 0;
      const hdr = [0x40 | ihl, 0, ...be16(ihl * 4 + body.length), ...be16(i), ...be16(frag), 64, proto, 0, 0, ...be32(pick(hosts4)), ...be32(pick(hosts4)), ...(withOpts ? [1, 1, 1, 0] : [])];
      return [...hdr, ...body];
    };
    const ipv6 = (proto: number): number[] => {
      const ext = r() % 4;
      let next = proto;
      let extBytes: number[] = [];
      if (ext === 1) { extBytes = [proto, 0, 0, 0, 0, 0, 0, 1]; next = 44; }
      if (ext === 2) { extBytes = [proto, 0, 1, 4, 0, 0, 0, 0]; next = 0; }
      const body = [...extBytes, ...l4(proto)];
      return [0x60, 0, 0, 0, ...be16(body.length), next, 64, ...pick(hosts6), ...pick(hosts6), ...body];
    };
    const kind = r() % 14;
    let frame: number[];
    const eth = (type: number): number[] => [...pick(macs), ...pick(macs), ...be16(type)];
    switch (kind) {
      case 0: case 1: case 2: frame = [...eth(0x0800), ...ipv4(pick([6, 17, 1, 6, 17, 132, 2, 47]))]; break;
      case 3: case 4: frame = [...eth(0x86dd), ...ipv6(pick([6, 17, 58, 6, 17, 132]))]; break;
      case 5: frame = [...eth(0x8100), ...be16(pick([10, 20, 4095])), ...be16(0x0800), ...ipv4(pick([6, 17, 1]))]; break;
      case 6: frame = [...eth(0x88a8), ...be16(100), ...be16(0x8100), ...be16(20), ...be16(0x86dd), ...ipv6(pick([6, 17]))]; break;
      case 7: case 8: {
        const type = kind === 7 ? 0x0806 : 0x8035;
        frame = [...eth(type), 0, 1, 8, 0, 6, 4, 0, pick([1, 2, 3, 4]), ...pick(macs), ...be32(pick(hosts4)), ...pick(macs), ...be32(pick(hosts4))];
        break;
      }
      case 9: frame = [...eth(0x8847), ...be32(((pick([100, 200, 0xfffff]) << 12) | 0x100 | 64) >>> 0), ...ipv4(pick([6, 17]))]; break;
      case 10: frame = [...eth(0x8864), 0x11, 0, ...be16(pick([1, 5, 1234])), ...be16(40), ...be16(0x21), ...ipv4(17)]; break;
      case 11: { const p = payload(30); frame = [...pick(macs), ...pick(macs), ...be16(p.length + 3), pick([0x42, 0xaa, 0xe0, 0xfe]), 0x42, 3, ...p]; break; }
      case 12: frame = [...eth(0x8863), 0x11, 0x09, 0, 0, 0, 0]; break;
      default: frame = [...eth(0x0800), ...ipv4(6)];
    }
    const data = Uint8Array.from(frame);
    const truncate = r() % 6 === 0 ? Math.max(1, data.length - 1 - (r() % data.length)) : data.length;
    out.push({ sec: 1700000000 + i, nsec: (r() % 1000000) * 1000, caplen: truncate, len: data.length, data: data.subarray(0, truncate), ifIndex: 0 });
  }
  return out;
}

/** Expressions for the differential tests (all accepted by libpcap 1.10.3 on EN10MB). */
export const DIFF_EXPRESSIONS: readonly string[] = [
  '', 'ip', 'ip6', 'arp', 'rarp', 'tcp', 'udp', 'icmp', 'icmp6', 'sctp', 'igmp', 'not ip', 'ip or arp',
  'tcp port 80', 'tcp dst port 80', 'udp src port 53', 'port 22 or port 23', 'tcp dst port ftp or ftp-data',
  'portrange 20-25', 'tcp portrange 1000-9000', 'udp src portrange 50-70', 'host 10.0.0.1', 'src host 10.0.0.2',
  'dst host 1.2.3.4', 'net 10.0.0.0/8', 'net 192.168 mask 255.255.0.0', 'src net 10', 'host 10.0.0.1 and tcp',
  'ip6 host fe80::1', 'ip6 net 2001:db8::/32', 'ip6 dst host ff02::12', 'ether host aa:bb:cc:dd:ee:ff',
  'ether src 00:11:22:33:44:55', 'ether broadcast', 'ether multicast', 'ip multicast', 'ip6 multicast',
  'ip broadcast', 'ip proto 47', 'ip proto \\udp', 'ip6 proto 58', 'proto 17', 'ether proto \\arp',
  'less 60', 'greater 100', 'len <= 64', 'len > 80 and tcp', 'ip[2:2] > 60', 'ip[8] < 65',
  'tcp[tcpflags] & tcp-syn != 0', 'tcp[tcpflags] & (tcp-syn|tcp-fin) != 0', 'tcp[13] = 2',
  'icmp[icmptype] = icmp-echo', 'icmp[icmptype] != icmp-echoreply', 'icmp6[icmp6type] = icmp6-echo',
  'ip[6:2] & 0x1fff = 0', 'ip[6:2] & 0x1fff != 0', 'udp[4:2] > 20', 'ether[12:2] = 0x0800',
  'vlan', 'vlan 10', 'vlan 20 and ip', 'vlan and ip6', 'vlan 100 and vlan 20', 'mpls', 'mpls 100',
  'mpls and ip', 'pppoes', 'pppoes 5 and udp', 'pppoed', 'llc', 'stp', 'ipx', 'iso',
  'tcp and (port 80 or port 443)', 'not (tcp or udp)', '!tcp && !udp', 'ip and not icmp',
  'src host 10.0.0.1 or dst net 192.168.0.0/16', 'tcp[0:2] = 22 or udp[2:2] = 53',
  'ip[0] & 0xf > 5', 'ip[0] & 0xf = 5', 'len - 14 > 40', 'ip[2:2] - (ip[0] & 0xf) * 4 > 20',
  'ip[1] << 2 >> 1 | 3 ^ 5 = 4', 'udp and ip[9] + 1 = 18', 'tcp[12] / 16 > 5', 'tcp[12] % 16 = 0',
  'ether[0] & 1 = 1', 'ip and ip[16] >= 224', 'ip6 and ip6[6] = 44', 'ip6 and ip6[40] = 6',
  'arp[6:2] = 1', 'arp[7] = 2', 'link[0] = 255', 'tcp src port 22 and dst port 1024',
  'host 10.0.0.1 and (tcp or udp) and not port 53', 'ip6 protochain 6', 'ip protochain 17', 'protochain 58',
];

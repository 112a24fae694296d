/*
 * Random compound filter expressions for the differential runs against the local tcpdump:
 * and/or/not/parentheses over a set of primitives, from a deterministic LCG. The unit test
 * (filter_random.test.ts) uses the basic primitives; scripts/filter-vs-tcpdump.mjs adds the wider
 * set (more qualifiers, protocols, offsets and arithmetic) for a few thousand expressions.
 */
export const PRIMITIVES = [
  'tcp', 'udp', 'ip', 'ip6', 'arp', 'icmp', 'tcp port 80', 'udp port 53', 'host 10.0.0.1', 'src net 10.0.0.0/8',
  'dst host 1.2.3.4', 'port 22', 'portrange 1-1023', 'ether host aa:bb:cc:dd:ee:ff', 'vlan', 'vlan 10', 'len > 100',
  'less 64', 'ip[0] & 0xf > 5', 'tcp[tcpflags] & tcp-syn != 0', 'icmp[icmptype] = icmp-echo', 'ip6 host ::1',
  'ip proto 47', 'ether broadcast', 'ip multicast', 'tcp src port 1024', 'udp dst portrange 1000-2000', 'ip[2:2] > 576',
  'ether[12:2] = 0x800', 'mpls', 'pppoes', 'ip6 net fe80::/10', 'sctp', 'igmp', 'not ip', 'tcp[13] = 18', 'udp[8] = 1',
  'ip and ip[9] = 6', 'ether proto \\ip', 'len - 14 > 40 * 2',
] as const;

/** More of pcap-filter(7): every qualifier combination family, encapsulations, arithmetic. */
export const WIDER_PRIMITIVES = [
  ...PRIMITIVES,
  'rarp', 'icmp6', 'pim', 'vrrp', 'ah', 'esp', 'ip6 proto 17', 'proto 6', 'ip protochain 6', 'ip6 protochain 58',
  'protochain 17', 'src or dst host 10.0.0.2', 'src and dst net 192.168.0.0/16', 'net 10.0.0.0 mask 255.0.0.0',
  'dst net 172.16', 'src host fe80::1', 'ip6 dst net 2001:db8::/32', 'ether src aa:bb:cc:dd:ee:ff', 'ether dst host 1:2:3:4:5:6',
  'ether multicast', 'ip broadcast', 'ip6 multicast', 'arp host 10.0.0.1', 'rarp src host 1.2.3.4', 'tcp dst port 443',
  'udp src port 67', 'sctp port 9', 'port ftp or ftp-data', 'tcp portrange 6000-6010', 'ip6 and tcp port 22', 'ip6 and udp',
  'vlan 20 and ip', 'vlan and vlan 30', 'vlan and tcp port 80', 'mpls 100', 'mpls and ip', 'pppoes 3', 'pppoes and ip',
  'pppoed', 'greater 1000', 'len = 60', 'len & 3 = 0', 'ip[6:2] & 0x1fff = 0', 'ip[8] < 64', 'tcp[0:2] > 1023',
  'tcp[tcpflags] & (tcp-syn|tcp-ack) = tcp-syn', 'tcp[tcpflags] = tcp-rst', 'udp[0:2] = 53', 'icmp[icmpcode] != 0',
  'icmp6[icmp6type] = icmp6-echo', 'ip6[6] = 58', 'ether[0] & 1 != 0', 'ip[0] >> 4 = 4', 'ip[1] | 3 = 3', 'ip[2:2] - 20 > 100',
  'ip[9] ^ 6 = 0', 'tcp[12] / 4 > 20', 'ip[3] % 5 = 1', 'ip[0] << 2 > 20', 'ip[-0 + 9] = 17', 'stp', 'iso', 'decnet', 'atalk',
  'ipx', 'netbeui', 'llc', 'ether proto 0x88cc', 'ip host 10.0.0.1 and not tcp', 'igrp', 'carp', 'isis', 'clnp',
  'decnet src 1.2', 'ether[6:4] = 0xaabbccdd', 'ip[12:4] = 0x0a000001', 'link[0] = 1', 'inbound', 'outbound',
  'ifindex 1', 'geneve', 'geneve 5', 'ip6 src host ::1 or ip6 dst host ::2', 'udp port 4789',
] as const;

/** An endless deterministic generator of compound expressions over `prims`. */
export function generator(seed: number, prims: readonly string[] = PRIMITIVES): () => string {
  let s = seed >>> 0;
  const r = (): number => { s = (Math.imul(s, 1103515245) + 12345) >>> 0; return s; };
  const pick = <T>(a: readonly T[]): T => a[r() % a.length];
  const expr = (d: number): string => {
    if (d > 4 || r() % 3 === 0) return pick(prims);
    const k = r() % 4;
    if (k === 0) return `not ${expr(d + 1)}`;
    if (k === 1) return `(${expr(d + 1)})`;
    return `${expr(d + 1)} ${pick(['and', 'or', '&&', '||'])} ${expr(d + 1)}`;
  };
  return () => expr(0);
}

/** n expressions over the wider primitive set. */
export function randomExpressions(n: number, seed: number): string[] {
  const next = generator(seed, WIDER_PRIMITIVES);
  return Array.from({ length: n }, next);
}

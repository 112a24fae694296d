/*
 * One-line packet summaries in the style of `tcpdump -n -q` (basic: Ethernet, Linux cooked,
 * raw IP and BSD loopback framing; IPv4/IPv6, TCP/UDP/ICMP/ICMPv6, ARP, VLAN). Not a dissector
 * for every protocol: anything else is named by its EtherType or IP protocol with its length.
 */
import type { PcapRecord } from './pcap.js';

const hex2 = (n: number): string => n.toString(16).padStart(2, '0');
const ipv4 = (d: Uint8Array, o: number): string => `${d[o]}.${d[o + 1]}.${d[o + 2]}.${d[o + 3]}`;
const mac = (d: Uint8Array, o: number): string => Array.from(d.subarray(o, o + 6), hex2).join(':');

function ipv6(d: Uint8Array, o: number): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push((d[o + 2 * i] << 8) | d[o + 2 * i + 1]);
  // RFC 5952: compress the longest run of zero groups (length >= 2).
  let best = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) { best = i; bestLen = j - i; }
    i = j;
  }
  const hexs = g.map((x) => x.toString(16));
  if (best < 0) return hexs.join(':');
  return `${hexs.slice(0, best).join(':')}::${hexs.slice(best + bestLen).join(':')}`;
}

function time(r: PcapRecord): string {
  const d = new Date(r.sec * 1000);
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${String(Math.floor(r.nsec / 1000)).padStart(6, '0')}`;
}

function transport(d: Uint8Array, o: number, proto: number, src: string, dst: string, plen: number, v6: boolean): string {
  const avail = d.length - o;
  switch (proto) {
    case 6:
      if (avail < 4) return `${src} > ${dst}: tcp`;
      return `${src}.${(d[o] << 8) | d[o + 1]} > ${dst}.${(d[o + 2] << 8) | d[o + 3]}: tcp ${Math.max(0, plen - (avail >= 13 ? (d[o + 12] >> 4) * 4 : 20))}`;
    case 17:
      if (avail < 4) return `${src} > ${dst}: UDP`;
      return `${src}.${(d[o] << 8) | d[o + 1]} > ${dst}.${(d[o + 2] << 8) | d[o + 3]}: UDP, length ${Math.max(0, plen - 8)}`;
    case 1: {
      const t = avail >= 1 ? d[o] : -1;
      const what = t === 8 ? 'echo request' : t === 0 ? 'echo reply' : t === 3 ? 'unreachable' : t === 11 ? 'time exceeded' : `type ${t}`;
      return `${src} > ${dst}: ICMP ${what}, length ${plen}`;
    }
    case 58: {
      const t = avail >= 1 ? d[o] : -1;
      const what = t === 128 ? 'echo request' : t === 129 ? 'echo reply' : t === 135 ? 'neighbor solicitation' : t === 136 ? 'neighbor advertisement' : `type ${t}`;
      return `${src} > ${dst}: ICMP6, ${what}, length ${plen}`;
    }
    case 132: return `${src} > ${dst}: sctp ${plen}`;
    default: return `${src} > ${dst}: ${v6 ? 'ip-proto' : 'ip-proto'}-${proto} ${plen}`;
  }
}

function network(d: Uint8Array, o: number, etype: number, wire: number): string {
  if (etype === 0x0800 && d.length - o >= 20) {
    const ihl = (d[o] & 0x0f) * 4;
    const total = (d[o + 2] << 8) | d[o + 3];
    const frag = ((d[o + 6] << 8) | d[o + 7]) & 0x1fff;
    const src = ipv4(d, o + 12), dst = ipv4(d, o + 16);
    if (frag !== 0) return `IP ${src} > ${dst}: ip-proto-${d[o + 9]}`;
    return `IP ${transport(d, o + ihl, d[o + 9], src, dst, total - ihl, false)}`;
  }
  if (etype === 0x86dd && d.length - o >= 40) {
    const plen = (d[o + 4] << 8) | d[o + 5];
    return `IP6 ${transport(d, o + 40, d[o + 6], ipv6(d, o + 8), ipv6(d, o + 24), plen, true)}`;
  }
  if ((etype === 0x0806 || etype === 0x8035) && d.length - o >= 28) {
    const op = (d[o + 6] << 8) | d[o + 7];
    const name = etype === 0x0806 ? 'ARP' : 'RARP';
    if (op === 1) return `${name}, Request who-has ${ipv4(d, o + 24)} tell ${ipv4(d, o + 14)}, length ${wire - o}`;
    if (op === 2) return `${name}, Reply ${ipv4(d, o + 14)} is-at ${mac(d, o + 8)}, length ${wire - o}`;
    return `${name}, op ${op}, length ${wire - o}`;
  }
  return `ethertype 0x${etype.toString(16).padStart(4, '0')}, length ${wire - o}`;
}

/** One summary line (without the trailing newline) for a record of the given LINKTYPE. */
export function summarize(r: PcapRecord, linktype: number): string {
  const d = r.data;
  let line: string;
  switch (linktype) {
    case 1: {
      let o = 12;
      let et = d.length >= 14 ? (d[12] << 8) | d[13] : 0;
      let prefix = '';
      while ((et === 0x8100 || et === 0x88a8) && d.length >= o + 6) {
        prefix += `vlan ${((d[o + 2] << 8) | d[o + 3]) & 0xfff}, `;
        o += 4;
        et = (d[o] << 8) | d[o + 1];
      }
      line = d.length < 14 ? `[|ether]` : et <= 1500 ? `802.3, length ${r.len}` : prefix + network(d, o + 2, et, r.len);
      break;
    }
    case 113: line = d.length < 16 ? '[|sll]' : network(d, 16, (d[14] << 8) | d[15], r.len); break;
    case 276: line = d.length < 20 ? '[|sll2]' : network(d, 20, (d[0] << 8) | d[1], r.len); break;
    case 0: case 108: {
      const af = d.length < 4 ? 0 : linktype === 108 ? ((d[0] << 24) | (d[1] << 16) | (d[2] << 8) | d[3]) >>> 0 : (d[0] | (d[1] << 8) | (d[2] << 16) | (d[3] << 24)) >>> 0;
      line = network(d, 4, af === 2 ? 0x0800 : 0x86dd, r.len);
      break;
    }
    case 12: case 101: case 228: case 229:
      line = network(d, 0, d.length && (d[0] >> 4) === 6 ? 0x86dd : 0x0800, r.len);
      break;
    default: line = `link-type ${linktype}, length ${r.len}`;
  }
  return `${time(r)} ${line}`;
}

export const LINKTYPE_DESCRIPTIONS: Readonly<Record<number, [string, string]>> = {
  0: ['NULL', 'BSD loopback'], 1: ['EN10MB', 'Ethernet'], 9: ['PPP', 'PPP'], 12: ['RAW', 'Raw IP'],
  101: ['RAW', 'Raw IP'], 108: ['LOOP', 'OpenBSD loopback'], 113: ['LINUX_SLL', 'Linux cooked v1'],
  228: ['IPV4', 'Raw IPv4'], 229: ['IPV6', 'Raw IPv6'], 276: ['LINUX_SLL2', 'Linux cooked v2'],
};

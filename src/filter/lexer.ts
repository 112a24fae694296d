/*
 * The pcap-filter(7) tokenizer, hand-written over character codes (acorn-style), following the
 * rules of libpcap's scanner.l: longest match wins, and on a tie the earlier rule (keywords,
 * numbers, addresses) beats the generic identifier, so `tcp` is a keyword, `tcpdump` a name,
 * `20-21` a name (for portrange) and `len-1` a name too.
 */
import { FilterError, SYNTAX_ERROR } from './errors.js';

export type TokType =
  | 'num' | 'id' | 'hid' | 'hid6' | 'eid' | 'aid' | 'kw' | 'op' | 'eof';

export interface Token {
  type: TokType;
  /** Keyword or operator text, identifier text, address text. */
  value: string;
  /** Numeric value for `num`. */
  num: number;
  start: number;
  end: number;
}

/** Keywords of scanner.l, mapped to a canonical name. */
export const KEYWORDS: Readonly<Record<string, string>> = {
  dst: 'dst', src: 'src',
  'link': 'link', ether: 'link', ppp: 'link', slip: 'link', fddi: 'link', tr: 'link', wlan: 'link',
  arp: 'arp', rarp: 'rarp', ip: 'ip', sctp: 'sctp', tcp: 'tcp', udp: 'udp', icmp: 'icmp', igmp: 'igmp',
  igrp: 'igrp', pim: 'pim', vrrp: 'vrrp', carp: 'carp', radio: 'radio',
  ip6: 'ip6', icmp6: 'icmp6', ah: 'ah', esp: 'esp',
  atalk: 'atalk', aarp: 'aarp', decnet: 'decnet', lat: 'lat', sca: 'sca', moprc: 'moprc', mopdl: 'mopdl',
  iso: 'iso', esis: 'esis', 'es-is': 'esis', isis: 'isis', 'is-is': 'isis', l1: 'l1', l2: 'l2', iih: 'iih',
  lsp: 'lsp', snp: 'snp', csnp: 'csnp', psnp: 'psnp', clnp: 'clnp', stp: 'stp', ipx: 'ipx', netbeui: 'netbeui',
  host: 'host', net: 'net', mask: 'netmask', port: 'port', portrange: 'portrange', proto: 'proto',
  protochain: 'protochain', gateway: 'gateway', type: 'type', subtype: 'subtype', direction: 'dir', dir: 'dir',
  address1: 'addr1', addr1: 'addr1', address2: 'addr2', addr2: 'addr2', address3: 'addr3', addr3: 'addr3',
  address4: 'addr4', addr4: 'addr4', ra: 'ra', ta: 'ta',
  less: 'less', greater: 'greater', byte: 'byte', broadcast: 'broadcast', multicast: 'multicast',
  and: 'and', or: 'or', not: 'not', len: 'len', length: 'len', inbound: 'inbound', outbound: 'outbound',
  ifindex: 'ifindex', vlan: 'vlan', mpls: 'mpls', pppoed: 'pppoed', pppoes: 'pppoes', geneve: 'geneve',
  vxlan: 'vxlan', lane: 'lane', llc: 'llc', metac: 'metac', bcc: 'bcc', oam: 'oam', oamf4: 'oamf4',
  oamf4ec: 'oamf4ec', oamf4sc: 'oamf4sc', sc: 'sc', ilmic: 'ilmic', vpi: 'vpi', vci: 'vci',
  connectmsg: 'connectmsg', metaconnect: 'metaconnect', on: 'ifname', ifname: 'ifname', rnr: 'rnr',
  rulenum: 'rnr', reason: 'reason', rset: 'rset', ruleset: 'rset', srnr: 'srnr', subrulenum: 'srnr',
  action: 'action', fisu: 'fisu', lssu: 'lssu', lsu: 'lssu', msu: 'msu', hfisu: 'hfisu', hlssu: 'hlssu', hlsu: 'hlssu', hmsu: 'hmsu',
  sio: 'sio', opc: 'opc', dpc: 'dpc', sls: 'sls', hsio: 'hsio', hopc: 'hopc', hdpc: 'hdpc', hsls: 'hsls',
};

/** Named constants scanner.l returns as NUM (icmptype, tcpflags, tcp-syn, icmp6 types...). */
export const NAMED_NUMS: Readonly<Record<string, number>> = {
  icmptype: 0, icmpcode: 1, 'icmp-echoreply': 0, 'icmp-unreach': 3, 'icmp-sourcequench': 4, 'icmp-redirect': 5,
  'icmp-echo': 8, 'icmp-routeradvert': 9, 'icmp-routersolicit': 10, 'icmp-timxceed': 11, 'icmp-paramprob': 12,
  'icmp-tstamp': 13, 'icmp-tstampreply': 14, 'icmp-ireq': 15, 'icmp-ireqreply': 16, 'icmp-maskreq': 17,
  'icmp-maskreply': 18,
  icmp6type: 0, icmp6code: 1, 'icmp6-destinationunreach': 1, 'icmp6-packettoobig': 2, 'icmp6-timeexceeded': 3,
  'icmp6-parameterproblem': 4, 'icmp6-echo': 128, 'icmp6-echoreply': 129, 'icmp6-multicastlistenerquery': 130,
  'icmp6-multicastlistenerreportv1': 131, 'icmp6-multicastlistenerdone': 132, 'icmp6-routersolicit': 133,
  'icmp6-routeradvert': 134, 'icmp6-neighborsolicit': 135, 'icmp6-neighboradvert': 136, 'icmp6-redirect': 137,
  'icmp6-routerrenum': 138, 'icmp6-nodeinformationquery': 139, 'icmp6-nodeinformationresponse': 140,
  'icmp6-ineighbordiscoverysolicit': 141, 'icmp6-ineighbordiscoveryadvert': 142,
  'icmp6-multicastlistenerreportv2': 143, 'icmp6-homeagentdiscoveryrequest': 144,
  'icmp6-homeagentdiscoveryreply': 145, 'icmp6-mobileprefixsolicit': 146, 'icmp6-mobileprefixadvert': 147,
  'icmp6-certpathsolicit': 148, 'icmp6-certpathadvert': 149, 'icmp6-multicastrouteradvert': 151,
  'icmp6-multicastroutersolicit': 152, 'icmp6-multicastrouterterm': 153,
  tcpflags: 13, 'tcp-fin': 0x01, 'tcp-syn': 0x02, 'tcp-rst': 0x04, 'tcp-push': 0x08, 'tcp-ack': 0x10,
  'tcp-urg': 0x20, 'tcp-ece': 0x40, 'tcp-cwr': 0x80,
};

const isDigit = (c: number): boolean => c >= 48 && c <= 57;
const isHex = (c: number): boolean => isDigit(c) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
const isAlnum = (c: number): boolean => isDigit(c) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
const isIdMid = (c: number): boolean => isAlnum(c) || c === 45 /* - */ || c === 95 /* _ */ || c === 46 /* . */;
const isSpace = (c: number): boolean => c === 32 || c === 9 || c === 10 || c === 13;

/** Length of the identifier rule `[A-Za-z0-9]([-_.A-Za-z0-9]*[.A-Za-z0-9])?` at pos, or 0. */
function idLength(s: string, pos: number): number {
  if (!isAlnum(s.charCodeAt(pos))) return 0;
  let end = pos + 1;
  let lastGood = end;
  while (end < s.length && isIdMid(s.charCodeAt(end))) {
    end++;
    const c = s.charCodeAt(end - 1);
    if (c !== 45 && c !== 95) lastGood = end;
  }
  return lastGood - pos;
}

/** Length of a number token (decimal, 0x hex, or octal as strtoul base 0). */
function numLength(s: string, pos: number): number {
  if (!isDigit(s.charCodeAt(pos))) return 0;
  if (s.charCodeAt(pos) === 48 && (s.charCodeAt(pos + 1) | 0x20) === 120 && isHex(s.charCodeAt(pos + 2))) {
    let e = pos + 2;
    while (isHex(s.charCodeAt(e))) e++;
    return e - pos;
  }
  let e = pos;
  while (isDigit(s.charCodeAt(e))) e++;
  return e - pos;
}

/** Dotted forms of scanner.l: N.N, N.N.N, N.N.N.N with N a decimal number. */
function hidLength(s: string, pos: number): number {
  let e = pos;
  let parts = 0;
  let lastGood = 0;
  for (;;) {
    const st = e;
    while (isDigit(s.charCodeAt(e))) e++;
    if (e === st) break;
    parts++;
    if (parts >= 2) lastGood = e - pos;
    if (parts === 4 || s.charCodeAt(e) !== 46) break;
    e++;
  }
  return lastGood;
}

/** An Ethernet address: xx:xx:xx:xx:xx:xx (also - or . separated), or xxxx.xxxx.xxxx. */
function macLength(s: string, pos: number): number {
  for (const sep of [58, 45, 46]) {
    let e = pos;
    let ok = true;
    for (let i = 0; i < 6; i++) {
      const st = e;
      while (e - st < 2 && isHex(s.charCodeAt(e))) e++;
      if (e === st) { ok = false; break; }
      if (i < 5) {
        if (s.charCodeAt(e) !== sep) { ok = false; break; }
        e++;
      }
    }
    if (ok) return e - pos;
  }
  // xxxxxxxxxxxx
  let h = pos;
  while (h - pos < 12 && isHex(s.charCodeAt(h))) h++;
  if (h - pos === 12 && !isIdMid(s.charCodeAt(h))) return 12;
  // xxxx.xxxx.xxxx
  let e = pos;
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 4; j++) if (!isHex(s.charCodeAt(e++))) return 0;
    if (i < 2 && s.charCodeAt(e++) !== 46) return 0;
  }
  return e - pos;
}

/** An IPv6 address (with optional embedded IPv4 tail); checked with parseIPv6 afterwards. */
function v6Length(s: string, pos: number): number {
  let e = pos;
  let colons = 0;
  while (e < s.length) {
    const c = s.charCodeAt(e);
    if (isHex(c) || c === 46) e++;
    else if (c === 58) { colons++; e++; } else break;
  }
  if (colons < 2) return 0;
  return e - pos;
}

/** Parse an IPv6 address to 16 bytes, or undefined. */
export function parseIPv6(text: string): Uint8Array | undefined {
  let s = text;
  const out = new Uint8Array(16);
  let tail: number[] = [];
  const v4 = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4) {
    const p = v4[2].split('.').map(Number);
    if (p.some((x) => x > 255)) return undefined;
    tail = p;
    s = v4[1] + '0:0';
  }
  const dbl = s.indexOf('::');
  if (dbl !== s.lastIndexOf('::')) return undefined;
  const parseGroups = (t: string): number[] | undefined => {
    if (t === '') return [];
    const g = t.split(':');
    const r: number[] = [];
    for (const x of g) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(x)) return undefined;
      r.push(parseInt(x, 16));
    }
    return r;
  };
  let groups: number[];
  if (dbl >= 0) {
    const a = parseGroups(s.slice(0, dbl));
    const b = parseGroups(s.slice(dbl + 2));
    if (!a || !b || a.length + b.length > 7) return undefined;
    groups = [...a, ...new Array<number>(8 - a.length - b.length).fill(0), ...b];
  } else {
    const a = parseGroups(s);
    if (!a || a.length !== 8) return undefined;
    groups = a;
  }
  for (let i = 0; i < 8; i++) { out[2 * i] = groups[i] >> 8; out[2 * i + 1] = groups[i] & 0xff; }
  if (tail.length) for (let i = 0; i < 4; i++) out[12 + i] = tail[i];
  return out;
}

/**
 * A NUM token's value as scanner.l's stoulen() converts it, digit by digit: 0x hex, 0 octal, or
 * decimal, failing on the first digit that is not of the base or makes the value exceed 32 bits.
 */
function numValue(t: string, pos: number): number {
  const hex = /^0[xX]/.test(t);
  const base = hex ? 16 : t.length > 1 && t[0] === '0' ? 8 : 10;
  let v = 0;
  for (const ch of hex ? t.slice(2) : t) {
    const d = parseInt(ch, 16);
    if (d >= base) throw new FilterError(`number ${t} contains non-octal digit`, pos);
    v = v * base + d;
    if (v > 0xffffffff) {
      const kind = base === 16 ? 'hexadecimal' : base === 8 ? 'octal' : 'decimal';
      throw new FilterError(`${kind} number ${t} overflows 32 bits`, pos, `number ${t} overflows 32 bits`);
    }
  }
  return v;
}

export function tokenize(src: string): Token[] {
  const toks: Token[] = [];
  let pos = 0;
  const n = src.length;
  while (pos < n) {
    const c = src.charCodeAt(pos);
    if (isSpace(c)) { pos++; continue; }
    const start = pos;
    const push = (type: TokType, value: string, end: number, num = 0): void => {
      toks.push({ type, value, num, start, end });
      pos = end;
    };
    // Two-char operators.
    const two = src.slice(pos, pos + 2);
    if (two === '>=' || two === '<=' || two === '!=' || two === '==' || two === '&&' || two === '||' || two === '<<' || two === '>>') {
      const v = two === '==' ? '=' : two === '&&' ? 'and' : two === '||' ? 'or' : two;
      push(two === '&&' || two === '||' ? 'kw' : 'op', v, pos + 2);
      continue;
    }
    if ('+-*/%:[]()!&|<>=^'.includes(src[pos]) && !(c === 58 && src.charCodeAt(pos + 1) === 58)) {
      if (src[pos] === '!') push('kw', 'not', pos + 1);
      else push('op', src[pos], pos + 1);
      continue;
    }
    if (c === 92 /* \ */) {
      // Escaped name: \tcp etc.
      let e = pos + 1;
      while (e < n && !isSpace(src.charCodeAt(e)) && !'!()'.includes(src[e])) e++;
      push('id', src.slice(pos + 1, e), e);
      continue;
    }
    if (c === 36 /* $ */) {
      let e = pos + 1;
      while (e - pos < 3 && isHex(src.charCodeAt(e))) e++;
      if (e === pos + 1) throw new FilterError(SYNTAX_ERROR, pos);
      push('aid', src.slice(pos, e), e);
      continue;
    }
    const lId = idLength(src, pos);
    const lNum = numLength(src, pos);
    const lHid = isDigit(c) ? hidLength(src, pos) : 0;
    const lMac = isHex(c) ? macLength(src, pos) : 0;
    const lV6 = isHex(c) || c === 58 ? v6Length(src, pos) : 0;
    const best = Math.max(lId, lNum, lHid, lMac, lV6);
    if (best === 0) throw new FilterError(SYNTAX_ERROR, pos);
    const text = src.slice(pos, pos + best);
    // Earlier rules win ties: keywords, NUM, HID, MAC, HID6, then ID.
    if (lId === best && NAMED_NUMS[text] !== undefined) {
      push('num', text, pos + best, NAMED_NUMS[text]);
    } else if (lId === best && KEYWORDS[text] !== undefined && best >= Math.max(lNum, lHid, lMac, lV6)) {
      push('kw', KEYWORDS[text], pos + best);
    } else if (lNum === best && lNum >= lHid) {
      push('num', text, pos + best, numValue(text, pos));
    } else if (lHid === best) {
      push('hid', text, pos + best);
    } else if (lMac === best) {
      push('eid', text, pos + best);
    } else if (lV6 === best) {
      if (!parseIPv6(text)) {
        // More than eight groups is no HID6 token at all for scanner.l.
        if (!text.includes('.') && !text.includes('::') && text.split(':').length > 8) throw new FilterError(SYNTAX_ERROR, pos);
        throw new FilterError(`invalid IPv6 address ${text}`, pos, `bogus IPv6 address ${text}`);
      }
      push('hid6', text, pos + best);
    } else {
      push('id', text, pos + best);
    }
  }
  toks.push({ type: 'eof', value: '', num: 0, start: n, end: n });
  return toks;
}

/*
 * The pcap-filter(7) parser: recursive descent over grammar.y's rules, producing an AST whose
 * leaves carry resolved qualifiers. Qualifiers flow the way yacc's `$<blk>0` makes them flow in
 * libpcap: `and`, `or`, `not` and `(` pass on the qualifiers of what came before, so in
 * `tcp dst port ftp or ftp-data` the bare `ftp-data` is a `tcp dst port`. A bare pname (`tcp`),
 * a relation or a special primitive resets them to "undefined" (qerr).
 */
import { FilterError, SYNTAX_ERROR } from './errors.js';
import { type Token, tokenize } from './lexer.js';

export type Proto =
  | 'default' | 'undef' | 'link' | 'ip' | 'arp' | 'rarp' | 'sctp' | 'tcp' | 'udp' | 'icmp' | 'igmp' | 'igrp'
  | 'atalk' | 'decnet' | 'lat' | 'sca' | 'moprc' | 'mopdl' | 'ip6' | 'icmp6' | 'ah' | 'esp' | 'pim' | 'vrrp'
  | 'aarp' | 'iso' | 'esis' | 'isis' | 'clnp' | 'stp' | 'ipx' | 'netbeui' | 'l1' | 'l2' | 'iih' | 'snp'
  | 'csnp' | 'psnp' | 'lsp' | 'radio' | 'carp';
export type Dir = 'default' | 'undef' | 'src' | 'dst' | 'or' | 'and' | 'addr1' | 'addr2' | 'addr3' | 'addr4' | 'ra' | 'ta';
export type Addr = 'default' | 'undef' | 'host' | 'net' | 'port' | 'gateway' | 'proto' | 'protochain' | 'portrange';

export interface Qual { proto: Proto; dir: Dir; addr: Addr }

export const QERR: Qual = { proto: 'undef', dir: 'undef', addr: 'undef' };

const PNAMES = new Set<string>([
  'link', 'ip', 'arp', 'rarp', 'sctp', 'tcp', 'udp', 'icmp', 'igmp', 'igrp', 'pim', 'vrrp', 'carp', 'atalk',
  'aarp', 'decnet', 'lat', 'sca', 'mopdl', 'moprc', 'ip6', 'icmp6', 'ah', 'esp', 'iso', 'esis', 'isis', 'l1',
  'l2', 'iih', 'lsp', 'snp', 'psnp', 'csnp', 'clnp', 'stp', 'ipx', 'netbeui', 'radio',
]);
const DQUALS = new Set(['src', 'dst', 'addr1', 'addr2', 'addr3', 'addr4', 'ra', 'ta']);
const AQUALS = new Set(['host', 'net', 'port', 'portrange']);

/** Arithmetic expressions (grammar.y `arth`). */
export type Arth =
  | { k: 'num'; v: number }
  | { k: 'len' }
  | { k: 'load'; proto: Proto; index: Arth; size: number }
  | { k: 'bin'; op: '+' | '-' | '*' | '/' | '%' | '&' | '|' | '^' | '<<' | '>>'; a: Arth; b: Arth }
  | { k: 'neg'; a: Arth };

/** An identifier under qualifiers (grammar.y `nid` / `pnum`). */
export type IdNode =
  | { k: 'name'; name: string; q: Qual; pos: number }
  | { k: 'num'; v: number; q: Qual; pos: number }
  | { k: 'hid'; text: string; q: Qual; pos: number }
  | { k: 'hidlen'; text: string; len: number; q: Qual; pos: number }
  | { k: 'hidmask'; text: string; mask: string; q: Qual; pos: number }
  | { k: 'hid6'; text: string; len: number; hasLen: boolean; q: Qual; pos: number }
  | { k: 'eid'; text: string; q: Qual; pos: number }
  | { k: 'aid'; text: string; q: Qual; pos: number };

export type FilterNode =
  | { k: 'and' | 'or'; l: FilterNode; r: FilterNode }
  | { k: 'not'; e: FilterNode }
  | { k: 'id'; id: IdNode }
  | { k: 'pname'; proto: Proto; pos: number }
  | { k: 'rel'; op: '>' | '>=' | '=' | '<=' | '<' | '!='; a: Arth; b: Arth; pos: number }
  | { k: 'broadcast' | 'multicast'; proto: Proto; pos: number }
  | { k: 'less' | 'greater'; v: number }
  | { k: 'byte'; idx: number; op: string; v: number }
  | { k: 'inbound' | 'outbound' | 'pppoed' }
  | { k: 'ifindex'; v: number }
  | { k: 'vlan' | 'mpls' | 'pppoes' | 'geneve' | 'vxlan'; v?: number; pos: number }
  | { k: 'llc'; sub?: string; pos: number }
  | { k: 'pf'; field: string; v: string | number; pos: number }
  | { k: 'wlantype'; v: number; mask: number }
  | { k: 'wlandir'; v: number }
  | { k: 'mtp2'; t: string }
  | { k: 'atmtype' | 'atmmulti'; t: string }
  /** An MTP3 field (sio opc dpc sls, h* for HSL) or an ATM field (vpi vci) against values. */
  | { k: 'mtp3'; field: string; op: string; vals: number[] };

const WLAN_TYPES: Record<string, number> = { mgt: 0x00, management: 0x00, ctl: 0x04, control: 0x04, data: 0x08 };
const WLAN_SUBTYPES: [number, Record<string, number>][] = [
  [0x00, {
    'assoc-req': 0x00, assocreq: 0x00, 'assoc-resp': 0x10, assocresp: 0x10, 'reassoc-req': 0x20, reassocreq: 0x20,
    'reassoc-resp': 0x30, reassocresp: 0x30, 'probe-req': 0x40, probereq: 0x40, 'probe-resp': 0x50, proberesp: 0x50,
    beacon: 0x80, atim: 0x90, disassoc: 0xa0, disassociation: 0xa0, auth: 0xb0, authentication: 0xb0,
    deauth: 0xc0, deauthentication: 0xc0,
  }],
  [0x04, { bar: 0x80, ba: 0x90, 'ps-poll': 0xa0, rts: 0xb0, cts: 0xc0, ack: 0xd0, 'cf-end': 0xe0, 'cf-end-ack': 0xf0 }],
  [0x08, { data: 0x00, 'data-cf-ack': 0x10, 'data-cf-poll': 0x20, 'data-cf-ack-poll': 0x30, null: 0x40, 'cf-ack': 0x50, 'cf-poll': 0x60, 'cf-ack-poll': 0x70, 'qos-data': 0x80, 'qos-data-cf-ack': 0x90, 'qos-data-cf-poll': 0xa0, 'qos-data-cf-ack-poll': 0xb0, qos: 0xc0, 'qos-cf-poll': 0xe0, 'qos-cf-ack-poll': 0xf0 }],
];
const WLAN_DIRS: Record<string, number> = { nods: 0, tods: 1, fromds: 2, dstods: 3 };

export interface Parsed { node: FilterNode; q: Qual }

const ARITH_OPS = new Set(['+', '-', '*', '/', '%', '&', '|', '^', '<<', '>>']);
const RELOPS = new Set(['>', '>=', '=', '<=', '<', '!=']);
const PREC: Record<string, number> = { '|': 1, '&': 2, '<<': 3, '>>': 3, '+': 4, '-': 4, '*': 5, '/': 5 };
const NOPREC = new Set(['%', '^']);

class Backtrack extends Error {}

class Parser {
  private toks: Token[];
  private p = 0;
  private readonly src: string;

  constructor(src: string) { this.src = src; this.toks = tokenize(src); }

  private get t(): Token { return this.toks[this.p]; }
  private peek(n = 1): Token { return this.toks[Math.min(this.p + n, this.toks.length - 1)]; }
  private isKw(v: string, tok = this.t): boolean { return tok.type === 'kw' && tok.value === v; }
  private isOp(v: string, tok = this.t): boolean { return tok.type === 'op' && tok.value === v; }
  private fail(tok = this.t): never { throw new FilterError(SYNTAX_ERROR, tok.start); }
  private expectOp(v: string): void { if (!this.isOp(v)) this.fail(); this.p++; }

  parseProg(): FilterNode | undefined {
    if (this.t.type === 'eof') return undefined;
    const r = this.parseExpr(QERR);
    if ((this.t.type as string) !== 'eof') this.fail();
    return r.node;
  }

  private parseExpr(q0: Qual, firstAllowId = false): Parsed {
    let left = this.parseTerm(q0, firstAllowId);
    while (this.isKw('and') || this.isKw('or')) {
      const op = this.t.value as 'and' | 'or';
      this.p++;
      const right = this.parseTerm(left.q, true);
      left = { node: { k: op, l: left.node, r: right.node }, q: right.q };
    }
    return left;
  }

  /** term (or, after and/or, id): `allowId` admits bare identifiers under inherited qualifiers. */
  private parseTerm(q: Qual, allowId: boolean): Parsed {
    if (this.isKw('not')) {
      this.p++;
      const r = this.parseTerm(q, allowId);
      return { node: { k: 'not', e: r.node }, q: r.q };
    }
    const t = this.t;
    if (allowId && (t.type === 'id' || t.type === 'hid' || t.type === 'hid6' || t.type === 'eid' || t.type === 'aid')) {
      return this.parseNid(q);
    }
    if (t.type === 'num' && !(allowId && !this.numStartsArth())) return this.parseRelation();
    if (t.type === 'num') return this.parseNid(q);
    if (this.isOp('-')) return this.parseRelation();
    if (this.isOp('(')) {
      // paren narth ')' relop ..., or paren pid ')' / paren expr ')'.
      const save = this.p;
      try {
        return this.parseRelation();
      } catch (e) {
        if (!(e instanceof FilterError) && !(e instanceof Backtrack)) throw e;
        this.p = save;
      }
      const n = this.peek();
      if (allowId && n.type !== 'kw' && n.type !== 'op') return this.parseId(q); // paren pid ')'
      this.p++;
      const inner = this.parseExpr(q);
      this.expectOp(')');
      return { node: inner.node, q };
    }
    return this.parseRterm(q);
  }

  /** True when the number at the cursor starts an arithmetic relation (`80 > x`...). */
  private numStartsArth(): boolean {
    const n = this.peek();
    return n.type === 'op' && (ARITH_OPS.has(n.value) || RELOPS.has(n.value));
  }

  private parseNid(q: Qual): Parsed {
    const t = this.t;
    this.p++;
    let id: IdNode;
    switch (t.type) {
      case 'id': id = { k: 'name', name: t.value, q, pos: t.start }; break;
      case 'num': id = { k: 'num', v: t.num, q, pos: t.start }; break;
      case 'eid': id = { k: 'eid', text: t.value, q, pos: t.start }; break;
      case 'aid': id = { k: 'aid', text: t.value, q, pos: t.start }; break;
      case 'hid6':
        if (this.isOp('/') && this.peek().type === 'num') {
          this.p++;
          id = { k: 'hid6', text: t.value, len: this.t.num, hasLen: true, q, pos: t.start };
          this.p++;
        } else id = { k: 'hid6', text: t.value, len: 128, hasLen: false, q, pos: t.start };
        break;
      case 'hid':
        if (this.isOp('/')) {
          this.p++;
          if (this.t.type !== 'num') this.fail();
          id = { k: 'hidlen', text: t.value, len: this.t.num, q, pos: t.start };
          this.p++;
        } else if (this.isKw('netmask')) {
          this.p++;
          if (this.t.type !== 'hid') this.fail();
          id = { k: 'hidmask', text: t.value, mask: this.t.value, q, pos: t.start };
          this.p++;
        } else {
          id = { k: 'hid', text: t.value, q, pos: t.start };
        }
        break;
      default: this.fail(t);
    }
    return { node: { k: 'id', id }, q };
  }

  /** id after a head: nid | pnum | paren pid ')' | not id. */
  private parseId(q: Qual): Parsed {
    if (this.isKw('not')) {
      this.p++;
      const r = this.parseId(q);
      return { node: { k: 'not', e: r.node }, q: r.q };
    }
    if (this.isOp('(')) {
      this.p++;
      let left = this.parseId(q);
      while (this.isKw('and') || this.isKw('or')) {
        const op = this.t.value as 'and' | 'or';
        this.p++;
        const right = this.parseId(left.q);
        left = { node: { k: op, l: left.node, r: right.node }, q: right.q };
      }
      this.expectOp(')');
      return left;
    }
    if (this.t.type === 'num' || this.t.type === 'id' || this.t.type === 'hid' || this.t.type === 'hid6' || this.t.type === 'eid' || this.t.type === 'aid') {
      return this.parseNid(q);
    }
    this.fail();
  }

  private parsePnum(): number {
    if (this.isOp('(')) {
      this.p++;
      const v = this.parsePnum();
      this.expectOp(')');
      return v;
    }
    if (this.t.type !== 'num') this.fail();
    return this.toks[this.p++].num;
  }

  private parseRterm(_q: Qual): Parsed {
    const t = this.t;
    if (t.type !== 'kw') this.fail();
    let pqual: Proto = 'default';
    const headStart = this.p;
    if (PNAMES.has(t.value)) {
      const n = this.peek();
      if (this.isOp('[', n)) return this.parseRelation();
      pqual = t.value as Proto;
      this.p++;
    }
    const k = this.t;
    if (k.type === 'kw') {
      if (DQUALS.has(k.value)) {
        this.p++;
        let dir = k.value as Dir;
        if ((dir === 'src' || dir === 'dst') && (this.isKw('or') || this.isKw('and')) && this.isKw(dir === 'src' ? 'dst' : 'src', this.peek())) {
          dir = this.t.value === 'or' ? 'or' : 'and';
          this.p += 2;
        }
        let addr: Addr = 'default';
        if (this.t.type === 'kw' && AQUALS.has(this.t.value)) { addr = this.t.value as Addr; this.p++; }
        return this.parseHeadId({ proto: pqual, dir, addr });
      }
      if (AQUALS.has(k.value)) { this.p++; return this.parseHeadId({ proto: pqual, dir: 'default', addr: k.value as Addr }); }
      if (k.value === 'proto' || k.value === 'protochain' || k.value === 'gateway') {
        this.p++;
        return this.parseHeadId({ proto: pqual, dir: 'default', addr: k.value as Addr });
      }
      if (k.value === 'type' || k.value === 'subtype' || k.value === 'dir') return this.parseP80211();
      if (k.value === 'broadcast' || k.value === 'multicast') {
        this.p++;
        return { node: { k: k.value, proto: pqual, pos: k.start }, q: QERR };
      }
    }
    if (pqual !== 'default') return { node: { k: 'pname', proto: pqual, pos: t.start }, q: QERR };
    this.p = headStart;
    // other
    const kw = t.value;
    this.p++;
    const optNum = (): number | undefined => {
      const tt = this.t;
      return tt.type === 'num' || (this.isOp('(', tt) && this.peek().type === 'num') ? this.parsePnum() : undefined;
    };
    switch (kw) {
      case 'less': case 'greater': {
        if (this.t.type !== 'num') this.fail();
        return { node: { k: kw, v: this.toks[this.p++].num }, q: QERR };
      }
      case 'byte': {
        if (this.t.type !== 'num') this.fail();
        const idx = this.toks[this.p++].num;
        const opTok: Token = this.t;
        if (opTok.type !== 'op' || !['&', '|', '<', '>', '='].includes(opTok.value)) this.fail();
        const op = this.toks[this.p++].value;
        if ((this.t as Token).type !== 'num') this.fail();
        return { node: { k: 'byte', idx, op, v: this.toks[this.p++].num }, q: QERR };
      }
      case 'inbound': case 'outbound': case 'pppoed': return { node: { k: kw }, q: QERR };
      case 'ifindex': {
        if (this.t.type !== 'num') this.fail();
        return { node: { k: 'ifindex', v: this.toks[this.p++].num }, q: QERR };
      }
      case 'vlan': case 'mpls': case 'pppoes': case 'geneve': case 'vxlan':
        return { node: { k: kw, v: optNum(), pos: t.start }, q: QERR };
      case 'llc': {
        if (this.t.type === 'id') return { node: { k: 'llc', sub: this.toks[this.p++].value, pos: t.start }, q: QERR };
        if (this.isKw('rnr')) { this.p++; return { node: { k: 'llc', sub: 'rnr', pos: t.start }, q: QERR }; }
        return { node: { k: 'llc', pos: t.start }, q: QERR };
      }
      case 'len':
        this.p = headStart;
        return this.parseRelation();
      case 'ifname': case 'rset': case 'action': {
        const v = this.t;
        if (v.type !== 'id' && !(v.type === 'kw' && kw === 'action')) this.fail();
        this.p++;
        return { node: { k: 'pf', field: kw, v: v.type === 'kw' ? this.src.slice(v.start, v.end) : v.value, pos: t.start }, q: QERR };
      }
      case 'rnr': case 'srnr': {
        if (this.t.type !== 'num') this.fail();
        return { node: { k: 'pf', field: kw, v: this.toks[this.p++].num, pos: t.start }, q: QERR };
      }
      case 'reason': {
        const v = this.t;
        if (v.type === 'num') { this.p++; return { node: { k: 'pf', field: kw, v: v.num, pos: t.start }, q: QERR }; }
        if (v.type !== 'id' && v.type !== 'kw') this.fail();
        this.p++;
        return { node: { k: 'pf', field: kw, v: this.src.slice(v.start, v.end), pos: t.start }, q: QERR };
      }
      case 'fisu': case 'lssu': case 'msu': case 'hfisu': case 'hlssu': case 'hmsu':
        return { node: { k: 'mtp2', t: kw }, q: QERR };
      case 'lane': case 'metac': case 'bcc': case 'oamf4ec': case 'oamf4sc': case 'sc': case 'ilmic':
        return { node: { k: 'atmtype', t: kw }, q: QERR };
      case 'oam': case 'oamf4': case 'connectmsg': case 'metaconnect':
        return { node: { k: 'atmmulti', t: kw }, q: QERR };
      case 'vpi': case 'vci':
      case 'sio': case 'opc': case 'dpc': case 'sls': case 'hsio': case 'hopc': case 'hdpc': case 'hsls': {
        const tt = this.t;
        if (tt.type === 'op' && RELOPS.has(tt.value)) {
          this.p++;
          if (this.t.type !== 'num') this.fail();
          return { node: { k: 'mtp3', field: kw, op: tt.value, vals: [this.toks[this.p++].num] }, q: QERR };
        }
        if (this.isOp('(')) {
          this.p++;
          const vals: number[] = [];
          for (;;) {
            if (this.t.type !== 'num') this.fail();
            vals.push(this.toks[this.p++].num);
            if (this.isKw('or')) { this.p++; continue; }
            break;
          }
          this.expectOp(')');
          return { node: { k: 'mtp3', field: kw, op: '=', vals }, q: QERR };
        }
        if (this.t.type !== 'num') this.fail();
        return { node: { k: 'mtp3', field: kw, op: '=', vals: [this.toks[this.p++].num] }, q: QERR };
      }
      case 'type': case 'subtype': case 'dir':
        this.p = headStart;
        return this.parseP80211();
      default:
        this.p = headStart;
        this.fail();
    }
  }

  /** p80211: TYPE type [SUBTYPE subtype] | SUBTYPE type_subtype | DIR dir. */
  private parseP80211(): Parsed {
    const kw = this.toks[this.p++].value;
    const word = (): Token => { const t = this.t; if (t.type !== 'num' && t.type !== 'id' && t.type !== 'kw') this.fail(); this.p++; return t; };
    if (kw === 'dir') {
      const t = word();
      const v = t.type === 'num' ? t.num : WLAN_DIRS[t.value.toLowerCase()];
      if (v === undefined) throw new FilterError('unknown 802.11 direction', t.start);
      return { node: { k: 'wlandir', v }, q: QERR };
    }
    if (kw === 'type') {
      const t = word();
      const type = t.type === 'num' ? t.num : WLAN_TYPES[t.value.toLowerCase()];
      if (type === undefined) throw new FilterError('unknown 802.11 type name', t.start);
      if (this.isKw('subtype')) {
        this.p++;
        const st = word();
        let sub: number | undefined;
        if (st.type === 'num') sub = st.num;
        else {
          const table = WLAN_SUBTYPES.find(([ty]) => ty === type);
          if (!table) throw new FilterError('unknown 802.11 type', st.start);
          sub = table[1][st.value.toLowerCase()];
          if (sub === undefined) throw new FilterError('unknown 802.11 subtype name', st.start);
        }
        return { node: { k: 'wlantype', v: type | sub, mask: 0xfc }, q: QERR };
      }
      return { node: { k: 'wlantype', v: type, mask: 0x0c }, q: QERR };
    }
    const st = word();
    if (st.type === 'num') this.fail(st);
    for (const [ty, table] of WLAN_SUBTYPES) {
      const v = table[st.value.toLowerCase()];
      if (v !== undefined) return { node: { k: 'wlantype', v: v | ty, mask: 0xfc }, q: QERR };
    }
    throw new FilterError('unknown 802.11 type name', st.start);
  }

  private parseHeadId(q: Qual): Parsed {
    return this.parseId(q);
  }

  private parseRelation(): Parsed {
    const start = this.t.start;
    const a = this.parseArth(0);
    const t = this.t;
    if (t.type !== 'op' || !RELOPS.has(t.value)) throw new FilterError(SYNTAX_ERROR, t.start);
    this.p++;
    const b = this.parseArth(0);
    return { node: { k: 'rel', op: t.value as '>', a, b, pos: start }, q: QERR };
  }

  private parseArth(minPrec: number): Arth {
    let a = this.parseArthUnary();
    for (;;) {
      const t = this.t;
      if (t.type !== 'op' || !ARITH_OPS.has(t.value)) break;
      if (NOPREC.has(t.value)) {
        // grammar.y gives '%' and '^' no precedence: yacc always shifts them.
        this.p++;
        a = { k: 'bin', op: t.value as '+', a, b: this.parseArth(0) };
        continue;
      }
      const prec = PREC[t.value];
      if (prec <= minPrec) break;
      this.p++;
      const b = this.parseArth(prec);
      a = { k: 'bin', op: t.value as '+', a, b };
    }
    return a;
  }

  private parseArthUnary(): Arth {
    const t = this.t;
    if (this.isOp('-')) { this.p++; return { k: 'neg', a: this.parseArthUnary() }; }
    if (t.type === 'num') { this.p++; return { k: 'num', v: t.num }; }
    if (this.isKw('len')) { this.p++; return { k: 'len' }; }
    if (t.type === 'kw' && PNAMES.has(t.value) && this.isOp('[', this.peek())) {
      this.p += 2;
      const index = this.parseArth(0);
      let size = 1;
      if (this.isOp(':')) {
        this.p++;
        if (this.t.type !== 'num') this.fail();
        size = this.toks[this.p++].num;
      }
      this.expectOp(']');
      return { k: 'load', proto: t.value as Proto, index, size };
    }
    if (this.isOp('(')) {
      this.p++;
      const a = this.parseArth(0);
      this.expectOp(')');
      return a;
    }
    throw new Backtrack();
  }
}

/** Parse a filter expression; undefined for the empty expression (accept everything). */
export function parseFilter(src: string): FilterNode | undefined {
  try {
    return new Parser(src).parseProg();
  } catch (e) {
    if (e instanceof Backtrack) throw new FilterError(SYNTAX_ERROR);
    throw e;
  }
}

/*
 * Random classic programs for property tests: a seeded generator (xorshift32) of programs that
 * the Linux checker mostly accepts (forward jumps, stores before loads more often than not),
 * plus mutations that break one rule, and random packets.
 */
import { type CInsn, SKF_AD_OFF, cinsn } from '../src/cbpf/insn.js';

export class Rng {
  private s: number;
  constructor(seed: number) { this.s = (seed >>> 0) || 1; }
  next(): number {
    let x = this.s;
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    this.s = x >>> 0;
    return this.s;
  }
  int(n: number): number { return this.next() % n; }
  pick<T>(xs: readonly T[]): T { return xs[this.int(xs.length)]; }
  chance(p: number): boolean { return this.next() / 0x100000000 < p; }
}

const ALU_K = [0x04, 0x14, 0x24, 0x34, 0x94, 0x54, 0x44, 0xa4, 0x64, 0x74];
const ALU_X = [0x0c, 0x1c, 0x2c, 0x3c, 0x9c, 0x5c, 0x4c, 0xac, 0x6c, 0x7c];
const JMP = [0x15, 0x1d, 0x25, 0x2d, 0x35, 0x3d, 0x45, 0x4d];
const ANC = [0, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 44, 48, 52, 60];

/** A constant biased toward interesting values. */
export function randK(r: Rng): number {
  switch (r.int(6)) {
    case 0: return r.int(4);
    case 1: return r.int(64);
    case 2: return 0xffffffff - r.int(3);
    case 3: return 0x80000000 + r.int(2);
    case 4: return r.int(0x10000);
    default: return r.next();
  }
}

/**
 * A program of `len` instructions ending in ret. `opts.anc` allows ancillary loads, `opts.deterministic`
 * leaves out SKF_AD_RANDOM.
 */
export function randomProgram(r: Rng, len: number, opts: { anc?: boolean; deterministic?: boolean } = {}): CInsn[] {
  const prog: CInsn[] = [];
  const written = new Set<number>();
  for (let pc = 0; pc < len - 1; pc++) {
    const left = len - pc - 2; // instructions between this one's successor and the end
    const kind = r.int(14);
    let insn: CInsn;
    switch (kind) {
      case 0: insn = cinsn(r.pick([0x20, 0x28, 0x30]), r.int(70)); break;
      case 1: insn = cinsn(r.pick([0x40, 0x48, 0x50]), r.int(40)); break;
      case 2: insn = cinsn(r.pick([0x00, 0x01]), randK(r)); break;
      case 3: {
        const op = r.pick(ALU_K);
        let k = randK(r);
        if ((op === 0x34 || op === 0x94) && k === 0) k = 1;
        if (op === 0x64 || op === 0x74) k &= 31;
        insn = cinsn(op, k);
        break;
      }
      case 4: insn = cinsn(r.pick(ALU_X)); break;
      case 5: { const m = r.int(16); written.add(m); insn = cinsn(r.pick([0x02, 0x03]), m); break; }
      case 6: {
        const ms = [...written];
        insn = ms.length > 0 ? cinsn(r.pick([0x60, 0x61]), r.pick(ms)) : cinsn(0x07);
        break;
      }
      case 7: insn = cinsn(r.pick([0x07, 0x87, 0x84, 0x80, 0x81])); break;
      case 8: insn = cinsn(0xb1, r.int(70)); break;
      case 9: case 10:
        insn = cinsn(r.pick(JMP), randK(r), r.int(Math.min(left, 255) + 1), r.int(Math.min(left, 255) + 1));
        written.clear();
        break;
      case 11: insn = cinsn(0x05, r.int(left + 1)); written.clear(); break;
      case 12:
        if (opts.anc) {
          let ad = r.pick(ANC);
          if (opts.deterministic && ad === 56) ad = 0;
          insn = cinsn(r.pick([0x20, 0x28, 0x30]), (SKF_AD_OFF + ad) >>> 0);
        } else insn = cinsn(0x16);
        break;
      default: insn = cinsn(r.pick([0x06, 0x16]), randK(r));
    }
    prog.push(insn);
  }
  prog.push(r.chance(0.5) ? cinsn(0x16) : cinsn(0x06, randK(r)));
  return prog;
}

/** Break one rule somewhere (or nothing, a quarter of the time). */
export function mutate(r: Rng, prog: CInsn[]): CInsn[] {
  const p = prog.map((i) => ({ ...i }));
  const at = r.int(p.length);
  switch (r.int(8)) {
    case 0: p[at].code = r.int(256); break;
    case 1: p[at] = cinsn(r.pick([0x34, 0x94]), 0); break;
    case 2: p[at] = cinsn(r.pick([0x60, 0x61, 0x02, 0x03]), r.int(20)); break;
    case 3: p[at] = cinsn(r.pick(JMP), 0, r.int(p.length + 2), r.int(p.length + 2)); break;
    case 4: p[at] = cinsn(0x05, r.int(p.length + 2)); break;
    case 5: p[at] = cinsn(r.pick([0x20, 0x28, 0x30]), (SKF_AD_OFF + r.int(80)) >>> 0); break;
    case 6: p[at] = cinsn(r.pick([0x64, 0x74]), 28 + r.int(8)); break;
    default: break;
  }
  return p;
}

export function randomPacket(r: Rng): Uint8Array {
  const p = new Uint8Array(r.int(80));
  for (let i = 0; i < p.length; i++) p[i] = r.chance(0.3) ? r.int(4) : r.int(256);
  return p;
}

/** Expressions covering most instruction shapes tcpdump emits. */
export const TCPDUMP_EXPRS = [
  'ip and tcp port 80', 'udp', 'icmp or arp', 'ip6 and tcp', 'host 10.0.0.1', 'net 192.168.0.0/16',
  'tcp[tcpflags] & (tcp-syn|tcp-ack) != 0', 'ip[2:2] > 576', 'len > 100 and len < 1500', 'vlan and ip',
  'ether broadcast', 'ether multicast', 'ip multicast', 'portrange 1000-2000', 'udp[8] = 1 and udp[9] * 3 = 12',
  'ip[0] & 0xf > 5', 'tcp[13] = 2 or tcp[13] = 18', 'ether[0] - 1 = 2', 'ip[1] / 4 = 0 or ip[1] % 3 = 1',
  'ip[1] << 2 = 8 or ip[1] >> 1 = 3 or ip[2] ^ 4 = 5', 'ip6 protochain 6', 'ether proto 0x88cc', 'mpls',
  'pppoes and ip', 'src port 53 and dst net 10.0.0.0/8', 'ip[4:4] = 0xffffffff', 'ip[8] = 255',
];

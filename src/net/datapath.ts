/*
 * Virtual network devices with XDP and tc hooks, over one Bpf kernel: a frame received on a device
 * goes the way the kernel's receive path takes it, and frames that leave a device are kept as its
 * "wire" (what a capture on the other end would see).
 *
 *   receive(dev) -> XDP (driver mode: bpf_prog_run_xdp() in the driver's poll)
 *        XDP_PASS -> tc ingress (sch_handle_ingress(), direct-action) -> the local stack
 *        XDP_TX -> dev's wire (no tc egress: the frame never meets the qdisc layer)
 *        XDP_REDIRECT -> xdp_do_redirect(): bpf_redirect(ifindex) -> that device's wire
 *            (ndo_xdp_xmit); DEVMAP/DEVMAP_HASH -> the entry's program (BPF_XDP_DEVMAP,
 *            egress_ifindex set), then that device's wire, or every entry with BPF_F_BROADCAST
 *            (BPF_F_EXCLUDE_INGRESS skips the receiving device); CPUMAP -> the entry's program
 *            (BPF_XDP_CPUMAP), then the stack on that CPU (cpu_map_kthread_run() builds an skb
 *            and hands it to the stack, tc ingress included); XSKMAP -> the AF_XDP socket bound to
 *            this device and queue (xsk_rcv(): another device/queue, an empty fill ring or a full
 *            rx ring drop the frame)
 *        XDP_ABORTED, XDP_DROP, unknown values -> dropped
 *   tc (cls_bpf direct-action; tcf_classify()): filters run in order, TC_ACT_UNSPEC goes on to the
 *   next; TC_ACT_OK/RECLASSIFY pass, SHOT drops, STOLEN/QUEUED/TRAP consume, TC_ACT_REDIRECT with
 *   bpf_redirect(ifindex, BPF_F_INGRESS) receives on that device's tc ingress (dev_forward_skb()),
 *   without the flag transmits from it (its tc egress, then its wire); bpf_clone_redirect()
 *   copies go the same ways. transmit(dev) is the stack's send: tc egress, then the wire.
 *   Redirect loops stop after XMIT_RECURSION_LIMIT (8) nested hops, as dev_xmit_recursion() does.
 */
import { BpfError } from '../errors.js';
import { createHelperHost, type HelperHost } from '../helpers/host.js';
import { memoryView } from '../helpers/packet.js';
import type { Bpf } from '../kernel/bpf.js';
import { BPF_MAP_TYPE, type BpfMap, type ProgRef } from '../maps/types.js';
import { DevMapHash, TargetArrayMap } from '../maps/devmap.js';
import { SK_BUFF, SkbHarness } from '../progtypes/skb.js';
import { XdpHarness } from '../progtypes/xdp.js';
import { registerProgTypeHelpers } from '../progtypes/register.js';
import { type Engine, type PreparedProgram, prepareProgram } from '../progtypes/run.js';

const BPF_PROG_TYPE_SCHED_CLS = 3;
const BPF_PROG_TYPE_XDP = 6;
const XDP_ABORTED = 0, XDP_DROP = 1, XDP_PASS = 2, XDP_TX = 3, XDP_REDIRECT = 4;
const TC_ACT_UNSPEC = -1, TC_ACT_OK = 0, TC_ACT_RECLASSIFY = 1, TC_ACT_SHOT = 2, TC_ACT_REDIRECT = 7;
const BPF_F_INGRESS = 1;
const BPF_F_BROADCAST = 1n << 3n, BPF_F_EXCLUDE_INGRESS = 1n << 4n;
const XMIT_RECURSION_LIMIT = 8;
const XDP_MD_EGRESS_IFINDEX = 20;
const PACKET_HOST = 0, PACKET_BROADCAST = 1, PACKET_MULTICAST = 2, PACKET_OTHERHOST = 3;

/** A frame as it left a device or reached the stack. */
export interface Frame {
  data: Uint8Array;
  /** The device it arrived on (stack deliveries) or left from (wires). */
  ifindex: number;
  /** The CPU that handled it (CPUMAP redirects move frames to another CPU). */
  cpu: number;
}

/** Why and where a frame ended: one entry per frame of a receive()/transmit() call, in order. */
export interface Outcome {
  kind: 'stack' | 'wire' | 'xsk' | 'drop' | 'consumed';
  ifindex: number;
  /** The hook that decided: 'xdp', 'tc-ingress', 'tc-egress', 'devmap', 'cpumap', 'xsk', 'redirect'. */
  by: string;
  /** The verdict or reason, e.g. 'XDP_DROP', 'TC_ACT_SHOT', 'no such device', 'fill ring empty'. */
  why: string;
}

export interface DeviceStats {
  rxPackets: number;
  txPackets: number;
  xdp: Record<'aborted' | 'drop' | 'pass' | 'tx' | 'redirect' | 'invalid', number>;
  drops: number;
}

export interface NetDevice {
  readonly ifindex: number;
  readonly name: string;
  /** Its MAC address (6 bytes): pkt_type of received frames is computed against it. */
  readonly mac: Uint8Array;
  /** Frames that left on this device, in order. */
  readonly wire: Frame[];
  readonly stats: DeviceStats;
}

/** An AF_XDP socket bound to a device's rx queue (xsk_bind()), with its rings reduced to counts. */
export interface XskSocket {
  /** Its descriptor, from the kernel's fd table: what an XSKMAP stores. */
  readonly fd: number;
  readonly ifindex: number;
  readonly queue: number;
  /** Frames waiting in the rx ring (recv() takes them). */
  readonly rx: Frame[];
  readonly rxRingSize: number;
  /** Umem frames the fill ring offers; each received frame takes one, refill() gives them back. */
  fill: number;
  /** xsk rx_dropped (no fill entry) and rx_queue_full counters. */
  rxDropped: number;
  rxQueueFull: number;
}

interface Attached { fd: number; prog: PreparedProgram }
interface DevState extends NetDevice {
  xdp?: Attached;
  tcIngress: Attached[];
  tcEgress: Attached[];
}

const newStats = (): DeviceStats => ({
  rxPackets: 0, txPackets: 0, xdp: { aborted: 0, drop: 0, pass: 0, tx: 0, redirect: 0, invalid: 0 }, drops: 0,
});

export interface DatapathOptions {
  engine?: Engine;
  /** The CPU receive() runs on by default. */
  cpu?: number;
}

export class Datapath {
  readonly bpf: Bpf;
  /** Frames delivered to the local stack, in order. */
  readonly stack: Frame[] = [];
  private readonly devices = new Map<number, DevState>();
  private readonly sockets = new Map<number, XskSocket>();
  private readonly host: HelperHost;
  private readonly xdpH: XdpHarness;
  private readonly skbH: SkbHarness;
  private readonly engine: Engine;
  private readonly defaultCpu: number;
  private depth = 0;
  private outcomes: Outcome[] = [];
  /** DEVMAP/CPUMAP entry programs, prepared once each. */
  private readonly entryProgs = new WeakMap<object, PreparedProgram>();

  constructor(bpf: Bpf, options: DatapathOptions = {}) {
    this.bpf = bpf;
    this.engine = options.engine ?? 'jit';
    this.defaultCpu = options.cpu ?? 0;
    // One helper registry for both hooks: the union of the XDP and tc sets, one host whose
    // redirect record the datapath reads after each run (the verifier enforces each type's set).
    this.host = createHelperHost();
    registerProgTypeHelpers(bpf.vm.helpers, BPF_PROG_TYPE_SCHED_CLS, this.host);
    registerProgTypeHelpers(bpf.vm.helpers, BPF_PROG_TYPE_XDP, this.host);
    this.xdpH = new XdpHarness(bpf.vm);
    this.skbH = new SkbHarness(bpf.vm, BPF_PROG_TYPE_SCHED_CLS);
    bpf.mapEnv.xskFromFd = (fd) => this.sockets.has(fd);
    this.addDevice({ name: 'lo', ifindex: 1, mac: new Uint8Array(6) });
  }

  /** A new device; ifindex defaults to the next free one (the kernel's dev_new_index()). */
  addDevice(options: { name: string; ifindex?: number; mac?: Uint8Array }): NetDevice {
    let ifindex = options.ifindex ?? 1;
    if (options.ifindex === undefined) while (this.devices.has(ifindex)) ifindex++;
    if (this.devices.has(ifindex)) throw new BpfError('EEXIST', `device ifindex ${ifindex} exists`);
    if ([...this.devices.values()].some((d) => d.name === options.name)) throw new BpfError('EEXIST', `device ${options.name} exists`);
    const mac = options.mac ?? Uint8Array.from([2, 0, 0, 0, (ifindex >> 8) & 0xff, ifindex & 0xff]);
    if (mac.length !== 6) throw new BpfError('EINVAL', `device ${options.name}: a MAC address has 6 bytes`);
    const dev: DevState = { ifindex, name: options.name, mac, wire: [], stats: newStats(), tcIngress: [], tcEgress: [] };
    this.devices.set(ifindex, dev);
    this.xdpH.state.devices = this.skbH.state.devices = [...this.devices.keys()];
    return dev;
  }

  device(which: number | string): NetDevice {
    return this.dev(which);
  }

  private dev(which: number | string): DevState {
    const d = typeof which === 'number' ? this.devices.get(which) : [...this.devices.values()].find((x) => x.name === which);
    if (!d) throw new BpfError('ENODEV', `no device ${which}`);
    return d;
  }

  private prepare(progFd: number, type: number, what: string): Attached {
    const p = this.bpf.progOf(progFd);
    if (p.type !== type) throw new BpfError('EINVAL', `${what} needs a ${type === BPF_PROG_TYPE_XDP ? 'xdp' : 'sched_cls'} program, prog ${p.id} is type ${p.type}`);
    return { fd: progFd, prog: prepareProgram(this.bpf.vm, this.bpf.progInsns(progFd), this.engine) };
  }

  /** `ip link set dev D xdp fd F` (one program per device; replaces). */
  attachXdp(dev: number | string, progFd: number): void {
    this.dev(dev).xdp = this.prepare(progFd, BPF_PROG_TYPE_XDP, 'XDP');
  }

  detachXdp(dev: number | string): void {
    this.dev(dev).xdp = undefined;
  }

  /** `tc filter add dev D ingress|egress bpf da fd F`: appended after the existing filters. */
  attachTc(dev: number | string, direction: 'ingress' | 'egress', progFd: number): void {
    const d = this.dev(dev);
    (direction === 'ingress' ? d.tcIngress : d.tcEgress).push(this.prepare(progFd, BPF_PROG_TYPE_SCHED_CLS, 'tc'));
  }

  /** socket(AF_XDP) + bind to a device's queue; `fill` umem frames offered on the fill ring. */
  createXsk(options: { dev: number | string; queue?: number; rxRingSize?: number; fill?: number }): XskSocket {
    const d = this.dev(options.dev);
    const s: XskSocket = {
      fd: this.bpf.reserveFd(), ifindex: d.ifindex, queue: options.queue ?? 0, rx: [], rxRingSize: options.rxRingSize ?? 2048,
      fill: options.fill ?? 2048, rxDropped: 0, rxQueueFull: 0,
    };
    this.sockets.set(s.fd, s);
    return s;
  }

  /** A frame arriving on `dev`'s rx queue: the whole receive path. */
  receive(dev: number | string, data: Uint8Array, options: { queue?: number; cpu?: number } = {}): Outcome[] {
    this.outcomes = [];
    const d = this.dev(dev);
    d.stats.rxPackets++;
    this.rxXdp(d, data, options.queue ?? 0, options.cpu ?? this.defaultCpu);
    return this.outcomes;
  }

  /** A frame the local stack sends out of `dev`: tc egress, then the wire. */
  transmit(dev: number | string, data: Uint8Array): Outcome[] {
    this.outcomes = [];
    this.egress(this.dev(dev), data, this.defaultCpu);
    return this.outcomes;
  }

  dispose(): void {
    this.xdpH.dispose();
    this.skbH.dispose();
  }

  private end(kind: Outcome['kind'], d: DevState, by: string, why: string, data?: Uint8Array, cpu = this.defaultCpu): void {
    this.outcomes.push({ kind, ifindex: d.ifindex, by, why });
    if (kind === 'drop') d.stats.drops++;
    if (kind === 'stack' && data) this.stack.push({ data, ifindex: d.ifindex, cpu });
    if (kind === 'wire' && data) { d.wire.push({ data, ifindex: d.ifindex, cpu }); d.stats.txPackets++; }
  }

  private rxXdp(d: DevState, data: Uint8Array, queue: number, cpu: number): void {
    if (!d.xdp) { this.tcIngress(d, data, cpu); return; }
    const h = this.xdpH;
    this.host.redirect = undefined;
    this.host.cpu = cpu;
    h.load(data, d.ifindex, queue);
    const verdict = d.xdp.prog.run(h.ctx.addr);
    const out = h.output().slice();
    switch (verdict) {
      case XDP_PASS: d.stats.xdp.pass++; this.tcIngress(d, out, cpu); return;
      case XDP_TX: d.stats.xdp.tx++; this.end('wire', d, 'xdp', 'XDP_TX', out, cpu); return;
      case XDP_DROP: d.stats.xdp.drop++; this.end('drop', d, 'xdp', 'XDP_DROP'); return;
      case XDP_ABORTED: d.stats.xdp.aborted++; this.end('drop', d, 'xdp', 'XDP_ABORTED'); return;
      case XDP_REDIRECT: d.stats.xdp.redirect++; this.xdpRedirect(d, out, queue, cpu); return;
      default: d.stats.xdp.invalid++; this.end('drop', d, 'xdp', `invalid XDP action ${verdict}`);
    }
  }

  /** xdp_do_redirect(): the target bpf_redirect() or bpf_redirect_map() recorded. */
  private xdpRedirect(d: DevState, data: Uint8Array, queue: number, cpu: number): void {
    const viaMap = this.host.redirect;
    const viaIfindex = this.xdpH.state.redirect;
    this.host.redirect = undefined;
    if (!viaMap) {
      const target = viaIfindex ? this.devices.get(viaIfindex.ifindex) : undefined;
      if (!target) { this.end('drop', d, 'redirect', 'no such device'); return; }
      this.end('wire', target, 'redirect', 'XDP_REDIRECT', data, cpu);
      return;
    }
    const map = viaMap.map;
    const type = map.spec.type;
    if (type === BPF_MAP_TYPE.DEVMAP || type === BPF_MAP_TYPE.DEVMAP_HASH) {
      const keys = viaMap.flags & BPF_F_BROADCAST ? this.targetKeys(map) : [viaMap.key];
      for (const key of keys) {
        const t = (map as TargetArrayMap | DevMapHash).targetAt(key);
        if (!t) continue;
        const target = this.devices.get(t.target);
        if (!target) { this.end('drop', d, 'devmap', 'no such device'); continue; }
        if (viaMap.flags & BPF_F_BROADCAST && viaMap.flags & BPF_F_EXCLUDE_INGRESS && target === d) continue;
        let frame = data.slice();
        if (t.prog) {
          // dev_map_bpf_prog_run(): the entry's program sees ingress and egress ifindex.
          const h = this.xdpH;
          h.load(frame, d.ifindex, queue);
          memoryView(this.bpf.vm).setUint32(h.ctx.addr + XDP_MD_EGRESS_IFINDEX, target.ifindex, true);
          const v = this.entryProg(t.prog).run(h.ctx.addr);
          if (v !== XDP_PASS) { this.end('drop', target, 'devmap', v === XDP_DROP ? 'XDP_DROP' : `devmap program returned ${v}`); continue; }
          frame = h.output().slice();
        }
        this.end('wire', target, 'devmap', 'XDP_REDIRECT', frame, cpu);
      }
      return;
    }
    if (type === BPF_MAP_TYPE.CPUMAP) {
      const t = (map as TargetArrayMap).targetAt(viaMap.key);
      if (!t) { this.end('drop', d, 'cpumap', 'no such entry'); return; }
      const onCpu = viaMap.key;
      let frame = data;
      if (t.prog) {
        const h = this.xdpH;
        h.load(frame, d.ifindex, queue);
        this.host.cpu = onCpu;
        const v = this.entryProg(t.prog).run(h.ctx.addr);
        if (v !== XDP_PASS) { this.end('drop', d, 'cpumap', v === XDP_DROP ? 'XDP_DROP' : `cpumap program returned ${v}`); return; }
        frame = h.output().slice();
      }
      this.tcIngress(d, frame, onCpu);
      return;
    }
    if (type === BPF_MAP_TYPE.XSKMAP) {
      const t = (map as TargetArrayMap).targetAt(viaMap.key);
      const s = t ? this.sockets.get(t.target) : undefined;
      if (!s) { this.end('drop', d, 'xsk', 'no socket'); return; }
      // xsk_rcv_check(): only frames of the device and queue the socket is bound to.
      if (s.ifindex !== d.ifindex || s.queue !== queue) { this.end('drop', d, 'xsk', 'socket bound elsewhere'); return; }
      if (s.fill === 0) { s.rxDropped++; this.end('drop', d, 'xsk', 'fill ring empty'); return; }
      if (s.rx.length >= s.rxRingSize) { s.rxQueueFull++; this.end('drop', d, 'xsk', 'rx ring full'); return; }
      s.fill--;
      s.rx.push({ data, ifindex: d.ifindex, cpu });
      this.end('xsk', d, 'xsk', 'XDP_REDIRECT');
      return;
    }
    this.end('drop', d, 'redirect', `map type ${type} is not a redirect target`);
  }

  private entryProg(ref: ProgRef): PreparedProgram {
    let p = this.entryProgs.get(ref);
    if (!p) { p = prepareProgram(this.bpf.vm, ref.insns, this.engine); this.entryProgs.set(ref, p); }
    return p;
  }

  private targetKeys(map: BpfMap): number[] {
    const keys: number[] = [];
    let k: Uint8Array | undefined;
    for (;;) {
      try { k = map.getNextKey(k); } catch { break; }
      keys.push(new DataView(k.buffer, k.byteOffset, 4).getUint32(0, true));
    }
    return keys;
  }

  private tcIngress(d: DevState, data: Uint8Array, cpu: number): void {
    this.tc(d, data, cpu, 'ingress');
  }

  private egress(d: DevState, data: Uint8Array, cpu: number): void {
    this.tc(d, data, cpu, 'egress');
  }

  /** tcf_classify() over the device's filters in one direction, then what the verdict says. */
  private tc(d: DevState, data: Uint8Array, cpu: number, dir: 'ingress' | 'egress'): void {
    const by = `tc-${dir}`;
    const filters = dir === 'ingress' ? d.tcIngress : d.tcEgress;
    const pass = (frame: Uint8Array): void => {
      if (dir === 'ingress') this.end('stack', d, by, 'TC_ACT_OK', frame, cpu);
      else this.end('wire', d, by, 'TC_ACT_OK', frame, cpu);
    };
    if (filters.length === 0) { pass(data); return; }
    const h = this.skbH;
    let frame = data;
    for (const f of filters) {
      this.host.cpu = cpu;
      h.load(frame, { ingressIfindex: dir === 'ingress' ? d.ifindex : 0, wireLen: frame.length });
      this.fixSkb(d, frame);
      const verdict = f.prog.run(h.ctx.addr, f.prog.usesLdAbs ? h.packet() : undefined) | 0;
      frame = h.output();
      const redirect = h.state.redirect;
      const clones = h.state.clones.splice(0);
      for (const c of clones) this.forward(d, c.ifindex, c.flags, c.data, cpu, 'clone_redirect');
      if (verdict === TC_ACT_UNSPEC) continue;
      switch (verdict) {
        case TC_ACT_OK: case TC_ACT_RECLASSIFY: pass(frame); return;
        case TC_ACT_SHOT: this.end('drop', d, by, 'TC_ACT_SHOT'); return;
        case TC_ACT_REDIRECT:
          if (!redirect) { this.end('drop', d, by, 'TC_ACT_REDIRECT without a target'); return; }
          this.forward(d, redirect.ifindex, redirect.flags, frame, cpu, by);
          return;
        case 4: case 5: case 8: this.end('consumed', d, by, ['TC_ACT_STOLEN', 'TC_ACT_QUEUED', '', '', 'TC_ACT_TRAP'][verdict - 4]); return;
        default: pass(frame); return; // cls_bpf_exec_opcode(): anything else is TC_ACT_UNSPEC: continue
      }
    }
    pass(frame);
  }

  /** skb_do_redirect() / clone: to the target's ingress (BPF_F_INGRESS) or out of it. */
  private forward(from: DevState, ifindex: number, flags: number, frame: Uint8Array, cpu: number, by: string): void {
    const target = this.devices.get(ifindex);
    if (!target) { this.end('drop', from, by, 'no such device'); return; }
    if (this.depth >= XMIT_RECURSION_LIMIT) { this.end('drop', target, by, 'recursion limit'); return; }
    this.depth++;
    try {
      if (flags & BPF_F_INGRESS) { target.stats.rxPackets++; this.tcIngress(target, frame, cpu); } else this.egress(target, frame, cpu);
    } finally {
      this.depth--;
    }
  }

  /** The skb as this device would have it: skb->ifindex, pkt_type against its MAC. */
  private fixSkb(d: DevState, frame: Uint8Array): void {
    const dv = memoryView(this.bpf.vm);
    const c = this.skbH.ctx.addr;
    dv.setUint32(c + SK_BUFF.ifindex, d.ifindex, true);
    let pktType = PACKET_OTHERHOST;
    if (frame.length >= 6) {
      if (frame.subarray(0, 6).every((b) => b === 0xff)) pktType = PACKET_BROADCAST;
      else if (frame[0] & 1) pktType = PACKET_MULTICAST;
      else if (frame.subarray(0, 6).every((b, i) => b === d.mac[i])) pktType = PACKET_HOST;
    }
    dv.setUint32(c + SK_BUFF.pkt_type, pktType, true);
  }
}

/*
 * Virtual devices with XDP and tc hooks (net/datapath.ts): verdicts, XDP_TX, redirects by ifindex
 * and through DEVMAP (entry programs, broadcast), CPUMAP and XSKMAP (AF_XDP sockets and their
 * rings), tc direct-action chains, ingress/egress redirects, clones and the recursion limit.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Bpf } from '../src/kernel/bpf.js';
import { createMap } from '../src/maps/index.js';
import { Datapath } from '../src/net/datapath.js';
import { makeInsn, makeLdImm64, type Insn } from '../src/isa/insn.js';

const ins = makeInsn;
const ret = (v: number): Insn[] => [ins(0xb7, 0, 0, 0, v), ins(0x95)];
const call = (id: number): Insn => ins(0x85, 0, 0, 0, id);
const u32 = (n: number): Uint8Array => new Uint8Array(new Uint32Array([n]).buffer);
const u32pair = (a: number, b: number): Uint8Array => new Uint8Array(new Uint32Array([a, b]).buffer);
const frame = (tag: number, dst = [2, 0, 0, 0, 0, 2]): Uint8Array => Uint8Array.from([...dst, 2, 0, 0, 0, 0, 9, 0x08, 0x00, tag, ...new Array(45).fill(tag)]);

function setup() {
  const bpf = new Bpf({ createMap, nrCpus: 4 });
  const dp = new Datapath(bpf, { engine: 'interp' });
  const eth0 = dp.addDevice({ name: 'eth0' });
  const eth1 = dp.addDevice({ name: 'eth1' });
  const eth2 = dp.addDevice({ name: 'eth2' });
  const xdp = (insns: Insn[], section = 'xdp') => bpf.progLoad({ type: 6, insns, license: 'GPL', name: 'x', section });
  const tc = (insns: Insn[]) => bpf.progLoad({ type: 3, insns, license: 'GPL', name: 't', section: 'tc' });
  const map = (type: number, valueSize: number, name: string) => bpf.mapCreate({ type, keySize: 4, valueSize, maxEntries: 4, flags: 0, name });
  const redirectMap = (fd: number, key: number, flags = 0): Insn[] => [...makeLdImm64(1, BigInt(fd), 1), ins(0xb7, 2, 0, 0, key), ins(0xb7, 3, 0, 0, flags), call(51), ins(0x95)];
  return { bpf, dp, eth0, eth1, eth2, xdp, tc, map, redirectMap };
}

test('XDP verdicts: PASS reaches the stack, TX leaves the same device, DROP/ABORTED/unknown drop', () => {
  const { dp, xdp, eth0 } = setup();
  for (const [v, kind] of [[2, 'stack'], [3, 'wire'], [1, 'drop'], [0, 'drop'], [9, 'drop']] as const) {
    dp.attachXdp('eth0', xdp(ret(v)));
    const out = dp.receive('eth0', frame(v));
    assert.equal(out.length, 1);
    assert.equal(out[0].kind, kind, `verdict ${v}`);
  }
  assert.equal(dp.stack.length, 1);
  assert.equal(eth0.wire.length, 1);
  assert.deepEqual(eth0.wire[0].data, frame(3));
  assert.deepEqual(eth0.stats.xdp, { aborted: 1, drop: 1, pass: 1, tx: 1, redirect: 0, invalid: 1 });
});

test('bpf_redirect(ifindex) from XDP: out of the target device; a missing device drops', () => {
  const { dp, xdp, eth0, eth2 } = setup();
  dp.attachXdp(eth0.ifindex, xdp([ins(0xb7, 1, 0, 0, eth2.ifindex), ins(0xb7, 2, 0, 0, 0), call(23), ins(0x95)]));
  assert.deepEqual(dp.receive('eth0', frame(1)).map((o) => [o.kind, o.ifindex]), [['wire', eth2.ifindex]]);
  assert.deepEqual(eth2.wire[0].data, frame(1));
  dp.attachXdp(eth0.ifindex, xdp([ins(0xb7, 1, 0, 0, 99), ins(0xb7, 2, 0, 0, 0), call(23), ins(0x95)]));
  assert.equal(dp.receive('eth0', frame(2))[0].why, 'no such device');
});

test('DEVMAP: the entry program sees egress_ifindex and may drop; broadcast with BPF_F_EXCLUDE_INGRESS', () => {
  const { bpf, dp, xdp, map, redirectMap, eth0, eth1, eth2 } = setup();
  // Entry program: write egress_ifindex into the first byte; drop frames whose byte 14 is 0x77.
  const entry = xdp([
    ins(0x61, 2, 1, 0), ins(0x61, 3, 1, 4), ins(0xbf, 4, 2), ins(0x07, 4, 0, 0, 15), ins(0x2d, 4, 3, 5),
    ins(0x71, 5, 2, 14), ins(0x15, 5, 0, 4, 0x77), ins(0x61, 5, 1, 20), ins(0x73, 2, 5, 0), ...ret(2), ...ret(1),
  ], 'xdp/devmap');
  const dm = map(14, 8, 'dm');
  bpf.mapOf(dm).map.update(u32(0), u32pair(eth1.ifindex, entry));
  bpf.mapOf(dm).map.update(u32(1), u32pair(eth2.ifindex, 0));
  bpf.mapOf(dm).map.update(u32(2), u32pair(eth0.ifindex, 0));
  dp.attachXdp('eth0', xdp(redirectMap(dm, 0)));
  assert.equal(dp.receive('eth0', frame(5))[0].kind, 'wire');
  assert.equal(eth1.wire[0].data[0], eth1.ifindex, 'the entry program wrote egress_ifindex');
  assert.equal(dp.receive('eth0', frame(0x77))[0].why, 'XDP_DROP');
  // Broadcast to every entry but the receiving device.
  dp.attachXdp('eth0', xdp(redirectMap(dm, 0, (1 << 3) | (1 << 4))));
  const out = dp.receive('eth0', frame(6));
  assert.deepEqual(out.map((o) => [o.kind, o.ifindex]), [['wire', eth1.ifindex], ['wire', eth2.ifindex]]);
  assert.equal(eth0.wire.length, 0);
});

test('CPUMAP: the frame reaches the stack on the entry\'s CPU; XSKMAP: the bound socket, its rings', () => {
  const { bpf, dp, xdp, map, redirectMap, eth0 } = setup();
  const cm = map(16, 4, 'cm');
  bpf.mapOf(cm).map.update(u32(2), u32(192)); // qsize 192 on CPU 2
  dp.attachXdp('eth0', xdp(redirectMap(cm, 2)));
  assert.equal(dp.receive('eth0', frame(1))[0].kind, 'stack');
  assert.equal(dp.stack[0].cpu, 2);
  const xm = map(17, 4, 'xm');
  const sock = dp.createXsk({ dev: 'eth0', queue: 1, fill: 2, rxRingSize: 4 });
  bpf.mapOf(xm).map.update(u32(1), u32(sock.fd));
  assert.throws(() => bpf.mapOf(xm).map.update(u32(0), u32(sock.fd + 100)), /not supported|Operation/i, 'fds that are not sockets are refused');
  dp.attachXdp('eth0', xdp(redirectMap(xm, 1)));
  assert.equal(dp.receive(eth0.ifindex, frame(1), { queue: 1 })[0].kind, 'xsk');
  assert.equal(dp.receive(eth0.ifindex, frame(2), { queue: 0 })[0].why, 'socket bound elsewhere');
  assert.equal(dp.receive(eth0.ifindex, frame(3), { queue: 1 })[0].kind, 'xsk');
  assert.equal(dp.receive(eth0.ifindex, frame(4), { queue: 1 })[0].why, 'fill ring empty');
  assert.deepEqual(sock.rx.map((f) => f.data[14]), [1, 3]);
  assert.equal(sock.rxDropped, 1);
});

test('tc: UNSPEC runs the next filter; redirect to ingress or egress; clones; SHOT; recursion limit', () => {
  const { dp, tc, eth0, eth1, eth2 } = setup();
  const redirect = (ifindex: number, flags: number): Insn[] => [ins(0xb7, 1, 0, 0, ifindex), ins(0xb7, 2, 0, 0, flags), call(23), ins(0x95)];
  dp.attachTc('eth0', 'ingress', tc(ret(-1)));
  dp.attachTc('eth0', 'ingress', tc(redirect(eth1.ifindex, 1))); // to eth1's ingress
  dp.attachTc('eth1', 'ingress', tc(ret(0)));
  assert.deepEqual(dp.receive('eth0', frame(1)).map((o) => [o.kind, o.ifindex, o.by]), [['stack', eth1.ifindex, 'tc-ingress']]);
  // Egress redirect: eth1's egress filter drops, eth2's passes to its wire.
  dp.attachTc('eth1', 'egress', tc(ret(2)));
  dp.attachTc('eth2', 'egress', tc(ret(0)));
  dp.attachTc('eth2', 'ingress', tc(redirect(eth1.ifindex, 0)));
  assert.deepEqual(dp.receive('eth2', frame(2)).map((o) => [o.kind, o.why]), [['drop', 'TC_ACT_SHOT']]);
  assert.equal(dp.transmit('eth2', frame(3))[0].kind, 'wire');
  assert.deepEqual(eth2.wire.map((f) => f.data[14]), [3]);
  // A loop: eth0 ingress -> eth1 ingress -> eth0 ingress ... stops at the recursion limit.
  const { dp: dp2, tc: tc2, eth0: a, eth1: b } = setup();
  dp2.attachTc('eth0', 'ingress', tc2(redirect(b.ifindex, 1)));
  dp2.attachTc('eth1', 'ingress', tc2(redirect(a.ifindex, 1)));
  const loop = dp2.receive('eth0', frame(4));
  assert.deepEqual(loop.map((o) => o.why), ['recursion limit']);
  // bpf_clone_redirect: a copy out of eth2, the original goes on to the stack.
  const { dp: dp3, tc: tc3, eth2: c } = setup();
  dp3.attachTc('eth0', 'ingress', tc3([ins(0xb7, 2, 0, 0, c.ifindex), ins(0xb7, 3, 0, 0, 0), call(13), ...ret(0)]));
  assert.deepEqual(dp3.receive('eth0', frame(5)).map((o) => [o.kind, o.ifindex]), [['wire', c.ifindex], ['stack', 2]]);
});

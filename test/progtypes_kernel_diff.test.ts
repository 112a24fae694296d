/*
 * Differential test against the running kernel: the progtypes fixtures (tc, socket filter, XDP
 * programs built with clang-19 from test/fixtures/progtypes/*.c) are loaded with `bpftool prog
 * load` and run with `bpftool prog run` (data_in, and ctx_in/ctx_out for tc and the flow
 * dissector, whose data_out is struct bpf_flow_keys), then run by bpfkit
 * (`prog run file x.o`); return value, data_out and ctx_out must be identical. The packets cover
 * TCP to port 80 (the rewriter's checksum fix-ups), a longer frame, broadcast/multicast
 * destinations (pkt_type), a non-IP EtherType and the 14-byte minimum.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { missingKernel } from './oracles.js';
import { runCliCaptured } from '../src/cli/main.js';
import { tcpFrame } from './progtypes_packets.js';

const DIR = fileURLToPath(new URL('../../test/fixtures/progtypes/', import.meta.url));

const PACKETS: Record<string, Uint8Array> = {
  tcp80: tcpFrame(),
  tcp80_long: tcpFrame({ payload: 200 }),
  bcast: tcpFrame({ dst: [0xff, 0xff, 0xff, 0xff, 0xff, 0xff], payload: 60 }),
  mcast: tcpFrame({ dst: [0x01, 0, 0x5e, 0, 0, 1], payload: 60, dport: 443 }),
  host: tcpFrame({ dst: [0, 0, 0, 0, 0, 0], payload: 60 }),
  arp: Uint8Array.from([...new Array(12).fill(0xff), 0x08, 0x06, ...new Array(60).fill(7)]),
  llc: Uint8Array.from([2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0, 46, 0xaa, 0xaa, ...new Array(50).fill(3)]),
  min14: Uint8Array.from([2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 8, 0]),
};

/** tc_shape's packets: the selector is the last byte of the source MAC; plain and VLAN-tagged. */
function shapePackets(): Record<string, Uint8Array> {
  const out: Record<string, Uint8Array> = {};
  for (let sel = 0; sel < 10; sel++) {
    const f = tcpFrame({ payload: 40 });
    f[11] = sel;
    out[`shape${sel}`] = f;
    const v = new Uint8Array(f.length + 4);
    v.set(f.subarray(0, 12)); v.set([0x81, 0x00, 0x00, 0x2a], 12); v.set(f.subarray(12), 16);
    out[`shape${sel}_vlan`] = v;
  }
  return out;
}

/** flow_dissect's packets: the common ones, VLAN-tagged, IPv6/UDP, an IPv4 fragment, cut short. */
function dissectPackets(): Record<string, Uint8Array> {
  const vlan = (f: Uint8Array): Uint8Array => Uint8Array.from([...f.subarray(0, 12), 0x81, 0x00, 0x00, 0x07, ...f.subarray(12)]);
  const ip6 = Uint8Array.from([
    2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x86, 0xdd,
    0x60, 0, 0, 0, 0, 8, 17, 64, ...Array.from({ length: 16 }, (_, i) => 0x20 + i), ...Array.from({ length: 16 }, (_, i) => 0x40 + i),
    0x13, 0x88, 0x00, 0x35, 0, 8, 0, 0,
  ]);
  const frag = tcpFrame({ payload: 20 });
  frag[14 + 6] = 0x20; // more fragments
  return {
    ...PACKETS, vlan_tcp: vlan(tcpFrame()), ip6_udp: ip6, vlan_ip6: vlan(ip6), frag, short_ip: tcpFrame().subarray(0, 30),
  };
}

const PROGRAMS: [string, string][] = [
  ['tc_fields', 'classifier'], ['tc_rewrite', 'classifier'], ['socket_len', 'socket'], ['xdp_adjust', 'xdp'], ['tc_shape', 'classifier'],
  ['flow_dissect', 'flow_dissector'],
];

function normalise(out: string): string {
  return out.replace(/duration: \d+ns/, 'duration: 0ns');
}

test('progtypes fixtures: bpfkit prog run gives the kernel\'s retval, data_out and ctx_out', async (t) => {
  const why = missingKernel();
  if (why) { t.skip(why); return; }
  const dir = mkdtempSync(join(tmpdir(), 'bpfkit-progtypes-'));
  const pins: string[] = [];
  try {
    const ctx = new Uint8Array(192);
    const cv = new DataView(ctx.buffer);
    cv.setUint32(8, 0x55, true); // mark
    cv.setUint32(32, 3, true); // priority
    cv.setUint32(36, 1, true); // ingress_ifindex
    cv.setUint32(48, 0xabcdef01, true); // cb[0]
    cv.setBigUint64(152, 123456789n, true); // tstamp
    const ctxFile = join(dir, 'ctx.bin');
    writeFileSync(ctxFile, ctx);
    const flowKeysIn = [[1, 48], [0x10, 48], [5, 0]].map(([v, off], i) => {
      const keys = new Uint8Array(56);
      new DataView(keys.buffer).setUint32(off, v, true);
      const f = join(dir, `keys${i}.bin`);
      writeFileSync(f, keys);
      return f;
    });
    let compared = 0;
    for (const [prog, type] of PROGRAMS) {
      const obj = join(DIR, `${prog}.o`);
      const pin = `/sys/fs/bpf/bpfkit_pt_${prog}_${process.pid}`;
      const load = spawnSync('bpftool', ['prog', 'load', obj, pin, 'type', type], { encoding: 'utf8' });
      assert.equal(load.status, 0, `bpftool prog load ${prog}: ${load.stderr}`);
      pins.push(pin);
      const packets = prog === 'tc_shape' ? shapePackets() : prog === 'flow_dissect' ? dissectPackets() : PACKETS;
      for (const [name, pkt] of Object.entries(packets)) {
        const data = join(dir, `${name}.bin`);
        writeFileSync(data, pkt);
        const extras: string[][] = [[]];
        if (type === 'classifier') extras.push(['ctx_in', ctxFile, 'ctx_out', join(dir, 'ctx_out.bin')]);
        // struct bpf_flow_keys in: flags only (accepted), or another field set / unknown flags (EINVAL).
        if (type === 'flow_dissector') extras.push(...flowKeysIn.map((f) => ['ctx_in', f, 'ctx_out', join(dir, 'ctx_out.bin')]));
        for (const extra of extras) {
          const args = ['prog', 'run', 'pinned', pin, 'data_in', data, 'data_out', '-', ...extra];
          const k = spawnSync('bpftool', args, { encoding: 'utf8' });
          const ctxOut = join(dir, 'ctx_out.bin');
          const kctx = existsSync(ctxOut) ? readFileSync(ctxOut) : undefined;
          rmSync(ctxOut, { force: true });
          const ours = await runCliCaptured(['prog', 'run', 'file', obj, ...args.slice(4)]);
          const octx = existsSync(ctxOut) ? readFileSync(ctxOut) : undefined;
          rmSync(ctxOut, { force: true });
          const what = `${prog} on ${name} ${extra.length ? 'with ctx' : ''}`;
          assert.equal(ours.status, k.status, `${what}: exit status (kernel stderr: ${k.stderr}, ours: ${ours.stderr})`);
          assert.equal(normalise(ours.stdout), normalise(k.stdout), what);
          assert.deepEqual(octx && [...octx], kctx && [...kctx], `${what}: ctx_out`);
          compared++;
        }
      }
    }
    assert.ok(compared >= 40);
  } finally {
    for (const p of pins) rmSync(p, { force: true });
    rmSync(dir, { recursive: true, force: true });
  }
});

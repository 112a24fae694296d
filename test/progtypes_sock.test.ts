/*
 * The test run's socket (bpf_prog_test_run_skb(): skb->sk, a TCP_CLOSE socket with the IP
 * header's family and addresses) read through skb->sk, bpf_sk_fullsock(), bpf_tcp_sock() and
 * bpf_get_listener_sock(), and through __sk_buff's socket fields. Without a kernel: the values
 * the kernel gives, from the packet. Against the running kernel: test/fixtures/progtypes/tc_sock.o
 * (a tc program storing what it reads into the packet) and cg_sock.o (cgroup_skb, into cb[]),
 * loaded and run with bpftool and by bpfkit with both engines; data_out and ctx_out must be equal.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runCliCaptured } from '../src/cli/main.js';
import { findProgram, openObject } from '../src/loader/object.js';
import { testRunSkb } from '../src/progtypes/skb.js';
import { missingKernel } from './oracles.js';
import { tcpFrame } from './progtypes_packets.js';

const DIR = fileURLToPath(new URL('../../test/fixtures/progtypes/', import.meta.url));

const ip6Frame = (): Uint8Array => Uint8Array.from([
  2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x86, 0xdd, 0x60, 0, 0, 0, 0, 108, 17, 64,
  ...Array.from({ length: 16 }, (_, i) => 0x20 + i), ...Array.from({ length: 16 }, (_, i) => 0x40 + i),
  0x13, 0x88, 0, 0x35, 0, 108, 0, 0, ...new Array(100).fill(1),
]);
const PACKETS: Record<string, Uint8Array> = {
  ipv4: tcpFrame({ payload: 120 }),
  ipv6: ip6Frame(),
  arp: Uint8Array.from([...new Array(12).fill(0xff), 0x08, 0x06, ...new Array(120).fill(7)]),
};

const u32s = (b: Uint8Array, at: number, n: number): number[] => Array.from({ length: n }, (_, i) => new DataView(b.buffer, b.byteOffset).getUint32(at + 4 * i, true));
const le32 = (b: Uint8Array, at: number): number => new DataView(b.buffer, b.byteOffset).getUint32(at, true);

test('tc_sock.o without a kernel: the socket fields are the test run socket\'s, in both engines', async () => {
  const insns = findProgram(openObject(readFileSync(join(DIR, 'tc_sock.o')), 'tc_sock.o')).insns;
  for (const engine of ['interp', 'jit'] as const) {
    for (const [name, pkt] of Object.entries(PACKETS)) {
      const r = await testRunSkb({ insns, type: 3, section: 'tc', dataIn: pkt, dataSizeOut: 0, repeat: 1, engine });
      assert.equal(r.retval, 0, `${name} ${engine}: skb->sk is set`);
      const p = u32s(r.dataOut!, 14, 20);
      const v4 = name === 'ipv4', v6 = name === 'ipv6';
      // family, state (TCP_CLOSE), src_ip4 (the IP source), dst_ip4, src_ip6[0], dst_ip6[3], src_port, dst_port, rx_queue_mapping
      assert.deepEqual(p.slice(0, 9), [v4 ? 2 : v6 ? 10 : 0, 7, v4 ? le32(pkt, 26) : 0, v4 ? le32(pkt, 30) : 0,
        v6 ? le32(pkt, 22) : 0, v6 ? le32(pkt, 50) : 0, 0, 0, 0xffffffff], `${name} ${engine}`);
      // a byte of family; a half of dst_ip6[1]; bpf_sk_fullsock() found it; its type, protocol, mark, priority, bound_dev_if are 0
      assert.deepEqual(p.slice(9, 17), [v4 ? 2 : v6 ? 10 : 0, v6 ? le32(pkt, 42) & 0xffff : 0, 1, 0, 0, 0, 0, 0], `${name} ${engine}`);
      // no tcp_sock, no listener
      assert.equal(p[17], 0);
      assert.equal(p[19], 0);
    }
  }
});

test('tc_sock.o and cg_sock.o: bpfkit prog run gives the kernel\'s data_out and ctx_out', async (t) => {
  const why = missingKernel();
  if (why) return t.skip(why);
  const dir = mkdtempSync(join(tmpdir(), 'bpfkit-sock-'));
  const pins: string[] = [];
  try {
    const ctx = join(dir, 'ctx.bin');
    writeFileSync(ctx, new Uint8Array(192));
    let compared = 0;
    for (const [prog, type] of [['tc_sock', 'classifier'], ['cg_sock', 'cgroup/skb']]) {
      const obj = join(DIR, `${prog}.o`);
      const pin = `/sys/fs/bpf/bpfkit_sock_${prog}_${process.pid}`;
      const load = spawnSync('bpftool', ['prog', 'load', obj, pin, 'type', type], { encoding: 'utf8' });
      assert.equal(load.status, 0, `bpftool prog load ${prog}: ${load.stderr}`);
      pins.push(pin);
      for (const [name, pkt] of Object.entries(PACKETS)) {
        const data = join(dir, `${name}.bin`);
        writeFileSync(data, pkt);
        const out = (who: string): string[] => ['data_out', join(dir, `${who}.data`), 'ctx_in', ctx, 'ctx_out', join(dir, `${who}.ctx`)];
        const k = spawnSync('bpftool', ['prog', 'run', 'pinned', pin, 'data_in', data, ...out('kernel')], { encoding: 'utf8' });
        assert.equal(k.status, 0, `bpftool prog run ${prog} ${name}: ${k.stderr}`);
        for (const engine of ['interp', 'jit']) {
          const ours = await runCliCaptured(['prog', 'run', 'file', obj, 'data_in', data, ...out('bpfkit'), 'engine', engine]);
          const what = `${prog} on ${name} (${engine})`;
          assert.equal(ours.status, 0, `${what}: ${ours.stderr}`);
          assert.equal(ours.stdout.replace(/duration: \d+ns/, ''), k.stdout.replace(/duration: \d+ns/, ''), what);
          assert.deepEqual([...readFileSync(join(dir, 'bpfkit.data'))], [...readFileSync(join(dir, 'kernel.data'))], `${what}: data_out`);
          assert.deepEqual([...readFileSync(join(dir, 'bpfkit.ctx'))], [...readFileSync(join(dir, 'kernel.ctx'))], `${what}: ctx_out`);
          compared++;
        }
      }
    }
    assert.equal(compared, 12);
  } finally {
    for (const p of pins) rmSync(p, { force: true });
    rmSync(dir, { recursive: true, force: true });
  }
});

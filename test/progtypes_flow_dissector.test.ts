/*
 * BPF_PROG_TYPE_FLOW_DISSECTOR: context rules (flow_dissector_is_valid_access()), the verifier's
 * struct bpf_flow_keys bounds, and BPF_PROG_TEST_RUN (bpf_prog_test_run_flow_dissector()) on the
 * committed fixture. progtypes_kernel_diff.test.ts compares the same runs with the kernel.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FLOW_DISSECTOR_OPS, FLOW_KEYS, verifierOps } from '../src/progtypes/index.js';
import { verify } from '../src/verifier/verifier.js';
import { makeInsn } from '../src/isa/insn.js';
import { runCliCaptured } from '../src/cli/main.js';
import { tcpFrame } from './progtypes_packets.js';

const OBJ = fileURLToPath(new URL('../../test/fixtures/progtypes/flow_dissect.o', import.meta.url));

test('flow dissector context: data/data_end as u32, flow_keys as u64, nothing else, no writes', () => {
  const ok = (off: number, size: number, write = false) => {
    const a = FLOW_DISSECTOR_OPS.isValidAccess(off, size, write);
    return a.ok ? a.kind : false;
  };
  assert.equal(ok(76, 4), 'pkt');
  assert.equal(ok(80, 4), 'pkt_end');
  assert.equal(ok(144, 8), 'flow_keys');
  assert.equal(ok(76, 2), false);
  assert.equal(ok(144, 4), false);
  assert.equal(ok(0, 4), false, 'len is not readable here');
  assert.equal(ok(8, 4), false, 'mark is not readable here');
  assert.equal(ok(76, 4, true), false);
  assert.equal(ok(192, 4), false);
});

test('verifier: flow keys accesses stay inside struct bpf_flow_keys', () => {
  const run = (off: number, size: number) => {
    const ldx = size === 4 ? 0x61 : 0x79;
    const insns = [makeInsn(0x79, 2, 1, 144), makeInsn(ldx, 0, 2, off), makeInsn(0xb7, 0, 0, 0, 0), makeInsn(0x95)];
    return verify(insns, { progType: 22, progOps: verifierOps(22), logLevel: 1 });
  };
  assert.equal(run(52, 4).ok, true, run(52, 4).log);
  const bad = run(56, 4);
  assert.equal(bad.ok, false);
  assert.match(bad.log, /invalid access to flow keys off=56 size=4/);
  assert.equal(run(52, 8).ok, false);
});

test('test_run: keys filled from ETH_HLEN, offsets clamped, load_bytes without an skb is -EFAULT', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bpfkit-flow-'));
  try {
    const run = async (pkt: Uint8Array, extra: string[] = []) => {
      const f = join(dir, 'in.bin'), out = join(dir, 'out.bin');
      writeFileSync(f, pkt);
      const r = await runCliCaptured(['prog', 'run', 'file', OBJ, 'data_in', f, 'data_out', out, ...extra]);
      return { r, keys: r.status === 0 ? new DataView(Uint8Array.from(readFileSync(out)).buffer) : undefined };
    };
    const { r, keys } = await run(tcpFrame());
    assert.match(r.stdout, /^Return value: 0,/);
    assert.equal(keys!.byteLength, 56);
    assert.equal(keys!.getUint16(FLOW_KEYS.nhoff, true), 14);
    assert.equal(keys!.getUint16(FLOW_KEYS.thoff, true), 34);
    assert.equal(keys!.getUint16(FLOW_KEYS.n_proto, false), 0x0800);
    assert.equal(keys!.getUint8(FLOW_KEYS.ip_proto), 6);
    assert.equal(keys!.getInt32(FLOW_KEYS.flow_label, true), -14);
    // ARP: the program drops before touching offsets; BPF_DROP = 2.
    const arp = Uint8Array.from([...new Array(12).fill(0xff), 0x08, 0x06, ...new Array(30).fill(0)]);
    assert.match((await run(arp)).r.stdout, /^Return value: 2,/);
    // Under 14 bytes: EINVAL before the program runs.
    const short = await run(new Uint8Array(13));
    assert.notEqual(short.r.status, 0);
    assert.match(short.r.stderr, /Invalid argument/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

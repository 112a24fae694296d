/*
 * `prog run pinned PATH` runs a program of the pin store on that kernel's Vm: the program's map
 * is the pinned one (a counter the tc program bumps per run, seen afterwards with `map dump`),
 * the helpers are those of the program's type, and the type decides the test-run semantics.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCliCaptured } from '../src/cli/main.js';
import { setCliKernel } from '../src/cli/map.js';
import { Bpf } from '../src/kernel/bpf.js';
import { PinStore } from '../src/kernel/pin_store.js';
import { MemoryStoreFs } from '../src/kernel/store_fs.js';
import { makeInsn, makeLdImm64 } from '../src/isa/insn.js';
import { createMap } from '../src/maps/index.js';
import { tcpFrame } from './progtypes_packets.js';

test('prog run pinned: a tc program counts into its pinned array map on the kernel\'s Vm', async () => {
  const fs = new MemoryStoreFs();
  setCliKernel(() => new Bpf({ store: new PinStore(fs), createMap, nrCpus: 1 }));
  const dir = mkdtempSync(join(tmpdir(), 'bpfkit-run-stored-'));
  try {
    const k = new Bpf({ store: new PinStore(fs), createMap, nrCpus: 1 });
    const map = k.mapCreate({ type: 2, keySize: 4, valueSize: 8, maxEntries: 1, flags: 0, name: 'counts' });
    // key = 0 on the stack; v = lookup(map, &key); *v += skb->len; return TC_ACT_SHOT
    const insns = [
      makeInsn(0xbf, 6, 1), // r6 = ctx
      makeInsn(0x62, 10, 0, -4, 0), // *(u32 *)(r10 - 4) = 0
      ...makeLdImm64(1, BigInt(map), 1),
      makeInsn(0xbf, 2, 10), makeInsn(0x07, 2, 0, 0, -4),
      makeInsn(0x85, 0, 0, 0, 1), // map_lookup_elem
      makeInsn(0x15, 0, 0, 3, 0), // if r0 == 0 goto out
      makeInsn(0x61, 1, 6, 0), // r1 = skb->len
      makeInsn(0xdb, 0, 1, 0, 0), // lock *(u64 *)(r0 + 0) += r1
      makeInsn(0xb7, 0, 0, 0, 2),
      makeInsn(0x95),
    ];
    const fd = k.progLoad({ type: 3, insns, license: 'GPL', name: 'count_len', section: 'tc' });
    k.objPin(fd, '/sys/fs/bpf/count_len');
    k.objPin(map, '/sys/fs/bpf/counts');
    k.shutdown();
    const data = join(dir, 'pkt.bin');
    const frame = tcpFrame({ payload: 46 });
    writeFileSync(data, frame);
    const r = await runCliCaptured(['prog', 'run', 'pinned', '/sys/fs/bpf/count_len', 'data_in', data, 'repeat', '3']);
    assert.equal(r.stderr, '');
    assert.match(r.stdout, /^Return value: 2, duration \(average\): \d+ns\n$/);
    const dump = await runCliCaptured(['-j', 'map', 'dump', 'pinned', '/sys/fs/bpf/counts']);
    const entries = JSON.parse(dump.stdout) as { key: string[]; value: string[] }[];
    const value = entries[0].value.reduce((acc, b, i) => acc + parseInt(b, 16) * 256 ** i, 0);
    assert.equal(value, 3 * frame.length);
  } finally {
    setCliKernel(undefined);
    rmSync(dir, { recursive: true, force: true });
  }
});

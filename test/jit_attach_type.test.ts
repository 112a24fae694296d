/*
 * expected_attach_type reaches the re-verification behind the JIT's verified tier and the xlated
 * rewrite: an XDP program run by a DEVMAP entry (BPF_XDP_DEVMAP) may read egress_ifindex
 * (xdp_is_valid_access()), so it verifies, runs in the verified tier and dumps with the context
 * load converted; the same instructions loaded as a plain XDP program do not verify (the field
 * is refused), so they run checked and dump as loaded. The attach type survives the pin store.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Bpf } from '../src/kernel/bpf.js';
import { PinStore } from '../src/kernel/pin_store.js';
import { MemoryStoreFs } from '../src/kernel/store_fs.js';
import { xlatedProgram } from '../src/kernel/verify.js';
import { makeInsn } from '../src/isa/insn.js';
import { createMap } from '../src/maps/index.js';
import { isVerified } from '../src/vm/jit/index.js';

const BPF_PROG_TYPE_XDP = 6;
const BPF_XDP_DEVMAP = 33; // enum bpf_attach_type (include/uapi/linux/bpf.h)
/** r0 = ctx->egress_ifindex; exit */
const READ_EGRESS = [makeInsn(0x61, 0, 1, 20), makeInsn(0x95)];

test('devmap XDP program reading egress_ifindex: verified tier and converted xlated dump only with its expected_attach_type', () => {
  const bpf = new Bpf({ createMap });
  const devmap = bpf.progLoad({ type: BPF_PROG_TYPE_XDP, insns: READ_EGRESS, license: 'GPL', name: 'devmap', expectedAttachType: BPF_XDP_DEVMAP });
  assert.equal(bpf.progOf(devmap).expectedAttachType, BPF_XDP_DEVMAP);
  assert.ok(isVerified(bpf.progInsns(devmap)), 'the devmap program runs in the verified tier');
  const x = xlatedProgram(bpf.progOf(devmap));
  assert.ok(x, 'the devmap program has an xlated form');
  // egress_ifindex is xdp_buff->txq->dev->ifindex: the one context load becomes a chain of loads
  assert.ok(x.insns.length > READ_EGRESS.length, `xlated: ${x.insns.length} insns`);
  assert.notDeepEqual(x.insns[0], READ_EGRESS[0]);

  const plain = bpf.progLoad({ type: BPF_PROG_TYPE_XDP, insns: READ_EGRESS, license: 'GPL', name: 'plain' });
  assert.equal(bpf.progOf(plain).expectedAttachType, 0);
  assert.equal(isVerified(bpf.progInsns(plain)), false, 'without the attach type the access is refused: checked tier');
  assert.equal(xlatedProgram(bpf.progOf(plain)), undefined);
});

test('expected_attach_type is kept by the pin store', () => {
  const fs = new MemoryStoreFs();
  const a = new Bpf({ createMap, store: new PinStore(fs) });
  const fd = a.progLoad({ type: BPF_PROG_TYPE_XDP, insns: READ_EGRESS, license: 'GPL', name: 'devmap', expectedAttachType: BPF_XDP_DEVMAP });
  a.objPin(fd, '/sys/fs/bpf/devmap_prog');
  a.shutdown();
  const b = new Bpf({ createMap, store: new PinStore(fs) });
  const again = b.objGet('/sys/fs/bpf/devmap_prog');
  assert.equal(b.progOf(again).expectedAttachType, BPF_XDP_DEVMAP);
  assert.ok(isVerified(b.progInsns(again)), 'the reloaded program still runs in the verified tier');
});

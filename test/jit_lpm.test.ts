/*
 * The IPv4 LPM trie's stride table (maps/lpm_table.ts) and the JIT's inline lookup on it: under
 * random updates, replacements and deletes (prefixes /0 to /32, nested and overlapping), every
 * /32 query gives the value the trie gives, read both as the wasm does (three table loads) and
 * through a compiled program (inline lookup) against the interpreter (the map's own lookup).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type Insn, makeInsn, makeLdImm64 } from '../src/isa/insn.js';
import { createMap } from '../src/maps/index.js';
import type { LpmTrieMap } from '../src/maps/lpm_trie.js';
import { BPF_MAP_TYPE, type BpfMap } from '../src/maps/types.js';
import { vmForType } from '../src/progtypes/register.js';
import { interpret } from '../src/vm/interpreter.js';
import { compileJit } from '../src/vm/jit/index.js';
import type { Vm } from '../src/vm/vm.js';

const BPF_PROG_TYPE_XDP = 6;
const BPF_F_NO_PREALLOC = 1;

function xorshift(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    return x;
  };
}

function key(prefixlen: number, addr: number): Uint8Array {
  return new Uint8Array([prefixlen, 0, 0, 0, addr >>> 24, (addr >>> 16) & 255, (addr >>> 8) & 255, addr & 255]);
}

/** The table walk the JIT emits, in JS over the VM memory. */
function tableLookup(vm: Vm, l1: number, addr: number): number {
  const u32 = new Uint32Array(vm.space.memory.buffer);
  let c = u32[(l1 >>> 2) + (addr >>> 16)];
  if (c & 1) c = u32[((c - 1) >>> 2) + ((addr >>> 8) & 255)];
  if (c & 1) c = u32[((c - 1) >>> 2) + (addr & 255)];
  return c;
}

function setup(): { vm: Vm; map: BpfMap; keyAddr: number } {
  const vm = vmForType(BPF_PROG_TYPE_XDP);
  const map = createMap({ space: vm.space, nrCpus: 1 }, {
    type: BPF_MAP_TYPE.LPM_TRIE, keySize: 8, valueSize: 8, maxEntries: 512, flags: BPF_F_NO_PREALLOC, name: 'deny',
  });
  return { vm, map, keyAddr: vm.space.alloc(8, 'key').addr };
}

/** Random changes: mostly inside 10.0.0.0/8 so prefixes nest; some /0../8 and whole-space ones. */
function mutate(map: BpfMap, next: () => number, live: Map<string, Uint8Array>): void {
  const r = next();
  if (r % 4 === 0 && live.size > 0) { // delete one
    const keys = [...live.keys()];
    const k = keys[next() % keys.length];
    map.delete(live.get(k)!);
    live.delete(k);
    return;
  }
  const len = r % 11 === 0 ? next() % 9 : 8 + (next() % 25);
  const raw = r % 11 === 0 ? next() : (0x0a000000 | (next() & 0x00ffffff)) >>> 0;
  const addr = len === 0 ? 0 : (raw & (0xffffffff << (32 - len))) >>> 0;
  const k = key(len, addr);
  const value = new Uint8Array(8);
  new DataView(value.buffer).setUint32(0, next(), true);
  map.update(k, value, 0); // new or replaced (a replaced prefix's value moves)
  live.set(`${len}/${addr}`, k);
}

function probes(next: () => number, live: Map<string, Uint8Array>): number[] {
  const out: number[] = [];
  for (const k of live.values()) { // the edges of every prefix
    const addr = ((k[4] << 24) | (k[5] << 16) | (k[6] << 8) | k[7]) >>> 0;
    const span = k[0] === 0 ? 0xffffffff : k[0] === 32 ? 0 : (0xffffffff >>> k[0]);
    out.push(addr, (addr + span) >>> 0, (addr - 1) >>> 0, (addr + span + 1) >>> 0);
  }
  for (let i = 0; i < 64; i++) out.push(i % 2 ? next() : (0x0a000000 | (next() & 0xffffff)) >>> 0);
  return out;
}

test('LPM stride table: every /32 query equals the trie under random updates, replacements and deletes', () => {
  const { vm, map, keyAddr } = setup();
  const l1 = (map as LpmTrieMap).ipv4Table();
  assert.ok(l1 !== undefined);
  const next = xorshift(0x5eed);
  const live = new Map<string, Uint8Array>();
  const mem = () => new Uint8Array(vm.space.memory.buffer);
  for (let round = 0; round < 300; round++) {
    mutate(map, next, live);
    if (round % 10 !== 9) continue;
    for (const a of probes(next, live)) {
      mem().set(key(32, a), keyAddr);
      assert.equal(tableLookup(vm, l1, a), map.lookupElem(keyAddr, 0), `round ${round}, address 0x${a.toString(16)}`);
    }
  }
  // emptied: nothing matches any more, and the subtables went back to the pool
  for (const k of live.values()) map.delete(k);
  for (const a of probes(next, live)) assert.equal(tableLookup(vm, l1, a), 0);
});

test('JIT inline LPM lookup == the interpreter, /32 keys inline and other prefix lengths through the helper', () => {
  const { vm, map, keyAddr } = setup();
  // the key (at r1) copied to the stack, as programs build it; r0 = lookup(map, key): the value address, or 0
  const prog: Insn[] = [
    makeInsn(0x79, 3, 1, 0), makeInsn(0x7b, 10, 3, -8), makeInsn(0xbf, 2, 10), makeInsn(0x07, 2, 0, 0, -8),
    ...makeLdImm64(1, BigInt(map.handleAddr)), makeInsn(0x85, 0, 0, 0, 1), makeInsn(0x95),
  ];
  const jit = compileJit(vm, prog);
  assert.equal(jit.inlinedLookups, 1);
  const next = xorshift(77);
  const live = new Map<string, Uint8Array>();
  const mem = () => new Uint8Array(vm.space.memory.buffer);
  for (let round = 0; round < 120; round++) {
    mutate(map, next, live);
    for (const a of probes(next, live).slice(-24)) {
      const len = round % 5 === 0 ? next() % 40 : 32; // (lengths above 32 too: as the kernel, matched up to 32)
      mem().set(key(len, a), keyAddr);
      const want = interpret(vm, prog, { args: [BigInt(keyAddr)] }).r0;
      assert.equal(BigInt(jit.runCtx(keyAddr)), want, `round ${round}: ${len}/0x${a.toString(16)}`);
    }
  }
});

/*
 * The JIT's helper paths against the reference interpreter: bpf_map_lookup_elem inlined on ARRAY
 * and PERCPU_ARRAY maps known at the call site, the number forms of lookup/update/delete (hash
 * maps, arrays reached through a register), ktime, prandom and smp_processor_id, and the BigInt
 * fall-backs (bad map pointer, key outside memory, a clock above 2^53). Random programs run on two
 * VMs built identically (same maps at the same addresses, same seeded host); r0, instruction
 * count, errors, every region's bytes and every map's contents must be identical.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHelperHost, registerHelpers } from '../src/helpers/index.js';
import { type Insn, makeInsn, makeLdImm64 } from '../src/isa/insn.js';
import { createMap } from '../src/maps/index.js';
import { BPF_MAP_TYPE, type BpfMap } from '../src/maps/types.js';
import { interpret } from '../src/vm/interpreter.js';
import { compileJit, runJit } from '../src/vm/jit/index.js';
import { Vm } from '../src/vm/vm.js';
import { rng } from './vm_random_lib.js';
import { attempt } from './jit_lib.js';

const NR_CPUS = 4;
const ARRAY_ENTRIES = 16;

interface World {
  vm: Vm;
  maps: BpfMap[];
  arr: number;
  pcpu: number;
  hash: number;
  /** A region holding keys (a key pointer outside the frame). */
  keys: number;
  /** Calls of each helper's number form (JIT side). */
  fastCalls: Map<number, number>;
}

function world(clock: () => bigint): World {
  const vm = new Vm();
  registerHelpers(vm.helpers, createHelperHost({ seed: 7, cpu: 2, clockNs: clock }));
  const env = { space: vm.space, nrCpus: NR_CPUS };
  const arr = createMap(env, { type: BPF_MAP_TYPE.ARRAY, keySize: 4, valueSize: 12, maxEntries: ARRAY_ENTRIES, flags: 0, name: 'arr' });
  const pcpu = createMap(env, { type: BPF_MAP_TYPE.PERCPU_ARRAY, keySize: 4, valueSize: 8, maxEntries: 8, flags: 0, name: 'pcpu' });
  const hash = createMap(env, { type: BPF_MAP_TYPE.HASH, keySize: 4, valueSize: 8, maxEntries: 6, flags: 0, name: 'hash' });
  const keys = vm.space.alloc(16, 'keys').addr;
  vm.space.write(keys, Uint8Array.of(3, 0, 0, 0, 40, 0, 0, 0, 5, 0, 0, 0, 1, 0, 0, 0));
  const fastCalls = new Map<number, number>();
  const getFast = vm.helpers.getFast.bind(vm.helpers);
  vm.helpers.getFast = (id) => {
    const fn = getFast(id);
    return fn && ((...args: Parameters<typeof fn>) => {
      fastCalls.set(id, (fastCalls.get(id) ?? 0) + 1);
      return fn(...args);
    });
  };
  return { vm, maps: [arr, pcpu, hash], arr: arr.handleAddr, pcpu: pcpu.handleAddr, hash: hash.handleAddr, keys, fastCalls };
}

function counterClock(base: bigint): () => bigint {
  let t = base;
  return () => (t += 1000n);
}

function dump(map: BpfMap): string[] {
  const out: string[] = [];
  let key: Uint8Array | undefined;
  for (;;) {
    try {
      key = map.getNextKey(key);
    } catch {
      return out;
    }
    out.push(`${[...key].join(',')}=${[...map.lookup(key)].join(',')}`);
  }
}

function sameState(a: World, b: World): string | undefined {
  const ra = a.vm.space.list();
  const rb = b.vm.space.list();
  if (ra.length !== rb.length) return `region count ${ra.length} vs ${rb.length}`;
  for (let i = 0; i < ra.length; i++) {
    const x = a.vm.space.bytes(ra[i]);
    const y = b.vm.space.bytes(rb[i]);
    for (let j = 0; j < x.length; j++) if (x[j] !== y[j]) return `region ${ra[i].name} byte ${j}: ${x[j]} vs ${y[j]}`;
  }
  for (let m = 0; m < a.maps.length; m++) {
    assert.deepEqual(dump(b.maps[m]), dump(a.maps[m]), `map ${a.maps[m].spec.name}`);
  }
  return undefined;
}

/** key (u32 at fp-4) = r7 masked: indices past the end now and then. */
const setKey = (mask: number): Insn[] => [makeInsn(0xbf, 3, 7), makeInsn(0x57, 3, 0, 0, mask), makeInsn(0x63, 10, 3, -4)];
/** if r0 == 0 skip; *(u64 *)r0 += r8; r8 += *(u32 *)r0 */
const useValue: Insn[] = [
  makeInsn(0x15, 0, 0, 4, 0), makeInsn(0x79, 3, 0, 0), makeInsn(0x0f, 3, 8), makeInsn(0x7b, 0, 3, 0), makeInsn(0x61, 4, 0, 0), // 5 insns: skip 4
];

function generate(rand: () => number, w: World): Insn[] {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  const body: Insn[] = [];
  const ops = 2 + Math.floor(rand() * 8);
  for (let n = 0; n < ops; n++) {
    const roll = rand();
    if (roll < 0.3) { // lookup on an array known at the call site: inlined
      const pcpu = rand() < 0.3;
      body.push(...setKey(pcpu ? 15 : 31), ...makeLdImm64(1, BigInt(pcpu ? w.pcpu : w.arr)));
      body.push(makeInsn(0xbf, 2, 10), makeInsn(0x07, 2, 0, 0, -4), makeInsn(0x85, 0, 0, 0, 1), ...useValue);
    } else if (roll < 0.38) { // array lookup through a register (the number form), or a key outside the frame
      const viaReg = rand() < 0.5;
      if (viaReg) body.push(...makeLdImm64(9, BigInt(w.arr)), makeInsn(0xbf, 1, 9));
      else body.push(...makeLdImm64(1, BigInt(w.arr)));
      if (rand() < 0.5) body.push(...setKey(31), makeInsn(0xbf, 2, 10), makeInsn(0x07, 2, 0, 0, -4));
      else body.push(...makeLdImm64(2, BigInt(w.keys + 4 * Math.floor(rand() * 4))));
      body.push(makeInsn(0x85, 0, 0, 0, 1), ...useValue);
    } else if (roll < 0.55) { // hash update (flags: ANY, NOEXIST, EXIST, invalid)
      body.push(...setKey(7), makeInsn(0x7b, 10, 8, -16), ...makeLdImm64(1, BigInt(w.hash)));
      body.push(makeInsn(0xbf, 2, 10), makeInsn(0x07, 2, 0, 0, -4), makeInsn(0xbf, 3, 10), makeInsn(0x07, 3, 0, 0, -16));
      body.push(makeInsn(0xb7, 4, 0, 0, pick([0, 0, 1, 2, 5])), makeInsn(0x85, 0, 0, 0, 2), makeInsn(0x0f, 8, 0));
    } else if (roll < 0.65) { // hash lookup
      body.push(...setKey(7), ...makeLdImm64(1, BigInt(w.hash)), makeInsn(0xbf, 2, 10), makeInsn(0x07, 2, 0, 0, -4));
      body.push(makeInsn(0x85, 0, 0, 0, 1), ...useValue);
    } else if (roll < 0.72) { // hash delete
      body.push(...setKey(7), ...makeLdImm64(1, BigInt(w.hash)), makeInsn(0xbf, 2, 10), makeInsn(0x07, 2, 0, 0, -4));
      body.push(makeInsn(0x85, 0, 0, 0, 3), makeInsn(0x0f, 8, 0));
    } else if (roll < 0.82) { // prandom: the next keys
      body.push(makeInsn(0x85, 0, 0, 0, 7), makeInsn(0xbf, 7, 0));
    } else if (roll < 0.9) {
      body.push(makeInsn(0x85, 0, 0, 0, 5), makeInsn(0x0f, 8, 0)); // ktime_get_ns
    } else if (roll < 0.96) {
      body.push(makeInsn(0x85, 0, 0, 0, 8), makeInsn(0x0f, 8, 0)); // smp_processor_id
    } else if (roll < 0.98) { // not a map: EINVAL from the helper
      body.push(...makeLdImm64(1, BigInt(w.hash + 8)), makeInsn(0xbf, 2, 10), makeInsn(0x07, 2, 0, 0, -4), makeInsn(0x85, 0, 0, 0, 1));
    } else { // key outside memory: EFAULT from the helper
      body.push(...makeLdImm64(1, BigInt(w.arr)), makeInsn(0xb7, 2, 0, 0, 16), makeInsn(0x85, 0, 0, 0, 1));
    }
  }
  const iterations = 1 + Math.floor(rand() * 12);
  const out: Insn[] = [makeInsn(0xb7, 6, 0, 0, 0), makeInsn(0xb7, 7, 0, 0, 1), makeInsn(0xb7, 8, 0, 0, 0), ...body];
  out.push(makeInsn(0x07, 6, 0, 0, 1), makeInsn(0xa5, 6, 0, -(body.length + 2), iterations)); // loop while r6 < n
  out.push(makeInsn(0xbf, 0, 8), makeInsn(0x95));
  return out;
}

function listing(insns: readonly Insn[]): string {
  return insns.map((x, i) => `${i}: ${x.code.toString(16)} d${x.dst} s${x.src} off ${x.off} imm ${x.imm}`).join('\n');
}

function campaign(seed: number, clockBase: bigint, programs: number): { inlined: number; fast: Map<number, number> } {
  const a = world(counterClock(clockBase));
  const b = world(counterClock(clockBase));
  const rand = rng(seed);
  let inlined = 0;
  for (let n = 0; n < programs; n++) {
    const insns = generate(rand, a);
    const want = attempt(() => interpret(a.vm, insns, { args: [0n] }));
    const got = attempt(() => runJit(b.vm, insns, { args: [0n] }));
    const where = `program ${n}\n${listing(insns)}`;
    assert.deepEqual(got, want, where);
    const diff = sameState(a, b);
    if (diff !== undefined) assert.fail(`${diff}\n${where}`);
    inlined += compileJit(b.vm, insns).inlinedLookups;
  }
  return { inlined, fast: b.fastCalls };
}

test('map helpers, ktime, prandom, cpu: JIT == interpreter (r0, count, errors, memory, map contents)', () => {
  const { inlined, fast } = campaign(0x8e1, 1_000_000_000n, 300);
  // the paths under test were taken: inlined array lookups, number forms of every hot helper
  assert.ok(inlined > 100, `inlined lookups: ${inlined}`);
  for (const id of [1, 2, 3, 5, 7, 8]) assert.ok((fast.get(id) ?? 0) > 0, `fast form of helper ${id} used`);
});

test('a helper result above 2^53 (a clock near 2^64) comes back exact through the fast path', () => {
  campaign(0x8e2, (1n << 64n) - 1_000_000_000n, 60);
  const w = world(() => (1n << 63n) + 12345n);
  const insns = [makeInsn(0x85, 0, 0, 0, 5), makeInsn(0x95)];
  assert.equal(runJit(w.vm, insns).r0, (1n << 63n) + 12345n);
});

test('inlined ARRAY / PERCPU_ARRAY lookups give the element address (this CPU), 0 past the end', () => {
  const w = world(counterClock(0n));
  const arrMap = w.maps[0];
  const pcpuMap = w.maps[1];
  for (const [map, handle, index] of [[arrMap, w.arr, 5], [arrMap, w.arr, ARRAY_ENTRIES], [pcpuMap, w.pcpu, 3], [pcpuMap, w.pcpu, 8]] as const) {
    const insns = [
      makeInsn(0x62, 10, 0, -4, index), ...makeLdImm64(1, BigInt(handle)), makeInsn(0xbf, 2, 10), makeInsn(0x07, 2, 0, 0, -4),
      makeInsn(0x85, 0, 0, 0, 1), makeInsn(0x95),
    ];
    const jit = compileJit(w.vm, insns);
    assert.equal(jit.inlinedLookups, 1);
    const r0 = jit.run().r0;
    const arr = map as unknown as { elemAddr(i: number, cpu: number): number };
    assert.equal(r0, index < map.spec.maxEntries ? BigInt(arr.elemAddr(index, 2)) : 0n, `${map.spec.name}[${index}]`);
    assert.equal(r0, interpret(w.vm, insns).r0);
  }
});

test('a replaced map_lookup_elem is not inlined (the registry decides)', () => {
  const w = world(counterClock(0n));
  const insns = [makeInsn(0x62, 10, 0, -4, 1), ...makeLdImm64(1, BigInt(w.arr)), makeInsn(0xbf, 2, 10), makeInsn(0x07, 2, 0, 0, -4), makeInsn(0x85, 0, 0, 0, 1), makeInsn(0x95)];
  w.vm.helpers.register(1, 'custom', () => 42n);
  const jit = compileJit(w.vm, insns);
  assert.equal(jit.inlinedLookups, 0);
  assert.equal(jit.run().r0, 42n);
});

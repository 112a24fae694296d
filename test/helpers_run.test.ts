/*
 * Helpers through the interpreter: programs that call map helpers with r1 = a map handle
 * (ld_imm64 src 0 with the handle address, until the loader resolves src 1), tail calls and their
 * 33-call limit, bpf_loop and bpf_for_each_map_elem callbacks (ld_imm64 BPF_PSEUDO_FUNC resolved
 * by resolvePseudoFunc), ring buffer and perf outputs, trace_printk into the trace buffer,
 * probe reads over host regions, strtol/strtoul, redirect_map, spin locks; plus the table itself
 * (ids, names, prototypes) and the host's deterministic clock/random/task.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BpfError } from '../src/errors.js';
import {
  HELPERS, type HelperHost, createHelperHost, fixedClock, formatProto, formatTraceLine, helperDef, registerHelpers,
  resolvePseudoFunc, unknownHelperMessage, virtualClock,
} from '../src/helpers/index.js';
import { helperFuncName } from '../src/isa/disasm_xlated.js';
import { type Insn, makeLdImm64 } from '../src/isa/insn.js';
import { BPF_ADD, BPF_JEQ, BPF_JNE } from '../src/isa/opcodes.js';
import {
  BPF_F_NO_PREALLOC, BPF_MAP_TYPE as T, type BpfMap, FdArrayMap, type MapSpec, RingbufMap, createMap,
} from '../src/maps/index.js';
import { interpret } from '../src/vm/interpreter.js';
import { Vm } from '../src/vm/vm.js';
import {
  R0, R1, R2, R3, R4, R5, R6, R10, alu64K, atomic, call, callLocal, exit, jmpK, lddw, ldx, mov64, mov64X, prog, st, stx,
} from './vm_build.js';

const FN = (name: string): number => {
  const d = HELPERS.find((h) => h.name === `bpf_${name}`);
  assert.ok(d, name);
  return d.id;
};
const u32 = (n: number): Uint8Array => { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, n >>> 0, true); return b; };
const u64 = (n: bigint): Uint8Array => { const b = new Uint8Array(8); new DataView(b.buffer).setBigUint64(0, n, true); return b; };
const rdU32 = (b: Uint8Array, off = 0): number => new DataView(b.buffer, b.byteOffset).getUint32(off, true);
const rdU64 = (b: Uint8Array, off = 0): bigint => new DataView(b.buffer, b.byteOffset).getBigUint64(off, true);
const neg = (n: number): bigint => BigInt.asUintN(64, BigInt(-n));

interface Setup { vm: Vm; host: HelperHost; map(s: MapSpec): BpfMap; run(insns: readonly Insn[], args?: bigint[]): bigint }

function setup(hostOptions: Parameters<typeof createHelperHost>[0] = {}): Setup {
  const vm = new Vm();
  const host = registerHelpers(vm.helpers, createHelperHost({ clockNs: virtualClock(), seed: 1, ...hostOptions }));
  return {
    vm, host,
    map: (s) => createMap({ space: vm.space, nrCpus: 4 }, s),
    run: (insns, args) => interpret(vm, insns, { args }).r0,
  };
}

/** r1 = map handle, r2 = &key (a u32 at r10-4 set to `key`). */
const mapAndKey = (m: BpfMap, key: number): Insn[] => prog(
  st(4, R10, -4, key), mov64X(R2, R10), alu64K(BPF_ADD, R2, -4), lddw(R1, BigInt(m.handleAddr)));

/** Bytes on the stack at r10+off (off negative, 8-aligned chunks). */
function stackBytes(off: number, bytes: Uint8Array): Insn[] {
  const out: Insn[] = [];
  const padded = new Uint8Array(Math.ceil(bytes.length / 8) * 8);
  padded.set(bytes);
  for (let i = 0; i < padded.length; i += 8) out.push(...lddw(R6, rdU64(padded, i)), stx(8, R10, off + i, R6));
  return out;
}

function callHelper(s: Setup, name: string, ...args: bigint[]): bigint {
  const h = s.vm.helpers.get(FN(name))!;
  return BigInt.asUintN(64, h.fn({ vm: s.vm, pc: 0 }, args[0] ?? 0n, args[1] ?? 0n, args[2] ?? 0n, args[3] ?? 0n, args[4] ?? 0n));
}

// ---- the table ----

test('helper table: kernel ids and names agree, prototypes as the kernel declares them', () => {
  const ids = new Set<number>();
  for (const d of HELPERS) {
    assert.equal(helperFuncName(d.id), d.name);
    assert.ok(!ids.has(d.id), `duplicate ${d.name}`);
    ids.add(d.id);
  }
  assert.equal(FN('map_lookup_elem'), 1);
  assert.equal(FN('tail_call'), 12);
  assert.equal(FN('loop'), 181);
  assert.equal(formatProto('bpf_map_lookup_elem', helperDef(1)!.proto),
    'RET_PTR_TO_MAP_VALUE | PTR_MAYBE_NULL bpf_map_lookup_elem(ARG_CONST_MAP_PTR, ARG_PTR_TO_MAP_KEY)');
  assert.equal(formatProto('bpf_trace_printk', helperDef(6)!.proto), 'RET_INTEGER bpf_trace_printk(ARG_PTR_TO_MEM | MEM_RDONLY, ARG_CONST_SIZE)');
  assert.equal(helperDef(6)!.proto.gplOnly, true);
  assert.equal(helperDef(FN('ringbuf_reserve'))!.proto.ret.flags.join(','), 'PTR_MAYBE_NULL,MEM_RINGBUF');
  assert.equal(helperDef(FN('strtol'))!.proto.args[3].size, 8);
  assert.equal(helperDef(FN('loop'))!.proto.callbackArg, 1);
  for (const name of ['map_update_elem', 'map_delete_elem', 'map_push_elem', 'map_pop_elem', 'map_peek_elem', 'ktime_get_ns',
    'ktime_get_boot_ns', 'ktime_get_coarse_ns', 'jiffies64', 'get_prandom_u32', 'get_smp_processor_id', 'get_numa_node_id',
    'snprintf', 'ringbuf_output', 'ringbuf_submit', 'ringbuf_discard', 'ringbuf_query', 'perf_event_output', 'spin_lock',
    'spin_unlock', 'get_current_pid_tgid', 'get_current_uid_gid', 'get_current_comm', 'probe_read_kernel', 'probe_read_user',
    'probe_read_kernel_str', 'probe_read_user_str', 'strtol', 'strtoul', 'redirect_map']) FN(name);
});

test('unknown helpers: the kernel\'s messages', () => {
  const s = setup();
  assert.throws(() => s.run(prog(call(9999), exit())), (e: unknown) => e instanceof BpfError && e.message === 'invalid func unknown#9999 (insn #0)');
  assert.equal(unknownHelperMessage(9999), 'invalid func unknown#9999');
  assert.equal(unknownHelperMessage(9), 'unknown func bpf_skb_store_bytes#9');
});

// ---- map helpers from programs ----

test('map_lookup_elem + atomic add: a counter in an array map', () => {
  const s = setup();
  const m = s.map({ type: T.ARRAY, keySize: 4, valueSize: 8, maxEntries: 4, flags: 0 });
  const insns = prog(mapAndKey(m, 2), call(1), jmpK(BPF_JEQ, R0, 0, 2), mov64(R1, 5), atomic(8, BPF_ADD, R0, 0, R1),
    mov64(R0, 0), exit());
  for (let i = 0; i < 3; i++) s.run(insns);
  assert.equal(rdU64(m.lookup(u32(2))), 15n);
  // out of range: NULL
  assert.equal(s.run(prog(mapAndKey(m, 4), call(1), exit())), 0n);
});

test('map_update_elem / map_delete_elem from a program; errors as negative returns', () => {
  const s = setup();
  const m = s.map({ type: T.HASH, keySize: 4, valueSize: 8, maxEntries: 1, flags: 0 });
  const update = (key: number, flags: number): Insn[] => prog(st(4, R10, -4, key), st(8, R10, -16, key * 100),
    mov64X(R2, R10), alu64K(BPF_ADD, R2, -4), mov64X(R3, R10), alu64K(BPF_ADD, R3, -16), mov64(R4, flags),
    lddw(R1, BigInt(m.handleAddr)), call(2), exit());
  assert.equal(s.run(update(7, 0)), 0n);
  assert.equal(rdU64(m.lookup(u32(7))), 700n);
  assert.equal(s.run(update(7, 1)), neg(17)); // BPF_NOEXIST: -EEXIST
  assert.equal(s.run(update(8, 0)), neg(7)); // full: -E2BIG
  assert.equal(s.run(prog(mapAndKey(m, 8), call(3), exit())), neg(2));
  assert.equal(s.run(prog(mapAndKey(m, 7), call(3), exit())), 0n);
  assert.throws(() => s.run(prog(lddw(R1, 0x12345n), call(1), exit())), /bpf_map_lookup_elem: r1 0x12345 is not a map/);
});

test('map_push/pop/peek_elem on a stack from a program', () => {
  const s = setup();
  const m = s.map({ type: T.STACK, keySize: 0, valueSize: 8, maxEntries: 4, flags: 0 });
  const push = (v: number): Insn[] => prog(st(8, R10, -8, v), mov64X(R2, R10), alu64K(BPF_ADD, R2, -8), mov64(R3, 0),
    lddw(R1, BigInt(m.handleAddr)), call(FN('map_push_elem')));
  const pop = (fn: string): Insn[] => prog(mov64X(R2, R10), alu64K(BPF_ADD, R2, -8), lddw(R1, BigInt(m.handleAddr)), call(FN(fn)),
    jmpK(BPF_JNE, R0, 0, 1), ldx(8, R0, R10, -8), exit());
  s.run(prog(push(1), push(2), push(3), mov64(R0, 0), exit()));
  assert.equal(s.run(pop('map_peek_elem')), 3n);
  assert.equal(s.run(pop('map_pop_elem')), 3n);
  assert.equal(s.run(pop('map_pop_elem')), 2n);
  assert.equal(s.run(pop('map_pop_elem')), 1n);
  assert.equal(s.run(pop('map_pop_elem')), neg(2));
});

test('per-CPU maps: lookups use the host\'s CPU; map_lookup_percpu_elem picks one', () => {
  const s = setup();
  const m = s.map({ type: T.PERCPU_ARRAY, keySize: 4, valueSize: 8, maxEntries: 1, flags: 0 });
  const inc = prog(mapAndKey(m, 0), call(1), jmpK(BPF_JEQ, R0, 0, 2), mov64(R1, 1), atomic(8, BPF_ADD, R0, 0, R1), mov64(R0, 0), exit());
  for (const cpu of [0, 2, 2, 3]) {
    s.host.cpu = cpu;
    s.run(inc);
  }
  const v = m.lookup(u32(0));
  assert.deepEqual([0, 8, 16, 24].map((o) => rdU64(v, o)), [1n, 0n, 2n, 1n]);
  const peek = (cpu: number): Insn[] => prog(mapAndKey(m, 0), mov64(R3, cpu), call(FN('map_lookup_percpu_elem')),
    jmpK(BPF_JEQ, R0, 0, 1), ldx(8, R0, R0, 0), exit());
  assert.equal(s.run(peek(2)), 2n);
  assert.equal(s.run(peek(4)), 0n); // no such CPU: NULL
  assert.equal(s.run(prog(mov64(R0, 0), call(FN('get_smp_processor_id')), exit())), 3n);
});

test('map-in-map: the outer lookup gives the inner map\'s handle, usable as r1 of the next lookup', () => {
  const s = setup();
  const inner = s.map({ type: T.ARRAY, keySize: 4, valueSize: 8, maxEntries: 2, flags: 0 });
  inner.update(u32(1), u64(4242n));
  const outer = createMap({ space: s.vm.space, nrCpus: 4, mapFromFd: (fd) => (fd === 3 ? inner : undefined) },
    { type: T.HASH_OF_MAPS, keySize: 4, valueSize: 4, maxEntries: 4, flags: 0, innerMap: inner });
  outer.update(u32(9), u32(3));
  const insns = prog(mapAndKey(outer, 9), call(1), jmpK(BPF_JEQ, R0, 0, 6), mov64X(R1, R0), st(4, R10, -8, 1),
    mov64X(R2, R10), alu64K(BPF_ADD, R2, -8), call(1), jmpK(BPF_JEQ, R0, 0, 1), ldx(8, R0, R0, 0), exit());
  assert.equal(s.run(insns), 4242n);
});

// ---- tail calls ----

test('tail_call: jumps to the program in the prog array; a missing slot falls through', () => {
  const s = setup();
  const pa = s.map({ type: T.PROG_ARRAY, keySize: 4, valueSize: 4, maxEntries: 4, flags: 0 }) as FdArrayMap;
  pa.setProg(1, { insns: prog(alu64K(BPF_ADD, R6, 40), mov64X(R0, R6), exit()) });
  const caller = (index: number): Insn[] => prog(mov64(R6, 2), lddw(R2, BigInt(pa.handleAddr)), mov64(R3, index), call(12),
    mov64(R0, 99), exit());
  assert.equal(s.run(caller(1)), 42n); // registers survive the tail call
  assert.equal(s.run(caller(2)), 99n);
  assert.equal(s.run(caller(7)), 99n);
});

test('tail_call: at most 33 tail calls in a run (MAX_TAIL_CALL_CNT)', () => {
  const s = setup();
  const pa = s.map({ type: T.PROG_ARRAY, keySize: 4, valueSize: 4, maxEntries: 1, flags: 0 }) as FdArrayMap;
  const counter = s.map({ type: T.ARRAY, keySize: 4, valueSize: 8, maxEntries: 1, flags: 0 });
  const self = prog(mapAndKey(counter, 0), call(1), jmpK(BPF_JEQ, R0, 0, 2), mov64(R1, 1), atomic(8, BPF_ADD, R0, 0, R1),
    lddw(R2, BigInt(pa.handleAddr)), mov64(R3, 0), call(12), mov64(R0, 7), exit());
  pa.setProg(0, { insns: self });
  assert.equal(s.run(self), 7n);
  assert.equal(rdU64(counter.lookup(u32(0))), 34n); // the first run + 33 tail calls
});

// ---- callbacks ----

test('bpf_loop: runs the callback subprogram; a non-zero return stops it early', () => {
  const s = setup();
  // main: *(u64 *)(r10 - 8) = 0; bpf_loop(n, callback, r10 - 8, 0); return (*(r10 - 8) << 16) | r0
  // callback(i, ctx): *ctx += i; return i == stopAt
  const build = (n: number, stopAt: number): Insn[] => {
    const cbBody = prog(ldx(8, R3, R2, 0), alu64X64(R3, R1), stx(8, R2, 0, R3), mov64(R0, 0), jmpK(BPF_JNE, R1, stopAt, 1),
      mov64(R0, 1), exit());
    const head = prog(st(8, R10, -8, 0), mov64(R1, n), makeLdImm64(R2, 0n, 4), mov64X(R3, R10), alu64K(BPF_ADD, R3, -8),
      mov64(R4, 0), call(FN('loop')), ldx(8, R1, R10, -8), alu64K(0x60, R1, 16), alu64X64or(R0, R1), exit());
    head[2] = { ...head[2], imm: head.length - 2 - 1 }; // BPF_PSEUDO_FUNC: relative to the next slot
    return resolvePseudoFunc([...head, ...cbBody]);
  };
  assert.equal(s.run(build(5, 99)), ((0n + 1n + 2n + 3n + 4n) << 16n) | 5n);
  assert.equal(s.run(build(10, 3)), ((0n + 1n + 2n + 3n) << 16n) | 4n);
  assert.equal(s.run(build(0, 0)), 0n);
  assert.equal(callHelper(s, 'loop', 1n << 24n, 0n, 0n, 0n), neg(7));
  assert.equal(callHelper(s, 'loop', 1n, 0n, 0n, 1n), neg(22));
});

function alu64X64(dst: number, src: number): Insn {
  return { code: 0x0f, dst, src, off: 0, imm: 0 };
}
function alu64X64or(dst: number, src: number): Insn {
  return { code: 0x4f, dst, src, off: 0, imm: 0 };
}

test('bpf_for_each_map_elem: the callback sees (map, key, value, ctx) in get_next_key order', () => {
  const s = setup();
  const m = s.map({ type: T.HASH, keySize: 4, valueSize: 8, maxEntries: 8, flags: 0 });
  for (const k of [3, 5, 9]) m.update(u32(k), u64(BigInt(k * 10)));
  // callback: *ctx += *(u64 *)value + *(u32 *)key; return 0
  const cbBody = prog(ldx(8, R5, R4, 0), ldx(8, R0, R3, 0), alu64X64(R5, R0), ldx(4, R0, R2, 0), alu64X64(R5, R0),
    stx(8, R4, 0, R5), mov64(R0, 0), exit());
  const head = prog(st(8, R10, -8, 0), lddw(R1, BigInt(m.handleAddr)), makeLdImm64(R2, 0n, 4), mov64X(R3, R10),
    alu64K(BPF_ADD, R3, -8), mov64(R4, 0), call(FN('for_each_map_elem')), ldx(8, R1, R10, -8), alu64K(0x60, R1, 16),
    alu64X64or(R0, R1), exit());
  head[3] = { ...head[3], imm: head.length - 3 - 1 }; // the ld_imm64 is at slot 3 (lddw r1 takes 1-2)
  assert.equal(s.run(resolvePseudoFunc([...head, ...cbBody])), ((30n + 50n + 90n + 3n + 5n + 9n) << 16n) | 3n);
});

// ---- ring buffer, perf events ----

test('ringbuf_reserve/submit/discard/output from a program, read by the consumer', () => {
  const s = setup();
  const rb = s.map({ type: T.RINGBUF, keySize: 0, valueSize: 0, maxEntries: 4096, flags: 0 }) as RingbufMap;
  const rbh = BigInt(rb.handleAddr);
  const insns = prog(
    lddw(R1, rbh), mov64(R2, 8), mov64(R3, 0), call(FN('ringbuf_reserve')), jmpK(BPF_JEQ, R0, 0, 4),
    st(8, R0, 0, 0x1234), mov64X(R1, R0), mov64(R2, 0), call(FN('ringbuf_submit')),
    lddw(R1, rbh), mov64(R2, 4), mov64(R3, 0), call(FN('ringbuf_reserve')), jmpK(BPF_JEQ, R0, 0, 3),
    mov64X(R1, R0), mov64(R2, 0), call(FN('ringbuf_discard')),
    st(4, R10, -4, 0x55), lddw(R1, rbh), mov64X(R2, R10), alu64K(BPF_ADD, R2, -4), mov64(R3, 4), mov64(R4, 0),
    call(FN('ringbuf_output')),
    lddw(R1, rbh), mov64(R2, 0), call(FN('ringbuf_query')), exit());
  assert.equal(s.run(insns), 16n + 16n + 16n); // three records of 16 bytes available
  assert.deepEqual(rb.consume().map((r) => [...r.data]), [[0x34, 0x12, 0, 0, 0, 0, 0, 0], [0x55, 0, 0, 0]]);
  assert.equal(callHelper(s, 'ringbuf_reserve', rbh, 8n, 1n), 0n); // flags must be 0
  assert.equal(callHelper(s, 'ringbuf_output', rbh, BigInt(rb.dataAddr), 1n, 8n), neg(22));
});

test('perf_event_output: records go to the map, BPF_F_CURRENT_CPU picks the host CPU', () => {
  const s = setup({ cpu: 2 });
  const pa = s.map({ type: T.PERF_EVENT_ARRAY, keySize: 4, valueSize: 4, maxEntries: 4, flags: 0 }) as FdArrayMap;
  pa.update(u32(2), u32(10));
  const out = (flags: bigint): Insn[] => prog(st(8, R10, -8, 0x0a0b), lddw(R2, BigInt(pa.handleAddr)), lddw(R3, flags),
    mov64X(R4, R10), alu64K(BPF_ADD, R4, -8), mov64(R5, 2), call(FN('perf_event_output')), exit());
  assert.equal(s.run(out(0xffffffffn)), 0n);
  assert.equal(s.run(out(1n)), neg(2));
  assert.equal(s.run(out(1n << 60n)), neg(22));
  assert.deepEqual(pa.drain(), [{ index: 2, cpu: 2, data: new Uint8Array([0x0b, 0x0a]) }]);
});

// ---- printing ----

test('trace_printk: formats like bpf_trace_printk and writes the trace buffer', () => {
  const s = setup({ clockNs: fixedClock(12_345_678_901n), task: { pid: 42, comm: 'prog' } });
  const fmt = new TextEncoder().encode('n=%d u=%u x=%lx c=%c\0');
  const insns = prog(stackBytes(-32, fmt), mov64X(R1, R10), alu64K(BPF_ADD, R1, -32), mov64(R2, fmt.length), mov64(R3, -5),
    mov64(R4, -1), lddw(R5, 0x41n), call(6), exit());
  // r3..r5: %d of -5, %u of -1 (32-bit), %lx of 0x41; %c has no 4th argument -> EINVAL
  assert.equal(s.run(insns), neg(22));
  const fmt2 = new TextEncoder().encode('n=%d u=%u x=%lx\n\0');
  const insns2 = prog(stackBytes(-32, fmt2), mov64X(R1, R10), alu64K(BPF_ADD, R1, -32), mov64(R2, fmt2.length), mov64(R3, -5),
    mov64(R4, -1), lddw(R5, 0x41n), call(6), exit());
  assert.equal(s.run(insns2), BigInt('n=-5 u=4294967295 x=41\n'.length));
  const [e] = s.host.trace.read();
  assert.equal(e.text, 'n=-5 u=4294967295 x=41\n');
  assert.equal(formatTraceLine(e), '            prog-42      [000] d..1.    12.345678: bpf_trace_printk: n=-5 u=4294967295 x=41\n');
  // no NUL within fmt_size: EINVAL
  assert.equal(s.run(prog(stackBytes(-8, new TextEncoder().encode('abcdefgh')), mov64X(R1, R10), alu64K(BPF_ADD, R1, -8), mov64(R2, 8), call(6), exit())), neg(22));
});

test('trace_printk format rules: a table of formats', async () => {
  const { bprintf } = await import('../src/helpers/printf.js');
  const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
  const mem = {
    readString: (a: bigint) => (a === 0x1000n ? 'hello' : undefined),
    readBytes: (a: bigint, n: number) => (a === 0x2000n ? Uint8Array.from({ length: n }, (_, i) => [192, 168, 1, 10, 0x20, 0x01, 0x0d, 0xb8][i] ?? i) : undefined),
  };
  const cases: [string, bigint[], string | number][] = [
    ['%d %i', [-1n, 5n], '-1 5'],
    ['%ld %lld', [-1n, 1n << 40n], '-1 1099511627776'],
    ['%u %lu %llu', [-1n, -1n, 7n], '4294967295 18446744073709551615 7'],
    ['%x %X %lx', [255n, 255n, 1n << 36n], 'ff FF 1000000000'],
    ['%llx', [0n], '0'],
    ['%5d|%-5d|%05d', [42n, 42n, -42n], '   42|42   |-0042'],
    ['%+d % d', [3n, 3n], '+3  3'],
    ['%s!', [0x1000n], 'hello!'],
    ['%s', [0x9999n], ''],
    ['%c%c', [0x68n, 0x69n], 'hi'],
    ['100%%', [], '100%'],
    ['%p', [0xffff8880deadbeefn], 'ffff8880deadbeef'],
    ['%pI4 %pi4', [0x2000n, 0x2000n], '192.168.1.10 192.168.001.010'],
    ['%pK', [0x1234n], '0000000000001234'],
    ['%pI4', [0x9999n], '0.0.0.0'],
    ['%pI6', [0x2000n], 'c0a8:010a:2001:0db8:0809:0a0b:0c0d:0e0f'],
    ['%d %d %d %d', [1n, 2n, 3n, 4n], -22], // more than 3 conversions
    ['%f', [1n], -22],
    ['%.2d', [1n], -22],
    ['%hd', [1n], -22],
    ['%sx', [0x1000n], -22], // %s followed by a letter
    ['%pz', [0n], -22],
    ['tab\there', [], 'tab\there'],
    ['bell\x07', [], -22],
  ];
  for (const [f, args, want] of cases) assert.equal(bprintf(enc(f), args, 3, mem), want, f);
});

test('snprintf: writes a NUL-terminated, truncated string and returns the full length + 1', () => {
  const s = setup();
  const fmt = new TextEncoder().encode('v=%d/%s\0');
  const str = new TextEncoder().encode('abc\0');
  // snprintf(r10 - 64, size, "v=%d/%s", [77, "abc"], 16); return ret == 9 ? *(u64 *)(r10 - 64) : ret
  const insns = (size: number): Insn[] => prog(stackBytes(-16, fmt), stackBytes(-24, str), st(8, R10, -64, -1),
    mov64X(R6, R10), alu64K(BPF_ADD, R6, -24), stx(8, R10, -40, R6), st(8, R10, -48, 77),
    mov64X(R1, R10), alu64K(BPF_ADD, R1, -64), mov64(R2, size), mov64X(R3, R10), alu64K(BPF_ADD, R3, -16),
    mov64X(R4, R10), alu64K(BPF_ADD, R4, -48), mov64(R5, 16), call(FN('snprintf')),
    jmpK(BPF_JNE, R0, 9, 1), ldx(8, R0, R10, -64), exit());
  assert.equal(s.run(insns(16)), rdU64(new TextEncoder().encode('v=77/abc')));
  assert.equal(s.run(insns(4)), rdU64(Uint8Array.of(0x76, 0x3d, 0x37, 0, 0xff, 0xff, 0xff, 0xff))); // "v=7" + NUL
  assert.equal(s.run(insns(0)), BigInt.asUintN(64, -1n)); // nothing written
  assert.equal(callHelper(s, 'snprintf', 0n, 0n, 0n, 0n, 12n), neg(22)); // data_len not a multiple of 8
});

// ---- task, time, random ----

test('clock, random, task and NUMA helpers read the host', () => {
  const s = setup({ clockNs: fixedClock(5_000_000_123n), seed: 7, task: { pid: 11, tgid: 10, uid: 1000, gid: 100, comm: 'a-very-long-command-name' } });
  const r = (name: string): bigint => s.run(prog(call(FN(name)), exit()));
  assert.equal(r('ktime_get_ns'), 5_000_000_123n);
  assert.equal(r('ktime_get_boot_ns'), 5_000_000_123n);
  assert.equal(r('ktime_get_coarse_ns'), 5_000_000_000n); // 4 ms jiffies at HZ=250
  assert.equal(r('jiffies64'), BigInt(2 ** 32 - 300 * 250) + 1250n);
  assert.equal(r('get_current_pid_tgid'), (10n << 32n) | 11n);
  assert.equal(r('get_current_uid_gid'), (100n << 32n) | 1000n);
  assert.equal(r('get_numa_node_id'), 0n);
  assert.equal(r('get_current_cgroup_id'), 1n);
  assert.equal(r('get_current_task'), 0xffff888100000000n);
  const a = r('get_prandom_u32');
  const b = r('get_prandom_u32');
  assert.notEqual(a, b);
  const s2 = setup({ seed: 7 });
  assert.equal(s2.run(prog(call(FN('get_prandom_u32')), exit())), a);
  const comm = prog(mov64X(R1, R10), alu64K(BPF_ADD, R1, -16), mov64(R2, 16), call(FN('get_current_comm')), ldx(8, R0, R10, -16), exit());
  assert.equal(s.run(comm), rdU64(new TextEncoder().encode('a-very-l')));
  assert.equal(new TextDecoder().decode(s.vm.space.read(0, 0)), '');
});

// ---- probe reads ----

test('probe_read_kernel/user(+_str): host regions, faults zero the destination', () => {
  const kernelBytes = new TextEncoder().encode('kernel string\0tail');
  const s = setup({ kernelMemory: [{ addr: 0xffff888000001000n, bytes: kernelBytes }], userMemory: [{ addr: 0x7fff0000n, bytes: new Uint8Array([1, 2, 3, 4]) }] });
  const read = (name: string, size: number, src: bigint): Insn[] => prog(st(8, R10, -16, -1), st(8, R10, -8, -1),
    mov64X(R1, R10), alu64K(BPF_ADD, R1, -16), mov64(R2, size), lddw(R3, src), call(FN(name)), exit());
  assert.equal(s.run(read('probe_read_kernel', 6, 0xffff888000001000n)), 0n);
  assert.equal(callHelperRead(s), 'kernel');
  assert.equal(s.run(read('probe_read_kernel', 8, 0xffff888000001010n)), neg(14)); // past the region
  assert.deepEqual([...s.vm.space.read(lastFrame(s), 8)], [0, 0, 0, 0, 0, 0, 0, 0]);
  assert.equal(s.run(read('probe_read_kernel_str', 16, 0xffff888000001000n)), 14n); // "kernel string" + NUL
  assert.equal(s.run(read('probe_read_kernel_str', 4, 0xffff888000001000n)), 4n); // "ker" + NUL
  assert.equal(s.run(read('probe_read_user', 4, 0x7fff0000n)), 0n);
  assert.equal(s.run(read('probe_read_user', 4, 0xffff888000001000n)), neg(14)); // a kernel address is not user memory
  assert.equal(s.run(read('probe_read_kernel', 0, 0n)), 0n);
});

function lastFrame(s: Setup): number {
  return s.vm.space.list().find((r) => r.name === 'stack')!.addr + 512 - 16;
}
function callHelperRead(s: Setup): string {
  return new TextDecoder().decode(s.vm.space.read(lastFrame(s), 6));
}

// ---- strtol / strtoul ----

test('strtol/strtoul: bases, signs, whitespace, errors', () => {
  const s = setup();
  const region = s.vm.space.alloc(128, 'strbuf');
  const res = region.addr + 64;
  const conv = (name: string, text: string, flags = 0n): [bigint, bigint] => {
    const b = new TextEncoder().encode(text);
    s.vm.space.write(region.addr, b);
    s.vm.space.write(res, u64(0xdeadn));
    const r = callHelper(s, name, BigInt(region.addr), BigInt(b.length), flags, BigInt(res));
    return [BigInt.asIntN(64, r), BigInt.asIntN(64, rdU64(s.vm.space.read(res, 8)))];
  };
  assert.deepEqual(conv('strtol', '  -123abc'), [6n, -123n]);
  assert.deepEqual(conv('strtol', '0x1f'), [4n, 31n]);
  assert.deepEqual(conv('strtol', '0x1f', 10n), [1n, 0n]);
  assert.deepEqual(conv('strtol', '017'), [3n, 15n]);
  assert.deepEqual(conv('strtol', 'ff', 16n), [2n, 255n]);
  assert.deepEqual(conv('strtol', 'zz'), [-22n, 0xdeadn]);
  assert.deepEqual(conv('strtol', '-'), [-22n, 0xdeadn]);
  assert.deepEqual(conv('strtol', '12', 3n), [-22n, 0xdeadn]);
  assert.deepEqual(conv('strtol', '9223372036854775808'), [-34n, 0xdeadn]);
  assert.deepEqual(conv('strtol', '-9223372036854775808'), [20n, -9223372036854775808n]);
  assert.deepEqual(conv('strtoul', '18446744073709551615'), [20n, -1n]);
  assert.deepEqual(conv('strtoul', '18446744073709551616'), [-34n, 0xdeadn]);
  assert.deepEqual(conv('strtoul', '-1'), [-22n, 0xdeadn]);
});

test('strncmp: compares s1_sz bytes of s1 with a NUL-terminated s2', () => {
  const s = setup();
  const region = s.vm.space.alloc(64, 'strs');
  const cmp = (a: string, size: number, b: string): bigint => {
    s.vm.space.write(region.addr, new TextEncoder().encode(a + '\0'));
    s.vm.space.write(region.addr + 32, new TextEncoder().encode(b + '\0'));
    return BigInt.asIntN(64, callHelper(s, 'strncmp', BigInt(region.addr), BigInt(size), BigInt(region.addr + 32)));
  };
  assert.equal(cmp('abc', 3, 'abc'), 0n);
  assert.equal(cmp('abd', 3, 'abc'), 1n);
  assert.equal(cmp('abc', 3, 'abd'), -1n);
  assert.equal(cmp('ab', 3, 'abc'), -1n);
  assert.equal(cmp('abcdef', 3, 'abc'), 0n);
  assert.equal(cmp('abc', 4, 'ab'), 1n);
});

// ---- redirect, spin locks ----

test('redirect_map: XDP_REDIRECT and the target recorded, or the fallback action in the flags', () => {
  const s = setup();
  const dev = s.map({ type: T.DEVMAP, keySize: 4, valueSize: 4, maxEntries: 4, flags: 0 });
  dev.update(u32(1), u32(7));
  const h = BigInt(dev.handleAddr);
  assert.equal(callHelper(s, 'redirect_map', h, 1n, 0n), 4n);
  assert.equal(s.host.redirect?.key, 1);
  assert.equal(callHelper(s, 'redirect_map', h, 2n, 2n), 2n); // XDP_PASS when the slot is empty
  assert.equal(s.host.redirect, undefined);
  assert.equal(callHelper(s, 'redirect_map', h, 2n, 1n << 3n), 4n); // BPF_F_BROADCAST
  assert.equal(callHelper(s, 'redirect_map', h, 1n, 1n << 5n), 0n); // bad flags: XDP_ABORTED
  const cpu = s.map({ type: T.CPUMAP, keySize: 4, valueSize: 4, maxEntries: 4, flags: 0 });
  assert.equal(callHelper(s, 'redirect_map', BigInt(cpu.handleAddr), 0n, 1n << 3n), 0n); // no broadcast for cpumap
});

test('spin_lock/unlock: a lock taken twice is a deadlock', () => {
  const s = setup();
  const m = s.map({ type: T.ARRAY, keySize: 4, valueSize: 8, maxEntries: 1, flags: 0, spinLockOff: 0 });
  const lock = prog(mapAndKey(m, 0), call(1), mov64X(R6, R0), mov64X(R1, R6), call(FN('spin_lock')), st(4, R6, 4, 9),
    mov64X(R1, R6), call(FN('spin_unlock')), mov64(R0, 0), exit());
  s.run(lock);
  assert.deepEqual([...m.lookup(u32(0))], [0, 0, 0, 0, 9, 0, 0, 0]);
  const twice = prog(mapAndKey(m, 0), call(1), mov64X(R6, R0), mov64X(R1, R6), call(FN('spin_lock')), mov64X(R1, R6),
    call(FN('spin_lock')), exit());
  assert.throws(() => s.run(twice), (e: unknown) => e instanceof BpfError && e.code === 'EBUSY');
});

test('registerHelpers: a filter selects a program type\'s helper set', () => {
  const vm = new Vm();
  registerHelpers(vm.helpers, createHelperHost({ seed: 1 }), (d) => d.id <= 3);
  assert.deepEqual(vm.helpers.entries().map((e) => e.name), ['bpf_map_lookup_elem', 'bpf_map_update_elem', 'bpf_map_delete_elem']);
  void BPF_F_NO_PREALLOC;
  void callLocal;
});

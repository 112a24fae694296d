/*
 * The helper table: one entry per helper, keyed by the kernel's id (enum bpf_func_id), with the
 * kernel's name, its prototype (proto.ts, as kernel/bpf/helpers.c, kernel/trace/bpf_trace.c and
 * net/core/filter.c declare it) and the implementation over the VM's memory and a HelperHost.
 * The runtime registers the implementations (registerHelpers), the verifier reads the prototypes.
 *
 * Implementations follow the kernel function named beside them. Arguments are u64 bigints;
 * pointers are VM addresses (a bad one throws EFAULT: unverified programs fail loudly, a verified
 * one never passes it). Failures the kernel reports with a negative return do so here too.
 */
import { BpfError } from '../errors.js';
import { helperFuncName } from '../isa/disasm_xlated.js';
import { ArrayMap } from '../maps/arraymap.js';
import { MapBase } from '../maps/common.js';
import { DevMapHash, TargetArrayMap } from '../maps/devmap.js';
import { FdArrayMap } from '../maps/fd_array.js';
import { HashMap } from '../maps/hashtab.js';
import { mapFromHandle, mapsOf } from '../maps/registry.js';
import { RingbufMap } from '../maps/ringbuf.js';
import { BPF_MAP_TYPE, type BpfMap } from '../maps/types.js';
import type { AddressSpace } from '../vm/address_space.js';
import { interpret } from '../vm/interpreter.js';
import type { HelperCallContext } from '../vm/types.js';
import type { Vm } from '../vm/vm.js';
import type { HelperHost } from './host.js';
import { MAX_BPRINTF_BUF, MAX_BPRINTF_VARARGS, type PrintfMemory, bprintf } from './printf.js';
import { type HelperProto, arg, fixedArg, proto, ret } from './proto.js';

export type HelperImpl = (h: HelperHost, ctx: HelperCallContext, r1: bigint, r2: bigint, r3: bigint, r4: bigint, r5: bigint) => bigint;

export interface HelperDef {
  /** enum bpf_func_id. */
  readonly id: number;
  /** The kernel's name: bpf_map_lookup_elem. */
  readonly name: string;
  readonly proto: HelperProto;
  readonly impl: HelperImpl;
}

const EPERM = 1n, ENOENT = 2n, E2BIG = 7n, EFAULT = 14n, EINVAL = 22n, ERANGE = 34n, EBUSY = 16n;
const XDP_ABORTED = 0n, XDP_REDIRECT = 4n;
/** BPF_MAX_LOOPS. */
export const BPF_MAX_LOOPS = 8 * 1024 * 1024;
const TASK_COMM_LEN = 16;
const BPF_F_BROADCAST = 1n << 3n;
const BPF_F_EXCLUDE_INGRESS = 1n << 4n;
const BPF_F_INDEX_MASK = 0xffffffffn;
const BPF_F_CTXLEN_MASK = 0xfffffn << 32n;

// ---- argument plumbing ----

function vmOf(ctx: HelperCallContext): Vm {
  return ctx.vm as Vm;
}

function spaceOf(ctx: HelperCallContext): AddressSpace {
  return vmOf(ctx).space;
}

/** A pointer argument as a VM address (-1 when it cannot be one: every access then faults). */
function addr(r: bigint): number {
  return r <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(r) : -1;
}

/** A u32-or-larger flags argument as a number the map code compares (huge values stay huge). */
function flagsNum(r: bigint): number {
  return r > 0xffffffffn ? 0x100000000 : Number(r);
}

function neg(errno: bigint): bigint {
  return -errno;
}

function mapArg(ctx: HelperCallContext, r: bigint, helper: string): BpfMap {
  const map = mapFromHandle(spaceOf(ctx), r);
  if (!map) throw new BpfError('EINVAL', `${helper}: r1 0x${r.toString(16)} is not a map (insn #${ctx.pc})`);
  return map;
}

function fault(ctx: HelperCallContext, helper: string, why: string): never {
  throw new BpfError('EFAULT', `${helper}: ${why} (insn #${ctx.pc})`);
}

// ---- probe reads: host regions, then (kernel side) the VM's own memory ----

function probeRegion(h: HelperHost, space: AddressSpace, a: bigint, user: boolean): { bytes: Uint8Array; off: number } | undefined {
  for (const r of user ? h.userMemory : h.kernelMemory) {
    if (a >= r.addr && a < r.addr + BigInt(r.bytes.length)) return { bytes: r.bytes, off: Number(a - r.addr) };
  }
  if (!user && a <= BigInt(Number.MAX_SAFE_INTEGER)) {
    const region = space.regionAt(Number(a));
    if (region) return { bytes: space.bytes(region), off: Number(a) - region.addr };
  }
  return undefined;
}

function probeRead(h: HelperHost, space: AddressSpace, a: bigint, size: number, user: boolean): Uint8Array | undefined {
  const r = probeRegion(h, space, a, user);
  if (!r || r.off + size > r.bytes.length) return undefined;
  return r.bytes.slice(r.off, r.off + size);
}

/** strncpy_from_*_nofault: up to max - 1 bytes and a NUL; undefined on a fault before the end. */
function probeReadStr(h: HelperHost, space: AddressSpace, a: bigint, max: number, user: boolean): Uint8Array | undefined {
  if (max <= 0) return new Uint8Array(0);
  const r = probeRegion(h, space, a, user);
  if (!r) return undefined;
  const out: number[] = [];
  for (let i = 0; i < max - 1; i++) {
    if (r.off + i >= r.bytes.length) return undefined;
    const c = r.bytes[r.off + i];
    if (c === 0) break;
    out.push(c);
  }
  out.push(0);
  return Uint8Array.from(out);
}

function printfMemory(h: HelperHost, space: AddressSpace): PrintfMemory {
  return {
    readString(a, max, user) {
      const b = probeReadStr(h, space, a, max, user) ?? (user ? undefined : probeReadStr(h, space, a, max, true));
      return b === undefined ? undefined : String.fromCharCode(...b.subarray(0, b.length - 1));
    },
    readBytes(a, size) {
      return probeRead(h, space, a, size, false) ?? probeRead(h, space, a, size, true);
    },
  };
}

/** A NUL-terminated format string from VM memory (within fmtSize bytes when given). */
function readFormat(space: AddressSpace, a: bigint, fmtSize?: number): Uint8Array | undefined {
  const at = addr(a);
  const region = at > 0 ? space.regionAt(at) : undefined;
  if (!region) return undefined;
  const bytes = space.bytes(region);
  const start = at - region.addr;
  const limit = fmtSize === undefined ? bytes.length : Math.min(bytes.length, start + fmtSize);
  for (let i = start; i < limit; i++) if (bytes[i] === 0) return bytes.slice(start, i);
  return undefined;
}

function readArgs(space: AddressSpace, data: bigint, len: number): bigint[] {
  const b = space.read(addr(data), len);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out: bigint[] = [];
  for (let i = 0; i < len; i += 8) out.push(dv.getBigUint64(i, true));
  return out;
}

function latin1(s: string): Uint8Array {
  const b = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i);
  return b;
}

function trace(h: HelperHost, text: string): void {
  h.trace.push({ cpu: h.cpu, pid: h.task.pid, comm: h.task.comm, timestampNs: h.ktimeNs(), text: text.slice(0, MAX_BPRINTF_BUF - 1) });
}

// ---- strtol / strtoul (__bpf_strtoull) ----

const isSpaceC = (c: number): boolean => c === 0x20 || (c >= 0x09 && c <= 0x0d);

function digitOf(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  if (l >= 0x61 && l <= 0x66) return l - 0x61 + 10;
  return 99;
}

/** [consumed, value, negative] or -errno. */
function strtoull(buf: Uint8Array, flags: bigint): [number, bigint, boolean] | bigint {
  let base = Number(flags & 0x1fn);
  if (buf.length === 0) return neg(EINVAL);
  if (base !== 0 && base !== 8 && base !== 10 && base !== 16) return neg(EINVAL);
  if (flags & ~0x1fn) return neg(EINVAL);
  let i = 0;
  while (i < buf.length && isSpaceC(buf[i])) i++;
  const negative = i < buf.length && buf[i] === 0x2d;
  if (negative) i++;
  const consumed = i;
  let len = buf.length - consumed;
  if (!len) return neg(EINVAL);
  len = Math.min(len, 63);
  const s = new Uint8Array(len + 1);
  s.set(buf.subarray(consumed, consumed + len));
  let p = 0;
  if (base === 0) base = s[0] === 0x30 ? ((s[1] | 0x20) === 0x78 && digitOf(s[2]) < 16 ? 16 : 8) : 10;
  if (base === 16 && s[0] === 0x30 && (s[1] | 0x20) === 0x78) p = 2;
  let v = 0n;
  let n = 0;
  let overflow = false;
  for (; p + n < s.length; n++) {
    const d = digitOf(s[p + n]);
    if (d >= base) break;
    v = v * BigInt(base) + BigInt(d);
    if (v > 0xffffffffffffffffn) overflow = true;
  }
  if (overflow) return neg(ERANGE);
  if (n === 0) return neg(EINVAL);
  return [consumed + p + n, v, negative];
}

// ---- callbacks (bpf_loop, bpf_for_each_map_elem) ----

/**
 * Run the callback subprogram at slot `target` of the running program with r1..r5 = args. The
 * callback value a program passes is the slot index (ld_imm64 BPF_PSEUDO_FUNC resolved by
 * resolvePseudoFunc()).
 */
function runCallback(h: HelperHost, ctx: HelperCallContext, target: bigint, args: bigint[], helper: string): bigint {
  const insns = ctx.insns;
  if (!insns) throw new BpfError('ENOTSUPP', `${helper}: this engine cannot run callbacks (insn #${ctx.pc})`);
  if (target >= BigInt(insns.length)) fault(ctx, helper, `callback 0x${target.toString(16)} is not an instruction of the program`);
  return interpret(vmOf(ctx), insns, { entry: Number(target), args, budget: h.callbackBudget }).r0;
}

// ---- the table ----

const I = ret('RET_INTEGER');
const VOID = ret('RET_VOID');
const ANY = arg('ARG_ANYTHING');
const MAP = arg('ARG_CONST_MAP_PTR');
const KEY = arg('ARG_PTR_TO_MAP_KEY');
const MEM_RO = arg('ARG_PTR_TO_MEM', 'MEM_RDONLY');
const UNINIT_MEM = arg('ARG_PTR_TO_MEM', 'MEM_UNINIT', 'MEM_WRITE');
const SIZE = arg('ARG_CONST_SIZE');
const SIZE0 = arg('ARG_CONST_SIZE_OR_ZERO');
const CTX = arg('ARG_PTR_TO_CTX');

function id(name: string): number {
  for (let i = 0; i < 512; i++) if (helperFuncName(i) === `bpf_${name}`) return i;
  throw new Error(`helper table: no id for bpf_${name}`);
}

function def(name: string, p: HelperProto, impl: HelperImpl): HelperDef {
  return Object.freeze({ id: id(name), name: `bpf_${name}`, proto: p, impl });
}

function probeReadImpl(user: boolean | undefined): HelperImpl {
  return (h, ctx, dst, size, src) => {
    const space = spaceOf(ctx);
    const n = Number(size);
    if (n === 0) return 0n;
    const out = space.view(addr(dst), n);
    const b = user === undefined
      ? (probeRead(h, space, src, n, false) ?? probeRead(h, space, src, n, true))
      : probeRead(h, space, src, n, user);
    if (!b) {
      out.fill(0);
      return neg(EFAULT);
    }
    out.set(b);
    return 0n;
  };
}

function probeReadStrImpl(user: boolean | undefined): HelperImpl {
  return (h, ctx, dst, size, src) => {
    const space = spaceOf(ctx);
    const n = Number(size);
    if (n === 0) return 0n;
    const out = space.view(addr(dst), n);
    const b = user === undefined
      ? (probeReadStr(h, space, src, n, false) ?? probeReadStr(h, space, src, n, true))
      : probeReadStr(h, space, src, n, user);
    if (!b) {
      out.fill(0);
      return neg(EFAULT);
    }
    out.set(b);
    return BigInt(b.length);
  };
}

function ringbufOf(ctx: HelperCallContext, r: bigint, helper: string): RingbufMap {
  const m = mapArg(ctx, r, helper);
  if (!(m instanceof RingbufMap)) throw new BpfError('EINVAL', `${helper}: map '${m.spec.name ?? ''}' is not a ring buffer (insn #${ctx.pc})`);
  return m;
}

function ringbufOfRecord(ctx: HelperCallContext, r: bigint, helper: string): RingbufMap {
  const a = addr(r);
  for (const m of mapsOf(spaceOf(ctx))) if (m instanceof RingbufMap && m.ownsRecord(a)) return m;
  return fault(ctx, helper, `0x${r.toString(16)} is not a ring buffer record`);
}

export const HELPERS: readonly HelperDef[] = [
  // kernel/bpf/helpers.c: map access
  def('map_lookup_elem', proto(ret('RET_PTR_TO_MAP_VALUE', 'PTR_MAYBE_NULL'), [MAP, KEY], { pktAccess: true }),
    (h, ctx, m, key) => BigInt(mapArg(ctx, m, 'bpf_map_lookup_elem').lookupElem(addr(key), h.cpu))),
  def('map_update_elem', proto(I, [MAP, KEY, arg('ARG_PTR_TO_MAP_VALUE'), ANY], { pktAccess: true }),
    (h, ctx, m, key, value, flags) => BigInt(mapArg(ctx, m, 'bpf_map_update_elem').updateElem(addr(key), addr(value), flagsNum(flags), h.cpu))),
  def('map_delete_elem', proto(I, [MAP, KEY], { pktAccess: true }),
    (h, ctx, m, key) => BigInt(mapArg(ctx, m, 'bpf_map_delete_elem').deleteElem(addr(key), h.cpu))),
  def('map_push_elem', proto(I, [MAP, arg('ARG_PTR_TO_MAP_VALUE'), ANY], { pktAccess: true }),
    (h, ctx, m, value, flags) => BigInt(mapArg(ctx, m, 'bpf_map_push_elem').pushElem(addr(value), flagsNum(flags), h.cpu))),
  def('map_pop_elem', proto(I, [MAP, arg('ARG_PTR_TO_MAP_VALUE', 'MEM_UNINIT', 'MEM_WRITE')]),
    (h, ctx, m, value) => BigInt(mapArg(ctx, m, 'bpf_map_pop_elem').popElem(addr(value), h.cpu))),
  def('map_peek_elem', proto(I, [MAP, arg('ARG_PTR_TO_MAP_VALUE', 'MEM_UNINIT', 'MEM_WRITE')]),
    (h, ctx, m, value) => BigInt(mapArg(ctx, m, 'bpf_map_peek_elem').peekElem(addr(value), h.cpu))),
  def('map_lookup_percpu_elem', proto(ret('RET_PTR_TO_MAP_VALUE', 'PTR_MAYBE_NULL'), [MAP, KEY, ANY]), (h, ctx, m, key, cpu) => {
    const map = mapArg(ctx, m, 'bpf_map_lookup_percpu_elem');
    const t = map.spec.type;
    const percpu = t === BPF_MAP_TYPE.PERCPU_ARRAY || t === BPF_MAP_TYPE.PERCPU_HASH || t === BPF_MAP_TYPE.LRU_PERCPU_HASH;
    const nrCpus = Number(new DataView(spaceOf(ctx).read(map.handleAddr + 32, 4).buffer).getUint32(0, true));
    if (!percpu || cpu >= BigInt(nrCpus)) return 0n;
    return BigInt(map.lookupElem(addr(key), Number(cpu)));
  }),
  def('for_each_map_elem', proto(I, [MAP, arg('ARG_PTR_TO_FUNC'), arg('ARG_PTR_TO_STACK', 'PTR_MAYBE_NULL'), ANY], { callbackArg: 1 }),
    (h, ctx, m, fn, cbCtx, flags) => {
      const map = mapArg(ctx, m, 'bpf_for_each_map_elem');
      if (flags) return neg(EINVAL);
      if (!(map instanceof ArrayMap || map instanceof HashMap)) return neg(EINVAL);
      const space = spaceOf(ctx);
      const scratch = space.alloc(Math.max(8, map.spec.keySize), 'for_each_map_elem key', { writable: false });
      try {
        let n = 0n;
        for (const key of (map as MapBase).elementKeys()) {
          space.write(scratch.addr, key);
          const value = map.lookupElem(scratch.addr, h.cpu);
          if (value === 0) continue;
          n++;
          if (runCallback(h, ctx, fn, [m, BigInt(scratch.addr), BigInt(value), cbCtx], 'bpf_for_each_map_elem') !== 0n) break;
        }
        return n;
      } finally {
        space.free(scratch);
      }
    }),

  // time, randomness, CPU
  def('ktime_get_ns', proto(I, []), (h) => h.ktimeNs()),
  def('ktime_get_boot_ns', proto(I, []), (h) => h.bootNs()),
  def('ktime_get_coarse_ns', proto(I, []), (h) => h.coarseNs()),
  def('ktime_get_tai_ns', proto(I, []), (h) => h.taiNs()),
  def('jiffies64', proto(I, []), (h) => h.jiffies64()),
  def('get_prandom_u32', proto(I, []), (h) => BigInt(h.prandomU32() >>> 0)),
  def('get_smp_processor_id', proto(I, []), (h) => BigInt(h.cpu)),
  def('get_numa_node_id', proto(I, []), (h) => BigInt(h.numaNode)),

  // the current task (kernel/bpf/helpers.c)
  def('get_current_pid_tgid', proto(I, []), (h) => (BigInt(h.task.tgid >>> 0) << 32n) | BigInt(h.task.pid >>> 0)),
  def('get_current_uid_gid', proto(I, []), (h) => (BigInt(h.task.gid >>> 0) << 32n) | BigInt(h.task.uid >>> 0)),
  def('get_current_cgroup_id', proto(I, []), (h) => h.task.cgroupId),
  def('get_current_task', proto(I, []), (h) => h.task.taskAddr),
  def('get_current_comm', proto(I, [UNINIT_MEM, SIZE]), (h, ctx, buf, size) => { // strscpy_pad
    const out = spaceOf(ctx).view(addr(buf), Number(size));
    out.fill(0);
    const comm = latin1(h.task.comm).subarray(0, Math.min(TASK_COMM_LEN - 1, out.length - 1));
    out.set(comm);
    return 0n;
  }),

  // printing (kernel/trace/bpf_trace.c, kernel/bpf/helpers.c)
  def('trace_printk', proto(I, [MEM_RO, SIZE], { gplOnly: true }), (h, ctx, fmt, fmtSize, a1, a2, a3) => {
    const space = spaceOf(ctx);
    const f = readFormat(space, fmt, Number(fmtSize));
    if (!f) return neg(EINVAL);
    const text = bprintf(f, [a1, a2, a3], 3, printfMemory(h, space));
    if (typeof text === 'number') return BigInt(text);
    trace(h, text);
    return BigInt(text.length);
  }),
  def('trace_vprintk', proto(I, [MEM_RO, SIZE, arg('ARG_PTR_TO_MEM', 'PTR_MAYBE_NULL', 'MEM_RDONLY'), SIZE0], { gplOnly: true }),
    (h, ctx, fmt, fmtSize, data, dataLen) => {
      const space = spaceOf(ctx);
      if (dataLen % 8n || dataLen > BigInt(MAX_BPRINTF_VARARGS * 8) || (dataLen && !data)) return neg(EINVAL);
      const f = readFormat(space, fmt, Number(fmtSize));
      if (!f) return neg(EINVAL);
      const args = readArgs(space, data, Number(dataLen));
      const text = bprintf(f, args, args.length, printfMemory(h, space));
      if (typeof text === 'number') return BigInt(text);
      trace(h, text);
      return BigInt(text.length);
    }),
  def('snprintf', proto(I, [arg('ARG_PTR_TO_MEM', 'PTR_MAYBE_NULL'), SIZE0, arg('ARG_PTR_TO_CONST_STR'),
    arg('ARG_PTR_TO_MEM', 'PTR_MAYBE_NULL', 'MEM_RDONLY'), SIZE0], { gplOnly: true }), (h, ctx, str, strSize, fmt, data, dataLen) => {
    const space = spaceOf(ctx);
    if (dataLen % 8n || dataLen > BigInt(MAX_BPRINTF_VARARGS * 8) || (dataLen && !data)) return neg(EINVAL);
    const f = readFormat(space, fmt);
    if (!f) return neg(EINVAL);
    const args = readArgs(space, data, Number(dataLen));
    const text = bprintf(f, args, args.length, printfMemory(h, space));
    if (typeof text === 'number') return BigInt(text);
    const n = Number(strSize);
    if (n > 0) {
      const out = space.view(addr(str), n);
      const b = latin1(text).subarray(0, n - 1);
      out.set(b);
      out[b.length] = 0;
    }
    return BigInt(text.length + 1);
  }),

  // tail calls, callbacks
  def('tail_call', proto(VOID, [CTX, MAP, ANY]), (_h, ctx, _c, m, index) => {
    const map = mapArg(ctx, m, 'bpf_tail_call');
    if (!(map instanceof FdArrayMap) || map.kind !== 'prog') throw new BpfError('EINVAL', `bpf_tail_call: map '${map.spec.name ?? ''}' is not a prog array (insn #${ctx.pc})`);
    const prog = map.progAt(Number(index & 0xffffffffn));
    if (!prog) return neg(ENOENT);
    if (!ctx.tailCall) throw new BpfError('ENOTSUPP', `bpf_tail_call: this engine cannot tail call (insn #${ctx.pc})`);
    return ctx.tailCall(prog.insns) ? 0n : neg(E2BIG);
  }),
  def('loop', proto(I, [ANY, arg('ARG_PTR_TO_FUNC'), arg('ARG_PTR_TO_STACK', 'PTR_MAYBE_NULL'), ANY], { callbackArg: 1 }),
    (h, ctx, nrLoops, fn, cbCtx, flags) => { // bpf_loop
      if (flags) return neg(EINVAL);
      if (nrLoops > BigInt(BPF_MAX_LOOPS)) return neg(E2BIG);
      const n = Number(nrLoops);
      for (let i = 0; i < n; i++) {
        if (runCallback(h, ctx, fn, [BigInt(i), cbCtx], 'bpf_loop') !== 0n) return BigInt(i + 1);
      }
      return BigInt(n);
    }),

  // spin locks (basic: one CPU runs at a time, so a held lock is a deadlock)
  def('spin_lock', proto(VOID, [arg('ARG_PTR_TO_SPIN_LOCK')]), (_h, ctx, lock) => {
    const v = spaceOf(ctx).view(addr(lock), 4);
    if (v[0] | v[1] | v[2] | v[3]) throw new BpfError('EBUSY', `bpf_spin_lock: lock at 0x${lock.toString(16)} is already held: deadlock (insn #${ctx.pc})`);
    v[0] = 1;
    return 0n;
  }),
  def('spin_unlock', proto(VOID, [arg('ARG_PTR_TO_SPIN_LOCK')]), (_h, ctx, lock) => {
    spaceOf(ctx).view(addr(lock), 4).fill(0);
    return 0n;
  }),

  // ring buffer (kernel/bpf/ringbuf.c)
  def('ringbuf_output', proto(I, [MAP, MEM_RO, SIZE0, ANY]), (_h, ctx, m, data, size, flags) => {
    const rb = ringbufOf(ctx, m, 'bpf_ringbuf_output');
    if (flags > 3n) return neg(EINVAL);
    return BigInt(rb.output(spaceOf(ctx).read(addr(data), Number(size)), Number(flags)));
  }),
  def('ringbuf_reserve', proto(ret('RET_PTR_TO_MEM', 'PTR_MAYBE_NULL', 'MEM_RINGBUF'), [MAP, arg('ARG_CONST_ALLOC_SIZE_OR_ZERO'), ANY]),
    (_h, ctx, m, size, flags) => {
      const rb = ringbufOf(ctx, m, 'bpf_ringbuf_reserve');
      if (flags) return 0n;
      return size > 0xffffffffn ? 0n : BigInt(rb.reserve(Number(size)));
    }),
  def('ringbuf_submit', proto(VOID, [arg('ARG_PTR_TO_MEM', 'MEM_RINGBUF', 'OBJ_RELEASE'), ANY]), (_h, ctx, data, flags) => {
    ringbufOfRecord(ctx, data, 'bpf_ringbuf_submit').commit(addr(data), Number(flags & 3n), false);
    return 0n;
  }),
  def('ringbuf_discard', proto(VOID, [arg('ARG_PTR_TO_MEM', 'MEM_RINGBUF', 'OBJ_RELEASE'), ANY]), (_h, ctx, data, flags) => {
    ringbufOfRecord(ctx, data, 'bpf_ringbuf_discard').commit(addr(data), Number(flags & 3n), true);
    return 0n;
  }),
  def('ringbuf_query', proto(I, [MAP, ANY]), (_h, ctx, m, flags) => ringbufOf(ctx, m, 'bpf_ringbuf_query').query(Number(flags & 0xffn) === Number(flags) ? Number(flags) : -1)),

  // perf events (kernel/trace/bpf_trace.c: bpf_perf_event_output; ctx-length bits are accepted and ignored)
  def('perf_event_output', proto(I, [CTX, MAP, ANY, MEM_RO, SIZE0], { gplOnly: true }), (h, ctx, _c, m, flags, data, size) => {
    const map = mapArg(ctx, m, 'bpf_perf_event_output');
    if (!(map instanceof FdArrayMap) || map.kind !== 'perf') throw new BpfError('EINVAL', `bpf_perf_event_output: map '${map.spec.name ?? ''}' is not a perf event array (insn #${ctx.pc})`);
    if (flags & ~(BPF_F_INDEX_MASK | BPF_F_CTXLEN_MASK)) return neg(EINVAL);
    return BigInt(map.output(Number(flags & BPF_F_INDEX_MASK), h.cpu, spaceOf(ctx).read(addr(data), Number(size))));
  }),

  // memory probes (kernel/trace/bpf_trace.c)
  def('probe_read', proto(I, [UNINIT_MEM, SIZE0, ANY], { gplOnly: true }), probeReadImpl(undefined)),
  def('probe_read_str', proto(I, [UNINIT_MEM, SIZE0, ANY], { gplOnly: true }), probeReadStrImpl(undefined)),
  def('probe_read_kernel', proto(I, [UNINIT_MEM, SIZE0, ANY], { gplOnly: true }), probeReadImpl(false)),
  def('probe_read_user', proto(I, [UNINIT_MEM, SIZE0, ANY], { gplOnly: true }), probeReadImpl(true)),
  def('probe_read_kernel_str', proto(I, [UNINIT_MEM, SIZE0, ANY], { gplOnly: true }), probeReadStrImpl(false)),
  def('probe_read_user_str', proto(I, [UNINIT_MEM, SIZE0, ANY], { gplOnly: true }), probeReadStrImpl(true)),

  // string conversion (kernel/bpf/helpers.c)
  def('strtol', proto(I, [MEM_RO, SIZE, ANY, fixedArg('ARG_PTR_TO_MEM', 8, 'MEM_UNINIT', 'MEM_WRITE', 'MEM_ALIGNED')]),
    (_h, ctx, buf, len, flags, res) => {
      const space = spaceOf(ctx);
      const r = strtoull(space.read(addr(buf), Number(len)), flags);
      if (typeof r === 'bigint') return r;
      const [n, v, negative] = r;
      let out: bigint;
      if (negative) {
        if (BigInt.asIntN(64, -v) > 0n) return neg(ERANGE);
        out = BigInt.asUintN(64, -v);
      } else {
        if (BigInt.asIntN(64, v) < 0n) return neg(ERANGE);
        out = v;
      }
      const dst = space.view(addr(res), 8);
      new DataView(dst.buffer, dst.byteOffset, 8).setBigUint64(0, out, true);
      return BigInt(n);
    }),
  def('strtoul', proto(I, [MEM_RO, SIZE, ANY, fixedArg('ARG_PTR_TO_MEM', 8, 'MEM_UNINIT', 'MEM_WRITE', 'MEM_ALIGNED')]),
    (_h, ctx, buf, len, flags, res) => {
      const space = spaceOf(ctx);
      const r = strtoull(space.read(addr(buf), Number(len)), flags);
      if (typeof r === 'bigint') return r;
      const [n, v, negative] = r;
      if (negative) return neg(EINVAL);
      const dst = space.view(addr(res), 8);
      new DataView(dst.buffer, dst.byteOffset, 8).setBigUint64(0, v, true);
      return BigInt(n);
    }),

  def('strncmp', proto(I, [MEM_RO, SIZE, arg('ARG_PTR_TO_CONST_STR')]), (_h, ctx, s1, s1Size, s2) => { // strncmp(s1, s2, s1_sz)
    const space = spaceOf(ctx);
    const a = space.read(addr(s1), Number(s1Size));
    const b = readFormat(space, s2);
    if (!b) fault(ctx, 'bpf_strncmp', `0x${s2.toString(16)} is not a NUL-terminated string`);
    for (let i = 0; i < a.length; i++) {
      const c1 = a[i];
      const c2 = i < b.length ? b[i] : 0;
      if (c1 !== c2) return c1 < c2 ? neg(1n) : 1n;
      if (c1 === 0) break;
    }
    return 0n;
  }),

  // redirects (net/core/filter.c: bpf_xdp_redirect_map)
  def('redirect_map', proto(I, [MAP, ANY, ANY]), (h, ctx, m, key, flags) => {
    const map = mapArg(ctx, m, 'bpf_redirect_map');
    const devmap = map.spec.type === BPF_MAP_TYPE.DEVMAP || map.spec.type === BPF_MAP_TYPE.DEVMAP_HASH;
    if (!(map instanceof TargetArrayMap || map instanceof DevMapHash)) {
      throw new BpfError('EINVAL', `bpf_redirect_map: map '${map.spec.name ?? ''}' is not a redirect target map (insn #${ctx.pc})`);
    }
    const allowed = 3n | (devmap ? BPF_F_BROADCAST | BPF_F_EXCLUDE_INGRESS : 0n);
    if (flags & ~allowed) return XDP_ABORTED;
    const k = Number(key & 0xffffffffn);
    if (!map.targetAt(k) && !(flags & BPF_F_BROADCAST)) {
      h.redirect = undefined;
      return flags & 3n;
    }
    h.redirect = { map, key: k, flags };
    return XDP_REDIRECT;
  }),
];

const BY_ID = new Map<number, HelperDef>(HELPERS.map((d) => [d.id, d]));

/** The helper with kernel id `id`, if bpfkit has it. */
export function helperDef(helperId: number): HelperDef | undefined {
  return BY_ID.get(helperId);
}

/** The verifier's words for a helper it cannot call: "invalid func unknown#N" or "unknown func bpf_x#N". */
export function unknownHelperMessage(helperId: number): string {
  const name = helperFuncName(helperId);
  return name === undefined ? `invalid func unknown#${helperId}` : `unknown func ${name}#${helperId}`;
}

// keep otherwise-unused errno constants referenced for readers of the table
void EPERM;
void EBUSY;

/*
 * Running a program over a capture: every packet through an XDP, tc (SCHED_CLS/ACT) or socket
 * filter program, as the hook would run it, offline. One packet harness (progtypes/) is reused
 * for the whole capture and the program is prepared once (the JIT's runCtx by default), so the
 * per-packet cost is a copy in, the run, and a copy out of what passes.
 *
 * What passes (and goes to pcap_out, timestamps kept): XDP_PASS and XDP_TX (the frame as the
 * program left it); TC_ACT_OK, TC_ACT_PIPE and TC_ACT_UNSPEC (continue); a socket filter's
 * non-zero return, the packet cut to that many bytes (sk_filter_trim_cap(); the filter sees the
 * whole frame, as a packet socket's does). The summary counts verdicts by name, packets
 * modified (bytes or length differ from the input) and written, and the maps the run changed.
 *
 * XDP programs on the JIT run in batches (JitProgram.runBatch: many packets per call into the
 * module, no per-packet JS between runs) when that cannot change what they see: the program is
 * batchable and calls only helpers that need no per-packet host state (map access, time, random,
 * CPU). Each packet then sits in its own page at XDP_PACKET_HEADROOM, as the harness puts it, and
 * gets its own xdp_md image; everything else runs packet by packet.
 */
import { BpfError } from '../errors.js';
import type { Insn } from '../isa/insn.js';
import { type Engine, prepareProgram, startTimer } from '../progtypes/run.js';
import { SkbHarness, TC_ACT_NAMES } from '../progtypes/skb.js';
import {
  XDP_ACTION_NAMES, XDP_MAX_LINEAR, XDP_MD_SIZE, XDP_PACKET_HEADROOM, XDP_PAGE_SIZE as PAGE_SIZE, XdpHarness,
} from '../progtypes/xdp.js';
import { vmForType } from '../progtypes/register.js';
import { decodeSnapshot } from '../maps/common.js';
import { mapsOf } from '../maps/registry.js';
import type { BpfMap } from '../maps/types.js';
import { BATCH_ENTRY_HEADER, type JitProgram } from '../vm/jit/index.js';
import type { Region } from '../vm/types.js';
import type { Vm } from '../vm/vm.js';
import type { PcapRecord } from './pcap.js';

export const LINKTYPE_ETHERNET = 1;
const BPF_PROG_TYPE_SOCKET_FILTER = 1;
const BPF_PROG_TYPE_SCHED_CLS = 3;
const BPF_PROG_TYPE_SCHED_ACT = 4;
const BPF_PROG_TYPE_XDP = 6;

export interface CaptureRunOptions {
  insns: readonly Insn[];
  /** BPF_PROG_TYPE_*: XDP, SCHED_CLS, SCHED_ACT or SOCKET_FILTER. */
  type: number;
  engine?: Engine;
  /** The VM (a kernel's, for its maps; helpers registered); default: a fresh one. */
  vm?: Vm;
  budget?: number;
  /** Keep the verdict of every packet. */
  verdicts?: boolean;
  /** Keep the packets that pass (result.out; default true): false saves a copy per packet. */
  keepOutput?: boolean;
  /**
   * Called for each packet that passes, instead of keeping it in result.out (a stream writer):
   * `data` is a view valid during the call only.
   */
  onOutput?: (rec: PcapRecord) => void;
  /**
   * The records come from a streaming reader that reuses its buffer: each is copied as it is
   * taken. Records are taken CHUNK at a time, so memory stays bounded whatever the capture's size.
   */
  copyRecords?: boolean;
  /** Called every `progressEvery` packets with (done, total); total is 0 when not known (streams). */
  onProgress?: (done: number, total: number) => void;
  progressEvery?: number;
}

export interface CaptureRunSummary {
  packets: number;
  /** Verdict name -> packets (XDP_PASS, TC_ACT_SHOT, ... ; socket filters: PASS/DROP). */
  verdicts: Record<string, number>;
  passed: number;
  modified: number;
  /** Average ns per packet (the run with the packet's copy in and out; CPU time, as test runs). */
  durationNs: number;
  /** Per-packet verdicts (when asked). */
  perPacket?: number[];
  /** Maps whose contents the run changed (undefined when the VM has no maps). */
  mapsTouched?: MapTouched[];
  /** Whether packets ran in batches (JitProgram.runBatch). */
  batched: boolean;
}

export interface MapTouched {
  name: string;
  /** Entries added, removed or with a new value. */
  changed: number;
}

export interface CaptureRunResult {
  summary: CaptureRunSummary;
  /** The packets that passed, as the program left them (empty when not kept). */
  out: PcapRecord[];
}

/** The verdict's name for a program type. */
export function verdictName(type: number, retval: number): string {
  if (type === BPF_PROG_TYPE_XDP) return XDP_ACTION_NAMES[retval] ?? `XDP_UNKNOWN(${retval})`;
  if (type === BPF_PROG_TYPE_SCHED_CLS || type === BPF_PROG_TYPE_SCHED_ACT) return TC_ACT_NAMES[retval | 0] ?? `TC_ACT_UNKNOWN(${retval | 0})`;
  return retval === 0 ? 'DROP' : 'PASS';
}

function passes(type: number, retval: number): boolean {
  if (type === BPF_PROG_TYPE_XDP) return retval === 2 || retval === 3;
  if (type === BPF_PROG_TYPE_SOCKET_FILTER) return retval !== 0;
  const r = retval | 0;
  return r === 0 || r === -1 || r === 3;
}

/** Whether the `len` bytes at `at` in `mem` are `b`. */
function sameBytes(mem: Uint8Array, at: number, len: number, b: Uint8Array): boolean {
  if (len !== b.length) return false;
  for (let i = 0; i < len; i++) if (mem[at + i] !== b[i]) return false;
  return true;
}

/** Run the program over `records` (Ethernet frames). */
export function runCapture(records: Iterable<PcapRecord>, linktype: number, options: CaptureRunOptions): CaptureRunResult {
  const type = options.type;
  if (type !== BPF_PROG_TYPE_XDP && type !== BPF_PROG_TYPE_SCHED_CLS && type !== BPF_PROG_TYPE_SCHED_ACT && type !== BPF_PROG_TYPE_SOCKET_FILTER) {
    throw new BpfError('ENOTSUPP', `program type ${type} cannot run over a capture (xdp, tc and socket filter programs can)`);
  }
  if (linktype !== LINKTYPE_ETHERNET) throw new BpfError('EINVAL', `capture link type ${linktype} is not Ethernet (LINKTYPE_ETHERNET, 1)`);
  const vm = options.vm ?? vmForType(type);
  const streamed = !Array.isArray(records);
  const total = streamed ? 0 : (records as PcapRecord[]).length;
  const source = records[Symbol.iterator]();
  const copies = options.copyRecords ? new ChunkCopies() : undefined;
  /** The next CHUNK records (copied when the source reuses its buffer: valid until the next take()). */
  const take = (): PcapRecord[] => {
    const chunk: PcapRecord[] = [];
    copies?.reset();
    while (chunk.length < CHUNK) {
      const n = source.next();
      if (n.done) break;
      chunk.push(copies ? copies.copy(n.value) : n.value);
    }
    return chunk;
  };
  const xdp = type === BPF_PROG_TYPE_XDP ? new XdpHarness(vm) : undefined;
  // Socket filters over a capture see the frame from the MAC header, as on a packet socket.
  const skb = xdp ? undefined : new SkbHarness(vm, type === BPF_PROG_TYPE_SOCKET_FILTER ? BPF_PROG_TYPE_SCHED_CLS : type);
  const verdicts: Record<string, number> = {};
  const counts = new Map<number, number>();
  const out: PcapRecord[] = [];
  const perPacket: number[] | undefined = options.verdicts ? [] : undefined;
  let modified = 0;
  let runNs = 0;
  const every = options.progressEvery ?? 65536;
  const before = snapshotMaps(vm);
  let done = 0;
  let batchMemory: XdpBatchMemory | undefined;
  /** runXdpBatches counts within its chunk; progress counts from the start. */
  const progress = (base: number) => options.onProgress ? (d: number) => options.onProgress!(base + d, total) : undefined;
  const keep = options.keepOutput ?? true;
  let passed = 0;
  /** Count the verdict; the packet as the program left it is the `len` bytes at `at` in `mem`. */
  const tally = (rec: PcapRecord, retval: number, mem: Uint8Array, at: number, len: number): void => {
    counts.set(retval, (counts.get(retval) ?? 0) + 1);
    perPacket?.push(retval);
    if (!sameBytes(mem, at, len, rec.data)) modified++;
    if (passes(type, retval)) {
      passed++;
      if (!keep && !options.onOutput) return;
      const result = mem.subarray(at, at + len);
      let data = result;
      let wire = rec.len + (result.length - rec.caplen);
      if (type === BPF_PROG_TYPE_SOCKET_FILTER && retval < data.length) {
        data = data.subarray(0, retval);
        wire = rec.len;
      }
      const record = { sec: rec.sec, nsec: rec.nsec, caplen: data.length, len: Math.max(wire, data.length), data, ifIndex: rec.ifIndex };
      if (options.onOutput) options.onOutput(record);
      else out.push({ ...record, data: data.slice() });
    }
  };
  try {
    const p = prepareProgram(vm, options.insns, options.engine ?? 'jit', options.budget);
    const meta = { wireLen: 0 };
    let list = take();
    // Batches when the program allows it and there is more than one packet (or a stream of some).
    if (xdp && p.jit && (list.length > 1 || (streamed && list.length > 0)) && batchSafe(options.insns, p.jit)) {
      batchMemory = allocXdpBatch(vm, Math.min(BATCH, total || BATCH));
    }
    for (; list.length > 0; list = take()) {
      // Only the runs are timed: reading the next chunk is not part of the program's time.
      const timer = startTimer();
      if (batchMemory) {
        xdp!.load(list[0].data); // the xdp_md fields every packet shares, and the helpers' packet state
        runXdpBatches(vm, p.jit!, list, xdp!.ctx.addr, options.budget, tally, progress(done), every, batchMemory);
      } else {
        for (let i = 0; i < list.length; i++) {
          const rec = list[i];
          let retval: number;
          let result: Uint8Array;
          if (xdp) {
            xdp.load(rec.data);
            retval = p.run(xdp.ctx.addr);
            result = xdp.output();
          } else {
            meta.wireLen = rec.len;
            skb!.load(rec.data, meta);
            retval = p.run(skb!.ctx.addr, p.usesLdAbs ? skb!.packet() : undefined);
            result = skb!.output();
          }
          tally(rec, retval, result, 0, result.length);
          if (options.onProgress && (done + i + 1) % every === 0) options.onProgress(done + i + 1, total);
        }
      }
      runNs += timer();
      done += list.length;
    }
  } finally {
    batchMemory?.free();
    xdp?.dispose();
    skb?.dispose();
  }
  for (const [r, n] of [...counts].sort((a, b) => a[0] - b[0])) verdicts[verdictName(type, r)] = n;
  return {
    summary: {
      packets: done, verdicts, passed, modified,
      durationNs: done ? Math.round(runNs / done) : 0, perPacket,
      mapsTouched: before === undefined ? undefined : mapsTouched(vm, before), batched: batchMemory !== undefined,
    },
    out,
  };
}

/** Helpers a batched run may call: none reads or writes per-packet host state. */
const BATCH_HELPERS = new Set([
  1, 2, 3, // map_lookup_elem, map_update_elem, map_delete_elem
  5, 6, 7, 8, // ktime_get_ns, trace_printk, get_prandom_u32, get_smp_processor_id
  195, // map_lookup_percpu_elem
]);

function batchSafe(insns: readonly Insn[], jit: JitProgram): boolean {
  if (!jit.batchable) return false;
  for (const i of insns) if (i.code === 0x85 && i.src === 0 && !BATCH_HELPERS.has(i.imm)) return false;
  return true;
}

const BATCH = 512;
/** Records taken from the source at a time (a multiple of BATCH). */
const CHUNK = 8 * BATCH;

/**
 * Copies of a chunk's records, their bytes packed into one arena reused chunk after chunk: a
 * copy per packet into a fresh ArrayBuffer (slice()) cost more than the run itself over a large
 * capture, most of it in allocation and garbage collection.
 */
class ChunkCopies {
  private arena = new Uint8Array(CHUNK * 128);
  private used = 0;

  /** Start a chunk: the previous chunk's copies are no longer used. */
  reset(): void {
    this.used = 0;
  }

  copy(r: PcapRecord): PcapRecord {
    const n = r.data.length;
    // (a full arena is replaced, not overwritten: this chunk's earlier copies keep viewing the old one)
    if (this.used + n > this.arena.length) { this.arena = new Uint8Array(Math.max(this.arena.length * 2, n)); this.used = 0; }
    const at = this.used;
    this.arena.set(r.data, at);
    this.used = at + n;
    return { sec: r.sec, nsec: r.nsec, caplen: r.caplen, len: r.len, ifIndex: r.ifIndex, data: this.arena.subarray(at, at + n) };
  }
}

/**
 * XDP over `list` in batches of BATCH packets: each packet copied to a page of its own (one
 * region each, so an access past it faults as with the harness's buffer), a table entry per
 * packet (its page, for the access cache, then the xdp_md image: data,
 * data_end, data_meta = data, ingress_ifindex and rx_queue_index as the harness set them), one
 * runBatch() call, then the verdicts and packets read back in order.
 */
/** The memory of XDP batch runs: a page per packet (its own region, so bounds checks stay per packet), the run table, the verdicts. */
interface XdpBatchMemory { pages: Region[]; table: Region; verdicts: Region; free(): void }

/** Allocated before the timer starts, as the kernel's test run sets up its buffers untimed. */
function allocXdpBatch(vm: Vm, count: number): XdpBatchMemory {
  const space = vm.space;
  const pages: Region[] = [];
  const regions: Region[] = [];
  try {
    for (let i = 0; i < count; i++) pages.push(space.alloc(PAGE_SIZE, `xdp_buff[${i}]`, { align: PAGE_SIZE }));
    regions.push(space.alloc(count * (BATCH_ENTRY_HEADER + XDP_MD_SIZE), 'xdp batch table', { writable: false }));
    regions.push(space.alloc(count * 4, 'xdp batch verdicts', { writable: false }));
  } catch (err) {
    for (const r of [...regions, ...pages]) space.free(r);
    throw err;
  }
  return { pages, table: regions[0], verdicts: regions[1], free: () => { for (const r of [...regions, ...pages]) space.free(r); } };
}

function runXdpBatches(
  vm: Vm, jit: JitProgram, list: readonly PcapRecord[], ctxAddr: number, budget: number | undefined,
  tally: (rec: PcapRecord, retval: number, mem: Uint8Array, at: number, len: number) => void,
  onProgress: ((done: number) => void) | undefined, every: number, memory: XdpBatchMemory,
): void {
  const space = vm.space;
  const { pages, table, verdicts } = memory;
  const batch = pages.length;
  const stride = BATCH_ENTRY_HEADER + XDP_MD_SIZE;
  {
    const shared = new Uint32Array(space.memory.buffer, ctxAddr, XDP_MD_SIZE / 4).slice(3);
    for (let from = 0; from < list.length; from += batch) {
      const n = Math.min(batch, list.length - from);
      const mem = new Uint8Array(space.memory.buffer);
      const t = new Uint32Array(space.memory.buffer, table.addr, (n * stride) >> 2);
      for (let i = 0; i < n; i++) {
        const data = list[from + i].data;
        const len = Math.min(data.length, XDP_MAX_LINEAR);
        const page = pages[i].addr;
        const at = page + XDP_PACKET_HEADROOM;
        mem.set(len === data.length ? data : data.subarray(0, len), at);
        const w = (i * stride) >> 2;
        t[w] = page;
        t[w + 1] = PAGE_SIZE;
        t[w + 2] = at;
        t[w + 3] = at + len;
        t[w + 4] = at;
        t.set(shared, w + 5);
      }
      jit.runBatch(n, table.addr, ctxAddr, XDP_MD_SIZE, verdicts.addr, budget);
      const buf = space.memory.buffer; // (a helper may have grown the memory)
      const v = new Int32Array(buf, verdicts.addr, n);
      const bytes = new Uint8Array(buf);
      for (let i = 0; i < n; i++) {
        const rec = list[from + i];
        tally(rec, v[i] >>> 0, bytes, pages[i].addr + XDP_PACKET_HEADROOM, Math.min(rec.data.length, XDP_MAX_LINEAR));
        const done = from + i + 1;
        if (onProgress && done % every === 0) onProgress(done);
      }
    }
  }
}

/** Every map's contents (key -> value, hex), or undefined when the VM has none. */
function snapshotMaps(vm: Vm): Map<BpfMap, Map<string, string>> | undefined {
  const maps = mapsOf(vm.space);
  if (maps.length === 0) return undefined;
  const out = new Map<BpfMap, Map<string, string>>();
  for (const m of maps) {
    const contents = mapContents(m);
    if (contents) out.set(m, contents);
  }
  return out;
}

function mapContents(m: BpfMap): Map<string, string> | undefined {
  let records: [Uint8Array, Uint8Array][];
  try {
    records = decodeSnapshot(m.snapshot(), m.spec.type);
  } catch {
    return undefined; // (a type without a snapshot: not compared)
  }
  return new Map(records.map(([k, v]) => [bytesKey(k), bytesKey(v)]));
}

/** Bytes as a string usable as a Map key (one char per byte). */
function bytesKey(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]);
  return s;
}

function mapsTouched(vm: Vm, before: Map<BpfMap, Map<string, string>>): MapTouched[] {
  const touched: MapTouched[] = [];
  for (const m of mapsOf(vm.space)) {
    const was = before.get(m);
    const now = was && mapContents(m);
    if (!was || !now) continue;
    let changed = 0;
    for (const [k, v] of now) if (was.get(k) !== v) changed++;
    for (const k of was.keys()) if (!now.has(k)) changed++;
    if (changed > 0) touched.push({ name: m.spec.name ?? '', changed });
  }
  return touched;
}

/*
 * `npm run bench`: ns per run of bpfkit's engines on the standard workloads, beside the same
 * object run by the Linux kernel (`bpftool prog run ... repeat N`, JIT-compiled, kernel-reported
 * ns) in the same run when this machine can (root, bpftool, bpffs), reported as ratios.
 *
 * Workloads (issue #8): return-constant; Ethernet/IPv4/UDP parse of a 64-byte packet; parse +
 * array-map counter; 1000-iteration 64-bit hash loop; div/mod loop; an XDP firewall with an LPM
 * deny list; a tcpdump filter converted cBPF -> eBPF (src/cbpf/convert.ts, run as a tc program
 * with LD_ABS, a SYN from outside 10/8). The .s programs are assembled by `bpfkit asm`, the .c
 * ones compiled by clang-19 (skipped with a message without it), the filter written as an ELF
 * object by bpfkit; both sides run the very same object. The firewall's deny list (256 prefixes)
 * is loaded into pinned maps on both sides (bpfkit's pin store in a temporary BPFKIT_STATE).
 *
 * Then the capture runs (issue #6): the parse+counter and firewall programs over a 1M-packet
 * capture (`prog run ... pcap_in`, the JIT's batch API), as packets/s, beside the kernel's per-run
 * time for the same program on one packet.
 *
 * Figures are medians of several interleaved batches (min-max shown). bpfkit's durations are CPU
 * time where measurable (as the kernel's bpf_test_timer, which stops while the task is
 * rescheduled); on a loaded machine both sides still suffer from shared caches.
 *
 * Options: --scale X multiplies every repeat count (default 1); --only NAME runs one workload;
 * --batches N sets the number of measured batches per engine (default 5); --packets N the
 * capture size (default 1,000,000; 0 skips the capture runs); --compile-only measures only the JIT's
 * compile time (see compileTimes()).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { convertCbpfToEbpf } from '../src/cbpf/convert.js';
import { runCliCaptured } from '../src/cli/main.js';
import { compileFilter } from '../src/filter/index.js';
import { Bpf } from '../src/kernel/bpf.js';
import { progTypeFromName } from '../src/kernel/names.js';
import { type Insn, makeInsn } from '../src/isa/insn.js';
import { writeElf } from '../src/loader/elf_writer.js';
import { createMap } from '../src/maps/index.js';
import { type PcapRecord, writePcap } from '../src/net/pcap.js';
import { compileJit, markVerified, verifiedTierOf } from '../src/vm/jit/index.js';
import { Vm } from '../src/vm/vm.js';
import { syntheticProgram } from '../test/jit_synthetic_lib.js';

interface Bench {
  name: string;
  what: string;
  repeat: number;
  /** Where the object comes from. */
  source: 's' | 'c' | 'filter';
  /** The packet it runs on. */
  packet: 'udp' | 'syn';
  /** uBPF's interpreter on these machines, as issue #2 quotes it (ns), where known. */
  ubpfNs?: number;
  /** Maps to fill before the runs (pinned on both sides). */
  fill?: boolean;
}

const BENCHES: Bench[] = [
  { name: 'ret_const', what: 'return a constant', repeat: 200_000, source: 's', packet: 'udp' },
  { name: 'parse_udp', what: 'Ethernet/IPv4/UDP parse, 64-byte packet', repeat: 100_000, source: 's', packet: 'udp', ubpfNs: 400 },
  { name: 'parse_count', what: 'parse + array-map counter', repeat: 100_000, source: 'c', packet: 'udp' },
  { name: 'hash_loop', what: '1000-iteration 64-bit hash loop', repeat: 2_000, source: 's', packet: 'udp', ubpfNs: 106_000 },
  { name: 'divmod_loop', what: '1000-iteration div/mod loop', repeat: 2_000, source: 's', packet: 'udp', ubpfNs: 137_000 },
  { name: 'firewall', what: 'XDP firewall, LPM deny list (256 prefixes)', repeat: 100_000, source: 'c', packet: 'udp', fill: true },
  { name: 'tcpdump_filter', what: `tcpdump '${'tcp[tcpflags] & tcp-syn != 0 and not src net 10.0.0.0/8'}' via cBPF->eBPF`, repeat: 100_000, source: 'filter', packet: 'syn' },
];
const FILTER = 'tcp[tcpflags] & tcp-syn != 0 and not src net 10.0.0.0/8';

const PROGRAMS = fileURLToPath(new URL('../../bench/programs/', import.meta.url));
/** A large clang-compiled object (~1,460 insns, subprograms, maps), for compile time. */
const BIG_OBJECT = fileURLToPath(new URL('../../test/fixtures/loader/big.o', import.meta.url));

/** A 64-byte Ethernet/IPv4 frame: UDP 1234 -> 9 from 10.0.0.1, or a TCP SYN from 192.0.2.1. */
function frame(kind: 'udp' | 'syn'): Uint8Array {
  const hex = kind === 'udp'
    ? 'ffffffffffff' + '020000000001' + '0800' + '4500003200004000401100000a0000010a000002' + '04d20009001e0000'
    : 'ffffffffffff' + '020000000001' + '0800' + '4500003200004000400600007b0000020a000002' + '04d20050' + '00000001' + '00000000' + '5002' + '2000' + '0000' + '0000';
  const pkt = new Uint8Array(64);
  pkt.set(Buffer.from(hex, 'hex'));
  for (let i = 54; i < 64; i++) pkt[i] = i;
  return pkt;
}

async function cli(args: string[]): Promise<string> {
  const r = await runCliCaptured(args);
  if (r.status !== 0) throw new Error(`bpfkit ${args.join(' ')}: ${r.stderr || r.stdout}`);
  return r.stdout;
}

interface Measure { retval: number; ns: number }

/** PROG words for both tools: the object file, or the program pinned with its filled maps. */
type Prog = { file: string } | { pinned: string; kernelPin: string };

async function runBpfkit(prog: Prog, pkt: string, repeat: number, engine: 'jit' | 'interp'): Promise<Measure> {
  const spec = 'file' in prog ? ['file', prog.file] : ['pinned', prog.pinned];
  const out = JSON.parse(await cli(['-j', 'prog', 'run', ...spec, 'data_in', pkt, 'repeat', String(repeat), 'engine', engine]));
  return { retval: out.retval, ns: out.duration };
}

function kernelUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'not root';
  if (spawnSync('bpftool', ['version']).status !== 0) return 'bpftool missing';
  if (spawnSync('mountpoint', ['-q', '/sys/fs/bpf']).status !== 0) return 'bpffs not mounted';
  return undefined;
}

function runKernel(prog: Prog, pkt: string, repeat: number, name: string): Measure {
  const temp = 'file' in prog ? `/sys/fs/bpf/bpfkit_bench_${process.pid}_${name}` : undefined;
  if (temp && 'file' in prog) execFileSync('bpftool', ['prog', 'load', prog.file, temp], { stdio: 'pipe' });
  try {
    const pin = temp ?? (prog as { kernelPin: string }).kernelPin;
    const out = execFileSync('bpftool', ['-j', 'prog', 'run', 'pinned', pin, 'data_in', pkt, 'repeat', String(repeat)],
      { encoding: 'utf8' });
    const parsed = JSON.parse(out) as { retval: number; duration: number };
    return { retval: parsed.retval, ns: parsed.duration };
  } finally {
    if (temp) rmSync(temp, { force: true });
  }
}

/** The deny list: 256 prefixes (/12 to /32) inside 172.16.0.0/12 and 198.18.0.0/15, fixed. */
function denyList(): { prefixlen: number; addr: number }[] {
  const out: { prefixlen: number; addr: number }[] = [];
  let x = 0x2545f491;
  const next = (): number => (x = (Math.imul(x ^ (x >>> 15), 0x2c1b3c6d) + 0x9e3779b9) >>> 0);
  for (let i = 0; i < 256; i++) {
    const prefixlen = 16 + (next() % 17);
    const base = i % 2 === 0 ? 0xac100000 | (next() & 0x000fffff) : 0xc6120000 | (next() & 0x0001ffff);
    const mask = prefixlen === 32 ? 0xffffffff : ~(0xffffffff >>> prefixlen) >>> 0;
    out.push({ prefixlen, addr: (base & mask) >>> 0 });
  }
  return out;
}

function lpmKeyHex(e: { prefixlen: number; addr: number }): string[] {
  const b = [e.prefixlen & 0xff, 0, 0, 0, e.addr >>> 24, (e.addr >>> 16) & 0xff, (e.addr >>> 8) & 0xff, e.addr & 0xff];
  return b.map((v) => v.toString(16).padStart(2, '0'));
}

/**
 * Load `obj` pinned with its maps on both sides and fill the firewall's deny list: bpfkit's pin
 * store (BPFKIT_STATE, set by main) and, when present, the kernel's bpffs (one `bpftool batch`).
 */
async function pinWithDenyList(obj: string, name: string, dir: string, kernel: boolean): Promise<Prog> {
  const pin = `/sys/fs/bpf/bench_${name}`;
  await cli(['prog', 'load', obj, pin, 'pinmaps', `${pin}_maps`]);
  const zero = ['00', '00', '00', '00', '00', '00', '00', '00'];
  for (const e of denyList()) await cli(['map', 'update', 'pinned', `${pin}_maps/deny`, 'key', 'hex', ...lpmKeyHex(e), 'value', 'hex', ...zero]);
  const kernelPin = `/sys/fs/bpf/bpfkit_bench_${process.pid}_${name}`;
  if (kernel) {
    execFileSync('bpftool', ['prog', 'load', obj, kernelPin, 'pinmaps', `${kernelPin}_maps`], { stdio: 'pipe' });
    const batch = join(dir, `${name}.batch`);
    writeFileSync(batch, denyList().map((e) => `map update pinned ${kernelPin}_maps/deny key hex ${lpmKeyHex(e).join(' ')} value hex ${zero.join(' ')}\n`).join(''));
    execFileSync('bpftool', ['batch', 'file', batch], { stdio: 'pipe' });
  }
  return { pinned: pin, kernelPin };
}

function unpinKernel(prog: Prog): void {
  if ('kernelPin' in prog) rmSync(prog.kernelPin, { force: true }), rmSync(`${prog.kernelPin}_maps`, { recursive: true, force: true });
}

/** The tcpdump filter as an object: libpcap-compiled cBPF, converted like the kernel, SEC("tc"). */
function filterObject(): Uint8Array {
  const insns = convertCbpfToEbpf(compileFilter(FILTER, { optimize: true }));
  return writeElf({
    sections: [
      { name: 'tc', executable: true, writable: false, insns, data: new Uint8Array(0), relocations: [],
        symbols: [{ name: 'tcpdump_filter', offset: 0, global: true, type: 'func', size: insns.length * 8 }] },
      { name: 'license', executable: false, writable: true, insns: [], data: new TextEncoder().encode('GPL\0'), relocations: [], symbols: [] },
    ],
  });
}

/** Build the object of a workload into `dir`; undefined (with the reason) when it cannot be. */
async function buildObject(bench: Bench, dir: string): Promise<{ obj?: string; why?: string }> {
  const obj = join(dir, `${bench.name}.o`);
  if (bench.source === 's') await cli(['asm', join(PROGRAMS, `${bench.name}.s`), '-o', obj]);
  else if (bench.source === 'filter') writeFileSync(obj, filterObject());
  else {
    const r = spawnSync('clang-19', ['-O2', '-g', '-target', 'bpf', '-c', join(PROGRAMS, `${bench.name}.c`), '-o', obj], { encoding: 'utf8' });
    if (r.error || r.status !== 0) return { why: r.error ? 'clang-19 missing' : `clang-19 failed: ${r.stderr.trim()}` };
  }
  return { obj };
}

/**
 * A capture of `n` 64..128-byte frames for the capture runs: IPv4 TCP/UDP mostly (a fifth from
 * deny-listed sources, some telnet), some VLAN-tagged, some ARP.
 */
function captureFile(n: number): Uint8Array {
  const deny = denyList();
  const records: PcapRecord[] = [];
  let x = 0x1234567;
  const next = (): number => (x = (Math.imul(x ^ (x >>> 13), 0x5bd1e995) + 0x6d2b79f5) >>> 0);
  for (let i = 0; i < n; i++) {
    const r = next();
    const vlan = r % 10 === 0 ? 4 : 0;
    const len = 64 + (r % 65);
    const d = new Uint8Array(len);
    d.fill(0xff, 0, 6);
    d.set([2, 0, 0, 0, 0, 1], 6);
    if (vlan) d.set([0x81, 0x00, 0x00, 0x05], 12);
    const l3 = 14 + vlan;
    if (r % 23 === 0) { d.set([0x08, 0x06], 12 + vlan); records.push(rec(i, d)); continue; } // ARP
    d.set([0x08, 0x00], 12 + vlan);
    const tcp = (r >>> 8) % 2 === 0;
    const e = deny[(r >>> 10) % deny.length];
    const src = (r >>> 20) % 5 === 0 ? (e.addr | (next() & ~(e.prefixlen === 32 ? 0xffffffff : ~(0xffffffff >>> e.prefixlen)))) >>> 0 : (0x0a000000 | (next() & 0xffffff)) >>> 0;
    d.set([0x45, 0, 0, len - l3, 0, 0, 0x40, 0, 64, tcp ? 6 : 17, 0, 0], l3);
    d.set([src >>> 24, (src >>> 16) & 0xff, (src >>> 8) & 0xff, src & 0xff, 10, 0, 0, 2], l3 + 12);
    const dport = tcp && (r >>> 16) % 50 === 0 ? 23 : tcp ? 443 : 53;
    d.set([0x30, 0x39, dport >> 8, dport & 0xff], l3 + 20);
    records.push(rec(i, d));
  }
  return writePcap({ linktype: 1, snaplen: 65535 }, records);
}

function rec(i: number, data: Uint8Array): PcapRecord {
  return { sec: 1700000000 + Math.floor(i / 1000), nsec: (i % 1000) * 1000, caplen: data.length, len: data.length, data, ifIndex: 0 };
}

function fmtNs(ns: number): string {
  return ns >= 10_000 ? `${(ns / 1000).toFixed(1)} us` : `${ns} ns`;
}

function ratio(a: number, b: number): string {
  return `${(a / Math.max(b, 1)).toFixed(2)}x`;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[s.length >> 1] : Math.round((s[s.length / 2 - 1] + s[s.length / 2]) / 2);
}

function geomean(xs: number[]): number {
  return Math.exp(xs.reduce((s, x) => s + Math.log(x), 0) / xs.length);
}

/** One compile from eBPF to a prepared instance (whose first run compiles nothing more), ms. */
interface CompileSample {
  /** Wall and CPU time of the whole (compileJit() + prepare()). */
  total: number;
  cpu: number;
  /** Its phases (wall): decode + wasm codegen, new WebAssembly.Module, instantiation, first calls. */
  codegen: number;
  module: number;
  instantiate: number;
  firstCall: number;
  insns: number;
  bytes: number;
  /** Minor page faults (fresh memory touched: ours, V8's heap, code space and compiler memory). */
  faults: number;
  /** Of those, taken by prepare() (instantiation and V8's Liftoff compiles; the rest are codegen's and new WebAssembly.Module's). */
  prepareFaults: number;
}

function compileSample(vm: Vm, insns: readonly Insn[]): CompileSample {
  const f0 = process.resourceUsage().minorPageFault;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const compiled = compileJit(vm, insns);
  const f1 = process.resourceUsage().minorPageFault;
  const p = compiled.prepare();
  const total = performance.now() - t0;
  const c = process.cpuUsage(c0);
  const f2 = process.resourceUsage().minorPageFault;
  const faults = f2 - f0;
  if (p.cached) throw new Error('compile time: the module came from the cache');
  return {
    total, cpu: (c.user + c.system) / 1000, codegen: p.codegenMs, module: p.moduleMs, instantiate: p.instantiateMs,
    firstCall: p.firstCallMs, insns: p.compiledInsns, bytes: p.wasmSize, faults, prepareFaults: f2 - f1,
  };
}

/**
 * What a minor page fault costs now, in microseconds: the time to touch fresh pages (a new 4 MiB
 * buffer, one write per page) over the faults taken. In a VM with memory backed lazily by the
 * host it is tens of microseconds, and compiles fault on hundreds of fresh pages (V8 frees its
 * compiler memory and each module's code space afterwards): the main reason medians exceed minima.
 */
function pageFaultUs(): number {
  const f0 = process.resourceUsage().minorPageFault;
  const t0 = performance.now();
  const b = new Uint8Array(4 << 20);
  for (let i = 0; i < b.length; i += 4096) b[i] = 1;
  const ms = performance.now() - t0;
  return (ms * 1000) / Math.max(1, process.resourceUsage().minorPageFault - f0);
}

/**
 * Samples of one program summed up for a shared, loaded machine: the minimum of each phase (the
 * undisturbed cost; a time slice lost to another process lands in one sample, not in all), the
 * median wall time and the median CPU time (the process's work, V8's threads included).
 */
interface CompileStats { min: CompileSample; medianWall: number; medianCpu: number; medianFaults: number; medianPrepareFaults: number }

function compileStats(xs: CompileSample[]): CompileStats {
  const min = (f: (x: CompileSample) => number): number => Math.min(...xs.map(f));
  const med = (f: (x: CompileSample) => number): number => {
    const s = xs.map(f).sort((a, b) => a - b);
    return s.length % 2 === 1 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  };
  return {
    min: {
      total: min((x) => x.total), cpu: min((x) => x.cpu), codegen: min((x) => x.codegen), module: min((x) => x.module),
      instantiate: min((x) => x.instantiate), firstCall: min((x) => x.firstCall), insns: xs[0].insns, bytes: xs[0].bytes, faults: min((x) => x.faults),
      prepareFaults: min((x) => x.prepareFaults),
    },
    medianWall: med((x) => x.total),
    medianCpu: med((x) => x.cpu),
    medianFaults: med((x) => x.faults),
    medianPrepareFaults: med((x) => x.prepareFaults),
  };
}

/**
 * `insns` with k leading `r0 = k` instructions: the same program, compiled from scratch (the JIT
 * and V8 both cache modules by content), in the same tier (the verifier's proof shifted along).
 */
function variant(insns: readonly Insn[], k: number): Insn[] {
  const out = [makeInsn(0xb7, 0, 0, 0, k), ...insns];
  const tier = verifiedTierOf(insns);
  if (tier) {
    const unchecked = new Uint8Array(out.length);
    unchecked.set(tier.unchecked, 1);
    markVerified(out, { unchecked, stackDepth: tier.stackDepth });
  }
  return out;
}

function fmtStats(s: CompileStats, per: number): string {
  const f = (ms: number): string => (ms * per).toFixed(3);
  const m = s.min;
  return `${f(m.total)} ms (min; median ${f(s.medianWall)} wall, ${f(s.medianCpu)} CPU); phases (min): codegen ${f(m.codegen)}, ` +
    `WebAssembly.Module ${f(m.module)}, instantiate ${f(m.instantiate)}, first calls ${f(m.firstCall)}; page faults ${Math.round(s.medianFaults * per)} (median; ${Math.round(s.medianPrepareFaults * per)} in prepare())`;
}

/**
 * Compile time per 1,000 instructions (issue #8): from eBPF instructions to a prepared instance,
 * i.e. everything a first run would otherwise pay: decoding, wasm code generation, V8's
 * new WebAssembly.Module (validation, and on Node for modules of 4 KiB or more compilation with
 * V8's baseline compiler, Liftoff, on two threads: vm/jit/wasm_compile.ts), instantiation and the
 * first calls, which is when V8 compiles the other modules' functions (lazy compilation). Not
 * included: V8's later optimising tier-up (TurboFan, in the background for functions that turn
 * out hot; runs go on at Liftoff speed meanwhile). Nine compiles of distinct programs each (the
 * JIT and V8 cache modules by content), after warm-up compiles of 100k insns for each program,
 * as a long-running process would have, and after detachedArrayBuffer(); reported as minima (per
 * phase too) beside the median wall and CPU times (see compileStats()).
 */
/**
 * The synthetic program loaded through the verifier (as `prog load` does), with its eight stack
 * slots stored first: the verifier refuses reads of uninitialised stack. Undefined if it does not
 * verify (then only the checked tier is reported).
 */
function verifiedSynthetic(body: readonly Insn[]): { vm: Vm; insns: Insn[] } | undefined {
  const bpf = new Bpf({ createMap });
  const zeroSlots = Array.from({ length: 8 }, (_, k) => makeInsn(0x7a, 10, 0, -8 * (k + 1), 0)); // *(u64 *)(r10 - 8(k+1)) = 0
  const fd = bpf.progLoad({ type: progTypeFromName('xdp')!, insns: [...zeroSlots, ...body], license: 'GPL' });
  const insns = bpf.progInsns(fd);
  return verifiedTierOf(insns) ? { vm: bpf.vm, insns } : undefined;
}

/**
 * One compile of the synthetic program in a fresh Node process: what a CLI command that loads one
 * program pays, with V8 still interpreting bpfkit's code generator. Undefined if the child fails.
 */
function freshProcessCompile(n: number): { ms: number; codegen: number; faults: number } | undefined {
  const dist = (rel: string): string => new URL(rel, import.meta.url).href;
  const script = `import { syntheticProgram } from ${JSON.stringify(dist('../test/jit_synthetic_lib.js'))};
import { Vm } from ${JSON.stringify(dist('../src/vm/vm.js'))};
import { compileJit } from ${JSON.stringify(dist('../src/vm/jit/index.js'))};
const insns = syntheticProgram(${n});
const vm = new Vm();
const f0 = process.resourceUsage().minorPageFault;
const t0 = performance.now();
const p = compileJit(vm, insns).prepare();
const ms = performance.now() - t0;
console.log(JSON.stringify({ ms, codegen: p.codegenMs, faults: process.resourceUsage().minorPageFault - f0 }));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  if (r.status !== 0) return undefined;
  return JSON.parse(r.stdout) as { ms: number; codegen: number; faults: number };
}

/** Instructions compiled before a program's samples are taken (the compiler warmed up), and a cap in compiles. */
const WARMUP_INSNS = 100_000;
const MAX_WARMUPS = 200;

/**
 * Detach an ArrayBuffer, as growing a VM's memory does (address_space.ts: WebAssembly.Memory.grow()
 * detaches the old buffer) in any process that has run programs for a while. The first detach in
 * a process clears V8's array-buffer-detaching protector for good: optimised code then checks
 * every typed-array access for a detached buffer, and code optimised before is thrown away. The
 * code generator, all typed arrays, ran 1.2-1.35x slower after it (synthetic 10k, codegen 0.117
 * -> 0.145 ms per 1k at the minimum; --compile-only 0.145 -> 0.196), and the full bench met the
 * first detach in the middle of its run-time workloads (with the firewall's and the filter's
 * runs), so its compile figures were those of code optimised twice, up to 2x the --compile-only
 * ones. Measured here in that steady state, whichever section runs first.
 */
function detachedArrayBuffer(): void {
  type MemoryCtor = new (d: { initial: number; maximum: number }) => { grow(pages: number): number };
  const memory = new (globalThis as unknown as { WebAssembly: { Memory: MemoryCtor } }).WebAssembly.Memory({ initial: 1, maximum: 2 });
  memory.grow(1);
}

/**
 * Nine compiles of variant()s of `insns`, after warm-up compiles by instruction volume, as much as
 * the synthetic program's (10 x 10k insns): V8 optimises each emitter once it has been called
 * often enough, so three compiles of a 1,400-insn object would leave its samples in the middle of
 * that warm-up.
 */
function variantStats(vm: Vm, insns: readonly Insn[]): CompileStats {
  for (let k = 100, done = 0; k < 103 || (done < WARMUP_INSNS && k < 100 + MAX_WARMUPS); k++) done += compileSample(vm, variant(insns, k)).insns;
  const xs: CompileSample[] = [];
  for (let k = 1; k <= 9; k++) xs.push(compileSample(vm, variant(insns, k)));
  return compileStats(xs);
}

async function compileTimes(objects: Map<string, string>): Promise<void> {
  detachedArrayBuffer();
  const vm = new Vm();
  const n = 10_000;
  const synthetic = (k: number): Insn[] => {
    const insns = syntheticProgram(n);
    insns[0] = makeInsn(0xb7, 0, 0, 0, k);
    return insns;
  };
  const fresh = freshProcessCompile(n);
  const cold = compileSample(vm, synthetic(-1));
  for (let k = 0; k < WARMUP_INSNS / n; k++) compileSample(vm, synthetic(100 + k)); // warm the compiler up
  const samples: CompileSample[] = [];
  for (let k = 0; k < 9; k++) samples.push(compileSample(vm, synthetic(k)));
  const syn = compileStats(samples);
  const per = 1000 / syn.min.insns;
  const faultUs = pageFaultUs();
  console.log(`\nJIT compile time, eBPF to a prepared instance (excludes V8's later TurboFan tier-up of hot functions), 9 compiles each ` +
    `(load average ${loadavg()[0].toFixed(1)} on ${availableParallelism()} CPUs: minima are the undisturbed figures):`);
  console.log(`  synthetic ${syn.min.insns}-instruction program, checked tier (ALU, mul, div by register, stack stores and loads, a forward branch per 7 insns; ` +
    `${(syn.min.bytes / syn.min.insns).toFixed(1)} wasm bytes/insn), per 1,000 insns: ${fmtStats(syn, per)}; first compile in this process ${(cold.total * per).toFixed(3)} ms`);
  const ver = verifiedSynthetic(synthetic(0));
  if (ver !== undefined) {
    const st = variantStats(ver.vm, ver.insns);
    console.log(`  the same program, verified tier (its stack slots stored first, as the verifier requires, and loaded through it; ` +
      `${(st.min.bytes / st.min.insns).toFixed(1)} wasm bytes/insn), per 1,000 insns: ${fmtStats(st, 1000 / st.min.insns)}`);
  }
  console.log(`  a minor page fault (fresh memory) costs ${faultUs.toFixed(1)} us on this machine now: the synthetic program's median ${Math.round(syn.medianFaults)} per compile ` +
    `are ~${(syn.medianFaults * faultUs / 1000 * per).toFixed(3)} ms per 1,000 insns of its median`);
  if (fresh !== undefined) {
    console.log(`  in a fresh process (one compile, as a CLI command does; bpfkit's own code not yet optimised by V8): ${fresh.ms.toFixed(1)} ms for ${n} insns, ` +
      `${(fresh.ms * 1000 / n).toFixed(3)} ms per 1,000 (codegen ${fresh.codegen.toFixed(1)} ms, ${fresh.faults} page faults)`);
  }
  // The bench workloads and a large clang-compiled object, loaded (and verified) as `prog run` does.
  const { loadObjectIntoKernel } = await import('../src/kernel/load.js');
  const rows: string[][] = [['program', 'insns', 'tier', 'wasm B/insn', 'ms (min; median wall, CPU)', 'phases (min): codegen, module, instantiate, first calls', 'page faults (median; in prepare())', 'ms per 1k insns (min)']];
  let sumMs = 0;
  let sumInsns = 0;
  for (const [name, file] of objects) {
    const bpf = new Bpf({ createMap });
    try {
      const loaded = loadObjectIntoKernel(bpf, new Uint8Array(readFileSync(file)), name);
      for (const prog of loaded.programs) {
        const insns = loaded.runInsns(prog);
        const st = variantStats(bpf.vm, insns);
        const m = st.min;
        if (name !== 'big.o') { sumMs += m.total; sumInsns += m.insns; }
        rows.push([`${name}${loaded.programs.length > 1 ? `:${prog.name}` : ''}`, String(m.insns), verifiedTierOf(insns) ? 'verified' : 'checked',
          (m.bytes / m.insns).toFixed(1), `${m.total.toFixed(3)} (${st.medianWall.toFixed(3)}, ${st.medianCpu.toFixed(3)})`,
          [m.codegen, m.module, m.instantiate, m.firstCall].map((x) => x.toFixed(3)).join(', '), `${Math.round(st.medianFaults)} (${Math.round(st.medianPrepareFaults)})`, (m.total * 1000 / m.insns).toFixed(3)]);
      }
      loaded.close();
    } catch (err) {
      console.log(`  ${name}: not compiled (${(err as Error).message})`);
    }
  }
  if (rows.length > 1) {
    printTable(rows.map((r) => ['  ' + r[0], ...r.slice(1)]));
    if (sumInsns > 0) console.log(`  bench workloads together: ${(sumMs * 1000 / sumInsns).toFixed(3)} ms per 1,000 insns (min; ${sumInsns} insns: small programs, a fixed cost per module dominates)`);
  }
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const opt = (name: string): string | undefined => {
    const at = argv.indexOf(name);
    return at >= 0 ? argv[at + 1] : undefined;
  };
  const scale = Number(opt('--scale') ?? 1);
  const only = opt('--only');
  const batches = Number(opt('--batches') ?? 5);
  const packets = Number(opt('--packets') ?? 1_000_000);
  if (!(scale > 0)) throw new Error('--scale needs a positive number');
  if (!(Number.isInteger(batches) && batches > 0)) throw new Error('--batches needs a positive integer');
  if (!(Number.isInteger(packets) && packets >= 0)) throw new Error('--packets needs a non-negative integer');

  const dir = mkdtempSync(join(tmpdir(), 'bpfkit-bench-'));
  process.env.BPFKIT_STATE = join(dir, 'state'); // bpfkit's pins for the filled maps
  const pkts = { udp: join(dir, 'udp64.bin'), syn: join(dir, 'syn64.bin') };
  writeFileSync(pkts.udp, frame('udp'));
  writeFileSync(pkts.syn, frame('syn'));
  const noKernel = kernelUnavailable();
  console.log(`bpfkit benchmarks (Node ${process.version}); reference: ${noKernel ? `kernel unavailable (${noKernel})` : 'Linux kernel via bpftool prog run (JIT)'}`);
  if (argv.includes('--compile-only')) {
    try {
      const objects = new Map<string, string>();
      for (const b of BENCHES) {
        if (only && b.name !== only) continue;
        const built = await buildObject(b, dir);
        if (built.obj) objects.set(b.name, built.obj);
        else console.log(`  ${b.name}: skipped (${built.why})`);
      }
      if (existsSync(BIG_OBJECT)) objects.set('big.o', BIG_OBJECT);
      await compileTimes(objects);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    return;
  }
  const rows: string[][] = [[
    'program', 'repeat', 'bpfkit jit', 'bpfkit interp', 'kernel', 'jit/kernel', 'interp/kernel', 'uBPF interp (issue #2)', 'interp/uBPF',
  ]];
  const jitRatios: number[] = [];
  const interpRatios: number[] = [];
  const kernelNs = new Map<string, number>();
  const progs = new Map<string, Prog>();
  const spread = (xs: number[]): string => `${fmtNs(median(xs))} (${fmtNs(Math.min(...xs))}-${fmtNs(Math.max(...xs))})`;
  try {
    for (const bench of BENCHES) {
      if (only && bench.name !== only) continue;
      const repeat = Math.max(1, Math.round(bench.repeat * scale));
      const built = await buildObject(bench, dir);
      if (!built.obj) {
        console.log(`  ${bench.name}: skipped (${built.why})`);
        continue;
      }
      const prog = bench.fill ? await pinWithDenyList(built.obj, bench.name, dir, !noKernel) : { file: built.obj };
      progs.set(bench.name, prog);
      const pkt = pkts[bench.packet];
      process.stdout.write(`  ${bench.name}: ${bench.what} ... `);
      // A first pass lets V8 optimise the interpreter and tier up the wasm (as a long-running
      // process would have); then `batches` rounds of interp, jit and kernel, interleaved so load
      // on the machine hits all three alike; each figure is the median of its batches.
      await runBpfkit(prog, pkt, repeat, 'interp');
      await runBpfkit(prog, pkt, repeat, 'jit');
      const samples: { interp: number[]; jit: number[]; kernel: number[] } = { interp: [], jit: [], kernel: [] };
      let retval = -1;
      for (let b = 0; b < batches; b++) {
        const i = await runBpfkit(prog, pkt, repeat, 'interp');
        const j = await runBpfkit(prog, pkt, repeat, 'jit');
        if (j.retval !== i.retval) throw new Error(`${bench.name}: the JIT returned ${j.retval}, the interpreter ${i.retval}`);
        const k = noKernel ? undefined : runKernel(prog, pkt, repeat, bench.name);
        if (k && k.retval !== i.retval) throw new Error(`${bench.name}: bpfkit returned ${i.retval}, the kernel ${k.retval}`);
        retval = i.retval;
        samples.interp.push(i.ns);
        samples.jit.push(j.ns);
        if (k) samples.kernel.push(k.ns);
      }
      const interp = median(samples.interp);
      const jit = median(samples.jit);
      const kernel = samples.kernel.length > 0 ? median(samples.kernel) : undefined;
      console.log(`retval ${retval}`);
      if (kernel !== undefined) {
        kernelNs.set(bench.name, kernel);
        jitRatios.push(Math.max(jit, 1) / Math.max(kernel, 1));
        interpRatios.push(Math.max(interp, 1) / Math.max(kernel, 1));
      }
      rows.push([
        bench.name, String(repeat), spread(samples.jit), spread(samples.interp),
        kernel !== undefined ? spread(samples.kernel) : '-',
        kernel !== undefined ? ratio(jit, kernel) : '-',
        kernel !== undefined ? ratio(interp, kernel) : '-',
        bench.ubpfNs ? fmtNs(bench.ubpfNs) : '-',
        bench.ubpfNs ? ratio(interp, bench.ubpfNs) : '-',
      ]);
    }
    if (jitRatios.length > 0) {
      rows.push(['geomean', '', '', '', '', `${geomean(jitRatios).toFixed(2)}x`, `${geomean(interpRatios).toFixed(2)}x`, '', '']);
    }
    printTable(rows);
    console.log('(ratios < 1 mean bpfkit is faster; uBPF figures are the reference numbers quoted in issue #2, not measured here)');
    if (jitRatios.length > 0) {
      const worst = Math.max(...jitRatios);
      console.log(`JIT vs kernel JIT: geomean ${geomean(jitRatios).toFixed(2)}x (target <= 1.0x), worst ${worst.toFixed(2)}x (target <= 1.5x)`);
    }
    const objects = new Map<string, string>();
    for (const b of BENCHES) if ((!only || b.name === only) && existsSync(join(dir, `${b.name}.o`))) objects.set(b.name, join(dir, `${b.name}.o`));
    if (existsSync(BIG_OBJECT)) objects.set('big.o', BIG_OBJECT);
    await compileTimes(objects);
    if (packets > 0) await captureRuns(dir, packets, batches, progs, kernelNs);
  } finally {
    for (const p of progs.values()) unpinKernel(p);
    rmSync(dir, { recursive: true, force: true });
  }
}

function printTable(rows: string[][]): void {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  for (const r of rows) console.log(r.map((cell, c) => cell.padEnd(widths[c])).join('  '));
}

/**
 * `prog run PROG pcap_in CAPTURE` for the parse+counter and firewall programs, both engines:
 * ns per packet (copy in, run, copy out; the JIT in batches) and packets/s, beside the kernel's
 * per-run time for the same program (one packet, `repeat`).
 */
async function captureRuns(dir: string, packets: number, batches: number, progs: Map<string, Prog>, kernelNs: Map<string, number>): Promise<void> {
  const capture = join(dir, 'capture.pcap');
  writeFileSync(capture, captureFile(packets));
  console.log(`\nCapture runs: ${packets} packets (64-128 bytes; IPv4 TCP/UDP, a tenth VLAN-tagged, some ARP), prog run ... pcap_in`);
  const rows: string[][] = [['program', 'bpfkit jit ns/pkt', 'jit packets/s', 'bpfkit interp ns/pkt', 'kernel ns/run', 'jit/kernel', 'interp/kernel']];
  const runs = Math.max(1, Math.min(batches, 3));
  for (const name of ['parse_count', 'firewall']) {
    const prog = progs.get(name);
    if (!prog) continue;
    const spec = 'file' in prog ? ['file', prog.file] : ['pinned', prog.pinned];
    const once = async (engine: string): Promise<{ ns: number; verdicts: string }> => {
      const out = JSON.parse(await cli(['-j', 'prog', 'run', ...spec, 'pcap_in', capture, 'engine', engine]));
      return { ns: out.duration, verdicts: JSON.stringify(out.verdicts) };
    };
    const jit: number[] = [];
    const interp: number[] = [];
    for (let b = 0; b < runs; b++) {
      const j = await once('jit');
      const i = await once('interp');
      if (j.verdicts !== i.verdicts) throw new Error(`${name} over the capture: JIT verdicts ${j.verdicts}, interpreter ${i.verdicts}`);
      jit.push(j.ns);
      interp.push(i.ns);
    }
    const k = kernelNs.get(name);
    const j = median(jit);
    const i = median(interp);
    rows.push([
      name, `${median(jit)} (${Math.min(...jit)}-${Math.max(...jit)})`, `${(1e9 / Math.max(j, 1) / 1e6).toFixed(2)} M`,
      `${median(interp)} (${Math.min(...interp)}-${Math.max(...interp)})`, k === undefined ? '-' : String(k),
      k === undefined ? '-' : ratio(j, k), k === undefined ? '-' : ratio(i, k),
    ]);
  }
  printTable(rows);
  console.log('(bpfkit per packet includes copying it in and out; the kernel figure is one packet run `repeat` times)');
}

main().catch((err: Error) => {
  console.error(`Error: ${err.message}`);
  process.exitCode = 1;
});

/*
 * `npm run bench` (last part): filtering a 1M-packet capture, issue #7's benchmark.
 *
 * 1. Whole process, as a user runs it: `tcpdump -r IN -w OUT EXPR` beside
 *    `bpfkit tcpdump -r IN -w OUT EXPR` for a few expressions, median wall time of several runs
 *    each, as a ratio (bpfkit / tcpdump; below 1 = bpfkit faster), and each run's ratio to the
 *    tcpdump run just before it. `bpfkit` is bin/bpfkit.js run
 *    as an executable, as npm's link to it runs, in this environment; beside it the same with
 *    NODE_EXTRA_CA_CERTS empty (Node 20 parses that CA bundle at every start, which costs ~40 ms
 *    where a machine sets it; bpfkit makes no TLS connections). The outputs must be
 *    byte-identical. `node -e 0` is measured too, in both environments: the floor any Node
 *    process pays.
 * 2. Startup: the whole process on a 1,000-packet capture beside `node -e 0` (both with
 *    NODE_EXTRA_CA_CERTS empty) and tcpdump: the fixed cost, in ms and in minor page faults.
 * 3. With --instructions: user-space instructions of both whole processes (callgrind), a figure
 *    the machine's load does not change (V8's random hash seed, whose primes are searched at
 *    every start, moves it by up to ~10M between runs of the same command).
 * 4. Whole process on a capture ten times as large (--large N times, 0 to skip): Node's fixed
 *    startup is paid once either way, so this shows the per-packet pipeline (streaming read,
 *    compiled filter, buffered write) against libpcap's, with constant memory (max RSS shown).
 * 5. Per packet, in process: the compiled filter (cbpf/jsc.ts, over the read buffer) beside the
 *    reference interpreter (runCbpf) on the same packets, ns per packet and ratio.
 * 6. The pipeline split, in process: ns per packet to read the file and walk its records (the
 *    bulk path, CaptureReader.keepRuns() with a fused scan that keeps nothing), to read and
 *    filter (the filter fused into the walk, compiled to WebAssembly as the command runs it, and
 *    the JavaScript scan beside it), and to read, filter and write (-w's path).
 * 7. The first pass in a new process, WebAssembly scan beside JavaScript scan: what a short
 *    process pays while V8 has no optimised code for a fresh JavaScript function.
 *
 * `bpfkit tcpdump` starts from its bundle (dist/bundle, `npm run build`) when that is fresh, else
 * from dist/; the first line says which, as the figures differ.
 *
 * The captures (varied generated traffic, ~75 MB and N x 75 MB) are written once to
 * $TMPDIR/bpfkit-bench/ and reused. Options: --runs N (default 5), --packets N (default 1000000),
 * --large N (default 10), --instructions.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCbpf } from '../src/cbpf/interp.js';
import { cbpfInlineAt, compileCbpfAt } from '../src/cbpf/jsc.js';
import { compileFilter } from '../src/filter/index.js';
import { createRequire } from 'node:module';
import { createPcapFile, openCaptureFile } from '../src/net/node_capture.js';
import { CaptureReader, CHUNK_SIZE, compileRecordScan, type RecordScan, writePcap } from '../src/net/pcap.js';
import { compileWasmScan, scanMemory } from '../src/net/pcap_scan_wasm.js';
import { makeTraffic } from '../test/filter_traffic.js';

const EXPRESSIONS = ['tcp port 80', 'udp and dst net 10.0.0.0/8', 'ip6 or arp'];

function option(name: string, dflt: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}
const RUNS = option('--runs', 5);
const PACKETS = option('--packets', 1_000_000);
const LARGE = option('--large', 10);

const BIN = fileURLToPath(new URL('../../bin/bpfkit.js', import.meta.url));
const DIR = join(tmpdir(), 'bpfkit-bench');

/** The capture: 20,000 generated packets repeated, one timestamp per packet. */
function capture(): string {
  const path = join(DIR, `traffic-${PACKETS}-v1.pcap`);
  if (existsSync(path)) return path;
  mkdirSync(DIR, { recursive: true });
  const base = makeTraffic(20_000, 11);
  const tmp = `${path}.${process.pid}`;
  const out = createPcapFile(tmp, { linktype: 1, snaplen: 262144 });
  try {
    for (let i = 0; i < PACKETS; i++) {
      const r = base[i % base.length];
      out.writer.write(1700000000 + Math.floor(i / 1000), (i % 1000) * 1000000, r.len, r.data, 0, r.data.length);
    }
  } finally {
    out.close();
  }
  renameSync(tmp, path);
  return path;
}

/** The capture's records repeated `times` times after its header (built with large writes). */
function largeCapture(input: string, times: number): string {
  const path = input.replace(/\.pcap$/, `-x${times}.pcap`);
  if (existsSync(path)) return path;
  const bytes = readFileSync(input);
  const tmp = `${path}.${process.pid}`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, bytes, 0, 24);
    for (let i = 0; i < times; i++) writeSync(fd, bytes, 24, bytes.length - 24);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  return path;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** Wall time of a process in ms, failing loudly if it fails. */
function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', env });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
  return ms;
}

/** Wall time (ms) and maximum resident set (KB) of a process, through /usr/bin/time when present. */
function timedRss(cmd: string, args: string[]): [number, number | undefined] {
  if (!existsSync('/usr/bin/time')) return [timed(cmd, args), undefined];
  const t0 = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-f', 'maxrss %M', cmd, ...args], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
  const m = /maxrss (\d+)/.exec(r.stderr);
  return [ms, m ? Number(m[1]) : undefined];
}

/**
 * Minor page faults of a process (/usr/bin/time's %R), median of three runs; undefined without
 * /usr/bin/time. A count the machine's load hardly moves, and a cost of its own where a fault
 * takes ~10 us (virtual machines).
 */
function pageFaults(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): number | undefined {
  if (!existsSync('/usr/bin/time')) return undefined;
  const runs = Array.from({ length: 3 }, () => {
    const r = spawnSync('/usr/bin/time', ['-f', 'minflt %R', cmd, ...args], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', env });
    const m = /minflt (\d+)/.exec(r.stderr);
    if (r.status !== 0 || !m) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
    return Number(m[1]);
  });
  return median(runs);
}

function findTcpdump(): string | undefined {
  for (const dir of [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/sbin']) {
    if (dir && existsSync(join(dir, 'tcpdump'))) return join(dir, 'tcpdump');
  }
  return undefined;
}

function wholeProcess(input: string): void {
  const tcpdump = findTcpdump();
  if (!tcpdump) console.log('tcpdump not installed: whole-process comparison skipped (apt-get install tcpdump)');
  const theirs = join(DIR, 'out-tcpdump.pcap');
  const ours = join(DIR, 'out-bpfkit.pcap');
  const oursBare = join(DIR, 'out-bpfkit-bare.pcap');
  const bare = { ...process.env, NODE_EXTRA_CA_CERTS: '' };
  const nodeFloor = median(Array.from({ length: RUNS }, () => timed(process.execPath, ['-e', '0'])));
  const bareFloor = median(Array.from({ length: RUNS }, () => timed(process.execPath, ['-e', '0'], bare)));
  console.log(`\nWhole process, ${PACKETS} packets (${(statSync(input).size / 1e6).toFixed(0)} MB), median of ${RUNS} runs:`);
  console.log(`  node -e 0 (startup floor): ${nodeFloor.toFixed(0)} ms; with NODE_EXTRA_CA_CERTS empty: ${bareFloor.toFixed(0)} ms`
    + ` (this environment's NODE_EXTRA_CA_CERTS: ${process.env.NODE_EXTRA_CA_CERTS ? JSON.stringify(process.env.NODE_EXTRA_CA_CERTS) : 'unset'})`);
  console.log('  bpfkit = bin/bpfkit.js run as an executable (as npm\'s `bpfkit` link runs it) in this environment;'
    + ' "no CA" = the same with NODE_EXTRA_CA_CERTS empty');
  for (const expr of EXPRESSIONS) {
    const us: number[] = [];
    const noCa: number[] = [];
    const them: number[] = [];
    for (let i = 0; i < RUNS; i++) { // interleaved, so load changes hit both alike
      if (tcpdump) them.push(timed(tcpdump, ['-r', input, '-w', theirs, expr]));
      us.push(timed(BIN, ['tcpdump', '-r', input, '-w', ours, expr]));
      noCa.push(timed(BIN, ['tcpdump', '-r', input, '-w', oursBare, expr], bare));
    }
    const mine = median(us);
    const mineBare = median(noCa);
    let line = `  ${JSON.stringify(expr).padEnd(30)} bpfkit ${mine.toFixed(0)} ms (no CA ${mineBare.toFixed(0)} ms)`;
    if (tcpdump) {
      const want = readFileSync(theirs);
      const same = want.equals(readFileSync(ours)) && want.equals(readFileSync(oursBare));
      const ref = median(them);
      line += `, tcpdump ${ref.toFixed(0)} ms, ratio bpfkit/tcpdump ${(mine / ref).toFixed(2)} (no CA ${(mineBare / ref).toFixed(2)})`
        + `, (bpfkit - node startup)/tcpdump ${((mine - nodeFloor) / ref).toFixed(2)}${same ? '' : '  OUTPUTS DIFFER'}`;
      // Each run beside the tcpdump run just before it: tcpdump's own time moves by a third
      // between runs, so the spread says more than one median ratio.
      const perRun = (xs: number[]): string => xs.map((x, i) => (x / them[i]).toFixed(2)).join(' ');
      line += `\n    per run, each beside its tcpdump run: ${perRun(us)} (no CA ${perRun(noCa)})`;
    }
    console.log(line);
  }
}

/**
 * The fixed cost: the same on a 1,000-packet capture, where nearly all of a run is startup
 * (bpfkit beside `node -e 0`, both with NODE_EXTRA_CA_CERTS empty, and beside tcpdump).
 */
function startup(): void {
  const tcpdump = findTcpdump();
  const small = join(DIR, 'traffic-1000-v1.pcap');
  if (!existsSync(small)) {
    writeFileSync(`${small}.${process.pid}`, writePcap({ linktype: 1, snaplen: 262144 }, makeTraffic(1000, 11)));
    renameSync(`${small}.${process.pid}`, small);
  }
  const bare = { ...process.env, NODE_EXTRA_CA_CERTS: '' };
  const floor: number[] = [];
  const us: number[] = [];
  const them: number[] = [];
  for (let i = 0; i < RUNS * 2; i++) {
    floor.push(timed(process.execPath, ['-e', '0'], bare));
    us.push(timed(BIN, ['tcpdump', '-r', small, '-w', join(DIR, 'out-small.pcap'), EXPRESSIONS[0]], bare));
    if (tcpdump) them.push(timed(tcpdump, ['-r', small, '-w', join(DIR, 'out-small-tcpdump.pcap'), EXPRESSIONS[0]]));
  }
  console.log(`\nStartup, 1,000 packets, median of ${RUNS * 2} runs (NODE_EXTRA_CA_CERTS empty): bpfkit ${median(us).toFixed(0)} ms,`
    + ` node -e 0 ${median(floor).toFixed(0)} ms (bpfkit beyond node's start: ${(median(us) - median(floor)).toFixed(1)} ms)`
    + `${tcpdump ? `, tcpdump ${median(them).toFixed(0)} ms` : ''}`);
  const faultsFloor = pageFaults(process.execPath, ['-e', '0'], bare);
  const faultsUs = pageFaults(BIN, ['tcpdump', '-r', small, '-w', join(DIR, 'out-small.pcap'), EXPRESSIONS[0]], bare);
  if (faultsFloor !== undefined && faultsUs !== undefined) {
    const faultsThem = tcpdump ? pageFaults(tcpdump, ['-r', small, '-w', join(DIR, 'out-small-tcpdump.pcap'), EXPRESSIONS[0]]) : undefined;
    console.log(`  minor page faults: bpfkit ${faultsUs}, node -e 0 ${faultsFloor} (bpfkit beyond node's start: ${faultsUs - faultsFloor})`
      + `${faultsThem !== undefined ? `, tcpdump ${faultsThem}` : ''}`);
  }
}

function largeFile(input: string): void {
  const tcpdump = findTcpdump();
  if (!LARGE || !tcpdump) return;
  const big = largeCapture(input, LARGE);
  const runs = Math.max(1, Math.min(RUNS, 3));
  const theirs = join(DIR, 'out-tcpdump.pcap');
  const ours = join(DIR, 'out-bpfkit.pcap');
  console.log(`\nWhole process, ${LARGE * PACKETS} packets (${(statSync(big).size / 1e6).toFixed(0)} MB), median of ${runs} runs:`);
  for (const expr of [EXPRESSIONS[0], EXPRESSIONS[2]]) {
    const us: number[] = [];
    const them: number[] = [];
    let rss: number | undefined;
    for (let i = 0; i < runs; i++) {
      them.push(timed(tcpdump, ['-r', big, '-w', theirs, expr]));
      const [ms, kb] = timedRss(BIN, ['tcpdump', '-r', big, '-w', ours, expr]);
      us.push(ms);
      rss = Math.max(rss ?? 0, kb ?? 0) || undefined;
    }
    const same = readFileSync(theirs).equals(readFileSync(ours));
    console.log(`  ${JSON.stringify(expr).padEnd(30)} bpfkit ${median(us).toFixed(0)} ms, tcpdump ${median(them).toFixed(0)} ms,`
      + ` ratio bpfkit/tcpdump ${(median(us) / median(them)).toFixed(2)}${rss ? `, bpfkit max RSS ${(rss / 1024).toFixed(0)} MB` : ''}`
      + `${same ? '' : '  OUTPUTS DIFFER'}`);
  }
}

function perPacket(input: string): void {
  const bytes = new Uint8Array(readFileSync(input));
  const r = new CaptureReader(bytes);
  const offs = new Int32Array(PACKETS);
  const caps = new Int32Array(PACKETS);
  const lens = new Int32Array(PACKETS);
  const views: Uint8Array[] = [];
  let n = 0;
  while (r.next() && n < PACKETS) {
    offs[n] = r.dataOffset; caps[n] = r.caplen; lens[n] = r.len;
    views.push(bytes.subarray(r.dataOffset, r.dataOffset + r.caplen));
    n++;
  }
  console.log(`\nPer packet, in process, ${n} packets (median of ${RUNS} passes after a warm-up pass):`);
  for (const expr of EXPRESSIONS) {
    const prog = compileFilter(expr, { linktype: 1, snaplen: 262144, savefile: true });
    const fn = compileCbpfAt(prog);
    const pass = (run: () => number): [number, number] => {
      const t0 = process.hrtime.bigint();
      const kept = run();
      return [Number(process.hrtime.bigint() - t0) / n, kept];
    };
    const compiled = (): number => { let k = 0; for (let i = 0; i < n; i++) if (fn(bytes, offs[i], caps[i], lens[i]) !== 0) k++; return k; };
    const interp = (): number => { let k = 0; for (let i = 0; i < n; i++) if (runCbpf(prog, views[i], lens[i]) !== 0) k++; return k; };
    const c: number[] = [];
    const p: number[] = [];
    let keptC = 0, keptI = 0;
    for (let i = 0; i <= RUNS; i++) {
      const [ct, ck] = pass(compiled);
      const [it, ik] = pass(interp);
      if (i > 0) { c.push(ct); p.push(it); }
      keptC = ck; keptI = ik;
    }
    if (keptC !== keptI) throw new Error(`${expr}: compiled kept ${keptC}, interpreter ${keptI}`);
    console.log(`  ${JSON.stringify(expr).padEnd(30)} compiled ${median(c).toFixed(1)} ns, interpreter ${median(p).toFixed(1)} ns`
      + ` (interpreter/compiled ${(median(p) / median(c)).toFixed(1)}x), ${keptC} kept`);
  }
}

/**
 * Read, read + filter, read + filter + write, each timed over the whole file (median of RUNS),
 * the reader's buffer in WebAssembly memory as the command places it; the filter fused into the
 * record walk as WebAssembly (the command's) and as JavaScript (where WebAssembly is refused).
 */
function pipelineSplit(input: string): void {
  console.log(`\nPipeline split, in process, ns per packet (median of ${RUNS} passes after a warm-up pass):`);
  const out = join(DIR, 'out-split.pcap');
  const memory = scanMemory(CHUNK_SIZE)!;
  for (const expr of EXPRESSIONS) {
    const prog = compileFilter(expr, { linktype: 1, snaplen: 262144, savefile: true });
    const fn = compileCbpfAt(prog);
    // (a scan that keeps nothing for the read-only pass; several scans run in this process, so
    // the JavaScript figures are of code optimised alongside others, unlike a `bpfkit tcpdump`
    // process, and of code long past its warm-up)
    const none = (): number => 0;
    const js = compileRecordScan(cbpfInlineAt(prog) ?? 'filter: {}');
    const wasm = compileWasmScan(prog, memory.memory, () => js)!;
    const scans = { none: compileRecordScan('filter: {}'), js, wasm: wasm.scan };
    const pass = (write: boolean, scan: keyof typeof scans): number => {
      const t0 = process.hrtime.bigint();
      const file = openCaptureFile(input, memory.buffer);
      const output = write ? createPcapFile(out, { linktype: 1, snaplen: 262144 }) : undefined;
      try {
        // As the tcpdump command: the bulk path, and next() for what it leaves (buffer ends).
        const r = file.reader;
        const keep = scan === 'none' ? none : fn;
        const emit = output ? (b: Uint8Array, s: number, e: number): void => output.writer.writeRaw(b, s, e) : (): void => {};
        for (;;) {
          r.keepRuns(keep, Infinity, emit, scans[scan]);
          if (!r.next()) break;
          if (keep(r.buf, r.dataOffset, r.caplen, r.len) !== 0) output?.writer.write(r.sec, r.nsec, r.len, r.buf, r.dataOffset, r.caplen);
        }
      } finally {
        file.close();
        output?.close();
      }
      return Number(process.hrtime.bigint() - t0) / PACKETS;
    };
    const times = [[], [], [], []] as number[][];
    for (let i = 0; i <= RUNS; i++) {
      const t = [pass(false, 'none'), pass(false, 'wasm'), pass(false, 'js'), pass(true, 'wasm')];
      if (i > 0) t.forEach((v, k) => times[k].push(v));
    }
    const [read, filter, filterJs, write] = times.map(median);
    // (absolute times: the WebAssembly scan walks and filters faster than the JavaScript walk alone)
    console.log(`  ${JSON.stringify(expr).padEnd(30)} read and walk (JavaScript, no filter) ${read.toFixed(1)} ns; read, walk and filter:`
      + ` WebAssembly ${filter.toFixed(1)} ns, JavaScript ${filterJs.toFixed(1)} ns; + write ${(write - filter).toFixed(1)} ns = ${write.toFixed(1)} ns`);
  }
}

/**
 * The first pass, as a `bpfkit tcpdump` process meets it: each scan freshly compiled in a new
 * process (WebAssembly, or JavaScript that V8 runs in its interpreter and baseline tiers until
 * TurboFan's code is ready), over the whole file with nothing written: ms per pass, median of
 * RUNS processes, and the ratio.
 */
function firstPass(input: string): void {
  const child = process.argv.indexOf('--first-pass');
  if (child >= 0) {
    const [kind, expr] = process.argv.slice(child + 1);
    const prog = compileFilter(expr, { linktype: 1, snaplen: 262144, savefile: true });
    const memory = scanMemory(CHUNK_SIZE)!;
    const t0 = process.hrtime.bigint();
    const js = (): RecordScan | undefined => compileRecordScan(cbpfInlineAt(prog)!);
    const scan = kind === 'wasm' ? compileWasmScan(prog, memory.memory, js)!.scan : js()!;
    const keep = compileCbpfAt(prog);
    const file = openCaptureFile(input, memory.buffer);
    for (const r = file.reader; ;) {
      r.keepRuns(keep, Infinity, () => {}, scan);
      if (!r.next()) break;
    }
    file.close();
    console.log(Number(process.hrtime.bigint() - t0) / 1e6);
    process.exit(0);
  }
  console.log(`\nFirst pass over ${PACKETS} packets in a new process (compile + read + filter, nothing written), median of ${RUNS}:`);
  const self = fileURLToPath(import.meta.url);
  const run = (kind: string, expr: string): number => {
    const r = spawnSync(process.execPath, [self, '--packets', String(PACKETS), '--first-pass', kind, expr], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`first pass ${kind}: ${r.stderr}`);
    return Number(r.stdout.trim().split('\n').pop());
  };
  for (const expr of EXPRESSIONS) {
    const w: number[] = [];
    const j: number[] = [];
    for (let i = 0; i < RUNS; i++) { w.push(run('wasm', expr)); j.push(run('js', expr)); }
    console.log(`  ${JSON.stringify(expr).padEnd(30)} WebAssembly scan ${median(w).toFixed(1)} ms, JavaScript scan ${median(j).toFixed(1)} ms`
      + ` (WebAssembly/JavaScript ${(median(w) / median(j)).toFixed(2)})`);
  }
}

/** Which code `bpfkit tcpdump` runs: the bundle when fresh (bin/bundle.js decides), else dist/. */
function startPath(): string {
  const bundle = createRequire(import.meta.url)(fileURLToPath(new URL('../../bin/bundle.js', import.meta.url))) as { freshBundle(name: string): { bundle: string } | undefined };
  const fresh = bundle.freshBundle('tcpdump');
  return fresh ? `bundle dist/bundle/${fresh.bundle} (fresh)` : 'dist/ (no fresh bundle: `npm run build` makes one)';
}

/**
 * --instructions: user-space instructions of the whole process (valgrind --tool=callgrind), a
 * count the machine's load does not change, for tcpdump and `bpfkit tcpdump` (NODE_EXTRA_CA_CERTS
 * empty) on the same expression, and `node -e 0` as the floor. Kernel work (the file's read and write
 * copies) is not counted. Slow (~20 s a run), so off by default.
 */
function instructions(input: string): void {
  const tcpdump = findTcpdump();
  if (!process.argv.includes('--instructions')) return;
  if (!tcpdump || !existsSync('/usr/bin/valgrind')) { console.log('\n--instructions: needs tcpdump and valgrind'); return; }
  const count = (cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): number => {
    // V8 writes code at run time: --smc-check makes valgrind see it.
    const r = spawnSync('/usr/bin/valgrind', ['--tool=callgrind', '--smc-check=all-non-file', '--callgrind-out-file=/dev/null', cmd, ...args],
      { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', env });
    const m = /Collected : (\d+)/.exec(r.stderr);
    if (r.status !== 0 || !m) throw new Error(`callgrind ${cmd}: exit ${r.status}: ${r.stderr.slice(-500)}`);
    return Number(m[1]);
  };
  console.log(`\nUser-space instructions (callgrind), ${PACKETS} packets:`);
  const floor = count(process.execPath, ['-e', '0'], { ...process.env, NODE_EXTRA_CA_CERTS: '' });
  console.log(`  node -e 0 (NODE_EXTRA_CA_CERTS empty): ${(floor / 1e6).toFixed(0)}M`);
  for (const expr of [EXPRESSIONS[0], EXPRESSIONS[2]]) {
    const theirs = count(tcpdump, ['-r', input, '-w', join(DIR, 'out-tcpdump.pcap'), expr]);
    const ours = count(process.execPath, [BIN, 'tcpdump', '-r', input, '-w', join(DIR, 'out-bpfkit.pcap'), expr], { ...process.env, NODE_EXTRA_CA_CERTS: '' });
    console.log(`  ${JSON.stringify(expr).padEnd(30)} bpfkit ${(ours / 1e6).toFixed(0)}M, tcpdump ${(theirs / 1e6).toFixed(0)}M,`
      + ` ratio bpfkit/tcpdump ${(ours / theirs).toFixed(2)}, beyond node's start ${((ours - floor) / theirs).toFixed(2)}`);
  }
}

const input = capture();
if (process.argv.includes('--first-pass')) firstPass(input);
console.log(`bpfkit tcpdump starts from: ${startPath()}`);
wholeProcess(input);
startup();
instructions(input);
largeFile(input);
perPacket(input);
pipelineSplit(input);
firstPass(input);

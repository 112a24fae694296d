#!/usr/bin/env node
// Our filter listings against the local tcpdump (libpcap 1.10.3), run after `npx tsc -p .`:
//   node scripts/filter-vs-tcpdump.mjs [accept|random|combos|apply] [-d|-dd|-ddd] [-O] [--n N] [--every K] [-v] [DLT...]
// accept: every libpcap accept test the local tcpdump compiles (-y DLT, or -r on an empty savefile
//   for the offline-filter tests; the test's -O and -s), optionally every K-th only;
// random: N generated expressions (test/filter_random_lib.ts) on EN10MB (or the DLTs given),
//   optimized and with -O; combos: every K-th qualifier x operand combination of
//   test/filter_wording_lib.ts the same way. Both must then also reject alike.
// apply: which libpcap apply tests (1.11's per-packet results) the local tcpdump's own program
//   fails: the evidence that a listing difference is forced by a packet-selection difference.
// -O forces unoptimised compiles; -dd/-ddd compare those dump forms instead of -d.
// Prints progress, the differences grouped by cause (-v: each listing pair), and `identical A/N`.
// tcpdump's answers are cached in $TMPDIR/bpfkit-tcpdump-cache.json (keyed by its arguments).
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bpfDump } from '../dist/src/cbpf/dump.js';
import { compileFilter } from '../dist/src/filter/index.js';
import { badExpressions, emptySavefile } from '../dist/test/filter_wording_lib.js';
import { randomExpressions } from '../dist/test/filter_random_lib.js';
import { forcedCause, forcedRejection } from '../dist/test/filter_forced.js';
import { runCbpf } from '../dist/src/cbpf/interp.js';
import { readCapture } from '../dist/src/net/pcap.js';

const args = process.argv.slice(2);
const flag = (f) => args.includes(f);
const opt = (f, dflt) => { const i = args.indexOf(f); return i >= 0 ? Number(args[i + 1]) : dflt; };
const mode = ['random', 'combos', 'apply'].includes(args[0]) ? args[0] : 'accept';
const level = flag('-ddd') ? 3 : flag('-dd') ? 2 : 1;
const forceUnopt = flag('-O');
const verbose = flag('-v');
const every = opt('--every', 1);
const dlts = args.filter((a, i) => /^[A-Z]/.test(a) && !['--n', '--every'].includes(args[i - 1]));
const TIMEOUT_MS = 10_000;

const cachePath = join(tmpdir(), 'bpfkit-tcpdump-cache.json');
const cache = existsSync(cachePath) ? JSON.parse(readFileSync(cachePath, 'utf8')) : {};

/** tcpdump ARGS -> { status, stdout }, killed after TIMEOUT_MS. */
function tcpdump(argv) {
  const key = argv.join('\0');
  if (cache[key]) return Promise.resolve(cache[key]);
  return new Promise((resolve) => {
    const p = spawn('tcpdump', argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    const timer = setTimeout(() => p.kill('SIGKILL'), TIMEOUT_MS);
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    p.on('close', (status) => {
      clearTimeout(timer);
      const r = { status, stdout: out, stderr: err.trimEnd().split('\n').pop() ?? '' };
      cache[key] = r;
      resolve(r);
    });
  });
}

const testsDir = fileURLToPath(new URL('../../shared/libpcap-tests/', import.meta.url));
const rejectTests = new Set(readFileSync(testsDir + 'filter_reject_tests.jsonl', 'utf8').split('\n').filter(Boolean)
  .map((l) => JSON.parse(l)).filter((t) => !t.env_skip && t.expr !== undefined).map((t) => `${t.DLT ?? 'EN10MB'} ${t.expr}`));

/** The cases: { label, dlt, expr, optimize, snaplen, savefile, swapped }. */
function cases() {
  if (mode === 'random' || mode === 'combos') {
    const exprs = mode === 'random' ? randomExpressions(opt('--n', 2000), 20261207) : badExpressions().filter((_, i) => i % every === 0);
    return exprs.flatMap((expr, i) => (dlts.length ? dlts : ['EN10MB']).flatMap((dlt) => [true, false].map((optimize) => (
      { label: `${mode}#${i}`, dlt, expr, optimize, snaplen: null, savefile: false, swapped: false }))));
  }
  const path = fileURLToPath(new URL('../../shared/libpcap-tests/filter_accept_tests.jsonl', import.meta.url));
  return readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l))
    // tcpdump has no netmask or Linux-extension options.
    .filter((t) => !t.env_skip && t.expr !== '_enumerate_bpf_image' && !t.linuxext && !t.netmask && (!dlts.length || dlts.includes(t.DLT)))
    .filter((_, i) => i % every === 0)
    .map((t) => ({ label: t.label, dlt: t.DLT, expr: t.expr, optimize: t.optimize, snaplen: t.snaplen,
      savefile: t.generate_offline_filter !== null, swapped: t.generate_offline_filter === 'swapped' }));
}

function tcpdumpArgs(c, optimize) {
  return [...(c.savefile ? ['-r', emptySavefile(c.dlt, c.swapped)] : ['-y', c.dlt]), ...(optimize ? [] : ['-O']),
    ...(c.snaplen ? ['-s', String(c.snaplen)] : []), '-' + 'd'.repeat(level), '--', c.expr];
}

function ours(c, optimize) {
  try {
    // `tcpdump -y` compiles on a dead handle of this Linux host: a live capture as far as 1.10.3's
    // gen_inbound() is concerned (direction from the kernel's packet type).
    return bpfDump(compileFilter(c.expr, { linktype: c.dlt, optimize, snaplen: c.snaplen ?? 262144, netmask: 0, // tcpdump: no local net for -y/-r
      savefile: c.savefile, swapped: c.swapped, linuxExtensions: !c.savefile }), level);
  } catch (e) { return `error: ${e.message}\n`; }
}

/** The cause of a difference: a forced one (test/filter_forced.ts), else the first differing line's shape. */
function cause(c, want, got) {
  const forced = forcedCause(c.dlt, c.expr);
  if (forced) return `forced: ${forced}`;
  if (got.startsWith('error: ')) {
    if (rejectTests.has(`${c.dlt} ${c.expr}`)) return 'forced: a libpcap 1.11 reject test (1.10.3 accepts)';
    const message = got.slice(7).trim();
    const shape = message.replace(/'[^']*'|"[^"]*"|\d+/g, '_');
    return forcedRejection(message) ? `forced: 1.11's check (reject tests): ${shape}` : `we reject: ${shape}`;
  }
  const a = want.split('\n'), b = got.split('\n');
  let i = 0;
  while (i < a.length && a[i] === b[i]) i++;
  const shape = (s) => (s ?? '<end>').replace(/^\(\d+\)\s*/, '').replace(/jt \d+\s*jf \d+/, 'jt/jf').replace(/\s+/g, ' ');
  const len = a.length === b.length ? 'same length' : a.length < b.length ? 'ours longer' : 'ours shorter';
  return `[${c.dlt}${c.optimize ? '' : ' -O'}] ${len}; tcpdump "${shape(a[i])}" vs ours "${shape(b[i])}"`;
}

if (mode === 'apply') {
  const dir = fileURLToPath(new URL('../../shared/libpcap-tests/', import.meta.url));
  const tests = readFileSync(dir + 'filter_apply_tests.jsonl', 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l))
    .filter((t) => !t.env_skip && !t.netmask);
  let n = 0, pass = 0;
  for (const t of tests) {
    const file = dir + 'savefiles/' + t.savefile;
    const r = await tcpdump(['-r', file, ...(t.optimize ? [] : ['-O']), '-ddd', '--', t.expr]);
    if (r.status !== 0) { console.log(`tcpdump rejects ${t.label}: ${t.expr}: ${r.stderr}`); continue; }
    n++;
    const prog = r.stdout.trim().split('\n').slice(1).map((l) => { const [code, jt, jf, k] = l.split(' ').map(Number); return { code, jt, jf, k }; });
    const got = readCapture(readFileSync(file)).records.map((p) => runCbpf(prog, p.data, p.len));
    if (JSON.stringify(got) === JSON.stringify(t.results)) pass++;
    else console.log(`1.10.3 selects other packets: ${t.savefile} ${t.optimize ? '' : '-O '}${t.expr}\n  1.11 ${JSON.stringify(t.results)}\n  here ${JSON.stringify(got)}`);
  }
  writeFileSync(cachePath, JSON.stringify(cache));
  console.log(`apply: tcpdump's own programs give 1.11's results in ${pass}/${n} tests`);
  process.exit(0);
}

const all = cases();
const started = Date.now();
let done = 0, compiled = 0, same = 0;
const groups = new Map();
let next = 0;
const work = async () => {
  while (next < all.length) {
    const c = all[next++];
    const optimize = forceUnopt ? false : c.optimize;
    const r = await tcpdump(tcpdumpArgs(c, optimize));
    if (++done % 250 === 0) process.stderr.write(`\r${done}/${all.length} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
    if (r.status !== 0) {
      if (mode !== 'accept') { // both must reject
        const got = ours(c, optimize);
        if (!got.startsWith('error: ')) { const k = 'tcpdump rejects, we accept'; groups.set(k, [...(groups.get(k) ?? []), { c, want: r.stderr, got }]); }
      }
      continue;
    }
    compiled++;
    const got = ours(c, optimize);
    if (got === r.stdout) { same++; continue; }
    const k = cause({ ...c, optimize }, r.stdout, got);
    groups.set(k, [...(groups.get(k) ?? []), { c, want: r.stdout, got }]);
  }
};
await Promise.all([work(), work()]);
process.stderr.write('\n');
writeFileSync(cachePath, JSON.stringify(cache));

for (const [k, list] of [...groups].sort((x, y) => y[1].length - x[1].length)) {
  console.log(`${String(list.length).padStart(4)}  ${k}`);
  for (const { c, want, got } of list.slice(0, verbose ? Infinity : 3)) {
    console.log(`        ${c.label} [${c.dlt}]${c.savefile ? ' (savefile)' : ''} ${c.expr}`);
    if (verbose) console.log(`--- tcpdump:\n${want}--- ours:\n${got}`);
  }
}
const forced = [...groups].filter(([k]) => k.startsWith('forced: ')).reduce((n, [, l]) => n + l.length, 0);
console.log(`differences: ${forced} forced by 1.11 packet selection or checks, ${compiled - same - forced} other`);
console.log(`${mode} ${'-' + 'd'.repeat(level)}${forceUnopt ? ' -O' : ''}: identical ${same}/${compiled} (${(100 * same / Math.max(compiled, 1)).toFixed(1)}%) of the ${compiled} tcpdump compiled (${all.length} cases)`);

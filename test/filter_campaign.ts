/*
 * The full libpcap-tests campaign for the filter compiler (too slow for `npm test`):
 *   node dist/test/filter_campaign.js [accept|apply|reject|tcpdump|errors] [-v] [DLT...]
 * accept: exact-match rate of our -d listing against the expected (libpcap 1.11-pre) text;
 * tcpdump: the same tests against the local tcpdump (libpcap 1.10.3) where it accepts the DLT;
 * apply: per-packet results over the savefiles; reject: the expression must be rejected.
 * errors: our default (1.10.3) wording against the local tcpdump's stderr over the generated bad
 * expressions (every 13th) and the reject tests' expressions (every 5th).
 */
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { bpfDump } from '../src/cbpf/dump.js';
import { compileFilter, PCAP_NETMASK_UNKNOWN } from '../src/filter/index.js';
import { applyFilterToSavefile } from './filter_apply_lib.js';
import { badExpressions, emptySavefile, pool, tcpdumpError } from './filter_wording_lib.js';

const DIR = new URL('../../../shared/libpcap-tests/', import.meta.url).pathname;
const mode = process.argv[2] ?? 'accept';
const verbose = process.argv.includes('-v');
const onlyDlts = process.argv.slice(3).filter((a) => !a.startsWith('-'));

interface AcceptTest {
  label: string; DLT: string; expr: string; optimize: boolean; snaplen: number | null; netmask: string | null;
  linuxext: boolean; generate_offline_filter: string | null; env_skip: string | null; expected: string;
}

function ipToNum(s: string | null): number {
  if (!s) return PCAP_NETMASK_UNKNOWN;
  return s.split('.').reduce((a, p) => ((a << 8) | Number(p)) >>> 0, 0);
}

function lines<T>(file: string): T[] {
  return readFileSync(DIR + file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as T);
}

function compileListing(t: AcceptTest): string {
  return bpfDump(compileFilter(t.expr, {
    linktype: t.DLT, optimize: t.optimize, snaplen: t.snaplen ?? 262144, netmask: ipToNum(t.netmask),
    savefile: t.generate_offline_filter !== null, swapped: t.generate_offline_filter === 'swapped', linuxExtensions: t.linuxext,
  }), 1);
}

if (mode === 'accept' || mode === 'tcpdump') {
  const tests = lines<AcceptTest>('filter_accept_tests.jsonl').filter((t) => !t.env_skip && (!onlyDlts.length || onlyDlts.includes(t.DLT)));
  const byDlt = new Map<string, { n: number; ok: number }>();
  let n = 0, ok = 0, supported = 0, okSupported = 0;
  for (const t of tests) {
    if (t.expr === '_enumerate_bpf_image') continue;
    let want = t.expected;
    if (mode === 'tcpdump') {
      if (t.linuxext || t.netmask) continue;
      // A savefile compile (rfile set) needs -r: an empty capture of that link type and byte order.
      const input = t.generate_offline_filter ? ['-r', emptySavefile(t.DLT, t.generate_offline_filter === 'swapped')] : ['-y', t.DLT];
      const r = spawnSync('tcpdump', [...input, ...(t.optimize ? [] : ['-O']), ...(t.snaplen ? ['-s', String(t.snaplen)] : []), '-d', '--', t.expr], { encoding: 'utf8' });
      if (r.status !== 0) continue;
      want = r.stdout;
    }
    n++;
    const isSup = true;
    if (isSup) supported++;
    let got: string;
    try { got = compileListing(t); } catch (e) { got = `ERR ${(e as Error).message}\n`; }
    const d = byDlt.get(t.DLT) ?? { n: 0, ok: 0 };
    d.n++;
    if (got === want) { ok++; d.ok++; if (isSup) okSupported++; } else if (verbose && isSup) {
      console.log(`--- ${t.label} [${t.DLT}] ${t.optimize ? '' : '-O '}${t.expr}\nwant:\n${want}got:\n${got}`);
    }
    byDlt.set(t.DLT, d);
  }
  for (const [k, v] of [...byDlt].sort((a, b) => b[1].n - a[1].n)) console.log(`${k.padEnd(12)} ${v.ok}/${v.n}`);
  console.log(`${mode}: exact ${ok}/${n} (${(100 * ok / Math.max(n, 1)).toFixed(1)}%); on supported link types ${okSupported}/${supported} (${(100 * okSupported / Math.max(supported, 1)).toFixed(1)}%)`);
} else if (mode === 'apply') {
  interface ApplyTest { label: string; savefile: string; expr: string; optimize: boolean; netmask: string | null; results: number[]; env_skip: string | null }
  const tests = lines<ApplyTest>('filter_apply_tests.jsonl').filter((t) => !t.env_skip);
  let ok = 0;
  for (const t of tests) {
    let got: number[] | string;
    try { got = applyFilterToSavefile(DIR + 'savefiles/' + t.savefile, t.expr, t.optimize, ipToNum(t.netmask)); } catch (e) { got = `ERR ${(e as Error).message}`; }
    if (JSON.stringify(got) === JSON.stringify(t.results)) ok++;
    else if (verbose) console.log(`--- ${t.label}: ${t.expr}\n want ${JSON.stringify(t.results)}\n got  ${JSON.stringify(got)}`);
  }
  console.log(`apply: ${ok}/${tests.length}`);
} else if (mode === 'reject') {
  interface RejectTest { label: string; DLT?: string; expr?: string; netmask?: string | null; savefile?: string; errstr: string; env_skip: string | null }
  const tests = lines<RejectTest>('filter_reject_tests.jsonl').filter((t) => !t.env_skip && t.expr !== undefined && (!onlyDlts.length || onlyDlts.includes(t.DLT ?? '')));
  let rejected = 0, wording = 0, supported = 0, supRejected = 0, supWording = 0;
  for (const t of tests) {
    const isSup = true;
    if (isSup) supported++;
    try {
      compileFilter(t.expr as string, { linktype: t.DLT, netmask: ipToNum(t.netmask ?? null), wording: '1.11' });
      if (verbose && isSup) console.log(`--- accepted ${t.label} [${t.DLT}] ${t.expr} (want: ${t.errstr})`);
    } catch (e) {
      rejected++;
      if (isSup) supRejected++;
      const m = (e as Error).message;
      if (m.includes(t.errstr)) { wording++; if (isSup) supWording++; } else if (verbose && isSup && process.argv.includes('-w')) console.log(`~~~ wording ${t.label} [${t.DLT}] ${t.expr}\n want: ${t.errstr}\n got:  ${m}`);
    }
  }
  console.log(`reject: rejected ${rejected}/${tests.length}, libpcap wording ${wording}/${tests.length}; on supported link types rejected ${supRejected}/${supported}, wording ${supWording}/${supported}`);
}

if (mode === 'errors') {
  interface RejectTest { DLT?: string; expr?: string; env_skip: string | null; netmask?: string | null }
  const cases: [string, string][] = badExpressions().filter((_, i) => i % 13 === 0).map((e) => ['EN10MB', e]);
  lines<RejectTest>('filter_reject_tests.jsonl').filter((t) => !t.env_skip && t.expr !== undefined && !t.netmask)
    .filter((_, i) => i % 5 === 0).forEach((t) => cases.push([t.DLT as string, t.expr as string]));
  const res = await pool(cases, 4, ([dlt, e]) => tcpdumpError(dlt, e));
  let both = 0, same = 0, onlyUs = 0, onlyThem = 0;
  for (let i = 0; i < cases.length; i++) {
    const [dlt, e] = cases[i];
    let ours: string | undefined;
    try { compileFilter(e, { linktype: dlt }); } catch (x) { ours = (x as Error).message; }
    const r = res[i];
    if (!r.rejected) { if (ours !== undefined) onlyUs++; continue; }
    if (ours === undefined) { onlyThem++; if (verbose) console.log(`+++ accepted [${dlt}] ${e}: tcpdump says ${r.message}`); continue; }
    both++;
    if (ours === r.message) same++;
    else if (verbose) console.log(`~~~ [${dlt}] ${e}\n want: ${r.message}\n got:  ${ours}`);
  }
  console.log(`errors: ${cases.length} expressions; both reject ${both}, identical message ${same} (${(100 * same / Math.max(both, 1)).toFixed(1)}%); only we reject ${onlyUs}, only tcpdump rejects ${onlyThem}`);
}

#!/usr/bin/env node
// The verifier campaign over ../shared/verifier-corpus/test_verifier.jsonl (run after `npx tsc -p .`):
// lists every disagreement with Linux 6.18 and ends with `verdicts A/N agree, messages B/R match`.
// Usage: node scripts/verifier-corpus.mjs [CORPUS.jsonl] [--id N (print our log beside the kernel's)]
//   [--exact (also compare whole level-1 logs; lists the first differing line of each)]
//   [--fast (leave out the few tests whose walk is over 200,000 instructions: they take seconds each)]
import { fileURLToPath } from 'node:url';
import { lastErrorLine, loadCorpus, runCorpusTest, skipReason } from '../dist/test/verifier_corpus_lib.js';

const args = process.argv.slice(2);
const idAt = args.indexOf('--id');
const only = idAt >= 0 ? Number(args[idAt + 1]) : undefined;
const exactMode = args.includes('--exact');
const includeSlow = !args.includes('--fast');
const norm = (s) => s.replace(/0xffff[0-9a-f]{12}/g, 'MAP').split('\n');
let exact = 0, withLog = 0;
const path = args.find((a, i) => !a.startsWith('--') && (idAt < 0 || i !== idAt + 1)) ?? fileURLToPath(new URL('../../shared/verifier-corpus/test_verifier.jsonl', import.meta.url));
let n = 0, agree = 0, rejected = 0, match = 0;
const skipped = {};
for (const c of loadCorpus(path)) {
  if (only !== undefined && c.id !== only) continue;
  const why = skipReason(c, includeSlow);
  if (why) { skipped[why] = (skipped[why] ?? 0) + 1; continue; }
  n++;
  const r = runCorpusTest(c, only !== undefined || exactMode ? 1 : 0);
  if (exactMode && c.observed.log_level1) {
    withLog++;
    const a = norm(r.log), b = norm(c.observed.log_level1);
    let i = 0;
    while (i < a.length && a[i] === b[i]) i++;
    if (i === a.length && a.length === b.length) exact++;
    else console.log(`#${c.id} log line ${i}:\n  bpfkit: ${a[i] ?? ''}\n  kernel: ${b[i] ?? ''}`);
  }
  const want = lastErrorLine(c.observed.log_stats ?? '');
  if (r.ok === c.observed.loaded) agree++;
  else console.log(`#${c.id} ${c.descr}: kernel ${c.observed.loaded ? 'accepts' : `rejects (${want})`}, bpfkit ${r.ok ? 'accepts' : `rejects (${r.error})`}`);
  if (!c.observed.loaded) {
    rejected++;
    if (!r.ok && r.log.includes(want)) match++;
    else if (!r.ok) console.log(`#${c.id} ${c.descr}: message "${r.error}", kernel "${want}"`);
  }
  if (only !== undefined) console.log(`${r.log}--- Linux 6.18:\n${c.observed.log_level1 ?? c.observed.log_stats}`);
}
console.log(`skipped: ${Object.entries(skipped).map(([k, v]) => `${k} ${v}`).join(', ')}`);
if (exactMode) console.log(`exact level-1 logs ${exact}/${withLog}`);
console.log(`verdicts ${agree}/${n} agree, messages ${match}/${rejected} match`);

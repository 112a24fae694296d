/*
 * The verifier against Linux 6.18's verdicts on the 1,365 test_verifier programs. Floors sit just
 * below the measured rates so a regression fails; raise them as agreement improves.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { lastErrorLine, loadCorpus, runCorpusTest, skipReason } from './verifier_corpus_lib.js';

const CORPUS = fileURLToPath(new URL('../../../shared/verifier-corpus/test_verifier.jsonl', import.meta.url));
const VERDICT_FLOOR = 1;
const MESSAGE_FLOOR = 1;
/** whole level-1 logs identical to the kernel's (map addresses aside), rejected and accepted programs */
const EXACT_LOG_FLOOR = 0.996;
const EXACT_ACCEPTED_LOG_FLOOR = 1;

test('verifier corpus: verdicts and messages agree with Linux 6.18', (t) => {
  if (!existsSync(CORPUS)) return t.skip(`${CORPUS} not present`);
  const tests = loadCorpus(CORPUS);
  const skipped = new Map<string, number>();
  let n = 0, agree = 0, rejected = 0, msgMatch = 0, exact = 0, accepted = 0, exactAccepted = 0;
  const norm = (s: string): string => s.replace(/0xffff[0-9a-f]{12}/g, 'MAP');
  const disagree: string[] = [];
  for (const c of tests) {
    const why = skipReason(c);
    if (why) { skipped.set(why, (skipped.get(why) ?? 0) + 1); continue; }
    n++;
    let res;
    try { res = runCorpusTest(c, 1); } catch (e) { disagree.push(`#${c.id} ${c.descr}: threw ${(e as Error).message}`); continue; }
    if (res.ok === c.observed.loaded) agree++;
    else disagree.push(`#${c.id} ${c.descr}: kernel ${c.observed.loaded ? 'accepts' : 'rejects'}, we ${res.ok ? 'accept' : 'reject: ' + res.error}`);
    if (!c.observed.loaded) {
      rejected++;
      const want = lastErrorLine(c.observed.log_stats ?? c.observed.log_level1 ?? '');
      if (!res.ok && res.log.includes(want)) msgMatch++;
      if (c.observed.log_level1 && norm(res.log) === norm(c.observed.log_level1)) exact++;
    } else if (c.observed.log_level1) {
      // an accepted program's level-1 log is its final stats line: processed insns and states as pruning left them
      accepted++;
      if (norm(res.log) === norm(c.observed.log_level1)) exactAccepted++;
    }
  }
  const vr = agree / n, mr = msgMatch / rejected, er = exact / rejected, ea = exactAccepted / accepted;
  if (process.env.VERIFIER_CORPUS_LIST) console.log(disagree.join('\n'));
  console.log(`verdicts ${agree}/${n} agree (${(vr * 100).toFixed(1)}%), messages ${msgMatch}/${rejected} match (${(mr * 100).toFixed(1)}%), exact level-1 logs ${exact}/${rejected} rejected, ${exactAccepted}/${accepted} accepted; skipped ${[...skipped].map(([k, v]) => `${k} ${v}`).join(', ')}`);
  assert.ok(vr >= VERDICT_FLOOR, `verdict agreement ${vr} below ${VERDICT_FLOOR}:\n${disagree.join('\n')}`);
  assert.ok(mr >= MESSAGE_FLOOR, `message agreement ${mr} below ${MESSAGE_FLOOR}`);
  assert.ok(er >= EXACT_LOG_FLOOR, `exact log agreement ${er} below ${EXACT_LOG_FLOOR}`);
  assert.ok(ea >= EXACT_ACCEPTED_LOG_FLOOR, `exact accepted-log agreement ${ea} below ${EXACT_ACCEPTED_LOG_FLOOR}`);
});

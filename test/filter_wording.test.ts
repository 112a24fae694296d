/*
 * Error wording, differentially against the local tcpdump (libpcap 1.10.3): a sample of generated
 * bad expressions (test/filter_wording_lib.ts) compiled by `tcpdump -y EN10MB -d` and by
 * compileFilter() with its default wording. Whatever tcpdump rejects we reject too, and the
 * message is the same text tcpdump prints after "tcpdump: " (rate with a floor; the whole set is
 * `node dist/test/filter_campaign.js errors -v`). libpcap 1.11's wording is the reject tests' job.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileFilter, FilterError } from '../src/filter/index.js';
import { badExpressions, pool, tcpdumpError } from './filter_wording_lib.js';
import { missingTool } from './oracles.js';

const FLOOR_IDENTICAL = 0.8;

test('libpcap 1.11 and 1.10.3 wordings are chosen by the wording option', () => {
  const msg = (expr: string, wording: '1.10' | '1.11', linktype = 'EN10MB'): string => {
    try { compileFilter(expr, { wording, linktype }); } catch (e) { assert.ok(e instanceof FilterError); return e.message; }
    return assert.fail(`${expr} compiled`);
  };
  assert.equal(msg('tcp port 99999', '1.11'), 'port number 99999 greater than maximum 65535');
  assert.equal(msg('tcp port 99999', '1.10'), 'illegal port number 99999 > 65535');
  assert.equal(msg('tcp proto 1', '1.11'), "'tcp' is not a valid qualifier for 'proto'");
  assert.equal(msg('tcp proto 1', '1.10'), "'tcp proto' is bogus");
  assert.equal(msg('ip', '1.11', 'A429'), 'link-layer type filtering not implemented for DLT_A429');
  assert.equal(msg('ip', '1.10', 'A429'), 'Arinc 429 link-layer type filtering not implemented');
  assert.equal(msg('0x100000000', '1.11'), 'hexadecimal number 0x100000000 overflows 32 bits');
  assert.equal(msg('0x100000000', '1.10'), 'number 0x100000000 overflows 32 bits');
});

test('bad expressions: rejected as tcpdump rejects them, with its message', { skip: missingTool('tcpdump') }, async () => {
  const exprs = badExpressions().filter((_, i) => i % 193 === 0);
  const theirs = await pool(exprs, 2, (e) => tcpdumpError('EN10MB', e));
  let both = 0;
  const differ: string[] = [];
  const acceptedByUs: string[] = [];
  for (let i = 0; i < exprs.length; i++) {
    if (!theirs[i].rejected) continue;
    let ours: string | undefined;
    try { compileFilter(exprs[i]); } catch (e) { assert.ok(e instanceof FilterError, `${exprs[i]}: ${(e as Error).stack}`); ours = e.message; }
    if (ours === undefined) { acceptedByUs.push(exprs[i]); continue; }
    both++;
    if (ours !== theirs[i].message) differ.push(`${exprs[i]}\n  tcpdump: ${theirs[i].message}\n  bpfkit:  ${ours}`);
  }
  const same = both - differ.length;
  console.log(`error wording vs tcpdump: ${exprs.length} expressions, ${both} rejected by both, identical message ${same}/${both} (${(100 * same / both).toFixed(1)}%)`);
  assert.deepEqual(acceptedByUs, []);
  assert.ok(both > 80, `only ${both} rejected`);
  assert.ok(same >= both * FLOOR_IDENTICAL, `identical ${same}/${both}:\n${differ.slice(0, 10).join('\n')}`);
});

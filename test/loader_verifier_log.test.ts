/*
 * A rejected load's verifier log shows the program's source lines from BTF line_info
 * ("; LINE @ FILE:NUM", verbose_linfo()), at the same places as the kernel's log for the same
 * object (bpftool prints it; root and bpftool needed, skipped otherwise).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import '../src/api/index.js';
import { Bpf } from '../src/kernel/bpf.js';
import { loadObjectIntoKernel } from '../src/kernel/load.js';
import { VerifierRejection } from '../src/kernel/verify.js';
import { lineInfoAt } from '../src/loader/line_info.js';
import { openObject } from '../src/loader/object.js';
import { findTool, missingKernel } from './oracles.js';

const OBJ = new URL('../../test/fixtures/loader/btf_reject.o', import.meta.url).pathname;
const sourceLines = (log: string): string[] => log.split('\n').filter((l) => l.startsWith('; '));

function ourLog(): string {
  try {
    loadObjectIntoKernel(new Bpf(), new Uint8Array(readFileSync(OBJ)), 'btf_reject.o');
  } catch (err) {
    if (err instanceof VerifierRejection) return err.log;
    throw err;
  }
  assert.fail('btf_reject.o loaded');
}

test('lineInfoAt: the last record at or before an instruction, the file by its last component', () => {
  const prog = openObject(new Uint8Array(readFileSync(OBJ)), 'btf_reject.o').programs[0];
  const at = lineInfoAt(prog.lineInfo);
  const first = at(0)!;
  assert.deepEqual([first.file, first.lineNum], ['btf_reject.c', 6]);
  assert.match(first.line, /^int reject_unchecked\(struct xdp_md \*ctx\)$/);
  const last = prog.lineInfo[prog.lineInfo.length - 1];
  assert.equal(at(prog.insns.length - 1), at(last.insn), 'one object per record');
  // Records of one line differ only in their column: the log's comparison must see them equal.
  const sameLine = prog.lineInfo.filter((l, i) => i && l.lineNum === prog.lineInfo[i - 1].lineNum);
  assert.ok(sameLine.length > 0, 'the fixture has two records on one line');
  for (const l of sameLine) assert.deepEqual(at(l.insn), at(l.insn - 1));
  assert.equal(at(-1), undefined);
  assert.equal(lineInfoAt([])(3), undefined);
});

test('the rejection log has the kernel\'s source lines', (t) => {
  const log = ourLog();
  assert.ok(sourceLines(log).some((l) => /^; return data\[proto \+ 20\] == 1 \? XDP_DROP : XDP_PASS; @ btf_reject\.c:14$/.test(l)), log);
  const why = missingKernel();
  if (why) { t.skip(`kernel comparison: ${why}`); return; }
  const pin = `/sys/fs/bpf/bpfkit_reject_${process.pid}`;
  try {
    const r = spawnSync(findTool('bpftool')!, ['prog', 'load', OBJ, pin], { encoding: 'utf8' });
    assert.notEqual(r.status, 0);
    const kernel = /-- BEGIN PROG LOAD LOG --\n([\s\S]*?)-- END PROG LOAD LOG --/.exec(r.stderr)?.[1] ?? '';
    assert.ok(sourceLines(kernel).length >= 5, r.stderr);
    assert.deepEqual(sourceLines(log), sourceLines(kernel));
  } finally {
    rmSync(pin, { force: true });
  }
});

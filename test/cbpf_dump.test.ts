/*
 * -d / -dd / -ddd listings: every opcode bpf_image() knows (libpcap's own enumeration test), and
 * tcpdump's listings of real filters reproduced from its -ddd bytecode.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { bpfDump, bpfImage, decodeCbpf, encodeCbpf, enumerateBpfImage, parseBytecode } from '../src/cbpf/dump.js';
import { cinsn } from '../src/cbpf/insn.js';
import { TCPDUMP_EXPRS } from './cbpf_gen.js';
import { missingShared, missingTool, runTool } from './oracles.js';

const SHARED = new URL('../../../shared/libpcap-tests/', import.meta.url);

test('bpf_image of every opcode libpcap enumerates', { skip: missingShared('libpcap-tests') }, () => {
  const expected = readFileSync(new URL('filter_accept_tests.jsonl', SHARED), 'utf8').split('\n').filter(Boolean)
    .map((l) => JSON.parse(l) as { expr: string; expected: string })
    .find((t) => t.expr === '_enumerate_bpf_image')!.expected;
  assert.equal(enumerateBpfImage(), expected, 'filtertest _enumerate_bpf_image, byte for byte');
  const lines = expected.trimEnd().split('\n');
  assert.equal(lines.length, 49);
  for (const line of lines) {
    const m = /^\((\d+)\) (.*?) *; 0x([0-9a-f]{4})$/.exec(line)!;
    const n = Number(m[1]);
    const code = parseInt(m[3], 16);
    // the enumeration uses k = 15 and jumps jt 1 / jf 0 (ja k = 15)
    const jt = / jt (\d+)/.exec(line);
    const jf = / jf (\d+)/.exec(line);
    const insn = cinsn(code, 15, jt ? Number(jt[1]) - n - 1 : 0, jf ? Number(jf[1]) - n - 1 : 0);
    assert.equal(bpfImage(insn, n).trimEnd(), `(${m[1]}) ${m[2]}`.trimEnd(), line);
  }
});

test('-d fixed cases: signed k, Linux ancillary names, unknown codes', () => {
  assert.equal(bpfImage(cinsn(0x06, 0xffffffff), 0), '(000) ret      #-1');
  assert.equal(bpfImage(cinsn(0x16), 3), '(003) ret      ');
  assert.equal(bpfImage(cinsn(0x30, 0xfffff000), 1), '(001) ldb      [proto]');
  assert.equal(bpfImage(cinsn(0x20, 0xfffff030), 1), '(001) ld       [vlanp]');
  assert.equal(bpfImage(cinsn(0x20, 0xfffff044), 1), '(001) ld       [-4028]');
  assert.equal(bpfImage(cinsn(0x0e), 7), '(007) unimp    0xe');
  assert.equal(bpfImage(cinsn(0x05, 0xfffffffe), 7), '(007) ja       6');
  assert.equal(bpfImage(cinsn(0x15, 0x800, 0, 3), 1), '(001) jeq      #0x800           jt 2\tjf 5');
});

test('-dd / -ddd text and bytecode round trips', () => {
  const prog = [cinsn(0x28, 12), cinsn(0x15, 0x800, 0, 1), cinsn(0x06, 0x40000), cinsn(0x06, 0)];
  assert.equal(bpfDump(prog, 2).split('\n')[1], '{ 0x15, 0, 1, 0x00000800 },');
  assert.equal(bpfDump(prog, 3), '4\n40 0 0 12\n21 0 1 2048\n6 0 0 262144\n6 0 0 0\n');
  assert.deepEqual(parseBytecode(bpfDump(prog, 3)), prog);
  assert.deepEqual(parseBytecode('4,40 0 0 12,21 0 1 2048,6 0 0 262144,6 0 0 0,'), prog);
  assert.deepEqual(decodeCbpf(encodeCbpf(prog)), prog);
  assert.throws(() => parseBytecode('3,40 0 0 12'), /count says 3/);
  assert.throws(() => parseBytecode('1,40 0 0'), /expected 'code jt jf k'/);
  assert.throws(() => parseBytecode('1,40 0 300 1'), /invalid jf '300'/);
});


test('-d and -dd equal tcpdump\'s for compiled filters', (t) => {
  const why = missingTool('tcpdump');
  if (why) { t.skip(why); return; }
  for (const expr of TCPDUMP_EXPRS) {
    for (const opt of [[], ['-O']]) {
      const prog = parseBytecode(runTool('tcpdump', ['-ddd', ...opt, '-y', 'EN10MB', expr]));
      assert.equal(bpfDump(prog, 1), runTool('tcpdump', ['-d', ...opt, '-y', 'EN10MB', expr]), expr);
      assert.equal(bpfDump(prog, 2), runTool('tcpdump', ['-dd', ...opt, '-y', 'EN10MB', expr]), expr);
    }
  }
});

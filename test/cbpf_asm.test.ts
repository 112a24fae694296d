/*
 * bpf_asm: the kernel tool's syntax and both output formats on fixtures (documentation
 * examples and one of every form), errors with positions, and disassembly round trips over
 * tcpdump-compiled filters and random programs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { bpfAsm, bpfDisasm, formatBpfAsm, formatBpfAsmC } from '../src/cbpf/asm.js';
import { parseBytecode } from '../src/cbpf/dump.js';
import { runCliCaptured } from '../src/cli/main.js';
import { Rng, TCPDUMP_EXPRS, randomProgram } from './cbpf_gen.js';
import { missingTool, runTool } from './oracles.js';

const fixture = (name: string): string => new URL(`../../test/fixtures/cbpf/${name}`, import.meta.url).pathname;
const read = (name: string): string => readFileSync(fixture(name), 'utf8');

test('tc-bpf(8) example gives the documented bytecode', () => {
  assert.equal(formatBpfAsm(bpfAsm(read('ipv4_tcp.bpf'))), '6,40 0 0 12,21 0 3 2048,48 0 0 23,21 0 1 6,6 0 0 4294967295,6 0 0 0,\n');
  assert.equal(formatBpfAsmC(bpfAsm(read('ipv4_tcp.bpf'))).split('\n')[1], '{ 0x15,  0,  3, 0x00000800 },');
});

for (const name of ['ipv4_tcp', 'icmp_sample', 'seccomp', 'everything']) {
  test(`bpf_asm ${name}.bpf: default and -c output`, async () => {
    const r = await runCliCaptured(['bpf_asm', fixture(`${name}.bpf`)]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, read(`${name}.out`));
    const c = await runCliCaptured(['bpf_asm', '-c', fixture(`${name}.bpf`)]);
    assert.equal(c.stdout, read(`${name}.c.out`));
    // and the disassembly assembles back to the same program
    const prog = bpfAsm(read(`${name}.bpf`));
    assert.deepEqual(bpfAsm(bpfDisasm(prog)), prog);
  });
}

test('C-array output keeps printf %#x quirks for zero', () => {
  assert.equal(formatBpfAsmC([{ code: 0, jt: 0, jf: 255, k: 0 }]), '{ 0000,  0, 255, 0000000000 },\n');
});

test('numbers and lexing as flex reads bpf_exp.l', () => {
  const k = (src: string): number => bpfAsm(`${src}\nret #0`)[0].k;
  assert.equal(k('ld #0x1F'), 31);
  assert.equal(k('ld #0b11'), 3);
  assert.equal(k('ld #017'), 15);
  assert.equal(k('ld #-2'), 0xfffffffe);
  assert.equal(k('ld #4294967296'), 0);
  assert.equal(k('ld #0'), 0);
  assert.equal(bpfAsm('/* multi\nline */ ret #1 ; trailing\n# hash comment at line start\n')[0].k, 1);
  assert.deepEqual(bpfAsm('lbl: ja lbl2\nlbl2: ret a'), [{ code: 5, jt: 0, jf: 0, k: 0 }, { code: 0x16, jt: 0, jf: 0, k: 0 }]);
  assert.equal(bpfAsm('back: ld #1\nja back\nret a')[1].k, 0xfffffffe, 'ja backwards is written as bpf_asm does');
});

test('errors: one line, with line:column and bpf_asm\'s wording', async () => {
  const err = (src: string): string => { try { bpfAsm(src, 'x.bpf'); } catch (e) { return (e as Error).message; } return 'no error'; };
  assert.equal(err('ldh [12'), "x.bpf:1:8: syntax error, expected ']' but found end of input");
  assert.equal(err('ret #0\njeq #1, nowhere'), "x.bpf:2:9: no such label 'nowhere'!");
  assert.equal(err('ldxb 3*([1]&0xf)\nret a'), 'x.bpf:1:6: ldxb offset not supported! (only 4*([k]&0xf))');
  assert.equal(err('ld @'), "x.bpf:1:4: unknown character '@'");
  assert.equal(err('ld #1\nlonely:'), "x.bpf:2:8: syntax error, label 'lonely' is not followed by an instruction");
  assert.equal(err('aa: ret a\naa: ret a'), "x.bpf:2:1: label 'aa' defined twice");
  assert.equal(err('jeq #1, l\nret a'), "x.bpf:1:9: unknown character 'l'");
  const far = `jeq #1, far\n${'ld #1\n'.repeat(300)}far: ret a`;
  assert.equal(err(far), 'x.bpf:1:9: insn #0 jumps to insn #301, which is out of range');
  assert.match(err('ret #1 ret'), /expected '#k', 'a' or 'x' but found end of input/);
  const r = await runCliCaptured(['bpf_asm', '-'], 'ld [x + 1\n');
  assert.equal(r.status, 255);
  assert.equal(r.stderr, "Error: <stdin>:2:1: syntax error, expected ']' but found end of input\n");
  const missing = await runCliCaptured(['bpf_asm', '/nonexistent/f.bpf']);
  assert.equal(missing.stderr, 'Error: failed to open /nonexistent/f.bpf: No such file or directory\n');
});

test('bpf_asm -d disassembles bytecode; -l lists it as tcpdump -d', async () => {
  const r = await runCliCaptured(['bpf_asm', '-d', '-'], '6,40 0 0 12,21 0 3 2048,48 0 0 23,21 0 1 6,6 0 0 4294967295,6 0 0 0,');
  assert.equal(r.stdout, '\tldh [12]\n\tjne #2048, l5\n\tldb [23]\n\tjne #6, l5\n\tret #0xffffffff\nl5:\tret #0\n');
  const l = await runCliCaptured(['bpf_asm', '-l', fixture('ipv4_tcp.bpf')]);
  assert.equal(l.stdout.split('\n')[1], '(001) jeq      #0x800           jt 2\tjf 5');
});

test('disassembly round trips: random programs', () => {
  const r = new Rng(11);
  for (let i = 0; i < 2000; i++) {
    const prog = randomProgram(r, 1 + r.int(30), { anc: true });
    const text = bpfDisasm(prog);
    const back = bpfAsm(text);
    // what bpf_asm cannot write (k of `ret a`, `tax`, ...) is dropped, with a comment
    prog.forEach((p, j) => {
      if (back[j].k !== p.k) assert.match(text.split('\n')[j], /; unused k \d+ dropped/);
      assert.deepEqual({ ...back[j], k: 0 }, { ...p, k: 0 });
    });
  }
});

test('disassembly round trips: tcpdump-compiled filters', (t) => {
  const why = missingTool('tcpdump');
  if (why) { t.skip(why); return; }
  for (const expr of TCPDUMP_EXPRS) {
    const prog = parseBytecode(runTool('tcpdump', ['-ddd', '-y', 'EN10MB', expr]));
    assert.deepEqual(bpfAsm(bpfDisasm(prog)), prog, expr);
  }
});

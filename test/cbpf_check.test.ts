/*
 * The Linux checker (bpf_check_classic and friends) and libpcap's bpf_validate: rules one by one,
 * and the kernel's own SO_ATTACH_FILTER as the oracle on random programs where we can ask it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { bpfValidate, linuxCheck, linuxCheckError, pcapValidateError } from '../src/cbpf/check.js';
import { type CInsn, SKF_AD_OFF, SKF_NET_OFF, cinsn } from '../src/cbpf/insn.js';
import { Rng, mutate, randomProgram } from './cbpf_gen.js';
import { findTool } from './oracles.js';

const RET = cinsn(0x06, 0);

test('Linux checker: accepted programs', () => {
  assert.equal(linuxCheckError([RET]), undefined);
  assert.equal(linuxCheckError([cinsn(0x28, 12), cinsn(0x15, 0x800, 0, 1), cinsn(0x06, 0xffff), RET]), undefined);
  assert.equal(linuxCheckError([cinsn(0x30, (SKF_AD_OFF + 60) >>> 0), cinsn(0x16)]), undefined);
  assert.equal(linuxCheckError([cinsn(0x30, SKF_NET_OFF >>> 0), cinsn(0x16)]), undefined);
  assert.equal(linuxCheckError([cinsn(0x02, 3), cinsn(0x15, 1, 0, 1), cinsn(0x60, 3), cinsn(0x16)]), undefined);
});

test('Linux checker: each rule, with a reason naming the instruction', () => {
  const cases: [CInsn[], RegExp][] = [
    [[], /no instructions/],
    [new Array(4097).fill(RET), /more than BPF_MAXINSNS/],
    [[cinsn(0x0e), RET], /insn 0: opcode 0xe is not allowed/],
    [[cinsn(0x34, 0), RET], /insn 0 \(div #0\): division by zero/],
    [[cinsn(0x94, 0), RET], /division by zero/],
    [[cinsn(0x64, 32), RET], /shift by 32/],
    [[cinsn(0x02, 16), RET], /insn 0 \(st M\[16\]\): scratch memory index 16/],
    [[cinsn(0x05, 1), RET], /insn 0 \(ja 2\): jump out of range/],
    [[cinsn(0x15, 0, 1, 0), RET], /jump out of range/],
    [[cinsn(0x20, (SKF_AD_OFF + 64) >>> 0), RET], /unknown ancillary load offset SKF_AD_OFF \+ 64/],
    [[cinsn(0x00, 0)], /insn 0: the last instruction must be ret/],
    [[cinsn(0x60, 2), RET], /insn 0 \(ld M\[2\]\): reads M\[2\] before it is written/],
    // written on one path only
    [[cinsn(0x15, 1, 0, 1), cinsn(0x02, 3), cinsn(0x61, 3), RET], /insn 2 \(ldx M\[3\]\): reads M\[3\]/],
  ];
  for (const [prog, re] of cases) assert.match(linuxCheckError(prog) ?? 'accepted', re);
  assert.throws(() => linuxCheck([cinsn(0x34, 0), RET]), (e: Error & { code?: string }) => e.code === 'EINVAL' && /division by zero/.test(e.message));
});

test('libpcap bpf_validate', () => {
  assert.ok(bpfValidate([cinsn(0x28, 12), cinsn(0x15, 0x800, 0, 1), cinsn(0x06, 0xffff), RET]));
  // backward ja is fine for libpcap, not a jump to itself
  assert.ok(bpfValidate([RET, cinsn(0x05, 0xfffffffe), RET]));
  assert.match(pcapValidateError([cinsn(0x05, 0xffffffff), RET]) ?? '', /jump to itself/);
  assert.match(pcapValidateError([cinsn(0x74, 40), RET]) ?? '', /shift by 40/);
  assert.match(pcapValidateError([cinsn(0x60, 16), RET]) ?? '', /scratch memory index 16/);
  assert.match(pcapValidateError([cinsn(0x00, 1)]) ?? '', /must be ret/);
  assert.match(pcapValidateError([cinsn(0x0e), RET]) ?? '', /invalid opcode 0xe/);
  // M[] read before write is the kernel's rule only
  assert.ok(bpfValidate([cinsn(0x60, 2), RET]));
});

test('Linux checker agrees with the kernel (SO_ATTACH_FILTER) on random programs', (t) => {
  if (process.platform !== 'linux' || !findTool('python3')) { t.skip('needs Linux and python3 to ask the kernel'); return; }
  const r = new Rng(7);
  const progs: CInsn[][] = [];
  for (let i = 0; i < 3000; i++) {
    const base = randomProgram(r, 1 + r.int(24), { anc: true });
    progs.push(r.chance(0.7) ? mutate(r, base) : base);
  }
  const script = new URL('../../test/fixtures/cbpf/attach_filter.py', import.meta.url).pathname;
  const res = spawnSync('python3', [script], { input: JSON.stringify(progs.map((p) => p.map((i) => [i.code, i.jt, i.jf, i.k]))), encoding: 'utf8' });
  if (res.status !== 0) { t.skip(`cannot attach filters here: ${res.stderr.trim().split('\n').pop()}`); return; }
  const errnos = JSON.parse(res.stdout) as number[];
  let rejected = 0;
  progs.forEach((p, i) => {
    const why = linuxCheckError(p);
    if (errnos[i] !== 0) rejected++;
    assert.equal(why === undefined ? 0 : 22, errnos[i], `${JSON.stringify(p)}: ${why ?? 'accepted'}`);
  });
  assert.ok(rejected > 500 && rejected < 2500, `${rejected} rejected`);
});

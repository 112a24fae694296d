/*
 * seccomp filters: the extra rules of seccomp_check_filter (checked against the kernel where we
 * can install filters in a child process) and results over seccomp_data.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { bpfAsm } from '../src/cbpf/asm.js';
import { type CInsn, cinsn } from '../src/cbpf/insn.js';
import { convertCbpfToEbpf } from '../src/cbpf/convert.js';
import {
  AUDIT_ARCH_X86_64, SECCOMP_DATA_SIZE, SECCOMP_RET_ALLOW, prepareSeccomp, runSeccomp, seccompActionName,
  seccompCheckError, seccompDataBytes,
} from '../src/cbpf/seccomp.js';
import { interpret } from '../src/vm/interpreter.js';
import { Vm } from '../src/vm/vm.js';
import { Rng, mutate, randomProgram } from './cbpf_gen.js';
import { findTool } from './oracles.js';

const fixture = (name: string): string => new URL(`../../test/fixtures/cbpf/${name}`, import.meta.url).pathname;

test('the filter.rst seccomp example allows its system calls and kills the rest', () => {
  const prog = prepareSeccomp(bpfAsm(readFileSync(fixture('seccomp.bpf'), 'utf8')));
  assert.equal(runSeccomp(prog, { nr: 0, arch: AUDIT_ARCH_X86_64 }), SECCOMP_RET_ALLOW);
  assert.equal(runSeccomp(prog, { nr: 231, arch: AUDIT_ARCH_X86_64 }), SECCOMP_RET_ALLOW);
  assert.equal(runSeccomp(prog, { nr: 59, arch: AUDIT_ARCH_X86_64 }), 0);
  assert.equal(runSeccomp(prog, { nr: 0, arch: 0x40000003 }), 0, 'i386 is killed');
  assert.equal(seccompActionName(SECCOMP_RET_ALLOW), 'ALLOW');
  assert.equal(seccompActionName(0x00050001), 'ERRNO(1)');
  assert.equal(seccompActionName(0x80000000), 'KILL_PROCESS');
});

test('arguments are read as little-endian words', () => {
  const prog = prepareSeccomp([cinsn(0x20, 16), cinsn(0x15, 0x44332211, 0, 1), cinsn(0x20, 20), cinsn(0x16)]);
  assert.equal(runSeccomp(prog, { nr: 1, arch: 0, args: [0x8877665544332211n] }), 0x88776655);
});

test('seccomp rules on top of the classic checker', () => {
  assert.match(seccompCheckError([cinsn(0x20, 64), cinsn(0x16)]) ?? '', /32-bit aligned inside seccomp_data/);
  assert.match(seccompCheckError([cinsn(0x20, 2), cinsn(0x16)]) ?? '', /32-bit aligned/);
  assert.match(seccompCheckError([cinsn(0x28, 0), cinsn(0x16)]) ?? '', /opcode 0x28 is not allowed in seccomp/);
  assert.match(seccompCheckError([cinsn(0x94, 3), cinsn(0x16)]) ?? '', /opcode 0x94/);
  assert.match(seccompCheckError([cinsn(0x34, 0), cinsn(0x16)]) ?? '', /division by zero/);
  assert.equal(seccompCheckError([cinsn(0x80), cinsn(0x16)]), undefined);
  assert.equal(runSeccomp(prepareSeccomp([cinsn(0x80), cinsn(0x16)]), { nr: 0, arch: 0 }), 64, 'len is sizeof(seccomp_data)');
});

test('seccomp checker agrees with the kernel on random filters', (t) => {
  if (process.platform !== 'linux' || !findTool('python3')) { t.skip('needs Linux and python3'); return; }
  const r = new Rng(17);
  const progs: CInsn[][] = [];
  for (let i = 0; i < 300; i++) {
    let p = randomProgram(r, 1 + r.int(12), { anc: r.chance(0.2) });
    p = p.map((insn) => (insn.code === 0x20 && r.chance(0.7) ? cinsn(0x20, r.int(17) * 4) : insn));
    progs.push(r.chance(0.5) ? mutate(r, p) : p);
  }
  const res = spawnSync('python3', [fixture('seccomp_check.py')], { input: JSON.stringify(progs.map((p) => p.map((i) => [i.code, i.jt, i.jf, i.k]))), encoding: 'utf8' });
  if (res.status !== 0) { t.skip(`cannot install seccomp filters here: ${res.stderr.trim().split('\n').pop()}`); return; }
  const errnos = JSON.parse(res.stdout) as number[];
  let accepted = 0;
  progs.forEach((p, i) => {
    const why = seccompCheckError(p);
    if (errnos[i] === 0) accepted++;
    assert.equal(why === undefined ? 0 : 22, errnos[i], `${JSON.stringify(p)}: ${why ?? 'accepted'}`);
  });
  assert.ok(accepted > 20, `${accepted} accepted`);
});

test('seccomp filters converted to eBPF give the same actions', () => {
  const vm = new Vm();
  const ctx = vm.space.alloc(SECCOMP_DATA_SIZE, 'seccomp_data', { writable: false });
  const r = new Rng(23);
  let compared = 0;
  for (let i = 0; i < 1500; i++) {
    const prog = randomProgram(r, 1 + r.int(20)).map((insn) => (insn.code === 0x20 ? cinsn(0x20, r.int(16) * 4) : insn));
    if (seccompCheckError(prog) !== undefined) continue;
    const ebpf = convertCbpfToEbpf(prog, { seccomp: true });
    for (let j = 0; j < 4; j++) {
      const data = seccompDataBytes({ nr: r.int(400), arch: AUDIT_ARCH_X86_64, instructionPointer: BigInt(r.next()), args: [BigInt(r.next()) << 20n, BigInt(r.int(9))] });
      vm.space.write(ctx.addr, data);
      const got = Number(interpret(vm, ebpf, { args: [BigInt(ctx.addr)] }).r0 & 0xffffffffn);
      assert.equal(got, runSeccomp(prog, data), JSON.stringify(prog));
      compared++;
    }
  }
  assert.ok(compared > 1000, `${compared} compared`);
  assert.throws(() => convertCbpfToEbpf([cinsn(0x28, 0), cinsn(0x16)], { seccomp: true }), /seccomp filter rejected: .*opcode 0x28/);
});

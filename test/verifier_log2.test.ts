/*
 * Log level 2 and source lines against the running kernel: small programs are loaded with
 * BPF_PROG_LOAD at log_level 2 by the C loader of kernel_bpf_loader.ts, and the kernel's log is
 * compared line by line with ours (map addresses and timing normalised). Skips without root/cc.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Insn, makeInsn } from '../src/isa/insn.js';
import { verify } from '../src/verifier/verifier.js';
import { kernelLoad, kernelLoader } from './kernel_bpf_loader.js';
import { normalizedLog } from './verifier_corpus_lib.js';


const XDP = 6, SOCKET_FILTER = 1;
const ldxw = (dst: number, src: number, off: number): Insn => makeInsn(0x61, dst, src, off);
const add = (dst: number, imm: number): Insn => makeInsn(0x07, dst, 0, 0, imm);
const mov = (dst: number, imm: number): Insn => makeInsn(0xb7, dst, 0, 0, imm);
const movx = (dst: number, src: number): Insn => makeInsn(0xbf, dst, src);
const exit = makeInsn(0x95);

const jgt = (dst: number, imm: number, off: number): Insn => makeInsn(0x25, dst, 0, off, imm);
const jlt = (dst: number, imm: number, off: number): Insn => makeInsn(0xa5, dst, 0, off, imm);
const ldxdw = (dst: number, src: number, off: number): Insn => makeInsn(0x79, dst, src, off);
const stxdw = (dst: number, off: number, src: number): Insn => makeInsn(0x7b, dst, src, off);
const stdw = (dst: number, off: number, imm: number): Insn => makeInsn(0x7a, dst, 0, off, imm);
/** a bpf-to-bpf call `imm` instructions ahead */
const call = (imm: number): Insn => makeInsn(0x85, 0, 1, 0, imm);
const inc0 = add(0, 1);
/** r3 = 5 or 7 by the packet length, a checkpoint at 9, then `use` (precision: see verifier_precision.test.ts) */
const joinProgram = (use: Insn): Insn[] => [
  ldxw(2, 1, 0), mov(3, 5), jgt(2, 10, 1), mov(3, 7), ldxw(6, 1, 4), makeInsn(0x05), mov(0, 0), inc0, inc0,
  jgt(6, 30, 1), inc0, use, inc0, exit,
];

/**
 * Each program's level-2 log (with the stack liveness pass's "(0) frame 0 insn N +live" lines,
 * "SCC enter/exit" and the SCC column of the live registers table) and level-1 log against the
 * kernel's; level2: false would compare level 1 only.
 */
const PROGRAMS: { name: string; progType: number; insns: Insn[]; level2?: false }[] = [
  { // pruning: r3 is never used, the second path stops at the checkpoint ("9: safe")
    name: 'imprecise scalar pruned', progType: SOCKET_FILTER, insns: joinProgram(jgt(6, 40, 1)),
  },
  { // mark_precise backtracking through the jump history, "parent state" marks, P in states
    name: 'precise scalar not pruned', progType: SOCKET_FILTER, insns: joinProgram(jgt(3, 6, 1)),
  },
  { // r3 = r2 + 4 linked with the delta (id=1+4), refined together on the branch
    name: 'linked scalars with a delta', progType: SOCKET_FILTER,
    insns: [ldxw(2, 1, 0), makeInsn(0x57, 2, 0, 0, 0xff), movx(3, 2), add(3, 4), makeInsn(0xa5, 2, 0, 2, 8), mov(0, 0), exit, movx(0, 3), exit],
  },
  { // backtracking reaches ld_abs: mark_all_scalars_precise()
    name: 'precision fallback at ld_abs', progType: SOCKET_FILTER,
    insns: [movx(6, 1), mov(7, 3), makeInsn(0x30), jgt(7, 1, 0), movx(2, 0), makeInsn(0x57, 2, 0, 0, 1), jgt(2, 5, 1), mov(0, 0), exit],
  },
  { // a helper's size argument is marked precise (check_mem_size_reg())
    name: 'helper size argument precise', progType: SOCKET_FILTER,
    insns: [movx(6, 1), mov(4, 8), ldxw(5, 1, 0), jgt(5, 10, 1), mov(4, 4), movx(1, 6), mov(2, 0), movx(3, 10), add(3, -8), makeInsn(0x85, 0, 0, 0, 26), mov(0, 0), exit],
  },
  { // r0 of a static subprogram deciding the caller's branch: backtracking enters the callee
    name: 'subprogram return value precise', progType: SOCKET_FILTER,
    insns: [ldxw(6, 1, 0), makeInsn(0x85, 0, 1, 0, 3), jgt(0, 3, 1), mov(0, 0), exit, mov(0, 1), ldxw(2, 1, 0), jgt(2, 7, 1), mov(0, 2), exit],
  },
  { // an argument deciding a branch in the callee: backtracking leaves it into the caller's r1
    name: 'subprogram argument precise', progType: SOCKET_FILTER,
    insns: [ldxw(2, 1, 0), mov(1, 1), jgt(2, 7, 1), mov(1, 2), makeInsn(0x85, 0, 1, 0, 2), mov(0, 0), exit, movx(0, 1), jgt(0, 5, 1), inc0, exit],
  },
  { // a spilled constant used as a stack offset: precision through the spill and fill
    name: 'precision through a stack spill', progType: SOCKET_FILTER,
    insns: [
      ldxw(2, 1, 0), mov(3, -8), jgt(2, 10, 1), mov(3, -16), makeInsn(0x7b, 10, 3, -24), makeInsn(0x7a, 10, 0, -8, 0),
      makeInsn(0x7a, 10, 0, -16, 0), makeInsn(0x79, 4, 10, -24), movx(5, 10), makeInsn(0x0f, 5, 4), makeInsn(0x79, 0, 5, 0), exit,
    ],
  },
  { // nested bounded loops whose state repeats exactly: "infinite loop detected"
    name: 'loop repeating a state', progType: SOCKET_FILTER,
    insns: [mov(0, 0), ldxw(2, 1, 0), inc0, makeInsn(0x0f, 0, 2), makeInsn(0x57, 0, 0, 0, 7), mov(3, 0), add(3, 1), makeInsn(0xa5, 3, 0, -2, 4), makeInsn(0xa5, 0, 0, -7, 5), exit],
  },
  { // data + 14 > data_end: the taken branch marks the pointer beyond pkt_end
    name: 'packet bounds check', progType: XDP,
    insns: [ldxw(2, 1, 4), ldxw(1, 1, 0), add(1, 14), mov(0, 1), makeInsn(0x2d, 1, 2, 1), mov(0, 2), exit],
  },
  { // the same with pkt_end on the left: data_end >= data + 8
    name: 'pkt_end on the left', progType: XDP,
    insns: [ldxw(2, 1, 4), ldxw(3, 1, 0), movx(4, 3), add(4, 8), mov(0, 0), makeInsn(0xbd, 2, 4, 1), makeInsn(0x71, 0, 3, 7), exit],
  },
  { // a bpf-to-bpf call: func# lines, caller/callee and return states
    name: 'subprogram call', progType: SOCKET_FILTER,
    insns: [movx(6, 1), makeInsn(0x85, 0, 1, 0, 2), makeInsn(0x07, 0, 0, 0, 1), exit, mov(0, 3), exit],
  },
  { // spills of a pointer and a scalar, filled on two paths: the liveness pass's "+live"/"+written" lines
    name: 'spilled pointer and scalar', progType: SOCKET_FILTER,
    insns: [stxdw(10, -8, 1), ldxw(2, 1, 0), stxdw(10, -16, 2), jgt(2, 5, 3), ldxdw(6, 10, -8), ldxw(0, 6, 0), exit, ldxdw(0, 10, -16), exit],
  },
  { // a callee reads and writes its caller's slot through a pointer: call chain "(4,9)", marks handed to the call
    name: 'callee using the caller\'s stack', progType: SOCKET_FILTER,
    insns: [
      stdw(10, -8, 7), stdw(10, -16, 1), movx(1, 10), add(1, -8), call(4), ldxdw(0, 10, -8), ldxdw(1, 10, -16), makeInsn(0x0f, 0, 1), exit,
      ldxdw(2, 1, 0), stxdw(10, -8, 2), stdw(1, 0, 3), ldxdw(0, 10, -8), exit,
    ],
  },
  { // one subprogram called from two sites: one liveness instance per call chain
    name: 'two call sites', progType: SOCKET_FILTER,
    insns: [
      stdw(10, -8, 7), movx(1, 10), add(1, -8), call(6), movx(6, 0), movx(1, 10), add(1, -8), call(2), makeInsn(0x0f, 0, 6), exit,
      ldxdw(2, 1, 0), stxdw(10, -16, 2), ldxdw(0, 10, -16), exit,
    ],
  },
  { // three frames, the innermost reading both callers' slots
    name: 'three frames', progType: SOCKET_FILTER,
    insns: [
      stdw(10, -8, 7), movx(1, 10), add(1, -8), call(2), mov(0, 0), exit,
      stdw(10, -8, 5), movx(2, 10), add(2, -8), call(2), ldxdw(0, 10, -8), exit,
      ldxdw(3, 1, 0), ldxdw(4, 2, 0), stxdw(10, -8, 3), movx(0, 4), exit,
    ],
  },
  { // a counter in a stack slot, loop bound known: pruned after the first iteration
    name: 'bounded loop through a stack slot', progType: SOCKET_FILTER,
    insns: [mov(0, 0), mov(1, 0), stxdw(10, -8, 1), ldxdw(1, 10, -8), add(1, 1), stxdw(10, -8, 1), makeInsn(0x0f, 0, 1), jlt(1, 4, -5), exit],
  },
  { // a loop bound from the packet: "SCC enter (1)" ... "SCC exit (1)" around the iterations
    name: 'loop with an unknown bound', progType: SOCKET_FILTER,
    insns: [
      mov(0, 0), ldxw(2, 1, 0), makeInsn(0x57, 2, 0, 0, 7), mov(1, 0), stxdw(10, -8, 1), ldxdw(1, 10, -8), add(1, 1), stxdw(10, -8, 1),
      makeInsn(0x0f, 0, 2), makeInsn(0xad, 1, 2, -5), exit,
    ],
  },
  { // a loop inside a subprogram called twice: SCC call chains "(2,1)" and "(1)"
    name: 'loop in a subprogram', progType: SOCKET_FILTER,
    insns: [call(3), movx(6, 0), call(1), exit, mov(0, 0), mov(1, 0), add(1, 1), add(0, 2), jlt(1, 3, -3), exit],
  },
  { // stack use, then a read above the frame on the second path
    name: 'rejected stack read', progType: SOCKET_FILTER,
    insns: [ldxw(2, 1, 0), stdw(10, -8, 1), jgt(2, 5, 2), ldxdw(0, 10, -8), exit, ldxdw(0, 10, 0), exit],
  },
  { // a callee writing its own slot and reading past the caller's frame
    name: 'rejected read in a callee', progType: SOCKET_FILTER,
    insns: [stdw(10, -8, 1), movx(1, 10), add(1, -8), call(1), exit, stdw(10, -8, 2), ldxdw(2, 10, -8), ldxdw(0, 1, 0), ldxdw(0, 1, 8), exit],
  },
  { // a rejection: reading past the checked packet range
    name: 'rejected packet read', progType: XDP,
    insns: [ldxw(2, 1, 4), ldxw(3, 1, 0), movx(4, 3), add(4, 4), mov(0, 0), makeInsn(0x2d, 4, 2, 1), makeInsn(0x61, 0, 3, 2), exit],
  },
];

for (const p of PROGRAMS) {
  if (p.level2 !== false) test(`log level 2 equals the kernel's: ${p.name}`, (t) => {
    const { exe, why } = kernelLoader();
    if (!exe) return t.skip(why!);
    const k = kernelLoad(exe, p.insns, p.progType, 2);
    const ours = verify(p.insns, { progType: p.progType, logLevel: 2 });
    assert.equal(ours.ok, k.ok, `verdict: kernel ${k.ok ? 'accepts' : 'rejects'}\n${k.log}`);
    assert.deepEqual(normalizedLog(ours.log), normalizedLog(k.log));
  });
  test(`log level 1 equals the kernel's: ${p.name}`, (t) => {
    const { exe, why } = kernelLoader();
    if (!exe) return t.skip(why!);
    const k = kernelLoad(exe, p.insns, p.progType, 1);
    const ours = verify(p.insns, { progType: p.progType, logLevel: 1 });
    assert.equal(ours.ok, k.ok, `verdict: kernel ${k.ok ? 'accepts' : 'rejects'}\n${k.log}`);
    assert.deepEqual(normalizedLog(ours.log), normalizedLog(k.log));
  });
}

test('source lines: "; LINE @ FILE:NUM" once before the first instruction of each line (verbose_linfo())', () => {
  const insns = PROGRAMS.find((p) => p.name === 'packet bounds check')!.insns;
  const lines = [
    { from: 0, li: { line: '\tvoid *end = (void *)(long)ctx->data_end;', file: 't.c', lineNum: 7, col: 2 } },
    { from: 1, li: { line: 'void *data = (void *)(long)ctx->data;', file: 't.c', lineNum: 6, col: 2 } },
    { from: 2, li: { line: 'if (data + 14 > end)', file: 't.c', lineNum: 8, col: 6 } },
    { from: 4, li: { line: '}', file: 't.c', lineNum: 11, col: 1 } },
  ];
  // find_linfo(): the last record starting at or before the instruction
  const lineInfo = (idx: number) => [...lines].reverse().find((l) => l.from <= idx)?.li;
  const log = verify(insns, { progType: XDP, logLevel: 2, lineInfo }).log.split('\n');
  // as the kernel printed it for the same program compiled from t.c with -g
  const expected = [
    '0: R1=ctx() R10=fp0',
    '; void *end = (void *)(long)ctx->data_end; @ t.c:7',
    '0: (61) r2 = *(u32 *)(r1 +4)          ; R1=ctx() R2=pkt_end()',
    '; void *data = (void *)(long)ctx->data; @ t.c:6',
    '1: (61) r1 = *(u32 *)(r1 +0)          ; R1=pkt(r=0)',
    '; if (data + 14 > end) @ t.c:8',
    '2: (07) r1 += 14                      ; R1=pkt(off=14,r=0)',
    '3: (b7) r0 = 1                        ; R0=1',
    '; } @ t.c:11',
    '4: (2d) if r1 > r2 goto pc+1          ; R1=pkt(off=14,r=14) R2=pkt_end()',
    '5: (b7) r0 = 2                        ; R0=2',
    '6: (95) exit',
  ];
  const start = log.indexOf(expected[0]);
  assert.ok(start >= 0, log.join('\n'));
  assert.deepEqual(log.slice(start, start + expected.length), expected);
  // the line is not repeated when the popped branch reaches instruction 6 again
  assert.equal(log.filter((l) => l.startsWith('; } @')).length, 1);
});

test('stack liveness and SCC lines without a kernel: as Linux 6.18.44 printed them for the same programs', () => {
  const spill = PROGRAMS.find((p) => p.name === 'precision through a stack spill')!;
  const log = verify(spill.insns, { progType: SOCKET_FILTER, logLevel: 2 }).log.split('\n');
  // the first path's end: liveness.c's update_insn() changes in postorder, then the iteration count
  const first = [
    '(0) frame 0 insn 10 +live -16 ',
    '(0) frame 0 insn 7 +live -16,-24 ',
    '(0) frame 0 insn 6 +live -24 ',
    '(0) frame 0 insn 6 +written -16 ',
    '(0) frame 0 insn 5 +live -24 ',
    '(0) frame 0 insn 5 +written -8,-16 ',
    '(0) frame 0 insn 4 +written -8,-16,-24 ',
    '(0) frame 0 insn 2 +written -8,-16,-24 ',
    '(0) frame 0 insn 0 +written -8,-16,-24 ',
    '(0) live stack update done in 2 iterations',
  ];
  const at = log.indexOf(first[0]);
  assert.ok(at > 0, log.join('\n'));
  assert.deepEqual(log.slice(at, at + first.length), first);
  // the second path reads fp-8 at 10 instead: only the new bits are printed
  assert.deepEqual(log.slice(log.lastIndexOf('(0) frame 0 insn 10 +live -8 '), -2).slice(0, 4),
    ['(0) frame 0 insn 10 +live -8 ', '(0) frame 0 insn 7 +live -8 ', '(0) frame 0 insn 6 +live -8 ', '(0) live stack update done in 2 iterations']);

  const loop = PROGRAMS.find((p) => p.name === 'loop repeating a state')!;
  const l2 = verify(loop.insns, { progType: SOCKET_FILTER, logLevel: 2 }).log.split('\n');
  // instructions 2..8 form SCC 1 (the two nested loops are one component)
  assert.deepEqual(l2.slice(2, 12), [
    '      0: .1........ (b7) r0 = 0',
    '      1: 01........ (61) r2 = *(u32 *)(r1 +0)',
    '  1   2: 0.2....... (07) r0 += 1',
    '  1   3: 0.2....... (0f) r0 += r2',
    '  1   4: 0.2....... (57) r0 &= 7',
    '  1   5: 0.2....... (b7) r3 = 0',
    '  1   6: 0.23...... (07) r3 += 1',
    '  1   7: 0.23...... (a5) if r3 < 0x4 goto pc-2',
    '  1   8: 0.2....... (a5) if r0 < 0x5 goto pc-7',
    '      9: 0......... (95) exit',
  ]);
  assert.equal(l2.filter((l) => l === 'SCC enter (1)').length, 1);
  // level 1 prints none of it
  assert.ok(!verify(spill.insns, { progType: SOCKET_FILTER, logLevel: 1 }).log.includes('live stack update'));
});

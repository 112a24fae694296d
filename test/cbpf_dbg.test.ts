/*
 * The step debugger: the classic stepper gives runCbpf()'s results instruction by instruction,
 * breakpoints and stepping back work, and a bpf_dbg command script prints bpf_dbg's text.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BpfDbgSession, CbpfStepper, Debugger, dbgDisasm } from '../src/cbpf/dbg.js';
import { cinsn } from '../src/cbpf/insn.js';
import { runCbpf } from '../src/cbpf/interp.js';
import { Rng, mutate, randomPacket, randomProgram } from './cbpf_gen.js';
import { missingShared } from './oracles.js';

test('stepping gives the interpreter\'s results (libpcap and Linux semantics)', () => {
  const r = new Rng(42);
  for (let i = 0; i < 2000; i++) {
    let prog = randomProgram(r, 1 + r.int(30), { anc: true, deterministic: true });
    if (r.chance(0.3)) prog = mutate(r, prog);
    const p = randomPacket(r);
    const meta = r.chance(0.5) ? { protocol: 0x800, mark: r.next(), noDevice: r.chance(0.2), netHeader: r.chance(0.5) ? 14 : undefined } : undefined;
    const d = new Debugger(new CbpfStepper(prog, p, p.length + 3, meta));
    const stop = d.run();
    assert.equal(stop.reason, 'exit');
    assert.equal(stop.result, runCbpf(prog, p, p.length + 3, meta), JSON.stringify(prog));
  }
});

test('breakpoints stop before their instruction; step back restores registers', () => {
  const prog = [cinsn(0x00, 1), cinsn(0x04, 2), cinsn(0x02, 5), cinsn(0x04, 3), cinsn(0x16)];
  const t = new CbpfStepper(prog, new Uint8Array(0), 0);
  const d = new Debugger(t);
  d.breakpoints.add(3);
  assert.deepEqual(d.run(), { reason: 'breakpoint', pc: 3, steps: 3 });
  assert.equal(t.A, 3);
  assert.equal(t.M[5], 3);
  d.step(-2);
  assert.equal(t.pc, 1);
  assert.equal(t.A, 1);
  assert.equal(t.M[5], 0);
  assert.deepEqual(d.run(), { reason: 'breakpoint', pc: 3, steps: 2 });
  assert.deepEqual(d.run(), { reason: 'exit', pc: 5, result: 6, steps: 2 });
  assert.throws(() => new Debugger(t).step(-1), /bottom of register history/);
});

test('bpf_dbg disassembly format', () => {
  assert.equal(dbgDisasm(cinsn(0x15, 0x800, 0, 3), 1), 'l1:\tjeq #0x800, l2, l5');
  assert.equal(dbgDisasm(cinsn(0x06, 0), 5), 'l5:\tret #0');
  assert.equal(dbgDisasm(cinsn(0x40, 4), 0), 'l0:\tld [x+4]');
  assert.equal(dbgDisasm(cinsn(0x99), 0), 'l0:\tnosup 0x99');
});

test('a bpf_dbg session, driven by a script', () => {
  const ip = new Uint8Array(60); ip[12] = 8; ip[23] = 6;
  const arp = new Uint8Array(42); arp[12] = 8; arp[13] = 6;
  const s = new BpfDbgSession((path) => {
    assert.equal(path, 'two.pcap');
    return [{ data: ip, wireLen: 60 }, { data: arp, wireLen: 42 }];
  });
  const run = (line: string): string => s.exec(line).output;
  assert.equal(run('run'), 'no bpf program loaded!\n');
  assert.equal(run('load bpf 6,40 0 0 12,21 0 3 2048,48 0 0 23,21 0 1 6,6 0 0 4294967295,6 0 0 0,'), '');
  assert.equal(run('run'), 'no pcap file loaded!\n');
  assert.equal(run('load pcap two.pcap'), '');
  assert.equal(run('run'), 'bpf passes:1 fails:1\n');
  assert.equal(run('disassemble 1'), 'l1:\tjeq #0x800, l2, l5\n');
  assert.equal(run('dump').split('\n')[1], '{ 0x28,  0,  0, 0x0000000c },');
  assert.equal(run('breakpoint 2'), 'breakpoint at: l2:\tldb [23]\n');
  assert.equal(run('breakpoint 2'), 'breakpoint already set!\nbreakpoint at: l2:\tldb [23]\n');
  assert.equal(run('breakpoint'), 'breakpoints: 2 \n');
  const atBp = run('run');
  assert.match(atBp, /^-- register dump --\npc:       \[2\]\ncode:     \[48\] jt\[0\] jf\[0\] k\[23\]\ncurr:     l2:\tldb \[23\]\nA:        \[0x000800\]\[2048\]\n/);
  assert.match(atBp, /M\[0,15\]:  \[00000000\]\[0\]\n-- packet dump --\nlen: 60\n  0: 00 00 /);
  assert.match(atBp, /\(breakpoint\)\n$/);
  const stepped = run('step 3');
  assert.match(stepped, /ret:      \[0xffffffff\]\[4294967295\]!/);
  assert.match(stepped, /\(next packet\)\n$/);
  assert.equal(run('breakpoint reset'), '');
  assert.equal(run('select 2'), '');
  assert.match(run('step'), /pc:       \[1\]/);
  assert.equal(run('select 9'), 'no packet #9 available!\n');
  assert.equal(run('load bpf 1,52 0 0 0'), 'program not allowed to run by kernel! (insn 0 (div #0): division by zero)\n');
  assert.equal(run('frobnicate'), "unknown command 'frobnicate' (load, select, step, run, breakpoint, disassemble, dump, quit)\n");
  assert.equal(s.exec('quit').quit, true);
});

test('bpfDbgCommand runs a script over a capture file', { skip: missingShared('libpcap-tests') }, async () => {
  const { bpfDbgCommand } = await import('../src/cli/bpf_dbg.js');
  let out = '';
  const ctx = {
    json: false, pretty: false, debug: false, stdout: (t: string) => { out += t; }, stderr: () => {},
    readStdin: async () => new TextEncoder().encode(
      'load bpf 4,40 0 0 12,21 0 1 2048,6 0 0 262144,6 0 0 0\n' +
      `load pcap ${new URL('../../../shared/libpcap-tests/savefiles/filter/ipv6_ext_headers.pcap', import.meta.url).pathname}\nrun\nquit\nrun\n`),
  };
  assert.equal(await bpfDbgCommand([], ctx), 0);
  assert.equal(out, 'bpf passes:0 fails:1\n');
});

test('one debugger, two instruction sets: the same Debugger steps eBPF through the VM', async () => {
  const { EbpfStepTarget } = await import('../src/cli/bpf_dbg.js');
  const { Execution } = await import('../src/vm/interpreter.js');
  const { Vm } = await import('../src/vm/vm.js');
  const { convertCbpfToEbpf } = await import('../src/cbpf/convert.js');
  // the classic program and its eBPF conversion, over the same packet
  const prog = [cinsn(0x28, 12), cinsn(0x15, 0x800, 0, 1), cinsn(0x06, 0xffff), cinsn(0x06, 0)];
  const ebpf = convertCbpfToEbpf(prog);
  const vm = new Vm();
  const pkt = vm.space.alloc(64, 'packet', { writable: false });
  const ctx = vm.space.alloc(192, 'skb', { writable: false });
  const bytes = new Uint8Array(64); bytes[12] = 8;
  vm.space.write(pkt.addr, bytes);
  const exec = new Execution(vm, ebpf, { args: [BigInt(ctx.addr)], packet: { addr: pkt.addr, len: 64 } });
  const target = new EbpfStepTarget(exec);
  const d = new Debugger(target);
  d.breakpoints.add(4); // the jne after ldh
  assert.deepEqual(d.run(), { reason: 'breakpoint', pc: 4, steps: 4 });
  assert.equal(target.describe(4), '(55) if r0 != 0x800 goto pc+2');
  assert.deepEqual(target.registers()[0], ['r0', 0x800n]);
  assert.deepEqual(d.run(), { reason: 'exit', pc: target.pc, result: 0xffffn, steps: 3 });
  assert.throws(() => d.step(-1), /cannot step back/);
  exec.dispose();
  const classic = new Debugger(new CbpfStepper(prog, bytes, 64));
  assert.equal(BigInt(classic.run().result ?? -1), 0xffffn);
});

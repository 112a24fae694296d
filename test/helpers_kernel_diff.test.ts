/*
 * bpf_strtol / bpf_strtoul against the running kernel: one XDP program (written as instructions,
 * wrapped in an ELF by the loader's writer) copies a string from the packet to the stack, calls
 * the helper with a length and flags taken from the packet, and writes the return value and *res
 * back into the packet. The kernel runs it with `bpftool prog run`, bpfkit with its interpreter
 * and helpers; data_out must agree for every input. Skipped without root/bpftool/bpffs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHelperHost, registerHelpers } from '../src/helpers/index.js';
import type { Insn } from '../src/isa/insn.js';
import { writeElf } from '../src/loader/elf_writer.js';
import { interpret } from '../src/vm/interpreter.js';
import { Vm } from '../src/vm/vm.js';
import { missingKernel, runTool } from './oracles.js';
import { R0, R1, R2, R3, R4, R6, R7, R8, R10, alu64K, call, exit, jmpX, ldx, mov64, mov64X, prog, st, stx } from './vm_build.js';

const BPF_FUNC_strtol = 105;
const BPF_FUNC_strtoul = 106;

/** pkt[0] & 15 + 1 = length, pkt[1] = flags, pkt[8..32] = the string; out: pkt[0..8] = r0, pkt[8..16] = *res. */
function program(helper: number): Insn[] {
  return prog(
    mov64X(R6, R1), ldx(4, R7, R6, 0), ldx(4, R8, R6, 4),
    mov64X(R1, R7), alu64K(0x00, R1, 32), jmpX(0x20, R1, R8, 19), // if data + 32 > data_end goto out
    ldx(8, R1, R7, 8), stx(8, R10, -32, R1), ldx(8, R1, R7, 16), stx(8, R10, -24, R1), ldx(8, R1, R7, 24), stx(8, R10, -16, R1),
    st(8, R10, -8, 0),
    ldx(1, R2, R7, 0), alu64K(0x50, R2, 15), alu64K(0x00, R2, 1), ldx(1, R3, R7, 1),
    mov64X(R1, R10), alu64K(0x00, R1, -32), mov64X(R4, R10), alu64K(0x00, R4, -8),
    call(helper),
    stx(8, R7, 0, R0), ldx(8, R1, R10, -8), stx(8, R7, 8, R1),
    mov64(R0, 2), exit(),
  );
}

function elfOf(insns: Insn[]): Uint8Array {
  return writeElf({
    sections: [
      { name: 'xdp', executable: true, writable: false, data: new Uint8Array(0), insns,
        symbols: [{ name: 'conv', offset: 0, global: true, type: 'func', size: insns.length * 8 }], relocations: [] },
      { name: 'license', executable: false, writable: true, insns: [], data: new TextEncoder().encode('GPL\0'), symbols: [], relocations: [] },
    ],
  });
}

function ourRun(insns: Insn[], packet: Uint8Array): number[] {
  const vm = new Vm();
  registerHelpers(vm.helpers, createHelperHost({ seed: 1 }));
  const pkt = vm.space.alloc(packet.length, 'packet');
  vm.space.write(pkt.addr, packet);
  const ctx = vm.space.alloc(24, 'ctx');
  const md = new Uint8Array(24);
  new DataView(md.buffer).setUint32(0, pkt.addr, true);
  new DataView(md.buffer).setUint32(4, pkt.addr + packet.length, true);
  vm.space.write(ctx.addr, md);
  const r = interpret(vm, insns, { args: [BigInt(ctx.addr)] });
  assert.equal(r.r0, 2n);
  return [...vm.space.read(pkt.addr, packet.length)];
}

const ALPHABET = [...' \t\n-+0123456789abcdefABCDEFxXgz', '\0'];

function inputs(): Uint8Array[] {
  let seed = 2024;
  const rand = (n: number): number => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return (seed >>> 8) % n; };
  const fixed = ['0x1f', '  -42', '017', '-0', '9223372036854775807', '9223372036854775808', '-9223372036854775808',
    '18446744073709551615', '18446744073709551616', '0x', '0xg', '-', ' ', '+5', '00000000000000000000099', 'ffff'];
  const strings = [...fixed, ...Array.from({ length: 150 }, () => Array.from({ length: 1 + rand(20) }, () => ALPHABET[rand(ALPHABET.length)]).join(''))];
  const flags = [0, 8, 10, 16, 3, 0x20];
  return strings.map((s, i) => {
    const p = new Uint8Array(40);
    const b = new TextEncoder().encode(s).subarray(0, 24);
    p[0] = (i < fixed.length ? Math.min(b.length, 16) - 1 : rand(16)) & 15;
    p[1] = i < fixed.length ? (i % 3 === 0 ? 16 : 0) : flags[rand(flags.length)];
    p.set(b, 8);
    return p;
  });
}

test('kernel diff: bpf_strtol and bpf_strtoul agree with Linux on random strings', (t) => {
  const why = missingKernel();
  if (why) { t.skip(why); return; }
  const dir = mkdtempSync(join(tmpdir(), 'bpfkit-strtol-'));
  try {
    for (const helper of [BPF_FUNC_strtol, BPF_FUNC_strtoul]) {
      const insns = program(helper);
      const obj = join(dir, `conv${helper}.o`);
      writeFileSync(obj, elfOf(insns));
      const pin = `/sys/fs/bpf/bpfkit_strtol_${process.pid}_${helper}`;
      const load = spawnSync('bpftool', ['prog', 'load', obj, pin], { encoding: 'utf8' });
      if (load.status !== 0) {
        if (/unknown func|program of this type cannot use helper/.test(load.stderr)) { t.skip('this kernel has no strtol for XDP programs'); return; }
        assert.fail(`bpftool prog load: ${load.stderr.slice(-2000)}`);
      }
      try {
        inputs().forEach((packet, i) => {
          const file = join(dir, `in${i}`);
          writeFileSync(file, packet);
          const j = JSON.parse(runTool('bpftool', ['-j', 'prog', 'run', 'pinned', pin, 'data_in', file, 'data_out', '-'])) as { retval: number; data_out: number[] };
          assert.equal(j.retval, 2);
          const text = JSON.stringify(new TextDecoder().decode(packet.subarray(8, 8 + (packet[0] & 15) + 1)));
          assert.deepEqual(ourRun(insns, packet).slice(0, 16), j.data_out.slice(0, 16), `helper ${helper}, ${text}, flags ${packet[1]}`);
        });
      } finally {
        rmSync(pin, { force: true });
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

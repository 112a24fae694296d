/*
 * The object loader against the kernel + libbpf (bpftool; root and bpffs needed, skipped with a
 * message otherwise): the same object loaded by `bpftool prog loadall` and by kernel/load.ts, the
 * same packet run through each program, then every map of the object compared byte for byte,
 * and the maps' names, types, sizes and flags as libbpf created them. Pins are removed in finally.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import '../src/api/index.js';
import { createHelperHost, registerHelpers } from '../src/helpers/index.js';
import type { Insn } from '../src/isa/insn.js';
import { Bpf } from '../src/kernel/bpf.js';
import { loadObjectIntoKernel } from '../src/kernel/load.js';
import { interpret } from '../src/vm/interpreter.js';
import { missingKernel, runTool } from './oracles.js';

const root = new URL('../../', import.meta.url);
const objPath = (name: string): string => new URL(`test/fixtures/loader/${name}`, root).pathname;

function runXdp(bpf: Bpf, insns: readonly Insn[], packet: Uint8Array): number {
  const space = bpf.vm.space;
  const buf = space.alloc(4096, 'xdp_buff', { writable: true, align: 4096 });
  const data = buf.addr + 256;
  space.write(data, packet);
  const ctx = space.alloc(24, 'xdp_md', { writable: false });
  const md = new Uint8Array(24);
  const v = new DataView(md.buffer);
  v.setUint32(0, data, true); v.setUint32(4, data + packet.length, true); v.setUint32(8, data, true); v.setUint32(12, 1, true);
  space.write(ctx.addr, md);
  return Number(BigInt.asUintN(32, interpret(bpf.vm, insns, { args: [BigInt(ctx.addr)] }).r0));
}

const hexBytes = (list: string[]): number[] => list.map((x) => Number.parseInt(x, 16));

test('btf_maps.o: verdicts and every map after the same packets equal the kernel\'s', (t) => {
  const why = missingKernel();
  if (why) { t.skip(why); return; }
  const dir = `/sys/fs/bpf/bpfkit_loader_${process.pid}`;
  const tmp = mkdtempSync(join(tmpdir(), 'bpfkit-loader-'));
  const pktFile = join(tmp, 'pkt.bin');
  const packets = [new Uint8Array(60).fill(0xab), new Uint8Array(150).fill(0x11)];
  const cleanup = (): void => {
    rmSync(dir, { recursive: true, force: true });
    rmSync('/sys/fs/bpf/pinned_arr', { force: true });
  };
  cleanup();
  try {
    runTool('bpftool', ['prog', 'loadall', objPath('btf_maps.o'), dir]);
    const bpf = new Bpf();
    registerHelpers(bpf.vm.helpers, createHelperHost({ seed: 1 }));
    const lo = loadObjectIntoKernel(bpf, new Uint8Array(readFileSync(objPath('btf_maps.o'))), 'btf_maps.o', { pinRoot: '/mem' });
    // The kernel clears a prog array when its last user reference (fd or pin) goes
    // (prog_array_map_clear() on map_release_uref): bpftool exited, so `jmp` is empty there.
    // bpfkit's kernel keeps it while this load holds the fd; empty it to compare the same state.
    bpf.mapDelete(lo.map('jmp').fd, new Uint8Array([1, 0, 0, 0]));
    for (const pkt of packets) {
      writeFileSync(pktFile, pkt);
      for (const prog of ['xdp_count', 'xdp_second']) {
        const out = runTool('bpftool', ['prog', 'run', 'pinned', `${dir}/${prog}`, 'data_in', pktFile]);
        const kernelRet = Number(/Return value: (\d+)/.exec(out)![1]);
        assert.equal(runXdp(bpf, lo.runInsns(prog), pkt), kernelRet, `${prog} on ${pkt.length} bytes`);
      }
    }
    // Program tags (SHA-256 over the relocated instructions, map immediates zeroed) equal the kernel's.
    for (const prog of ['tail_target', 'xdp_count', 'xdp_second']) {
      const info = JSON.parse(runTool('bpftool', ['-j', 'prog', 'show', 'pinned', `${dir}/${prog}`]));
      assert.equal(bpf.progInfo(lo.program(prog).fd).tag, info.tag, `tag of ${prog}`);
    }
    // Every map the programs use, by name.
    const ids = new Set<number>();
    for (const prog of ['xdp_count', 'xdp_second']) {
      for (const id of JSON.parse(runTool('bpftool', ['-j', 'prog', 'show', 'pinned', `${dir}/${prog}`])).map_ids) ids.add(id);
    }
    const seen: string[] = [];
    for (const id of ids) {
      const info = JSON.parse(runTool('bpftool', ['-j', 'map', 'show', 'id', String(id)]));
      const ours = lo.map(info.name);
      const oi = bpf.mapInfo(ours.fd);
      assert.deepEqual([oi.type, oi.keySize, oi.valueSize, oi.maxEntries, oi.mapFlags, oi.frozen],
        [info.type === 'array' ? 2 : info.type === 'hash' ? 1 : info.type === 'prog_array' ? 3 : info.type === 'array_of_maps' ? 12 : -1,
          info.bytes_key, info.bytes_value, info.max_entries, info.flags, info.frozen === 1], `map ${info.name}`);
      seen.push(info.name);
      if (info.type === 'prog_array' || info.type === 'array_of_maps') continue; // ids differ
      const dump: { key: string[]; value: string[] }[] = JSON.parse(runTool('bpftool', ['-j', 'map', 'dump', 'id', String(id)]));
      const mine = [...(function* () {
        let key: Uint8Array | undefined;
        for (;;) {
          try { key = bpf.mapGetNextKey(ours.fd, key); } catch { return; }
          yield { key: [...key], value: [...bpf.mapLookup(ours.fd, key)] };
        }
      })()];
      const norm = (l: { key: number[]; value: number[] }[]) => l.map((e) => JSON.stringify(e)).sort();
      assert.deepEqual(norm(mine), norm(dump.map((e) => ({ key: hexBytes(e.key), value: hexBytes(e.value) }))), `contents of ${info.name}`);
    }
    for (const n of ['counts', 'pinned_arr', 'btf_maps.bss', 'btf_maps.data', 'btf_maps.rodata', '.data.extra', '.rodata.str_tab', 'outer', 'jmp']) {
      assert.ok(seen.includes(n), `kernel map ${n} compared`);
    }
  } finally {
    cleanup();
    rmSync(tmp, { recursive: true, force: true });
  }
});

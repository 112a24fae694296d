/*
 * The JIT's verified tier (no region checks where the verifier proved an access, no budget)
 * against the checked tier and the interpreter, on programs loaded through the kernel's load
 * path: for every packet, the same verdict, packet out and whole VM memory (maps, frames, packet
 * pages) from three kernels loaded alike. Also: the tier comes from the verifier's verdict only
 * (a copy of the instructions, or a program the verifier cannot vouch for, stays checked).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCliCaptured } from '../src/cli/main.js';
import type { Insn } from '../src/isa/insn.js';
import { Bpf } from '../src/kernel/bpf.js';
import { loadObjectIntoKernel } from '../src/kernel/load.js';
import { createMap } from '../src/maps/index.js';
import { registerProgTypeHelpers } from '../src/progtypes/register.js';
import { testRunXdp } from '../src/progtypes/xdp.js';
import { compileJit, isVerified } from '../src/vm/jit/index.js';
import { CLANG, missingTool, runTool } from './oracles.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/* Stack at variable offsets, a hash map and an array updated, a bounded loop over the packet, a
 * subprogram writing through a pointer to the caller's stack, a packet write. */
const MIXED_C = `
#include "bench.h"
static long (*bpf_map_update_elem)(void *map, const void *key, const void *value, __u64 flags) = (void *)2;
struct { __uint(type, BPF_MAP_TYPE_HASH); __type(key, __u32); __type(value, __u64); __uint(max_entries, 64); } seen SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __type(key, __u32); __type(value, __u64); __uint(max_entries, 16); } sums SEC(".maps");
static __attribute__((noinline)) int fold(__u8 *buf, int n) {
	int s = 0;
	for (int i = 0; i < 16 && i < n; i++) s += buf[i] * (i + 1);
	buf[0] ^= (__u8)s;
	return s;
}
SEC("xdp") int mixed(struct xdp_md *ctx) {
	__u8 *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	__u8 buf[16] = {};
	int n = 0;
	for (int i = 0; i < 16; i++) {
		if (data + i + 1 > end) break;
		buf[data[i] & 15] += data[i];
		n = i + 1;
	}
	int s = fold(buf, n);
	__u32 k = buf[0] & 31;
	__u64 *v = bpf_map_lookup_elem(&seen, &k);
	if (v) __sync_fetch_and_add(v, s);
	else { __u64 one = s; bpf_map_update_elem(&seen, &k, &one, 0); }
	__u32 a = s & 15;
	__u64 *t = bpf_map_lookup_elem(&sums, &a);
	if (t) *t += n;
	if (data + 2 <= end) data[1] = buf[0];
	return s & 3;
}
char _license[] SEC("license") = "GPL";
`;

/** Objects to compare on: the bench programs, the XDP fixtures, and the mixed program (clang). */
async function objects(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const s of ['parse_udp', 'ret_const', 'hash_loop']) { // (divmod_loop: another long verifier walk, nothing new)
    const obj = join(dir, `${s}.o`);
    const r = await runCliCaptured(['asm', join(ROOT, 'bench/programs', `${s}.s`), '-o', obj]);
    assert.equal(r.status, 0, r.stderr);
    out.push(obj);
  }
  out.push(join(ROOT, 'test/fixtures/xdp_ctx.o'), join(ROOT, 'test/fixtures/xdp_meta.o'));
  if (missingTool(CLANG) === undefined) {
    writeFileSync(join(dir, 'mixed.c'), MIXED_C);
    for (const [name, src] of [['mixed', join(dir, 'mixed.c')], ['parse_count', join(ROOT, 'bench/programs/parse_count.c')], ['firewall', join(ROOT, 'bench/programs/firewall.c')]]) {
      const obj = join(dir, `${name}.o`);
      runTool(CLANG, ['-O2', '-g', '-target', 'bpf', '-I', join(ROOT, 'bench/programs'), '-c', src, '-o', obj]);
      out.push(obj);
    }
  }
  return out;
}

/** A small deterministic generator (xorshift32), floats in [0, 1). */
function rng(seed: number): () => number {
  let x = (seed * 2654435761) >>> 0 || 1;
  return () => {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    return x / 4294967296;
  };
}

/** Packets: UDP/TCP/VLAN frames, random bytes, and short ones (bounds checks at the edge). */
function packets(count: number, seed: number): Uint8Array[] {
  const rand = rng(seed);
  const out: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const len = i % 5 === 0 ? 14 + Math.floor(rand() * 26) : 34 + Math.floor(rand() * 90); // (XDP test runs take 14 bytes at least)
    const p = new Uint8Array(len);
    for (let j = 0; j < len; j++) p[j] = Math.floor(rand() * 256);
    if (len > 23 && rand() < 0.8) {
      const vlan = rand() < 0.2 ? 4 : 0;
      if (vlan) p.set([0x81, 0x00, 0, 1], 12);
      if (len > 24 + vlan) {
        p.set([0x08, 0x00, 0x45], 12 + vlan);
        p[23 + vlan] = [6, 17, 1][i % 3];
        if (rand() < 0.5 && len > 30 + vlan) p.set([172, 16 + (i & 15)], 26 + vlan);
      }
    }
    out.push(p);
  }
  return out;
}

interface Loaded { bpf: Bpf; insns: Insn[]; section: string }

function load(obj: string, copy: boolean): Loaded {
  const bpf = new Bpf({ createMap });
  const loaded = loadObjectIntoKernel(bpf, readFileSync(obj), obj);
  const prog = loaded.programs[0];
  registerProgTypeHelpers(bpf.vm.helpers, prog.type);
  const insns = loaded.runInsns(prog);
  return { bpf, insns: copy ? insns.map((i) => ({ ...i })) : insns, section: prog.spec.section };
}

test('verified tier == checked tier == interpreter: verdicts, packets and the whole memory', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bpfkit-jit-verified-'));
  try {
    const objs = await objects(dir);
    if (missingTool(CLANG) !== undefined) console.log(`# ${missingTool(CLANG)}: the C programs are not compared`);
    let elided = 0;
    for (const obj of objs) {
      const verified = load(obj, false);
      const checked = load(obj, true);
      const interp = load(obj, false);
      assert.ok(isVerified(verified.insns), `${obj}: the verifier accepted it, so the verified tier`);
      assert.ok(!isVerified(checked.insns), `${obj}: a copy of the instructions is not verified`);
      const pkts = packets(32, obj.length);
      for (const [i, dataIn] of pkts.entries()) {
        const run = (l: Loaded, engine: 'jit' | 'interp') =>
          testRunXdp({ insns: l.insns, section: l.section, dataIn, dataSizeOut: 0, repeat: 1 + (i % 3), engine, vm: l.bpf.vm });
        const v = await run(verified, 'jit');
        const c = await run(checked, 'jit');
        const n = await run(interp, 'interp');
        const what = `${obj}, packet ${i} (${dataIn.length} bytes)`;
        assert.equal(v.retval, n.retval, what);
        assert.equal(c.retval, n.retval, what);
        assert.deepEqual(v.dataOut, n.dataOut, what);
        assert.deepEqual(c.dataOut, n.dataOut, what);
        const mem = (l: Loaded) => new Uint8Array(l.bpf.vm.space.memory.buffer);
        assert.ok(Buffer.compare(mem(verified), mem(checked)) === 0, `${what}: memory after the verified and the checked tier`);
        assert.ok(Buffer.compare(mem(verified), mem(interp)) === 0, `${what}: memory after the verified tier and the interpreter`);
      }
      const jv = compileJit(verified.bpf.vm, verified.insns);
      const jc = compileJit(checked.bpf.vm, checked.insns);
      assert.ok(jv.verified && !jc.verified);
      if (jv.wasmSize < jc.wasmSize) elided++;
    }
    assert.ok(elided >= 4, `the verified tier compiled smaller modules for ${elided} programs`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('verified tier: a zero budget still stops before the first instruction; larger ones are not charged', () => {
  const { bpf, insns } = load(join(ROOT, 'test/fixtures/xdp_ctx.o'), false);
  const j = compileJit(bpf.vm, insns);
  const ctx = bpf.vm.space.alloc(24, 'ctx');
  assert.throws(() => j.runCtx(ctx.addr, 0), /instruction budget of 0 exceeded \(insn #0\)/);
  // a budget smaller than the program: the checked tier stops, the verified tier runs it through
  const copy = insns.map((i) => ({ ...i }));
  assert.throws(() => compileJit(bpf.vm, copy).runCtx(ctx.addr, 3), /instruction budget of 3 exceeded/);
  assert.equal(typeof j.runCtx(ctx.addr, 3), 'number');
});

/*
 * `bpfkit prog dump xlated PROG` against the real bpftool: the same object loaded by both
 * (`prog load OBJ /sys/fs/bpf/...`), both dumps compared after the differences that are not
 * bpfkit's to reproduce are taken out: map ids
 * (each kernel numbers its own maps), the JIT's `#bpf_prog_<tag>_<name>` call suffix, and what
 * the installed bpftool (7.1) prints in an older format than Linux 6.18's disassembler. The
 * kernel's rewrites (context access conversion, inlined map lookups, div/mod guards, dead code,
 * helper addresses) must be reproduced, and the BTF source lines and prototypes must sit where
 * the kernel moved them (bpf_adj_linfo()): every remaining line must match.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { release } from 'node:os';
import { fileURLToPath } from 'node:url';
import { runCliCaptured } from '../src/cli/main.js';
import { setCliKernel } from '../src/cli/map.js';
import { Bpf } from '../src/kernel/bpf.js';
import { PinStore } from '../src/kernel/pin_store.js';
import { MemoryStoreFs } from '../src/kernel/store_fs.js';
import { createMap } from '../src/maps/index.js';
import { LINUX_6_18_X86_64_DEBIAN } from '../src/progtypes/kernel_layout.js';
import { missingKernel } from './oracles.js';

const repo = (rel: string): string => fileURLToPath(new URL(`../../${rel}`, import.meta.url));

/** bpfkit's CLI in-process, on a kernel whose pin store lives in memory (set by the caller). */
async function bpfkit(args: string[]): Promise<string> {
  const r = await runCliCaptured(args);
  assert.equal(r.status, 0, `bpfkit ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

function bpftool(args: string[]): string {
  const r = spawnSync('bpftool', args, { encoding: 'utf8' });
  assert.equal(r.status, 0, `bpftool ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/*
 * Helper call displacements are the kernel build's (kernel_layout.ts); on another build only the
 * function names can agree.
 */
const sameBuild = release() === LINUX_6_18_X86_64_DEBIAN.kernel;

/**
 * Kernel addresses KASLR moves, which the inlined helpers load: bpf_get_smp_processor_id()'s
 * `r0 = &cpu_number; r0 = &(void __percpu *)(r0)` and bpf_jiffies64()'s `r0 = &jiffies;
 * r0 = *(u64 *)(r0 +0)`. The immediates (and their opcode bytes) are masked.
 */
function maskKernelAddresses(lines: string[]): string[] {
  const out = lines.slice();
  const isBytes = (l: string): boolean => /^ {7}[0-9a-f]{2} /.test(l);
  for (let i = 0; i < out.length; i++) {
    const cpu = /\(b7\) r0 = -?\d+$/.test(out[i]);
    const jiffies = /\(18\) r0 = 0x[0-9a-f]+$/.test(out[i]);
    if (!cpu && !jiffies) continue;
    const bytes = isBytes(out[i + 1] ?? '');
    const next = out[i + (bytes ? 2 : 1)] ?? '';
    if (cpu ? !/\(bf\) r0 = r0$/.test(next) : !/\(79\) r0 = \*\(u64 \*\)\(r0 \+0\)$/.test(next)) continue;
    out[i] = out[i].replace(/(-?\d+|0x[0-9a-f]+)$/, '<address>');
    if (bytes) out[i + 1] = out[i + 1].slice(0, 18) + ' <address>';
  }
  return out;
}

const normalize = (text: string): string[] => {
  const lines = text.split('\n').filter((l) => l !== '');
  return maskKernelAddresses(lines
    // With the JIT, the kernel rewrites a bpf-to-bpf call's off/imm (jit_subprogs()): its opcode bytes differ.
    .filter((l, i) => !(/^ {7}85 1/.test(l) && /call pc/.test(lines[i - 1] ?? '')))
    .map((l) => l.replace(/map\[id:\d+\]/g, 'map[id:N]').replace(/#bpf_prog_[0-9a-f]+_\w+/, ''))
    // A map reference's imm is the map id in the opcode bytes too.
    .map((l) => l.replace(/^( {7}18 \S\S \S\S \S\S)( \S\S){4}/, '$1 <id>'))
    // bpftool 7.1 predates BPF_ADDR_PERCPU and sdiv/smod in its disassembler.
    .map((l) => l.replace(/= &\(void __percpu \*\)\((r\d+)\)/, '= $1').replace(/ s([/%])= /, ' $1= '))
    .map((l) => (sameBuild ? l : l.replace(/(call \w+)#-?\d+/, '$1#<addr>').replace(/^( {7}85 00 00 00)( \S\S){4}/, '$1 <addr>'))));
};

/** Every committed object the kernel loads with `bpftool prog load` (its first program). */
const FIXTURES = [
  'examples/xdp_udp_drop.o',
  'test/fixtures/calls.o', // bpf-to-bpf calls
  'test/fixtures/global_data.o', // map value reference: map[id:N][0]+0
  'test/fixtures/trace_printk.o',
  'test/fixtures/xdp_ctx.o',
  'test/fixtures/xdp_meta.o',
  'test/fixtures/loader/btf_maps.o',
  'test/fixtures/loader/big.o',
  'test/fixtures/progtypes/socket_len.o',
  'test/fixtures/progtypes/sockex1.o',
  'test/fixtures/progtypes/tc_fields.o', // unclone prologue, tstamp
  'test/fixtures/progtypes/tc_pair.o',
  'test/fixtures/progtypes/tc_rewrite.o',
  'test/fixtures/progtypes/tc_shape.o', // dead branches
  'test/fixtures/progtypes/tc_sock.o', // bpf_sock / bpf_tcp_sock reads through socket pointers
  'test/fixtures/progtypes/cg_sock.o', // __sk_buff's socket fields
  'test/fixtures/progtypes/xdp_adjust.o',
  'test/fixtures/progtypes/xdp_ddos.o', // LPM trie lookup through the map's ops
  'test/fixtures/progtypes/flow_dissect.o', // struct bpf_flow_dissector
  'test/fixtures/xlated/dead_code.o',
  'test/fixtures/xlated/calls_misc.o', // tail call, map-in-map, jiffies64, bpf_loop inlined
  'test/fixtures/xlated/divmod.o',
  'test/fixtures/xlated/kprobe_calls.o', // tracing helpers, inlined get_smp_processor_id
  'test/fixtures/xlated/sk_fields.o',
  'test/fixtures/xlated/sk_filter.o',
  'test/fixtures/xlated/skb_fields.o',
  'test/fixtures/xlated/tstamp_type.o', // reads tstamp_type: tstamp read and written as is
  'test/fixtures/verifier/global_func_ok.o', // global functions (verified with the object's func_info)
  'test/fixtures/xlated/xdp_maps.o',
  'test/fixtures/xlated/xdp_redirect.o', // XDP's own helper functions
];

/** Also compared: `opcodes`, -j, and the program by `file OBJ` (each costs a verification). */
const FULL = new Set(['test/fixtures/calls.o', 'test/fixtures/global_data.o', 'test/fixtures/progtypes/tc_fields.o',
  'test/fixtures/progtypes/sockex1.o', 'test/fixtures/xlated/divmod.o', 'test/fixtures/xlated/xdp_maps.o', 'test/fixtures/xlated/calls_misc.o']);

for (const fixture of FIXTURES) {
  test(`prog dump xlated ${fixture}: bpftool's dump of the same object in the kernel`, async (t) => {
    const why = missingKernel();
    if (why) { t.skip(why); return; }
    const obj = repo(fixture);
    const fs = new MemoryStoreFs();
    setCliKernel(() => new Bpf({ store: new PinStore(fs), createMap, nrCpus: 1 }));
    const pin = `/sys/fs/bpf/bpfkit_xlated_${process.pid}`;
    try {
      await bpfkit(['prog', 'load', obj, pin]);
      bpftool(['prog', 'load', obj, pin]);
      const dump = async (extra: string[]): Promise<void> => {
        const ours = normalize(await bpfkit(['prog', 'dump', 'xlated', 'pinned', pin, ...extra]));
        const theirs = normalize(bpftool(['prog', 'dump', 'xlated', 'pinned', pin, ...extra]));
        assert.ok(ours.length > 0);
        assert.deepEqual(ours, theirs);
      };
      await dump([]);
      // bytes_xlated of `prog show` is the rewritten program's size.
      const size = (text: string): number => (JSON.parse(text) as { bytes_xlated: number }).bytes_xlated;
      assert.equal(size(await bpfkit(['-j', 'prog', 'show', 'pinned', pin])), size(bpftool(['-j', 'prog', 'show', 'pinned', pin])));
      if (!FULL.has(fixture)) return;
      await dump(['opcodes']);
      const disasm = (text: string): string[] => (JSON.parse(text) as { disasm: string }[]).map((x) => x.disasm);
      assert.deepEqual(
        normalize(disasm(await bpfkit(['-j', 'prog', 'dump', 'xlated', 'pinned', pin])).join('\n')),
        normalize(disasm(bpftool(['-j', 'prog', 'dump', 'xlated', 'pinned', pin])).join('\n')),
      );
      // The same program by `file OBJ` (resolved as `prog run` resolves it).
      assert.deepEqual(normalize(await bpfkit(['prog', 'dump', 'xlated', 'file', obj])), normalize(bpftool(['prog', 'dump', 'xlated', 'pinned', pin])));
    } finally {
      rmSync(pin, { force: true });
      setCliKernel(undefined);
    }
  });
}

test('prog dump xlated: map references print as map[id:N] with the map ids of prog show', async (t) => {
  const fs = new MemoryStoreFs();
  setCliKernel(() => new Bpf({ store: new PinStore(fs), createMap, nrCpus: 1 }));
  try {
    await bpfkit(['prog', 'load', repo('test/fixtures/progtypes/tc_pair.o'), '/sys/fs/bpf/x']);
    const show = JSON.parse(await bpfkit(['-j', 'prog', 'show', 'pinned', '/sys/fs/bpf/x'])) as { id: number; map_ids: number[] };
    const text = await bpfkit(['prog', 'dump', 'xlated', 'id', String(show.id)]);
    const ids = [...text.matchAll(/map\[id:(\d+)\]/g)].map((m) => Number(m[1]));
    assert.ok(ids.length > 0, text);
    for (const id of ids) assert.ok(show.map_ids.includes(id), `${id} not in ${show.map_ids}`);
    // The array lookup is inlined: the map pointer is advanced to the values, no call remains.
    assert.match(text, /r1 = map\[id:\d+\]\n +\d+: \(07\) r1 \+= \d+\n/);
    assert.doesNotMatch(text, /call/);
    assert.deepEqual(text, await bpfkit(['prog', 'dump', 'xlated', 'pinned', '/sys/fs/bpf/x']));
    t.diagnostic(text);
  } finally {
    setCliKernel(undefined);
  }
});

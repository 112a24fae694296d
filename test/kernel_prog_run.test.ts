/*
 * `bpfkit prog run file X ...` against `bpftool prog run pinned X ...` on the running kernel:
 * same stdout (durations aside), same stderr, same exit status, for the options of
 * BPF_PROG_TEST_RUN on XDP (data_out as a file, as hex and as JSON, data_size_out, ctx_in and
 * ctx_out with metadata, repeat, fragments beyond the linear part) and its errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCliCaptured } from '../src/cli/main.js';
import { missingKernel } from './oracles.js';

const root = new URL('../../', import.meta.url);
const path = (name: string): string => new URL(name, root).pathname;

interface Outcome { status: number; stdout: string; stderr: string }

/** Durations differ run to run; everything else must not. */
const normalize = (o: Outcome): Outcome => ({
  status: o.status,
  stdout: o.stdout.replace(/duration( \(average\))?: \d+ns/g, 'duration$1: Nns').replace(/"duration": ?\d+/g, '"duration":N'),
  stderr: o.stderr,
});

const bpfkit = (args: string[], stdin?: Uint8Array): Promise<Outcome> => runCliCaptured(args, stdin);

function bpftool(args: string[], stdin?: Uint8Array): Outcome {
  const r = spawnSync('bpftool', args, { input: stdin, encoding: 'utf8' });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

test('prog run: bpfkit prints and fails exactly as bpftool does', async (t) => {
  const why = missingKernel();
  if (why) { t.skip(why); return; }
  const dir = mkdtempSync(join(tmpdir(), 'bpfkit-run-'));
  const pins: string[] = [];
  try {
    const f = (name: string, bytes: Uint8Array): string => { const p = join(dir, name); writeFileSync(p, bytes); return p; };
    const udp = path('examples/udp.bin');
    const p20 = f('p20.bin', Uint8Array.from({ length: 20 }, (_, i) => i));
    const p13 = f('p13.bin', new Uint8Array(13));
    const big = f('big.bin', Uint8Array.from({ length: 5000 }, (_, i) => (i * 7) & 0xff));
    const md = (words: number[], extra = 0): Uint8Array => {
      const b = new Uint8Array(24 + extra);
      words.forEach((w, i) => new DataView(b.buffer).setUint32(4 * i, w, true));
      if (extra) b[24 + extra - 1] = 1;
      return b;
    };
    const ctxMeta = f('ctx_meta.bin', md([4, 20, 0, 0, 0, 0]));
    const ctxLo = f('ctx_lo.bin', md([0, 20, 0, 1, 0, 0]));
    const ctxTail = f('ctx_tail.bin', md([0, 20, 0, 0, 0, 0], 8));
    const ctxEgress = f('ctx_egress.bin', md([0, 20, 0, 0, 0, 5]));
    const ctxBadEnd = f('ctx_badend.bin', md([0, 19, 0, 0, 0, 0]));
    const ctxQueue = f('ctx_queue.bin', md([0, 20, 0, 0, 3, 0]));
    const p300 = f('p300.bin', Uint8Array.from({ length: 300 }, (_, i) => i & 0xff));
    const ctxMeta216 = f('ctx_m216.bin', md([216, 300, 0, 0, 0, 0]));
    const ctxMeta220 = f('ctx_m220.bin', md([220, 300, 0, 0, 0, 0]));
    const ctxMeta2 = f('ctx_m2.bin', md([2, 300, 0, 0, 0, 0]));
    const ctxShortEnd = f('ctx_short.bin', md([8, 10, 0, 0, 0, 0]));
    const ctxMeta8 = f('ctx_m8.bin', md([8, 20, 0, 0, 0, 0]));

    const objects = ['test/fixtures/xdp_meta.o', 'test/fixtures/xdp_ctx.o', 'examples/xdp_udp_drop.o'];
    const pinOf: Record<string, string> = {};
    for (const o of objects) {
      const pin = `/sys/fs/bpf/bpfkit_run_${process.pid}_${pins.length}`;
      const r = spawnSync('bpftool', ['prog', 'load', path(o), pin], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      pins.push(pin);
      pinOf[o] = pin;
    }

    const cases: [string, string[], Uint8Array?][] = [
      ['examples/xdp_udp_drop.o', ['data_in', udp]],
      ['examples/xdp_udp_drop.o', ['data_in', path('examples/udp_dns.bin'), 'repeat', '3']],
      ['examples/xdp_udp_drop.o', ['data_in', udp, 'repeat', '0']],
      ['examples/xdp_udp_drop.o', ['data_in', udp, 'repeat', '1']],
      ['examples/xdp_udp_drop.o', ['data_in', udp, 'data_out', '-']],
      ['examples/xdp_udp_drop.o', ['-j', 'data_in', udp, 'data_out', '-']],
      ['examples/xdp_udp_drop.o', ['-p', 'data_in', udp]],
      ['examples/xdp_udp_drop.o', ['data_in', '-', 'data_out', '-'], readFileSync(udp)],
      ['examples/xdp_udp_drop.o', ['data_i', udp, 'data_o', '-', 'data_s', '0x100', 'rep', '010']],
      ['examples/xdp_udp_drop.o', ['data_in', udp, 'data_out', '-', 'data_size_out', '10']],
      ['examples/xdp_udp_drop.o', ['-j', 'data_in', udp, 'data_size_out', '10']],
      ['examples/xdp_udp_drop.o', ['repeat', '1', 'data_out', '-']],
      ['examples/xdp_udp_drop.o', ['data_in', path('no/such/file')]],
      ['examples/xdp_udp_drop.o', ['data_in', udp, 'bogus', '1']],
      ['examples/xdp_udp_drop.o', ['d', udp]],
      ['examples/xdp_udp_drop.o', ['data_in', udp, 'c', '1']],
      ['examples/xdp_udp_drop.o', ['data_in', udp, 'repeat', 'x']],
      ['examples/xdp_udp_drop.o', ['data_in', udp, 'repeat']],
      ['examples/xdp_udp_drop.o', ['data_in', '-', 'ctx_in', '-']],
      ['examples/xdp_udp_drop.o', []],
      ['test/fixtures/xdp_meta.o', ['data_in', p20, 'data_out', '-', 'repeat', '5']],
      ['test/fixtures/xdp_meta.o', ['data_in', p20, 'ctx_in', ctxMeta, 'ctx_out', '-', 'data_out', '-']],
      ['test/fixtures/xdp_meta.o', ['-j', 'data_in', p20, 'ctx_in', ctxMeta, 'ctx_out', '-', 'data_out', '-']],
      ['test/fixtures/xdp_meta.o', ['data_in', p20, 'ctx_in', ctxMeta, 'ctx_out', '-', 'ctx_size_out', '8']],
      ['test/fixtures/xdp_ctx.o', ['data_in', p20, 'ctx_in', ctxLo, 'ctx_out', '-']],
      ['test/fixtures/xdp_ctx.o', ['data_in', p20, 'ctx_in', ctxTail]],
      ['test/fixtures/xdp_ctx.o', ['data_in', p20, 'ctx_in', ctxEgress]],
      ['test/fixtures/xdp_ctx.o', ['data_in', p20, 'ctx_in', ctxBadEnd]],
      ['test/fixtures/xdp_ctx.o', ['data_in', p20, 'ctx_in', ctxQueue]],
      ['test/fixtures/xdp_ctx.o', ['data_in', big, 'data_out', '-']],
      ['test/fixtures/xdp_meta.o', ['data_in', p300, 'ctx_in', ctxMeta216, 'data_out', '-', 'ctx_out', '-']],
      ['test/fixtures/xdp_meta.o', ['data_in', p300, 'ctx_in', ctxMeta220]],
      ['test/fixtures/xdp_meta.o', ['data_in', p300, 'ctx_in', ctxMeta2]],
      ['test/fixtures/xdp_meta.o', ['data_in', p300, 'ctx_in', ctxShortEnd, 'data_out', '-', 'ctx_out', '-']],
      ['test/fixtures/xdp_meta.o', ['data_in', p20, 'ctx_in', ctxMeta8]],
      ['test/fixtures/xdp_ctx.o', ['data_in', p300, 'ctx_in', ctxShortEnd]],
      ['test/fixtures/xdp_ctx.o', ['data_in', p13]],
    ];
    const failures: string[] = [];
    for (const [obj, words, stdin] of cases) {
      const opts = words.filter((w) => w === '-j' || w === '-p');
      const rest = words.filter((w) => w !== '-j' && w !== '-p');
      const theirs = normalize(bpftool([...opts, 'prog', 'run', 'pinned', pinOf[obj], ...rest], stdin));
      const ours = normalize(await bpfkit([...opts, 'prog', 'run', 'file', path(obj), ...rest], stdin));
      try {
        assert.deepEqual(ours, theirs);
      } catch {
        failures.push(`${obj} ${words.join(' ')}:\n  bpftool ${JSON.stringify(theirs)}\n  bpfkit  ${JSON.stringify(ours)}`);
      }
    }
    // data_out to a file: the same bytes.
    const outK = join(dir, 'k.bin');
    const outB = join(dir, 'b.bin');
    bpftool(['prog', 'run', 'pinned', pinOf['test/fixtures/xdp_meta.o'], 'data_in', big, 'data_out', outK]);
    await bpfkit(['prog', 'run', 'file', path('test/fixtures/xdp_meta.o'), 'data_in', big, 'data_out', outB]);
    assert.deepEqual(readFileSync(outB), readFileSync(outK));
    assert.deepEqual(failures, []);
  } finally {
    for (const p of pins) rmSync(p, { force: true });
    rmSync(dir, { recursive: true, force: true });
  }
});

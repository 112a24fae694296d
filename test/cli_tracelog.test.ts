/*
 * `prog tracelog`: bpf_trace_printk output of `prog run` is kept in the state store (BPFKIT_STATE)
 * and a later process prints it in trace_pipe's line format; `prog run -d` also prints it on stderr.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = (rel: string): string => fileURLToPath(new URL(`../../${rel}`, import.meta.url));
const LINE = /^ {10}bpfkit-(\d+) *\[000\] d\.s1 +(\d+)\.(\d{6}): bpf_trace_printk: hello from xdp 42$/;

function bpfkit(state: string, args: string[]): { stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [repo('bin/bpfkit.js'), ...args], { env: { ...process.env, BPFKIT_STATE: state }, encoding: 'utf8' });
  assert.equal(r.status, 0, `bpfkit ${args.join(' ')}: ${r.stderr}`);
  return { stdout: r.stdout, stderr: r.stderr };
}

test('prog tracelog shows the bpf_trace_printk lines of earlier prog run processes', () => {
  const state = mkdtempSync(join(tmpdir(), 'bpfkit-tracelog-'));
  try {
    const pkt = join(state, 'pkt');
    writeFileSync(pkt, new Uint8Array(64));
    const run = ['prog', 'run', 'file', repo('test/fixtures/trace_printk.o'), 'data_in', pkt];
    assert.equal(bpfkit(state, ['prog', 'tracelog']).stdout, '');
    const first = bpfkit(state, run);
    assert.equal(first.stderr, '');
    assert.match(first.stdout, /^Return value: 2, duration/);
    const debug = bpfkit(state, ['-d', ...run]);
    // -d also reports the JIT's compile figures; the trace line is among the lines.
    assert.equal(debug.stderr.split('\n').filter((l) => LINE.test(l)).length, 1, debug.stderr);
    const lines = bpfkit(state, ['prog', 'tracelog']).stdout.split('\n').filter((l) => l);
    assert.equal(lines.length, 2, lines.join('\n'));
    const parsed = lines.map((l) => LINE.exec(l));
    assert.ok(parsed.every((m) => m), lines.join('\n'));
    assert.notEqual(parsed[0]![1], parsed[1]![1], 'two processes, two pids');
    const t = parsed.map((m) => Number(m![2]) * 1e6 + Number(m![3]));
    assert.ok(t[0] <= t[1], 'in time order');
    assert.ok(debug.stderr.split('\n').includes(lines[1]), 'the -d run printed the line tracelog keeps');
    // Reading consumes, as trace_pipe does.
    assert.equal(bpfkit(state, ['prog', 'tracelog']).stdout, '');
    bpfkit(state, run);
    assert.deepEqual((JSON.parse(bpfkit(state, ['-j', 'prog', 'tracelog']).stdout) as string[]).map((l) => LINE.test(l)), [true]);
  } finally {
    rmSync(state, { recursive: true, force: true });
  }
});

test('the trace buffer under concurrent writers and a reader: every line read exactly once', async () => {
  const state = mkdtempSync(join(tmpdir(), 'bpfkit-tracelog-race-'));
  try {
    const { spawn } = await import('node:child_process');
    const { drainTrace } = await import('../src/cli/trace_buffer.js');
    const mod = repo('dist/src/cli/trace_buffer.js');
    const env = { ...process.env, BPFKIT_STATE: state };
    process.env.BPFKIT_STATE = state;
    const WRITERS = 3, LINES = 150;
    const writers = Array.from({ length: WRITERS }, (_, w) => new Promise<number | null>((resolve) => {
      const script = `const { appendTrace } = await import(${JSON.stringify(mod)}); for (let i = 0; i < ${LINES}; i++) appendTrace('w${w} line ' + i + '\\n');`;
      spawn(process.execPath, ['--input-type=module', '-e', script], { env, stdio: 'inherit' }).on('exit', resolve);
    }));
    let read = '';
    let done = false;
    const all = Promise.all(writers).then((codes) => { done = true; return codes; });
    while (!done) { read += drainTrace(); await new Promise((r) => setTimeout(r, 2)); }
    assert.deepEqual(await all, Array(WRITERS).fill(0));
    read += drainTrace();
    const lines = read.split('\n').filter((l) => l);
    assert.equal(lines.length, WRITERS * LINES);
    assert.equal(new Set(lines).size, WRITERS * LINES);
  } finally {
    delete process.env.BPFKIT_STATE;
    rmSync(state, { recursive: true, force: true });
  }
});

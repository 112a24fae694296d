/*
 * `bpfkit prog run` without a kernel: output formats, files, options and bpftool's error words.
 * (test/kernel_prog_run.test.ts checks the same against bpftool where the kernel is available.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCliCaptured, type CapturedRun } from '../src/cli/main.js';
import { hexPrint, parseRunArgs } from '../src/cli/prog.js';
import { TestRunError, testRunXdp, xdpSectionKind } from '../src/progtypes/xdp.js';
import { makeInsn } from '../src/isa/insn.js';

const root = new URL('../../', import.meta.url);
const path = (name: string): string => new URL(name, root).pathname;
const example = path('examples/xdp_udp_drop.o');
const udp = path('examples/udp.bin');
const dns = path('examples/udp_dns.bin');

const cli = (args: string[], stdin = new Uint8Array(0)): Promise<CapturedRun> => runCliCaptured(args, stdin);

const tmp = mkdtempSync(join(tmpdir(), 'bpfkit-cli-prog-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

test('the README command: the example drops UDP to port 9 and passes port 53', async () => {
  const drop = await cli(['prog', 'run', 'file', example, 'data_in', udp]);
  assert.equal(drop.status, 0);
  assert.match(drop.stdout, /^Return value: 1, duration: \d+ns\n$/);
  assert.equal(drop.stderr, '');
  const pass = await cli(['prog', 'run', 'file', example, 'data_in', dns]);
  assert.match(pass.stdout, /^Return value: 2, duration: \d+ns\n$/);
});

test('" (average)" only when repeat > 1, as bpftool', async () => {
  assert.match((await cli(['prog', 'run', 'file', example, 'data_in', udp, 'repeat', '0'])).stdout, /^Return value: 1, duration: \d+ns\n$/);
  assert.match((await cli(['prog', 'run', 'file', example, 'data_in', udp, 'repeat', '1'])).stdout, /^Return value: 1, duration: \d+ns\n$/);
  assert.match((await cli(['prog', 'run', 'file', example, 'data_in', udp, 'repeat', '0x3'])).stdout, /^Return value: 1, duration \(average\): \d+ns\n$/);
});

test('-j and -p print retval and duration (and data_out for "-")', async () => {
  const j = await cli(['-j', 'prog', 'run', 'file', example, 'data_in', udp]);
  assert.match(j.stdout, /^\{"retval":1,"duration":\d+\}\n$/);
  const p = await cli(['-p', 'prog', 'run', 'file', example, 'data_in', udp]);
  assert.match(p.stdout, /^\{\n {4}"retval": 1,\n {4}"duration": \d+\n\}\n$/);
  const d = await cli(['-j', 'prog', 'run', 'file', example, 'data_in', udp, 'data_out', '-']);
  const parsed = JSON.parse(d.stdout) as { data_out: number[]; retval: number };
  assert.deepEqual(Object.keys(parsed), ['data_out', 'retval', 'duration']);
  assert.deepEqual(parsed.data_out, Array.from(readFileSync(udp)));
});

test('data_out: to a file, as a hex dump, from standard input', async () => {
  const out = join(tmp, 'out.bin');
  assert.equal((await cli(['prog', 'run', 'file', example, 'data_in', udp, 'data_out', out])).status, 0);
  assert.deepEqual(readFileSync(out), readFileSync(udp));
  const hex = await cli(['prog', 'run', 'file', example, 'data_in', '-', 'data_out', '-'], new Uint8Array(readFileSync(dns)));
  assert.equal(hex.stdout.split('\n').slice(0, -2).join('\n') + '\n', hexPrint(readFileSync(dns)));
  assert.match(hex.stdout, /Return value: 2, duration: \d+ns\n$/);
});

test("hexPrint is bpftool's hex_print()", () => {
  const bytes = new Uint8Array([0x00, 0x01, 0x41, 0x42, 0x7e, 0x7f, 0x20, 0x61, 0x62, 0x63, 0xff, 0x0a, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36]);
  assert.equal(hexPrint(bytes),
    '0000000\t0001 4142 7e7f 2061 6263 ff0a 3031 3233 | ..AB~. a bc..0123\n' +
    '0000010\t3435 36                                 | 456\n');
  assert.equal(hexPrint(bytes.subarray(0, 8)), '0000000\t0001 4142 7e7f 2061                     | ..AB~. a \n');
});

test('ctx_in with metadata, ctx_out, and repeats that keep changing the packet', async () => {
  const meta = path('test/fixtures/xdp_meta.o');
  const p20 = join(tmp, 'p20.bin');
  writeFileSync(p20, Uint8Array.from({ length: 20 }, (_, i) => i));
  const ctx = join(tmp, 'ctx.bin');
  const md = new Uint8Array(24);
  new DataView(md.buffer).setUint32(0, 4, true);
  new DataView(md.buffer).setUint32(4, 20, true);
  writeFileSync(ctx, md);
  const r = await cli(['prog', 'run', 'file', meta, 'data_in', p20, 'ctx_in', ctx, 'ctx_out', '-', 'data_out', '-']);
  assert.equal(r.stdout.replace(/\d+ns/, 'Nns'), [
    '0000000\t0001 0203 0505 0607 0809 0a0b 0c0d 0e0f | ........ ........',
    '0000010\t1011 1213                               | ....',
    '0000000\t0400 0000 1400 0000 0000 0000 0000 0000 | ........ ........',
    '0000010\t0000 0000 0000 0000                     | ........ ',
    'Return value: 4294967292, duration: Nns', '',
  ].join('\n'));
  const rep = await cli(['-j', 'prog', 'run', 'file', meta, 'data_in', p20, 'data_out', '-', 'repeat', '5']);
  assert.equal((JSON.parse(rep.stdout) as { data_out: number[] }).data_out[0], 5);
});

test('packets beyond the linear part go to fragments the program cannot see', async () => {
  const big = join(tmp, 'big.bin');
  writeFileSync(big, new Uint8Array(5000).fill(7));
  const r = await cli(['-j', 'prog', 'run', 'file', path('test/fixtures/xdp_ctx.o'), 'data_in', big, 'data_out', '-']);
  const j = JSON.parse(r.stdout) as { retval: number; data_out: number[] };
  assert.equal(j.retval, (1 << 16) | 3520); // loopback ifindex 1, PAGE_SIZE - 256 - 320 linear bytes
  assert.equal(j.data_out.length, 5000);
});

test('prefixes as bpftool: data_i, data_o, rep; file, sec and name pick the program', async () => {
  const r = await cli(['prog', 'r', 'file', path('test/fixtures/calls.o'), 'sec', 'xdp.frags', 'data_i', udp, 'rep', '2']);
  assert.match(r.stdout, /^Return value: 90, duration \(average\): \d+ns\n$/);
  const b = await cli(['prog', 'run', 'file', path('test/fixtures/calls.o'), 'name', 'prog_b', 'data_in', udp]);
  assert.match(b.stdout, /^Return value: 73,/);
  assert.equal(parseRunArgs(['file', 'x.o', 'data_in', 'p', 'data_size_out', '010', 'repeat', '0x10']).dataSizeOut, 8);
  assert.equal(parseRunArgs(['file', 'x.o', 'data_in', 'p', 'engine', 'interp']).engine, 'interp');
});

/** Every failure: exactly one `Error: ` line on stderr, nothing on stdout, non-zero status. */
const errors: [string, string[], string, number][] = [
  ['too few words', ['prog', 'run', 'file', example, 'data_in'], "'run' needs at least 4 arguments, 3 found", 255],
  ['no data_in', ['prog', 'run', 'file', example, 'repeat', '2'], 'failed to run program: Invalid argument', 234],
  ['short packet', ['prog', 'run', 'file', example, 'data_in', path('test/fixtures/calls.s'), 'data_size_out', '1'],
    'failed to run program: No space left on device', 228],
  ['missing data_in file', ['prog', 'run', 'file', example, 'data_in', '/no/such/packet'], 'failed to open /no/such/packet: No such file or directory', 255],
  ['missing object', ['prog', 'run', 'file', '/no/such.o', 'data_in', udp], 'failed to open object file /no/such.o: No such file or directory', 255],
  ['unknown keyword', ['prog', 'run', 'file', example, 'data_in', udp, 'bogus', '1'],
    "expected no more arguments, 'data_in', 'data_out', 'data_size_out', 'ctx_in', 'ctx_out', 'ctx_size_out' or 'repeat', got: 'bogus'?", 255],
  ['ambiguous prefix', ['prog', 'run', 'file', example, 'd', udp], "ambiguous prefix: 'd' could be 'data_in' or 'data_out' or 'data_size_out'", 255],
  ['bad repeat', ['prog', 'run', 'file', example, 'data_in', udp, 'repeat', '12x'], "can't parse 12x as repeat number", 255],
  ['bad size', ['prog', 'run', 'file', example, 'data_in', udp, 'data_size_out', '-'], "can't parse - as output data size", 255],
  ['missing value', ['prog', 'run', 'file', example, 'data_in', udp, 'repeat'], "'repeat' needs at least 1 arguments, 0 found", 255],
  ['stdin twice', ['prog', 'run', 'file', example, 'data_in', '-', 'ctx_in', '-'], 'cannot use standard input for both data_in and ctx_in', 255],
  ['bad PROG', ['prog', 'run', 'foo', '1', 'data_in', udp], "expected 'id', 'tag', 'name', 'pinned', 'file', 'bytecode' or 'bytecode-file', got: 'foo'?", 255],
  ['bad engine', ['prog', 'run', 'file', example, 'data_in', udp, 'engine', 'fast'], "expected 'interp' or 'jit' after 'engine', got: 'fast'?", 255],
  ['no such section', ['prog', 'run', 'file', example, 'sec', 'tc', 'data_in', udp], `${example}: no program in section 'tc' (programs: xdp_udp_drop (xdp))`, 255],
  ['bad magic', ['prog', 'run', 'file', path('test/fixtures/calls.s'), 'data_in', udp], `${path('test/fixtures/calls.s')}: not an ELF file (bad magic)`, 255],
  // Refused at load by the verifier, as the kernel does (check_cfg()); the engines' own runtime
  // checks for unverified programs are covered by the vm tests.
  ['jump out of range', ['prog', 'run', 'file', path('test/fixtures/bad_jump.o'), 'data_in', udp], "prog 'bad_jump': the verifier rejected the program: jump out of range from insn 1 to 102", 255],
  ['out-of-bounds load', ['prog', 'run', 'file', path('test/fixtures/oob_load.o'), 'data_in', udp], '', 255],
  ['endless loop', ['prog', 'run', 'file', path('test/fixtures/endless.o'), 'data_in', udp], "prog 'endless': the verifier rejected the program: unreachable insn 3", 255],
  ['unknown prog command', ['prog', 'frobnicate'], "unknown command 'frobnicate' for 'prog' (try 'bpfkit prog help')", 255],
];

for (const [what, args, message, status] of errors) {
  test(`error: ${what}`, async () => {
    const r = await cli(args);
    assert.equal(r.status, status);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^Error: [^\n]+\n$/);
    if (message) assert.equal(r.stderr, `Error: ${message}\n`);
  });
}

test('-j errors are {"error": ...} on stdout', async () => {
  const r = await cli(['-j', 'prog', 'run', 'file', example, 'data_in', udp, 'data_size_out', '4']);
  assert.equal(r.status, 228);
  assert.equal(r.stdout, '{"error":"failed to run program: No space left on device"}\n');
  assert.equal(r.stderr, '');
});

test('program types by section name: xdp runs, devmap/cpumap are EINVAL, others not yet', async () => {
  assert.equal(xdpSectionKind('xdp'), 'xdp');
  assert.equal(xdpSectionKind('xdp.frags'), 'xdp');
  assert.equal(xdpSectionKind('xdp/anything'), 'xdp');
  assert.equal(xdpSectionKind('xdp/devmap'), 'devmap');
  assert.equal(xdpSectionKind('xdp.frags/cpumap'), 'cpumap');
  assert.equal(xdpSectionKind('xdp_devmap/x'), 'devmap');
  assert.equal(xdpSectionKind('tc'), undefined);
  assert.equal(xdpSectionKind('xdpfoo'), undefined);
  const insns = [makeInsn(0xb7, 0, 0, 0, 2), makeInsn(0x95)];
  const dataIn = new Uint8Array(64);
  await assert.rejects(testRunXdp({ insns, section: 'xdp/devmap', dataIn, dataSizeOut: 0, repeat: 1, engine: 'interp' }),
    (e: unknown) => e instanceof TestRunError && e.code === 'EINVAL');
  await assert.rejects(testRunXdp({ insns, section: 'tc', dataIn, dataSizeOut: 0, repeat: 1, engine: 'interp' }),
    /program type of section 'tc' is not supported yet \(only xdp programs can run\)/);
  for (const engine of ['interp', 'jit'] as const) {
    const ok = await testRunXdp({ insns, section: 'xdp', dataIn, dataSizeOut: 0, repeat: 1, engine });
    assert.equal(ok.retval, 2, engine);
    assert.deepEqual(ok.dataOut, dataIn, engine);
  }
});

test('prog run file OBJ: objects with global data load (kernel/load.ts) and run', async () => {
  const r = await cli(['prog', 'run', 'file', path('test/fixtures/global_data.o'), 'data_in', udp]);
  assert.match(r.stdout, /^Return value: 2, duration: \d+ns\n$/);
});

test('-d shows the verifier log of a rejected program', async () => {
  const r = await cli(['-d', 'prog', 'run', 'file', path('test/fixtures/bad_jump.o'), 'data_in', udp]);
  assert.equal(r.status, 255);
  assert.match(r.stderr, /-- BEGIN PROG LOAD LOG --\njump out of range from insn 1 to 102\n[^]*-- END PROG LOAD LOG --\nError: prog 'bad_jump'/);
});

/*
 * `bpfkit map|prog ...` as separate processes over one temporary BPFKIT_STATE: what one command
 * creates and pins, the next one finds by path, id or name, with stable ids.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const BIN = new URL('../../bin/bpfkit.js', import.meta.url).pathname;
const root = new URL('../../', import.meta.url).pathname;

function cli(state: string, line: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...line.split(' ')], {
    encoding: 'utf8', cwd: root, env: { ...process.env, BPFKIT_STATE: state, BPFKIT_NR_CPUS: '2' },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('maps live across processes in the pin store, with stable ids', () => {
  const state = mkdtempSync(join(tmpdir(), 'bpfkit-cli-'));
  try {
    assert.equal(cli(state, 'map create /sys/fs/bpf/a type hash key 4 value 4 entries 8 name first').status, 0);
    assert.equal(cli(state, 'map create /sys/fs/bpf/dir/b type array key 4 value 4 entries 2 name second').status, 0);
    assert.equal(cli(state, 'map update pinned /sys/fs/bpf/a key 1 0 0 0 value 2 0 0 0').status, 0);
    assert.equal(cli(state, 'map update id 2 key 1 0 0 0 value 3 0 0 0').status, 0);
    assert.equal(cli(state, 'map update name first key 5 0 0 0 value 6 0 0 0 noexist').status, 0);
    assert.deepEqual(cli(state, 'map lookup id 1 key 5 0 0 0'), { status: 0, stdout: 'key: 05 00 00 00  value: 06 00 00 00\n', stderr: '' });
    assert.equal(cli(state, 'map dump pinned /sys/fs/bpf/dir/b').stdout,
      'key: 00 00 00 00  value: 00 00 00 00\nkey: 01 00 00 00  value: 03 00 00 00\nFound 2 elements\n');
    const show = cli(state, 'map show').stdout;
    assert.match(show, /^1: hash  name first  flags 0x0\n\tkey 4B  value 4B  max_entries 8  memlock \d+B\n2: array  name second  flags 0x0\n/);
    assert.equal(cli(state, 'map pin id 1 /sys/fs/bpf/a2').status, 0);
    assert.equal(cli(state, 'map create /sys/fs/bpf/c type queue key 0 value 4 entries 2 name third').status, 0);
    assert.match(cli(state, 'map show pinned /sys/fs/bpf/c').stdout, /^3: queue  name third/);
    assert.equal(cli(state, 'map show pinned /sys/fs/bpf/a2').stdout, cli(state, 'map show id 1').stdout);
    const bad = cli(state, 'map show pinned /tmp/elsewhere');
    assert.deepEqual(bad, { status: 255, stdout: '', stderr: 'Error: bpf obj get (/tmp/elsewhere): No such file or directory\n' });
    assert.deepEqual(cli(state, 'map show pinned /sys/fs/bpf/dir'), { status: 255, stdout: '', stderr: 'Error: bpf obj get (/sys/fs/bpf): Permission denied\n' });
    assert.deepEqual(cli(state, 'map show pinned /sys/fs/bpf'), { status: 255, stdout: '', stderr: 'Error: bpf obj get (/sys/fs): directory not in bpf file system (bpffs)\n' });
  } finally {
    rmSync(state, { recursive: true, force: true });
  }
});

test('programs: prog load, show, pin and run by pinned path, id, name and tag', () => {
  const state = mkdtempSync(join(tmpdir(), 'bpfkit-cli-'));
  try {
    assert.deepEqual(cli(state, 'prog load examples/xdp_udp_drop.o /sys/fs/bpf/drop'), { status: 0, stdout: '', stderr: '' });
    const show = cli(state, 'prog show pinned /sys/fs/bpf/drop');
    assert.match(show.stdout, /^1: xdp {2}name xdp_udp_drop {2}tag [0-9a-f]{16} {2}gpl\n\tloaded_at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4} {2}uid \d+\n\txlated \d+B {2}not jited {2}memlock 4096B\n\tbtf_id 1\n$/); // BTF of the object (clang -g), as bpftool shows
    const tag = /tag ([0-9a-f]{16})/.exec(show.stdout)![1];
    const json = JSON.parse(cli(state, '-j prog show').stdout) as { id: number; tag: string; gpl_compatible: boolean }[];
    assert.deepEqual(json.map((p) => [p.id, p.tag, p.gpl_compatible]), [[1, tag, true]]);
    assert.equal(cli(state, 'prog pin id 1 /sys/fs/bpf/drop2').status, 0);
    assert.deepEqual(cli(state, 'prog pin id 1 /sys/fs/bpf/drop2'), { status: 239, stdout: '', stderr: "Error: can't pin the object (/sys/fs/bpf/drop2): File exists\n" });
    for (const handle of ['pinned /sys/fs/bpf/drop2', 'id 1', 'name xdp_udp_drop', `tag ${tag}`]) {
      const r = cli(state, `prog run ${handle} data_in examples/udp.bin`);
      assert.match(r.stdout, /^Return value: 1, duration: \d+ns\n$/, handle);
    }
    assert.deepEqual(cli(state, 'prog show id 7'), { status: 255, stdout: '', stderr: 'Error: get by id (7): No such file or directory\n' });
    assert.deepEqual(cli(state, 'map show pinned /sys/fs/bpf/drop'), { status: 255, stdout: '', stderr: 'Error: incorrect object type: prog\n' });
    assert.deepEqual(cli(state, 'prog show pinned /sys/fs/bpf/none'), { status: 255, stdout: '', stderr: 'Error: bpf obj get (/sys/fs/bpf/none): No such file or directory\n' });
  } finally {
    rmSync(state, { recursive: true, force: true });
  }
});

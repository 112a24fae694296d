/*
 * `bpfkit bpffs ls|rm`: the pin store seen as bpffs across processes; rm unlinks a pin and the
 * object goes with its last pin, as unlink(2) on /sys/fs/bpf does.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/bpfkit.js', import.meta.url));

test('bpffs ls lists pins by path, rm removes them and frees what nothing else holds', () => {
  const state = mkdtempSync(join(tmpdir(), 'bpfkit-bpffs-'));
  const run = (...args: string[]) => {
    const r = spawnSync(process.execPath, [BIN, ...args], { env: { ...process.env, BPFKIT_STATE: state }, encoding: 'utf8' });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  try {
    assert.equal(run('map', 'create', '/sys/fs/bpf/m1', 'type', 'hash', 'key', '4', 'value', '4', 'entries', '4', 'name', 'm1').status, 0);
    assert.equal(run('map', 'create', '/sys/fs/bpf/d/m2', 'type', 'array', 'key', '4', 'value', '4', 'entries', '4', 'name', 'm2').status, 0);
    assert.equal(run('map', 'pin', 'pinned', '/sys/fs/bpf/d/m2', '/sys/fs/bpf/d/again').status, 0);
    assert.equal(run('bpffs', 'ls').stdout, '/sys/fs/bpf/d/again\tmap id 2\n/sys/fs/bpf/d/m2\tmap id 2\n/sys/fs/bpf/m1\tmap id 1\n');
    assert.equal(run('-j', 'bpffs', 'ls', '/sys/fs/bpf/d/m2').stdout, '[{"path":"/sys/fs/bpf/d/m2","kind":"map","id":2}]\n');
    const rm = run('bpffs', 'rm', '/sys/fs/bpf/m1', '/sys/fs/bpf/nope', '/sys/fs/bpf/d/m2');
    assert.equal(rm.status, 1);
    assert.equal(rm.stderr, "rm: cannot remove '/sys/fs/bpf/nope': No such file or directory\n");
    assert.equal(run('bpffs', 'ls').stdout, '/sys/fs/bpf/d/again\tmap id 2\n');
    // m1 had only its pin: gone. m2 lives on through its second pin.
    assert.equal(run('map', 'show', 'id', '1').status, 255);
    assert.match(run('map', 'show', 'id', '2').stdout, /^2: array {2}name m2/);
    const ls = run('bpffs', 'ls', '/sys/fs/bpf/m1');
    assert.equal(ls.status, 2);
    assert.match(ls.stderr, /cannot access/);
  } finally {
    rmSync(state, { recursive: true, force: true });
  }
});

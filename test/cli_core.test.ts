/*
 * CO-RE through the command line: the Node entry point relocates against the host kernel's BTF
 * (or BPFKIT_BTF), and says which file it could not read.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { accessSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const obj = join(root, 'test/fixtures/btf/btf_core_ldx.o');

function bpfkit(args: string[], env: Record<string, string>): { status: number | null; stdout: string; stderr: string } {
  const state = mkdtempSync(join(tmpdir(), 'bpfkit-core-'));
  try {
    return spawnSync(process.execPath, [join(root, 'bin/bpfkit.js'), ...args], {
      encoding: 'utf8', env: { ...process.env, BPFKIT_STATE: state, ...env },
    });
  } finally {
    rmSync(state, { recursive: true, force: true });
  }
}

test('an object with CO-RE relocations loads against the host kernel BTF', (t) => {
  try {
    accessSync('/sys/kernel/btf/vmlinux');
  } catch {
    t.skip('no readable /sys/kernel/btf/vmlinux on this machine');
    return;
  }
  const r = bpfkit(['prog', 'loadall', obj, '/sys/fs/bpf/core'], {});
  assert.equal(r.status, 0, r.stderr);
});

test('an unreadable target BTF is named in the error', () => {
  const r = bpfkit(['prog', 'loadall', obj, '/sys/fs/bpf/core'], { BPFKIT_BTF: '/nonexistent/vmlinux' });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /cannot read target BTF \/nonexistent\/vmlinux/);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
});

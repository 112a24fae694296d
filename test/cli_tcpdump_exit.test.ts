/*
 * `bpfkit tcpdump` exits with process.exit() once its work is done (node_tcpdump.ts), except when
 * its output went through a stream: printing to a non-blocking pipe whose reader is slow (the
 * pipe fills, write(2) says EAGAIN, the rest goes through process.stdout) must still deliver
 * every line, and the exit status must be the command's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writePcap } from '../src/net/pcap.js';
import { makeTraffic } from './filter_traffic.js';

const BIN = fileURLToPath(new URL('../../bin/bpfkit.js', import.meta.url));

function exited(child: ReturnType<typeof spawn>): Promise<number | null> {
  return new Promise((resolve, reject) => { child.on('error', reject); child.on('close', (code) => resolve(code)); });
}

test('printing into a full non-blocking pipe: every line arrives, exit status kept', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bpfkit-exit-'));
  try {
    const capture = join(dir, 'in.pcap');
    writeFileSync(capture, writePcap({ linktype: 1, snaplen: 262144 }, makeTraffic(30000, 5)));
    for (const noBundle of ['1', '']) {
      const env = { ...process.env, BPFKIT_NO_BUNDLE: noBundle };
      const args = [BIN, 'tcpdump', '-r', capture, 'ip or ip6 or arp'];
      const want = spawnSync(process.execPath, args, { encoding: 'latin1', env, maxBuffer: 1 << 26 });
      assert.equal(want.status, 0, want.stderr);
      assert.ok(want.stdout.length > 1 << 19, `${want.stdout.length} bytes: more than a pipe or socket holds`);
      // The reader starts late; the write end it hands out is non-blocking (libuv made the
      // parent's end of the reader's stdin so, and the child shares that open file).
      const got = join(dir, 'got.txt');
      const reader = spawn('sh', ['-c', `sleep 0.5; cat > '${got}'`], { stdio: ['pipe', 'ignore', 'inherit'] });
      const writer = spawn(process.execPath, args, { stdio: ['ignore', reader.stdin!, 'pipe'], env });
      const done = [exited(writer), exited(reader)];
      reader.stdin!.destroy();
      let stderr = '';
      writer.stderr!.on('data', (c: Buffer) => { stderr += c.toString('latin1'); });
      assert.equal(await done[0], 0, stderr);
      assert.equal(await done[1], 0);
      assert.equal(readFileSync(got, 'latin1'), want.stdout, `BPFKIT_NO_BUNDLE=${noBundle}: all lines`);
      assert.equal(stderr, want.stderr);
    }
    // An error's status through the same exit.
    const bad = spawnSync(process.execPath, [BIN, 'tcpdump', '-r', join(dir, 'missing.pcap'), 'ip'], { encoding: 'utf8' });
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /^tcpdump: .*missing\.pcap: No such file or directory\n$/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

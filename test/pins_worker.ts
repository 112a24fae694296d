/*
 * A child process for the pin store tests: works on a pinned map of a folder store through the
 * public API and bpfkit's maps. argv: STATE_DIR MODE [ARGS...]
 *   create PATH            create a hash map (u32 -> u64, 4096 entries) and pin it at PATH
 *   counter PATH           forever: key 0 := i, key (i % 100) + 1 := i  (i = key 0 + 1, + 2, ...)
 *   fill PATH FROM COUNT   keys FROM..FROM+COUNT-1 := key
 */
import { Bpf, Map, u32, u64 } from '../src/api/index.js';
import { openStateStore } from '../src/api/node.js';

const [stateDir, mode, path, ...rest] = process.argv.slice(2);
const bpf = new Bpf({ store: openStateStore(stateDir) });

if (mode === 'create') {
  const m = bpf.createMap({ type: 'hash', keySize: 4, valueSize: 8, maxEntries: 4096, name: 'worker' });
  m.pin(path);
} else if (mode === 'counter') {
  const m = Map.fromPin(path, bpf).as(u32, u64);
  process.stdout.write('ready\n');
  for (let i = Number(m.get(0) ?? 0n) + 1; ; i++) {
    m.set(0, BigInt(i));
    m.set((i % 100) + 1, BigInt(i));
  }
} else if (mode === 'fill') {
  const m = Map.fromPin(path, bpf).as(u32, u64);
  const from = Number(rest[0]);
  const count = Number(rest[1]);
  for (let k = from; k < from + count; k++) m.set(k, BigInt(k));
}
bpf.close();

/*
 * Mutated objects with maps, BTF and BTF.ext: opening (and loading) any of them gives a result or
 * one BpfError with a one-line message — never another exception, a crash or a hang.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import '../src/api/index.js';
import { BpfError } from '../src/errors.js';
import { Bpf } from '../src/kernel/bpf.js';
import { loadObject } from '../src/kernel/load.js';
import { readElf } from '../src/loader/elf.js';
import { openObject } from '../src/loader/object.js';

const root = new URL('../../', import.meta.url);
const fixture = (name: string): Uint8Array => new Uint8Array(readFileSync(new URL(`test/fixtures/loader/${name}`, root)));

function checkOne(bytes: Uint8Array, round: number, load: boolean): boolean {
  try {
    const obj = openObject(bytes, 'fuzz.o');
    if (load) {
      const bpf = new Bpf();
      loadObject(bpf, obj, { pinRoot: '/fuzz', select: (p) => p.progType !== undefined }).close();
      bpf.shutdown();
    }
    return false;
  } catch (err) {
    assert.ok(err instanceof BpfError, `round ${round}: ${(err as Error)?.stack}`);
    assert.ok(!err.message.includes('\n'), err.message);
    return true;
  }
}

test('fuzz: byte mutations focused on .BTF, .BTF.ext, .maps, relocations and symbols', () => {
  let seed = 4242;
  const rand = (n: number): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed >>> 8) % n;
  };
  const sources = ['btf_maps.o', 'legacy_maps.o', 'tc_elf_map.o'].map((name) => {
    const bytes = fixture(name);
    const elf = readElf(bytes, name);
    const regions = elf.sections
      .filter((s) => ['.BTF', '.BTF.ext', '.maps', 'maps', '.symtab', '.relxdp', '.rel.text', '.rel.maps', 'xdp', '.text', '.relclassifier'].includes(s.name))
      .map((s) => [s.offset, s.size] as const);
    return { bytes, regions };
  });
  let rejected = 0;
  const start = performance.now();
  const rounds = 1500;
  for (let round = 0; round < rounds; round++) {
    const src = sources[round % sources.length];
    const b = src.bytes.slice();
    const flips = 1 + rand(6);
    for (let k = 0; k < flips; k++) {
      const [off, size] = src.regions[rand(src.regions.length)];
      const at = off + rand(Math.max(size, 1));
      // Small deltas hit counts and offsets; random bytes hit kinds and ids.
      b[at] = rand(2) ? rand(256) : (b[at] + 1 + rand(3)) & 0xff;
    }
    if (checkOne(b, round, round % 5 === 0)) rejected++;
  }
  assert.ok(rejected > rounds / 10, `only ${rejected} rejected`);
  if (process.env.FUZZ_VERBOSE) console.log(`rejected ${rejected} of ${rounds} in ${Math.round(performance.now() - start)} ms`);
  assert.ok(performance.now() - start < 20000);
});

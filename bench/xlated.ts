/*
 * The cost of the post-verification rewrites (`prog dump xlated`, bytes_xlated), as a ratio to the
 * verification they follow, measured in the same run on the same programs: big.o (1,700+
 * instructions, hash maps, subprograms) and the rewrite-heavy fixtures.
 * Usage: npx tsc -p . && node dist/bench/xlated.js [--rounds N]
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Bpf } from '../src/kernel/bpf.js';
import { loadObjectIntoKernel } from '../src/kernel/load.js';
import { createMap } from '../src/maps/index.js';
import { verifierOps } from '../src/progtypes/index.js';
import { rewriteForXlated } from '../src/verifier/fixups.js';
import { verify } from '../src/verifier/verifier.js';

const repo = (rel: string): string => fileURLToPath(new URL(`../../${rel}`, import.meta.url));
const roundsAt = process.argv.indexOf('--rounds');
const rounds = roundsAt > 0 ? Number(process.argv[roundsAt + 1]) : 20;

const OBJECTS = ['test/fixtures/loader/big.o', 'test/fixtures/progtypes/tc_fields.o', 'test/fixtures/xlated/xdp_maps.o', 'test/fixtures/xlated/skb_fields.o'];

const median = (xs: number[]): number => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];

for (const rel of OBJECTS) {
  const bpf = new Bpf({ createMap });
  const loaded = loadObjectIntoKernel(bpf, new Uint8Array(readFileSync(repo(rel))), rel, {});
  const prog = bpf.progOf(loaded.programs[0].fd);
  const opts = {
    progType: prog.type,
    maps: (idx: number) => {
      const ref = prog.mapRefs.find((r) => r.insn === idx);
      return ref ? prog.maps.find((m) => m.id === ref.mapId)?.map : undefined;
    },
    progOps: verifierOps(prog.type),
  };
  const verifyNs: number[] = [];
  const rewriteNs: number[] = [];
  let xlatedLen = 0;
  for (let r = 0; r < rounds; r++) {
    const t0 = process.hrtime.bigint();
    const result = verify(prog.insns, opts);
    const t1 = process.hrtime.bigint();
    const x = rewriteForXlated(prog.insns, result.aux, { progType: prog.type, stackDepth: result.stats.stackDepth });
    const t2 = process.hrtime.bigint();
    verifyNs.push(Number(t1 - t0));
    rewriteNs.push(Number(t2 - t1));
    xlatedLen = x.insns.length;
  }
  const v = median(verifyNs), w = median(rewriteNs);
  console.log(`${rel}: ${prog.insns.length} -> ${xlatedLen} insns; verify ${(v / 1e6).toFixed(2)} ms, rewrite ${(w / 1e6).toFixed(2)} ms = ${(w / v).toFixed(3)}x of verification (median of ${rounds})`);
  loaded.close();
}

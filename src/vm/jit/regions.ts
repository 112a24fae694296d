/*
 * A large program's entry compiled as a chain of wasm functions ("regions"), each continuing in the
 * next by a call at its end (emit_function.ts, continueAt()): V8's baseline compiler, Liftoff,
 * takes fresh memory per function in proportion to its size (out-of-line trap entries, merge
 * states, safepoints: vectors grown by copying, in a zone freed at the end, which glibc hands back
 * to the system). One 10,000-instruction function faults on ~330 fresh pages more each compile
 * than ten of 1,000 compiled one after the other, whose memory the next reuses. Runs cross a
 * region boundary at most once per pass through straight-line code (no jump crosses one).
 *
 * Where V8 compiles a module's functions on several threads at once (wasm_compile.ts: eager
 * compilation), a program of PARALLEL_SLOTS up to 2 * REGION_SLOTS is cut in two as well, near
 * its middle, so that both halves compile at once: big.o (1,392 instructions) 0.78-0.87x median
 * time per compile against one function, with a quarter of the page faults; at 800 instructions
 * two halves gained nothing (the fixed cost of a function and the wake-up of a second thread).
 */
import { OP_TRAP } from '../decode.js';
import { writesR10 } from './emit_cfg.js';
import { emitter } from './emitter.js';
import { JUMP_OP } from './layout.js';

/** Slots of a region at least (a program under twice this is one function). */
export const REGION_SLOTS = 1000;
/** Slots from which a program is cut in two where functions compile in parallel. */
export const PARALLEL_SLOTS = 1200;

/**
 * Where the entry's function may continue in another (1 per slot), or undefined for none: the
 * start of an instruction that no jump lands on or crosses (so only the instruction before it,
 * which is no jump or exit, falls into it), REGION_SLOTS slots at least after the entry and after
 * the previous cut (with `parallel`, below 2 * REGION_SLOTS: 45% of the program, so that the
 * first cut found is near the middle). None when the program writes r10 anywhere (each function
 * sets r10 to the frame top on entry). (A view of the emitter's scratch: valid until the next
 * compile.)
 */
export function regionCuts(P: Int32Array, entry: number, parallel: boolean): Uint8Array | undefined {
  const nslots = P.length >> 2;
  const span = nslots - entry;
  if (span < (parallel ? PARALLEL_SLOTS : 2 * REGION_SLOTS)) return undefined;
  const size = span < 2 * REGION_SLOTS ? Math.floor(span * 0.45) : REGION_SLOTS;
  // A difference array: its prefix sum at c counts the jumps landing on or crossing boundary c
  // (between slots c - 1 and c). (Both arrays are the emitter's scratch: no fresh pages per compile.)
  const scratch = emitter.slots(nslots);
  const crossed = scratch.crossed;
  crossed.fill(0, 0, nslots + 2);
  for (let s = 0; s < nslots; s++) {
    const word = P[s << 2];
    const o = word & 0xfff;
    if (o === OP_TRAP) continue;
    if (writesR10(word)) return undefined;
    if (JUMP_OP[o] === 1) {
      const t = P[(s << 2) + 1];
      if (t > s) { crossed[s + 1]++; crossed[Math.min(t, nslots) + 1]--; } // lands on or crosses s+1 .. t
      else { crossed[t + 1]++; crossed[s + 1]--; } // back over t+1 .. s (a jump to a region's first slot stays inside it)
    }
    if (o === 0x18) s++;
  }
  const cuts = scratch.cutAt.subarray(0, nslots);
  cuts.fill(0);
  let any = false;
  let depth = 0;
  let last = entry;
  let prev = -1; // the instruction before slot s
  for (let s = 0; s < nslots; s++) {
    depth += crossed[s];
    const o = P[s << 2] & 0xfff;
    if (s > entry && s - last >= size && nslots - s >= size / 2 && depth === 0 && prev >= 0) {
      const p = P[prev << 2] & 0xfff;
      if (JUMP_OP[p] === 0 && p !== 0x95 && p !== OP_TRAP) {
        cuts[s] = 1;
        last = s;
        any = true;
      }
    }
    prev = s;
    if (o === 0x18) { s++; depth += crossed[s]; }
  }
  return any ? cuts : undefined;
}

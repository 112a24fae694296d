/*
 * Run one bpf_conformance test: get the program (`-- raw` bytes through decodeProgram(), else the
 * `-- asm` text through assembleConformance() and checkProgram()), refuse reads of uninitialized
 * registers (precheck.ts), run it on the reference interpreter with the `-- mem` block (address in
 * r1, length in r2; both 0 without one, as uBPF's plugin passes them), and compare r0.
 *
 * A test is `positive` (it must run and return `-- result`) unless it lives in a `negative`
 * folder or has an `-- error` section: then it is `negative` and passes when it is refused
 * (assembly, decode or static-check error, runtime error, or a result that does not match).
 */
import { BpfError } from '../errors.js';
import { assembleConformance } from '../isa/asm_conformance.js';
import { type Insn, checkProgram, decodeProgram, encodeProgram } from '../isa/insn.js';
import { type ConformanceFile, parseConformanceFile } from './data_file.js';
import { conformanceEngine, type ConformanceEngine } from './engine.js';
import { findUninitializedRead } from './precheck.js';

export type ConformanceKind = 'positive' | 'negative';

/** Where a program was refused or went wrong. */
export type ConformanceStage = 'parse' | 'assemble' | 'decode' | 'precheck' | 'run' | 'result';

export interface ConformanceOutcome {
  file: string;
  kind: ConformanceKind;
  passed: boolean;
  /** For a failure: why. For a refused negative test: what refused it. */
  reason?: string;
  stage?: ConformanceStage;
  /** r0 when the program ran. */
  r0?: bigint;
  expected?: bigint;
}

/** The r0 the program returns, or a thrown BpfError saying why it was refused. */
export interface ProgramRun {
  insns: Insn[];
  r0: bigint;
}

class Refusal extends Error {
  readonly stage: ConformanceStage;
  constructor(stage: ConformanceStage, message: string) {
    super(message);
    this.stage = stage;
  }
}

function refuse(stage: ConformanceStage, err: unknown): Refusal {
  if (err instanceof Refusal) return err;
  const msg = err instanceof Error ? err.message : String(err);
  return new Refusal(stage, msg);
}

function hex(v: bigint): string {
  return '0x' + v.toString(16);
}

/** The program of a parsed test file; throws a Refusal. */
function programOf(test: ConformanceFile, fileName: string): Insn[] {
  if (test.unknownSections.length > 0) {
    throw new Refusal('parse', `unknown section '-- ${test.unknownSections[0]}'`);
  }
  let fromAsm: Insn[] | undefined;
  if (test.asm !== undefined) {
    try {
      fromAsm = assembleConformance(test.asm, fileName);
    } catch (err) {
      throw refuse('assemble', err);
    }
  }
  let insns: Insn[];
  if (test.raw !== undefined) {
    try {
      insns = decodeProgram(test.raw);
    } catch (err) {
      throw refuse('decode', err);
    }
    if (fromAsm && fromAsm.length > 0) {
      const a = encodeProgram(fromAsm);
      if (a.length !== test.raw.length || a.some((b, i) => b !== test.raw![i])) {
        throw new Refusal('assemble', '-- asm and -- raw give different programs');
      }
    }
  } else if (fromAsm) {
    insns = fromAsm;
    try {
      checkProgram(insns);
    } catch (err) {
      throw refuse('decode', err);
    }
  } else {
    throw new Refusal('parse', 'program has no instructions (no -- asm or -- raw section)');
  }
  const uninit = findUninitializedRead(insns);
  if (uninit) throw new Refusal('precheck', `insn ${uninit.pc}: R${uninit.reg} !read_ok (reads an uninitialized register)`);
  return insns;
}

/** Run a parsed test file (browser-safe: the caller reads the file). */
export function runConformanceTest(
  test: ConformanceFile, fileName: string, kind: ConformanceKind, engine: ConformanceEngine = conformanceEngine,
): ConformanceOutcome {
  const base = { file: fileName, kind };
  let insns: Insn[];
  let r0: bigint;
  try {
    insns = programOf(test, fileName);
    if (kind === 'positive' && test.result === undefined) throw new Refusal('parse', 'no -- result section');
    try {
      r0 = BigInt.asUintN(64, engine.run(insns, test.mem));
    } catch (err) {
      throw refuse('run', err);
    }
  } catch (err) {
    const r = refuse('parse', err);
    return kind === 'negative'
      ? { ...base, passed: true, stage: r.stage, reason: r.message }
      : { ...base, passed: false, stage: r.stage, reason: r.message };
  }
  const expected = test.result;
  if (kind === 'negative') {
    if (expected !== undefined && r0 !== expected) {
      return { ...base, passed: true, stage: 'result', r0, expected, reason: `returned ${hex(r0)}, not ${hex(expected)}` };
    }
    return {
      ...base, passed: false, stage: 'result', r0, expected,
      reason: `was not refused: ran and returned ${hex(r0)}${test.error ? ` (expected error: ${test.error})` : ''}`,
    };
  }
  if (r0 !== expected) {
    return { ...base, passed: false, stage: 'result', r0, expected, reason: `returned ${hex(r0)}, expected ${hex(expected!)}` };
  }
  return { ...base, passed: true, r0, expected };
}

/** Positive or negative, from the path (a `negative` folder) and the file (an `-- error` section). */
export function conformanceKind(path: string, test: ConformanceFile): ConformanceKind {
  return /(^|[\\/])negative[\\/]/.test(path) || test.error !== undefined ? 'negative' : 'positive';
}

/** Parse and run the text of one .data file. */
export function runConformanceText(text: string, fileName: string, engine?: ConformanceEngine): ConformanceOutcome {
  let test: ConformanceFile;
  try {
    test = parseConformanceFile(text, fileName);
  } catch (err) {
    const kind: ConformanceKind = /(^|[\\/])negative[\\/]/.test(fileName) ? 'negative' : 'positive';
    const reason = err instanceof BpfError ? err.message : String(err);
    return { file: fileName, kind, passed: kind === 'negative', stage: 'parse', reason };
  }
  return runConformanceTest(test, fileName, conformanceKind(fileName, test), engine);
}

/** Run a program given as bytes with a memory block, as the plugin protocol does (throws on refusal). */
export function runConformanceProgram(bytes: Uint8Array, mem: Uint8Array, engine: ConformanceEngine = conformanceEngine): bigint {
  const insns = decodeProgram(bytes);
  const uninit = findUninitializedRead(insns);
  if (uninit) throw new BpfError('EACCES', `insn ${uninit.pc}: R${uninit.reg} !read_ok`);
  return BigInt.asUintN(64, engine.run(insns, mem));
}

/*
 * The verifier corpus (../shared/verifier-corpus/test_verifier.jsonl): load each test with the
 * fixup maps its README describes and compare with what Linux 6.18 did.
 */
import { readFileSync } from 'node:fs';
import type { Insn } from '../src/isa/insn.js';
import type { VerifierMap } from '../src/verifier/reg_state.js';
import { canFill, fillProgram } from './verifier_fill.js';
import { type VerifyOptions, type VerifyResult, verify } from '../src/verifier/verifier.js';

export interface CorpusTest {
  id: number; file: string; descr: string; prog_type: number; flags: number; kfunc: unknown; fill_helper: boolean; expected_attach_type?: number;
  insns: string[] | null; fixups: Record<string, unknown[]>; has_btf_types: boolean; func_info_cnt: number;
  observed: { loaded: boolean; errno: number; log_level1?: string; log_stats?: string };
}

const F_RDONLY_PROG = 1 << 7, F_WRONLY_PROG = 1 << 8;
const m = (type: number, keySize: number, valueSize: number, maxEntries: number, flags = 0, extra: Partial<VerifierMap['spec']> = {}): VerifierMap =>
  ({ spec: { type, keySize, valueSize, maxEntries, flags, ...extra }, frozen: false });
const inner = m(2, 4, 4, 1);
export const FIXUP_MAPS: Record<string, () => VerifierMap> = {
  map_hash_8b: () => m(1, 8, 8, 1),
  map_hash_16b: () => m(1, 8, 16, 1),
  map_hash_48b: () => m(1, 8, 48, 1),
  map_array_48b: () => m(2, 4, 48, 1),
  map_array_ro: () => m(2, 4, 48, 1, F_RDONLY_PROG),
  map_array_wo: () => m(2, 4, 48, 1, F_WRONLY_PROG),
  map_array_small: () => m(2, 4, 1, 1),
  map_ringbuf: () => m(27, 0, 0, 4096),
  map_event_output: () => m(4, 4, 4, 1),
  map_in_map: () => m(12, 4, 4, 1, 0, { innerMap: inner }),
  prog1: () => m(3, 4, 4, 4),
  prog2: () => m(3, 4, 4, 8),
  // test_verifier.c's create_map() / create_cgroup_storage() shapes (TEST_DATA_LEN = 64)
  map_stacktrace: () => m(7, 4, 8, 1),
  map_sockmap: () => m(15, 4, 4, 1),
  map_sockhash: () => m(18, 4, 4, 1),
  map_xskmap: () => m(17, 4, 4, 1),
  map_reuseport_array: () => m(20, 4, 8, 1),
  cgroup_storage: () => m(19, 16, 64, 0),
  percpu_cgroup_storage: () => m(21, 16, 64, 0),
};

/** Maps whose value type needs BTF (spin locks, kptrs, timers, socket storage): without BTF they fail to create (fd -1), as they did on the kernel. */
const NEEDS_BTF = new Set(['map_spin_lock', 'map_kptr', 'map_timer', 'sk_storage_map']);

export function decodeHex(hex: string[]): Insn[] {
  return hex.map((h) => {
    const b = Buffer.from(h, 'hex');
    return { code: b[0], dst: b[1] & 0xf, src: b[1] >> 4, off: b.readInt16LE(2), imm: b.readInt32LE(4) };
  });
}

export function loadCorpus(path: string): CorpusTest[] {
  return readFileSync(path, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as CorpusTest);
}

/**
 * Fixups that leave the instructions as the corpus holds them: the test kfuncs (bpf_testmod's
 * bpf_kfunc_call_test_*) were not in 6.18's BTF, so test_verifier's fixup_kfunc_btf_id() left
 * their calls at imm 0 and the kernel verified that (its log prints `call #0`).
 */
const AS_RECORDED = new Set(['kfunc_btf_id']);

/**
 * Files whose BTF (test_verifier's BTF_TYPES) declares every function static (BTF_FUNC_ENC,
 * linkage 0): their func_info changes no verdict, subprograms are verified in their callers' context
 * as without BTF.
 */
const STATIC_FUNC_INFO_FILES = new Set(['verifier/bpf_loop_inline.c']);

/** The kernel's processed-instruction count for a test (its log's stats line). */
export const kernelProcessed = (t: CorpusTest): number => Number(/processed (\d+) insns/.exec(t.observed.log_stats ?? '')?.[1] ?? 0);

/**
 * The programs bpfkit generates (ld_dw test 5 and the scale tests: 666,667 and 995,905 processed
 * instructions, 3 to 20 seconds each) are left to `npm run verifier-corpus`, out of the unit test
 * and the benchmark.
 */
const isSlow = (t: CorpusTest): boolean => t.fill_helper && !t.insns?.length && kernelProcessed(t) > 200_000;

/** Why a test is out of reach (kfuncs, BTF, maps needing socket state) or `slow` (unless included), or undefined. */
export function skipReason(t: CorpusTest, includeSlow = false): string | undefined {
  if (t.kfunc) return 'kfunc';
  if (!includeSlow && isSlow(t)) return 'slow';
  if (t.fill_helper && !t.insns?.length && !canFill(t)) return 'fill_helper';
  if ((t.has_btf_types || t.func_info_cnt) && !STATIC_FUNC_INFO_FILES.has(t.file)) return 'btf';
  for (const k of Object.keys(t.fixups)) if (!FIXUP_MAPS[k] && !NEEDS_BTF.has(k) && !AS_RECORDED.has(k)) return 'advanced fixup';
  return undefined;
}

export function runCorpusTest(t: CorpusTest, logLevel = 1): VerifyResult {
  const { insns, options } = prepareCorpusTest(t, logLevel);
  return verify(insns, options);
}

/** A test's instructions and verify() options (its fixup maps made), for timing verify() alone. */
export function prepareCorpusTest(t: CorpusTest, logLevel = 1): { insns: Insn[]; options: VerifyOptions } {
  // a .fill_helper test's program: as the corpus recorded it, or generated as test_verifier.c does
  const insns = t.insns?.length ? decodeHex(t.insns) : fillProgram(t) ?? [];
  const byInsn = new Map<number, VerifierMap>();
  for (const [k, fixup] of Object.entries(t.fixups)) {
    const idxs = fixup as number[];
    if (NEEDS_BTF.has(k)) { for (const i of idxs) insns[i] = { ...insns[i], imm: -1 }; continue; }
    const mk = FIXUP_MAPS[k];
    if (!mk) continue;
    const map = mk();
    for (const i of idxs) byInsn.set(i, map);
  }
  return { insns, options: { progType: t.prog_type, expectedAttachType: t.expected_attach_type ?? 0, maps: (i) => byInsn.get(i), logLevel, flags: progFlags(t.flags), funcInfo: t.func_info_cnt > 0 } };
}

/**
 * test_verifier's do_test_single(): F_LOAD_WITH_STRICT_ALIGNMENT (2) becomes BPF_F_STRICT_ALIGNMENT;
 * flags above the two test-only bits are prog_flags as they are (BPF_F_TEST_STATE_FREQ = 8).
 */
export function progFlags(testFlags: number): number {
  return (testFlags & 2 ? 1 : 0) | (testFlags & ~3);
}

/** The kernel's last error line (before the stats lines). */
export function lastErrorLine(log: string): string {
  const lines = log.split('\n').filter((l) => l && !l.startsWith('processed ') && !l.startsWith('verification time') && !l.startsWith('stack depth'));
  return lines[lines.length - 1] ?? '';
}

/** A verifier log line by line with map addresses hidden and the timing lines (verification time, stack depth) left out. */
export const normalizedLog = (log: string): string[] => log.replace(/0xffff[0-9a-f]{12}/g, 'MAP').split('\n')
  .filter((l) => !l.startsWith('verification time') && !l.startsWith('stack depth'));

/**
 * A fixture's log as compared with the kernel's: map addresses and timing lines aside, empty lines,
 * and btf_prepare_func_args()'s notes about the main function's BTF arguments ("arg#0 reference
 * type..."), which bpfkit does not print.
 */
export const comparableFixtureLog = (log: string): string[] => log.replace(/0xffff[0-9a-f]{12}/g, 'MAP').split('\n')
  .filter((l) => l && !/^(verification time|stack depth|arg#\d+ reference type)/.test(l));

/*
 * `bpfkit conformance DIR [-v] [-j]`: run every bpf_conformance .data file under DIR (or one file).
 * Positive tests must run and return their `-- result`; negative tests (a `negative` folder, or an
 * `-- error` section) pass when the program is refused. One line per failure (-v: per test), then
 * the exact last line `N passed, M failed`; exit 1 when any failed.
 *
 * `bpfkit conformance-plugin [MEM-HEX] < PROGRAM-HEX`: the bpf_conformance plugin protocol (the
 * suite's runner starts the plugin with the memory as hex in argv[1], writes the program bytes as
 * hex to stdin, reads r0 in hex from stdout; a failing program exits non-zero with the error on
 * stderr).
 */
import { BpfError } from '../errors.js';
import type { CommandHandler } from './context.js';
import { printJson, type JsonValue } from './output.js';

const USAGE = 'Usage: bpfkit conformance DIR [engine { interp | jit }] [-v|--verbose] [-j|--json]';

export const conformanceCommand: CommandHandler = async (args, ctx) => {
  let dir: string | undefined;
  let verbose = false;
  let json = ctx.json;
  let engine: 'interp' | 'jit' = 'interp';
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '-v' || a === '--verbose') verbose = true;
    else if (a === 'engine') {
      const e = args[++i];
      if (e !== 'interp' && e !== 'jit') throw new BpfError('EINVAL', `expected 'interp' or 'jit' after 'engine', got: '${e ?? ''}'?`);
      engine = e;
    }
    else if (a === '-j' || a === '--json') json = true;
    else if (a === 'help' || a === '-h' || a === '--help') { ctx.stdout(USAGE + '\n'); return 0; }
    else if (a.startsWith('-')) throw new BpfError('EINVAL', `unknown option '${a}' (try 'bpfkit conformance help')`);
    else if (dir === undefined) dir = a;
    else throw new BpfError('EINVAL', `unexpected argument '${a}' (try 'bpfkit conformance help')`);
  }
  if (dir === undefined) throw new BpfError('EINVAL', "expected DIR (try 'bpfkit conformance help')");
  const { stat } = await import('node:fs/promises');
  const st = await stat(dir).catch(() => undefined);
  if (!st?.isDirectory() && !(st?.isFile() && dir.endsWith('.data'))) {
    throw new BpfError('ENOENT', `${dir}: no such directory (or .data file)`);
  }
  const { runConformanceDir } = await import('../conformance/node_runner.js');
  const { conformanceEngine, jitConformanceEngine } = await import('../conformance/engine.js');
  const outcomes = await runConformanceDir(dir, engine === 'jit' ? jitConformanceEngine : conformanceEngine);
  if (outcomes.length === 0) throw new BpfError('ENOENT', `no .data files under ${dir}`);

  const passed = outcomes.filter((o) => o.passed).length;
  const failed = outcomes.length - passed;
  const count = (kind: string, ok: boolean): number => outcomes.filter((o) => o.kind === kind && o.passed === ok).length;

  if (json) {
    const entry = (o: (typeof outcomes)[number]): JsonValue => {
      const e: Record<string, JsonValue> = { file: o.file, kind: o.kind, passed: o.passed };
      if (o.stage) e.stage = o.stage;
      if (o.reason) e.reason = o.reason;
      if (o.r0 !== undefined) e.r0 = '0x' + o.r0.toString(16);
      if (o.expected !== undefined) e.expected = '0x' + o.expected.toString(16);
      return e;
    };
    printJson({ ...ctx, pretty: ctx.pretty }, {
      passed, failed,
      positive: { passed: count('positive', true), failed: count('positive', false) },
      negative: { refused: count('negative', true), accepted: count('negative', false) },
      failures: outcomes.filter((o) => !o.passed).map(entry),
      ...(verbose ? { tests: outcomes.map(entry) } : {}),
    });
    return failed > 0 ? 1 : 0;
  }

  for (const o of outcomes) {
    const what = o.kind === 'negative' ? ' [negative: must be refused]' : '';
    if (!o.passed) ctx.stdout(`FAIL ${o.file}${what}: ${o.reason ?? 'failed'}\n`);
    else if (verbose) {
      ctx.stdout(o.kind === 'negative'
        ? `PASS ${o.file}${what}: refused (${o.stage}): ${o.reason}\n`
        : `PASS ${o.file}: r0 = 0x${o.r0!.toString(16)}\n`);
    }
  }
  const pos = count('positive', true) + count('positive', false);
  const neg = count('negative', true) + count('negative', false);
  if (pos > 0 && neg > 0) {
    ctx.stdout(`positive tests: ${count('positive', true)} passed, ${count('positive', false)} failed\n`);
    ctx.stdout(`negative tests (must be refused): ${count('negative', true)} refused, ${count('negative', false)} not refused\n`);
  }
  ctx.stdout(`${passed} passed, ${failed} failed\n`);
  return failed > 0 ? 1 : 0;
};

/** Bytes from hex text: whitespace-separated bytes ("b7 00 ..."), or one run of hex digits. */
export function parseHexBytes(text: string, what: string): Uint8Array {
  const words = text.trim().split(/\s+/).filter((w) => w !== '');
  const bytes: number[] = [];
  for (const w0 of words) {
    const w = w0.replace(/^0x/i, '');
    if (!/^[0-9a-fA-F]+$/.test(w)) throw new BpfError('EINVAL', `${what}: '${w0}' is not hex`);
    if (w.length <= 2) bytes.push(parseInt(w, 16));
    else {
      if (w.length % 2 !== 0) throw new BpfError('EINVAL', `${what}: odd number of hex digits in '${w0}'`);
      for (let i = 0; i < w.length; i += 2) bytes.push(parseInt(w.slice(i, i + 2), 16));
    }
  }
  return new Uint8Array(bytes);
}

export const conformancePluginCommand: CommandHandler = async (args, ctx) => {
  let memHex: string | undefined;
  for (const a of args) {
    if (a === '--elf') throw new BpfError('ENOTSUPP', 'conformance-plugin: --elf input is not supported');
    if (a.startsWith('--')) continue; // other plugin options of the suite's runner: ignored
    if (memHex === undefined) memHex = a;
    else throw new BpfError('EINVAL', `conformance-plugin: unexpected argument '${a}'`);
  }
  const mem = memHex === undefined ? new Uint8Array(0) : parseHexBytes(memHex, 'memory');
  const program = parseHexBytes(new TextDecoder().decode(await ctx.readStdin()), 'program');
  const { runConformanceProgram } = await import('../conformance/runner.js');
  const r0 = runConformanceProgram(program, mem);
  ctx.stdout(r0.toString(16) + '\n');
  return 0;
};

/*
 * `bpfkit prog ...`, bpftool's prog object. For now: `prog run` over a program loaded from an
 * object file for this command only (PROG := file OBJ [sec SECTION] [name FUNC]), run as
 * BPF_PROG_TEST_RUN runs an XDP program (progtypes/xdp.ts).
 *
 * Messages, output and exit codes are bpftool's: argument errors exit 255; a failed test run
 * prints "failed to run program: <strerror>" and exits with -errno & 0xff like bpftool does.
 */
import { BpfError, ERRNO, type ErrnoName, strerror } from '../errors.js';
import { findProgram, openObject } from '../loader/object.js';
import { isPrefix } from './args.js';
import type { CliContext, CommandHandler } from './context.js';
import { type JsonValue, printError, printJson } from './output.js';
import { TestRunError, testRunXdp, type XdpTestRunResult } from '../progtypes/xdp.js';

const PROG_COMMANDS = [
  'show', 'list', 'help', 'dump', 'pin', 'attach', 'detach', 'load', 'loadall', 'run', 'profile', 'tracelog',
] as const;

const USAGE = `Usage: bpfkit prog run PROG \\
                         data_in FILE \\
                         [data_out FILE [data_size_out L]] \\
                         [ctx_in FILE [ctx_out FILE [ctx_size_out M]]] \\
                         [repeat N] [engine { interp | jit }]
       bpfkit prog help

       PROG := { file OBJ [sec SECTION] [name FUNC] }
`;

export const progCommand: CommandHandler = async (args, ctx) => {
  const word = args[0];
  if (word === undefined) throw new BpfError('ENOTSUPP', "'prog show' is not implemented yet");
  const cmd = PROG_COMMANDS.find((c) => isPrefix(word, c));
  if (cmd === 'help') { ctx.stdout(USAGE); return 0; }
  if (cmd === 'run') return progRun(args.slice(1), ctx);
  if (cmd === undefined) throw new BpfError('EINVAL', `unknown command '${word}' for 'prog' (try 'bpfkit prog help')`);
  throw new BpfError('ENOTSUPP', `'prog ${cmd}' is not implemented yet`);
};

/* ------------------------------------------------------------------------------------------ */
/* Argument parsing (do_run() in bpftool's prog.c)                                             */

export interface ProgSpec {
  file: string;
  section?: string;
  name?: string;
}

export interface RunArgs {
  prog: ProgSpec;
  dataIn?: string;
  dataOut?: string;
  dataSizeOut: number;
  ctxIn?: string;
  ctxOut?: string;
  ctxSizeOut: number;
  repeat: number;
  engine: 'interp' | 'jit';
}

const bad = (msg: string): never => { throw new BpfError('EINVAL', msg); };

/** strtoul(s, &end, 0) with `*end` required to be '\0', truncated to unsigned int as bpftool stores it. */
function parseUlong(text: string, what: string): number {
  const m = /^\s*\+?(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/.exec(text);
  if (!m) bad(`can't parse ${text} as ${what}`);
  const digits = m![1];
  const v = /^0[xX]/.test(digits) ? BigInt(digits) : digits.length > 1 && digits[0] === '0' ? BigInt('0o' + digits.slice(1)) : BigInt(digits);
  return Number(BigInt.asUintN(32, v));
}

/** bpftool's detect_common_prefix(): a word that abbreviates two keywords is an error. */
function detectCommonPrefix(word: string, keywords: readonly string[]): void {
  const hits = keywords.filter((k) => isPrefix(word, k));
  if (hits.length >= 2) bad(`ambiguous prefix: '${word}' could be '${hits.join("' or '")}'`);
}

/** PROG := file OBJ [sec SECTION] [name FUNC]; bpftool's id/tag/name/pinned need the kernel object table. */
export function parseProgSpec(words: string[], at: { i: number }): ProgSpec {
  const kw = words[at.i];
  if (isPrefix(kw, 'id') || isPrefix(kw, 'tag') || isPrefix(kw, 'name') || isPrefix(kw, 'pinned')) {
    throw new BpfError('ENOTSUPP', `PROG '${kw}' needs loaded programs, which are not implemented yet: use 'file OBJ [sec SECTION]'`);
  }
  if (!isPrefix(kw, 'file')) bad(`expected 'id', 'tag', 'name', 'pinned' or 'file', got: '${kw}'?`);
  at.i++;
  const file = words[at.i++];
  if (file === undefined) bad("'file' needs at least 1 arguments, 0 found");
  const spec: ProgSpec = { file };
  for (;;) {
    const w = words[at.i];
    if (w === 'sec' || w === 'section') {
      if (words[at.i + 1] === undefined) bad(`'${w}' needs at least 1 arguments, 0 found`);
      spec.section = words[at.i + 1];
      at.i += 2;
    } else if (w === 'name') {
      if (words[at.i + 1] === undefined) bad("'name' needs at least 1 arguments, 0 found");
      spec.name = words[at.i + 1];
      at.i += 2;
    } else {
      return spec;
    }
  }
}

export function parseRunArgs(words: string[]): RunArgs {
  if (words.length < 4) bad(`'run' needs at least 4 arguments, ${words.length} found`);
  const at = { i: 0 };
  const prog = parseProgSpec(words, at);
  const a: RunArgs = { prog, dataSizeOut: 0, ctxSizeOut: 0, repeat: 1, engine: 'interp' };
  const need = (kw: string): string => {
    at.i++;
    const v = words[at.i];
    if (v === undefined) bad(`'${kw}' needs at least 1 arguments, 0 found`);
    at.i++;
    return v;
  };
  const singleStdin = (): void => {
    if (a.dataIn === '-' && a.ctxIn === '-') bad('cannot use standard input for both data_in and ctx_in');
  };
  while (at.i < words.length) {
    const w = words[at.i];
    detectCommonPrefix(w, ['data_in', 'data_out', 'data_size_out']);
    detectCommonPrefix(w, ['ctx_in', 'ctx_out', 'ctx_size_out']);
    if (isPrefix(w, 'data_in')) { a.dataIn = need('data_in'); singleStdin(); }
    else if (isPrefix(w, 'data_out')) a.dataOut = need('data_out');
    else if (isPrefix(w, 'data_size_out')) a.dataSizeOut = parseUlong(need('data_size_out'), 'output data size');
    else if (isPrefix(w, 'ctx_in')) { a.ctxIn = need('ctx_in'); singleStdin(); }
    else if (isPrefix(w, 'ctx_out')) a.ctxOut = need('ctx_out');
    else if (isPrefix(w, 'ctx_size_out')) a.ctxSizeOut = parseUlong(need('ctx_size_out'), 'output context size');
    else if (isPrefix(w, 'repeat')) a.repeat = parseUlong(need('repeat'), 'repeat number');
    else if (isPrefix(w, 'engine')) {
      const e = need('engine');
      if (e !== 'interp' && e !== 'jit') bad(`expected 'interp' or 'jit' after 'engine', got: '${e}'?`);
      a.engine = e as 'interp' | 'jit';
    } else {
      // bpftool's words (bpfkit's extra 'engine' keyword is left out, so the message is the same).
      bad(`expected no more arguments, 'data_in', 'data_out', 'data_size_out', 'ctx_in', 'ctx_out', 'ctx_size_out' or 'repeat', got: '${w}'?`);
    }
  }
  return a;
}

/* ------------------------------------------------------------------------------------------ */
/* The command                                                                                  */

function errnoOf(code: ErrnoName): number {
  return ERRNO[code];
}

async function readInput(name: string, ctx: CliContext): Promise<Uint8Array> {
  if (name === '-') return ctx.readStdin();
  const { readFile } = await import('node:fs/promises');
  try {
    return new Uint8Array(await readFile(name));
  } catch (err) {
    throw new BpfError('ENOENT', `failed to open ${name}: ${strerror((err as NodeJS.ErrnoException).code ?? '')}`);
  }
}

/** bpftool's hex_print(): offset, byte pairs, then ASCII with a gap after the 8th character. */
export function hexPrint(data: Uint8Array): string {
  let out = '';
  for (let i = 0; i < data.length; i += 16) {
    out += i.toString(16).padStart(7, '0') + '\t';
    let j = i;
    for (; j < i + 16 && j < data.length; j++) out += data[j].toString(16).padStart(2, '0') + (j % 2 ? ' ' : '');
    for (; j < i + 16; j++) out += '  ' + (j % 2 ? ' ' : '');
    out += '| ';
    for (j = i; j < i + 16 && j < data.length; j++) {
      const c = data[j];
      out += (c < 0x20 || c > 0x7e ? '.' : String.fromCharCode(c)) + (j === i + 7 ? ' ' : '');
    }
    out += '\n';
  }
  return out;
}

async function progRun(words: string[], ctx: CliContext): Promise<number> {
  const a = parseRunArgs(words);
  let objBytes: Uint8Array;
  try {
    const { readFile } = await import('node:fs/promises');
    objBytes = new Uint8Array(await readFile(a.prog.file));
  } catch (err) {
    throw new BpfError('ENOENT', `failed to open object file ${a.prog.file}: ${strerror((err as NodeJS.ErrnoException).code ?? '')}`);
  }
  const obj = openObject(objBytes, a.prog.file);
  const prog = findProgram(obj, { section: a.prog.section, name: a.prog.name });

  const dataIn = a.dataIn !== undefined ? await readInput(a.dataIn, ctx) : undefined;
  const ctxIn = a.ctxIn !== undefined ? await readInput(a.ctxIn, ctx) : undefined;
  const defaultSize = 32 * 1024; // bpftool's default_size (SZ_32K)
  let result: XdpTestRunResult;
  try {
    result = await testRunXdp({
      insns: prog.insns,
      section: prog.section,
      dataIn,
      dataSizeOut: dataIn ? a.dataSizeOut || defaultSize : a.dataSizeOut,
      ctxIn,
      ctxOut: ctxIn ? { size: a.ctxSizeOut || defaultSize } : undefined,
      repeat: a.repeat,
      engine: a.engine,
    });
  } catch (err) {
    if (!(err instanceof TestRunError)) throw err;
    printError(ctx, `failed to run program: ${strerror(err.code)}`);
    if (ctx.debug) ctx.stderr(`(${err.message})\n`);
    return (256 - errnoOf(err.code)) & 0xff;
  }

  const json: Record<string, JsonValue> = {};
  let status = 0;
  const emit = async (data: Uint8Array, file: string | undefined, key: string): Promise<void> => {
    if (file === undefined) return;
    if (file === '-') {
      if (ctx.json) json[key] = Array.from(data);
      else ctx.stdout(hexPrint(data));
      return;
    }
    const { writeFile } = await import('node:fs/promises');
    try {
      await writeFile(file, data);
    } catch (err) {
      printError(ctx, `failed to open ${file}: ${strerror((err as NodeJS.ErrnoException).code ?? '')}`);
      status = 255;
    }
  };
  if (dataIn) await emit(result.dataOut, a.dataOut, 'data_out');
  if (result.ctxOut) await emit(result.ctxOut, a.ctxOut, 'ctx_out');
  if (ctx.json) {
    json.retval = result.retval;
    json.duration = result.duration;
    printJson(ctx, json);
  } else {
    ctx.stdout(`Return value: ${result.retval}, duration${a.repeat > 1 ? ' (average)' : ''}: ${result.duration}ns\n`);
  }
  return status;
}

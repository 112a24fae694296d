/*
 * `bpfkit prog run PROG ...` (do_run() of bpftool's prog.c) for every program type bpfkit has
 * (progtypes/): BPF_PROG_TEST_RUN semantics per type, on the kernel's Vm for programs of the pin
 * store (their maps are the pinned ones; changes are written back) or on the Vm of the object
 * loaded for this command (`file OBJ`), with the helper set of the program's type.
 *
 * bpfkit's extensions: `engine interp|jit`; `pcap_in FILE [pcap_out FILE] [verbose]` runs every
 * packet of a capture (net/capture_run.ts) and prints a verdict summary (and the maps the run
 * changed; a progress bar on a terminal); kprobe, tracepoint and perf_event programs (no test
 * run in the kernel) run on ctx_in as their context. With -d and the JIT, the compile figures go
 * to stderr: `jit: N insns compiled in X ms (...)`, X from eBPF to a prepared instance.
 *
 * Messages, output and exit codes are bpftool's: argument errors exit 255; a failed test run
 * prints "failed to run program: <strerror>" and exits with -errno & 0xff.
 */
import { BpfError, ERRNO, type ErrnoName, strerror } from '../errors.js';
import type { Insn } from '../isa/insn.js';
import type { Bpf as Kernel, KProg } from '../kernel/bpf.js';
import { loadObjectIntoKernel, runInsns } from '../kernel/load.js';
import { progTypeFromSection } from '../kernel/names.js';
import { findProgram, openObject } from '../loader/object.js';
import { type CaptureRunSummary, runCapture } from '../net/capture_run.js';
import { type PcapRecord, readCapture, writePcap, writePcapng } from '../net/pcap.js';
import { progTypeOps, registerProgTypeHelpers, testRun, TestRunError, type TestRunResult } from '../progtypes/index.js';
import { runTracing } from '../progtypes/tracing.js';
import { compileJit } from '../vm/jit/index.js';
import type { Vm } from '../vm/vm.js';
import { createHelperHost, formatTraceLine, type HelperHost } from '../helpers/host.js';
import { isPrefix } from './args.js';
import type { CliContext } from './context.js';
import { Argv, openCliKernel, progParseFd, runTool } from './map.js';
import { type JsonValue, printError, printJson } from './output.js';
import { type ProgSpec, parseProgSpec } from './prog.js';

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
  pcapIn?: string;
  pcapOut?: string;
  /** Per-packet verdicts in the capture summary. */
  verbose: boolean;
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

export function parseRunArgs(words: string[]): RunArgs {
  const at = { i: 0 };
  const pcap = words.some((w) => w === 'pcap_in');
  if (words.length < 4 && !pcap) bad(`'run' needs at least 4 arguments, ${words.length} found`);
  const prog = parseProgSpec(words, at);
  const a: RunArgs = { prog, dataSizeOut: 0, ctxSizeOut: 0, repeat: 1, engine: 'jit', verbose: false };
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
    if (w === 'pcap_in') { a.pcapIn = need('pcap_in'); continue; }
    if (w === 'pcap_out') { a.pcapOut = need('pcap_out'); continue; }
    if (w === 'verbose') { a.verbose = true; at.i++; continue; }
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
      // bpftool's words (bpfkit's extra keywords are left out, so the message is the same).
      bad(`expected no more arguments, 'data_in', 'data_out', 'data_size_out', 'ctx_in', 'ctx_out', 'ctx_size_out' or 'repeat', got: '${w}'?`);
    }
  }
  if (a.pcapOut !== undefined && a.pcapIn === undefined) bad("'pcap_out' needs 'pcap_in'");
  if (a.pcapIn !== undefined && (a.dataIn !== undefined || a.ctxIn !== undefined)) bad("'pcap_in' cannot be used with 'data_in' or 'ctx_in'");
  return a;
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

/** A program ready to run: its instructions for `vm`, its type, and what to do afterwards. */
export interface RunnableProgram {
  /** The program as loaded (for `prog dump xlated`: instructions with map ids in `mapRefs`). */
  kprog: KProg;
  insns: readonly Insn[];
  type: number;
  section: string;
  vm: Vm;
  /** After the run: write map changes back (pinned maps), close. */
  done(): void;
}

async function storedProgram(handle: [string, string], ctx: CliContext): Promise<RunnableProgram | undefined> {
  let found: RunnableProgram | undefined;
  const status = await runTool(ctx, async (out) => {
    const k: Kernel = await openCliKernel();
    const fd = progParseFd(k, out, new Argv([...handle]));
    const p = k.progOf(fd);
    found = {
      kprog: p, insns: runInsns(k, fd), type: p.type, section: p.section, vm: k.vm,
      done: () => { k.syncPins(); k.shutdown(); },
    };
    return 0;
  });
  return status === 0 ? found : undefined;
}

async function fileProgram(spec: ProgSpec): Promise<RunnableProgram> {
  let bytes: Uint8Array;
  try {
    const { readFile } = await import('node:fs/promises');
    bytes = new Uint8Array(await readFile(spec.file));
  } catch (err) {
    throw new BpfError('ENOENT', `failed to open object file ${spec.file}: ${strerror((err as NodeJS.ErrnoException).code ?? '')}`);
  }
  const chosen = findProgram(openObject(bytes, spec.file), { section: spec.section, name: spec.name });
  const [{ Bpf }, { createMap }] = await Promise.all([import('../kernel/bpf.js'), import('../maps/index.js')]);
  const bpf = new Bpf({ createMap });
  const type = progTypeFromSection(chosen.section) ?? 6;
  const loaded = loadObjectIntoKernel(bpf, bytes, spec.file, {
    // The chosen program, and the other autoloaded ones a type can be found for (prog array slots).
    select: (p) => p.name === chosen.name || (p.autoload && p.progType !== undefined),
    progType: chosen.progType === undefined ? type : undefined,
  });
  const prog = loaded.program(chosen.name);
  return { kprog: bpf.progOf(prog.fd), insns: loaded.runInsns(prog), type: prog.type, section: chosen.section, vm: bpf.vm, done: () => loaded.close() };
}

const TRACING_NO_TEST_RUN = new Set([2, 5, 7]); // kprobe, tracepoint, perf_event

/**
 * PROG resolved as `prog run` and `prog dump xlated` do: a program of the pin store (errors are
 * printed; undefined then) or the program of `file OBJ` loaded for this command. Call done().
 */
export async function openProgram(spec: ProgSpec, ctx: CliContext): Promise<RunnableProgram | undefined> {
  if (spec.bytecode !== undefined || spec.bytecodeFile !== undefined) return (await import('./prog_bytecode.js')).bytecodeProgram(spec);
  return spec.handle ? storedProgram(spec.handle, ctx) : fileProgram(spec);
}

/** bpf_trace_printk's output of a run: appended to the state store's trace buffer; on stderr with -d. */
async function keepTrace(host: HelperHost, ctx: CliContext): Promise<void> {
  const text = host.trace.read().map((e) => formatTraceLine(e, 'd.s1')).join('');
  if (!text) return;
  if (ctx.debug) ctx.stderr(text);
  (await import('./trace_buffer.js')).appendTrace(text);
}

export async function progRun(words: string[], ctx: CliContext): Promise<number> {
  const a = parseRunArgs(words);
  const prog = await openProgram(a.prog, ctx);
  if (!prog) return 255;
  let host: HelperHost | undefined;
  try {
    const pid = process.pid;
    // The machine's CLOCK_MONOTONIC, so the trace lines of successive runs are in time order.
    host = registerProgTypeHelpers(prog.vm.helpers, prog.type, createHelperHost({
      task: { pid, tgid: pid, comm: 'bpfkit' }, clockNs: () => process.hrtime.bigint(),
    }));
    if (a.pcapIn !== undefined) return await runOverCapture(a, prog, ctx);
    return await runOnce(a, prog, ctx);
  } finally {
    prog.done();
    if (host) await keepTrace(host, ctx);
  }
}

async function runOnce(a: RunArgs, prog: RunnableProgram, ctx: CliContext): Promise<number> {
  const dataIn = a.dataIn !== undefined ? await readInput(a.dataIn, ctx) : undefined;
  const ctxIn = a.ctxIn !== undefined ? await readInput(a.ctxIn, ctx) : undefined;
  const defaultSize = 32 * 1024; // bpftool's default_size (SZ_32K)
  let result: TestRunResult;
  try {
    if (TRACING_NO_TEST_RUN.has(prog.type)) {
      const size = progTypeOps(prog.type)?.ctxSize ?? 0;
      const c = new Uint8Array(Math.max(size, ctxIn?.length ?? 0));
      if (ctxIn) c.set(ctxIn);
      const r = runTracing(prog.insns, c, { engine: a.engine, vm: prog.vm, repeat: a.repeat });
      result = { retval: r.retval, duration: r.duration, dataOut: new Uint8Array(0) };
    } else {
      result = await testRun({
        insns: prog.insns, type: prog.type, section: prog.section, dataIn,
        dataSizeOut: dataIn ? a.dataSizeOut || defaultSize : a.dataSizeOut,
        ctxIn, ctxOut: ctxIn ? { size: a.ctxSizeOut || defaultSize } : undefined,
        repeat: a.repeat, engine: a.engine, vm: prog.vm,
      });
    }
  } catch (err) {
    if (!(err instanceof TestRunError) && !(err instanceof BpfError && err.code === 'ENOTSUPP')) throw err;
    const e = err as BpfError;
    printError(ctx, `failed to run program: ${strerror(e.code)}`);
    if (ctx.debug) ctx.stderr(`(${e.message})\n`);
    return (256 - ERRNO[e.code as ErrnoName]) & 0xff;
  }

  reportCompile(a, prog, ctx);
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

/**
 * With -d and the JIT: the compile figures on stderr (`jit: N insns compiled in X ms ...`). The
 * run compiled the program on this VM; compileJit() returns that (cached) compilation.
 */
function reportCompile(a: RunArgs, prog: RunnableProgram, ctx: CliContext): void {
  if (!ctx.debug || a.engine !== 'jit') return;
  const j = compileJit(prog.vm, prog.insns);
  const notes = [`${j.wasmSize} bytes of wasm`, j.verified ? 'verified tier' : 'checked tier'];
  if (j.cached) notes.push('module from the cache');
  if (j.inlinedLookups > 0) notes.push(`${j.inlinedLookups} map lookups inlined`);
  // The whole way to a runnable instance: V8 compiles a large module's functions in its
  // constructor (wasm_compile.ts) and a small one's on their first calls, so instantiation and
  // those first calls (prepare()) count as well as codegen and the module.
  const phases: [string, number][] = [['codegen', j.codegenMs], ['module', j.moduleMs], ['instantiate', j.instantiateMs], ['first calls', j.firstCallMs]];
  notes.push(phases.map(([name, ms]) => `${name} ${ms.toFixed(3)}`).join(' + ') + ' ms');
  const total = phases.reduce((sum, [, ms]) => sum + ms, 0);
  ctx.stderr(`jit: ${j.compiledInsns} insns compiled in ${total.toFixed(3)} ms (${notes.join(', ')})\n`);
}

const BAR_WIDTH = 30;
/** Captures this long get a progress bar (on a terminal). */
const PROGRESS_MIN = 20000;

/** `[#######.......]  45%  450000/1000000 packets` redrawn in place on a terminal. */
function progressBar(done: number, total: number, what = `${done}/${total} packets`): string {
  const filled = Math.round((BAR_WIDTH * done) / total);
  const pct = String(Math.floor((100 * done) / total)).padStart(3);
  return `\r[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${pct}%  ${what}`;
}

/**
 * `pcap_in FILE`: the capture streamed from the file (constant memory whatever its size) and the
 * passed packets streamed to `pcap_out`, in the input's format. Standard input takes the
 * whole-file path below.
 */
async function runOverCaptureStream(a: RunArgs, prog: RunnableProgram, ctx: CliContext): Promise<number> {
  const [{ openCaptureFile, createPcapFile, createPcapngFile }, { statSync }] = await Promise.all([import('../net/node_capture.js'), import('node:fs')]);
  const path = a.pcapIn!;
  const failOpen = (file: string, err: BpfError): number => {
    printError(ctx, `failed to open ${file}: ${err.message.startsWith(`${file}: `) ? err.message.slice(file.length + 2) : err.message}`);
    return 255;
  };
  let input;
  try {
    input = openCaptureFile(path);
  } catch (err) {
    if (!(err instanceof BpfError)) throw err;
    return err.code === 'ENOENT' ? failOpen(path, err) : (printError(ctx, `${path}: ${err.message}`), 255);
  }
  const reader = input.reader;
  let output;
  try {
    if (a.pcapOut !== undefined) {
      try {
        // Written in the input's format: pcap as pcap_dump() does, pcapng with its interfaces.
        output = reader.format === 'pcapng'
          ? createPcapngFile(a.pcapOut, reader.interfaces, reader.bigEndian)
          : createPcapFile(a.pcapOut, { linktype: reader.linktype, snaplen: reader.snaplen, nanos: reader.nanos, bigEndian: reader.bigEndian });
      } catch (err) {
        if (!(err instanceof BpfError)) throw err;
        return failOpen(a.pcapOut, err);
      }
    }
    const size = statSync(path).size;
    const tty = !ctx.json && (globalThis as { process?: { stderr?: { isTTY?: boolean } } }).process?.stderr?.isTTY === true;
    const showProgress = tty && size >= PROGRESS_MIN * 64;
    let readError: BpfError | undefined;
    function* records(): Generator<PcapRecord> {
      try {
        while (reader.next()) yield reader.record();
      } catch (err) {
        if (err instanceof BpfError) readError = err;
        throw err;
      }
    }
    const writer = output?.writer;
    let r;
    try {
      r = runCapture(records(), reader.linktype, {
        insns: prog.insns, type: prog.type, engine: a.engine, vm: prog.vm, verdicts: a.verbose, copyRecords: true,
        keepOutput: false, onOutput: writer ? (rec) => writer.write(rec.sec, rec.nsec, rec.len, rec.data, 0, rec.caplen, rec.ifIndex) : undefined,
        // Progress by bytes read: a stream's packet count is known only at its end.
        onProgress: showProgress ? (done) => ctx.stderr(progressBar(reader.offset, size, `${done} packets`)) : undefined,
        progressEvery: 16384,
      });
    } catch (err) {
      if (!(err instanceof BpfError)) throw err;
      if (showProgress) ctx.stderr('\r\x1b[K');
      if (readError) { printError(ctx, `${path}: ${readError.message}`); return 255; }
      printError(ctx, `failed to run program: ${err.message}`);
      return (256 - ERRNO[err.code]) & 0xff;
    }
    if (showProgress) ctx.stderr('\r\x1b[K');
    output?.close();
    output = undefined;
    return reportCapture(a, prog, ctx, r.summary);
  } finally {
    output?.close();
    input.close();
  }
}

async function runOverCapture(a: RunArgs, prog: RunnableProgram, ctx: CliContext): Promise<number> {
  if (a.pcapIn !== '-') return runOverCaptureStream(a, prog, ctx);
  const input = await readInput(a.pcapIn!, ctx);
  let file;
  try {
    file = readCapture(input);
  } catch (err) {
    if (!(err instanceof BpfError)) throw err;
    printError(ctx, `${a.pcapIn}: ${err.message}`);
    return 255;
  }
  const tty = !ctx.json && (globalThis as { process?: { stderr?: { isTTY?: boolean } } }).process?.stderr?.isTTY === true;
  const total = file.records.length;
  let r;
  try {
    r = runCapture(file.records, file.linktype, {
      insns: prog.insns, type: prog.type, engine: a.engine, vm: prog.vm, verdicts: a.verbose, keepOutput: a.pcapOut !== undefined,
      onProgress: tty && total >= PROGRESS_MIN ? (done, n) => ctx.stderr(progressBar(done, n)) : undefined,
      progressEvery: Math.max(1024, Math.floor(total / 100)),
    });
  } catch (err) {
    if (!(err instanceof BpfError)) throw err;
    printError(ctx, `failed to run program: ${err.message}`);
    return (256 - ERRNO[err.code]) & 0xff;
  }
  if (tty && total >= PROGRESS_MIN) ctx.stderr('\r\x1b[K');
  if (a.pcapOut !== undefined) {
    const bytes = file.format === 'pcapng'
      ? writePcapng(file.interfaces, r.out, file.bigEndian)
      : writePcap({ linktype: file.linktype, snaplen: file.snaplen, nanos: file.nanos, bigEndian: file.bigEndian }, r.out);
    const { writeFile } = await import('node:fs/promises');
    try {
      await writeFile(a.pcapOut, bytes);
    } catch (err) {
      printError(ctx, `failed to open ${a.pcapOut}: ${strerror((err as NodeJS.ErrnoException).code ?? '')}`);
      return 255;
    }
  }
  return reportCapture(a, prog, ctx, r.summary);
}

/** The run's summary: bpftool-like text, or -j. */
function reportCapture(a: RunArgs, prog: RunnableProgram, ctx: CliContext, s: CaptureRunSummary): number {
  reportCompile(a, prog, ctx);
  if (ctx.json) {
    const json: Record<string, JsonValue> = {
      packets: s.packets, passed: s.passed, modified: s.modified, duration: s.durationNs, verdicts: s.verdicts,
    };
    if (a.pcapOut !== undefined) json.written = s.passed;
    if (s.perPacket) json.verdict_list = s.perPacket;
    if (s.mapsTouched) json.maps_touched = s.mapsTouched.map((m) => ({ name: m.name, changed: m.changed }));
    printJson(ctx, json);
    return 0;
  }
  let text = `Packets: ${s.packets}, passed: ${s.passed}, modified: ${s.modified}, duration (average): ${s.durationNs}ns\n`;
  const width = Math.max(0, ...Object.keys(s.verdicts).map((k) => k.length));
  for (const [name, n] of Object.entries(s.verdicts)) text += `  ${name.padEnd(width)}  ${n}\n`;
  if (s.mapsTouched) {
    const list = s.mapsTouched.map((m) => `${m.name || '(unnamed)'} (${m.changed} ${m.changed === 1 ? 'entry' : 'entries'} changed)`);
    text += `Maps touched: ${list.length ? list.join(', ') : 'none'}\n`;
  }
  if (a.pcapOut !== undefined) text += `Wrote ${s.passed} packets to ${a.pcapOut}\n`;
  if (s.perPacket) s.perPacket.forEach((v, i) => { text += `${i + 1}: ${v}\n`; });
  ctx.stdout(text);
  return 0;
}

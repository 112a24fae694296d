/*
 * `bpfkit prog ...`, bpftool's prog object. For now: `prog run` over a program loaded from an
 * object file for this command only (PROG := file OBJ [sec SECTION] [name FUNC]), run by the
 * reference interpreter as BPF_PROG_TEST_RUN runs an XDP program (bpf_prog_test_run_xdp() in
 * net/bpf/test_run.c): the packet sits after XDP_PACKET_HEADROOM bytes of headroom in a page-sized
 * buffer, the linear part is at most PAGE_SIZE - headroom - tailroom bytes (or ends at ctx_in's
 * data_end) and the rest goes to fragments the program cannot reach directly, the optional
 * ctx_in is a struct xdp_md checked as the kernel checks it (metadata from ctx_in's data, taken
 * from the headroom), and the packet is not reset between repeats. This follows the kernel of
 * early 2026 (6.18.y: data_end <= data_size_in, metadata <= 216 bytes).
 *
 * Messages, output and exit codes are bpftool's: argument errors exit 255; a failed test run
 * prints "failed to run program: <strerror>" and exits with -errno & 0xff like bpftool does.
 */
import { BpfError, ERRNO, type ErrnoName } from '../errors.js';
import type { Insn } from '../isa/insn.js';
import { findProgram, openObject } from '../loader/object.js';
import { isPrefix } from './args.js';
import type { CliContext, CommandHandler } from './context.js';
import { type JsonValue, printError, printJson } from './output.js';
import { interpret } from '../vm/interpreter.js';
import { Vm } from '../vm/vm.js';

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
/* BPF_PROG_TEST_RUN for XDP                                                                   */

export const XDP_PACKET_HEADROOM = 256;
const PAGE_SIZE = 4096;
/** SKB_DATA_ALIGN(sizeof(struct skb_shared_info)) on x86_64. */
const XDP_TAILROOM = 320;
const MAX_SKB_FRAGS = 17;
const ETH_HLEN = 14;
/** sizeof(struct xdp_frame) on 64-bit machines: kept free at the start of the headroom. */
const XDP_FRAME_SIZE = 40;
/** sizeof(struct xdp_md): data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress_ifindex. */
export const XDP_MD_SIZE = 24;
/** The loopback device, whose rx queue 0 test runs use when ctx_in names no device. */
const LOOPBACK_IFINDEX = 1;

export interface XdpTestRunInput {
  insns: readonly Insn[];
  /** Section name (program type and expected attach type come from it). */
  section: string;
  dataIn?: Uint8Array;
  /** Room the caller gives for data_out (0: unlimited, like a zero data_size_out in bpf_attr). */
  dataSizeOut: number;
  ctxIn?: Uint8Array;
  /** Whether a ctx_out buffer is passed, and its size. */
  ctxOut?: { size: number };
  repeat: number;
  engine: 'interp' | 'jit';
  budget?: number;
}

export interface XdpTestRunResult {
  retval: number;
  /** Average nanoseconds per run, as the kernel reports it. */
  duration: number;
  dataOut: Uint8Array;
  ctxOut?: Uint8Array;
}

const WARM_UP: readonly Insn[] = [
  { code: 0xb7, dst: 0, src: 0, off: 0, imm: 0 },
  { code: 0x95, dst: 0, src: 0, off: 0, imm: 0 },
];

/** The test-run failure the kernel would report, as an errno. */
export class TestRunError extends BpfError {}
const einval = (why: string): never => { throw new TestRunError('EINVAL', why); };

/** Which XDP flavour a section name selects (libbpf's SEC table); undefined when not XDP. */
export function xdpSectionKind(section: string): 'xdp' | 'devmap' | 'cpumap' | undefined {
  if (section.startsWith('xdp_devmap/')) return 'devmap'; // libbpf's legacy names
  if (section.startsWith('xdp_cpumap/')) return 'cpumap';
  const m = /^xdp(\.frags)?(?:\/(.*))?$/.exec(section);
  if (!m) return undefined;
  if (m[2] === 'devmap') return 'devmap';
  if (m[2] === 'cpumap') return 'cpumap';
  return 'xdp';
}

/** bpf_prog_test_run_xdp() over the reference interpreter. Throws TestRunError with the kernel's errno. */
export async function testRunXdp(input: XdpTestRunInput): Promise<XdpTestRunResult> {
  const kind = xdpSectionKind(input.section);
  if (kind === undefined) {
    throw new BpfError('ENOTSUPP', `program type of section '${input.section}' is not supported yet (only xdp programs can run)`);
  }
  if (kind !== 'xdp') einval(`xdp/${kind} programs cannot be test-run`);
  if (input.engine === 'jit') throw new BpfError('ENOTSUPP', "engine 'jit' is not available yet (use 'engine interp')");

  // bpf_ctx_init(): ctx_in may be larger than struct xdp_md only if the tail is zero.
  let md: DataView | undefined;
  if (input.ctxIn || input.ctxOut) {
    const buf = new Uint8Array(XDP_MD_SIZE);
    if (input.ctxIn) {
      if (input.ctxIn.length > XDP_MD_SIZE && input.ctxIn.subarray(XDP_MD_SIZE).some((b) => b !== 0)) {
        throw new TestRunError('E2BIG', 'ctx_in has non-zero bytes beyond struct xdp_md');
      }
      buf.set(input.ctxIn.subarray(0, XDP_MD_SIZE));
    }
    md = new DataView(buf.buffer);
  }
  const dataIn = input.dataIn ?? new Uint8Array(0);
  const size = dataIn.length;
  let headroom = XDP_PACKET_HEADROOM;
  let metalen = 0;
  let linear = size;
  if (md) {
    const data = md.getUint32(0, true);
    const dataEnd = md.getUint32(4, true);
    const dataMeta = md.getUint32(8, true);
    // "There can't be user provided data before the meta data"; data_end may stop short of the
    // end of data_in (the rest goes to fragments).
    if (dataMeta !== 0 || dataEnd > size || data > dataEnd) einval('ctx_in: bad data/data_end/data_meta');
    // xdp_metalen_invalid(), and room for struct xdp_frame in the headroom.
    if ((data & 3) !== 0 || data > 255 || data > XDP_PACKET_HEADROOM - XDP_FRAME_SIZE) einval(`ctx_in: bad metadata size ${data}`);
    metalen = data;
    headroom -= data;
    linear = dataEnd;
  }
  const maxLinear = PAGE_SIZE - headroom - XDP_TAILROOM;
  linear = Math.min(linear, maxLinear);
  if (size - metalen < ETH_HLEN) einval(`data_in must hold at least ${ETH_HLEN} bytes after the metadata`);
  if (size > linear && Math.ceil((size - linear) / PAGE_SIZE) > MAX_SKB_FRAGS) {
    throw new TestRunError('ENOMEM', 'data_in needs more than MAX_SKB_FRAGS fragments');
  }
  // xdp_convert_md_to_buff()
  let ingressIfindex = LOOPBACK_IFINDEX;
  let rxQueueIndex = 0;
  if (md) {
    if (md.getUint32(20, true) !== 0) einval('ctx_in: egress_ifindex must be 0');
    const ifindex = md.getUint32(12, true);
    rxQueueIndex = md.getUint32(16, true);
    if (!ifindex && rxQueueIndex) einval('ctx_in: rx_queue_index without ingress_ifindex');
    if (ifindex) {
      if (ifindex !== LOOPBACK_IFINDEX) throw new TestRunError('ENODEV' as ErrnoName, `no device with ifindex ${ifindex}`);
      if (rxQueueIndex >= 1) einval(`ctx_in: device ${ifindex} has no rx queue ${rxQueueIndex}`);
    }
    ingressIfindex = LOOPBACK_IFINDEX;
  }

  const vm = new Vm();
  const buffer = vm.space.alloc(PAGE_SIZE, 'xdp_buff', { writable: true, align: PAGE_SIZE });
  const metaAddr = buffer.addr + headroom;
  const dataAddr = metaAddr + metalen;
  const dataEndAddr = metaAddr + linear;
  vm.space.write(metaAddr, dataIn.subarray(0, linear));
  const ctx = vm.space.alloc(XDP_MD_SIZE, 'xdp_md', { writable: false });
  const ctxBytes = new Uint8Array(XDP_MD_SIZE);
  const cv = new DataView(ctxBytes.buffer);
  cv.setUint32(0, dataAddr, true);
  cv.setUint32(4, dataEndAddr, true);
  cv.setUint32(8, metaAddr, true);
  cv.setUint32(12, ingressIfindex, true);
  cv.setUint32(16, rxQueueIndex, true);
  cv.setUint32(20, 0, true);
  vm.space.write(ctx.addr, ctxBytes);

  const repeat = Math.max(input.repeat, 1);
  let r0 = 0n;
  // Set up the VM's stack frames and warm the interpreter on a program that touches nothing
  // (r0 = 0; exit), so the reported duration is the program's, not first-call setup.
  interpret(vm, WARM_UP, { budget: 2 });
  const start = now();
  for (let i = 0; i < repeat; i++) {
    r0 = interpret(vm, input.insns, { args: [BigInt(ctx.addr)], budget: input.budget }).r0;
  }
  const elapsed = now() - start;
  const duration = Math.min(Math.floor(elapsed / repeat), 0xffffffff);

  // bpf_test_finish(): data_out is copied from data_meta, fragments included.
  const dataOut = new Uint8Array(size);
  dataOut.set(vm.space.read(metaAddr, linear));
  dataOut.set(dataIn.subarray(linear), linear);
  if (input.dataSizeOut && dataOut.length > input.dataSizeOut) {
    throw new TestRunError('ENOSPC', `data_out needs ${dataOut.length} bytes, data_size_out is ${input.dataSizeOut}`);
  }
  let ctxOut: Uint8Array | undefined;
  if (md && input.ctxOut) {
    // xdp_convert_buff_to_md(): data and data_end relative to data_meta; the rest as given.
    md.setUint32(0, dataAddr - metaAddr, true);
    md.setUint32(4, dataEndAddr - metaAddr, true);
    ctxOut = new Uint8Array(md.buffer.slice(0));
    if (input.ctxOut.size < XDP_MD_SIZE) throw new TestRunError('ENOSPC', `ctx_out needs ${XDP_MD_SIZE} bytes`);
  }
  return { retval: Number(BigInt.asUintN(32, r0)), duration, dataOut, ctxOut };
}

function now(): number {
  // Nanoseconds, from the high-resolution clock both Node and browsers have.
  return (globalThis as unknown as { performance: { now(): number } }).performance.now() * 1e6;
}

/* ------------------------------------------------------------------------------------------ */
/* The command                                                                                  */

const STRERROR: Record<string, string> = {
  EPERM: 'Operation not permitted', ENOENT: 'No such file or directory', E2BIG: 'Argument list too long',
  EBADF: 'Bad file descriptor', EAGAIN: 'Resource temporarily unavailable', ENOMEM: 'Cannot allocate memory',
  EACCES: 'Permission denied', EFAULT: 'Bad address', EBUSY: 'Device or resource busy', EEXIST: 'File exists',
  ENODEV: 'No such device', ENOTDIR: 'Not a directory', EISDIR: 'Is a directory', EINVAL: 'Invalid argument',
  ENOSPC: 'No space left on device', ERANGE: 'Numerical result out of range', ELOOP: 'Too many levels of symbolic links',
  ENOTSUPP: 'Unknown error 524', EROFS: 'Read-only file system', ENAMETOOLONG: 'File name too long',
};
const ERRNO_EXTRA: Record<string, number> = { ENODEV: 19 };

export function strerror(code: string): string {
  return STRERROR[code] ?? code;
}

function errnoOf(code: string): number {
  return (ERRNO as Record<string, number>)[code] ?? ERRNO_EXTRA[code] ?? 22;
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

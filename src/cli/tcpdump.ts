/*
 * `bpfkit tcpdump [-d|-dd|-ddd] [-O] [-y LINKTYPE] [-s SNAPLEN] [-r IN] [-w OUT] [-c N]
 *                 [-F FILE] [--nano] [--] EXPR`
 * tcpdump's filter side: -d/-dd/-ddd print the compiled program exactly as tcpdump does; -r reads
 * a pcap or pcapng file (`-r -`: standard input) and keeps the packets the filter accepts
 * (pcap_offline_filter semantics), written with -w as a classic savefile (`-w -`: standard output;
 * timestamps, captured and wire lengths preserved, the input's link type and snapshot length), or
 * else printed one line each. Files stream through in constant memory (net/node_capture.ts) and
 * the filter runs compiled over the read buffer; kept records of a classic little-endian input go
 * to the output in bulk (CaptureReader.keepRuns), the filter fused with the record walk into one
 * generated loop: WebAssembly over a read buffer in WebAssembly memory (net/pcap_scan_wasm.ts,
 * fast from the first packet of a short process), else JavaScript (net/pcap.ts
 * compileRecordScan, cbpf/jsc.ts). On a corrupt
 * record, what came before it is written and the error names the offset. bin/bpfkit.js starts
 * this command through node_tcpdump.ts (or its bundle), which loads only what it needs. Compile
 * errors carry libpcap's wording ("can't parse filter expression: syntax error", "expression
 * rejects all packets").
 */
import { cbpfInlineAt, compileCbpfAt } from '../cbpf/jsc.js';
import { BpfError } from '../errors.js';
import { compileFilter, FilterError, linktypeFromName } from '../filter/index.js';
import type { CaptureFileReader } from '../net/node_capture.js';
import { adjustSnaplen, CaptureReader, CHUNK_SIZE, compileRecordScan, type RecordScan } from '../net/pcap.js';
import { compileWasmScan, scanMemory, type WasmMemory } from '../net/pcap_scan_wasm.js';
import { LINKTYPE_DESCRIPTIONS, summarize } from '../net/pcap_print.js';
import type { CliContext, CommandHandler } from './context.js';

const USAGE = 'usage: bpfkit tcpdump [-d|-dd|-ddd] [-O] [-y LINKTYPE] [-s SNAPLEN] [-r IN] [-w OUT] [-c N] [-F FILE] [--nano] [--] EXPR';

/** DLT_ value -> LINKTYPE_ value for savefile headers (only RAW differs among ours). */
const DLT_TO_LINKTYPE: Readonly<Record<number, number>> = { 12: 101 };

interface Opts {
  dump: number;
  optimize: boolean;
  linktype?: string;
  snaplen?: number;
  read?: string;
  write?: string;
  count?: number;
  file?: string;
  nanos: boolean;
  expr: string[];
}

function parseArgs(args: string[]): Opts {
  const o: Opts = { dump: 0, optimize: true, nanos: false, expr: [] };
  const need = (i: number, opt: string): string => {
    if (i >= args.length) throw new BpfError('EINVAL', `option requires an argument -- '${opt}' (${USAGE})`);
    return args[i];
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--') { o.expr.push(...args.slice(i + 1)); break; }
    if (a === '--nano' || a === '--time-stamp-precision=nano') { o.nanos = true; continue; }
    if (a === '--micro' || a === '--time-stamp-precision=micro') { o.nanos = false; continue; }
    if (a === '-h' || a === '--help') throw new BpfError('EINVAL', USAGE);
    if (!a.startsWith('-') || a === '-') { o.expr.push(a); continue; }
    // Bundled short options, as getopt: -dd, -nO, -c5, -rfile.
    for (let j = 1; j < a.length; j++) {
      const c = a[j];
      const rest = a.slice(j + 1);
      const val = (): string => (rest ? rest : need(++i, c));
      switch (c) {
        case 'd': o.dump++; continue;
        case 'O': o.optimize = false; continue;
        case 'n': case 'q': case 't': case 'v': case 'e': case 'x': case 'X': case 'S': case 'p': case 'l': case 'U': case 'K': case 'N': continue;
        case 'y': o.linktype = val(); break;
        case 's': {
          const v = val();
          if (!/^\d+$/.test(v)) throw new BpfError('EINVAL', `invalid snaplen ${v}`);
          o.snaplen = Number(v) === 0 ? 262144 : Number(v);
          break;
        }
        case 'r': o.read = val(); break;
        case 'w': o.write = val(); break;
        case 'F': o.file = val(); break;
        case 'c': {
          const v = val();
          if (!/^\d+$/.test(v) || Number(v) <= 0) throw new BpfError('EINVAL', `invalid packet count ${v}`);
          o.count = Number(v);
          break;
        }
        default: throw new BpfError('EINVAL', `invalid option -- '${c}' (${USAGE})`);
      }
      break;
    }
  }
  return o;
}

/** pcap_compile() failures as tcpdump words them (the API's FilterError also carries the position). */
function compileError(e: unknown): never {
  if (e instanceof FilterError) throw new BpfError('EINVAL', e.message);
  throw e;
}

/** tcpdump's error(): `tcpdump: MESSAGE` on stderr, exit status 1. */
export const tcpdumpCommand: CommandHandler = async (args, ctx): Promise<number> => {
  try {
    return await tcpdump(args, ctx);
  } catch (err) {
    if (!(err instanceof BpfError)) throw err;
    ctx.stderr(`tcpdump: ${err.message}\n`);
    return 1;
  }
};

async function tcpdump(args: string[], ctx: CliContext): Promise<number> {
  const o = parseArgs(args);
  let expr = o.expr.join(' ');
  if (o.file) {
    try {
      // Imported here only: node:fs/promises loads readline and streams, a cost at every startup.
      const fs = await import('node:fs/promises');
      expr = (await fs.readFile(o.file, 'utf8')).replace(/#.*$/gm, '').replace(/\s+/g, ' ').trim();
    } catch (err) {
      throw new BpfError('ENOENT', `can't open ${o.file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'No such file or directory' : (err as Error).message}`);
    }
  }

  // Files are streamed (constant memory); standard input is read whole. Filtering a file into
  // another reads it into WebAssembly memory, where the compiled record scan runs.
  const memory = o.read !== undefined && o.read !== '-' && o.write !== undefined && !o.dump ? scanMemory(CHUNK_SIZE) : undefined;
  let input: CaptureFileReader | undefined;
  if (o.read !== undefined) input = await openInput(o.read, ctx, memory?.buffer);
  try {
    return await filterCapture(o, expr, input, ctx, memory?.memory);
  } finally {
    input?.close();
  }
}

async function openInput(path: string, ctx: CliContext, buffer: Uint8Array | undefined): Promise<CaptureFileReader> {
  try {
    if (path !== '-') return (await import('../net/node_capture.js')).openCaptureFile(path, buffer);
    const bytes = await ctx.readStdin();
    return { reader: new CaptureReader(bytes), close: () => {} };
  } catch (err) {
    if (err instanceof BpfError && err.code === 'ENOENT') throw err;
    throw new BpfError('EINVAL', `${path}: ${(err as Error).message.replace(`${path}: `, '')}`);
  }
}

async function filterCapture(o: Opts, expr: string, input: CaptureFileReader | undefined, ctx: CliContext, memory: WasmMemory | undefined): Promise<number> {
  const capture = input?.reader;
  let dlt: number;
  if (capture) dlt = linktypeFromName(capture.linktype);
  else if (o.linktype !== undefined) {
    try { dlt = linktypeFromName(o.linktype); } catch { throw new BpfError('EINVAL', `invalid data link type ${o.linktype}`); }
  } else {
    dlt = 1;
    if (o.dump) ctx.stderr('Warning: assuming Ethernet\n');
  }
  // pcap_snapshot() of a savefile: its header's snaplen, 0 meaning the link type's maximum.
  const fileSnaplen = capture ? adjustSnaplen(capture.linktype, capture.snaplen) : 262144;
  const snaplen = o.snaplen ?? fileSnaplen;

  let prog;
  try {
    prog = compileFilter(expr, {
      linktype: dlt, snaplen, optimize: o.optimize, netmask: 0, savefile: capture !== undefined,
      swapped: capture?.bigEndian,
    });
  } catch (e) {
    compileError(e);
  }

  if (o.dump) {
    const { dumpC, dumpDecimal, dumpImage } = await import('../cbpf/dump.js');
    ctx.stdout(o.dump === 1 ? dumpImage(prog) : o.dump === 2 ? dumpC(prog) : dumpDecimal(prog));
    return 0;
  }
  if (!capture) throw new BpfError('EINVAL', `live capture is not supported; use -r FILE or -d (${USAGE})`);

  const lt = capture.linktype;
  const [ltName, ltDescr] = LINKTYPE_DESCRIPTIONS[lt] ?? [`${lt}`, `link-type ${lt}`];
  ctx.stderr(`reading from file ${o.read}, link-type ${ltName} (${ltDescr}), snapshot length ${fileSnaplen}\n`);
  const output = o.write === undefined ? undefined
    : (await import('../net/node_capture.js')).createPcapFile(o.write === '-' ? 1 : o.write, { linktype: DLT_TO_LINKTYPE[dlt] ?? lt, snaplen: fileSnaplen, nanos: o.nanos });
  try {
    const limit = o.count ?? Infinity;
    const ifaces = capture.interfaces;
    const checkLinktype = capture.format === 'pcapng';
    let kept = 0;
    // A classic little-endian input of the output's precision: matching records are copied to
    // the output as they are, a run of them at a time (pcap_dump() would write the same bytes).
    const writer = output?.writer;
    const bulk = writer !== undefined && capture.format === 'pcap' && !capture.bigEndian && capture.nanos === o.nanos;
    const writeRaw = (buf: Uint8Array, start: number, end: number): void => writer!.writeRaw(buf, start, end);
    // The filter fused with the record walk: one generated loop per buffer fill, WebAssembly
    // where it can (fast from its first packet), else JavaScript.
    const jsScan = (): RecordScan | undefined => {
      const inline = cbpfInlineAt(prog);
      return inline === undefined ? undefined : compileRecordScan(inline);
    };
    const wasm = bulk && memory ? compileWasmScan(prog, memory, jsScan) : undefined;
    const scan = !bulk ? undefined : wasm?.scan ?? jsScan();
    const filter = wasm?.filter ?? compileCbpfAt(prog);
    // Summaries go out a few hundred lines at a time: one write per line is slow on a pipe.
    let lines = '';
    try {
      for (;;) {
        if (bulk) kept += capture.keepRuns(filter, limit - kept, writeRaw, scan);
        // One record the usual way: a refill, a record to cut, an error, pcapng, or printing.
        if (kept >= limit || !capture.next()) break;
        // pcapng: packets of interfaces with another link type than the first are not ours to filter.
        if (checkLinktype && ifaces[capture.ifIndex].linktype !== lt) continue;
        if (filter(capture.buf, capture.dataOffset, capture.caplen, capture.len) === 0) continue;
        kept++;
        if (output) output.writer.write(capture.sec, capture.nsec, capture.len, capture.buf, capture.dataOffset, capture.caplen);
        else {
          lines += summarize(capture.record(), lt) + '\n';
          if (lines.length > 32768) { ctx.stdout(lines); lines = ''; }
        }
      }
    } catch (err) {
      throw new BpfError('EINVAL', `${o.read}: ${(err as Error).message}`);
    } finally {
      if (lines) ctx.stdout(lines);
    }
  } finally {
    output?.close();
  }
  return 0;
}

/*
 * `bpfkit btf dump file FILE [format raw|c]`, bpftool's btf object (tools/bpf/bpftool/btf.c, v7.1):
 * FILE is raw BTF (starts with the BTF magic, e.g. /sys/kernel/btf/vmlinux) or an ELF object
 * whose .BTF section is dumped as is (btf__parse_elf(): no DATASEC fix-up). Messages and exit
 * statuses are bpftool's.
 */
import { BpfError } from '../errors.js';
import { parseBtf } from '../btf/parse.js';
import { dumpBtfC } from '../btf/c_dump.js';
import { dumpBtfRaw, dumpBtfRawJson, type RawJson } from '../btf/raw_dump.js';
import type { Btf } from '../btf/types.js';
import type { CommandHandler } from './context.js';
import { Argv, type BpfJsonWriter, CliExit, errnoStatus, isPrefixC, runTool, type ToolOutput } from './map.js';

const HELP = `Usage: bpfkit btf dump BTF_SRC [format FORMAT]
       bpfkit btf help

       BTF_SRC := { file FILE }
       FORMAT  := { raw | c }
       OPTIONS := { {-j|--json} [{-p|--pretty}] | {-d|--debug} }
`;

/** Read BTF from a file as bpftool does: raw BTF by magic, otherwise the .BTF of an ELF object. */
export async function loadBtfFile(path: string): Promise<Btf> {
  const { readFile } = await import('node:fs/promises');
  const bytes = new Uint8Array(await readFile(path));
  return btfFromFileBytes(bytes, path);
}

export async function btfFromFileBytes(bytes: Uint8Array, path: string): Promise<Btf> {
  if (bytes.length >= 2 && (bytes[0] | (bytes[1] << 8)) === 0xeb9f) return parseBtf(bytes, { label: path });
  const { readElf } = await import('../loader/elf.js');
  let elf;
  try {
    elf = readElf(bytes, path);
  } catch {
    // libbpf: "failed to get EHDR" -> LIBBPF_ERRNO__FORMAT
    throw new BtfLoadError('Unknown error 4001', 4001);
  }
  const sec = elf.sections.find((s) => s.name === '.BTF');
  if (!sec) throw new BtfLoadError('No such file or directory', 2);
  return parseBtf(sec.data, { label: `${path}: .BTF` });
}

class BtfLoadError extends Error {
  readonly errno: number;
  constructor(message: string, errno: number) {
    super(message);
    this.errno = errno;
  }
}

/** Write a RawJson tree through bpftool's json_writer. */
function writeJson(jw: BpfJsonWriter, v: RawJson): void {
  if (Array.isArray(v)) {
    jw.startArray();
    for (const e of v) writeJson(jw, e);
    jw.endArray();
  } else if (typeof v === 'object' && typeof v !== 'bigint') {
    jw.startObject();
    for (const [k, e] of Object.entries(v)) {
      jw.name(k);
      writeJson(jw, e);
    }
    jw.endObject();
  } else if (typeof v === 'string') {
    jw.string(v);
  } else {
    jw.uint(v);
  }
}

async function doDump(out: ToolOutput, a: Argv): Promise<number> {
  if (a.argc < 2) {
    out.err(`'${a.prev}' needs at least 2 arguments, ${a.argc} found`);
    if (!out.jw) out.ctx.stderr(HELP);
    return 255;
  }
  const src = a.get();
  if (!isPrefixC(src, 'file')) {
    if (isPrefixC(src, 'map') || isPrefixC(src, 'prog') || isPrefixC(src, 'id')) {
      return out.fail(`BTF source '${src}' is not supported by bpfkit yet (only 'file')`);
    }
    return out.fail(`unrecognized BTF source specifier: '${src}'`);
  }
  const path = a.get();
  let btf: Btf;
  try {
    btf = await loadBtfFile(path);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (err instanceof BtfLoadError) return out.fail(`failed to load BTF from ${path}: ${err.message}`, (256 - err.errno % 256) & 0xff);
    if (typeof e?.code === 'string' && typeof e.syscall === 'string') {
      const msg = e.code === 'ENOENT' ? 'No such file or directory' : e.code === 'EACCES' ? 'Permission denied' : e.code;
      return out.fail(`failed to load BTF from ${path}: ${msg}`, errnoStatus(e.code));
    }
    if (err instanceof BpfError) return out.fail(`failed to load BTF from ${path}: ${err.message}`, errnoStatus(err.code));
    throw err;
  }
  let dumpC = false;
  while (a.argc) {
    if (isPrefixC(a.cur, 'format')) {
      a.next();
      if (a.argc < 1) return out.fail("expecting value for 'format' option\n", errnoStatus('EINVAL'));
      const f = a.get();
      if (f === 'c') dumpC = true;
      else if (f === 'raw') dumpC = false;
      else return out.fail(`unrecognized format specifier: '${f}', possible values: raw, c`, errnoStatus('EINVAL'));
    } else {
      return out.fail(`unrecognized option: '${a.cur}'`, errnoStatus('EINVAL'));
    }
  }
  if (dumpC) {
    if (out.jw) return out.fail('JSON output for C-syntax dump is not supported', errnoStatus('EOPNOTSUPP'));
    out.print(dumpBtfC(btf));
    return 0;
  }
  if (out.jw) writeJson(out.jw, dumpBtfRawJson(btf) as unknown as RawJson);
  else out.print(dumpBtfRaw(btf));
  return 0;
}

export const btfCommand: CommandHandler = async (args, ctx) => runTool(ctx, async (out) => {
  const a = new Argv(args);
  const word = a.cur;
  if (word !== undefined && isPrefixC(word, 'dump')) {
    a.next();
    return doDump(out, a);
  }
  if (word === undefined || isPrefixC(word, 'help')) {
    if (!out.jw) out.print(HELP);
    return 0;
  }
  if (isPrefixC(word, 'show') || isPrefixC(word, 'list')) return out.fail('btf show is not supported by bpfkit (no kernel BTF objects)');
  if (!out.jw) out.ctx.stderr(HELP);
  throw new CliExit(255);
});

/*
 * `bpfkit btf ...`, bpftool's btf object (tools/bpf/bpftool/btf.c, v7.1):
 *  - `btf dump BTF_SRC [format raw|c]`: BTF_SRC is `file FILE` (raw BTF by its magic, e.g.
 *    /sys/kernel/btf/vmlinux, or the .BTF of an ELF object as is: btf__parse_elf() does no DATASEC
 *    fix-up), `id N` (a BTF object of the pin store), `map MAP [key|value|kv|all]` (the map's
 *    BTF, rooted at its key/value types) or `prog PROG`;
 *  - `btf show|list [id N]`: BTF objects with the programs and maps using them.
 * Messages and exit statuses are bpftool's. bpfkit's kernel has only the BTF objects loads
 * create: vmlinux and module BTF are not listed.
 */
import { BpfError } from '../errors.js';
import { parseBtf } from '../btf/parse.js';
import { dumpBtfC } from '../btf/c_dump.js';
import { dumpBtfRaw, dumpBtfRawJson, type RawJson } from '../btf/raw_dump.js';
import type { Btf } from '../btf/types.js';
import type { CommandHandler } from './context.js';
import { strerror } from '../errors.js';
import type { Bpf as Kernel } from '../kernel/bpf.js';
import {
  Argv, type BpfJsonWriter, CliExit, allIds, errnoStatus, isPrefixC, mapParseFd, openCliKernel, progParseFd, runTool,
  strtoul, type ToolOutput,
} from './map.js';

const HELP = `Usage: bpfkit btf { show | list } [id BTF_ID]
       bpfkit btf dump BTF_SRC [format FORMAT]
       bpfkit btf help

       BTF_SRC := { id BTF_ID | prog PROG | map MAP [{key | value | kv | all}] | file FILE }
       FORMAT  := { raw | c }
       MAP := { id MAP_ID | pinned FILE | name MAP_NAME }
       PROG := { id PROG_ID | pinned FILE | tag PROG_TAG | name PROG_NAME }
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
      const k = await openCliKernel();
      try {
        return await dumpKernelBtf(k, out, a, src);
      } finally {
        k.shutdown();
      }
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
  return printBtf(out, btf, parseFormat(out, a), undefined);
}

/** The `format raw|c` option (true = C). */
function parseFormat(out: ToolOutput, a: Argv): boolean {
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
  return dumpC;
}

/** dump_btf_raw() / dump_btf_c() of the whole BTF or of `roots` and what they use. */
function printBtf(out: ToolOutput, btf: Btf, dumpC: boolean, roots: number[] | undefined): number {
  if (dumpC) {
    if (out.jw) return out.fail('JSON output for C-syntax dump is not supported', errnoStatus('EOPNOTSUPP'));
    out.print(dumpBtfC(btf, roots));
    return 0;
  }
  if (out.jw) writeJson(out.jw, dumpBtfRawJson(btf, roots) as unknown as RawJson);
  else out.print(dumpBtfRaw(btf, roots));
  return 0;
}

/** strtoul(*argv, &endptr, 0) of an id, "can't parse X as ID" otherwise. */
function parseBtfId(out: ToolOutput, text: string | undefined): number {
  const r = strtoul(text ?? '');
  if (!r.ok) out.fail(`can't parse ${text} as ID`);
  return Number(BigInt.asUintN(32, r.value));
}

/** BPF_BTF_GET_FD_BY_ID as bpftool reports its failure. */
function btfFdById(k: Kernel, out: ToolOutput, id: number, what: string): number {
  try {
    return k.getFdById('btf', id);
  } catch (err) {
    if (!(err instanceof BpfError)) throw err;
    return out.fail(`${what} (${id}): ${strerror(err.code)}`, errnoStatus(err.code));
  }
}

/** `btf dump { id N | map MAP [key|value|kv|all] | prog PROG } [format raw|c]`. */
async function dumpKernelBtf(k: Kernel, out: ToolOutput, a: Argv, src: string): Promise<number> {
  let btfId: number;
  let roots: number[] | undefined;
  if (isPrefixC(src, 'map')) {
    if (a.argc < 2) {
      out.err(`'${a.prev}' needs at least 2 arguments, ${a.argc} found`);
      if (!out.jw) out.ctx.stderr(HELP);
      return 255;
    }
    const fd = mapParseFd(k, out, a);
    const info = k.mapInfo(fd);
    k.close(fd);
    btfId = info.btfId;
    const kv = [info.btfKeyTypeId, info.btfValueTypeId];
    if (a.argc && isPrefixC(a.cur, 'key')) { roots = [info.btfKeyTypeId]; a.next(); }
    else if (a.argc && isPrefixC(a.cur, 'value')) { roots = [info.btfValueTypeId]; a.next(); }
    else if (a.argc && isPrefixC(a.cur, 'all')) a.next();
    else if (a.argc && isPrefixC(a.cur, 'kv')) { roots = kv; a.next(); }
    else roots = kv;
  } else if (isPrefixC(src, 'prog')) {
    if (a.argc < 2) {
      out.err(`'${a.prev}' needs at least 2 arguments, ${a.argc} found`);
      if (!out.jw) out.ctx.stderr(HELP);
      return 255;
    }
    const fd = progParseFd(k, out, a);
    btfId = k.progInfo(fd).btfId;
    k.close(fd);
  } else {
    btfId = parseBtfId(out, a.get());
  }
  const dumpC = parseFormat(out, a);
  // btf__load_from_kernel_by_id(): bpftool reports the fd lookup, then its own failure.
  let fd: number;
  try {
    fd = k.getFdById('btf', btfId);
  } catch (err) {
    if (!(err instanceof BpfError)) throw err;
    out.err(`can't get BTF object by id (${btfId}): ${strerror(err.code)}`);
    return out.fail(`get btf by id (${btfId}): ${strerror(err.code)}`, errnoStatus(err.code));
  }
  const btf = k.btfParsed(fd);
  k.close(fd);
  return printBtf(out, btf, dumpC, roots);
}

/**
 * The ids of programs or maps using each BTF object, in the order bpftool prints them: it appends
 * them, in id order, to a libbpf hashmap (head insertion into a bucket, the chain reversed each
 * time the table grows: cap 4, 8, 16... when (size + 1) * 4 / 3 exceeds it), then walks a bucket.
 */
export function btfUserTable(users: readonly { id: number; btfId: number }[]): Map<number, number[]> {
  const table = new Map<number, number[]>();
  let size = 0;
  let cap = 0;
  for (const u of users) {
    if (!u.btfId) continue;
    if (cap === 0 || Math.floor(((size + 1) * 4) / 3) > cap) {
      cap = cap === 0 ? 4 : cap * 2;
      for (const list of table.values()) list.reverse();
    }
    const list = table.get(u.btfId);
    if (list) list.unshift(u.id);
    else table.set(u.btfId, [u.id]);
    size++;
  }
  return table;
}

/** `btf show|list [id N]` (do_show() of bpftool's btf.c). */
async function doShow(out: ToolOutput, a: Argv): Promise<number> {
  const k = await openCliKernel();
  try {
    let only: number | undefined;
    if (a.argc === 2) {
      if (!isPrefixC(a.cur, 'id')) return out.fail(`expected 'id', got: '${a.cur}'?`);
      a.next();
      const id = parseBtfId(out, a.get());
      only = btfFdById(k, out, id, "can't get BTF object by id");
    }
    if (a.argc) {
      if (only !== undefined) k.close(only);
      return out.fail(`what is '${a.cur}'?`);
    }
    const users = (kind: 'prog' | 'map') => btfUserTable(allIds(k, kind).map((id) => {
      const fd = k.getFdById(kind, id);
      try {
        return { id, btfId: kind === 'prog' ? k.progInfo(fd).btfId : k.mapInfo(fd).btfId };
      } finally {
        k.close(fd);
      }
    }));
    const progs = users('prog');
    const maps = users('map');
    const show = (fd: number): void => {
      const info = k.btfInfo(fd);
      k.close(fd);
      const p = progs.get(info.id) ?? [];
      const m = maps.get(info.id) ?? [];
      if (out.jw) {
        const jw = out.jw;
        jw.startObject();
        jw.uintField('id', info.id);
        jw.uintField('size', info.size);
        jw.name('prog_ids');
        jw.startArray();
        for (const id of p) jw.uint(id);
        jw.endArray();
        jw.name('map_ids');
        jw.startArray();
        for (const id of m) jw.uint(id);
        jw.endArray();
        jw.boolField('kernel', info.kernel);
        if (info.name) jw.stringField('name', info.name);
        jw.endObject();
        return;
      }
      let s = `${info.id}: ${info.kernel ? `name [${info.name}]  ` : info.name ? `name ${info.name}  ` : 'name <anon>  '}size ${info.size}B`;
      if (p.length) s += `  prog_ids ${p.join(',')}`;
      if (m.length) s += `  map_ids ${m.join(',')}`;
      out.print(s + '\n');
    };
    if (only !== undefined) {
      show(only);
      return 0;
    }
    if (out.jw) out.jw.startArray();
    for (const id of allIds(k, 'btf')) show(k.getFdById('btf', id));
    if (out.jw) out.jw.endArray();
    return 0;
  } finally {
    k.shutdown();
  }
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
  if (isPrefixC(word, 'show') || isPrefixC(word, 'list')) {
    a.next();
    return doShow(out, a);
  }
  if (!out.jw) out.ctx.stderr(HELP);
  throw new CliExit(255);
});

/*
 * `bpfkit map ...`, bpftool's map object (tools/bpf/bpftool/map.c), over bpfkit's kernel: each
 * process is a new kernel whose objects are those of the pin store (BPFKIT_STATE), so a map made
 * by `map create FILE ...` is pinned at FILE and visible to later commands by `pinned FILE`,
 * `id N` (ids persist in the store) or `name NAME`.
 *
 * Output, messages and exit codes are bpftool's (v7.1): argument errors exit 255; a failed
 * syscall exits with -errno & 0xff (e.g. "Error: update failed: File exists", 239); JSON (-j, -p)
 * is written by BpfJsonWriter, which reproduces bpftool's json_writer byte for byte (its pretty
 * mode has peculiar line breaks inside arrays).
 */
import { BpfError, ERRNO, type ErrnoName, strerror } from '../errors.js';
import type { Bpf as Kernel, MapFactory, MapInfo } from '../kernel/bpf.js';
import { BPF_OBJ_NAME_LEN, BPFFS_MOUNT } from '../kernel/kernel_version.js';
import { mapTypeFromName, mapTypeName } from '../kernel/names.js';
import { BPF_ANY, BPF_EXIST, BPF_NOEXIST } from '../maps/types.js';
import type { CliContext, CommandHandler } from './context.js';
import { BpfJsonWriter } from '../btf/json_writer.js';
import type { Btf } from '../btf/types.js';
import { type BtfMapEntryInfo, dumpBtfMapEntry } from '../btf/value.js';

export { BpfJsonWriter } from '../btf/json_writer.js';

/* ------------------------------------------------------------------------------------------ */
/* The frame of one bpftool-style command: output, errors, exit codes                          */

/** Ends a command with an exit status after its message was printed. */
export class CliExit extends Error {
  readonly status: number;
  constructor(status: number) {
    super(`exit ${status}`);
    this.status = status;
  }
}

export class ToolOutput {
  readonly ctx: CliContext;
  readonly jw?: BpfJsonWriter;

  constructor(ctx: CliContext) {
    this.ctx = ctx;
    if (ctx.json) this.jw = new BpfJsonWriter(ctx.pretty);
  }

  /** printf to stdout (plain mode). */
  print(text: string): void {
    this.ctx.stdout(text);
  }

  /** p_err(): `Error: msg` on stderr, or {"error": msg} in the JSON stream. */
  err(message: string): void {
    if (this.jw) {
      this.jw.startObject();
      this.jw.stringField('error', message);
      this.jw.endObject();
    } else {
      this.ctx.stderr(`Error: ${message}\n`);
    }
  }

  /** p_info(): stderr, silent in JSON mode. */
  info(message: string): void {
    if (!this.jw) this.ctx.stderr(message + '\n');
  }

  /** p_err() and leave with `status`. */
  fail(message: string, status = 255): never {
    this.err(message);
    throw new CliExit(status);
  }

  flush(): void {
    if (this.jw) this.ctx.stdout(this.jw.finish());
  }
}

/** Exit status for a failed syscall, as bpftool returns libbpf's -errno from main(). */
export function errnoStatus(code: ErrnoName | string): number {
  const n = (ERRNO as Record<string, number>)[code] ?? 1;
  return (256 - n) & 0xff;
}

/** Run a command body in bpftool's frame: output flushed, CliExit statuses returned. */
export async function runTool(ctx: CliContext, body: (out: ToolOutput) => Promise<number> | number): Promise<number> {
  const out = new ToolOutput(ctx);
  let status: number;
  try {
    status = await body(out);
  } catch (err) {
    if (err instanceof CliExit) status = err.status;
    else if (err instanceof BpfError) { out.err(err.message); status = 255; }
    else throw err;
  }
  out.flush();
  return status;
}

/** bpftool's is_prefix(): C's, so the empty word is a prefix of everything. */
export function isPrefixC(word: string | undefined, keyword: string): boolean {
  return word !== undefined && keyword.startsWith(word);
}

/** strtoul(text, &end, base) with glibc's rules; `ok` when *end == '\0'. Value modulo 2^64. */
export function strtoul(text: string, base = 0): { value: bigint; ok: boolean } {
  let i = 0;
  while (i < text.length && ' \t\n\v\f\r'.includes(text[i])) i++;
  let neg = false;
  if (text[i] === '+' || text[i] === '-') { neg = text[i] === '-'; i++; }
  let b = base;
  const hasHexPrefix = text[i] === '0' && (text[i + 1] === 'x' || text[i + 1] === 'X') && /[0-9a-fA-F]/.test(text[i + 2] ?? '');
  if ((b === 0 || b === 16) && hasHexPrefix) { b = 16; i += 2; }
  else if (b === 0) b = text[i] === '0' ? 8 : 10;
  const start = i;
  let v = 0n;
  for (; i < text.length; i++) {
    const d = parseInt(text[i], 36);
    if (Number.isNaN(d) || d >= b) break;
    v = v * BigInt(b) + BigInt(d);
  }
  if (i === start && !hasHexPrefix) {
    // No digits: strtoul leaves end at the start of the text.
    return { value: 0n, ok: text.length === 0 };
  }
  v = BigInt.asUintN(64, neg ? -v : v);
  return { value: v, ok: i === text.length };
}

/** A cursor over argv as bpftool's NEXT_ARG/REQ_ARGS macros see it. */
export class Argv {
  readonly words: string[];
  i = 0;

  constructor(words: string[]) {
    this.words = words;
  }

  get argc(): number { return this.words.length - this.i; }
  get cur(): string | undefined { return this.words[this.i]; }
  /** The word before the cursor (argv[-1]). */
  get prev(): string | undefined { return this.words[this.i - 1]; }
  next(): void { this.i++; }
  get(): string { return this.words[this.i++]; }

  /** REQ_ARGS(n). */
  req(out: ToolOutput, n: number, status = 255): void {
    if (this.argc < n) out.fail(`'${this.prev}' needs at least ${n} arguments, ${this.argc} found`, status);
  }

  /** BAD_ARG(). */
  bad(out: ToolOutput): never {
    return out.fail(`what is '${this.cur}'?`);
  }
}

/* ------------------------------------------------------------------------------------------ */
/* Opening the kernel of this process                                                          */

/** maps/index.ts's createMap, loaded lazily (`map help` needs no maps). */
async function loadMapFactory(): Promise<MapFactory> {
  return (await import('../maps/index.js')).createMap;
}

let kernelForTests: (() => Kernel) | undefined;

/** Tests: each command gets a kernel from `make` (e.g. over a memory store) instead of BPFKIT_STATE. */
export function setCliKernel(make: (() => Kernel) | undefined): void {
  kernelForTests = make;
}

/** The kernel of this command: a Bpf over the pin store in BPFKIT_STATE. */
export async function openCliKernel(): Promise<Kernel> {
  if (kernelForTests) return kernelForTests();
  const [{ Bpf }, { PinStore }, { NodeStoreFs, defaultStateDir }, createMap] = await Promise.all([
    import('../kernel/bpf.js'), import('../kernel/pin_store.js'), import('../kernel/node_store_fs.js'), loadMapFactory(),
  ]);
  const nrCpus = Number(process.env.BPFKIT_NR_CPUS ?? '') || (await possibleCpus());
  return new Bpf({ store: new PinStore(new NodeStoreFs(defaultStateDir())), createMap, nrCpus, uid: process.getuid?.() ?? 0 });
}

/** The number of possible CPUs as libbpf counts them (/sys/devices/system/cpu/possible), else 1. */
async function possibleCpus(): Promise<number> {
  try {
    const { readFileSync } = await import('node:fs');
    let n = 0;
    for (const part of readFileSync('/sys/devices/system/cpu/possible', 'utf8').trim().split(',')) {
      const [a, b] = part.split('-').map(Number);
      n += b === undefined ? 1 : b - a + 1;
    }
    return n || 1;
  } catch {
    return 1;
  }
}

/**
 * open_obj_pinned_any(): an fd for the object pinned at `path`, which must be of `kind`. The
 * messages are bpftool's, including its quirk of naming dirname(path) when the kernel says
 * EACCES (a directory, or a file outside bpffs).
 */
export function openPinned(k: Kernel, out: ToolOutput, path: string, kind: 'map' | 'prog'): number {
  let fd: number;
  try {
    fd = k.objGet(path);
  } catch (err) {
    if (!(err instanceof BpfError)) throw err;
    if (err.code === 'EISDIR' || (err.code === 'EPERM' && isBpffsRoot(path))) {
      const dir = cDirname(path);
      const onBpffs = dir === BPFFS_MOUNT || dir.startsWith(BPFFS_MOUNT + '/');
      return out.fail(`bpf obj get (${dir}): ${onBpffs ? strerror('EACCES') : 'directory not in bpf file system (bpffs)'}`);
    }
    // Outside bpffs the store has nothing: the file bpftool would open does not exist either.
    const code = err.code === 'EPERM' ? 'ENOENT' : err.code;
    return out.fail(`bpf obj get (${path}): ${strerror(code)}`);
  }
  const actual = k.objectKind(fd);
  if (actual !== kind) {
    k.close(fd);
    out.fail(`incorrect object type: ${actual}`);
  }
  return fd;
}

function isBpffsRoot(path: string): boolean {
  return path.replace(/\/+$/, '') === BPFFS_MOUNT;
}

/** dirname(3). */
function cDirname(path: string): string {
  const p = path.replace(/\/+$/, '');
  const i = p.lastIndexOf('/');
  if (i < 0) return '.';
  return i === 0 ? '/' : p.slice(0, i);
}

/** do_pin_fd(): "can't pin the object (PATH): strerror", exit -errno. */
export function pinFd(k: Kernel, out: ToolOutput, fd: number, path: string): void {
  try {
    k.objPin(fd, path);
  } catch (err) {
    if (!(err instanceof BpfError)) throw err;
    out.fail(`can't pin the object (${path}): ${strerror(err.code)}`, errnoStatus(err.code));
  }
}

/** Ids of every map or program, ascending (GET_NEXT_ID until ENOENT). */
export function allIds(k: Kernel, kind: 'map' | 'prog' | 'btf'): number[] {
  const ids: number[] = [];
  let id = 0;
  for (;;) {
    try {
      id = k.getNextId(kind, id);
    } catch (err) {
      if (err instanceof BpfError && err.code === 'ENOENT') return ids;
      throw err;
    }
    ids.push(id);
  }
}

/* ------------------------------------------------------------------------------------------ */
/* MAP := { id MAP_ID | pinned FILE | name MAP_NAME }                                          */

function parseId(out: ToolOutput, text: string): number {
  const r = strtoul(text);
  if (!r.ok) out.fail(`can't parse ${text} as ID`);
  return Number(BigInt.asUintN(32, r.value));
}

/** map_parse_fds(): one fd, or several for a name shared by maps. */
export function mapParseFds(k: Kernel, out: ToolOutput, a: Argv): number[] {
  const kw = a.cur;
  if (isPrefixC(kw, 'id')) {
    a.next();
    const id = parseId(out, a.cur ?? '');
    a.next();
    try {
      return [k.getFdById('map', id)];
    } catch (err) {
      if (!(err instanceof BpfError)) throw err;
      return out.fail(`get map by id (${id}): ${strerror(err.code)}`);
    }
  }
  if (isPrefixC(kw, 'name')) {
    a.next();
    const name = a.cur ?? '';
    if (name.length > BPF_OBJ_NAME_LEN - 1) out.fail("can't parse name");
    a.next();
    const fds: number[] = [];
    for (const id of allIds(k, 'map')) {
      const fd = k.getFdById('map', id);
      if (k.mapInfo(fd).name === name) fds.push(fd);
      else k.close(fd);
    }
    return fds;
  }
  if (isPrefixC(kw, 'pinned')) {
    a.next();
    const path = a.cur ?? '';
    a.next();
    return [openPinned(k, out, path, 'map')];
  }
  return out.fail(`expected 'id', 'name' or 'pinned', got: '${kw}'?`);
}

/** map_parse_fd(): exactly one map. */
export function mapParseFd(k: Kernel, out: ToolOutput, a: Argv): number {
  const fds = mapParseFds(k, out, a);
  if (fds.length !== 1) {
    for (const fd of fds) k.close(fd);
    if (fds.length > 1) out.fail('several maps match this handle');
    throw new CliExit(255);
  }
  return fds[0];
}

/* ------------------------------------------------------------------------------------------ */
/* Printing elements (print_entry_plain/json, fprint_hex)                                      */

function isPerCpu(type: number): boolean {
  return type === 5 || type === 6 || type === 10 || type === 21;
}

function isMapOfMaps(type: number): boolean {
  return type === 12 || type === 13;
}

function isMapOfProgs(type: number): boolean {
  return type === 3;
}

/** fprint_hex(): bytes in hex, a wider gap after 8, a new line after 16. */
export function fprintHex(data: Uint8Array, sep = ' '): string {
  let s = '';
  for (let i = 0; i < data.length; i++) {
    let pfx = '';
    if (i === 0) { /* nothing */ } else if (i % 16 === 0) s += '\n';
    else if (i % 8 === 0) s += '  ';
    else pfx = sep;
    s += (i ? pfx : '') + data[i].toString(16).padStart(2, '0');
  }
  return s;
}

function hexDataJson(jw: BpfJsonWriter, data: Uint8Array): void {
  jw.startArray();
  for (const b of data) jw.raw(`"0x${b.toString(16).padStart(2, '0')}"`);
  jw.endArray();
}

function u32le(b: Uint8Array): number {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(0, true);
}

/** A map's key/value BTF, as get_map_kv_btf() loads it: only for maps with a BTF value type. */
interface KvBtf {
  btf: Btf;
  keyTypeId: number;
  valueTypeId: number;
}

function mapKvBtf(k: Kernel, fd: number, info: MapInfo): KvBtf | undefined {
  if (!info.btfValueTypeId) return undefined;
  return k.mapBtf(fd);
}

/** do_dump_btf(): one entry as `{"key": ..., "value": ...}` formatted by BTF into `jw`. */
function dumpBtfEntry(jw: BpfJsonWriter, kv: KvBtf, info: MapInfo, key: Uint8Array, value: Uint8Array, nrCpus: number, plain: boolean): void {
  const entry: BtfMapEntryInfo = {
    keyTypeId: kv.keyTypeId, valueTypeId: kv.valueTypeId, valueSize: info.valueSize, perCpu: isPerCpu(info.type), nCpus: nrCpus,
  };
  dumpBtfMapEntry(jw, kv.btf, entry, key, value, plain);
}

function printEntryJson(jw: BpfJsonWriter, info: MapInfo, key: Uint8Array, value: Uint8Array, nrCpus: number, kv?: KvBtf): void {
  jw.startObject();
  if (!isPerCpu(info.type)) {
    jw.name('key');
    hexDataJson(jw, key.subarray(0, info.keySize));
    jw.name('value');
    hexDataJson(jw, value.subarray(0, info.valueSize));
    if (kv) {
      jw.name('formatted');
      dumpBtfEntry(jw, kv, info, key, value, nrCpus, false);
    }
  } else {
    const step = Math.ceil(info.valueSize / 8) * 8;
    jw.name('key');
    hexDataJson(jw, key.subarray(0, info.keySize));
    jw.name('values');
    jw.startArray();
    for (let i = 0; i < nrCpus; i++) {
      jw.startObject();
      jw.uintField('cpu', i);
      jw.name('value');
      hexDataJson(jw, value.subarray(i * step, i * step + info.valueSize));
      jw.endObject();
    }
    jw.endArray();
    if (kv) {
      jw.name('formatted');
      dumpBtfEntry(jw, kv, info, key, value, nrCpus, false);
    }
  }
  jw.endObject();
}

function printEntryPlain(info: MapInfo, key: Uint8Array, value: Uint8Array, nrCpus: number): string {
  let s = '';
  if (!isPerCpu(info.type)) {
    const breakNames = info.keySize > 16 || info.valueSize > 16;
    const singleLine = info.keySize + info.valueSize <= 24 && !breakNames;
    if (info.keySize) {
      s += `key:${breakNames ? '\n' : ' '}` + fprintHex(key.subarray(0, info.keySize)) + (singleLine ? '  ' : '\n');
    }
    if (info.valueSize) {
      // bpftool v7.1 prints a map-in-map's inner map id as value bytes (later ones: "inner_map_id: N").
      s += `value:${breakNames ? '\n' : ' '}` + fprintHex(value.subarray(0, info.valueSize));
    }
    return s + '\n';
  }
  const step = Math.ceil(info.valueSize / 8) * 8;
  if (info.keySize) s += 'key:\n' + fprintHex(key.subarray(0, info.keySize)) + '\n';
  if (info.valueSize) {
    for (let i = 0; i < nrCpus; i++) {
      s += `value (CPU ${String(i).padStart(2, '0')}):${info.valueSize > 16 ? '\n' : ' '}`;
      s += fprintHex(value.subarray(i * step, i * step + info.valueSize)) + '\n';
    }
  }
  return s;
}

function printEntryError(out: ToolOutput, info: MapInfo, key: Uint8Array, code: ErrnoName): void {
  if ((isMapOfMaps(info.type) || isMapOfProgs(info.type)) && code === 'ENOENT') return;
  if (out.jw) {
    out.jw.startObject();
    out.jw.name('key');
    hexDataJson(out.jw, key);
    out.jw.name('value');
    out.jw.startObject();
    out.jw.stringField('error', strerror(code));
    out.jw.endObject();
    out.jw.endObject();
    return;
  }
  const msg = code === 'ENOENT' ? '<no entry>' : strerror(code);
  const breakNames = info.keySize > 16 || msg.length > 16;
  const singleLine = info.keySize + msg.length <= 24 && !breakNames;
  out.print(`key:${breakNames ? '\n' : ' '}${fprintHex(key)}${singleLine ? '  ' : '\n'}value:${breakNames ? '\n' : ' '}${msg}\n`);
}

/** print_key_value(): lookup/pop output; a map with BTF prints its entry formatted (a writer of its own). */
function printKeyValue(k: Kernel, out: ToolOutput, info: MapInfo, key: Uint8Array, value: Uint8Array, fd: number): void {
  const kv = mapKvBtf(k, fd, info);
  if (out.jw) {
    printEntryJson(out.jw, info, key, value, k.nrCpus, kv);
  } else if (kv) {
    const w = new BpfJsonWriter(true);
    dumpBtfEntry(w, kv, info, key, value, k.nrCpus, true);
    out.print(w.finish());
  } else {
    out.print(printEntryPlain(info, key, value, k.nrCpus));
  }
}

/* ------------------------------------------------------------------------------------------ */
/* parse_elem(): [key DATA] [value VALUE] [any|exist|noexist]                                  */

interface ElemBufs {
  key?: Uint8Array;
  value?: Uint8Array;
  flags?: { value: number };
}

function parseBytes(out: ToolOutput, a: Argv, name: string, buf: Uint8Array): void {
  let base = 0;
  if (isPrefixC(a.cur, 'hex')) { base = 16; a.next(); }
  let i = 0;
  while (i < buf.length && a.cur !== undefined) {
    const r = strtoul(a.cur, base);
    if (!r.ok) out.fail(`error parsing byte: ${a.cur}`);
    buf[i++] = Number(r.value & 0xffn);
    a.next();
  }
  if (i !== buf.length) out.fail(`${name} expected ${buf.length} bytes got ${i}`);
}

function parseElem(k: Kernel, out: ToolOutput, a: Argv, info: MapInfo, bufs: ElemBufs,
  sizes: { key: number; value: number }, fdsToClose: number[]): void {
  for (;;) {
    const w = a.cur;
    if (w === undefined) {
      if (!bufs.key && !bufs.value) return;
      out.fail(`did not find ${bufs.key ? 'key' : 'value'}`);
    }
    if (isPrefixC(w, 'key')) {
      if (!bufs.key) out.fail(sizes.key ? 'duplicate key' : 'unnecessary key');
      a.next();
      parseBytes(out, a, 'key', bufs.key!);
      bufs.key = undefined;
    } else if (isPrefixC(w, 'value')) {
      if (!bufs.value) out.fail(sizes.value ? 'duplicate value' : 'unnecessary value');
      a.next();
      const value = bufs.value!;
      if (isMapOfMaps(info.type) || isMapOfProgs(info.type)) {
        const what = isMapOfMaps(info.type) ? 'map in map' : 'map of progs';
        if (sizes.value !== 4) out.fail(`value smaller than 4B for ${what}?`);
        if (a.argc < 2) out.fail(`not enough value arguments for ${what}`);
        const sub = new Argv(a.words.slice(a.i, a.i + 2));
        if (isMapOfProgs(info.type) && isPrefixC(sub.cur, 'id')) {
          out.info('Warning: updating program array via MAP_ID, make sure this map is kept open\n         by some process or pinned otherwise update will be lost');
        }
        const fd = isMapOfMaps(info.type) ? mapParseFd(k, out, sub) : progParseFd(k, out, sub);
        a.i += 2;
        fdsToClose.push(fd);
        new DataView(value.buffer, value.byteOffset).setUint32(0, fd, true);
      } else {
        const first = value.subarray(0, sizes.value);
        parseBytes(out, a, 'value', first);
        if (isPerCpu(info.type)) {
          const step = Math.ceil(sizes.value / 8) * 8;
          for (let c = 1; c * step < value.length; c++) value.set(first, c * step);
        }
      }
      bufs.value = undefined;
    } else if (isPrefixC(w, 'any') || isPrefixC(w, 'noexist') || isPrefixC(w, 'exist')) {
      if (!bufs.flags) out.fail(`flags specified multiple times: ${w}`);
      bufs.flags!.value = isPrefixC(w, 'any') ? BPF_ANY : isPrefixC(w, 'noexist') ? BPF_NOEXIST : BPF_EXIST;
      bufs.flags = undefined;
      a.next();
    } else {
      out.fail(`expected key or value, got: ${w}`);
    }
  }
}

/* ------------------------------------------------------------------------------------------ */
/* PROG := { id PROG_ID | pinned FILE | tag PROG_TAG | name PROG_NAME } (prog_parse_fds)        */

export function progParseFds(k: Kernel, out: ToolOutput, a: Argv): number[] {
  const kw = a.cur;
  if (isPrefixC(kw, 'id')) {
    a.next();
    const id = parseId(out, a.cur ?? '');
    a.next();
    try {
      return [k.getFdById('prog', id)];
    } catch (err) {
      if (!(err instanceof BpfError)) throw err;
      return out.fail(`get by id (${id}): ${strerror(err.code)}`);
    }
  }
  if (isPrefixC(kw, 'tag') || isPrefixC(kw, 'name')) {
    const byTag = isPrefixC(kw, 'tag');
    a.next();
    const want = a.cur ?? '';
    if (byTag && !/^[0-9a-fA-F]{16}/.test(want)) out.fail("can't parse tag");
    if (!byTag && want.length > 128 - 1) out.fail("can't parse name");
    a.next();
    const fds: number[] = [];
    for (const id of allIds(k, 'prog')) {
      const fd = k.getFdById('prog', id);
      const info = k.progInfo(fd);
      const hit = byTag ? info.tag === want.slice(0, 16).toLowerCase() : info.name === want;
      if (hit) fds.push(fd);
      else k.close(fd);
    }
    return fds;
  }
  if (isPrefixC(kw, 'pinned')) {
    a.next();
    const path = a.cur ?? '';
    a.next();
    return [openPinned(k, out, path, 'prog')];
  }
  return out.fail(`expected 'id', 'tag', 'name' or 'pinned', got: '${kw}'?`);
}

export function progParseFd(k: Kernel, out: ToolOutput, a: Argv): number {
  const fds = progParseFds(k, out, a);
  if (fds.length !== 1) {
    for (const fd of fds) k.close(fd);
    if (fds.length > 1) out.fail('several programs match this handle');
    throw new CliExit(255);
  }
  return fds[0];
}

/* ------------------------------------------------------------------------------------------ */
/* The commands                                                                                 */

function mapInfoOf(k: Kernel, fd: number): MapInfo {
  return k.mapInfo(fd);
}

function showHeaderPlain(info: MapInfo): string {
  const type = mapTypeName(info.type);
  return `${info.id}: ${type ? `${type}  ` : `type ${info.type}  `}${info.name ? `name ${info.name}  ` : ''}flags 0x${info.mapFlags.toString(16)}\n`;
}

function showHeaderJson(jw: BpfJsonWriter, info: MapInfo): void {
  jw.uintField('id', info.id);
  const type = mapTypeName(info.type);
  if (type) jw.stringField('type', type);
  else jw.uintField('type', info.type);
  if (info.name) jw.stringField('name', info.name);
  jw.name('flags');
  jw.raw(String(info.mapFlags >>> 0));
}

function showMapJson(jw: BpfJsonWriter, info: MapInfo): void {
  jw.startObject();
  showHeaderJson(jw, info);
  jw.uintField('bytes_key', info.keySize);
  jw.uintField('bytes_value', info.valueSize);
  jw.uintField('max_entries', info.maxEntries);
  jw.uintField('bytes_memlock', info.memlock);
  jw.uintField('frozen', info.frozen ? 1 : 0);
  if (info.btfId) jw.uintField('btf_id', info.btfId);
  jw.endObject();
}

function showMapPlain(info: MapInfo): string {
  let s = showHeaderPlain(info);
  s += `\tkey ${info.keySize}B  value ${info.valueSize}B  max_entries ${info.maxEntries}  memlock ${info.memlock}B`;
  if (info.btfId || info.frozen) s += '\n\t';
  if (info.btfId) s += `btf_id ${info.btfId}`;
  if (info.frozen) s += `${info.btfId ? '  ' : ''}frozen`;
  return s + '\n';
}

function showOne(k: Kernel, out: ToolOutput, fd: number): void {
  const info = mapInfoOf(k, fd);
  k.close(fd);
  if (out.jw) showMapJson(out.jw, info);
  else out.print(showMapPlain(info));
}

async function doShow(k: Kernel, out: ToolOutput, a: Argv): Promise<number> {
  if (a.argc === 2) {
    const fds = mapParseFds(k, out, a);
    if (fds.length < 1) return 255;
    if (out.jw && fds.length > 1) out.jw.startArray();
    for (const fd of fds) showOne(k, out, fd);
    if (out.jw && fds.length > 1) out.jw.endArray();
    return 0;
  }
  if (a.argc) a.bad(out);
  if (out.jw) out.jw.startArray();
  for (const id of allIds(k, 'map')) {
    let fd: number;
    try {
      fd = k.getFdById('map', id);
    } catch (err) {
      if (err instanceof BpfError && err.code === 'ENOENT') continue;
      throw err;
    }
    showOne(k, out, fd);
  }
  if (out.jw) out.jw.endArray();
  return 0;
}

function usage(out: ToolOutput): never {
  doHelp(out);
  throw new CliExit(255);
}

/**
 * map_dump(): `jw` is -j's writer, or in plain mode the pretty writer bpftool uses when every map
 * dumped has BTF (entries then print formatted, without the "Found N elements" line).
 */
function mapDumpOne(k: Kernel, out: ToolOutput, fd: number, showHeader: boolean, jw: BpfJsonWriter | undefined): number {
  const info = mapInfoOf(k, fd);
  const kv = jw ? mapKvBtf(k, fd, info) : undefined;
  if (jw) {
    if (showHeader) {
      jw.startObject();
      showHeaderJson(jw, info);
      jw.name('elements');
    }
    jw.startArray();
  } else if (showHeader) {
    out.print(showHeaderPlain(info));
  }
  let n = 0;
  let status = 0;
  let prev: Uint8Array | undefined;
  for (;;) {
    let key: Uint8Array;
    try {
      key = k.mapGetNextKey(fd, prev);
    } catch (err) {
      if (!(err instanceof BpfError)) throw err;
      if (err.code !== 'ENOENT') status = errnoStatus(err.code);
      break;
    }
    try {
      const value = k.mapLookup(fd, key);
      if (out.jw) printEntryJson(out.jw, info, key, value, k.nrCpus, kv);
      else if (kv && jw) dumpBtfEntry(jw, kv, info, key, value, k.nrCpus, true);
      else out.print(printEntryPlain(info, key, value, k.nrCpus));
      n++;
    } catch (err) {
      if (!(err instanceof BpfError)) throw err;
      printEntryError(out, info, key, err.code);
    }
    prev = key;
  }
  if (jw) {
    jw.endArray();
    if (showHeader) jw.endObject();
  } else {
    out.print(`Found ${n} element${n !== 1 ? 's' : ''}\n`);
  }
  return status;
}

async function doDump(k: Kernel, out: ToolOutput, a: Argv): Promise<number> {
  if (a.argc !== 2) usage(out);
  const fds = mapParseFds(k, out, a);
  if (fds.length < 1) return 255;
  // maps_have_btf(): plain output is BTF-formatted only when every map has BTF.
  const btfWriter = !out.jw && fds.every((fd) => k.mapInfo(fd).btfId) ? new BpfJsonWriter(true) : undefined;
  const jw = out.jw ?? btfWriter;
  if (jw && fds.length > 1) jw.startArray();
  let status = 0;
  for (let i = 0; i < fds.length; i++) {
    status = mapDumpOne(k, out, fds[i], fds.length > 1, jw);
    if (!jw && i !== fds.length - 1) out.print('\n');
    if (status) break;
  }
  if (jw && fds.length > 1) jw.endArray();
  if (btfWriter) out.print(btfWriter.finish());
  for (const fd of fds) k.close(fd);
  return status;
}

function valueBuf(k: Kernel, info: MapInfo): Uint8Array | undefined {
  if (!info.valueSize) return undefined;
  return new Uint8Array(isPerCpu(info.type) ? Math.ceil(info.valueSize / 8) * 8 * k.nrCpus : info.valueSize);
}

async function doUpdate(k: Kernel, out: ToolOutput, a: Argv): Promise<number> {
  if (a.argc < 2) usage(out);
  const fd = mapParseFd(k, out, a);
  const info = mapInfoOf(k, fd);
  const key = info.keySize ? new Uint8Array(info.keySize) : undefined;
  const value = valueBuf(k, info);
  const flags = { value: BPF_ANY };
  const fdsToClose: number[] = [];
  try {
    parseElem(k, out, a, info, { key, value, flags }, { key: info.keySize, value: info.valueSize }, fdsToClose);
    try {
      k.mapUpdate(fd, key, value ?? new Uint8Array(0), flags.value);
    } catch (err) {
      if (!(err instanceof BpfError)) throw err;
      out.fail(`update failed: ${strerror(err.code)}`, errnoStatus(err.code));
    }
  } finally {
    for (const f of fdsToClose) k.close(f);
  }
  out.jw?.null();
  return 0;
}

async function doLookup(k: Kernel, out: ToolOutput, a: Argv): Promise<number> {
  if (a.argc < 2) usage(out);
  const fd = mapParseFd(k, out, a);
  const info = mapInfoOf(k, fd);
  const key = info.keySize ? new Uint8Array(info.keySize) : undefined;
  parseElem(k, out, a, info, { key }, { key: info.keySize, value: 0 }, []);
  let value: Uint8Array;
  try {
    value = k.mapLookup(fd, key);
  } catch (err) {
    if (!(err instanceof BpfError)) throw err;
    if (err.code === 'ENOENT') {
      if (out.jw) out.jw.null();
      else out.print(`key:\n${fprintHex(key ?? new Uint8Array(0))}\n\nNot found\n`);
      return errnoStatus('ENOENT');
    }
    return out.fail(`lookup failed: ${strerror(err.code)}`, errnoStatus(err.code));
  }
  printKeyValue(k, out, info, key ?? new Uint8Array(0), value, fd);
  return 0;
}

async function doGetnext(k: Kernel, out: ToolOutput, a: Argv): Promise<number> {
  if (a.argc < 2) usage(out);
  const fd = mapParseFd(k, out, a);
  const info = mapInfoOf(k, fd);
  let key: Uint8Array | undefined;
  if (a.argc) {
    key = new Uint8Array(info.keySize);
    parseElem(k, out, a, info, { key: info.keySize ? key : undefined }, { key: info.keySize, value: 0 }, []);
  }
  let next: Uint8Array;
  try {
    next = k.mapGetNextKey(fd, key);
  } catch (err) {
    if (!(err instanceof BpfError)) throw err;
    return out.fail(`can't get next key: ${strerror(err.code)}`, errnoStatus(err.code));
  }
  if (out.jw) {
    out.jw.startObject();
    if (key) { out.jw.name('key'); hexDataJson(out.jw, key); } else out.jw.nullField('key');
    out.jw.name('next_key');
    hexDataJson(out.jw, next);
    out.jw.endObject();
  } else {
    out.print(key ? `key:\n${fprintHex(key)}\n` : 'key: None\n');
    out.print(`next key:\n${fprintHex(next)}\n`);
  }
  return 0;
}

async function doDelete(k: Kernel, out: ToolOutput, a: Argv): Promise<number> {
  if (a.argc < 2) usage(out);
  const fd = mapParseFd(k, out, a);
  const info = mapInfoOf(k, fd);
  const key = new Uint8Array(info.keySize);
  parseElem(k, out, a, info, { key: info.keySize ? key : undefined }, { key: info.keySize, value: 0 }, []);
  try {
    k.mapDelete(fd, key);
  } catch (err) {
    if (!(err instanceof BpfError)) throw err;
    out.fail(`delete failed: ${strerror(err.code)}`, errnoStatus(err.code));
  }
  out.jw?.null();
  return 0;
}

async function doPin(k: Kernel, out: ToolOutput, a: Argv): Promise<number> {
  a.req(out, 3, errnoStatus('EINVAL')); // do_pin_any() returns -EINVAL
  const fd = mapParseFd(k, out, a);
  pinFd(k, out, fd, a.cur ?? '');
  k.close(fd);
  out.jw?.null();
  return 0;
}

function parseU32Arg(out: ToolOutput, a: Argv, cur: number, what: string): number {
  a.next();
  if (cur) out.fail(`${what} already specified`);
  const r = strtoul(a.cur ?? '');
  if (!r.ok) out.fail(`can't parse ${a.cur} as ${what}`);
  a.next();
  return Number(BigInt.asUintN(32, r.value));
}

async function doCreate(k: Kernel, out: ToolOutput, a: Argv): Promise<number> {
  a.req(out, 7);
  const pinfile = a.get();
  let type = 0;
  let keySize = 0;
  let valueSize = 0;
  let maxEntries = 0;
  let flags = 0;
  let name: string | undefined;
  let innerFd: number | undefined;
  try {
    while (a.argc) {
      a.req(out, 2);
      const w = a.cur!;
      if (isPrefixC(w, 'type')) {
        a.next();
        if (type) out.fail('map type already specified');
        const t = mapTypeFromName(a.cur!);
        if (t === undefined) out.fail(`unrecognized map type: ${a.cur}`);
        type = t!;
        a.next();
      } else if (isPrefixC(w, 'name')) {
        a.next();
        name = a.get();
      } else if (isPrefixC(w, 'key')) {
        keySize = parseU32Arg(out, a, keySize, 'key size');
      } else if (isPrefixC(w, 'value')) {
        valueSize = parseU32Arg(out, a, valueSize, 'value size');
      } else if (isPrefixC(w, 'entries')) {
        maxEntries = parseU32Arg(out, a, maxEntries, 'max entries');
      } else if (isPrefixC(w, 'flags')) {
        flags = parseU32Arg(out, a, flags, 'flags');
      } else if (isPrefixC(w, 'dev') || isPrefixC(w, 'offload_dev')) {
        a.next();
        out.fail(`unrecognized netdevice '${a.cur}': ${strerror('ENODEV')}`);
      } else if (isPrefixC(w, 'inner_map')) {
        a.next();
        if (a.argc < 2) usage(out);
        innerFd = mapParseFd(k, out, a);
      } else {
        out.fail(`unknown arg ${w}`);
      }
    }
    if (name === undefined) out.fail('map name not specified');
    let fd: number;
    try {
      fd = k.mapCreate({
        type, keySize, valueSize, maxEntries, flags,
        name: name!.slice(0, BPF_OBJ_NAME_LEN - 1),
        innerMap: innerFd !== undefined ? k.mapOf(innerFd).map : undefined,
      });
    } catch (err) {
      if (!(err instanceof BpfError)) throw err;
      return out.fail(`map create failed: ${strerror(err.code)}`);
    }
    try {
      pinFd(k, out, fd, pinfile);
    } finally {
      k.close(fd);
    }
  } finally {
    if (innerFd !== undefined) k.close(innerFd);
  }
  out.jw?.null();
  return 0;
}

async function doPopDequeue(k: Kernel, out: ToolOutput, a: Argv): Promise<number> {
  if (a.argc < 2) usage(out);
  const fd = mapParseFd(k, out, a);
  const info = mapInfoOf(k, fd);
  let value: Uint8Array;
  try {
    value = k.mapLookupAndDelete(fd, info.keySize ? new Uint8Array(info.keySize) : undefined);
  } catch (err) {
    if (!(err instanceof BpfError)) throw err;
    if (err.code === 'ENOENT') {
      if (out.jw) out.jw.null();
      else out.print('Error: empty map\n');
      return errnoStatus('ENOENT');
    }
    return out.fail(`pop failed: ${strerror(err.code)}`, errnoStatus(err.code));
  }
  printKeyValue(k, out, info, new Uint8Array(info.keySize), value, fd);
  return 0;
}

async function doFreeze(k: Kernel, out: ToolOutput, a: Argv): Promise<number> {
  a.req(out, 2);
  const fd = mapParseFd(k, out, a);
  if (a.argc) {
    k.close(fd);
    a.bad(out);
  }
  try {
    k.mapFreeze(fd);
  } catch (err) {
    if (!(err instanceof BpfError)) throw err;
    out.fail(`failed to freeze map: ${strerror(err.code)}`, errnoStatus(err.code));
  } finally {
    k.close(fd);
  }
  out.jw?.null();
  return 0;
}

const HELP = `Usage: bpfkit map { show | list }   [MAP]
       bpfkit map create     FILE type TYPE key KEY_SIZE value VALUE_SIZE \\
                                  entries MAX_ENTRIES name NAME [flags FLAGS] \\
                                  [inner_map MAP] [dev NAME]
       bpfkit map dump       MAP
       bpfkit map update     MAP [key DATA] [value VALUE] [UPDATE_FLAGS]
       bpfkit map lookup     MAP [key DATA]
       bpfkit map getnext    MAP [key DATA]
       bpfkit map delete     MAP  key DATA
       bpfkit map pin        MAP  FILE
       bpfkit map event_pipe MAP [cpu N index M]
       bpfkit map peek       MAP
       bpfkit map push       MAP value VALUE
       bpfkit map pop        MAP
       bpfkit map enqueue    MAP value VALUE
       bpfkit map dequeue    MAP
       bpfkit map freeze     MAP
       bpfkit map help

       MAP := { id MAP_ID | pinned FILE | name MAP_NAME }
       DATA := { [hex] BYTES }
       PROG := { id PROG_ID | pinned FILE | tag PROG_TAG | name PROG_NAME }
       VALUE := { DATA | MAP | PROG }
       UPDATE_FLAGS := { any | exist | noexist }
       TYPE := { hash | array | prog_array | perf_event_array | percpu_hash |
                 percpu_array | stack_trace | cgroup_array | lru_hash |
                 lru_percpu_hash | lpm_trie | array_of_maps | hash_of_maps |
                 devmap | devmap_hash | sockmap | cpumap | xskmap | sockhash |
                 cgroup_storage | reuseport_sockarray | percpu_cgroup_storage |
                 queue | stack | sk_storage | struct_ops | ringbuf | inode_storage |
                 task_storage | bloom_filter | user_ringbuf }
       OPTIONS := { {-j|--json} [{-p|--pretty}] | {-d|--debug} }
`;

function doHelp(out: ToolOutput): number {
  if (out.jw) {
    out.jw.null();
    return 0;
  }
  out.ctx.stderr(HELP);
  return 0;
}

async function doEventPipe(_k: Kernel, out: ToolOutput): Promise<number> {
  return out.fail('event_pipe is not supported by bpfkit (no perf events)');
}

type MapCmd = (k: Kernel, out: ToolOutput, a: Argv) => Promise<number>;

const CMDS: readonly [string, MapCmd | 'help'][] = [
  ['show', doShow], ['list', doShow], ['help', 'help'], ['dump', doDump], ['update', doUpdate],
  ['lookup', doLookup], ['getnext', doGetnext], ['delete', doDelete], ['pin', doPin],
  ['event_pipe', doEventPipe], ['create', doCreate], ['peek', doLookup], ['push', doUpdate],
  ['enqueue', doUpdate], ['pop', doPopDequeue], ['dequeue', doPopDequeue], ['freeze', doFreeze],
];

/** cmd_select(): no word = the first command (show); an unknown one = help, exit 255. */
export const mapCommand: CommandHandler = async (args, ctx) => runTool(ctx, async (out) => {
  const word = args[0];
  const entry = word === undefined ? CMDS[0] : CMDS.find(([name]) => isPrefixC(word, name));
  if (!entry) {
    doHelp(out);
    return 255;
  }
  const [, cmd] = entry;
  if (cmd === 'help') return doHelp(out);
  const a = new Argv(word === undefined ? ['show'] : args);
  a.next();
  const k = await openCliKernel();
  try {
    return await cmd(k, out, a);
  } finally {
    k.shutdown();
  }
});

/*
 * `bpfkit prog ...`, bpftool's prog object. For now: `prog run` over a program loaded from an
 * object file for this command only (PROG := file OBJ [sec SECTION] [name FUNC]), run as
 * BPF_PROG_TEST_RUN runs an XDP program (progtypes/xdp.ts).
 *
 * Messages, output and exit codes are bpftool's: argument errors exit 255; a failed test run
 * prints "failed to run program: <strerror>" and exits with -errno & 0xff like bpftool does.
 */
import { BpfError, ERRNO, type ErrnoName, strerror } from '../errors.js';
import { type BpfObject, openObject } from '../loader/object.js';
import { type LoadedObject, loadObject } from '../kernel/load.js';
import { isPrefix } from './args.js';
import { openProgram, progRun } from './prog_run.js';
import { formatXlated, type XlatedOptions, xlatedJson } from '../isa/disasm_xlated.js';
import type { KProg } from '../kernel/bpf.js';
import { xlatedProgram } from '../kernel/verify.js';
import { xlatedBtfOptions } from './xlated_btf.js';
import { loadBtfFile } from './btf.js';
import { coreRelocatorFor } from '../btf/core.js';
import type { Btf } from '../btf/types.js';
export { hexPrint, parseRunArgs, type RunArgs } from './prog_run.js';
import type { CliContext, CommandHandler } from './context.js';
import { type JsonValue, printError, printJson } from './output.js';
import { TestRunError, testRunXdp, type XdpTestRunResult } from '../progtypes/xdp.js';
import type { Insn } from '../isa/insn.js';
import { copyInsn } from '../isa/insn.js';
import type { ProgInfo } from '../kernel/bpf.js';
import { progTypeFromSection, progTypeName } from '../kernel/names.js';
import {
  Argv, type BpfJsonWriter, CliExit, allIds, errnoStatus, isPrefixC, mapParseFd, openCliKernel, pinFd, progParseFd,
  progParseFds, runTool, type ToolOutput,
} from './map.js';

const PROG_COMMANDS = [
  'show', 'list', 'help', 'dump', 'pin', 'attach', 'detach', 'load', 'loadall', 'run', 'profile', 'tracelog',
] as const;

const USAGE = `Usage: bpfkit prog { show | list } [PROG]
       bpfkit prog dump xlated PROG [opcodes] [linum]
       bpfkit prog pin   PROG FILE
       bpfkit prog { load | loadall } OBJ  PATH \\
                         [type TYPE] [map {idx IDX | name NAME} MAP] \\
                         [pinmaps MAP_DIR] [kernel_btf BTF_FILE]
       bpfkit prog run PROG \\
                         { data_in FILE | pcap_in FILE [pcap_out FILE] [verbose] } \\
                         [data_out FILE [data_size_out L]] \\
                         [ctx_in FILE [ctx_out FILE [ctx_size_out M]]] \\
                         [repeat N] [engine { interp | jit }]
       bpfkit prog tracelog
       bpfkit prog help

       PROG := { id PROG_ID | pinned FILE | tag PROG_TAG | name PROG_NAME |
                 file OBJ [sec SECTION] [name FUNC] |
                 bytecode 'N,CODE JT JF K,...' | bytecode-file FILE }
`;

export const progCommand: CommandHandler = async (args, ctx) => {
  const word = args[0];
  if (word === undefined) return progShow([], ctx);
  const cmd = PROG_COMMANDS.find((c) => isPrefix(word, c));
  if (cmd === 'show' || cmd === 'list') return progShow(args.slice(1), ctx);
  if (cmd === 'pin') return progPin(args.slice(1), ctx);
  if (cmd === 'load') return progLoad(args.slice(1), ctx);
  if (cmd === 'loadall') return progLoad(args.slice(1), ctx, true);
  if (cmd === 'help') { ctx.stdout(USAGE); return 0; }
  if (cmd === 'run') return progRun(args.slice(1), ctx);
  if (cmd === 'dump') return progDump(args.slice(1), ctx);
  if (cmd === 'tracelog') return progTracelog(args.slice(1), ctx);
  if (cmd === undefined) throw new BpfError('EINVAL', `unknown command '${word}' for 'prog' (try 'bpfkit prog help')`);
  throw new BpfError('ENOTSUPP', `'prog ${cmd}' is not implemented yet`);
};

/* ------------------------------------------------------------------------------------------ */
/* Argument parsing (do_run() in bpftool's prog.c)                                             */

export interface ProgSpec {
  /** '' when the program is named by `handle`. */
  file: string;
  /** PROG := id N | pinned PATH | name NAME | tag TAG: a program of the pin store. */
  handle?: [string, string];
  section?: string;
  name?: string;
  /** PROG := bytecode 'N,c t f k,...' | bytecode-file FILE: classic BPF as tc-bpf(8) takes it. */
  bytecode?: string;
  bytecodeFile?: string;
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

/**
 * PROG := id N | pinned PATH | name NAME | tag TAG (programs of the pin store) | file OBJ [sec SECTION] [name FUNC]
 *       | bytecode 'N,c t f k,...' | bytecode-file FILE (classic BPF, run as a socket filter).
 */
export function parseProgSpec(words: string[], at: { i: number }): ProgSpec {
  const kw = words[at.i];
  if (isPrefix(kw, 'id') || isPrefix(kw, 'tag') || isPrefix(kw, 'name') || isPrefix(kw, 'pinned')) {
    const value = words[at.i + 1];
    if (value === undefined) bad(`'${kw}' needs at least 1 arguments, 0 found`);
    at.i += 2;
    return { file: '', handle: [kw, value] };
  }
  if (kw === 'bytecode' || kw === 'bytecode-file') {
    const value = words[at.i + 1];
    if (value === undefined) bad(`'${kw}' needs at least 1 arguments, 0 found`);
    at.i += 2;
    return kw === 'bytecode' ? { file: '', bytecode: value } : { file: '', bytecodeFile: value };
  }
  if (!isPrefix(kw, 'file')) bad(`expected 'id', 'tag', 'name', 'pinned', 'file', 'bytecode' or 'bytecode-file', got: '${kw}'?`);
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

/* ------------------------------------------------------------------------------------------ */
/* The command                                                                                  */

/* ------------------------------------------------------------------------------------------ */
/* Programs of the pin store: PROG := id | pinned | name | tag; prog show, pin, load            */

/** libbpf's section_defs[] names as it lists them (libbpf 1.x with bpftool v7.1; generated from its message). */
const LIBBPF_SECTION_NAMES = 'socket sk_reuseport/migrate sk_reuseport kprobe+ uprobe+ uprobe.s+ kretprobe+ uretprobe+ '
  + 'uretprobe.s+ kprobe.multi+ kretprobe.multi+ ksyscall+ kretsyscall+ usdt+ tc classifier action tracepoint+ tp+ '
  + 'raw_tracepoint+ raw_tp+ raw_tracepoint.w+ raw_tp.w+ tp_btf+ fentry+ fmod_ret+ fexit+ fentry.s+ fmod_ret.s+ fexit.s+ '
  + 'freplace+ lsm+ lsm.s+ lsm_cgroup+ iter+ iter.s+ syscall xdp.frags/devmap xdp/devmap xdp.frags/cpumap xdp/cpumap '
  + 'xdp.frags xdp perf_event lwt_in lwt_out lwt_xmit lwt_seg6local sockops sk_skb/stream_parser sk_skb/stream_verdict '
  + 'sk_skb sk_msg lirc_mode2 flow_dissector cgroup_skb/ingress cgroup_skb/egress cgroup/skb cgroup/sock_create '
  + 'cgroup/sock_release cgroup/sock cgroup/post_bind4 cgroup/post_bind6 cgroup/bind4 cgroup/bind6 cgroup/connect4 '
  + 'cgroup/connect6 cgroup/sendmsg4 cgroup/sendmsg6 cgroup/recvmsg4 cgroup/recvmsg6 cgroup/getpeername4 '
  + 'cgroup/getpeername6 cgroup/getsockname4 cgroup/getsockname6 cgroup/sysctl cgroup/getsockopt cgroup/setsockopt '
  + 'cgroup/dev struct_ops+ sk_lookup';

/** A stored program for `prog run` (its instructions as the engines run them), or undefined after an error. */
async function storedProgram(handle: [string, string], ctx: CliContext): Promise<{ insns: Insn[]; section: string } | undefined> {
  let found: { insns: Insn[]; section: string } | undefined;
  const status = await runTool(ctx, async (out) => {
    const k = await openCliKernel();
    const fd = progParseFd(k, out, new Argv([...handle]));
    found = { insns: k.progInsns(fd), section: k.progOf(fd).section };
    return 0;
  });
  return status === 0 ? found : undefined;
}

/** print_boot_time(): local time as strftime("%FT%T%z"). */
function formatLoadTime(ms: number): string {
  const d = new Date(ms);
  const p2 = (n: number): string => String(n).padStart(2, '0');
  const off = -d.getTimezoneOffset();
  const tz = `${off >= 0 ? '+' : '-'}${p2(Math.floor(Math.abs(off) / 60))}${p2(Math.abs(off) % 60)}`;
  return `${d.getFullYear()}-${p2(d.getMonth() + 1)}-${p2(d.getDate())}T${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())}${tz}`;
}

function showProgPlain(info: ProgInfo): string {
  const type = progTypeName(info.type);
  let s = `${info.id}: ${type ? `${type}  ` : `type ${info.type}  `}${info.name ? `name ${info.name}  ` : ''}tag ${info.tag}`;
  s += info.gplCompatible ? '  gpl' : '';
  s += '\n';
  s += `\tloaded_at ${formatLoadTime(info.loadTime)}  uid ${info.createdByUid}\n`;
  s += `\txlated ${info.xlatedProgLen}B`;
  s += info.jitedProgLen ? `  jited ${info.jitedProgLen}B` : '  not jited';
  s += `  memlock ${info.memlock}B`;
  if (info.mapIds.length) s += `  map_ids ${info.mapIds.join(',')}`;
  if (info.btfId) s += `\n\tbtf_id ${info.btfId}`;
  return s + '\n';
}

function showProgJson(jw: BpfJsonWriter, info: ProgInfo): void {
  jw.startObject();
  jw.uintField('id', info.id);
  const type = progTypeName(info.type);
  if (type) jw.stringField('type', type);
  else jw.uintField('type', info.type);
  if (info.name) jw.stringField('name', info.name);
  jw.stringField('tag', info.tag);
  jw.boolField('gpl_compatible', info.gplCompatible);
  jw.uintField('loaded_at', Math.floor(info.loadTime / 1000));
  jw.uintField('uid', info.createdByUid);
  jw.uintField('bytes_xlated', info.xlatedProgLen);
  jw.boolField('jited', info.jitedProgLen > 0);
  if (info.jitedProgLen) jw.uintField('bytes_jited', info.jitedProgLen);
  jw.uintField('bytes_memlock', info.memlock);
  if (info.mapIds.length) {
    jw.name('map_ids');
    jw.startArray();
    for (const id of info.mapIds) jw.uint(id);
    jw.endArray();
  }
  if (info.btfId) jw.uintField('btf_id', info.btfId);
  jw.endObject();
}

/** `prog show|list [PROG]` (do_show() of bpftool's prog.c). */
async function progShow(args: string[], ctx: CliContext): Promise<number> {
  return runTool(ctx, async (out) => {
    const k = await openCliKernel();
    const a = new Argv(args);
    const show = (fd: number): void => {
      const info = k.progInfo(fd);
      k.close(fd);
      if (out.jw) showProgJson(out.jw, info);
      else out.print(showProgPlain(info));
    };
    if (a.argc === 2) {
      const fds = progParseFds(k, out, a);
      if (fds.length < 1) return 255;
      if (out.jw && fds.length > 1) out.jw.startArray();
      for (const fd of fds) show(fd);
      if (out.jw && fds.length > 1) out.jw.endArray();
      return 0;
    }
    if (a.argc) a.bad(out);
    if (out.jw) out.jw.startArray();
    for (const id of allIds(k, 'prog')) show(k.getFdById('prog', id));
    if (out.jw) out.jw.endArray();
    return 0;
  });
}

/** `prog pin PROG FILE` (do_pin_any()). */
async function progPin(args: string[], ctx: CliContext): Promise<number> {
  return runTool(ctx, async (out) => {
    const a = new Argv(['pin', ...args]);
    a.next();
    a.req(out, 3, errnoStatus('EINVAL')); // do_pin_any() returns -EINVAL
    const k = await openCliKernel();
    const fd = progParseFd(k, out, a);
    pinFd(k, out, fd, a.cur ?? '');
    k.close(fd);
    out.jw?.null();
    return 0;
  });
}

/**
 * `prog load|loadall OBJ PATH [type TYPE] [map {idx N | name NAME} MAP] [pinmaps DIR]`
 * (load_with_options() of bpftool's prog.c): the whole object is loaded through kernel/load.ts
 * (maps created or reused from their pins, global data, relocations); `load` pins the first
 * program at PATH, `loadall` every program at PATH/NAME; `pinmaps DIR` pins every map at DIR/NAME;
 * `kernel_btf FILE` (open_opts.btf_custom_path) is the CO-RE target instead of the host's BTF.
 */
async function progLoad(args: string[], ctx: CliContext, all = false): Promise<number> {
  return runTool(ctx, async (out) => {
    const a = new Argv([all ? 'loadall' : 'load', ...args]);
    a.next();
    a.req(out, 2);
    const file = a.get();
    const path = a.get();
    let typeOverride: number | undefined;
    let pinMaps: string | undefined;
    let kernelBtfPath: string | undefined;
    const mapArgs: { idx?: number; name?: string; handle: string[] }[] = [];
    while (a.argc) {
      if (isPrefixC(a.cur, 'type')) {
        a.next();
        if (typeOverride !== undefined) out.fail('program type already specified');
        const t = a.cur === undefined ? undefined : progTypeFromSection(a.cur);
        if (t === undefined) {
          // libbpf_prog_type_by_name() of "TYPE/" fails with libbpf's two lines and no "Error:".
          out.info(`libbpf: failed to guess program type from ELF section '${a.cur}/'`);
          out.info(`libbpf: supported section(type) names are: ${LIBBPF_SECTION_NAMES}`);
          throw new CliExit(255);
        }
        typeOverride = t;
        a.next();
      } else if (isPrefixC(a.cur, 'map')) {
        a.next();
        a.req(out, 4);
        const sel: { idx?: number; name?: string; handle: string[] } = { handle: [] };
        if (isPrefixC(a.cur, 'idx')) {
          a.next();
          const v = a.get();
          if (!/^\d+$/.test(v)) out.fail(`can't parse ${v} as IDX`);
          sel.idx = Number(v);
        } else if (isPrefixC(a.cur, 'name')) {
          a.next();
          sel.name = a.get();
        } else {
          out.fail(`expected 'idx' or 'name', got: '${a.cur}'?`);
        }
        sel.handle = [a.get(), a.get()];
        mapArgs.push(sel);
      } else if (isPrefixC(a.cur, 'kernel_btf')) {
        a.next();
        a.req(out, 1);
        kernelBtfPath = a.get();
      } else if (isPrefixC(a.cur, 'pinmaps')) {
        a.next();
        a.req(out, 1);
        pinMaps = a.get();
      } else {
        out.fail(`expected no more arguments, 'type', 'map', 'offload_dev', 'xdpmeta_dev', 'pinmaps', 'autoattach', or 'kernel_btf', got: '${a.cur}'?`);
      }
    }
    let bytes: Uint8Array;
    try {
      const { readFile } = await import('node:fs/promises');
      bytes = new Uint8Array(await readFile(file));
    } catch (err) {
      out.info(`libbpf: elf: failed to open ${file}: ${strerror((err as NodeJS.ErrnoException).code ?? '')}`);
      return out.fail('failed to open object file');
    }
    let obj: BpfObject;
    try {
      obj = openObject(bytes, file);
    } catch (err) {
      if (!(err instanceof BpfError)) throw err;
      out.info(`libbpf: ${err.message}`);
      return out.fail('failed to open object file');
    }
    if (obj.programs.length === 0) return out.fail('object file doesn\'t contain any bpf program');
    const untyped = typeOverride === undefined ? obj.programs.find((p) => p.autoload && p.progType === undefined) : undefined;
    if (untyped) {
      out.info(`libbpf: failed to guess program type from ELF section '${untyped.section}'`);
      out.info(`libbpf: supported section(type) names are: ${LIBBPF_SECTION_NAMES}`);
      out.info(`libbpf: prog '${untyped.name}': missing BPF prog type, check ELF section name '${untyped.section}'`);
      return out.fail('failed to load object file', errnoStatus('EINVAL'));
    }
    const k = await openCliKernel();
    const replaceMaps: { idx?: number; name?: string; fd: number }[] = [];
    for (const m of mapArgs) {
      const fd = mapParseFd(k, out, new Argv(m.handle));
      if (m.idx !== undefined && m.idx >= obj.maps.length) out.fail(`map idx '${m.idx}' not used`);
      if (m.name !== undefined && !obj.maps.some((x) => x.name === m.name)) out.fail(`map '${m.name}' not used`);
      replaceMaps.push({ idx: m.idx, name: m.name, fd });
    }
    // bpf_object__relocate_core(): the custom target BTF is read only when CO-RE relocations need it.
    const targetBtf = kernelBtfPath !== undefined && obj.programs.some((p) => p.coreRelos.length)
      ? await readTargetBtf(out, kernelBtfPath) : undefined;
    let loaded: LoadedObject;
    try {
      // A target given here relocates with btf/'s relocator whatever the entry point registered.
      const coreRelocator = targetBtf ? coreRelocatorFor() : undefined;
      loaded = loadObject(k, obj, {
        progType: typeOverride, replaceMaps, targetBtf, coreRelocator, warn: (m) => out.info(`libbpf: ${m}`),
      }, bytes);
    } catch (err) {
      if (!(err instanceof BpfError)) throw err;
      out.info(`libbpf: ${err.message}`);
      return out.fail('failed to load object file', errnoStatus(err.code));
    }
    for (const r of replaceMaps) k.close(r.fd);
    const dir = (d: string): string => d.replace(/\/+$/, '');
    const pinned: string[] = [];
    const unpinAll = (): void => { for (const p of pinned.reverse()) { try { k.unpin(p); } catch { /* gone */ } } };
    const pin = (fd: number, at: string): boolean => {
      try {
        k.objPin(fd, at);
        pinned.push(at);
        return true;
      } catch (err) {
        if (!(err instanceof BpfError)) throw err;
        out.info(`libbpf: failed to pin at '${at}': ${strerror(err.code)}`);
        return false;
      }
    };
    try {
      if (all) {
        for (const p of loaded.programs) {
          if (!pin(p.fd, `${dir(path)}/${p.name}`)) { unpinAll(); return out.fail('failed to pin all programs'); }
        }
      } else {
        const first = loaded.programs[0];
        if (!first) return out.fail('object file doesn\'t contain any bpf program');
        if (!pin(first.fd, path)) return out.fail(`failed to pin program ${first.spec.section}`);
      }
      if (pinMaps !== undefined) {
        // bpf_object__pin_maps(): a map pinned by name stays where it is; elsewhere is an error.
        for (const m of loaded.maps) {
          const target = `${dir(pinMaps)}/${m.def.name}`;
          if (m.pinPath === target) continue;
          if (m.pinPath) out.info(`libbpf: map '${m.def.name}' already has pin path '${m.pinPath}' different from '${target}'`);
          if (m.pinPath || !pin(m.fd, target)) { unpinAll(); return out.fail('failed to pin all maps'); }
        }
      }
    } finally {
      loaded.close();
    }
    out.jw?.null();
    return 0;
  });
}

/** `kernel_btf FILE` (raw BTF or an ELF's .BTF, as btf__parse()); libbpf's message when it cannot be read. */
async function readTargetBtf(out: ToolOutput, path: string): Promise<Btf> {
  try {
    return await loadBtfFile(path);
  } catch (err) {
    const e = err as { errno?: number; code?: string };
    const errno = e.code && e.code in ERRNO ? ERRNO[e.code as ErrnoName] : Math.abs(e.errno ?? ERRNO.EINVAL);
    out.info(`libbpf: failed to parse target BTF: -${errno}`);
    return out.fail('failed to load object file', (256 - (errno % 256)) & 0xff);
  }
}

/** print_imm()'s map text for the program's map-loading ld_imm64s: `map[id:N]`, `map[id:N][0]+OFF`. */
export function xlatedMapRef(p: KProg): XlatedOptions['mapRef'] {
  return (_insn, next, pc) => {
    const ref = p.mapRefs.find((r) => r.insn === pc);
    if (!ref) return undefined;
    return ref.pseudo === 1 ? `map[id:${ref.mapId}]` : `map[id:${ref.mapId}][0]+${(next?.imm ?? 0) >>> 0}`;
  };
}

/** `prog dump xlated PROG [opcodes] [linum]` (do_dump() of bpftool's prog.c, xlated only). */
async function progDump(args: string[], ctx: CliContext): Promise<number> {
  const what = args[0];
  if (what === undefined) bad("'dump' needs at least 1 arguments, 0 found");
  if (isPrefix(what, 'jited')) throw new BpfError('ENOTSUPP', "'prog dump jited' is not implemented (bpfkit has no native JIT image)");
  if (!isPrefix(what, 'xlated')) bad(`expected 'xlated' or 'jited', got: ${what}?`);
  const at = { i: 1 };
  if (args.length < 3) bad(`'${what}' needs at least 2 arguments, ${args.length - 1} found`);
  const spec = parseProgSpec(args, at);
  const opts: XlatedOptions = {};
  for (; at.i < args.length; at.i++) {
    const w = args[at.i];
    if (isPrefix(w, 'opcodes')) opts.opcodes = true;
    else if (isPrefix(w, 'linum')) opts.linum = true;
    else bad(`expected no more arguments, 'opcodes', 'visual', 'linum' or 'file', got: '${w}'?`);
  }
  const prog = await openProgram(spec, ctx);
  if (!prog) return 255;
  try {
    // The verifier's rewrites as the kernel applied them (map references carry the map id in imm,
    // as bpf_insn_prepare_dump() shows them); a program that does not verify shows as loaded.
    const xlated = xlatedProgram(prog.kprog);
    let insns: Insn[];
    if (xlated) {
      insns = xlated.insns;
      opts.callName = (pc) => xlated.callSymbols.get(pc);
    } else {
      opts.mapRef = xlatedMapRef(prog.kprog);
      insns = prog.kprog.insns.map((x) => copyInsn(x));
      for (const r of prog.kprog.mapRefs) insns[r.insn].imm = r.mapId;
    }
    Object.assign(opts, xlatedBtfOptions(prog.kprog, xlated ? (offs) => xlated.adjustInsnOffs(offs) : undefined));
    if (ctx.json) printJson(ctx, xlatedJson(insns, opts) as unknown as JsonValue);
    else ctx.stdout(formatXlated(insns, opts));
    return 0;
  } finally {
    prog.done();
  }
}

/**
 * `prog tracelog` (do_tracelog() of bpftool's prog.c): the trace buffer in trace_pipe's line
 * format. bpfkit's buffer is the state store's file `prog run` appends bpf_trace_printk output
 * to; it is printed (and, as reading trace_pipe does, consumed) instead of followed forever.
 */
async function progTracelog(args: string[], ctx: CliContext): Promise<number> {
  if (args.length) bad(`expected no more arguments, got: '${args[0]}'?`);
  const text = (await import('./trace_buffer.js')).drainTrace();
  if (ctx.json) printJson(ctx, text.split('\n').filter((l) => l !== ''));
  else ctx.stdout(text);
  return 0;
}

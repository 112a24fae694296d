/*
 * The load pipeline: a parsed object (loader/) into one Bpf instance, as bpf_object__load() does
 * with the kernel:
 *
 *   1. maps (bpf_object__create_maps()): reuse a pinned map of the same shape (pinning
 *      LIBBPF_PIN_BY_NAME under the pin root, iproute2's PIN_GLOBAL_NS /sys/fs/bpf/tc/globals/NAME
 *      and PIN_OBJECT_NS /sys/fs/bpf/tc/<object sha1>/NAME), or create it (inner map first for
 *      map-in-map); global data maps get their initial image and .rodata/.kconfig are frozen;
 *      map-in-map `values` slots are filled; new pinned maps are pinned;
 *   2. per program: CO-RE relocation (hook), map references from the fd_array form the loader
 *      leaves (src BPF_PSEUDO_MAP_IDX[_VALUE], imm = map index) to map fds (src 1 / 2), the
 *      verifier (hook: registerVerifier()), then BPF_PROG_LOAD;
 *   3. prog array `values` slots (bpf_object__init_prog_arrays()).
 *
 * On failure every object created so far is released (pins made by this load are removed) and
 * the error names the map or program, with libbpf's words where it has some.
 *
 * runInsns() gives a loaded program's instructions as the engines run them in that Bpf's Vm:
 * map references as the maps' handle addresses, map values as the value addresses, callbacks
 * (ld_imm64 src 4) as helpers' resolvePseudoFunc() gives them.
 */
import { BpfError } from '../errors.js';
import type { Btf } from '../btf/types.js';
import { encodeBtf } from '../btf/emit.js';
import { type Insn, isLdImm64, copyInsn } from '../isa/insn.js';
import { verifyForLoad } from './verify.js';
import {
  BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_IDX, BPF_PSEUDO_MAP_IDX_VALUE, BPF_PSEUDO_MAP_VALUE,
} from '../isa/opcodes.js';
import { type BpfObject, type BpfProgramSpec, openObject, type OpenObjectOptions } from '../loader/object.js';
import {
  type KconfigValue, type MapDef, LIBBPF_PIN_BY_NAME, PIN_GLOBAL_NS, PIN_OBJECT_NS, fillKconfig,
} from '../loader/maps.js';
import { secDefForSection } from '../loader/sec_defs.js';
import type { MapSpec } from '../maps/types.js';
import type { Bpf, MapBtfAttr } from './bpf.js';
import { sha1, toHex } from './sha.js';

/** What the verifier is given for one program (the hook verifier/ fills in). */
export interface VerifyRequest {
  bpf: Bpf;
  obj: BpfObject;
  prog: BpfProgramSpec;
  progType: number;
  expectedAttachType: number;
  /** Instructions as they go to BPF_PROG_LOAD (map fds in ld_imm64 src 1 / 2). */
  insns: Insn[];
  /** Map fds by index in obj.maps (-1 for maps not created). */
  mapFds: readonly number[];
}

/** A verifier: throws BpfError (with its log) to reject; may return rewritten instructions. */
export type Verifier = (req: VerifyRequest) => Insn[] | void;

let registeredVerifier: Verifier | undefined;

/** The verifier loads use when their options name none (verifier/ registers itself here). */
export function registerVerifier(v: Verifier | undefined): void {
  registeredVerifier = v;
}

/**
 * CO-RE relocation of one program (its `coreRelos`, insn indices into `insns`) against the target
 * BTF (btf/ fills this in: libbpf's bpf_core_apply_relo_insn(), poisoning what cannot resolve);
 * returns the instructions to load. `targetBtf` is LoadObjectOptions.targetBtf (the host's
 * vmlinux BTF or a file the user gave), undefined when none was given.
 */
export type CoreRelocator = (obj: BpfObject, prog: BpfProgramSpec, insns: Insn[], targetBtf: Btf | undefined) => Insn[];

let registeredCoreRelocator: CoreRelocator | undefined;

export function registerCoreRelocator(r: CoreRelocator | undefined): void {
  registeredCoreRelocator = r;
}

export interface LoadObjectOptions extends OpenObjectOptions {
  /** Program type for every program (bpftool's `type TYPE`), overriding the sections'. */
  progType?: number;
  expectedAttachType?: number;
  /** Use existing maps instead of creating these (bpftool's `map {idx N | name NAME} MAP`). */
  replaceMaps?: { idx?: number; name?: string; fd: number }[];
  /** Root of LIBBPF_PIN_BY_NAME pins (bpf_object_open_opts.pin_root_path). Default /sys/fs/bpf. */
  pinRoot?: string;
  /** Values of .kconfig externs (LINUX_KERNEL_VERSION, CONFIG_*...). */
  kconfig?: Readonly<Record<string, KconfigValue>>;
  /** Which programs to load (default: the autoloaded ones). */
  select?: (prog: BpfProgramSpec) => boolean;
  /** Verifier for this load (default: the registered one; none = load unverified). */
  verifier?: Verifier | null;
  coreRelocator?: CoreRelocator | null;
  /** Target BTF of CO-RE relocations (e.g. parseBtf() of /sys/kernel/btf/vmlinux, or `kernel_btf FILE`). */
  targetBtf?: Btf;
  /** libbpf's warnings (pr_warn() that do not fail the load), without the "libbpf: " prefix. */
  warn?: (message: string) => void;
}

export interface LoadedMap {
  def: MapDef;
  fd: number;
  id: number;
  /** An existing map was used (pinned, or given with replaceMaps). */
  reused: boolean;
  pinPath?: string;
}

export interface LoadedProgram {
  spec: BpfProgramSpec;
  fd: number;
  id: number;
  name: string;
  type: number;
  expectedAttachType: number;
  /** As loaded (map fds in ld_imm64). */
  insns: Insn[];
}

export interface LoadedObject {
  obj: BpfObject;
  bpf: Bpf;
  maps: LoadedMap[];
  programs: LoadedProgram[];
  /** A program by function name. */
  program(name: string): LoadedProgram;
  map(name: string): LoadedMap;
  /** The instructions as the engines run them in bpf.vm (see runInsns()). */
  runInsns(prog: LoadedProgram | string): Insn[];
  /** Current bytes of a global variable (after load: from its map). */
  readGlobal(name: string): Uint8Array;
  /** Write a global variable of a .data/.bss map after load (.rodata is frozen: EPERM). */
  writeGlobal(name: string, value: Uint8Array): void;
  /** Close every fd this load holds (pinned objects stay). */
  close(): void;
}

const DEFAULT_PIN_ROOT = '/sys/fs/bpf';
const MAP_TYPE_PROG_ARRAY = 3;
const BPF_F_RDONLY_PROG = 1 << 7;

/** Read, open and load an object file's bytes: the one call `prog run file OBJ` and `prog load` need. */
export function loadObjectIntoKernel(bpf: Bpf, bytes: Uint8Array, fileName: string, opts: LoadObjectOptions = {}): LoadedObject {
  return loadObject(bpf, openObject(bytes, fileName, opts), opts, bytes);
}

/** Pin path of a map definition, or undefined when it is not pinned. */
export function mapPinPath(def: MapDef, opts: { pinRoot?: string; objectBytes?: Uint8Array }): string | undefined {
  if (def.kind === 'elf_map') {
    if (def.pinning === PIN_GLOBAL_NS) return `${DEFAULT_PIN_ROOT}/tc/globals/${def.name}`;
    if (def.pinning === PIN_OBJECT_NS) {
      const hash = opts.objectBytes ? toHex(sha1(opts.objectBytes)) : 'object';
      return `${DEFAULT_PIN_ROOT}/tc/${hash}/${def.name}`;
    }
    return undefined;
  }
  if (def.pinning === LIBBPF_PIN_BY_NAME) return `${(opts.pinRoot ?? DEFAULT_PIN_ROOT).replace(/\/+$/, '')}/${def.name}`;
  return undefined;
}

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n >>> 0, true);
  return b;
}

const BPF_MAP_TYPE_PERF_EVENT_ARRAY = 4;

function kernelSpec(def: MapDef): MapSpec {
  return {
    type: def.type, keySize: def.keySize, valueSize: def.valueSize, maxEntries: def.maxEntries, flags: def.mapFlags,
    name: def.name.slice(0, 15), numaNode: def.numaNode || undefined, mapExtra: def.mapExtra || undefined,
  };
}

/** bpf_object__load() of a parsed object into `bpf`. */
export function loadObject(bpf: Bpf, obj: BpfObject, opts: LoadObjectOptions = {}, objectBytes?: Uint8Array): LoadedObject {
  const label = obj.fileName;
  const fds: number[] = [];
  const newPins: string[] = [];
  const maps: LoadedMap[] = [];
  const programs: LoadedProgram[] = [];
  // The object's BTF as a kernel object (bpf_object__load_btf(): after the DATASEC fix-ups), held
  // by the maps and programs that use it; this load's own fd is closed at the end.
  let btfFd: number | undefined;
  try {
    if (obj.btf && !obj.btf.base) btfFd = bpf.btfLoad(encodeBtf(obj.btf));
    // 1. Maps.
    if (obj.kconfig.length) {
      const kmap = obj.maps.find((m) => m.kind === 'kconfig');
      if (kmap) fillKconfig(kmap, obj.kconfig, opts.kconfig ?? {}, label);
    }
    for (const [idx, parsed] of obj.maps.entries()) {
      // map_set_def_max_entries(): a PERF_EVENT_ARRAY without max_entries gets one slot per possible CPU.
      const def = parsed.type === BPF_MAP_TYPE_PERF_EVENT_ARRAY && !parsed.maxEntries ? { ...parsed, maxEntries: bpf.nrCpus } : parsed;
      const replace = opts.replaceMaps?.find((r) => r.idx === idx || (r.name !== undefined && r.name === def.name));
      if (replace) {
        const fd = bpf.dup(replace.fd);
        fds.push(fd);
        checkReuseCompat(bpf, fd, def, `${label}: map '${def.name}': can't use the given map`);
        maps.push({ def, fd, id: bpf.mapInfo(fd).id, reused: true });
        continue;
      }
      const pinPath = mapPinPath(def, { pinRoot: opts.pinRoot, objectBytes });
      if (pinPath && bpf.pinnedKind(pinPath) !== undefined) {
        // bpf_object__reuse_map().
        if (bpf.pinnedKind(pinPath) !== 'map') throw new BpfError('EINVAL', `${label}: map '${def.name}': '${pinPath}' is not a map`);
        const fd = bpf.objGet(pinPath);
        fds.push(fd);
        checkReuseCompat(bpf, fd, def, `${label}: map '${def.name}': couldn't reuse pinned map at '${pinPath}'`);
        maps.push({ def, fd, id: bpf.mapInfo(fd).id, reused: true, pinPath });
        continue;
      }
      const spec = kernelSpec(def);
      let innerFd: number | undefined;
      if (def.inner) {
        innerFd = bpf.mapCreate(kernelSpec({ ...def.inner, name: '' }));
        spec.innerMap = bpf.mapOf(innerFd).map;
      }
      let fd: number;
      try {
        fd = createWithBtf(bpf, spec, btfFd, def, opts.warn);
      } catch (err) {
        if (err instanceof BpfError) throw new BpfError(err.code, `${label}: map '${def.name}': failed to create: ${err.message}`);
        throw err;
      } finally {
        if (innerFd !== undefined) bpf.close(innerFd);
      }
      fds.push(fd);
      if (def.data) {
        // bpf_object__populate_internal_map(): the initial image, then freeze read-only ones.
        bpf.mapUpdate(fd, u32(0), def.data);
        if (def.kind === 'rodata' || def.kind === 'kconfig') bpf.mapFreeze(fd);
      }
      maps.push({ def, fd, id: bpf.mapInfo(fd).id, reused: false, pinPath });
    }
    // Map-in-map slots (init_map_in_map_slots()).
    for (const m of maps) {
      if (!m.def.inner || m.reused) continue;
      m.def.initSlots.forEach((target, slot) => {
        if (target === undefined) return;
        const t = maps.find((x) => x.def.name === target);
        if (!t) throw new BpfError('EINVAL', `${label}: map '${m.def.name}': slot [${slot}] target map '${target}' not found`);
        try {
          bpf.mapUpdate(m.fd, u32(slot), u32(t.fd));
        } catch (err) {
          if (err instanceof BpfError) throw new BpfError(err.code, `${label}: map '${m.def.name}': failed to initialize slot [${slot}] to map '${target}': ${err.message}`);
          throw err;
        }
      });
    }
    // Pins of new maps (bpf_object__create_maps(): pin after creation).
    for (const m of maps) {
      if (!m.pinPath || m.reused) continue;
      try {
        bpf.objPin(m.fd, m.pinPath);
      } catch (err) {
        if (err instanceof BpfError) throw new BpfError(err.code, `${label}: map '${m.def.name}': failed to auto-pin at '${m.pinPath}': ${err.message}`);
        throw err;
      }
      newPins.push(m.pinPath);
    }

    // 2. Programs.
    const mapFds = obj.maps.map((_, i) => maps[i]?.fd ?? -1);
    const select = opts.select ?? ((p: BpfProgramSpec) => p.autoload);
    const verifier = opts.verifier === null ? undefined : opts.verifier ?? registeredVerifier ?? verifyForLoad;
    const core = opts.coreRelocator === null ? undefined : opts.coreRelocator ?? registeredCoreRelocator;
    for (const spec of obj.programs) {
      if (!select(spec)) continue;
      const progType = opts.progType ?? spec.progType;
      if (progType === undefined) {
        throw new BpfError('EINVAL', `${label}: prog '${spec.name}': missing BPF prog type, check ELF section name '${spec.section}'`);
      }
      const expectedAttachType = opts.expectedAttachType
        ?? (opts.progType !== undefined ? (secDefForSection(spec.section)?.progType === opts.progType ? spec.expectedAttachType : 0) : spec.expectedAttachType);
      let insns = spec.insns.map((i) => copyInsn(i));
      if (spec.coreRelos.length) {
        if (!core) throw new BpfError('ENOTSUPP', `${label}: prog '${spec.name}': CO-RE relocations are not supported yet (${spec.coreRelos.length} relocations)`);
        insns = core(obj, spec, insns, opts.targetBtf);
      }
      insns = withMapFds(insns, mapFds, `${label}: prog '${spec.name}'`);
      checkMapValueRefs(bpf, insns, `${label}: prog '${spec.name}'`);
      if (verifier) {
        const out = verifier({ bpf, obj, prog: spec, progType, expectedAttachType, insns, mapFds });
        if (out) insns = out;
      }
      let fd: number;
      try {
        const withBtf = btfFd !== undefined && (spec.funcInfo.length > 0 || spec.lineInfo.length > 0);
        fd = bpf.progLoad({
          type: progType, insns, license: obj.license, name: spec.name.slice(0, 15), section: spec.section, expectedAttachType,
          btfFd: withBtf ? btfFd : undefined, funcInfo: withBtf ? spec.funcInfo : undefined, lineInfo: withBtf ? spec.lineInfo : undefined,
        });
      } catch (err) {
        if (err instanceof BpfError) throw new BpfError(err.code, `${label}: prog '${spec.name}': failed to load: ${err.message}`);
        throw err;
      }
      fds.push(fd);
      programs.push({ spec, fd, id: bpf.progInfo(fd).id, name: spec.name, type: progType, expectedAttachType, insns });
    }

    // 3. Prog array slots (bpf_object__init_prog_arrays()).
    for (const m of maps) {
      if (m.def.type !== MAP_TYPE_PROG_ARRAY || m.reused) continue;
      m.def.initSlots.forEach((target, slot) => {
        if (target === undefined) return;
        const p = programs.find((x) => x.name === target);
        if (!p) throw new BpfError('EINVAL', `${label}: map '${m.def.name}': can't use BPF program '${target}' for slot [${slot}]: it was not loaded`);
        bpf.mapUpdate(m.fd, u32(slot), u32(p.fd));
      });
    }
  } catch (err) {
    for (const path of newPins) { try { bpf.unpin(path); } catch { /* already gone */ } }
    for (const fd of fds.reverse()) { try { bpf.close(fd); } catch { /* closed */ } }
    throw err;
  } finally {
    if (btfFd !== undefined) bpf.close(btfFd);
  }
  return makeLoaded(bpf, obj, maps, programs);
}

/*
 * BPF_MAP_CREATE with the object's BTF for key/value types, as bpf_object__create_map(): map types
 * libbpf creates without BTF get none, and when the kernel refuses the BTF (map_check_btf()) the
 * map is created again without it ("Retrying without BTF").
 */
function createWithBtf(bpf: Bpf, spec: MapSpec, btfFd: number | undefined, def: MapDef, warn?: (m: string) => void): number {
  const attr: MapBtfAttr | undefined = btfFd !== undefined && (def.btfKeyTypeId || def.btfValueTypeId) && !LIBBPF_NO_BTF_MAP_TYPES.has(def.type)
    ? { btfFd, keyTypeId: def.btfKeyTypeId, valueTypeId: def.btfValueTypeId } : undefined;
  if (!attr) return bpf.mapCreate(spec);
  try {
    return bpf.mapCreate(spec, attr);
  } catch (err) {
    if (!(err instanceof BpfError) || err.code !== 'EINVAL') throw err;
    warn?.(`Error in bpf_create_map_xattr(${def.name.slice(0, 15)}):Invalid argument(-22). Retrying without BTF.`);
    return bpf.mapCreate(spec);
  }
}

/** Map types bpf_object__create_map() creates with btf_fd 0 (perf event arrays, map-in-map, devmaps, sockmaps, queues...). */
const LIBBPF_NO_BTF_MAP_TYPES = new Set([4, 7, 8, 12, 13, 14, 15, 16, 17, 18, 22, 23, 25, 33]);

/** map_is_reuse_compat(). */
function checkReuseCompat(bpf: Bpf, fd: number, def: MapDef, what: string): void {
  const spec = bpf.mapOf(fd).map.spec;
  const mismatch: string[] = [];
  if (spec.type !== def.type) mismatch.push(`type ${spec.type} != ${def.type}`);
  if (spec.keySize !== def.keySize) mismatch.push(`key_size ${spec.keySize} != ${def.keySize}`);
  if (spec.valueSize !== def.valueSize) mismatch.push(`value_size ${spec.valueSize} != ${def.valueSize}`);
  if (spec.maxEntries !== def.maxEntries) mismatch.push(`max_entries ${spec.maxEntries} != ${def.maxEntries}`);
  if (spec.flags !== def.mapFlags) mismatch.push(`map_flags 0x${spec.flags.toString(16)} != 0x${def.mapFlags.toString(16)}`);
  if ((spec.mapExtra ?? 0n) !== def.mapExtra) mismatch.push(`map_extra ${spec.mapExtra ?? 0n} != ${def.mapExtra}`);
  if (mismatch.length) throw new BpfError('EINVAL', `${what}: parameter mismatch (${mismatch.join(', ')})`);
}

/** The fd_array form (src 5 / 6, imm = map index) to map fds (src 1 / 2), as libbpf's bpf_object__relocate_data(). */
function withMapFds(insns: Insn[], mapFds: readonly number[], label: string): Insn[] {
  for (let i = 0; i < insns.length; i++) {
    const insn = insns[i];
    if (!isLdImm64(insn)) continue;
    if (insn.src === BPF_PSEUDO_MAP_IDX || insn.src === BPF_PSEUDO_MAP_IDX_VALUE) {
      const fd = mapFds[insn.imm];
      if (fd === undefined || fd < 0) throw new BpfError('EINVAL', `${label}: insn ${i}: map index ${insn.imm} has no map`);
      insns[i] = copyInsn(insn, { src: insn.src === BPF_PSEUDO_MAP_IDX ? BPF_PSEUDO_MAP_FD : BPF_PSEUDO_MAP_VALUE, imm: fd });
    }
    i++;
  }
  return insns;
}

/**
 * resolve_pseudo_ldimm64() for BPF_PSEUDO_MAP_VALUE: only maps with direct value access (arrays
 * of one element: array_map_direct_value_addr()), and an offset inside the value.
 */
function checkMapValueRefs(bpf: Bpf, insns: readonly Insn[], label: string): void {
  for (let i = 0; i + 1 < insns.length; i++) {
    const insn = insns[i];
    if (!isLdImm64(insn)) continue;
    if (insn.src === BPF_PSEUDO_MAP_VALUE) {
      const spec = bpf.mapOf(insn.imm).map.spec;
      const off = insns[i + 1].imm >>> 0;
      if ((spec.type !== 2 || spec.maxEntries !== 1)) {
        throw new BpfError('EINVAL', `${label}: insn ${i}: map '${spec.name ?? ''}' has no direct value access (only arrays of one element)`);
      }
      if (off >= spec.valueSize) {
        throw new BpfError('EINVAL', `${label}: insn ${i}: invalid access to map value pointer, value_size=${spec.valueSize} off=${off}`);
      }
    }
    i++;
  }
}

/**
 * A loaded program's instructions as the engines run them in bpf.vm: ld_imm64 of a map = its
 * handle address, of a map value = the value's address + offset, callbacks resolved
 * (helpers' resolvePseudoFunc()). Works for any program fd of `bpf`.
 */
export function runInsns(bpf: Bpf, progFd: number): Insn[] {
  return bpf.progInsns(progFd);
}

function makeLoaded(bpf: Bpf, obj: BpfObject, maps: LoadedMap[], programs: LoadedProgram[]): LoadedObject {
  let closed = false;
  const globalOf = (name: string) => {
    const g = obj.globals.find((x) => x.name === name);
    if (!g) throw new BpfError('ENOENT', `${obj.fileName}: no global variable '${name}'`);
    const m = maps.find((x) => x.def === g.map);
    if (!m) throw new BpfError('ENOENT', `${obj.fileName}: global variable '${name}': map '${g.map.name}' was not created`);
    return { g, m };
  };
  const loaded: LoadedObject = {
    obj, bpf, maps, programs,
    program(name) {
      const p = programs.find((x) => x.name === name);
      if (!p) throw new BpfError('ENOENT', `${obj.fileName}: no loaded program '${name}' (loaded: ${programs.map((x) => x.name).join(', ') || 'none'})`);
      return p;
    },
    map(name) {
      const m = maps.find((x) => x.def.name === name);
      if (!m) throw new BpfError('ENOENT', `${obj.fileName}: no map '${name}'`);
      return m;
    },
    runInsns(prog) {
      const p = typeof prog === 'string' ? loaded.program(prog) : prog;
      return runInsns(bpf, p.fd);
    },
    readGlobal(name) {
      const { g, m } = globalOf(name);
      return bpf.mapLookup(m.fd, u32(0)).slice(g.offset, g.offset + g.size);
    },
    writeGlobal(name, value) {
      const { g, m } = globalOf(name);
      if (value.length !== g.size) throw new BpfError('EINVAL', `global variable '${name}' is ${g.size} bytes, got ${value.length}`);
      if (m.def.mapFlags & BPF_F_RDONLY_PROG && bpf.mapInfo(m.fd).frozen) throw new BpfError('EPERM', `global variable '${name}' is read-only after load`);
      const cur = bpf.mapLookup(m.fd, u32(0));
      cur.set(value, g.offset);
      bpf.mapUpdate(m.fd, u32(0), cur);
    },
    close() {
      if (closed) return;
      closed = true;
      for (const p of programs) { try { bpf.close(p.fd); } catch { /* closed */ } }
      for (const m of maps) { try { bpf.close(m.fd); } catch { /* closed */ } }
    },
  };
  return loaded;
}

/** Skeleton-style: set a global variable's initial value before load (obj.rodata.limit = 10). */
export function setGlobal(obj: BpfObject, name: string, value: Uint8Array | number | bigint): void {
  const g = obj.globals.find((x) => x.name === name);
  if (!g) throw new BpfError('ENOENT', `${obj.fileName}: no global variable '${name}'`);
  let bytes: Uint8Array;
  if (value instanceof Uint8Array) {
    bytes = value;
  } else {
    bytes = new Uint8Array(g.size);
    let v = BigInt.asUintN(64, BigInt(value));
    for (let i = 0; i < g.size && i < 8; i++) { bytes[i] = Number(v & 0xffn); v >>= 8n; }
  }
  if (bytes.length !== g.size) throw new BpfError('EINVAL', `${obj.fileName}: global variable '${name}' is ${g.size} bytes, got ${bytes.length}`);
  g.map.data!.set(bytes, g.offset);
}

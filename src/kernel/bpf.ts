/*
 * The bpf() "syscall": one Bpf instance is one kernel. It owns a Vm whose address space holds all
 * of its maps and programs, and the object table the syscall manages:
 *
 *  - ids, monotonic per object kind (map, prog, link, btf), as idr_alloc_cyclic() hands them out;
 *    with a pin store they come from the store so they stay unique and stable across processes;
 *  - fds with refcounts: every fd holds one reference, close() drops it; an object dies when its
 *    last fd, pin and link are gone (a pinned object lives on in the store and is loaded again
 *    on demand, by id or by path);
 *  - BPF_MAP_* commands on map fds, BPF_PROG_LOAD, BPF_OBJ_PIN / BPF_OBJ_GET, GET_NEXT_ID,
 *    GET_FD_BY_ID, OBJ_GET_INFO_BY_FD (bpf_map_info / bpf_prog_info).
 *
 * Errors are BpfError with the kernel's errno: EBADF for a closed or wrong-kind fd, ENOENT for
 * unknown ids and paths, EEXIST for a taken pin path.
 *
 * Pinned maps are written through: every syscall-side change (update, delete, batch, freeze,
 * pop) reloads the stored contents under the store lock, applies the change and writes the
 * result atomically. Concurrent processes therefore never corrupt a map and never lose each
 * other's syscall-side updates. Changes programs make (helpers) reach the store only when the
 * owner asks (syncPins(), after running programs) or with the next syscall-side change of that
 * map; those writes are last-writer-wins. Closing never writes: a process that only read a
 * pinned map cannot overwrite another's newer contents with its older copy.
 */
import { BpfError } from '../errors.js';
import type { Insn } from '../isa/insn.js';
import { copyInsn } from '../isa/insn.js';
import { resolvePseudoFunc } from '../helpers/index.js';
import { BPF_F_RDONLY, BPF_F_WRONLY, type BpfMap, type MapBatch, type MapEnv, type MapSpec, type ProgRef } from '../maps/types.js';
import { Vm, type VmOptions } from '../vm/vm.js';
import { type KernelVersion, BPF_OBJ_NAME_LEN, DEFAULT_KERNEL_VERSION, KERNEL_STRUCT_SIZES } from './kernel_version.js';
import { PinStore, type ObjKind, type StoredObject } from './pin_store.js';
import { findSpinLockOff } from '../btf/fields.js';
import { parseBtf } from '../btf/parse.js';
import { BTF_KIND, type Btf } from '../btf/types.js';
import { calcProgTag } from './prog_tag.js';
import { xlatedProgram } from './verify.js';
import { trustIfVerified } from './verified_tier.js';

/** Creates a map of any supported type (maps/index.ts createMap). */
export type MapFactory = (env: MapEnv, spec: MapSpec) => BpfMap;

let defaultMapFactory: MapFactory | undefined;

/** The map factory Bpf instances use when their options name none (set by api/index.ts). */
export function setDefaultMapFactory(factory: MapFactory): void {
  defaultMapFactory = factory;
}

export interface BpfOptions {
  /** Pin store; without one, pins live only as long as this instance. */
  store?: PinStore;
  /** Number of possible CPUs (per-CPU maps). Default 1. */
  nrCpus?: number;
  /** Kernel version whose behaviour to follow (program tag hash...). Default 6.18. */
  kernelVersion?: KernelVersion;
  /** Map implementation. Default: the one registered with setDefaultMapFactory(). */
  createMap?: MapFactory;
  vm?: VmOptions;
  /** uid reported in bpf_prog_info. Default 0. */
  uid?: number;
  /** Clock for load_time (ms since the epoch). Default Date.now. */
  now?: () => number;
}

/** bpf_map_info, the fields bpfkit fills. */
export interface MapInfo {
  type: number;
  id: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  mapFlags: number;
  name: string;
  frozen: boolean;
  mapExtra: bigint;
  btfId: number;
  /** BTF type ids of key and value (0 = none). */
  btfKeyTypeId: number;
  btfValueTypeId: number;
  /** What fdinfo's memlock says (an estimate of the kernel's accounting). */
  memlock: number;
}

/** bpf_prog_info, the fields bpfkit fills. */
export interface ProgInfo {
  type: number;
  id: number;
  tag: string;
  name: string;
  xlatedProgLen: number;
  jitedProgLen: number;
  mapIds: number[];
  /** Wall-clock load time in ms since the epoch (the kernel keeps boot-time ns). */
  loadTime: number;
  createdByUid: number;
  gplCompatible: boolean;
  btfId: number;
  memlock: number;
}

export interface ProgLoadAttr {
  type: number;
  insns: readonly Insn[];
  license: string;
  name?: string;
  /** Section the program came from (kept for pinned programs, e.g. for XDP's devmap/cpumap kinds). */
  section?: string;
  /** expected_attach_type (enum bpf_attach_type; 0 when none): some context fields depend on it. */
  expectedAttachType?: number;
  /** prog_btf_fd: the BTF func_info / line_info refer to (a BTF object's fd). */
  btfFd?: number;
  /** bpf_func_info records (insn = instruction slot, typeId = a BTF FUNC). */
  funcInfo?: readonly ProgFuncInfo[];
  /** bpf_line_info records, strings resolved (insn = instruction slot, strictly increasing). */
  lineInfo?: readonly ProgLineInfo[];
}

export interface ProgFuncInfo { insn: number; typeId: number }
export interface ProgLineInfo { insn: number; fileName: string; line: string; lineNum: number; lineCol: number }

/** BPF_MAP_CREATE's btf_fd / btf_key_type_id / btf_value_type_id. */
export interface MapBtfAttr { btfFd: number; keyTypeId: number; valueTypeId: number }

/** What a map or program knows of its BTF (for formatted dumps). */
export interface ObjBtf { btfId: number; btf: Btf }

interface KObject {
  readonly kind: ObjKind;
  readonly id: number;
  /** fds + links. */
  refs: number;
  /** Present in the store (pinned, or used by a pinned program). */
  persisted: boolean;
  dead: boolean;
}

export interface KMap extends KObject {
  readonly kind: 'map';
  readonly map: BpfMap;
  /** Version of the stored object this map's contents match (pinned maps). */
  storeVersion?: string;
  readonly name: string;
  readonly innerSpec?: MapSpec;
  /** User references held by fds (pins count through the pin table): the kernel's map->usercnt. */
  urefs: number;
  /** The BTF object of the map's key/value types (held: one reference). */
  readonly btf?: KBtf;
  readonly btfKeyTypeId?: number;
  readonly btfValueTypeId?: number;
}

/** A BTF object (BPF_BTF_LOAD): the raw BTF, parsed on demand. */
export interface KBtf extends KObject {
  readonly kind: 'btf';
  readonly raw: Uint8Array;
  parsed?: Btf;
}

export interface KProg extends KObject {
  readonly kind: 'prog';
  readonly type: number;
  readonly name: string;
  readonly tag: string;
  readonly license: string;
  readonly gpl: boolean;
  readonly section: string;
  /** expected_attach_type at load (0: none); the verifier's context rules depend on it. */
  readonly expectedAttachType: number;
  /** The instructions as loaded (map references as map ids in `mapRefs`). */
  readonly insns: readonly Insn[];
  /** Slot of each map-loading ld_imm64 and the id of its map. */
  readonly mapRefs: readonly { insn: number; mapId: number; pseudo: number }[];
  readonly mapIds: readonly number[];
  readonly loadTime: number;
  readonly uid: number;
  /** The maps the program holds a reference to. */
  readonly maps: readonly KMap[];
  /** prog_btf_fd's object (held), with the func_info / line_info records given at load. */
  readonly btf?: KBtf;
  readonly funcInfo?: readonly ProgFuncInfo[];
  readonly lineInfo?: readonly ProgLineInfo[];
}

/**
 * A link (BPF_LINK_CREATE): holds its program attached to a hook until it is detached or dies.
 * The hooks themselves (XDP on a device, tc, ...) belong to net/; here a link is the object:
 * id, fd, pin, and the program reference that keeps the program alive.
 */
export interface KLink extends KObject {
  readonly kind: 'link';
  /** The program, until BPF_LINK_DETACH. */
  prog?: KProg;
  readonly attachType: number;
  readonly targetIfindex: number;
}

/** bpf_link_info, the fields bpfkit fills. */
export interface LinkInfo {
  id: number;
  /** 0 once detached. */
  progId: number;
  attachType: number;
  targetIfindex: number;
}

type FdObject = KMap | KProg | KLink | KBtf;
type IdKind = 'map' | 'prog' | 'link' | 'btf';

const BPF_LD_IMM_DW = 0x18;
const BPF_PSEUDO_MAP_FD = 1;
const BPF_PSEUDO_MAP_VALUE = 2;
const BPF_PSEUDO_MAP_IDX = 5;
const BPF_PSEUDO_MAP_IDX_VALUE = 6;

/** License strings the kernel counts as GPL-compatible (license_is_gpl_compatible()). */
export function licenseIsGplCompatible(license: string): boolean {
  return ['GPL', 'GPL v2', 'GPL and additional rights', 'Dual BSD/GPL', 'Dual MIT/GPL', 'Dual MPL/GPL']
    .includes(license);
}

/** An object name as the kernel checks it (bpf_obj_name_cpy()): [A-Za-z0-9_.], < 16 chars. */
function checkObjName(name: string): string {
  if (name.length >= BPF_OBJ_NAME_LEN) throw new BpfError('EINVAL', `object name '${name}' is longer than ${BPF_OBJ_NAME_LEN - 1} characters`);
  if (!/^[A-Za-z0-9_.]*$/.test(name)) throw new BpfError('EINVAL', `object name '${name}' has characters other than [A-Za-z0-9_.]`);
  return name;
}

/**
 * The kernel's memory accounting of a map as fdinfo's memlock shows it (each type's
 * map_mem_usage(), struct sizes from kernel_version.ts), checked against bpftool for every type
 * below. Maps whose usage grows with their contents (LPM trie, BPF_F_NO_PREALLOC hashes) report
 * their empty size.
 */
export function estimateMapMemlock(spec: MapSpec, nrCpus: number): number {
  const S = KERNEL_STRUCT_SIZES;
  const round8 = (n: number): number => Math.ceil(n / 8) * 8;
  const pow2 = (n: number): number => 2 ** Math.ceil(Math.log2(Math.max(n, 1)));
  const value = round8(spec.valueSize);
  const n = spec.maxEntries;
  switch (spec.type) {
    case 2: case 6: { // array_map_mem_usage(): elements (percpu: pointers + per-CPU areas)
      const percpu = spec.type === 6;
      return S.bpf_array + (percpu ? 8 * n + value * n * nrCpus : value * n);
    }
    case 3: case 4: case 12: // fd arrays: a pointer per element
      return S.bpf_array + 8 * n;
    case 1: case 5: case 9: case 10: case 13: { // htab_map_mem_usage()
      const percpu = spec.type === 5 || spec.type === 10;
      const lru = spec.type === 9 || spec.type === 10;
      const fdHtab = spec.type === 13;
      const elemSize = S.htab_elem + round8(spec.keySize) + (percpu || fdHtab ? 8 : value);
      let usage = S.bpf_htab + S.htab_bucket * pow2(n) + 4 * nrCpus * S.htab_map_lock_count;
      if (spec.flags & 1) return usage; // BPF_F_NO_PREALLOC: elements count as they are allocated
      const entries = n + (!percpu && !lru && !fdHtab ? nrCpus : 0);
      usage += elemSize * entries;
      if (percpu) usage += value * nrCpus * entries;
      else if (!lru) usage += 8 * nrCpus;
      return usage;
    }
    case 22: case 23: // queue_stack_map_mem_usage()
      return S.bpf_queue_stack + (n + 1) * spec.valueSize;
    case 14: return S.bpf_dtab + 8 * n; // devmap: a pointer per slot
    case 25: return S.bpf_dtab + 8 * pow2(n); // devmap_hash: buckets
    case 16: return S.bpf_cpu_map + 8 * n;
    case 17: return S.xsk_map + 8 * n;
    case 27: { // ringbuf: meta pages + data pages + the page pointer array (data pages mapped twice)
      const pages = Math.floor(n / S.page_size);
      return S.bpf_ringbuf_map + (S.ringbuf_meta_pages + pages) * S.page_size + (S.ringbuf_meta_pages + 2 * pages) * 8;
    }
    case 30: { // bloom filter: the bitset (bits ~ entries * hashes / ln 2, a power of two)
      const hashes = Number(spec.mapExtra ?? 0n) & 0xf || 5;
      const bits = Math.max(Math.floor((n * hashes) / 5) * 7, 1);
      return S.bpf_bloom_filter + Math.max(pow2(bits) / 8, 8);
    }
    default:
      return 0;
  }
}

function b64(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

function unb64(text: string): Uint8Array {
  const s = atob(text);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

export class Bpf {
  readonly vm: Vm;
  readonly nrCpus: number;
  readonly kernelVersion: KernelVersion;
  readonly store?: PinStore;
  private readonly factory?: MapFactory;
  private readonly uid: number;
  private readonly now: () => number;
  private readonly fds = new Map<number, FdObject>();
  private readonly live = {
    map: new Map<number, KMap>(), prog: new Map<number, KProg>(), link: new Map<number, KLink>(), btf: new Map<number, KBtf>(),
  };
  /** In-memory pins (no store). */
  private readonly memPins = new Map<string, FdObject>();
  private readonly nextIds: Record<ObjKind, number> = { map: 1, prog: 1, link: 1, btf: 1 };
  private nextFd = 3;

  constructor(options: BpfOptions = {}) {
    this.vm = new Vm(options.vm);
    this.nrCpus = options.nrCpus ?? 1;
    this.kernelVersion = options.kernelVersion ?? DEFAULT_KERNEL_VERSION;
    this.store = options.store;
    this.factory = options.createMap;
    this.uid = options.uid ?? 0;
    this.now = options.now ?? Date.now;
  }

  /** What maps see of this kernel: the address space, CPUs, and the object table for fd-holding maps. */
  get mapEnv(): MapEnv {
    this.env ??= {
      space: this.vm.space,
      nrCpus: this.nrCpus,
      mapFromFd: (fd) => { const o = this.fds.get(fd); return o?.kind === 'map' ? o.map : undefined; },
      mapId: (map) => this.byMap.get(map)?.id ?? 0,
      progFromFd: (fd) => { const o = this.fds.get(fd); return o?.kind === 'prog' ? this.progRef(o) : undefined; },
      progId: (prog) => this.byProgRef.get(prog)?.id ?? 0,
      mapFromId: (id) => { try { return (this.objectById('map', id) as KMap).map; } catch { return undefined; } },
      progFromId: (id) => { try { return this.progRef(this.objectById('prog', id) as KProg); } catch { return undefined; } },
      hold: (obj) => { const k = this.kobjOf(obj); if (k) k.refs++; },
      release: (obj) => { const k = this.kobjOf(obj); if (k) this.release(k); },
    };
    return this.env;
  }

  private env?: MapEnv;
  private readonly byMap = new WeakMap<BpfMap, KMap>();
  private readonly byProgRef = new WeakMap<ProgRef, KProg>();
  private readonly progRefs = new WeakMap<KProg, ProgRef>();

  private kobjOf(obj: BpfMap | ProgRef): FdObject | undefined {
    return this.byMap.get(obj as BpfMap) ?? this.byProgRef.get(obj as ProgRef);
  }

  /** The program as maps hold it (PROG_ARRAY, DEVMAP/CPUMAP): xlated instructions, type, name. */
  progRef(p: KProg): ProgRef {
    let ref = this.progRefs.get(p);
    if (!ref) {
      ref = { insns: this.runnable(p), type: p.type, name: p.name };
      this.progRefs.set(p, ref);
      this.byProgRef.set(ref, p);
    }
    return ref;
  }

  /* ---------------------------------------------------------------------------------------- */
  /* fds and ids                                                                                */

  private allocId(kind: ObjKind): number {
    if (this.store) return this.store.allocId(kind);
    return this.nextIds[kind]++;
  }

  private installFd(obj: FdObject): number {
    const fd = this.nextFd++;
    obj.refs++;
    if (obj.kind === 'map') obj.urefs++;
    this.fds.set(fd, obj);
    return fd;
  }

  private object(fd: number): FdObject {
    const obj = this.fds.get(fd);
    if (!obj) throw new BpfError('EBADF', `fd ${fd}: Bad file descriptor`);
    return obj;
  }

  /** The map behind a map fd (EBADF otherwise). */
  mapOf(fd: number): KMap {
    const obj = this.object(fd);
    if (obj.kind !== 'map') throw new BpfError('EINVAL', `fd ${fd} is not a map`);
    return obj;
  }

  progOf(fd: number): KProg {
    const obj = this.object(fd);
    if (obj.kind !== 'prog') throw new BpfError('EINVAL', `fd ${fd} is not a program`);
    return obj;
  }

  /** A descriptor from the same fd table for a file that is not a BPF object (an AF_XDP socket). */
  reserveFd(): number {
    return this.nextFd++;
  }

  /** Another fd for the same object (dup(2)). */
  dup(fd: number): number {
    return this.installFd(this.object(fd));
  }

  close(fd: number): void {
    const obj = this.object(fd);
    this.fds.delete(fd);
    if (obj.kind === 'map') {
      obj.urefs--;
      this.maybeReleaseUref(obj);
    }
    this.release(obj);
  }

  /*
   * bpf_map_put_uref(): when the last user reference (fd or pin) goes while programs still hold
   * the map, map_release_uref runs: a PROG_ARRAY drops all its programs (prog_array_map_clear()),
   * so tail calls stop once nothing in userspace holds the array.
   */
  private maybeReleaseUref(obj: KMap): void {
    if (obj.urefs > 0 || obj.dead || this.isPinned(obj)) return;
    obj.map.releaseUref?.();
  }

  private isPinned(obj: FdObject): boolean {
    if (!this.store) return [...this.memPins.values()].includes(obj);
    return this.store.listPins().some((p) => p.rec.kind === obj.kind && p.rec.id === obj.id);
  }

  /** Open fds (for tests of lifetimes). */
  openFds(): number[] {
    return [...this.fds.keys()];
  }

  private release(obj: FdObject): void {
    obj.refs--;
    if (obj.refs > 0) return;
    if (!this.store && this.isPinned(obj)) return; // pinned: lives on
    this.destroy(obj);
  }

  private destroy(obj: FdObject): void {
    if (obj.dead) return;
    obj.dead = true;
    if (obj.kind === 'map') {
      this.live.map.delete(obj.id);
      obj.map.close();
      if (obj.btf) this.release(obj.btf);
    } else if (obj.kind === 'prog') {
      this.live.prog.delete(obj.id);
      for (const m of obj.maps) this.release(m);
      if (obj.btf) this.release(obj.btf);
    } else if (obj.kind === 'btf') {
      this.live.btf.delete(obj.id);
    } else {
      this.live.link.delete(obj.id);
      const prog = obj.prog;
      obj.prog = undefined;
      if (prog) this.release(prog);
    }
  }

  /** BPF_*_GET_NEXT_ID: the smallest id above `start` of a live or stored object; ENOENT at the end. */
  getNextId(kind: IdKind, start = 0): number {
    const ids = new Set<number>(this.live[kind].keys());
    if (this.store) for (const id of this.store.objectIds(kind)) ids.add(id);
    if (!this.store) for (const o of this.memPins.values()) if (o.kind === kind) ids.add(o.id);
    let best = Infinity;
    for (const id of ids) if (id > start && id < best) best = id;
    if (best === Infinity) throw new BpfError('ENOENT', `no ${kind} id after ${start}`);
    return best;
  }

  /** BPF_MAP_GET_FD_BY_ID / BPF_PROG_GET_FD_BY_ID / BPF_LINK_GET_FD_BY_ID. */
  getFdById(kind: IdKind, id: number): number {
    return this.installFd(this.objectById(kind, id));
  }

  /** The kind of object behind an fd (EBADF when none). */
  objectKind(fd: number): IdKind {
    return this.object(fd).kind;
  }

  private objectById(kind: IdKind, id: number): FdObject {
    const live = this.live[kind].get(id);
    if (live) return live;
    if (!this.store) {
      for (const o of this.memPins.values()) if (o.kind === kind && o.id === id) return o;
    } else if (this.store.hasObject(kind, id)) {
      if (kind === 'btf') return this.loadStoredBtf(id);
      return kind === 'map' ? this.loadStoredMap(id) : kind === 'prog' ? this.loadStoredProg(id) : this.loadStoredLink(id);
    }
    throw new BpfError('ENOENT', `${kind} id ${id}: No such file or directory`);
  }

  /* ---------------------------------------------------------------------------------------- */
  /* Maps                                                                                       */

  /**
   * BPF_MAP_CREATE: a new map and an fd for it. With `btf` naming key/value types the map holds
   * that BTF object (map_check_btf(): EINVAL when the types' sizes differ from the map's or the
   * map type takes no BTF).
   */
  mapCreate(spec: MapSpec, btf?: MapBtfAttr): number {
    const name = checkObjName(spec.name ?? '');
    const factory = this.factory ?? defaultMapFactory;
    if (!factory) throw new BpfError('ENOTSUPP', 'no map implementation registered (import bpfkit\'s api/index.js)');
    const kbtf = btf && (btf.keyTypeId || btf.valueTypeId) ? this.checkMapBtf(spec, btf) : undefined;
    // btf_parse_fields(): a struct bpf_spin_lock in the value type is where bpf_spin_lock() may lock
    const spinLockOff = kbtf && btf!.valueTypeId && spec.spinLockOff === undefined ? findSpinLockOff(this.parsedBtf(kbtf), btf!.valueTypeId) : undefined;
    const map = factory(this.mapEnv, { ...spec, name, ...(spinLockOff !== undefined ? { spinLockOff } : {}) });
    const id = this.allocId('map');
    if (kbtf) kbtf.refs++;
    const obj: KMap = {
      kind: 'map', id, refs: 0, urefs: 0, persisted: false, dead: false, map, name,
      innerSpec: spec.innerMap ? { ...spec.innerMap.spec, innerMap: undefined } : undefined,
      btf: kbtf, btfKeyTypeId: kbtf ? btf!.keyTypeId : undefined, btfValueTypeId: kbtf ? btf!.valueTypeId : undefined,
    };
    this.live.map.set(id, obj);
    this.byMap.set(map, obj);
    return this.installFd(obj);
  }

  mapInfo(fd: number): MapInfo {
    const { map, id, name, btf, btfKeyTypeId, btfValueTypeId } = this.mapOf(fd);
    const s = map.spec;
    return {
      type: s.type, id, keySize: s.keySize, valueSize: s.valueSize, maxEntries: s.maxEntries,
      // What bpf_map_info shows: the create flags plus what the kernel adds (maps' mapFlags).
      mapFlags: (map as { mapFlags?: number }).mapFlags ?? s.flags, name, frozen: map.frozen, mapExtra: s.mapExtra ?? 0n,
      btfId: btf?.id ?? 0, btfKeyTypeId: btfKeyTypeId ?? 0, btfValueTypeId: btfValueTypeId ?? 0,
      memlock: estimateMapMemlock(s, this.nrCpus),
    };
  }

  /**
   * map_check_btf(): the BTF object behind `btf.btfFd`, if the key/value types fit the map. A key
   * type id of 0 is allowed for global data (one-element array of a DATASEC) and bloom filters.
   */
  private checkMapBtf(spec: MapSpec, attr: MapBtfAttr): KBtf {
    const kbtf = this.btfOf(attr.btfFd);
    const btf = this.parsedBtf(kbtf);
    const name = spec.name ?? '';
    const sizeOf = (id: number, what: string): number => {
      try {
        return btf.resolveSize(id);
      } catch {
        throw new BpfError('EINVAL', `map '${name}': ${what} type [${id}] has no size`);
      }
    };
    if (MAP_TYPES_WITHOUT_BTF.has(spec.type)) throw new BpfError('EINVAL', `map '${name}': map type ${spec.type} takes no BTF`);
    if (attr.keyTypeId) {
      const size = sizeOf(attr.keyTypeId, 'key');
      if (size !== spec.keySize) throw new BpfError('EINVAL', `map '${name}': key type [${attr.keyTypeId}] is ${size} bytes, key_size ${spec.keySize}`);
    } else {
      const keyless = (spec.type === 2 && spec.maxEntries === 1 && btf.types[attr.valueTypeId]?.kind === BTF_KIND.DATASEC) || spec.type === 30;
      if (!keyless) throw new BpfError('EINVAL', `map '${name}': a BTF key type is required`);
    }
    const size = sizeOf(attr.valueTypeId, 'value');
    if (size !== spec.valueSize) throw new BpfError('EINVAL', `map '${name}': value type [${attr.valueTypeId}] is ${size} bytes, value_size ${spec.valueSize}`);
    return kbtf;
  }

  /**
   * map_get_sys_perms(): what the syscall side may do with a map. A frozen map or one created
   * BPF_F_RDONLY cannot be written, one created BPF_F_WRONLY cannot be read (EPERM).
   */
  private checkPerms(obj: KMap, write: boolean): void {
    const s = obj.map.spec;
    if (write && (obj.map.frozen || s.flags & BPF_F_RDONLY)) throw new BpfError('EPERM', `map ${obj.id}: Operation not permitted`);
    if (!write && s.flags & BPF_F_WRONLY) throw new BpfError('EPERM', `map ${obj.id}: Operation not permitted`);
  }

  mapLookup(fd: number, key: Uint8Array | undefined, flags = 0): Uint8Array {
    const obj = this.mapOf(fd);
    this.checkPerms(obj, false);
    this.refresh(obj);
    return obj.map.lookup(key ?? new Uint8Array(0), flags);
  }

  mapUpdate(fd: number, key: Uint8Array | undefined, value: Uint8Array, flags = 0): void {
    this.mutate(this.mapOf(fd), (m) => m.update(key ?? new Uint8Array(0), value, flags));
  }

  mapDelete(fd: number, key: Uint8Array): void {
    this.mutate(this.mapOf(fd), (m) => m.delete(key));
  }

  /** BPF_MAP_GET_NEXT_KEY (undefined key = first). */
  mapGetNextKey(fd: number, key?: Uint8Array): Uint8Array {
    const obj = this.mapOf(fd);
    this.checkPerms(obj, false);
    this.refresh(obj);
    return obj.map.getNextKey(key);
  }

  mapLookupAndDelete(fd: number, key?: Uint8Array): Uint8Array {
    return this.mutate(this.mapOf(fd), (m) => m.lookupAndDelete(key));
  }

  mapFreeze(fd: number): void {
    this.mutate(this.mapOf(fd), (m) => m.freeze());
  }

  /** BPF_MAP_LOOKUP_BATCH: up to `count` elements after `inBatch` (undefined = from the start). */
  mapLookupBatch(fd: number, inBatch: Uint8Array | undefined, count: number, elemFlags = 0): MapBatch {
    const obj = this.mapOf(fd);
    this.checkPerms(obj, false);
    this.refresh(obj);
    return obj.map.lookupBatch(inBatch, count, elemFlags);
  }

  /** BPF_MAP_LOOKUP_AND_DELETE_BATCH. */
  mapLookupAndDeleteBatch(fd: number, inBatch: Uint8Array | undefined, count: number, elemFlags = 0): MapBatch {
    return this.mutate(this.mapOf(fd), (m) => m.lookupAndDeleteBatch(inBatch, count, elemFlags));
  }

  /** BPF_MAP_UPDATE_BATCH: how many were updated (a failure throws after the earlier ones stay). */
  mapUpdateBatch(fd: number, keys: readonly Uint8Array[], values: readonly Uint8Array[], elemFlags = 0): number {
    return this.mutate(this.mapOf(fd), (m) => m.updateBatch(keys, values, elemFlags));
  }

  /** BPF_MAP_DELETE_BATCH. */
  mapDeleteBatch(fd: number, keys: readonly Uint8Array[], elemFlags = 0): number {
    return this.mutate(this.mapOf(fd), (m) => m.deleteBatch(keys, elemFlags));
  }

  /* Persistence of maps ------------------------------------------------------------------- */

  private mapHeader(obj: KMap): Record<string, unknown> {
    const s = obj.map.spec;
    const inner = obj.innerSpec;
    return {
      kind: 'map', id: obj.id, type: s.type, keySize: s.keySize, valueSize: s.valueSize,
      maxEntries: s.maxEntries, flags: s.flags, name: obj.name, frozen: obj.map.frozen,
      mapExtra: (s.mapExtra ?? 0n).toString(), numaNode: s.numaNode,
      inner: inner ? { type: inner.type, keySize: inner.keySize, valueSize: inner.valueSize, maxEntries: inner.maxEntries, flags: inner.flags } : undefined,
      btfId: obj.btf?.id, btfKeyTypeId: obj.btfKeyTypeId, btfValueTypeId: obj.btfValueTypeId,
    };
  }

  /**
   * The objects a map's elements hold (map-in-map: inner maps; prog array: programs), by the ids
   * the syscall's lookup gives for them.
   */
  private heldObjects(obj: KMap): FdObject[] {
    const type = obj.map.spec.type;
    const kind = type === 3 ? 'prog' : type === 12 || type === 13 ? 'map' : undefined;
    if (!kind) return [];
    const held: FdObject[] = [];
    let key: Uint8Array | undefined;
    for (;;) {
      try {
        key = obj.map.getNextKey(key);
      } catch {
        return held;
      }
      let id: number;
      try {
        const v = obj.map.lookup(key);
        id = new DataView(v.buffer, v.byteOffset, v.byteLength).getUint32(0, true);
      } catch {
        continue; // an empty slot
      }
      const o = this.live[kind].get(id);
      if (o && !held.includes(o)) held.push(o);
    }
  }

  /** The map as the store keeps it; what its elements hold is stored too (they live as long as it). */
  private storedMap(obj: KMap): StoredObject {
    const held = this.store ? this.heldObjects(obj) : [];
    if (obj.btf) held.push(obj.btf); // the store keeps the BTF as long as the map
    for (const h of held) if (!h.persisted || (h.kind === 'btf' && !this.store!.hasObject('btf', h.id))) this.persist(h);
    return {
      header: { ...this.mapHeader(obj), holds: held.map((h) => ({ kind: h.kind, id: h.id })) },
      payload: obj.map.snapshot(),
    };
  }

  /** Reload a persisted map's contents from the store if another process changed them. */
  private refresh(obj: KMap): void {
    if (!obj.persisted || !this.store) return;
    const version = this.store.objectVersion('map', obj.id);
    if (version !== undefined && version === obj.storeVersion) return;
    const stored = this.store.readObject('map', obj.id);
    if (!stored) { obj.persisted = false; return; }
    this.applyStored(obj, stored);
    obj.storeVersion = stored.generation;
  }

  /** Write a persisted map's contents and remember the version written. */
  private writeMap(obj: KMap): void {
    this.store!.writeObject('map', obj.id, this.storedMap(obj));
    obj.storeVersion = this.store!.objectVersion('map', obj.id);
  }

  private applyStored(obj: KMap, stored: StoredObject): void {
    obj.map.restore(stored.payload);
    if (stored.header.frozen === true && !obj.map.frozen) obj.map.freeze();
  }

  private mutate<T>(obj: KMap, fn: (m: BpfMap) => T): T {
    this.checkPerms(obj, true);
    if (!obj.persisted || !this.store) return fn(obj.map);
    const store = this.store;
    return store.withLock(() => {
      this.refresh(obj);
      if (!obj.persisted) return fn(obj.map); // unpinned meanwhile
      try {
        return fn(obj.map);
      } finally {
        this.writeMap(obj);
      }
    });
  }

  /** Write a persisted map's current contents (e.g. after programs changed it). */
  private flushMap(obj: KMap): void {
    const store = this.store;
    if (!store || !obj.persisted || obj.dead) return;
    store.withLock(() => {
      if (!store.hasObject('map', obj.id)) { obj.persisted = false; return; }
      this.writeMap(obj);
    });
  }

  /** Write every live pinned map's contents to the store (changes programs made; last writer wins). */
  syncPins(): void {
    for (const obj of this.live.map.values()) this.flushMap(obj);
  }

  private loadStoredMap(id: number): KMap {
    const stored = this.store!.readObject('map', id);
    if (!stored) throw new BpfError('ENOENT', `map id ${id}: No such file or directory`);
    const h = stored.header as {
      type: number; keySize: number; valueSize: number; maxEntries: number; flags: number; name: string;
      mapExtra?: string; numaNode?: number;
      inner?: { type: number; keySize: number; valueSize: number; maxEntries: number; flags: number };
      btfId?: number; btfKeyTypeId?: number; btfValueTypeId?: number;
    };
    const factory = this.factory ?? defaultMapFactory;
    if (!factory) throw new BpfError('ENOTSUPP', 'no map implementation registered');
    const innerMap = h.inner ? factory(this.mapEnv, { ...h.inner, name: '' }) : undefined;
    const map = factory(this.mapEnv, {
      type: h.type, keySize: h.keySize, valueSize: h.valueSize, maxEntries: h.maxEntries, flags: h.flags,
      name: h.name, mapExtra: h.mapExtra ? BigInt(h.mapExtra) : undefined, numaNode: h.numaNode, innerMap,
    });
    const innerSpec = innerMap ? { ...innerMap.spec } : undefined;
    innerMap?.close();
    const btf = h.btfId ? this.storedBtfOrNone(h.btfId) : undefined;
    if (btf) btf.refs++;
    const obj: KMap = {
      kind: 'map', id, refs: 0, urefs: 0, persisted: true, dead: false, map, name: h.name, innerSpec,
      btf, btfKeyTypeId: btf ? h.btfKeyTypeId ?? 0 : undefined, btfValueTypeId: btf ? h.btfValueTypeId ?? 0 : undefined,
    };
    this.live.map.set(id, obj);
    this.byMap.set(map, obj);
    this.applyStored(obj, stored);
    obj.storeVersion = stored.generation;
    return obj;
  }

  /* ---------------------------------------------------------------------------------------- */
  /* Programs                                                                                   */

  /**
   * BPF_PROG_LOAD (without the verifier for now): map references (ld_imm64 src=1, imm = map fd)
   * are resolved to the map and the program holds a reference to each map until it dies.
   */
  progLoad(attr: ProgLoadAttr): number {
    const name = checkObjName(attr.name ?? '');
    if (attr.insns.length === 0) throw new BpfError('EINVAL', 'program has no instructions');
    const insns = attr.insns.map((i) => copyInsn(i));
    const mapRefs: { insn: number; mapId: number; pseudo: number }[] = [];
    const maps: KMap[] = [];
    for (let i = 0; i < insns.length; i++) {
      const insn = insns[i];
      if (insn.code !== BPF_LD_IMM_DW) continue;
      if (insn.src === BPF_PSEUDO_MAP_FD || insn.src === BPF_PSEUDO_MAP_VALUE) {
        const m = this.fds.get(insn.imm);
        if (!m || m.kind !== 'map') throw new BpfError('EBADF', `insn ${i}: fd ${insn.imm} is not a map`);
        if (!maps.includes(m)) maps.push(m);
        mapRefs.push({ insn: i, mapId: m.id, pseudo: insn.src });
      } else if (insn.src === BPF_PSEUDO_MAP_IDX || insn.src === BPF_PSEUDO_MAP_IDX_VALUE) {
        throw new BpfError('EINVAL', `insn ${i}: map index references need fd_array, not supported`);
      }
      i++;
    }
    const btf = attr.btfFd !== undefined && (attr.funcInfo?.length || attr.lineInfo?.length)
      ? this.checkProgBtf(attr, insns.length) : undefined;
    const id = this.allocId('prog');
    const tag = calcProgTag(insns, this.kernelVersion);
    for (const m of maps) m.refs++;
    if (btf) btf.refs++;
    const obj: KProg = {
      kind: 'prog', id, refs: 0, persisted: false, dead: false, type: attr.type, name, tag,
      license: attr.license, gpl: licenseIsGplCompatible(attr.license), section: attr.section ?? '',
      expectedAttachType: attr.expectedAttachType ?? 0, insns, mapRefs, mapIds: maps.map((m) => m.id), loadTime: this.now(), uid: this.uid, maps,
      btf, funcInfo: btf ? (attr.funcInfo ?? []).map((f) => ({ ...f })) : undefined,
      lineInfo: btf ? (attr.lineInfo ?? []).map((l) => ({ ...l })) : undefined,
    };
    this.live.prog.set(id, obj);
    return this.installFd(obj);
  }

  /**
   * check_btf_func() / check_btf_line() in brief: records inside the program, strictly increasing,
   * func_info starting at instruction 0 and naming FUNC types. Returns the BTF object.
   */
  private checkProgBtf(attr: ProgLoadAttr, len: number): KBtf {
    const kbtf = this.btfOf(attr.btfFd!);
    const btf = this.parsedBtf(kbtf);
    const check = (list: readonly { insn: number }[], what: string): void => {
      list.forEach((r, i) => {
        if ((i === 0 && r.insn !== 0 && what === 'func_info') || (i && r.insn <= list[i - 1].insn) || r.insn >= len) {
          throw new BpfError('EINVAL', `Invalid ${what}[${i}].insn_off:${r.insn} (prev_offset:${i ? list[i - 1].insn : 0} prog->len:${len})`);
        }
      });
    };
    check(attr.funcInfo ?? [], 'func_info');
    check(attr.lineInfo ?? [], 'line_info');
    for (const f of attr.funcInfo ?? []) {
      if (btf.types[f.typeId]?.kind !== BTF_KIND.FUNC) throw new BpfError('EINVAL', `invalid type id ${f.typeId} in func info`);
    }
    return kbtf;
  }

  progInfo(fd: number): ProgInfo {
    const p = this.progOf(fd);
    return {
      type: p.type, id: p.id, tag: p.tag, name: p.name, xlatedProgLen: (xlatedProgram(p)?.insns.length ?? p.insns.length) * 8, jitedProgLen: 0,
      mapIds: [...p.mapIds], loadTime: p.loadTime, createdByUid: p.uid, gplCompatible: p.gpl, btfId: p.btf?.id ?? 0,
      memlock: 4096 * Math.max(1, Math.ceil((p.insns.length * 8) / 4096)),
    };
  }

  /**
   * The program as the engines run it: each map reference becomes the address of the map's
   * handle (ld_imm64 src=1), as the kernel's xlated program holds the struct bpf_map pointer.
   */
  /**
   * A program's instructions as the engines run them in this.vm: map references become the map
   * handle's address, map value references the value's address plus offset (both as plain 64-bit
   * constants, where the kernel's xlated form holds the same pointers), callbacks resolved.
   */
  progInsns(fd: number): Insn[] {
    const p = this.progOf(fd);
    const insns = this.runnable(p);
    trustIfVerified(p, insns); // the JIT's verified tier, by the verifier's verdict
    return insns;
  }

  private runnable(p: KProg): Insn[] {
    const insns = p.insns.map((i) => copyInsn(i));
    for (const ref of p.mapRefs) {
      const m = p.maps.find((x) => x.id === ref.mapId)!;
      let addr: number;
      if (ref.pseudo === BPF_PSEUDO_MAP_FD) {
        addr = m.map.handleAddr;
      } else {
        const base = (m.map as { valuesAddr?: number }).valuesAddr;
        if (base === undefined) throw new BpfError('EINVAL', `insn ${ref.insn}: map ${m.id} has no direct value access`);
        addr = base + (insns[ref.insn + 1].imm >>> 0);
      }
      insns[ref.insn] = copyInsn(insns[ref.insn], { src: 0, imm: addr | 0 });
      insns[ref.insn + 1] = copyInsn(insns[ref.insn + 1], { imm: Math.floor(addr / 0x100000000) | 0 });
    }
    return resolvePseudoFunc(insns);
  }

  /** The maps a program uses (fd per map, to be closed by the caller). */
  progMaps(fd: number): KMap[] {
    return [...this.progOf(fd).maps];
  }

  private storedProg(p: KProg): StoredObject {
    const bytes = new Uint8Array(p.insns.length * 8);
    const view = new DataView(bytes.buffer);
    p.insns.forEach((insn, i) => {
      bytes[i * 8] = insn.code;
      bytes[i * 8 + 1] = ((insn.src & 0xf) << 4) | (insn.dst & 0xf);
      view.setInt16(i * 8 + 2, insn.off, true);
      view.setInt32(i * 8 + 4, insn.imm, true);
    });
    return {
      header: {
        kind: 'prog', id: p.id, type: p.type, name: p.name, tag: p.tag, license: p.license, section: p.section,
        expectedAttachType: p.expectedAttachType, mapRefs: p.mapRefs, mapIds: p.mapIds, loadTime: p.loadTime, uid: p.uid, insns: b64(bytes),
        btfId: p.btf?.id, funcInfo: p.funcInfo, lineInfo: p.lineInfo, holds: p.btf ? [{ kind: 'btf', id: p.btf.id }] : [],
      },
      payload: new Uint8Array(0),
    };
  }

  private loadStoredProg(id: number): KProg {
    const stored = this.store!.readObject('prog', id);
    if (!stored) throw new BpfError('ENOENT', `prog id ${id}: No such file or directory`);
    const h = stored.header as {
      type: number; name: string; tag: string; license: string; section: string; expectedAttachType?: number; insns: string;
      mapRefs: { insn: number; mapId: number; pseudo: number }[]; mapIds: number[]; loadTime: number; uid: number;
      btfId?: number; funcInfo?: ProgFuncInfo[]; lineInfo?: ProgLineInfo[];
    };
    const bytes = unb64(h.insns);
    const view = new DataView(bytes.buffer);
    const insns: Insn[] = [];
    for (let off = 0; off + 8 <= bytes.length; off += 8) {
      insns.push({ code: bytes[off], dst: bytes[off + 1] & 0xf, src: bytes[off + 1] >> 4, off: view.getInt16(off + 2, true), imm: view.getInt32(off + 4, true) });
    }
    const maps = h.mapIds.map((mid) => this.objectById('map', mid) as KMap);
    for (const m of maps) m.refs++;
    const btf = h.btfId ? this.storedBtfOrNone(h.btfId) : undefined;
    if (btf) btf.refs++;
    const obj: KProg = {
      kind: 'prog', id, refs: 0, persisted: true, dead: false, type: h.type, name: h.name, tag: h.tag,
      license: h.license, gpl: licenseIsGplCompatible(h.license), section: h.section, expectedAttachType: h.expectedAttachType ?? 0, insns,
      mapRefs: h.mapRefs, mapIds: h.mapIds, loadTime: h.loadTime, uid: h.uid, maps,
      btf, funcInfo: btf ? h.funcInfo ?? [] : undefined, lineInfo: btf ? h.lineInfo ?? [] : undefined,
    };
    this.live.prog.set(id, obj);
    return obj;
  }

  /* ---------------------------------------------------------------------------------------- */
  /* Pins (BPF_OBJ_PIN / BPF_OBJ_GET)                                                           */

  /** BPF_OBJ_PIN: EEXIST when the path is taken. */
  objPin(fd: number, path: string): void {
    const obj = this.object(fd);
    if (!this.store) {
      const key = normalizePinPath(path);
      if (this.memPins.has(key)) throw new BpfError('EEXIST', `${path}: File exists`);
      this.memPins.set(key, obj);
      return;
    }
    const store = this.store;
    store.withLock(() => {
      if (store.readPin(path)) throw new BpfError('EEXIST', `${path}: File exists`);
      this.persist(obj);
      store.createPin(path, { kind: obj.kind, id: obj.id });
    });
  }

  /** Write an object and everything it holds to the store (marked first, so cycles end). */
  private persist(obj: FdObject): void {
    const store = this.store!;
    if (obj.kind === 'map') {
      obj.persisted = true;
      this.writeMap(obj);
    } else if (obj.kind === 'btf') {
      obj.persisted = true;
      if (!store.hasObject('btf', obj.id)) store.writeObject('btf', obj.id, { header: { kind: 'btf', id: obj.id, size: obj.raw.length }, payload: obj.raw });
    } else if (obj.kind === 'link') {
      obj.persisted = true;
      if (obj.prog && (!obj.prog.persisted || !store.hasObject('prog', obj.prog.id))) this.persist(obj.prog);
      this.writeLink(obj);
    } else {
      const wasStored = obj.persisted && store.hasObject('prog', obj.id);
      obj.persisted = true;
      for (const m of obj.maps) if (!m.persisted || !store.hasObject('map', m.id)) this.persist(m);
      if (obj.btf && (!obj.btf.persisted || !store.hasObject('btf', obj.btf.id))) this.persist(obj.btf);
      if (!wasStored) store.writeObject('prog', obj.id, this.storedProg(obj));
    }
  }

  /** BPF_OBJ_GET: an fd for the object pinned at `path` (ENOENT when none). */
  objGet(path: string): number {
    if (!this.store) {
      const obj = this.memPins.get(normalizePinPath(path));
      if (!obj) throw new BpfError('ENOENT', `${path}: No such file or directory`);
      return this.installFd(obj);
    }
    const rec = this.store.readPin(path);
    if (!rec) throw new BpfError('ENOENT', `${path}: No such file or directory`);
    return this.installFd(this.objectById(rec.kind, rec.id));
  }

  /** Every pin (bpffs' directory tree): path, kind and id, sorted by path. */
  listPins(): { path: string; kind: ObjKind; id: number }[] {
    const all = this.store
      ? this.store.listPins().map((p) => ({ path: p.path, kind: p.rec.kind, id: p.rec.id }))
      : [...this.memPins].map(([path, o]) => ({ path, kind: o.kind as ObjKind, id: o.id }));
    return all.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  /** What is pinned at `path`, without opening it. */
  pinnedKind(path: string): ObjKind | undefined {
    if (!this.store) return this.memPins.get(normalizePinPath(path))?.kind;
    return this.store.readPin(path)?.kind;
  }

  /** unlink(2) of a pin: the object dies if nothing else holds it. */
  unpin(path: string): void {
    if (!this.store) {
      const key = normalizePinPath(path);
      const obj = this.memPins.get(key);
      if (!obj) throw new BpfError('ENOENT', `${path}: No such file or directory`);
      this.memPins.delete(key);
      if (obj.kind === 'map') this.maybeReleaseUref(obj);
      if (obj.refs === 0 && !this.isPinned(obj)) this.destroy(obj);
      return;
    }
    const rec = this.store.readPin(path);
    this.store.unpin(path);
    const pinned = rec?.kind === 'map' ? this.live.map.get(rec.id) : undefined;
    if (pinned) this.maybeReleaseUref(pinned);
    for (const kind of ['link', 'prog', 'map', 'btf'] as const) {
      for (const obj of [...this.live[kind].values()]) {
        if (obj.persisted && !this.store.hasObject(kind, obj.id)) {
          obj.persisted = false;
          if (obj.refs === 0) this.destroy(obj);
        }
      }
    }
  }

  /** Paths where an object is pinned (bpftool -f). */
  pinnedPaths(kind: ObjKind, id: number): string[] {
    if (!this.store) return [...this.memPins].filter(([, o]) => o.kind === kind && o.id === id).map(([p]) => p);
    return this.store.listPins().filter((p) => p.rec.kind === kind && p.rec.id === id).map((p) => p.path);
  }

  /* ---------------------------------------------------------------------------------------- */
  /* BTF objects (BPF_BTF_LOAD, BPF_BTF_GET_FD_BY_ID, bpf_btf_info)                             */

  /** BPF_BTF_LOAD: raw BTF (header, types, strings) checked by parsing; an fd for the new object. */
  btfLoad(raw: Uint8Array): number {
    const bytes = raw.slice();
    const parsed = parseBtf(bytes, { label: 'BTF_LOAD' });
    const obj: KBtf = { kind: 'btf', id: this.allocId('btf'), refs: 0, persisted: false, dead: false, raw: bytes, parsed };
    this.live.btf.set(obj.id, obj);
    return this.installFd(obj);
  }

  btfOf(fd: number): KBtf {
    const obj = this.object(fd);
    if (obj.kind !== 'btf') throw new BpfError('EINVAL', `fd ${fd} is not a BTF object`);
    return obj;
  }

  /** bpf_btf_info: id, size of the raw BTF; objects loaded from programs have no name. */
  btfInfo(fd: number): { id: number; size: number; name: string; kernel: boolean } {
    const b = this.btfOf(fd);
    return { id: b.id, size: b.raw.length, name: '', kernel: false };
  }

  /** The parsed BTF of a BTF object's fd. */
  btfParsed(fd: number): Btf {
    return this.parsedBtf(this.btfOf(fd));
  }

  /** The parsed BTF of a map's key/value types, or undefined when the map has none. */
  mapBtf(fd: number): (ObjBtf & { keyTypeId: number; valueTypeId: number }) | undefined {
    const m = this.mapOf(fd);
    if (!m.btf) return undefined;
    return { btfId: m.btf.id, btf: this.parsedBtf(m.btf), keyTypeId: m.btfKeyTypeId ?? 0, valueTypeId: m.btfValueTypeId ?? 0 };
  }

  /** A program's BTF with its func_info / line_info, or undefined when it was loaded without. */
  progBtf(fd: number): (ObjBtf & { funcInfo: readonly ProgFuncInfo[]; lineInfo: readonly ProgLineInfo[] }) | undefined {
    const p = this.progOf(fd);
    if (!p.btf) return undefined;
    return { btfId: p.btf.id, btf: this.parsedBtf(p.btf), funcInfo: p.funcInfo ?? [], lineInfo: p.lineInfo ?? [] };
  }

  private parsedBtf(b: KBtf): Btf {
    return kbtfTypes(b);
  }

  private loadStoredBtf(id: number): KBtf {
    const stored = this.store!.readObject('btf', id);
    if (!stored) throw new BpfError('ENOENT', `btf id ${id}: No such file or directory`);
    const obj: KBtf = { kind: 'btf', id, refs: 0, persisted: true, dead: false, raw: stored.payload };
    this.live.btf.set(id, obj);
    return obj;
  }

  /** A stored map's or program's BTF; a store that lost it gives none (the object loads without). */
  private storedBtfOrNone(id: number): KBtf | undefined {
    try {
      return this.objectById('btf', id) as KBtf;
    } catch (err) {
      if (err instanceof BpfError && (err.code === 'ENOENT' || err.code === 'EIO')) return undefined;
      throw err;
    }
  }

  /* ---------------------------------------------------------------------------------------- */
  /* Links                                                                                      */

  /** BPF_LINK_CREATE: a link holding the program (the hook is the caller's: net/). */
  linkCreate(attr: { progFd: number; attachType: number; targetIfindex?: number }): number {
    const prog = this.progOf(attr.progFd);
    prog.refs++;
    const obj: KLink = {
      kind: 'link', id: this.allocId('link'), refs: 0, persisted: false, dead: false, prog,
      attachType: attr.attachType, targetIfindex: attr.targetIfindex ?? 0,
    };
    this.live.link.set(obj.id, obj);
    return this.installFd(obj);
  }

  linkOf(fd: number): KLink {
    const obj = this.object(fd);
    if (obj.kind !== 'link') throw new BpfError('EINVAL', `fd ${fd} is not a link`);
    return obj;
  }

  linkInfo(fd: number): LinkInfo {
    const l = this.linkOf(fd);
    return { id: l.id, progId: l.prog?.id ?? 0, attachType: l.attachType, targetIfindex: l.targetIfindex };
  }

  /** BPF_LINK_DETACH: the link stays (fd, pin) but lets its program go. */
  linkDetach(fd: number): void {
    const l = this.linkOf(fd);
    const prog = l.prog;
    if (!prog) return;
    l.prog = undefined;
    if (l.persisted && this.store) this.store.withLock(() => this.writeLink(l));
    this.release(prog);
  }

  private writeLink(l: KLink): void {
    this.store!.writeObject('link', l.id, {
      header: {
        kind: 'link', id: l.id, attachType: l.attachType, targetIfindex: l.targetIfindex,
        holds: l.prog ? [{ kind: 'prog', id: l.prog.id }] : [],
      },
      payload: new Uint8Array(0),
    });
  }

  private loadStoredLink(id: number): KLink {
    const stored = this.store!.readObject('link', id);
    if (!stored) throw new BpfError('ENOENT', `link id ${id}: No such file or directory`);
    const h = stored.header as { attachType: number; targetIfindex: number; holds: { kind: string; id: number }[] };
    const progId = h.holds.find((x) => x.kind === 'prog')?.id;
    const prog = progId !== undefined ? this.objectById('prog', progId) as KProg : undefined;
    if (prog) prog.refs++;
    const obj: KLink = {
      kind: 'link', id, refs: 0, persisted: true, dead: false, prog, attachType: h.attachType, targetIfindex: h.targetIfindex,
    };
    this.live.link.set(id, obj);
    return obj;
  }

  /** Release everything (the "kernel" goes away; the store stays). */
  shutdown(): void {
    for (const fd of [...this.fds.keys()]) this.close(fd);
  }
}

/** A BTF object's types, parsed on first use (objects read back from the store keep only bytes). */
export function kbtfTypes(b: KBtf): Btf {
  b.parsed ??= parseBtf(b.raw, { label: `btf id ${b.id}` });
  return b.parsed;
}

/** Map types whose map_check_btf is map_check_no_btf (or that libbpf creates without BTF). */
const MAP_TYPES_WITHOUT_BTF = new Set([3, 4, 7, 8, 12, 13, 14, 15, 16, 17, 18, 20, 22, 23, 25, 27, 31]);

function normalizePinPath(path: string): string {
  return '/' + path.split('/').filter((p) => p !== '' && p !== '.').join('/');
}

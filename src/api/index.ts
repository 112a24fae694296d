/*
 * bpfkit's public TypeScript API, in the spirit of cilium/ebpf: a Bpf is one kernel (maps,
 * programs, pins), a Map is a handle on one of its maps (an fd underneath), keys and values are
 * Uint8Array with codecs for numbers, bigints and structs (codec.ts).
 *
 *   import { Bpf, u32, u64 } from 'bpfkit';
 *   const bpf = new Bpf();
 *   const counts = bpf.createMap({ type: 'hash', keySize: 4, valueSize: 8, maxEntries: 1024, name: 'counts' });
 *   counts.update(u32.encode(1), u64.encode(42n));
 *   for (const [k, v] of counts.entries()) ...
 *   counts.pin('/sys/fs/bpf/counts');        // survives the process with a store (api/node.ts)
 *   const again = Map.fromPin('/sys/fs/bpf/counts', bpf);
 *
 * Browser-safe: pins live in memory unless a store is given; api/node.ts opens the BPFKIT_STATE
 * folder store for Node.
 */
import { BpfError } from '../errors.js';
import { type Insn, makeLdImm64 } from '../isa/insn.js';
import { Bpf as Kernel, type BpfOptions as KernelOptions, type MapInfo, type ProgInfo, setDefaultMapFactory } from '../kernel/bpf.js';
import { mapTypeFromName, mapTypeName, progTypeFromName, progTypeFromSection } from '../kernel/names.js';
import { BPF_ANY, BPF_EXIST, BPF_NOEXIST, type MapBatch, type MapSpec as KernelMapSpec } from '../maps/types.js';
import { createMap } from '../maps/index.js';
import type { Codec } from './codec.js';
import type { Btf } from '../btf/types.js';
import { loadObject as loadKernelObject, type LoadObjectOptions as LoadKernelObjectOptions, setGlobal } from '../kernel/load.js';
import { openObject } from '../loader/object.js';

// Every Bpf made through the API uses bpfkit's maps unless its options name another implementation.
setDefaultMapFactory(createMap);

export * from './codec.js';
export { BpfError } from '../errors.js';
export { Bpf as Kernel, setDefaultMapFactory } from '../kernel/bpf.js';
export type { MapInfo, ProgInfo, MapFactory } from '../kernel/bpf.js';
export type { MapBatch } from '../maps/types.js';
export type { Insn } from '../isa/insn.js';
export { PinStore } from '../kernel/pin_store.js';
export { Datapath, type DatapathOptions, type DeviceStats, type Frame, type NetDevice, type Outcome, type XskSocket } from '../net/datapath.js';
export { MemoryStoreFs } from '../kernel/store_fs.js';
export type { StoreFs } from '../kernel/store_fs.js';
export { BPF_ANY, BPF_EXIST, BPF_NOEXIST, BPF_F_LOCK, BPF_F_NO_PREALLOC, BPF_F_RDONLY, BPF_F_WRONLY, BPF_MAP_TYPE } from '../maps/types.js';

export type BpfOptions = KernelOptions;

export interface LoadObjectOptions {
  /** Named in errors (default 'object.o'). */
  fileName?: string;
  /** Target BTF of CO-RE relocations (parseBtf() of a vmlinux BTF). */
  kernelBtf?: Btf;
  /** Initial values of .data/.rodata/.bss variables, set before load. */
  globals?: Record<string, Uint8Array | number | bigint>;
  /** Root of LIBBPF_PIN_BY_NAME pins (default /sys/fs/bpf). */
  pinRoot?: string;
  /** Values of .kconfig externs. */
  kconfig?: LoadKernelObjectOptions['kconfig'];
}

/** What loadObject() gives: programs and maps by name, and the object's global variables. */
export interface LoadedObjectHandle {
  programs: Record<string, Program>;
  maps: Record<string, Map>;
  readGlobal(name: string): Uint8Array;
  /** .data/.bss variables after load (.rodata is frozen: EPERM). */
  writeGlobal(name: string, value: Uint8Array): void;
  close(): void;
}

export type UpdateFlag = 'any' | 'noexist' | 'exist' | number;

export interface MapSpec {
  /** A map type name as bpftool spells it ('hash', 'array', 'lru_hash', ...) or its number. */
  type: string | number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags?: number;
  name?: string;
  /** Map-in-map: a map whose shape every inner map must have. */
  innerMap?: Map;
  mapExtra?: bigint;
}

function updateFlags(flag: UpdateFlag | undefined): number {
  if (flag === undefined || flag === 'any') return BPF_ANY;
  if (flag === 'noexist') return BPF_NOEXIST;
  if (flag === 'exist') return BPF_EXIST;
  return flag;
}

function isEnoent(err: unknown): boolean {
  return err instanceof BpfError && err.code === 'ENOENT';
}

let defaultBpf: Bpf | undefined;

/** One kernel: its maps, programs and pins. */
export class Bpf {
  readonly kernel: Kernel;

  constructor(options: BpfOptions = {}) {
    this.kernel = new Kernel(options);
  }

  /** The instance Map.fromPin() uses when given none (set one with Bpf.setDefault()). */
  static get default(): Bpf {
    defaultBpf ??= new Bpf();
    return defaultBpf;
  }

  static setDefault(bpf: Bpf): void {
    defaultBpf = bpf;
  }

  createMap(spec: MapSpec): Map {
    const type = typeof spec.type === 'number' ? spec.type : mapTypeFromName(spec.type);
    if (type === undefined) throw new BpfError('EINVAL', `unknown map type '${spec.type}'`);
    const kspec: KernelMapSpec = {
      type, keySize: spec.keySize, valueSize: spec.valueSize, maxEntries: spec.maxEntries,
      flags: spec.flags ?? 0, name: spec.name, mapExtra: spec.mapExtra,
      innerMap: spec.innerMap ? this.kernel.mapOf(spec.innerMap.fd).map : undefined,
    };
    return new Map(this, this.kernel.mapCreate(kspec));
  }

  /**
   * BPF_PROG_LOAD (no verifier yet): map references are ld_imm64 src=1 with a Map's fd as imm
   * (`mapFd(map)` builds them).
   */
  loadProgram(spec: ProgramSpec): Program {
    const type = typeof spec.type === 'number' ? spec.type : progTypeFromName(spec.type) ?? progTypeFromSection(spec.type);
    if (type === undefined) throw new BpfError('EINVAL', `unknown program type '${spec.type}'`);
    return new Program(this, this.kernel.progLoad({
      type, insns: spec.insns, license: spec.license ?? 'GPL', name: spec.name, section: spec.section ?? spec.name,
    }));
  }

  /**
   * Load a libbpf-style object (clang -O2 -g -target bpf), like a skeleton: maps created (or
   * reused from pins), global data set before load (`globals`), CO-RE against `kernelBtf`,
   * programs verified and loaded. Returns handles by name; close() releases them (pins stay).
   */
  loadObject(bytes: Uint8Array, options: LoadObjectOptions = {}): LoadedObjectHandle {
    const fileName = options.fileName ?? 'object.o';
    const obj = openObject(bytes, fileName);
    for (const [name, value] of Object.entries(options.globals ?? {})) setGlobal(obj, name, value);
    const loaded = loadKernelObject(this.kernel, obj, {
      pinRoot: options.pinRoot, targetBtf: options.kernelBtf, kconfig: options.kconfig,
    }, bytes);
    try {
      const programs: Record<string, Program> = {};
      for (const p of loaded.programs) programs[p.spec.name] = new Program(this, this.kernel.dup(p.fd));
      const maps: Record<string, Map> = {};
      for (const m of loaded.maps) maps[m.def.name] = new Map(this, this.kernel.dup(m.fd));
      // A global is a slice of element 0 of its section's array map.
      const globalOf = (name: string) => {
        const g = obj.globals.find((x) => x.name === name);
        if (!g) throw new BpfError('ENOENT', `${fileName}: no global variable '${name}'`);
        const map = maps[g.map.name];
        if (!map) throw new BpfError('ENOENT', `${fileName}: global variable '${name}': map '${g.map.name}' was not created`);
        return { g, map };
      };
      const ZERO = new Uint8Array(4);
      return {
        programs, maps,
        readGlobal: (name) => {
          const { g, map } = globalOf(name);
          return map.lookup(ZERO)!.slice(g.offset, g.offset + g.size);
        },
        writeGlobal: (name, value) => {
          const { g, map } = globalOf(name);
          if (value.length !== g.size) throw new BpfError('EINVAL', `global variable '${name}' is ${g.size} bytes, got ${value.length}`);
          const all = map.lookup(ZERO)!;
          all.set(value, g.offset);
          map.update(ZERO, all); // EPERM for .rodata, frozen after load
        },
        close: () => {
          for (const p of Object.values(programs)) p.close();
          for (const m of Object.values(maps)) m.close();
        },
      };
    } finally {
      loaded.close(); // the handles above hold their own fds
    }
  }

  /** An open handle on the program with this id (ENOENT when none). */
  programById(id: number): Program {
    return new Program(this, this.kernel.getFdById('prog', id));
  }

  /** An open handle on the map with this id (ENOENT when none). */
  mapById(id: number): Map {
    return new Map(this, this.kernel.getFdById('map', id));
  }

  /** Ids of all maps (live and pinned), ascending. */
  mapIds(): number[] {
    return allIds(this.kernel, 'map');
  }

  progIds(): number[] {
    return allIds(this.kernel, 'prog');
  }

  /** Remove a pin; the object dies when nothing else holds it. */
  unpin(path: string): void {
    this.kernel.unpin(path);
  }

  /** Write pinned maps changed by programs to the store (syscall-side changes are written at once). */
  sync(): void {
    this.kernel.syncPins();
  }

  /** Close every handle (pinned objects stay in the store). */
  close(): void {
    this.kernel.shutdown();
  }
}

function allIds(kernel: Kernel, kind: 'map' | 'prog'): number[] {
  const ids: number[] = [];
  let id = 0;
  for (;;) {
    try {
      id = kernel.getNextId(kind, id);
    } catch (err) {
      if (isEnoent(err)) return ids;
      throw err;
    }
    ids.push(id);
  }
}

/** A handle on a map (one fd). close() releases it; the map dies with its last fd and pin. */
export class Map {
  readonly bpf: Bpf;
  readonly fd: number;
  private closed = false;

  constructor(bpf: Bpf, fd: number) {
    this.bpf = bpf;
    this.fd = fd;
  }

  /** Open the map pinned at `path` (ENOENT when there is none; EINVAL when it is not a map). */
  static fromPin(path: string, bpf: Bpf = Bpf.default): Map {
    if (bpf.kernel.pinnedKind(path) === 'prog') throw new BpfError('EINVAL', `${path}: not a map`);
    return new Map(bpf, bpf.kernel.objGet(path));
  }

  private get k(): Kernel {
    return this.bpf.kernel;
  }

  info(): MapInfo {
    return this.k.mapInfo(this.fd);
  }

  get id(): number { return this.info().id; }
  get keySize(): number { return this.info().keySize; }
  get valueSize(): number { return this.info().valueSize; }
  get maxEntries(): number { return this.info().maxEntries; }
  get type(): string { return mapTypeName(this.info().type) ?? String(this.info().type); }

  /** The value, or undefined when the key is absent. Per-CPU maps give every CPU's value. */
  lookup(key: Uint8Array, flags = 0): Uint8Array | undefined {
    try {
      return this.k.mapLookup(this.fd, key, flags);
    } catch (err) {
      if (isEnoent(err)) return undefined;
      throw err;
    }
  }

  update(key: Uint8Array, value: Uint8Array, flags?: UpdateFlag): void {
    this.k.mapUpdate(this.fd, key, value, updateFlags(flags));
  }

  /** True when the key was there. */
  delete(key: Uint8Array): boolean {
    try {
      this.k.mapDelete(this.fd, key);
      return true;
    } catch (err) {
      if (isEnoent(err)) return false;
      throw err;
    }
  }

  /** BPF_MAP_GET_NEXT_KEY: the key after `key` (the first without one), undefined at the end. */
  nextKey(key?: Uint8Array): Uint8Array | undefined {
    try {
      return this.k.mapGetNextKey(this.fd, key);
    } catch (err) {
      if (isEnoent(err)) return undefined;
      throw err;
    }
  }

  *keys(): IterableIterator<Uint8Array> {
    let key = this.nextKey();
    while (key) {
      yield key;
      key = this.nextKey(key);
    }
  }

  /** Entries as get_next_key + lookup (an entry deleted meanwhile is skipped). */
  *entries(): IterableIterator<[Uint8Array, Uint8Array]> {
    for (const key of this.keys()) {
      const value = this.lookup(key);
      if (value) yield [key, value];
    }
  }

  [Symbol.iterator](): IterableIterator<[Uint8Array, Uint8Array]> {
    return this.entries();
  }

  /** BPF_MAP_LOOKUP_AND_DELETE_ELEM (queue/stack: no key). Undefined when absent/empty. */
  lookupAndDelete(key?: Uint8Array): Uint8Array | undefined {
    try {
      return this.k.mapLookupAndDelete(this.fd, key);
    } catch (err) {
      if (isEnoent(err)) return undefined;
      throw err;
    }
  }

  /** Queue/stack. */
  push(value: Uint8Array, flags?: UpdateFlag): void {
    this.k.mapUpdate(this.fd, undefined, value, updateFlags(flags));
  }

  pop(): Uint8Array | undefined {
    return this.lookupAndDelete();
  }

  peek(): Uint8Array | undefined {
    try {
      return this.k.mapLookup(this.fd, undefined);
    } catch (err) {
      if (isEnoent(err)) return undefined;
      throw err;
    }
  }

  /**
   * BPF_MAP_LOOKUP_BATCH: up to `count` entries after `inBatch` (undefined = from the start);
   * pass the result's outBatch back to continue; `end` once the walk is done.
   */
  lookupBatch(count: number, inBatch?: Uint8Array, elemFlags = 0): MapBatch {
    return this.k.mapLookupBatch(this.fd, inBatch, count, elemFlags);
  }

  /** BPF_MAP_LOOKUP_AND_DELETE_BATCH. */
  lookupAndDeleteBatch(count: number, inBatch?: Uint8Array, elemFlags = 0): MapBatch {
    return this.k.mapLookupAndDeleteBatch(this.fd, inBatch, count, elemFlags);
  }

  /** BPF_MAP_UPDATE_BATCH: the number of elements updated. */
  updateBatch(keys: readonly Uint8Array[], values: readonly Uint8Array[], flags?: UpdateFlag): number {
    return this.k.mapUpdateBatch(this.fd, keys, values, updateFlags(flags));
  }

  /** BPF_MAP_DELETE_BATCH: the number of elements deleted. */
  deleteBatch(keys: readonly Uint8Array[]): number {
    return this.k.mapDeleteBatch(this.fd, keys);
  }

  /** BPF_MAP_FREEZE: no more syscall-side writes. */
  freeze(): void {
    this.k.mapFreeze(this.fd);
  }

  get frozen(): boolean {
    return this.info().frozen;
  }

  /** BPF_OBJ_PIN (EEXIST when the path is taken). */
  pin(path: string): void {
    this.k.objPin(this.fd, path);
  }

  /** Another handle on the same map. */
  clone(): Map {
    return new Map(this.bpf, this.k.dup(this.fd));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.k.close(this.fd);
  }

  /** A typed view: keys and values through codecs. */
  as<K, V>(key: Codec<K>, value: Codec<V>): TypedMap<K, V> {
    return new TypedMap(this, key, value);
  }
}

export interface ProgramSpec {
  /** A type name ('xdp', 'socket_filter', ...), a SEC() name ('xdp', 'tc', ...) or the number. */
  type: string | number;
  insns: readonly Insn[];
  license?: string;
  name?: string;
  /** The ELF section it came from (kept for pinned programs). */
  section?: string;
}

/** A handle on a loaded program (one fd). */
export class Program {
  readonly bpf: Bpf;
  readonly fd: number;
  private closed = false;

  constructor(bpf: Bpf, fd: number) {
    this.bpf = bpf;
    this.fd = fd;
  }

  /** Open the program pinned at `path` (ENOENT when none; EINVAL when it is not a program). */
  static fromPin(path: string, bpf: Bpf = Bpf.default): Program {
    if (bpf.kernel.pinnedKind(path) === 'map') throw new BpfError('EINVAL', `${path}: not a program`);
    return new Program(bpf, bpf.kernel.objGet(path));
  }

  info(): ProgInfo {
    return this.bpf.kernel.progInfo(this.fd);
  }

  get id(): number { return this.info().id; }
  get tag(): string { return this.info().tag; }
  get name(): string { return this.info().name; }

  /** The instructions as the engines run them (map references resolved to the maps' handles). */
  xlated(): Insn[] {
    return this.bpf.kernel.progInsns(this.fd);
  }

  pin(path: string): void {
    this.bpf.kernel.objPin(this.fd, path);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.bpf.kernel.close(this.fd);
  }
}

/** The two slots of `ld_imm64 dst, map` as BPF_PROG_LOAD expects them (src=1, imm = the map's fd). */
export function ldMapFd(dst: number, map: Map): [Insn, Insn] {
  return makeLdImm64(dst, BigInt(map.fd), 1);
}

/** A Map seen through codecs (e.g. `map.as(u32, u64)`). */
export class TypedMap<K, V> {
  readonly map: Map;
  private readonly kc: Codec<K>;
  private readonly vc: Codec<V>;

  constructor(map: Map, key: Codec<K>, value: Codec<V>) {
    this.map = map;
    this.kc = key;
    this.vc = value;
  }

  get(key: K): V | undefined {
    const v = this.map.lookup(this.kc.encode(key));
    return v ? this.vc.decode(v) : undefined;
  }

  set(key: K, value: V, flags?: UpdateFlag): void {
    this.map.update(this.kc.encode(key), this.vc.encode(value), flags);
  }

  delete(key: K): boolean {
    return this.map.delete(this.kc.encode(key));
  }

  *keys(): IterableIterator<K> {
    for (const k of this.map.keys()) yield this.kc.decode(k);
  }

  *entries(): IterableIterator<[K, V]> {
    for (const [k, v] of this.map.entries()) yield [this.kc.decode(k), this.vc.decode(v)];
  }

  [Symbol.iterator](): IterableIterator<[K, V]> {
    return this.entries();
  }
}

// Classic BPF and the tcpdump filter language.
export { compileFilter } from '../filter/index.js';
export { compileCbpf } from '../cbpf/compile.js';
export { bpfDump } from '../cbpf/index.js';

/*
 * Redirect targets (kernel/bpf/devmap.c, cpumap.c, net/xdp/xskmap.c): DEVMAP, DEVMAP_HASH, CPUMAP
 * and XSKMAP. Storage and bpf(2) semantics only; the datapath (net/) sends packets to them later.
 *
 * DEVMAP/DEVMAP_HASH values are struct bpf_devmap_val { u32 ifindex; u32 bpf_prog.fd/id } (4 or 8
 * bytes), CPUMAP values struct bpf_cpumap_val { u32 qsize; u32 bpf_prog.fd/id }, XSKMAP values a
 * socket fd. Updates take an fd, lookups show the program's id (the kernel's layout); programs
 * get the address of the stored value (read-only, BPF_F_RDONLY_PROG as the kernel forces).
 * Deleting from DEVMAP/CPUMAP/XSKMAP succeeds on empty slots (EINVAL only past the end).
 */
import { BPF_EXIST, BPF_F_RDONLY_PROG, BPF_MAP_TYPE, BPF_NOEXIST, type MapEnv, type MapSpec, type ProgRef } from './types.js';
import {
  E2BIG, EBADF, EEXIST, EINVAL, ENODEV, ENOENT, ENOMEM, EOPNOTSUPP, EOVERFLOW, MapBase, type RawValue, putU32,
  u32Bytes, u32le,
} from './common.js';

/** What a redirect to an element of these maps names. */
export interface RedirectTarget {
  /** DEVMAP*: ifindex; CPUMAP: the CPU; XSKMAP: the socket fd. */
  readonly target: number;
  /** DEVMAP, DEVMAP_HASH, CPUMAP: the program to run on the target (bpf_prog.fd at update). */
  readonly prog?: ProgRef;
}

function resolveProg(env: MapEnv, fd: number): ProgRef | number {
  const p = env.progFromFd?.(fd);
  return p ?? -EINVAL;
}

/** DEVMAP, CPUMAP and XSKMAP: arrays of optional targets. */
export class TargetArrayMap extends MapBase {
  private readonly entries: (RedirectTarget | undefined)[];
  private readonly valuesAddr: number;

  constructor(env: MapEnv, spec: MapSpec) {
    super(env, spec);
    this.entries = new Array(spec.maxEntries);
    this.valuesAddr = this.allocRegion(spec.maxEntries * 8, 'values', false).addr;
  }

  /** dev_map_init_map(): lookups return a pointer into the entry, so programs may only read it. */
  override get mapFlags(): number {
    return this.spec.type === BPF_MAP_TYPE.DEVMAP ? this.spec.flags | BPF_F_RDONLY_PROG : this.spec.flags;
  }

  /** The element at `key` (redirect_map's lookup), if any. */
  targetAt(key: number): RedirectTarget | undefined {
    return key >= 0 && key < this.spec.maxEntries ? this.entries[key] : undefined;
  }

  private store(i: number, e: RedirectTarget | undefined, second: number): void {
    const old = this.entries[i];
    if (old?.prog) this.env.release?.(old.prog);
    if (e?.prog) this.env.hold?.(e.prog);
    this.entries[i] = e;
    const v = new Uint8Array(this.space.memory.buffer, this.valuesAddr + i * 8, 8);
    putU32(v, 0, e ? e.target : 0);
    putU32(v, 4, e ? second : 0);
  }

  protected rawUpdate(key: Uint8Array, value: Uint8Array, flags: number): number {
    const i = u32le(key);
    const t = this.spec.type;
    if (flags > BPF_EXIST) return -EINVAL;
    if (i >= this.spec.maxEntries) return -E2BIG;
    const a = u32le(value);
    const fd = value.length >= 8 ? u32le(value, 4) | 0 : 0;
    if (t === BPF_MAP_TYPE.XSKMAP) { // xsk_map_update_elem
      if (this.env.xskFromFd ? !this.env.xskFromFd(a) : (a | 0) < 0) return (a | 0) < 0 ? -EBADF : -EOPNOTSUPP;
      const old = this.entries[i];
      if (old && old.target === a) return 0;
      if (old && flags === BPF_NOEXIST) return -EEXIST;
      if (!old && flags === BPF_EXIST) return -ENOENT;
      this.store(i, { target: a }, 0);
      return 0;
    }
    if (flags === BPF_NOEXIST) return -EEXIST;
    if (t === BPF_MAP_TYPE.CPUMAP) { // cpu_map_update_elem
      if (a > 16384) return -EOVERFLOW;
      if (i >= this.env.nrCpus) return -ENODEV;
      if (a === 0) {
        this.store(i, undefined, 0);
        return 0;
      }
      let prog: ProgRef | undefined;
      if (fd > 0) {
        const p = resolveProg(this.env, fd);
        if (typeof p === 'number') return -ENOMEM;
        prog = p;
      }
      this.store(i, { target: i, prog }, prog ? (this.env.progId?.(prog) ?? 0) : 0);
      putU32(new Uint8Array(this.space.memory.buffer, this.valuesAddr + i * 8, 4), 0, a); // value.qsize
      return 0;
    }
    // dev_map_update_elem
    if (a === 0) {
      if (fd > 0) return -EINVAL;
      this.store(i, undefined, 0);
      return 0;
    }
    if (this.env.ifindexExists && !this.env.ifindexExists(a)) return -EINVAL;
    let prog: ProgRef | undefined;
    if (fd > 0) {
      const p = resolveProg(this.env, fd);
      if (typeof p === 'number') return p;
      prog = p;
    }
    this.store(i, { target: a, prog }, prog ? (this.env.progId?.(prog) ?? 0) : 0);
    return 0;
  }

  protected rawLookup(key: Uint8Array): RawValue {
    if (this.spec.type === BPF_MAP_TYPE.XSKMAP) return -EOPNOTSUPP;
    const i = u32le(key);
    if (i >= this.spec.maxEntries || !this.entries[i]) return -ENOENT;
    return new Uint8Array(this.space.memory.buffer, this.valuesAddr + i * 8, this.spec.valueSize).slice();
  }

  protected rawDelete(key: Uint8Array): number {
    const i = u32le(key);
    if (i >= this.spec.maxEntries) return -EINVAL;
    this.store(i, undefined, 0);
    return 0;
  }

  protected rawNextKey(key: Uint8Array | undefined): RawValue {
    const index = key === undefined ? 0xffffffff : u32le(key);
    if (index >= this.spec.maxEntries) return u32Bytes(0);
    if (index === this.spec.maxEntries - 1) return -ENOENT;
    return u32Bytes(index + 1);
  }

  lookupElem(keyAddr: number, _cpu: number): number {
    const i = u32le(this.space.view(keyAddr, 4));
    return this.targetAt(i) ? this.valuesAddr + i * 8 : 0;
  }

  override updateElem(): number {
    return -EINVAL; // not from programs
  }

  protected override snapshotRecords(): [Uint8Array, Uint8Array][] {
    const out: [Uint8Array, Uint8Array][] = [];
    this.entries.forEach((e, i) => {
      if (e) out.push([u32Bytes(i), new Uint8Array(this.space.memory.buffer, this.valuesAddr + i * 8, 8).slice()]);
    });
    return out;
  }
  protected override restoreRecords(records: [Uint8Array, Uint8Array][]): void {
    for (const [k, v] of records) {
      const i = u32le(k);
      if (i >= this.spec.maxEntries) continue;
      const prog = u32le(v, 4) ? this.env.progFromId?.(u32le(v, 4)) : undefined;
      const target = this.spec.type === BPF_MAP_TYPE.CPUMAP ? i : u32le(v);
      this.store(i, { target, prog }, u32le(v, 4));
      putU32(new Uint8Array(this.space.memory.buffer, this.valuesAddr + i * 8, 4), 0, u32le(v));
    }
  }
  protected override clear(): void {
    for (let i = 0; i < this.entries.length; i++) if (this.entries[i]) this.store(i, undefined, 0);
  }
  protected override onClose(): void {
    this.clear();
  }
}

interface DevHashElem {
  key: number;
  target: RedirectTarget;
  addr: number;
}

/** DEVMAP_HASH: buckets by key & (n_buckets - 1), newest first, as dev_map_hash_*. */
export class DevMapHash extends MapBase {
  private readonly nBuckets: number;
  private readonly buckets: DevHashElem[][];
  private readonly free: number[] = [];
  private items = 0;

  constructor(env: MapEnv, spec: MapSpec) {
    super(env, spec);
    let n = 1;
    while (n < spec.maxEntries) n *= 2;
    this.nBuckets = n;
    this.buckets = Array.from({ length: n }, () => []);
    const base = this.allocRegion((spec.maxEntries + 1) * 8, 'values', false).addr;
    for (let i = spec.maxEntries; i >= 0; i--) this.free.push(base + i * 8);
  }

  private find(key: number): DevHashElem | undefined {
    return this.buckets[key & (this.nBuckets - 1)].find((e) => e.key === key);
  }

  override get mapFlags(): number {
    return this.spec.flags | BPF_F_RDONLY_PROG; // as dev_map_init_map()
  }

  targetAt(key: number): RedirectTarget | undefined {
    return this.find(key)?.target;
  }

  private unlink(e: DevHashElem): void {
    const b = this.buckets[e.key & (this.nBuckets - 1)];
    b.splice(b.indexOf(e), 1);
    this.free.push(e.addr);
    if (e.target.prog) this.env.release?.(e.target.prog);
  }

  protected rawUpdate(key: Uint8Array, value: Uint8Array, flags: number): number {
    const idx = u32le(key);
    const ifindex = u32le(value);
    const fd = value.length >= 8 ? u32le(value, 4) | 0 : 0;
    if (flags > BPF_EXIST || ifindex === 0) return -EINVAL;
    const old = this.find(idx);
    if (old && (flags & BPF_NOEXIST)) return -EEXIST;
    if (this.env.ifindexExists && !this.env.ifindexExists(ifindex)) return -EINVAL;
    let prog: ProgRef | undefined;
    if (fd > 0) {
      const p = resolveProg(this.env, fd);
      if (typeof p === 'number') return p;
      prog = p;
    }
    if (old) this.unlink(old);
    else if (this.items >= this.spec.maxEntries) return -E2BIG;
    else this.items++;
    const addr = this.free.pop()!;
    const v = new Uint8Array(this.space.memory.buffer, addr, 8);
    putU32(v, 0, ifindex);
    putU32(v, 4, prog ? (this.env.progId?.(prog) ?? 0) : 0);
    if (prog) this.env.hold?.(prog);
    this.buckets[idx & (this.nBuckets - 1)].unshift({ key: idx, target: { target: ifindex, prog }, addr });
    return 0;
  }

  protected rawLookup(key: Uint8Array): RawValue {
    const e = this.find(u32le(key));
    return e ? new Uint8Array(this.space.memory.buffer, e.addr, this.spec.valueSize).slice() : -ENOENT;
  }

  protected rawDelete(key: Uint8Array): number {
    const e = this.find(u32le(key));
    if (!e) return -ENOENT;
    this.unlink(e);
    this.items--;
    return 0;
  }

  protected rawNextKey(key: Uint8Array | undefined): RawValue {
    let i = 0;
    if (key !== undefined) {
      const idx = u32le(key);
      const e = this.find(idx);
      if (e) {
        const b = this.buckets[idx & (this.nBuckets - 1)];
        const at = b.indexOf(e);
        if (at + 1 < b.length) return u32Bytes(b[at + 1].key);
        i = (idx & (this.nBuckets - 1)) + 1;
      }
    }
    for (; i < this.nBuckets; i++) if (this.buckets[i].length) return u32Bytes(this.buckets[i][0].key);
    return -ENOENT;
  }

  lookupElem(keyAddr: number, _cpu: number): number {
    return this.find(u32le(this.space.view(keyAddr, 4)))?.addr ?? 0;
  }

  override updateElem(): number {
    return -EINVAL;
  }

  protected override restoreRecords(records: [Uint8Array, Uint8Array][]): void {
    for (const [k, v] of [...records].reverse()) {
      const idx = u32le(k);
      const prog = v.length >= 8 && u32le(v, 4) ? this.env.progFromId?.(u32le(v, 4)) : undefined;
      const addr = this.free.pop();
      if (addr === undefined) return;
      new Uint8Array(this.space.memory.buffer, addr, 8).set(v.length >= 8 ? v.subarray(0, 8) : v);
      if (prog) this.env.hold?.(prog);
      this.items++;
      this.buckets[idx & (this.nBuckets - 1)].unshift({ key: idx, target: { target: u32le(v), prog }, addr });
    }
  }
  protected override onClose(): void {
    this.clear();
  }
}

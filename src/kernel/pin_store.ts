/*
 * bpffs, bpfkit's way: pinned objects live in a store (a folder, BPFKIT_STATE) instead of the
 * kernel's bpffs, so they outlive the process that made them. Browser-safe: it works over a
 * StoreFs (store_fs.ts).
 *
 * Layout (names inside the store):
 *   ids                  next id per object kind (JSON), so ids stay unique and stable across processes
 *   objects/map/ID       a map: header (spec, name, frozen) + its contents (BpfMap.snapshot())
 *   objects/prog/ID      a program: header (type, name, tag, license, ...) + its instructions
 *   bpffs/REL            a pin: {"kind","id"}; REL is the path below /sys/fs/bpf
 *
 * An object file stays as long as a pin refers to it, or a stored program uses it (a pinned
 * program keeps its maps, as in the kernel); unpin() collects what became unreachable.
 * Every file is replaced atomically (StoreFs.writeAtomic), every read-modify-write holds the lock.
 */
import { BpfError } from '../errors.js';
import { BPFFS_MOUNT } from './kernel_version.js';
import type { StoreFs } from './store_fs.js';

export type ObjKind = 'map' | 'prog' | 'link' | 'btf';
export const OBJ_KINDS: readonly ObjKind[] = ['map', 'prog', 'link', 'btf'];

export interface PinRecord {
  kind: ObjKind;
  id: number;
}

/** A stored object: a JSON header and a binary payload. */
export interface StoredObject {
  header: Record<string, unknown>;
  payload: Uint8Array;
  /** Set when read from the store: the generation of the file it came from. */
  generation?: string;
}

/*
 * Object file format: "BPFKOBJ2", a 16-byte random generation (new on every write, so a reader
 * learns whether a file changed from its first 24 bytes), u32 header length, JSON header, u32
 * payload length, payload (little-endian lengths). A length mismatch means a foreign or
 * damaged file: EIO, never a misread.
 */
const MAGIC = 'BPFKOBJ2';
const GEN_OFF = 8;
const GEN_LEN = 16;
const HDR_OFF = GEN_OFF + GEN_LEN;
const enc = new TextEncoder();
const dec = new TextDecoder();

export function encodeObject(obj: StoredObject): Uint8Array {
  const header = enc.encode(JSON.stringify(obj.header));
  const out = new Uint8Array(HDR_OFF + 4 + header.length + 4 + obj.payload.length);
  const view = new DataView(out.buffer);
  out.set(enc.encode(MAGIC), 0);
  globalThis.crypto.getRandomValues(out.subarray(GEN_OFF, GEN_OFF + GEN_LEN));
  view.setUint32(HDR_OFF, header.length, true);
  out.set(header, HDR_OFF + 4);
  view.setUint32(HDR_OFF + 4 + header.length, obj.payload.length, true);
  out.set(obj.payload, HDR_OFF + 8 + header.length);
  return out;
}

export function decodeObject(bytes: Uint8Array, name: string): StoredObject {
  const bad = (): never => { throw new BpfError('EIO', `store object ${name} is corrupt`); };
  if (bytes.length < HDR_OFF + 8 || dec.decode(bytes.subarray(0, 8)) !== MAGIC) bad();
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hlen = view.getUint32(HDR_OFF, true);
  if (HDR_OFF + 8 + hlen > bytes.length) bad();
  let header: Record<string, unknown> = {};
  try {
    header = JSON.parse(dec.decode(bytes.subarray(HDR_OFF + 4, HDR_OFF + 4 + hlen))) as Record<string, unknown>;
  } catch {
    bad();
  }
  const plen = view.getUint32(HDR_OFF + 4 + hlen, true);
  if (HDR_OFF + 8 + hlen + plen !== bytes.length) bad();
  return { header, payload: bytes.slice(HDR_OFF + 8 + hlen), generation: generationOf(bytes) };
}

function generationOf(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes.subarray(GEN_OFF, GEN_OFF + GEN_LEN)) s += b.toString(16).padStart(2, '0');
  return s;
}

/**
 * A pin path as bpffs knows it: absolute, below /sys/fs/bpf, normalised ("//" and "." removed).
 * Returns the part below the mount point. ".." is refused (EINVAL), like escaping the mount.
 */
export function pinRelPath(path: string): string {
  if (!path.startsWith('/')) throw new BpfError('EINVAL', `pin path '${path}' is not absolute`);
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw new BpfError('EINVAL', `pin path '${path}' must not contain '..'`);
  const mount = BPFFS_MOUNT.split('/').filter((p) => p !== '');
  const under = mount.every((m, i) => parts[i] === m) && parts.length > mount.length;
  if (!under) throw new BpfError('EPERM', `'${path}' is not on a bpf file system (pins live below ${BPFFS_MOUNT}/)`);
  return parts.slice(mount.length).join('/');
}

export class PinStore {
  readonly fs: StoreFs;

  constructor(fs: StoreFs) {
    this.fs = fs;
  }

  withLock<T>(fn: () => T): T {
    return this.fs.withLock(fn);
  }

  /** Allocate the next id of `kind` (ids start at 1 and never repeat in this store). */
  allocId(kind: ObjKind): number {
    return this.fs.withLock(() => {
      const ids = this.readIds();
      const id = ids[kind];
      ids[kind] = id + 1;
      this.fs.writeAtomic('ids', enc.encode(JSON.stringify(ids)));
      return id;
    });
  }

  private readIds(): Record<ObjKind, number> {
    const ids: Record<ObjKind, number> = { map: 1, prog: 1, link: 1, btf: 1 };
    const raw = this.fs.read('ids');
    if (raw) {
      try {
        const parsed = JSON.parse(dec.decode(raw)) as Partial<Record<ObjKind, number>>;
        for (const k of OBJ_KINDS) if (typeof parsed[k] === 'number' && parsed[k]! > 0) ids[k] = parsed[k]!;
      } catch { /* corrupt counters: ids restart above the stored objects (below) */ }
    }
    // Never hand out an id a stored object has (counters lost or corrupt).
    for (const k of OBJ_KINDS) for (const id of this.objectIds(k)) ids[k] = Math.max(ids[k], id + 1);
    return ids;
  }

  objectIds(kind: ObjKind): number[] {
    return this.fs.list(`objects/${kind}`)
      .map((n) => Number(n.slice(n.lastIndexOf('/') + 1)))
      .filter((n) => Number.isInteger(n) && n > 0)
      .sort((a, b) => a - b);
  }

  readObject(kind: ObjKind, id: number): StoredObject | undefined {
    const name = `objects/${kind}/${id}`;
    const raw = this.fs.read(name);
    return raw ? decodeObject(raw, name) : undefined;
  }

  writeObject(kind: ObjKind, id: number, obj: StoredObject): void {
    this.fs.writeAtomic(`objects/${kind}/${id}`, encodeObject(obj));
  }

  /** The stored object's generation: new on every write (undefined: no such object). */
  objectVersion(kind: ObjKind, id: number): string | undefined {
    const head = this.fs.readPrefix(`objects/${kind}/${id}`, HDR_OFF);
    return head && head.length === HDR_OFF ? generationOf(head) : undefined;
  }

  hasObject(kind: ObjKind, id: number): boolean {
    return this.fs.read(`objects/${kind}/${id}`) !== undefined;
  }

  readPin(path: string): PinRecord | undefined {
    const raw = this.fs.read(`bpffs/${pinRelPath(path)}`);
    if (!raw) return undefined;
    try {
      const rec = JSON.parse(dec.decode(raw)) as PinRecord;
      if (OBJ_KINDS.includes(rec.kind) && Number.isInteger(rec.id)) return rec;
    } catch { /* fall through */ }
    throw new BpfError('EIO', `pin ${path} is corrupt`);
  }

  /** Create a pin; EEXIST when the path is taken. */
  createPin(path: string, rec: PinRecord): void {
    const rel = pinRelPath(path);
    this.fs.createExclusive(`bpffs/${rel}`, enc.encode(JSON.stringify({ kind: rec.kind, id: rec.id })));
  }

  /** All pins: absolute path and record. */
  listPins(): { path: string; rec: PinRecord }[] {
    const out: { path: string; rec: PinRecord }[] = [];
    for (const name of this.fs.list('bpffs')) {
      const path = `${BPFFS_MOUNT}/${name.slice('bpffs/'.length)}`;
      try {
        const rec = this.readPin(path);
        if (rec) out.push({ path, rec });
      } catch { /* a corrupt pin is skipped by listings */ }
    }
    return out;
  }

  /** Remove a pin (ENOENT when absent) and the stored objects nothing refers to any more. */
  unpin(path: string): void {
    this.fs.withLock(() => {
      const rel = pinRelPath(path);
      this.fs.remove(`bpffs/${rel}`);
      this.collect();
    });
  }

  /**
   * Delete stored objects no pin reaches: directly, as a map of a reachable program, or held by
   * the elements of a reachable map (map-in-map, prog array), transitively.
   */
  collect(): void {
    this.fs.withLock(() => {
      const live = new Set<string>();
      const todo: string[] = [];
      const reach = (key: string): void => {
        if (!live.has(key)) { live.add(key); todo.push(key); }
      };
      for (const { rec } of this.listPins()) reach(`${rec.kind}/${rec.id}`);
      while (todo.length) {
        const key = todo.pop()!;
        const [kind, id] = key.split('/');
        let obj: StoredObject | undefined;
        try { obj = this.readObject(kind as ObjKind, Number(id)); } catch { continue; }
        for (const mid of (obj?.header.mapIds as number[] | undefined) ?? []) reach(`map/${mid}`);
        for (const h of (obj?.header.holds as PinRecord[] | undefined) ?? []) reach(`${h.kind}/${h.id}`);
      }
      for (const kind of OBJ_KINDS) {
        for (const id of this.objectIds(kind)) {
          if (!live.has(`${kind}/${id}`)) {
            try { this.fs.remove(`objects/${kind}/${id}`); } catch { /* already gone */ }
          }
        }
      }
    });
  }
}

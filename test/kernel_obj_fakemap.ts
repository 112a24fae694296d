/*
 * A small stand-in for maps/ (hash, array, queue/stack with bpf(2) syscall semantics, contents in
 * JS memory) so the object model can be tested on its own. Not a reference for map semantics.
 */
import { BpfError } from '../src/errors.js';
import type { BpfMap, MapEnv, MapSpec } from '../src/maps/types.js';

const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
const unhex = (s: string): Uint8Array => new Uint8Array((s.match(/../g) ?? []).map((x) => parseInt(x, 16)));

export function createFakeMap(env: MapEnv, spec: MapSpec): BpfMap {
  if (![1, 2, 22, 23].includes(spec.type)) throw new BpfError('EINVAL', `fake map: type ${spec.type} unsupported`);
  if (spec.maxEntries === 0) throw new BpfError('EINVAL', 'max_entries 0');
  const isArray = spec.type === 2;
  const isQueue = spec.type === 22 || spec.type === 23;
  const region = env.space.alloc(64, `map ${spec.name ?? ''}`);
  const entries = new Map<string, Uint8Array>();
  const queue: Uint8Array[] = [];
  let frozen = false;
  let closed = false;
  const checkKey = (key: Uint8Array | undefined): string => {
    if (isQueue) return '';
    if (!key || key.length !== spec.keySize) throw new BpfError('EINVAL', 'key size');
    if (isArray) {
      const idx = new DataView(key.buffer, key.byteOffset).getUint32(0, true);
      if (idx >= spec.maxEntries) throw new BpfError('ENOENT', 'index');
    }
    return hex(key);
  };
  const map: BpfMap = {
    spec: { ...spec },
    handleAddr: region.addr,
    get frozen() { return frozen; },
    lookup(key) {
      if (isQueue) {
        const v = spec.type === 22 ? queue[0] : queue[queue.length - 1];
        if (!v) throw new BpfError('ENOENT', 'empty');
        return v.slice();
      }
      const k = checkKey(key);
      const v = entries.get(k) ?? (isArray ? new Uint8Array(spec.valueSize) : undefined);
      if (!v) throw new BpfError('ENOENT', 'no such key');
      return v.slice();
    },
    update(key, value, flags = 0) {
      if (frozen) throw new BpfError('EPERM', 'frozen');
      if (value.length !== spec.valueSize) throw new BpfError('EINVAL', 'value size');
      if (isQueue) {
        if (queue.length >= spec.maxEntries) throw new BpfError('E2BIG', 'full');
        queue.push(value.slice());
        return;
      }
      const k = checkKey(key);
      const exists = isArray || entries.has(k);
      if (flags === 1 && exists) throw new BpfError('EEXIST', 'exists');
      if (flags === 2 && !exists) throw new BpfError('ENOENT', 'missing');
      if (!entries.has(k) && !isArray && entries.size >= spec.maxEntries) throw new BpfError('E2BIG', 'full');
      entries.set(k, value.slice());
    },
    delete(key) {
      if (frozen) throw new BpfError('EPERM', 'frozen');
      if (isArray || isQueue) throw new BpfError('EINVAL', 'delete');
      if (!entries.delete(checkKey(key))) throw new BpfError('ENOENT', 'no such key');
    },
    getNextKey(key) {
      if (isQueue) throw new BpfError('EINVAL', 'queue');
      if (isArray) {
        const idx = key ? new DataView(key.buffer, key.byteOffset).getUint32(0, true) + 1 : 0;
        if (idx >= spec.maxEntries) throw new BpfError('ENOENT', 'last');
        const out = new Uint8Array(spec.keySize);
        new DataView(out.buffer).setUint32(0, idx, true);
        return out;
      }
      const keys = [...entries.keys()];
      const i = key ? keys.indexOf(hex(key)) : -1;
      const next = keys[key && i < 0 ? 0 : i + 1];
      if (next === undefined) throw new BpfError('ENOENT', 'last');
      return unhex(next);
    },
    lookupAndDelete(key) {
      if (frozen) throw new BpfError('EPERM', 'frozen');
      if (isQueue) {
        const v = spec.type === 22 ? queue.shift() : queue.pop();
        if (!v) throw new BpfError('ENOENT', 'empty');
        return v;
      }
      const v = map.lookup(key!);
      map.delete(key!);
      return v;
    },
    freeze() {
      if (frozen) throw new BpfError('EBUSY', 'frozen');
      frozen = true;
    },
    lookupBatch(inBatch, count) {
      const keys: Uint8Array[] = [];
      const values: Uint8Array[] = [];
      let prev = inBatch;
      for (;;) {
        if (keys.length >= count) return { keys, values, outBatch: prev, end: false };
        let k: Uint8Array;
        try { k = map.getNextKey(prev); } catch { return { keys, values, outBatch: prev, end: true }; }
        keys.push(k);
        values.push(map.lookup(k));
        prev = k;
      }
    },
    lookupAndDeleteBatch(inBatch, count) {
      const b = map.lookupBatch(inBatch, count);
      for (const k of b.keys) map.delete(k);
      return b;
    },
    updateBatch(keys, values, flags) {
      keys.forEach((k, i) => map.update(k, values[i], flags));
      return keys.length;
    },
    deleteBatch(keys) {
      keys.forEach((k) => map.delete(k));
      return keys.length;
    },
    pushElem: () => -22,
    popElem: () => -22,
    peekElem: () => -22,
    lookupElem: () => 0,
    updateElem: () => -22,
    deleteElem: () => -22,
    snapshot() {
      return new TextEncoder().encode(JSON.stringify({ e: [...entries].map(([k, v]) => [k, hex(v)]), q: queue.map(hex) }));
    },
    restore(data) {
      const s = JSON.parse(new TextDecoder().decode(data)) as { e: [string, string][]; q: string[] };
      entries.clear();
      for (const [k, v] of s.e) entries.set(k, unhex(v));
      queue.length = 0;
      queue.push(...s.q.map(unhex));
    },
    close() {
      if (closed) throw new BpfError('EINVAL', 'double close');
      closed = true;
      env.space.free(region);
    },
  };
  return map;
}

/*
 * The bpf() object model: ids, fds and refcounts, pins, info, program tags, lifetimes. Uses a
 * stand-in map implementation (kernel_obj_fakemap.ts) so it tests kernel/ alone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Bpf, type BpfOptions } from '../src/kernel/bpf.js';
import { PinStore, decodeObject, encodeObject, pinRelPath } from '../src/kernel/pin_store.js';
import { MemoryStoreFs } from '../src/kernel/store_fs.js';
import { calcProgTag } from '../src/kernel/prog_tag.js';
import { sha1, sha256, toHex } from '../src/kernel/sha.js';
import { openObject } from '../src/loader/object.js';
import { makeInsn, makeLdImm64 } from '../src/isa/insn.js';
import { BpfError } from '../src/errors.js';
import { createFakeMap } from './kernel_obj_fakemap.js';

const HASH = { type: 1, keySize: 4, valueSize: 8, maxEntries: 16, flags: 0, name: 'h' };
const kernel = (opts: BpfOptions = {}): Bpf => new Bpf({ createMap: createFakeMap, ...opts });
const key = (n: number): Uint8Array => new Uint8Array([n, 0, 0, 0]);
const val = (n: number): Uint8Array => new Uint8Array([n, 0, 0, 0, 0, 0, 0, 0]);
const code = (fn: () => unknown): string => {
  try { fn(); } catch (err) { assert.ok(err instanceof BpfError, String(err)); return err.code; }
  return 'ok';
};
const EXIT = [makeInsn(0xb7, 0, 0, 0, 2), makeInsn(0x95)];

test('SHA-1 and SHA-256 match the FIPS 180 examples', () => {
  const abc = new TextEncoder().encode('abc');
  assert.equal(toHex(sha1(abc)), 'a9993e364706816aba3e25717850c26c9cd0d89d');
  assert.equal(toHex(sha256(abc)), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  const long = new TextEncoder().encode('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq');
  assert.equal(toHex(sha1(long)), '84983e441c3bd26ebaae4aa1f95129e5e54670f1');
  assert.equal(toHex(sha256(long)), '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1');
  assert.equal(toHex(sha256(new Uint8Array(0))), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
});

test('program tags: SHA-256 on 6.18 (as bpftool showed on 6.18.44), SHA-1 before', () => {
  const fixture = (name: string) => openObject(new Uint8Array(readFileSync(new URL(`../../test/fixtures/${name}`, import.meta.url))), name).programs[0];
  // Tags read from `bpftool prog show` after `bpftool prog load` of these fixtures on Linux 6.18.44.
  assert.equal(calcProgTag(fixture('xdp_ctx.o').insns), '08bf63d8c12d2c2b');
  assert.equal(calcProgTag(fixture('calls.o').insns), 'af92e7f6c440f340');
  assert.notEqual(calcProgTag(fixture('xdp_ctx.o').insns, { major: 6, minor: 17 }), '08bf63d8c12d2c2b');
  // Map fds are zeroed before hashing: the same program with another map has the same tag.
  const withMap = (fd: number) => [...makeLdImm64(1, BigInt(fd), 1), ...EXIT];
  assert.equal(calcProgTag(withMap(3)), calcProgTag(withMap(7)));
  assert.notEqual(calcProgTag([...makeLdImm64(1, 3n, 0), ...EXIT]), calcProgTag([...makeLdImm64(1, 7n, 0), ...EXIT]));
});

test('ids are monotonic per kind and never reused; fds start at 3', () => {
  const k = kernel();
  const a = k.mapCreate(HASH);
  const b = k.mapCreate(HASH);
  assert.equal(a, 3);
  assert.deepEqual([k.mapInfo(a).id, k.mapInfo(b).id], [1, 2]);
  const p = k.progLoad({ type: 6, insns: EXIT, license: 'GPL', name: 'p' });
  assert.equal(k.progInfo(p).id, 1);
  k.close(b);
  const c = k.mapCreate(HASH);
  assert.equal(k.mapInfo(c).id, 3);
  assert.equal(k.getNextId('map', 0), 1);
  assert.equal(k.getNextId('map', 1), 3);
  assert.equal(code(() => k.getNextId('map', 3)), 'ENOENT');
  assert.equal(k.getNextId('prog', 0), 1);
});

test('close releases: EBADF after close, the map dies with its last fd', () => {
  const k = kernel();
  const fd = k.mapCreate(HASH);
  const id = k.mapInfo(fd).id;
  const fd2 = k.dup(fd);
  k.close(fd);
  assert.equal(code(() => k.mapInfo(fd)), 'EBADF');
  assert.equal(code(() => k.close(fd)), 'EBADF');
  k.mapUpdate(fd2, key(1), val(1));
  const fd3 = k.getFdById('map', id);
  k.close(fd2);
  assert.deepEqual(k.mapLookup(fd3, key(1)), val(1));
  k.close(fd3);
  assert.equal(code(() => k.getFdById('map', id)), 'ENOENT');
  assert.deepEqual(k.openFds(), []);
});

test('a program holds its maps: the map lives while the program does', () => {
  const k = kernel();
  const m = k.mapCreate(HASH);
  const mapId = k.mapInfo(m).id;
  const p = k.progLoad({ type: 6, insns: [...makeLdImm64(1, BigInt(m), 1), ...EXIT], license: 'Dual BSD/GPL', name: 'user' });
  k.close(m);
  const again = k.getFdById('map', mapId);
  k.close(again);
  const info = k.progInfo(p);
  assert.deepEqual(info.mapIds, [mapId]);
  assert.equal(info.gplCompatible, true);
  assert.equal(info.xlatedProgLen, 32);
  const x = k.progInsns(p);
  assert.equal(x[0].imm >>> 0, k.progMaps(p)[0].map.handleAddr);
  k.close(p);
  assert.equal(code(() => k.getFdById('map', mapId)), 'ENOENT');
  assert.equal(code(() => k.progLoad({ type: 6, insns: [...makeLdImm64(1, 99n, 1), ...EXIT], license: 'GPL' })), 'EBADF');
});

test('names follow bpf_obj_name_cpy(): at most 15 characters of [A-Za-z0-9_.]', () => {
  const k = kernel();
  assert.equal(code(() => k.mapCreate({ ...HASH, name: 'a'.repeat(16) })), 'EINVAL');
  assert.equal(code(() => k.mapCreate({ ...HASH, name: 'bad-name' })), 'EINVAL');
  assert.equal(k.mapInfo(k.mapCreate({ ...HASH, name: 'a'.repeat(15) })).name, 'a'.repeat(15));
});

test('frozen and read-only maps refuse syscall writes with EPERM, freezing twice too', () => {
  const k = kernel();
  const fd = k.mapCreate(HASH);
  k.mapUpdate(fd, key(1), val(1));
  k.mapFreeze(fd);
  assert.equal(k.mapInfo(fd).frozen, true);
  assert.equal(code(() => k.mapUpdate(fd, key(2), val(2))), 'EPERM');
  assert.equal(code(() => k.mapDelete(fd, key(1))), 'EPERM');
  assert.equal(code(() => k.mapFreeze(fd)), 'EPERM');
  assert.deepEqual(k.mapLookup(fd, key(1)), val(1));
  const ro = k.mapCreate({ ...HASH, flags: 1 << 3 });
  assert.equal(code(() => k.mapUpdate(ro, key(1), val(1))), 'EPERM');
  const wo = k.mapCreate({ ...HASH, flags: 1 << 4 });
  k.mapUpdate(wo, key(1), val(1));
  assert.equal(code(() => k.mapLookup(wo, key(1))), 'EPERM');
});

test('in-memory pins (no store): pin keeps an object alive, EEXIST, unlink kills it', () => {
  const k = kernel();
  const fd = k.mapCreate(HASH);
  const id = k.mapInfo(fd).id;
  k.mapUpdate(fd, key(7), val(7));
  k.objPin(fd, '/sys/fs/bpf/m');
  assert.equal(code(() => k.objPin(fd, '/sys/fs/bpf//m')), 'EEXIST');
  k.close(fd);
  const again = k.objGet('/sys/fs/bpf/m');
  assert.deepEqual(k.mapLookup(again, key(7)), val(7));
  k.close(again);
  assert.equal(k.getNextId('map'), id);
  k.unpin('/sys/fs/bpf/m');
  assert.equal(code(() => k.objGet('/sys/fs/bpf/m')), 'ENOENT');
  assert.equal(code(() => k.getFdById('map', id)), 'ENOENT');
  assert.equal(code(() => k.unpin('/sys/fs/bpf/m')), 'ENOENT');
});

test('a store: pinned maps and programs outlive their kernel, ids stay stable and unique', () => {
  const fs = new MemoryStoreFs();
  const k1 = kernel({ store: new PinStore(fs) });
  const m = k1.mapCreate({ ...HASH, name: 'counts' });
  k1.mapUpdate(m, key(1), val(42));
  k1.objPin(m, '/sys/fs/bpf/counts');
  const hidden = k1.mapCreate({ ...HASH, name: 'hidden' });
  k1.mapUpdate(hidden, key(2), val(2));
  const p = k1.progLoad({ type: 6, insns: [...makeLdImm64(1, BigInt(hidden), 1), ...EXIT], license: 'GPL', name: 'prog' });
  k1.objPin(p, '/sys/fs/bpf/dir/prog');
  const tag = k1.progInfo(p).tag;
  k1.shutdown();

  const k2 = kernel({ store: new PinStore(fs) });
  assert.equal(code(() => k2.objPin(k2.objGet('/sys/fs/bpf/counts'), '/sys/fs/bpf/counts')), 'EEXIST');
  const m2 = k2.objGet('/sys/fs/bpf/counts');
  assert.equal(k2.mapInfo(m2).id, 1);
  assert.equal(k2.mapInfo(m2).name, 'counts');
  assert.deepEqual(k2.mapLookup(m2, key(1)), val(42));
  const p2 = k2.objGet('/sys/fs/bpf/dir/prog');
  const info = k2.progInfo(p2);
  assert.deepEqual([info.id, info.name, info.tag, info.mapIds], [1, 'prog', tag, [2]]);
  // The program's unpinned map came along, with its contents.
  const hid = k2.getFdById('map', 2);
  assert.deepEqual(k2.mapLookup(hid, key(2)), val(2));
  // A new map gets a fresh id (the allocator is in the store).
  assert.equal(k2.mapInfo(k2.mapCreate(HASH)).id, 3);
  assert.deepEqual(k2.pinnedPaths('map', 1), ['/sys/fs/bpf/counts']);
  k2.shutdown();

  // Unpinning the program lets its unpinned map go; the pinned map stays.
  const k3 = kernel({ store: new PinStore(fs) });
  k3.unpin('/sys/fs/bpf/dir/prog');
  assert.equal(code(() => k3.getFdById('prog', 1)), 'ENOENT');
  assert.equal(code(() => k3.getFdById('map', 2)), 'ENOENT');
  assert.equal(k3.getNextId('map'), 1);
  k3.unpin('/sys/fs/bpf/counts');
  assert.equal(code(() => k3.getNextId('map')), 'ENOENT');
  assert.equal(k3.mapInfo(k3.mapCreate(HASH)).id, 4);
});

test('a pinned map is written through: two kernels on one store see each other\'s updates', () => {
  const fs = new MemoryStoreFs();
  const a = kernel({ store: new PinStore(fs) });
  const b = kernel({ store: new PinStore(fs) });
  const fa = a.mapCreate(HASH);
  a.objPin(fa, '/sys/fs/bpf/shared');
  const fb = b.objGet('/sys/fs/bpf/shared');
  a.mapUpdate(fa, key(1), val(1));
  b.mapUpdate(fb, key(2), val(2));
  a.mapUpdate(fa, key(3), val(3));
  assert.deepEqual(b.mapLookup(fb, key(1)), val(1));
  assert.deepEqual(a.mapLookup(fa, key(2)), val(2));
  assert.equal(code(() => b.mapUpdate(fb, key(3), val(9), 1)), 'EEXIST');
  b.mapFreeze(fb);
  assert.equal(code(() => a.mapUpdate(fa, key(4), val(4))), 'EPERM');
});

test('a kernel that only read a pinned map never writes its older copy back', () => {
  const fs = new MemoryStoreFs();
  const a = kernel({ store: new PinStore(fs) });
  const fa = a.mapCreate(HASH);
  a.objPin(fa, '/sys/fs/bpf/m');
  a.mapUpdate(fa, key(1), val(1));
  const reader = kernel({ store: new PinStore(fs) });
  const fr = reader.objGet('/sys/fs/bpf/m');
  assert.deepEqual(reader.mapLookup(fr, key(1)), val(1));
  a.mapUpdate(fa, key(2), val(2));
  reader.close(fr);
  reader.shutdown();
  const check = kernel({ store: new PinStore(fs) });
  assert.deepEqual(check.mapLookup(check.objGet('/sys/fs/bpf/m'), key(2)), val(2));
  // syncPins() is the explicit write of changes made behind the syscall's back (programs).
  const fc = check.objGet('/sys/fs/bpf/m');
  check.mapOf(fc).map.update(key(3), val(3));
  check.syncPins();
  assert.deepEqual(a.mapLookup(fa, key(3)), val(3));
});

test('a pinned map-in-map keeps its unpinned inner maps in the store', async () => {
  const { createMap } = await import('../src/maps/index.js');
  const fs = new MemoryStoreFs();
  const k1 = new Bpf({ store: new PinStore(fs), createMap });
  const inner = k1.mapCreate({ type: 2, keySize: 4, valueSize: 4, maxEntries: 1, flags: 0, name: 'inner' });
  k1.mapUpdate(inner, key(0), new Uint8Array([9, 0, 0, 0]));
  const outer = k1.mapCreate({ type: 12, keySize: 4, valueSize: 4, maxEntries: 2, flags: 0, name: 'outer', innerMap: k1.mapOf(inner).map });
  const innerId = k1.mapInfo(inner).id;
  k1.objPin(outer, '/sys/fs/bpf/outer');
  k1.mapUpdate(outer, key(1), new Uint8Array([inner, 0, 0, 0]));
  k1.shutdown();

  const k2 = new Bpf({ store: new PinStore(fs), createMap });
  const o = k2.objGet('/sys/fs/bpf/outer');
  assert.deepEqual(k2.mapLookup(o, key(1)), new Uint8Array([innerId, 0, 0, 0]));
  const i2 = k2.getFdById('map', innerId);
  assert.deepEqual(k2.mapLookup(i2, key(0)), new Uint8Array([9, 0, 0, 0]));
  k2.shutdown();

  const k3 = new Bpf({ store: new PinStore(fs), createMap });
  k3.unpin('/sys/fs/bpf/outer');
  assert.equal(code(() => k3.getFdById('map', innerId)), 'ENOENT');
});

test('links hold their program: fd, pin, detach; ids of their own kind', () => {
  const fs = new MemoryStoreFs();
  const k = kernel({ store: new PinStore(fs) });
  const p = k.progLoad({ type: 6, insns: EXIT, license: 'GPL', name: 'linked' });
  const progId = k.progInfo(p).id;
  const l = k.linkCreate({ progFd: p, attachType: 37, targetIfindex: 1 });
  assert.deepEqual(k.linkInfo(l), { id: 1, progId, attachType: 37, targetIfindex: 1 });
  k.close(p);
  k.close(k.getFdById('prog', progId)); // the link keeps the program
  k.objPin(l, '/sys/fs/bpf/link');
  k.shutdown();

  const k2 = kernel({ store: new PinStore(fs) });
  const l2 = k2.objGet('/sys/fs/bpf/link');
  assert.equal(k2.objectKind(l2), 'link');
  assert.equal(k2.linkInfo(l2).progId, progId);
  assert.equal(k2.progInfo(k2.getFdById('prog', progId)).name, 'linked');
  assert.equal(k2.getNextId('link'), 1);
  k2.shutdown();

  const k3 = kernel({ store: new PinStore(fs) });
  const l3 = k3.objGet('/sys/fs/bpf/link');
  k3.linkDetach(l3);
  assert.equal(k3.linkInfo(l3).progId, 0);
  k3.unpin('/sys/fs/bpf/link');
  k3.close(l3);
  assert.equal(code(() => k3.getFdById('prog', progId)), 'ENOENT');
  assert.equal(code(() => k3.getFdById('link', 1)), 'ENOENT');
  assert.equal(code(() => k3.linkInfo(k3.progLoad({ type: 6, insns: EXIT, license: 'GPL' }))), 'EINVAL');
});

test('pin paths must lie below /sys/fs/bpf', () => {
  assert.equal(pinRelPath('/sys/fs/bpf/a//b/./c'), 'a/b/c');
  assert.equal(code(() => pinRelPath('/tmp/x')), 'EPERM');
  assert.equal(code(() => pinRelPath('/sys/fs/bpf/../x')), 'EINVAL');
  assert.equal(code(() => pinRelPath('relative')), 'EINVAL');
  assert.equal(code(() => kernel({ store: new PinStore(new MemoryStoreFs()) }).objPin(3, '/sys/fs/bpf/x')), 'EBADF');
});

test('store objects: a truncated or foreign file is reported, not misread', () => {
  const bytes = encodeObject({ header: { a: 1 }, payload: new Uint8Array([1, 2, 3]) });
  assert.deepEqual(decodeObject(bytes, 'x').payload, new Uint8Array([1, 2, 3]));
  assert.equal(code(() => decodeObject(bytes.subarray(0, bytes.length - 1), 'x')), 'EIO');
  assert.equal(code(() => decodeObject(new Uint8Array(20), 'x')), 'EIO');
});

/*
 * The VM address space: allocation (alignment, red zones, null guard, growth, reuse after free),
 * region lookup, host reads/writes and their checks.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BpfError } from '../src/errors.js';
import { AddressSpace, NULL_GUARD, REDZONE } from '../src/vm/address_space.js';
import { HelperRegistry } from '../src/vm/helpers.js';
import { Vm } from '../src/vm/vm.js';

test('address space: regions never start at 0, are aligned, zeroed and separated by red zones', () => {
  const space = new AddressSpace();
  const a = space.alloc(3, 'a');
  const b = space.alloc(100, 'b', { align: 64 });
  const c = space.alloc(0, 'empty');
  assert.ok(a.addr >= NULL_GUARD);
  assert.equal(a.addr % 8, 0);
  assert.equal(b.addr % 64, 0);
  assert.ok(b.addr >= a.addr + a.size + REDZONE);
  assert.ok(c.addr >= b.addr + b.size + REDZONE);
  assert.deepEqual(space.bytes(b), new Uint8Array(100));
  assert.equal(a.writable, true);
  assert.equal(space.alloc(4, 'ro', { writable: false }).writable, false);
  assert.equal(space.regionAt(0), undefined);
  assert.equal(space.regionAt(a.addr), a);
  assert.equal(space.regionAt(a.addr + 2), a);
  assert.equal(space.regionAt(a.addr + 3), undefined);
  assert.equal(space.regionAt(b.addr + 99), b);
  assert.equal(space.regionAt(c.addr), undefined, 'an empty region holds no byte');
});

test('address space: the memory grows for large regions and addresses stay valid', () => {
  const space = new AddressSpace({ maxBytes: 64 << 20 });
  const small = space.alloc(16, 'small');
  space.write(small.addr, new Uint8Array([1, 2, 3]));
  const before = space.byteLength;
  const big = space.alloc(8 << 20, 'big');
  assert.ok(space.byteLength > before);
  assert.ok(space.byteLength >= big.addr + big.size);
  assert.deepEqual(space.read(small.addr, 3), new Uint8Array([1, 2, 3]));
  space.bytes(big)[(8 << 20) - 1] = 7;
  assert.equal(space.read(big.addr + (8 << 20) - 1, 1)[0], 7);
});

test('address space: allocation beyond maxBytes is ENOMEM', () => {
  const space = new AddressSpace({ maxBytes: 1 << 20 });
  assert.throws(() => space.alloc(2 << 20, 'huge'), (e: unknown) => e instanceof BpfError && e.code === 'ENOMEM' && /alloc 'huge'/.test(e.message));
});

test('address space: freed ranges are reused, lookups forget freed regions', () => {
  const space = new AddressSpace();
  const a = space.alloc(256, 'a');
  const b = space.alloc(256, 'b');
  space.free(a);
  assert.equal(space.regionAt(a.addr), undefined);
  const c = space.alloc(128, 'c');
  assert.equal(c.addr, a.addr, 'first fit reuses the hole');
  assert.equal(space.regionAt(b.addr), b);
  assert.throws(() => space.free(a), /not allocated/);
  assert.deepEqual(space.list().map((r) => r.name), ['c', 'b']);
});

test('address space: host read/write stay inside one region', () => {
  const space = new AddressSpace();
  const a = space.alloc(8, 'a', { writable: false });
  space.write(a.addr, new Uint8Array([9, 8, 7, 6, 5, 4, 3, 2])); // the host may write read-only regions
  assert.deepEqual(space.read(a.addr + 6, 2), new Uint8Array([3, 2]));
  assert.throws(() => space.read(a.addr + 4, 8), (e: unknown) => e instanceof BpfError && e.code === 'EFAULT' && /past end of region 'a'/.test(e.message));
  assert.throws(() => space.write(0, new Uint8Array(1)), /addr 0x0, size 1, no region/);
  assert.equal(space.read(0, 0).length, 0);
  // read returns a copy
  const copy = space.read(a.addr, 1);
  copy[0] = 0;
  assert.equal(space.read(a.addr, 1)[0], 9);
});

test('address space: accessError explains faults', () => {
  const space = new AddressSpace();
  const a = space.alloc(16, 'ctx', { writable: false });
  assert.equal(space.accessError(a.addr, 16, false), undefined);
  assert.equal(space.accessError(a.addr, 4, true), `addr 0x${a.addr.toString(16)}, size 4, region 'ctx' [0x${a.addr.toString(16)}-0x${(a.addr + 16).toString(16)}] is read-only`);
  assert.match(space.accessError(a.addr + 12, 8, false) ?? '', /past end of region 'ctx'/);
  assert.match(space.accessError(a.addr - 1, 1, false) ?? '', /no region/);
});

test('address space: shared memory is backed by a SharedArrayBuffer', () => {
  const space = new AddressSpace({ shared: true, maxBytes: 1 << 20 });
  assert.ok(space.memory.buffer instanceof SharedArrayBuffer);
  const r = space.alloc(4, 'x');
  space.write(r.addr, new Uint8Array([1]));
  assert.equal(space.read(r.addr, 1)[0], 1);
});

test('vm: a Vm owns an address space and a helper registry', () => {
  const helpers = new HelperRegistry();
  helpers.register(1, 'map_lookup_elem', () => 0n);
  const vm = new Vm({ helpers, maxMemoryBytes: 1 << 20 });
  assert.equal(vm.helpers, helpers);
  assert.equal(vm.space.maxBytes, 1 << 20);
  assert.equal(new Vm().helpers.get(1), undefined);
  assert.deepEqual(helpers.entries().map((h) => h.name), ['map_lookup_elem']);
  assert.throws(() => helpers.register(-1, 'bad', () => 0n), /invalid id/);
});

test('address space: view() is a live, checked window on a region', () => {
  const space = new AddressSpace();
  const r = space.alloc(16, 'key');
  const v = space.view(r.addr + 4, 4);
  v[0] = 0x42;
  assert.equal(space.read(r.addr + 4, 1)[0], 0x42);
  assert.equal(space.view(0, 0).length, 0);
  assert.throws(() => space.view(r.addr + 8, 16), (e: unknown) => e instanceof BpfError && e.code === 'EFAULT' && /invalid memory access: .*past end of region 'key'/.test(e.message));
});

/*
 * User references (map->usercnt): when the last fd and pin of a PROG_ARRAY go while a program
 * still holds it, the kernel empties the array (bpf_map_put_uref() -> prog_array_map_clear()).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Bpf, Map, ldMapFd, u32 } from '../src/api/index.js';
import { makeInsn } from '../src/isa/insn.js';

function setup() {
  const bpf = new Bpf();
  const arr = bpf.createMap({ type: 'prog_array', keySize: 4, valueSize: 4, maxEntries: 4, name: 'jmp' });
  const target = bpf.loadProgram({ type: 'xdp', name: 'target', insns: [makeInsn(0xb7, 0, 0, 0, 1), makeInsn(0x95)] });
  // A program that holds the array (its ld_imm64 references it).
  const holder = bpf.loadProgram({ type: 'xdp', name: 'holder', insns: [...ldMapFd(1, arr), makeInsn(0xb7, 0, 0, 0, 2), makeInsn(0x95)] });
  arr.update(u32.encode(0), u32.encode(target.fd));
  const id = arr.id;
  const reopen = (): Map => new Map(bpf, bpf.kernel.getFdById('map', id));
  return { bpf, arr, holder, reopen };
}

test('PROG_ARRAY: closing the last fd empties it while a program still holds it', () => {
  const { arr, reopen } = setup();
  assert.notEqual(arr.lookup(u32.encode(0)), undefined);
  const second = reopen();
  arr.close();
  assert.notEqual(second.lookup(u32.encode(0)), undefined, 'another fd still holds a user reference');
  second.close();
  const again = reopen(); // the map lives (the program holds it) but is empty
  assert.equal(again.lookup(u32.encode(0)), undefined);
});

test('PROG_ARRAY: a pin is a user reference; unpinning the last one empties the array', () => {
  const { arr, reopen } = setup();
  arr.pin('/sys/fs/bpf/jmp');
  arr.close();
  const viaId = reopen();
  assert.notEqual(viaId.lookup(u32.encode(0)), undefined, 'the pin keeps the entries');
  viaId.close();
  arr.bpf.kernel.unpin('/sys/fs/bpf/jmp');
  const again = reopen();
  assert.equal(again.lookup(u32.encode(0)), undefined);
});

test('other map types keep their contents when the last fd closes', () => {
  const bpf = new Bpf();
  const h = bpf.createMap({ type: 'hash', keySize: 4, valueSize: 4, maxEntries: 4, name: 'h' });
  bpf.loadProgram({ type: 'xdp', name: 'holder', insns: [...ldMapFd(1, h), makeInsn(0xb7, 0, 0, 0, 2), makeInsn(0x95)] });
  h.update(u32.encode(1), u32.encode(7));
  const id = h.id;
  h.close();
  const again = new Map(bpf, bpf.kernel.getFdById('map', id));
  assert.deepEqual(again.lookup(u32.encode(1)), u32.encode(7));
});

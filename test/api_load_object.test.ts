/*
 * The skeleton-style API: Bpf.loadObject() over a clang-built object with BTF maps, global data
 * and subprograms; globals set before load, handles by name, close() keeping pins.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Bpf, u32 } from '../src/api/index.js';

const fixture = readFileSync(fileURLToPath(new URL('../../test/fixtures/loader/btf_maps.o', import.meta.url)));
const rdU32 = (b: Uint8Array): number => new DataView(b.buffer, b.byteOffset).getUint32(0, true);

test('loadObject: programs and maps by name, globals set before load', () => {
  const bpf = new Bpf();
  const o = bpf.loadObject(new Uint8Array(fixture), { fileName: 'btf_maps.o', globals: { limit: 10 } });
  assert.ok(o.programs.xdp_count, Object.keys(o.programs).join(','));
  assert.ok(o.programs.xdp_count.id > 0);
  assert.deepEqual(Object.keys(o.maps).sort(), [
    '.data.extra', '.rodata.str_tab', 'btf_maps.bss', 'btf_maps.data', 'btf_maps.rodata', 'counts', 'inner_a', 'inner_b',
    'jmp', 'outer', 'pinned_arr',
  ]);
  assert.equal(rdU32(o.readGlobal('limit')), 10);
  assert.throws(() => o.writeGlobal('limit', u32.encode(5)), { code: 'EPERM' }); // .rodata is frozen
  assert.equal(o.maps['btf_maps.rodata'].info().frozen, true);
  o.writeGlobal('seen', u32.encode(41)); // .bss
  assert.equal(rdU32(o.readGlobal('seen')), 41);
  assert.throws(() => o.writeGlobal('seen', new Uint8Array(2)), { message: "global variable 'seen' is 4 bytes, got 2" });
  o.close();
  // The pinned map (LIBBPF_PIN_BY_NAME) outlives the handles.
  assert.equal(bpf.kernel.pinnedKind('/sys/fs/bpf/pinned_arr'), 'map');
});

test('loadObject: an unknown global is a one-line error', () => {
  const bpf = new Bpf();
  assert.throws(() => bpf.loadObject(new Uint8Array(fixture), { fileName: 'btf_maps.o', globals: { nope: 1 } }),
    { message: "btf_maps.o: no global variable 'nope'" });
});

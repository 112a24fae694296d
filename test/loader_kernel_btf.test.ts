/*
 * `prog load|loadall OBJ PATH kernel_btf FILE`: CO-RE relocations against the BTF of FILE (raw BTF
 * or an ELF object's .BTF, as libbpf's btf_custom_path) instead of the host's. btf_core.o reads
 * task_struct fields whose offsets differ in btf_core_target.o's synthetic "kernel".
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { runCliCaptured } from '../src/cli/main.js';
import { setCliKernel } from '../src/cli/map.js';
import { parseBtf } from '../src/btf/parse.js';
import { BTF_KIND } from '../src/btf/types.js';
import { Bpf } from '../src/kernel/bpf.js';
import { PinStore } from '../src/kernel/pin_store.js';
import { MemoryStoreFs } from '../src/kernel/store_fs.js';
import { readElf } from '../src/loader/elf.js';
import { createMap } from '../src/maps/index.js';

const root = new URL('../../', import.meta.url);
const path = (rel: string): string => new URL(rel, root).pathname;
const OBJ = path('test/fixtures/btf/btf_core.o');
const TARGET = path('test/fixtures/btf/btf_core_target.o');

test('kernel_btf FILE: the program is relocated against that BTF; unreadable files get libbpf\'s message', async () => {
  const fs = new MemoryStoreFs();
  setCliKernel(() => new Bpf({ store: new PinStore(fs), createMap, nrCpus: 1 }));
  try {
    const r = await runCliCaptured(['prog', 'load', OBJ, '/sys/fs/bpf/core', 'kernel_btf', TARGET]);
    assert.deepEqual(r, { status: 0, stdout: '', stderr: '' });
    // Offsets of task_struct's fields in the target BTF, as the relocated program must use them.
    const elf = readElf(new Uint8Array(readFileSync(TARGET)), TARGET);
    const target = parseBtf(elf.sections.find((s) => s.name === '.BTF')!.data);
    const task = target.type(target.findOne('task_struct', BTF_KIND.STRUCT)!);
    assert.ok(task.kind === BTF_KIND.STRUCT);
    const offsetOf = (name: string): number => task.members.find((m) => m.name === name)!.bitOffset / 8;
    const bpf = new Bpf({ store: new PinStore(fs), createMap, nrCpus: 1 });
    const insns = bpf.progOf(bpf.objGet('/sys/fs/bpf/core')).insns;
    const imms = new Set(insns.map((i) => i.imm));
    for (const field of ['pid', 'tgid']) assert.ok(imms.has(offsetOf(field)), `offset of ${field} (${offsetOf(field)}) in the program`);
    bpf.shutdown();
    const missing = await runCliCaptured(['prog', 'load', OBJ, '/sys/fs/bpf/core2', 'kernel_btf', '/nonexistent/vmlinux']);
    assert.deepEqual(missing, { status: 254, stdout: '', stderr: 'libbpf: failed to parse target BTF: -2\nError: failed to load object file\n' });
    const notBtf = await runCliCaptured(['prog', 'load', OBJ, '/sys/fs/bpf/core2', 'kernel_btf', path('test/fixtures/btf/btf_core.c')]);
    assert.equal(notBtf.status, 95);
    assert.match(notBtf.stderr, /^libbpf: failed to parse target BTF: -4001\nError: failed to load object file\n$/);
    const noArg = await runCliCaptured(['prog', 'load', OBJ, '/sys/fs/bpf/core2', 'kernel_btf']);
    assert.deepEqual([noArg.status, noArg.stderr], [255, "Error: 'kernel_btf' needs at least 1 arguments, 0 found\n"]);
  } finally {
    setCliKernel(undefined);
  }
});

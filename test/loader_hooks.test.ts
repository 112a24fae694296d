/*
 * The load pipeline's hooks: CO-RE relocation (btf/ plugs in), the verifier (verifier/ plugs in),
 * with what each is given.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import '../src/api/index.js';
import { BpfError } from '../src/errors.js';
import { BPF_CORE } from '../src/btf/types.js';
import { Bpf } from '../src/kernel/bpf.js';
import { type VerifyRequest, loadObjectIntoKernel, registerVerifier } from '../src/kernel/load.js';
import { interpret } from '../src/vm/interpreter.js';

const root = new URL('../../', import.meta.url);
const fixture = (name: string): Uint8Array => new Uint8Array(readFileSync(new URL(`test/fixtures/loader/${name}`, root)));

test('CO-RE relocations are recorded per program and handed to the relocator', () => {
  const bpf = new Bpf();
  assert.throws(() => loadObjectIntoKernel(bpf, fixture('core_reloc.o'), 'core_reloc.o'),
    (err: unknown) => err instanceof BpfError && err.message === "core_reloc.o: prog 'core_prog': CO-RE relocations are not supported yet (2 relocations)");
  const seen: string[] = [];
  const lo = loadObjectIntoKernel(bpf, fixture('core_reloc.o'), 'core_reloc.o', {
    coreRelocator: (obj, prog, insns, target) => {
      assert.equal(target, undefined);
      for (const r of prog.coreRelos) {
        seen.push(`${r.insn} ${r.kind} ${r.accessStr} ${obj.btf!.type(r.typeId).name}`);
        // Pretend the target moved tgid to offset 8.
        if (r.kind === BPF_CORE.FIELD_BYTE_OFFSET) insns[r.insn] = { ...insns[r.insn], imm: 8 };
      }
      return insns;
    },
  });
  assert.deepEqual(seen, ['0 0 0:1 task_like', '1 2 0:0 task_like']);
  assert.equal(interpret(bpf.vm, lo.runInsns('core_prog'), { args: [0n] }).r0, 108n);
});

test('the verifier hook sees every program with map fds and may rewrite it', () => {
  const bpf = new Bpf();
  const reqs: VerifyRequest[] = [];
  registerVerifier((req) => {
    reqs.push(req);
    if (req.prog.name === 'tail_target') return [{ code: 0xb7, dst: 0, src: 0, off: 0, imm: 1 }, { code: 0x95, dst: 0, src: 0, off: 0, imm: 0 }];
    return undefined;
  });
  try {
    const lo = loadObjectIntoKernel(bpf, fixture('btf_maps.o'), 'btf_maps.o', { pinRoot: '/v' });
    assert.deepEqual(reqs.map((r) => [r.prog.name, r.progType, r.expectedAttachType]), [['tail_target', 6, 37], ['xdp_count', 6, 37], ['xdp_second', 6, 37]]);
    const count = reqs[1];
    // ld_imm64 of maps carry fds (src 1), global data (src 2) fd + offset.
    const ld = count.insns.filter((i) => i.code === 0x18 && (i.src === 1 || i.src === 2));
    assert.equal(ld.length, count.prog.mapRelocs.length);
    for (const i of ld) assert.ok(count.mapFds.includes(i.imm));
    assert.equal(interpret(bpf.vm, lo.runInsns('tail_target'), { args: [0n] }).r0, 1n);
    // A verifier rejecting a program fails the load with its message.
    registerVerifier((req) => { if (req.prog.name === 'xdp_second') throw new BpfError('EACCES', 'R1 invalid mem access'); });
    assert.throws(() => loadObjectIntoKernel(bpf, fixture('btf_maps.o'), 'btf_maps.o', { pinRoot: '/v' }),
      (err: unknown) => err instanceof BpfError && err.code === 'EACCES' && /R1 invalid mem access/.test(err.message));
    assert.equal(loadObjectIntoKernel(bpf, fixture('btf_maps.o'), 'btf_maps.o', { pinRoot: '/v', verifier: null }).programs.length, 3);
  } finally {
    registerVerifier(undefined);
  }
});

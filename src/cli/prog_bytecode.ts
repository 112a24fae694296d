/*
 * PROG := bytecode 'N,c t f k,...' | bytecode-file FILE: classic BPF as tc-bpf(8) takes it (the
 * `bpf_asm` / `tcpdump -ddd` forms), run as a SOCKET_FILTER the way the kernel runs an attached
 * classic filter: checked by bpf_check_classic(), converted by bpf_convert_filter() and executed
 * as eBPF over struct __sk_buff (sk_attach_filter() -> bpf_prepare_filter()).
 */
import { BpfError } from '../errors.js';
import { parseBytecode } from '../cbpf/dump.js';
import { CBPF_HELPER_NLATTR, CBPF_HELPER_NLATTR_NEST, cbpfHelpers, convertCbpfToEbpf } from '../cbpf/convert.js';
import type { CInsn } from '../cbpf/insn.js';
import type { RunnableProgram } from './prog_run.js';

const BPF_PROG_TYPE_SOCKET_FILTER = 1;

/** The classic program of `bytecode TEXT` or `bytecode-file FILE` (tc's two spellings). */
export async function readBytecode(spec: { bytecode?: string; bytecodeFile?: string }): Promise<CInsn[]> {
  let text = spec.bytecode;
  if (text === undefined) {
    const { readFile } = await import('node:fs/promises');
    try {
      text = await readFile(spec.bytecodeFile!, 'latin1');
    } catch (err) {
      throw new BpfError('ENOENT', `cannot read bytecode file ${spec.bytecodeFile}: ${(err as Error).message}`);
    }
  }
  return parseBytecode(text);
}

export async function bytecodeProgram(spec: { bytecode?: string; bytecodeFile?: string }): Promise<RunnableProgram> {
  const classic = await readBytecode(spec);
  const insns = convertCbpfToEbpf(classic);
  // Netlink attribute searches read the skb's bytes inside the helper; over captures there is no
  // netlink message to search, so say so rather than answer 0 silently.
  if (insns.some((i) => i.code === 0x85 && (i.imm === CBPF_HELPER_NLATTR || i.imm === CBPF_HELPER_NLATTR_NEST))) {
    throw new BpfError('ENOTSUPP', 'bytecode: SKF_AD_NLATTR/SKF_AD_NLATTR_NEST search netlink messages; run such filters with bpf_dbg or the cBPF API');
  }
  const [{ Bpf }, { createMap }] = await Promise.all([import('../kernel/bpf.js'), import('../maps/index.js')]);
  const bpf = new Bpf({ createMap });
  // Ancillary loads that become kernel-internal calls (CPU, random, device fields, payload offset).
  const env = { packet: new Uint8Array(0), meta: {} };
  for (const h of cbpfHelpers(env)) bpf.vm.helpers.register(h.id, h.name, h.fn);
  const fd = bpf.progLoad({ type: BPF_PROG_TYPE_SOCKET_FILTER, insns, license: 'GPL', name: 'bytecode', section: 'socket' });
  return {
    kprog: bpf.progOf(fd), insns: bpf.progInsns(fd), type: BPF_PROG_TYPE_SOCKET_FILTER, section: 'socket', vm: bpf.vm,
    done: () => bpf.shutdown(),
  };
}

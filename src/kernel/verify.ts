/*
 * The load path's verifier (bpf_check() in BPF_PROG_LOAD): runs verifier/ over the instructions
 * as they go to the kernel (map fds in ld_imm64), with the program type's context rules from
 * progtypes/, and turns a rejection into the error libbpf reports, carrying the kernel-format log.
 */
import { BpfError, ERRNO, type ErrnoName } from '../errors.js';
import { verifierOps } from '../progtypes/index.js';
import { verify } from '../verifier/verifier.js';
import type { VerifyRequest } from './load.js';

export class VerifierRejection extends BpfError {
  /** The verifier log (level 1), as the kernel writes it. */
  readonly log: string;
  constructor(code: ErrnoName, message: string, log: string) {
    super(code, message);
    this.log = log;
  }
}

function errnoName(errno: number): ErrnoName {
  const found = (Object.keys(ERRNO) as ErrnoName[]).find((k) => ERRNO[k] === errno);
  return found ?? 'EINVAL';
}

/*
 * Program types whose context is typed by kernel BTF (fentry/fexit/tp_btf/iter, LSM, freplace,
 * struct_ops): verifier/ does not model BTF-typed pointers yet, so these load unverified rather
 * than being refused for accesses the kernel allows. They still run with the engines' checks.
 */
const BPF_PROG_TYPE_TRACING = 26;
const BPF_PROG_TYPE_STRUCT_OPS = 27;
const BPF_PROG_TYPE_EXT = 28;
const BPF_PROG_TYPE_LSM = 29;
const BTF_TYPED = new Set([BPF_PROG_TYPE_TRACING, BPF_PROG_TYPE_STRUCT_OPS, BPF_PROG_TYPE_EXT, BPF_PROG_TYPE_LSM]);

export function verifyForLoad(req: VerifyRequest): void {
  const { bpf, insns, progType } = req;
  if (BTF_TYPED.has(progType)) return;
  const result = verify(insns, {
    progType,
    maps: (_idx, fd) => {
      try {
        return bpf.mapOf(fd).map;
      } catch {
        return undefined;
      }
    },
    progOps: verifierOps(progType),
    logLevel: 1,
  });
  if (result.ok) return;
  const lastLine = result.error ?? result.log.trimEnd().split('\n').pop() ?? 'rejected';
  throw new VerifierRejection(errnoName(result.errno),
    `prog '${req.prog.name}': the verifier rejected the program: ${lastLine}`, result.log);
}

/*
 * The load path's verifier (bpf_check() in BPF_PROG_LOAD): runs verifier/ over the instructions
 * as they go to the kernel (map fds in ld_imm64), with the program type's context rules from
 * progtypes/, and turns a rejection into the error libbpf reports, carrying the kernel-format log.
 */
import { BpfError, ERRNO, type ErrnoName } from '../errors.js';
import { verifierOps } from '../progtypes/index.js';
import { type VerifyOptions, type VerifyResult, verify } from '../verifier/verifier.js';
import { rewriteForXlated, type XlatedProgram } from '../verifier/fixups.js';
import type { KProg } from './bpf.js';
import type { VerifyRequest } from './load.js';
import { lineInfoAt } from '../loader/line_info.js';
import { kbtfTypes } from './bpf.js';
import { funcInfoEntries } from './func_info.js';
import { copyInsn } from '../isa/insn.js';

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
export const BTF_TYPED = new Set([BPF_PROG_TYPE_TRACING, BPF_PROG_TYPE_STRUCT_OPS, BPF_PROG_TYPE_EXT, BPF_PROG_TYPE_LSM]);

export function verifyForLoad(req: VerifyRequest): void {
  if (BTF_TYPED.has(req.progType)) return;
  const result = verify(req.insns, loadVerifyOptions(req, 1));
  if (result.ok) return;
  const lastLine = result.error ?? result.log.trimEnd().split('\n').pop() ?? 'rejected';
  throw new VerifierRejection(errnoName(result.errno),
    `prog '${req.prog.name}': the verifier rejected the program: ${lastLine}`, result.log);
}

/** The verifier options of a BPF_PROG_LOAD request: its maps, program type rules and source lines. */
export function loadVerifyOptions(req: VerifyRequest, logLevel: number): VerifyOptions {
  const { bpf, progType } = req;
  const withBtf = new Set<unknown>();
  return {
    progType,
    maps: (_idx, fd) => {
      try {
        const k = bpf.mapOf(fd);
        if (k.btf) withBtf.add(k.map);
        return k.map;
      } catch {
        return undefined;
      }
    },
    mapHasBtf: (m) => withBtf.has(m),
    expectedAttachType: req.expectedAttachType,
    progOps: verifierOps(progType, req.expectedAttachType),
    logLevel,
    lineInfo: lineInfoAt(req.prog.lineInfo), // "; LINE @ FILE:NUM" lines in the log, as verbose_linfo()
    // the func_info BPF_PROG_LOAD passes (load.ts: with the object's own BTF), as check_btf_func() gets it
    funcInfo: req.obj.btf && !req.obj.btf.base && req.prog.funcInfo.length ? funcInfoEntries(req.obj.btf, req.prog.funcInfo, progType) : false,
  };
}

const xlatedCache = new WeakMap<KProg, XlatedProgram | undefined>();

/**
 * The program as the kernel holds it after verification (what `prog dump xlated` prints and
 * bytes_xlated measures): the verifier re-run over the loaded instructions (it is deterministic,
 * so the pin store keeps only the program as loaded), then the kernel's rewrites. Map references
 * keep src 1/2 with the map id in imm (bpf_insn_prepare_dump()). undefined when the program does
 * not verify now (BTF-typed programs load unverified): then it is shown as loaded.
 */
export function xlatedProgram(prog: KProg): XlatedProgram | undefined {
  if (xlatedCache.has(prog)) return xlatedCache.get(prog);
  const out = rewrite(prog);
  xlatedCache.set(prog, out);
  return out;
}

function rewrite(prog: KProg): XlatedProgram | undefined {
  const result = reverified(prog);
  if (!result) return undefined;
  try {
    const insns = prog.insns.map((x) => copyInsn(x));
    for (const r of prog.mapRefs) insns[r.insn].imm = r.mapId;
    return rewriteForXlated(insns, result.aux, { progType: prog.type, stackDepth: result.stats.stackDepth });
  } catch {
    // A layout gap must not make `prog show`/`dump` fail: the program shows as loaded.
    return undefined;
  }
}

const reverifiedCache = new WeakMap<KProg, VerifyResult | null>();

/**
 * The verifier re-run over a loaded program, once per program: it is deterministic, so the pin
 * store keeps only the program as loaded, and both the xlated rewrite and the JIT's verified tier
 * (verified_tier.ts) read this one result. undefined for BTF-typed types (they load unverified),
 * for a program that does not verify now, or on a verifier gap.
 */
export function reverified(prog: KProg): VerifyResult | undefined {
  let r = reverifiedCache.get(prog);
  if (r === undefined) {
    r = null;
    if (!BTF_TYPED.has(prog.type)) {
      try {
        const result = verify(prog.insns, {
          progType: prog.type,
          maps: (idx) => {
            const ref = prog.mapRefs.find((m) => m.insn === idx);
            return ref ? prog.maps.find((m) => m.id === ref.mapId)?.map : undefined;
          },
          expectedAttachType: prog.expectedAttachType,
          progOps: verifierOps(prog.type, prog.expectedAttachType),
          logLevel: 0,
          funcInfo: prog.btf && prog.funcInfo?.length ? funcInfoEntries(kbtfTypes(prog.btf), prog.funcInfo, prog.type) : false,
        });
        if (result.ok) r = result;
      } catch { /* a verifier gap: treated as not verified */ }
    }
    reverifiedCache.set(prog, r);
  }
  return r ?? undefined;
}

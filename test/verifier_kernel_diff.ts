/*
 * The access-rule differentials against the running kernel (verifier_ctx_kernel,
 * verifier_sock_kernel): many one-access programs loaded with BPF_PROG_LOAD and verified by
 * bpfkit, with the verifier's own rules and with the program type layer's.
 */
import type { Insn } from '../src/isa/insn.js';
import { verifierOps } from '../src/progtypes/index.js';
import { verify } from '../src/verifier/verifier.js';
import { kernelLoadAll } from './kernel_bpf_loader.js';
import { lastErrorLine } from './verifier_corpus_lib.js';

export const I = (code: number, dst: number, src: number, off: number, imm: number): Insn => ({ code, dst, src, off, imm });
const SIZE_CODE: Record<number, number> = { 1: 0x10, 2: 0x08, 4: 0x00, 8: 0x18 };
const LDX = 0x61 & ~0x18, STX = 0x63 & ~0x18;

/** `r2 = *(size *)(base + off)` or `*(size *)(base + off) = r2`. */
export function memAccess(base: number, off: number, size: number, write: boolean): Insn {
  return write ? I(STX | SIZE_CODE[size], base, 2, off, 0) : I(LDX | SIZE_CODE[size], 2, base, off, 0);
}

export interface AccessCase { what: string; insns: Insn[]; progType: number; expectedAttachType?: number }

/**
 * Each case in the kernel and in bpfkit under both rule sets: the kernel's accepted count, and
 * every case where the verdict or the rejection's last log line differs (with the errno too
 * when `errno`).
 */
export function againstKernel(exe: string, cases: readonly AccessCase[], errno: boolean): { accepted: number; differ: string[] } {
  const kernel = kernelLoadAll(exe, cases, 1);
  const verdict = (ok: boolean, code: number, log: string): string => (ok ? 'accepts' : `rejects${errno ? ` (errno ${code})` : ''}: ${lastErrorLine(log)}`);
  const differ: string[] = [];
  let accepted = 0;
  cases.forEach((c, i) => {
    const k = kernel[i];
    if (k.ok) accepted++;
    const theirs = verdict(k.ok, k.errno, k.log);
    // the verifier's own rules (prog_ops.ts), and the program type layer's where it has the type (the load pipeline's)
    for (const [layer, progOps] of [['verifier', undefined], ['progtypes', verifierOps(c.progType, c.expectedAttachType ?? 0)]] as const) {
      if (layer === 'progtypes' && !progOps) continue;
      const ours = verify(c.insns, { progType: c.progType, expectedAttachType: c.expectedAttachType, logLevel: 1, progOps });
      const mine = verdict(ours.ok, ours.errno, ours.log);
      if (theirs !== mine) differ.push(`${c.what} (${layer} rules): kernel ${theirs}, bpfkit ${mine}`);
    }
  });
  return { accepted, differ };
}

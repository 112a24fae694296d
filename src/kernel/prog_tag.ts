/*
 * Program tags as bpf_prog_calc_tag() computes them (kernel/bpf/core.c): the instructions with
 * the imm of map-loading ld_imm64 pairs zeroed (fds differ between loads, the program does not),
 * hashed; the tag is the first 8 bytes. The hash depends on the kernel version (kernel_version.ts).
 */
import type { Insn } from '../isa/insn.js';
import { copyInsn } from '../isa/insn.js';
import { encodeProgram } from '../isa/insn.js';
import { type KernelVersion, DEFAULT_KERNEL_VERSION, progTagHash } from './kernel_version.js';
import { sha1, sha256, toHex } from './sha.js';

const BPF_LD_IMM_DW = 0x18;
const BPF_PSEUDO_MAP_FD = 1;
const BPF_PSEUDO_MAP_VALUE = 2;

/** The tag as bpftool prints it: 16 hex digits. */
export function calcProgTag(insns: readonly Insn[], version: KernelVersion = DEFAULT_KERNEL_VERSION): string {
  const copy: Insn[] = [];
  let wasLdMap = false;
  for (const insn of insns) {
    const dst = copyInsn(insn);
    if (!wasLdMap && dst.code === BPF_LD_IMM_DW && (dst.src === BPF_PSEUDO_MAP_FD || dst.src === BPF_PSEUDO_MAP_VALUE)) {
      wasLdMap = true;
      dst.imm = 0;
    } else if (wasLdMap && dst.code === 0 && dst.dst === 0 && dst.src === 0 && dst.off === 0) {
      wasLdMap = false;
      dst.imm = 0;
    } else {
      wasLdMap = false;
    }
    copy.push(dst);
  }
  const bytes = encodeProgram(copy);
  const digest = progTagHash(version) === 'sha256' ? sha256(bytes) : sha1(bytes);
  return toHex(digest.subarray(0, 8));
}

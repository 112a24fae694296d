/*
 * seccomp filters: classic BPF over struct seccomp_data, as kernel/seccomp.c takes them.
 *
 *   struct seccomp_data { int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6]; }  (64 bytes)
 *
 * seccomp_prepare_filter() runs the socket-filter checks first (bpf_check_classic, see check.ts),
 * then seccomp_check_filter(): only 32-bit aligned `ld [k]` inside seccomp_data (read in host
 * byte order), `ld #len` / `ldx #len` become the constant 64, no packet-relative or ancillary
 * loads, no `mod`. The result is a SECCOMP_RET_* action with 16 bits of data.
 */
import { BpfError } from '../errors.js';
import { linuxCheckError } from './check.js';
import { type CInsn } from './insn.js';
import { runCbpf } from './interp.js';

export const SECCOMP_DATA_SIZE = 64;

export const SECCOMP_RET_KILL_PROCESS = 0x80000000;
export const SECCOMP_RET_KILL_THREAD = 0x00000000;
export const SECCOMP_RET_TRAP = 0x00030000;
export const SECCOMP_RET_ERRNO = 0x00050000;
export const SECCOMP_RET_USER_NOTIF = 0x7fc00000;
export const SECCOMP_RET_TRACE = 0x7ff00000;
export const SECCOMP_RET_LOG = 0x7ffc0000;
export const SECCOMP_RET_ALLOW = 0x7fff0000;
export const SECCOMP_RET_ACTION_FULL = 0xffff0000;
export const SECCOMP_RET_DATA = 0x0000ffff;
/** AUDIT_ARCH_X86_64, AUDIT_ARCH_AARCH64. */
export const AUDIT_ARCH_X86_64 = 0xc000003e;
export const AUDIT_ARCH_AARCH64 = 0xc00000b7;

const ACTION_NAMES: Record<number, string> = {
  [SECCOMP_RET_KILL_PROCESS]: 'KILL_PROCESS', [SECCOMP_RET_KILL_THREAD]: 'KILL_THREAD', [SECCOMP_RET_TRAP]: 'TRAP',
  [SECCOMP_RET_ERRNO]: 'ERRNO', [SECCOMP_RET_USER_NOTIF]: 'USER_NOTIF', [SECCOMP_RET_TRACE]: 'TRACE',
  [SECCOMP_RET_LOG]: 'LOG', [SECCOMP_RET_ALLOW]: 'ALLOW',
};

/** The codes seccomp_check_filter() lets through unchanged. */
const SECCOMP_CODES = new Set([
  0x06, 0x16, 0x04, 0x0c, 0x14, 0x1c, 0x24, 0x2c, 0x34, 0x3c, 0x54, 0x5c, 0x44, 0x4c, 0xa4, 0xac,
  0x64, 0x6c, 0x74, 0x7c, 0x84, 0x00, 0x01, 0x07, 0x87, 0x60, 0x61, 0x02, 0x03, 0x05, 0x15, 0x1d,
  0x35, 0x3d, 0x25, 0x2d, 0x45, 0x4d,
]);

export interface SeccompData {
  nr: number;
  arch: number;
  instructionPointer?: bigint;
  args?: readonly bigint[];
}

/** struct seccomp_data bytes (little-endian, as on x86_64 and arm64). */
export function seccompDataBytes(d: SeccompData): Uint8Array {
  const out = new Uint8Array(SECCOMP_DATA_SIZE);
  const dv = new DataView(out.buffer);
  dv.setInt32(0, d.nr | 0, true);
  dv.setUint32(4, d.arch >>> 0, true);
  dv.setBigUint64(8, BigInt.asUintN(64, d.instructionPointer ?? 0n), true);
  (d.args ?? []).slice(0, 6).forEach((a, i) => dv.setBigUint64(16 + 8 * i, BigInt.asUintN(64, a), true));
  return out;
}

/** Why seccomp(2) / PR_SET_SECCOMP refuses the filter (EINVAL), or undefined when it takes it. */
export function seccompCheckError(prog: readonly CInsn[]): string | undefined {
  const classic = linuxCheckError(prog);
  if (classic !== undefined) return classic;
  for (let pc = 0; pc < prog.length; pc++) {
    const { code, k } = prog[pc];
    if (code === 0x20) {
      if (k >>> 0 >= SECCOMP_DATA_SIZE || (k & 3) !== 0) {
        return `insn ${pc} (ld [${k | 0}]): seccomp loads must be 32-bit aligned inside seccomp_data (0..60)`;
      }
      continue;
    }
    if (code === 0x80 || code === 0x81 || SECCOMP_CODES.has(code)) continue;
    return `insn ${pc}: opcode 0x${code.toString(16)} is not allowed in seccomp filters`;
  }
  return undefined;
}

/**
 * The filter as seccomp runs it: loads read seccomp_data in host (little-endian) order, `len` is
 * 64. The program must pass seccompCheckError (EINVAL otherwise).
 */
export function prepareSeccomp(prog: readonly CInsn[]): CInsn[] {
  const why = seccompCheckError(prog);
  if (why !== undefined) throw new BpfError('EINVAL', `seccomp filter rejected: ${why}`);
  return prog.map((i) => ({ ...i }));
}

/** Linux semantics (shifts by X use its low 5 bits), no packet metadata needed. */
const LINUX = {};

/** Run a checked seccomp filter on one system call; the SECCOMP_RET_* value (unsigned). */
export function runSeccomp(prog: readonly CInsn[], data: SeccompData | Uint8Array): number {
  const bytes = data instanceof Uint8Array ? data : seccompDataBytes(data);
  // The classic interpreter loads big-endian; seccomp loads are native (little-endian) words,
  // so give it the data with each 32-bit word byte-swapped.
  const swapped = new Uint8Array(SECCOMP_DATA_SIZE);
  for (let i = 0; i < SECCOMP_DATA_SIZE; i += 4) {
    swapped[i] = bytes[i + 3]; swapped[i + 1] = bytes[i + 2]; swapped[i + 2] = bytes[i + 1]; swapped[i + 3] = bytes[i];
  }
  return runCbpf(prog, swapped, SECCOMP_DATA_SIZE, LINUX);
}

/** `ALLOW`, `ERRNO(1)`, `KILL_PROCESS` ...: a SECCOMP_RET_* value for people. */
export function seccompActionName(ret: number): string {
  const action = (ret >>> 0) & SECCOMP_RET_ACTION_FULL;
  const name = ACTION_NAMES[action >>> 0] ?? `0x${(action >>> 0).toString(16)}`;
  const data = ret & SECCOMP_RET_DATA;
  return data !== 0 || action === SECCOMP_RET_ERRNO || action === SECCOMP_RET_TRACE || action === SECCOMP_RET_TRAP
    ? `${name}(${data})` : name;
}

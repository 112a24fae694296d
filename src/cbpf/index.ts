/*
 * Classic BPF's public surface: instruction model, listings (-d/-dd/-ddd), the interpreter and
 * its compiled form, the Linux checker and libpcap's validator, bpf_asm, cBPF -> eBPF, debugger.
 */
export * from './insn.js';
export {
  SKF_AD_IMAGE_NAMES, bpfDump, bpfImage, bpfImageParts, decodeCbpf, dumpC, dumpDecimal, dumpImage, encodeCbpf,
  enumerateBpfImage, parseBytecode,
} from './dump.js';
export {
  MAX_BACKWARD_JUMPS, PCAP_MAXINSNS, cbpfStepLoad, prepareCbpf, runCbpf, skbGetNlattr, skbGetNlattrNest,
} from './interp.js';
export type { PacketMeta, PreparedCbpf } from './interp.js';
export { cbpfToJs, compileCbpf } from './compile.js';
export type { CbpfFilterFn } from './compile.js';
export {
  LINUX_ALLOWED_CODES, bpfValidate, isKnownAncillary, linuxCheck, linuxCheckError, pcapValidateError,
} from './check.js';
export { BPF_ASM_EXTENSIONS, bpfAsm, bpfDisasm, formatBpfAsm, formatBpfAsmC } from './asm.js';
export {
  CBPF_HELPER_BASE, CBPF_HELPER_CPU, CBPF_HELPER_DEV_FIELD, CBPF_HELPER_NLATTR, CBPF_HELPER_NLATTR_NEST,
  CBPF_HELPER_PAY_OFFSET, CBPF_HELPER_RANDOM, SKB, SKB_SIZE, buildSkbContext, cbpfHelpers, convertCbpfToEbpf,
} from './convert.js';
export type { CbpfHelper, CbpfHelperEnv, ConvertOptions } from './convert.js';
export { BpfDbgSession, CbpfStepper, Debugger, dbgDisasm } from './dbg.js';
export type { DbgPacket, StepTarget, StopInfo, StopReason } from './dbg.js';
export {
  AUDIT_ARCH_AARCH64, AUDIT_ARCH_X86_64, SECCOMP_DATA_SIZE, SECCOMP_RET_ACTION_FULL, SECCOMP_RET_ALLOW,
  SECCOMP_RET_DATA, SECCOMP_RET_ERRNO, SECCOMP_RET_KILL_PROCESS, SECCOMP_RET_KILL_THREAD, SECCOMP_RET_LOG,
  SECCOMP_RET_TRACE, SECCOMP_RET_TRAP, SECCOMP_RET_USER_NOTIF, prepareSeccomp, runSeccomp, seccompActionName,
  seccompCheckError, seccompDataBytes,
} from './seccomp.js';
export type { SeccompData } from './seccomp.js';

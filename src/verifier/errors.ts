/*
 * How verification fails: one exception carrying the kernel's last log line and errno, thrown from
 * any check and turned into the verifier's result by verify().
 */
export const EACCES = 13, EINVAL = 22, E2BIG = 7, EBADF = 9, EPERM = 1, EFAULT = 14, EAGAIN = 11, EPROTO = 71, ENOTSUPP = 524;

export class VerifierError { constructor(msg: string, errno: number) { this.msg = msg; this.errno = errno; } msg: string; errno: number }

export function fail(msg: string, errno = EACCES): never { throw new VerifierError(msg, errno); }

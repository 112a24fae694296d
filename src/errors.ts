/*
 * One error class for all of bpfkit, with an errno-style code like the kernel's bpf(2) returns.
 * The CLI prints `Error: <message>` (bpftool's style) and exits non-zero; never a stack trace.
 * A parse error carries its position (line/column); a verifier failure will carry its log.
 */

export const ERRNO = {
  EPERM: 1,
  ENOENT: 2,
  E2BIG: 7,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  EINVAL: 22,
  ENOSPC: 28,
  ERANGE: 34,
  ELOOP: 40,
  ENOTSUPP: 524,
} as const;

export type ErrnoName = keyof typeof ERRNO;

export interface SourcePosition {
  line: number;
  column: number;
  file?: string;
}

export class BpfError extends Error {
  readonly code: ErrnoName;
  readonly pos?: SourcePosition;

  constructor(code: ErrnoName, message: string, pos?: SourcePosition) {
    super(message);
    this.name = 'BpfError';
    this.code = code;
    this.pos = pos;
  }

  get errno(): number {
    return ERRNO[this.code];
  }
}

/** A parse error: message prefixed by `file:line:col: ` like compilers print. */
export function parseError(message: string, line: number, column: number, file?: string): BpfError {
  const where = `${file ? file + ':' : ''}${line}:${column}`;
  return new BpfError('EINVAL', `${where}: ${message}`, { line, column, file });
}

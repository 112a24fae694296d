/*
 * One error class for all of bpfkit, with an errno-style code like the kernel's bpf(2) returns.
 * The CLI prints `Error: <message>` (bpftool's style) and exits non-zero; never a stack trace.
 * A parse error carries its position (line/column); a verifier failure will carry its log.
 */

export const ERRNO = {
  EPERM: 1,
  ENOENT: 2,
  E2BIG: 7,
  EIO: 5,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  ENODEV: 19,
  ENOTDIR: 20,
  EISDIR: 21,
  EINVAL: 22,
  ENOSPC: 28,
  EROFS: 30,
  ERANGE: 34,
  ENAMETOOLONG: 36,
  ELOOP: 40,
  EOVERFLOW: 75,
  EOPNOTSUPP: 95,
  ENOTSUPP: 524,
} as const;

export type ErrnoName = keyof typeof ERRNO;

/** strerror(3) text of glibc, which bpftool prints after "failed to ...: ". */
const STRERROR: Record<ErrnoName, string> = {
  EPERM: 'Operation not permitted', ENOENT: 'No such file or directory', EIO: 'Input/output error',
  E2BIG: 'Argument list too long', EBADF: 'Bad file descriptor', EAGAIN: 'Resource temporarily unavailable',
  ENOMEM: 'Cannot allocate memory', EACCES: 'Permission denied', EFAULT: 'Bad address',
  EBUSY: 'Device or resource busy', EEXIST: 'File exists', ENODEV: 'No such device', ENOTDIR: 'Not a directory',
  EISDIR: 'Is a directory', EINVAL: 'Invalid argument', ENOSPC: 'No space left on device',
  EROFS: 'Read-only file system', ERANGE: 'Numerical result out of range', ENAMETOOLONG: 'File name too long',
  ELOOP: 'Too many levels of symbolic links', EOVERFLOW: 'Value too large for defined data type',
  EOPNOTSUPP: 'Operation not supported', ENOTSUPP: 'Unknown error 524',
};

/** strerror() for our codes; any other code (from Node's fs) is returned as it is. */
export function strerror(code: string): string {
  return (STRERROR as Record<string, string>)[code] ?? code;
}

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

/*
 * StoreFs on a folder (Node): the pin store of the `bpfkit` command and of Node users of the API.
 *
 * Crash safety: writeAtomic writes a temp file in the same folder, fsyncs it, renames it over the
 * target and fsyncs the folder, so a process killed at any point leaves the old or the new file.
 * createExclusive writes a temp file the same way and link()s it into place, which fails with
 * EEXIST when the name is taken (atomic test-and-create). Leftover temp files of a killed process
 * are named *.tmp-PID-N and ignored by list().
 *
 * The lock is a file holding the owner's pid, link()ed into place so it never exists without
 * its pid; a lock whose owner is dead is broken (a killed writer does not block the store).
 * Waiting sleeps with Atomics.wait.
 */
import {
  closeSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, readSync, readdirSync, renameSync, rmSync,
  statSync, unlinkSync, writeSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { BpfError, type ErrnoName } from '../errors.js';
import type { StoreFs } from './store_fs.js';

/** The store folder: $BPFKIT_STATE, else $XDG_STATE_HOME/bpfkit, else ~/.local/state/bpfkit. */
export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.BPFKIT_STATE) return env.BPFKIT_STATE;
  if (env.XDG_STATE_HOME) return join(env.XDG_STATE_HOME, 'bpfkit');
  return join(homedir(), '.local', 'state', 'bpfkit');
}

const LOCK_TIMEOUT_MS = 30_000;
/** A lock file without a readable pid (written by an older bpfkit, or damaged) is stale after this. */
const STALE_ANONYMOUS_LOCK_MS = 2_000;

function lockAgeMs(path: string): number {
  try {
    return Date.now() - statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}
let tmpCounter = 0;

function sysError(err: unknown, what: string): BpfError {
  const e = err as NodeJS.ErrnoException;
  const code = (e.code ?? 'EIO') as ErrnoName;
  return new BpfError(code, `${what}: ${e.message}`);
}

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class NodeStoreFs implements StoreFs {
  readonly root: string;
  private lockDepth = 0;

  constructor(root: string = defaultStateDir()) {
    this.root = root;
  }

  private path(name: string): string {
    if (name.split('/').some((part) => part === '..' || part === '')) {
      throw new BpfError('EINVAL', `invalid store name '${name}'`);
    }
    return join(this.root, name);
  }

  read(name: string): Uint8Array | undefined {
    try {
      return new Uint8Array(readFileSync(this.path(name)));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return undefined;
      if (code === 'EISDIR') throw new BpfError('EISDIR', `${name}: Is a directory`);
      throw sysError(err, `read ${name}`);
    }
  }

  private writeTemp(target: string, data: Uint8Array): string {
    const dir = dirname(target);
    try {
      mkdirSync(dir, { recursive: true });
    } catch (err) {
      throw sysError(err, `mkdir ${dir}`);
    }
    const tmp = `${target}.tmp-${process.pid}-${tmpCounter++}`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
      let off = 0;
      while (off < data.length) off += writeSync(fd, data, off, data.length - off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    return tmp;
  }

  private syncDir(dir: string): void {
    try {
      const fd = openSync(dir, 'r');
      try { fsyncSync(fd); } finally { closeSync(fd); }
    } catch { /* some file systems refuse fsync on folders; the rename is still atomic */ }
  }

  writeAtomic(name: string, data: Uint8Array): void {
    const target = this.path(name);
    const tmp = this.writeTemp(target, data);
    try {
      renameSync(tmp, target);
    } catch (err) {
      try { unlinkSync(tmp); } catch { /* gone */ }
      throw sysError(err, `write ${name}`);
    }
    this.syncDir(dirname(target));
  }

  createExclusive(name: string, data: Uint8Array): void {
    const target = this.path(name);
    const tmp = this.writeTemp(target, data);
    try {
      linkSync(tmp, target);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') throw new BpfError('EEXIST', `${name}: File exists`);
      throw sysError(err, `create ${name}`);
    } finally {
      try { unlinkSync(tmp); } catch { /* gone */ }
    }
    this.syncDir(dirname(target));
  }

  readPrefix(name: string, length: number): Uint8Array | undefined {
    let fd: number;
    try {
      fd = openSync(this.path(name), 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw sysError(err, `read ${name}`);
    }
    try {
      const buf = new Uint8Array(length);
      let got = 0;
      for (;;) {
        const n = readSync(fd, buf, got, length - got, got);
        if (n === 0) break;
        got += n;
        if (got === length) break;
      }
      return buf.subarray(0, got);
    } finally {
      closeSync(fd);
    }
  }

  remove(name: string): void {
    try {
      unlinkSync(this.path(name));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new BpfError('ENOENT', `${name}: No such file or directory`);
      throw sysError(err, `remove ${name}`);
    }
  }

  list(dir: string): string[] {
    const out: string[] = [];
    const walk = (rel: string): void => {
      let names: string[];
      try {
        names = readdirSync(join(this.root, rel));
      } catch {
        return;
      }
      for (const n of names.sort()) {
        if (/\.tmp-\d+-\d+$/.test(n)) continue;
        const child = `${rel}/${n}`;
        let isDir = false;
        try { isDir = statSync(join(this.root, child)).isDirectory(); } catch { continue; }
        if (isDir) walk(child);
        else out.push(child);
      }
    };
    walk(dir.replace(/\/$/, ''));
    return out;
  }

  withLock<T>(fn: () => T): T {
    if (this.lockDepth > 0) {
      this.lockDepth++;
      try { return fn(); } finally { this.lockDepth--; }
    }
    const lockPath = join(this.root, 'lock');
    mkdirSync(this.root, { recursive: true });
    const deadline = Date.now() + LOCK_TIMEOUT_MS;
    let wait = 1;
    // The lock file appears with its owner's pid already in it (written to a temp file, then
    // link()ed into place), so a process killed at any point never leaves an anonymous lock.
    const mine = `${lockPath}.${process.pid}`;
    const fd = openSync(mine, 'w', 0o600);
    try { writeSync(fd, String(process.pid)); } finally { closeSync(fd); }
    try {
      for (;;) {
        try {
          linkSync(mine, lockPath);
          break;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw sysError(err, 'lock');
        }
        let owner = NaN;
        try { owner = parseInt(readFileSync(lockPath, 'utf8'), 10); } catch { /* just released */ }
        const anonymousAndOld = !Number.isInteger(owner) && lockAgeMs(lockPath) > STALE_ANONYMOUS_LOCK_MS;
        if (anonymousAndOld || (Number.isInteger(owner) && owner > 0 && !pidAlive(owner))) {
          // The owner died holding the lock: break it (rename first, so two breakers do not both win).
          const stale = `${lockPath}.stale-${process.pid}`;
          try { renameSync(lockPath, stale); rmSync(stale, { force: true }); } catch { /* someone else did */ }
          continue;
        }
        if (Date.now() > deadline) throw new BpfError('EBUSY', `store ${this.root} is locked by pid ${owner}`);
        sleepMs(wait);
        wait = Math.min(wait * 2, 20);
      }
    } finally {
      try { unlinkSync(mine); } catch { /* gone */ }
    }
    this.lockDepth = 1;
    try {
      return fn();
    } finally {
      this.lockDepth = 0;
      try { unlinkSync(lockPath); } catch { /* broken by someone who thought we were dead */ }
    }
  }
}

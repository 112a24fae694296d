/*
 * The storage a pin store sits on: named files under one root, with the three operations
 * crash-safety needs (atomic replace, exclusive create, a cross-process lock). Kept this small so
 * the store logic (pin_store.ts) is browser-safe; node_store_fs.ts implements it on a folder
 * (BPFKIT_STATE) and MemoryStoreFs here implements it in memory (browsers, tests).
 *
 * Names are '/'-separated relative paths ("objects/map/12", "bpffs/dir/name"); parents are
 * created as needed.
 */
import { BpfError } from '../errors.js';

export interface StoreFs {
  /** The file's bytes, or undefined when it does not exist. */
  read(name: string): Uint8Array | undefined;
  /** Replace the file atomically: readers see the old or the new bytes, never a mix (temp + fsync + rename). */
  writeAtomic(name: string, data: Uint8Array): void;
  /** Create the file atomically; EEXIST when it exists. */
  createExclusive(name: string, data: Uint8Array): void;
  /** Remove the file; ENOENT when it does not exist. */
  remove(name: string): void;
  /** Names of the files below `dir` (recursively), relative to the root. */
  list(dir: string): string[];
  /** Run `fn` holding the store's exclusive lock (across processes for a folder store). */
  withLock<T>(fn: () => T): T;
  /** The first `length` bytes of the file (fewer when it is shorter), or undefined when it does not exist. */
  readPrefix(name: string, length: number): Uint8Array | undefined;
}

export class MemoryStoreFs implements StoreFs {
  private readonly files = new Map<string, Uint8Array>();
  private depth = 0;

  readPrefix(name: string, length: number): Uint8Array | undefined {
    return this.files.get(name)?.slice(0, length);
  }

  read(name: string): Uint8Array | undefined {
    const data = this.files.get(name);
    return data ? data.slice() : undefined;
  }

  writeAtomic(name: string, data: Uint8Array): void {
    this.files.set(name, data.slice());
  }

  createExclusive(name: string, data: Uint8Array): void {
    if (this.files.has(name)) throw new BpfError('EEXIST', `${name}: File exists`);
    this.files.set(name, data.slice());
  }

  remove(name: string): void {
    if (!this.files.delete(name)) throw new BpfError('ENOENT', `${name}: No such file or directory`);
  }

  list(dir: string): string[] {
    const prefix = dir.endsWith('/') ? dir : dir + '/';
    return [...this.files.keys()].filter((n) => n.startsWith(prefix)).sort();
  }

  withLock<T>(fn: () => T): T {
    this.depth++;
    try {
      return fn();
    } finally {
      this.depth--;
    }
  }
}

/*
 * The state store's trace buffer: `prog run` appends bpf_trace_printk output as trace_pipe lines,
 * `prog tracelog` drains it (reading trace_pipe consumes, as the kernel's does). Both take the
 * store's lock, so lines appended while another process drains are never lost or read twice.
 */
import { appendFileSync, mkdirSync, readFileSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { NodeStoreFs, defaultStateDir } from '../kernel/node_store_fs.js';

/** The buffer's file in the state store. */
export function traceLogPath(): string {
  return join(defaultStateDir(), 'trace_pipe');
}

/** `fn` under the state store's lock. */
function locked<T>(fn: () => T): T {
  const root = defaultStateDir();
  mkdirSync(root, { recursive: true });
  return new NodeStoreFs(root).withLock(fn);
}

export function appendTrace(text: string): void {
  if (text) locked(() => appendFileSync(traceLogPath(), text));
}

/** Everything appended so far, removed from the buffer. */
export function drainTrace(): string {
  return locked(() => {
    try {
      const text = readFileSync(traceLogPath(), 'latin1');
      truncateSync(traceLogPath(), 0);
      return text;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
      throw err;
    }
  });
}

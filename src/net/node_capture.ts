/*
 * Capture files on disk, streamed: a CHUNK_SIZE (1 MiB) buffer filled by reads of READ_SIZE (256 KiB), writing in
 * WRITE_BUFFER_SIZE (128 KiB) writes, so memory stays constant however large the file.
 * Synchronous I/O on purpose: the per-packet loop never yields, and a CLI filtering one file has
 * nothing else to do meanwhile.
 * (Reads ahead on libuv's thread pool were measured: on this shared 2-core machine a 1 MiB read
 * there took 2-3 times a readSync(), and the WebAssembly scan leaves little to overlap.)
 *
 *   const input = openCaptureFile('in.pcapng');          // throws on a bad header
 *   const output = createPcapFile('out.pcap', { linktype: input.reader.linktype, snaplen: 262144 });
 *   try {
 *     const r = input.reader;
 *     while (r.next()) output.writer.write(r.sec, r.nsec, r.len, r.buf, r.dataOffset, r.caplen);
 *   } finally { input.close(); output.close(); }
 *
 * Errors (open failures, corrupt records) are BpfErrors with one-line messages; a corrupt record's
 * message names its byte offset in the file (see CaptureReader in pcap.ts).
 */
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { BpfError } from '../errors.js';
import { CaptureReader, CHUNK_SIZE, type PcapInterface, PcapngWriter, PcapWriter, type WriteOptions } from './pcap.js';

export interface CaptureFileReader {
  readonly reader: CaptureReader;
  /** Close the file (idempotent). */
  close(): void;
}

export interface PcapFileWriter {
  readonly writer: PcapWriter;
  /** Flush what is buffered and close the file (idempotent). */
  close(): void;
}

/** `path: No such file or directory` and friends, in tcpdump's words. */
function openError(path: string, err: unknown): BpfError {
  const e = err as NodeJS.ErrnoException;
  const why = e.code === 'ENOENT' ? 'No such file or directory' : e.code === 'EACCES' ? 'Permission denied'
    : e.code === 'EISDIR' ? 'Is a directory' : e.message;
  return new BpfError(e.code === 'ENOENT' ? 'ENOENT' : 'EINVAL', `${path}: ${why}`);
}

/** A non-blocking pipe (stdin, stdout) is not ready (EAGAIN): sleep 5 ms before trying again. */
function waitForPipe(): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
}

/**
 * A streaming reader over a capture file (or a file descriptor, e.g. 0 for stdin), reading into
 * `buffer` (or a new buffer of that size).
 */
export function openCaptureFile(path: string | number, buffer: number | Uint8Array = CHUNK_SIZE): CaptureFileReader {
  let fd: number;
  try {
    fd = typeof path === 'number' ? path : openSync(path, 'r');
  } catch (err) {
    throw openError(String(path), err);
  }
  let open = true;
  const close = (): void => {
    if (open && typeof path !== 'number') closeSync(fd);
    open = false;
  };
  const source = (into: Uint8Array, at: number, max: number): number => {
    if (!open) return 0;
    for (;;) {
      try {
        return readSync(fd, into, at, max, null);
      } catch (err) {
        // A non-blocking pipe on stdin has nothing yet: wait for it.
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') { waitForPipe(); continue; }
        if ((err as NodeJS.ErrnoException).code === 'EOF') return 0;
        throw openError(String(path), err);
      }
    }
  };
  try {
    return { reader: new CaptureReader(source, buffer), close };
  } catch (err) {
    close();
    throw err;
  }
}

/**
 * A classic pcap savefile being written (or a file descriptor, e.g. 1 for stdout, left open);
 * the header is written with the first flush.
 */
export function createPcapFile(path: string | number, opts: WriteOptions): PcapFileWriter {
  return createWriterFile(path, (sink) => new PcapWriter(opts, sink));
}

/** A pcapng file being written (one section; IDBs for `interfaces`, which may grow meanwhile). */
export function createPcapngFile(path: string, interfaces: readonly PcapInterface[], bigEndian = false): PcapngFileWriter {
  return createWriterFile(path, (sink) => new PcapngWriter(interfaces, sink, bigEndian));
}

export interface PcapngFileWriter {
  readonly writer: PcapngWriter;
  close(): void;
}

function createWriterFile<W extends { flush(): void }>(path: string | number, make: (sink: (chunk: Uint8Array) => void) => W): { writer: W; close(): void } {
  let fd: number;
  try {
    fd = typeof path === 'number' ? path : openSync(path, 'w');
  } catch (err) {
    throw openError(String(path), err);
  }
  const writer = make((chunk) => {
    for (let done = 0; done < chunk.length;) {
      try {
        done += writeSync(fd, chunk, done, chunk.length - done);
      } catch (err) {
        // A non-blocking pipe on stdout is full: wait for the reader.
        if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
        waitForPipe();
      }
    }
  });
  let open = true;
  return {
    writer,
    close: () => {
      if (!open) return;
      open = false;
      try { writer.flush(); } finally { if (typeof path !== 'number') closeSync(fd); }
    },
  };
}

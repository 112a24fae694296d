/*
 * A CLI run as this process: argv in, the real streams out, the exit code set. Kept apart from
 * main.ts (runCli, which can load every command) so that the tcpdump entry and its single-file
 * bundle (node_tcpdump.ts) take in only the tcpdump command.
 */
import { writeSync } from 'node:fs';
import type { CliContext } from './context.js';

export type ProcessRun = (argv: string[], ctx: CliContext) => Promise<number>;

let streamsUsed = false;

/** Whether output went through process.stdout/stderr (a non-blocking descriptor): their writes may still be pending. */
export function wroteThroughStreams(): boolean {
  return streamsUsed;
}

/**
 * Text to file descriptor 1 or 2 with write(2), as process.stdout/stderr write to files, pipes
 * and terminals on Linux (synchronously), without creating those stream objects: a pipe or a
 * terminal stream loads net/tty, a measurable part of a short process. A descriptor left
 * non-blocking by the parent (EAGAIN) goes on through the stream.
 */
function fdWriter(fd: 1 | 2): (text: string) => void {
  let stream: NodeJS.WriteStream | undefined;
  return (text) => {
    if (stream) { stream.write(text); return; }
    const bytes = Buffer.from(text);
    let done = 0;
    try {
      while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // A reader that goes away early (`bpfkit ... | head`) is not an error worth a stack trace.
      if (code === 'EPIPE') process.exit(process.exitCode ?? 0);
      if (code !== 'EAGAIN') throw err;
      stream = fd === 1 ? process.stdout : process.stderr;
      streamsUsed = true;
      stream.on('error', (e: NodeJS.ErrnoException) => {
        if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
        throw e;
      });
      stream.write(bytes.subarray(done));
    }
  };
}

export async function runWithProcess(run: ProcessRun): Promise<void> {
  process.exitCode = await run(process.argv.slice(2), {
    json: false,
    pretty: false,
    debug: false,
    stdout: fdWriter(1),
    stderr: fdWriter(2),
    readStdin: async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
      return new Uint8Array(Buffer.concat(chunks));
    },
  });
}

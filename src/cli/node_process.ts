/*
 * Running the CLI as this process: argv in, the real streams out, the exit code set. Shared by the
 * process entry points (node_main.ts, and node_tcpdump.ts which skips the CO-RE setup).
 */
import { runCli } from './main.js';

export async function runAsProcess(): Promise<void> {
  // A reader that goes away early (`bpfkit ... | head`) is not an error worth a stack trace.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw err;
    });
  }
  process.exitCode = await runCli(process.argv.slice(2), {
    json: false,
    pretty: false,
    debug: false,
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    readStdin: async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
      return new Uint8Array(Buffer.concat(chunks));
    },
  });
}

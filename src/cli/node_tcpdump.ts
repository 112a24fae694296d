/*
 * Process entry point for `bpfkit tcpdump ...` (bin/bpfkit.js picks it when tcpdump is the first
 * word): the same CLI as node_main.ts without its CO-RE setup, which loads the kernel, loader and
 * BTF modules. Filtering a capture is a short process; module loading is a good part of its time.
 */
import { runCli } from './main.js';

// A reader that goes away early (`bpfkit tcpdump -r f | head`) is not an error worth a stack trace.
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

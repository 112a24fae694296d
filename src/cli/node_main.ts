/* Process entry point: wires the CLI to the real process streams and exit code. */
import { runCli } from './main.js';

// A reader that goes away early (`bpfkit ... | head`) is not an error worth a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}

const chunks: Buffer[] = [];
const exitCode = await runCli(process.argv.slice(2), {
  json: false,
  pretty: false,
  debug: false,
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  readStdin: async () => {
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return new Uint8Array(Buffer.concat(chunks));
  },
});
process.exitCode = exitCode;

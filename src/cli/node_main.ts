/* Process entry point: wires the CLI to the real process streams and exit code. */
import { readFileSync } from 'node:fs';
import { BpfError } from '../errors.js';
import { coreRelocatorFor } from '../btf/core.js';
import { parseBtf } from '../btf/parse.js';
import { registerCoreRelocator } from '../kernel/load.js';
import { runCli } from './main.js';

// CO-RE relocations target the host kernel's BTF (as libbpf does), read only when an object
// needs it; BPFKIT_BTF names another BTF file (e.g. a vmlinux of the kernel you deploy to).
const KERNEL_BTF = process.env.BPFKIT_BTF || '/sys/kernel/btf/vmlinux';
registerCoreRelocator(coreRelocatorFor(() => {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(KERNEL_BTF));
  } catch (err) {
    throw new BpfError('ENOENT', `CO-RE: cannot read target BTF ${KERNEL_BTF}: ${(err as Error).message} (set BPFKIT_BTF)`);
  }
  return parseBtf(bytes);
}));

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

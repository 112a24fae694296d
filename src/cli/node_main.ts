/*
 * Process entry point: wires the CLI to the real process streams and exit code. Also the entry of
 * the `main` single-file bundle (scripts/bundle.mjs, started with a V8 code cache by
 * bin/bundle.js): a CommonJS script, so no top-level await.
 */
import { readFileSync } from 'node:fs';
import { BpfError } from '../errors.js';
import { coreRelocatorFor } from '../btf/core.js';
import { parseBtf } from '../btf/parse.js';
import { registerCoreRelocator } from '../kernel/load.js';
import { runAsProcess } from './node_process.js';

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

void runAsProcess();

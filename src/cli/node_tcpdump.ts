/*
 * Process entry point for `bpfkit tcpdump ...` (bin/bpfkit.js picks it when tcpdump is the first
 * word): the same CLI as node_main.ts without its CO-RE setup, which loads the kernel, loader and
 * BTF modules. Filtering a capture is a short process; module loading is a good part of its time.
 */
import { runAsProcess } from './node_process.js';

await runAsProcess();

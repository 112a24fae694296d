/*
 * Process entry point for `bpfkit tcpdump ...` (bin/bpfkit.js picks it when tcpdump is the first
 * word): the tcpdump command alone, without main.ts' command table or node_main.ts' CO-RE setup.
 * Filtering a capture is a short process and startup is a good part of its time, so this module
 * is also the entry of the single-file bundle (scripts/bundle.mjs -> dist/bundle/tcpdump.cjs,
 * started with a V8 code cache by bin/bundle.js): no top-level await, nothing beyond tcpdump.
 */
import { runWithProcess, wroteThroughStreams } from './node_io.js';
import { describeError, printError } from './output.js';
import { tcpdumpCommand } from './tcpdump.js';

void runWithProcess(async (argv, ctx) => {
  try {
    return await tcpdumpCommand(argv.slice(1), ctx);
  } catch (err) {
    // What runCli prints (tcpdumpCommand handles its own BpfErrors).
    printError(ctx, describeError(err, ctx.debug));
    return 255;
  }
}).then(() => {
  // Done: every byte went out through write(2) and the files are closed, so exit now rather
  // than tear the isolate down (its heap, the WebAssembly memory's reservation): 2.5 ms less
  // between the last write and the parent seeing the exit (median of 15, 1M packets), as tcpdump
  // exits. process.exit() still runs 'exit' listeners (bin/bundle.js' code cache writer).
  // Not when output went through a stream (a non-blocking descriptor), which may hold writes.
  if (!wroteThroughStreams()) process.exit();
});

/*
 * Running the whole CLI as this process (node_main.ts); the stream wiring is node_io.ts', shared
 * with the tcpdump entry (node_tcpdump.ts).
 */
import { runCli } from './main.js';
import { runWithProcess } from './node_io.js';

export async function runAsProcess(): Promise<void> {
  await runWithProcess(runCli);
}

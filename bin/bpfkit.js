#!/usr/bin/env node
// `tcpdump` has a lean entry point: startup is much of a capture filter's run time.
if (process.argv[2] === 'tcpdump') await import('../dist/src/cli/node_tcpdump.js');
else await import('../dist/src/cli/node_main.js');

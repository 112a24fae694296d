#!/usr/bin/env node
// A plain `env node` #! line on purpose: busybox env (Alpine, node:*-alpine CI images) has no -S,
// and npm's sh shim (Git Bash) cannot run NAME=value before the program, so any variable set
// here would stop bpfkit from starting there. (Node 20 parses a NODE_EXTRA_CA_CERTS bundle at
// every start, ~40 ms; bpfkit makes no TLS connections, so `NODE_EXTRA_CA_CERTS= bpfkit ...`
// is safe where that matters: see README.)
// CommonJS (bin/package.json): a CommonJS entry starts faster than an ES module one, and the
// CLI starts from a single-file bundle with a V8 code cache when that is built and fresh
// (bundle.js): `tcpdump`, a short process where startup is much of the run time, from one of
// its own; every other command from `main`. Otherwise from dist/'s ES modules.
'use strict';
const tcpdump = process.argv[2] === 'tcpdump';
if (!require('./bundle.js').runBundle(tcpdump ? 'tcpdump' : 'main')) {
  import(tcpdump ? '../dist/src/cli/node_tcpdump.js' : '../dist/src/cli/node_main.js').catch((err) => {
    process.stderr.write(`bpfkit: cannot start: ${err && err.message} (run \`npm run build\`)\n`);
    process.exitCode = 1;
  });
}

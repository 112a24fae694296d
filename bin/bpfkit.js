#!/usr/bin/env -S NODE_EXTRA_CA_CERTS=${BPFKIT_NODE_EXTRA_CA_CERTS} node
// The #! line (what runs for `bpfkit`, npm's link to this file) starts node with
// NODE_EXTRA_CA_CERTS empty: Node 20 parses that CA bundle at every start (~40 ms with a
// system bundle, a /dev/null or other non-empty value still ~20 ms) and bpfkit never uses TLS.
// Written as ${UNSET_NAME}, not as an empty value: npm's cmd-shim (the Windows .cmd) parses
// only NAME=NONEMPTY before the program and turns ${X} into %X%, empty when unset.
// `node bin/bpfkit.js` ignores this line and keeps the caller's environment.
// CommonJS (bin/package.json): a CommonJS entry starts faster than an ES module one, and
// `tcpdump`, a short process where startup is much of the run time, starts from its single-file
// bundle with a V8 code cache when that is built and fresh (bundle.js). The rest is dist/'s ESM.
'use strict';
const tcpdump = process.argv[2] === 'tcpdump';
if (!(tcpdump && require('./bundle.js').runBundle('tcpdump'))) {
  import(tcpdump ? '../dist/src/cli/node_tcpdump.js' : '../dist/src/cli/node_main.js').catch((err) => {
    process.stderr.write(`bpfkit: cannot start: ${err && err.message} (run \`npm run build\`)\n`);
    process.exitCode = 1;
  });
}

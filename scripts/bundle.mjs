#!/usr/bin/env node
/*
 * Single-file bundles of the CLI's entry points (run after tsc by `npm run build` and at
 * `npm install`/`npm ci`): `tcpdump` (dist/src/cli/node_tcpdump.js) and `main` (node_main.js, every
 * other command), each with everything it imports as one CommonJS script dist/bundle/NAME-HASH.cjs
 * (esbuild), plus the V8 code cache of a warm-up run (HASH.cjs.cache) and dist/bundle/NAME.json
 * naming the bundle and the dist/ files it was built from. bin/bundle.js runs a bundle while those
 * files are unchanged. Startup is much of a CLI command's time: ~170 ES modules (each read,
 * resolved, parsed and compiled) become one script whose warm-up functions need no parsing or
 * compiling (`prog run` on one packet: about half the wall time). Without esbuild (a production
 * install) nothing is built and bin/bpfkit.js runs dist/ as before.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DIR = join(ROOT, 'dist', 'bundle');

let esbuild;
try {
  esbuild = await import('esbuild');
} catch {
  console.log('scripts/bundle.mjs: esbuild not installed, no bundle (bpfkit tcpdump runs from dist/)');
  process.exit(0);
}
// (After tsc: the warm-up capture is written by the project's own writer.)
const { writePcap } = await import('../dist/src/net/pcap.js');

const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');
const { contentHash, WRAPPER, MANIFEST_VERSION } = createRequire(import.meta.url)('../bin/bundle.js');

/** Write through a temporary name: a process starting meanwhile sees the old file or the new. */
function writeAtomic(file, data) {
  writeFileSync(`${file}.${process.pid}`, data);
  renameSync(`${file}.${process.pid}`, file);
}

/** A small capture for the warm-up run: Ethernet/IPv4 TCP and UDP packets, an ARP. */
function warmCapture() {
  const packet = (type, payload) => Buffer.concat([Buffer.alloc(12, 2), Buffer.from([type >> 8, type & 0xff]), payload]);
  const ipv4 = (proto, l4) => {
    const ip = Buffer.alloc(20);
    ip[0] = 0x45; ip.writeUInt16BE(20 + l4.length, 2); ip[8] = 64; ip[9] = proto;
    ip.set([10, 0, 0, 1], 12); ip.set([10, 0, 0, 2], 16);
    return Buffer.concat([ip, l4]);
  };
  const ports = (src, dst, len) => { const b = Buffer.alloc(len); b.writeUInt16BE(src, 0); b.writeUInt16BE(dst, 2); return b; };
  const packets = [];
  for (let i = 0; i < 3000; i++) {
    packets.push(i % 3 === 0 ? packet(0x0800, ipv4(6, ports(40000 + i, 80, 20)))
      : i % 3 === 1 ? packet(0x0800, ipv4(17, ports(53, 40000 + i, 8))) : packet(0x0806, Buffer.alloc(28)));
  }
  return writePcap({ linktype: 1, snaplen: 262144 }, packets.map((data, i) => (
    { sec: 1700000000 + i, nsec: i * 1000, caplen: data.length, len: data.length, data, ifIndex: 0 })));
}

/*
 * The bundles: entry, esbuild options of their own, and the warm-up command whose compiled
 * functions the code cache holds (a real run's: V8 caches what it compiled by the end of it).
 */
const BUNDLES = [
  {
    name: 'tcpdump',
    entry: 'node_tcpdump.js',
    // Fewer bytes to read and hold as a string at every start (~45% of the size, ~170 fewer page
    // faults); names only matter in an internal error's stack, which tcpdump never prints.
    options: { minify: true },
    warmUp: (tmp) => {
      writeFileSync(join(tmp, 'warm.pcap'), warmCapture());
      return ['tcpdump', '-r', join(tmp, 'warm.pcap'), '-w', join(tmp, 'out.pcap'), 'tcp port 80 or udp and dst net 10.0.0.0/8 or ip6 or arp'];
    },
  },
  {
    name: 'main',
    entry: 'node_main.js',
    // keepNames: minified, but functions and classes keep their names (`.name` may reach output).
    // import.meta.url (main.ts finds package.json by it) is that of dist/src/cli/main.js, where the
    // bundle's modules of dist/src/cli/ were: bundleInputs() refuses import.meta anywhere else.
    options: {
      minify: true,
      keepNames: true,
      define: { 'import.meta.url': '__bpfkitCliUrl' },
    },
    prelude: 'var __bpfkitCliUrl=require("url").pathToFileURL(require("path").join(__dirname,"..","src","cli","main.js")).href;',
    importMetaIn: join('dist', 'src', 'cli'),
    // The README's main job: loader, verifier, JIT, pcap reading and the summary's printing.
    warmUp: () => ['prog', 'run', 'file', join(ROOT, 'examples', 'xdp_udp_drop.o'), 'pcap_in', join(ROOT, 'examples', 'traffic.pcap')],
  },
];

/** The dist/ files a bundle was built from, with what isFresh() compares; refuses import.meta where its shim would be wrong. */
function bundleInputs(spec, metafile) {
  return Object.keys(metafile.inputs).sort().map((file) => {
    const bytes = readFileSync(join(ROOT, file));
    if (/\bimport\.meta\b/.test(bytes.toString('latin1')) && !(spec.importMetaIn && file.startsWith(spec.importMetaIn))) {
      throw new Error(`${file} uses import.meta, which the ${spec.name} bundle cannot give it`);
    }
    const st = statSync(join(ROOT, file));
    return { file, size: st.size, mtimeMs: st.mtimeMs, hash: contentHash(bytes) };
  });
}

async function build(spec) {
  const result = await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: [join('dist', 'src', 'cli', spec.entry)],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    // import() of node: modules becomes require(): a script run from a code cache has no dynamic import.
    supported: { 'dynamic-import': false },
    legalComments: 'none',
    // Written wrapped as bin/bundle.js compiles it: no concatenated copy of the source at start
    // (the bundle's own prelude, if any, first inside the wrapper).
    banner: { js: WRAPPER[0] + (spec.prelude ?? '') },
    footer: { js: WRAPPER[1] },
    write: false,
    metafile: true,
    logLevel: 'error',
    outfile: join(DIR, `${spec.name}.cjs`),
    ...spec.options,
  });
  const code = result.outputFiles[0].contents;
  const hash = sha256(code).slice(0, 16);
  const bundle = `${spec.name}-${hash}.cjs`;
  const inputs = bundleInputs(spec, result.metafile);
  writeAtomic(join(DIR, bundle), code);
  writeAtomic(join(DIR, `${spec.name}.json`), JSON.stringify({ version: MANIFEST_VERSION, bundle, node: process.version, inputs }, null, 1) + '\n');

  // The code cache: what a real run compiled, written by bin/bundle.js at its exit.
  const tmp = mkdtempSync(join(tmpdir(), 'bpfkit-bundle-'));
  try {
    const cache = join(tmp, 'cache');
    const run = spawnSync(process.execPath, [join(ROOT, 'bin', 'bpfkit.js'), ...spec.warmUp(tmp)], {
      // (a pin store of its own: the warm-up leaves nothing in the user's)
      env: { ...process.env, BPFKIT_CODE_CACHE_OUT: cache, BPFKIT_NO_BUNDLE: '', BPFKIT_STATE: join(tmp, 'state') }, encoding: 'utf8',
    });
    if (run.status !== 0) throw new Error(`${spec.name}: warm-up run failed (${run.status}): ${run.stderr}`);
    // No cache file: the run took dist/ (an input changed meanwhile, e.g. a concurrent tsc).
    if (existsSync(cache)) writeAtomic(join(DIR, `${bundle}.cache`), readFileSync(cache));
    else console.log(`scripts/bundle.mjs: dist/ changed during the build: the ${spec.name} bundle is stale, no code cache (run it again)`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  // Earlier bundles go (a process that read the old manifest just now falls back to dist/).
  for (const f of readdirSync(DIR)) if (f.startsWith(`${spec.name}-`) && !f.startsWith(bundle)) rmSync(join(DIR, f), { force: true });
  console.log(`scripts/bundle.mjs: dist/bundle/${bundle} (${(code.length / 1024).toFixed(0)} KiB, ${inputs.length} modules) and its code cache`);
}

mkdirSync(DIR, { recursive: true });
for (const spec of BUNDLES) await build(spec);

/*
 * The `bpfkit` command line: `bpfkit [-j|-p] [-d] OBJECT COMMAND ...` in bpftool's grammar
 * (DESIGN.md, "CLI"). Each OBJECT lives in its own module, loaded on demand. Every error becomes
 * one `Error: ...` line (or `{"error":...}` with -j) and a non-zero exit; never a stack trace.
 */
import { BpfError } from '../errors.js';
import { selectKeyword } from './args.js';
import type { CliContext, CommandHandler } from './context.js';
import { describeError, printError } from './output.js';

const OBJECTS: Record<string, () => Promise<CommandHandler>> = {
  prog: async () => (await import('./prog.js')).progCommand,
  map: async () => (await import('./map.js')).mapCommand,
  btf: async () => (await import('./btf.js')).btfCommand,
  bpffs: async () => (await import('./bpffs.js')).bpffsCommand,
  tcpdump: async () => (await import('./tcpdump.js')).tcpdumpCommand,
  bpf_asm: async () => (await import('./bpf_asm.js')).bpfAsmCommand,
  bpf_dbg: async () => (await import('./bpf_dbg.js')).bpfDbgCommand,
  disasm: async () => (await import('./disasm.js')).disasmCommand,
  asm: async () => (await import('./asm.js')).asmCommand,
  conformance: async () => (await import('./conformance.js')).conformanceCommand,
  'conformance-plugin': async () => (await import('./conformance.js')).conformancePluginCommand,
  help: async () => helpCommand,
};

const USAGE = `Usage: bpfkit [OPTIONS] OBJECT { COMMAND | help }
       OBJECT := { prog | map | btf | bpffs | tcpdump | bpf_asm | bpf_dbg | disasm | asm | conformance | conformance-plugin }
       OPTIONS := { {-j|--json} [{-p|--pretty}] | {-d|--debug} | {-V|--version} }
`;

const helpCommand: CommandHandler = async (_args, ctx) => {
  ctx.stdout(USAGE);
  return 0;
};

export async function runCli(argv: string[], ctx: CliContext): Promise<number> {
  const words = [...argv];
  try {
    while (words.length > 0 && words[0].startsWith('-') && words[0] !== '--') {
      const opt = words.shift()!;
      if (opt === '-j' || opt === '--json') ctx.json = true;
      else if (opt === '-p' || opt === '--pretty') { ctx.json = true; ctx.pretty = true; }
      else if (opt === '-d' || opt === '--debug') ctx.debug = true;
      else if (opt === '-V' || opt === '--version') { ctx.stdout(`bpfkit ${await version()}\n`); return 0; }
      else if (opt === '-h' || opt === '--help') { ctx.stdout(USAGE); return 0; }
      else throw new BpfError('EINVAL', `unknown option '${opt}'`);
    }
    const word = words.shift();
    if (word === undefined) { ctx.stderr(USAGE); return 255; }
    const name = Object.prototype.hasOwnProperty.call(OBJECTS, word)
      ? word : selectKeyword(word, Object.keys(OBJECTS));
    if (!name) throw new BpfError('EINVAL', `object '${word}' is unknown, have you tried 'bpfkit help'?`);
    const handler = await OBJECTS[name]();
    return await handler(words, ctx);
  } catch (err) {
    // A verifier rejection carries the kernel-format log: shown with -d, as libbpf prints it.
    const log = (err as { log?: unknown }).log;
    if (ctx.debug && typeof log === 'string' && log) ctx.stderr(`-- BEGIN PROG LOAD LOG --\n${log.trimEnd()}\n-- END PROG LOAD LOG --\n`);
    printError(ctx, describeError(err, ctx.debug));
    return 255;
  }
}

async function version(): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  const pkg = JSON.parse(await readFile(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export interface CapturedRun {
  status: number;
  stdout: string;
  stderr: string;
}

/** Run the CLI in-process and collect what it prints (tests, benchmarks, the playground). */
export async function runCliCaptured(argv: string[], stdin: Uint8Array | string = new Uint8Array(0)): Promise<CapturedRun> {
  let stdout = '';
  let stderr = '';
  const input = typeof stdin === 'string' ? new TextEncoder().encode(stdin) : stdin;
  const status = await runCli(argv, {
    json: false, pretty: false, debug: false,
    stdout: (t) => { stdout += t; },
    stderr: (t) => { stderr += t; },
    readStdin: async () => input,
  });
  return { status, stdout, stderr };
}

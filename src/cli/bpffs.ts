/*
 * `bpfkit bpffs { ls [PATH] | rm PATH... }`: bpfkit's bpffs is its state store, so the listing and
 * removal a shell does on /sys/fs/bpf (ls, rm = unlink(2) of a pin) are commands here. Removing
 * the last pin of an object frees it, as unlinking does in the kernel.
 */
import { BpfError } from '../errors.js';
import type { CommandHandler } from './context.js';
import { openCliKernel } from './map.js';
import { printJson } from './output.js';

const USAGE = `Usage: bpfkit bpffs { ls [PATH] | rm PATH... }
       bpfkit bpffs help
`;

export const bpffsCommand: CommandHandler = async (args, ctx) => {
  const [cmd, ...rest] = args;
  if (cmd === undefined || cmd === 'help') { ctx.stdout(USAGE); return cmd === undefined ? 255 : 0; }
  if (cmd === 'ls' || cmd === 'list') {
    if (rest.length > 1) { ctx.stderr(`ls: expected at most one PATH, got ${rest.length}\n`); return 255; }
    const k = await openCliKernel();
    try {
      const root = (rest[0] ?? '/sys/fs/bpf').replace(/\/+$/, '');
      const pins = k.listPins().filter((p) => p.path === root || p.path.startsWith(`${root}/`));
      if (rest[0] !== undefined && pins.length === 0) {
        ctx.stderr(`ls: cannot access '${rest[0]}': No such file or directory\n`);
        return 2;
      }
      if (ctx.json) printJson(ctx, pins.map((p) => ({ path: p.path, kind: p.kind, id: p.id })));
      else for (const p of pins) ctx.stdout(`${p.path}\t${p.kind} id ${p.id}\n`);
      return 0;
    } finally {
      k.shutdown();
    }
  }
  if (cmd === 'rm') {
    if (rest.length === 0) { ctx.stderr('rm: missing operand\n'); return 255; }
    const k = await openCliKernel();
    let status = 0;
    try {
      for (const path of rest) {
        try {
          k.unpin(path);
        } catch (err) {
          if (!(err instanceof BpfError)) throw err;
          ctx.stderr(`rm: cannot remove '${path}': ${err.code === 'ENOENT' ? 'No such file or directory' : err.message}\n`);
          status = 1;
        }
      }
    } finally {
      k.shutdown();
    }
    return status;
  }
  ctx.stderr(`Error: unknown command '${cmd}'\n${USAGE}`);
  return 255;
};

/*
 * Output in bpftool's two modes: text, or JSON (-j; -p indents). JSON is written by our own
 * serializer so 64-bit values (bigint) keep every digit, as bpftool's json_writer does.
 */
import { BpfError } from '../errors.js';
import type { CliContext } from './context.js';

export type JsonValue =
  | string | number | bigint | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export function toJson(value: JsonValue, pretty = false, indent = ''): string {
  if (value === null) return 'null';
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'string') return JSON.stringify(value);
  const inner = pretty ? indent + '    ' : '';
  const nl = pretty ? '\n' : '';
  const sep = pretty ? ': ' : ':';
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    return `[${nl}${value.map((v) => inner + toJson(v, pretty, inner)).join(',' + nl)}${nl}${indent}]`;
  }
  const entries = Object.entries(value);
  if (entries.length === 0) return '{}';
  return `{${nl}${entries
    .map(([k, v]) => `${inner}${JSON.stringify(k)}${sep}${toJson(v, pretty, inner)}`)
    .join(',' + nl)}${nl}${indent}}`;
}

export function printJson(ctx: CliContext, value: JsonValue): void {
  ctx.stdout(toJson(value, ctx.pretty) + '\n');
}

/**
 * A one-line message for any thrown value; internal errors say so (stack only with -d).
 * Used by runCli (main.ts) and the tcpdump entry (node_tcpdump.ts).
 */
export function describeError(err: unknown, debug = false): string {
  if (err instanceof BpfError) return err.message;
  const sysErr = err as NodeJS.ErrnoException;
  if (sysErr instanceof Error && typeof sysErr.code === 'string' && typeof sysErr.syscall === 'string') {
    // Node's file-system errors: "ENOENT: no such file or directory, open 'x'"
    return sysErr.message;
  }
  const e = err as Error;
  return `internal error: ${e?.message ?? String(err)}${debug && e?.stack ? '\n' + e.stack : ''}`;
}

/** bpftool's error report: `Error: msg` on stderr, or `{"error":"msg"}` on stdout with -j. */
export function printError(ctx: CliContext, message: string): void {
  if (ctx.json) printJson(ctx, { error: message });
  else ctx.stderr(`Error: ${message}\n`);
}

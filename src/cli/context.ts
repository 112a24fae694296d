/*
 * What every subcommand receives: the global options of bpftool (-j, -p, -d) and the output
 * streams, kept behind an interface so tests can run commands in-process and read what they print.
 */
export interface CliContext {
  /** -j / --json: machine-readable output. */
  json: boolean;
  /** -p / --pretty: indented JSON (implies -j). */
  pretty: boolean;
  /** -d / --debug: extra diagnostics on stderr. */
  debug: boolean;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Bytes from standard input (read lazily; only some commands need it). */
  readStdin: () => Promise<Uint8Array>;
}

/** A subcommand: receives the words after its own name; resolves to the exit status. */
export type CommandHandler = (args: string[], ctx: CliContext) => Promise<number>;

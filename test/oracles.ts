/*
 * The real tools our differential tests compare against. A test that needs one calls the
 * matching function and skips with `t.skip(reason)` when it is missing, so a machine without the
 * oracles still runs everything else (CI installs them).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';

const cache = new Map<string, string | undefined>();

/** Absolute path of an executable on PATH (or /usr/sbin), or undefined. */
export function findTool(name: string): string | undefined {
  if (cache.has(name)) return cache.get(name);
  let found: string | undefined;
  for (const dir of [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/sbin']) {
    if (!dir) continue;
    try {
      accessSync(`${dir}/${name}`, constants.X_OK);
      found = `${dir}/${name}`;
      break;
    } catch { /* keep looking */ }
  }
  cache.set(name, found);
  return found;
}

export const LLVM_MC = 'llvm-mc-19';
export const LLVM_OBJDUMP = 'llvm-objdump-19';
export const CLANG = 'clang-19';

/** Why a tool-based test must skip, or undefined when the tool is present. */
export function missingTool(name: string): string | undefined {
  return findTool(name) ? undefined : `${name} not installed (CI installs it; apt-get install ${name.startsWith('llvm') ? 'llvm-19' : name})`;
}

let kernelReason: string | undefined | null = null;

/**
 * Why the kernel cannot serve as an oracle here, or undefined when it can: we need root, bpftool
 * and a mounted bpffs at /sys/fs/bpf (.ci/run mounts it).
 */
export function missingKernel(): string | undefined {
  if (kernelReason !== null) return kernelReason;
  kernelReason = undefined;
  if (process.getuid?.() !== 0) kernelReason = 'not root: the kernel cannot load BPF programs for us';
  else if (!findTool('bpftool')) kernelReason = 'bpftool not installed (apt-get install bpftool)';
  else {
    try {
      if (!statSync('/sys/fs/bpf').isDirectory()) throw new Error();
      const r = spawnSync('mountpoint', ['-q', '/sys/fs/bpf']);
      if (r.status !== 0) kernelReason = 'bpffs not mounted at /sys/fs/bpf (mount -t bpf bpf /sys/fs/bpf)';
    } catch {
      kernelReason = 'no /sys/fs/bpf';
    }
  }
  return kernelReason;
}

/** Run a tool and return its stdout; throws with its stderr on failure. */
export function runTool(name: string, args: string[], input?: Uint8Array | string): string {
  const path = findTool(name);
  if (!path) throw new Error(`${name} not installed`);
  return execFileSync(path, args, { input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
}

/** Absolute path of ../shared/<rel> (the shared data beside the repository: conformance, corpora). */
export function sharedPath(rel: string): string {
  return new URL(`../../../shared/${rel}`, import.meta.url).pathname;
}

/** Why a test over ../shared/<rel> must skip, or undefined when the data is there. */
export function missingShared(rel: string): string | undefined {
  try {
    statSync(sharedPath(rel));
    return undefined;
  } catch {
    return `${sharedPath(rel)} not present (the shared test data beside the repository)`;
  }
}

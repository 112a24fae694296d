/*
 * The running kernel's BPF_PROG_LOAD for tests: a tiny C program (compiled once per process with
 * cc) reads programs from stdin and answers each with its verdict, errno and verifier log, so many
 * raw instruction streams are loaded with one process. No maps: programs must not reference fds.
 *
 * Framing, little-endian u32s. In: prog_type, log_level, insn_cnt, expected_attach_type, then
 * insn_cnt * 8 bytes; repeated.
 * Out per program: errno (0 = loaded; the fd is closed at once), log length, log bytes.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Insn, encodeProgram } from '../src/isa/insn.js';
import { findTool, missingKernel } from './oracles.js';

const LOADER_C = `#include <errno.h>
#include <linux/bpf.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
static char log_buf[1 << 24];
static unsigned char insns[8 * 1000000];
static int get(void *p, size_t n) { return fread(p, 1, n, stdin) == n; }
static void put(const void *p, size_t n) { fwrite(p, 1, n, stdout); }
int main(void) {
  uint32_t head[4];
  while (get(head, sizeof(head))) {
    if (head[2] > 1000000 || !get(insns, (size_t)head[2] * 8)) return 2;
    union bpf_attr a;
    memset(&a, 0, sizeof(a));
    a.prog_type = head[0];
    a.expected_attach_type = head[3];
    a.insns = (uint64_t)(uintptr_t)insns;
    a.insn_cnt = head[2];
    a.license = (uint64_t)(uintptr_t)"GPL";
    a.log_level = head[1];
    a.log_buf = (uint64_t)(uintptr_t)(head[1] ? log_buf : 0);
    a.log_size = head[1] ? sizeof(log_buf) : 0;
    log_buf[0] = 0;
    int fd = syscall(__NR_bpf, BPF_PROG_LOAD, &a, sizeof(a));
    uint32_t out[2] = { fd < 0 ? (uint32_t)errno : 0, head[1] ? (uint32_t)strlen(log_buf) : 0 };
    if (fd >= 0) close(fd);
    put(out, sizeof(out));
    put(log_buf, out[1]);
  }
  return 0;
}
`;

let compiled: { exe?: string; why?: string } | undefined;

/** The compiled loader, or why there is none (not root, no BPF, no cc). */
export function kernelLoader(): { exe?: string; why?: string } {
  if (compiled) return compiled;
  const why = missingKernel() ?? (findTool('cc') ? undefined : 'cc not installed');
  if (why) return (compiled = { why });
  const dir = mkdtempSync(join(tmpdir(), 'bpfkit-kload-'));
  writeFileSync(join(dir, 'load.c'), LOADER_C);
  const cc = spawnSync('cc', ['-O1', '-o', join(dir, 'load'), join(dir, 'load.c'), '-I/usr/include/x86_64-linux-gnu']);
  return (compiled = cc.status === 0 ? { exe: join(dir, 'load') } : { why: `the C loader did not compile: ${cc.stderr}` });
}

export interface KernelLoad { ok: boolean; errno: number; log: string }

/** Load each program in the kernel (log_level `level`, 0 for none), in order. */
export function kernelLoadAll(exe: string, programs: readonly { insns: readonly Insn[]; progType: number; expectedAttachType?: number }[], level: number): KernelLoad[] {
  const parts: Uint8Array[] = [];
  for (const p of programs) {
    const head = new Uint32Array([p.progType, level, p.insns.length, p.expectedAttachType ?? 0]);
    parts.push(new Uint8Array(head.buffer), encodeProgram([...p.insns]));
  }
  const r = spawnSync(exe, [], { input: Buffer.concat(parts), maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`kernel loader exited with ${r.status}: ${r.stderr}`);
  const out = r.stdout;
  const results: KernelLoad[] = [];
  for (let at = 0; results.length < programs.length;) {
    if (at + 8 > out.length) throw new Error(`kernel loader answered ${results.length} of ${programs.length} programs`);
    const errno = out.readUInt32LE(at), len = out.readUInt32LE(at + 4);
    results.push({ ok: errno === 0, errno, log: out.subarray(at + 8, at + 8 + len).toString() });
    at += 8 + len;
  }
  return results;
}

/** Load one program in the kernel. */
export function kernelLoad(exe: string, insns: readonly Insn[], progType: number, level: number): KernelLoad {
  return kernelLoadAll(exe, [{ insns, progType }], level)[0];
}

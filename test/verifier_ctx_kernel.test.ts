/*
 * Context access rules (each type's is_valid_access()) against the running kernel: for 30 program
 * types and expected attach types (the __sk_buff family, flow dissector, tracing contexts, xdp and
 * its devmap variant, sk_msg, sock_ops, sk_reuseport, cgroup sock, sock_addr and sockopt per
 * attach type, sysctl, device, sk_lookup), one load or store of every size at every offset of the
 * context and a little past it, each a program of its own, loaded with BPF_PROG_LOAD and verified
 * by bpfkit with the verifier's rules and with the program type layer's; verdicts and the
 * rejection's last log line must agree. Skips without root/cc.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Insn } from '../src/isa/insn.js';
import { kernelLoader } from './kernel_bpf_loader.js';
import { type AccessCase, againstKernel, I, memAccess } from './verifier_kernel_diff.js';

/** prog type, expected attach type, bytes of context to walk (the struct and a little past it) */
const CONFIGS: { name: string; progType: number; attach: number; bytes: number }[] = [
  { name: 'socket_filter', progType: 1, attach: 0, bytes: 200 },
  { name: 'kprobe', progType: 2, attach: 0, bytes: 176 },
  { name: 'sched_cls', progType: 3, attach: 0, bytes: 200 },
  { name: 'tracepoint', progType: 5, attach: 0, bytes: 64 },
  { name: 'xdp', progType: 6, attach: 0, bytes: 32 },
  { name: 'xdp devmap', progType: 6, attach: 33, bytes: 32 },
  { name: 'perf_event', progType: 7, attach: 0, bytes: 192 },
  { name: 'cgroup_skb', progType: 8, attach: 0, bytes: 200 },
  { name: 'cgroup_sock (no attach type: create)', progType: 9, attach: 0, bytes: 88 },
  { name: 'cgroup_sock release', progType: 9, attach: 34, bytes: 88 },
  { name: 'cgroup_sock post_bind4', progType: 9, attach: 12, bytes: 88 },
  { name: 'cgroup_sock post_bind6', progType: 9, attach: 13, bytes: 88 },
  { name: 'lwt_in', progType: 10, attach: 0, bytes: 200 },
  { name: 'lwt_xmit', progType: 12, attach: 0, bytes: 200 },
  { name: 'sock_ops', progType: 13, attach: 0, bytes: 232 },
  { name: 'sk_skb', progType: 14, attach: 0, bytes: 200 },
  { name: 'cgroup_device', progType: 15, attach: 6, bytes: 16 },
  { name: 'sk_msg', progType: 16, attach: 0, bytes: 88 },
  { name: 'raw_tracepoint', progType: 17, attach: 0, bytes: 104 },
  { name: 'sock_addr inet4_bind', progType: 18, attach: 8, bytes: 80 },
  { name: 'sock_addr inet6_connect', progType: 18, attach: 11, bytes: 80 },
  { name: 'sock_addr udp4_sendmsg', progType: 18, attach: 14, bytes: 80 },
  { name: 'sock_addr udp6_sendmsg', progType: 18, attach: 15, bytes: 80 },
  { name: 'cgroup_sysctl', progType: 23, attach: 18, bytes: 16 },
  { name: 'sk_reuseport', progType: 21, attach: 0, bytes: 64 },
  { name: 'flow_dissector', progType: 22, attach: 0, bytes: 200 },
  { name: 'raw_tracepoint_writable', progType: 24, attach: 0, bytes: 104 },
  { name: 'getsockopt', progType: 25, attach: 21, bytes: 48 },
  { name: 'setsockopt', progType: 25, attach: 22, bytes: 48 },
  { name: 'sk_lookup', progType: 30, attach: 36, bytes: 80 },
];

/** `r2 = *(size *)(r1 + off)` or `*(size *)(r1 + off) = r2`, then return 1 (valid for every type here). */
function access(off: number, size: number, write: boolean): Insn[] {
  return [I(0xb7, 2, 0, 0, 0), memAccess(1, off, size, write), I(0xb7, 0, 0, 0, 1), I(0x95, 0, 0, 0, 0)];
}

test('context loads and stores: bpfkit and the kernel agree on every offset and size', (t) => {
  const { exe, why } = kernelLoader();
  if (!exe) return t.skip(why!);
  const cases: AccessCase[] = [];
  for (const c of CONFIGS) {
    for (let off = 0; off < c.bytes; off++) {
      for (const size of [1, 2, 4, 8]) {
        for (const write of [false, true]) {
          cases.push({ what: `${c.name}: ${write ? 'store' : 'load'} off=${off} size=${size}`, insns: access(off, size, write), progType: c.progType, expectedAttachType: c.attach });
        }
      }
    }
  }
  const { accepted, differ } = againstKernel(exe, cases, false);
  // the walk must reach both verdicts, or it tests nothing
  assert.ok(accepted > 500 && accepted < cases.length - 500, `kernel accepted ${accepted} of ${cases.length}`);
  assert.ok(differ.length === 0, `${differ.length} differ:\n${differ.slice(0, 40).join('\n')}`);
});

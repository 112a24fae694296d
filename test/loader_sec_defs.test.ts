/*
 * The SEC() table (loader/sec_defs.ts) against libbpf: an independent transcription of libbpf's
 * section_defs[] (src/libbpf.c, v1.5: name, BPF_PROG_TYPE_*, expected BPF_* attach type, SEC_*
 * flags) that every row of ours must equal, in order; then, with root and bpftool, the installed
 * libbpf itself: the names it lists must all be ours, in its order, and an object with a program
 * in each such section (a concrete name: "x+" as "x", "x/" as "x/y") loads as the program type
 * our table gives, which `bpftool prog show` reports.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeInsn } from '../src/isa/insn.js';
import { progTypeName } from '../src/kernel/names.js';
import { writeElf } from '../src/loader/elf_writer.js';
import {
  ATTACH_TYPE_NAMES, SECTION_DEFS, SEC_ATTACHABLE, SEC_ATTACH_BTF, SEC_EXP_ATTACH_OPT, SEC_SLEEPABLE, SEC_USDT,
  SEC_XDP_FRAGS, secDefForSection,
} from '../src/loader/sec_defs.js';
import { findTool, missingKernel } from './oracles.js';

// libbpf v1.5 section_defs[], row for row: SEC_DEF(name, TYPE, attach, flags).
const LIBBPF = `
socket SOCKET_FILTER 0 NONE
sk_reuseport/migrate SK_REUSEPORT SK_REUSEPORT_SELECT_OR_MIGRATE ATTACHABLE
sk_reuseport SK_REUSEPORT SK_REUSEPORT_SELECT ATTACHABLE
kprobe+ KPROBE 0 NONE
uprobe+ KPROBE 0 NONE
uprobe.s+ KPROBE 0 SLEEPABLE
kretprobe+ KPROBE 0 NONE
uretprobe+ KPROBE 0 NONE
uretprobe.s+ KPROBE 0 SLEEPABLE
kprobe.multi+ KPROBE TRACE_KPROBE_MULTI NONE
kretprobe.multi+ KPROBE TRACE_KPROBE_MULTI NONE
kprobe.session+ KPROBE TRACE_KPROBE_SESSION NONE
uprobe.multi+ KPROBE TRACE_UPROBE_MULTI NONE
uretprobe.multi+ KPROBE TRACE_UPROBE_MULTI NONE
uprobe.multi.s+ KPROBE TRACE_UPROBE_MULTI SLEEPABLE
uretprobe.multi.s+ KPROBE TRACE_UPROBE_MULTI SLEEPABLE
ksyscall+ KPROBE 0 NONE
kretsyscall+ KPROBE 0 NONE
usdt+ KPROBE 0 USDT
usdt.s+ KPROBE 0 USDT|SLEEPABLE
tc/ingress SCHED_CLS TCX_INGRESS NONE
tc/egress SCHED_CLS TCX_EGRESS NONE
tcx/ingress SCHED_CLS TCX_INGRESS NONE
tcx/egress SCHED_CLS TCX_EGRESS NONE
tc SCHED_CLS 0 NONE
classifier SCHED_CLS 0 NONE
action SCHED_ACT 0 NONE
netkit/primary SCHED_CLS NETKIT_PRIMARY NONE
netkit/peer SCHED_CLS NETKIT_PEER NONE
tracepoint+ TRACEPOINT 0 NONE
tp+ TRACEPOINT 0 NONE
raw_tracepoint+ RAW_TRACEPOINT 0 NONE
raw_tp+ RAW_TRACEPOINT 0 NONE
raw_tracepoint.w+ RAW_TRACEPOINT_WRITABLE 0 NONE
raw_tp.w+ RAW_TRACEPOINT_WRITABLE 0 NONE
tp_btf+ TRACING TRACE_RAW_TP ATTACH_BTF
fentry+ TRACING TRACE_FENTRY ATTACH_BTF
fmod_ret+ TRACING MODIFY_RETURN ATTACH_BTF
fexit+ TRACING TRACE_FEXIT ATTACH_BTF
fentry.s+ TRACING TRACE_FENTRY ATTACH_BTF|SLEEPABLE
fmod_ret.s+ TRACING MODIFY_RETURN ATTACH_BTF|SLEEPABLE
fexit.s+ TRACING TRACE_FEXIT ATTACH_BTF|SLEEPABLE
freplace+ EXT 0 ATTACH_BTF
lsm+ LSM LSM_MAC ATTACH_BTF
lsm.s+ LSM LSM_MAC ATTACH_BTF|SLEEPABLE
lsm_cgroup+ LSM LSM_CGROUP ATTACH_BTF
iter+ TRACING TRACE_ITER ATTACH_BTF
iter.s+ TRACING TRACE_ITER ATTACH_BTF|SLEEPABLE
syscall SYSCALL 0 SLEEPABLE
xdp.frags/devmap XDP XDP_DEVMAP XDP_FRAGS
xdp/devmap XDP XDP_DEVMAP ATTACHABLE
xdp.frags/cpumap XDP XDP_CPUMAP XDP_FRAGS
xdp/cpumap XDP XDP_CPUMAP ATTACHABLE
xdp.frags XDP XDP XDP_FRAGS
xdp XDP XDP ATTACHABLE_OPT
perf_event PERF_EVENT 0 NONE
lwt_in LWT_IN 0 NONE
lwt_out LWT_OUT 0 NONE
lwt_xmit LWT_XMIT 0 NONE
lwt_seg6local LWT_SEG6LOCAL 0 NONE
sockops SOCK_OPS CGROUP_SOCK_OPS ATTACHABLE_OPT
sk_skb/stream_parser SK_SKB SK_SKB_STREAM_PARSER ATTACHABLE_OPT
sk_skb/stream_verdict SK_SKB SK_SKB_STREAM_VERDICT ATTACHABLE_OPT
sk_skb SK_SKB 0 NONE
sk_msg SK_MSG SK_MSG_VERDICT ATTACHABLE_OPT
lirc_mode2 LIRC_MODE2 LIRC_MODE2 ATTACHABLE_OPT
flow_dissector FLOW_DISSECTOR FLOW_DISSECTOR ATTACHABLE_OPT
cgroup_skb/ingress CGROUP_SKB CGROUP_INET_INGRESS ATTACHABLE_OPT
cgroup_skb/egress CGROUP_SKB CGROUP_INET_EGRESS ATTACHABLE_OPT
cgroup/skb CGROUP_SKB 0 NONE
cgroup/sock_create CGROUP_SOCK CGROUP_INET_SOCK_CREATE ATTACHABLE
cgroup/sock_release CGROUP_SOCK CGROUP_INET_SOCK_RELEASE ATTACHABLE
cgroup/sock CGROUP_SOCK CGROUP_INET_SOCK_CREATE ATTACHABLE_OPT
cgroup/post_bind4 CGROUP_SOCK CGROUP_INET4_POST_BIND ATTACHABLE
cgroup/post_bind6 CGROUP_SOCK CGROUP_INET6_POST_BIND ATTACHABLE
cgroup/bind4 CGROUP_SOCK_ADDR CGROUP_INET4_BIND ATTACHABLE
cgroup/bind6 CGROUP_SOCK_ADDR CGROUP_INET6_BIND ATTACHABLE
cgroup/connect4 CGROUP_SOCK_ADDR CGROUP_INET4_CONNECT ATTACHABLE
cgroup/connect6 CGROUP_SOCK_ADDR CGROUP_INET6_CONNECT ATTACHABLE
cgroup/connect_unix CGROUP_SOCK_ADDR CGROUP_UNIX_CONNECT ATTACHABLE
cgroup/sendmsg4 CGROUP_SOCK_ADDR CGROUP_UDP4_SENDMSG ATTACHABLE
cgroup/sendmsg6 CGROUP_SOCK_ADDR CGROUP_UDP6_SENDMSG ATTACHABLE
cgroup/sendmsg_unix CGROUP_SOCK_ADDR CGROUP_UNIX_SENDMSG ATTACHABLE
cgroup/recvmsg4 CGROUP_SOCK_ADDR CGROUP_UDP4_RECVMSG ATTACHABLE
cgroup/recvmsg6 CGROUP_SOCK_ADDR CGROUP_UDP6_RECVMSG ATTACHABLE
cgroup/recvmsg_unix CGROUP_SOCK_ADDR CGROUP_UNIX_RECVMSG ATTACHABLE
cgroup/getpeername4 CGROUP_SOCK_ADDR CGROUP_INET4_GETPEERNAME ATTACHABLE
cgroup/getpeername6 CGROUP_SOCK_ADDR CGROUP_INET6_GETPEERNAME ATTACHABLE
cgroup/getpeername_unix CGROUP_SOCK_ADDR CGROUP_UNIX_GETPEERNAME ATTACHABLE
cgroup/getsockname4 CGROUP_SOCK_ADDR CGROUP_INET4_GETSOCKNAME ATTACHABLE
cgroup/getsockname6 CGROUP_SOCK_ADDR CGROUP_INET6_GETSOCKNAME ATTACHABLE
cgroup/getsockname_unix CGROUP_SOCK_ADDR CGROUP_UNIX_GETSOCKNAME ATTACHABLE
cgroup/sysctl CGROUP_SYSCTL CGROUP_SYSCTL ATTACHABLE
cgroup/getsockopt CGROUP_SOCKOPT CGROUP_GETSOCKOPT ATTACHABLE
cgroup/setsockopt CGROUP_SOCKOPT CGROUP_SETSOCKOPT ATTACHABLE
cgroup/dev CGROUP_DEVICE CGROUP_DEVICE ATTACHABLE_OPT
struct_ops+ STRUCT_OPS 0 NONE
struct_ops.s+ STRUCT_OPS 0 SLEEPABLE
sk_lookup SK_LOOKUP SK_LOOKUP ATTACHABLE
netfilter NETFILTER NETFILTER NONE
`.trim().split('\n').map((l) => l.split(' '));

const FLAGS: Record<string, number> = {
  NONE: 0, ATTACHABLE: SEC_ATTACHABLE, ATTACHABLE_OPT: SEC_ATTACHABLE | SEC_EXP_ATTACH_OPT, ATTACH_BTF: SEC_ATTACH_BTF,
  SLEEPABLE: SEC_SLEEPABLE, XDP_FRAGS: SEC_XDP_FRAGS, USDT: SEC_USDT,
};

/** A section name the definition matches exactly as libbpf's sec_def_matches() would. */
const concrete = (sec: string): string => (sec.endsWith('+') ? sec.slice(0, -1) : sec.endsWith('/') ? `${sec}x` : sec);

test('every row of the SEC() table is libbpf v1.5\'s, in libbpf\'s order', () => {
  assert.deepEqual(SECTION_DEFS.map((d) => d.sec), LIBBPF.map((r) => r[0]));
  for (const [name, type, attach, flags] of LIBBPF) {
    const def = SECTION_DEFS.find((d) => d.sec === name)!;
    assert.equal(progTypeName(def.progType)?.toUpperCase(), type, `${name}: program type`);
    assert.equal(def.expectedAttachType, attach === '0' ? 0 : ATTACH_TYPE_NAMES.indexOf(attach.toLowerCase()), `${name}: attach type`);
    assert.equal(def.flags, flags.split('|').reduce((a, f) => a | FLAGS[f], 0), `${name}: flags`);
    // The first matching row wins: a concrete name of each row resolves to that row.
    const hit = secDefForSection(concrete(name));
    assert.equal(hit?.def.sec, name, `${concrete(name)} resolves to its own row`);
    assert.equal(hit?.legacy, false);
  }
  // "x+" takes "x/anything" but not "xy"; "x/" needs the slash; a '?'-less exact name is exact.
  assert.equal(secDefForSection('kprobe/do_sys_open')?.def.sec, 'kprobe+');
  assert.equal(secDefForSection('tp/syscalls/sys_enter_write')?.def.sec, 'tp+');
  assert.equal(secDefForSection('xdp.frags/devmap')?.def.sec, 'xdp.frags/devmap');
  assert.equal(secDefForSection('sk_skb/verdict')?.legacy, true, 'libbpf has no sk_skb/verdict: only the old prefix rule takes it');
  assert.equal(secDefForSection('xdp/simple')?.legacy, true);
  assert.equal(secDefForSection('nothing_known'), undefined);
});

/** One program `r0 = 0; exit` in section `sec` (plus a GPL license). */
function objectWithSection(sec: string): Uint8Array {
  return writeElf({ sections: [
    { name: sec, executable: true, writable: false, insns: [makeInsn(0xb7, 0, 0, 0, 0), makeInsn(0x95)], data: new Uint8Array(0),
      symbols: [{ name: 'prog', offset: 0, global: true, type: 'func', size: 16 }], relocations: [] },
    { name: 'license', executable: false, writable: true, insns: [], data: new TextEncoder().encode('GPL\0'), symbols: [], relocations: [] },
  ] });
}

test('the installed libbpf (through bpftool) knows no name we lack, and types programs as our table does', (t) => {
  const why = missingKernel();
  if (why) { t.skip(why); return; }
  const dir = mkdtempSync(join(tmpdir(), 'bpfkit-secdefs-'));
  const pin = `/sys/fs/bpf/bpfkit_secdefs_${process.pid}`;
  try {
    // libbpf's own list, from its "supported section(type) names are:" message.
    writeFileSync(join(dir, 'unknown.o'), objectWithSection('no_such_section_name'));
    const r = spawnSync(findTool('bpftool')!, ['prog', 'load', join(dir, 'unknown.o'), pin], { encoding: 'utf8' });
    const listed = /supported section\(type\) names are:\s*(.*)/.exec(r.stderr)?.[1].trim().split(/\s+/) ?? [];
    assert.ok(listed.length > 50, `libbpf's list: ${r.stderr}`);
    const ours = SECTION_DEFS.map((d) => d.sec);
    let at = -1;
    for (const name of listed) {
      const i = ours.indexOf(name);
      assert.ok(i > at, `libbpf's '${name}' is in our table, after the names libbpf lists before it`);
      at = i;
    }
    let loaded = 0;
    for (const name of listed) {
      const sec = concrete(name);
      const file = join(dir, `${loaded}.o`);
      writeFileSync(file, objectWithSection(sec));
      rmSync(pin, { force: true });
      const load = spawnSync(findTool('bpftool')!, ['prog', 'load', file, pin], { encoding: 'utf8' });
      if (load.status !== 0) continue; // needs an attach target (BTF-typed, struct_ops...) or a feature this kernel lacks
      const show = JSON.parse(spawnSync(findTool('bpftool')!, ['-j', 'prog', 'show', 'pinned', pin], { encoding: 'utf8' }).stdout) as { type: string };
      assert.equal(progTypeName(secDefForSection(sec)!.progType), show.type, `SEC("${sec}")`);
      loaded++;
    }
    assert.ok(loaded >= 40, `programs the kernel loaded: ${loaded} of ${listed.length}`);
  } finally {
    rmSync(pin, { force: true });
    rmSync(dir, { recursive: true, force: true });
  }
});

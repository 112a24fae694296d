/*
 * Reference figures for bench/maps.ts: the Linux kernel's own cost of bpf(2) map operations and
 * of a program doing map lookups, measured on this machine in the same benchmark run.
 *
 *   map_syscalls PROG.bin   prints one JSON object of ns per operation
 *
 * PROG.bin is the XDP program bench/maps.ts runs on bpfkit (raw eBPF slots); its ld_imm64 with
 * src_reg 1 is pointed at this process's array map fd before loading, and it runs through
 * BPF_PROG_TEST_RUN with repeat, whose duration the kernel measures itself.
 */
#include <linux/bpf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static long sys_bpf(int cmd, union bpf_attr *attr) {
  return syscall(__NR_bpf, cmd, attr, sizeof(*attr));
}

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int map_create(int type, int entries) {
  union bpf_attr a;
  memset(&a, 0, sizeof(a));
  a.map_type = type;
  a.key_size = 4;
  a.value_size = 8;
  a.max_entries = entries;
  int fd = sys_bpf(BPF_MAP_CREATE, &a);
  if (fd < 0) { perror("BPF_MAP_CREATE"); exit(1); }
  return fd;
}

static double time_ops(int fd, int cmd, int ops, int entries) {
  union bpf_attr a;
  uint32_t key;
  uint64_t value = 1;
  double t0 = now_ns();
  for (int i = 0; i < ops; i++) {
    key = i % entries;
    memset(&a, 0, sizeof(a));
    a.map_fd = fd;
    a.key = (uintptr_t)&key;
    a.value = (uintptr_t)&value;
    if (sys_bpf(cmd, &a) < 0) { perror("map op"); exit(1); }
  }
  return (now_ns() - t0) / ops;
}

int main(int argc, char **argv) {
  if (argc != 2) { fprintf(stderr, "usage: %s PROG.bin\n", argv[0]); return 2; }
  const int entries = 1024, ops = 200000;
  int hash = map_create(BPF_MAP_TYPE_HASH, entries);
  int array = map_create(BPF_MAP_TYPE_ARRAY, entries);
  double hu = time_ops(hash, BPF_MAP_UPDATE_ELEM, ops, entries);
  double hl = time_ops(hash, BPF_MAP_LOOKUP_ELEM, ops, entries);
  double au = time_ops(array, BPF_MAP_UPDATE_ELEM, ops, entries);
  double al = time_ops(array, BPF_MAP_LOOKUP_ELEM, ops, entries);

  static struct bpf_insn insns[4096];
  FILE *f = fopen(argv[1], "rb");
  if (!f) { perror(argv[1]); return 1; }
  size_t n = fread(insns, sizeof(insns[0]), 4096, f);
  fclose(f);
  for (size_t i = 0; i < n; i++)
    if (insns[i].code == (BPF_LD | BPF_IMM | BPF_DW) && insns[i].src_reg == BPF_PSEUDO_MAP_FD) insns[i].imm = array;
  union bpf_attr a;
  memset(&a, 0, sizeof(a));
  a.prog_type = BPF_PROG_TYPE_XDP;
  a.insns = (uintptr_t)insns;
  a.insn_cnt = n;
  a.license = (uintptr_t)"GPL";
  int prog = sys_bpf(BPF_PROG_LOAD, &a);
  if (prog < 0) { perror("BPF_PROG_LOAD"); return 1; }
  unsigned char pkt[64] = {0};
  memset(&a, 0, sizeof(a));
  a.test.prog_fd = prog;
  a.test.data_in = (uintptr_t)pkt;
  a.test.data_size_in = sizeof(pkt);
  a.test.repeat = 100000;
  if (sys_bpf(BPF_PROG_TEST_RUN, &a) < 0) { perror("BPF_PROG_TEST_RUN"); return 1; }
  printf("{\"hash_update\":%.1f,\"hash_lookup\":%.1f,\"array_update\":%.1f,\"array_lookup\":%.1f,"
         "\"prog_100_lookups\":%u,\"retval\":%u}\n", hu, hl, au, al, a.test.duration, a.test.retval);
  return 0;
}

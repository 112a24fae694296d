/* What the C benchmark programs need of the uapi and libbpf headers (they build without them). */
#ifndef BENCH_H
#define BENCH_H
typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef unsigned long long __u64;
#define SEC(name) __attribute__((section(name), used))
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name
enum { BPF_MAP_TYPE_HASH = 1, BPF_MAP_TYPE_ARRAY = 2, BPF_MAP_TYPE_LPM_TRIE = 11 };
#define BPF_F_NO_PREALLOC 1
enum { XDP_ABORTED, XDP_DROP, XDP_PASS };
struct xdp_md { __u32 data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress_ifindex; };
static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;
#define htons(x) __builtin_bswap16(x)
#endif

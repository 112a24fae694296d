// SPDX-License-Identifier: GPL-2.0
/*
 * A small XDP program: parse Ethernet, IPv4 and UDP, drop datagrams to the discard port (9),
 * pass everything else. No maps, no helpers; the port check is a separate (noinline) function
 * so the object also exercises a bpf-to-bpf call into .text.
 *
 * Self-contained (no kernel or libbpf headers) so it builds anywhere clang does:
 *   clang-19 -O2 -g -target bpf -c xdp_udp_drop.c -o xdp_udp_drop.o
 * Run it:
 *   node bin/bpfkit.js prog run file examples/xdp_udp_drop.o data_in examples/udp.bin
 */
typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;

#define SEC(name) __attribute__((section(name), used))
#define bpf_htons(x) ((__u16)__builtin_bswap16(x))

struct xdp_md {
	__u32 data;
	__u32 data_end;
	__u32 data_meta;
	__u32 ingress_ifindex;
	__u32 rx_queue_index;
	__u32 egress_ifindex;
};

enum xdp_action { XDP_ABORTED = 0, XDP_DROP, XDP_PASS, XDP_TX, XDP_REDIRECT };

struct ethhdr {
	__u8 h_dest[6];
	__u8 h_source[6];
	__u16 h_proto;
} __attribute__((packed));

struct iphdr {
	__u8 ihl : 4, version : 4;
	__u8 tos;
	__u16 tot_len;
	__u16 id;
	__u16 frag_off;
	__u8 ttl;
	__u8 protocol;
	__u16 check;
	__u32 saddr;
	__u32 daddr;
};

struct udphdr {
	__u16 source;
	__u16 dest;
	__u16 len;
	__u16 check;
};

#define ETH_P_IP 0x0800
#define IPPROTO_UDP 17
#define DISCARD_PORT 9

static __attribute__((noinline)) int verdict_for_port(__u16 port)
{
	return port == DISCARD_PORT ? XDP_DROP : XDP_PASS;
}

SEC("xdp")
int xdp_udp_drop(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip;
	struct udphdr *udp;

	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end)
		return XDP_PASS;
	if (ip->ihl < 5 || ip->protocol != IPPROTO_UDP)
		return XDP_PASS;
	udp = (void *)ip + ip->ihl * 4;
	if ((void *)(udp + 1) > data_end)
		return XDP_PASS;
	return verdict_for_port(bpf_htons(udp->dest));
}

char _license[] SEC("license") = "GPL";

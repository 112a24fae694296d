/* Ethernet/IPv4/UDP parse plus an array-map counter: packets counted per IP protocol (the
 * kernel and bpfkit both inline the array lookup); XDP_DROP for UDP to port 9, else XDP_PASS. */
#include "bench.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 256);
} proto_count SEC(".maps");

SEC("xdp")
int parse_count(struct xdp_md *ctx)
{
	__u8 *data = (void *)(long)ctx->data;
	__u8 *end = (void *)(long)ctx->data_end;
	if (data + 34 > end || data[12] != 8 || data[13] != 0)
		return XDP_PASS;
	__u32 proto = data[23];
	__u64 *n = bpf_map_lookup_elem(&proto_count, &proto);
	if (n)
		__sync_fetch_and_add(n, 1);
	if (proto != 17)
		return XDP_PASS;
	__u8 *udp = data + 14 + (data[14] & 15) * 4;
	if (udp + 8 > end)
		return XDP_PASS;
	return *(__u16 *)(udp + 2) == htons(9) ? XDP_DROP : XDP_PASS;
}

char _license[] SEC("license") = "GPL";

/* A realistic XDP firewall: Ethernet (one VLAN tag allowed) / IPv4 parse, sources matching an LPM
 * deny list dropped (hits counted per rule), telnet and fragments dropped, per-verdict counters in
 * an array; everything else passes. */
#include "bench.h"

struct lpm_key { __u32 prefixlen; __u32 addr; };

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct lpm_key);
	__type(value, __u64);
	__uint(max_entries, 4096);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} deny SEC(".maps");

enum { ST_PASS, ST_DENY, ST_PORT, ST_FRAG, ST_NOT_IP, ST_MAX };

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, ST_MAX);
} stats SEC(".maps");

static __attribute__((always_inline)) int count(__u32 what, int verdict)
{
	__u64 *n = bpf_map_lookup_elem(&stats, &what);
	if (n)
		__sync_fetch_and_add(n, 1);
	return verdict;
}

SEC("xdp")
int firewall(struct xdp_md *ctx)
{
	__u8 *data = (void *)(long)ctx->data;
	__u8 *end = (void *)(long)ctx->data_end;
	__u32 off = 14;
	if (data + 14 > end)
		return count(ST_NOT_IP, XDP_PASS);
	__u16 proto = *(__u16 *)(data + 12);
	if (proto == htons(0x8100)) {
		if (data + 18 > end)
			return count(ST_NOT_IP, XDP_PASS);
		proto = *(__u16 *)(data + 16);
		off = 18;
	}
	if (proto != htons(0x0800))
		return count(ST_NOT_IP, XDP_PASS);
	__u8 *ip = data + off;
	if (ip + 20 > end)
		return count(ST_NOT_IP, XDP_PASS);
	struct lpm_key key = { 32, *(__u32 *)(ip + 12) };
	__u64 *hits = bpf_map_lookup_elem(&deny, &key);
	if (hits) {
		__sync_fetch_and_add(hits, 1);
		return count(ST_DENY, XDP_DROP);
	}
	if (*(__u16 *)(ip + 6) & htons(0x3fff))
		return count(ST_FRAG, XDP_DROP);
	if (ip[9] == 6) {
		__u8 *tcp = ip + (ip[0] & 15) * 4;
		if (tcp + 4 > end)
			return count(ST_NOT_IP, XDP_PASS);
		if (*(__u16 *)(tcp + 2) == htons(23))
			return count(ST_PORT, XDP_DROP);
	}
	return count(ST_PASS, XDP_PASS);
}

char _license[] SEC("license") = "GPL";

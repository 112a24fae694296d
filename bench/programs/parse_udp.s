	.text
	.section	xdp,"ax",@progbits
	.globl	parse_udp
	.p2align	3
	.type	parse_udp,@function
parse_udp:
	# Ethernet / IPv4 / UDP parse of an XDP packet: XDP_DROP (1) for UDP port 9, else XDP_PASS (2)
	r2 = *(u32 *)(r1 + 0)
	r3 = *(u32 *)(r1 + 4)
	r0 = 2
	r4 = r2
	r4 += 34
	if r4 > r3 goto LBB0_out
	r4 = *(u16 *)(r2 + 12)
	if r4 != 8 goto LBB0_out
	r4 = *(u8 *)(r2 + 23)
	if r4 != 17 goto LBB0_out
	r4 = *(u8 *)(r2 + 14)
	r4 &= 15
	r4 <<= 2
	r2 += r4
	r2 += 14
	r4 = r2
	r4 += 8
	if r4 > r3 goto LBB0_out
	r4 = *(u16 *)(r2 + 2)
	r4 = be16 r4
	if r4 != 9 goto LBB0_out
	r0 = 1
LBB0_out:
	exit
.Lfunc_end0:
	.size	parse_udp, .Lfunc_end0-parse_udp

	.section	license,"aw",@progbits
	.asciz	"GPL"

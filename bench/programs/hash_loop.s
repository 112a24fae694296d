	.text
	.section	xdp,"ax",@progbits
	.globl	hash_loop
	.p2align	3
	.type	hash_loop,@function
hash_loop:
	# 1000 rounds of a 64-bit multiplicative hash (FNV-1a style with a xorshift)
	r0 = -3750763034362895579 ll
	r1 = 1000
	r2 = 1099511628211 ll
LBB0_loop:
	r3 = r1
	r3 &= 255
	r0 ^= r3
	r0 *= r2
	r4 = r0
	r4 >>= 29
	r0 ^= r4
	r1 += -1
	if r1 != 0 goto LBB0_loop
	r0 &= 3
	exit
.Lfunc_end0:
	.size	hash_loop, .Lfunc_end0-hash_loop

	.section	license,"aw",@progbits
	.asciz	"GPL"

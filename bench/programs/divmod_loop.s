	.text
	.section	xdp,"ax",@progbits
	.globl	divmod_loop
	.p2align	3
	.type	divmod_loop,@function
divmod_loop:
	# 1000 rounds of 64- and 32-bit unsigned division and modulo
	r0 = 0
	r1 = 1000
	r2 = 81985529216486895 ll
LBB0_loop:
	r3 = r2
	r3 /= r1
	r4 = r2
	r4 %= r1
	r0 += r3
	r0 ^= r4
	w5 = w2
	w5 /= w1
	r0 += r5
	r1 += -1
	if r1 != 0 goto LBB0_loop
	r0 &= 3
	exit
.Lfunc_end0:
	.size	divmod_loop, .Lfunc_end0-divmod_loop

	.section	license,"aw",@progbits
	.asciz	"GPL"

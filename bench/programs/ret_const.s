	.text
	.section	xdp,"ax",@progbits
	.globl	ret_const
	.p2align	3
	.type	ret_const,@function
ret_const:
	r0 = 2
	exit
.Lfunc_end0:
	.size	ret_const, .Lfunc_end0-ret_const

	.section	license,"aw",@progbits
	.asciz	"GPL"

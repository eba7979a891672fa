//go:build amd64 && !noasm

#include "textflag.h"

// func adamAVX512(p, grad, m, v *float32, n int, k *adamConsts)
//
// Per element, unfused, as the Go loop does it, where k.decay is set:
//   p = p*shrink; g = g + wd*p (only where wd is not zero)
// and then
//   m = flush(b1*m + c1*g); v = flush(b2*v + c2*g*g)
//   p = p - stepSize * (m / (sqrt(v)*invSqrtBc2 + eps))
// where flush zeroes values below the smallest normal float32 in magnitude
// (and keeps NaN, as the Go loop does).
TEXT ·adamAVX512(SB), NOSPLIT, $0-48
	MOVQ p+0(FP), DI
	MOVQ grad+8(FP), SI
	MOVQ m+16(FP), R8
	MOVQ v+24(FP), R9
	MOVQ n+32(FP), CX
	MOVQ k+40(FP), AX
	VBROADCASTSS 0(AX), Z10  // b1
	VBROADCASTSS 4(AX), Z11  // c1
	VBROADCASTSS 8(AX), Z12  // b2
	VBROADCASTSS 12(AX), Z13 // c2
	VBROADCASTSS 16(AX), Z14 // stepSize
	VBROADCASTSS 20(AX), Z15 // invSqrtBc2
	VBROADCASTSS 24(AX), Z16 // eps
	VBROADCASTSS 28(AX), Z17 // tiny: smallest normal
	VBROADCASTSS 32(AX), Z19 // shrink
	VBROADCASTSS 36(AX), Z20 // wd
	MOVL $0x7fffffff, BX
	VPBROADCASTD BX, Z18     // abs mask
	MOVQ 40(AX), DX          // decay: nonzero to apply shrink and wd
	MOVL 36(AX), BX          // wd's bits: nonzero to add the L2 term
	ANDL $0x7fffffff, BX     // -0 too adds nothing

loop:
	CMPQ CX, $16
	JLT  done
	VMOVUPS (SI), Z0 // g
	VMOVUPS (R8), Z1 // m
	VMOVUPS (R9), Z2 // v
	VMOVUPS (DI), Z6 // p
	TESTQ   DX, DX
	JZ      update
	VMULPS  Z19, Z6, Z6 // p*shrink (AdamW; shrink is 1 for Adam)
	TESTQ   BX, BX
	JZ      update
	VMULPS  Z6, Z20, Z3 // wd*p (Adam's L2 term)
	VADDPS  Z3, Z0, Z0  // g + wd*p

update:

	VMULPS Z10, Z1, Z1 // b1*m
	VMULPS Z11, Z0, Z3 // c1*g
	VADDPS Z3, Z1, Z1  // m
	VPANDD Z18, Z1, Z3
	VCMPPS $0x15, Z17, Z3, K1 // not |m| < tiny: NaN stays
	VMOVAPS.Z Z1, K1, Z1

	VMULPS Z12, Z2, Z2 // b2*v
	VMULPS Z13, Z0, Z3 // c2*g
	VMULPS Z0, Z3, Z3  // c2*g*g
	VADDPS Z3, Z2, Z2  // v
	VPANDD Z18, Z2, Z3
	VCMPPS $0x15, Z17, Z3, K2 // not |v| < tiny
	VMOVAPS.Z Z2, K2, Z2

	VSQRTPS Z2, Z4
	VMULPS  Z15, Z4, Z4 // * invSqrtBc2
	VADDPS  Z16, Z4, Z4 // + eps
	VDIVPS  Z4, Z1, Z5  // m / den
	VMULPS  Z14, Z5, Z5 // * stepSize
	VSUBPS  Z5, Z6, Z6  // p - ...

	VMOVUPS Z6, (DI)
	VMOVUPS Z1, (R8)
	VMOVUPS Z2, (R9)
	ADDQ $64, DI
	ADDQ $64, SI
	ADDQ $64, R8
	ADDQ $64, R9
	SUBQ $16, CX
	JMP  loop

done:
	VZEROUPPER
	RET

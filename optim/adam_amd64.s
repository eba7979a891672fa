//go:build amd64 && !noasm

#include "textflag.h"

// func adamAVX512(p, grad, m, v *float32, n int, k *adamConsts)
//
// Per element, unfused, as the Go loop does it:
//   m = flush(b1*m + c1*g); v = flush(b2*v + c2*g*g)
//   p = p - stepSize * (m / (sqrt(v)*invSqrtBc2 + eps))
// where flush zeroes values below the smallest normal float32.
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
	MOVL $0x7fffffff, BX
	VPBROADCASTD BX, Z18     // abs mask

loop:
	CMPQ CX, $16
	JLT  done
	VMOVUPS (SI), Z0 // g
	VMOVUPS (R8), Z1 // m
	VMOVUPS (R9), Z2 // v

	VMULPS Z10, Z1, Z1 // b1*m
	VMULPS Z11, Z0, Z3 // c1*g
	VADDPS Z3, Z1, Z1  // m
	VPANDD Z18, Z1, Z3
	VCMPPS $0x1d, Z17, Z3, K1 // |m| >= tiny
	VMOVAPS.Z Z1, K1, Z1

	VMULPS Z12, Z2, Z2 // b2*v
	VMULPS Z13, Z0, Z3 // c2*g
	VMULPS Z0, Z3, Z3  // c2*g*g
	VADDPS Z3, Z2, Z2  // v
	VPANDD Z18, Z2, Z3
	VCMPPS $0x1d, Z17, Z3, K2 // |v| >= tiny
	VMOVAPS.Z Z2, K2, Z2

	VSQRTPS Z2, Z4
	VMULPS  Z15, Z4, Z4 // * invSqrtBc2
	VADDPS  Z16, Z4, Z4 // + eps
	VDIVPS  Z4, Z1, Z5  // m / den
	VMULPS  Z14, Z5, Z5 // * stepSize
	VMOVUPS (DI), Z6
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

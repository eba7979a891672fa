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

// func adamAVX2(p, grad, m, v *float32, n int, k *adamConsts)
//
// adamAVX512's update on 8 elements at a time, for CPUs without AVX-512:
// the same operations in the same order, the flush done with a compare
// mask and an AND.
TEXT ·adamAVX2(SB), NOSPLIT, $0-48
	MOVQ p+0(FP), DI
	MOVQ grad+8(FP), SI
	MOVQ m+16(FP), R8
	MOVQ v+24(FP), R9
	MOVQ n+32(FP), CX
	MOVQ k+40(FP), AX
	VBROADCASTSS 0(AX), Y10  // b1
	VBROADCASTSS 4(AX), Y11  // c1
	VBROADCASTSS 8(AX), Y12  // b2
	VBROADCASTSS 12(AX), Y13 // c2
	VBROADCASTSS 16(AX), Y14 // stepSize
	VBROADCASTSS 20(AX), Y15 // invSqrtBc2
	VBROADCASTSS 24(AX), Y8  // eps
	VBROADCASTSS 28(AX), Y7  // tiny: smallest normal
	MOVL $0x7fffffff, BX
	MOVD BX, X9
	VPBROADCASTD X9, Y9      // abs mask
	MOVQ 40(AX), DX          // decay: nonzero to apply shrink and wd
	MOVL 36(AX), BX          // wd's bits: nonzero to add the L2 term
	ANDL $0x7fffffff, BX     // -0 too adds nothing

loop2:
	CMPQ CX, $8
	JLT  done2
	VMOVUPS (SI), Y0 // g
	VMOVUPS (R8), Y1 // m
	VMOVUPS (R9), Y2 // v
	VMOVUPS (DI), Y6 // p
	TESTQ   DX, DX
	JZ      update2
	VBROADCASTSS 32(AX), Y3
	VMULPS  Y3, Y6, Y6 // p*shrink
	TESTQ   BX, BX
	JZ      update2
	VBROADCASTSS 36(AX), Y3
	VMULPS  Y6, Y3, Y3 // wd*p
	VADDPS  Y3, Y0, Y0 // g + wd*p

update2:

	VMULPS Y10, Y1, Y1 // b1*m
	VMULPS Y11, Y0, Y3 // c1*g
	VADDPS Y3, Y1, Y1  // m
	VANDPS Y9, Y1, Y3
	VCMPPS $0x15, Y7, Y3, Y3 // not |m| < tiny: NaN stays
	VANDPS Y3, Y1, Y1

	VMULPS Y12, Y2, Y2 // b2*v
	VMULPS Y13, Y0, Y3 // c2*g
	VMULPS Y0, Y3, Y3  // c2*g*g
	VADDPS Y3, Y2, Y2  // v
	VANDPS Y9, Y2, Y3
	VCMPPS $0x15, Y7, Y3, Y3 // not |v| < tiny
	VANDPS Y3, Y2, Y2

	VSQRTPS Y2, Y4
	VMULPS  Y15, Y4, Y4 // * invSqrtBc2
	VADDPS  Y8, Y4, Y4  // + eps
	VDIVPS  Y4, Y1, Y5  // m / den
	VMULPS  Y14, Y5, Y5 // * stepSize
	VSUBPS  Y5, Y6, Y6  // p - ...

	VMOVUPS Y6, (DI)
	VMOVUPS Y1, (R8)
	VMOVUPS Y2, (R9)
	ADDQ $32, DI
	ADDQ $32, SI
	ADDQ $32, R8
	ADDQ $32, R9
	SUBQ $8, CX
	JMP  loop2

done2:
	VZEROUPPER
	RET

//go:build amd64 && !noasm

#include "textflag.h"

// The SGD-with-momentum and RMSProp updates of sgd.go and rmsprop.go on 8
// elements at a time, with the same unfused operations in the same order
// as the Go loops, so that both give the same bits. flush (zero below the
// smallest normal float32 in magnitude, NaN kept) is a compare mask and an
// AND, as in adamAVX2.

// func sgdMomentumAVX2(p, grad, buf *float32, n int, k *sgdConsts)
//
//   g = g + wd*p (where wd is not zero); b = flush(mu*buf + g); buf = b
//   p = p - lr*(g + mu*b) with Nesterov, p - lr*b without
TEXT ·sgdMomentumAVX2(SB), NOSPLIT, $0-40
	MOVQ p+0(FP), DI
	MOVQ grad+8(FP), SI
	MOVQ buf+16(FP), R8
	MOVQ n+24(FP), CX
	MOVQ k+32(FP), AX
	VBROADCASTSS 0(AX), Y10 // lr
	VBROADCASTSS 4(AX), Y11 // mu
	VBROADCASTSS 8(AX), Y12 // wd
	MOVL 8(AX), BX
	ANDL $0x7fffffff, BX    // wd's magnitude: nonzero to add the L2 term
	MOVL 12(AX), DX         // nesterov
	MOVL $0x7fffffff, R9
	MOVD R9, X9
	VPBROADCASTD X9, Y9     // abs mask
	MOVL $0x00800000, R9
	MOVD R9, X8
	VPBROADCASTD X8, Y8     // smallest normal float32

sgdloop:
	CMPQ CX, $8
	JLT  sgddone
	VMOVUPS (SI), Y0 // g
	VMOVUPS (DI), Y6 // p
	TESTQ   BX, BX
	JZ      sgdmom
	VMULPS  Y6, Y12, Y3 // wd*p
	VADDPS  Y3, Y0, Y0  // g + wd*p

sgdmom:
	VMOVUPS (R8), Y1
	VMULPS  Y11, Y1, Y1 // mu*buf
	VADDPS  Y0, Y1, Y1  // + g
	VANDPS  Y9, Y1, Y3
	VCMPPS  $0x15, Y8, Y3, Y3 // not |b| < tiny: NaN stays
	VANDPS  Y3, Y1, Y1
	VMOVUPS Y1, (R8)
	TESTL   DX, DX
	JZ      sgdplain
	VMULPS  Y11, Y1, Y1 // mu*b
	VADDPS  Y1, Y0, Y1  // g + mu*b

sgdplain:
	VMULPS  Y10, Y1, Y1 // lr*d
	VSUBPS  Y1, Y6, Y6  // p - lr*d
	VMOVUPS Y6, (DI)
	ADDQ $32, DI
	ADDQ $32, SI
	ADDQ $32, R8
	SUBQ $8, CX
	JMP  sgdloop

sgddone:
	VZEROUPPER
	RET

// func rmspropAVX2(p, grad, sq *float32, n int, k *rmspropConsts)
//
//   g = g + wd*p (where wd is not zero); s = flush(rho*sq + (1-rho)*g*g)
//   sq = s; p = p - lr*(g / (sqrt(s) + eps))
TEXT ·rmspropAVX2(SB), NOSPLIT, $0-40
	MOVQ p+0(FP), DI
	MOVQ grad+8(FP), SI
	MOVQ sq+16(FP), R8
	MOVQ n+24(FP), CX
	MOVQ k+32(FP), AX
	VBROADCASTSS 0(AX), Y10  // lr
	VBROADCASTSS 4(AX), Y11  // rho
	VBROADCASTSS 8(AX), Y12  // 1-rho
	VBROADCASTSS 12(AX), Y13 // eps
	VBROADCASTSS 16(AX), Y14 // wd
	MOVL 16(AX), BX
	ANDL $0x7fffffff, BX     // wd's magnitude: nonzero to add the L2 term
	MOVL $0x7fffffff, R9
	MOVD R9, X9
	VPBROADCASTD X9, Y9      // abs mask
	MOVL $0x00800000, R9
	MOVD R9, X8
	VPBROADCASTD X8, Y8      // smallest normal float32

rmsloop:
	CMPQ CX, $8
	JLT  rmsdone
	VMOVUPS (SI), Y0 // g
	VMOVUPS (DI), Y6 // p
	TESTQ   BX, BX
	JZ      rmssq
	VMULPS  Y6, Y14, Y3 // wd*p
	VADDPS  Y3, Y0, Y0  // g + wd*p

rmssq:
	VMOVUPS (R8), Y1
	VMULPS  Y11, Y1, Y1 // rho*sq
	VMULPS  Y12, Y0, Y3 // (1-rho)*g
	VMULPS  Y0, Y3, Y3  // *g
	VADDPS  Y3, Y1, Y1  // s
	VANDPS  Y9, Y1, Y3
	VCMPPS  $0x15, Y8, Y3, Y3 // not |s| < tiny: NaN stays
	VANDPS  Y3, Y1, Y1
	VMOVUPS Y1, (R8)
	VSQRTPS Y1, Y4
	VADDPS  Y13, Y4, Y4 // sqrt(s) + eps
	VDIVPS  Y4, Y0, Y5  // g / den
	VMULPS  Y10, Y5, Y5 // lr * ...
	VSUBPS  Y5, Y6, Y6
	VMOVUPS Y6, (DI)
	ADDQ $32, DI
	ADDQ $32, SI
	ADDQ $32, R8
	SUBQ $8, CX
	JMP  rmsloop

rmsdone:
	VZEROUPPER
	RET

//go:build amd64 && !noasm

#include "textflag.h"

// The optimizers' AVX2 kernels: Adam, SGD with momentum and plain RMSProp
// on 8 elements at a time, with the same unfused operations in the same
// order as the Go loops, so that both give the same bits.

// FLUSH_CONSTS puts the magnitude mask in Y9 and the smallest normal
// float32 in Y8, for FLUSH; it uses R10.
#define FLUSH_CONSTS \
	MOVL $0x7fffffff, R10; \
	MOVD R10, X9; \
	VPBROADCASTD X9, Y9; \
	MOVL $0x00800000, R10; \
	MOVD R10, X8; \
	VPBROADCASTD X8, Y8

// FLUSH(x, t) zeroes the lanes of x below the smallest normal float32 in
// magnitude, as flushSubnormal does (NaN stays: "not less than" holds for
// it), with t as scratch.
#define FLUSH(x, t) \
	VANDPS Y9, x, t; \
	VCMPPS $0x15, Y8, t, t; \
	VANDPS t, x, x

// ADD_L2(wd, p, g, t) sets g = g + wd*p, with t as scratch (t may be wd).
#define ADD_L2(wd, p, g, t) \
	VMULPS p, wd, t; \
	VADDPS t, g, g

// WD_FLAG(off) sets BX to the magnitude bits of the float32 wd at off(AX):
// not zero where the L2 term is to be added (-0 adds nothing either).
#define WD_FLAG(off) \
	MOVL off(AX), BX; \
	ANDL $0x7fffffff, BX

// func adamAVX2(p, grad, m, v *float32, n int, k *adamConsts)
//
// adamAVX512's update (adam_amd64.s) on 8 elements at a time, for CPUs
// without AVX-512: the same operations in the same order.
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
	VBROADCASTSS 24(AX), Y7  // eps
	FLUSH_CONSTS
	MOVQ 40(AX), DX          // decay: nonzero to apply shrink and wd
	WD_FLAG(36)

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
	ADD_L2(Y3, Y6, Y0, Y3)

update2:

	VMULPS Y10, Y1, Y1 // b1*m
	VMULPS Y11, Y0, Y3 // c1*g
	VADDPS Y3, Y1, Y1  // m
	FLUSH(Y1, Y3)

	VMULPS Y12, Y2, Y2 // b2*v
	VMULPS Y13, Y0, Y3 // c2*g
	VMULPS Y0, Y3, Y3  // c2*g*g
	VADDPS Y3, Y2, Y2  // v
	FLUSH(Y2, Y3)

	VSQRTPS Y2, Y4
	VMULPS  Y15, Y4, Y4 // * invSqrtBc2
	VADDPS  Y7, Y4, Y4  // + eps
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
	WD_FLAG(8)
	MOVL 12(AX), DX         // nesterov
	FLUSH_CONSTS

sgdloop:
	CMPQ CX, $8
	JLT  sgddone
	VMOVUPS (SI), Y0 // g
	VMOVUPS (DI), Y6 // p
	TESTQ   BX, BX
	JZ      sgdmom
	ADD_L2(Y12, Y6, Y0, Y3)

sgdmom:
	VMOVUPS (R8), Y1
	VMULPS  Y11, Y1, Y1 // mu*buf
	VADDPS  Y0, Y1, Y1  // + g
	FLUSH(Y1, Y3)
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
	WD_FLAG(16)
	FLUSH_CONSTS

rmsloop:
	CMPQ CX, $8
	JLT  rmsdone
	VMOVUPS (SI), Y0 // g
	VMOVUPS (DI), Y6 // p
	TESTQ   BX, BX
	JZ      rmssq
	ADD_L2(Y14, Y6, Y0, Y3)

rmssq:
	VMOVUPS (R8), Y1
	VMULPS  Y11, Y1, Y1 // rho*sq
	VMULPS  Y12, Y0, Y3 // (1-rho)*g
	VMULPS  Y0, Y3, Y3  // *g
	VADDPS  Y3, Y1, Y1  // s
	FLUSH(Y1, Y3)
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

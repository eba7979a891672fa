//go:build amd64 && !noasm

#include "textflag.h"

// func transpose4(dst *float32, dstStride int, src *float32, srcStride int, k int)
//
// For p < k (k a multiple of 4) and r < 4: dst[p·dstStride + r] =
// src[r·srcStride + p]. Strides are in floats. Four rows are read 4 values
// at a time and transposed in registers with SSE shuffles, so it runs on
// every amd64 CPU.
TEXT ·transpose4(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ dstStride+8(FP), R8
	SHLQ $2, R8
	MOVQ src+16(FP), SI
	MOVQ srcStride+24(FP), R9
	SHLQ $2, R9
	MOVQ k+32(FP), CX
	LEAQ (SI)(R9*2), R10
	LEAQ (R8)(R8*2), R11
	SHRQ $2, CX
	JEQ done

loop:
	MOVUPS (SI), X0        // a0 a1 a2 a3
	MOVUPS (SI)(R9*1), X1  // b0 b1 b2 b3
	MOVUPS (R10), X2       // c0 c1 c2 c3
	MOVUPS (R10)(R9*1), X3 // d0 d1 d2 d3
	MOVAPS X0, X4
	UNPCKLPS X1, X4 // a0 b0 a1 b1
	UNPCKHPS X1, X0 // a2 b2 a3 b3
	MOVAPS X2, X5
	UNPCKLPS X3, X5 // c0 d0 c1 d1
	UNPCKHPS X3, X2 // c2 d2 c3 d3
	MOVAPS X4, X1
	MOVLHPS X5, X1  // a0 b0 c0 d0
	MOVHLPS X4, X5  // a1 b1 c1 d1
	MOVAPS X0, X3
	MOVLHPS X2, X3  // a2 b2 c2 d2
	MOVHLPS X0, X2  // a3 b3 c3 d3
	MOVUPS X1, (DI)
	MOVUPS X5, (DI)(R8*1)
	MOVUPS X3, (DI)(R8*2)
	MOVUPS X2, (DI)(R11*1)
	ADDQ $16, SI
	ADDQ $16, R10
	LEAQ (DI)(R8*4), DI
	DECQ CX
	JNE loop

done:
	RET

// func copy32(dst *float32, src *float32, srcStride int, k int)
//
// For p < k: dst[32p : 32p+32] = src[p·srcStride : p·srcStride+32]
// (srcStride in floats): one full 32-wide panel of B, with the source rows
// fetched a few rows ahead as each one usually sits on its own page.
TEXT ·copy32(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ srcStride+16(FP), R9
	SHLQ $2, R9
	MOVQ k+24(FP), CX
	LEAQ (R9)(R9*2), R10
	SHLQ $1, R10 // six rows ahead
	TESTQ CX, CX
	JEQ copydone

copyloop:
	PREFETCHT0 (SI)(R10*1)
	PREFETCHT0 64(SI)(R10*1)
	MOVUPS (SI), X0
	MOVUPS 16(SI), X1
	MOVUPS 32(SI), X2
	MOVUPS 48(SI), X3
	MOVUPS 64(SI), X4
	MOVUPS 80(SI), X5
	MOVUPS 96(SI), X6
	MOVUPS 112(SI), X7
	MOVUPS X0, (DI)
	MOVUPS X1, 16(DI)
	MOVUPS X2, 32(DI)
	MOVUPS X3, 48(DI)
	MOVUPS X4, 64(DI)
	MOVUPS X5, 80(DI)
	MOVUPS X6, 96(DI)
	MOVUPS X7, 112(DI)
	ADDQ R9, SI
	ADDQ $128, DI
	DECQ CX
	JNE copyloop

copydone:
	RET

// func copy12(dst *float32, src *float32, srcStride int, k int)
//
// For p < k: dst[12p : 12p+12] = src[p·srcStride : p·srcStride+12]: one
// full 12-row panel of A stored transposed, whose k steps are contiguous.
TEXT ·copy12(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ srcStride+16(FP), R9
	SHLQ $2, R9
	MOVQ k+24(FP), CX
	LEAQ (R9)(R9*2), R10
	SHLQ $1, R10 // six rows ahead
	TESTQ CX, CX
	JEQ copy12done

copy12loop:
	PREFETCHT0 (SI)(R10*1)
	MOVUPS (SI), X0
	MOVUPS 16(SI), X1
	MOVUPS 32(SI), X2
	MOVUPS X0, (DI)
	MOVUPS X1, 16(DI)
	MOVUPS X2, 32(DI)
	ADDQ R9, SI
	ADDQ $48, DI
	DECQ CX
	JNE copy12loop

copy12done:
	RET

// func transpose4x8(dst *float32, dstStride int, src *float32, srcStride int, k int)
//
// transpose4 for k a multiple of 8, with AVX: four rows are read 8 values
// at a time and transposed within each 128-bit lane, so one round of
// shuffles serves two groups of four k steps. Needs AVX.
TEXT ·transpose4x8(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ dstStride+8(FP), R8
	SHLQ $2, R8
	MOVQ src+16(FP), SI
	MOVQ srcStride+24(FP), R9
	SHLQ $2, R9
	MOVQ k+32(FP), CX
	LEAQ (SI)(R9*2), R10
	LEAQ (R8)(R8*2), R11
	LEAQ (DI)(R8*4), R12 // k steps 4…7 of each group of 8
	SHRQ $3, CX
	JEQ t8done

t8loop:
	VMOVUPS (SI), Y0        // a0 … a7
	VMOVUPS (SI)(R9*1), Y1  // b0 … b7
	VMOVUPS (R10), Y2       // c0 … c7
	VMOVUPS (R10)(R9*1), Y3 // d0 … d7
	VUNPCKLPS Y1, Y0, Y4    // a0 b0 a1 b1 | a4 b4 a5 b5
	VUNPCKHPS Y1, Y0, Y5    // a2 b2 a3 b3 | a6 b6 a7 b7
	VUNPCKLPS Y3, Y2, Y6    // c0 d0 c1 d1 | c4 d4 c5 d5
	VUNPCKHPS Y3, Y2, Y7    // c2 d2 c3 d3 | c6 d6 c7 d7
	VSHUFPS $0x44, Y6, Y4, Y0 // a0 b0 c0 d0 | a4 b4 c4 d4
	VSHUFPS $0xee, Y6, Y4, Y1 // a1 b1 c1 d1 | a5 b5 c5 d5
	VSHUFPS $0x44, Y7, Y5, Y2 // a2 b2 c2 d2 | a6 b6 c6 d6
	VSHUFPS $0xee, Y7, Y5, Y3 // a3 b3 c3 d3 | a7 b7 c7 d7
	VMOVUPS X0, (DI)
	VMOVUPS X1, (DI)(R8*1)
	VMOVUPS X2, (DI)(R8*2)
	VMOVUPS X3, (DI)(R11*1)
	VEXTRACTF128 $1, Y0, (R12)
	VEXTRACTF128 $1, Y1, (R12)(R8*1)
	VEXTRACTF128 $1, Y2, (R12)(R8*2)
	VEXTRACTF128 $1, Y3, (R12)(R11*1)
	ADDQ $32, SI
	ADDQ $32, R10
	LEAQ (DI)(R8*8), DI
	LEAQ (R12)(R8*8), R12
	DECQ CX
	JNE t8loop
	VZEROUPPER

t8done:
	RET

//go:build !amd64 || noasm

package gemm

// haveTranspose4 says transpose4 is the assembly one; here it is not, and
// packing scatters one row at a time instead.
const haveTranspose4 = false

func transpose4(dst *float32, dstStride int, src *float32, srcStride int, k int) {
	panic("gemm: transpose4 called without assembly")
}

func copy32(dst *float32, src *float32, srcStride int, k int) {
	panic("gemm: copy32 called without assembly")
}

func copy12(dst *float32, src *float32, srcStride int, k int) {
	panic("gemm: copy12 called without assembly")
}

// haveAVX is false without assembly.
const haveAVX = false

func transpose4x8(dst *float32, dstStride int, src *float32, srcStride int, k int) {
	panic("gemm: transpose4x8 called without assembly")
}

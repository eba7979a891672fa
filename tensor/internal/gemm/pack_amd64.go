//go:build amd64 && !noasm

package gemm

// transpose4 is implemented in pack_amd64.s.
//
//go:noescape
func transpose4(dst *float32, dstStride int, src *float32, srcStride int, k int)

// haveTranspose4 says transpose4, copy12 and copy32 are the assembly ones.
const haveTranspose4 = true

// copy32 is implemented in pack_amd64.s.
//
//go:noescape
func copy32(dst *float32, src *float32, srcStride int, k int)

// copy12 is implemented in pack_amd64.s.
//
//go:noescape
func copy12(dst *float32, src *float32, srcStride int, k int)

// transpose4x8 is implemented in pack_amd64.s; it needs AVX.
//
//go:noescape
func transpose4x8(dst *float32, dstStride int, src *float32, srcStride int, k int)

// haveAVX says transpose4x8 may run: the CPU has AVX2 and FMA, which is
// what the faster kernels need too.
var haveAVX, _ = cpuFeatures()

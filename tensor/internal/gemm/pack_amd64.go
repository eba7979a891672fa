//go:build amd64 && !noasm

package gemm

// transpose4 is implemented in pack_amd64.s.
//
//go:noescape
func transpose4(dst *float32, dstStride int, src *float32, srcStride int, k int)

// haveTranspose4 says transpose4 is the assembly one.
const haveTranspose4 = true

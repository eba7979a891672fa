package gemm

import "unsafe"

// microKernel computes one mr×nr tile of C from a packed panel of A and
// nr-wide rows of B:
//
//	C[i, j] = alpha·Σ_p a[p·mr+i]·b[p·ldb+j] + beta·C[i, j]
//
// for i < mr, j < nr and p < k (k ≥ 1), with row i of C at c + i·ldc. B is
// a packed panel when ldb == nr, or read in place from op(B) = B. With
// beta == 0 it stores without reading C, so C may hold NaN.
type microKernel func(k int, a, b *float32, ldb int, c *float32, ldc int, alpha, beta float32)

// kernel is a micro-kernel with the tile shape its packing must produce.
type kernel struct {
	name   string
	mr, nr int
	fn     microKernel
}

// kernelGo is the portable micro-kernel, written for any tile shape. It is
// the oracle the assembly kernels are checked against.
func kernelGo(mr, nr, k int, a, b []float32, ldb int, c []float32, ldc int, alpha, beta float32) {
	for i := 0; i < mr; i++ {
		for j := 0; j < nr; j++ {
			var s float32
			for p := 0; p < k; p++ {
				s += a[p*mr+i] * b[p*ldb+j]
			}
			if beta == 0 {
				c[i*ldc+j] = alpha * s
			} else {
				c[i*ldc+j] = alpha*s + beta*c[i*ldc+j]
			}
		}
	}
}

// kernel2x4Go is the pure-Go micro-kernel used where no assembly kernel
// fits the CPU. A 2×4 tile is the largest whose eight accumulators and six
// operands all stay in the sixteen float registers of amd64; a 4×4 tile
// spills and runs slower.
func kernel2x4Go(k int, ap, bp *float32, ldb int, cp *float32, ldc int, alpha, beta float32) {
	a := unsafe.Slice(ap, 2*k)
	b := unsafe.Slice(bp, (k-1)*ldb+4)
	var c00, c01, c02, c03 float32
	var c10, c11, c12, c13 float32
	for p := 0; p < k; p++ {
		ap, bp := a[2*p:2*p+2:2*p+2], b[p*ldb:p*ldb+4:p*ldb+4]
		a0, a1 := ap[0], ap[1]
		b0, b1, b2, b3 := bp[0], bp[1], bp[2], bp[3]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
	}
	c := unsafe.Slice(cp, ldc+4)
	store4(c[0:4:4], c00, c01, c02, c03, alpha, beta)
	store4(c[ldc:ldc+4:ldc+4], c10, c11, c12, c13, alpha, beta)
}

func store4(c []float32, s0, s1, s2, s3, alpha, beta float32) {
	c = c[:4]
	if beta == 0 {
		c[0], c[1], c[2], c[3] = alpha*s0, alpha*s1, alpha*s2, alpha*s3
		return
	}
	c[0] = alpha*s0 + beta*c[0]
	c[1] = alpha*s1 + beta*c[1]
	c[2] = alpha*s2 + beta*c[2]
	c[3] = alpha*s3 + beta*c[3]
}

// goKernel is the pure-Go tile shape and kernel.
var goKernel = kernel{name: "go2x4", mr: 2, nr: 4, fn: kernel2x4Go}

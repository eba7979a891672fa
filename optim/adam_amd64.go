//go:build amd64 && !noasm

package optim

import "golang.org/x/sys/cpu"

// adamConsts are the per-step scalars of the vector kernel, in the order
// adamAVX512 reads them.
type adamConsts struct {
	b1, c1, b2, c2, stepSize, invSqrtBc2, eps, tiny float32
	// With decay set, the kernel first multiplies each parameter by
	// shrink (AdamW's decoupled decay; 1 for Adam) and, where wd is not
	// zero, adds wd times it to the gradient (Adam's L2 term).
	shrink, wd float32
	decay      uint64
}

// adamAVX512 runs the Adam update, weight decay included, on n elements, n a
// multiple of 16, with the same operations in the same order as the Go
// loop, so that both give the same bits. Implemented in adam_amd64.s.
//
//go:noescape
func adamAVX512(p, grad, m, v *float32, n int, k *adamConsts)

var haveAVX512 = cpu.X86.HasAVX512F

// adamVector updates the largest multiple of 16 (AVX-512) or 8 (AVX2)
// elements it can with a vector kernel and returns how many it did.
func adamVector(p, g, m, v []float32, k *adamConsts) int {
	switch {
	case haveAVX512 && len(p) >= 16:
		n := len(p) &^ 15
		_, _, _ = g[n-1], m[n-1], v[n-1]
		adamAVX512(&p[0], &g[0], &m[0], &v[0], n, k)
		return n
	case haveAVX2 && len(p) >= 8:
		n := len(p) &^ 7
		_, _, _ = g[n-1], m[n-1], v[n-1]
		adamAVX2(&p[0], &g[0], &m[0], &v[0], n, k)
		return n
	}
	return 0
}

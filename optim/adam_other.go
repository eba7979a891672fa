//go:build !amd64 || noasm

package optim

type adamConsts struct {
	b1, c1, b2, c2, stepSize, invSqrtBc2, eps, tiny float32
	// With decay set, the kernel first multiplies each parameter by
	// shrink (AdamW's decoupled decay; 1 for Adam) and, where wd is not
	// zero, adds wd times it to the gradient (Adam's L2 term).
	shrink, wd float32
	decay      uint64
}

// adamVector does nothing without the assembly kernel.
func adamVector(p, g, m, v []float32, k *adamConsts) int { return 0 }

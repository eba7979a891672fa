//go:build !amd64 || noasm

package optim

type adamConsts struct {
	b1, c1, b2, c2, stepSize, invSqrtBc2, eps, tiny float32
}

// adamVector does nothing without the assembly kernel.
func adamVector(p, g, m, v []float32, k *adamConsts) int { return 0 }

//go:build !amd64 || noasm

package optim

// sgdVector does nothing without the assembly kernels.
func sgdVector(p, g, buf []float32, k *sgdConsts) int { return 0 }

// rmspropVector does nothing without the assembly kernels.
func rmspropVector(p, g, sq []float32, k *rmspropConsts) int { return 0 }

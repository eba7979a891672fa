package optim

import (
	"fmt"
	"math"
)

// clipEps keeps the clipping coefficient finite for a zero norm; it is
// PyTorch's clip_grad_norm_ constant.
const clipEps = 1e-6

// SumSquares returns the sum of the squares of x, accumulated in float64 in
// a fixed order, so the same x always gives the same bits. Shards of a
// gradient (parameter servers, buckets) add their SumSquares in a fixed
// order to get the global squared norm for ClipByNorm.
func SumSquares(x []float32) float64 {
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		a, b, c, d := float64(x[i]), float64(x[i+1]), float64(x[i+2]), float64(x[i+3])
		s0 += a * a
		s1 += b * b
		s2 += c * c
		s3 += d * d
	}
	for ; i < len(x); i++ {
		a := float64(x[i])
		s0 += a * a
	}
	return (s0 + s1) + (s2 + s3)
}

// ClipGlobalNorm scales grads in place so that their L2 norm does not
// exceed maxNorm, and returns the norm before clipping. The norm is
// accumulated in float64. The rule is PyTorch's clip_grad_norm_: with
// coef = maxNorm/(norm + 1e-6), grads are multiplied by coef when coef < 1.
// A NaN or infinite norm is returned without touching grads, so the caller
// can skip the step. maxNorm must be > 0; anything else panics.
func ClipGlobalNorm(grads []float32, maxNorm float64) (norm float64) {
	norm = math.Sqrt(SumSquares(grads))
	ClipByNorm(grads, norm, maxNorm)
	return norm
}

// ClipByNorm applies ClipGlobalNorm's rule to grads given their global
// norm, which may cover more than grads (every shard of a gradient scales by
// the same coefficient). It reports whether it scaled.
func ClipByNorm(grads []float32, norm, maxNorm float64) bool {
	if !(maxNorm > 0) {
		panic(fmt.Sprintf("optim: ClipByNorm: maxNorm %g must be > 0", maxNorm))
	}
	if math.IsNaN(norm) || math.IsInf(norm, 0) {
		return false
	}
	coef := maxNorm / (norm + clipEps)
	if coef >= 1 {
		return false
	}
	c := float32(coef)
	for i := range grads {
		grads[i] *= c
	}
	return true
}

package nn

import (
	"fmt"
	"math"

	"github.com/shoal-dl/shoal/autograd"
	"github.com/shoal-dl/shoal/tensor"
)

// Defaults of BatchNorm's zero fields.
const (
	DefaultBatchNormMomentum = 0.1
	DefaultBatchNormEps      = 1e-5
)

// BatchNorm normalises each feature (input [F]) or each channel (input
// [C, H, W], over the batch and both spatial axes) to zero mean and unit
// variance, then scales by Gamma and shifts by Beta:
//
//	y = Gamma·(x − mean)/√(var + Eps) + Beta
//
// On a training tape (Tape.Training) mean and var are the statistics of the
// batch (biased variance), and the running statistics move towards them as
// in PyTorch:
//
//	RunningMean ← (1−Momentum)·RunningMean + Momentum·mean
//	RunningVar  ← (1−Momentum)·RunningVar  + Momentum·var·m/(m−1)
//
// where m is the number of values per channel in the batch (the running
// variance is unbiased). On a NoGrad or nil tape the running statistics are
// used and left alone, so inference does not depend on the batch.
//
// Gamma starts at 1 and Beta at 0, both exempt from weight decay; the
// running mean starts at 0 and the running variance at 1, saved with the
// model as buffers. Training needs more than one value per channel (a batch
// of one [F] example panics, as it has no variance to estimate).
type BatchNorm struct {
	// Momentum weighs the newest batch in the running statistics; 0 means
	// DefaultBatchNormMomentum.
	Momentum float32
	// Eps keeps the division finite; 0 means DefaultBatchNormEps.
	Eps float32

	Gamma, Beta             *autograd.Var
	RunningMean, RunningVar *tensor.Tensor

	// channels and inner split a per-example input into channels of inner
	// contiguous values each (inner is 1 for [F] inputs).
	channels, inner int
}

// Build implements Layer.
func (b *BatchNorm) Build(in []int, ps *Params) ([]int, error) {
	if b.Momentum < 0 || b.Momentum > 1 || b.Eps < 0 {
		return nil, fmt.Errorf("momentum %v must be in [0, 1] and eps %v not negative", b.Momentum, b.Eps)
	}
	switch len(in) {
	case 1:
		b.channels, b.inner = in[0], 1
	case 3:
		b.channels, b.inner = in[0], in[1]*in[2]
	default:
		return nil, fmt.Errorf("%w: BatchNorm needs [features] or [channels, height, width], got %v", ErrShape, in)
	}
	if b.channels <= 0 || b.inner <= 0 {
		return nil, fmt.Errorf("%w: BatchNorm needs positive sizes, got %v", ErrShape, in)
	}
	c := []int{b.channels}
	b.Gamma = ps.Bias("weight", c, 1)
	b.Beta = ps.Bias("bias", c, 0)
	b.RunningMean = ps.Buffer("running_mean", c, 0)
	b.RunningVar = ps.Buffer("running_var", c, 1)
	return in, nil
}

func (b *BatchNorm) momentum() float32 {
	if b.Momentum == 0 {
		return DefaultBatchNormMomentum
	}
	return b.Momentum
}

func (b *BatchNorm) eps() float32 {
	if b.Eps == 0 {
		return DefaultBatchNormEps
	}
	return b.Eps
}

// Forward implements Layer.
func (b *BatchNorm) Forward(t *autograd.Tape, x *autograd.Var) *autograd.Var {
	n, c, inner := x.Value.Shape[0], b.channels, b.inner
	if x.Value.Len() != n*c*inner {
		panic(fmt.Sprintf("nn: BatchNorm: input %v does not match %d channels of %d values", x.Value.Shape, c, inner))
	}
	if !t.Training() {
		return b.inference(t, x, n)
	}
	m := n * inner
	if m < 2 {
		panic(fmt.Sprintf("nn: BatchNorm: training needs more than one value per channel, got input %v", x.Value.Shape))
	}
	out := t.Output(t.Alloc(x.Value.Shape), x, b.Gamma, b.Beta)
	xhat := t.Alloc(x.Value.Shape)
	invStd := t.Alloc([]int{c})
	xs, xh, ys := x.Value.Data, xhat.Data, out.Value.Data
	gamma, beta := b.Gamma.Value.Data, b.Beta.Value.Data
	rm, rv := b.RunningMean.Data, b.RunningVar.Data
	mom, eps := float64(b.momentum()), float64(b.eps())
	tensor.ParallelFor(c, channelGrain(m), func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			// Two passes in float64: the mean, then the centred squares,
			// which stays accurate when the mean dwarfs the spread.
			var sum float64
			for i := 0; i < n; i++ {
				for _, v := range xs[(i*c+ch)*inner : (i*c+ch+1)*inner] {
					sum += float64(v)
				}
			}
			mean := sum / float64(m)
			var sq float64
			for i := 0; i < n; i++ {
				for _, v := range xs[(i*c+ch)*inner : (i*c+ch+1)*inner] {
					d := float64(v) - mean
					sq += d * d
				}
			}
			variance := sq / float64(m)
			is := 1 / math.Sqrt(variance+eps)
			invStd.Data[ch] = float32(is)
			g, bt := gamma[ch], beta[ch]
			for i := 0; i < n; i++ {
				off := (i*c + ch) * inner
				for j, v := range xs[off : off+inner] {
					h := float32((float64(v) - mean) * is)
					xh[off+j] = h
					ys[off+j] = g*h + bt
				}
			}
			rm[ch] = float32((1-mom)*float64(rm[ch]) + mom*mean)
			rv[ch] = float32((1-mom)*float64(rv[ch]) + mom*variance*float64(m)/float64(m-1))
		}
	})
	if out.RequiresGrad() {
		t.Record(out, func() { b.backward(t, x, out, xhat, invStd, n) }, x, b.Gamma, b.Beta)
	}
	return out
}

// backward adds the gradients of a training-mode forward into x, Gamma and
// Beta. With x̂ the normalised input and m values per channel:
//
//	dBeta  = Σ dy
//	dGamma = Σ dy·x̂
//	dx     = Gamma/(m·σ) · (m·dy − Σ dy − x̂·Σ dy·x̂)
func (b *BatchNorm) backward(t *autograd.Tape, x, out *autograd.Var, xhat, invStd *tensor.Tensor, n int) {
	c, inner := b.channels, b.inner
	m := n * inner
	dy, xh := out.Grad.Data, xhat.Data
	var dx, dgamma, dbeta []float32
	if x.RequiresGrad() {
		dx = t.GradOf(x).Data
	}
	if b.Gamma.RequiresGrad() {
		dgamma = t.GradOf(b.Gamma).Data
	}
	if b.Beta.RequiresGrad() {
		dbeta = t.GradOf(b.Beta).Data
	}
	gamma := b.Gamma.Value.Data
	tensor.ParallelFor(c, channelGrain(m), func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			var sumDy, sumDyXh float64
			for i := 0; i < n; i++ {
				off := (i*c + ch) * inner
				for j, g := range dy[off : off+inner] {
					sumDy += float64(g)
					sumDyXh += float64(g) * float64(xh[off+j])
				}
			}
			if dbeta != nil {
				dbeta[ch] += float32(sumDy)
			}
			if dgamma != nil {
				dgamma[ch] += float32(sumDyXh)
			}
			if dx == nil {
				continue
			}
			k := float32(float64(gamma[ch]) * float64(invStd.Data[ch]) / float64(m))
			sDy, sDyXh := float32(sumDy), float32(sumDyXh)
			fm := float32(m)
			for i := 0; i < n; i++ {
				off := (i*c + ch) * inner
				for j, g := range dy[off : off+inner] {
					dx[off+j] += k * (fm*g - sDy - xh[off+j]*sDyXh)
				}
			}
		}
	})
}

// inference normalises with the running statistics; nothing is recorded
// because only a training tape records.
func (b *BatchNorm) inference(t *autograd.Tape, x *autograd.Var, n int) *autograd.Var {
	c, inner := b.channels, b.inner
	out := t.Output(t.Alloc(x.Value.Shape), x)
	xs, ys := x.Value.Data, out.Value.Data
	eps := float64(b.eps())
	for ch := 0; ch < c; ch++ {
		scale := float64(b.Gamma.Value.Data[ch]) / math.Sqrt(float64(b.RunningVar.Data[ch])+eps)
		s := float32(scale)
		shift := float32(float64(b.Beta.Value.Data[ch]) - scale*float64(b.RunningMean.Data[ch]))
		for i := 0; i < n; i++ {
			off := (i*c + ch) * inner
			for j, v := range xs[off : off+inner] {
				ys[off+j] = s*v + shift
			}
		}
	}
	return out
}

// channelGrain is how many channels of m values each are worth one
// goroutine.
func channelGrain(m int) int { return max(1, (16<<10)/max(m, 1)) }

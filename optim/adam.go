package optim

import "math"

// Adam is the Adam optimizer (Kingma and Ba) with bias correction and L2
// weight decay added to the gradient: PyTorch's torch.optim.Adam without
// amsgrad.
//
// It reads Config.LR, Beta1, Beta2, Eps, WeightDecay, DecayMask and
// Threads. With t the 1-based number of this Step and g = grad +
// WeightDecay·param, each Step computes, element by element,
//
//	m     = β1·m + (1−β1)·g
//	v     = β2·v + (1−β2)·g²
//	param = param − (LR/(1−β1ᵗ)) · m / (√v/√(1−β2ᵗ) + Eps)
//
// State layout: m (n values), then v (n values).
type Adam struct {
	adamCore
}

// AdamW is Adam with decoupled weight decay (Loshchilov and Hutter):
// PyTorch's torch.optim.AdamW without amsgrad. Before the Adam update of
// Adam's documentation (with g = grad, no L2 term) each Step shrinks the
// parameters:
//
//	param = param·(1 − LR·WeightDecay)
//
// It reads the same Config fields as Adam. PyTorch's AdamW defaults
// weight_decay to 0.01; here, as everywhere in Config, zero means none.
//
// State layout: m (n values), then v (n values).
type AdamW struct {
	adamCore
}

// NewAdam returns Adam for n parameters.
func NewAdam(n int, cfg Config) (*Adam, error) {
	cfg, err := prepare(n, cfg)
	if err != nil {
		return nil, err
	}
	o := &Adam{}
	o.init(n, cfg, false)
	return o, nil
}

// NewAdamW returns AdamW for n parameters.
func NewAdamW(n int, cfg Config) (*AdamW, error) {
	cfg, err := prepare(n, cfg)
	if err != nil {
		return nil, err
	}
	o := &AdamW{}
	o.init(n, cfg, true)
	return o, nil
}

// Step applies one Adam update to params from grads.
func (o *Adam) Step(params, grads []float32) { o.step("Adam", params, grads) }

// SetLR sets the learning rate of the next Step.
func (o *Adam) SetLR(lr float64) { o.setLR(lr) }

// LR returns the learning rate of the next Step.
func (o *Adam) LR() float64 { return o.lr }

// State returns m, then v.
func (o *Adam) State() []float32 { return o.state }

// Steps returns how many Steps have been applied; it is the t of the bias
// correction, so restore it with the moments.
func (o *Adam) Steps() int64 { return o.steps }

// SetSteps restores the step count.
func (o *Adam) SetSteps(n int64) { o.setSteps(n) }

// Step applies one AdamW update to params from grads.
func (o *AdamW) Step(params, grads []float32) { o.step("AdamW", params, grads) }

// SetLR sets the learning rate of the next Step.
func (o *AdamW) SetLR(lr float64) { o.setLR(lr) }

// LR returns the learning rate of the next Step.
func (o *AdamW) LR() float64 { return o.lr }

// State returns m, then v.
func (o *AdamW) State() []float32 { return o.state }

// Steps returns how many Steps have been applied; it is the t of the bias
// correction, so restore it with the moments.
func (o *AdamW) Steps() int64 { return o.steps }

// SetSteps restores the step count.
func (o *AdamW) SetSteps(n int64) { o.setSteps(n) }

// scalarOnly turns the vector kernels off (tests compare them with the Go
// loops).
var scalarOnly bool

// adamCore is the update shared by Adam and AdamW.
type adamCore struct {
	base
	beta1, beta2, eps float64
	decoupled         bool
	state             []float32
	m, v              []float32 // views of state

	// Operands of the Step in progress, read by the chunk goroutines.
	params, grads         []float32
	b1, b2, c1, c2, eps32 float32
	stepSize, invSqrtBc2  float32
	wd32, shrink          float32
	piece                 func(lo, hi int, decayed bool)
}

func (o *adamCore) init(n int, cfg Config, decoupled bool) {
	o.base = newBase(n, cfg)
	o.beta1, o.beta2, o.eps, o.decoupled = cfg.Beta1, cfg.Beta2, cfg.Eps, decoupled
	o.state = make([]float32, 2*n)
	o.m, o.v = o.state[:n:n], o.state[n:]
	o.piece = o.update
	o.run = newChunkRunner(n, cfg.Threads, o.chunk)
}

func (o *adamCore) step(op string, params, grads []float32) {
	o.checkLens(op, params, grads)
	// The per-step scalars are computed in float64, as PyTorch does in
	// Python, and rounded once.
	t := float64(o.steps + 1)
	bc1 := 1 - math.Pow(o.beta1, t)
	bc2 := 1 - math.Pow(o.beta2, t)
	o.params, o.grads = params, grads
	// 1−β is rounded from float64: float32(1)−float32(0.999) is 1.3e-5 off.
	o.b1, o.b2, o.eps32 = float32(o.beta1), float32(o.beta2), float32(o.eps)
	o.c1, o.c2 = float32(1-o.beta1), float32(1-o.beta2)
	o.stepSize = float32(o.lr / bc1)
	o.invSqrtBc2 = float32(1 / math.Sqrt(bc2))
	o.wd32, o.shrink = float32(o.wd), float32(1-o.lr*o.wd)
	o.run.run()
	o.params, o.grads = nil, nil
	o.steps++
}

func (o *adamCore) chunk(lo, hi int) { o.decay.walk(lo, hi, o.piece) }

func (o *adamCore) update(lo, hi int, decayed bool) {
	p, g := o.params[lo:hi], o.grads[lo:hi]
	m, v := o.m[lo:hi], o.v[lo:hi]
	g, m, v = g[:len(p)], m[:len(p)], v[:len(p)]
	var wd float32 // L2 term added to the gradient
	shrink := float32(1)
	if decayed && o.wd32 != 0 {
		if o.decoupled {
			shrink = o.shrink
		} else {
			wd = o.wd32
		}
	}
	b1, b2, eps := o.b1, o.b2, o.eps32
	c1, c2 := o.c1, o.c2
	stepSize, invSqrtBc2 := o.stepSize, o.invSqrtBc2
	if !scalarOnly {
		k := adamConsts{b1: b1, c1: c1, b2: b2, c2: c2, stepSize: stepSize, invSqrtBc2: invSqrtBc2, eps: eps, tiny: 0x1p-126, shrink: shrink, wd: wd}
		if shrink != 1 || wd != 0 {
			k.decay = 1
		}
		done := adamVector(p, g, m, v, &k)
		p, g, m, v = p[done:], g[done:], m[done:], v[done:]
	}
	for i := range p {
		pi, gi := p[i], g[i]
		if shrink != 1 {
			pi *= shrink
		}
		if wd != 0 {
			gi += wd * pi
		}
		mi := flushSubnormal(b1*m[i] + c1*gi)
		vi := flushSubnormal(b2*v[i] + c2*gi*gi)
		m[i], v[i] = mi, vi
		den := float32(math.Sqrt(float64(vi)))*invSqrtBc2 + eps
		p[i] = pi - stepSize*(mi/den)
	}
}

package optim

import "math"

// RMSProp divides each gradient by a running root mean square of its recent
// values. It has PyTorch's semantics (torch.optim.RMSprop): the mean square
// starts at 0, Eps is added outside the square root, momentum and centering
// are optional, and the defaults are rho 0.99 and eps 1e-8. Keras defaults
// to rho 0.9 and eps 1e-7, DL4J to rho 0.95, and some of their versions add
// eps inside the square root; to reproduce a run from them, set Rho and Eps,
// and expect differences only while the mean square is near Eps.
//
// It reads Config.LR, Rho, Eps, Momentum, Centered, WeightDecay, DecayMask
// and Threads. With ρ = Rho, μ = Momentum and g = grad + WeightDecay·param,
// each Step computes, element by element,
//
//	sq    = ρ·sq + (1−ρ)·g²
//	avg   = ρ·avg + (1−ρ)·g             (Centered only)
//	den   = √(sq − avg²) + Eps  if Centered,  √sq + Eps  otherwise
//	buf   = μ·buf + g/den               (when μ > 0)
//	param = param − LR·buf  with momentum,  param − LR·g/den  without
//
// With Centered, sq − avg² is clamped at 0 so rounding cannot make it
// negative.
//
// State layout: sq (n values), then buf (n values) when μ > 0, then avg (n
// values) when Centered.
type RMSProp struct {
	base
	rho, eps, momentum float64
	centered           bool
	state              []float32
	sq, buf, avg       []float32 // views of state; buf and avg may be nil

	// Operands of the Step in progress, read by the chunk goroutines.
	params, grads            []float32
	lr32, rho32, eps32, mu32 float32
	oneMinusRho              float32
	wd32                     float32
	piece                    func(lo, hi int, decayed bool)
}

// NewRMSProp returns RMSProp for n parameters.
func NewRMSProp(n int, cfg Config) (*RMSProp, error) {
	cfg, err := prepare(n, cfg)
	if err != nil {
		return nil, err
	}
	o := &RMSProp{base: newBase(n, cfg), rho: cfg.Rho, eps: cfg.Eps, momentum: cfg.Momentum, centered: cfg.Centered}
	parts := 1
	if cfg.Momentum > 0 {
		parts++
	}
	if cfg.Centered {
		parts++
	}
	o.state = make([]float32, parts*n)
	o.sq = o.state[:n:n]
	next := n
	if cfg.Momentum > 0 {
		o.buf = o.state[next : next+n : next+n]
		next += n
	}
	if cfg.Centered {
		o.avg = o.state[next : next+n : next+n]
	}
	o.piece = o.update
	o.run = newChunkRunner(n, cfg.Threads, o.chunk)
	return o, nil
}

// Step applies one RMSProp update to params from grads.
func (o *RMSProp) Step(params, grads []float32) {
	o.checkLens("RMSProp", params, grads)
	o.params, o.grads = params, grads
	o.lr32, o.rho32, o.eps32 = float32(o.lr), float32(o.rho), float32(o.eps)
	o.oneMinusRho = float32(1 - o.rho) // rounded from float64, as in Adam
	o.mu32, o.wd32 = float32(o.momentum), float32(o.wd)
	o.run.run()
	o.params, o.grads = nil, nil
	o.steps++
}

func (o *RMSProp) chunk(lo, hi int) { o.decay.walk(lo, hi, o.piece) }

func (o *RMSProp) update(lo, hi int, decayed bool) {
	p, g, sq := o.params[lo:hi], o.grads[lo:hi], o.sq[lo:hi]
	g, sq = g[:len(p)], sq[:len(p)]
	var buf, avg []float32
	if o.buf != nil {
		buf = o.buf[lo:hi][:len(p)]
	}
	if o.avg != nil {
		avg = o.avg[lo:hi][:len(p)]
	}
	var wd float32
	if decayed {
		wd = o.wd32
	}
	lr, rho, eps, mu := o.lr32, o.rho32, o.eps32, o.mu32
	oneMinusRho := o.oneMinusRho
	if buf == nil && avg == nil {
		k := rmspropConsts{lr: lr, rho: rho, oneMinusRho: oneMinusRho, eps: eps, wd: wd}
		done := rmspropVector(p, g, sq, &k)
		p, g, sq = p[done:], g[done:], sq[done:]
	}
	for i := range p {
		gi := g[i]
		if wd != 0 {
			gi += wd * p[i]
		}
		s := flushSubnormal(rho*sq[i] + oneMinusRho*gi*gi)
		sq[i] = s
		if avg != nil {
			a := flushSubnormal(rho*avg[i] + oneMinusRho*gi)
			avg[i] = a
			s = max(s-a*a, 0)
		}
		den := float32(math.Sqrt(float64(s))) + eps
		if buf != nil {
			b := flushSubnormal(mu*buf[i] + gi/den)
			buf[i] = b
			p[i] -= lr * b
		} else {
			p[i] -= lr * (gi / den)
		}
	}
}

// rmspropConsts are the scalars of the vector kernel of plain RMSProp, in
// the order it reads them.
type rmspropConsts struct {
	lr, rho, oneMinusRho, eps, wd float32
}

// SetLR sets the learning rate of the next Step.
func (o *RMSProp) SetLR(lr float64) { o.setLR(lr) }

// LR returns the learning rate of the next Step.
func (o *RMSProp) LR() float64 { return o.lr }

// State returns sq, then buf with momentum, then avg when centered.
func (o *RMSProp) State() []float32 { return o.state }

// Steps returns how many Steps have been applied.
func (o *RMSProp) Steps() int64 { return o.steps }

// SetSteps restores the step count.
func (o *RMSProp) SetSteps(n int64) { o.setSteps(n) }

package optim

// SGD is stochastic gradient descent with optional momentum or Nesterov
// momentum and L2 weight decay: PyTorch's torch.optim.SGD with dampening 0.
//
// It reads Config.LR, Momentum, Nesterov, WeightDecay, DecayMask and
// Threads. With μ = Momentum and g = grad + WeightDecay·param, each Step
// computes, element by element,
//
//	buf   = μ·buf + g                       (when μ > 0; buf starts at 0)
//	d     = g + μ·buf  with Nesterov,  buf  with momentum,  g  without
//	param = param − LR·d
//
// State layout: the momentum buffer buf (n values) when μ > 0, nothing
// otherwise.
type SGD struct {
	base
	momentum float64
	nesterov bool
	buf      []float32

	// Operands of the Step in progress, read by the chunk goroutines.
	params, grads []float32
	lr32, mu32    float32
	wd32          float32
	piece         func(lo, hi int, decayed bool)
}

// NewSGD returns SGD for n parameters.
func NewSGD(n int, cfg Config) (*SGD, error) {
	cfg, err := prepare(n, cfg)
	if err != nil {
		return nil, err
	}
	o := &SGD{base: newBase(n, cfg), momentum: cfg.Momentum, nesterov: cfg.Nesterov}
	if cfg.Momentum > 0 {
		o.buf = make([]float32, n)
	}
	o.piece = o.update
	o.run = newChunkRunner(n, cfg.Threads, o.chunk)
	return o, nil
}

// Step applies one SGD update to params from grads.
func (o *SGD) Step(params, grads []float32) {
	o.checkLens("SGD", params, grads)
	o.params, o.grads = params, grads
	o.lr32, o.mu32, o.wd32 = float32(o.lr), float32(o.momentum), float32(o.wd)
	o.run.run()
	o.params, o.grads = nil, nil
	o.steps++
}

func (o *SGD) chunk(lo, hi int) { o.decay.walk(lo, hi, o.piece) }

func (o *SGD) update(lo, hi int, decayed bool) {
	p, g := o.params[lo:hi], o.grads[lo:hi]
	var wd float32
	if decayed {
		wd = o.wd32
	}
	if o.buf == nil {
		sgdPlain(p, g, o.lr32, wd)
		return
	}
	buf := o.buf[lo:hi]
	k := sgdConsts{lr: o.lr32, mu: o.mu32, wd: wd}
	if o.nesterov {
		k.nesterov = 1
	}
	done := sgdVector(p, g, buf, &k)
	p, g, buf = p[done:], g[done:], buf[done:]
	if o.nesterov {
		sgdNesterov(p, g, buf, o.lr32, o.mu32, wd)
	} else {
		sgdMomentum(p, g, buf, o.lr32, o.mu32, wd)
	}
}

// sgdConsts are the scalars of the vector kernel of SGD with momentum, in
// the order it reads them.
type sgdConsts struct {
	lr, mu, wd float32
	nesterov   uint32
}

func sgdPlain(p, g []float32, lr, wd float32) {
	g = g[:len(p)]
	for i := range p {
		gi := g[i]
		if wd != 0 {
			gi += wd * p[i]
		}
		p[i] -= lr * gi
	}
}

func sgdMomentum(p, g, buf []float32, lr, mu, wd float32) {
	g, buf = g[:len(p)], buf[:len(p)]
	for i := range p {
		gi := g[i]
		if wd != 0 {
			gi += wd * p[i]
		}
		b := flushSubnormal(mu*buf[i] + gi)
		buf[i] = b
		p[i] -= lr * b
	}
}

func sgdNesterov(p, g, buf []float32, lr, mu, wd float32) {
	g, buf = g[:len(p)], buf[:len(p)]
	for i := range p {
		gi := g[i]
		if wd != 0 {
			gi += wd * p[i]
		}
		b := flushSubnormal(mu*buf[i] + gi)
		buf[i] = b
		p[i] -= lr * (gi + mu*b)
	}
}

// SetLR sets the learning rate of the next Step.
func (o *SGD) SetLR(lr float64) { o.setLR(lr) }

// LR returns the learning rate of the next Step.
func (o *SGD) LR() float64 { return o.lr }

// State returns the momentum buffer (empty without momentum).
func (o *SGD) State() []float32 { return o.buf }

// Steps returns how many Steps have been applied.
func (o *SGD) Steps() int64 { return o.steps }

// SetSteps restores the step count.
func (o *SGD) SetSteps(n int64) { o.setSteps(n) }

package autograd

import "github.com/shoal-dl/shoal/tensor"

// unary runs an elementwise op and records a backward that adds
// f'(x)·dy into x's gradient. bwd receives x, the output y and dy.
func (t *Tape) unary(x *Var, fwd func(dst, x *tensor.Tensor), bwd func(dx, x, y, dy *tensor.Tensor)) *Var {
	out := t.Output(t.Alloc(x.Value.Shape), x)
	fwd(out.Value, x.Value)
	if out.requiresGrad {
		t.Record(out, func() { bwd(t.GradOf(x), x.Value, out.Value, out.Grad) }, x)
	}
	return out
}

// ReLU returns max(x, 0).
func (t *Tape) ReLU(x *Var) *Var {
	return t.unary(x, tensor.ReLU, func(dx, x, _, dy *tensor.Tensor) { tensor.ReLUGrad(dx, x, dy) })
}

// LeakyReLU returns x for x > 0 and slope·x otherwise.
func (t *Tape) LeakyReLU(x *Var, slope float32) *Var {
	return t.unary(x,
		func(dst, x *tensor.Tensor) { tensor.LeakyReLU(dst, x, slope) },
		func(dx, x, _, dy *tensor.Tensor) { tensor.LeakyReLUGrad(dx, x, dy, slope) })
}

// Tanh returns tanh(x).
func (t *Tape) Tanh(x *Var) *Var {
	return t.unary(x, tensor.Tanh, func(dx, _, y, dy *tensor.Tensor) { tensor.TanhGrad(dx, y, dy) })
}

// Sigmoid returns 1/(1+e^−x).
func (t *Tape) Sigmoid(x *Var) *Var {
	return t.unary(x, tensor.Sigmoid, func(dx, _, y, dy *tensor.Tensor) { tensor.SigmoidGrad(dx, y, dy) })
}

// GELU returns x·Φ(x) (the exact form with erf).
func (t *Tape) GELU(x *Var) *Var {
	return t.unary(x, tensor.GELU, func(dx, x, _, dy *tensor.Tensor) { tensor.GELUGrad(dx, x, dy) })
}

// Softmax returns the softmax over the last axis.
func (t *Tape) Softmax(x *Var) *Var {
	return t.unary(x, tensor.Softmax, func(dx, _, y, dy *tensor.Tensor) { tensor.SoftmaxGrad(dx, y, dy) })
}

// LogSoftmax returns the log of the softmax over the last axis.
func (t *Tape) LogSoftmax(x *Var) *Var {
	return t.unary(x, tensor.LogSoftmax, func(dx, _, y, dy *tensor.Tensor) { tensor.LogSoftmaxGrad(dx, y, dy) })
}

// Exp returns e^x.
func (t *Tape) Exp(x *Var) *Var {
	return t.unary(x, tensor.Exp, func(dx, _, y, dy *tensor.Tensor) {
		dd, yy, gg := dx.Data, y.Data[:len(dx.Data)], dy.Data[:len(dx.Data)]
		for i := range dd {
			dd[i] += yy[i] * gg[i]
		}
	})
}

// Log returns the natural logarithm of x.
func (t *Tape) Log(x *Var) *Var {
	return t.unary(x, tensor.Log, func(dx, x, _, dy *tensor.Tensor) {
		dd, xx, gg := dx.Data, x.Data[:len(dx.Data)], dy.Data[:len(dx.Data)]
		for i := range dd {
			dd[i] += gg[i] / xx[i]
		}
	})
}

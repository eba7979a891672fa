package nn

import (
	"fmt"

	"github.com/shoal-dl/shoal/autograd"
	"github.com/shoal-dl/shoal/tensor"
)

// Dense is a fully connected layer on the last axis: y = x·W + b with W
// [in, Units]. Inputs with more axes ([T, F], say) are transformed row by
// row, which makes Dense time-distributed by itself.
type Dense struct {
	Units int
	// NoBias drops b.
	NoBias bool
	// Init fills W; nil means XavierUniform.
	Init Initializer

	W, B *autograd.Var
}

// Build implements Layer.
func (d *Dense) Build(in []int, ps *Params) ([]int, error) {
	if d.Units <= 0 {
		return nil, fmt.Errorf("units must be positive, got %d", d.Units)
	}
	if len(in) == 0 || in[len(in)-1] <= 0 {
		return nil, fmt.Errorf("%w: Dense needs an input with a positive last axis, got %v", ErrShape, in)
	}
	fanIn := in[len(in)-1]
	init := d.Init
	if init == nil {
		init = XavierUniform
	}
	d.W = ps.Weight("weight", []int{fanIn, d.Units}, init, fanIn, d.Units)
	d.B = nil
	if !d.NoBias {
		d.B = ps.Bias("bias", []int{d.Units}, 0)
	}
	out := append(append([]int(nil), in[:len(in)-1]...), d.Units)
	return out, nil
}

// Forward implements Layer.
func (d *Dense) Forward(t *autograd.Tape, x *autograd.Var) *autograd.Var {
	return t.Linear(x, d.W, d.B)
}

// Flatten turns [N, d1, d2, ...] into [N, d1·d2·...].
type Flatten struct{}

// Build implements Layer.
func (Flatten) Build(in []int, _ *Params) ([]int, error) { return []int{tensor.Volume(in)}, nil }

// Forward implements Layer.
func (Flatten) Forward(t *autograd.Tape, x *autograd.Var) *autograd.Var {
	return t.Reshape(x, x.Value.Shape[0], -1)
}

// Dropout zeroes a fraction Rate of its inputs in training and scales the
// rest by 1/(1−Rate); it is the identity in inference.
type Dropout struct{ Rate float32 }

// Build implements Layer.
func (d *Dropout) Build(in []int, _ *Params) ([]int, error) {
	if d.Rate < 0 || d.Rate >= 1 {
		return nil, fmt.Errorf("rate %v out of range [0, 1)", d.Rate)
	}
	return in, nil
}

// Forward implements Layer.
func (d *Dropout) Forward(t *autograd.Tape, x *autograd.Var) *autograd.Var {
	return t.Dropout(x, d.Rate)
}

// activation is the shared shape of the parameter-free elementwise layers.
type activation struct{}

// Build implements Layer.
func (activation) Build(in []int, _ *Params) ([]int, error) { return in, nil }

// ReLU is max(x, 0).
type ReLU struct{ activation }

// Forward implements Layer.
func (ReLU) Forward(t *autograd.Tape, x *autograd.Var) *autograd.Var { return t.ReLU(x) }

// LeakyReLU is x for x > 0 and Slope·x otherwise (Slope 0 means 0.01).
type LeakyReLU struct {
	activation
	Slope float32
}

// Forward implements Layer.
func (l LeakyReLU) Forward(t *autograd.Tape, x *autograd.Var) *autograd.Var {
	s := l.Slope
	if s == 0 {
		s = 0.01
	}
	return t.LeakyReLU(x, s)
}

// Tanh is the hyperbolic tangent.
type Tanh struct{ activation }

// Forward implements Layer.
func (Tanh) Forward(t *autograd.Tape, x *autograd.Var) *autograd.Var { return t.Tanh(x) }

// Sigmoid is 1/(1+e^−x).
type Sigmoid struct{ activation }

// Forward implements Layer.
func (Sigmoid) Forward(t *autograd.Tape, x *autograd.Var) *autograd.Var { return t.Sigmoid(x) }

// Softmax normalises the last axis into probabilities. Train classifiers on
// logits with SoftmaxCrossEntropy instead of ending the model with Softmax.
type Softmax struct{ activation }

// Forward implements Layer.
func (Softmax) Forward(t *autograd.Tape, x *autograd.Var) *autograd.Var { return t.Softmax(x) }

// GELU is x·Φ(x).
type GELU struct{ activation }

// Forward implements Layer.
func (GELU) Forward(t *autograd.Tape, x *autograd.Var) *autograd.Var { return t.GELU(x) }

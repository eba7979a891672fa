package autograd

import "github.com/shoal-dl/shoal/tensor"

// Var is a value in a computation: a tensor and, when something needs it,
// the gradient of the loss with respect to that tensor.
type Var struct {
	// Value is the tensor this variable holds.
	Value *tensor.Tensor
	// Grad is the gradient; nil until Backward reaches this variable (for a
	// parameter it is a view into the model's gradient arena).
	Grad *tensor.Tensor
	// Name labels parameters (e.g. "dense1.weight") in errors and files.
	Name string

	requiresGrad bool
	param        bool

	// pending counts the recorded operations that still have to add to a
	// parameter's gradient during the current Backward. A parameter is
	// recorded on one tape at a time.
	pending int
	// tape is the tape that last recorded a use of this parameter.
	tape *Tape
}

// Constant wraps t as a variable that needs no gradient (an input batch).
func Constant(t *tensor.Tensor) *Var { return &Var{Value: t} }

// NewParam returns a trainable leaf whose value and gradient are the given
// tensors (normally views into a model's arenas; grad must have value's
// shape).
func NewParam(name string, value, grad *tensor.Tensor) *Var {
	if !tensor.SameShape(value.Shape, grad.Shape) {
		panic("autograd: NewParam " + name + ": value and grad shapes differ")
	}
	return &Var{Value: value, Grad: grad, Name: name, requiresGrad: true, param: true}
}

// RequiresGrad reports whether gradients flow into v.
func (v *Var) RequiresGrad() bool { return v.requiresGrad }

// IsParam reports whether v is a trainable leaf made by NewParam.
func (v *Var) IsParam() bool { return v.param }

// Shape returns the shape of v's value.
func (v *Var) Shape() []int { return v.Value.Shape }

// Item returns the single element of a one-element variable (a loss).
func (v *Var) Item() float32 {
	if v.Value.Len() != 1 {
		panic("autograd: Item on a variable of shape " + shapeString(v.Value.Shape))
	}
	return v.Value.Data[0]
}

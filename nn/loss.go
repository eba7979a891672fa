package nn

import (
	"github.com/shoal-dl/shoal/autograd"
	"github.com/shoal-dl/shoal/tensor"
)

// Loss turns a model's output and a batch's targets into a scalar.
type Loss interface {
	// Loss returns the mean loss of out against targets y (shaped like out)
	// or class labels (one per row of out's last axis).
	Loss(t *autograd.Tape, out *autograd.Var, y *tensor.Tensor, labels []int32) *autograd.Var
}

// SoftmaxCrossEntropy is the cross-entropy of softmax(logits) against class
// labels, fused and numerically stable. For sequence outputs [N, T, C] the
// labels are per time step.
type SoftmaxCrossEntropy struct{}

// Loss implements Loss.
func (SoftmaxCrossEntropy) Loss(t *autograd.Tape, out *autograd.Var, _ *tensor.Tensor, labels []int32) *autograd.Var {
	return t.SoftmaxCrossEntropy(out, labels)
}

// MSE is the mean squared error against targets.
type MSE struct{}

// Loss implements Loss.
func (MSE) Loss(t *autograd.Tape, out *autograd.Var, y *tensor.Tensor, _ []int32) *autograd.Var {
	return t.MSE(out, autograd.Constant(y))
}

// BinaryCrossEntropy is the cross-entropy of sigmoid(logits) against
// targets in [0, 1], computed from logits.
type BinaryCrossEntropy struct{}

// Loss implements Loss.
func (BinaryCrossEntropy) Loss(t *autograd.Tape, out *autograd.Var, y *tensor.Tensor, _ []int32) *autograd.Var {
	return t.BCEWithLogits(out, autograd.Constant(y))
}

package nn

import (
	"fmt"

	"github.com/shoal-dl/shoal/autograd"
)

// TimeDistributed applies Layer to every step of a sequence: an input
// [N, T, d...] is folded into a batch [N·T, d...] for Layer, and Layer's
// output [N·T, e...] is unfolded into [N, T, e...]. Layer is built for the
// per-step shape [d...], and its parameters are shared by all steps.
//
// Dense already works on the last axis of any input, so TimeDistributed is
// needed for layers that expect a fixed rank, such as Conv2D over a
// sequence of images or BatchNorm over per-step features.
type TimeDistributed struct {
	Layer Layer
}

// Build implements Layer.
func (d *TimeDistributed) Build(in []int, ps *Params) ([]int, error) {
	if d.Layer == nil {
		return nil, fmt.Errorf("TimeDistributed has no inner layer")
	}
	if len(in) < 2 || in[0] <= 0 {
		return nil, fmt.Errorf("%w: TimeDistributed needs [steps, ...] with at least one axis per step, got %v", ErrShape, in)
	}
	out, err := d.Layer.Build(in[1:], ps)
	if err != nil {
		return nil, fmt.Errorf("TimeDistributed(%s): %w", layerName(d.Layer), err)
	}
	return append([]int{in[0]}, out...), nil
}

// Forward implements Layer.
func (d *TimeDistributed) Forward(t *autograd.Tape, x *autograd.Var) *autograd.Var {
	s := x.Value.Shape
	if len(s) < 3 {
		panic(fmt.Sprintf("nn: TimeDistributed: input %v is not [batch, steps, ...]", s))
	}
	folded := append([]int{s[0] * s[1]}, s[2:]...)
	y := d.Layer.Forward(t, t.Reshape(x, folded...))
	unfolded := append([]int{s[0], s[1]}, y.Value.Shape[1:]...)
	return t.Reshape(y, unfolded...)
}

package nn

import (
	"fmt"
	"math/rand/v2"

	"github.com/shoal-dl/shoal/autograd"
)

// Embedding maps token ids to learned vectors: a table of Vocab rows of Dim
// values. Its input holds ids stored as float32 (the batch type of every
// layer), [N, T] for sequences or [N] for one token per example; its output
// is [N, T, Dim] or [N, Dim].
//
// An id that is not a whole number in [0, Vocab) is a bug in the data
// pipeline, not a condition a model can recover from, so Forward panics
// with a message naming the id and its position; validate ids where they
// enter the system (a tokenizer, a dataset decoder).
type Embedding struct {
	Vocab, Dim int
	// Init fills the table; nil means N(0, 1), as PyTorch does.
	Init Initializer

	Table *autograd.Var
}

// StandardNormal draws every value from N(0, 1), the usual start for
// embedding tables.
var StandardNormal = InitFunc(func(w []float32, _, _ int, rng *rand.Rand) { normal(w, 1, rng) })

// Build implements Layer.
func (e *Embedding) Build(in []int, ps *Params) ([]int, error) {
	if e.Vocab <= 0 || e.Dim <= 0 {
		return nil, fmt.Errorf("vocab %d and dim %d must be positive", e.Vocab, e.Dim)
	}
	if len(in) > 1 || (len(in) == 1 && in[0] <= 0) {
		return nil, fmt.Errorf("%w: Embedding needs [steps] of token ids or one id per example, got %v", ErrShape, in)
	}
	init := e.Init
	if init == nil {
		init = StandardNormal
	}
	e.Table = ps.Weight("weight", []int{e.Vocab, e.Dim}, init, e.Vocab, e.Dim)
	return append(append([]int(nil), in...), e.Dim), nil
}

// Forward implements Layer. It panics on an id outside the vocabulary.
func (e *Embedding) Forward(t *autograd.Tape, x *autograd.Var) *autograd.Var {
	ids := t.AllocInt32(x.Value.Len())
	for i, v := range x.Value.Data {
		// The range test comes first: it also rejects NaN, and converting
		// an out-of-range float to int32 is implementation-defined.
		if !(v >= 0 && v < float32(e.Vocab)) || v != float32(int32(v)) {
			panic(fmt.Sprintf("nn: Embedding: token id %v at position %d of input %v is not in the vocabulary [0, %d)",
				v, i, x.Value.Shape, e.Vocab))
		}
		ids[i] = int32(v)
	}
	rows := t.Embedding(e.Table, ids)
	shape := append(append(make([]int, 0, x.Value.Rank()+1), x.Value.Shape...), e.Dim)
	return t.Reshape(rows, shape...)
}

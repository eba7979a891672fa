package nn_test

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/shoal-dl/shoal/autograd"
	"github.com/shoal-dl/shoal/autograd/autogradtest"
	"github.com/shoal-dl/shoal/nn"
	"github.com/shoal-dl/shoal/tensor"
)

func TestEmbeddingGradients(t *testing.T) {
	const vocab, dim = 5, 3
	for _, tc := range []struct {
		ids   []float64
		shape []int
	}{
		{[]float64{0, 4, 2, 2, 1, 4}, []int{2, 3}}, // repeated ids accumulate
		{[]float64{3, 0, 3}, []int{3}},
	} {
		name := fmt.Sprintf("Embedding(ids %v)", tc.shape)
		e := &nn.Embedding{Vocab: vocab, Dim: dim}
		if _, err := e.Build(tc.shape[1:], &nn.Params{}); err != nil {
			t.Fatalf("%s: Build: %v", name, err)
		}
		autogradtest.Check(t, autogradtest.Case{
			Name: name,
			Inputs: []autogradtest.Input{
				{Shape: tc.shape, Data: tc.ids},
				{Shape: []int{vocab, dim}, Grad: true},
			},
			F32: func(tp *autograd.Tape, in []*autograd.Var) *autograd.Var {
				e.Table = in[1]
				out := e.Forward(tp, in[0])
				if want := fmt.Sprint(append(append([]int(nil), tc.shape...), dim)); fmt.Sprint(out.Value.Shape) != want {
					t.Errorf("%s: output shape %v; want %s", name, out.Value.Shape, want)
				}
				return out
			},
			F64: func(in [][]float64) []float64 {
				var out []float64
				for _, id := range in[0] {
					out = append(out, in[1][int(id)*dim:(int(id)+1)*dim]...)
				}
				return out
			},
		})
	}
}

func TestEmbeddingRejectsBadIDs(t *testing.T) {
	e := &nn.Embedding{Vocab: 4, Dim: 2}
	m, err := nn.NewSequential([]int{3}, 1, e)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []float32{4, -1, 1.5, float32(math.NaN()), 1e10} {
		func() {
			defer func() {
				msg, _ := recover().(string)
				if !strings.Contains(msg, "not in the vocabulary") || !strings.Contains(msg, "position 1") {
					t.Errorf("id %v: panic %q; want one naming the vocabulary and position 1", bad, msg)
				}
			}()
			m.Predict(tensor.FromData([]float32{0, bad, 3}, 1, 3))
		}()
	}
}

func TestEmbeddingBuild(t *testing.T) {
	for _, tc := range []struct {
		e    *nn.Embedding
		in   []int
		want string // output shape, or "error"
	}{
		{&nn.Embedding{Vocab: 10, Dim: 4}, []int{7}, "[7 4]"},
		{&nn.Embedding{Vocab: 10, Dim: 4}, []int{}, "[4]"},
		{&nn.Embedding{Vocab: 10, Dim: 4}, []int{2, 3}, "error"},
		{&nn.Embedding{Vocab: 0, Dim: 4}, []int{7}, "error"},
		{&nn.Embedding{Vocab: 10}, []int{7}, "error"},
	} {
		m, err := nn.NewSequential(tc.in, 1, tc.e)
		got := "error"
		if err == nil {
			got = fmt.Sprint(m.OutputShape)
		}
		if got != tc.want {
			t.Errorf("Embedding{Vocab: %d, Dim: %d} on %v: %s (err %v); want %s", tc.e.Vocab, tc.e.Dim, tc.in, got, err, tc.want)
		}
	}
}

// Token ids, stored as float32, become rows of the embedding table.
func ExampleEmbedding() {
	e := &nn.Embedding{Vocab: 100, Dim: 16}
	m, err := nn.NewSequential([]int{5}, 1, e, &nn.LSTM{Hidden: 32}, &nn.Dense{Units: 100})
	if err != nil {
		fmt.Println(err)
		return
	}
	ids := tensor.FromData([]float32{3, 14, 15, 92, 65}, 1, 5)
	fmt.Println(m.Shapes, m.Predict(ids).Shape)
	// Output: [[5 16] [32] [100]] [1 100]
}

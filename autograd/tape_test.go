package autograd_test

import (
	"testing"

	"github.com/shoal-dl/shoal/autograd"
	"github.com/shoal-dl/shoal/tensor"
)

// chain builds x → Linear(w1,b1) → ReLU → Linear(w2,b2) → ReLU → Linear(w3,b3).
type chain struct {
	params []*autograd.Var
	grads  []float32
}

func newChain() *chain {
	sizes := []int{5, 8, 6, 3}
	c := &chain{}
	var n int
	for i := 0; i+1 < len(sizes); i++ {
		n += sizes[i]*sizes[i+1] + sizes[i+1]
	}
	vals, grads := make([]float32, n), make([]float32, n)
	for i := range vals {
		vals[i] = float32(i%7-3) / 5
	}
	off := 0
	take := func(name string, shape ...int) *autograd.Var {
		k := tensor.Volume(shape)
		v := autograd.NewParam(name, tensor.FromData(vals[off:off+k], shape...), tensor.FromData(grads[off:off+k], shape...))
		off += k
		return v
	}
	for i := 0; i+1 < len(sizes); i++ {
		c.params = append(c.params, take("w", sizes[i], sizes[i+1]), take("b", sizes[i+1]))
	}
	c.grads = grads
	return c
}

func (c *chain) loss(t *autograd.Tape, x *autograd.Var) *autograd.Var {
	h := x
	for i := 0; i < len(c.params); i += 2 {
		h = t.Linear(h, c.params[i], c.params[i+1])
		if i+2 < len(c.params) {
			h = t.ReLU(h)
		}
	}
	return t.SoftmaxCrossEntropy(h, []int32{0, 2, 1, 2})
}

func input() *autograd.Var {
	x := tensor.New(4, 5)
	for i := range x.Data {
		x.Data[i] = float32(i%5) - 1.5
	}
	return autograd.Constant(x)
}

// TestGradReadyHook checks that the hook fires once per parameter, in
// reverse order of use, and only when the gradient is already final.
func TestGradReadyHook(t *testing.T) {
	c := newChain()
	tape := autograd.NewTape(autograd.Training)
	var order []*autograd.Var
	atHook := map[*autograd.Var][]float32{}
	tape.OnGradReady(func(p *autograd.Var) {
		order = append(order, p)
		atHook[p] = append([]float32(nil), p.Grad.Data...)
	})
	tape.Backward(c.loss(tape, input()))
	if len(order) != len(c.params) {
		t.Fatalf("hook fired %d times; want %d", len(order), len(c.params))
	}
	// Layers fire last-first; within a layer the order is not specified.
	for i, p := range order {
		layer := (len(c.params) - 1 - i) / 2
		if p != c.params[2*layer] && p != c.params[2*layer+1] {
			t.Errorf("hook %d fired for a parameter of another layer than %d", i, layer)
		}
	}
	for _, p := range c.params {
		for j, g := range p.Grad.Data {
			if atHook[p][j] != g {
				t.Fatalf("gradient of %s changed after its hook fired", p.Name)
			}
		}
	}
}

// TestHookWaitsForEveryUse uses one parameter twice; its hook must fire
// after both uses have contributed.
func TestHookWaitsForEveryUse(t *testing.T) {
	w := autograd.NewParam("w", tensor.FromData([]float32{2}, 1), tensor.New(1))
	tape := autograd.NewTape(autograd.Training)
	var seen float32
	fired := 0
	tape.OnGradReady(func(p *autograd.Var) { fired++; seen = p.Grad.Data[0] })
	x := autograd.Constant(tensor.FromData([]float32{3}, 1))
	y := tape.Mul(tape.Mul(w, x), w) // y = 3w², dy/dw = 6w = 12
	tape.Backward(tape.Sum(y))
	if fired != 1 || seen != 12 {
		t.Errorf("hook fired %d times with gradient %v; want once with 12", fired, seen)
	}
}

func TestGradientsAccumulateAndTapeReuses(t *testing.T) {
	c := newChain()
	tape := autograd.NewTape(autograd.Training)
	tape.Backward(c.loss(tape, input()))
	once := append([]float32(nil), c.grads...)
	first := tape.Alloc([]int{3, 3})
	tape.Reset()
	tape.Backward(c.loss(tape, input()))
	for i := range once {
		if d := c.grads[i] - 2*once[i]; d > 1e-6 || d < -1e-6 {
			t.Fatalf("grad[%d] = %v after two passes; want %v", i, c.grads[i], 2*once[i])
		}
	}
	tape.Reset()
	tape.Backward(c.loss(tape, input()))
	again := tape.Alloc([]int{3, 3})
	if &first.Data[0] != &again.Data[0] {
		t.Errorf("the arena did not hand back the same buffer after Reset")
	}
}

// TestBackwardScaled: seeding backward with s gives s times Backward's
// gradients (exactly for a power of two).
func TestBackwardScaled(t *testing.T) {
	for _, s := range []float32{0.25, 0.3} {
		c := newChain()
		tape := autograd.NewTape(autograd.Training)
		tape.Backward(c.loss(tape, input()))
		plain := append([]float32(nil), c.grads...)
		clear(c.grads)
		tape.Reset()
		tape.BackwardScaled(c.loss(tape, input()), s)
		for i, g := range c.grads {
			want := s * plain[i]
			if d := g - want; d > 1e-6 || d < -1e-6 || (s == 0.25 && g != want) {
				t.Fatalf("s=%v: grad[%d] = %v; want %v", s, i, g, want)
			}
		}
	}
}

func TestNoGradRecordsNothing(t *testing.T) {
	c := newChain()
	for _, tape := range []*autograd.Tape{autograd.NewTape(autograd.NoGrad), nil} {
		loss := c.loss(tape, input())
		if tape.Len() != 0 || loss.RequiresGrad() {
			t.Errorf("mode %v: %d operations recorded, requiresGrad %v; want none", tape.Mode(), tape.Len(), loss.RequiresGrad())
		}
	}
	train := autograd.NewTape(autograd.Training)
	want := c.loss(train, input()).Item()
	if got := c.loss(nil, input()).Item(); got != want {
		t.Errorf("no-grad loss %v differs from training loss %v", got, want)
	}
}

func TestBackwardNeedsScalar(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Backward from a [2] variable did not panic")
		}
	}()
	tape := autograd.NewTape(autograd.Training)
	w := autograd.NewParam("w", tensor.New(2), tensor.New(2))
	tape.Backward(tape.ReLU(w))
}

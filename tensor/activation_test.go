package tensor

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// activationCases pairs each activation kernel with its reference. grad
// receives the forward input and output and passes whichever the kernel
// expects (x for ReLU and GELU, y for Tanh and Sigmoid).
var activationCases = []struct {
	name    string
	forward func(dst, x *Tensor)
	grad    func(dx, x, y, dy *Tensor)
}{
	{"ReLU", ReLU, func(dx, x, _, dy *Tensor) { ReLUGrad(dx, x, dy) }},
	{"LeakyReLU", func(dst, x *Tensor) { LeakyReLU(dst, x, 0.1) }, func(dx, x, _, dy *Tensor) { LeakyReLUGrad(dx, x, dy, 0.1) }},
	{"Tanh", Tanh, func(dx, _, y, dy *Tensor) { TanhGrad(dx, y, dy) }},
	{"Sigmoid", Sigmoid, func(dx, _, y, dy *Tensor) { SigmoidGrad(dx, y, dy) }},
	{"GELU", GELU, func(dx, x, _, dy *Tensor) { GELUGrad(dx, x, dy) }},
}

func TestActivations(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, c := range activationCases {
		u := refUnaries[c.name]
		for _, n := range sizes {
			x := New(n)
			for i := range x.Data {
				x.Data[i] = float32(u.lo + (u.hi-u.lo)*rng.Float64())
			}
			if n > 7 { // values near 0 exercise the small-argument paths
				x.Data[0], x.Data[1], x.Data[2] = 0.001, -0.03, 0
			}
			xs := to64(x.Data)
			y := New(n)
			c.forward(y, x)
			assertClose(t, fmt.Sprintf("%s/%d", c.name, n), y.Data, mapRef(xs, u.f), 1e-5)

			dy, dx := randTensor(rng, n), randTensor(rng, n)
			want := mapRef(xs, u.df)
			for i := range want {
				want[i] = float64(dx.Data[i]) + want[i]*float64(dy.Data[i])
			}
			c.grad(dx, x, y, dy)
			assertClose(t, fmt.Sprintf("%sGrad/%d", c.name, n), dx.Data, want, 1e-5)
		}
	}
}

func TestActivationsInPlace(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	for _, c := range activationCases {
		x := randTensor(rng, 7, 13)
		want := New(7, 13)
		c.forward(want, x)
		c.forward(x, x)
		assertClose(t, c.name+" in place", x.Data, to64(want.Data), 0)
	}
}

package optim

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestAdamVectorMatchesScalar: the assembly kernel (where the CPU has one)
// and the Go loop give the same bits, including for gradients that drive
// the moments into the subnormal range.
func TestAdamVectorMatchesScalar(t *testing.T) {
	for _, n := range []int{1, 15, 16, 17, 100, 1000, 4099} {
		rng := rand.New(rand.NewPCG(uint64(n), 1))
		p0, g0 := make([]float32, n), make([]float32, n)
		for i := range p0 {
			p0[i] = float32(rng.NormFloat64())
			switch i % 4 {
			case 0:
				g0[i] = float32(rng.NormFloat64())
			case 1:
				g0[i] = float32(rng.NormFloat64() * 1e-19) // g² is subnormal
			case 2:
				g0[i] = 0
			default:
				g0[i] = float32(rng.NormFloat64() * 1e-3)
			}
		}
		run := func(scalar bool) ([]float32, []float32) {
			adamScalarOnly = scalar
			defer func() { adamScalarOnly = false }()
			p, g := append([]float32(nil), p0...), append([]float32(nil), g0...)
			o, err := NewAdam(n, Config{LR: 0.01, Threads: 1})
			if err != nil {
				t.Fatal(err)
			}
			for step := 0; step < 30; step++ {
				if step > 5 {
					clear(g[:n/2]) // let the first moments decay towards zero
				}
				o.Step(p, g)
			}
			return p, o.State()
		}
		pv, sv := run(false)
		ps, ss := run(true)
		for i := range pv {
			if math.Float32bits(pv[i]) != math.Float32bits(ps[i]) {
				t.Fatalf("n=%d: param %d = %v (vector) vs %v (scalar)", n, i, pv[i], ps[i])
			}
		}
		for i := range sv {
			if math.Float32bits(sv[i]) != math.Float32bits(ss[i]) {
				t.Fatalf("n=%d: state %d = %v (vector) vs %v (scalar)", n, i, sv[i], ss[i])
			}
		}
	}
}

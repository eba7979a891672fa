package optim

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestAdamVectorMatchesScalar: each assembly kernel the CPU has and the Go
// loop give the same bits, including for gradients that drive the moments
// into the subnormal range; a NaN gradient makes the same elements NaN.
func TestAdamVectorMatchesScalar(t *testing.T) {
	for _, kernel := range vectorKernels() {
		t.Run(kernel.name, func(t *testing.T) {
			defer kernel.use()()
			testAdamVectorMatchesScalar(t)
		})
	}
}

// adamVariants are Adam without weight decay, with L2 decay and AdamW's
// decoupled decay, each with a mask that leaves some elements undecayed.
var adamVariants = []struct {
	name string
	make func(n int, cfg Config) (Optimizer, error)
	wd   float64
}{
	{"adam", func(n int, cfg Config) (Optimizer, error) { return NewAdam(n, cfg) }, 0},
	{"adam-l2", func(n int, cfg Config) (Optimizer, error) { return NewAdam(n, cfg) }, 0.05},
	{"adamw", func(n int, cfg Config) (Optimizer, error) { return NewAdamW(n, cfg) }, 0.05},
}

func testAdamVectorMatchesScalar(t *testing.T) {
	for _, variant := range adamVariants {
		for _, n := range []int{1, 7, 8, 9, 15, 16, 17, 100, 1000, 4099} {
			testAdamVariant(t, variant.name, variant.make, variant.wd, n)
		}
	}
}

func testAdamVariant(t *testing.T, name string, newOpt func(int, Config) (Optimizer, error), wd float64, n int) {
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
			g0[i] = float32(math.Copysign(0, float64(i%8-4))) // ±0
		default:
			g0[i] = float32(rng.NormFloat64() * 1e-3)
		}
	}
	if n > 50 {
		g0[41] = float32(math.NaN())
	}
	run := func(scalar bool) ([]float32, []float32) {
		adamScalarOnly = scalar
		defer func() { adamScalarOnly = false }()
		p, g := append([]float32(nil), p0...), append([]float32(nil), g0...)
		mask := make([]bool, n)
		for i := range mask {
			mask[i] = i < n/3 || i > n/2 // decayed but for a middle span
		}
		o, err := newOpt(n, Config{LR: 0.01, Threads: 1, WeightDecay: wd, DecayMask: mask})
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
		if !sameFloat(pv[i], ps[i]) {
			t.Fatalf("%s n=%d: param %d = %v (vector) vs %v (scalar)", name, n, i, pv[i], ps[i])
		}
	}
	for i := range sv {
		if !sameFloat(sv[i], ss[i]) {
			t.Fatalf("%s n=%d: state %d = %v (vector) vs %v (scalar)", name, n, i, sv[i], ss[i])
		}
	}
	if n > 50 && !math.IsNaN(float64(pv[41])) {
		t.Fatalf("%s n=%d: a NaN gradient left param 41 = %v", name, n, pv[41])
	}
}

// sameFloat: the same bits, or both NaN (whose payloads may differ).
func sameFloat(a, b float32) bool {
	if a != a && b != b {
		return true
	}
	return math.Float32bits(a) == math.Float32bits(b)
}

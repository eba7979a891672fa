package optim

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestVectorMatchesScalar: each assembly kernel the CPU has and the Go
// loop give the same bits, for Adam, AdamW, SGD with momentum and RMSProp,
// including for gradients that drive the state into the subnormal range;
// a NaN gradient makes the same elements NaN.
func TestVectorMatchesScalar(t *testing.T) {
	for _, kernel := range vectorKernels() {
		t.Run(kernel.name, func(t *testing.T) {
			defer kernel.use()()
			for _, v := range vectorVariants {
				for _, n := range []int{1, 7, 8, 9, 15, 16, 17, 100, 1000, 4099} {
					testVariant(t, v.name, v.kind, v.cfg, n)
				}
			}
		})
	}
}

// vectorVariants are the optimizers with vector kernels, with and without
// weight decay (a mask leaves some elements undecayed), and RMSProp's
// variants that the Go loop alone runs.
var vectorVariants = []struct {
	name, kind string
	cfg        Config
}{
	{"adam", "adam", Config{}},
	{"adam-l2", "adam", Config{WeightDecay: 0.05}},
	{"adamw", "adamw", Config{WeightDecay: 0.05}},
	{"sgd-momentum", "sgd", Config{Momentum: 0.9}},
	{"sgd-momentum-l2", "sgd", Config{Momentum: 0.9, WeightDecay: 0.05}},
	{"sgd-nesterov-l2", "sgd", Config{Momentum: 0.8, Nesterov: true, WeightDecay: 0.05}},
	{"rmsprop", "rmsprop", Config{}},
	{"rmsprop-l2", "rmsprop", Config{WeightDecay: 0.05}},
	{"rmsprop-momentum-centered", "rmsprop", Config{Momentum: 0.5, Centered: true}},
}

func testVariant(t *testing.T, name, kind string, cfg Config, n int) {
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
		scalarOnly = scalar
		defer func() { scalarOnly = false }()
		p, g := append([]float32(nil), p0...), append([]float32(nil), g0...)
		mask := make([]bool, n)
		for i := range mask {
			mask[i] = i < n/3 || i > n/2 // decayed but for a middle span
		}
		cfg := cfg
		cfg.LR, cfg.Threads, cfg.DecayMask = 0.01, 1, mask
		o, err := New(kind, n, cfg)
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

package optim

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name  string
		cfg   Config
		field string // "" means valid
		msg   string
	}{
		{"defaults", Config{}, "", ""},
		{"full", Config{LR: 0.1, Momentum: 0.9, Nesterov: true, Rho: 0.9, Centered: true, Beta1: 0.5, Beta2: 0.9, Eps: 1e-6, WeightDecay: 1e-4, Threads: 4}, "", ""},
		{"negative lr", Config{LR: -1}, "LR", "optim: learning rate -1 must be finite and >= 0"},
		{"nan lr", Config{LR: math.NaN()}, "LR", "learning rate NaN"},
		{"inf lr", Config{LR: math.Inf(1)}, "LR", "learning rate +Inf"},
		{"negative momentum", Config{Momentum: -0.5}, "Momentum", "optim: momentum -0.5 out of range [0, 1)"},
		{"momentum one", Config{Momentum: 1}, "Momentum", "momentum 1 out of range [0, 1)"},
		{"nesterov without momentum", Config{Nesterov: true}, "Nesterov", "optim: nesterov momentum needs momentum > 0"},
		{"rho one", Config{Rho: 1}, "Rho", "optim: rho 1 out of range (0, 1)"},
		{"negative rho", Config{Rho: -0.1}, "Rho", "rho -0.1 out of range"},
		{"beta1 too big", Config{Beta1: 1.5}, "Beta1", "optim: beta1 1.5 out of range (0, 1)"},
		{"beta2 one", Config{Beta2: 1}, "Beta2", "optim: beta2 1 out of range (0, 1)"},
		{"negative eps", Config{Eps: -1e-8}, "Eps", "optim: eps -1e-08 must be finite and > 0"},
		{"negative decay", Config{WeightDecay: -0.01}, "WeightDecay", "optim: weight decay -0.01 must be finite and >= 0"},
		{"negative threads", Config{Threads: -2}, "Threads", "optim: threads -2 must be >= 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			err := cfg.EnsureDefaults().Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Validate(%+v) = %v; want nil", cfg, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate(%+v) = nil; want an error about %s", cfg, tt.field)
			}
			if !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("errors.Is(%v, ErrInvalidConfig) = false", err)
			}
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Field != tt.field {
				t.Errorf("Validate error %v names field %v; want %s", err, ce, tt.field)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("Validate error %q; want it to contain %q", err, tt.msg)
			}
		})
	}
}

func TestEnsureDefaults(t *testing.T) {
	var c Config
	c.EnsureDefaults()
	if c.LR != DefaultLR || c.Rho != DefaultRho || c.Beta1 != DefaultBeta1 || c.Beta2 != DefaultBeta2 || c.Eps != DefaultEps || c.Threads < 1 {
		t.Errorf("EnsureDefaults() = %+v; want the documented defaults", c)
	}
	set := Config{LR: 0.5, Rho: 0.9, Beta1: 0.8, Beta2: 0.95, Eps: 1e-3, Threads: 3}
	got := set
	got.EnsureDefaults()
	if got.LR != set.LR || got.Rho != set.Rho || got.Beta1 != set.Beta1 || got.Beta2 != set.Beta2 || got.Eps != set.Eps || got.Threads != set.Threads {
		t.Errorf("EnsureDefaults changed set fields: %+v; want %+v", got, set)
	}
}

func TestNew(t *testing.T) {
	for _, name := range Names() {
		o, err := New(name, 10, Config{LR: 0.25, Momentum: 0.5})
		if err != nil {
			t.Fatalf("New(%q): %v", name, err)
		}
		if o.LR() != 0.25 {
			t.Errorf("New(%q).LR() = %g; want 0.25", name, o.LR())
		}
	}
	_, err := New("adagrad", 10, Config{})
	if !errors.Is(err, ErrUnknownOptimizer) {
		t.Fatalf("New(adagrad) error = %v; want ErrUnknownOptimizer", err)
	}
	for _, name := range []string{"sgd", "rmsprop", "adam", "adamw"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("New(adagrad) error %q does not list %q", err, name)
		}
	}
	if _, err := New("sgd", 10, Config{Momentum: 2}); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("New with momentum 2: error = %v; want ErrInvalidConfig", err)
	}
	if _, err := New("adam", 10, Config{DecayMask: make([]bool, 9)}); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("New with a 9-entry mask for 10 params: error = %v; want ErrInvalidConfig", err)
	}
	if _, err := New("adam", -1, Config{}); err == nil {
		t.Errorf("New with length -1: error = nil")
	}
}

func TestStateLayout(t *testing.T) {
	const n = 10
	tests := []struct {
		kind string
		cfg  Config
		want int
	}{
		{"sgd", Config{}, 0},
		{"sgd", Config{Momentum: 0.9}, n},
		{"rmsprop", Config{}, n},
		{"rmsprop", Config{Momentum: 0.9}, 2 * n},
		{"rmsprop", Config{Momentum: 0.9, Centered: true}, 3 * n},
		{"adam", Config{}, 2 * n},
		{"adamw", Config{}, 2 * n},
	}
	for _, tt := range tests {
		o, err := New(tt.kind, n, tt.cfg)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(o.State()); got != tt.want {
			t.Errorf("%s %+v: len(State()) = %d; want %d", tt.kind, tt.cfg, got, tt.want)
		}
	}
}

func TestStepPanicsOnLengthMismatch(t *testing.T) {
	for _, name := range Names() {
		o, err := New(name, 4, Config{})
		if err != nil {
			t.Fatal(err)
		}
		func() {
			defer func() {
				r := recover()
				if r == nil || !strings.Contains(r.(string), "length 4") {
					t.Errorf("%s: Step with 3 params: recover() = %v; want a panic naming length 4", name, r)
				}
			}()
			o.Step(make([]float32, 3), make([]float32, 4))
		}()
	}
}

func TestSetLRAndSteps(t *testing.T) {
	o, err := NewSGD(3, Config{LR: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	o.SetLR(0)
	if o.LR() != 0 {
		t.Errorf("LR() after SetLR(0) = %g", o.LR())
	}
	o.SetSteps(41)
	o.Step(make([]float32, 3), make([]float32, 3))
	if o.Steps() != 42 {
		t.Errorf("Steps() = %d; want 42", o.Steps())
	}
	for _, f := range []func(){func() { o.SetLR(-1) }, func() { o.SetLR(math.NaN()) }, func() { o.SetSteps(-1) }} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("no panic for an invalid SetLR/SetSteps")
				}
			}()
			f()
		}()
	}
}

// TestNesterov checks the first two steps under a constant gradient g in
// closed form: plain momentum moves by lr·g then lr·(1+μ)·g; Nesterov by
// lr·(1+μ)·g then lr·(1+μ+μ²)·g.
func TestNesterov(t *testing.T) {
	const lr, mu, g = 0.1, 0.5, 2.0
	tests := []struct {
		nesterov bool
		want     [2]float64 // params after steps 1 and 2, from 0
	}{
		{false, [2]float64{-lr * g, -lr*g - lr*(1+mu)*g}},
		{true, [2]float64{-lr * (1 + mu) * g, -lr*(1+mu)*g - lr*(1+mu+mu*mu)*g}},
	}
	for _, tt := range tests {
		o, err := NewSGD(1, Config{LR: lr, Momentum: mu, Nesterov: tt.nesterov})
		if err != nil {
			t.Fatal(err)
		}
		p := []float32{0}
		for s, want := range tt.want {
			o.Step(p, []float32{g})
			if math.Abs(float64(p[0])-want) > 1e-6 {
				t.Errorf("nesterov=%v: param after step %d = %g; want %g", tt.nesterov, s+1, p[0], want)
			}
		}
	}
}

// TestWeightDecay checks each kind of decay in closed form with zero
// gradients, where only the decay moves the parameters, and that masked
// elements stay put.
func TestWeightDecay(t *testing.T) {
	const lr, wd = 0.1, 0.5
	p0 := []float32{2, -3, 0.5, -0.25}
	mask := []bool{true, false, true, false}
	sign := func(x float32) float64 { return math.Copysign(1, float64(x)) }
	tests := []struct {
		kind string
		cfg  Config
		want func(p float32) float64 // param after one step from p
	}{
		// L2 in the gradient: SGD shrinks by lr·wd·p.
		{"sgd", Config{}, func(p float32) float64 { return float64(p) * (1 - lr*wd) }},
		// RMSProp's first step divides g = wd·p by √(1−ρ)·|g|.
		{"rmsprop", Config{}, func(p float32) float64 { return float64(p) - lr*sign(p)/math.Sqrt(1-DefaultRho) }},
		// Adam's first step normalises g = wd·p to its sign: a move of lr.
		{"adam", Config{}, func(p float32) float64 { return float64(p) - lr*sign(p) }},
		// AdamW decays the parameter directly; the zero gradient adds nothing.
		{"adamw", Config{}, func(p float32) float64 { return float64(p) * (1 - lr*wd) }},
	}
	for _, tt := range tests {
		for _, masked := range []bool{false, true} {
			cfg := tt.cfg
			cfg.LR, cfg.WeightDecay = lr, wd
			if masked {
				cfg.DecayMask = mask
			}
			o, err := New(tt.kind, len(p0), cfg)
			if err != nil {
				t.Fatal(err)
			}
			p := append([]float32(nil), p0...)
			o.Step(p, make([]float32, len(p)))
			for i := range p {
				want := tt.want(p0[i])
				if masked && !mask[i] {
					want = float64(p0[i])
				}
				if math.Abs(float64(p[i])-want) > 1e-5*math.Abs(want) {
					t.Errorf("%s masked=%v: param %g after one step = %g; want %g", tt.kind, masked, p0[i], p[i], want)
				}
			}
		}
	}
}

// quadratic is f(x) = ½·Σ aᵢ(xᵢ − cᵢ)², with curvatures a in [0.5, 2].
type quadratic struct{ a, c []float32 }

func newQuadratic(rng *rand.Rand, n int) quadratic {
	q := quadratic{make([]float32, n), make([]float32, n)}
	for i := range n {
		q.a[i] = float32(0.5 + 1.5*rng.Float64())
		q.c[i] = float32(rng.NormFloat64())
	}
	return q
}

func (q quadratic) grad(x, g []float32) {
	for i := range x {
		g[i] = q.a[i] * (x[i] - q.c[i])
	}
}

func TestConvergenceQuadratic(t *testing.T) {
	const n, steps = 64, 1000
	tests := []struct {
		kind string
		cfg  Config
	}{
		{"sgd", Config{LR: 0.1}},
		{"sgd", Config{LR: 0.05, Momentum: 0.9}},
		{"sgd", Config{LR: 0.05, Momentum: 0.9, Nesterov: true}},
		{"rmsprop", Config{LR: 0.01}},
		{"rmsprop", Config{LR: 0.01, Momentum: 0.5, Centered: true}},
		{"adam", Config{LR: 0.05}},
		{"adamw", Config{LR: 0.05}},
	}
	for _, tt := range tests {
		rng := rand.New(rand.NewPCG(1, 2))
		q := newQuadratic(rng, n)
		o, err := New(tt.kind, n, tt.cfg)
		if err != nil {
			t.Fatal(err)
		}
		// Cosine annealing lets the adaptive methods settle instead of
		// hovering at a distance proportional to the learning rate.
		sched := Cosine{Base: tt.cfg.LR, Min: 0, Total: steps}
		x, g := make([]float32, n), make([]float32, n)
		for range steps {
			q.grad(x, g)
			o.SetLR(sched.LR(o.Steps()))
			o.Step(x, g)
		}
		var worst float64
		for i := range x {
			worst = math.Max(worst, math.Abs(float64(x[i]-q.c[i])))
		}
		if worst > 1e-3 {
			t.Errorf("%s %+v: max |x − c| = %.3g after %d steps; want <= 1e-3", tt.kind, tt.cfg, worst, steps)
		}
	}
}

// rosenbrock returns f(x, y) = (1−x)² + 100(y−x²)² and writes its gradient.
func rosenbrock(p, g []float32) float64 {
	x, y := float64(p[0]), float64(p[1])
	g[0] = float32(-2*(1-x) - 400*x*(y-x*x))
	g[1] = float32(200 * (y - x*x))
	return (1-x)*(1-x) + 100*(y-x*x)*(y-x*x)
}

func TestConvergenceRosenbrock(t *testing.T) {
	steps := 20000
	tests := []struct {
		kind string
		cfg  Config
	}{
		{"sgd", Config{LR: 1e-3, Momentum: 0.9}},
		{"sgd", Config{LR: 1e-3, Momentum: 0.9, Nesterov: true}},
		{"rmsprop", Config{LR: 1e-3, Momentum: 0.9}},
		{"adam", Config{LR: 2e-2}},
		{"adamw", Config{LR: 2e-2}},
	}
	for _, tt := range tests {
		o, err := New(tt.kind, 2, tt.cfg)
		if err != nil {
			t.Fatal(err)
		}
		sched := Cosine{Base: tt.cfg.LR, Total: int64(steps)}
		p, g := []float32{-1.2, 1}, make([]float32, 2)
		f0 := rosenbrock(p, g)
		for range steps {
			rosenbrock(p, g)
			o.SetLR(sched.LR(o.Steps()))
			o.Step(p, g)
		}
		f := rosenbrock(p, g)
		if d := math.Hypot(float64(p[0])-1, float64(p[1])-1); d > 1e-2 || !(f < f0) {
			t.Errorf("%s %+v: Rosenbrock ends at (%g, %g), f = %.3g (from %.3g); want within 1e-2 of (1, 1)", tt.kind, tt.cfg, p[0], p[1], f, f0)
		}
	}
}

func TestDecaySpansWalk(t *testing.T) {
	mask := []bool{false, true, true, false, false, true, false, true}
	d := newDecaySpans(mask)
	for lo := 0; lo <= len(mask); lo++ {
		for hi := lo; hi <= len(mask); hi++ {
			got := make([]bool, len(mask))
			covered := make([]int, len(mask))
			next := lo
			d.walk(lo, hi, func(a, b int, decayed bool) {
				if a != next || b <= a {
					t.Errorf("walk(%d, %d) gave piece [%d, %d); want a non-empty piece from %d", lo, hi, a, b, next)
				}
				next = b
				for i := a; i < b; i++ {
					got[i] = decayed
					covered[i]++
				}
			})
			if lo < hi && next != hi {
				t.Errorf("walk(%d, %d) stopped at %d", lo, hi, next)
			}
			for i := lo; i < hi; i++ {
				if covered[i] != 1 || got[i] != mask[i] {
					t.Errorf("walk(%d, %d): element %d covered %d times, decayed=%v; want once, %v", lo, hi, i, covered[i], got[i], mask[i])
				}
			}
		}
	}
}

// TestStepAllocs checks that a Step on a chunked arena allocates nothing.
func TestStepAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	n := 2*minChunk + 100
	rng := rand.New(rand.NewPCG(5, 5))
	for _, tc := range optimizerCases() {
		o, _ := tc.build(t, n, 2, rng)
		p, g := randomSlice(rng, n, 1), randomSlice(rng, n, 1)
		o.Step(p, g) // first goroutines may allocate their descriptors
		if allocs := testing.AllocsPerRun(20, func() { o.Step(p, g) }); allocs != 0 {
			t.Errorf("%s: Step allocates %.1f times; want 0", tc.name, allocs)
		}
	}
}

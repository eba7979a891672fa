package optim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// refOptimizer is the float64 oracle: the textbook form of each update rule
// (PyTorch's documented algorithms), one element at a time, no chunks.
type refOptimizer struct {
	kind string
	cfg  Config // after EnsureDefaults
	t    int
	// state, by name; nil when the variant has none
	buf, sq, avg, m, v []float64
}

func newRef(kind string, n int, cfg Config) *refOptimizer {
	cfg.EnsureDefaults()
	r := &refOptimizer{kind: kind, cfg: cfg}
	switch kind {
	case "sgd":
		if cfg.Momentum > 0 {
			r.buf = make([]float64, n)
		}
	case "rmsprop":
		r.sq = make([]float64, n)
		if cfg.Momentum > 0 {
			r.buf = make([]float64, n)
		}
		if cfg.Centered {
			r.avg = make([]float64, n)
		}
	case "adam", "adamw":
		r.m, r.v = make([]float64, n), make([]float64, n)
	}
	return r
}

// state returns the reference state in the layout the optimizer documents.
func (r *refOptimizer) state() []float64 {
	var s []float64
	for _, part := range [][]float64{r.sq, r.buf, r.avg, r.m, r.v} {
		s = append(s, part...)
	}
	return s
}

func (r *refOptimizer) step(p, grad []float64, lr float64) {
	c := r.cfg
	r.t++
	bc1 := 1 - math.Pow(c.Beta1, float64(r.t))
	bc2 := 1 - math.Pow(c.Beta2, float64(r.t))
	for i := range p {
		wd := c.WeightDecay
		if c.DecayMask != nil && !c.DecayMask[i] {
			wd = 0
		}
		g := grad[i]
		if r.kind == "adamw" {
			p[i] *= 1 - lr*wd
		} else {
			g += wd * p[i]
		}
		switch r.kind {
		case "sgd":
			d := g
			if c.Momentum > 0 {
				if r.t == 1 {
					r.buf[i] = g
				} else {
					r.buf[i] = c.Momentum*r.buf[i] + g
				}
				if c.Nesterov {
					d = g + c.Momentum*r.buf[i]
				} else {
					d = r.buf[i]
				}
			}
			p[i] -= lr * d
		case "rmsprop":
			r.sq[i] = c.Rho*r.sq[i] + (1-c.Rho)*g*g
			msq := r.sq[i]
			if c.Centered {
				r.avg[i] = c.Rho*r.avg[i] + (1-c.Rho)*g
				msq -= r.avg[i] * r.avg[i]
			}
			den := math.Sqrt(msq) + c.Eps
			if c.Momentum > 0 {
				r.buf[i] = c.Momentum*r.buf[i] + g/den
				p[i] -= lr * r.buf[i]
			} else {
				p[i] -= lr * g / den
			}
		case "adam", "adamw":
			r.m[i] = c.Beta1*r.m[i] + (1-c.Beta1)*g
			r.v[i] = c.Beta2*r.v[i] + (1-c.Beta2)*g*g
			mhat := r.m[i] / bc1
			vhat := r.v[i] / bc2
			p[i] -= lr * mhat / (math.Sqrt(vhat) + c.Eps)
		}
	}
}

// randomMask returns a mask of alternating runs of random length.
func randomMask(rng *rand.Rand, n int) []bool {
	mask := make([]bool, n)
	on := rng.IntN(2) == 0
	for i := 0; i < n; {
		run := 1 + rng.IntN(40)
		for j := i; j < min(i+run, n); j++ {
			mask[j] = on
		}
		i += run
		on = !on
	}
	return mask
}

func randomSlice(rng *rand.Rand, n int, scale float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64() * scale)
	}
	return x
}

func widen(x []float32) []float64 {
	y := make([]float64, len(x))
	for i, v := range x {
		y[i] = float64(v)
	}
	return y
}

// maxRelErr returns max |got−want| / max(|want|, rms(want)): the relative
// error of each element, with elements much smaller than the vector's
// typical size (sums that cancelled) measured against that size, since
// float32 rounding is relative to the terms that were added, not the sum.
func maxRelErr(got []float32, want []float64) (float64, int) {
	var ss float64
	for _, w := range want {
		ss += w * w
	}
	floor := math.Sqrt(ss / float64(max(len(want), 1)))
	worst, at := 0.0, -1
	for i := range want {
		e := math.Abs(float64(got[i])-want[i]) / math.Max(math.Abs(want[i]), floor)
		if !(e <= worst) {
			worst, at = e, i
		}
	}
	return worst, at
}

// optimizerCase is one optimizer variant exercised by the table tests.
type optimizerCase struct {
	name string
	kind string
	cfg  Config
	mask bool // use a random decay mask
}

func optimizerCases() []optimizerCase {
	return []optimizerCase{
		{"sgd", "sgd", Config{LR: 0.1}, false},
		{"sgd/l2", "sgd", Config{LR: 0.1, WeightDecay: 0.05}, false},
		{"sgd/momentum", "sgd", Config{LR: 0.05, Momentum: 0.9}, false},
		{"sgd/nesterov", "sgd", Config{LR: 0.05, Momentum: 0.9, Nesterov: true}, false},
		{"sgd/nesterov/l2/mask", "sgd", Config{LR: 0.05, Momentum: 0.8, Nesterov: true, WeightDecay: 0.1}, true},
		{"rmsprop", "rmsprop", Config{LR: 0.01}, false},
		{"rmsprop/keras-defaults", "rmsprop", Config{LR: 0.001, Rho: 0.9, Eps: 1e-7}, false},
		{"rmsprop/momentum", "rmsprop", Config{LR: 0.01, Momentum: 0.9}, false},
		{"rmsprop/centered", "rmsprop", Config{LR: 0.01, Centered: true}, false},
		{"rmsprop/centered/momentum/l2/mask", "rmsprop", Config{LR: 0.01, Centered: true, Momentum: 0.5, WeightDecay: 0.1}, true},
		{"adam", "adam", Config{LR: 0.01}, false},
		{"adam/betas", "adam", Config{LR: 0.02, Beta1: 0.8, Beta2: 0.99, Eps: 1e-6}, false},
		{"adam/l2", "adam", Config{LR: 0.01, WeightDecay: 0.1}, false},
		{"adam/l2/mask", "adam", Config{LR: 0.01, WeightDecay: 0.1}, true},
		{"adamw", "adamw", Config{LR: 0.01, WeightDecay: 0.1}, false},
		{"adamw/mask", "adamw", Config{LR: 0.01, WeightDecay: 0.3}, true},
	}
}

// build returns the optimizer of tc for n elements, with the mask drawn
// from rng when tc asks for one.
func (tc optimizerCase) build(t testing.TB, n, threads int, rng *rand.Rand) (Optimizer, Config) {
	t.Helper()
	cfg := tc.cfg
	cfg.Threads = threads
	if tc.mask {
		cfg.DecayMask = randomMask(rng, n)
	}
	o, err := New(tc.kind, n, cfg)
	if err != nil {
		t.Fatalf("New(%q, %d, %+v): %v", tc.kind, n, cfg, err)
	}
	return o, cfg
}

// TestAgainstReference runs every variant for 12 steps on random data,
// changing the learning rate midway, and checks parameters and state
// against the float64 oracle.
func TestAgainstReference(t *testing.T) {
	const steps = 12
	withSmallChunks(t)
	sizes := []int{1, 7, 1037, 3*minChunk + 77} // the last one is chunked
	for _, tc := range optimizerCases() {
		for _, n := range sizes {
			t.Run(fmt.Sprintf("%s/n=%d", tc.name, n), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(uint64(n), 42))
				o, cfg := tc.build(t, n, 3, rng)
				ref := newRef(tc.kind, n, cfg)
				params := randomSlice(rng, n, 1)
				want := widen(params)
				for s := range steps {
					if s == steps/2 {
						o.SetLR(o.LR() / 2)
					}
					grads := randomSlice(rng, n, 1)
					ref.step(want, widen(grads), o.LR())
					o.Step(params, grads)
				}
				if got := o.Steps(); got != steps {
					t.Errorf("Steps() = %d; want %d", got, steps)
				}
				if e, i := maxRelErr(params, want); e > 1e-5 {
					t.Errorf("params[%d] = %g; want %g (relative error %.3g > 1e-5)", i, params[i], want[i], e)
				}
				refState := ref.state()
				state := o.State()
				if len(state) != len(refState) {
					t.Fatalf("len(State()) = %d; want %d", len(state), len(refState))
				}
				if e, i := maxRelErr(state, refState); e > 1e-5 {
					t.Errorf("State()[%d] = %g; want %g (relative error %.3g > 1e-5)", i, state[i], refState[i], e)
				}
			})
		}
	}
}

// TestThreadsBitIdentical checks that the chunked update gives the same
// bits for every thread count, masks included.
func TestThreadsBitIdentical(t *testing.T) {
	withSmallChunks(t)
	n := 5*minChunk + 123
	for _, tc := range optimizerCases() {
		t.Run(tc.name, func(t *testing.T) {
			var wantParams, wantState []float32
			for _, threads := range []int{1, 2, 3, 4, 7} {
				rng := rand.New(rand.NewPCG(7, 7)) // same mask, params and grads for every thread count
				o, _ := tc.build(t, n, threads, rng)
				if chunks := runnerOf(o).chunks(); threads > 1 && chunks < 2 {
					t.Fatalf("threads %d: %d chunk(s); want the chunked path", threads, chunks)
				}
				params := randomSlice(rng, n, 1)
				for range 4 {
					o.Step(params, randomSlice(rng, n, 1))
				}
				if wantParams == nil {
					wantParams, wantState = params, append([]float32(nil), o.State()...)
					continue
				}
				if i := firstBitDiff(params, wantParams); i >= 0 {
					t.Errorf("threads %d: params[%d] = %x; want %x as with 1 thread", threads, i, math.Float32bits(params[i]), math.Float32bits(wantParams[i]))
				}
				if i := firstBitDiff(o.State(), wantState); i >= 0 {
					t.Errorf("threads %d: State()[%d] differs from 1 thread", threads, i)
				}
			}
		})
	}
}

// withSmallChunks lowers the chunking thresholds for the rest of the test,
// so that small arenas take the chunked path.
func withSmallChunks(t *testing.T) {
	oldMin, oldChunk := parallelMin, minChunk
	parallelMin, minChunk = 2048, 1024
	t.Cleanup(func() { parallelMin, minChunk = oldMin, oldChunk })
}

func runnerOf(o Optimizer) *chunkRunner {
	switch o := o.(type) {
	case *SGD:
		return o.run
	case *RMSProp:
		return o.run
	case *Adam:
		return o.run
	case *AdamW:
		return o.run
	}
	panic(fmt.Sprintf("runnerOf(%T)", o))
}

// firstBitDiff returns the first index where a and b differ bitwise, or -1.
func firstBitDiff(a, b []float32) int {
	if len(a) != len(b) {
		return 0
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return i
		}
	}
	return -1
}

// TestResume saves the state after k steps, restores it into a fresh
// optimizer and checks that the continuation is bit-identical to an
// uninterrupted run.
func TestResume(t *testing.T) {
	const n, k, more = 2000, 5, 6
	for _, tc := range optimizerCases() {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(3, 9))
			mask := randomMask(rng, n)
			build := func() Optimizer {
				cfg := tc.cfg
				if tc.mask {
					cfg.DecayMask = mask
				}
				o, err := New(tc.kind, n, cfg)
				if err != nil {
					t.Fatal(err)
				}
				return o
			}
			grads := make([][]float32, k+more)
			for i := range grads {
				grads[i] = randomSlice(rng, n, 1)
			}
			start := randomSlice(rng, n, 1)

			whole := build()
			wholeParams := append([]float32(nil), start...)
			for i := range k + more {
				whole.Step(wholeParams, grads[i])
			}

			first := build()
			params := append([]float32(nil), start...)
			for i := range k {
				first.Step(params, grads[i])
			}
			savedState := append([]float32(nil), first.State()...)
			savedSteps := first.Steps()

			resumed := build()
			if got := copy(resumed.State(), savedState); got != len(savedState) {
				t.Fatalf("restored %d state values; want %d", got, len(savedState))
			}
			resumed.SetSteps(savedSteps)
			for i := k; i < k+more; i++ {
				resumed.Step(params, grads[i])
			}
			if resumed.Steps() != whole.Steps() {
				t.Errorf("Steps() after resume = %d; want %d", resumed.Steps(), whole.Steps())
			}
			if i := firstBitDiff(params, wholeParams); i >= 0 {
				t.Errorf("resumed params[%d] = %g; uninterrupted %g", i, params[i], wholeParams[i])
			}
			if i := firstBitDiff(resumed.State(), whole.State()); i >= 0 {
				t.Errorf("resumed State()[%d] differs from uninterrupted run", i)
			}
		})
	}
}

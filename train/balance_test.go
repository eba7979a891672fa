package train

import (
	"context"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/shoal-dl/shoal/collective"
	"github.com/shoal-dl/shoal/collective/collectivetest"
	"github.com/shoal-dl/shoal/data"
	"github.com/shoal-dl/shoal/nn"
)

func TestBalanceBatches(t *testing.T) {
	for _, c := range []struct {
		global int
		speeds []float64
		want   []int
	}{
		{64, []float64{1, 1}, []int{32, 32}},
		{64, []float64{2, 1}, []int{43, 21}},
		{64, []float64{1, 2}, []int{21, 43}},
		{10, []float64{1, 1, 1}, []int{4, 3, 3}},
		{4, []float64{1000, 1, 1, 1}, []int{1, 1, 1, 1}},
		{5, []float64{1000, 1, 1}, []int{3, 1, 1}},
		{64, []float64{0, 5}, []int{32, 32}},           // unknown speed: even split
		{64, []float64{math.Inf(1), 5}, []int{32, 32}}, // nonsense: even split
		{128, []float64{3000, 1000, 1000, 0.5}, []int{77, 25, 25, 1}},
	} {
		got, err := BalanceBatches(c.global, c.speeds)
		if err != nil {
			t.Errorf("BalanceBatches(%d, %v): %v", c.global, c.speeds, err)
			continue
		}
		sum := 0
		for _, b := range got {
			sum += b
		}
		if sum != c.global || !slices.Equal(got, c.want) {
			t.Errorf("BalanceBatches(%d, %v) = %v (sum %d); want %v", c.global, c.speeds, got, sum, c.want)
		}
	}
	if _, err := BalanceBatches(2, []float64{1, 1, 1}); err == nil {
		t.Error("BalanceBatches(2, three workers) gave no error; want one: each worker needs an example")
	}
}

// TestWeightedAllReduceEquivalence is the oracle of --balance: workers with
// batches of different sizes, their gradients weighted by batch size, end
// with the weights of one worker taking the whole global batch.
func TestWeightedAllReduceEquivalence(t *testing.T) {
	const steps = 20
	for _, sizes := range [][]int{{3, 13}, {10, 2, 4}} {
		global := 0
		for _, b := range sizes {
			global += b
		}
		x, labels := equivalenceData(global*steps, 11)
		ref, opt := equivalenceModel(t, 1)
		tr, err := New(ref, Options{Optimizer: opt})
		if err != nil {
			t.Fatal(err)
		}
		for step := range steps {
			if _, err := tr.Step(context.Background(), batchOf(x, labels, step*global, (step+1)*global)); err != nil {
				t.Fatal(err)
			}
		}
		for _, transport := range []string{collective.TransportTCP, collective.TransportSHM} {
			weightedAllReduce(t, collectivetest.Config{Transport: transport}, sizes, steps, x, labels, ref.Values())
		}
	}
}

// weightedAllReduce trains workers with batches of sizes over communicators
// built with cfg and compares every rank's weights with want.
func weightedAllReduce(t *testing.T, cfg collectivetest.Config, sizes []int, steps int, x []float32, labels []int32, want []float32) {
	t.Helper()
	global, world := 0, len(sizes)
	for _, b := range sizes {
		global += b
	}
	got := make([][]float32, world)
	var mu sync.Mutex
	collectivetest.RunWith(t, world, cfg, func(c *collective.Communicator) {
		ctx := context.Background()
		m, opt := equivalenceModel(t, uint64(1+c.Rank()))
		s, err := NewAllReduce(ctx, c, m, AllReduceOptions{BucketBytes: 256})
		if err != nil {
			t.Error(err)
			return
		}
		defer s.Close()
		checkShared(t, s, cfg, world)
		s.SetWeight(float64(sizes[c.Rank()]) / float64(global))
		tr, err := New(m, Options{Optimizer: opt, Strategy: s})
		if err != nil {
			t.Error(err)
			return
		}
		off := 0
		for _, b := range sizes[:c.Rank()] {
			off += b
		}
		for step := range steps {
			lo := step*global + off
			if _, err := tr.Step(ctx, batchOf(x, labels, lo, lo+sizes[c.Rank()])); err != nil {
				t.Errorf("rank %d: %v", c.Rank(), err)
				return
			}
		}
		mu.Lock()
		got[c.Rank()] = append([]float32(nil), m.Values()...)
		mu.Unlock()
	})
	for r, g := range got {
		if g == nil {
			t.Fatalf("sizes %v: rank %d returned no weights", sizes, r)
		}
		if worst := relDiff(g, want); worst > 1e-5 {
			t.Errorf("over %q, batch sizes %v: rank %d differs from one worker with batch %d by %.3g (relative to the largest weight); want <= 1e-5", cfg.Transport, sizes, r, global, worst)
		}
	}
}

func TestBalanceBatchesByCost(t *testing.T) {
	for _, c := range []struct {
		global            int
		fixed, perExample []float64
		want              []int
	}{
		{64, []float64{0, 0}, []float64{1, 1}, []int{32, 32}},
		{64, []float64{0, 0}, []float64{1, 2}, []int{43, 21}},
		// Worker 1 is twice as slow in everything: its larger fixed cost
		// leaves it less than the third a split by speed would give
		// (10 + 46 = 20 + 2·18 = 56).
		{64, []float64{10, 20}, []float64{1, 2}, []int{46, 18}},
		{64, []float64{10, 10}, []float64{1, 2}, []int{43, 21}},
		{64, []float64{100, 0}, []float64{1, 1}, []int{1, 63}},
		{64, []float64{0, 0}, []float64{0, 1}, []int{32, 32}},
	} {
		got, err := BalanceBatchesByCost(c.global, c.fixed, c.perExample)
		if err != nil {
			t.Errorf("BalanceBatchesByCost(%d, %v, %v): %v", c.global, c.fixed, c.perExample, err)
			continue
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("BalanceBatchesByCost(%d, %v, %v) = %v; want %v", c.global, c.fixed, c.perExample, got, c.want)
		}
	}
}

func TestSplitTime(t *testing.T) {
	fixed, perExample := []float64{10, 20}, []float64{1, 2}
	for _, c := range []struct {
		sizes []int
		want  float64
	}{
		{[]int{46, 18}, 56}, // balanced: both take 56
		{[]int{32, 32}, 84}, // even: the slow worker's 20 + 64
		{[]int{60, 4}, 70},  // too much on the fast one
		{[]int{0, 0}, 20},   // only the fixed parts
		{[]int{64, 0}, 74},  // one worker does it all
	} {
		if got := SplitTime(c.sizes, fixed, perExample); got != c.want {
			t.Errorf("SplitTime(%v) = %v; want %v", c.sizes, got, c.want)
		}
	}
}

func TestExchangeStepCosts(t *testing.T) {
	const world = 3
	collectivetest.Run(t, world, func(c *collective.Communicator) {
		f, p, err := ExchangeStepCosts(context.Background(), c, float64(c.Rank()), float64(10*(c.Rank()+1)))
		if err != nil {
			t.Error(err)
			return
		}
		if !slices.Equal(f, []float64{0, 1, 2}) || !slices.Equal(p, []float64{10, 20, 30}) {
			t.Errorf("rank %d: ExchangeStepCosts = %v, %v; want [0 1 2], [10 20 30]", c.Rank(), f, p)
		}
	})
}

func TestMeasureStepCost(t *testing.T) {
	x, labels := equivalenceData(64, 2)
	y := make([]float32, len(labels))
	for i, l := range labels {
		y[i] = float32(l)
	}
	ds, err := data.NewInMemory(x, []int{8}, y, nil)
	if err != nil {
		t.Fatal(err)
	}
	build := func() (*nn.Model, error) { m, _ := equivalenceModel(t, 1); return m, nil }
	c, err := MeasureStepCost(context.Background(), build, nil, ds, 16, 10*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if !(c.PerExample > 0) || !(c.Fixed >= 0) || math.IsInf(c.Fixed+c.PerExample, 0) {
		t.Errorf("MeasureStepCost = %+v; want a positive finite cost", c)
	}
	if s := c.Speed(16); !(s > 0) || math.IsInf(s, 0) {
		t.Errorf("Speed(16) = %v examples/s; want a positive finite speed", s)
	}
	// The larger probe batch, 96, does not fit in 64 examples.
	if _, err := MeasureStepCost(context.Background(), build, nil, ds, 64, 10*time.Millisecond); err == nil {
		t.Error("MeasureStepCost with batches larger than the data set: no error")
	}
}

func TestFitStepCost(t *testing.T) {
	for _, c := range []struct {
		xs, ys []float64
		want   StepCost
	}{
		// 2 ms + 0.5 ms per example, exactly.
		{[]float64{8, 8, 24, 24}, []float64{0.006, 0.006, 0.014, 0.014}, StepCost{0.002, 0.0005}},
		// One size only: no slope to fit, the mean per example.
		{[]float64{10, 10}, []float64{0.01, 0.03}, StepCost{0, 0.002}},
		// Larger batches faster: not a cost, the mean per example.
		{[]float64{10, 30}, []float64{0.03, 0.01}, StepCost{0, 0.001}},
		// A negative intercept: the mean per example.
		{[]float64{10, 20}, []float64{0.001, 0.011}, StepCost{0, 0.012 / 30}},
	} {
		got := fitStepCost(c.xs, c.ys)
		if math.Abs(got.Fixed-c.want.Fixed) > 1e-12 || math.Abs(got.PerExample-c.want.PerExample) > 1e-12 {
			t.Errorf("fitStepCost(%v, %v) = %+v; want %+v", c.xs, c.ys, got, c.want)
		}
	}
}

func TestStepCostRefit(t *testing.T) {
	c := StepCost{Fixed: 0.01, PerExample: 0.001}
	if got := c.Refit(20, 0.05); math.Abs(got.Fixed-0.01) > 1e-12 || math.Abs(got.PerExample-0.002) > 1e-12 {
		t.Errorf("Refit(20, 0.05) = %+v; want {0.01 0.002}", got)
	}
	// A step faster than the fixed part alone: the fixed part goes.
	if got := c.Refit(20, 0.005); got.Fixed != 0 || math.Abs(got.PerExample-0.00025) > 1e-12 {
		t.Errorf("Refit(20, 0.005) = %+v; want {0 0.00025}", got)
	}
	if got := c.Refit(0, 1); got != c {
		t.Errorf("Refit(0, 1) = %+v; want it unchanged", got)
	}
}

func TestMediansBySize(t *testing.T) {
	xs := []float64{24, 8, 8, 24, 8, 24, 24}
	ys := []float64{0.014, 0.006, 0.5, 0.016, 0.007, 0.015, 0.9}
	mx, my := mediansBySize(xs, ys)
	if !slices.Equal(mx, []float64{8, 24}) || !slices.Equal(my, []float64{0.007, (0.015 + 0.016) / 2}) {
		t.Errorf("mediansBySize = %v, %v; want [8 24], [0.007 0.0155]", mx, my)
	}
}

package train

import (
	"context"
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/shoal-dl/shoal/collective"
	"github.com/shoal-dl/shoal/collective/collectivetest"
	"github.com/shoal-dl/shoal/data"
	"github.com/shoal-dl/shoal/nn"
	"github.com/shoal-dl/shoal/optim"
	"github.com/shoal-dl/shoal/tensor"
)

// equivalenceData returns n examples of 8 features with 4 classes.
func equivalenceData(n int, seed uint64) (x []float32, labels []int32) {
	rng := rand.New(rand.NewPCG(seed, 7))
	x = make([]float32, n*8)
	labels = make([]int32, n)
	for i := range n {
		c := rng.IntN(4)
		labels[i] = int32(c)
		for j := range 8 {
			x[i*8+j] = float32(rng.NormFloat64()) + float32(c*(j%3))*0.5
		}
	}
	return x, labels
}

// batchOf returns rows [lo, hi) as a batch.
func batchOf(x []float32, labels []int32, lo, hi int) *data.Batch {
	y := make([]float32, hi-lo)
	idx := make([]int, hi-lo)
	for i := range y {
		y[i] = float32(labels[lo+i])
		idx[i] = lo + i
	}
	return &data.Batch{
		X:      &tensor.Tensor{Shape: []int{hi - lo, 8}, Data: x[lo*8 : hi*8]},
		Y:      &tensor.Tensor{Shape: []int{hi - lo}, Data: y},
		Labels: labels[lo:hi], Indices: idx,
	}
}

func equivalenceModel(t testing.TB, seed uint64) (*nn.Model, optim.Optimizer) {
	t.Helper()
	m, err := nn.NewSequential([]int{8}, seed, &nn.Dense{Units: 32}, &nn.ReLU{}, &nn.Dense{Units: 16}, &nn.ReLU{}, &nn.Dense{Units: 4})
	if err != nil {
		t.Fatal(err)
	}
	opt, err := optim.New("sgd", m.NumParams(), optim.Config{LR: 0.1, Momentum: 0.9, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	return m, opt
}

// trainAllReduce trains world ranks for steps steps, rank r on rows
// [s·W·B + r·B, s·W·B + (r+1)·B) of step s, and returns every rank's
// final parameters. Ranks other than 0 start from other weights, so the
// initial broadcast is part of what is checked.
func trainAllReduce(t *testing.T, world, batch, steps, bucketBytes int, x []float32, labels []int32) [][]float32 {
	t.Helper()
	return trainAllReduceWith(t, collectivetest.Config{}, world, batch, steps, bucketBytes, x, labels)
}

// checkShared checks that s keeps the gradients in shared memory exactly
// when the ranks share a host over shared memory.
func checkShared(t *testing.T, s *AllReduce, cfg collectivetest.Config, world int) {
	t.Helper()
	if shared := s.private != nil; shared != (cfg.Transport == collective.TransportSHM && world > 1) {
		t.Errorf("rank %d over %q: gradients in shared memory %v", s.comm.Rank(), cfg.Transport, shared)
	}
}

// trainAllReduceWith is trainAllReduce over communicators built with cfg.
func trainAllReduceWith(t *testing.T, cfg collectivetest.Config, world, batch, steps, bucketBytes int, x []float32, labels []int32) [][]float32 {
	t.Helper()
	out := make([][]float32, world)
	var mu sync.Mutex
	collectivetest.RunWith(t, world, cfg, func(c *collective.Communicator) {
		ctx := context.Background()
		m, opt := equivalenceModel(t, uint64(1+c.Rank()))
		s, err := NewAllReduce(ctx, c, m, AllReduceOptions{BucketBytes: bucketBytes})
		if err != nil {
			t.Error(err)
			return
		}
		defer s.Close()
		checkShared(t, s, cfg, world)
		tr, err := New(m, Options{Optimizer: opt, Strategy: s})
		if err != nil {
			t.Error(err)
			return
		}
		for step := range steps {
			lo := step*world*batch + c.Rank()*batch
			if _, err := tr.Step(ctx, batchOf(x, labels, lo, lo+batch)); err != nil {
				t.Errorf("rank %d: %v", c.Rank(), err)
				return
			}
		}
		mu.Lock()
		out[c.Rank()] = append([]float32(nil), m.Values()...)
		mu.Unlock()
	})
	return out
}

// TestAllReduceEquivalence checks the acceptance oracle: W workers with
// batch B each end with the weights one worker reaches with batch W·B over
// the same samples.
func TestAllReduceEquivalence(t *testing.T) {
	const batch, steps = 8, 20
	for _, world := range []int{2, 4} {
		x, labels := equivalenceData(world*batch*steps, 3)
		// The reference: one worker, batch W·B.
		ref, opt := equivalenceModel(t, 1)
		tr, err := New(ref, Options{Optimizer: opt})
		if err != nil {
			t.Fatal(err)
		}
		for step := range steps {
			lo := step * world * batch
			if _, err := tr.Step(context.Background(), batchOf(x, labels, lo, lo+world*batch)); err != nil {
				t.Fatal(err)
			}
		}
		want := ref.Values()
		for _, transport := range []string{collective.TransportTCP, collective.TransportSHM} {
			for _, bucketBytes := range []int{0, 256} {
				cfg := collectivetest.Config{Transport: transport}
				got := trainAllReduceWith(t, cfg, world, batch, steps, bucketBytes, x, labels)
				for r, g := range got {
					if g == nil {
						t.Fatalf("world %d: rank %d returned no weights", world, r)
					}
					if worst := relDiff(g, want); worst > 1e-5 {
						t.Errorf("world %d over %s, bucket %d B: rank %d differs from one worker with batch %d by %.3g (relative to the largest weight); want <= 1e-5",
							world, transport, bucketBytes, r, world*batch, worst)
					}
				}
			}
		}
	}
}

// TestAllReduceDeterministic checks that two runs with the same seed give
// bit-identical weights on every rank.
func TestAllReduceDeterministic(t *testing.T) {
	const world, batch, steps = 2, 8, 10
	x, labels := equivalenceData(world*batch*steps, 5)
	a := trainAllReduce(t, world, batch, steps, 256, x, labels)
	b := trainAllReduce(t, world, batch, steps, 256, x, labels)
	// Gradients reduced in place in shared memory: the same bits.
	c := trainAllReduceWith(t, collectivetest.Config{Transport: collective.TransportSHM}, world, batch, steps, 256, x, labels)
	for r := range a {
		if len(c[r]) != len(a[r]) {
			t.Fatalf("rank %d: no weights over shared memory", r)
		}
		for i := range a[r] {
			if math.Float32bits(a[r][i]) != math.Float32bits(c[r][i]) {
				t.Fatalf("rank %d: weight %d is %v over TCP and %v over shared memory; want bit-identical", r, i, a[r][i], c[r][i])
			}
		}
		for i := range a[r] {
			if math.Float32bits(a[r][i]) != math.Float32bits(b[r][i]) {
				t.Fatalf("rank %d: weight %d is %v in one run and %v in the other; want bit-identical", r, i, a[r][i], b[r][i])
			}
			if math.Float32bits(a[r][i]) != math.Float32bits(a[0][i]) {
				t.Fatalf("rank %d: weight %d is %v; rank 0 has %v; want every rank equal", r, i, a[r][i], a[0][i])
			}
		}
	}
}

// TestAllReduceCompression trains with gradients narrowed on the wire:
// every rank must still hold the same bits, the weights must stay close to
// one worker's with the whole batch (16-bit gradients, float32 sums), and
// they must differ from an uncompressed run, or nothing was narrowed.
func TestAllReduceCompression(t *testing.T) {
	const world, batch, steps = 2, 8, 20
	x, labels := equivalenceData(world*batch*steps, 7)
	plain := trainAllReduce(t, world, batch, steps, 256, x, labels)[0]
	for _, comp := range []collective.Compression{collective.BF16, collective.FP16} {
		cfg := collectivetest.Config{Options: collective.Options{Compression: comp}}
		got := trainAllReduceWith(t, cfg, world, batch, steps, 256, x, labels)
		for r := range got {
			if got[r] == nil {
				t.Fatalf("%v: rank %d returned no weights", comp, r)
			}
			for i := range got[r] {
				if math.Float32bits(got[r][i]) != math.Float32bits(got[0][i]) {
					t.Fatalf("%v: rank %d: weight %d is %v; rank 0 has %v; want every rank equal", comp, r, i, got[r][i], got[0][i])
				}
			}
		}
		worst, differ := relDiff(got[0], plain), 0
		for i := range plain {
			if got[0][i] != plain[i] {
				differ++
			}
		}
		if worst > 1e-1 {
			t.Errorf("%v: weights differ from the uncompressed run by %.3g (relative to the largest weight); want <= 0.1", comp, worst)
		}
		t.Logf("%v: worst difference %.3g relative to the largest weight", comp, worst)
		if differ == 0 {
			t.Errorf("%v: weights are identical to the uncompressed run; want the wire narrowed", comp)
		}
	}
}

func TestPlanGradBuckets(t *testing.T) {
	m, _ := equivalenceModel(t, 1) // layers of 288, 528 and 68 parameters
	for _, bytes := range []int{4, 256, 1 << 10, 4 << 10, 1 << 20} {
		bs, of := planGradBuckets(m.Params, bytes)
		limit, firstLimit := max(1, bytes/4), max(1, bytes/16)
		layers := map[[2]int]bool{}
		for _, g := range groupParams(m.Params) {
			layers[[2]int{g.lo, g.hi}] = true
		}
		// Buckets tile the arena from its end to its start, within limits.
		end := m.NumParams()
		for i, b := range bs {
			if b.hi != end || b.lo >= b.hi {
				t.Fatalf("bucket size %d: bucket %d is [%d, %d); want it to end at %d", bytes, i, b.lo, b.hi, end)
			}
			lim := limit
			if i == 0 {
				lim = firstLimit
			}
			if b.hi-b.lo > lim && !layers[[2]int{b.lo, b.hi}] {
				t.Errorf("bucket size %d: bucket %d holds %d elements; want at most %d, or one whole layer", bytes, i, b.hi-b.lo, lim)
			}
			end = b.lo
		}
		if end != 0 {
			t.Errorf("bucket size %d: buckets stop at %d; want them to cover the arena down to 0", bytes, end)
		}
		// Each parameter's buckets cover exactly its range, and each
		// bucket counts the parameters that overlap it.
		count := make([]int, len(bs))
		for i, p := range m.Params {
			lo, hi := p.Offset, p.Offset+len(p.Grad.Data)
			covered := 0
			for _, k := range of[i] {
				count[k]++
				covered += min(hi, bs[k].hi) - max(lo, bs[k].lo)
			}
			if covered != hi-lo {
				t.Errorf("bucket size %d: parameter %d [%d, %d) is covered for %d elements by buckets %v; want %d", bytes, i, lo, hi, covered, of[i], hi-lo)
			}
		}
		for k, b := range bs {
			if count[k] != b.params {
				t.Errorf("bucket size %d: bucket %d counts %d parameters; %d overlap it", bytes, k, b.params, count[k])
			}
		}
	}
}

func TestPlanGradBucketsKeepsLayersTogether(t *testing.T) {
	m, _ := equivalenceModel(t, 1) // layers of 288, 528 and 68 parameters
	// With room for a whole layer, no bucket boundary falls inside one:
	// weight and bias of a layer are ready at the same moment.
	bs, _ := planGradBuckets(m.Params, 4*1024)
	starts := map[int]bool{}
	for _, g := range groupParams(m.Params) {
		starts[g.lo] = true
	}
	for i, b := range bs {
		if !starts[b.lo] {
			t.Errorf("bucket %d starts at %d, inside a layer; layers start at %v", i, b.lo, starts)
		}
	}
	// The first bucket holds only the last layer, so that its allreduce
	// starts before backward reaches the layers before it.
	if last := m.Params[len(m.Params)-2].Offset; bs[0].lo != last {
		t.Errorf("first bucket is [%d, %d); want it to hold the last layer only, from %d", bs[0].lo, bs[0].hi, last)
	}
	if gs := groupParams(m.Params); len(gs) != 3 {
		t.Errorf("groupParams found %d layers; want 3 (weight and bias of each dense layer)", len(gs))
	}
}

// TestPlanGradBucketsNeverCutsALayer: a layer larger than the bucket
// size is one bucket, whatever the size, since its parts would all be
// ready at the same moment.
func TestPlanGradBucketsNeverCutsALayer(t *testing.T) {
	m, _ := equivalenceModel(t, 1) // layers of 288, 528 and 68 parameters
	groups := groupParams(m.Params)
	for _, bytes := range []int{4, 256, 1 << 10} {
		bs, _ := planGradBuckets(m.Params, bytes)
		if len(bs) != len(groups) {
			t.Errorf("bucket size %d: %d buckets %v; want one per layer (%d), since every layer is larger than the limit", bytes, len(bs), bs, len(groups))
			continue
		}
		for i, b := range bs {
			g := groups[len(groups)-1-i]
			if b.lo != g.lo || b.hi != g.hi {
				t.Errorf("bucket size %d: bucket %d is [%d, %d); want layer [%d, %d)", bytes, i, b.lo, b.hi, g.lo, g.hi)
			}
		}
	}
}

// TestAllReduceOneBucket checks that OneBucket plans a single bucket over
// the whole arena and still trains like one worker with the whole batch.
func TestAllReduceOneBucket(t *testing.T) {
	const world, batch, steps = 2, 8, 10
	x, labels := equivalenceData(world*batch*steps, 9)
	want := trainAllReduce(t, world, batch, steps, 256, x, labels)[0]
	for _, transport := range []string{collective.TransportTCP, collective.TransportSHM} {
		oneBucket(t, collectivetest.Config{Transport: transport}, world, batch, steps, x, labels, want)
	}
}

// oneBucket trains with OneBucket over communicators built with cfg and
// compares every rank's weights with want.
func oneBucket(t *testing.T, cfg collectivetest.Config, world, batch, steps int, x []float32, labels []int32, want []float32) {
	t.Helper()
	out := make([][]float32, world)
	var mu sync.Mutex
	collectivetest.RunWith(t, world, cfg, func(c *collective.Communicator) {
		ctx := context.Background()
		m, opt := equivalenceModel(t, uint64(1+c.Rank()))
		s, err := NewAllReduce(ctx, c, m, AllReduceOptions{OneBucket: true, BucketBytes: 256})
		if err != nil {
			t.Error(err)
			return
		}
		defer s.Close()
		checkShared(t, s, cfg, world)
		if bs := s.Buckets(); len(bs) != 1 || bs[0] != [2]int{0, m.NumParams()} {
			t.Errorf("rank %d: OneBucket planned buckets %v; want one, [0, %d)", c.Rank(), bs, m.NumParams())
		}
		tr, err := New(m, Options{Optimizer: opt, Strategy: s})
		if err != nil {
			t.Error(err)
			return
		}
		for step := range steps {
			lo := step*world*batch + c.Rank()*batch
			if _, err := tr.Step(ctx, batchOf(x, labels, lo, lo+batch)); err != nil {
				t.Errorf("rank %d: %v", c.Rank(), err)
				return
			}
		}
		mu.Lock()
		out[c.Rank()] = append([]float32(nil), m.Values()...)
		mu.Unlock()
	})
	for r, got := range out {
		if got == nil {
			t.Fatalf("rank %d returned no weights", r)
		}
		for i := range want {
			if d := math.Abs(float64(got[i] - want[i])); d > 1e-6*max(1, math.Abs(float64(want[i]))) {
				t.Fatalf("over %q: rank %d: weight %d is %v with one bucket, %v with several; want equal within 1e-6", cfg.Transport, r, i, got[i], want[i])
			}
		}
	}
}

func TestAutoBucketBytes(t *testing.T) {
	for _, c := range []struct{ n, want int }{{10, 256 << 10}, {1 << 20, 512 << 10}, {1 << 26, 1 << 20}} {
		if got := AutoBucketBytes(c.n); got != c.want {
			t.Errorf("AutoBucketBytes(%d) = %d; want %d", c.n, got, c.want)
		}
	}
}

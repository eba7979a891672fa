package data

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"
)

// rampDataset returns n examples whose features are [i, -i] and whose label
// is i mod 10, so every batch shows which examples it holds.
func rampDataset(t testing.TB, n int) *InMemory {
	t.Helper()
	x := make([]float32, 2*n)
	y := make([]float32, n)
	for i := range n {
		x[2*i], x[2*i+1] = float32(i), -float32(i)
		y[i] = float32(i % 10)
	}
	ds, err := NewInMemory(x, []int{2}, y, []int{})
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

// collect runs one epoch and returns the indices of each batch, checking
// that every batch's tensors agree with its indices.
func collect(t *testing.T, l *Loader, epoch int) [][]int {
	t.Helper()
	var out [][]int
	for b, err := range l.Batches(context.Background(), epoch) {
		if err != nil {
			t.Fatalf("epoch %d: %v", epoch, err)
		}
		if b.X.Shape[0] != b.Len() || b.Y.Shape[0] != b.Len() || len(b.Labels) != b.Len() {
			t.Fatalf("batch shapes X%v Y%v with %d labels for %d examples", b.X.Shape, b.Y.Shape, len(b.Labels), b.Len())
		}
		for k, i := range b.Indices {
			if b.X.Data[2*k] != float32(i) || b.X.Data[2*k+1] != -float32(i) || b.Labels[k] != int32(i%10) || b.Y.Data[k] != float32(i%10) {
				t.Fatalf("batch row %d holds x=%v y=%v label=%d, not example %d", k, b.X.Data[2*k:2*k+2], b.Y.Data[k], b.Labels[k], i)
			}
		}
		out = append(out, slices.Clone(b.Indices))
	}
	if len(out) != l.NumBatches() {
		t.Errorf("epoch %d yielded %d batches; NumBatches() = %d", epoch, len(out), l.NumBatches())
	}
	return out
}

func newLoader(t testing.TB, ds Dataset, opts LoaderOptions) *Loader {
	t.Helper()
	l, err := NewLoader(ds, opts)
	if err != nil {
		t.Fatalf("NewLoader(%+v): %v", opts, err)
	}
	return l
}

func TestLoaderCoversEveryExampleOnceAcrossRanks(t *testing.T) {
	for _, tc := range []struct{ n, world, batch int }{
		{100, 1, 7}, {100, 4, 5}, {103, 4, 5}, {10, 3, 4}, {5, 8, 1},
	} {
		for _, prefetch := range []int{0, 2} {
			name := fmt.Sprintf("n=%d world=%d batch=%d prefetch=%d", tc.n, tc.world, tc.batch, prefetch)
			ds := rampDataset(t, tc.n)
			seen := make(map[int]int)
			for rank := range tc.world {
				l := newLoader(t, ds, LoaderOptions{BatchSize: tc.batch, Shuffle: true, Seed: 9, Rank: rank, World: tc.world, Prefetch: prefetch})
				count := 0
				for _, b := range collect(t, l, 3) {
					for _, i := range b {
						seen[i]++
						count++
					}
				}
				if want := tc.n / tc.world; count != want {
					t.Errorf("%s: rank %d saw %d examples; want %d (equal shares)", name, rank, count, want)
				}
			}
			dropped := 0
			for i := range tc.n {
				switch seen[i] {
				case 0:
					dropped++
				case 1:
				default:
					t.Errorf("%s: example %d seen %d times; shards overlap", name, i, seen[i])
				}
			}
			if want := tc.n % tc.world; dropped != want {
				t.Errorf("%s: %d examples unseen; want n mod world = %d", name, dropped, want)
			}
		}
	}
}

func TestLoaderDeterminism(t *testing.T) {
	ds := rampDataset(t, 50)
	opts := LoaderOptions{BatchSize: 8, Shuffle: true, Seed: 42, Rank: 1, World: 2}
	a := collect(t, newLoader(t, ds, opts), 0)
	b := collect(t, newLoader(t, ds, opts), 0)
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Errorf("same seed, different batches:\n%v\n%v", a, b)
	}
	opts.Prefetch = 3
	if c := collect(t, newLoader(t, ds, opts), 0); fmt.Sprint(a) != fmt.Sprint(c) {
		t.Errorf("prefetch changed the batches:\n%v\n%v", a, c)
	}
	if d := collect(t, newLoader(t, ds, opts), 1); fmt.Sprint(a) == fmt.Sprint(d) {
		t.Errorf("epochs 0 and 1 gave the same batches %v", a)
	}
	opts.Seed = 43
	if e := collect(t, newLoader(t, ds, opts), 0); fmt.Sprint(a) == fmt.Sprint(e) {
		t.Errorf("seeds 42 and 43 gave the same batches %v", a)
	}
}

// TestPermutationStable pins the shuffle: a change here changes every
// training run's data order, so it must be deliberate.
func TestPermutationStable(t *testing.T) {
	got := fmt.Sprint(Permutation(1, 0, 10), Permutation(1, 1, 10), Permutation(2, 0, 10))
	const want = "[2 5 8 3 4 1 7 6 0 9] [8 9 1 4 0 5 6 2 3 7] [4 5 7 1 6 8 2 3 9 0]"
	if got != want {
		t.Errorf("Permutation changed:\n got %s\nwant %s", got, want)
	}
	for n := range 50 {
		p := Permutation(7, 3, n)
		s := slices.Clone(p)
		slices.Sort(s)
		for i, v := range s {
			if v != i {
				t.Fatalf("Permutation(7, 3, %d) = %v is not a permutation", n, p)
			}
		}
	}
}

func TestLoaderNoShuffleDropLast(t *testing.T) {
	ds := rampDataset(t, 11)
	l := newLoader(t, ds, LoaderOptions{BatchSize: 4, DropLast: true})
	got := fmt.Sprint(collect(t, l, 0))
	if want := "[[0 1 2 3] [4 5 6 7]]"; got != want {
		t.Errorf("batches = %s; want %s", got, want)
	}
	l = newLoader(t, ds, LoaderOptions{BatchSize: 4, Rank: 1, World: 2})
	if got, want := fmt.Sprint(collect(t, l, 0)), "[[1 3 5 7] [9]]"; got != want {
		t.Errorf("rank 1 of 2 batches = %s; want %s", got, want)
	}
}

func TestLoaderRankBatchSizes(t *testing.T) {
	const n = 103
	sizes := []int{2, 5, 3} // a global step takes 10 examples
	ds := rampDataset(t, n)
	seen := make(map[int]bool)
	for rank, bs := range sizes {
		l := newLoader(t, ds, LoaderOptions{RankBatchSizes: sizes, Shuffle: true, Seed: 1, Rank: rank, World: len(sizes), Prefetch: rank})
		batches := collect(t, l, 2)
		if len(batches) != n/10 {
			t.Errorf("rank %d: %d batches; want %d, the same on every rank", rank, len(batches), n/10)
		}
		for _, b := range batches {
			if len(b) != bs {
				t.Errorf("rank %d: batch of %d; want %d", rank, len(b), bs)
			}
			for _, i := range b {
				if seen[i] {
					t.Errorf("example %d seen twice", i)
				}
				seen[i] = true
			}
		}
	}
	if len(seen) != n/10*10 {
		t.Errorf("%d examples seen; want %d", len(seen), n/10*10)
	}
}

// TestLoaderResplit changes the split of every global batch mid-epoch, as
// --balance does, on ranks with and without prefetch: each global batch
// is still shared out whole and without overlap, in the new sizes from
// the batch named on.
func TestLoaderResplit(t *testing.T) {
	const n, global, from = 83, 8, 5
	before, after := []int{3, 5}, []int{6, 2}
	ds := rampDataset(t, n)
	perm := Permutation(9, 1, n)
	got := make([][][]int, len(before)) // by rank, by batch
	for rank := range before {
		prefetch := 2 * rank
		l := newLoader(t, ds, LoaderOptions{RankBatchSizes: before, Shuffle: true, Seed: 9, Rank: rank, World: 2, Prefetch: prefetch})
		k := 0
		for b, err := range l.Batches(context.Background(), 1) {
			if err != nil {
				t.Fatal(err)
			}
			got[rank] = append(got[rank], slices.Clone(b.Indices))
			if k == 1 {
				if err := l.Resplit(after, k); err == nil {
					t.Errorf("rank %d: Resplit from batch %d, already prepared: no error", rank, k)
				}
				// Every rank names the same batch, past what any prepared.
				if err := l.Resplit([]int{1, 7}, from); err != nil {
					t.Fatalf("rank %d: Resplit: %v", rank, err)
				}
				if err := l.Resplit(after, from); err != nil {
					t.Fatalf("rank %d: Resplit again, from the same batch: %v", rank, err)
				}
			}
			k++
		}
		if k != n/global {
			t.Errorf("rank %d: %d batches; want %d", rank, k, n/global)
		}
		if l.BatchSize() != after[rank] {
			t.Errorf("rank %d: BatchSize() = %d after Resplit; want %d", rank, l.BatchSize(), after[rank])
		}
		if fmt.Sprint(l.Indices(1)) != fmt.Sprint(slices.Concat(got[rank]...)) {
			t.Errorf("rank %d: Indices(1) differs from the batches", rank)
		}
	}
	for k := range n / global {
		sizes := before
		if k >= from {
			sizes = after
		}
		all := slices.Concat(got[0][k], got[1][k])
		if len(got[0][k]) != sizes[0] || fmt.Sprint(all) != fmt.Sprint(perm[k*global:(k+1)*global]) {
			t.Errorf("batch %d: ranks took %v and %v; want %v of %v, in sizes %v", k, got[0][k], got[1][k], global, perm[k*global:(k+1)*global], sizes)
		}
	}

	l := newLoader(t, ds, LoaderOptions{RankBatchSizes: before, World: 2})
	for _, bad := range [][]int{{4, 5}, {8, 0}, {8}} {
		if err := l.Resplit(bad, 3); err == nil {
			t.Errorf("Resplit(%v): no error", bad)
		}
	}
	if err := newLoader(t, ds, LoaderOptions{BatchSize: 4}).Resplit(after, 3); err == nil {
		t.Error("Resplit of a loader without RankBatchSizes: no error")
	}
}

func TestLoaderBatchesFrom(t *testing.T) {
	ds := rampDataset(t, 40)
	l := newLoader(t, ds, LoaderOptions{BatchSize: 6, Shuffle: true, Seed: 5})
	all := collect(t, l, 4)
	var rest [][]int
	for b, err := range l.BatchesFrom(context.Background(), 4, 3) {
		if err != nil {
			t.Fatal(err)
		}
		rest = append(rest, slices.Clone(b.Indices))
	}
	if fmt.Sprint(rest) != fmt.Sprint(all[3:]) {
		t.Errorf("BatchesFrom(epoch 4, 3) = %v; want %v", rest, all[3:])
	}
}

func TestLoaderOptionErrors(t *testing.T) {
	ds := rampDataset(t, 10)
	for _, opts := range []LoaderOptions{
		{BatchSize: 0},
		{BatchSize: 2, Rank: 2, World: 2},
		{BatchSize: 2, Rank: -1},
		{BatchSize: 2, Prefetch: -1},
		{RankBatchSizes: []int{1, 2}, World: 3},
		{RankBatchSizes: []int{1, 0}, World: 2},
	} {
		if _, err := NewLoader(ds, opts); err == nil {
			t.Errorf("NewLoader(%+v) succeeded; want an error", opts)
		}
	}
}

// settleGoroutines waits until the goroutine count drops to at most want.
func settleGoroutines(t *testing.T, want int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > want {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines remain; want %d:\n%s", runtime.NumGoroutine(), want, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestLoaderEarlyBreakLeavesNoGoroutine(t *testing.T) {
	before := runtime.NumGoroutine()
	ds := rampDataset(t, 1000)
	l := newLoader(t, ds, LoaderOptions{BatchSize: 3, Shuffle: true, Prefetch: 4})
	for range 20 {
		k := 0
		for _, err := range l.Batches(context.Background(), 0) {
			if err != nil {
				t.Fatal(err)
			}
			if k++; k == 2 {
				break
			}
		}
	}
	settleGoroutines(t, before)
}

func TestLoaderContextCancel(t *testing.T) {
	before := runtime.NumGoroutine()
	ds := rampDataset(t, 1000)
	for _, prefetch := range []int{0, 3} {
		l := newLoader(t, ds, LoaderOptions{BatchSize: 3, Prefetch: prefetch})
		ctx, cancel := context.WithCancel(context.Background())
		got, errs := 0, 0
		for b, err := range l.Batches(ctx, 0) {
			if err != nil {
				if !errors.Is(err, context.Canceled) || b != nil {
					t.Errorf("prefetch %d: got (%v, %v); want (nil, context.Canceled)", prefetch, b, err)
				}
				errs++
				continue
			}
			if got++; got == 5 {
				cancel()
			}
		}
		cancel()
		if got != 5 || errs != 1 {
			t.Errorf("prefetch %d: %d batches and %d errors after cancel; want 5 and 1", prefetch, got, errs)
		}
	}
	settleGoroutines(t, before)
}

// failingDataset fails to read one example.
type failingDataset struct {
	*InMemory
	bad int
}

func (f failingDataset) ReadErr(i int, x, y []float32) error {
	if i == f.bad {
		return fmt.Errorf("data: example %d: disk on fire", i)
	}
	f.Read(i, x, y)
	return nil
}

func TestLoaderReadError(t *testing.T) {
	ds := failingDataset{rampDataset(t, 20), 13}
	for _, prefetch := range []int{0, 2} {
		l := newLoader(t, ds, LoaderOptions{BatchSize: 4, Prefetch: prefetch})
		batches, errs := 0, 0
		for _, err := range l.Batches(context.Background(), 0) {
			if err != nil {
				errs++
				continue
			}
			batches++
		}
		if batches != 3 || errs != 1 {
			t.Errorf("prefetch %d: %d batches then %d errors; want 3 then 1", prefetch, batches, errs)
		}
	}
}

func BenchmarkLoaderMNISTShape(b *testing.B) {
	const n = 4096
	x := make([]float32, n*784)
	y := make([]float32, n)
	ds, _ := NewInMemory(x, []int{1, 28, 28}, y, []int{})
	l, _ := NewLoader(ds, LoaderOptions{BatchSize: 64, Shuffle: true, Prefetch: 2})
	b.SetBytes(n * 784 * 4)
	for e := range b.N {
		for _, err := range l.Batches(context.Background(), e) {
			if err != nil {
				b.Fatal(err)
			}
		}
	}
}

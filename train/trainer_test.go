package train

import (
	"bytes"
	"context"
	"errors"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/shoal-dl/shoal/data"
	"github.com/shoal-dl/shoal/nn"
	"github.com/shoal-dl/shoal/optim"
	"github.com/shoal-dl/shoal/tensor"
)

// blobs returns n points in 2-D around three well separated centres, with
// their centre as the label.
func blobs(t testing.TB, n int, seed uint64) *data.InMemory {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	centres := [3][2]float64{{-2, 0}, {2, 0}, {0, 2.5}}
	x := make([]float32, 0, 2*n)
	y := make([]float32, 0, n)
	for i := range n {
		c := i % 3
		x = append(x, float32(centres[c][0]+0.5*rng.NormFloat64()), float32(centres[c][1]+0.5*rng.NormFloat64()))
		y = append(y, float32(c))
	}
	ds, err := data.NewInMemory(x, []int{2}, y, nil)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func newMLP(t testing.TB, seed uint64, layers ...nn.Layer) *nn.Model {
	t.Helper()
	if layers == nil {
		layers = []nn.Layer{&nn.Dense{Units: 16}, &nn.ReLU{}, &nn.Dense{Units: 3}}
	}
	m, err := nn.NewSequential([]int{2}, seed, layers...)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func newTrainer(t testing.TB, m *nn.Model, opts Options) *Trainer {
	t.Helper()
	if opts.Optimizer == nil {
		opt, err := optim.New("adam", m.NumParams(), optim.Config{LR: 0.02, Threads: 1})
		if err != nil {
			t.Fatal(err)
		}
		opts.Optimizer = opt
	}
	tr, err := New(m, opts)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func loader(t testing.TB, ds data.Dataset, batch int, shuffle bool, seed uint64) *data.Loader {
	t.Helper()
	l, err := data.NewLoader(ds, data.LoaderOptions{BatchSize: batch, Shuffle: shuffle, Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestFitLearnsBlobs(t *testing.T) {
	m := newMLP(t, 1)
	var reports []Progress
	tr := newTrainer(t, m, Options{Seed: 1, ProgressEvery: 5, Progress: func(p Progress) { reports = append(reports, p) }})
	res, err := tr.Fit(context.Background(), loader(t, blobs(t, 600, 1), 32, true, 1), loader(t, blobs(t, 300, 2), 100, false, 0), 8)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Epochs) != 8 {
		t.Fatalf("history has %d epochs; want 8", len(res.Epochs))
	}
	first, last := res.Epochs[0], res.Epochs[len(res.Epochs)-1]
	if !(last.Loss < first.Loss/2) {
		t.Errorf("training loss went from %.4f to %.4f; want it at least halved", first.Loss, last.Loss)
	}
	if res.Test.Accuracy < 0.95 || res.Test.Examples != 300 {
		t.Errorf("test = %+v; want accuracy >= 0.95 on 300 examples", res.Test)
	}
	if res.Steps != 8*19 || res.Examples != 8*600 || !(res.SamplesPerSec > 0) {
		t.Errorf("Steps=%d Examples=%d SamplesPerSec=%g; want 152, 4800, > 0", res.Steps, res.Examples, res.SamplesPerSec)
	}
	epochsDone := 0
	for _, p := range reports {
		if p.EpochDone {
			epochsDone++
			if p.Summary == nil || p.Batch != p.Batches {
				t.Errorf("epoch-end report %+v lacks its summary or is not at the last batch", p)
			}
		}
	}
	if epochsDone != 8 || len(reports) != 8*4 {
		// 19 batches per epoch: reports after batches 5, 10, 15 and the end.
		t.Errorf("got %d reports (%d epoch ends); want 32 (8)", len(reports), epochsDone)
	}
}

// TestDeterminism trains twice with the same seed (shuffling, dropout) and
// compares the parameter arenas byte for byte; a different seed must give
// different weights.
func TestDeterminism(t *testing.T) {
	run := func(seed uint64) []float32 {
		m := newMLP(t, seed, &nn.Dense{Units: 32}, &nn.ReLU{}, &nn.Dropout{Rate: 0.3}, &nn.Dense{Units: 3})
		tr := newTrainer(t, m, Options{Seed: seed, ClipNorm: 1})
		if _, err := tr.Fit(context.Background(), loader(t, blobs(t, 300, 3), 16, true, seed), nil, 2); err != nil {
			t.Fatal(err)
		}
		return append([]float32(nil), m.Values()...)
	}
	a, b, c := run(7), run(7), run(8)
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			t.Fatalf("weights differ at %d between two runs with seed 7: %v vs %v", i, a[i], b[i])
		}
	}
	same := true
	for i := range a {
		same = same && a[i] == c[i]
	}
	if same {
		t.Error("runs with seeds 7 and 8 gave identical weights")
	}
}

func TestStepHookAndErrors(t *testing.T) {
	ds := blobs(t, 64, 4)
	l := loader(t, ds, 64, false, 0)
	var batch *data.Batch
	for b, err := range l.Batches(context.Background(), 0) {
		if err != nil {
			t.Fatal(err)
		}
		batch = b
		break
	}

	t.Run("exchange hook sees gradients and can stop the step", func(t *testing.T) {
		m := newMLP(t, 1)
		before := append([]float32(nil), m.Values()...)
		boom := errors.New("peer 3 is gone")
		calls := 0
		tr := newTrainer(t, m, Options{ExchangeGrads: func(_ context.Context, g []float32) error {
			calls++
			if len(g) != m.NumParams() || optim.SumSquares(g) == 0 {
				t.Errorf("hook got %d gradients with norm² %g; want %d non-zero", len(g), optim.SumSquares(g), m.NumParams())
			}
			return boom
		}})
		_, err := tr.Step(context.Background(), batch)
		if !errors.Is(err, boom) || calls != 1 {
			t.Fatalf("Step error = %v after %d calls; want the hook's error after 1", err, calls)
		}
		for i := range before {
			if before[i] != m.Values()[i] {
				t.Fatal("parameters changed although the exchange failed")
			}
		}
	})

	t.Run("label outside the classes", func(t *testing.T) {
		m := newMLP(t, 1, &nn.Dense{Units: 2}) // 3 classes in the data
		tr := newTrainer(t, m, Options{})
		_, err := tr.Step(context.Background(), batch)
		if err == nil || !strings.Contains(err.Error(), "outside the model's 2 classes") {
			t.Fatalf("Step error = %v; want one about labels outside 2 classes", err)
		}
	})

	t.Run("non-finite loss leaves parameters", func(t *testing.T) {
		m := newMLP(t, 1)
		before := append([]float32(nil), m.Values()...)
		bad := *batch
		bad.X = batch.X.Clone()
		bad.X.Data[0] = float32(math.NaN())
		tr := newTrainer(t, m, Options{})
		_, err := tr.Step(context.Background(), &bad)
		if !errors.Is(err, ErrNonFinite) {
			t.Fatalf("Step error = %v; want ErrNonFinite", err)
		}
		for i := range before {
			if math.Float32bits(before[i]) != math.Float32bits(m.Values()[i]) {
				t.Fatal("parameters changed by a step with a NaN loss")
			}
		}
	})

	t.Run("cancelled context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		tr := newTrainer(t, newMLP(t, 1), Options{})
		if _, err := tr.Fit(ctx, l, nil, 1); !errors.Is(err, context.Canceled) {
			t.Fatalf("Fit with a cancelled context: %v; want context.Canceled", err)
		}
	})
}

func TestNewErrors(t *testing.T) {
	m := newMLP(t, 1)
	opt, _ := optim.New("sgd", m.NumParams(), optim.Config{LR: 0.1})
	for _, c := range []struct {
		name string
		opts Options
		want string
	}{
		{"no optimizer", Options{}, "Optimizer is required"},
		{"negative clip", Options{Optimizer: opt, ClipNorm: -1}, "clip norm"},
		{"negative bptt", Options{Optimizer: opt, BPTT: -2}, "bptt"},
	} {
		if _, err := New(m, c.opts); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: New error = %v; want one containing %q", c.name, err, c.want)
		}
	}
}

// TestBPTTChunks trains a per-step classifier on sequences [N, T, F] with
// BPTT shorter than T: every chunk is one optimizer step, and the chunk
// statistics add up to the whole batch.
func TestBPTTChunks(t *testing.T) {
	const n, steps, feats = 8, 10, 2
	rng := rand.New(rand.NewPCG(5, 5))
	x := make([]float32, n*steps*feats)
	y := make([]float32, n*steps)
	for i := range y {
		a, b := rng.Float32()*2-1, rng.Float32()*2-1
		x[2*i], x[2*i+1] = a, b
		if a > b {
			y[i] = 1
		}
	}
	ds, err := data.NewInMemory(x, []int{steps, feats}, y, []int{steps})
	if err != nil {
		t.Fatal(err)
	}
	m, err := nn.NewSequential([]int{steps, feats}, 3, &nn.Dense{Units: 2})
	if err != nil {
		t.Fatal(err)
	}
	tr := newTrainer(t, m, Options{BPTT: 4})
	l := loader(t, ds, n, false, 0)
	var stats StepStats
	for b, err := range l.Batches(context.Background(), 0) {
		if err != nil {
			t.Fatal(err)
		}
		if stats, err = tr.Step(context.Background(), b); err != nil {
			t.Fatal(err)
		}
	}
	if tr.Steps() != 3 {
		t.Errorf("T=%d with bptt 4 took %d optimizer steps; want 3", steps, tr.Steps())
	}
	if stats.Predictions != n*steps || stats.Examples != n {
		t.Errorf("stats = %+v; want %d predictions over %d examples", stats, n*steps, n)
	}
	res, err := tr.Fit(context.Background(), l, l, 60)
	if err != nil {
		t.Fatal(err)
	}
	if res.Test.Accuracy < 0.9 {
		t.Errorf("per-step classifier reached accuracy %.3f; want >= 0.9", res.Test.Accuracy)
	}
}

func TestSliceTime(t *testing.T) {
	src := tensor.New(2, 5, 3)
	for i := range src.Data {
		src.Data[i] = float32(i)
	}
	var dst tensor.Tensor
	got := sliceTime(&dst, src, 1, 3)
	if !tensor.SameShape(got.Shape, []int{2, 2, 3}) {
		t.Fatalf("shape %v; want [2 2 3]", got.Shape)
	}
	want := []float32{3, 4, 5, 6, 7, 8, 18, 19, 20, 21, 22, 23}
	for i := range want {
		if got.Data[i] != want[i] {
			t.Fatalf("sliceTime(steps 1..3) = %v; want %v", got.Data, want)
		}
	}
}

func TestMetricsLogAndCurves(t *testing.T) {
	var log bytes.Buffer
	ml := NewMetricsLog(&log)
	var curves Curves
	tr := newTrainer(t, newMLP(t, 1), Options{ProgressEvery: 4, Progress: func(p Progress) {
		curves.Add(p)
		if err := ml.Progress(p); err != nil {
			t.Fatal(err)
		}
	}})
	res, err := tr.Fit(context.Background(), loader(t, blobs(t, 120, 1), 10, true, 1), loader(t, blobs(t, 30, 2), 10, false, 0), 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := ml.Test(res.Test); err != nil {
		t.Fatal(err)
	}
	curves.SetTest(res.Test)
	lines := strings.Split(strings.TrimSpace(log.String()), "\n")
	// 12 batches: step reports after 4 and 8, then the epoch end; twice; then test.
	if len(lines) != 7 || !strings.Contains(lines[2], `"kind":"epoch"`) || !strings.Contains(lines[6], `"kind":"test"`) {
		t.Errorf("metrics log:\n%s\nwant 7 lines, epoch end third, test last", log.String())
	}
	png, err := curves.PNG(400, 400)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		t.Errorf("PNG() does not start with the PNG signature")
	}
	var empty Curves
	if _, err := empty.PNG(100, 100); err == nil {
		t.Error("PNG of no curves succeeded")
	}
}

func TestWriteCurvesFile(t *testing.T) {
	var c Curves
	for e := 1; e <= 3; e++ {
		for b := 1; b <= 4; b++ {
			p := Progress{Epoch: e, Batch: b, Batches: 4, Loss: 2 / float64(e*b), Accuracy: 1 - 0.5/float64(e*b)}
			if b == 4 {
				p.EpochDone = true
				p.Summary = &EpochMetrics{Epoch: e, Loss: p.Loss, Accuracy: p.Accuracy}
			}
			c.Add(p)
		}
	}
	c.SetTest(Metrics{Loss: 0.3, Accuracy: 0.9})
	path := t.TempDir() + "/curves.png"
	if err := c.WritePNG(path); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, err := png.DecodeConfig(f)
	if err != nil {
		t.Fatalf("curves.png does not decode: %v", err)
	}
	if cfg.Width != 800 || cfg.Height != 800 {
		t.Errorf("curves.png is %d×%d; want 800×800", cfg.Width, cfg.Height)
	}
}

// TestFashionMNIST trains the MLP of examples/mlp.yaml on part of an epoch
// of the real Fashion-MNIST and checks the test accuracy; it is skipped
// when the data is not installed.
func TestFashionMNIST(t *testing.T) {
	if testing.Short() {
		t.Skip("trains on real data; skipped with -short")
	}
	trainDS, err := data.Open("fashion-mnist", "train", "")
	if errors.Is(err, data.ErrNotFound) {
		t.Skip("Fashion-MNIST is not installed; run shoal data get fashion-mnist")
	}
	if err != nil {
		t.Fatal(err)
	}
	testDS, err := data.Open("fashion-mnist", "test", "")
	if err != nil {
		t.Fatal(err)
	}
	const examples = 20000
	spec, err := nn.LoadSpec("../examples/mlp.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m, err := spec.Build()
	if err != nil {
		t.Fatal(err)
	}
	opt, err := optim.New("adam", m.NumParams(), optim.Config{LR: 1e-3})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := New(m, Options{Optimizer: opt, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	res, err := tr.Fit(context.Background(), loader(t, trainDS.Slice(0, examples), 64, true, 1), loader(t, testDS.Slice(0, 2000), 500, false, 0), 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d examples: test accuracy %.4f, %.0f samples/s", examples, res.Test.Accuracy, res.SamplesPerSec)
	if res.Test.Accuracy <= 0.75 {
		t.Errorf("test accuracy %.4f after %d examples; want > 0.75", res.Test.Accuracy, examples)
	}
}

// TestEvaluateMatchesTrainer checks that the package-level Evaluate of a
// model gives the trainer's own evaluation.
func TestEvaluateMatchesTrainer(t *testing.T) {
	m := newMLP(t, 2)
	tr := newTrainer(t, m, Options{})
	l := loader(t, blobs(t, 90, 5), 32, false, 0)
	if _, err := tr.Fit(context.Background(), l, nil, 2); err != nil {
		t.Fatal(err)
	}
	a, err := tr.Evaluate(context.Background(), l)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Evaluate(context.Background(), m, nil, l)
	if err != nil {
		t.Fatal(err)
	}
	if a.Loss != b.Loss || a.Accuracy != b.Accuracy || a.Examples != 90 {
		t.Errorf("Trainer.Evaluate = %+v, Evaluate = %+v; want equal over 90 examples", a, b)
	}
}

// BenchmarkStep measures one steady-state training step of a small MLP;
// -benchmem shows how little a step allocates once the tape is warm.
func BenchmarkStep(b *testing.B) {
	m := newMLP(b, 1, &nn.Dense{Units: 128}, &nn.ReLU{}, &nn.Dense{Units: 3})
	tr := newTrainer(b, m, Options{})
	l := loader(b, blobs(b, 64, 1), 64, false, 0)
	var batch *data.Batch
	for bt, err := range l.Batches(context.Background(), 0) {
		if err != nil {
			b.Fatal(err)
		}
		batch = bt
		break
	}
	ctx := context.Background()
	if _, err := tr.Step(ctx, batch); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tr.Step(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
}

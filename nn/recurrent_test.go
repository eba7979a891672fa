package nn_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/shoal-dl/shoal/autograd"
	"github.com/shoal-dl/shoal/autograd/autogradtest"
	"github.com/shoal-dl/shoal/nn"
	"github.com/shoal-dl/shoal/optim"
	"github.com/shoal-dl/shoal/tensor"
)

func sigmoid64(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// seqRef holds the sizes of a float64 reference recurrence.
type seqRef struct {
	n, steps, features, hidden int
	returnSeq                  bool
}

// project returns x·wx + b for example i at step s (gates·hidden values).
func (r seqRef) project(x, wx, b []float64, i, s, width int) []float64 {
	a := append([]float64(nil), b...)
	xr := x[(i*r.steps+s)*r.features : (i*r.steps+s+1)*r.features]
	for k, xv := range xr {
		for j := range a {
			a[j] += xv * wx[k*width+j]
		}
	}
	return a
}

// recur returns h·wh for one example (width values).
func recur(h, wh []float64, width int) []float64 {
	p := make([]float64, width)
	for k, hv := range h {
		for j := range p {
			p[j] += hv * wh[k*width+j]
		}
	}
	return p
}

// emit appends h of example i at step s to the output [N, T, H] or [N, H].
func (r seqRef) emit(out, h []float64, i, s int) {
	if r.returnSeq {
		copy(out[(i*r.steps+s)*r.hidden:], h)
	} else if s == r.steps-1 {
		copy(out[i*r.hidden:], h)
	}
}

func (r seqRef) outLen() int {
	if r.returnSeq {
		return r.n * r.steps * r.hidden
	}
	return r.n * r.hidden
}

// lstm is the float64 reference LSTM from zero state.
func (r seqRef) lstm(x, wx, wh, b []float64) []float64 {
	out, _, _ := r.lstmFrom(x, wx, wh, b, nil, nil)
	return out
}

// lstmFrom is the float64 reference LSTM from the states h0 and c0 [N, H]
// (nil means zeros); it also returns the final states.
func (r seqRef) lstmFrom(x, wx, wh, b, h0, c0 []float64) (out, hT, cT []float64) {
	hd := r.hidden
	out = make([]float64, r.outLen())
	hT, cT = make([]float64, r.n*hd), make([]float64, r.n*hd)
	if h0 != nil {
		copy(hT, h0)
		copy(cT, c0)
	}
	for i := 0; i < r.n; i++ {
		h, c := hT[i*hd:(i+1)*hd], cT[i*hd:(i+1)*hd]
		for s := 0; s < r.steps; s++ {
			a := r.project(x, wx, b, i, s, 4*hd)
			p := recur(h, wh, 4*hd)
			for j := 0; j < hd; j++ {
				ig := sigmoid64(a[j] + p[j])
				fg := sigmoid64(a[hd+j] + p[hd+j])
				gg := math.Tanh(a[2*hd+j] + p[2*hd+j])
				og := sigmoid64(a[3*hd+j] + p[3*hd+j])
				c[j] = fg*c[j] + ig*gg
				h[j] = og * math.Tanh(c[j])
			}
			r.emit(out, h, i, s)
		}
	}
	return out, hT, cT
}

// gru is the float64 reference GRU from zero state.
func (r seqRef) gru(x, wx, wh, b, bh []float64) []float64 {
	out, _ := r.gruFrom(x, wx, wh, b, bh, nil)
	return out
}

// gruFrom is the float64 reference GRU from the state h0 [N, H] (nil means
// zeros); it also returns the final state.
func (r seqRef) gruFrom(x, wx, wh, b, bh, h0 []float64) (out, hT []float64) {
	hd := r.hidden
	out = make([]float64, r.outLen())
	hT = make([]float64, r.n*hd)
	if h0 != nil {
		copy(hT, h0)
	}
	for i := 0; i < r.n; i++ {
		h := append([]float64(nil), hT[i*hd:(i+1)*hd]...)
		for s := 0; s < r.steps; s++ {
			a := r.project(x, wx, b, i, s, 3*hd)
			p := recur(h, wh, 3*hd)
			next := make([]float64, hd)
			for j := 0; j < hd; j++ {
				rg := sigmoid64(a[j] + p[j])
				z := sigmoid64(a[hd+j] + p[hd+j])
				n := math.Tanh(a[2*hd+j] + rg*(p[2*hd+j]+bh[j]))
				next[j] = (1-z)*n + z*h[j]
			}
			h = next
			r.emit(out, h, i, s)
		}
		copy(hT[i*hd:], h)
	}
	return out, hT
}

func TestLSTMGradients(t *testing.T) {
	for _, tc := range []seqRef{
		{n: 2, steps: 3, features: 3, hidden: 2, returnSeq: true},
		{n: 2, steps: 4, features: 3, hidden: 3, returnSeq: false},
		{n: 3, steps: 4, features: 2, hidden: 2, returnSeq: true},
	} {
		name := fmt.Sprintf("LSTM(N=%d T=%d F=%d H=%d seq=%t)", tc.n, tc.steps, tc.features, tc.hidden, tc.returnSeq)
		l := &nn.LSTM{Hidden: tc.hidden, ReturnSequences: tc.returnSeq}
		if _, err := l.Build([]int{tc.steps, tc.features}, &nn.Params{}); err != nil {
			t.Fatalf("%s: Build: %v", name, err)
		}
		h := tc.hidden
		autogradtest.Check(t, autogradtest.Case{
			Name: name,
			Inputs: []autogradtest.Input{
				{Shape: []int{tc.n, tc.steps, tc.features}, Grad: true},
				{Shape: []int{tc.features, 4 * h}, Grad: true},
				{Shape: []int{h, 4 * h}, Grad: true},
				{Shape: []int{4 * h}, Grad: true},
			},
			F32: func(tp *autograd.Tape, in []*autograd.Var) *autograd.Var {
				l.Wx, l.Wh, l.B = in[1], in[2], in[3]
				return l.Forward(tp, in[0])
			},
			F64:  func(in [][]float64) []float64 { return tc.lstm(in[0], in[1], in[2], in[3]) },
			Seed: uint64(tc.steps*10 + tc.hidden),
		})
	}
}

func TestGRUGradients(t *testing.T) {
	for _, tc := range []seqRef{
		{n: 2, steps: 3, features: 3, hidden: 2, returnSeq: true},
		{n: 2, steps: 4, features: 3, hidden: 3, returnSeq: false},
		{n: 3, steps: 4, features: 2, hidden: 2, returnSeq: true},
	} {
		name := fmt.Sprintf("GRU(N=%d T=%d F=%d H=%d seq=%t)", tc.n, tc.steps, tc.features, tc.hidden, tc.returnSeq)
		g := &nn.GRU{Hidden: tc.hidden, ReturnSequences: tc.returnSeq}
		if _, err := g.Build([]int{tc.steps, tc.features}, &nn.Params{}); err != nil {
			t.Fatalf("%s: Build: %v", name, err)
		}
		h := tc.hidden
		autogradtest.Check(t, autogradtest.Case{
			Name: name,
			Inputs: []autogradtest.Input{
				{Shape: []int{tc.n, tc.steps, tc.features}, Grad: true},
				{Shape: []int{tc.features, 3 * h}, Grad: true},
				{Shape: []int{h, 3 * h}, Grad: true},
				{Shape: []int{3 * h}, Grad: true},
				{Shape: []int{h}, Grad: true},
			},
			F32: func(tp *autograd.Tape, in []*autograd.Var) *autograd.Var {
				g.Wx, g.Wh, g.B, g.Bh = in[1], in[2], in[3], in[4]
				return g.Forward(tp, in[0])
			},
			F64:  func(in [][]float64) []float64 { return tc.gru(in[0], in[1], in[2], in[3], in[4]) },
			Seed: uint64(tc.steps*10 + tc.hidden),
		})
	}
}

// TestStatefulGradients checks the second chunk of a Stateful layer: its
// forward starts from the state the first chunk ended in, and its gradients
// treat that state as a constant. The reference computes the carried state
// once, from the unperturbed parameters, and reuses it while finite
// differences perturb them: the stop-gradient of truncated BPTT.
func TestStatefulGradients(t *testing.T) {
	ref := seqRef{n: 2, steps: 3, features: 2, hidden: 3, returnSeq: true}
	warm := randomSeq(rand.New(rand.NewPCG(6, 6)), ref.n, ref.steps, ref.features)
	warm64 := make([]float64, len(warm.Data))
	for i, v := range warm.Data {
		warm64[i] = float64(v)
	}
	h := ref.hidden
	x := autogradtest.Input{Shape: []int{ref.n, ref.steps, ref.features}, Grad: true}

	l := &nn.LSTM{Hidden: h, ReturnSequences: true, Stateful: true}
	if _, err := l.Build([]int{ref.steps, ref.features}, &nn.Params{}); err != nil {
		t.Fatal(err)
	}
	var h0, c0 []float64
	autogradtest.Check(t, autogradtest.Case{
		Name: "stateful LSTM, second chunk",
		Inputs: []autogradtest.Input{x,
			{Shape: []int{ref.features, 4 * h}, Grad: true},
			{Shape: []int{h, 4 * h}, Grad: true},
			{Shape: []int{4 * h}, Grad: true},
		},
		F32: func(tp *autograd.Tape, in []*autograd.Var) *autograd.Var {
			l.Wx, l.Wh, l.B = in[1], in[2], in[3]
			l.ResetState()
			l.Forward(nil, autograd.Constant(warm))
			return l.Forward(tp, in[0])
		},
		F64: func(in [][]float64) []float64 {
			if h0 == nil {
				_, h0, c0 = ref.lstmFrom(warm64, in[1], in[2], in[3], nil, nil)
			}
			out, _, _ := ref.lstmFrom(in[0], in[1], in[2], in[3], h0, c0)
			return out
		},
		Seed: 21,
	})

	g := &nn.GRU{Hidden: h, ReturnSequences: true, Stateful: true}
	if _, err := g.Build([]int{ref.steps, ref.features}, &nn.Params{}); err != nil {
		t.Fatal(err)
	}
	var gh0 []float64
	autogradtest.Check(t, autogradtest.Case{
		Name: "stateful GRU, second chunk",
		Inputs: []autogradtest.Input{x,
			{Shape: []int{ref.features, 3 * h}, Grad: true},
			{Shape: []int{h, 3 * h}, Grad: true},
			{Shape: []int{3 * h}, Grad: true},
			{Shape: []int{h}, Grad: true},
		},
		F32: func(tp *autograd.Tape, in []*autograd.Var) *autograd.Var {
			g.Wx, g.Wh, g.B, g.Bh = in[1], in[2], in[3], in[4]
			g.ResetState()
			g.Forward(nil, autograd.Constant(warm))
			return g.Forward(tp, in[0])
		},
		F64: func(in [][]float64) []float64 {
			if gh0 == nil {
				_, gh0 = ref.gruFrom(warm64, in[1], in[2], in[3], in[4], nil)
			}
			out, _ := ref.gruFrom(in[0], in[1], in[2], in[3], in[4], gh0)
			return out
		},
		Seed: 22,
	})
}

func TestRecurrentBuild(t *testing.T) {
	for _, tc := range []struct {
		layer   nn.Layer
		in      []int
		want    []int
		wantErr bool
	}{
		{&nn.LSTM{Hidden: 5, ReturnSequences: true}, []int{7, 3}, []int{7, 5}, false},
		{&nn.LSTM{Hidden: 5}, []int{7, 3}, []int{5}, false},
		{&nn.GRU{Hidden: 4, ReturnSequences: true}, []int{2, 6}, []int{2, 4}, false},
		{&nn.GRU{Hidden: 4}, []int{2, 6}, []int{4}, false},
		{&nn.LSTM{Hidden: 5}, []int{3}, nil, true},
		{&nn.LSTM{Hidden: 0}, []int{7, 3}, nil, true},
		{&nn.GRU{Hidden: 4}, []int{2, 3, 4}, nil, true},
	} {
		m, err := nn.NewSequential(tc.in, 1, tc.layer)
		if tc.wantErr {
			if err == nil {
				t.Errorf("NewSequential(%v, %T%+v) succeeded; want an error", tc.in, tc.layer, tc.layer)
			}
			continue
		}
		if err != nil {
			t.Errorf("NewSequential(%v, %T) = %v", tc.in, tc.layer, err)
			continue
		}
		if fmt.Sprint(m.OutputShape) != fmt.Sprint(tc.want) {
			t.Errorf("%T on %v: output shape %v; want %v", tc.layer, tc.in, m.OutputShape, tc.want)
		}
	}
}

// TestLSTMInit checks the documented initialisation: forget-gate bias 1,
// other biases 0, orthogonal recurrent blocks.
func TestLSTMInit(t *testing.T) {
	const h = 6
	l := &nn.LSTM{Hidden: h}
	if _, err := nn.NewSequential([]int{4, 3}, 9, l); err != nil {
		t.Fatal(err)
	}
	for j, v := range l.B.Value.Data {
		want := float32(0)
		if j >= h && j < 2*h {
			want = 1
		}
		if v != want {
			t.Fatalf("bias[%d] = %v; want %v (gate order i, f, g, o)", j, v, want)
		}
	}
	wh := l.Wh.Value.Data
	for b := 0; b < 4; b++ {
		// Columns of each block are orthonormal: Σ_k W[k, b·h+i]·W[k, b·h+j] = δij.
		for i := 0; i < h; i++ {
			for j := 0; j < h; j++ {
				var dot float64
				for k := 0; k < h; k++ {
					dot += float64(wh[k*4*h+b*h+i]) * float64(wh[k*4*h+b*h+j])
				}
				want := 0.0
				if i == j {
					want = 1
				}
				if math.Abs(dot-want) > 1e-5 {
					t.Fatalf("block %d: column %d · column %d = %v; want %v", b, i, j, dot, want)
				}
			}
		}
	}
}

// randomSeq returns a tensor [n, steps, f] of uniform values in [−1, 1).
func randomSeq(rng *rand.Rand, n, steps, f int) *tensor.Tensor {
	x := tensor.New(n, steps, f)
	for i := range x.Data {
		x.Data[i] = float32(rng.Float64()*2 - 1)
	}
	return x
}

// stepSlice returns steps [lo, hi) of x [N, T, F] as a new tensor.
func stepSlice(x *tensor.Tensor, lo, hi int) *tensor.Tensor {
	n, steps, f := x.Shape[0], x.Shape[1], x.Shape[2]
	out := tensor.New(n, hi-lo, f)
	for i := 0; i < n; i++ {
		copy(out.Data[i*(hi-lo)*f:(i+1)*(hi-lo)*f], x.Data[(i*steps+lo)*f:(i*steps+hi)*f])
	}
	return out
}

func maxAbsDiff(a, b []float32) float64 {
	var d float64
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i]-b[i])))
	}
	return d
}

// TestStatefulChunks checks truncated BPTT's forward: two consecutive
// chunks of T steps through a Stateful layer give the outputs of one call
// over 2T steps, with training tapes reset (and their memory reused)
// between chunks; ResetState and a batch of another size start from zeros.
func TestStatefulChunks(t *testing.T) {
	const n, steps, f, h = 3, 4, 2, 5
	for _, kind := range []string{"LSTM", "GRU"} {
		newLayer := func(stateful bool) (nn.Layer, func()) {
			if kind == "LSTM" {
				l := &nn.LSTM{Hidden: h, ReturnSequences: true, Stateful: stateful}
				return l, l.ResetState
			}
			g := &nn.GRU{Hidden: h, ReturnSequences: true, Stateful: stateful}
			return g, g.ResetState
		}
		rng := rand.New(rand.NewPCG(5, 5))
		x := randomSeq(rng, n, 2*steps, f)

		whole, _ := newLayer(false)
		mw, err := nn.NewSequential([]int{2 * steps, f}, 11, whole)
		if err != nil {
			t.Fatal(err)
		}
		want := mw.Predict(x)

		chunked, reset := newLayer(true)
		mc, err := nn.NewSequential([]int{steps, f}, 11, chunked)
		if err != nil {
			t.Fatal(err)
		}
		tape := autograd.NewTape(autograd.Training)
		var got []*tensor.Tensor
		for c := 0; c < 2; c++ {
			tape.Reset()
			mc.ZeroGrad()
			out := mc.Forward(tape, autograd.Constant(stepSlice(x, c*steps, (c+1)*steps)))
			got = append(got, out.Value.Clone())
			tape.Backward(tape.Sum(out))
		}
		for c := 0; c < 2; c++ {
			if d := maxAbsDiff(got[c].Data, stepSlice(want, c*steps, (c+1)*steps).Data); d > 1e-5 {
				t.Errorf("%s: chunk %d differs from the same steps of one call over %d steps by %g", kind, c, 2*steps, d)
			}
		}

		// After ResetState the second chunk is computed from zeros, like
		// a fresh non-stateful layer on that chunk alone.
		second := stepSlice(x, steps, 2*steps)
		fresh, _ := newLayer(false)
		mf, err := nn.NewSequential([]int{steps, f}, 11, fresh)
		if err != nil {
			t.Fatal(err)
		}
		wantFresh := mf.Predict(second)
		reset()
		if d := maxAbsDiff(mc.Predict(second).Data, wantFresh.Data); d > 1e-6 {
			t.Errorf("%s: after ResetState output differs from a zero start by %g", kind, d)
		}
		if d := maxAbsDiff(mc.Predict(second).Data, wantFresh.Data); d < 1e-4 {
			t.Errorf("%s: a stateful layer's second call gave the zero-start output again; the state was not carried", kind)
		}
		// A batch of another size resets the state.
		odd := randomSeq(rng, n+1, steps, f)
		if d := maxAbsDiff(mc.Predict(odd).Data, mf.Predict(odd).Data); d > 1e-6 {
			t.Errorf("%s: a batch of a new size did not start from zeros (difference %g)", kind, d)
		}
	}
}

// TestStatefulGradientStopsAtChunk checks that the gradient of a chunk
// does not depend on whether the previous chunk ran on the same tape: the
// carried state is a constant.
func TestStatefulGradientStopsAtChunk(t *testing.T) {
	const n, steps, f, h = 2, 3, 2, 4
	rng := rand.New(rand.NewPCG(8, 8))
	x1, x2 := randomSeq(rng, n, steps, f), randomSeq(rng, n, steps, f)
	run := func(sameTape bool) []float32 {
		l := &nn.LSTM{Hidden: h, Stateful: true}
		m, err := nn.NewSequential([]int{steps, f}, 3, l)
		if err != nil {
			t.Fatal(err)
		}
		tape := autograd.NewTape(autograd.Training)
		m.Forward(tape, autograd.Constant(x1))
		if !sameTape {
			tape.Reset()
		}
		m.ZeroGrad()
		tape.Backward(tape.Sum(m.Forward(tape, autograd.Constant(x2))))
		return append([]float32(nil), m.Grads()...)
	}
	if d := maxAbsDiff(run(true), run(false)); d != 0 {
		t.Errorf("gradient of the second chunk depends on the first chunk's tape (difference %g)", d)
	}
}

// delayedCopyBatch fills x [n, steps] with random symbols from an
// alphabet of size k and labels with the symbol d steps earlier (0 for the
// first d steps).
func delayedCopyBatch(rng *rand.Rand, n, steps, k, d int) (*tensor.Tensor, []int32) {
	x := tensor.New(n, steps)
	labels := make([]int32, n*steps)
	for i := 0; i < n; i++ {
		for s := 0; s < steps; s++ {
			x.Data[i*steps+s] = float32(rng.IntN(k))
			if s >= d {
				labels[i*steps+s] = int32(x.Data[i*steps+s-d])
			}
		}
	}
	return x, labels
}

// learnDelayedCopy trains Embedding → rnn → Dense on the delayed-copy task
// with Adam and returns the accuracy on a fresh batch over steps t ≥ d.
func learnDelayedCopy(t *testing.T, rnn nn.Layer, iters int) float64 {
	const n, steps, k, d = 32, 10, 4, 3
	m, err := nn.NewSequential([]int{steps}, 1,
		&nn.Embedding{Vocab: k, Dim: 8}, rnn, &nn.Dense{Units: k})
	if err != nil {
		t.Fatal(err)
	}
	opt, err := optim.NewAdam(m.NumParams(), optim.Config{LR: 0.02})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	score := func(evalN int) float64 {
		x, labels := delayedCopyBatch(rng, evalN, steps, k, d)
		pred := make([]int32, evalN*steps)
		tensor.ArgMaxRows(pred, m.Predict(x).Reshape(evalN*steps, k))
		var right, total int
		for i := 0; i < evalN; i++ {
			for s := d; s < steps; s++ {
				total++
				if pred[i*steps+s] == labels[i*steps+s] {
					right++
				}
			}
		}
		return float64(right) / float64(total)
	}
	tape := autograd.NewTape(autograd.Training)
	for it := 1; it <= iters; it++ {
		x, labels := delayedCopyBatch(rng, n, steps, k, d)
		tape.Reset()
		m.ZeroGrad()
		loss := tape.SoftmaxCrossEntropy(m.Forward(tape, autograd.Constant(x)), labels)
		tape.Backward(loss)
		opt.Step(m.Values(), m.Grads())
		// Stop early once a small fresh batch is all but solved; the
		// verdict below comes from another, larger fresh batch.
		if it%25 == 0 && score(64) == 1 {
			t.Logf("%s: delayed copy solved on a probe batch after %d steps", layerKind(rnn), it)
			break
		}
	}
	return score(256)
}

func layerKind(l nn.Layer) string { return fmt.Sprintf("%T", l)[len("*nn."):] }

func TestLSTMLearnsDelayedCopy(t *testing.T) {
	acc := learnDelayedCopy(t, &nn.LSTM{Hidden: 24, ReturnSequences: true}, 400)
	t.Logf("LSTM accuracy on delayed copy: %.4f", acc)
	if acc < 0.95 {
		t.Errorf("LSTM accuracy on delayed copy (delay 3) = %.3f; want ≥ 0.95", acc)
	}
}

func TestGRULearnsDelayedCopy(t *testing.T) {
	acc := learnDelayedCopy(t, &nn.GRU{Hidden: 24, ReturnSequences: true}, 400)
	t.Logf("GRU accuracy on delayed copy: %.4f", acc)
	if acc < 0.95 {
		t.Errorf("GRU accuracy on delayed copy (delay 3) = %.3f; want ≥ 0.95", acc)
	}
}

func BenchmarkLSTMForwardBackward(b *testing.B) {
	benchmarkRecurrent(b, &nn.LSTM{Hidden: 128, ReturnSequences: true})
}

func BenchmarkGRUForwardBackward(b *testing.B) {
	benchmarkRecurrent(b, &nn.GRU{Hidden: 128, ReturnSequences: true})
}

// benchmarkRecurrent times one training step of rnn on a batch of 32
// sequences of 35 steps of 64 features.
func benchmarkRecurrent(b *testing.B, rnn nn.Layer) {
	const n, steps, f = 32, 35, 64
	m, err := nn.NewSequential([]int{steps, f}, 1, rnn)
	if err != nil {
		b.Fatal(err)
	}
	x := autograd.Constant(randomSeq(rand.New(rand.NewPCG(1, 1)), n, steps, f))
	tape := autograd.NewTape(autograd.Training)
	b.ReportAllocs()
	for b.Loop() {
		tape.Reset()
		tape.Backward(tape.Sum(m.Forward(tape, x)))
	}
}

// A stateful LSTM reads a long sequence in chunks: each Forward starts
// from the state the previous one ended in, and gradients stop at the
// chunk boundary (truncated back-propagation through time).
func ExampleLSTM_stateful() {
	const batch, chunk, features = 4, 5, 3
	lstm := &nn.LSTM{Hidden: 8, ReturnSequences: true, Stateful: true}
	m, err := nn.NewSequential([]int{chunk, features}, 1, lstm, &nn.Dense{Units: 2})
	if err != nil {
		fmt.Println(err)
		return
	}
	tape := autograd.NewTape(autograd.Training)
	long := tensor.New(batch, 4*chunk, features) // four chunks of each of 4 streams
	for c := 0; c < 4; c++ {
		x := stepSlice(long, c*chunk, (c+1)*chunk)
		tape.Reset()
		m.ZeroGrad()
		out := m.Forward(tape, autograd.Constant(x))
		tape.Backward(tape.Mean(out))
		// An optimizer step on m.Values() from m.Grads() goes here.
		fmt.Println(c, out.Value.Shape)
	}
	lstm.ResetState() // the next batch starts new streams
	// Output:
	// 0 [4 5 2]
	// 1 [4 5 2]
	// 2 [4 5 2]
	// 3 [4 5 2]
}

func TestTimeDistributedDenseGradients(t *testing.T) {
	const n, steps, f, u = 2, 3, 4, 3
	d := &nn.Dense{Units: u}
	td := &nn.TimeDistributed{Layer: d}
	if _, err := td.Build([]int{steps, f}, &nn.Params{}); err != nil {
		t.Fatal(err)
	}
	autogradtest.Check(t, autogradtest.Case{
		Name: "TimeDistributed(Dense)",
		Inputs: []autogradtest.Input{
			{Shape: []int{n, steps, f}, Grad: true},
			{Shape: []int{f, u}, Grad: true},
			{Shape: []int{u}, Grad: true},
		},
		F32: func(tp *autograd.Tape, in []*autograd.Var) *autograd.Var {
			d.W, d.B = in[1], in[2]
			out := td.Forward(tp, in[0])
			if fmt.Sprint(out.Value.Shape) != fmt.Sprint([]int{n, steps, u}) {
				t.Errorf("TimeDistributed(Dense) output shape %v; want [%d %d %d]", out.Value.Shape, n, steps, u)
			}
			return out
		},
		F64: func(in [][]float64) []float64 {
			out := make([]float64, n*steps*u)
			for r := 0; r < n*steps; r++ {
				for j := 0; j < u; j++ {
					s := in[2][j]
					for k := 0; k < f; k++ {
						s += in[0][r*f+k] * in[1][k*u+j]
					}
					out[r*u+j] = s
				}
			}
			return out
		},
	})
}

// TestTimeDistributedConv runs a convolution over every frame of a
// sequence of images and checks it against the frames one by one.
func TestTimeDistributedConv(t *testing.T) {
	const n, steps = 2, 3
	conv := &nn.Conv2D{Filters: 2, Kernel: 3, Padding: 1}
	m, err := nn.NewSequential([]int{steps, 1, 4, 4}, 1, &nn.TimeDistributed{Layer: conv})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(m.OutputShape) != "[3 2 4 4]" {
		t.Fatalf("output shape %v; want [3 2 4 4]", m.OutputShape)
	}
	x := randomSeq(rand.New(rand.NewPCG(4, 4)), n, steps, 16)
	got := m.Predict(x.Reshape(n, steps, 1, 4, 4))
	for i := 0; i < n; i++ {
		for s := 0; s < steps; s++ {
			frame := tensor.FromData(x.Data[(i*steps+s)*16:(i*steps+s+1)*16], 1, 1, 4, 4)
			want := conv.Forward(nil, autograd.Constant(frame)).Value.Data
			off := (i*steps + s) * 32
			if d := maxAbsDiff(got.Data[off:off+32], want); d > 1e-6 {
				t.Errorf("example %d step %d differs from the frame alone by %g", i, s, d)
			}
		}
	}
	if _, err := nn.NewSequential([]int{4}, 1, &nn.TimeDistributed{Layer: conv}); err == nil {
		t.Errorf("TimeDistributed built on [4]; want a shape error")
	}
	if _, err := nn.NewSequential([]int{3, 4}, 1, &nn.TimeDistributed{Layer: &nn.Conv2D{Filters: 2, Kernel: 3}}); err == nil {
		t.Errorf("TimeDistributed(Conv2D) built on [3 4]; want the inner layer's shape error")
	}
}

// A sequence classifier: a GRU reads the whole sequence and a Dense layer
// classifies its last hidden state.
func ExampleGRU() {
	m, err := nn.NewSequential([]int{20, 6}, 1, &nn.GRU{Hidden: 16}, &nn.Dense{Units: 3})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range m.Summary() {
		fmt.Println(s.Type, s.Output, s.Params)
	}
	// Output:
	// GRU [16] 1120
	// Dense [3] 51
}

// TimeDistributed runs a per-frame layer over every step of a sequence:
// here a convolution over each of 8 frames of 1×12×12 images.
func ExampleTimeDistributed() {
	m, err := nn.NewSequential([]int{8, 1, 12, 12}, 1,
		&nn.TimeDistributed{Layer: &nn.Conv2D{Filters: 4, Kernel: 3}},
		&nn.TimeDistributed{Layer: nn.Flatten{}},
		&nn.LSTM{Hidden: 10})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(m.Shapes)
	// Output: [[8 4 10 10] [8 400] [10]]
}

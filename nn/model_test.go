package nn_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/shoal-dl/shoal/autograd"
	"github.com/shoal-dl/shoal/nn"
	"github.com/shoal-dl/shoal/optim"
	"github.com/shoal-dl/shoal/tensor"
)

func TestArenaLayout(t *testing.T) {
	m, err := nn.NewSequential([]int{1, 8, 8}, 3,
		&nn.Conv2D{Filters: 4, Kernel: 3, Padding: 1}, nn.ReLU{}, nn.NewMaxPool2D(2, 0),
		nn.Flatten{}, &nn.Dense{Units: 5})
	if err != nil {
		t.Fatal(err)
	}
	want := 4*1*3*3 + 4 + 4*4*4*5 + 5
	if m.NumParams() != want {
		t.Fatalf("NumParams = %d; want %d", m.NumParams(), want)
	}
	off := 0
	for _, p := range m.Params {
		if p.Offset != off || &p.Value.Data[0] != &m.Values()[off] || &p.Grad.Data[0] != &m.Grads()[off] {
			t.Fatalf("%s is not a view at offset %d of the arenas", p.Name, off)
		}
		off += p.Value.Len()
	}
	if got := m.OutputShape; len(got) != 1 || got[0] != 5 {
		t.Errorf("OutputShape = %v; want [5]", got)
	}
}

func TestSameSeedSameModel(t *testing.T) {
	build := func(seed uint64) []float32 {
		m, err := nn.NewSequential([]int{6}, seed, &nn.Dense{Units: 7}, nn.Tanh{}, &nn.Dense{Units: 2})
		if err != nil {
			t.Fatal(err)
		}
		return m.Values()
	}
	a, b, c := build(9), build(9), build(10)
	same := func(x, y []float32) bool {
		for i := range x {
			if math.Float32bits(x[i]) != math.Float32bits(y[i]) {
				return false
			}
		}
		return true
	}
	if !same(a, b) {
		t.Error("two models from seed 9 differ")
	}
	if same(a, c) {
		t.Error("models from seeds 9 and 10 are identical")
	}
}

func TestBuildErrorsNameLayer(t *testing.T) {
	cases := []struct {
		in     []int
		layers []nn.Layer
		want   string
	}{
		{[]int{784}, []nn.Layer{&nn.Conv2D{Filters: 2, Kernel: 3}}, "layer 0 (Conv2D)"},
		{[]int{1, 4, 4}, []nn.Layer{&nn.Conv2D{Filters: 2, Kernel: 7}}, "does not fit"},
		{[]int{10}, []nn.Layer{&nn.Dense{Units: 3}, &nn.Dense{Units: -1}}, "layer 1 (Dense)"},
		{[]int{10}, []nn.Layer{&nn.Dropout{Rate: 1.5}}, "rate"},
	}
	for _, c := range cases {
		_, err := nn.NewSequential(c.in, 1, c.layers...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("NewSequential(%v) error = %v; want one mentioning %q", c.in, err, c.want)
		}
	}
	_, err := nn.NewSequential([]int{784}, 1, &nn.Conv2D{Filters: 2, Kernel: 3})
	if !errors.Is(err, nn.ErrShape) {
		t.Errorf("error %v does not match nn.ErrShape", err)
	}
}

// TestDenseNoGradAllocatesNothing: a no-grad forward on a reused tape
// allocates nothing once warm.
func TestDenseNoGradAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates on its own")
	}
	prev := tensor.Threads()
	defer tensor.SetThreads(prev)
	for _, threads := range []int{1, 2} {
		tensor.SetThreads(threads)
		m, err := nn.NewSequential([]int{784}, 1, &nn.Dense{Units: 256}, nn.ReLU{}, &nn.Dense{Units: 10})
		if err != nil {
			t.Fatal(err)
		}
		x := autograd.Constant(tensor.New(64, 784))
		tape := autograd.NewTape(autograd.NoGrad)
		run := func() { tape.Reset(); m.Forward(tape, x) }
		run()
		if n := testing.AllocsPerRun(20, run); n != 0 {
			t.Errorf("threads %d: %v allocations per no-grad forward; want 0", threads, n)
		}
	}
}

func BenchmarkDenseNoGrad(b *testing.B) {
	m, err := nn.NewSequential([]int{784}, 1, &nn.Dense{Units: 256})
	if err != nil {
		b.Fatal(err)
	}
	x := autograd.Constant(tensor.New(128, 784))
	tape := autograd.NewTape(autograd.NoGrad)
	b.ReportAllocs()
	for b.Loop() {
		tape.Reset()
		m.Forward(tape, x)
	}
}

// fit trains m with Adam on (x, labels) for steps full-batch steps and
// returns the final training accuracy.
func fit(t *testing.T, m *nn.Model, x *tensor.Tensor, labels []int32, steps int, lr float64) float64 {
	t.Helper()
	opt, err := optim.NewAdam(m.NumParams(), optim.Config{LR: lr})
	if err != nil {
		t.Fatal(err)
	}
	tape := autograd.NewTape(autograd.Training)
	in := autograd.Constant(x)
	for step := 0; step < steps; step++ {
		tape.Reset()
		m.ZeroGrad()
		tape.Backward(tape.SoftmaxCrossEntropy(m.Forward(tape, in), labels))
		opt.Step(m.Values(), m.Grads())
	}
	return accuracy(m.Predict(x), labels)
}

func accuracy(out *tensor.Tensor, labels []int32) float64 {
	pred := make([]int32, len(labels))
	tensor.ArgMaxRows(pred, out)
	right := 0
	for i := range pred {
		if pred[i] == labels[i] {
			right++
		}
	}
	return float64(right) / float64(len(labels))
}

// TestMLPLearnsTwoSpirals: two interleaved spirals, the classic hard case for
// a small MLP.
func TestMLPLearnsTwoSpirals(t *testing.T) {
	const perClass = 200
	x := tensor.New(2*perClass, 2)
	labels := make([]int32, 2*perClass)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < perClass; i++ {
		r := float64(i) / perClass * 5
		theta := float64(i) / perClass * 3 * math.Pi
		for c := 0; c < 2; c++ {
			k := 2*i + c
			sign := float64(1 - 2*c)
			x.Data[2*k] = float32(sign*r*math.Cos(theta) + rng.NormFloat64()*0.05)
			x.Data[2*k+1] = float32(sign*r*math.Sin(theta) + rng.NormFloat64()*0.05)
			labels[k] = int32(c)
		}
	}
	m, err := nn.NewSequential([]int{2}, 7,
		&nn.Dense{Units: 64}, nn.Tanh{}, &nn.Dense{Units: 64}, nn.Tanh{}, &nn.Dense{Units: 2})
	if err != nil {
		t.Fatal(err)
	}
	if acc := fit(t, m, x, labels, 1500, 0.01); acc < 0.98 {
		t.Errorf("two-spiral training accuracy %.3f; want ≥ 0.98", acc)
	}
}

// TestCNNSeparatesStripes: images with horizontal vs vertical stripes at
// random phases and noise; a small CNN must separate them.
func TestCNNSeparatesStripes(t *testing.T) {
	const n, size = 128, 12
	x := tensor.New(n, 1, size, size)
	labels := make([]int32, n)
	rng := rand.New(rand.NewPCG(3, 4))
	for k := 0; k < n; k++ {
		labels[k] = int32(k % 2)
		phase := rng.IntN(4)
		for i := 0; i < size; i++ {
			for j := 0; j < size; j++ {
				c := j
				if labels[k] == 1 {
					c = i
				}
				v := float32(0)
				if (c+phase)%4 < 2 {
					v = 1
				}
				x.Data[(k*size+i)*size+j] = v + float32(rng.NormFloat64()*0.3)
			}
		}
	}
	m, err := nn.NewSequential([]int{1, size, size}, 5,
		&nn.Conv2D{Filters: 4, Kernel: 3, Padding: 1}, nn.ReLU{}, nn.NewMaxPool2D(2, 0),
		&nn.Conv2D{Filters: 8, Kernel: 3, Padding: 1}, nn.ReLU{}, nn.NewAvgPool2D(2, 0),
		nn.Flatten{}, &nn.Dense{Units: 2})
	if err != nil {
		t.Fatal(err)
	}
	if acc := fit(t, m, x, labels, 150, 0.01); acc < 0.97 {
		t.Errorf("stripe classification accuracy %.3f; want ≥ 0.97", acc)
	}
}

package nn_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/shoal-dl/shoal/autograd"
	"github.com/shoal-dl/shoal/autograd/autogradtest"
	"github.com/shoal-dl/shoal/nn"
	"github.com/shoal-dl/shoal/tensor"
)

// batchNormRef is the float64 reference of a training-mode BatchNorm on
// x [n, c, inner] with biased batch variance.
func batchNormRef(x, gamma, beta []float64, n, c, inner int, eps float64) []float64 {
	y := make([]float64, len(x))
	m := float64(n * inner)
	for ch := 0; ch < c; ch++ {
		var mean, variance float64
		for i := 0; i < n; i++ {
			for _, v := range x[(i*c+ch)*inner : (i*c+ch+1)*inner] {
				mean += v
			}
		}
		mean /= m
		for i := 0; i < n; i++ {
			for _, v := range x[(i*c+ch)*inner : (i*c+ch+1)*inner] {
				variance += (v - mean) * (v - mean)
			}
		}
		variance /= m
		for i := 0; i < n; i++ {
			off := (i*c + ch) * inner
			for j := 0; j < inner; j++ {
				y[off+j] = gamma[ch]*(x[off+j]-mean)/math.Sqrt(variance+eps) + beta[ch]
			}
		}
	}
	return y
}

func TestBatchNormGradients(t *testing.T) {
	for _, tc := range []struct {
		n  int
		in []int
	}{
		{4, []int{3}},
		{2, []int{2, 2, 3}},
		{3, []int{1, 3, 1}},
	} {
		name := fmt.Sprintf("BatchNorm(N=%d, %v)", tc.n, tc.in)
		b := &nn.BatchNorm{}
		if _, err := b.Build(tc.in, &nn.Params{}); err != nil {
			t.Fatalf("%s: Build: %v", name, err)
		}
		c := tc.in[0]
		// Built outside a model, the running statistics need storage.
		b.RunningMean, b.RunningVar = tensor.New(c), tensor.New(c)
		tensor.Fill(b.RunningVar, 1)
		inner := tensor.Volume(tc.in) / c
		autogradtest.Check(t, autogradtest.Case{
			Name: name,
			Inputs: []autogradtest.Input{
				{Shape: append([]int{tc.n}, tc.in...), Lo: -2, Hi: 3, Grad: true},
				{Shape: []int{c}, Lo: 0.5, Hi: 1.5, Grad: true},
				{Shape: []int{c}, Grad: true},
			},
			F32: func(tp *autograd.Tape, in []*autograd.Var) *autograd.Var {
				b.Gamma, b.Beta = in[1], in[2]
				return b.Forward(tp, in[0])
			},
			F64: func(in [][]float64) []float64 {
				return batchNormRef(in[0], in[1], in[2], tc.n, c, inner, nn.DefaultBatchNormEps)
			},
			Seed: uint64(tc.n),
		})
	}
}

// TestBatchNormRunningStats follows two training steps by hand (PyTorch's
// rule with momentum 0.1 and the unbiased variance), then checks that eval
// mode uses the running statistics.
func TestBatchNormRunningStats(t *testing.T) {
	b := &nn.BatchNorm{}
	m, err := nn.NewSequential([]int{2}, 1, b)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(m.BufferValues()); got != "[0 0 1 1]" {
		t.Fatalf("initial buffers (mean, var) = %s; want [0 0 1 1]", got)
	}
	tape := autograd.NewTape(autograd.Training)
	steps := []struct {
		x                 []float32
		wantMean, wantVar [2]float64
	}{
		// Feature 0: 1 3 5, mean 3, unbiased variance 4. Feature 1: 2 4 9,
		// mean 5, unbiased variance 13.
		{[]float32{1, 2, 3, 4, 5, 9}, [2]float64{0.3, 0.5}, [2]float64{0.9 + 0.4, 0.9 + 1.3}},
		// Feature 0: 0 2 4, mean 2, variance 4. Feature 1: constant 1.
		{[]float32{0, 1, 2, 1, 4, 1}, [2]float64{0.9*0.3 + 0.2, 0.9*0.5 + 0.1}, [2]float64{0.9*1.3 + 0.4, 0.9 * 2.2}},
	}
	for i, st := range steps {
		tape.Reset()
		y := m.Forward(tape, autograd.Constant(tensor.FromData(st.x, 3, 2)))
		for f := 0; f < 2; f++ {
			if got := float64(b.RunningMean.Data[f]); math.Abs(got-st.wantMean[f]) > 1e-6 {
				t.Errorf("step %d: running mean[%d] = %v; want %v", i+1, f, got, st.wantMean[f])
			}
			if got := float64(b.RunningVar.Data[f]); math.Abs(got-st.wantVar[f]) > 1e-6 {
				t.Errorf("step %d: running var[%d] = %v; want %v", i+1, f, got, st.wantVar[f])
			}
		}
		// Training output of feature 0 is normalised with batch statistics.
		var mean, sq float64
		for r := 0; r < 3; r++ {
			mean += float64(y.Value.Data[2*r]) / 3
		}
		for r := 0; r < 3; r++ {
			d := float64(y.Value.Data[2*r]) - mean
			sq += d * d / 3
		}
		if math.Abs(mean) > 1e-6 || math.Abs(sq-1) > 1e-4 {
			t.Errorf("step %d: training output of feature 0 has mean %v and variance %v; want 0 and 1", i+1, mean, sq)
		}
	}

	// Eval: (x − running mean)/√(running var + eps), batch statistics unused
	// and running statistics unchanged.
	before := append([]float32(nil), m.BufferValues()...)
	got := m.Predict(tensor.FromData([]float32{1, 2}, 1, 2))
	want := []float64{
		(1 - 0.47) / math.Sqrt(1.57+1e-5),
		(2 - 0.55) / math.Sqrt(1.98+1e-5),
	}
	for f := range want {
		if math.Abs(float64(got.Data[f])-want[f]) > 1e-5 {
			t.Errorf("eval output[%d] = %v; want %v", f, got.Data[f], want[f])
		}
	}
	if fmt.Sprint(before) != fmt.Sprint(m.BufferValues()) {
		t.Errorf("eval changed the running statistics: %v → %v", before, m.BufferValues())
	}
}

// TestBatchNormEvalConv checks eval mode on [C, H, W] against the formula
// with arbitrary running statistics, Gamma and Beta.
func TestBatchNormEvalConv(t *testing.T) {
	b := &nn.BatchNorm{Eps: 1e-3}
	m, err := nn.NewSequential([]int{2, 2, 2}, 1, b)
	if err != nil {
		t.Fatal(err)
	}
	copy(b.RunningMean.Data, []float32{1, -2})
	copy(b.RunningVar.Data, []float32{4, 0.25})
	copy(b.Gamma.Value.Data, []float32{2, 3})
	copy(b.Beta.Value.Data, []float32{0.5, -1})
	rng := rand.New(rand.NewPCG(2, 3))
	x := randomSeq(rng, 3, 2, 4).Reshape(3, 2, 2, 2)
	y := m.Forward(autograd.NewTape(autograd.NoGrad), autograd.Constant(x)).Value
	for i := range x.Data {
		ch := (i / 4) % 2
		want := float64(b.Gamma.Value.Data[ch])*(float64(x.Data[i])-float64(b.RunningMean.Data[ch]))/
			math.Sqrt(float64(b.RunningVar.Data[ch])+1e-3) + float64(b.Beta.Value.Data[ch])
		if math.Abs(float64(y.Data[i])-want) > 1e-5 {
			t.Fatalf("eval output[%d] (channel %d) = %v; want %v", i, ch, y.Data[i], want)
		}
	}
}

func TestBatchNormBuildAndMisuse(t *testing.T) {
	for _, in := range [][]int{{}, {2, 3}, {1, 2, 3, 4}} {
		if _, err := nn.NewSequential(in, 1, &nn.BatchNorm{}); err == nil {
			t.Errorf("BatchNorm built for input %v; want a shape error", in)
		}
	}
	if _, err := nn.NewSequential([]int{3}, 1, &nn.BatchNorm{Momentum: 2}); err == nil {
		t.Errorf("BatchNorm built with momentum 2; want an error")
	}
	m, err := nn.NewSequential([]int{3}, 1, &nn.BatchNorm{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		msg, _ := recover().(string)
		if !strings.Contains(msg, "more than one value per channel") {
			t.Errorf("training on a batch of one: panic %q; want one about values per channel", msg)
		}
	}()
	m.Forward(autograd.NewTape(autograd.Training), autograd.Constant(tensor.New(1, 3)))
}

// BatchNorm normalises with batch statistics in training and with the
// running statistics in inference.
func ExampleBatchNorm() {
	bn := &nn.BatchNorm{}
	m, err := nn.NewSequential([]int{1}, 1, bn)
	if err != nil {
		fmt.Println(err)
		return
	}
	x := tensor.FromData([]float32{1, 3}, 2, 1)
	tape := autograd.NewTape(autograd.Training)
	fmt.Printf("train: %.3f\n", m.Forward(tape, autograd.Constant(x)).Value.Data)
	fmt.Printf("running mean %.2f, var %.2f\n", bn.RunningMean.Data[0], bn.RunningVar.Data[0])
	fmt.Printf("eval:  %.3f\n", m.Predict(x).Data)
	// Output:
	// train: [-1.000 1.000]
	// running mean 0.20, var 1.10
	// eval:  [0.763 2.670]
}

func BenchmarkBatchNormTrainConv(b *testing.B) {
	const n, c, hw = 32, 32, 16
	m, err := nn.NewSequential([]int{c, hw, hw}, 1, &nn.BatchNorm{})
	if err != nil {
		b.Fatal(err)
	}
	x := autograd.Constant(randomSeq(rand.New(rand.NewPCG(1, 1)), n, c, hw*hw).Reshape(n, c, hw, hw))
	tape := autograd.NewTape(autograd.Training)
	b.SetBytes(int64(4 * n * c * hw * hw))
	for b.Loop() {
		tape.Reset()
		tape.Backward(tape.Sum(m.Forward(tape, x)))
	}
}

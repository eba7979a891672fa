package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

var softmaxShapes = [][]int{{1, 1}, {1, 7}, {13, 10}, {3, 2, 5}, {5000, 10}, {4, 4097}}

func TestSoftmax(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	for _, sh := range softmaxShapes {
		c := sh[len(sh)-1]
		x := randTensor(rng, sh...)
		Scale(x, x, 8)
		xs := to64(x.Data)
		name := fmt.Sprintf("%v", sh)

		y := New(sh...)
		Softmax(y, x)
		assertClose(t, "Softmax"+name, y.Data, refSoftmax(xs, c), 1e-5)
		dy, dx := randTensor(rng, sh...), randTensor(rng, sh...)
		want := plus(dx.Data, refSoftmaxGrad(xs, c, to64(dy.Data)))
		SoftmaxGrad(dx, y, dy)
		assertClose(t, "SoftmaxGrad"+name, dx.Data, want, 1e-4)

		LogSoftmax(y, x)
		assertClose(t, "LogSoftmax"+name, y.Data, refLogSoftmax(xs, c), 1e-5)
		want = plus(dx.Data, refLogSoftmaxGrad(xs, c, to64(dy.Data)))
		LogSoftmaxGrad(dx, y, dy)
		assertClose(t, "LogSoftmaxGrad"+name, dx.Data, want, 1e-4)
	}
}

func TestSoftmaxLargeLogits(t *testing.T) {
	x := FromData([]float32{1000, 1001, -1000, 0}, 1, 4)
	y := New(1, 4)
	Softmax(y, x)
	want := refSoftmax([]float64{0, 1, -2000, -1000}, 4) // shift-invariant
	assertClose(t, "Softmax(large)", y.Data, want, 1e-6)
	LogSoftmax(y, x)
	for i, v := range y.Data {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			t.Errorf("LogSoftmax(large)[%d] = %g; want finite", i, v)
		}
	}
	loss := SoftmaxCrossEntropy(New(1, 4), x, []int32{2})
	if want := float32(2001 + math.Log1p(math.Exp(-1))); math.Abs(float64(loss-want)) > 1e-3 {
		t.Errorf("SoftmaxCrossEntropy with a label of probability e^-2001 = %g; want %g", loss, want)
	}
}

func TestSoftmaxCrossEntropy(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	for _, sh := range [][]int{{1, 1}, {1, 7}, {13, 10}, {128, 10}, {3000, 13}} {
		n, c := sh[0], sh[1]
		x := randTensor(rng, n, c)
		Scale(x, x, 5)
		labels := make([]int32, n)
		for i := range labels {
			labels[i] = int32(rng.IntN(c))
		}
		xs := to64(x.Data)
		probs := New(n, c)
		loss := SoftmaxCrossEntropy(probs, x, labels)
		name := fmt.Sprintf("%v", sh)
		assertClose(t, "SoftmaxCrossEntropy"+name, []float32{loss}, []float64{refCrossEntropy(xs, c, labels)}, 1e-5)
		assertClose(t, "SoftmaxCrossEntropy probs"+name, probs.Data, refSoftmax(xs, c), 1e-5)

		// scale = upstream/N with upstream 2.
		dl := randTensor(rng, n, c)
		g := refCrossEntropyGrad(xs, c, labels)
		for i := range g {
			g[i] *= 2
		}
		want := plus(dl.Data, g)
		SoftmaxCrossEntropyGrad(dl, probs, labels, 2/float32(n))
		assertClose(t, "SoftmaxCrossEntropyGrad"+name, dl.Data, want, 1e-5)
	}
}

package tensor_test

import (
	"fmt"

	"github.com/shoal-dl/shoal/tensor"
)

// A dense layer's forward and backward pass with the kernels: the caller
// owns every buffer, and gradients accumulate.
func Example() {
	x := tensor.FromData([]float32{1, 2, 3, 4}, 2, 2) // batch of 2, 2 features
	w := tensor.FromData([]float32{0.5, -1, 1, 0.5}, 2, 2)
	b := tensor.FromData([]float32{0.1, -0.1}, 2)

	y := tensor.New(2, 2)
	tensor.MatMul(y, x, w, false, false, false) // y = x·w
	tensor.AddRowVector(y, y, b)                // y += b
	tensor.ReLU(y, y)
	fmt.Println("y  =", y.Data)

	dy := tensor.FromData([]float32{1, 1, 1, 1}, 2, 2)
	dz := tensor.New(2, 2)
	tensor.ReLUGrad(dz, y, dy) // ReLU'(z) is 1 where the output is positive
	dw, db := tensor.New(2, 2), tensor.New(2)
	tensor.MatMul(dw, x, dz, true, false, true) // dw += xᵀ·dz
	tensor.SumRows(db, dz, true)                // db += Σ rows of dz
	fmt.Println("dw =", dw.Data)
	fmt.Println("db =", db.Data)
	// Output:
	// y  = [2.6 0 5.6 0]
	// dw = [4 0 6 0]
	// db = [2 0]
}

// Softmax cross-entropy over a batch of logits, then its gradient for a
// mean loss (scale = 1/N).
func ExampleSoftmaxCrossEntropy() {
	logits := tensor.FromData([]float32{2, 0, 0, 0, 0, 2}, 2, 3)
	labels := []int32{0, 2}
	probs := tensor.New(2, 3)
	loss := tensor.SoftmaxCrossEntropy(probs, logits, labels)
	fmt.Printf("loss %.4f\n", loss)

	dlogits := tensor.New(2, 3)
	tensor.SoftmaxCrossEntropyGrad(dlogits, probs, labels, 1.0/2)
	fmt.Printf("dlogits row 0 %.4f\n", dlogits.Data[:3])
	// Output:
	// loss 0.2395
	// dlogits row 0 [-0.1065 0.0533 0.0533]
}

// A convolutional block: 3×3 convolution with padding 1, ReLU, 2×2 max
// pool. argmax records, per output, the winning index in its input plane.
func ExampleConv2D() {
	x := tensor.New(1, 1, 4, 4)
	for i := range x.Data {
		x.Data[i] = float32(i)
	}
	w := tensor.New(2, 1, 3, 3)
	w.Data[4] = 1    // filter 0: identity
	w.Data[9+4] = -1 // filter 1: negation
	g := tensor.ConvGeom{KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}
	oh, ow := g.OutSize(4, 4)
	y := tensor.New(1, 2, oh, ow)
	tensor.Conv2D(y, x, w, nil, g)
	tensor.ReLU(y, y)

	pool := tensor.ConvGeom{KH: 2, KW: 2, StrideH: 2, StrideW: 2}
	ph, pw := pool.OutSize(oh, ow)
	p := tensor.New(1, 2, ph, pw)
	argmax := make([]int32, p.Len())
	tensor.MaxPool2D(p, argmax, y, pool)
	fmt.Println(p.Shape, p.Data)
	fmt.Println(argmax)
	// Output:
	// [1 2 2 2] [5 7 13 15 0 0 0 0]
	// [5 7 13 15 0 2 8 10]
}

package tensor

import "testing"

// TestShapePanics checks that every kernel rejects mismatched shapes with a
// message naming the op and the shapes involved.
func TestShapePanics(t *testing.T) {
	a34, a56, a4, a5 := New(3, 4), New(5, 6), New(4), New(5)
	x := New(2, 3, 8, 8)
	w := New(4, 3, 3, 3)
	g := ConvGeom{KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}
	pool := ConvGeom{KH: 2, KW: 2, StrideH: 2, StrideW: 2}
	cases := []struct {
		name  string
		f     func()
		parts []string
	}{
		{"MatMul", func() { MatMul(New(3, 6), a34, a56, false, false, false) }, []string{"MatMul", "[3 4]", "[5 6]"}},
		{"MatMul dst", func() { MatMul(New(3, 5), a34, New(4, 6), false, false, false) }, []string{"MatMul", "[3 5]", "[3 6]"}},
		{"MatMul rank", func() { MatMul(New(3, 6), a4, a56, false, false, false) }, []string{"MatMul", "[4]", "[5 6]"}},
		{"Add", func() { Add(a34, a34, a5) }, []string{"Add", "[3 4]", "[5]"}},
		{"Sub", func() { Sub(a34, New(2, 4), a4) }, []string{"Sub", "[2 4]", "[4]"}},
		{"Mul rank", func() { Mul(a4, a34, a4) }, []string{"Mul", "[3 4]", "[4]"}},
		{"Div", func() { Div(a34, a34, New(3)) }, []string{"Div", "[3]"}},
		{"AddScalar", func() { AddScalar(a34, a56, 1) }, []string{"AddScalar", "[3 4]", "[5 6]"}},
		{"Scale", func() { Scale(a34, a5, 1) }, []string{"Scale", "[3 4]", "[5]"}},
		{"Axpy", func() { Axpy(a4, 1, a5) }, []string{"Axpy", "[4]", "[5]"}},
		{"AddRowVector", func() { AddRowVector(a34, a34, a5) }, []string{"AddRowVector", "[3 4]", "[5]"}},
		{"AddRowVector dst", func() { AddRowVector(a56, a34, a4) }, []string{"AddRowVector", "[5 6]", "[3 4]"}},
		{"Exp", func() { Exp(a4, a5) }, []string{"Exp", "[4]", "[5]"}},
		{"Log", func() { Log(a4, a5) }, []string{"Log"}},
		{"Sqrt", func() { Sqrt(a4, a5) }, []string{"Sqrt"}},
		{"Neg", func() { Neg(a4, a5) }, []string{"Neg"}},
		{"SumTo", func() { SumTo(a5, a34, false) }, []string{"SumTo", "[5]", "[3 4]"}},
		{"SumRows", func() { SumRows(a5, a34, false) }, []string{"SumRows", "[5]", "[3 4]"}},
		{"SumAxis", func() { SumAxis(a5, a34, 0) }, []string{"SumAxis", "[5]", "[3 4]"}},
		{"SumAxis axis", func() { SumAxis(a4, a34, 2) }, []string{"SumAxis", "axis 2", "[3 4]"}},
		{"MeanAxis", func() { MeanAxis(a4, a34, 1) }, []string{"MeanAxis", "[4]", "[3 4]"}},
		{"MaxAxis", func() { MaxAxis(a5, nil, a34, 1) }, []string{"MaxAxis", "[5]", "[3 4]"}},
		{"MaxAxis argmax", func() { MaxAxis(New(3), make([]int32, 2), a34, 1) }, []string{"MaxAxis", "argmax length 2"}},
		{"ArgMaxRows", func() { ArgMaxRows(make([]int32, 4), a34) }, []string{"ArgMaxRows", "[3 4]"}},
		{"ReLU", func() { ReLU(a4, a5) }, []string{"ReLU", "[4]", "[5]"}},
		{"ReLUGrad", func() { ReLUGrad(a4, a4, a5) }, []string{"ReLUGrad", "[4]", "[5]"}},
		{"LeakyReLU", func() { LeakyReLU(a4, a5, 0.1) }, []string{"LeakyReLU"}},
		{"LeakyReLUGrad", func() { LeakyReLUGrad(a4, a5, a4, 0.1) }, []string{"LeakyReLUGrad"}},
		{"Tanh", func() { Tanh(a4, a5) }, []string{"Tanh"}},
		{"TanhGrad", func() { TanhGrad(a4, a4, a5) }, []string{"TanhGrad"}},
		{"Sigmoid", func() { Sigmoid(a4, a5) }, []string{"Sigmoid"}},
		{"SigmoidGrad", func() { SigmoidGrad(a4, a5, a4) }, []string{"SigmoidGrad"}},
		{"GELU", func() { GELU(a4, a5) }, []string{"GELU"}},
		{"GELUGrad", func() { GELUGrad(a4, a4, a5) }, []string{"GELUGrad"}},
		{"Softmax", func() { Softmax(a34, New(4, 3)) }, []string{"Softmax", "[3 4]", "[4 3]"}},
		{"SoftmaxGrad", func() { SoftmaxGrad(a34, a34, a56) }, []string{"SoftmaxGrad", "[3 4]", "[5 6]"}},
		{"LogSoftmax", func() { LogSoftmax(a34, a56) }, []string{"LogSoftmax"}},
		{"LogSoftmaxGrad", func() { LogSoftmaxGrad(a34, a56, a34) }, []string{"LogSoftmaxGrad"}},
		{"SoftmaxCrossEntropy", func() { SoftmaxCrossEntropy(a34, a56, make([]int32, 5)) }, []string{"SoftmaxCrossEntropy", "[3 4]", "[5 6]"}},
		{"SoftmaxCrossEntropy labels", func() { SoftmaxCrossEntropy(a34, a34, make([]int32, 2)) }, []string{"SoftmaxCrossEntropy", "2 labels", "[3 4]"}},
		{"SoftmaxCrossEntropy label range", func() { SoftmaxCrossEntropy(a34, a34, []int32{0, 4, 1}) }, []string{"SoftmaxCrossEntropy", "label 4", "[0, 4)"}},
		{"SoftmaxCrossEntropyGrad", func() { SoftmaxCrossEntropyGrad(a34, a56, make([]int32, 3), 1) }, []string{"SoftmaxCrossEntropyGrad", "[3 4]", "[5 6]"}},
		{"Im2Col", func() { Im2Col(make([]float32, 10), make([]float32, 3*8*8), 3, 8, 8, g) }, []string{"Im2Col", "[3 8 8]"}},
		{"Col2Im", func() { Col2Im(make([]float32, 10), make([]float32, 27*64), 3, 8, 8, g) }, []string{"Col2Im", "[3 8 8]"}},
		{"Conv2D", func() { Conv2D(New(2, 4, 8, 8), x, New(4, 2, 3, 3), nil, g) }, []string{"Conv2D", "[2 3 8 8]", "[4 2 3 3]"}},
		{"Conv2D dst", func() { Conv2D(New(2, 4, 6, 6), x, w, nil, g) }, []string{"Conv2D", "[2 4 6 6]", "[2 4 8 8]"}},
		{"Conv2D bias", func() { Conv2D(New(2, 4, 8, 8), x, w, a5, g) }, []string{"Conv2D", "[5]", "[4]"}},
		{"Conv2D geometry", func() { Conv2D(New(2, 4, 8, 8), x, w, nil, ConvGeom{KH: 3, KW: 3}) }, []string{"ConvGeom", "strides"}},
		{"Conv2DGrad dx", func() { Conv2DGrad(New(2, 3, 8, 7), nil, nil, x, w, New(2, 4, 8, 8), g) }, []string{"Conv2DGrad", "[2 3 8 7]", "[2 3 8 8]"}},
		{"Conv2DGrad dw", func() { Conv2DGrad(nil, New(4, 3, 3, 2), nil, x, w, New(2, 4, 8, 8), g) }, []string{"Conv2DGrad", "[4 3 3 2]", "[4 3 3 3]"}},
		{"Conv2DGrad dy", func() { Conv2DGrad(nil, nil, a4, x, w, New(2, 4, 8, 9), g) }, []string{"Conv2DGrad", "[2 4 8 9]", "[2 4 8 8]"}},
		{"MaxPool2D", func() { MaxPool2D(New(2, 3, 5, 4), nil, x, pool) }, []string{"MaxPool2D", "[2 3 5 4]", "[2 3 4 4]"}},
		{"MaxPool2D argmax", func() { MaxPool2D(New(2, 3, 4, 4), make([]int32, 3), x, pool) }, []string{"MaxPool2D", "argmax length 3"}},
		{"MaxPool2DGrad", func() { MaxPool2DGrad(New(2, 2, 8, 8), New(2, 3, 4, 4), make([]int32, 96)) }, []string{"MaxPool2DGrad", "[2 2 8 8]", "[2 3 4 4]"}},
		{"AvgPool2D", func() { AvgPool2D(New(2, 3, 4, 5), x, pool) }, []string{"AvgPool2D", "[2 3 4 5]", "[2 3 4 4]"}},
		{"AvgPool2DGrad", func() { AvgPool2DGrad(x, New(2, 3, 4, 3), pool) }, []string{"AvgPool2DGrad", "[2 3 4 3]", "[2 3 4 4]"}},
	}
	for _, c := range cases {
		mustPanic(t, c.name, c.f, c.parts...)
	}
}

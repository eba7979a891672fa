package autograd_test

import (
	"math"
	"testing"

	"github.com/shoal-dl/shoal/autograd"
	"github.com/shoal-dl/shoal/autograd/autogradtest"
	"github.com/shoal-dl/shoal/tensor"
)

type V = autograd.Var
type T = autograd.Tape

func elementwise(f func(x float64) float64) func(in [][]float64) []float64 {
	return func(in [][]float64) []float64 {
		out := make([]float64, len(in[0]))
		for i, x := range in[0] {
			out[i] = f(x)
		}
		return out
	}
}

// bcast64 applies f to a [r, c] and b broadcast from [c] (or [r, c]).
func bcast64(f func(a, b float64) float64) func(in [][]float64) []float64 {
	return func(in [][]float64) []float64 {
		a, b := in[0], in[1]
		out := make([]float64, len(a))
		for i := range a {
			out[i] = f(a[i], b[i%len(b)])
		}
		return out
	}
}

func matmul64(a, b []float64, m, k, n int, ta, tb bool) []float64 {
	out := make([]float64, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for p := 0; p < k; p++ {
				av := a[i*k+p]
				if ta {
					av = a[p*m+i]
				}
				bv := b[p*n+j]
				if tb {
					bv = b[j*k+p]
				}
				s += av * bv
			}
			out[i*n+j] = s
		}
	}
	return out
}

func TestOpGradients(t *testing.T) {
	g := func(shape ...int) autogradtest.Input { return autogradtest.Input{Shape: shape, Grad: true} }
	pos := func(shape ...int) autogradtest.Input {
		return autogradtest.Input{Shape: shape, Grad: true, Lo: 0.5, Hi: 2}
	}
	cases := []autogradtest.Case{
		{Name: "Add", Inputs: []autogradtest.Input{g(5, 7), g(5, 7)},
			F32: func(t *T, in []*V) *V { return t.Add(in[0], in[1]) },
			F64: bcast64(func(a, b float64) float64 { return a + b })},
		{Name: "AddBroadcast", Inputs: []autogradtest.Input{g(5, 7), g(7)},
			F32: func(t *T, in []*V) *V { return t.Add(in[0], in[1]) },
			F64: bcast64(func(a, b float64) float64 { return a + b })},
		{Name: "SubBroadcast", Inputs: []autogradtest.Input{g(4, 3), g(3)},
			F32: func(t *T, in []*V) *V { return t.Sub(in[0], in[1]) },
			F64: bcast64(func(a, b float64) float64 { return a - b })},
		{Name: "MulBroadcast", Inputs: []autogradtest.Input{g(6, 5), g(5)},
			F32: func(t *T, in []*V) *V { return t.Mul(in[0], in[1]) },
			F64: bcast64(func(a, b float64) float64 { return a * b })},
		{Name: "Div", Inputs: []autogradtest.Input{g(3, 4), pos(3, 4)},
			F32: func(t *T, in []*V) *V { return t.Div(in[0], in[1]) },
			F64: bcast64(func(a, b float64) float64 { return a / b })},
		{Name: "Scale", Inputs: []autogradtest.Input{g(9)},
			F32: func(t *T, in []*V) *V { return t.Scale(in[0], -2.5) },
			F64: elementwise(func(x float64) float64 { return -2.5 * x })},
		{Name: "AddScalar", Inputs: []autogradtest.Input{g(9)},
			F32: func(t *T, in []*V) *V { return t.AddScalar(in[0], 3) },
			F64: elementwise(func(x float64) float64 { return x + 3 })},
		{Name: "ReLU", Inputs: []autogradtest.Input{g(4, 9)},
			F32: func(t *T, in []*V) *V { return t.ReLU(in[0]) },
			F64: elementwise(func(x float64) float64 { return math.Max(x, 0) })},
		{Name: "LeakyReLU", Inputs: []autogradtest.Input{g(4, 9)},
			F32: func(t *T, in []*V) *V { return t.LeakyReLU(in[0], 0.1) },
			F64: elementwise(func(x float64) float64 {
				if x > 0 {
					return x
				}
				return 0.1 * x
			})},
		{Name: "Tanh", Inputs: []autogradtest.Input{g(4, 9)},
			F32: func(t *T, in []*V) *V { return t.Tanh(in[0]) },
			F64: elementwise(math.Tanh)},
		{Name: "Sigmoid", Inputs: []autogradtest.Input{g(4, 9)},
			F32: func(t *T, in []*V) *V { return t.Sigmoid(in[0]) },
			F64: elementwise(func(x float64) float64 { return 1 / (1 + math.Exp(-x)) })},
		{Name: "GELU", Inputs: []autogradtest.Input{g(4, 9)},
			F32: func(t *T, in []*V) *V { return t.GELU(in[0]) },
			F64: elementwise(func(x float64) float64 { return 0.5 * x * (1 + math.Erf(x/math.Sqrt2)) })},
		{Name: "Exp", Inputs: []autogradtest.Input{g(11)},
			F32: func(t *T, in []*V) *V { return t.Exp(in[0]) },
			F64: elementwise(math.Exp)},
		{Name: "Log", Inputs: []autogradtest.Input{pos(11)},
			F32: func(t *T, in []*V) *V { return t.Log(in[0]) },
			F64: elementwise(math.Log)},
		{Name: "Softmax", Inputs: []autogradtest.Input{g(3, 7)},
			F32: func(t *T, in []*V) *V { return t.Softmax(in[0]) },
			F64: func(in [][]float64) []float64 { return softmax64(in[0], 7, false) }},
		{Name: "LogSoftmax", Inputs: []autogradtest.Input{g(3, 7)},
			F32: func(t *T, in []*V) *V { return t.LogSoftmax(in[0]) },
			F64: func(in [][]float64) []float64 { return softmax64(in[0], 7, true) }},
		{Name: "MatMul", Inputs: []autogradtest.Input{g(5, 6), g(6, 4)},
			F32: func(t *T, in []*V) *V { return t.MatMul(in[0], in[1], false, false) },
			F64: func(in [][]float64) []float64 { return matmul64(in[0], in[1], 5, 6, 4, false, false) }},
		{Name: "MatMulTransA", Inputs: []autogradtest.Input{g(6, 5), g(6, 4)},
			F32: func(t *T, in []*V) *V { return t.MatMul(in[0], in[1], true, false) },
			F64: func(in [][]float64) []float64 { return matmul64(in[0], in[1], 5, 6, 4, true, false) }},
		{Name: "MatMulTransB", Inputs: []autogradtest.Input{g(5, 6), g(4, 6)},
			F32: func(t *T, in []*V) *V { return t.MatMul(in[0], in[1], false, true) },
			F64: func(in [][]float64) []float64 { return matmul64(in[0], in[1], 5, 6, 4, false, true) }},
		{Name: "MatMulTransAB", Inputs: []autogradtest.Input{g(6, 5), g(4, 6)},
			F32: func(t *T, in []*V) *V { return t.MatMul(in[0], in[1], true, true) },
			F64: func(in [][]float64) []float64 { return matmul64(in[0], in[1], 5, 6, 4, true, true) }},
		{Name: "Linear", Inputs: []autogradtest.Input{g(2, 3, 6), g(6, 4), g(4)},
			F32: func(t *T, in []*V) *V { return t.Linear(in[0], in[1], in[2]) },
			F64: func(in [][]float64) []float64 {
				out := matmul64(in[0], in[1], 6, 6, 4, false, false)
				for i := range out {
					out[i] += in[2][i%4]
				}
				return out
			}},
		{Name: "ReshapeThenMul", Inputs: []autogradtest.Input{g(2, 6), g(3, 4)},
			F32: func(t *T, in []*V) *V { return t.Mul(t.Reshape(in[0], 3, 4), in[1]) },
			F64: bcast64(func(a, b float64) float64 { return a * b })},
		{Name: "Sum", Inputs: []autogradtest.Input{g(3, 5)},
			F32: func(t *T, in []*V) *V { return t.Sum(in[0]) },
			F64: func(in [][]float64) []float64 { return []float64{sum64(in[0])} }},
		{Name: "Mean", Inputs: []autogradtest.Input{g(3, 5)},
			F32: func(t *T, in []*V) *V { return t.Mean(in[0]) },
			F64: func(in [][]float64) []float64 { return []float64{sum64(in[0]) / 15} }},
		{Name: "SoftmaxCrossEntropy", Inputs: []autogradtest.Input{g(4, 5)},
			F32: func(t *T, in []*V) *V { return t.SoftmaxCrossEntropy(in[0], []int32{0, 3, 4, 1}) },
			F64: func(in [][]float64) []float64 {
				ls := softmax64(in[0], 5, true)
				labels := []int{0, 3, 4, 1}
				var s float64
				for r, l := range labels {
					s -= ls[r*5+l]
				}
				return []float64{s / 4}
			}},
		{Name: "MSE", Inputs: []autogradtest.Input{g(3, 4), g(3, 4)},
			F32: func(t *T, in []*V) *V { return t.MSE(in[0], in[1]) },
			F64: func(in [][]float64) []float64 {
				var s float64
				for i := range in[0] {
					d := in[0][i] - in[1][i]
					s += d * d
				}
				return []float64{s / 12}
			}},
		{Name: "BCEWithLogits", Inputs: []autogradtest.Input{g(8), {Shape: []int{8}, Lo: 0, Hi: 1}},
			F32: func(t *T, in []*V) *V { return t.BCEWithLogits(in[0], in[1]) },
			F64: func(in [][]float64) []float64 {
				var s float64
				for i, x := range in[0] {
					p := 1 / (1 + math.Exp(-x))
					y := in[1][i]
					s -= y*math.Log(p) + (1-y)*math.Log(1-p)
				}
				return []float64{s / 8}
			}},
		{Name: "BCE", Inputs: []autogradtest.Input{{Shape: []int{8}, Lo: 0.1, Hi: 0.9, Grad: true}, {Shape: []int{8}, Lo: 0, Hi: 1}},
			F32: func(t *T, in []*V) *V { return t.BCE(in[0], in[1]) },
			F64: func(in [][]float64) []float64 {
				var s float64
				for i, p := range in[0] {
					y := in[1][i]
					s -= y*math.Log(p) + (1-y)*math.Log(1-p)
				}
				return []float64{s / 8}
			}},
		{Name: "Embedding", Inputs: []autogradtest.Input{g(5, 3)},
			F32: func(t *T, in []*V) *V { return t.Embedding(in[0], []int32{4, 0, 4, 2}) },
			F64: func(in [][]float64) []float64 {
				var out []float64
				for _, id := range []int{4, 0, 4, 2} {
					out = append(out, in[0][id*3:id*3+3]...)
				}
				return out
			}},
		{Name: "Conv2D", Inputs: []autogradtest.Input{g(2, 3, 7, 6), g(4, 3, 3, 3), g(4)},
			F32: func(t *T, in []*V) *V {
				return t.Conv2D(in[0], in[1], in[2], tensor.ConvGeom{KH: 3, KW: 3, StrideH: 2, StrideW: 1, PadH: 1, PadW: 1})
			},
			F64: func(in [][]float64) []float64 { return conv64(in[0], in[1], in[2], 2, 3, 7, 6, 4, 3, 2, 1, 1) }},
		{Name: "MaxPool2D", Inputs: []autogradtest.Input{g(2, 2, 6, 5)},
			F32: func(t *T, in []*V) *V {
				return t.MaxPool2D(in[0], tensor.ConvGeom{KH: 2, KW: 2, StrideH: 2, StrideW: 2})
			},
			F64: func(in [][]float64) []float64 { return pool64(in[0], 4, 6, 5, 2, 2, true) }},
		{Name: "AvgPool2D", Inputs: []autogradtest.Input{g(2, 2, 6, 5)},
			F32: func(t *T, in []*V) *V {
				return t.AvgPool2D(in[0], tensor.ConvGeom{KH: 3, KW: 3, StrideH: 1, StrideW: 1})
			},
			F64: func(in [][]float64) []float64 { return pool64(in[0], 4, 6, 5, 3, 1, false) }},
	}
	for i, c := range cases {
		c.Seed = uint64(i + 1)
		t.Run(c.Name, func(t *testing.T) { autogradtest.Check(t, c) })
	}
}

func sum64(x []float64) float64 {
	var s float64
	for _, v := range x {
		s += v
	}
	return s
}

func softmax64(x []float64, c int, log bool) []float64 {
	out := make([]float64, len(x))
	for r := 0; r < len(x)/c; r++ {
		row := x[r*c : (r+1)*c]
		m := math.Inf(-1)
		for _, v := range row {
			m = math.Max(m, v)
		}
		var z float64
		for _, v := range row {
			z += math.Exp(v - m)
		}
		for j, v := range row {
			if log {
				out[r*c+j] = v - m - math.Log(z)
			} else {
				out[r*c+j] = math.Exp(v-m) / z
			}
		}
	}
	return out
}

// conv64 is a direct convolution (square kernel k, stride sh×sw, padding p).
func conv64(x, w, b []float64, n, c, h, wd, f, k, sh, sw, p int) []float64 {
	oh, ow := (h+2*p-k)/sh+1, (wd+2*p-k)/sw+1
	out := make([]float64, n*f*oh*ow)
	for in := 0; in < n; in++ {
		for fi := 0; fi < f; fi++ {
			for oy := 0; oy < oh; oy++ {
				for ox := 0; ox < ow; ox++ {
					s := b[fi]
					for ci := 0; ci < c; ci++ {
						for ky := 0; ky < k; ky++ {
							for kx := 0; kx < k; kx++ {
								iy, ix := oy*sh-p+ky, ox*sw-p+kx
								if iy < 0 || iy >= h || ix < 0 || ix >= wd {
									continue
								}
								s += x[((in*c+ci)*h+iy)*wd+ix] * w[((fi*c+ci)*k+ky)*k+kx]
							}
						}
					}
					out[((in*f+fi)*oh+oy)*ow+ox] = s
				}
			}
		}
	}
	return out
}

// pool64 pools planes (count = n·c) of h×w with a k×k window and stride s.
func pool64(x []float64, planes, h, w, k, s int, isMax bool) []float64 {
	oh, ow := (h-k)/s+1, (w-k)/s+1
	var out []float64
	for p := 0; p < planes; p++ {
		for oy := 0; oy < oh; oy++ {
			for ox := 0; ox < ow; ox++ {
				acc := math.Inf(-1)
				if !isMax {
					acc = 0
				}
				for ky := 0; ky < k; ky++ {
					for kx := 0; kx < k; kx++ {
						v := x[(p*h+oy*s+ky)*w+ox*s+kx]
						if isMax {
							acc = math.Max(acc, v)
						} else {
							acc += v / float64(k*k)
						}
					}
				}
				out = append(out, acc)
			}
		}
	}
	return out
}

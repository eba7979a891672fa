package tensor

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestReferenceGradients checks the analytic gradient of every float64
// reference against central finite differences, so that the references
// the kernels are tested against are themselves right.
func TestReferenceGradients(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))

	t.Run("MatMul", func(t *testing.T) {
		for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
			m, k, n := 3, 4, 5
			ar, ac, br, bc := m, k, k, n
			if tr[0] {
				ar, ac = k, m
			}
			if tr[1] {
				br, bc = n, k
			}
			params := [][]float64{randVec(rng, ar*ac, -1, 1), randVec(rng, br*bc, -1, 1)}
			gradCheck(t, fmt.Sprintf("MatMul%v", tr), rng, params,
				func(p [][]float64) []float64 {
					out, _, _ := refMatMul(p[0], ar, ac, p[1], br, bc, tr[0], tr[1])
					return out
				},
				func(p [][]float64, dy []float64) [][]float64 {
					da, db := refMatMulGrad(p[0], ar, ac, p[1], br, bc, tr[0], tr[1], dy)
					return [][]float64{da, db}
				})
		}
	})

	t.Run("Binary", func(t *testing.T) {
		for _, op := range []string{"Add", "Sub", "Mul", "Div"} {
			for _, c := range broadcastCases {
				a := randVec(rng, Volume(c.a), 0.5, 2)
				b := randVec(rng, Volume(c.b), 0.5, 2)
				gradCheck(t, fmt.Sprintf("%s%v%v", op, c.a, c.b), rng, [][]float64{a, b},
					func(p [][]float64) []float64 { return refBinary(op, c.full, p[0], c.a, p[1], c.b) },
					func(p [][]float64, dy []float64) [][]float64 {
						da, db := refBinaryGrad(op, c.full, p[0], c.a, p[1], c.b, dy)
						return [][]float64{da, db}
					})
			}
		}
	})

	t.Run("SumTo", func(t *testing.T) {
		for _, c := range broadcastCases {
			gradCheck(t, fmt.Sprintf("SumTo%v", c.a), rng, [][]float64{randVec(rng, Volume(c.full), -1, 1)},
				func(p [][]float64) []float64 { return refSumTo(c.a, c.full, p[0]) },
				func(p [][]float64, dy []float64) [][]float64 {
					// The adjoint of a sum onto a is broadcasting back.
					return [][]float64{refBinary("Add", c.full, dy, c.a, []float64{0}, []int{1})}
				})
		}
	})

	t.Run("Unary", func(t *testing.T) {
		for name, u := range refUnaries {
			gradCheck(t, name, rng, [][]float64{randVec(rng, 40, u.lo, u.hi)},
				func(p [][]float64) []float64 { return mapRef(p[0], u.f) },
				func(p [][]float64, dy []float64) [][]float64 {
					d := mapRef(p[0], u.df)
					for i := range d {
						d[i] *= dy[i]
					}
					return [][]float64{d}
				})
		}
	})

	t.Run("Reductions", func(t *testing.T) {
		sh := []int{3, 4, 5}
		for axis := -1; axis < 3; axis++ {
			gradCheck(t, fmt.Sprintf("SumAxis%d", axis), rng, [][]float64{randVec(rng, 60, -1, 1)},
				func(p [][]float64) []float64 { return refSumAxis(p[0], sh, axis) },
				func(p [][]float64, dy []float64) [][]float64 {
					// Every element of a slice gets its slice's dy.
					kept := append([]int(nil), sh...)
					kept[(axis+3)%3] = 1
					return [][]float64{refBinary("Add", sh, dy, kept, []float64{0}, []int{1})}
				})
			gradCheck(t, fmt.Sprintf("MaxAxis%d", axis), rng, [][]float64{randVec(rng, 60, -1, 1)},
				func(p [][]float64) []float64 { v, _ := refMaxAxis(p[0], sh, axis); return v },
				func(p [][]float64, dy []float64) [][]float64 {
					return [][]float64{refMaxAxisGrad(p[0], sh, axis, dy)}
				})
		}
	})

	t.Run("Softmax", func(t *testing.T) {
		for _, c := range []int{1, 2, 7} {
			x := randVec(rng, 3*c, -3, 3)
			gradCheck(t, fmt.Sprintf("Softmax/%d", c), rng, [][]float64{x},
				func(p [][]float64) []float64 { return refSoftmax(p[0], c) },
				func(p [][]float64, dy []float64) [][]float64 { return [][]float64{refSoftmaxGrad(p[0], c, dy)} })
			gradCheck(t, fmt.Sprintf("LogSoftmax/%d", c), rng, [][]float64{x},
				func(p [][]float64) []float64 { return refLogSoftmax(p[0], c) },
				func(p [][]float64, dy []float64) [][]float64 { return [][]float64{refLogSoftmaxGrad(p[0], c, dy)} })
			labels := make([]int32, 3)
			for i := range labels {
				labels[i] = int32(rng.IntN(c))
			}
			gradCheck(t, fmt.Sprintf("CrossEntropy/%d", c), rng, [][]float64{x},
				func(p [][]float64) []float64 { return []float64{refCrossEntropy(p[0], c, labels)} },
				func(p [][]float64, dy []float64) [][]float64 {
					g := refCrossEntropyGrad(p[0], c, labels)
					for i := range g {
						g[i] *= dy[0]
					}
					return [][]float64{g}
				})
		}
	})

	t.Run("Conv", func(t *testing.T) {
		for _, s := range convCases(true) {
			x := randVec(rng, s.n*s.c*s.h*s.w, -1, 1)
			w := randVec(rng, s.f*s.c*s.g.KH*s.g.KW, -1, 1)
			b := randVec(rng, s.f, -1, 1)
			gradCheck(t, fmt.Sprintf("Conv%+v", s), rng, [][]float64{x, w, b},
				func(p [][]float64) []float64 { return refConv(s, p[0], p[1], p[2]) },
				func(p [][]float64, dy []float64) [][]float64 {
					dx, dw, db := refConvGrad(s, p[0], p[1], dy)
					return [][]float64{dx, dw, db}
				})
		}
	})

	t.Run("Pool", func(t *testing.T) {
		for _, s := range poolCases(true) {
			for _, isMax := range []bool{true, false} {
				gradCheck(t, fmt.Sprintf("Pool%+v/max=%t", s, isMax), rng, [][]float64{randVec(rng, s.n*s.c*s.h*s.w, -1, 1)},
					func(p [][]float64) []float64 { y, _ := refPool(s, p[0], isMax); return y },
					func(p [][]float64, dy []float64) [][]float64 { return [][]float64{refPoolGrad(s, p[0], isMax, dy)} })
			}
		}
	})
}

// broadcastCases are operand shapes a and b broadcast to full.
var broadcastCases = []struct{ full, a, b []int }{
	{[]int{7}, []int{7}, []int{7}},
	{[]int{3, 4}, []int{3, 4}, []int{4}},
	{[]int{3, 4}, []int{3, 1}, []int{3, 4}},
	{[]int{3, 4}, []int{1, 4}, []int{3, 1}},
	{[]int{2, 3, 5}, []int{3, 1}, []int{2, 1, 5}},
	{[]int{2, 3, 4, 5}, []int{1, 3, 1, 1}, []int{2, 3, 4, 5}},
	{[]int{1, 13}, []int{1}, []int{13}},
	{[]int{2, 1, 3}, []int{2, 1, 3}, []int{}},
	{[]int{1}, []int{}, []int{1}},
}

// convCases are convolution shapes with strides 1 and 2, paddings 0 to 2,
// non-square inputs and kernels. small trims them for finite differences.
func convCases(small bool) []refConvShape {
	cases := []refConvShape{
		{n: 2, c: 3, h: 5, w: 7, f: 4, g: ConvGeom{KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}},
		{n: 1, c: 2, h: 7, w: 6, f: 3, g: ConvGeom{KH: 3, KW: 2, StrideH: 2, StrideW: 2, PadH: 0, PadW: 1}},
		{n: 3, c: 1, h: 6, w: 5, f: 2, g: ConvGeom{KH: 5, KW: 5, StrideH: 1, StrideW: 2, PadH: 2, PadW: 2}},
		{n: 2, c: 4, h: 3, w: 5, f: 3, g: ConvGeom{KH: 1, KW: 1, StrideH: 1, StrideW: 1}},
		{n: 1, c: 3, h: 4, w: 4, f: 5, g: ConvGeom{KH: 1, KW: 1, StrideH: 2, StrideW: 2}},
		{n: 2, c: 1, h: 1, w: 7, f: 1, g: ConvGeom{KH: 1, KW: 3, StrideH: 1, StrideW: 1, PadW: 1}},
	}
	if small {
		return cases
	}
	return append(cases,
		refConvShape{n: 5, c: 3, h: 13, w: 11, f: 7, g: ConvGeom{KH: 5, KW: 3, StrideH: 2, StrideW: 1, PadH: 2, PadW: 1}},
		refConvShape{n: 4, c: 1, h: 28, w: 28, f: 8, g: ConvGeom{KH: 5, KW: 5, StrideH: 1, StrideW: 1, PadH: 2, PadW: 2}},
		refConvShape{n: 3, c: 8, h: 14, w: 14, f: 16, g: ConvGeom{KH: 5, KW: 5, StrideH: 1, StrideW: 1, PadH: 2, PadW: 2}},
		refConvShape{n: 7, c: 6, h: 9, w: 12, f: 5, g: ConvGeom{KH: 1, KW: 1, StrideH: 1, StrideW: 1}},
	)
}

// poolCases are pooling shapes (f unused).
func poolCases(small bool) []refConvShape {
	cases := []refConvShape{
		{n: 2, c: 3, h: 4, w: 6, g: ConvGeom{KH: 2, KW: 2, StrideH: 2, StrideW: 2}},
		{n: 1, c: 2, h: 5, w: 7, g: ConvGeom{KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1}},
		{n: 2, c: 1, h: 7, w: 5, g: ConvGeom{KH: 3, KW: 2, StrideH: 1, StrideW: 1, PadH: 1, PadW: 0}},
		{n: 1, c: 2, h: 6, w: 6, g: ConvGeom{KH: 5, KW: 5, StrideH: 2, StrideW: 1, PadH: 2, PadW: 2}},
		{n: 1, c: 1, h: 1, w: 1, g: ConvGeom{KH: 1, KW: 1, StrideH: 1, StrideW: 1}},
	}
	if small {
		return cases
	}
	return append(cases,
		refConvShape{n: 3, c: 5, h: 13, w: 7, g: ConvGeom{KH: 2, KW: 2, StrideH: 2, StrideW: 2}},
		refConvShape{n: 4, c: 32, h: 28, w: 28, g: ConvGeom{KH: 2, KW: 2, StrideH: 2, StrideW: 2}},
		refConvShape{n: 2, c: 3, h: 13, w: 13, g: ConvGeom{KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1}},
	)
}

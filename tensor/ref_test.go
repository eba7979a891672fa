package tensor

// Naive float64 references for every kernel, with their analytic
// gradients. They are written for obviousness, not speed: each is checked
// against central finite differences (TestReferenceGradients) and each
// float32 kernel is checked against them.

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// ---- test helpers ----

// randTensor returns a tensor of the given shape with values uniform in
// [-1, 1).
func randTensor(rng *rand.Rand, shape ...int) *Tensor {
	t := New(shape...)
	for i := range t.Data {
		t.Data[i] = float32(2*rng.Float64() - 1)
	}
	return t
}

func to64(x []float32) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}

func maxAbs(x []float64) float64 {
	m := 0.0
	for _, v := range x {
		m = math.Max(m, math.Abs(v))
	}
	return m
}

// assertClose fails unless got matches want within tol relative to the
// scale (largest magnitude) of want.
func assertClose(t *testing.T, what string, got []float32, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	scale := math.Max(maxAbs(want), 1e-6)
	bad := 0
	for i := range got {
		if err := math.Abs(float64(got[i]) - want[i]); !(err <= tol*scale) {
			if bad < 3 {
				t.Errorf("%s[%d] = %g; want %g (error %.3g of scale %.3g, tol %g)", what, i, got[i], want[i], err, scale, tol)
			}
			bad++
		}
	}
	if bad > 3 {
		t.Errorf("%s: %d of %d values off", what, bad, len(got))
	}
}

// plus returns base + delta elementwise (accumulating kernels start from base).
func plus(base []float32, delta []float64) []float64 {
	out := to64(base)
	for i := range out {
		out[i] += delta[i]
	}
	return out
}

// mustPanic runs f and checks that it panics with a message containing all
// of parts.
func mustPanic(t *testing.T, name string, f func(), parts ...string) {
	t.Helper()
	defer func() {
		t.Helper()
		r := recover()
		if r == nil {
			t.Errorf("%s did not panic", name)
			return
		}
		msg, _ := r.(string)
		for _, p := range parts {
			if !strings.Contains(msg, p) {
				t.Errorf("%s panicked with %q; want it to mention %q", name, msg, p)
			}
		}
	}()
	f()
}

// gradCheck compares grad, the analytic vector-Jacobian product of f, with
// central finite differences of L(p) = Σ dy·f(p) for a random dy. Params
// listed in skip are not differentiated.
func gradCheck(t *testing.T, name string, rng *rand.Rand, params [][]float64,
	f func(p [][]float64) []float64, grad func(p [][]float64, dy []float64) [][]float64, skip ...int) {
	t.Helper()
	out := f(params)
	dy := make([]float64, len(out))
	for i := range dy {
		dy[i] = 2*rng.Float64() - 1
	}
	loss := func() float64 {
		s := 0.0
		for i, v := range f(params) {
			s += dy[i] * v
		}
		return s
	}
	analytic := grad(params, dy)
	const h = 1e-5
	for k, p := range params {
		if containsInt(skip, k) {
			continue
		}
		num := make([]float64, len(p))
		for i := range p {
			orig := p[i]
			p[i] = orig + h
			lp := loss()
			p[i] = orig - h
			lm := loss()
			p[i] = orig
			num[i] = (lp - lm) / (2 * h)
		}
		scale := math.Max(maxAbs(num), 1e-3)
		for i := range num {
			if err := math.Abs(num[i] - analytic[k][i]); err > 1e-6*scale {
				t.Errorf("%s: d/dparam%d[%d] = %.10g analytic, %.10g numeric (rel. error %.3g)", name, k, i, analytic[k][i], num[i], err/scale)
				return
			}
		}
	}
}

func containsInt(xs []int, v int) bool {
	for _, x := range xs {
		if x == v {
			return true
		}
	}
	return false
}

func randVec(rng *rand.Rand, n int, lo, hi float64) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = lo + (hi-lo)*rng.Float64()
	}
	return v
}

// ---- matmul ----

// refMatMul computes op(a)·op(b) for a stored ar×ac and b stored br×bc.
func refMatMul(a []float64, ar, ac int, b []float64, br, bc int, transA, transB bool) (out []float64, m, n int) {
	m, k := ar, ac
	if transA {
		m, k = ac, ar
	}
	n = bc
	if transB {
		n = br
	}
	out = make([]float64, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			for p := 0; p < k; p++ {
				out[i*n+j] += a[matIdx(i, p, ac, transA)] * b[matIdx(p, j, bc, transB)]
			}
		}
	}
	return out, m, n
}

// matIdx is the storage index of element (i, j) of op(x) for x with
// cols columns as stored.
func matIdx(i, j, cols int, trans bool) int {
	if trans {
		return j*cols + i
	}
	return i*cols + j
}

func refMatMulGrad(a []float64, ar, ac int, b []float64, br, bc int, transA, transB bool, dy []float64) (da, db []float64) {
	m, k := ar, ac
	if transA {
		m, k = ac, ar
	}
	n := bc
	if transB {
		n = br
	}
	da, db = make([]float64, len(a)), make([]float64, len(b))
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			for p := 0; p < k; p++ {
				da[matIdx(i, p, ac, transA)] += dy[i*n+j] * b[matIdx(p, j, bc, transB)]
				db[matIdx(p, j, bc, transB)] += dy[i*n+j] * a[matIdx(i, p, ac, transA)]
			}
		}
	}
	return da, db
}

// ---- broadcasting ----

// bcastIndex maps flat index i of shape full to the index of an operand of
// shape op broadcast to full.
func bcastIndex(full, op []int, i int) int {
	idx, stride := 0, 1
	for d := len(full) - 1; d >= 0; d-- {
		c := i % full[d]
		i /= full[d]
		if od := d - (len(full) - len(op)); od >= 0 {
			if op[od] != 1 {
				idx += c * stride
			}
			stride *= op[od]
		}
	}
	return idx
}

var refBinaryFns = map[string]struct {
	f      func(a, b float64) float64
	da, db func(a, b float64) float64
}{
	"Add": {func(a, b float64) float64 { return a + b }, func(a, b float64) float64 { return 1 }, func(a, b float64) float64 { return 1 }},
	"Sub": {func(a, b float64) float64 { return a - b }, func(a, b float64) float64 { return 1 }, func(a, b float64) float64 { return -1 }},
	"Mul": {func(a, b float64) float64 { return a * b }, func(a, b float64) float64 { return b }, func(a, b float64) float64 { return a }},
	"Div": {func(a, b float64) float64 { return a / b }, func(a, b float64) float64 { return 1 / b }, func(a, b float64) float64 { return -a / (b * b) }},
}

func refBinary(op string, full []int, a []float64, ash []int, b []float64, bsh []int) []float64 {
	out := make([]float64, Volume(full))
	for i := range out {
		out[i] = refBinaryFns[op].f(a[bcastIndex(full, ash, i)], b[bcastIndex(full, bsh, i)])
	}
	return out
}

func refBinaryGrad(op string, full []int, a []float64, ash []int, b []float64, bsh []int, dy []float64) (da, db []float64) {
	fn := refBinaryFns[op]
	da, db = make([]float64, len(a)), make([]float64, len(b))
	for i := range dy {
		ia, ib := bcastIndex(full, ash, i), bcastIndex(full, bsh, i)
		da[ia] += dy[i] * fn.da(a[ia], b[ib])
		db[ib] += dy[i] * fn.db(a[ia], b[ib])
	}
	return da, db
}

// refSumTo reduces a of shape full onto shape small (the adjoint of
// broadcasting small to full).
func refSumTo(small, full []int, a []float64) []float64 {
	out := make([]float64, Volume(small))
	for i, v := range a {
		out[bcastIndex(full, small, i)] += v
	}
	return out
}

// ---- elementwise unary ops and activations: value and derivative ----

type refUnary struct {
	f, df  func(x float64) float64
	lo, hi float64 // domain sampled in tests
}

func erfGELU(x float64) float64 { return 0.5 * x * (1 + math.Erf(x/math.Sqrt2)) }

var refUnaries = map[string]refUnary{
	"Exp":  {math.Exp, math.Exp, -10, 10},
	"Log":  {math.Log, func(x float64) float64 { return 1 / x }, 0.05, 20},
	"Sqrt": {math.Sqrt, func(x float64) float64 { return 0.5 / math.Sqrt(x) }, 0.05, 20},
	"Neg":  {func(x float64) float64 { return -x }, func(float64) float64 { return -1 }, -5, 5},
	"ReLU": {func(x float64) float64 { return math.Max(x, 0) }, func(x float64) float64 {
		if x > 0 {
			return 1
		}
		return 0
	}, -3, 3},
	"LeakyReLU": {func(x float64) float64 {
		if x > 0 {
			return x
		}
		return 0.1 * x
	}, func(x float64) float64 {
		if x > 0 {
			return 1
		}
		return 0.1
	}, -3, 3},
	"Tanh": {math.Tanh, func(x float64) float64 { return 1 - math.Tanh(x)*math.Tanh(x) }, -6, 6},
	"Sigmoid": {func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }, func(x float64) float64 {
		s := 1 / (1 + math.Exp(-x))
		return s * (1 - s)
	}, -12, 12},
	"GELU": {erfGELU, func(x float64) float64 {
		return 0.5*(1+math.Erf(x/math.Sqrt2)) + x*math.Exp(-x*x/2)/math.Sqrt(2*math.Pi)
	}, -6, 6},
}

func mapRef(x []float64, f func(float64) float64) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = f(v)
	}
	return out
}

// ---- reductions ----

// refSumAxis sums a (shape sh) along axis; refMaxAxis takes the maximum
// and its index.
func refSumAxis(a []float64, sh []int, axis int) []float64 {
	outer, n, inner := axisSizes(sh, axis)
	out := make([]float64, outer*inner)
	for o := 0; o < outer; o++ {
		for k := 0; k < n; k++ {
			for j := 0; j < inner; j++ {
				out[o*inner+j] += a[(o*n+k)*inner+j]
			}
		}
	}
	return out
}

func refMaxAxis(a []float64, sh []int, axis int) ([]float64, []int) {
	outer, n, inner := axisSizes(sh, axis)
	out, at := make([]float64, outer*inner), make([]int, outer*inner)
	for o := 0; o < outer; o++ {
		for j := 0; j < inner; j++ {
			best := math.Inf(-1)
			for k := 0; k < n; k++ {
				if v := a[(o*n+k)*inner+j]; v > best {
					best, at[o*inner+j] = v, k
				}
			}
			out[o*inner+j] = best
		}
	}
	return out, at
}

func refMaxAxisGrad(a []float64, sh []int, axis int, dy []float64) []float64 {
	outer, n, inner := axisSizes(sh, axis)
	_, at := refMaxAxis(a, sh, axis)
	da := make([]float64, len(a))
	for o := 0; o < outer; o++ {
		for j := 0; j < inner; j++ {
			da[(o*n+at[o*inner+j])*inner+j] += dy[o*inner+j]
		}
	}
	return da
}

func axisSizes(sh []int, axis int) (outer, n, inner int) {
	if axis < 0 {
		axis += len(sh)
	}
	return Volume(sh[:axis]), sh[axis], Volume(sh[axis+1:])
}

// ---- softmax family (rows of length c) ----

func refSoftmax(x []float64, c int) []float64 {
	out := make([]float64, len(x))
	for r := 0; r < len(x)/c; r++ {
		s := 0.0
		for j := 0; j < c; j++ {
			s += math.Exp(x[r*c+j])
		}
		for j := 0; j < c; j++ {
			out[r*c+j] = math.Exp(x[r*c+j]) / s
		}
	}
	return out
}

// refSoftmaxGrad applies the explicit Jacobian ∂yᵢ/∂xⱼ = yᵢ(δᵢⱼ − yⱼ).
func refSoftmaxGrad(x []float64, c int, dy []float64) []float64 {
	y := refSoftmax(x, c)
	dx := make([]float64, len(x))
	for r := 0; r < len(x)/c; r++ {
		for i := 0; i < c; i++ {
			for j := 0; j < c; j++ {
				delta := 0.0
				if i == j {
					delta = 1
				}
				dx[r*c+j] += dy[r*c+i] * y[r*c+i] * (delta - y[r*c+j])
			}
		}
	}
	return dx
}

func refLogSoftmax(x []float64, c int) []float64 {
	return mapRef(refSoftmax(x, c), math.Log)
}

// refLogSoftmaxGrad applies ∂yᵢ/∂xⱼ = δᵢⱼ − softmaxⱼ.
func refLogSoftmaxGrad(x []float64, c int, dy []float64) []float64 {
	p := refSoftmax(x, c)
	dx := make([]float64, len(x))
	for r := 0; r < len(x)/c; r++ {
		for i := 0; i < c; i++ {
			for j := 0; j < c; j++ {
				delta := 0.0
				if i == j {
					delta = 1
				}
				dx[r*c+j] += dy[r*c+i] * (delta - p[r*c+j])
			}
		}
	}
	return dx
}

// refCrossEntropy is the mean of −log softmax(x)[label] over rows.
func refCrossEntropy(x []float64, c int, labels []int32) float64 {
	ls := refLogSoftmax(x, c)
	loss := 0.0
	for r, l := range labels {
		loss -= ls[r*c+int(l)]
	}
	return loss / float64(len(labels))
}

func refCrossEntropyGrad(x []float64, c int, labels []int32) []float64 {
	p := refSoftmax(x, c)
	for r, l := range labels {
		p[r*c+int(l)]--
	}
	for i := range p {
		p[i] /= float64(len(labels))
	}
	return p
}

// ---- convolution and pooling, NCHW ----

type refConvShape struct {
	n, c, h, w, f int
	g             ConvGeom
}

func (s refConvShape) out() (oh, ow int) {
	return (s.h+2*s.g.PadH-s.g.KH)/s.g.StrideH + 1, (s.w+2*s.g.PadW-s.g.KW)/s.g.StrideW + 1
}

// inputAt returns the index of x[n, c, iy, ix], or −1 in the padding.
func (s refConvShape) inputAt(n, c, iy, ix int) int {
	if iy < 0 || iy >= s.h || ix < 0 || ix >= s.w {
		return -1
	}
	return ((n*s.c+c)*s.h+iy)*s.w + ix
}

// refConv is the direct 7-loop convolution (cross-correlation).
func refConv(s refConvShape, x, w, b []float64) []float64 {
	oh, ow := s.out()
	g := s.g
	y := make([]float64, s.n*s.f*oh*ow)
	for n := 0; n < s.n; n++ {
		for f := 0; f < s.f; f++ {
			for oy := 0; oy < oh; oy++ {
				for ox := 0; ox < ow; ox++ {
					v := 0.0
					if b != nil {
						v = b[f]
					}
					for c := 0; c < s.c; c++ {
						for kh := 0; kh < g.KH; kh++ {
							for kw := 0; kw < g.KW; kw++ {
								if i := s.inputAt(n, c, oy*g.StrideH-g.PadH+kh, ox*g.StrideW-g.PadW+kw); i >= 0 {
									v += x[i] * w[((f*s.c+c)*g.KH+kh)*g.KW+kw]
								}
							}
						}
					}
					y[((n*s.f+f)*oh+oy)*ow+ox] = v
				}
			}
		}
	}
	return y
}

func refConvGrad(s refConvShape, x, w, dy []float64) (dx, dw, db []float64) {
	oh, ow := s.out()
	g := s.g
	dx, dw, db = make([]float64, len(x)), make([]float64, len(w)), make([]float64, s.f)
	for n := 0; n < s.n; n++ {
		for f := 0; f < s.f; f++ {
			for oy := 0; oy < oh; oy++ {
				for ox := 0; ox < ow; ox++ {
					gy := dy[((n*s.f+f)*oh+oy)*ow+ox]
					db[f] += gy
					for c := 0; c < s.c; c++ {
						for kh := 0; kh < g.KH; kh++ {
							for kw := 0; kw < g.KW; kw++ {
								if i := s.inputAt(n, c, oy*g.StrideH-g.PadH+kh, ox*g.StrideW-g.PadW+kw); i >= 0 {
									wi := ((f*s.c+c)*g.KH+kh)*g.KW + kw
									dx[i] += gy * w[wi]
									dw[wi] += gy * x[i]
								}
							}
						}
					}
				}
			}
		}
	}
	return dx, dw, db
}

// refIm2Col builds the im2col matrix of image n of x directly from its
// definition.
func refIm2Col(s refConvShape, x []float64) []float64 {
	oh, ow := s.out()
	g := s.g
	col := make([]float64, s.c*g.KH*g.KW*oh*ow)
	for c := 0; c < s.c; c++ {
		for kh := 0; kh < g.KH; kh++ {
			for kw := 0; kw < g.KW; kw++ {
				for oy := 0; oy < oh; oy++ {
					for ox := 0; ox < ow; ox++ {
						if i := s.inputAt(0, c, oy*g.StrideH-g.PadH+kh, ox*g.StrideW-g.PadW+kw); i >= 0 {
							col[((c*g.KH+kh)*g.KW+kw)*oh*ow+oy*ow+ox] = x[i]
						}
					}
				}
			}
		}
	}
	return col
}

// refPool computes max (with argmax) or average pooling over every window.
func refPool(s refConvShape, x []float64, isMax bool) ([]float64, []int) {
	oh, ow := s.out()
	g := s.g
	y, at := make([]float64, s.n*s.c*oh*ow), make([]int, s.n*s.c*oh*ow)
	for n := 0; n < s.n; n++ {
		for c := 0; c < s.c; c++ {
			for oy := 0; oy < oh; oy++ {
				for ox := 0; ox < ow; ox++ {
					o := ((n*s.c+c)*oh+oy)*ow + ox
					best, sum := math.Inf(-1), 0.0
					at[o] = -1
					for kh := 0; kh < g.KH; kh++ {
						for kw := 0; kw < g.KW; kw++ {
							iy, ix := oy*g.StrideH-g.PadH+kh, ox*g.StrideW-g.PadW+kw
							i := s.inputAt(n, c, iy, ix)
							if i < 0 {
								continue
							}
							sum += x[i]
							if x[i] > best {
								best, at[o] = x[i], i
							}
						}
					}
					if isMax {
						y[o] = best
					} else {
						y[o] = sum / float64(g.KH*g.KW)
					}
				}
			}
		}
	}
	return y, at
}

func refPoolGrad(s refConvShape, x []float64, isMax bool, dy []float64) []float64 {
	oh, ow := s.out()
	g := s.g
	_, at := refPool(s, x, true)
	dx := make([]float64, len(x))
	for n := 0; n < s.n; n++ {
		for c := 0; c < s.c; c++ {
			for oy := 0; oy < oh; oy++ {
				for ox := 0; ox < ow; ox++ {
					o := ((n*s.c+c)*oh+oy)*ow + ox
					if isMax {
						dx[at[o]] += dy[o]
						continue
					}
					for kh := 0; kh < g.KH; kh++ {
						for kw := 0; kw < g.KW; kw++ {
							if i := s.inputAt(n, c, oy*g.StrideH-g.PadH+kh, ox*g.StrideW-g.PadW+kw); i >= 0 {
								dx[i] += dy[o] / float64(g.KH*g.KW)
							}
						}
					}
				}
			}
		}
	}
	return dx
}

package tensor

import "math"

// ReLU sets dst = max(x, 0). dst and x hold the same number of elements and
// may be the same tensor.
func ReLU(dst, x *Tensor) {
	checkLen("ReLU", dst, x)
	map1(dst.Data, x.Data, 0, reluKernel)
}

func reluKernel(d, x []float32, _ float32) {
	x = x[:len(d)]
	for i := range d {
		d[i] = max(x[i], 0)
	}
}

// ReLUGrad adds dy where x > 0 into dx.
func ReLUGrad(dx, x, dy *Tensor) {
	checkLen("ReLUGrad", dx, x)
	checkLen("ReLUGrad", dx, dy)
	map2(dx.Data, x.Data, dy.Data, 0, leakyGradKernel)
}

// LeakyReLU sets dst = x where x > 0 and slope·x elsewhere.
func LeakyReLU(dst, x *Tensor, slope float32) {
	checkLen("LeakyReLU", dst, x)
	map1(dst.Data, x.Data, slope, leakyKernel)
}

// LeakyReLUGrad adds dy where x > 0 and slope·dy elsewhere into dx.
func LeakyReLUGrad(dx, x, dy *Tensor, slope float32) {
	checkLen("LeakyReLUGrad", dx, x)
	checkLen("LeakyReLUGrad", dx, dy)
	map2(dx.Data, x.Data, dy.Data, slope, leakyGradKernel)
}

func leakyKernel(d, x []float32, slope float32) {
	x = x[:len(d)]
	for i := range d {
		v := x[i]
		if v <= 0 {
			v *= slope
		}
		d[i] = v
	}
}

// leakyGradKernel selects the factor 1 or slope without a branch: the sign
// of x is random in a network, so a branch would mispredict half the time.
func leakyGradKernel(dx, x, dy []float32, slope float32) {
	one, sl := math.Float32bits(1), math.Float32bits(slope)
	x, dy = x[:len(dx)], dy[:len(dx)]
	for i := range dx {
		pos := positiveMask(x[i])
		dx[i] += dy[i] * math.Float32frombits(one&pos|sl&^pos)
	}
}

// positiveMask returns all ones when v > 0 (NaN with a clear sign bit
// counts as positive) and zero otherwise: as an int32, b is > 0 exactly
// then, and for such b both −b and ^b have the sign bit set.
func positiveMask(v float32) uint32 {
	b := int32(math.Float32bits(v))
	return uint32((-b & ^b) >> 31)
}

// Tanh sets dst = tanh(x).
func Tanh(dst, x *Tensor) {
	checkLen("Tanh", dst, x)
	map1(dst.Data, x.Data, 0, tanhKernel)
}

// tanhKernel uses tanh(x) = 1 − 2/(e²ˣ + 1), exact enough in float32 away
// from 0 and replaced by the odd series x − x³/3 + 2x⁵/15 near 0, where the
// subtraction would cancel.
func tanhKernel(d, x []float32, _ float32) {
	x = x[:len(d)]
	for i := range d {
		v := x[i]
		switch {
		case v > 9:
			d[i] = 1
		case v < -9:
			d[i] = -1
		case v > -0.0625 && v < 0.0625:
			v2 := v * v
			d[i] = v * (1 + v2*(-1.0/3+v2*(2.0/15-v2*(17.0/315))))
		default: // |2v| ≤ 18: inside expNormal's range
			d[i] = 1 - 2/(expNormal(2*v)+1)
		}
	}
}

// TanhGrad adds dy·(1 − y²) into dx, where y = tanh(x) is the forward output.
func TanhGrad(dx, y, dy *Tensor) {
	checkLen("TanhGrad", dx, y)
	checkLen("TanhGrad", dx, dy)
	map2(dx.Data, y.Data, dy.Data, 0, tanhGradKernel)
}

func tanhGradKernel(dx, y, dy []float32, _ float32) {
	y, dy = y[:len(dx)], dy[:len(dx)]
	for i := range dx {
		dx[i] += dy[i] * (1 - y[i]*y[i])
	}
}

// Sigmoid sets dst = 1/(1 + e⁻ˣ).
func Sigmoid(dst, x *Tensor) {
	checkLen("Sigmoid", dst, x)
	map1(dst.Data, x.Data, 0, sigmoidKernel)
}

func sigmoidKernel(d, x []float32, _ float32) {
	x = x[:len(d)]
	for i := range d {
		// 1/(1 + e⁻ᵛ) is accurate on both tails in float32: for large v
		// the sum rounds to 1, for very negative v the quotient keeps its
		// relative precision. Clamping keeps e⁻ᵛ finite and inlined.
		d[i] = 1 / (1 + expNormal(min(max(-x[i], expMinArg), 88.3)))
	}
}

// SigmoidGrad adds dy·y·(1 − y) into dx, where y = σ(x) is the forward output.
func SigmoidGrad(dx, y, dy *Tensor) {
	checkLen("SigmoidGrad", dx, y)
	checkLen("SigmoidGrad", dx, dy)
	map2(dx.Data, y.Data, dy.Data, 0, sigmoidGradKernel)
}

func sigmoidGradKernel(dx, y, dy []float32, _ float32) {
	y, dy = y[:len(dx)], dy[:len(dx)]
	for i := range dx {
		dx[i] += dy[i] * y[i] * (1 - y[i])
	}
}

// GELU sets dst = x·Φ(x), Φ the standard normal CDF, in the exact erf form
// (PyTorch's default, not the tanh approximation).
func GELU(dst, x *Tensor) {
	checkLen("GELU", dst, x)
	map1(dst.Data, x.Data, 0, geluKernel)
}

func geluKernel(d, x []float32, _ float32) {
	x = x[:len(d)]
	for i := range d {
		v := float64(x[i])
		d[i] = float32(0.5 * v * (1 + math.Erf(v*math.Sqrt2/2)))
	}
}

// GELUGrad adds dy·(Φ(x) + x·φ(x)) into dx, φ the standard normal density.
func GELUGrad(dx, x, dy *Tensor) {
	checkLen("GELUGrad", dx, x)
	checkLen("GELUGrad", dx, dy)
	map2(dx.Data, x.Data, dy.Data, 0, geluGradKernel)
}

func geluGradKernel(dx, x, dy []float32, _ float32) {
	const invSqrt2Pi = 0.398942280401432677939946059934
	x, dy = x[:len(dx)], dy[:len(dx)]
	for i := range dx {
		v := float64(x[i])
		cdf := 0.5 * (1 + math.Erf(v*math.Sqrt2/2))
		pdf := invSqrt2Pi * math.Exp(-0.5*v*v)
		dx[i] += dy[i] * float32(cdf+v*pdf)
	}
}

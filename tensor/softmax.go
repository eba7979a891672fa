package tensor

import (
	"fmt"
	"math"
)

// Softmax sets each row of dst (rows run along the last axis) to the
// softmax of the same row of x, computed as exp(x − max)/Σ so that large
// logits do not overflow. dst and x have the same shape and may be the same
// tensor.
func Softmax(dst, x *Tensor) {
	checkShape("Softmax", dst, x)
	forRows("Softmax", dst, x.Data, nil, softmaxRows)
}

// softmaxRows computes softmax for whole rows of cols elements.
func softmaxRows(d, x, _ []float32, cols int) {
	for off := 0; off < len(d); off += cols {
		softmaxRow(d[off:off+cols], x[off:off+cols])
	}
}

// softmaxRow writes the softmax of x into d and returns the row maximum m
// and s = Σ exp(x − m).
func softmaxRow(d, x []float32) (m, s float32) {
	x = x[:len(d)]
	m = rowMax(x)
	for i := range d {
		e := expNormal(max(x[i]-m, expMinArg))
		d[i] = e
		s += e
	}
	inv := 1 / s
	for i := range d {
		d[i] *= inv
	}
	return m, s
}

func rowMax(x []float32) float32 {
	m := float32(math.Inf(-1))
	for _, v := range x {
		if v > m {
			m = v
		}
	}
	return m
}

// SoftmaxGrad adds into dx the gradient through y = Softmax(x):
// dx += y·(dy − Σⱼ dyⱼ·yⱼ) per row.
func SoftmaxGrad(dx, y, dy *Tensor) {
	checkShape("SoftmaxGrad", dx, y)
	checkShape("SoftmaxGrad", dx, dy)
	forRows("SoftmaxGrad", dx, y.Data, dy.Data, softmaxGradRows)
}

func softmaxGradRows(dx, y, dy []float32, cols int) {
	for off := 0; off < len(dx); off += cols {
		d, yr, gr := dx[off:off+cols], y[off:off+cols], dy[off:off+cols]
		var dot float32
		for i := range yr {
			dot += yr[i] * gr[i]
		}
		yr, gr = yr[:len(d)], gr[:len(d)]
		for i := range d {
			d[i] += yr[i] * (gr[i] - dot)
		}
	}
}

// LogSoftmax sets each row of dst to x − max − log Σ exp(x − max).
func LogSoftmax(dst, x *Tensor) {
	checkShape("LogSoftmax", dst, x)
	forRows("LogSoftmax", dst, x.Data, nil, logSoftmaxRows)
}

func logSoftmaxRows(d, x, _ []float32, cols int) {
	for off := 0; off < len(d); off += cols {
		dr, xr := d[off:off+cols], x[off:off+cols]
		m, lse := logSumExp(xr)
		xr = xr[:len(dr)]
		for i := range dr {
			dr[i] = xr[i] - m - lse
		}
	}
}

// logSumExp returns the row maximum m and log Σ exp(x − m).
func logSumExp(x []float32) (m, lse float32) {
	m = rowMax(x)
	var s float32
	for _, v := range x {
		s += expNormal(max(v-m, expMinArg))
	}
	return m, float32(math.Log(float64(s)))
}

// LogSoftmaxGrad adds into dx the gradient through y = LogSoftmax(x):
// dx += dy − exp(y)·Σⱼ dyⱼ per row.
func LogSoftmaxGrad(dx, y, dy *Tensor) {
	checkShape("LogSoftmaxGrad", dx, y)
	checkShape("LogSoftmaxGrad", dx, dy)
	forRows("LogSoftmaxGrad", dx, y.Data, dy.Data, logSoftmaxGradRows)
}

func logSoftmaxGradRows(dx, y, dy []float32, cols int) {
	for off := 0; off < len(dx); off += cols {
		d, yr, gr := dx[off:off+cols], y[off:off+cols], dy[off:off+cols]
		var s float32
		for _, g := range gr {
			s += g
		}
		yr, gr = yr[:len(d)], gr[:len(d)]
		for i := range d {
			d[i] += gr[i] - expNormal(max(yr[i], expMinArg))*s
		}
	}
}

// forRows runs kernel over whole rows (the last axis of dst) of dst, a and
// b, in parallel when there are many.
func forRows(op string, dst *Tensor, a, b []float32, kernel func(d, a, b []float32, cols int)) {
	rows, cols := lastDim(op, dst)
	if rows*cols == 0 {
		return
	}
	if rows*cols <= elemGrain {
		kernel(dst.Data, a, b, cols)
		return
	}
	ParallelFor(rows, rowGrain(cols), func(lo, hi int) {
		var bs []float32
		if b != nil {
			bs = b[lo*cols : hi*cols]
		}
		kernel(dst.Data[lo*cols:hi*cols], a[lo*cols:hi*cols], bs, cols)
	})
}

// SoftmaxCrossEntropy is the fused softmax and mean negative log-likelihood
// of rows of logits [N, C] against integer labels in [0, C): probs gets the
// softmax of each row and the result is −(1/N)·Σᵢ log probs[i, labels[i]],
// accumulated in float64 and computed from log-softmax so that it stays
// finite when a probability underflows. A label out of range panics.
func SoftmaxCrossEntropy(probs, logits *Tensor, labels []int32) float32 {
	checkShape("SoftmaxCrossEntropy", probs, logits)
	rows, cols := checkLabels("SoftmaxCrossEntropy", logits, labels)
	if rows == 0 {
		return 0
	}
	var loss float64
	for i := 0; i < rows; i++ {
		x := logits.Data[i*cols : i*cols+cols]
		m, s := softmaxRow(probs.Data[i*cols:i*cols+cols], x)
		loss -= float64(x[labels[i]]-m) - math.Log(float64(s))
	}
	return float32(loss / float64(rows))
}

// SoftmaxCrossEntropyGrad adds scale·(probs − onehot(labels)) into dlogits,
// the gradient of SoftmaxCrossEntropy when scale = upstream gradient / N.
func SoftmaxCrossEntropyGrad(dlogits, probs *Tensor, labels []int32, scale float32) {
	checkShape("SoftmaxCrossEntropyGrad", dlogits, probs)
	rows, cols := checkLabels("SoftmaxCrossEntropyGrad", probs, labels)
	map1(dlogits.Data, probs.Data, scale, axpyKernel)
	for i := 0; i < rows; i++ {
		dlogits.Data[i*cols+int(labels[i])] -= scale
	}
}

// checkLabels panics unless t is [N, C] with one label in [0, C) per row.
func checkLabels(op string, t *Tensor, labels []int32) (rows, cols int) {
	if len(t.Shape) != 2 {
		panic(fmt.Sprintf("tensor: %s: logits shape %v is not [N C]", op, t.Shape))
	}
	rows, cols = t.Shape[0], t.Shape[1]
	if len(labels) != rows {
		panic(fmt.Sprintf("tensor: %s: %d labels for shape %v", op, len(labels), t.Shape))
	}
	for i, l := range labels {
		if l < 0 || int(l) >= cols {
			panic(fmt.Sprintf("tensor: %s: label %d of row %d out of range [0, %d)", op, l, i, cols))
		}
	}
	return rows, cols
}

package tensor

import (
	"fmt"
	"math"
)

// Sum returns the sum of all elements, accumulated in float64 in index
// order so that the result does not depend on the thread count.
func Sum(a *Tensor) float32 {
	return float32(sum64(a.Data))
}

// sum64 adds x in float64 with four independent accumulators (a fixed
// order, so the result is reproducible).
func sum64(x []float32) float64 {
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		q := x[i : i+4 : i+4]
		s0 += float64(q[0])
		s1 += float64(q[1])
		s2 += float64(q[2])
		s3 += float64(q[3])
	}
	for ; i < len(x); i++ {
		s0 += float64(x[i])
	}
	return (s0 + s1) + (s2 + s3)
}

// SumTo reduces a over the dimensions that broadcasting stretched to turn
// dst's shape into a's, so that dst (+)= Σ over those dimensions. It is the
// adjoint of broadcasting: the gradient of Add(c, x, bias) with respect to
// bias is SumTo(dbias, dc, true). With accumulate false dst is overwritten.
func SumTo(dst, a *Tensor, accumulate bool) {
	if !accumulate {
		dst.Zero()
	}
	if SameShape(dst.Shape, a.Shape) {
		if accumulate {
			map1(dst.Data, a.Data, 1, axpyKernel)
		} else {
			copy(dst.Data, a.Data)
		}
		return
	}
	var p bcastPlan
	if !p.init(a.Shape, dst.Shape, a.Shape) {
		panic(fmt.Sprintf("tensor: SumTo: shape %v does not broadcast to %v", dst.Shape, a.Shape))
	}
	rows, cols := p.rows()
	if rows*cols == 0 {
		return
	}
	if p.sa[p.rank-1] == 0 {
		// Each row of a folds into one element of dst.
		p.each(0, rows, func(row, offD, _ int) {
			dst.Data[offD] += float32(sum64(a.Data[row*cols : row*cols+cols]))
		})
		return
	}
	p.each(0, rows, func(row, offD, _ int) {
		axpyKernel(dst.Data[offD:offD+cols], a.Data[row*cols:row*cols+cols], 1)
	})
}

// SumRows sets dst[j] (+)= Σᵢ a[i, j], summing over every leading dimension
// of a; dst's length is a's last dimension. It is the gradient of
// AddRowVector with respect to the vector.
func SumRows(dst, a *Tensor, accumulate bool) {
	rows, cols := lastDim("SumRows", a)
	if len(a.Shape) > 0 && len(dst.Data) != a.Shape[len(a.Shape)-1] {
		panicShapes("SumRows", dst.Shape, a.Shape)
	}
	if !accumulate {
		dst.Zero()
	}
	if rows*cols <= elemGrain || cols < 64 {
		sumRowsCols(dst.Data, a.Data, rows, cols, 0, cols)
		return
	}
	// Split over columns: each column is still summed in row order.
	ParallelFor(cols, max(16, cols/Threads()), func(lo, hi int) {
		sumRowsCols(dst.Data, a.Data, rows, cols, lo, hi)
	})
}

// sumRowsCols adds rows of a into dst over columns [lo, hi).
func sumRowsCols(dst, a []float32, rows, cols, lo, hi int) {
	d := dst[lo:hi]
	for i := 0; i < rows; i++ {
		r := a[i*cols+lo : i*cols+hi]
		r = r[:len(d)]
		for j := range d {
			d[j] += r[j]
		}
	}
}

// axisSplit returns the sizes before, along and after axis.
func axisSplit(op string, shape []int, axis int) (outer, n, inner int) {
	axis = normAxis(op, shape, axis)
	outer, inner = 1, 1
	for _, d := range shape[:axis] {
		outer *= d
	}
	for _, d := range shape[axis+1:] {
		inner *= d
	}
	return outer, shape[axis], inner
}

// checkReduced panics unless dst holds a's elements with axis removed
// (dst may keep the axis as size 1 or drop it).
func checkReduced(op string, dst, a *Tensor, outer, inner int) {
	if len(dst.Data) != outer*inner {
		panicShapes(op, dst.Shape, a.Shape)
	}
}

// SumAxis sets dst to the sum of a along axis (negative counts from the
// end). dst has a's shape without that axis, or with it as 1.
func SumAxis(dst, a *Tensor, axis int) {
	outer, n, inner := axisSplit("SumAxis", a.Shape, axis)
	checkReduced("SumAxis", dst, a, outer, inner)
	sumAxis(dst.Data, a.Data, outer, n, inner)
}

func sumAxis(dst, a []float32, outer, n, inner int) {
	for o := 0; o < outer; o++ {
		d := dst[o*inner : o*inner+inner]
		src := a[o*n*inner:]
		if inner == 1 {
			d[0] = float32(sum64(src[:n]))
			continue
		}
		copy(d, src[:inner])
		for k := 1; k < n; k++ {
			r := src[k*inner : k*inner+inner]
			r = r[:len(d)]
			for j := range d {
				d[j] += r[j]
			}
		}
	}
}

// MeanAxis sets dst to the mean of a along axis; shapes as in SumAxis.
func MeanAxis(dst, a *Tensor, axis int) {
	outer, n, inner := axisSplit("MeanAxis", a.Shape, axis)
	checkReduced("MeanAxis", dst, a, outer, inner)
	sumAxis(dst.Data, a.Data, outer, n, inner)
	if n > 0 {
		scaleKernel(dst.Data, dst.Data, 1/float32(n))
	}
}

// MaxAxis sets dst to the maximum of a along axis and, when argmax is not
// nil, argmax to the index along axis where it occurs (the first one on
// ties). Shapes as in SumAxis; len(argmax) = dst.Len(). NaNs are skipped
// unless a whole slice is NaN.
func MaxAxis(dst *Tensor, argmax []int32, a *Tensor, axis int) {
	outer, n, inner := axisSplit("MaxAxis", a.Shape, axis)
	checkReduced("MaxAxis", dst, a, outer, inner)
	if argmax != nil && len(argmax) != len(dst.Data) {
		panic(fmt.Sprintf("tensor: MaxAxis: argmax length %d, want %d for shape %v", len(argmax), len(dst.Data), dst.Shape))
	}
	if n == 0 {
		panic(fmt.Sprintf("tensor: MaxAxis: empty axis %d of shape %v", axis, a.Shape))
	}
	for o := 0; o < outer; o++ {
		src := a.Data[o*n*inner:]
		for j := 0; j < inner; j++ {
			best, at := float32(math.NaN()), int32(0)
			for k := 0; k < n; k++ {
				if v := src[k*inner+j]; v > best || (best != best && v == v) {
					best, at = v, int32(k)
				}
			}
			dst.Data[o*inner+j] = best
			if argmax != nil {
				argmax[o*inner+j] = at
			}
		}
	}
}

// ArgMaxRows sets dst[i] to the index of the largest element of row i of a
// (rows run along the last axis; the first index wins on ties).
func ArgMaxRows(dst []int32, a *Tensor) {
	rows, cols := lastDim("ArgMaxRows", a)
	if len(dst) != rows {
		panic(fmt.Sprintf("tensor: ArgMaxRows: %d outputs for shape %v (%d rows)", len(dst), a.Shape, rows))
	}
	for i := range dst {
		r := a.Data[i*cols : i*cols+cols]
		at, best := 0, r[0]
		for j, v := range r {
			if v > best || (best != best && v == v) {
				at, best = j, v
			}
		}
		dst[i] = int32(at)
	}
}

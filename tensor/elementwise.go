package tensor

import (
	"fmt"
	"math"
)

// binaryOp names the arithmetic of Add, Sub, Mul and Div.
type binaryOp uint8

const (
	opAdd binaryOp = iota
	opSub
	opMul
	opDiv
)

var binaryNames = [...]string{opAdd: "Add", opSub: "Sub", opMul: "Mul", opDiv: "Div"}

// Add sets dst = a + b, with a and b broadcast to dst's shape by numpy rules
// (trailing dimensions aligned, dimensions of size 1 stretched). dst may
// alias a or b when they have dst's shape.
func Add(dst, a, b *Tensor) { binary(opAdd, dst, a, b) }

// Sub sets dst = a − b, broadcasting as Add does.
func Sub(dst, a, b *Tensor) { binary(opSub, dst, a, b) }

// Mul sets dst = a · b elementwise, broadcasting as Add does.
func Mul(dst, a, b *Tensor) { binary(opMul, dst, a, b) }

// Div sets dst = a / b elementwise, broadcasting as Add does.
func Div(dst, a, b *Tensor) { binary(opDiv, dst, a, b) }

func binary(op binaryOp, dst, a, b *Tensor) {
	if SameShape(dst.Shape, a.Shape) && SameShape(dst.Shape, b.Shape) {
		kernel := binaryFlat[op]
		map2(dst.Data, a.Data, b.Data, 0, kernel)
		return
	}
	j := binaryJob{op: op, dst: dst.Data, a: a.Data, b: b.Data}
	if !j.plan.init(dst.Shape, a.Shape, b.Shape) {
		panicBroadcast(binaryNames[op], a.Shape, b.Shape, dst.Shape)
	}
	rows, cols := j.plan.rows()
	if rows*cols == 0 {
		return
	}
	if rows*cols <= elemGrain {
		j.rows(0, rows)
		return
	}
	heap := j // only the parallel path pays for an allocation
	ParallelFor(rows, rowGrain(cols), heap.rows)
}

// binaryJob is one broadcast binary op.
type binaryJob struct {
	op        binaryOp
	plan      bcastPlan
	dst, a, b []float32
}

// rows computes rows [lo, hi) of the broadcast result.
func (j *binaryJob) rows(lo, hi int) {
	p := &j.plan
	cols := p.size[p.rank-1]
	sa, sb := p.sa[p.rank-1], p.sb[p.rank-1]
	p.each(lo, hi, func(row, offA, offB int) {
		binaryRow(j.op, j.dst[row*cols:row*cols+cols], j.a[offA:], sa, j.b[offB:], sb)
	})
}

// binaryFlat holds the loops over operands of equal length.
var binaryFlat = [...]func(d, a, b []float32, _ float32){
	opAdd: func(d, a, b []float32, _ float32) {
		a, b = a[:len(d)], b[:len(d)]
		for i := range d {
			d[i] = a[i] + b[i]
		}
	},
	opSub: func(d, a, b []float32, _ float32) {
		a, b = a[:len(d)], b[:len(d)]
		for i := range d {
			d[i] = a[i] - b[i]
		}
	},
	opMul: func(d, a, b []float32, _ float32) {
		a, b = a[:len(d)], b[:len(d)]
		for i := range d {
			d[i] = a[i] * b[i]
		}
	},
	opDiv: func(d, a, b []float32, _ float32) {
		a, b = a[:len(d)], b[:len(d)]
		for i := range d {
			d[i] = a[i] / b[i]
		}
	},
}

// binaryRow computes one row of a broadcast binary op; sa and sb are 1 when
// the operand runs along the row and 0 when one value repeats.
func binaryRow(op binaryOp, d, a []float32, sa int, b []float32, sb int) {
	switch {
	case sa == 1 && sb == 1:
		binaryFlat[op](d, a, b, 0)
	case sa == 1:
		binaryRowScalarB(op, d, a[:len(d)], b[0])
	case sb == 1:
		binaryRowScalarA(op, d, a[0], b[:len(d)])
	default:
		v := scalarOp(op, a[0], b[0])
		for i := range d {
			d[i] = v
		}
	}
}

func binaryRowScalarB(op binaryOp, d, a []float32, s float32) {
	a = a[:len(d)]
	switch op {
	case opAdd:
		for i := range d {
			d[i] = a[i] + s
		}
	case opSub:
		for i := range d {
			d[i] = a[i] - s
		}
	case opMul:
		for i := range d {
			d[i] = a[i] * s
		}
	case opDiv:
		for i := range d {
			d[i] = a[i] / s
		}
	}
}

func binaryRowScalarA(op binaryOp, d []float32, s float32, b []float32) {
	b = b[:len(d)]
	switch op {
	case opAdd:
		for i := range d {
			d[i] = s + b[i]
		}
	case opSub:
		for i := range d {
			d[i] = s - b[i]
		}
	case opMul:
		for i := range d {
			d[i] = s * b[i]
		}
	case opDiv:
		for i := range d {
			d[i] = s / b[i]
		}
	}
}

func scalarOp(op binaryOp, a, b float32) float32 {
	switch op {
	case opAdd:
		return a + b
	case opSub:
		return a - b
	case opMul:
		return a * b
	default:
		return a / b
	}
}

// AddScalar sets dst = a + s. dst and a must hold the same number of
// elements and may be the same tensor.
func AddScalar(dst, a *Tensor, s float32) {
	checkLen("AddScalar", dst, a)
	map1(dst.Data, a.Data, s, addScalarKernel)
}

func addScalarKernel(d, a []float32, s float32) {
	a = a[:len(d)]
	for i := range d {
		d[i] = a[i] + s
	}
}

// Scale sets dst = s · a. dst and a must hold the same number of elements
// and may be the same tensor.
func Scale(dst, a *Tensor, s float32) {
	checkLen("Scale", dst, a)
	map1(dst.Data, a.Data, s, scaleKernel)
}

func scaleKernel(d, a []float32, s float32) {
	a = a[:len(d)]
	for i := range d {
		d[i] = a[i] * s
	}
}

// Axpy adds alpha·x into dst; both hold the same number of elements.
func Axpy(dst *Tensor, alpha float32, x *Tensor) {
	checkLen("Axpy", dst, x)
	map1(dst.Data, x.Data, alpha, axpyKernel)
}

func axpyKernel(d, x []float32, alpha float32) {
	x = x[:len(d)]
	for i := range d {
		d[i] += alpha * x[i]
	}
}

// AddRowVector sets dst[i, :] = a[i, :] + v for every row i of the last
// axis: the bias add of a dense or convolutional-as-matrix layer. dst and a
// have the same shape (and may be the same tensor); v's length is the last
// dimension.
func AddRowVector(dst, a, v *Tensor) {
	checkShape("AddRowVector", dst, a)
	rows, cols := lastDim("AddRowVector", dst)
	if len(v.Data) != cols {
		panic(fmt.Sprintf("tensor: AddRowVector: shapes %v and %v do not match (vector length %d, want %d)", a.Shape, v.Shape, len(v.Data), cols))
	}
	if rows*cols <= elemGrain {
		addRowVectorRows(dst.Data, a.Data, v.Data)
		return
	}
	ParallelFor(rows, rowGrain(cols), func(lo, hi int) {
		addRowVectorRows(dst.Data[lo*cols:hi*cols], a.Data[lo*cols:hi*cols], v.Data)
	})
}

func addRowVectorRows(d, a, v []float32) {
	cols := len(v)
	a = a[:len(d)]
	for off := 0; off+cols <= len(d); off += cols {
		dr, ar := d[off:off+cols], a[off:off+cols]
		for j := range dr {
			dr[j] = ar[j] + v[j]
		}
	}
}

// Exp sets dst = eᵃ elementwise.
func Exp(dst, a *Tensor) {
	checkLen("Exp", dst, a)
	map1(dst.Data, a.Data, 0, expKernel)
}

func expKernel(d, a []float32, _ float32) {
	a = a[:len(d)]
	for i, v := range a {
		if v < -87.3 || v > 88.3 {
			d[i] = exp32(v)
			continue
		}
		d[i] = expNormal(v)
	}
}

// Log sets dst = ln a elementwise (NaN below 0, −Inf at 0).
func Log(dst, a *Tensor) {
	checkLen("Log", dst, a)
	map1(dst.Data, a.Data, 0, logKernel)
}

func logKernel(d, a []float32, _ float32) {
	a = a[:len(d)]
	for i := range d {
		d[i] = float32(math.Log(float64(a[i])))
	}
}

// Sqrt sets dst = √a elementwise.
func Sqrt(dst, a *Tensor) {
	checkLen("Sqrt", dst, a)
	map1(dst.Data, a.Data, 0, sqrtKernel)
}

func sqrtKernel(d, a []float32, _ float32) {
	a = a[:len(d)]
	for i := range d {
		d[i] = float32(math.Sqrt(float64(a[i])))
	}
}

// Neg sets dst = −a.
func Neg(dst, a *Tensor) {
	checkLen("Neg", dst, a)
	map1(dst.Data, a.Data, -1, scaleKernel)
}

// Fill sets every element of dst to v.
func Fill(dst *Tensor, v float32) {
	map1(dst.Data, dst.Data, v, fillKernel)
}

func fillKernel(d, _ []float32, v float32) {
	for i := range d {
		d[i] = v
	}
}

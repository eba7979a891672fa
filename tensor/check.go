package tensor

import "fmt"

// elemGrain is the smallest number of elements worth handing to another
// goroutine: below it the cost of starting one outweighs the work.
const elemGrain = 16 << 10

// panicShapes reports two operands whose shapes an op cannot combine.
func panicShapes(op string, a, b []int) {
	panic(fmt.Sprintf("tensor: %s: shapes %v and %v do not match", op, a, b))
}

// checkLen panics unless a and b hold the same number of elements.
func checkLen(op string, a, b *Tensor) {
	if len(a.Data) != len(b.Data) {
		panicShapes(op, a.Shape, b.Shape)
	}
}

// checkShape panics unless a and b have identical shapes.
func checkShape(op string, a, b *Tensor) {
	if !SameShape(a.Shape, b.Shape) {
		panicShapes(op, a.Shape, b.Shape)
	}
}

// normAxis turns a possibly negative axis into an index into shape and
// panics when it is out of range.
func normAxis(op string, shape []int, axis int) int {
	if axis < 0 {
		axis += len(shape)
	}
	if axis < 0 || axis >= len(shape) {
		panic(fmt.Sprintf("tensor: %s: axis %d out of range for shape %v", op, axis, shape))
	}
	return axis
}

// lastDim returns rows and columns of t seen as a matrix whose columns are
// its last axis. It panics on a tensor of rank 0.
func lastDim(op string, t *Tensor) (rows, cols int) {
	if len(t.Shape) == 0 {
		panic(fmt.Sprintf("tensor: %s: shape %v has no last axis", op, t.Shape))
	}
	cols = t.Shape[len(t.Shape)-1]
	if cols == 0 {
		return 0, 0
	}
	return len(t.Data) / cols, cols
}

// map1 runs kernel(dst, a, s) over equal-length slices, split across
// goroutines when they are long. The closure for ParallelFor is only built
// on the parallel path, so short calls allocate nothing.
func map1(dst, a []float32, s float32, kernel func(dst, a []float32, s float32)) {
	if len(dst) <= elemGrain {
		kernel(dst, a, s)
		return
	}
	ParallelFor(len(dst), elemGrain, func(lo, hi int) { kernel(dst[lo:hi], a[lo:hi], s) })
}

// map2 is map1 with two inputs.
func map2(dst, a, b []float32, s float32, kernel func(dst, a, b []float32, s float32)) {
	if len(dst) <= elemGrain {
		kernel(dst, a, b, s)
		return
	}
	ParallelFor(len(dst), elemGrain, func(lo, hi int) { kernel(dst[lo:hi], a[lo:hi], b[lo:hi], s) })
}

// rowGrain returns how many rows of cols elements make one parallel chunk.
func rowGrain(cols int) int {
	return max(1, elemGrain/max(cols, 1))
}

package tensor

import (
	"fmt"

	"github.com/shoal-dl/shoal/tensor/internal/gemm"
)

// MatMul sets dst = op(a)·op(b), or adds it into dst when accumulate is
// set, where op(a) is a transposed when transA is set (likewise b). All
// three are 2-D: op(a) is m×k, op(b) is k×n and dst m×n. The product runs
// on the GEMM of tensor/internal/gemm with Threads() goroutines.
//
// The backward of y = x·w is MatMul(dx, dy, w, false, true, true) and
// MatMul(dw, x, dy, true, false, true).
func MatMul(dst, a, b *Tensor, transA, transB, accumulate bool) {
	if len(a.Shape) != 2 || len(b.Shape) != 2 {
		panicShapes("MatMul", a.Shape, b.Shape)
	}
	m, k := a.Shape[0], a.Shape[1]
	if transA {
		m, k = k, m
	}
	kb, n := b.Shape[0], b.Shape[1]
	if transB {
		kb, n = n, kb
	}
	if k != kb {
		panic(fmt.Sprintf("tensor: MatMul: shapes %v and %v do not match (transA=%t, transB=%t)", a.Shape, b.Shape, transA, transB))
	}
	if len(dst.Shape) != 2 || dst.Shape[0] != m || dst.Shape[1] != n {
		panic(fmt.Sprintf("tensor: MatMul: dst shape %v, want [%d %d] for shapes %v and %v", dst.Shape, m, n, a.Shape, b.Shape))
	}
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		if !accumulate {
			dst.Zero()
		}
		return
	}
	var beta float32
	if accumulate {
		beta = 1
	}
	gemm.Sgemm(transA, transB, m, n, k, 1, a.Data, a.Shape[1], b.Data, b.Shape[1], beta, dst.Data, n)
}

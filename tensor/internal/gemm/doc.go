// Package gemm is shoal's single-precision general matrix multiply:
// C = alpha·op(A)·op(B) + beta·C on row-major matrices.
package gemm

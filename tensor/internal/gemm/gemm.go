package gemm

import "sync/atomic"

var threads atomic.Int32

// SetThreads sets how many goroutines one Sgemm call may use (n >= 1).
func SetThreads(n int) { threads.Store(int32(max(n, 1))) }

// Threads returns the current thread count.
func Threads() int { return int(max(threads.Load(), 1)) }

// Sgemm computes C = alpha·op(A)·op(B) + beta·C for row-major matrices where
// op(A) is m×k, op(B) is k×n and C is m×n. When transA is set, A is stored
// k×m; when transB is set, B is stored n×k.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	SgemmThreads(Threads(), transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// SgemmThreads is Sgemm with an explicit thread count, for callers that
// already run in parallel (one GEMM per image of a batch, say) and want 1.
func SgemmThreads(threads int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	sgemmRef(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// sgemmRef is the plain triple loop every faster path is checked against.
func sgemmRef(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float32
			for p := 0; p < k; p++ {
				var av, bv float32
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += av * bv
			}
			if beta == 0 {
				c[i*ldc+j] = alpha * s
			} else {
				c[i*ldc+j] = alpha*s + beta*c[i*ldc+j]
			}
		}
	}
}

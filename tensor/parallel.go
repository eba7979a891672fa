package tensor

import (
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/shoal-dl/shoal/tensor/internal/gemm"
)

var threads atomic.Int32

func init() { SetThreads(0) }

// SetThreads sets how many goroutines one kernel call may use, including
// the GEMM behind MatMul. n < 1 means GOMAXPROCS.
func SetThreads(n int) {
	if n < 1 {
		n = runtime.GOMAXPROCS(0)
	}
	threads.Store(int32(n))
	gemm.SetThreads(n)
}

// Threads returns the current intra-op parallelism.
func Threads() int { return int(threads.Load()) }

// ParallelFor splits [0, n) into at most Threads() contiguous chunks of at
// least grain items, runs fn on each and returns when all are done. With one
// chunk fn runs on the calling goroutine and nothing is allocated.
func ParallelFor(n, grain int, fn func(lo, hi int)) {
	if n <= 0 {
		return
	}
	if grain < 1 {
		grain = 1
	}
	chunks := min(Threads(), (n+grain-1)/grain)
	if chunks <= 1 {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	step := (n + chunks - 1) / chunks
	for lo := step; lo < n; lo += step {
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			fn(lo, hi)
		}(lo, min(lo+step, n))
	}
	fn(0, min(step, n))
	wg.Wait()
}

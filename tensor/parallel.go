package tensor

import (
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/shoal-dl/shoal/internal/workers"
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
// chunk fn runs on the calling goroutine. The chunks run on the caller and
// the kernel workers (see internal/workers), which stay awake
// between the calls of a training step.
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
	t := forPool.Get().(*forTask)
	t.fn, t.n, t.step = fn, n, (n+chunks-1)/chunks
	workers.Run((n+t.step-1)/t.step, chunks, t)
	t.fn = nil
	forPool.Put(t)
}

// forTask is one ParallelFor call: chunk i is [i·step, (i+1)·step) ∩ [0, n).
type forTask struct {
	fn      func(lo, hi int)
	n, step int
}

var forPool = sync.Pool{New: func() any { return new(forTask) }}

// RunPart runs chunk i.
func (t *forTask) RunPart(i int) {
	lo := i * t.step
	t.fn(lo, min(lo+t.step, t.n))
}

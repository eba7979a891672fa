package workers

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countTask counts how often each part runs.
type countTask struct{ runs []atomic.Int32 }

func (c *countTask) RunPart(i int) { c.runs[i].Add(1) }

func checkOnce(t *testing.T, c *countTask, what string) {
	t.Helper()
	for i := range c.runs {
		if n := c.runs[i].Load(); n != 1 {
			t.Fatalf("%s: part %d ran %d times; want 1", what, i, n)
		}
	}
}

func TestRunEveryPartOnce(t *testing.T) {
	for _, parts := range []int{0, 1, 2, 3, 7, 64} {
		for _, threads := range []int{1, 2, 4, 16} {
			c := &countTask{runs: make([]atomic.Int32, parts)}
			Run(parts, threads, c)
			checkOnce(t, c, "Run")
		}
	}
}

// TestRunConcurrent runs many calls at once from many goroutines, some of
// them nested inside parts: every part of every call runs once and every
// call returns.
func TestRunConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range 200 {
				outer := &countTask{runs: make([]atomic.Int32, 1+(g+r)%9)}
				inner := make([]*countTask, len(outer.runs))
				for i := range inner {
					inner[i] = &countTask{runs: make([]atomic.Int32, 3)}
				}
				Run(len(outer.runs), 1+g%4, nestTask{outer, inner})
				checkOnce(t, outer, "outer")
				for _, c := range inner {
					checkOnce(t, c, "nested")
				}
			}
		}()
	}
	wg.Wait()
}

// nestTask runs a call of its own inside each part.
type nestTask struct {
	outer *countTask
	inner []*countTask
}

func (n nestTask) RunPart(i int) {
	n.outer.RunPart(i)
	Run(len(n.inner[i].runs), 2, n.inner[i])
}

// meetTask's parts wait (up to a timeout) until all of them have started.
type meetTask struct {
	started *atomic.Int32
	parts   int32
	met     *atomic.Int32
}

func (m meetTask) RunPart(int) {
	m.started.Add(1)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if m.started.Load() == m.parts {
			m.met.Add(1)
			return
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// TestRunInParallel checks that the parts of a call run at the same time,
// on the caller and threads-1 workers: each waits for all to start.
func TestRunInParallel(t *testing.T) {
	for _, parts := range []int32{2, 4} {
		var started, met atomic.Int32
		Run(int(parts), int(parts), meetTask{&started, parts, &met})
		if met.Load() != parts {
			t.Errorf("%d parts on %d goroutines: %d of them ran together; want all", parts, parts, met.Load())
		}
	}
}

func TestRunAllocatesNothing(t *testing.T) {
	c := &countTask{runs: make([]atomic.Int32, 8)}
	Run(8, 2, c)
	if n := testing.AllocsPerRun(100, func() { Run(8, 2, c) }); n != 0 {
		t.Errorf("Run allocates %v times per call; want 0", n)
	}
}

func BenchmarkRun(b *testing.B) {
	c := &countTask{runs: make([]atomic.Int32, 2)}
	for b.Loop() {
		Run(2, 2, c)
	}
}

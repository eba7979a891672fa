package workers

import (
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Task is one parallel call: RunPart(i) computes part i, and different
// parts may run at the same time on different goroutines.
type Task interface {
	RunPart(i int)
}

// job is one call of Run in flight.
type job struct {
	task  Task
	parts int32
	next  atomic.Int32 // the next part to take
	left  atomic.Int32 // parts not finished
	users atomic.Int32 // workers holding the job
}

// spin is how long a worker keeps looking for work after its last part
// before it sleeps.
const spin = 200 * time.Microsecond

var (
	mu       sync.Mutex
	wake     = sync.NewCond(&mu)
	queue    []*job // under mu: calls that may have parts left to take
	sleeping int    // under mu: workers waiting on wake
	started  int    // under mu: workers running

	posted atomic.Uint64 // bumped by every call, watched by spinning workers

	jobPool = sync.Pool{New: func() any { return new(job) }}
)

// Run runs task.RunPart(i) once for every i in [0, parts), on the calling
// goroutine and the workers, and returns when all are done. It starts
// workers until there are threads-1 and wakes as many as are asleep; a
// worker already awake from an earlier call may help too, but no more than
// parts goroutines ever work on one call. With parts or threads below 2
// everything runs on the caller. Steady-state calls allocate nothing.
func Run(parts, threads int, task Task) {
	if parts <= 1 || threads <= 1 {
		for i := range parts {
			task.RunPart(i)
		}
		return
	}
	helpers := min(parts, threads) - 1
	j := jobPool.Get().(*job)
	j.task, j.parts = task, int32(parts)
	j.next.Store(0)
	j.left.Store(int32(parts))

	mu.Lock()
	for started < helpers {
		started++
		go worker()
	}
	queue = append(queue, j)
	posted.Add(1)
	if sleeping > 0 {
		for range min(helpers, sleeping) {
			wake.Signal()
		}
	}
	mu.Unlock()

	j.work()

	// Every part is taken; unlist the job so no worker picks it up again,
	// then wait for the parts still running elsewhere.
	mu.Lock()
	for i, q := range queue {
		if q == j {
			queue = slices.Delete(queue, i, i+1)
			break
		}
	}
	mu.Unlock()
	waitZero(&j.left)
	waitZero(&j.users)
	j.task = nil
	jobPool.Put(j)
}

// work takes and runs parts of j until none are left.
func (j *job) work() {
	for {
		i := j.next.Add(1) - 1
		if i >= j.parts {
			return
		}
		j.task.RunPart(int(i))
		j.left.Add(-1)
	}
}

// waitZero waits until c is zero. What it waits for runs on a goroutine
// that is running, so the wait is short: it spins, yielding now and then.
func waitZero(c *atomic.Int32) {
	for n := 0; c.Load() != 0; n++ {
		if n%64 == 63 {
			runtime.Gosched()
		}
	}
}

// worker runs parts of calls for the life of the process.
func worker() {
	for {
		j := take()
		j.work()
		j.users.Add(-1)
	}
}

// take returns a call with parts left, counted among its users: the first
// one listed, or the next one posted while it spins, or, after spin, the
// next one posted after it sleeps.
func take() *job {
	var deadline time.Time
	for {
		seen := posted.Load()
		mu.Lock()
		for _, j := range queue {
			if j.next.Load() < j.parts {
				j.users.Add(1)
				mu.Unlock()
				return j
			}
		}
		if deadline.IsZero() {
			deadline = time.Now().Add(spin)
		} else if time.Now().After(deadline) {
			sleeping++
			wake.Wait()
			sleeping--
			deadline = time.Time{}
			mu.Unlock()
			continue
		}
		mu.Unlock()
		for n := 0; posted.Load() == seen; n++ {
			if n%64 == 63 {
				runtime.Gosched()
				if time.Now().After(deadline) {
					break
				}
			}
		}
	}
}

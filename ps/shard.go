package ps

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/shoal-dl/shoal/optim"
)

// Consistency is how a server orders updates from different workers.
type Consistency int

const (
	// Sync aggregates all workers' gradients of a step before updating.
	Sync Consistency = iota
	// Async applies each push on arrival.
	Async
	// SSP applies each push on arrival but bounds how far ahead a worker runs.
	SSP
)

// Mode is a consistency with its staleness bound.
type Mode struct {
	Consistency Consistency
	// Staleness is SSP's K.
	Staleness int
}

// ParseMode reads "sync", "async" or "ssp:K".
func ParseMode(s string) (Mode, error) {
	switch {
	case s == "sync":
		return Mode{Consistency: Sync}, nil
	case s == "async":
		return Mode{Consistency: Async}, nil
	case strings.HasPrefix(s, "ssp:"):
		k, err := strconv.Atoi(s[len("ssp:"):])
		if err != nil || k < 0 {
			return Mode{}, fmt.Errorf("ps: mode %q: staleness must be a non-negative integer, as in ssp:2", s)
		}
		return Mode{Consistency: SSP, Staleness: k}, nil
	}
	return Mode{}, fmt.Errorf("ps: unknown mode %q; use sync, async or ssp:K", s)
}

// String returns the mode as ParseMode reads it.
func (m Mode) String() string {
	switch m.Consistency {
	case Async:
		return "async"
	case SSP:
		return "ssp:" + strconv.Itoa(m.Staleness)
	}
	return "sync"
}

// Range is a half-open range [Lo, Hi) of the parameter arena.
type Range struct{ Lo, Hi int }

// Len returns Hi − Lo.
func (r Range) Len() int { return r.Hi - r.Lo }

// Partition splits an arena of n values into s contiguous ranges whose
// sizes differ by at most one.
func Partition(n, s int) []Range {
	out := make([]Range, s)
	for i := range out {
		out[i] = Range{Lo: n * i / s, Hi: n * (i + 1) / s}
	}
	return out
}

// errStale reports a push for a step the shard is not collecting.
var errStale = errors.New("ps: push for a step that is not current")

// shard is one server's parameters, optimizer and consistency clock. It
// does no I/O and is not safe for concurrent use.
type shard struct {
	mode    Mode
	workers int
	params  []float32
	opt     optim.Optimizer
	ready   bool // parameters initialised by worker 0

	// version counts applied updates (sync) or rounds (async/ssp: the
	// number of pushes / workers, for information).
	version int64
	// clock[w] is how many steps worker w has pushed.
	clock []int64
	// Sync: gradients of the current step by worker, and who has pushed.
	pending [][]float32
	arrived []bool
	count   int
	sum     []float32
}

func newShard(mode Mode, workers int, n int, opt optim.Optimizer) *shard {
	s := &shard{mode: mode, workers: workers, params: make([]float32, n), opt: opt,
		clock: make([]int64, workers), sum: make([]float32, n)}
	if mode.Consistency == Sync {
		s.pending = make([][]float32, workers)
		for i := range s.pending {
			s.pending[i] = make([]float32, n)
		}
		s.arrived = make([]bool, workers)
	}
	return s
}

// init sets the initial parameters.
func (s *shard) init(values []float32) {
	copy(s.params, values)
	s.ready = true
}

// canPull reports whether worker w may read parameters for its step t, and
// if not, which worker it waits for.
func (s *shard) canPull(t int64) (ok bool, waitFor int) {
	if !s.ready {
		return false, 0
	}
	switch s.mode.Consistency {
	case Sync:
		if s.version >= t {
			return true, -1
		}
		for w, a := range s.arrived {
			if !a {
				return false, w
			}
		}
		return false, -1
	case SSP:
		need := t - int64(s.mode.Staleness)
		slow := -1
		for w, c := range s.clock {
			if c < need && (slow < 0 || c < s.clock[slow]) {
				slow = w
			}
		}
		return slow < 0, slow
	}
	return true, -1
}

// canPush reports whether a sync push for step t can be taken now (it
// cannot while the previous step is still being collected).
func (s *shard) canPush(t int64) bool {
	return s.mode.Consistency != Sync || t <= s.version
}

// push takes worker w's gradient for step t.
func (s *shard) push(w int, t int64, grads []float32) error {
	if len(grads) != len(s.params) {
		return fmt.Errorf("ps: push of %d values to a shard of %d", len(grads), len(s.params))
	}
	if w < 0 || w >= s.workers {
		return fmt.Errorf("ps: push from worker %d of %d", w, s.workers)
	}
	s.clock[w] = max(s.clock[w], t+1)
	if s.mode.Consistency != Sync {
		scale := 1 / float32(s.workers)
		for i, g := range grads {
			s.sum[i] = g * scale
		}
		s.opt.Step(s.params, s.sum)
		s.version++
		return nil
	}
	if t != s.version || s.arrived[w] {
		return fmt.Errorf("%w: worker %d pushed step %d while step %d is collected", errStale, w, t, s.version)
	}
	copy(s.pending[w], grads)
	s.arrived[w] = true
	s.count++
	if s.count < s.workers {
		return nil
	}
	// Sum in rank order so that every run gives the same bits.
	copy(s.sum, s.pending[0])
	for w := 1; w < s.workers; w++ {
		p := s.pending[w][:len(s.sum)]
		for i := range s.sum {
			s.sum[i] += p[i]
		}
	}
	scale := 1 / float32(s.workers)
	for i := range s.sum {
		s.sum[i] *= scale
	}
	s.opt.Step(s.params, s.sum)
	s.version++
	s.count = 0
	clear(s.arrived)
	return nil
}

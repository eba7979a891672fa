package train

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/shoal-dl/shoal/autograd"
	"github.com/shoal-dl/shoal/nn"
	"github.com/shoal-dl/shoal/optim"
	"github.com/shoal-dl/shoal/ps"
)

// PSOptions tune the parameter-server strategy.
type PSOptions struct {
	// Rank is this worker's rank; rank 0 sends the initial parameters.
	Rank int
	// OnStep, when set, receives the timing of every step.
	OnStep func(StepTiming)
	// Timeline, when set, records pulls, pushes and compute.
	Timeline *Timeline
}

// PS is the parameter-server strategy on the worker's side: before forward
// it pulls the parameters of the step from the servers (waiting as their
// consistency mode requires); during backward, as soon as the gradient of a
// server's whole range is final, it pushes that range while backward goes
// on with the layers before; the servers run the optimizer, so the worker
// has no local update.
type PS struct {
	client *ps.Client
	model  *nn.Model
	opts   PSOptions
	ranges []ps.Range
	// pending[i] counts the parameters overlapping range i whose gradients
	// are not yet final in this step; rangesOf lists a parameter's ranges.
	pending  []int
	overlaps []int
	rangesOf map[*autograd.Var][]int
	step     int64

	wg     sync.WaitGroup
	mu     sync.Mutex // guards errs and pushEnd
	errs   []error
	pushed []time.Time

	start, pulled, backwardEnd time.Time
	pushStart                  []time.Time
	timing                     StepTiming
}

// NewPS returns the strategy over client for model. Worker 0 initialises
// the servers with its parameters; every worker then trains from the
// servers' parameters.
func NewPS(ctx context.Context, client *ps.Client, model *nn.Model, opts PSOptions) (*PS, error) {
	if client == nil || model == nil {
		return nil, errors.New("train: NewPS: nil client or model")
	}
	if opts.Rank == 0 {
		if err := client.Init(ctx, model.Values()); err != nil {
			return nil, fmt.Errorf("train: initialising the parameter servers: %w", err)
		}
	}
	s := &PS{client: client, model: model, opts: opts, ranges: client.Ranges(), rangesOf: make(map[*autograd.Var][]int)}
	s.overlaps = make([]int, len(s.ranges))
	for _, p := range model.Params {
		lo, hi := p.Offset, p.Offset+len(p.Grad.Data)
		for i, r := range s.ranges {
			if lo < r.Hi && r.Lo < hi {
				s.rangesOf[p.Var] = append(s.rangesOf[p.Var], i)
				s.overlaps[i]++
			}
		}
	}
	s.pending = make([]int, len(s.ranges))
	s.pushed = make([]time.Time, len(s.ranges))
	s.pushStart = make([]time.Time, len(s.ranges))
	return s, nil
}

// BeginStep pulls the parameters for step.
func (s *PS) BeginStep(ctx context.Context, step int64, params []float32) error {
	s.start = time.Now()
	s.step = step
	s.timing = StepTiming{Step: step, Rank: s.opts.Rank}
	copy(s.pending, s.overlaps)
	clear(s.errs)
	s.errs = s.errs[:0]
	if err := s.client.Pull(ctx, step, params); err != nil {
		return fmt.Errorf("pull: %w", err)
	}
	s.pulled = time.Now()
	return nil
}

// GradReady pushes every range whose gradient is now final.
func (s *PS) GradReady(ctx context.Context, p *autograd.Var) {
	for _, i := range s.rangesOf[p] {
		s.pending[i]--
		if s.pending[i] == 0 {
			s.push(ctx, i)
		}
	}
}

func (s *PS) push(ctx context.Context, i int) {
	s.pushStart[i] = time.Now()
	grads := s.model.Grads()
	step := s.step
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		err := s.client.PushRange(ctx, i, step, grads)
		s.mu.Lock()
		defer s.mu.Unlock()
		s.pushed[i] = time.Now()
		if err != nil {
			s.errs = append(s.errs, fmt.Errorf("push to server %d: %w", i, err))
		}
	}()
}

// ExchangeGrads pushes the ranges not pushed yet and waits for every push.
func (s *PS) ExchangeGrads(ctx context.Context, _ []float32) error {
	s.backwardEnd = time.Now()
	for i, n := range s.pending {
		if n > 0 {
			s.pending[i] = 0
			s.push(ctx, i)
		}
	}
	s.wg.Wait()
	end := time.Now()
	s.timing.Compute = s.backwardEnd.Sub(s.pulled).Seconds()
	s.timing.Wait = end.Sub(s.backwardEnd).Seconds() + s.pulled.Sub(s.start).Seconds()
	first := end
	for _, t := range s.pushStart {
		if t.Before(first) {
			first = t
		}
	}
	s.timing.Comm = end.Sub(first).Seconds() + s.pulled.Sub(s.start).Seconds()
	s.timing.Buckets = len(s.ranges)
	if s.timing.Comm > 0 {
		s.timing.Overlap = min(1, max(0, 1-s.timing.Wait/s.timing.Comm))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return errors.Join(s.errs...)
}

// Update does nothing: the servers apply the gradient.
func (s *PS) Update(context.Context, int64, optim.Optimizer, []float32, []float32) error {
	return nil
}

// EndStep reports the step's timing.
func (s *PS) EndStep(context.Context, int64, []float32) error {
	if tl := s.opts.Timeline; tl != nil {
		r := s.opts.Rank
		tl.Span(r, 1, "pull", s.start, s.pulled)
		tl.Span(r, 0, "forward+backward", s.pulled, s.backwardEnd)
		s.mu.Lock()
		for i := range s.ranges {
			tl.Span(r, 2+i, fmt.Sprintf("push server %d", i), s.pushStart[i], s.pushed[i])
		}
		s.mu.Unlock()
	}
	if s.opts.OnStep != nil {
		s.opts.OnStep(s.timing)
	}
	return nil
}

// Final pulls the servers' latest parameters into the model, after the
// last step, so the worker holds the trained model.
func (s *PS) Final(ctx context.Context) error {
	if err := s.client.Pull(ctx, s.step+1, s.model.Values()); err != nil {
		return fmt.Errorf("train: final pull: %w", err)
	}
	return nil
}

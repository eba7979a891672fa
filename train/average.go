package train

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/shoal-dl/shoal/autograd"
	"github.com/shoal-dl/shoal/collective"
	"github.com/shoal-dl/shoal/nn"
)

// AverageOptions tune the parameter-averaging strategy.
type AverageOptions struct {
	// Every is the number of local steps between two averagings; 0 means 1.
	Every int
	// OnStep, when set, receives the timing of every step.
	OnStep func(StepTiming)
	// Timeline, when set, records each averaging.
	Timeline *Timeline
}

// Average is parameter averaging as DL4J's ParameterAveragingTrainingMaster
// does it: every worker trains on its own batches with its own optimizer,
// and every Every steps the workers replace their parameters (and buffers
// such as running statistics) by the mean over all workers. With Every = 1
// and plain SGD it equals synchronous gradient averaging.
type Average struct {
	LocalUpdate
	comm   *collective.Communicator
	model  *nn.Model
	opts   AverageOptions
	start  time.Time
	timing StepTiming
}

// NewAverage returns the averaging strategy for model over comm; it
// broadcasts rank 0's parameters so every worker starts from them.
func NewAverage(ctx context.Context, comm *collective.Communicator, model *nn.Model, opts AverageOptions) (*Average, error) {
	if comm == nil || model == nil {
		return nil, errors.New("train: NewAverage: nil communicator or model")
	}
	if opts.Every < 0 {
		return nil, fmt.Errorf("train: average every %d steps: must be >= 1", opts.Every)
	}
	if opts.Every == 0 {
		opts.Every = 1
	}
	if err := comm.Broadcast(ctx, model.Values(), 0); err != nil {
		return nil, fmt.Errorf("train: broadcasting initial parameters from rank 0: %w", err)
	}
	return &Average{comm: comm, model: model, opts: opts}, nil
}

// BeginStep notes the step's start.
func (a *Average) BeginStep(_ context.Context, step int64, _ []float32) error {
	a.start = time.Now()
	a.timing = StepTiming{Step: step, Rank: a.comm.Rank()}
	return nil
}

// GradReady does nothing: gradients stay local.
func (a *Average) GradReady(context.Context, *autograd.Var) {}

// ExchangeGrads does nothing: gradients stay local.
func (a *Average) ExchangeGrads(context.Context, []float32) error { return nil }

// EndStep averages the parameters every Every steps.
func (a *Average) EndStep(ctx context.Context, step int64, _ []float32) error {
	computed := time.Now()
	a.timing.Compute = computed.Sub(a.start).Seconds()
	if (step+1)%int64(a.opts.Every) == 0 {
		if err := a.Sync(ctx); err != nil {
			return err
		}
		a.timing.Comm = time.Since(computed).Seconds()
		a.timing.Wait = a.timing.Comm // averaging cannot overlap compute
		a.timing.Buckets = 1
		if tl := a.opts.Timeline; tl != nil {
			tl.Span(a.comm.Rank(), 1, "average parameters", computed, time.Now())
		}
	}
	if tl := a.opts.Timeline; tl != nil {
		tl.Span(a.comm.Rank(), 0, "step", a.start, computed)
	}
	if a.opts.OnStep != nil {
		a.opts.OnStep(a.timing)
	}
	return nil
}

// Sync averages the parameters and buffers now; call it after the last
// step so that every worker holds the same model.
func (a *Average) Sync(ctx context.Context) error {
	if err := a.comm.AllReduce(ctx, a.model.Values(), collective.Mean); err != nil {
		return fmt.Errorf("train: averaging parameters: %w", err)
	}
	if b := a.model.BufferValues(); len(b) > 0 {
		if err := a.comm.AllReduce(ctx, b, collective.Mean); err != nil {
			return fmt.Errorf("train: averaging buffers: %w", err)
		}
	}
	return nil
}

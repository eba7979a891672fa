package train

import (
	"context"

	"github.com/shoal-dl/shoal/autograd"
	"github.com/shoal-dl/shoal/optim"
)

// Strategy is how a distributed run joins in every training step. The
// trainer calls its methods in this order, on the goroutine that runs the
// step:
//
//	BeginStep      before forward (a parameter server pull)
//	GradReady      during backward, once per parameter whose gradient is
//	               final (start an allreduce of a full bucket)
//	ExchangeGrads  after backward, before clipping (wait for every bucket)
//	Update         instead of the local optimizer step
//	EndStep        after the update (parameter averaging every K steps)
//
// A method that returns an error ends the step; the trainer reports it with
// the step number. Local training uses no Strategy.
type Strategy interface {
	BeginStep(ctx context.Context, step int64, params []float32) error
	GradReady(ctx context.Context, p *autograd.Var)
	ExchangeGrads(ctx context.Context, grads []float32) error
	// Update applies the step's gradient to params: with opt locally, or on
	// the parameter servers.
	Update(ctx context.Context, step int64, opt optim.Optimizer, params, grads []float32) error
	EndStep(ctx context.Context, step int64, params []float32) error
}

// GradScaler is a Strategy that wants each step's gradients multiplied by
// a factor (a worker's share of an uneven global batch). The trainer gets
// it with BackwardScaled, so the gradients come out of backward already
// multiplied.
type GradScaler interface {
	// GradScale returns the factor for the step about to run.
	GradScale() float32
}

// LocalUpdate is the Update of strategies that run the optimizer on every
// worker; embed it in a Strategy.
type LocalUpdate struct{}

// Update applies opt to params.
func (LocalUpdate) Update(_ context.Context, _ int64, opt optim.Optimizer, params, grads []float32) error {
	opt.Step(params, grads)
	return nil
}

package train

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/shoal-dl/shoal/autograd"
	"github.com/shoal-dl/shoal/collective"
	"github.com/shoal-dl/shoal/nn"
	"github.com/shoal-dl/shoal/optim"
)

// Bucket sizes the automatic plan chooses between: at least minAutoBucket
// bytes, so that the fixed cost of one allreduce stays small, and at most
// maxAutoBucket, so that the first bucket starts early in backward.
const (
	minAutoBucket = 64 << 10
	maxAutoBucket = 4 << 20
	autoBuckets   = 4 // the plan aims at this many buckets per model
)

// AutoBucketBytes returns the bucket size the allreduce strategy uses for a
// model of n parameters when none is given: about a quarter of the gradient
// arena, within [64 KiB, 4 MiB]. Every rank computes the same size.
func AutoBucketBytes(n int) int {
	return min(max(4*n/autoBuckets, minAutoBucket), maxAutoBucket)
}

// gradBucket is a contiguous range [lo, hi) of the gradient arena, reduced
// by one allreduce.
type gradBucket struct {
	lo, hi  int
	params  int // parameters whose gradients it holds
	pending int // of them, not yet ready in this step
	handle  *collective.Handle
	start   time.Time
	done    time.Time
}

// planGradBuckets groups the model's parameters into contiguous arena
// ranges of about bucketBytes, starting from the end of the arena: backward
// finishes the last layer's gradients first, so bucket 0 (the arena's end)
// becomes ready first. It returns the buckets and, per parameter, the index
// of its bucket.
func planGradBuckets(params []*nn.Param, bucketBytes int) ([]gradBucket, []int) {
	limit := max(1, bucketBytes/4)
	var bs []gradBucket
	of := make([]int, len(params))
	for i := len(params) - 1; i >= 0; i-- {
		p := params[i]
		size := len(p.Grad.Data)
		if n := len(bs); n > 0 && bs[n-1].hi-bs[n-1].lo+size <= limit {
			bs[n-1].lo = p.Offset
			bs[n-1].params++
			of[i] = n - 1
			continue
		}
		// A parameter that does not fit starts a new bucket (one larger
		// than the limit gets a bucket of its own).
		bs = append(bs, gradBucket{lo: p.Offset, hi: p.Offset + size, params: 1})
		of[i] = len(bs) - 1
	}
	return bs, of
}

// AllReduceOptions tune the allreduce strategy.
type AllReduceOptions struct {
	// BucketBytes is the size of a gradient bucket; 0 picks
	// AutoBucketBytes. Every rank must use the same value.
	BucketBytes int
	// OnStep, when set, receives the timing of every step.
	OnStep func(StepTiming)
	// Timeline, when set, records forward/backward, each bucket's
	// communication and the optimizer of every step.
	Timeline *Timeline
}

// AllReduce is the synchronous data-parallel strategy (as PyTorch DDP and
// Caffe2 do it): every worker computes gradients on its own batch; the
// gradient arena is split into buckets in reverse order of use, and each
// bucket's allreduce (mean over workers) starts from the gradient-ready
// hook as soon as backward has finished it, while backward continues on
// the layers before. The optimizer waits for every bucket, so every worker
// applies the same averaged gradient to the same parameters.
type AllReduce struct {
	LocalUpdate
	comm    *collective.Communicator
	model   *nn.Model
	opts    AllReduceOptions
	buckets []gradBucket
	// bucketOf maps a parameter's variable to its bucket; built once.
	bucketOf map[*autograd.Var]int
	next     int // the first bucket not yet started in this step

	stepStart, backwardEnd time.Time
	timing                 StepTiming
}

// NewAllReduce returns the allreduce strategy for model over comm. It
// broadcasts rank 0's parameters (and buffers such as running statistics)
// to every rank first, so all ranks start from the same weights.
func NewAllReduce(ctx context.Context, comm *collective.Communicator, model *nn.Model, opts AllReduceOptions) (*AllReduce, error) {
	if comm == nil || model == nil {
		return nil, errors.New("train: NewAllReduce: nil communicator or model")
	}
	if opts.BucketBytes < 0 {
		return nil, fmt.Errorf("train: bucket size %d bytes must be >= 0 (0 = automatic)", opts.BucketBytes)
	}
	if opts.BucketBytes == 0 {
		opts.BucketBytes = AutoBucketBytes(model.NumParams())
	}
	if err := comm.Broadcast(ctx, model.Values(), 0); err != nil {
		return nil, fmt.Errorf("train: broadcasting initial parameters from rank 0: %w", err)
	}
	if b := model.BufferValues(); len(b) > 0 {
		if err := comm.Broadcast(ctx, b, 0); err != nil {
			return nil, fmt.Errorf("train: broadcasting buffers from rank 0: %w", err)
		}
	}
	a := &AllReduce{comm: comm, model: model, opts: opts, bucketOf: make(map[*autograd.Var]int, len(model.Params))}
	var of []int
	a.buckets, of = planGradBuckets(model.Params, opts.BucketBytes)
	for i, p := range model.Params {
		a.bucketOf[p.Var] = of[i]
	}
	return a, nil
}

// Buckets returns the arena ranges [lo, hi) of the buckets in the order
// their allreduces start.
func (a *AllReduce) Buckets() [][2]int {
	out := make([][2]int, len(a.buckets))
	for i, b := range a.buckets {
		out[i] = [2]int{b.lo, b.hi}
	}
	return out
}

// BucketBytes returns the bucket size in use.
func (a *AllReduce) BucketBytes() int { return a.opts.BucketBytes }

// Timing returns the timing of the last step.
func (a *AllReduce) Timing() StepTiming { return a.timing }

// BeginStep resets the buckets' counters.
func (a *AllReduce) BeginStep(_ context.Context, step int64, _ []float32) error {
	for i := range a.buckets {
		b := &a.buckets[i]
		b.pending, b.handle = b.params, nil
		b.start, b.done = time.Time{}, time.Time{}
	}
	a.next = 0
	a.stepStart = time.Now()
	a.timing = StepTiming{Step: step, Rank: a.comm.Rank()}
	return nil
}

// GradReady counts p's gradient as final and starts the allreduce of every
// bucket that is complete, in bucket order (all ranks issue the same
// operations in the same order).
func (a *AllReduce) GradReady(ctx context.Context, p *autograd.Var) {
	k, ok := a.bucketOf[p]
	if !ok {
		return
	}
	a.buckets[k].pending--
	a.pollDone()
	grads := a.model.Grads()
	for a.next < len(a.buckets) && a.buckets[a.next].pending == 0 {
		b := &a.buckets[a.next]
		b.start = time.Now()
		b.handle = a.comm.AllReduceAsync(ctx, grads[b.lo:b.hi], collective.Mean)
		a.next++
	}
}

// pollDone notes the end time of buckets whose allreduce has finished.
func (a *AllReduce) pollDone() {
	for i := range a.next {
		b := &a.buckets[i]
		if b.done.IsZero() {
			select {
			case <-b.handle.Done():
				b.done = time.Now()
			default:
				return
			}
		}
	}
}

// ExchangeGrads starts the buckets not started yet (parameters that got no
// gradient in this step) and waits for every bucket.
func (a *AllReduce) ExchangeGrads(ctx context.Context, grads []float32) error {
	a.backwardEnd = time.Now()
	a.pollDone()
	for ; a.next < len(a.buckets); a.next++ {
		b := &a.buckets[a.next]
		b.start = time.Now()
		b.handle = a.comm.AllReduceAsync(ctx, grads[b.lo:b.hi], collective.Mean)
	}
	var first error
	for i := range a.buckets {
		b := &a.buckets[i]
		if err := b.handle.Wait(); err != nil && first == nil {
			first = fmt.Errorf("bucket %d of %d (elements %d..%d): %w", i+1, len(a.buckets), b.lo, b.hi, err)
		}
		if b.done.IsZero() {
			b.done = time.Now()
		}
	}
	end := time.Now()
	t := &a.timing
	t.Compute = a.backwardEnd.Sub(a.stepStart).Seconds()
	t.Wait = end.Sub(a.backwardEnd).Seconds()
	t.Comm = end.Sub(a.buckets[0].start).Seconds()
	t.Buckets = len(a.buckets)
	if t.Comm > 0 {
		t.Overlap = min(1, max(0, 1-t.Wait/t.Comm))
	}
	return first
}

// Update runs the local optimizer and records its time.
func (a *AllReduce) Update(ctx context.Context, step int64, opt optim.Optimizer, params, grads []float32) error {
	start := time.Now()
	opt.Step(params, grads)
	a.timing.Optimizer = time.Since(start).Seconds()
	return nil
}

// EndStep reports the step's timing.
func (a *AllReduce) EndStep(_ context.Context, _ int64, _ []float32) error {
	a.timing.Compute += a.timing.Optimizer
	if tl := a.opts.Timeline; tl != nil {
		rank := a.comm.Rank()
		tl.Span(rank, 0, "forward+backward", a.stepStart, a.backwardEnd)
		for i, b := range a.buckets {
			tl.Span(rank, 1, fmt.Sprintf("allreduce bucket %d", i), b.start, b.done)
		}
		optStart := time.Now().Add(-time.Duration(a.timing.Optimizer * float64(time.Second)))
		tl.Span(rank, 0, "optimizer", optStart, time.Now())
	}
	if a.opts.OnStep != nil {
		a.opts.OnStep(a.timing)
	}
	return nil
}

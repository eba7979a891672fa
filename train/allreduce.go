package train

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/shoal-dl/shoal/autograd"
	"github.com/shoal-dl/shoal/collective"
	"github.com/shoal-dl/shoal/nn"
	"github.com/shoal-dl/shoal/optim"
)

// Bucket sizes the automatic plan chooses between: at least minAutoBucket
// bytes, so that the fixed cost of one allreduce stays small, and at most
// maxAutoBucket, so that a large layer is reduced in several operations
// that the optimizer does not all wait for at once.
const (
	minAutoBucket = 256 << 10
	maxAutoBucket = 1 << 20
	autoBuckets   = 8 // the plan aims at this many buckets per model
	// firstBucketDivisor makes the first bucket (the last layers, whose
	// gradients are ready first) at most this fraction of the others, so
	// that communication starts early in backward.
	firstBucketDivisor = 4
)

// AutoBucketBytes returns the bucket size the allreduce strategy uses for a
// model of n parameters when none is given: about an eighth of the
// gradient arena, within [256 KiB, 1 MiB]. Every rank computes the same
// size.
func AutoBucketBytes(n int) int {
	return min(max(4*n/autoBuckets, minAutoBucket), maxAutoBucket)
}

// gradBucket is a contiguous range [lo, hi) of the gradient arena, reduced
// by one allreduce.
type gradBucket struct {
	lo, hi  int
	params  int                // parameters whose gradients overlap it
	pending int                // of them, not yet ready in this step
	handle  *collective.Handle // nil when the allreduce ran synchronously
	err     error              // of a synchronous allreduce
	start   time.Time
	done    time.Time
}

// paramGroup is a run of adjacent parameters of one layer: their
// gradients become final together (one backward operation computes them),
// so a bucket boundary between them would only delay the first part.
type paramGroup struct {
	first, last int // indices into the model's parameters, inclusive
	lo, hi      int // the arena range they cover
}

// layerOf returns the layer index a parameter's name starts with ("3."
// for the fourth layer), or -1-i for an unnamed parameter i, which then
// forms a group of its own.
func layerOf(p *nn.Param, i int) int {
	name := p.Name
	n := 0
	for k := 0; k < len(name); k++ {
		c := name[k]
		if c == '.' && k > 0 {
			return n
		}
		if c < '0' || c > '9' || n > 1<<20 {
			break
		}
		n = n*10 + int(c-'0')
	}
	return -1 - i
}

// groupParams splits params (laid out in arena order) into runs of the
// same layer.
func groupParams(params []*nn.Param) []paramGroup {
	var gs []paramGroup
	for i, p := range params {
		lo, hi := p.Offset, p.Offset+len(p.Grad.Data)
		if n := len(gs); n > 0 && layerOf(params[gs[n-1].last], gs[n-1].last) == layerOf(p, i) && gs[n-1].hi == lo {
			gs[n-1].last, gs[n-1].hi = i, hi
			continue
		}
		gs = append(gs, paramGroup{first: i, last: i, lo: lo, hi: hi})
	}
	return gs
}

// planGradBuckets lays buckets over the gradient arena from its end, since
// backward finishes the last layer's gradients first: bucket 0 becomes
// ready first. Parameters of one layer stay together (their gradients are
// ready at the same moment), and a layer is not added to a bucket it would
// push past the limit. A layer larger than the limit is a bucket of its
// own, never cut: its parts would all be ready at once, and since the
// communicator runs operations one at a time, k parts cost k operations'
// fixed costs for nothing (a 2-rank MLP step waited 0.75 ms for the first
// layer's 800 KB in four buckets, 0.3 ms for it in one); the collective
// pipelines a large buffer in segments by itself. The first bucket's limit
// is a quarter of bucketBytes, so that communication starts while the
// earlier layers are still in backward. It returns the buckets and, per
// parameter, the indices of the buckets its gradient overlaps.
func planGradBuckets(params []*nn.Param, bucketBytes int) ([]gradBucket, [][]int) {
	limit := max(1, bucketBytes/4)
	firstLimit := max(1, limit/firstBucketDivisor)
	var bs []gradBucket
	groups := groupParams(params)
	for g := len(groups) - 1; g >= 0; g-- {
		gr := groups[g]
		size := gr.hi - gr.lo
		lim := limit
		if len(bs) <= 1 {
			lim = firstLimit // bucket 0 is open or about to be
		}
		if n := len(bs); n > 0 && bs[n-1].hi-bs[n-1].lo+size <= lim {
			bs[n-1].lo = gr.lo
			continue
		}
		bs = append(bs, gradBucket{lo: gr.lo, hi: gr.hi})
	}
	of := make([][]int, len(params))
	for i, p := range params {
		lo, hi := p.Offset, p.Offset+len(p.Grad.Data)
		for k := range bs {
			if bs[k].lo < hi && lo < bs[k].hi {
				of[i] = append(of[i], k)
				bs[k].params++
			}
		}
	}
	return bs, of
}

// AllReduceOptions tune the allreduce strategy.
type AllReduceOptions struct {
	// BucketBytes is the size of a gradient bucket; 0 picks
	// AutoBucketBytes. Every rank must use the same value.
	BucketBytes int
	// OneBucket reduces the whole gradient arena in one operation when
	// backward ends, on the calling goroutine, instead of buckets started
	// during backward. Use it when the host has no core to spare for
	// communication beside backward (one single-threaded worker per
	// core): the early buckets then cannot progress until backward ends,
	// and only add per-operation costs (MLP, 2 workers on 2 cores:
	// exposed wait 0.34-0.50 ms per step in one operation, 0.60-0.64 ms
	// in three buckets). Every rank must use the same value; it overrides
	// BucketBytes.
	OneBucket bool
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
	// bucketsOf maps a parameter's variable to the buckets its gradient
	// overlaps; built once.
	bucketsOf map[*autograd.Var][]int
	next      int // the first bucket not yet started in this step
	// weight, when weighted, is this rank's share of the global batch: the
	// factor backward multiplies its gradients by (GradScale) before they
	// are summed over ranks (workers with batches of different sizes).
	weight   float32
	weighted bool
	// private is the model's own gradient arena while its gradients live
	// in a buffer shared with the other ranks, nil otherwise.
	private []float32

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
	if opts.OneBucket {
		// Limits of a bucket and of the first one above the arena size.
		opts.BucketBytes = 16 * max(1, model.NumParams())
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
	a := &AllReduce{comm: comm, model: model, opts: opts, bucketsOf: make(map[*autograd.Var][]int, len(model.Params))}
	// Where the ranks share memory, backward writes the gradients straight
	// into a buffer the others reach, and the allreduce reduces them in
	// place, without staging copies (MLP, 2 workers: a 940 KB allreduce
	// moves 1.8 MB per rank instead of 4.2 MB).
	shared, err := comm.SharedBuffer(ctx, model.NumParams())
	if err != nil {
		return nil, fmt.Errorf("train: placing gradients in shared memory: %w", err)
	}
	if shared != nil {
		a.private = model.Grads()
		if err := model.MoveGrads(shared); err != nil {
			return nil, err
		}
	}
	var of [][]int
	a.buckets, of = planGradBuckets(model.Params, opts.BucketBytes)
	for i, p := range model.Params {
		a.bucketsOf[p.Var] = of[i]
	}
	return a, nil
}

// Close gives the model its own gradient arena back, with the last
// gradients, if they were in memory shared with the other ranks. Call it
// before closing the Communicator, which releases that memory.
func (a *AllReduce) Close() error {
	if a.private == nil {
		return nil
	}
	err := a.model.MoveGrads(a.private)
	a.private = nil
	return err
}

// SetWeight makes the gradient this rank contributes count w times
// (w = this rank's batch size / the global batch) in a sum over ranks,
// instead of the plain mean: with --balance, workers take batches of
// different sizes, and the weighted sum is the gradient of the whole
// global batch, the one a single worker would compute. The weights of all
// ranks must add up to 1. A weight <= 0 returns to the mean. The exchange
// only sums: the Trainer multiplies the gradients by w in backward (see
// GradScaler); a loop of one's own must seed backward with GradScale too
// (autograd.Tape.BackwardScaled).
func (a *AllReduce) SetWeight(w float64) {
	a.weight, a.weighted = float32(w), w > 0
}

// GradScale is the weight of SetWeight, or 1 for the mean; see GradScaler.
func (a *AllReduce) GradScale() float32 {
	if a.weighted {
		return a.weight
	}
	return 1
}

// startBucket starts the allreduce of bucket k.
func (a *AllReduce) startBucket(ctx context.Context, grads []float32, k int) {
	b := &a.buckets[k]
	b.start = time.Now()
	g := grads[b.lo:b.hi]
	op := collective.Mean
	if a.weighted {
		op = collective.Sum // of gradients weighted in backward
	}
	if a.opts.OneBucket {
		// Nothing runs beside it: run it here, before the scheduler can
		// give this thread to another goroutine (the loader's) while the
		// other ranks wait.
		b.err = a.comm.AllReduce(ctx, g, op)
		b.done = time.Now()
		return
	}
	b.handle = a.comm.AllReduceAsync(ctx, g, op)
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
		b.pending, b.handle, b.err = b.params, nil, nil
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
	ks, ok := a.bucketsOf[p]
	if !ok || a.opts.OneBucket {
		// One bucket runs after backward, in ExchangeGrads: the hook of
		// the last gradient would start it only moments earlier, and on
		// a thread backward needs (no core is spare), where the step's
		// timing would count it as overlap.
		return
	}
	for _, k := range ks {
		a.buckets[k].pending--
	}
	a.pollDone()
	grads := a.model.Grads()
	for a.next < len(a.buckets) && a.buckets[a.next].pending == 0 {
		a.startBucket(ctx, grads, a.next)
		a.next++
	}
	if a.next > 0 && a.buckets[a.next-1].done.IsZero() {
		// Let the communication goroutines run now, on this thread, up to
		// their next wait: a goroutine just started or woken sits in this
		// thread's run queue, and when the machine's cores are all busy
		// with backward (one worker per core) the idle scheduler thread
		// that would take it may not get a core until backward ends (an
		// MLP's first bucket finished 0.8 ms late, with backward).
		runtime.Gosched()
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
		a.startBucket(ctx, grads, a.next)
	}
	var first error
	for i := range a.buckets {
		b := &a.buckets[i]
		err := b.err
		if b.handle != nil {
			err = b.handle.Wait()
		}
		if err != nil && first == nil {
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

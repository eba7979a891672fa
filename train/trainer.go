package train

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/shoal-dl/shoal/autograd"
	"github.com/shoal-dl/shoal/data"
	"github.com/shoal-dl/shoal/nn"
	"github.com/shoal-dl/shoal/optim"
	"github.com/shoal-dl/shoal/tensor"
)

// ErrNonFinite is matched (errors.Is) by the error a step returns when the
// loss or the gradient norm is NaN or infinite; the parameters are left as
// they were before the step.
var ErrNonFinite = errors.New("train: loss is not finite")

// Stateful is implemented by layers that carry state from one batch to the
// next (recurrent layers with stateful set). The trainer resets it at the
// start of every epoch and of every evaluation, so that state never leaks
// from training text into test text or from the end of an epoch into the
// start of the next.
type Stateful interface {
	ResetState()
}

// Options configure a Trainer. Optimizer is required; every other zero
// field has a usable default.
type Options struct {
	// Optimizer updates the model's parameter arena; it must have been made
	// for model.NumParams() elements.
	Optimizer optim.Optimizer
	// Schedule gives the learning rate of every step; nil keeps the
	// optimizer's learning rate throughout.
	Schedule optim.Schedule
	// Loss is minimised; nil means nn.SoftmaxCrossEntropy.
	Loss nn.Loss
	// ClipNorm, when > 0, scales the gradient so that its global L2 norm is
	// at most ClipNorm before every optimizer step.
	ClipNorm float64
	// BPTT, when > 0, cuts sequence batches [N, T, ...] with T > BPTT into
	// chunks of BPTT time steps, each its own step (forward, backward,
	// update); stateful layers carry their state across the chunks
	// (truncated backpropagation through time).
	BPTT int
	// Seed seeds dropout: step s draws its masks from (Seed, s), so a run is
	// reproducible and a resumed run draws the same masks.
	Seed uint64
	// ExchangeGrads, when set, runs after backward and before clipping with
	// the model's gradient arena; distributed strategies average gradients
	// across workers here. An error ends the step without an update.
	ExchangeGrads func(ctx context.Context, grads []float32) error
	// Strategy, when set, takes part in every step of a distributed run
	// (see Strategy); it runs after ExchangeGrads and replaces the local
	// optimizer step with its Update.
	Strategy Strategy
	// ProgressEvery is how many steps pass between two Progress reports
	// within an epoch; 0 means 50. Every epoch ends with a report too.
	ProgressEvery int
	// Progress, when set, receives reports while Fit runs, on Fit's
	// goroutine.
	Progress func(Progress)
}

// Trainer trains one model on one machine. It owns a reusable tape: every
// step resets it, so after the first step a step allocates (almost)
// nothing. A Trainer is used by one goroutine at a time.
type Trainer struct {
	model    *nn.Model
	opt      optim.Optimizer
	schedule optim.Schedule
	loss     nn.Loss
	opts     Options
	stateful []Stateful
	classify bool // the loss takes class labels; accuracy is argmax

	tape     *autograd.Tape
	evalTape *autograd.Tape
	step     int64

	// Buffers reused from step to step.
	labels []int32
	chunkX tensor.Tensor
	chunkY tensor.Tensor
}

// New returns a trainer for model. It checks that the optimizer covers the
// model's parameter arena.
func New(model *nn.Model, opts Options) (*Trainer, error) {
	if model == nil {
		return nil, errors.New("train: New: nil model")
	}
	if opts.Optimizer == nil {
		return nil, errors.New("train: New: Options.Optimizer is required")
	}
	if opts.ClipNorm < 0 || math.IsNaN(opts.ClipNorm) {
		return nil, fmt.Errorf("train: New: clip norm %g must be >= 0 (0 turns clipping off)", opts.ClipNorm)
	}
	if opts.BPTT < 0 {
		return nil, fmt.Errorf("train: New: bptt %d must be >= 0 (0 means whole sequences)", opts.BPTT)
	}
	if opts.ProgressEvery <= 0 {
		opts.ProgressEvery = 50
	}
	t := newEvaluator(model, opts.Loss)
	t.opt, t.schedule, t.opts = opts.Optimizer, opts.Schedule, opts
	t.tape = autograd.NewTape(autograd.Training)
	return t, nil
}

// newEvaluator returns a trainer that can only evaluate.
func newEvaluator(model *nn.Model, loss nn.Loss) *Trainer {
	t := &Trainer{model: model, loss: loss, evalTape: autograd.NewTape(autograd.NoGrad)}
	if t.loss == nil {
		t.loss = nn.SoftmaxCrossEntropy{}
	}
	_, t.classify = t.loss.(nn.SoftmaxCrossEntropy)
	for _, l := range model.Layers {
		if s, ok := l.(Stateful); ok {
			t.stateful = append(t.stateful, s)
		}
	}
	return t
}

// Evaluate computes the mean loss (nil loss means softmax cross-entropy)
// and the accuracy of model over loader's epoch 0 without gradients, as
// Trainer.Evaluate does; use it for a model loaded from disk.
func Evaluate(ctx context.Context, model *nn.Model, loss nn.Loss, loader *data.Loader) (Metrics, error) {
	if model == nil {
		return Metrics{}, errors.New("train: Evaluate: nil model")
	}
	return newEvaluator(model, loss).Evaluate(ctx, loader)
}

// Model returns the model being trained.
func (t *Trainer) Model() *nn.Model { return t.model }

// Steps returns the number of optimizer steps taken so far.
func (t *Trainer) Steps() int64 { return t.step }

// SetSteps sets the step counter (resuming from a checkpoint): the next
// step's learning rate and dropout masks follow from it.
func (t *Trainer) SetSteps(n int64) { t.step = n }

// ResetState resets every stateful layer of the model.
func (t *Trainer) ResetState() {
	for _, s := range t.stateful {
		s.ResetState()
	}
}

// StepStats are the numbers of one training or evaluation step.
type StepStats struct {
	// Loss is the mean loss over the step's predictions.
	Loss float64
	// Correct counts the predictions whose class is right (classification
	// losses only).
	Correct int
	// Predictions counts what Loss averages over: examples, or examples
	// times time steps for sequence outputs.
	Predictions int
	// Examples is the number of examples in the batch.
	Examples int
}

func (s *StepStats) add(o StepStats) {
	s.Loss += o.Loss * float64(o.Predictions)
	s.Correct += o.Correct
	s.Predictions += o.Predictions
	s.Examples += o.Examples
}

// Step trains on one batch: forward → loss → backward → gradient exchange
// → clipping → optimizer step, split into chunks of Options.BPTT time steps
// for long sequences. It returns the batch's statistics.
func (t *Trainer) Step(ctx context.Context, b *data.Batch) (StepStats, error) {
	x, y := b.X, b.Y
	if t.opts.BPTT <= 0 || x.Rank() < 2 || x.Shape[1] <= t.opts.BPTT {
		return t.stepOn(ctx, x, y, b.Labels, b.Len())
	}
	steps := x.Shape[1]
	var total StepStats
	for s := 0; s < steps; s += t.opts.BPTT {
		e := min(s+t.opts.BPTT, steps)
		cx := sliceTime(&t.chunkX, x, s, e)
		var cy *tensor.Tensor
		if y.Rank() >= 2 && y.Shape[1] == steps {
			cy = sliceTime(&t.chunkY, y, s, e)
		} else {
			cy = y
		}
		st, err := t.stepOn(ctx, cx, cy, b.Labels, b.Len())
		if err != nil {
			return total, err
		}
		total.add(st)
	}
	total.Loss /= float64(max(total.Predictions, 1))
	total.Examples = b.Len()
	return total, nil
}

// sliceTime copies time steps [s, e) of src [N, T, ...] into dst, reusing
// dst's storage, and returns dst shaped [N, e−s, ...].
func sliceTime(dst, src *tensor.Tensor, s, e int) *tensor.Tensor {
	n, steps := src.Shape[0], src.Shape[1]
	inner := src.Len() / max(n*steps, 1)
	c := e - s
	need := n * c * inner
	if cap(dst.Data) < need {
		dst.Data = make([]float32, need)
	}
	dst.Data = dst.Data[:need]
	dst.Shape = append(append(dst.Shape[:0], n, c), src.Shape[2:]...)
	for r := range n {
		copy(dst.Data[r*c*inner:(r+1)*c*inner], src.Data[(r*steps+s)*inner:(r*steps+e)*inner])
	}
	return dst
}

// classLabels returns the class labels of targets y for a classification
// loss: the batch's labels when the targets are scalars, else y's values
// (one class per time step) converted into a reused buffer.
func (t *Trainer) classLabels(y *tensor.Tensor, labels []int32) []int32 {
	if !t.classify {
		return nil
	}
	if labels != nil && len(labels) == y.Len() {
		return labels
	}
	if cap(t.labels) < y.Len() {
		t.labels = make([]int32, y.Len())
	}
	t.labels = t.labels[:y.Len()]
	for i, v := range y.Data {
		t.labels[i] = int32(v)
	}
	return t.labels
}

// checkLabels returns an error for a label outside the model's classes, so
// that bad data is reported instead of crashing a kernel.
func checkLabels(labels []int32, classes int) error {
	for i, l := range labels {
		if l < 0 || int(l) >= classes {
			return fmt.Errorf("train: label %d at position %d is outside the model's %d classes; make the last layer's units match the data's classes", l, i, classes)
		}
	}
	return nil
}

func (t *Trainer) stepOn(ctx context.Context, x, y *tensor.Tensor, labels []int32, examples int) (StepStats, error) {
	if err := ctx.Err(); err != nil {
		return StepStats{}, err
	}
	tape := t.tape
	tape.Reset()
	tape.Seed(t.opts.Seed, uint64(t.step))
	strategy := t.opts.Strategy
	if strategy != nil {
		if err := strategy.BeginStep(ctx, t.step, t.model.Values()); err != nil {
			return StepStats{}, fmt.Errorf("train: step %d: %w", t.step, err)
		}
		tape.OnGradReady(func(p *autograd.Var) { strategy.GradReady(ctx, p) })
	}
	labels = t.classLabels(y, labels)
	out := t.model.Forward(tape, autograd.Constant(x))
	if labels != nil {
		if err := checkLabels(labels, out.Value.Dim(-1)); err != nil {
			return StepStats{}, err
		}
		if rows := out.Value.Len() / out.Value.Dim(-1); rows != len(labels) {
			return StepStats{}, fmt.Errorf("train: the model gives %d predictions (output %v) for %d targets; make the model's output match the data's targets", rows, out.Value.Shape, len(labels))
		}
	} else if out.Value.Len() != y.Len() {
		return StepStats{}, fmt.Errorf("train: the model's output %v does not match the targets %v", out.Value.Shape, y.Shape)
	}
	loss := t.loss.Loss(tape, out, y, labels)
	st := t.stats(out.Value, y, labels, examples)
	st.Loss = float64(loss.Item())
	if math.IsNaN(st.Loss) || math.IsInf(st.Loss, 0) {
		return st, fmt.Errorf("%w at step %d (loss %v); lower the learning rate or set clip_norm", ErrNonFinite, t.step, st.Loss)
	}
	t.model.ZeroGrad()
	gradScale := float32(1)
	if s, ok := strategy.(GradScaler); ok {
		gradScale = s.GradScale()
	}
	tape.BackwardScaled(loss, gradScale)
	grads := t.model.Grads()
	if t.opts.ExchangeGrads != nil {
		if err := t.opts.ExchangeGrads(ctx, grads); err != nil {
			return st, fmt.Errorf("train: step %d: gradient exchange: %w", t.step, err)
		}
	}
	if strategy != nil {
		if err := strategy.ExchangeGrads(ctx, grads); err != nil {
			return st, fmt.Errorf("train: step %d: gradient exchange: %w", t.step, err)
		}
	}
	if t.opts.ClipNorm > 0 {
		if norm := optim.ClipGlobalNorm(grads, t.opts.ClipNorm); math.IsNaN(norm) || math.IsInf(norm, 0) {
			return st, fmt.Errorf("%w at step %d (gradient norm %v); lower the learning rate", ErrNonFinite, t.step, norm)
		}
	}
	if t.schedule != nil {
		t.opt.SetLR(t.schedule.LR(t.step))
	}
	if strategy == nil {
		t.opt.Step(t.model.Values(), grads)
	} else {
		if err := strategy.Update(ctx, t.step, t.opt, t.model.Values(), grads); err != nil {
			return st, fmt.Errorf("train: step %d: update: %w", t.step, err)
		}
		if err := strategy.EndStep(ctx, t.step, t.model.Values()); err != nil {
			return st, fmt.Errorf("train: step %d: %w", t.step, err)
		}
	}
	t.step++
	return st, nil
}

// stats counts the right predictions of out against the targets.
func (t *Trainer) stats(out, y *tensor.Tensor, labels []int32, examples int) StepStats {
	st := StepStats{Examples: examples}
	if labels != nil {
		st.Predictions = len(labels)
		st.Correct = countCorrect(out, labels)
		return st
	}
	st.Predictions = out.Len()
	if _, ok := t.loss.(nn.BinaryCrossEntropy); ok {
		// Logits: class 1 where the logit is positive.
		for i, v := range out.Data {
			if (v > 0) == (y.Data[i] > 0.5) {
				st.Correct++
			}
		}
	}
	return st
}

// countCorrect returns how many rows of out [..., C] have their largest
// value at the label's index (the first one on ties).
func countCorrect(out *tensor.Tensor, labels []int32) int {
	c := out.Dim(-1)
	correct := 0
	for r, l := range labels {
		if argmax(out.Data[r*c:(r+1)*c]) == int(l) {
			correct++
		}
	}
	return correct
}

func argmax(row []float32) int {
	best := 0
	for i, v := range row {
		if v > row[best] {
			best = i
		}
	}
	return best
}

// Metrics summarise a pass over a data set.
type Metrics struct {
	// Loss is the mean loss per prediction.
	Loss float64 `json:"loss"`
	// Accuracy is the fraction of right predictions (classification).
	Accuracy float64 `json:"accuracy"`
	// Examples is the number of examples seen.
	Examples int `json:"examples"`
	// Seconds is the wall time of the pass.
	Seconds float64 `json:"seconds"`
}

func metricsOf(s StepStats, d time.Duration) Metrics {
	m := Metrics{Examples: s.Examples, Seconds: d.Seconds()}
	if s.Predictions > 0 {
		m.Loss = s.Loss / float64(s.Predictions)
		m.Accuracy = float64(s.Correct) / float64(s.Predictions)
	}
	return m
}

// Evaluate runs the model without gradients over every batch of loader's
// epoch 0 and returns the mean loss and the accuracy. Stateful layers are
// reset before and after, so evaluation neither sees nor disturbs training
// state.
func (t *Trainer) Evaluate(ctx context.Context, loader *data.Loader) (Metrics, error) {
	start := time.Now()
	t.ResetState()
	defer t.ResetState()
	var total StepStats
	for b, err := range loader.Batches(ctx, 0) {
		if err != nil {
			return Metrics{}, fmt.Errorf("train: evaluate: %w", err)
		}
		st, err := t.evalBatch(b)
		if err != nil {
			return Metrics{}, err
		}
		total.add(st)
	}
	return metricsOf(total, time.Since(start)), nil
}

// evalBatch computes the loss and right predictions of one batch.
func (t *Trainer) evalBatch(b *data.Batch) (StepStats, error) {
	tape := t.evalTape
	tape.Reset()
	labels := t.classLabels(b.Y, b.Labels)
	out := t.model.Forward(tape, autograd.Constant(b.X))
	if labels != nil {
		if err := checkLabels(labels, out.Value.Dim(-1)); err != nil {
			return StepStats{}, err
		}
		if rows := out.Value.Len() / out.Value.Dim(-1); rows != len(labels) {
			return StepStats{}, fmt.Errorf("train: the model gives %d predictions (output %v) for %d targets; make the model's output match the data's targets", rows, out.Value.Shape, len(labels))
		}
	} else if out.Value.Len() != b.Y.Len() {
		return StepStats{}, fmt.Errorf("train: the model's output %v does not match the targets %v", out.Value.Shape, b.Y.Shape)
	}
	loss := t.loss.Loss(tape, out, b.Y, labels)
	st := t.stats(out.Value, b.Y, labels, b.Len())
	st.Loss = float64(loss.Item())
	return st, nil
}

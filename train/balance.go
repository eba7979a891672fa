package train

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/shoal-dl/shoal/collective"
	"github.com/shoal-dl/shoal/data"
	"github.com/shoal-dl/shoal/nn"
	"github.com/shoal-dl/shoal/optim"
)

// BalanceBatches splits a global batch of global examples among workers in
// proportion to their throughputs (examples per second), so that a
// synchronous step takes about as long on every worker. Every worker gets
// at least one example; the rounding goes to the largest remainders (ties
// to the lower rank), so every rank computes the same split from the same
// speeds. Speeds that are not all positive and finite give the even split.
func BalanceBatches(global int, speeds []float64) ([]int, error) {
	n := len(speeds)
	if n == 0 || global < n {
		return nil, fmt.Errorf("train: cannot split a global batch of %d among %d workers; each needs at least one example", global, n)
	}
	total := 0.0
	for _, s := range speeds {
		if !(s > 0) || math.IsInf(s, 0) {
			total = 0
			break
		}
		total += s
	}
	shares := make([]float64, n)
	for r, s := range speeds {
		if total > 0 {
			shares[r] = s / total * float64(global)
		} else {
			shares[r] = float64(global) / float64(n)
		}
	}
	// One example each first, then the rest in proportion to what each
	// share asks beyond it.
	sizes := make([]int, n)
	left := global
	for r, sh := range shares {
		sizes[r] = max(1, int(math.Floor(sh)))
		left -= sizes[r]
	}
	order := make([]int, n)
	for r := range order {
		order[r] = r
	}
	// Largest remainder first when examples are left; when the minimum of
	// one took too many, the largest sizes give back first.
	sort.SliceStable(order, func(a, b int) bool {
		ra, rb := shares[order[a]]-float64(sizes[order[a]]), shares[order[b]]-float64(sizes[order[b]])
		return ra > rb
	})
	for i := 0; left > 0; i = (i + 1) % n {
		sizes[order[i]]++
		left--
	}
	for left < 0 {
		big := 0
		for r := range sizes {
			if sizes[r] > sizes[big] {
				big = r
			}
		}
		sizes[big]--
		left++
	}
	return sizes, nil
}

// SplitTime returns how long a synchronous step takes when worker r takes
// sizes[r] examples and its step costs fixed[r] + b·perExample[r]
// seconds: as long as the slowest worker's.
func SplitTime(sizes []int, fixed, perExample []float64) float64 {
	t := 0.0
	for r, b := range sizes {
		t = max(t, fixed[r]+float64(b)*perExample[r])
	}
	return t
}

// BalanceBatchesByCost splits a global batch among workers whose step
// takes fixed[r] + b·perExample[r] seconds for a batch of b (the fixed part
// is the optimizer and other per-step work that does not grow with the
// batch), so that every worker's step takes the same time T:
// b[r] = (T − fixed[r]) / perExample[r], with the b[r] adding up to global.
// A split by speed alone would give a slow worker too few examples when
// the fixed part is large. Rounding is BalanceBatches'; costs that are not
// positive and finite give the even split.
func BalanceBatchesByCost(global int, fixed, perExample []float64) ([]int, error) {
	n := len(perExample)
	if len(fixed) != n {
		return nil, fmt.Errorf("train: %d fixed costs for %d workers", len(fixed), n)
	}
	inv, offset := 0.0, 0.0
	for r, c := range perExample {
		if !(c > 0) || math.IsInf(c, 0) || !(fixed[r] >= 0) || math.IsInf(fixed[r], 0) {
			return BalanceBatches(global, make([]float64, n))
		}
		inv += 1 / c
		offset += fixed[r] / c
	}
	t := (float64(global) + offset) / inv
	shares := make([]float64, n)
	for r, c := range perExample {
		// A worker whose fixed cost alone exceeds T still gets a little.
		shares[r] = max((t-fixed[r])/c, 0.5)
	}
	return BalanceBatches(global, shares)
}

// ExchangeStepCosts gives every rank of comm the step costs every rank
// measured (see BalanceBatchesByCost): it returns them indexed by rank,
// the same bits on every rank.
func ExchangeStepCosts(ctx context.Context, comm *collective.Communicator, fixed, perExample float64) (fixeds, perExamples []float64, err error) {
	n := comm.Size()
	buf := make([]float32, 2*n)
	buf[comm.Rank()], buf[n+comm.Rank()] = float32(fixed), float32(perExample)
	if err := comm.AllReduce(ctx, buf, collective.Sum); err != nil {
		return nil, nil, fmt.Errorf("train: exchanging worker step costs: %w", err)
	}
	fixeds, perExamples = make([]float64, n), make([]float64, n)
	for r := range n {
		fixeds[r], perExamples[r] = float64(buf[r]), float64(buf[n+r])
	}
	return fixeds, perExamples, nil
}

// StepCost models one worker's computation in a step of b examples as
// Fixed + b·PerExample seconds: the fixed part is the work that does not
// grow with the batch (clearing gradients, per-layer overheads).
type StepCost struct {
	Fixed, PerExample float64
}

// Speed returns the examples per second that c gives with batches of b.
func (c StepCost) Speed(b int) float64 {
	return float64(b) / (c.Fixed + float64(b)*c.PerExample)
}

// String formats c in milliseconds, as "F ms + P ms/example".
func (c StepCost) String() string {
	return fmt.Sprintf("%.3g ms + %.3g ms/example", 1e3*c.Fixed, 1e3*c.PerExample)
}

// Refit returns c with PerExample changed so that the model passes
// through an observed step of b examples that took seconds, keeping the
// fixed part where it leaves a positive slope and dropping it otherwise.
// Balancing measures Fixed once, before the first epoch, and refits the
// slope to the steps it times during training.
func (c StepCost) Refit(b int, seconds float64) StepCost {
	if b <= 0 || !(seconds > 0) {
		return c
	}
	if p := (seconds - c.Fixed) / float64(b); p > 0 {
		return StepCost{Fixed: c.Fixed, PerExample: p}
	}
	return StepCost{PerExample: seconds / float64(b)}
}

// MeasureStepCost times training steps of a scratch copy of a model on
// batches from ds of two sizes, half and one and a half times batch, taken
// in turn (one warm-up step of each first), until at least five steps of
// each size and about d in all have run; it fits a StepCost through the
// median step time of each size. Alternating the sizes makes whatever else
// slows the machine meanwhile (another worker still loading its data)
// weigh on both alike, so that it scales the cost instead of tilting it.
// build returns a fresh model. Balancing uses it before the first epoch,
// when no step of the real run has been timed yet: a split by speed at one
// batch size alone gives a slow worker too many examples when the fixed
// part is large.
func MeasureStepCost(ctx context.Context, build func() (*nn.Model, error), loss nn.Loss, ds data.Dataset, batch int, d time.Duration) (StepCost, error) {
	model, err := build()
	if err != nil {
		return StepCost{}, err
	}
	opt, err := optim.New("sgd", model.NumParams(), optim.Config{LR: 1e-6, Threads: 1})
	if err != nil {
		return StepCost{}, err
	}
	tr, err := New(model, Options{Optimizer: opt, Loss: loss})
	if err != nil {
		return StepCost{}, err
	}
	// One batch of each size, stepped on again and again: a step's time
	// does not depend on the values in it.
	var batches [2]*data.Batch
	for i, b := range [2]int{max(1, batch/2), max(2, batch*3/2)} {
		loader, err := data.NewLoader(ds, data.LoaderOptions{BatchSize: b, DropLast: true})
		if err != nil {
			return StepCost{}, fmt.Errorf("train: measuring step cost: %w", err)
		}
		// Without prefetch, a batch kept past the end of the loop is not
		// overwritten.
		for bt, err := range loader.Batches(ctx, 0) {
			if err != nil {
				return StepCost{}, fmt.Errorf("train: measuring step cost: %w", err)
			}
			batches[i] = bt
			break
		}
		if batches[i] == nil {
			return StepCost{}, fmt.Errorf("train: measuring step cost: %d examples do not fill a batch of %d", ds.Len(), b)
		}
	}
	var xs, ys []float64 // examples and seconds of every timed step
	var spent time.Duration
	for k := 0; ; k++ {
		b := batches[k%2]
		t0 := time.Now()
		if _, err := tr.Step(ctx, b); err != nil {
			return StepCost{}, fmt.Errorf("train: measuring step cost: %w", err)
		}
		if k < 2 {
			continue // warm-up, one step of each size
		}
		el := time.Since(t0)
		spent += el
		xs, ys = append(xs, float64(b.Len())), append(ys, el.Seconds())
		if len(xs) >= 10 && spent >= d {
			break
		}
	}
	xs, ys = mediansBySize(xs, ys)
	return fitStepCost(xs, ys), nil
}

// mediansBySize reduces the points (xs[i], ys[i]) to one per distinct x,
// at the median of its ys: one step slowed by the machine (a page fault,
// another process) then moves nothing.
func mediansBySize(xs, ys []float64) (mx, my []float64) {
	by := map[float64][]float64{}
	for i, x := range xs {
		by[x] = append(by[x], ys[i])
	}
	for _, x := range slices.Sorted(maps.Keys(by)) {
		v := by[x]
		slices.Sort(v)
		m := v[len(v)/2]
		if len(v)%2 == 0 {
			m = (v[len(v)/2-1] + v[len(v)/2]) / 2
		}
		mx, my = append(mx, x), append(my, m)
	}
	return mx, my
}

// fitStepCost fits seconds = Fixed + examples·PerExample to the points
// (xs[i], ys[i]) by least squares; when the fit is not a cost (a negative
// part, or all points at one size), it returns the mean time per example.
func fitStepCost(xs, ys []float64) StepCost {
	n := float64(len(xs))
	var sx, sy, sxx, sxy float64
	for i, x := range xs {
		sx += x
		sy += ys[i]
		sxx += x * x
		sxy += x * ys[i]
	}
	if sx == 0 {
		return StepCost{}
	}
	if den := n*sxx - sx*sx; den > 0 {
		p := (n*sxy - sx*sy) / den
		f := (sy - p*sx) / n
		if p > 0 && f >= 0 {
			return StepCost{Fixed: f, PerExample: p}
		}
	}
	return StepCost{PerExample: sy / sx}
}

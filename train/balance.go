package train

import (
	"context"
	"errors"
	"fmt"
	"math"
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

// MeasureThroughput times training steps of a scratch copy of a model:
// build returns a fresh model, and loader gives its batches. After one
// warm-up step it trains for about d (at least two steps) with plain SGD
// and returns examples per second. Balancing uses it before the first
// epoch, when no step of the real run has been timed yet.
func MeasureThroughput(ctx context.Context, build func() (*nn.Model, error), loss nn.Loss, loader *data.Loader, d time.Duration) (float64, error) {
	model, err := build()
	if err != nil {
		return 0, err
	}
	opt, err := optim.New("sgd", model.NumParams(), optim.Config{LR: 1e-6, Threads: 1})
	if err != nil {
		return 0, err
	}
	tr, err := New(model, Options{Optimizer: opt, Loss: loss})
	if err != nil {
		return 0, err
	}
	var start time.Time
	examples, steps := 0, 0
	for epoch := 0; ; epoch++ {
		seen := 0
		for b, err := range loader.Batches(ctx, epoch) {
			if err != nil {
				return 0, fmt.Errorf("train: measuring throughput: %w", err)
			}
			seen++
			if _, err := tr.Step(ctx, b); err != nil {
				return 0, fmt.Errorf("train: measuring throughput: %w", err)
			}
			if start.IsZero() { // the warm-up step
				start = time.Now()
				continue
			}
			examples += b.Len()
			steps++
			if el := time.Since(start); steps >= 2 && el >= d {
				return float64(examples) / el.Seconds(), nil
			}
		}
		if seen == 0 {
			return 0, errors.New("train: measuring throughput: the loader gives no batches")
		}
	}
}

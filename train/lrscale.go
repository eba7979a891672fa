package train

import (
	"github.com/shoal-dl/shoal/optim"
)

// WarmedUp wraps s, a schedule built around a learning rate scaled for a
// large global batch (optim.LinearScaling), in a linear warmup of steps
// steps that starts from the fraction start of it: Goyal et al. start at
// the single-worker rate, start = 1/world. steps <= 0 returns s.
func WarmedUp(s optim.Schedule, steps int64, start float64) optim.Schedule {
	if steps <= 0 {
		return s
	}
	return optim.LinearWarmup{Steps: steps, Start: min(max(start, 0), 1), Then: s}
}

// Scheduled returns opt with s applied at every Step: the learning rate of
// the optimizer's n-th step is s.LR(n). Parameter servers use it, since
// their optimizer runs outside any Trainer; in sync mode a server steps
// once per global step, in async and bounded-staleness modes once per
// push.
func Scheduled(opt optim.Optimizer, s optim.Schedule) optim.Optimizer {
	if s == nil {
		return opt
	}
	return &scheduledOptimizer{Optimizer: opt, schedule: s}
}

type scheduledOptimizer struct {
	optim.Optimizer
	schedule optim.Schedule
}

func (o *scheduledOptimizer) Step(params, grads []float32) {
	o.Optimizer.SetLR(o.schedule.LR(o.Optimizer.Steps()))
	o.Optimizer.Step(params, grads)
}

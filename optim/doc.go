// Package optim holds shoal's optimizers, gradient clipping and
// learning-rate schedules.
//
// # Arenas
//
// A model keeps its parameters in one contiguous []float32 arena and its
// gradients in another of the same length. An optimizer is built for a
// length n and updates such a pair in place:
//
//	opt, err := optim.NewAdamW(len(params), optim.Config{LR: 3e-4, WeightDecay: 0.01})
//	...
//	opt.Step(params, grads)
//
// Any equal-length range of the arenas works the same way: a parameter
// server that owns params[lo:hi] runs its own optimizer of length hi−lo
// over params[lo:hi] and grads[lo:hi] (and DecayMask[lo:hi] when there is a
// mask). Passing slices of another length is a programmer error and panics.
// An optimizer belongs to one goroutine: its methods must not be called
// concurrently.
//
// # Optimizers
//
// SGD (momentum, Nesterov), RMSProp, Adam and AdamW follow the update
// rules of their PyTorch namesakes; each type's documentation writes its
// rule out and lists the Config fields it reads. New builds one by name
// ("sgd", "rmsprop", "adam", "adamw") for specs and the command line.
//
// Config follows the EnsureDefaults/Validate pattern: zero fields take
// defaults (DefaultLR, DefaultRho, DefaultBeta1, ...), and Validate returns
// a *ConfigError naming the field (errors.Is(err, ErrInvalidConfig)), for
// example "optim: momentum -0.5 out of range [0, 1)". Constructors do both
// on a copy of the Config they are given.
//
// Weight decay is L2 regularisation added to the gradient
// (grad + WeightDecay·param) for SGD, RMSProp and Adam, as PyTorch's
// weight_decay; AdamW decouples it (param·(1 − LR·WeightDecay) before the
// Adam update). Config.DecayMask excludes elements, such as biases, from
// either kind of decay; it is kept as a list of ranges, so it costs nothing
// per element.
//
// # State and exact resume
//
// State returns the optimizer's state (momentum buffer, moments) as one
// flat arena that is the optimizer's own memory, in a layout each type
// documents; Steps returns the step count, which Adam's bias correction
// depends on. A checkpoint saves both; to resume, build an optimizer with
// the same Config and length, copy the saved values into State() and call
// SetSteps. The continuation is then bit-identical to an uninterrupted run.
// The learning rate is not part of the state: schedules recompute it from
// the step.
//
// # Parallelism and determinism
//
// Arenas of 64K elements or more are updated in chunks on plain goroutines,
// at most Config.Threads of them, each started and finished inside Step.
// Every element goes through the same arithmetic whatever the split, so the
// results are bit-identical for any thread count. Step allocates nothing in steady state.
//
// # Clipping
//
// ClipGlobalNorm scales a gradient arena in place when its L2 norm
// (accumulated in float64) exceeds a maximum, with PyTorch's
// clip_grad_norm_ rule, and returns the norm before clipping. When a
// gradient is sharded, each shard's SumSquares, added in a fixed order,
// gives the global norm, and ClipByNorm scales each shard by it.
//
// # Schedules
//
// A Schedule maps a step to a learning rate: Constant, StepDecay, Cosine
// and LinearWarmup (which wraps another). The training loop sets the rate
// before each step:
//
//	opt.SetLR(sched.LR(opt.Steps()))
//	opt.Step(params, grads)
//
// ParseSchedule reads the short form used by specs and the command line,
// such as "cosine:total=10000,min=1e-5,warmup=500", around a base rate;
// LinearScaling(base, world) gives the base rate of data-parallel training
// by the linear scaling rule (Goyal et al.).
package optim

package optim

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"strings"
)

// Optimizer updates a flat parameter arena from a gradient arena of the same
// length. Implementations keep their state (moments, step count) so that a
// checkpoint can save and restore it exactly.
type Optimizer interface {
	// Step applies one update to params from grads. Both must have the length
	// given to the constructor; any other length panics.
	Step(params, grads []float32)
	// SetLR sets the learning rate used by the next Step. A negative or NaN
	// rate panics.
	SetLR(lr float64)
	// LR returns the learning rate the next Step will use.
	LR() float64
	// State returns the optimizer state as one flat arena. It is the
	// optimizer's own memory (a view, not a copy): writing into it restores
	// a saved state. Each optimizer documents its layout.
	State() []float32
	// Steps returns how many Steps have been applied.
	Steps() int64
	// SetSteps restores the step count, for example from a checkpoint. A
	// negative count panics.
	SetSteps(n int64)
}

var (
	_ Optimizer = (*SGD)(nil)
	_ Optimizer = (*RMSProp)(nil)
	_ Optimizer = (*Adam)(nil)
	_ Optimizer = (*AdamW)(nil)
)

// Defaults that EnsureDefaults puts into zero fields of a Config.
const (
	DefaultLR    = 1e-3
	DefaultRho   = 0.99
	DefaultBeta1 = 0.9
	DefaultBeta2 = 0.999
	DefaultEps   = 1e-8
)

// Config configures every optimizer of this package; each reads only the
// fields it documents. A zero field means its default (see EnsureDefaults),
// so Config{LR: 0.1} is a valid configuration for any optimizer.
type Config struct {
	// LR is the initial learning rate (SetLR changes it later).
	// Zero means DefaultLR.
	LR float64
	// Momentum is the momentum factor of SGD and RMSProp, in [0, 1).
	Momentum float64
	// Nesterov selects Nesterov momentum for SGD; it needs Momentum > 0.
	Nesterov bool
	// Rho is RMSProp's smoothing constant for the mean square of the
	// gradient (PyTorch's alpha, Keras's rho), in (0, 1). Zero means
	// DefaultRho.
	Rho float64
	// Centered makes RMSProp divide by an estimate of the gradient's
	// variance instead of its mean square.
	Centered bool
	// Beta1 and Beta2 are Adam's decay rates for the first and second
	// moments, in (0, 1). Zero means DefaultBeta1 and DefaultBeta2 (so
	// Beta1 = 0, Adam without first-moment averaging, is not available).
	Beta1, Beta2 float64
	// Eps is added to the denominator of RMSProp and Adam updates; > 0.
	// Zero means DefaultEps.
	Eps float64
	// WeightDecay is added to the gradient as WeightDecay·param (L2
	// regularisation) by SGD, RMSProp and Adam; AdamW instead decays the
	// parameters directly (decoupled). Must be >= 0.
	WeightDecay float64
	// DecayMask, when not nil, has one entry per element: weight decay
	// applies only where it is true (biases and normalisation parameters
	// are usually left out). Its length must equal the optimizer's length.
	// The optimizer keeps the mask as ranges, so the slice is not retained.
	DecayMask []bool
	// Threads caps how many goroutines one Step may use on large arenas.
	// Zero means GOMAXPROCS at construction. Results do not depend on it.
	Threads int
}

// EnsureDefaults fills zero fields with their defaults and returns c.
func (c *Config) EnsureDefaults() *Config {
	if c.LR == 0 {
		c.LR = DefaultLR
	}
	if c.Rho == 0 {
		c.Rho = DefaultRho
	}
	if c.Beta1 == 0 {
		c.Beta1 = DefaultBeta1
	}
	if c.Beta2 == 0 {
		c.Beta2 = DefaultBeta2
	}
	if c.Eps == 0 {
		c.Eps = DefaultEps
	}
	if c.Threads == 0 {
		c.Threads = runtime.GOMAXPROCS(0)
	}
	return c
}

// ErrInvalidConfig is matched (errors.Is) by every error Validate returns.
var ErrInvalidConfig = errors.New("optim: invalid config")

// ConfigError reports one invalid Config field.
type ConfigError struct {
	Field string // the Config field, e.g. "Momentum"
	Msg   string // what is wrong, naming the value and the allowed range
}

func (e *ConfigError) Error() string { return "optim: " + e.Msg }

// Is reports whether target is ErrInvalidConfig.
func (e *ConfigError) Is(target error) bool { return target == ErrInvalidConfig }

func configErrorf(field, format string, args ...any) error {
	return &ConfigError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Validate checks c after EnsureDefaults; it returns a *ConfigError naming
// the first invalid field. Zero fields that EnsureDefaults would fill are
// reported as out of range, so call EnsureDefaults first.
func (c *Config) Validate() error {
	switch {
	case !(c.LR >= 0) || math.IsInf(c.LR, 0):
		return configErrorf("LR", "learning rate %g must be finite and >= 0", c.LR)
	case !inUnit(c.Momentum, true):
		return configErrorf("Momentum", "momentum %g out of range [0, 1)", c.Momentum)
	case c.Nesterov && c.Momentum == 0:
		return configErrorf("Nesterov", "nesterov momentum needs momentum > 0")
	case !inUnit(c.Rho, false):
		return configErrorf("Rho", "rho %g out of range (0, 1)", c.Rho)
	case !inUnit(c.Beta1, false):
		return configErrorf("Beta1", "beta1 %g out of range (0, 1)", c.Beta1)
	case !inUnit(c.Beta2, false):
		return configErrorf("Beta2", "beta2 %g out of range (0, 1)", c.Beta2)
	case !(c.Eps > 0) || math.IsInf(c.Eps, 0):
		return configErrorf("Eps", "eps %g must be finite and > 0", c.Eps)
	case !(c.WeightDecay >= 0) || math.IsInf(c.WeightDecay, 0):
		return configErrorf("WeightDecay", "weight decay %g must be finite and >= 0", c.WeightDecay)
	case c.Threads < 1:
		return configErrorf("Threads", "threads %d must be >= 1", c.Threads)
	}
	return nil
}

// inUnit reports whether x lies in [0, 1) (withZero) or (0, 1).
func inUnit(x float64, withZero bool) bool {
	if withZero {
		return x >= 0 && x < 1
	}
	return x > 0 && x < 1
}

// prepare copies cfg, fills defaults and validates it for an optimizer of
// length n.
func prepare(n int, cfg Config) (Config, error) {
	if n < 0 {
		return cfg, fmt.Errorf("optim: length %d must be >= 0", n)
	}
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return cfg, err
	}
	if cfg.DecayMask != nil && len(cfg.DecayMask) != n {
		return cfg, configErrorf("DecayMask", "decay mask has %d entries for %d parameters", len(cfg.DecayMask), n)
	}
	return cfg, nil
}

// ErrUnknownOptimizer is matched (errors.Is) by New's error for a name it
// does not know.
var ErrUnknownOptimizer = errors.New("optim: unknown optimizer")

var constructors = []struct {
	name string
	make func(n int, cfg Config) (Optimizer, error)
}{
	{"sgd", func(n int, cfg Config) (Optimizer, error) { return NewSGD(n, cfg) }},
	{"rmsprop", func(n int, cfg Config) (Optimizer, error) { return NewRMSProp(n, cfg) }},
	{"adam", func(n int, cfg Config) (Optimizer, error) { return NewAdam(n, cfg) }},
	{"adamw", func(n int, cfg Config) (Optimizer, error) { return NewAdamW(n, cfg) }},
}

// Names returns the names New accepts, in a fixed order.
func Names() []string {
	names := make([]string, len(constructors))
	for i, c := range constructors {
		names[i] = c.name
	}
	return names
}

// New returns the optimizer called name ("sgd", "rmsprop", "adam" or
// "adamw") for n parameters.
func New(name string, n int, cfg Config) (Optimizer, error) {
	for _, c := range constructors {
		if c.name == name {
			return c.make(n, cfg)
		}
	}
	return nil, fmt.Errorf("%w %q; valid names: %s", ErrUnknownOptimizer, name, strings.Join(Names(), ", "))
}

// base holds what every optimizer shares: length, learning rate, step
// count, decay mask and the chunked runner.
type base struct {
	n     int
	lr    float64
	steps int64
	wd    float64
	decay decaySpans
	run   *chunkRunner
}

func newBase(n int, cfg Config) base {
	return base{n: n, lr: cfg.LR, wd: cfg.WeightDecay, decay: newDecaySpans(cfg.DecayMask)}
}

func (b *base) setLR(lr float64) {
	if !(lr >= 0) || math.IsInf(lr, 0) {
		panic(fmt.Sprintf("optim: SetLR(%g): learning rate must be finite and >= 0", lr))
	}
	b.lr = lr
}

func (b *base) setSteps(n int64) {
	if n < 0 {
		panic(fmt.Sprintf("optim: SetSteps(%d): step count must be >= 0", n))
	}
	b.steps = n
}

func (b *base) checkLens(op string, params, grads []float32) {
	if len(params) != b.n || len(grads) != b.n {
		panic(fmt.Sprintf("optim: %s.Step: %d params and %d grads for an optimizer of length %d", op, len(params), len(grads), b.n))
	}
}

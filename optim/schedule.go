package optim

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Schedule gives the learning rate for a step (0-based: the step about to
// be taken, which is Optimizer.Steps()). Negative steps count as 0.
type Schedule interface {
	LR(step int64) float64
}

// Constant is a fixed learning rate.
type Constant float64

// LR returns c.
func (c Constant) LR(int64) float64 { return float64(c) }

// StepDecay multiplies Base by Gamma every Every steps:
// LR(step) = Base·Gamma^⌊step/Every⌋ (PyTorch's StepLR).
type StepDecay struct {
	Base  float64 // learning rate of steps [0, Every)
	Every int64   // steps between decays; <= 0 means never decay
	Gamma float64 // factor applied at each decay
}

// LR returns the decayed rate for step.
func (s StepDecay) LR(step int64) float64 {
	if s.Every <= 0 || step < s.Every {
		return s.Base
	}
	return s.Base * math.Pow(s.Gamma, float64(step/s.Every))
}

// Cosine anneals from Base to Min along half a cosine over Total steps and
// stays at Min afterwards:
// LR(step) = Min + (Base−Min)·(1 + cos(π·step/Total))/2 for step < Total
// (PyTorch's CosineAnnealingLR, without restarting).
type Cosine struct {
	Base  float64 // learning rate at step 0
	Min   float64 // floor reached at step Total
	Total int64   // length of the annealing; <= 0 means Min from the start
}

// LR returns the annealed rate for step.
func (c Cosine) LR(step int64) float64 {
	if step >= c.Total {
		return c.Min
	}
	if step <= 0 {
		return c.Base
	}
	return c.Min + (c.Base-c.Min)*(1+math.Cos(math.Pi*float64(step)/float64(c.Total)))/2
}

// LinearWarmup ramps the learning rate up linearly over its first Steps
// steps, then hands over to Then, whose clock starts after the warmup:
//
//	LR(step) = Then.LR(0)·(Start + (1−Start)·(step+1)/Steps)   for step < Steps
//	LR(step) = Then.LR(step − Steps)                            afterwards
//
// With Steps 4 and Start 0 the warmup factors are 0.25, 0.5, 0.75 and 1, so
// no step is wasted with a zero rate. Goyal et al. warm up from the
// single-worker rate to the rate scaled by LinearScaling: Start = 1/world.
type LinearWarmup struct {
	Steps int64    // length of the warmup; <= 0 means none
	Start float64  // fraction of Then.LR(0) the ramp starts from, in [0, 1]
	Then  Schedule // the schedule after the warmup
}

// LR returns the warmed-up rate for step.
func (w LinearWarmup) LR(step int64) float64 {
	step = max(step, 0)
	if step >= w.Steps {
		return w.Then.LR(step - max(w.Steps, 0))
	}
	f := w.Start + (1-w.Start)*float64(step+1)/float64(w.Steps)
	return w.Then.LR(0) * f
}

// LinearScaling returns base·world: the linear scaling rule of Goyal et al.
// for data-parallel training, where world workers each take a minibatch so
// the global batch is world times larger. A world below 1 panics.
func LinearScaling(base float64, world int) float64 {
	if world < 1 {
		panic(fmt.Sprintf("optim: LinearScaling: world %d must be >= 1", world))
	}
	return base * float64(world)
}

// ErrInvalidSchedule is matched (errors.Is) by every error ParseSchedule
// returns.
var ErrInvalidSchedule = errors.New("optim: invalid schedule")

// scheduleKinds lists the kinds ParseSchedule accepts, in the order its
// errors name them.
var scheduleKinds = []string{"constant", "step", "cosine"}

// ParseSchedule parses a schedule written as kind[:key=value,...] around
// the base learning rate base (the optimizer's configured LR, possibly from
// LinearScaling). The kinds and their keys:
//
//	constant                       base throughout
//	step:every=N[,gamma=G]         StepDecay; gamma defaults to 0.1
//	cosine:total=T[,min=M]         Cosine down to M (default 0) over T steps
//
// Every kind also takes warmup=W[,warmup_start=F], which wraps it in a
// LinearWarmup of W steps starting from the fraction F (default 0). For
// example "cosine:total=10000,min=1e-5,warmup=500".
func ParseSchedule(spec string, base float64) (Schedule, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w %q: %s", ErrInvalidSchedule, spec, fmt.Sprintf(format, args...))
	}
	if !(base >= 0) || math.IsInf(base, 0) {
		return nil, bad("base learning rate %g must be finite and >= 0", base)
	}
	kind, rest, _ := strings.Cut(strings.TrimSpace(spec), ":")
	allowed := map[string]bool{"warmup": true, "warmup_start": true}
	switch kind {
	case "constant":
	case "step":
		allowed["every"], allowed["gamma"] = true, true
	case "cosine":
		allowed["total"], allowed["min"] = true, true
	case "":
		return nil, bad("empty kind; want one of %s", strings.Join(scheduleKinds, ", "))
	default:
		return nil, bad("unknown kind %q; want one of %s", kind, strings.Join(scheduleKinds, ", "))
	}

	vals := map[string]string{}
	if rest != "" {
		for _, kv := range strings.Split(rest, ",") {
			k, v, ok := strings.Cut(kv, "=")
			k, v = strings.TrimSpace(k), strings.TrimSpace(v)
			switch {
			case !ok || k == "" || v == "":
				return nil, bad("%q is not key=value", kv)
			case !allowed[k]:
				return nil, bad("%s takes no key %q; keys: %s", kind, k, keyList(allowed))
			case vals[k] != "":
				return nil, bad("key %q given twice", k)
			}
			vals[k] = v
		}
	}
	intKey := func(k string, def int64, required bool) (int64, error) {
		v, ok := vals[k]
		if !ok {
			if required {
				return 0, bad("%s needs %s=N", kind, k)
			}
			return def, nil
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, bad("%s=%s is not a whole number", k, v)
		}
		return n, nil
	}
	floatKey := func(k string, def float64) (float64, error) {
		v, ok := vals[k]
		if !ok {
			return def, nil
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, bad("%s=%s is not a finite number", k, v)
		}
		return f, nil
	}

	var s Schedule
	switch kind {
	case "constant":
		s = Constant(base)
	case "step":
		every, err := intKey("every", 0, true)
		if err != nil {
			return nil, err
		}
		gamma, err := floatKey("gamma", 0.1)
		if err != nil {
			return nil, err
		}
		if every < 1 {
			return nil, bad("every=%d must be >= 1", every)
		}
		if !(gamma > 0 && gamma <= 1) {
			return nil, bad("gamma=%g out of range (0, 1]", gamma)
		}
		s = StepDecay{Base: base, Every: every, Gamma: gamma}
	case "cosine":
		total, err := intKey("total", 0, true)
		if err != nil {
			return nil, err
		}
		floor, err := floatKey("min", 0)
		if err != nil {
			return nil, err
		}
		if total < 1 {
			return nil, bad("total=%d must be >= 1", total)
		}
		if floor < 0 || floor > base {
			return nil, bad("min=%g out of range [0, %g] (the base learning rate)", floor, base)
		}
		s = Cosine{Base: base, Min: floor, Total: total}
	}

	warm, err := intKey("warmup", 0, false)
	if err != nil {
		return nil, err
	}
	start, err := floatKey("warmup_start", 0)
	if err != nil {
		return nil, err
	}
	if _, ok := vals["warmup_start"]; ok && warm == 0 {
		return nil, bad("warmup_start needs warmup=N")
	}
	if warm < 0 {
		return nil, bad("warmup=%d must be >= 0", warm)
	}
	if start < 0 || start > 1 {
		return nil, bad("warmup_start=%g out of range [0, 1]", start)
	}
	if warm > 0 {
		s = LinearWarmup{Steps: warm, Start: start, Then: s}
	}
	return s, nil
}

// keyList names the keys of allowed in a fixed order.
func keyList(allowed map[string]bool) string {
	var keys []string
	for _, k := range []string{"every", "gamma", "total", "min", "warmup", "warmup_start"} {
		if allowed[k] {
			keys = append(keys, k)
		}
	}
	return strings.Join(keys, ", ")
}

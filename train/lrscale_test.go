package train

import (
	"math"
	"testing"

	"github.com/shoal-dl/shoal/optim"
)

func TestWarmedUp(t *testing.T) {
	// Four workers, base rate 0.1 scaled to 0.4, warmed up over 4 steps
	// from the single-worker rate.
	s := WarmedUp(optim.Constant(optim.LinearScaling(0.1, 4)), 4, 0.25)
	for step, want := range []float64{0.175, 0.25, 0.325, 0.4, 0.4, 0.4} {
		if got := s.LR(int64(step)); math.Abs(got-want) > 1e-12 {
			t.Errorf("LR(%d) = %v; want %v", step, got, want)
		}
	}
	if got := WarmedUp(optim.Constant(0.3), 0, 0.5).LR(0); got != 0.3 {
		t.Errorf("without warmup LR(0) = %v; want 0.3", got)
	}
}

func TestScheduled(t *testing.T) {
	inner, err := optim.New("sgd", 1, optim.Config{LR: 1, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	opt := Scheduled(inner, optim.StepDecay{Base: 1, Every: 2, Gamma: 0.5})
	p, g := []float32{0}, []float32{1}
	// Steps 0, 1 at rate 1, steps 2, 3 at 0.5: p = -(1+1+0.5+0.5).
	for range 4 {
		opt.Step(p, g)
	}
	if p[0] != -3 {
		t.Errorf("after 4 scheduled steps p = %v; want -3", p[0])
	}
	if opt.Steps() != 4 {
		t.Errorf("Steps() = %d; want 4", opt.Steps())
	}
}

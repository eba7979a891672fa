package optim

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestScheduleValues(t *testing.T) {
	cos := func(step, total float64) float64 { return (1 + math.Cos(math.Pi*step/total)) / 2 }
	tests := []struct {
		name  string
		sched Schedule
		at    map[int64]float64
	}{
		{"constant", Constant(0.3), map[int64]float64{-5: 0.3, 0: 0.3, 1e9: 0.3}},
		{"step", StepDecay{Base: 0.1, Every: 30, Gamma: 0.1}, map[int64]float64{
			-1: 0.1, 0: 0.1, 29: 0.1, 30: 0.01, 59: 0.01, 60: 0.001, 95: 0.0001,
		}},
		{"step/never", StepDecay{Base: 0.1, Every: 0, Gamma: 0.5}, map[int64]float64{0: 0.1, 1000: 0.1}},
		{"cosine", Cosine{Base: 1, Min: 0.1, Total: 100}, map[int64]float64{
			-3: 1, 0: 1, 25: 0.1 + 0.9*cos(25, 100), 50: 0.55, 99: 0.1 + 0.9*cos(99, 100), 100: 0.1, 500: 0.1,
		}},
		{"cosine/empty", Cosine{Base: 1, Min: 0.2, Total: 0}, map[int64]float64{0: 0.2, 7: 0.2}},
		{"warmup", LinearWarmup{Steps: 4, Then: Constant(1)}, map[int64]float64{
			-1: 0.25, 0: 0.25, 1: 0.5, 2: 0.75, 3: 1, 4: 1, 100: 1,
		}},
		{"warmup/start/step", LinearWarmup{Steps: 2, Start: 0.5, Then: StepDecay{Base: 1, Every: 1, Gamma: 0.5}}, map[int64]float64{
			0: 0.75, 1: 1, 2: 1, 3: 0.5, 4: 0.25,
		}},
		{"warmup/cosine", LinearWarmup{Steps: 10, Then: Cosine{Base: 2, Total: 100}}, map[int64]float64{
			4: 1, 9: 2, 10: 2, 60: 1, 110: 0,
		}},
		{"warmup/none", LinearWarmup{Steps: 0, Then: Constant(0.5)}, map[int64]float64{0: 0.5, 3: 0.5}},
	}
	for _, tt := range tests {
		for step, want := range tt.at {
			if got := tt.sched.LR(step); math.Abs(got-want) > 1e-12*math.Max(1, math.Abs(want)) {
				t.Errorf("%s: LR(%d) = %.15g; want %.15g", tt.name, step, got, want)
			}
		}
	}
}

func TestLinearScaling(t *testing.T) {
	if got := LinearScaling(0.1, 8); math.Abs(got-0.8) > 1e-15 {
		t.Errorf("LinearScaling(0.1, 8) = %g; want 0.8", got)
	}
	if got := LinearScaling(0.1, 1); got != 0.1 {
		t.Errorf("LinearScaling(0.1, 1) = %g; want 0.1", got)
	}
	defer func() {
		if recover() == nil {
			t.Errorf("LinearScaling(0.1, 0) did not panic")
		}
	}()
	LinearScaling(0.1, 0)
}

func TestParseSchedule(t *testing.T) {
	const base = 0.1
	tests := []struct {
		spec string
		want Schedule
	}{
		{"constant", Constant(base)},
		{" constant ", Constant(base)},
		{"step:every=30", StepDecay{Base: base, Every: 30, Gamma: 0.1}},
		{"step:every=10,gamma=0.5", StepDecay{Base: base, Every: 10, Gamma: 0.5}},
		{"cosine:total=1000", Cosine{Base: base, Total: 1000}},
		{"cosine:total=1000,min=0.0001", Cosine{Base: base, Min: 0.0001, Total: 1000}},
		{"cosine: total = 1000 , min = 1e-4", Cosine{Base: base, Min: 1e-4, Total: 1000}},
		{"constant:warmup=5", LinearWarmup{Steps: 5, Then: Constant(base)}},
		{"cosine:total=100,min=1e-5,warmup=10,warmup_start=0.25", LinearWarmup{Steps: 10, Start: 0.25, Then: Cosine{Base: base, Min: 1e-5, Total: 100}}},
		{"step:warmup=0,every=3", StepDecay{Base: base, Every: 3, Gamma: 0.1}},
	}
	for _, tt := range tests {
		got, err := ParseSchedule(tt.spec, base)
		if err != nil {
			t.Errorf("ParseSchedule(%q): %v", tt.spec, err)
			continue
		}
		if got != tt.want {
			t.Errorf("ParseSchedule(%q) = %#v; want %#v", tt.spec, got, tt.want)
		}
	}
}

func TestParseScheduleErrors(t *testing.T) {
	tests := []struct {
		spec string
		base float64
		msg  string
	}{
		{"", 0.1, "empty kind; want one of constant, step, cosine"},
		{"cosin:total=1", 0.1, `unknown kind "cosin"; want one of constant, step, cosine`},
		{"cosine", 0.1, "cosine needs total=N"},
		{"step", 0.1, "step needs every=N"},
		{"step:every=0", 0.1, "every=0 must be >= 1"},
		{"step:every=2.5", 0.1, "every=2.5 is not a whole number"},
		{"step:every=3,gamma=2", 0.1, "gamma=2 out of range (0, 1]"},
		{"step:every=3,gamma=x", 0.1, "gamma=x is not a finite number"},
		{"step:every=3,gamma=NaN", 0.1, "gamma=NaN is not a finite number"},
		{"cosine:total=10,min=0.5", 0.1, "min=0.5 out of range [0, 0.1]"},
		{"cosine:total=10,min=-1", 0.1, "min=-1 out of range"},
		{"cosine:total=-5", 0.1, "total=-5 must be >= 1"},
		{"cosine:total=10,every=3", 0.1, `cosine takes no key "every"; keys: total, min, warmup, warmup_start`},
		{"constant:gamma=0.5", 0.1, `constant takes no key "gamma"; keys: warmup, warmup_start`},
		{"cosine:total=10,total=20", 0.1, `key "total" given twice`},
		{"cosine:total", 0.1, `"total" is not key=value`},
		{"cosine:total=10,", 0.1, `"" is not key=value`},
		{"constant:warmup=-1", 0.1, "warmup=-1 must be >= 0"},
		{"constant:warmup_start=0.5", 0.1, "warmup_start needs warmup=N"},
		{"constant:warmup=3,warmup_start=2", 0.1, "warmup_start=2 out of range [0, 1]"},
		{"constant", -1, "base learning rate -1 must be finite and >= 0"},
		{"constant", math.Inf(1), "base learning rate +Inf"},
	}
	for _, tt := range tests {
		s, err := ParseSchedule(tt.spec, tt.base)
		if err == nil {
			t.Errorf("ParseSchedule(%q, %g) = %#v; want an error containing %q", tt.spec, tt.base, s, tt.msg)
			continue
		}
		if !errors.Is(err, ErrInvalidSchedule) {
			t.Errorf("ParseSchedule(%q) error %v is not ErrInvalidSchedule", tt.spec, err)
		}
		if !strings.Contains(err.Error(), tt.msg) || !strings.HasPrefix(err.Error(), "optim: invalid schedule") {
			t.Errorf("ParseSchedule(%q) error %q; want it to contain %q", tt.spec, err, tt.msg)
		}
	}
}

// FuzzParseSchedule checks that any spec either fails cleanly or gives a
// schedule whose rates stay finite and within [0, base].
func FuzzParseSchedule(f *testing.F) {
	for _, s := range []string{"constant", "step:every=3,gamma=0.5", "cosine:total=100,min=0.01,warmup=10,warmup_start=0.1", "cosine:total=9223372036854775807", "step:every=1,gamma=1e-300"} {
		f.Add(s, 0.1)
	}
	f.Fuzz(func(t *testing.T, spec string, base float64) {
		s, err := ParseSchedule(spec, base)
		if err != nil {
			if !errors.Is(err, ErrInvalidSchedule) {
				t.Fatalf("ParseSchedule(%q, %g) error %v is not ErrInvalidSchedule", spec, base, err)
			}
			return
		}
		for _, step := range []int64{-1, 0, 1, 2, 7, 99, 100, 1 << 20, math.MaxInt64} {
			lr := s.LR(step)
			if !(lr >= 0 && lr <= base) {
				t.Fatalf("ParseSchedule(%q, %g).LR(%d) = %g; want in [0, %g]", spec, base, step, lr, base)
			}
		}
	})
}

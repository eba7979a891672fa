package collective

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestFP16RoundTrip(t *testing.T) {
	for i := range 1 << 16 {
		h := uint16(i)
		f := f16Table[h]
		if f != f {
			if got := f32ToF16(f); got&0x7c00 != 0x7c00 || got&0x3ff == 0 {
				t.Fatalf("f32ToF16(NaN from %#04x) = %#04x; want a NaN", h, got)
			}
			continue
		}
		if got := f32ToF16(f); got != h {
			t.Fatalf("f32ToF16(%v) = %#04x; want %#04x", f, got, h)
		}
	}
}

// TestFP16Nearest checks rounding against the oracle: the nearest of the two
// halves around x, computed in float64.
func TestFP16Nearest(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200000 {
		x := math.Float32frombits(rng.Uint32())
		if x != x || math.IsInf(float64(x), 0) || math.Abs(float64(x)) > 65504 {
			continue
		}
		got := float64(f16Table[f32ToF16(x)])
		best := math.Inf(1)
		for _, h := range []uint16{f32ToF16(x) - 1, f32ToF16(x), f32ToF16(x) + 1} {
			c := float64(f16Table[h])
			if c == c && math.Abs(c-float64(x)) < best {
				best = math.Abs(c - float64(x))
			}
		}
		if math.Abs(got-float64(x)) > best {
			t.Fatalf("f32ToF16(%v) -> %v is not the nearest half (error %v > %v)", x, got, math.Abs(got-float64(x)), best)
		}
	}
	if got := f16Table[f32ToF16(1e6)]; !math.IsInf(float64(got), 1) {
		t.Errorf("fp16(1e6) = %v; want +Inf", got)
	}
}

func TestBF16(t *testing.T) {
	tests := []struct {
		in, want float32
	}{
		{1, 1},
		{math.Float32frombits(0x3f808000), 1}, // tie, even stays
		{math.Float32frombits(0x3f818000), math.Float32frombits(0x3f820000)}, // tie, odd rounds up
		{math.Float32frombits(0x3f808001), math.Float32frombits(0x3f810000)},
		{-2.5, -2.5},
	}
	for _, tt := range tests {
		if got := bf16ToF32(f32ToBF16(tt.in)); got != tt.want {
			t.Errorf("bf16(%v) = %v; want %v", tt.in, got, tt.want)
		}
	}
	if got := bf16ToF32(f32ToBF16(float32(math.NaN()))); got == got {
		t.Errorf("bf16(NaN) = %v; want NaN", got)
	}
}

func TestMaxOfCommutes(t *testing.T) {
	nan2 := math.Float32frombits(0x7fc00001)
	vals := []float32{0, float32(math.Copysign(0, -1)), 1, -1, float32(math.Inf(1)), float32(math.NaN()), nan2}
	for _, a := range vals {
		for _, b := range vals {
			if x, y := maxOf(a, b), maxOf(b, a); math.Float32bits(x) != math.Float32bits(y) {
				t.Errorf("maxOf(%v, %v) = %#x but maxOf(%v, %v) = %#x", a, b, math.Float32bits(x), b, a, math.Float32bits(y))
			}
		}
	}
}

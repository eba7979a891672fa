package optim

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestClipGlobalNorm(t *testing.T) {
	tests := []struct {
		name     string
		grads    []float32
		maxNorm  float64
		wantNorm float64
		want     []float32
	}{
		{"under", []float32{3, 4}, 10, 5, []float32{3, 4}},
		{"over", []float32{3, 4}, 1, 5, []float32{float32(3 / (5 + 1e-6)), float32(4 / (5 + 1e-6))}},
		{"equal stays put within eps", []float32{0, 5}, 5, 5, []float32{0, 5 * float32(5/(5+1e-6))}},
		{"zero", []float32{0, 0, 0}, 1, 0, []float32{0, 0, 0}},
		{"empty", nil, 1, 0, nil},
		{"odd length", []float32{1, 1, 1, 1, 1, 1, 1, 1, 1}, 1.5, 3, []float32{0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5}},
		{"nan untouched", []float32{float32(math.NaN()), 1}, 1, math.NaN(), nil},
		{"inf untouched", []float32{float32(math.Inf(-1)), 1}, 1, math.Inf(1), []float32{float32(math.Inf(-1)), 1}},
	}
	for _, tt := range tests {
		grads := append([]float32(nil), tt.grads...)
		norm := ClipGlobalNorm(grads, tt.maxNorm)
		if !near(norm, tt.wantNorm, 1e-12) {
			t.Errorf("%s: ClipGlobalNorm(%v, %g) = %g; want %g", tt.name, tt.grads, tt.maxNorm, norm, tt.wantNorm)
		}
		if tt.want == nil {
			if tt.grads != nil && grads[1] != tt.grads[1] {
				t.Errorf("%s: grads changed to %v", tt.name, grads)
			}
			continue
		}
		for i := range grads {
			if !near(float64(grads[i]), float64(tt.want[i]), 1e-6) {
				t.Errorf("%s: clipped grads = %v; want %v", tt.name, grads, tt.want)
				break
			}
		}
	}
}

func TestClipGlobalNormLarge(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	grads := randomSlice(rng, 100003, 3)
	var ref float64
	for _, g := range grads {
		ref += float64(g) * float64(g)
	}
	ref = math.Sqrt(ref)
	norm := ClipGlobalNorm(grads, 1)
	if math.Abs(norm-ref) > 1e-12*ref {
		t.Errorf("norm = %.17g; float64 reference %.17g", norm, ref)
	}
	if after := math.Sqrt(SumSquares(grads)); math.Abs(after-1) > 1e-5 {
		t.Errorf("norm after clipping to 1 = %.9g", after)
	}
}

// TestClipByNormShards checks that clipping shards with the global norm
// built from their SumSquares matches clipping the whole arena.
func TestClipByNormShards(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	whole := randomSlice(rng, 1000, 1)
	sharded := append([]float32(nil), whole...)
	shards := [][]float32{sharded[:123], sharded[123:700], sharded[700:]}
	norm := ClipGlobalNorm(whole, 2)
	var sum float64
	for _, s := range shards {
		sum += SumSquares(s)
	}
	if got := math.Sqrt(sum); math.Abs(got-norm) > 1e-12*norm {
		t.Fatalf("norm from shards = %.17g; whole %.17g", got, norm)
	}
	for _, s := range shards {
		if !ClipByNorm(s, norm, 2) {
			t.Errorf("ClipByNorm(shard, %g, 2) = false; want true", norm)
		}
	}
	if i := firstBitDiff(sharded, whole); i >= 0 {
		t.Errorf("sharded clip differs at %d: %g; whole %g", i, sharded[i], whole[i])
	}
}

func TestClipPanicsOnBadMax(t *testing.T) {
	for _, m := range []float64{0, -1, math.NaN()} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("ClipGlobalNorm(maxNorm %g) did not panic", m)
				}
			}()
			ClipGlobalNorm([]float32{1}, m)
		}()
	}
}

// near reports whether got is within rel of want, relatively; NaN matches
// NaN and infinities match themselves.
func near(got, want, rel float64) bool {
	if math.IsNaN(want) {
		return math.IsNaN(got)
	}
	if math.IsInf(want, 0) {
		return got == want
	}
	return math.Abs(got-want) <= rel*math.Abs(want)
}

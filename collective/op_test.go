package collective

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestAddScaleInto checks the fused Mean step against addInto followed by
// scale, bit for bit, over lengths around the unrolled loop's width.
func TestAddScaleInto(t *testing.T) {
	for _, n := range []int{0, 1, 7, 8, 9, 17, 1000} {
		a, b := make([]float32, n), make([]float32, n)
		for i := range a {
			a[i], b[i] = float32(i)*0.37-3, float32(n-i)*1.13+0.1
		}
		want := append([]float32(nil), a...)
		addInto(want, b)
		scale(want, 1/float32(3))
		got := append([]float32(nil), a...)
		addScaleInto(got, b, 1/float32(3))
		for i := range want {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("n=%d: element %d is %v fused, %v in two passes; want the same bits", n, i, got[i], want[i])
			}
		}
	}
}

// randomPair returns two random slices of n elements that start off
// elements into their arrays, so that vector loads are misaligned.
func randomPair(rng *rand.Rand, n, off int) (a, b []float32) {
	a, b = make([]float32, n+off), make([]float32, n+off)
	for i := range a {
		a[i], b[i] = rng.Float32()*2-1, rng.Float32()*1e3
	}
	return a[off:], b[off:]
}

// TestAddIntoMatchesLoop checks the vector additions behind addInto and
// combineInto against a plain loop, bit for bit, on lengths around the
// vector width and with misaligned starts.
func TestAddIntoMatchesLoop(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{0, 1, 7, 31, 32, 33, 63, 64, 65, 100, 1023, 4099} {
		for _, off := range []int{0, 1, 3} {
			a, b := randomPair(rng, n, off)
			want := make([]float32, n)
			for i := range want {
				want[i] = a[i] + b[i]
			}
			got := append([]float32(nil), a...)
			addInto(got, b)
			sum := make([]float32, n)
			combineInto(Sum, sum, a, b)
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("addInto(n=%d, off=%d)[%d] = %v; want %v", n, off, i, got[i], want[i])
				}
				if math.Float32bits(sum[i]) != math.Float32bits(want[i]) {
					t.Fatalf("combineInto(n=%d, off=%d)[%d] = %v; want %v", n, off, i, sum[i], want[i])
				}
			}
		}
	}
}

// TestSum2Scale checks the fused in-place step of two ranks against
// combineInto then scale, bit for bit, on both outputs, for the mean and
// the sum, on lengths around the vector width and with misaligned starts.
func TestSum2Scale(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{0, 1, 31, 32, 33, 127, 128, 129, 4099} {
		for _, off := range []int{0, 1} {
			for _, s := range []float32{1, 0.5} {
				a, b := randomPair(rng, n, off)
				want := make([]float32, n)
				combineInto(Sum, want, a, b)
				scale(want, s)
				sum2Scale(a, b, s)
				for i := range want {
					if math.Float32bits(a[i]) != math.Float32bits(want[i]) || math.Float32bits(b[i]) != math.Float32bits(want[i]) {
						t.Fatalf("n=%d off=%d s=%v: element %d is %v and %v; want %v in both", n, off, s, i, a[i], b[i], want[i])
					}
				}
			}
		}
	}
}

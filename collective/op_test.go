package collective

import (
	"math"
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

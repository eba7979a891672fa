package data

import (
	"math"
	"testing"
)

func TestFitStandardizeAndNormalize(t *testing.T) {
	// Two features: column 0 is 0, 2, 4, 6; column 1 is constant 5.
	x := []float32{0, 5, 2, 5, 4, 5, 6, 5}
	train, err := NewInMemory(x, []int{2}, []float32{0, 1, 0, 1}, []int{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := FitStandardize(train, true)
	if err != nil {
		t.Fatal(err)
	}
	if st.Shift[0] != 3 || math.Abs(float64(st.Scale[0])-1/math.Sqrt(5)) > 1e-6 || st.Shift[1] != 5 || st.Scale[1] != 1 {
		t.Errorf("FitStandardize = %+v; want shift [3 5], scale [1/√5 1]", st)
	}
	// Standardized train has mean 0, std 1 in column 0 (oracle: the fit itself).
	view := Transformed(train, st)
	again, _ := Materialize(view)
	mean, std, _, _, _ := featureStats(again, true)
	if math.Abs(mean[0]) > 1e-6 || math.Abs(std[0]-1) > 1e-6 || mean[1] != 0 {
		t.Errorf("standardized mean %v std %v; want [0 0] and std[0] = 1", mean, std)
	}

	nm, err := FitNormalize(train, false)
	if err != nil {
		t.Fatal(err)
	}
	f := []float32{6, 0, 3}
	nm.Apply(f)
	if f[0] != 1 || f[1] != 0 || f[2] != 0.5 {
		t.Errorf("global FitNormalize applied to [6 0 3] = %v; want [1 0 0.5]", f)
	}
	test := train.Slice(1, 3)
	st.ApplyInPlace(test)
	if test.Features()[0] != float32(-1/math.Sqrt(5)) {
		t.Errorf("ApplyInPlace on test: first value %v; want %v", test.Features()[0], float32(-1/math.Sqrt(5)))
	}
	if _, err := FitStandardize(train.Slice(0, 0), true); err == nil {
		t.Error("FitStandardize on an empty dataset succeeded")
	}
}

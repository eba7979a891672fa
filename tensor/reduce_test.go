package tensor

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

func TestSum(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	for _, n := range sizes {
		a := randTensor(rng, n)
		want := 0.0
		for _, v := range a.Data {
			want += float64(v)
		}
		assertClose(t, fmt.Sprintf("Sum/%d", n), []float32{Sum(a)}, []float64{want}, 1e-6)
	}
	// float64 accumulation: a million small values after a large one.
	a := New(1 << 20)
	Fill(a, 1e-3)
	a.Data[0] = 1e4
	if got, want := Sum(a), float32(1e4+1e-3*float64(len(a.Data)-1)); got != want {
		t.Errorf("Sum of 1e4 and 2^20-1 × 1e-3 = %g; want %g", got, want)
	}
}

func TestAxisReductions(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	shapes := [][]int{{1}, {13}, {7, 1}, {3, 4, 5}, {2, 7, 13}, {1, 13, 1, 7}}
	for _, sh := range shapes {
		for axis := -len(sh); axis < len(sh); axis++ {
			a := randTensor(rng, sh...)
			outer, n, inner := axisSizes(sh, axis)
			name := fmt.Sprintf("%v axis %d", sh, axis)

			dst := randTensor(rng, outer, inner)
			want := refSumAxis(to64(a.Data), sh, axis)
			SumAxis(dst, a, axis)
			assertClose(t, "SumAxis"+name, dst.Data, want, 1e-6)

			for i := range want {
				want[i] /= float64(n)
			}
			MeanAxis(dst, a, axis)
			assertClose(t, "MeanAxis"+name, dst.Data, want, 1e-6)

			mx, at := refMaxAxis(to64(a.Data), sh, axis)
			argmax := make([]int32, len(dst.Data))
			MaxAxis(dst, argmax, a, axis)
			assertClose(t, "MaxAxis"+name, dst.Data, mx, 0)
			for i := range at {
				if int(argmax[i]) != at[i] {
					t.Errorf("MaxAxis%s: argmax[%d] = %d; want %d", name, i, argmax[i], at[i])
				}
			}
			MaxAxis(dst, nil, a, axis)
			assertClose(t, "MaxAxis(nil argmax)"+name, dst.Data, mx, 0)
		}
	}
}

func TestArgMaxRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(19, 20))
	for _, sh := range [][]int{{1, 1}, {7, 13}, {2, 3, 10}} {
		a := randTensor(rng, sh...)
		rows := a.Len() / sh[len(sh)-1]
		got := make([]int32, rows)
		ArgMaxRows(got, a)
		_, want := refMaxAxis(to64(a.Data), sh, -1)
		for i := range want {
			if int(got[i]) != want[i] {
				t.Errorf("ArgMaxRows%v[%d] = %d; want %d", sh, i, got[i], want[i])
			}
		}
	}
	// Ties go to the first index.
	got := make([]int32, 1)
	ArgMaxRows(got, FromData([]float32{1, 3, 3, 2}, 1, 4))
	if got[0] != 1 {
		t.Errorf("ArgMaxRows([1 3 3 2]) = %d; want 1", got[0])
	}
}

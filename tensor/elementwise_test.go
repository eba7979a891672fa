package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// sizes covers odd edges and one length above elemGrain, so the parallel
// path runs too.
var sizes = []int{1, 7, 13, 64, 3*elemGrain + 5}

func TestBinaryOps(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	cases := append([]struct{ full, a, b []int }{
		{[]int{300, 129}, []int{300, 129}, []int{300, 129}},
		{[]int{300, 129}, []int{129}, []int{300, 129}},
		{[]int{64, 16, 40}, []int{64, 1, 40}, []int{16, 1}},
		{[]int{40000}, []int{1}, []int{40000}},
		{[]int{3, 40000}, []int{3, 1}, []int{1}},
	}, broadcastCases...)
	ops := []struct {
		name string
		fn   func(dst, a, b *Tensor)
	}{{"Add", Add}, {"Sub", Sub}, {"Mul", Mul}, {"Div", Div}}
	for _, op := range ops {
		for _, c := range cases {
			a, b := randTensor(rng, c.a...), randTensor(rng, c.b...)
			for i := range b.Data { // keep Div away from 0
				b.Data[i] = 0.5 + 1.5*(b.Data[i]+1)/2
			}
			want := refBinary(op.name, c.full, to64(a.Data), c.a, to64(b.Data), c.b)
			dst := randTensor(rng, c.full...)
			op.fn(dst, a, b)
			assertClose(t, fmt.Sprintf("%s(%v, %v)", op.name, c.a, c.b), dst.Data, want, 1e-6)
		}
		// In place: dst aliases a.
		a, b := randTensor(rng, 7, 13), randTensor(rng, 13)
		for i := range b.Data {
			b.Data[i] += 3
		}
		want := refBinary(op.name, []int{7, 13}, to64(a.Data), []int{7, 13}, to64(b.Data), []int{13})
		op.fn(a, a, b)
		assertClose(t, op.name+" in place", a.Data, want, 1e-6)
	}
}

func TestSumTo(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	cases := append([]struct{ full, a, b []int }{
		{[]int{300, 129}, []int{129}, nil},
		{[]int{32, 16, 7, 7}, []int{1, 16, 1, 1}, nil},
		{[]int{32, 16, 7, 7}, []int{32, 1, 7, 1}, nil},
		{[]int{5, 6}, []int{}, nil},
	}, broadcastCases...)
	for _, c := range cases {
		for _, acc := range []bool{false, true} {
			a := randTensor(rng, c.full...)
			dst := randTensor(rng, c.a...)
			want := refSumTo(c.a, c.full, to64(a.Data))
			if acc {
				want = plus(dst.Data, want)
			}
			SumTo(dst, a, acc)
			assertClose(t, fmt.Sprintf("SumTo(%v <- %v, acc=%t)", c.a, c.full, acc), dst.Data, want, 1e-5)
		}
	}
}

func TestUnaryOps(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	ops := []struct {
		name string
		fn   func(dst, a *Tensor)
	}{{"Exp", Exp}, {"Log", Log}, {"Sqrt", Sqrt}, {"Neg", Neg}}
	for _, op := range ops {
		u := refUnaries[op.name]
		for _, n := range sizes {
			x := New(n)
			for i := range x.Data {
				x.Data[i] = float32(u.lo + (u.hi-u.lo)*rng.Float64())
			}
			dst := New(n)
			op.fn(dst, x)
			// Exp's relative error matters at every magnitude, so compare
			// elementwise there rather than against the largest value.
			if op.name == "Exp" {
				for i, v := range to64(x.Data) {
					if want := math.Exp(v); math.Abs(float64(dst.Data[i])-want) > 1e-6*want {
						t.Fatalf("Exp(%g) = %g; want %g", v, dst.Data[i], want)
					}
				}
				continue
			}
			assertClose(t, fmt.Sprintf("%s/%d", op.name, n), dst.Data, mapRef(to64(x.Data), u.f), 1e-6)
		}
	}
	for _, n := range sizes {
		x, dst := randTensor(rng, n), randTensor(rng, n)
		want := mapRef(to64(x.Data), func(v float64) float64 { return v + 0.25 })
		AddScalar(dst, x, 0.25)
		assertClose(t, "AddScalar", dst.Data, want, 1e-6)
		Scale(dst, x, -3)
		assertClose(t, "Scale", dst.Data, mapRef(to64(x.Data), func(v float64) float64 { return -3 * v }), 1e-6)
		want = mapRef(to64(x.Data), func(v float64) float64 { return -3*v + 0.5*v })
		Axpy(dst, 0.5, x)
		assertClose(t, "Axpy", dst.Data, want, 1e-6)
		Fill(dst, 2.5)
		assertClose(t, "Fill", dst.Data, mapRef(to64(x.Data), func(float64) float64 { return 2.5 }), 0)
	}
}

func TestExpEdges(t *testing.T) {
	for _, v := range []float64{0, 1e-30, -1e-30, 88, 88.5, 88.8, -87, -88, -100, -104, -200, 200, math.Inf(1), math.Inf(-1)} {
		got := exp32(float32(v))
		want := float32(math.Exp(float64(float32(v))))
		if !(got == want || math.Abs(float64(got-want)) <= 1e-6*float64(want)) {
			t.Errorf("exp32(%g) = %g; want %g", v, got, want)
		}
	}
	if got := exp32(float32(math.NaN())); got == got {
		t.Errorf("exp32(NaN) = %g; want NaN", got)
	}
}

func TestAddRowVectorAndSumRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, sh := range [][]int{{1, 1}, {7, 13}, {3, 5, 7}, {300, 129}, {2, 1000, 10}, {40, 1024}} {
		a := randTensor(rng, sh...)
		cols := sh[len(sh)-1]
		v := randTensor(rng, cols)
		dst := New(sh...)
		AddRowVector(dst, a, v)
		want := refBinary("Add", sh, to64(a.Data), sh, to64(v.Data), []int{cols})
		assertClose(t, fmt.Sprintf("AddRowVector%v", sh), dst.Data, want, 1e-6)

		for _, acc := range []bool{false, true} {
			s := randTensor(rng, cols)
			want := refSumTo([]int{cols}, sh, to64(a.Data))
			if acc {
				want = plus(s.Data, want)
			}
			SumRows(s, a, acc)
			assertClose(t, fmt.Sprintf("SumRows%v acc=%t", sh, acc), s.Data, want, 1e-5)
		}
	}
}

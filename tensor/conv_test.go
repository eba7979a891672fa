package tensor

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

func TestMatMul(t *testing.T) {
	rng := rand.New(rand.NewPCG(25, 26))
	for _, mkn := range [][3]int{{1, 1, 1}, {7, 13, 1}, {13, 7, 13}, {1, 64, 10}, {65, 33, 17}} {
		m, k, n := mkn[0], mkn[1], mkn[2]
		for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
			ash, bsh := []int{m, k}, []int{k, n}
			if tr[0] {
				ash = []int{k, m}
			}
			if tr[1] {
				bsh = []int{n, k}
			}
			a, b := randTensor(rng, ash...), randTensor(rng, bsh...)
			want, _, _ := refMatMul(to64(a.Data), ash[0], ash[1], to64(b.Data), bsh[0], bsh[1], tr[0], tr[1])
			for _, acc := range []bool{false, true} {
				dst := randTensor(rng, m, n)
				w := want
				if acc {
					w = plus(dst.Data, want)
				}
				MatMul(dst, a, b, tr[0], tr[1], acc)
				assertClose(t, fmt.Sprintf("MatMul(%v, %v, trans=%v, acc=%t)", ash, bsh, tr, acc), dst.Data, w, 1e-5)
			}
		}
	}
	// k = 0: the product is empty and sets dst to zero.
	dst := randTensor(rng, 2, 3)
	MatMul(dst, New(2, 0), New(0, 3), false, false, false)
	assertClose(t, "MatMul with k=0", dst.Data, make([]float64, 6), 0)
}

func TestIm2ColCol2Im(t *testing.T) {
	rng := rand.New(rand.NewPCG(27, 28))
	for _, s := range convCases(false) {
		s.n = 1
		oh, ow := s.out()
		if goh, gow := s.g.OutSize(s.h, s.w); goh != oh || gow != ow {
			t.Fatalf("%+v.OutSize(%d, %d) = %d, %d; want %d, %d", s.g, s.h, s.w, goh, gow, oh, ow)
		}
		img := randTensor(rng, s.c, s.h, s.w)
		col := randTensor(rng, s.c*s.g.KH*s.g.KW, oh*ow)
		Im2Col(col.Data, img.Data, s.c, s.h, s.w, s.g)
		assertClose(t, fmt.Sprintf("Im2Col%+v", s), col.Data, refIm2Col(s, to64(img.Data)), 0)

		// Col2Im adds the adjoint: ⟨Im2Col(x), c⟩ = ⟨x, Col2Im(c)⟩, i.e.
		// every col entry lands where Im2Col read it from.
		c := randTensor(rng, col.Shape...)
		dimg := randTensor(rng, s.c, s.h, s.w)
		want := to64(dimg.Data)
		ref := refIm2Col(s, seq(len(img.Data))) // entry i holds 1 + its source index
		for i, src := range ref {
			if src != 0 {
				want[int(src)-1] += float64(c.Data[i])
			}
		}
		Col2Im(dimg.Data, c.Data, s.c, s.h, s.w, s.g)
		assertClose(t, fmt.Sprintf("Col2Im%+v", s), dimg.Data, want, 1e-6)
	}
}

// seq returns 1, 2, ..., n so that an image position can be recovered from
// a value copied out of it.
func seq(n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = float64(i + 1)
	}
	return v
}

func TestConv2D(t *testing.T) {
	rng := rand.New(rand.NewPCG(29, 30))
	for _, s := range convCases(testing.Short()) {
		oh, ow := s.out()
		x := randTensor(rng, s.n, s.c, s.h, s.w)
		w := randTensor(rng, s.f, s.c, s.g.KH, s.g.KW)
		b := randTensor(rng, s.f)
		name := fmt.Sprintf("%+v", s)
		for _, withBias := range []bool{true, false} {
			dst := randTensor(rng, s.n, s.f, oh, ow)
			var bias *Tensor
			var bref []float64
			if withBias {
				bias, bref = b, to64(b.Data)
			}
			Conv2D(dst, x, w, bias, s.g)
			assertClose(t, fmt.Sprintf("Conv2D%s bias=%t", name, withBias), dst.Data, refConv(s, to64(x.Data), to64(w.Data), bref), 1e-5)
		}

		dy := randTensor(rng, s.n, s.f, oh, ow)
		rdx, rdw, rdb := refConvGrad(s, to64(x.Data), to64(w.Data), to64(dy.Data))
		// Every subset of outputs, each starting from non-zero values
		// since Conv2DGrad adds.
		for mask := 1; mask < 8; mask++ {
			var dx, dw, db *Tensor
			if mask&1 != 0 {
				dx = randTensor(rng, x.Shape...)
			}
			if mask&2 != 0 {
				dw = randTensor(rng, w.Shape...)
			}
			if mask&4 != 0 {
				db = randTensor(rng, s.f)
			}
			var wdx, wdw, wdb []float64
			if dx != nil {
				wdx = plus(dx.Data, rdx)
			}
			if dw != nil {
				wdw = plus(dw.Data, rdw)
			}
			if db != nil {
				wdb = plus(db.Data, rdb)
			}
			Conv2DGrad(dx, dw, db, x, w, dy, s.g)
			if dx != nil {
				assertClose(t, fmt.Sprintf("Conv2DGrad%s dx (mask %b)", name, mask), dx.Data, wdx, 1e-5)
			}
			if dw != nil {
				assertClose(t, fmt.Sprintf("Conv2DGrad%s dw (mask %b)", name, mask), dw.Data, wdw, 1e-5)
			}
			if db != nil {
				assertClose(t, fmt.Sprintf("Conv2DGrad%s db (mask %b)", name, mask), db.Data, wdb, 1e-5)
			}
		}
	}
}

// TestConv2DThreads checks that the batch-parallel and the serial paths
// agree, whatever the thread count.
func TestConv2DThreads(t *testing.T) {
	defer SetThreads(Threads())
	rng := rand.New(rand.NewPCG(31, 32))
	s := refConvShape{n: 9, c: 3, h: 12, w: 10, f: 5, g: ConvGeom{KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}}
	oh, ow := s.out()
	x, w := randTensor(rng, s.n, s.c, s.h, s.w), randTensor(rng, s.f, s.c, 3, 3)
	dy := randTensor(rng, s.n, s.f, oh, ow)
	wy := refConv(s, to64(x.Data), to64(w.Data), nil)
	wdx, wdw, _ := refConvGrad(s, to64(x.Data), to64(w.Data), to64(dy.Data))
	for _, th := range []int{1, 2, 3, 4, 16} {
		SetThreads(th)
		y, dx, dw := New(s.n, s.f, oh, ow), New(x.Shape...), New(w.Shape...)
		Conv2D(y, x, w, nil, s.g)
		Conv2DGrad(dx, dw, nil, x, w, dy, s.g)
		assertClose(t, fmt.Sprintf("Conv2D threads=%d", th), y.Data, wy, 1e-5)
		assertClose(t, fmt.Sprintf("Conv2DGrad dx threads=%d", th), dx.Data, wdx, 1e-5)
		assertClose(t, fmt.Sprintf("Conv2DGrad dw threads=%d", th), dw.Data, wdw, 1e-5)
	}
}

func TestPools(t *testing.T) {
	rng := rand.New(rand.NewPCG(33, 34))
	for _, s := range poolCases(false) {
		oh, ow := s.out()
		x := randTensor(rng, s.n, s.c, s.h, s.w)
		xs := to64(x.Data)
		dy := randTensor(rng, s.n, s.c, oh, ow)
		name := fmt.Sprintf("%+v", s)

		y := randTensor(rng, s.n, s.c, oh, ow)
		argmax := make([]int32, y.Len())
		MaxPool2D(y, argmax, x, s.g)
		want, _ := refPool(s, xs, true)
		assertClose(t, "MaxPool2D"+name, y.Data, want, 0)
		MaxPool2D(y, nil, x, s.g)
		assertClose(t, "MaxPool2D(nil argmax)"+name, y.Data, want, 0)
		dx := randTensor(rng, x.Shape...)
		wdx := plus(dx.Data, refPoolGrad(s, xs, true, to64(dy.Data)))
		MaxPool2DGrad(dx, dy, argmax)
		assertClose(t, "MaxPool2DGrad"+name, dx.Data, wdx, 1e-6)

		want, _ = refPool(s, xs, false)
		AvgPool2D(y, x, s.g)
		assertClose(t, "AvgPool2D"+name, y.Data, want, 1e-6)
		dx = randTensor(rng, x.Shape...)
		wdx = plus(dx.Data, refPoolGrad(s, xs, false, to64(dy.Data)))
		AvgPool2DGrad(dx, dy, s.g)
		assertClose(t, "AvgPool2DGrad"+name, dx.Data, wdx, 1e-6)
	}
}

// TestMaxPoolAllPadding covers windows that see only padding.
func TestMaxPoolAllPadding(t *testing.T) {
	g := ConvGeom{KH: 2, KW: 2, StrideH: 2, StrideW: 2, PadH: 2, PadW: 2}
	x := FromData([]float32{-5}, 1, 1, 1, 1)
	oh, ow := g.OutSize(1, 1)
	y := New(1, 1, oh, ow)
	argmax := make([]int32, y.Len())
	MaxPool2D(y, argmax, x, g)
	for i, a := range argmax {
		if a >= 0 && y.Data[i] != -5 || a < 0 && y.Data[i] != 0 {
			t.Errorf("MaxPool2D over padding: y[%d] = %g with argmax %d", i, y.Data[i], a)
		}
	}
	dx := New(1, 1, 1, 1)
	dy := New(y.Shape...)
	Fill(dy, 1)
	MaxPool2DGrad(dx, dy, argmax)
	if dx.Data[0] != 1 {
		t.Errorf("MaxPool2DGrad over padding: dx = %g; want 1 (one window holds the pixel)", dx.Data[0])
	}
}

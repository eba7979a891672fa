package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"
)

// problem is one GEMM with its operands laid out with spare stride.
type problem struct {
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	a, b, c        []float32
	lda, ldb, ldc  int
}

func (p *problem) String() string {
	return fmt.Sprintf("transA=%v transB=%v m=%d n=%d k=%d alpha=%g beta=%g lda=%d ldb=%d ldc=%d",
		p.transA, p.transB, p.m, p.n, p.k, p.alpha, p.beta, p.lda, p.ldb, p.ldc)
}

// sentinel fills the gaps between rows of C (columns n…ldc-1), which no
// path may touch.
const sentinel = float32(-12345.5)

func newProblem(rng *rand.Rand, transA, transB bool, m, n, k int, alpha, beta float32, pad int) *problem {
	p := &problem{transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, beta: beta}
	rowsA, colsA := m, k
	if transA {
		rowsA, colsA = k, m
	}
	rowsB, colsB := k, n
	if transB {
		rowsB, colsB = n, k
	}
	p.lda = max(colsA, 1) + rng.IntN(pad+1)
	p.ldb = max(colsB, 1) + rng.IntN(pad+1)
	p.ldc = max(n, 1) + rng.IntN(pad+1)
	p.a = randomMatrix(rng, rowsA, p.lda)
	p.b = randomMatrix(rng, rowsB, p.ldb)
	p.c = randomMatrix(rng, m, p.ldc)
	for i := 0; i < m; i++ {
		for j := n; j < p.ldc; j++ {
			p.c[i*p.ldc+j] = sentinel
		}
		if beta == 0 {
			// beta == 0 must overwrite C without reading it.
			for j := 0; j < n; j++ {
				p.c[i*p.ldc+j] = float32(math.NaN())
			}
		}
	}
	return p
}

func randomMatrix(rng *rand.Rand, rows, ld int) []float32 {
	s := make([]float32, rows*ld)
	for i := range s {
		s[i] = rng.Float32()*2 - 1
	}
	return s
}

// run computes the problem with f into a fresh copy of C.
func (p *problem) run(f func(p *problem, c []float32)) []float32 {
	c := append([]float32(nil), p.c...)
	f(p, c)
	return c
}

// check compares got with sgemmRef's answer. Both are float32 sums in a
// different order, so each may be off from the exact value by about
// k·ε·Σ|alpha·a·b| + ε·|beta·c|; the bound is computed in float64.
func (p *problem) check(t *testing.T, what string, got []float32) {
	t.Helper()
	want := p.run(func(p *problem, c []float32) {
		sgemmRef(p.transA, p.transB, p.m, p.n, p.k, p.alpha, p.a, p.lda, p.b, p.ldb, p.beta, c, p.ldc)
	})
	const eps = 1.0 / (1 << 23)
	bad := 0
	for i := 0; i < p.m; i++ {
		for j := 0; j < p.ldc; j++ {
			g, w := got[i*p.ldc+j], want[i*p.ldc+j]
			if j >= p.n {
				if g != sentinel {
					t.Errorf("%s(%v): C[%d,%d] beyond n was written: %g", what, p, i, j, g)
					return
				}
				continue
			}
			var mag float64
			for q := 0; q < p.k; q++ {
				mag += math.Abs(float64(p.opA(i, q)) * float64(p.opB(q, j)))
			}
			mag *= math.Abs(float64(p.alpha))
			if p.beta != 0 {
				mag += math.Abs(float64(p.beta) * float64(p.c[i*p.ldc+j]))
			}
			tol := 2*float64(p.k+2)*eps*mag + 1e-30
			if d := math.Abs(float64(g) - float64(w)); !(d <= tol) {
				t.Errorf("%s(%v): C[%d,%d] = %g; want %g (tolerance %g)", what, p, i, j, g, w, tol)
				if bad++; bad > 5 {
					return
				}
			}
		}
	}
}

func (p *problem) opA(i, q int) float32 {
	if p.transA {
		return p.a[q*p.lda+i]
	}
	return p.a[i*p.lda+q]
}

func (p *problem) opB(q, j int) float32 {
	if p.transB {
		return p.b[j*p.ldb+q]
	}
	return p.b[q*p.ldb+j]
}

var scalars = []float32{0, 1, -1, 0.5, 2.25, -0.75}

// forceParallel lowers the thresholds so that even tiny problems are split
// between goroutines, and restores them when the test ends.
func forceParallel(t testing.TB) {
	oldMin, oldPer := minParallelWork, workPerThread
	minParallelWork, workPerThread = 0, 1
	t.Cleanup(func() { minParallelWork, workPerThread = oldMin, oldPer })
}

// TestSgemmRandomShapes checks every kernel, single- and multi-threaded, on
// random small shapes (every edge case of the tiles) and a few large ones.
func TestSgemmRandomShapes(t *testing.T) {
	forceParallel(t)
	rng := rand.New(rand.NewPCG(1, 2))
	small, large, largeMin, largeSpan := 1200, 3, 200, 500
	if testing.Short() {
		small, large, largeMin, largeSpan = 300, 1, 60, 80
	}
	for _, kn := range kernels {
		t.Run(kn.name, func(t *testing.T) {
			for i := 0; i < small+large; i++ {
				m, n, k := 1+rng.IntN(17), 1+rng.IntN(17), 1+rng.IntN(17)
				if i%50 == 25 {
					// Now and then one dimension spans several blocks.
					switch rng.IntN(3) {
					case 0:
						m = 1 + rng.IntN(1100)
					case 1:
						n = 1 + rng.IntN(4200)
					default:
						k = 1 + rng.IntN(600)
					}
				}
				if i >= small {
					m, n, k = largeMin+rng.IntN(largeSpan), largeMin+rng.IntN(largeSpan), largeMin+rng.IntN(largeSpan)
				}
				alpha := scalars[rng.IntN(len(scalars))]
				if alpha == 0 {
					alpha = 1.5
				}
				beta := scalars[rng.IntN(len(scalars))]
				p := newProblem(rng, rng.IntN(2) == 1, rng.IntN(2) == 1, m, n, k, alpha, beta, 5)
				threads := []int{1, 2, 3, 4}[i%4]
				got := p.run(func(p *problem, c []float32) {
					op := operands{transA: p.transA, transB: p.transB, m: p.m, n: p.n, k: p.k,
						alpha: p.alpha, beta: p.beta, a: p.a, lda: p.lda, b: p.b, ldb: p.ldb, c: c, ldc: p.ldc}
					sgemm(&kn, threads, &op)
				})
				p.check(t, fmt.Sprintf("sgemm[%s, %d threads]", kn.name, threads), got)
				if t.Failed() {
					return
				}
			}
		})
	}
}

// TestSgemmPublic goes through the exported entry points, including the
// cases they settle before any kernel runs (empty shapes, alpha == 0).
func TestSgemmPublic(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	tests := []struct {
		m, n, k     int
		alpha, beta float32
	}{
		{1, 1, 1, 1, 0},
		{5, 7, 0, 1, 0},   // k == 0: C = beta·C
		{5, 7, 0, 1, 0.5}, // k == 0 with beta
		{6, 3, 4, 0, 2},   // alpha == 0
		{6, 3, 4, 0, 0},   // alpha == 0, beta == 0: C becomes zero
		{128, 256, 784, 1, 0},
		{784, 256, 128, 1, 1},
		{32, 784, 25, 1, 0},
		{128, 10, 128, 1, 0},
	}
	for _, tc := range tests {
		if testing.Short() && tc.m*tc.n*tc.k > 1<<18 {
			continue
		}
		for _, ta := range []bool{false, true} {
			for _, tb := range []bool{false, true} {
				p := newProblem(rng, ta, tb, tc.m, tc.n, tc.k, tc.alpha, tc.beta, 3)
				for _, threads := range []int{1, 2} {
					got := p.run(func(p *problem, c []float32) {
						SgemmThreads(threads, p.transA, p.transB, p.m, p.n, p.k, p.alpha, p.a, p.lda, p.b, p.ldb, p.beta, c, p.ldc)
					})
					p.check(t, fmt.Sprintf("SgemmThreads(%d)", threads), got)
				}
				old := Threads()
				SetThreads(2)
				got := p.run(func(p *problem, c []float32) {
					Sgemm(p.transA, p.transB, p.m, p.n, p.k, p.alpha, p.a, p.lda, p.b, p.ldb, p.beta, c, p.ldc)
				})
				SetThreads(old)
				p.check(t, "Sgemm", got)
			}
		}
	}
}

// TestSgemmTiny covers every shape up to 6×6×6, where the smallest go
// through the direct loop and the rest through the packed path.
func TestSgemmTiny(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 13))
	for m := 1; m <= 6; m++ {
		for n := 1; n <= 6; n++ {
			for k := 1; k <= 6; k++ {
				for flags := 0; flags < 4; flags++ {
					beta := scalars[rng.IntN(len(scalars))]
					p := newProblem(rng, flags&1 != 0, flags&2 != 0, m, n, k, -1.5, beta, 2)
					got := p.run(func(p *problem, c []float32) {
						SgemmThreads(2, p.transA, p.transB, p.m, p.n, p.k, p.alpha, p.a, p.lda, p.b, p.ldb, p.beta, c, p.ldc)
					})
					p.check(t, "SgemmThreads", got)
				}
			}
		}
	}
}

func TestSgemmEmpty(t *testing.T) {
	// Nothing to do, and nil slices are fine for empty matrices.
	Sgemm(false, false, 0, 5, 3, 1, nil, 3, make([]float32, 15), 5, 0, nil, 5)
	Sgemm(false, false, 4, 0, 3, 1, make([]float32, 12), 3, nil, 1, 0, nil, 1)
}

func TestSgemmPanicsOnBadSizes(t *testing.T) {
	a := make([]float32, 12)
	b := make([]float32, 12)
	c := make([]float32, 9)
	tests := []struct {
		name string
		call func()
	}{
		{"negative m", func() { Sgemm(false, false, -1, 3, 4, 1, a, 4, b, 3, 0, c, 3) }},
		{"lda too small", func() { Sgemm(false, false, 3, 3, 4, 1, a, 3, b, 3, 0, c, 3) }},
		{"A too short", func() { Sgemm(false, false, 3, 3, 4, 1, a[:11], 4, b, 3, 0, c, 3) }},
		{"B too short", func() { Sgemm(false, false, 3, 3, 4, 1, a, 4, b[:11], 3, 0, c, 3) }},
		{"C too short", func() { Sgemm(false, false, 3, 3, 4, 1, a, 4, b, 3, 0, c[:8], 3) }},
		{"transposed B too short", func() { Sgemm(false, true, 3, 3, 4, 1, a, 4, b[:11], 4, 0, c, 3) }},
		{"ldc too small", func() { Sgemm(false, false, 3, 3, 4, 1, a, 4, b, 3, 0, c, 2) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("Sgemm with %s did not panic", tc.name)
				}
			}()
			tc.call()
		})
	}
}

// TestKernelsAgainstGo checks each micro-kernel directly against the
// portable one, with a C tile inside a wider matrix.
func TestKernelsAgainstGo(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, kn := range kernels {
		t.Run(kn.name, func(t *testing.T) {
			for _, k := range []int{1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 31, 100, 256, 301} {
				for _, beta := range []float32{0, 1, -0.5} {
					a := randomMatrix(rng, k, kn.mr)
					// B packed (ldb == nr) or read in place from a wider matrix.
					ldb := kn.nr + 5*(k%2)
					b := randomMatrix(rng, k, ldb)
					ldc := kn.nr + 3
					c := randomMatrix(rng, kn.mr, ldc)
					if beta == 0 {
						for i := range c {
							c[i] = float32(math.NaN())
						}
					}
					want := append([]float32(nil), c...)
					kernelGo(kn.mr, kn.nr, k, a, b, ldb, want, ldc, 0.75, beta)
					got := append([]float32(nil), c...)
					kn.fn(k, &a[0], &b[0], ldb, &got[0], ldc, 0.75, beta)
					for i := 0; i < kn.mr; i++ {
						for j := 0; j < ldc; j++ {
							g, w := got[i*ldc+j], want[i*ldc+j]
							if j >= kn.nr {
								if !sameFloat(g, c[i*ldc+j]) {
									t.Fatalf("%s(k=%d): wrote C[%d,%d] outside the tile", kn.name, k, i, j)
								}
								continue
							}
							if d := math.Abs(float64(g - w)); !(d <= 1e-5*float64(k+1)) {
								t.Fatalf("%s(k=%d, ldb=%d, beta=%g): C[%d,%d] = %g; want %g", kn.name, k, ldb, beta, i, j, g, w)
							}
						}
					}
				}
			}
		})
	}
}

func sameFloat(x, y float32) bool { return x == y || (x != x && y != y) }

func TestBlockSize(t *testing.T) {
	tests := []struct{ n, limit, unit, want int }{
		{1000, 256, 1, 250},
		{256, 256, 1, 256},
		{257, 256, 1, 129},
		{1024, 480, 12, 348},
		{10, 480, 12, 12},
		{4096, 4096, 32, 4096},
	}
	for _, tc := range tests {
		if got := blockSize(tc.n, tc.limit, tc.unit); got != tc.want {
			t.Errorf("blockSize(%d, %d, %d) = %d; want %d", tc.n, tc.limit, tc.unit, got, tc.want)
		}
	}
}

func TestGridShape(t *testing.T) {
	tests := []struct {
		threads, tilesM, tilesN int
		gm, gn                  int
	}{
		{2, 86, 32, 2, 1}, // 1024×1024: halves of m repack B, cheaper than repacking A
		{2, 11, 8, 1, 2},  // 128×256: halves of n pad less than halves of m
		{2, 1, 8, 1, 2},   // one row of tiles: split the columns
		{4, 86, 32, 2, 2},
		{3, 1, 1, 1, 1}, // nothing to share
	}
	for _, tc := range tests {
		gm, gn := gridShape(tc.threads, tc.tilesM, tc.tilesN, 12, 32, packCost(true), packCost(false))
		if gm != tc.gm || gn != tc.gn {
			t.Errorf("gridShape(%d, %d, %d) = %d×%d; want %d×%d", tc.threads, tc.tilesM, tc.tilesN, gm, gn, tc.gm, tc.gn)
		}
	}
}

// TestSgemmConcurrentCalls runs independent multi-threaded calls at once:
// they share the workers and the buffer pools.
func TestSgemmConcurrentCalls(t *testing.T) {
	forceParallel(t)
	const callers = 4
	done := make(chan error, callers)
	for g := 0; g < callers; g++ {
		go func(seed uint64) {
			rng := rand.New(rand.NewPCG(seed, 7))
			for i := 0; i < 20; i++ {
				p := newProblem(rng, rng.IntN(2) == 1, rng.IntN(2) == 1, 1+rng.IntN(70), 1+rng.IntN(70), 1+rng.IntN(70), 1, 0.5, 2)
				got := p.run(func(p *problem, c []float32) {
					SgemmThreads(3, p.transA, p.transB, p.m, p.n, p.k, p.alpha, p.a, p.lda, p.b, p.ldb, p.beta, c, p.ldc)
				})
				want := p.run(func(p *problem, c []float32) {
					sgemmRef(p.transA, p.transB, p.m, p.n, p.k, p.alpha, p.a, p.lda, p.b, p.ldb, p.beta, c, p.ldc)
				})
				for j := range got {
					if d := math.Abs(float64(got[j] - want[j])); d > 1e-4 {
						done <- fmt.Errorf("SgemmThreads(3, %v): C[%d] = %g; want %g", p, j, got[j], want[j])
						return
					}
				}
			}
			done <- nil
		}(uint64(g))
	}
	for g := 0; g < callers; g++ {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

// FuzzSgemm takes shapes, flags, scalars and thread count from the input
// and checks the fast path against sgemmRef.
func FuzzSgemm(f *testing.F) {
	f.Add(uint8(3), uint8(5), uint8(7), uint8(0), uint8(1), uint8(0), uint64(1))
	f.Add(uint8(13), uint8(33), uint8(1), uint8(3), uint8(0), uint8(2), uint64(2))
	f.Add(uint8(40), uint8(40), uint8(40), uint8(2), uint8(3), uint8(1), uint64(3))
	f.Fuzz(func(t *testing.T, m, n, k, flags, scalarPick, threadPick uint8, seed uint64) {
		rng := rand.New(rand.NewPCG(seed, 11))
		mm, nn, kk := int(m)%64+1, int(n)%64+1, int(k)%64+1
		alpha := scalars[int(scalarPick)%len(scalars)]
		beta := scalars[int(scalarPick/8)%len(scalars)]
		p := newProblem(rng, flags&1 != 0, flags&2 != 0, mm, nn, kk, alpha, beta, int(flags>>2)%4)
		threads := int(threadPick)%4 + 1
		kn := &kernels[int(flags>>4)%len(kernels)]
		forceParallel(t)
		got := p.run(func(p *problem, c []float32) {
			op := operands{transA: p.transA, transB: p.transB, m: p.m, n: p.n, k: p.k,
				alpha: p.alpha, beta: p.beta, a: p.a, lda: p.lda, b: p.b, ldb: p.ldb, c: c, ldc: p.ldc}
			op.check()
			if p.alpha == 0 {
				op.scaleC()
				return
			}
			sgemm(kn, threads, &op)
		})
		p.check(t, fmt.Sprintf("sgemm[%s, %d threads]", kn.name, threads), got)
	})
}

// TestStealLastBlock holds back the goroutine of the second half of C's
// rows as it begins its last block: the other one, done with its own rows,
// must compute those too, and the product must still be exact.
func TestStealLastBlock(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	kn := active
	p := newProblem(rng, false, false, 20*kn.mr+5, 2*kn.nr+3, 2*kcMax+17, 1, 0.5, 0)
	var opened, stolen atomic.Bool
	testHookLastBlock = func(me int, r *region) {
		switch me {
		case 0:
			// Wait until the other part runs on another goroutine.
			for deadline := time.Now().Add(10 * time.Second); !opened.Load() && time.Now().Before(deadline); {
				time.Sleep(100 * time.Microsecond)
			}
		case 1:
			opened.Store(true)
			time.Sleep(50 * time.Millisecond)
			stolen.Store(r.next.Load() >= r.end.Load())
		}
	}
	defer func() { testHookLastBlock = nil }()
	forceParallel(t)
	got := p.run(func(p *problem, c []float32) {
		op := operands{m: p.m, n: p.n, k: p.k, alpha: p.alpha, beta: p.beta,
			a: p.a, lda: p.lda, b: p.b, ldb: p.ldb, c: c, ldc: p.ldc}
		sgemm(kn, 2, &op)
	})
	p.check(t, "sgemm with a stolen last block", got)
	if !opened.Load() || !stolen.Load() {
		t.Errorf("opened %v, stolen %v: the held-back goroutine's rows of the last block were not taken by the other", opened.Load(), stolen.Load())
	}
}

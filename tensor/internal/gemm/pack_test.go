package gemm

import (
	"math/rand/v2"
	"testing"
)

// TestPack checks packA and packB element by element against their
// definition, for all transposes, odd block sizes (partial panels, k not a
// multiple of 4 for the transposing path) and strides beyond the minimum.
func TestPack(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 9))
	for _, w := range []int{4, 6, 12, 16, 32} {
		for trial := 0; trial < 60; trial++ {
			rows, cols := 1+rng.IntN(70), 1+rng.IntN(70)
			ld := cols + rng.IntN(4)
			src := randomMatrix(rng, rows, ld)
			// A block of the stored matrix: its origin and size.
			r0, c0 := rng.IntN(rows), rng.IntN(cols)
			nr, nc := 1+rng.IntN(rows-r0), 1+rng.IntN(cols-c0)
			for _, trans := range []bool{false, true} {
				op := &operands{transA: trans, transB: trans, a: src, lda: ld, b: src, ldb: ld}
				// op(A) = src (or srcᵀ): mb×kb block at (i0, p0).
				i0, p0, mb, kb := r0, c0, nr, nc
				if trans {
					i0, p0, mb, kb = c0, r0, nc, nr
				}
				panels := (mb + w - 1) / w
				dst := make([]float32, panels*w*kb)
				for i := range dst {
					dst[i] = -1 // must all be overwritten
				}
				packA(dst, op, i0, mb, p0, kb, w)
				for q := 0; q < panels; q++ {
					for p := 0; p < kb; p++ {
						for r := 0; r < w; r++ {
							i := q*w + r
							var want float32
							if i < mb {
								want = op.opA(i0+i, p0+p)
							}
							if got := dst[q*w*kb+p*w+r]; got != want {
								t.Fatalf("packA(w=%d, trans=%v, %d×%d at %d,%d): panel %d [%d,%d] = %g; want %g", w, trans, mb, kb, i0, p0, q, p, r, got, want)
							}
						}
					}
				}
				// op(B) = src (or srcᵀ): kb×nb block at (p0, j0).
				p0, j0, kb, nb := r0, c0, nr, nc
				if trans {
					p0, j0, kb, nb = c0, r0, nc, nr
				}
				panels = (nb + w - 1) / w
				dst = make([]float32, panels*w*kb)
				for i := range dst {
					dst[i] = -1
				}
				packB(dst, op, p0, kb, j0, nb, w)
				for q := 0; q < panels; q++ {
					for p := 0; p < kb; p++ {
						for c := 0; c < w; c++ {
							j := q*w + c
							var want float32
							if j < nb {
								want = op.opB(p0+p, j0+j)
							}
							if got := dst[q*w*kb+p*w+c]; got != want {
								t.Fatalf("packB(w=%d, trans=%v, %d×%d at %d,%d): panel %d [%d,%d] = %g; want %g", w, trans, kb, nb, p0, j0, q, p, c, got, want)
							}
						}
					}
				}
			}
		}
	}
}

func (op *operands) opA(i, p int) float32 {
	if op.transA {
		return op.a[p*op.lda+i]
	}
	return op.a[i*op.lda+p]
}

func (op *operands) opB(p, j int) float32 {
	if op.transB {
		return op.b[j*op.ldb+p]
	}
	return op.b[p*op.ldb+j]
}

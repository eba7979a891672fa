package gemm

import "unsafe"

// packA copies the mb×kb block of op(A) starting at row i0, column p0 into
// dst as mr-row micro-panels: panel q holds rows q·mr… of the block, stored
// column after column (mr values per k step), zero-padded past row mb so
// the micro-kernel never sees a partial panel.
func packA(dst []float32, op *operands, i0, mb, p0, kb, mr int) {
	a, lda := op.a, op.lda
	for ir := 0; ir < mb; ir += mr {
		rows := min(mr, mb-ir)
		panel := dst[ir*kb : ir*kb+mr*kb]
		if op.transA {
			// op(A)[i, p] = a[p·lda + i]: each k step is a contiguous run.
			for p := 0; p < kb; p++ {
				src := a[(p0+p)*lda+i0+ir:]
				d := panel[p*mr : p*mr+mr]
				copy(d, src[:rows])
				clear(d[rows:])
			}
			continue
		}
		// op(A)[i, p] = a[i·lda + p]: read each row once, scatter with stride mr.
		for r := 0; r < rows; r++ {
			src := a[(i0+ir+r)*lda+p0:]
			src = src[:kb]
			scatter(panel[r:], src, mr)
		}
		for r := rows; r < mr; r++ {
			for p := 0; p < kb; p++ {
				panel[p*mr+r] = 0
			}
		}
	}
}

// packB copies the kb×nb block of op(B) starting at row p0, column j0 into
// dst as nr-column micro-panels: panel q holds columns q·nr… of the block,
// stored row after row (nr values per k step), zero-padded past column nb.
func packB(dst []float32, op *operands, p0, kb, j0, nb, nr int) {
	b, ldb := op.b, op.ldb
	for jr := 0; jr < nb; jr += nr {
		cols := min(nr, nb-jr)
		panel := dst[jr*kb : jr*kb+nr*kb]
		if !op.transB {
			// op(B)[p, j] = b[p·ldb + j]: each k step is a contiguous run.
			for p := 0; p < kb; p++ {
				src := b[(p0+p)*ldb+j0+jr:]
				d := panel[p*nr : p*nr+nr]
				copy(d, src[:cols])
				clear(d[cols:])
			}
			continue
		}
		// op(B)[p, j] = b[j·ldb + p]: read each stored row once, scatter.
		for c := 0; c < cols; c++ {
			src := b[(j0+jr+c)*ldb+p0:]
			src = src[:kb]
			scatter(panel[c:], src, nr)
		}
		for c := cols; c < nr; c++ {
			for p := 0; p < kb; p++ {
				panel[p*nr+c] = 0
			}
		}
	}
}

// scatter writes src[p] to dst[p·stride]. dst must hold
// (len(src)-1)·stride+1 values; the caller's slicing checks that once, so
// the loop runs without bounds checks.
func scatter(dst, src []float32, stride int) {
	if len(src) == 0 {
		return
	}
	_ = dst[(len(src)-1)*stride]
	d := unsafe.Pointer(unsafe.SliceData(dst))
	step := uintptr(stride) * 4
	for p, v := range src {
		*(*float32)(unsafe.Add(d, uintptr(p)*step)) = v
	}
}

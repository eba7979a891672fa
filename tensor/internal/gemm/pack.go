package gemm

import "unsafe"

// packA copies the mb×kb block of op(A) starting at row i0, column p0 into
// dst as mr-row micro-panels: panel q holds rows q·mr… of the block, stored
// column after column (mr values per k step), zero-padded past row mb so
// the micro-kernel never sees a partial panel.
func packA(dst []float32, op *operands, i0, mb, p0, kb, mr int) {
	for ir := 0; ir < mb; ir += mr {
		rows := min(mr, mb-ir)
		panel := dst[ir*kb : ir*kb+mr*kb]
		if op.transA {
			// op(A)[i, p] = a[p·lda + i]: each k step is a contiguous run.
			packRuns(panel, mr, rows, op.a, p0*op.lda+i0+ir, op.lda, kb)
		} else {
			// op(A)[i, p] = a[i·lda + p]: rows of the panel are rows of A.
			packTransposed(panel, mr, rows, op.a, (i0+ir)*op.lda+p0, op.lda, kb)
		}
	}
}

// packB copies the kb×nb block of op(B) starting at row p0, column j0 into
// dst as nr-column micro-panels: panel q holds columns q·nr… of the block,
// stored row after row (nr values per k step), zero-padded past column nb.
func packB(dst []float32, op *operands, p0, kb, j0, nb, nr int) {
	for jr := 0; jr < nb; jr += nr {
		cols := min(nr, nb-jr)
		panel := dst[jr*kb : jr*kb+nr*kb]
		switch {
		case op.transB:
			// op(B)[p, j] = b[j·ldb + p]: columns of the panel are rows of B.
			packTransposed(panel, nr, cols, op.b, (j0+jr)*op.ldb+p0, op.ldb, kb)
		default:
			// op(B)[p, j] = b[p·ldb + j]: each k step is a contiguous run.
			packRuns(panel, nr, cols, op.b, p0*op.ldb+j0+jr, op.ldb, kb)
		}
	}
}

// packRuns fills one panel of width w from kb runs of n ≤ w contiguous
// values: panel[p·w + x] = src[off + p·ld + x], zero for x ≥ n.
func packRuns(panel []float32, w, n int, src []float32, off, ld, kb int) {
	if haveTranspose4 && n == w && (w == 12 || w == 32) {
		// Full panels of the AVX-512 kernel: an assembly loop instead of a
		// call to memmove for every k step.
		_ = src[off+(kb-1)*ld+w-1]
		_ = panel[kb*w-1]
		if w == 12 {
			copy12(&panel[0], &src[off], ld, kb)
		} else {
			copy32(&panel[0], &src[off], ld, kb)
		}
		return
	}
	for p := 0; p < kb; p++ {
		d := panel[p*w : p*w+w]
		copy(d, src[off+p*ld:off+p*ld+n])
		clear(d[n:])
	}
}

// packTransposed fills one panel of width w from n ≤ w source rows of kb
// contiguous values: panel[p·w + x] = src[off + x·ld + p], zero for x ≥ n.
func packTransposed(panel []float32, w, n int, src []float32, off, ld, kb int) {
	x := 0
	if haveTranspose4 && kb >= 4 {
		k4 := kb &^ 3
		for ; x+4 <= n; x += 4 {
			// Check once what the assembly will touch.
			_ = src[off+(x+3)*ld+k4-1]
			_ = panel[(k4-1)*w+x+3]
			if k8 := kb &^ 7; haveAVX && k8 > 0 {
				transpose4x8(&panel[x], w, &src[off+x*ld], ld, k8)
				if k8 < k4 {
					transpose4(&panel[k8*w+x], w, &src[off+x*ld+k8], ld, k4-k8)
				}
			} else {
				transpose4(&panel[x], w, &src[off+x*ld], ld, k4)
			}
			for r := x; r < x+4 && k4 < kb; r++ {
				row := src[off+r*ld+k4 : off+r*ld+kb]
				scatter(panel[k4*w+r:], row, w)
			}
		}
	}
	for ; x < n; x++ {
		scatter(panel[x:], src[off+x*ld:off+x*ld+kb], w)
	}
	for ; x < w; x++ {
		for p := 0; p < kb; p++ {
			panel[p*w+x] = 0
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

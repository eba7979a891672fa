package tensor

import (
	"fmt"
	"slices"
	"sync"

	"github.com/shoal-dl/shoal/tensor/internal/gemm"
)

// ConvGeom is the geometry of a 2-D convolution or pooling window: kernel
// (or window) height and width, strides and zero padding on each side.
// Kernel sizes and strides must be at least 1; a zero stride is not read
// as 1, it panics like any other bad geometry.
type ConvGeom struct{ KH, KW, StrideH, StrideW, PadH, PadW int }

// check panics when g cannot describe a window.
func (g ConvGeom) check() {
	if g.KH < 1 || g.KW < 1 || g.StrideH < 1 || g.StrideW < 1 || g.PadH < 0 || g.PadW < 0 {
		panic(fmt.Sprintf("tensor: ConvGeom %+v: kernel sizes and strides must be >= 1 and paddings >= 0", g))
	}
}

// OutSize returns the output height and width for an h×w input:
// ⌊(h + 2·PadH − KH)/StrideH⌋ + 1, likewise for the width, or 0 when the
// window does not fit.
func (g ConvGeom) OutSize(h, w int) (oh, ow int) {
	g.check()
	return outLen(h, g.KH, g.StrideH, g.PadH), outLen(w, g.KW, g.StrideW, g.PadW)
}

func outLen(n, k, stride, pad int) int {
	if n+2*pad < k {
		return 0
	}
	return (n+2*pad-k)/stride + 1
}

// validRange returns the outputs [lo, hi) whose input index o·stride −
// pad + k falls inside [0, n) for kernel offset k.
func validRange(n, out, k, stride, pad int) (lo, hi int) {
	if d := pad - k; d > 0 {
		lo = (d + stride - 1) / stride
	}
	last := n - 1 + pad - k // largest o·stride allowed
	if last < 0 {
		return 0, 0
	}
	hi = min(out, last/stride+1)
	if lo > hi {
		lo = hi
	}
	return lo, hi
}

// Im2Col lays out the receptive fields of one c×h×w image as the columns of
// a [c·KH·KW, oh·ow] matrix: row (ci·KH + kh)·KW + kw, column oy·ow + ox
// holds img[ci, oy·StrideH − PadH + kh, ox·StrideW − PadW + kw], or 0 in the
// padding. A convolution is then one GEMM of the [F, c·KH·KW] weights with
// col.
func Im2Col(col, img []float32, c, h, w int, g ConvGeom) {
	oh, ow := g.OutSize(h, w)
	checkCol("Im2Col", col, img, c, h, w, oh, ow, g)
	p := oh * ow
	for ci := 0; ci < c; ci++ {
		plane := img[ci*h*w : (ci+1)*h*w]
		for kh := 0; kh < g.KH; kh++ {
			ylo, yhi := validRange(h, oh, kh, g.StrideH, g.PadH)
			for kw := 0; kw < g.KW; kw++ {
				row := col[((ci*g.KH+kh)*g.KW+kw)*p:][:p]
				xlo, xhi := validRange(w, ow, kw, g.StrideW, g.PadW)
				clear(row[:ylo*ow])
				clear(row[yhi*ow:])
				for oy := ylo; oy < yhi; oy++ {
					out := row[oy*ow : oy*ow+ow]
					src := plane[(oy*g.StrideH-g.PadH+kh)*w:][:w]
					clear(out[:xlo])
					clear(out[xhi:])
					shift := kw - g.PadW
					if g.StrideW == 1 {
						copy(out[xlo:xhi], src[xlo+shift:xhi+shift])
						continue
					}
					for ox := xlo; ox < xhi; ox++ {
						out[ox] = src[ox*g.StrideW+shift]
					}
				}
			}
		}
	}
}

// Col2Im is the adjoint of Im2Col: it adds every entry of col into the
// image position it was read from (entries from the padding are dropped).
// Convolution backward uses it to turn column gradients into dx.
func Col2Im(img, col []float32, c, h, w int, g ConvGeom) {
	oh, ow := g.OutSize(h, w)
	checkCol("Col2Im", col, img, c, h, w, oh, ow, g)
	p := oh * ow
	for ci := 0; ci < c; ci++ {
		plane := img[ci*h*w : (ci+1)*h*w]
		for kh := 0; kh < g.KH; kh++ {
			ylo, yhi := validRange(h, oh, kh, g.StrideH, g.PadH)
			for kw := 0; kw < g.KW; kw++ {
				row := col[((ci*g.KH+kh)*g.KW+kw)*p:][:p]
				xlo, xhi := validRange(w, ow, kw, g.StrideW, g.PadW)
				shift := kw - g.PadW
				for oy := ylo; oy < yhi; oy++ {
					in := row[oy*ow : oy*ow+ow]
					dst := plane[(oy*g.StrideH-g.PadH+kh)*w:][:w]
					if g.StrideW == 1 {
						d, s := dst[xlo+shift:xhi+shift], in[xlo:xhi]
						s = s[:len(d)]
						for i := range d {
							d[i] += s[i]
						}
						continue
					}
					for ox := xlo; ox < xhi; ox++ {
						dst[ox*g.StrideW+shift] += in[ox]
					}
				}
			}
		}
	}
}

func checkCol(op string, col, img []float32, c, h, w, oh, ow int, g ConvGeom) {
	if len(img) != c*h*w || len(col) != c*g.KH*g.KW*oh*ow {
		panic(fmt.Sprintf("tensor: %s: image of %d values and col of %d do not match [%d %d %d] with %+v (want %d and %d)",
			op, len(img), len(col), c, h, w, g, c*h*w, c*g.KH*g.KW*oh*ow))
	}
}

// convDims are the sizes of a convolution: batch, channels, input
// height and width, filters, output height and width.
type convDims struct {
	n, c, h, w, f, oh, ow int
}

func (d convDims) ckk(g ConvGeom) int { return d.c * g.KH * g.KW }

// direct reports a 1×1, stride-1, unpadded kernel whose im2col matrix is
// the image itself.
func (g ConvGeom) direct() bool {
	return g.KH == 1 && g.KW == 1 && g.StrideH == 1 && g.StrideW == 1 && g.PadH == 0 && g.PadW == 0
}

func convCheck(op string, x, w *Tensor, g ConvGeom) convDims {
	g.check()
	if len(x.Shape) != 4 || len(w.Shape) != 4 || w.Shape[1] != x.Shape[1] || w.Shape[2] != g.KH || w.Shape[3] != g.KW {
		panic(fmt.Sprintf("tensor: %s: shapes %v and %v do not match (want x [N C H W], w [F C %d %d])", op, x.Shape, w.Shape, g.KH, g.KW))
	}
	d := convDims{n: x.Shape[0], c: x.Shape[1], h: x.Shape[2], w: x.Shape[3], f: w.Shape[0]}
	d.oh, d.ow = g.OutSize(d.h, d.w)
	if d.oh < 1 || d.ow < 1 {
		panic(fmt.Sprintf("tensor: %s: %+v does not fit input %v", op, g, x.Shape))
	}
	return d
}

// checkDims panics unless t has shape want.
func checkDims(op, what string, t *Tensor, want ...int) {
	if !SameShape(t.Shape, want) {
		// Copy so that want, built by the caller for each call, stays on
		// its stack.
		panic(fmt.Sprintf("tensor: %s: %s shape %v, want %v", op, what, t.Shape, append([]int(nil), want...)))
	}
}

// scratchPool recycles im2col buffers and partial weight gradients.
var scratchPool sync.Pool

func getScratch(n int) *[]float32 {
	if p, ok := scratchPool.Get().(*[]float32); ok && cap(*p) >= n {
		*p = (*p)[:n]
		return p
	}
	s := make([]float32, n)
	return &s
}

func putScratch(p *[]float32) { scratchPool.Put(p) }

// Conv2D sets dst to the cross-correlation of x [N, C, H, W] with weights w
// [F, C, KH, KW] plus bias b [F] (nil for none): dst [N, F, OH, OW] with OH,
// OW from g.OutSize. Each image is one GEMM of w with its im2col matrix;
// images run in parallel, one single-threaded GEMM each. A 1×1 stride-1
// unpadded kernel multiplies the image directly.
func Conv2D(dst, x, w, b *Tensor, g ConvGeom) {
	d := convCheck("Conv2D", x, w, g)
	checkDims("Conv2D", "dst", dst, d.n, d.f, d.oh, d.ow)
	if b != nil && len(b.Data) != d.f {
		panic(fmt.Sprintf("tensor: Conv2D: bias shape %v, want [%d]", b.Shape, d.f))
	}
	ckk, p := d.ckk(g), d.oh*d.ow
	imgLen, outLen := d.c*d.h*d.w, d.f*p
	threads := Threads()
	images := func(lo, hi, gemmThreads int) {
		var col *[]float32
		if !g.direct() {
			col = getScratch(ckk * p)
			defer putScratch(col)
		}
		for n := lo; n < hi; n++ {
			xn := x.Data[n*imgLen : (n+1)*imgLen]
			yn := dst.Data[n*outLen : (n+1)*outLen]
			src := xn
			if col != nil {
				Im2Col(*col, xn, d.c, d.h, d.w, g)
				src = *col
			}
			var beta float32
			if b != nil {
				for f, bf := range b.Data {
					fillKernel(yn[f*p:(f+1)*p], nil, bf)
				}
				beta = 1
			}
			gemm.SgemmThreads(gemmThreads, false, false, d.f, p, ckk, 1, w.Data, ckk, src, p, beta, yn, p)
		}
	}
	if d.n < threads {
		images(0, d.n, threads)
		return
	}
	ParallelFor(d.n, 1, func(lo, hi int) { images(lo, hi, 1) })
}

// Conv2DGrad adds into dx, dw and db (any may be nil) the gradients of
// Conv2D(y, x, w, b, g) given dy = ∂L/∂y. Images run in parallel; each
// chunk of images sums its weight gradient in a private buffer and the
// buffers are added in a fixed order, so results depend only on Threads().
func Conv2DGrad(dx, dw, db, x, w, dy *Tensor, g ConvGeom) {
	d := convCheck("Conv2DGrad", x, w, g)
	checkDims("Conv2DGrad", "dy", dy, d.n, d.f, d.oh, d.ow)
	if dx != nil {
		checkDims("Conv2DGrad", "dx", dx, x.Shape...)
	}
	if dw != nil {
		checkDims("Conv2DGrad", "dw", dw, w.Shape...)
	}
	if db != nil && len(db.Data) != d.f {
		panic(fmt.Sprintf("tensor: Conv2DGrad: db shape %v, want [%d]", db.Shape, d.f))
	}
	ckk, p := d.ckk(g), d.oh*d.ow
	imgLen, outLen := d.c*d.h*d.w, d.f*p
	if db != nil {
		for n := 0; n < d.n; n++ {
			for f := range db.Data {
				db.Data[f] += float32(sum64(dy.Data[n*outLen+f*p : n*outLen+(f+1)*p]))
			}
		}
	}
	if dx == nil && dw == nil {
		return
	}
	threads := Threads()
	// images handles [lo, hi) and adds their weight gradient, transposed
	// to [ckk, F], into dwAcc.
	images := func(lo, hi, gemmThreads int, dwAcc []float32) {
		var col *[]float32
		if !g.direct() {
			col = getScratch(ckk * p)
			defer putScratch(col)
		}
		for n := lo; n < hi; n++ {
			xn := x.Data[n*imgLen : (n+1)*imgLen]
			dyn := dy.Data[n*outLen : (n+1)*outLen]
			if dwAcc != nil {
				src := xn
				if col != nil {
					Im2Col(*col, xn, d.c, d.h, d.w, g)
					src = *col
				}
				// dwᵀ [ckk, F] += col_n [ckk, p] · dy_nᵀ [p, F]: ckk rows
				// fill the 12-row register tiles better than F rows do.
				gemm.SgemmThreads(gemmThreads, false, true, ckk, d.f, p, 1, src, p, dyn, p, 1, dwAcc, d.f)
			}
			if dx != nil {
				dxn := dx.Data[n*imgLen : (n+1)*imgLen]
				// col [ckk, p] = wᵀ [ckk, F] · dy_n [F, p]
				if col == nil {
					gemm.SgemmThreads(gemmThreads, true, false, ckk, p, d.f, 1, w.Data, ckk, dyn, p, 1, dxn, p)
					continue
				}
				gemm.SgemmThreads(gemmThreads, true, false, ckk, p, d.f, 1, w.Data, ckk, dyn, p, 0, *col, p)
				Col2Im(dxn, *col, d.c, d.h, d.w, g)
			}
		}
	}
	if dw == nil {
		if d.n < threads {
			images(0, d.n, threads, nil)
		} else {
			ParallelFor(d.n, 1, func(lo, hi int) { images(lo, hi, 1, nil) })
		}
		return
	}
	// Each chunk of images sums its weight gradient transposed, [ckk, F],
	// in a private buffer; the buffers are added into dw in a fixed order.
	if d.n < threads {
		buf := getScratch(len(dw.Data))
		clear(*buf)
		images(0, d.n, threads, *buf)
		addTransposed(dw.Data, *buf, ckk, d.f)
		putScratch(buf)
		return
	}
	type partial struct {
		lo  int
		buf *[]float32
	}
	var (
		mu    sync.Mutex // guards parts
		parts []partial
	)
	ParallelFor(d.n, 1, func(lo, hi int) {
		buf := getScratch(len(dw.Data))
		clear(*buf)
		images(lo, hi, 1, *buf)
		mu.Lock()
		parts = append(parts, partial{lo, buf})
		mu.Unlock()
	})
	slices.SortFunc(parts, func(a, b partial) int { return a.lo - b.lo })
	for _, pt := range parts {
		addTransposed(dw.Data, *pt.buf, ckk, d.f)
		putScratch(pt.buf)
	}
}

// addTransposed adds tᵀ into y [f, r] for t [r, f].
func addTransposed(y, t []float32, r, f int) {
	y, t = y[:f*r], t[:r*f]
	for i := 0; i < r; i++ {
		row := t[i*f : (i+1)*f]
		for j, v := range row {
			y[j*r+i] += v
		}
	}
}

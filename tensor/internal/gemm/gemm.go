package gemm

import (
	"fmt"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/shoal-dl/shoal/internal/workers"
)

var threads atomic.Int32

// SetThreads sets how many goroutines one Sgemm call may use (n >= 1).
func SetThreads(n int) { threads.Store(int32(max(n, 1))) }

// Threads returns the current thread count.
func Threads() int { return int(max(threads.Load(), 1)) }

// Sgemm computes C = alpha·op(A)·op(B) + beta·C for row-major matrices where
// op(A) is m×k, op(B) is k×n and C is m×n. When transA is set, A is stored
// k×m; when transB is set, B is stored n×k.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	SgemmThreads(Threads(), transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// SgemmThreads is Sgemm with an explicit thread count, for callers that
// already run in parallel (one GEMM per image of a batch, say) and want 1.
func SgemmThreads(threads int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	op := operands{
		transA: transA, transB: transB,
		m: m, n: n, k: k,
		alpha: alpha, beta: beta,
		a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc,
	}
	op.check()
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		op.scaleC()
		return
	}
	if m*n*k <= tinyWork {
		op.tiny()
		return
	}
	sgemm(active, threads, &op)
}

// tinyWork is the size (m·n·k) up to which packing costs more than it
// saves and tiny computes C directly.
const tinyWork = 128

// tiny computes C = alpha·op(A)·op(B) + beta·C with plain loops, for
// problems so small that setting up the packed path would dominate.
func (op *operands) tiny() {
	a, b, c := op.a, op.b, op.c
	for i := 0; i < op.m; i++ {
		for j := 0; j < op.n; j++ {
			var s float32
			for p := 0; p < op.k; p++ {
				ai, bj := i*op.lda+p, p*op.ldb+j
				if op.transA {
					ai = p*op.lda + i
				}
				if op.transB {
					bj = j*op.ldb + p
				}
				s += a[ai] * b[bj]
			}
			if op.beta == 0 {
				c[i*op.ldc+j] = op.alpha * s
			} else {
				c[i*op.ldc+j] = op.alpha*s + op.beta*c[i*op.ldc+j]
			}
		}
	}
}

// operands is one call's arguments, shared read-only by the goroutines
// working on it (each writes its own part of C).
type operands struct {
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	a              []float32
	lda            int
	b              []float32
	ldb            int
	c              []float32
	ldc            int
}

// check panics when the sizes do not describe valid matrices: a wrong
// shape is a programmer error in the caller.
func (op *operands) check() {
	if op.m < 0 || op.n < 0 || op.k < 0 {
		panic(fmt.Sprintf("gemm: negative dimension m=%d n=%d k=%d", op.m, op.n, op.k))
	}
	rowsA, colsA := op.m, op.k
	if op.transA {
		rowsA, colsA = op.k, op.m
	}
	rowsB, colsB := op.k, op.n
	if op.transB {
		rowsB, colsB = op.n, op.k
	}
	checkMatrix("A", "lda", op.a, rowsA, colsA, op.lda)
	checkMatrix("B", "ldb", op.b, rowsB, colsB, op.ldb)
	checkMatrix("C", "ldc", op.c, op.m, op.n, op.ldc)
}

func checkMatrix(name, ldName string, s []float32, rows, cols, ld int) {
	if ld < max(cols, 1) {
		panic(fmt.Sprintf("gemm: %s = %d is less than max(1, %d columns of %s)", ldName, ld, cols, name))
	}
	if rows == 0 || cols == 0 {
		return
	}
	if need := (rows-1)*ld + cols; len(s) < need {
		panic(fmt.Sprintf("gemm: %s has %d values; a %d×%d matrix with stride %d needs %d", name, len(s), rows, cols, ld, need))
	}
}

// scaleC sets C = beta·C, the whole product when k or alpha is zero.
func (op *operands) scaleC() {
	for i := 0; i < op.m; i++ {
		row := op.c[i*op.ldc : i*op.ldc+op.n]
		if op.beta == 0 {
			clear(row)
			continue
		}
		for j := range row {
			row[j] *= op.beta
		}
	}
}

// Block sizes. kc·nr floats of packed B (one micro-panel) stay in L1 while
// the micro-kernel sweeps the mc×kc packed block of A held in L2; the
// kc×nc packed block of B is read once per mc block from L3.
const (
	kcMax = 256
	mcMax = 480
	ncMax = 4096
)

// blockSize splits n into the fewest blocks of at most limit and returns
// the block length, rounded up to a multiple of unit, so blocks come out
// even instead of leaving a sliver at the end.
func blockSize(n, limit, unit int) int {
	blocks := (n + limit - 1) / limit
	size := (n + blocks - 1) / blocks
	return (size + unit - 1) / unit * unit
}

// workspace holds one goroutine's packing buffers, taken from wsPool for
// each part of a call, so that steady-state calls allocate nothing.
type workspace struct {
	a, b []float32
	tile []float32 // mr×nr result of an edge tile before it is added to C
}

var wsPool = sync.Pool{New: func() any { return new(workspace) }}

// alignedFloats returns n zeroed floats starting on a 64-byte boundary, so
// that vector loads from packed panels never split a cache line.
func alignedFloats(n int) []float32 {
	buf := make([]float32, n+16)
	off := int(uintptr(unsafe.Pointer(&buf[0]))%64) / 4
	if off != 0 {
		off = 16 - off
	}
	return buf[off : off+n : off+n]
}

func (ws *workspace) reserve(na, nb, nt int) {
	if len(ws.a) < na {
		ws.a = alignedFloats(na)
	}
	if len(ws.b) < nb {
		ws.b = alignedFloats(nb)
	}
	if len(ws.tile) < nt {
		ws.tile = alignedFloats(nt)
	}
}

// part computes rows [m0, m1) and columns [n0, n1) of C with kernel kn,
// packing into ws. When the goroutines of a call split C by rows only,
// regions holds one entry per goroutine and me is this one's: the rows of
// the last block of k (and of n) are then taken in chunks, and a goroutine
// that is done with its own takes what is left of the others' (see
// region). Otherwise regions is nil.
func (op *operands) part(kn *kernel, ws *workspace, m0, m1, n0, n1 int, regions []region, me int) {
	mr, nr := kn.mr, kn.nr
	mb, nb := m1-m0, n1-n0
	kc := blockSize(op.k, kcMax, 1)
	mc := blockSize(mb, mcMax, mr)
	nc := blockSize(nb, ncMax, nr)

	ws.reserve(mc*kc, kc*nc, mr*nr)
	for jc := n0; jc < n1; jc += nc {
		ncb := min(nc, n1-jc)
		for pc := 0; pc < op.k; pc += kc {
			kcb := min(kc, op.k-pc)
			beta := op.beta
			if pc > 0 {
				beta = 1
			}
			direct := directB(op, mb, kcb)
			if !direct {
				packB(ws.b, op, pc, kcb, jc, ncb, nr)
			} else if full := ncb / nr * nr; full < ncb {
				packB(ws.b, op, pc, kcb, jc+full, ncb-full, nr)
			}
			if regions != nil && !direct && jc+nc >= n1 && pc+kc >= op.k {
				r := &regions[me]
				r.end.Store(int32(m1))
				r.next.Store(int32(m0))
				r.open.Store(true)
				if testHookLastBlock != nil {
					testHookLastBlock(me, r)
				}
				op.lastRows(kn, ws, r, jc, ncb, pc, kcb, beta)
				for i := range regions {
					if i != me && regions[i].open.Load() {
						op.lastRows(kn, ws, &regions[i], jc, ncb, pc, kcb, beta)
					}
				}
				continue
			}
			for ic := m0; ic < m1; ic += mc {
				mcb := min(mc, m1-ic)
				packA(ws.a, op, ic, mcb, pc, kcb, mr)
				op.macroKernel(kn, ws, ic, mcb, jc, ncb, pc, kcb, beta, direct)
			}
		}
	}
}

// region is the part of the last block of a call's work that belongs to
// one goroutine's rows of C. Every goroutine of a call that splits C by
// rows packs the same blocks of B, so one that is done with its own rows
// can compute any other's with its own copy of the last block, once that
// goroutine has begun it (its rows are then done with every block before).
// The rows go in chunks of stealTiles tiles, so a goroutine on a core that
// is slower for the moment (another tenant, another process) ends with a
// smaller share instead of keeping the others waiting.
type region struct {
	next, end atomic.Int32 // rows [next, end) are left to take
	open      atomic.Bool  // the owner has begun its last block
	_         [52]byte
}

// testHookLastBlock, set by tests, runs as goroutine me opens region r.
var testHookLastBlock func(me int, r *region)

// stealTiles is how many tiles of rows one chunk of a last block holds.
const stealTiles = 4

// lastRows computes chunks of r's rows with the packed block of B in ws
// until none are left.
func (op *operands) lastRows(kn *kernel, ws *workspace, r *region, jc, ncb, pc, kcb int, beta float32) {
	chunk := int32(stealTiles * kn.mr)
	end := int(r.end.Load())
	for {
		ic := int(r.next.Add(chunk) - chunk)
		if ic >= end {
			return
		}
		mcb := min(int(chunk), end-ic)
		packA(ws.a, op, ic, mcb, pc, kcb, kn.mr)
		op.macroKernel(kn, ws, ic, mcb, jc, ncb, pc, kcb, beta, false)
	}
}

// partPooled is part with a workspace from wsPool, for the calling
// goroutine.
func (op *operands) partPooled(kn *kernel, m0, m1, n0, n1 int, regions []region, me int) {
	ws := wsPool.Get().(*workspace)
	op.part(kn, ws, m0, m1, n0, n1, regions, me)
	wsPool.Put(ws)
}

// macroKernel multiplies the packed mcb×kcb block of A by the kcb×ncb
// block of op(B) into C[ic:ic+mcb, jc:jc+ncb], one micro-tile at a time.
// B is packed in ws.b, or with direct set read in place from B except for
// a last partial panel, packed at the start of ws.b. Tiles that stick out
// of C go through ws.tile.
func (op *operands) macroKernel(kn *kernel, ws *workspace, ic, mcb, jc, ncb, pc, kcb int, beta float32, direct bool) {
	mr, nr := kn.mr, kn.nr
	c, ldc, alpha := op.c, op.ldc, op.alpha
	for jr := 0; jr < ncb; jr += nr {
		cols := min(nr, ncb-jr)
		pb, ldb := &ws.b[jr*kcb], nr
		if direct {
			if cols == nr {
				pb, ldb = &op.b[pc*op.ldb+jc+jr], op.ldb
			} else {
				pb = &ws.b[0]
			}
		}
		for ir := 0; ir < mcb; ir += mr {
			rows := min(mr, mcb-ir)
			pa := &ws.a[ir*kcb]
			ci := (ic+ir)*ldc + jc + jr
			if rows == mr && cols == nr {
				kn.fn(kcb, pa, pb, ldb, &c[ci], ldc, alpha, beta)
				continue
			}
			t := ws.tile[:mr*nr]
			kn.fn(kcb, pa, pb, ldb, &t[0], nr, alpha, 0)
			for i := 0; i < rows; i++ {
				dst := c[ci+i*ldc : ci+i*ldc+cols]
				src := t[i*nr : i*nr+cols]
				if beta == 0 {
					copy(dst, src)
					continue
				}
				for j, v := range src {
					dst[j] = v + beta*dst[j]
				}
			}
		}
	}
}

// directB says whether the micro-kernels should read op(B) in place
// rather than from packed panels: when B is not transposed and each of its
// panels serves so few tiles of A (mb rows) over so few k steps that
// copying it would cost more than it saves.
func directB(op *operands, mb, kcb int) bool {
	return !op.transB && mb <= directMaxRows && kcb <= directMaxK
}

// Limits of directB: up to three tiles of A (of 12 rows) and 64 k steps,
// where a 32-wide panel read in place (8 KiB at most) stays in L1.
const (
	directMaxRows = 36
	directMaxK    = 64
)

// active is the fastest kernel this CPU runs; kernels lists all of them.
var (
	kernels = availableKernels()
	active  = &kernels[0]
)

// Parallel thresholds, in multiply-adds (m·n·k). Handing work to another
// goroutine costs a few microseconds, so each one must get enough to pay.
// Variables only so that tests can split small problems too.
var (
	minParallelWork = 1 << 21
	workPerThread   = 1 << 20
)

// sgemm runs op with up to threads goroutines: C is cut into a grid of
// rectangles, one per goroutine, each packing and computing on its own
// (on the workers of package workers).
func sgemm(kn *kernel, threads int, op *operands) {
	work := op.m * op.n * op.k
	if threads <= 1 || work < minParallelWork {
		op.partPooled(kn, 0, op.m, 0, op.n, nil, 0)
		return
	}
	tilesM := (op.m + kn.mr - 1) / kn.mr
	tilesN := (op.n + kn.nr - 1) / kn.nr
	threads = min(threads, work/workPerThread, tilesM*tilesN, maxThreads)
	if threads <= 1 {
		op.partPooled(kn, 0, op.m, 0, op.n, nil, 0)
		return
	}
	gm, gn := gridShape(threads, tilesM, tilesN, kn.mr, kn.nr, packCost(!op.transA), packCost(op.transB))

	cl := callPool.Get().(*call)
	cl.op, cl.kn, cl.gm, cl.gn = *op, kn, gm, gn
	cl.tilesM, cl.tilesN = tilesM, tilesN
	if gn == 1 {
		if len(cl.regions) < gm {
			cl.regions = make([]region, gm)
		}
		for i := range cl.regions[:gm] {
			cl.regions[i].open.Store(false)
		}
	}
	workers.Run(gm*gn, gm*gn, cl)
	cl.op, cl.kn = operands{}, nil // drop references to the caller's slices
	callPool.Put(cl)
}

// span returns the rows (or columns) of part i when tiles tiles of size
// unit, covering n, are dealt out evenly to parts parts.
func span(tiles, parts, i, unit, n int) (lo, hi int) {
	lo = tiles * i / parts * unit
	hi = min(tiles*(i+1)/parts*unit, n)
	return lo, hi
}

// packCost is the cost of packing one row of A or column of B per k step,
// in multiply-adds of the micro-kernel: about twice as much when the
// packing transposes as when it copies runs.
func packCost(transposing bool) int {
	if transposing {
		return 48
	}
	return 24
}

// gridShape picks gm×gn == threads rectangles for a tilesM×tilesN tile
// grid, minimising the largest rectangle's work plus the packing each
// rectangle repeats: all of A's rows it covers, at costA each, and all
// of B's columns, at costB.
func gridShape(threads, tilesM, tilesN, mr, nr, costA, costB int) (gm, gn int) {
	best := -1
	for d := 1; d <= threads; d++ {
		if threads%d != 0 || d > tilesM || threads/d > tilesN {
			continue
		}
		rows := (tilesM + d - 1) / d * mr
		cols := (tilesN + threads/d - 1) / (threads / d) * nr
		cost := rows*cols + costA*rows + costB*cols
		if best < 0 || cost < best {
			best, gm, gn = cost, d, threads/d
		}
	}
	if best < 0 {
		// threads has no factorisation that fits (a prime larger than both
		// tile counts): use a single row or column of rectangles.
		if tilesM >= tilesN {
			return min(threads, tilesM), 1
		}
		return 1, min(threads, tilesN)
	}
	return gm, gn
}

// maxThreads caps the goroutines of one call.
const maxThreads = 256

// call is one parallel Sgemm: its operands and the gm×gn grid of
// rectangles of C, one part each (see workers.Run). Calls are pooled so
// that a steady stream of them allocates nothing.
type call struct {
	op             operands
	kn             *kernel
	gm, gn         int
	tilesM, tilesN int
	regions        []region // with gn == 1, the first gm are the rectangles' (see region); kept across calls
}

var callPool = sync.Pool{New: func() any { return new(call) }}

// RunPart computes rectangle t of the grid, row-major, packing into a
// workspace from wsPool.
func (cl *call) RunPart(t int) {
	m0, m1 := span(cl.tilesM, cl.gm, t/cl.gn, cl.kn.mr, cl.op.m)
	n0, n1 := span(cl.tilesN, cl.gn, t%cl.gn, cl.kn.nr, cl.op.n)
	var regions []region
	if cl.gn == 1 {
		regions = cl.regions[:cl.gm]
	}
	cl.op.partPooled(cl.kn, m0, m1, n0, n1, regions, t)
}

// sgemmRef is the plain triple loop every faster path is checked against.
func sgemmRef(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float32
			for p := 0; p < k; p++ {
				var av, bv float32
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += av * bv
			}
			if beta == 0 {
				c[i*ldc+j] = alpha * s
			} else {
				c[i*ldc+j] = alpha*s + beta*c[i*ldc+j]
			}
		}
	}
}

package tensor

import (
	"fmt"
	"math"
)

// poolDims checks a pooling input [N, C, H, W] against its output and
// returns the plane count N·C and the sizes of one input and output plane.
func poolDims(op string, x, out *Tensor, g ConvGeom) (planes, h, w, oh, ow int) {
	g.check()
	if len(x.Shape) != 4 {
		panic(fmt.Sprintf("tensor: %s: input shape %v is not [N C H W]", op, x.Shape))
	}
	h, w = x.Shape[2], x.Shape[3]
	oh, ow = g.OutSize(h, w)
	checkDims(op, "output", out, x.Shape[0], x.Shape[1], oh, ow)
	return x.Shape[0] * x.Shape[1], h, w, oh, ow
}

// poolJob carries one pooling call's operands so that small calls run
// without building a closure: only the parallel path copies it to the heap.
type poolJob struct {
	out, in []float32 // output and input planes, back to back
	argmax  []int32
	h, w    int
	oh, ow  int
	g       ConvGeom
	planes  int
	inv     float32 // 1/(KH·KW) for averages
	kind    poolKind
}

// poolKind selects the loop poolJob.apply runs.
type poolKind uint8

const (
	maxPoolKind poolKind = iota
	maxPoolGradKind
	avgPoolKind
	avgPoolGradKind
)

// apply runs the job's loop over planes [lo, hi).
func (j *poolJob) apply(lo, hi int) {
	switch j.kind {
	case maxPoolKind:
		maxPoolPlanes(j, lo, hi)
	case maxPoolGradKind:
		maxPoolGradPlanes(j, lo, hi)
	case avgPoolKind:
		avgPoolPlanes(j, lo, hi)
	default:
		avgPoolGradPlanes(j, lo, hi)
	}
}

// run applies the job to all planes, in parallel chunks of about
// elemGrain input elements when there are many.
func (j poolJob) run() {
	hw := j.h * j.w
	if j.planes*hw <= elemGrain {
		j.apply(0, j.planes)
		return
	}
	heap := j
	ParallelFor(j.planes, max(1, elemGrain/max(hw, 1)), heap.apply)
}

// MaxPool2D sets dst [N, C, OH, OW] to the maximum of each KH×KW window of x
// [N, C, H, W] (windows placed as in ConvGeom; padded positions never win)
// and, when argmax is not nil, argmax[i] to the index within its input
// plane (iy·W + ix) of the element that produced dst.Data[i]. A window that
// lies wholly in the padding yields 0 and index −1.
func MaxPool2D(dst *Tensor, argmax []int32, x *Tensor, g ConvGeom) {
	planes, h, w, oh, ow := poolDims("MaxPool2D", x, dst, g)
	if argmax != nil && len(argmax) != len(dst.Data) {
		panic(fmt.Sprintf("tensor: MaxPool2D: argmax length %d, want %d for shape %v", len(argmax), len(dst.Data), dst.Shape))
	}
	poolJob{out: dst.Data, in: x.Data, argmax: argmax, h: h, w: w, oh: oh, ow: ow, g: g, planes: planes, kind: maxPoolKind}.run()
}

func maxPoolPlanes(j *poolJob, lo, hi int) {
	ohw, hw := j.oh*j.ow, j.h*j.w
	for pl := lo; pl < hi; pl++ {
		var am []int32
		if j.argmax != nil {
			am = j.argmax[pl*ohw : (pl+1)*ohw]
		}
		maxPoolPlane(j.out[pl*ohw:(pl+1)*ohw], am, j.in[pl*hw:(pl+1)*hw], j.h, j.w, j.ow, j.g)
	}
}

func maxPoolPlane(out []float32, argmax []int32, in []float32, h, w, ow int, g ConvGeom) {
	if g.KH == 2 && g.KW == 2 && g.StrideH == 2 && g.StrideW == 2 && g.PadH == 0 && g.PadW == 0 {
		maxPool2x2(out, argmax, in, w, ow)
		return
	}
	negInf := float32(math.Inf(-1))
	for i := range out {
		oy, ox := i/ow, i%ow
		y0, x0 := oy*g.StrideH-g.PadH, ox*g.StrideW-g.PadW
		best, at := negInf, int32(-1)
		for iy := max(y0, 0); iy < min(y0+g.KH, h); iy++ {
			for ix := max(x0, 0); ix < min(x0+g.KW, w); ix++ {
				if v := in[iy*w+ix]; v > best || at < 0 {
					best, at = v, int32(iy*w+ix)
				}
			}
		}
		if at < 0 {
			best = 0
		}
		out[i] = best
		if argmax != nil {
			argmax[i] = at
		}
	}
}

// maxPool2x2 is the common 2×2, stride-2, unpadded case, walked by pairs
// of input rows.
func maxPool2x2(out []float32, argmax []int32, in []float32, w, ow int) {
	for oy := 0; oy < len(out)/ow; oy++ {
		o := out[oy*ow : oy*ow+ow]
		top := 2 * oy * w
		r0, r1 := in[top:top+2*ow], in[top+w:top+w+2*ow]
		if argmax == nil {
			for ox := range o {
				o[ox] = max(max(r0[2*ox], r0[2*ox+1]), max(r1[2*ox], r1[2*ox+1]))
			}
			continue
		}
		am := argmax[oy*ow : oy*ow+ow]
		am = am[:len(o)]
		for ox := range o {
			i := top + 2*ox
			k := max(max(poolKey(r0[2*ox], i), poolKey(r0[2*ox+1], i+1)),
				max(poolKey(r1[2*ox], i+w), poolKey(r1[2*ox+1], i+w+1)))
			o[ox], am[ox] = poolKeyValue(k), int32(^uint32(k))
		}
	}
}

// poolKey packs v and its index into an int64 whose order is v's order,
// ties going to the lower index, so that the arg-max of a window is a
// branch-free integer max (the comparisons of random data would mispredict
// a branch half the time). The float's bits become an order-preserving
// integer by flipping the magnitude bits of negatives.
func poolKey(v float32, idx int) int64 {
	b := int32(math.Float32bits(v))
	return int64(b^(b>>31&0x7fffffff))<<32 | int64(^uint32(idx))
}

// poolKeyValue recovers the value packed by poolKey.
func poolKeyValue(k int64) float32 {
	s := int32(k >> 32)
	return math.Float32frombits(uint32(s ^ (s >> 31 & 0x7fffffff)))
}

// MaxPool2DGrad adds dy into dx at the positions MaxPool2D recorded in
// argmax: dx [N, C, H, W], dy [N, C, OH, OW], len(argmax) = dy.Len().
func MaxPool2DGrad(dx, dy *Tensor, argmax []int32) {
	if len(dx.Shape) != 4 || len(dy.Shape) != 4 || dx.Shape[0] != dy.Shape[0] || dx.Shape[1] != dy.Shape[1] {
		panicShapes("MaxPool2DGrad", dx.Shape, dy.Shape)
	}
	if len(argmax) != len(dy.Data) {
		panic(fmt.Sprintf("tensor: MaxPool2DGrad: argmax length %d, want %d for shape %v", len(argmax), len(dy.Data), dy.Shape))
	}
	j := poolJob{out: dx.Data, in: dy.Data, argmax: argmax, h: dx.Shape[2], w: dx.Shape[3], oh: dy.Shape[2], ow: dy.Shape[3],
		planes: dx.Shape[0] * dx.Shape[1], kind: maxPoolGradKind}
	j.run()
}

func maxPoolGradPlanes(j *poolJob, lo, hi int) {
	hw, ohw := j.h*j.w, j.oh*j.ow
	for pl := lo; pl < hi; pl++ {
		d := j.out[pl*hw : (pl+1)*hw]
		g := j.in[pl*ohw : (pl+1)*ohw]
		am := j.argmax[pl*ohw : (pl+1)*ohw]
		am = am[:len(g)]
		for i, v := range g {
			if a := am[i]; a >= 0 {
				d[a] += v
			}
		}
	}
}

// AvgPool2D sets dst [N, C, OH, OW] to the mean of each KH×KW window of x
// [N, C, H, W]; padded positions count as zeros, so every window divides
// by KH·KW (PyTorch's count_include_pad).
func AvgPool2D(dst, x *Tensor, g ConvGeom) {
	planes, h, w, oh, ow := poolDims("AvgPool2D", x, dst, g)
	poolJob{out: dst.Data, in: x.Data, h: h, w: w, oh: oh, ow: ow, g: g, planes: planes,
		inv: 1 / float32(g.KH*g.KW), kind: avgPoolKind}.run()
}

func avgPoolPlanes(j *poolJob, lo, hi int) {
	ohw, hw, g := j.oh*j.ow, j.h*j.w, j.g
	for pl := lo; pl < hi; pl++ {
		out := j.out[pl*ohw : (pl+1)*ohw]
		in := j.in[pl*hw : (pl+1)*hw]
		for i := range out {
			oy, ox := i/j.ow, i%j.ow
			y0, x0 := oy*g.StrideH-g.PadH, ox*g.StrideW-g.PadW
			xs, xe := max(x0, 0), min(x0+g.KW, j.w)
			var s float32
			for iy := max(y0, 0); iy < min(y0+g.KH, j.h) && xs < xe; iy++ {
				for _, v := range in[iy*j.w+xs : iy*j.w+xe] {
					s += v
				}
			}
			out[i] = s * j.inv
		}
	}
}

// AvgPool2DGrad adds into dx [N, C, H, W] the gradient of AvgPool2D given
// dy [N, C, OH, OW]: each dy element spread evenly over its window.
func AvgPool2DGrad(dx, dy *Tensor, g ConvGeom) {
	planes, h, w, oh, ow := poolDims("AvgPool2DGrad", dx, dy, g)
	poolJob{out: dx.Data, in: dy.Data, h: h, w: w, oh: oh, ow: ow, g: g, planes: planes,
		inv: 1 / float32(g.KH*g.KW), kind: avgPoolGradKind}.run()
}

func avgPoolGradPlanes(j *poolJob, lo, hi int) {
	ohw, hw, g := j.oh*j.ow, j.h*j.w, j.g
	for pl := lo; pl < hi; pl++ {
		gr := j.in[pl*ohw : (pl+1)*ohw]
		d := j.out[pl*hw : (pl+1)*hw]
		for i, gv := range gr {
			oy, ox := i/j.ow, i%j.ow
			y0, x0 := oy*g.StrideH-g.PadH, ox*g.StrideW-g.PadW
			xs, xe := max(x0, 0), min(x0+g.KW, j.w)
			v := gv * j.inv
			for iy := max(y0, 0); iy < min(y0+g.KH, j.h) && xs < xe; iy++ {
				row := d[iy*j.w+xs : iy*j.w+xe]
				for k := range row {
					row[k] += v
				}
			}
		}
	}
}

package autograd

import (
	"fmt"
	"math"

	"github.com/shoal-dl/shoal/tensor"
)

// SoftmaxCrossEntropy returns the mean over rows of −log softmax(logits)[label]
// for logits [..., C] and one label per row, fused for numerical stability.
func (t *Tape) SoftmaxCrossEntropy(logits *Var, labels []int32) *Var {
	classes := logits.Value.Dim(-1)
	rows := logits.Value.Len() / classes
	if len(labels) != rows {
		panic(fmt.Sprintf("autograd: SoftmaxCrossEntropy: %d labels for logits %v", len(labels), logits.Value.Shape))
	}
	l2 := t.view(logits.Value.Data, []int{rows, classes})
	probs := t.Alloc(l2.Shape)
	out := t.Output(t.Alloc([]int{1}), logits)
	out.Value.Data[0] = tensor.SoftmaxCrossEntropy(probs, l2, labels)
	if out.requiresGrad {
		t.Record(out, func() {
			dl := t.view(t.GradOf(logits).Data, l2.Shape)
			tensor.SoftmaxCrossEntropyGrad(dl, probs, labels, out.Grad.Data[0]/float32(rows))
		}, logits)
	}
	return out
}

// MSE returns the mean of (pred − target)² over all elements.
func (t *Tape) MSE(pred, target *Var) *Var {
	checkSame("MSE", pred, target)
	n := pred.Value.Len()
	out := t.Output(t.Alloc([]int{1}), pred, target)
	p, y := pred.Value.Data, target.Value.Data[:n]
	var s float64
	for i := range p {
		d := float64(p[i] - y[i])
		s += d * d
	}
	out.Value.Data[0] = float32(s / float64(max(n, 1)))
	if out.requiresGrad {
		t.Record(out, func() {
			k := 2 * out.Grad.Data[0] / float32(n)
			for _, v := range [2]*Var{pred, target} {
				if !v.requiresGrad {
					continue
				}
				g := t.GradOf(v).Data[:n]
				for i := range g {
					g[i] += k * (p[i] - y[i])
				}
				k = -k
			}
		}, pred, target)
	}
	return out
}

// BCEWithLogits returns the mean binary cross-entropy of sigmoid(logits)
// against targets in [0, 1], computed stably from the logits.
func (t *Tape) BCEWithLogits(logits, target *Var) *Var {
	checkSame("BCEWithLogits", logits, target)
	n := logits.Value.Len()
	out := t.Output(t.Alloc([]int{1}), logits)
	x, y := logits.Value.Data, target.Value.Data[:n]
	var s float64
	for i := range x {
		xi, yi := float64(x[i]), float64(y[i])
		s += math.Max(xi, 0) - xi*yi + math.Log1p(math.Exp(-math.Abs(xi)))
	}
	out.Value.Data[0] = float32(s / float64(max(n, 1)))
	if out.requiresGrad {
		t.Record(out, func() {
			k := out.Grad.Data[0] / float32(n)
			g := t.GradOf(logits).Data[:n]
			for i := range g {
				sig := 1 / (1 + float32(math.Exp(float64(-x[i]))))
				g[i] += k * (sig - y[i])
			}
		}, logits)
	}
	return out
}

// bceEps keeps BCE's logarithms finite for probabilities of exactly 0 or 1.
const bceEps = 1e-7

// BCE returns the mean binary cross-entropy of probabilities against
// targets in [0, 1]; prefer BCEWithLogits after a sigmoid.
func (t *Tape) BCE(prob, target *Var) *Var {
	checkSame("BCE", prob, target)
	n := prob.Value.Len()
	out := t.Output(t.Alloc([]int{1}), prob)
	p, y := prob.Value.Data, target.Value.Data[:n]
	clamp := func(v float32) float64 { return math.Min(math.Max(float64(v), bceEps), 1-bceEps) }
	var s float64
	for i := range p {
		pi, yi := clamp(p[i]), float64(y[i])
		s -= yi*math.Log(pi) + (1-yi)*math.Log(1-pi)
	}
	out.Value.Data[0] = float32(s / float64(max(n, 1)))
	if out.requiresGrad {
		t.Record(out, func() {
			k := float64(out.Grad.Data[0]) / float64(n)
			g := t.GradOf(prob).Data[:n]
			for i := range g {
				pi, yi := clamp(p[i]), float64(y[i])
				g[i] += float32(k * (pi - yi) / (pi * (1 - pi)))
			}
		}, prob)
	}
	return out
}

func checkSame(op string, a, b *Var) {
	if a.Value.Len() != b.Value.Len() {
		panic(fmt.Sprintf("autograd: %s: shapes %v and %v differ", op, a.Value.Shape, b.Value.Shape))
	}
}

// Conv2D returns the 2-D convolution of x [N, C, H, W] with w [F, C, KH, KW]
// plus b [F] (b may be nil); g gives the kernel size, stride and padding.
func (t *Tape) Conv2D(x, w, b *Var, g tensor.ConvGeom) *Var {
	xs := x.Value.Shape
	if len(xs) != 4 || w.Value.Rank() != 4 {
		panic(fmt.Sprintf("autograd: Conv2D: input %v and weight %v must be 4-D", xs, w.Value.Shape))
	}
	oh, ow := g.OutSize(xs[2], xs[3])
	inputs := [3]*Var{x, w, b}
	out := t.Output(t.Alloc([]int{xs[0], w.Value.Shape[0], oh, ow}), inputs[:]...)
	var bv *tensor.Tensor
	if b != nil {
		bv = b.Value
	}
	tensor.Conv2D(out.Value, x.Value, w.Value, bv, g)
	if out.requiresGrad {
		t.Record(out, func() {
			var dx, dw, db *tensor.Tensor
			if x.requiresGrad {
				dx = t.GradOf(x)
			}
			if w.requiresGrad {
				dw = t.GradOf(w)
			}
			if b != nil && b.requiresGrad {
				db = t.GradOf(b)
			}
			tensor.Conv2DGrad(dx, dw, db, x.Value, w.Value, out.Grad, g)
		}, inputs[:]...)
	}
	return out
}

// MaxPool2D returns the maximum over each window of x [N, C, H, W].
func (t *Tape) MaxPool2D(x *Var, g tensor.ConvGeom) *Var {
	xs := x.Value.Shape
	oh, ow := g.OutSize(xs[2], xs[3])
	out := t.Output(t.Alloc([]int{xs[0], xs[1], oh, ow}), x)
	argmax := t.AllocInt32(out.Value.Len())
	tensor.MaxPool2D(out.Value, argmax, x.Value, g)
	if out.requiresGrad {
		t.Record(out, func() { tensor.MaxPool2DGrad(t.GradOf(x), out.Grad, argmax) }, x)
	}
	return out
}

// AvgPool2D returns the mean over each window of x [N, C, H, W].
func (t *Tape) AvgPool2D(x *Var, g tensor.ConvGeom) *Var {
	xs := x.Value.Shape
	oh, ow := g.OutSize(xs[2], xs[3])
	out := t.Output(t.Alloc([]int{xs[0], xs[1], oh, ow}), x)
	tensor.AvgPool2D(out.Value, x.Value, g)
	if out.requiresGrad {
		t.Record(out, func() { tensor.AvgPool2DGrad(t.GradOf(x), out.Grad, g) }, x)
	}
	return out
}

// Dropout zeroes each element with probability p and scales the others by
// 1/(1−p) when the tape is training; otherwise it returns x unchanged. The
// mask comes from the tape's random source (see Seed).
func (t *Tape) Dropout(x *Var, p float32) *Var {
	if !t.Training() || p <= 0 {
		return x
	}
	mask := t.Alloc(x.Value.Shape)
	keep := 1 / (1 - p)
	for i := range mask.Data {
		if t.rng.Float32() < p {
			mask.Data[i] = 0
		} else {
			mask.Data[i] = keep
		}
	}
	out := t.Output(t.Alloc(x.Value.Shape), x)
	tensor.Mul(out.Value, x.Value, mask)
	if out.requiresGrad {
		t.Record(out, func() {
			g, dy, m := t.GradOf(x).Data, out.Grad.Data, mask.Data
			for i := range g {
				g[i] += dy[i] * m[i]
			}
		}, x)
	}
	return out
}

// Embedding returns the rows of table [V, D] picked by ids, shaped
// [len(ids), D]. An id outside [0, V) panics.
func (t *Tape) Embedding(table *Var, ids []int32) *Var {
	v, d := table.Value.Shape[0], table.Value.Shape[1]
	out := t.Output(t.Alloc([]int{len(ids), d}), table)
	for i, id := range ids {
		if id < 0 || int(id) >= v {
			panic(fmt.Sprintf("autograd: Embedding: id %d outside vocabulary of %d", id, v))
		}
		copy(out.Value.Data[i*d:(i+1)*d], table.Value.Data[int(id)*d:(int(id)+1)*d])
	}
	if out.requiresGrad {
		t.Record(out, func() {
			g, dy := t.GradOf(table).Data, out.Grad.Data
			for i, id := range ids {
				row, src := g[int(id)*d:(int(id)+1)*d], dy[i*d:(i+1)*d]
				for j := range row {
					row[j] += src[j]
				}
			}
		}, table)
	}
	return out
}

package autograd

import (
	"fmt"

	"github.com/shoal-dl/shoal/tensor"
)

// broadcastShape returns the numpy-style broadcast of two shapes.
func broadcastShape(op string, a, b []int) []int {
	n := max(len(a), len(b))
	out := make([]int, n)
	for i := 1; i <= n; i++ {
		da, db := 1, 1
		if i <= len(a) {
			da = a[len(a)-i]
		}
		if i <= len(b) {
			db = b[len(b)-i]
		}
		switch {
		case da == db, db == 1:
			out[n-i] = da
		case da == 1:
			out[n-i] = db
		default:
			panic(fmt.Sprintf("autograd: %s: shapes %v and %v do not broadcast", op, a, b))
		}
	}
	return out
}

// accumulateBroadcast adds g (shaped like the broadcast output) into v's
// gradient, summing over the dimensions v was stretched along.
func (t *Tape) accumulateBroadcast(v *Var, g *tensor.Tensor) {
	gv := t.GradOf(v)
	if tensor.SameShape(gv.Shape, g.Shape) {
		tensor.Axpy(gv, 1, g)
		return
	}
	tensor.SumTo(gv, g, true)
}

// binary runs a broadcasting elementwise op and records its backward.
func (t *Tape) binary(op string, a, b *Var, fwd func(dst, a, b *tensor.Tensor), bwd func(a, b, out *Var)) *Var {
	shape := a.Value.Shape
	if !tensor.SameShape(a.Value.Shape, b.Value.Shape) {
		shape = broadcastShape(op, a.Value.Shape, b.Value.Shape)
	}
	out := t.Output(t.Alloc(shape), a, b)
	fwd(out.Value, a.Value, b.Value)
	if out.requiresGrad {
		t.Record(out, func() { bwd(a, b, out) }, a, b)
	}
	return out
}

// Add returns a + b with broadcasting.
func (t *Tape) Add(a, b *Var) *Var {
	return t.binary("Add", a, b, tensor.Add, func(a, b, out *Var) {
		if a.requiresGrad {
			t.accumulateBroadcast(a, out.Grad)
		}
		if b.requiresGrad {
			t.accumulateBroadcast(b, out.Grad)
		}
	})
}

// Sub returns a − b with broadcasting.
func (t *Tape) Sub(a, b *Var) *Var {
	return t.binary("Sub", a, b, tensor.Sub, func(a, b, out *Var) {
		if a.requiresGrad {
			t.accumulateBroadcast(a, out.Grad)
		}
		if b.requiresGrad {
			neg := t.Alloc(out.Grad.Shape)
			tensor.Neg(neg, out.Grad)
			t.accumulateBroadcast(b, neg)
		}
	})
}

// Mul returns the elementwise product a ⊙ b with broadcasting.
func (t *Tape) Mul(a, b *Var) *Var {
	return t.binary("Mul", a, b, tensor.Mul, func(a, b, out *Var) {
		tmp := t.Alloc(out.Grad.Shape)
		if a.requiresGrad {
			tensor.Mul(tmp, out.Grad, b.Value)
			t.accumulateBroadcast(a, tmp)
		}
		if b.requiresGrad {
			tensor.Mul(tmp, out.Grad, a.Value)
			t.accumulateBroadcast(b, tmp)
		}
	})
}

// Div returns the elementwise quotient a / b with broadcasting.
func (t *Tape) Div(a, b *Var) *Var {
	return t.binary("Div", a, b, tensor.Div, func(a, b, out *Var) {
		tmp := t.Alloc(out.Grad.Shape)
		if a.requiresGrad {
			tensor.Div(tmp, out.Grad, b.Value)
			t.accumulateBroadcast(a, tmp)
		}
		if b.requiresGrad {
			// d(a/b)/db = −(a/b)/b = −out/b.
			tensor.Mul(tmp, out.Grad, out.Value)
			tensor.Div(tmp, tmp, b.Value)
			tensor.Neg(tmp, tmp)
			t.accumulateBroadcast(b, tmp)
		}
	})
}

// Scale returns s·x.
func (t *Tape) Scale(x *Var, s float32) *Var {
	out := t.Output(t.Alloc(x.Value.Shape), x)
	tensor.Scale(out.Value, x.Value, s)
	if out.requiresGrad {
		t.Record(out, func() { tensor.Axpy(t.GradOf(x), s, out.Grad) }, x)
	}
	return out
}

// AddScalar returns x + s.
func (t *Tape) AddScalar(x *Var, s float32) *Var {
	out := t.Output(t.Alloc(x.Value.Shape), x)
	tensor.AddScalar(out.Value, x.Value, s)
	if out.requiresGrad {
		t.Record(out, func() { tensor.Axpy(t.GradOf(x), 1, out.Grad) }, x)
	}
	return out
}

// MatMul returns op(a)·op(b) for 2-D a and b, where op transposes when the
// flag is set.
func (t *Tape) MatMul(a, b *Var, transA, transB bool) *Var {
	if a.Value.Rank() != 2 || b.Value.Rank() != 2 {
		panic(fmt.Sprintf("autograd: MatMul: shapes %v and %v are not both 2-D", a.Value.Shape, b.Value.Shape))
	}
	m, n := a.Value.Shape[0], b.Value.Shape[1]
	if transA {
		m = a.Value.Shape[1]
	}
	if transB {
		n = b.Value.Shape[0]
	}
	out := t.Output(t.Alloc([]int{m, n}), a, b)
	tensor.MatMul(out.Value, a.Value, b.Value, transA, transB, false)
	if out.requiresGrad {
		t.Record(out, func() {
			dy := out.Grad
			if a.requiresGrad {
				// C = op(A)·op(B) ⇒ dop(A) = dC·op(B)ᵀ.
				if transA {
					tensor.MatMul(t.GradOf(a), b.Value, dy, transB, true, true)
				} else {
					tensor.MatMul(t.GradOf(a), dy, b.Value, false, !transB, true)
				}
			}
			if b.requiresGrad {
				if transB {
					tensor.MatMul(t.GradOf(b), dy, a.Value, true, transA, true)
				} else {
					tensor.MatMul(t.GradOf(b), a.Value, dy, !transA, false, true)
				}
			}
		}, a, b)
	}
	return out
}

// Linear returns x·w + b for x [..., in], w [in, out] and b [out] (b may be
// nil): the fused forward of a dense layer.
func (t *Tape) Linear(x, w, b *Var) *Var {
	in, outDim := w.Value.Shape[0], w.Value.Shape[1]
	if x.Value.Dim(-1) != in {
		panic(fmt.Sprintf("autograd: Linear: input %v does not match weight %v", x.Value.Shape, w.Value.Shape))
	}
	rows := x.Value.Len() / in
	shape := append(append(make([]int, 0, x.Value.Rank()), x.Value.Shape[:x.Value.Rank()-1]...), outDim)
	var inputs = [3]*Var{x, w, b}
	out := t.Output(t.Alloc(shape), inputs[:]...)
	x2 := t.view(x.Value.Data, []int{rows, in})
	y2 := t.view(out.Value.Data, []int{rows, outDim})
	if b != nil {
		// Start from the bias so the GEMM accumulates onto it.
		for r := 0; r < rows; r++ {
			copy(y2.Data[r*outDim:(r+1)*outDim], b.Value.Data)
		}
		tensor.MatMul(y2, x2, w.Value, false, false, true)
	} else {
		tensor.MatMul(y2, x2, w.Value, false, false, false)
	}
	if out.requiresGrad {
		t.Record(out, func() {
			dy := t.view(out.Grad.Data, []int{rows, outDim})
			if w.requiresGrad {
				tensor.MatMul(t.GradOf(w), x2, dy, true, false, true)
			}
			if b != nil && b.requiresGrad {
				tensor.SumRows(t.GradOf(b), dy, true)
			}
			if x.requiresGrad {
				dx := t.view(t.GradOf(x).Data, []int{rows, in})
				tensor.MatMul(dx, dy, w.Value, false, true, true)
			}
		}, inputs[:]...)
	}
	return out
}

// Reshape returns a view of x with a new shape (one dimension may be −1).
func (t *Tape) Reshape(x *Var, shape ...int) *Var {
	v := x.Value.Reshape(shape...)
	out := t.Output(t.view(x.Value.Data, v.Shape), x)
	if out.requiresGrad {
		t.Record(out, func() {
			g := t.GradOf(x)
			tensor.Axpy(t.view(g.Data, out.Grad.Shape), 1, out.Grad)
		}, x)
	}
	return out
}

// Sum returns the sum of all elements as a one-element variable.
func (t *Tape) Sum(x *Var) *Var { return t.sumScaled(x, 1) }

// Mean returns the mean of all elements as a one-element variable.
func (t *Tape) Mean(x *Var) *Var { return t.sumScaled(x, 1/float32(max(x.Value.Len(), 1))) }

func (t *Tape) sumScaled(x *Var, s float32) *Var {
	out := t.Output(t.Alloc([]int{1}), x)
	out.Value.Data[0] = s * tensor.Sum(x.Value)
	if out.requiresGrad {
		t.Record(out, func() {
			tensor.AddScalar(t.GradOf(x), t.GradOf(x), s*out.Grad.Data[0])
		}, x)
	}
	return out
}

package nn

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/shoal-dl/shoal/autograd"
	"github.com/shoal-dl/shoal/tensor"
)

// LSTM is a long short-term memory layer over sequences [N, T, F]. It
// returns every hidden state, [N, T, Hidden], when ReturnSequences is set
// and only the last one, [N, Hidden], otherwise.
//
// With x the input at step t and h, c the previous hidden and cell states,
// one step computes, in the gate order i, f, g, o of the columns of Wx, Wh
// and B (the order PyTorch and ONNX use):
//
//	[a_i a_f a_g a_o] = x·Wx + h·Wh + B
//	i = σ(a_i)  f = σ(a_f)  g = tanh(a_g)  o = σ(a_o)
//	c' = f⊙c + i⊙g
//	h' = o⊙tanh(c')
//
// Wx is [F, 4·Hidden], Wh is [Hidden, 4·Hidden] and B is [4·Hidden]. Wx
// starts Xavier uniform (fan-in F, fan-out 4·Hidden); each of the four
// Hidden×Hidden blocks of Wh starts as a random orthogonal matrix, which
// keeps the recurrent map from shrinking or blowing up the state early in
// training; B starts at 0 except the forget gate's part, which starts at 1
// so that the cell remembers by default (Jozefowicz et al., 2015).
//
// The input projection x·Wx + B of all T steps is one matrix product; each
// step then does one product h·Wh and a fused cell. The whole recurrence is
// one operation on the tape whose backward runs back-propagation through
// time and computes the gradient of Wh for all steps in one product.
//
// # Truncated back-propagation through time
//
// A Stateful layer starts each Forward from the final h and c of the
// previous one instead of zeros. The carried state is copied out of the
// tape, so gradients stop at the boundary between calls. A trainer feeds a
// long sequence as consecutive chunks of T steps, keeping example i of
// every batch the continuation of example i of the previous batch, runs
// forward, backward and an optimizer step per chunk, and calls ResetState
// when a new set of sequences begins (a new epoch, say). A batch of another
// size resets the state by itself. A Stateful layer carries state between
// calls, so it must be used by one goroutine at a time and by one model
// replica only.
type LSTM struct {
	Hidden int
	// ReturnSequences makes the output [N, T, Hidden] instead of the last
	// step's [N, Hidden].
	ReturnSequences bool
	// Stateful carries h and c from one Forward to the next (truncated
	// back-propagation through time).
	Stateful bool
	// Init fills Wx; nil means XavierUniform. RecurrentInit fills Wh; nil
	// means orthogonal blocks.
	Init, RecurrentInit Initializer

	Wx, Wh, B *autograd.Var

	features int
	state    recurrentState
}

// GRU is a gated recurrent unit layer over sequences [N, T, F], returning
// [N, T, Hidden] when ReturnSequences is set and [N, Hidden] otherwise.
//
// With the gate order r, z, n of the columns of Wx, Wh and B (PyTorch's and
// ONNX's with linear_before_reset), one step computes
//
//	[a_r a_z a_n] = x·Wx + B     [p_r p_z p_n] = h·Wh
//	r = σ(a_r + p_r)   z = σ(a_z + p_z)
//	n = tanh(a_n + r⊙(p_n + Bh))
//	h' = (1−z)⊙n + z⊙h
//
// Wx is [F, 3·Hidden], Wh is [Hidden, 3·Hidden], B is [3·Hidden] and Bh,
// the recurrent bias of the candidate n, is [Hidden] (PyTorch's b_hn;
// PyTorch's other recurrent biases add to B). Initialisation, the fused
// recurrence and the Stateful mode are those of LSTM, with h as the only
// carried state; B and Bh start at 0.
type GRU struct {
	Hidden          int
	ReturnSequences bool
	Stateful        bool
	// Init fills Wx; nil means XavierUniform. RecurrentInit fills Wh; nil
	// means orthogonal blocks.
	Init, RecurrentInit Initializer

	Wx, Wh, B, Bh *autograd.Var

	features int
	state    recurrentState
}

// recurrentState is what a Stateful layer carries from one Forward to the
// next: copies, off any tape, of the final states of the last batch.
type recurrentState struct {
	batch int       // batch size the state belongs to; 0 after a reset
	h, c  []float32 // [batch, Hidden]; c only for LSTM
}

func (s *recurrentState) reset() { s.batch = 0 }

// load writes the initial states of a batch of n into h0 and c0 (c0 may be
// nil): the carried state when stateful and of the same batch size, zeros
// otherwise.
func (s *recurrentState) load(stateful bool, n int, h0, c0 []float32) {
	if !stateful || s.batch != n {
		s.reset()
		clear(h0)
		clear(c0)
		return
	}
	copy(h0, s.h)
	copy(c0, s.c)
}

// save keeps copies of the final states of a batch of n.
func (s *recurrentState) save(n int, h, c []float32) {
	s.h = append(s.h[:0], h...)
	if c != nil {
		s.c = append(s.c[:0], c...)
	}
	s.batch = n
}

// ResetState zeroes the carried state: the next Forward starts from zeros.
func (l *LSTM) ResetState() { l.state.reset() }

// ResetState zeroes the carried state: the next Forward starts from zeros.
func (g *GRU) ResetState() { g.state.reset() }

// buildRecurrent checks the per-example input [T, F] and the hidden size
// and returns F and the per-example output shape.
func buildRecurrent(kind string, in []int, hidden int, returnSeq bool) (int, []int, error) {
	if hidden <= 0 {
		return 0, nil, fmt.Errorf("hidden size must be positive, got %d", hidden)
	}
	if len(in) != 2 || in[0] <= 0 || in[1] <= 0 {
		return 0, nil, fmt.Errorf("%w: %s needs [steps, features], got %v", ErrShape, kind, in)
	}
	if returnSeq {
		return in[1], []int{in[0], hidden}, nil
	}
	return in[1], []int{hidden}, nil
}

// lstmBias fills an LSTM bias [4H] with 0 and its forget-gate part with 1.
var lstmBias = InitFunc(func(w []float32, _, _ int, _ *rand.Rand) {
	h := len(w) / 4
	clear(w)
	for i := h; i < 2*h; i++ {
		w[i] = 1
	}
})

// orthogonalBlocks fills a [fanIn, k·fanIn] matrix with k independent
// random orthogonal fanIn×fanIn blocks side by side (Saxe et al., 2014):
// Gram–Schmidt on Gaussian columns, in float64.
var orthogonalBlocks = InitFunc(func(w []float32, fanIn, fanOut int, rng *rand.Rand) {
	if fanIn <= 0 || fanOut%fanIn != 0 || len(w) != fanIn*fanOut {
		panic(fmt.Sprintf("nn: orthogonal initialisation of %d values as [%d, %d] blocks", len(w), fanIn, fanOut))
	}
	n := fanIn
	q := make([]float64, n*n) // column j is q[j*n : (j+1)*n]
	for b := 0; b < fanOut/n; b++ {
		for j := 0; j < n; j++ {
			col := q[j*n : (j+1)*n]
			for {
				for i := range col {
					col[i] = rng.NormFloat64()
				}
				for p := 0; p < j; p++ {
					prev := q[p*n : (p+1)*n]
					var dot float64
					for i := range col {
						dot += col[i] * prev[i]
					}
					for i := range col {
						col[i] -= dot * prev[i]
					}
				}
				var norm float64
				for _, v := range col {
					norm += v * v
				}
				// A draw (almost) inside the span of the previous
				// columns has probability zero; draw again if it happens.
				if norm = math.Sqrt(norm); norm > 1e-6 {
					for i := range col {
						col[i] /= norm
					}
					break
				}
			}
		}
		for i := 0; i < n; i++ {
			for j := 0; j < n; j++ {
				w[i*fanOut+b*n+j] = float32(q[j*n+i])
			}
		}
	}
})

// Build implements Layer.
func (l *LSTM) Build(in []int, ps *Params) ([]int, error) {
	f, out, err := buildRecurrent("LSTM", in, l.Hidden, l.ReturnSequences)
	if err != nil {
		return nil, err
	}
	l.features = f
	h := l.Hidden
	l.Wx = ps.Weight("input_weight", []int{f, 4 * h}, orDefault(l.Init, XavierUniform), f, 4*h)
	l.Wh = ps.Weight("recurrent_weight", []int{h, 4 * h}, orDefault(l.RecurrentInit, orthogonalBlocks), h, 4*h)
	l.B = ps.declare("bias", []int{4 * h}, lstmBias, 0, 0, false)
	l.state.reset()
	return out, nil
}

// Build implements Layer.
func (g *GRU) Build(in []int, ps *Params) ([]int, error) {
	f, out, err := buildRecurrent("GRU", in, g.Hidden, g.ReturnSequences)
	if err != nil {
		return nil, err
	}
	g.features = f
	h := g.Hidden
	g.Wx = ps.Weight("input_weight", []int{f, 3 * h}, orDefault(g.Init, XavierUniform), f, 3*h)
	g.Wh = ps.Weight("recurrent_weight", []int{h, 3 * h}, orDefault(g.RecurrentInit, orthogonalBlocks), h, 3*h)
	g.B = ps.Bias("bias", []int{3 * h}, 0)
	g.Bh = ps.Bias("recurrent_bias", []int{h}, 0)
	g.state.reset()
	return out, nil
}

func orDefault(init, def Initializer) Initializer {
	if init == nil {
		return def
	}
	return init
}

// sequenceDims returns N and T of a batch [N, T, features] and panics on
// another shape (a model built for other shapes is a programming error).
func sequenceDims(kind string, x *autograd.Var, features int) (n, steps int) {
	s := x.Value.Shape
	if len(s) != 3 || s[2] != features {
		panic(fmt.Sprintf("nn: %s: input %v is not [batch, steps, %d]", kind, s, features))
	}
	return s[0], s[1]
}

// seqGeom is the geometry of one recurrence: batch n, steps, hidden size
// and gates per step.
type seqGeom struct {
	n, steps, hidden, gates int
	returnSeq               bool
}

// outShape returns the shape of the layer's output.
func (g seqGeom) outShape() []int {
	if g.returnSeq {
		return []int{g.n, g.steps, g.hidden}
	}
	return []int{g.n, g.hidden}
}

// gather copies the hidden states hs [T+1, N, H] (time-major, hs[0] the
// initial state) into the output: [N, T, H] or the last step's [N, H].
func (g seqGeom) gather(out, hs []float32) {
	nh, h := g.n*g.hidden, g.hidden
	if !g.returnSeq {
		copy(out, hs[g.steps*nh:(g.steps+1)*nh])
		return
	}
	for s := 0; s < g.steps; s++ {
		for i := 0; i < g.n; i++ {
			copy(out[(i*g.steps+s)*h:(i*g.steps+s+1)*h], hs[(s+1)*nh+i*h:(s+1)*nh+(i+1)*h])
		}
	}
}

// addOutputGrad adds the output gradient of step s into dh [N, H].
func (g seqGeom) addOutputGrad(dh, dout []float32, s int) {
	h := g.hidden
	switch {
	case g.returnSeq:
		for i := 0; i < g.n; i++ {
			src := dout[(i*g.steps+s)*h : (i*g.steps+s+1)*h]
			dst := dh[i*h : (i+1)*h]
			for j, v := range src {
				dst[j] += v
			}
		}
	case s == g.steps-1:
		for j, v := range dout[:g.n*h] {
			dh[j] += v
		}
	}
}

// projRow returns the projected input x·Wx + B of example i at step s
// (gates·H values) from xp [N, T, gates·H].
func (g seqGeom) projRow(xp []float32, i, s int) []float32 {
	w := g.gates * g.hidden
	return xp[(i*g.steps+s)*w : (i*g.steps+s+1)*w]
}

// rowGrain is how many batch rows of a cell are worth one goroutine.
func (g seqGeom) rowGrain() int { return max(1, 2048/(g.gates*g.hidden)) }

// Forward implements Layer.
func (l *LSTM) Forward(t *autograd.Tape, x *autograd.Var) *autograd.Var {
	n, steps := sequenceDims("LSTM", x, l.features)
	g := seqGeom{n: n, steps: steps, hidden: l.Hidden, gates: 4, returnSeq: l.ReturnSequences}
	xp := t.Linear(x, l.Wx, l.B)
	nh := n * l.Hidden
	hs := t.Alloc([]int{steps + 1, n, l.Hidden})
	cs := t.Alloc([]int{steps + 1, n, l.Hidden})
	l.state.load(l.Stateful, n, hs.Data[:nh], cs.Data[:nh])
	act := t.Alloc([]int{steps, n, 4 * l.Hidden})
	tc := t.Alloc([]int{steps, n, l.Hidden})
	lstmForward(g, xp.Value.Data, l.Wh.Value, hs, cs, act, tc)
	out := t.Output(t.Alloc(g.outShape()), xp, l.Wh)
	g.gather(out.Value.Data, hs.Data)
	if l.Stateful {
		l.state.save(n, hs.Data[steps*nh:], cs.Data[steps*nh:])
	}
	if out.RequiresGrad() {
		t.Record(out, func() { lstmBackward(t, g, out, xp, l.Wh, hs, cs, act, tc) }, xp, l.Wh)
	}
	return out
}

// lstmForward runs the recurrence. Per step: the product h·Wh into that
// step's slot of act, plus the projected input; one vectorised sigmoid over
// all four gates (the g part scaled by 2 beforehand, since tanh(a) =
// 2σ(2a) − 1); then the cell writes c, tanh(c) and h.
func lstmForward(g seqGeom, xp []float32, wh, hs, cs, act, tc *tensor.Tensor) {
	h, nh := g.hidden, g.n*g.hidden
	for s := 0; s < g.steps; s++ {
		hPrev := tensor.FromData(hs.Data[s*nh:(s+1)*nh], g.n, h)
		a := tensor.FromData(act.Data[s*4*nh:(s+1)*4*nh], g.n, 4*h)
		tensor.MatMul(a, hPrev, wh, false, false, false)
		tensor.ParallelFor(g.n, g.rowGrain(), func(lo, hi int) {
			for r := lo; r < hi; r++ {
				ar, xr := a.Data[r*4*h:(r+1)*4*h], g.projRow(xp, r, s)
				for j, v := range xr {
					ar[j] += v
				}
				for j := 2 * h; j < 3*h; j++ {
					ar[j] *= 2
				}
			}
		})
		tensor.Sigmoid(a, a)
		cPrev, cNext := cs.Data[s*nh:(s+1)*nh], cs.Data[(s+1)*nh:(s+2)*nh]
		tensor.ParallelFor(g.n, g.rowGrain(), func(lo, hi int) {
			for r := lo; r < hi; r++ {
				ar := a.Data[r*4*h : (r+1)*4*h]
				ai, af, ag := ar[:h], ar[h:2*h], ar[2*h:3*h]
				cp, cn := cPrev[r*h:(r+1)*h], cNext[r*h:(r+1)*h]
				for j := 0; j < h; j++ {
					gg := 2*ag[j] - 1
					ag[j] = gg
					cn[j] = af[j]*cp[j] + ai[j]*gg
				}
			}
		})
		tcs := tensor.FromData(tc.Data[s*nh:(s+1)*nh], g.n, h)
		tensor.Tanh(tcs, tensor.FromData(cNext, g.n, h))
		hNext := hs.Data[(s+1)*nh : (s+2)*nh]
		for r := 0; r < g.n; r++ {
			ao, tcr, hn := a.Data[r*4*h+3*h:(r+1)*4*h], tcs.Data[r*h:(r+1)*h], hNext[r*h:(r+1)*h]
			for j, o := range ao {
				hn[j] = o * tcr[j]
			}
		}
	}
}

// lstmBackward runs back-propagation through time. Per step, from the
// gradient dh of the step's h (from the output and from the next step) and
// dc of its c, the cell's backward gives the gradient of the gate
// pre-activations dA, which goes to the projected input and, through Wh,
// to the previous h. The gradient of Wh is Σ_s h_{s−1}ᵀ·dA_s, one product
// over all steps at the end.
func lstmBackward(t *autograd.Tape, g seqGeom, out, xp, wh *autograd.Var, hs, cs, act, tc *tensor.Tensor) {
	h, nh := g.hidden, g.n*g.hidden
	dh := t.AllocZero([]int{g.n, h})
	dc := t.AllocZero([]int{g.n, h})
	dA := t.Alloc([]int{g.steps, g.n, 4 * h})
	var dxp []float32
	if xp.RequiresGrad() {
		dxp = t.GradOf(xp).Data
	}
	for s := g.steps - 1; s >= 0; s-- {
		g.addOutputGrad(dh.Data, out.Grad.Data, s)
		da := tensor.FromData(dA.Data[s*4*nh:(s+1)*4*nh], g.n, 4*h)
		cPrev, tcs := cs.Data[s*nh:(s+1)*nh], tc.Data[s*nh:(s+1)*nh]
		as := act.Data[s*4*nh : (s+1)*4*nh]
		tensor.ParallelFor(g.n, g.rowGrain(), func(lo, hi int) {
			for r := lo; r < hi; r++ {
				ar, dar := as[r*4*h:(r+1)*4*h], da.Data[r*4*h:(r+1)*4*h]
				dhr, dcr := dh.Data[r*h:(r+1)*h], dc.Data[r*h:(r+1)*h]
				cp, tcr := cPrev[r*h:(r+1)*h], tcs[r*h:(r+1)*h]
				for j := 0; j < h; j++ {
					i, f, gg, o := ar[j], ar[h+j], ar[2*h+j], ar[3*h+j]
					dcj := dcr[j] + dhr[j]*o*(1-tcr[j]*tcr[j])
					dar[j] = dcj * gg * i * (1 - i)
					dar[h+j] = dcj * cp[j] * f * (1 - f)
					dar[2*h+j] = dcj * i * (1 - gg*gg)
					dar[3*h+j] = dhr[j] * tcr[j] * o * (1 - o)
					dcr[j] = dcj * f
				}
				if dxp != nil {
					dx := g.projRow(dxp, r, s)
					for j, v := range dar {
						dx[j] += v
					}
				}
			}
		})
		if s > 0 {
			// The initial state is a constant: no gradient past step 0.
			tensor.MatMul(dh, da, wh.Value, false, true, false)
		}
	}
	if wh.RequiresGrad() {
		hPrev := tensor.FromData(hs.Data[:g.steps*nh], g.steps*g.n, h)
		tensor.MatMul(t.GradOf(wh), hPrev, tensor.FromData(dA.Data, g.steps*g.n, 4*h), true, false, true)
	}
}

// Forward implements Layer.
func (gr *GRU) Forward(t *autograd.Tape, x *autograd.Var) *autograd.Var {
	n, steps := sequenceDims("GRU", x, gr.features)
	g := seqGeom{n: n, steps: steps, hidden: gr.Hidden, gates: 3, returnSeq: gr.ReturnSequences}
	xp := t.Linear(x, gr.Wx, gr.B)
	nh := n * gr.Hidden
	hs := t.Alloc([]int{steps + 1, n, gr.Hidden})
	gr.state.load(gr.Stateful, n, hs.Data[:nh], nil)
	pre := t.Alloc([]int{steps, n, 3 * gr.Hidden})
	rz := t.Alloc([]int{steps, n, 2 * gr.Hidden})
	cand := t.Alloc([]int{steps, n, gr.Hidden})
	gruForward(g, xp.Value.Data, gr.Wh.Value, gr.Bh.Value.Data, hs, pre, rz, cand)
	out := t.Output(t.Alloc(g.outShape()), xp, gr.Wh, gr.Bh)
	g.gather(out.Value.Data, hs.Data)
	if gr.Stateful {
		gr.state.save(n, hs.Data[steps*nh:], nil)
	}
	if out.RequiresGrad() {
		t.Record(out, func() { gruBackward(t, g, out, xp, gr.Wh, gr.Bh, hs, pre, rz, cand) }, xp, gr.Wh, gr.Bh)
	}
	return out
}

// gruForward runs the recurrence. Per step: the product h·Wh into that
// step's slot of pre, whose n part then becomes p_n + Bh; the gates r and z
// into rz [N, 2H] and the candidate n into cand [N, H], each through one
// vectorised activation; then the next h.
func gruForward(g seqGeom, xp []float32, wh *tensor.Tensor, bh []float32, hs, pre, rz, cand *tensor.Tensor) {
	h, nh := g.hidden, g.n*g.hidden
	for s := 0; s < g.steps; s++ {
		hPrev := tensor.FromData(hs.Data[s*nh:(s+1)*nh], g.n, h)
		p := tensor.FromData(pre.Data[s*3*nh:(s+1)*3*nh], g.n, 3*h)
		tensor.MatMul(p, hPrev, wh, false, false, false)
		gates := tensor.FromData(rz.Data[s*2*nh:(s+1)*2*nh], g.n, 2*h)
		tensor.ParallelFor(g.n, g.rowGrain(), func(lo, hi int) {
			for r := lo; r < hi; r++ {
				pr, gr, xr := p.Data[r*3*h:(r+1)*3*h], gates.Data[r*2*h:(r+1)*2*h], g.projRow(xp, r, s)
				for j := range gr {
					gr[j] = xr[j] + pr[j]
				}
				for j, b := range bh {
					pr[2*h+j] += b
				}
			}
		})
		tensor.Sigmoid(gates, gates)
		cs := tensor.FromData(cand.Data[s*nh:(s+1)*nh], g.n, h)
		tensor.ParallelFor(g.n, g.rowGrain(), func(lo, hi int) {
			for r := lo; r < hi; r++ {
				pn, rg, xn := p.Data[r*3*h+2*h:(r+1)*3*h], gates.Data[r*2*h:r*2*h+h], g.projRow(xp, r, s)[2*h:]
				cr := cs.Data[r*h : (r+1)*h]
				for j := range cr {
					cr[j] = xn[j] + rg[j]*pn[j]
				}
			}
		})
		tensor.Tanh(cs, cs)
		hNext := hs.Data[(s+1)*nh : (s+2)*nh]
		for r := 0; r < g.n; r++ {
			z, cr := gates.Data[r*2*h+h:(r+1)*2*h], cs.Data[r*h:(r+1)*h]
			hp, hn := hPrev.Data[r*h:(r+1)*h], hNext[r*h:(r+1)*h]
			for j, zj := range z {
				hn[j] = (1-zj)*cr[j] + zj*hp[j]
			}
		}
	}
}

// gruBackward runs back-propagation through time for GRU. Per step the
// cell's backward writes the gradient of the recurrent products dP =
// [dp_r dp_z d(p_n+Bh)] into dP_s and of the projected input into xp's
// gradient; the previous h gets z⊙dh directly plus dP_s·Whᵀ. Wh's gradient
// is Σ_s h_{s−1}ᵀ·dP_s and Bh's the sum of the n parts of dP.
func gruBackward(t *autograd.Tape, g seqGeom, out, xp, wh, bh *autograd.Var, hs, pre, rz, cand *tensor.Tensor) {
	h, nh := g.hidden, g.n*g.hidden
	dh := t.AllocZero([]int{g.n, h})
	dhPrev := t.Alloc([]int{g.n, h})
	dP := t.Alloc([]int{g.steps, g.n, 3 * h})
	var dxp []float32
	if xp.RequiresGrad() {
		dxp = t.GradOf(xp).Data
	}
	for s := g.steps - 1; s >= 0; s-- {
		g.addOutputGrad(dh.Data, out.Grad.Data, s)
		dp := tensor.FromData(dP.Data[s*3*nh:(s+1)*3*nh], g.n, 3*h)
		ps, hp := pre.Data[s*3*nh:(s+1)*3*nh], hs.Data[s*nh:(s+1)*nh]
		gs, cs := rz.Data[s*2*nh:(s+1)*2*nh], cand.Data[s*nh:(s+1)*nh]
		tensor.ParallelFor(g.n, g.rowGrain(), func(lo, hi int) {
			for r := lo; r < hi; r++ {
				pn, gr, cr, dpr := ps[r*3*h+2*h:(r+1)*3*h], gs[r*2*h:(r+1)*2*h], cs[r*h:(r+1)*h], dp.Data[r*3*h:(r+1)*3*h]
				dhr, dhp, hpr := dh.Data[r*h:(r+1)*h], dhPrev.Data[r*h:(r+1)*h], hp[r*h:(r+1)*h]
				var dx []float32
				if dxp != nil {
					dx = g.projRow(dxp, r, s)
				}
				for j := 0; j < h; j++ {
					rg, z, nn := gr[j], gr[h+j], cr[j]
					d := dhr[j]
					dan := d * (1 - z) * (1 - nn*nn)
					dar := dan * pn[j] * rg * (1 - rg)
					daz := d * (hpr[j] - nn) * z * (1 - z)
					dpr[j], dpr[h+j], dpr[2*h+j] = dar, daz, dan*rg
					dhp[j] = d * z
					if dx != nil {
						dx[j] += dar
						dx[h+j] += daz
						dx[2*h+j] += dan
					}
				}
			}
		})
		if s > 0 {
			tensor.MatMul(dhPrev, dp, wh.Value, false, true, true)
			dh, dhPrev = dhPrev, dh
		}
	}
	if wh.RequiresGrad() {
		hPrev := tensor.FromData(hs.Data[:g.steps*nh], g.steps*g.n, h)
		tensor.MatMul(t.GradOf(wh), hPrev, tensor.FromData(dP.Data, g.steps*g.n, 3*h), true, false, true)
	}
	if bh.RequiresGrad() {
		db := t.GradOf(bh).Data
		for row := 0; row < g.steps*g.n; row++ {
			for j, v := range dP.Data[row*3*h+2*h : (row+1)*3*h] {
				db[j] += v
			}
		}
	}
}

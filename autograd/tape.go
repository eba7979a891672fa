package autograd

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/shoal-dl/shoal/tensor"
)

// Mode says whether a tape records operations for Backward.
type Mode int

const (
	// Training records every operation whose inputs need gradients; layers
	// such as Dropout and BatchNorm behave as in training.
	Training Mode = iota
	// NoGrad records nothing; layers behave as in inference.
	NoGrad
)

// Tape records one forward pass and runs it backwards. A Tape is used by one
// goroutine at a time.
type Tape struct {
	mode  Mode
	nodes []node
	rng   *rand.Rand
	pcg   *rand.PCG

	// The arena: buffers, tensor headers and variables handed out in order
	// and taken back all at once by Reset.
	bufs    [][]float32
	nbufs   int
	tens    []*tensor.Tensor
	ntens   int
	vars    []*Var
	nvars   int
	ints    [][]int32
	nints   int
	params  []*Var
	onReady func(*Var)
}

// node is one recorded operation: its output, the inputs it sends gradients
// to, and the function that does so.
type node struct {
	out      *Var
	inputs   [3]*Var
	backward func()
}

// NewTape returns an empty tape in the given mode, with its random source
// (used by Dropout) seeded with 0; see Seed.
func NewTape(mode Mode) *Tape {
	pcg := rand.NewPCG(0, 0)
	return &Tape{mode: mode, pcg: pcg, rng: rand.New(pcg)}
}

// Mode returns the tape's mode; a nil tape is in NoGrad mode.
func (t *Tape) Mode() Mode {
	if t == nil {
		return NoGrad
	}
	return t.mode
}

// Training reports whether layers should behave as in training.
func (t *Tape) Training() bool { return t != nil && t.mode == Training }

// Seed reseeds the tape's random source, so that a step's dropout masks
// depend only on (seed, stream) — the trainer passes the step number.
func (t *Tape) Seed(seed, stream uint64) { t.pcg.Seed(seed, stream) }

// Rand returns the tape's random source.
func (t *Tape) Rand() *rand.Rand { return t.rng }

// OnGradReady installs fn to be called during Backward once per parameter,
// as soon as the parameter's gradient is final for this pass. fn runs on the
// goroutine that called Backward and should only start asynchronous work.
func (t *Tape) OnGradReady(fn func(p *Var)) { t.onReady = fn }

// Reset forgets the recorded operations and takes back every buffer handed
// out since the last Reset; tensors produced on the tape become invalid.
func (t *Tape) Reset() {
	for i := range t.nodes {
		t.nodes[i] = node{}
	}
	t.nodes = t.nodes[:0]
	for _, p := range t.params {
		p.tape, p.pending = nil, 0
	}
	clear(t.params)
	t.params = t.params[:0]
	t.nbufs, t.ntens, t.nvars, t.nints = 0, 0, 0, 0
}

// Len returns the number of recorded operations.
func (t *Tape) Len() int {
	if t == nil {
		return 0
	}
	return len(t.nodes)
}

// Alloc returns a tensor of the given shape from the arena, with undefined
// contents; layers use it for outputs their kernels overwrite. On a nil tape
// it allocates a fresh zeroed tensor.
func (t *Tape) Alloc(shape []int) *tensor.Tensor {
	n := tensor.Volume(shape)
	if t == nil {
		return tensor.New(shape...)
	}
	if t.nbufs == len(t.bufs) {
		t.bufs = append(t.bufs, nil)
	}
	buf := t.bufs[t.nbufs]
	if cap(buf) < n {
		buf = make([]float32, n)
		t.bufs[t.nbufs] = buf
	}
	t.nbufs++
	return t.view(buf[:n], shape)
}

// AllocZero is Alloc with the contents set to zero.
func (t *Tape) AllocZero(shape []int) *tensor.Tensor {
	tt := t.Alloc(shape)
	if t != nil {
		clear(tt.Data)
	}
	return tt
}

// view returns a tensor header from the arena over data with shape.
func (t *Tape) view(data []float32, shape []int) *tensor.Tensor {
	if t == nil {
		return tensor.FromData(data, shape...)
	}
	if t.ntens == len(t.tens) {
		t.tens = append(t.tens, &tensor.Tensor{})
	}
	tt := t.tens[t.ntens]
	t.ntens++
	tt.Shape = append(tt.Shape[:0], shape...)
	tt.Data = data
	return tt
}

// AllocInt32 returns an int32 scratch slice of length n from the arena
// (argmax indices of pooling, dropout masks as indices and the like).
func (t *Tape) AllocInt32(n int) []int32 {
	if t == nil {
		return make([]int32, n)
	}
	if t.nints == len(t.ints) {
		t.ints = append(t.ints, nil)
	}
	s := t.ints[t.nints]
	if cap(s) < n {
		s = make([]int32, n)
		t.ints[t.nints] = s
	}
	t.nints++
	return s[:n]
}

// newVar returns a variable holding value from the arena.
func (t *Tape) newVar(value *tensor.Tensor, requiresGrad bool) *Var {
	if t == nil {
		return &Var{Value: value}
	}
	if t.nvars == len(t.vars) {
		t.vars = append(t.vars, &Var{})
	}
	v := t.vars[t.nvars]
	t.nvars++
	*v = Var{Value: value, requiresGrad: requiresGrad}
	return v
}

// recording reports whether an operation on these inputs must be recorded.
func (t *Tape) recording(inputs ...*Var) bool {
	if t == nil || t.mode != Training {
		return false
	}
	for _, in := range inputs {
		if in != nil && in.requiresGrad {
			return true
		}
	}
	return false
}

// Record adds an operation to the tape: out was computed from inputs (at
// most three; nil entries are ignored) and backward adds out.Grad's
// contribution into the inputs' gradients (obtain them with GradOf). Layers
// use it to define fused operations; Record does nothing unless the tape is
// recording and some input needs a gradient, so callers may build the
// closure only when Recording says so.
func (t *Tape) Record(out *Var, backward func(), inputs ...*Var) {
	if len(inputs) > 3 {
		panic("autograd: Record with more than three inputs")
	}
	n := node{out: out, backward: backward}
	copy(n.inputs[:], inputs)
	for _, in := range n.inputs {
		if in != nil && in.param {
			if in.tape != t {
				in.tape, in.pending = t, 0
				t.params = append(t.params, in)
			}
			in.pending++
		}
	}
	t.nodes = append(t.nodes, n)
}

// Recording reports whether an operation on these inputs would be recorded.
func (t *Tape) Recording(inputs ...*Var) bool { return t.recording(inputs...) }

// Output returns a new variable for an operation's result, needing a
// gradient when some input does and the tape records.
func (t *Tape) Output(value *tensor.Tensor, inputs ...*Var) *Var {
	return t.newVar(value, t.recording(inputs...))
}

// GradOf returns v's gradient tensor, allocating it zeroed from the arena on
// first use. Backward functions add into it.
func (t *Tape) GradOf(v *Var) *tensor.Tensor {
	if v.Grad == nil {
		v.Grad = t.AllocZero(v.Value.Shape)
	}
	return v.Grad
}

// Backward computes the gradient of loss (a one-element variable) with
// respect to every variable that needs one, in reverse order of recording.
// Parameters' gradients accumulate; OnGradReady's hook fires for each
// parameter as soon as its gradient is final.
func (t *Tape) Backward(loss *Var) {
	t.BackwardScaled(loss, 1)
}

// BackwardScaled is Backward with the loss's own gradient set to s instead
// of 1: every gradient comes out multiplied by s, at no extra pass over
// them (a worker whose share of a global batch is s weights its gradient
// this way).
func (t *Tape) BackwardScaled(loss *Var, s float32) {
	if t == nil || t.mode != Training {
		panic("autograd: Backward on a tape that does not record")
	}
	if loss.Value.Len() != 1 {
		panic("autograd: Backward from a non-scalar of shape " + shapeString(loss.Value.Shape))
	}
	tensor.Fill(t.GradOf(loss), s)
	t.BackwardFrom()
}

// BackwardFrom runs the recorded operations backwards from gradients the
// caller has already placed (with GradOf) on their outputs.
func (t *Tape) BackwardFrom() {
	for i := len(t.nodes) - 1; i >= 0; i-- {
		n := &t.nodes[i]
		if n.out.Grad != nil {
			n.backward()
		}
		for _, in := range n.inputs {
			if in == nil || !in.param {
				continue
			}
			in.pending--
			if in.pending == 0 && t.onReady != nil {
				t.onReady(in)
			}
		}
	}
}

func shapeString(s []int) string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = fmt.Sprint(d)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

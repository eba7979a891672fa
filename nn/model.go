package nn

import (
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/shoal-dl/shoal/autograd"
	"github.com/shoal-dl/shoal/tensor"
)

// ErrShape reports a layer that cannot take its input's shape; errors from
// Build wrap it.
var ErrShape = errors.New("nn: shape mismatch")

// Layer is one stage of a model.
type Layer interface {
	// Build checks the per-example input shape (without the batch
	// dimension), declares the layer's parameters on ps and returns the
	// per-example output shape.
	Build(in []int, ps *Params) ([]int, error)
	// Forward computes the layer for a batch [N, in...].
	Forward(t *autograd.Tape, x *autograd.Var) *autograd.Var
}

// Param is one declared parameter of a layer: a view into the model's arenas.
type Param struct {
	*autograd.Var
	// Offset is where the parameter starts in the arenas.
	Offset int
	// Init fills the parameter when the model is built.
	Init Initializer
	// FanIn and FanOut scale Init.
	FanIn, FanOut int
	// Decay says whether weight decay applies (weights yes, biases and
	// normalisation scales no).
	Decay bool
}

// Buffer is non-trainable state saved with a model (BatchNorm's running
// statistics).
type Buffer struct {
	Name   string
	Value  *tensor.Tensor
	Offset int
	fill   float32
}

// Params collects the parameters and buffers layers declare during Build.
type Params struct {
	prefix  string
	params  []*Param
	buffers []*Buffer
}

// Weight declares a trainable tensor initialised by init and subject to
// weight decay, and returns its variable (storage is assigned once every
// layer is built).
func (ps *Params) Weight(name string, shape []int, init Initializer, fanIn, fanOut int) *autograd.Var {
	return ps.declare(name, shape, init, fanIn, fanOut, true)
}

// Bias declares a trainable tensor filled with value and exempt from weight
// decay.
func (ps *Params) Bias(name string, shape []int, value float32) *autograd.Var {
	return ps.declare(name, shape, Constant(value), 0, 0, false)
}

func (ps *Params) declare(name string, shape []int, init Initializer, fanIn, fanOut int, decay bool) *autograd.Var {
	v := autograd.NewParam(ps.prefix+name, &tensor.Tensor{Shape: append([]int(nil), shape...)}, &tensor.Tensor{Shape: append([]int(nil), shape...)})
	ps.params = append(ps.params, &Param{Var: v, Init: init, FanIn: fanIn, FanOut: fanOut, Decay: decay})
	return v
}

// Buffer declares non-trainable state filled with value.
func (ps *Params) Buffer(name string, shape []int, value float32) *tensor.Tensor {
	t := &tensor.Tensor{Shape: append([]int(nil), shape...)}
	ps.buffers = append(ps.buffers, &Buffer{Name: ps.prefix + name, Value: t, fill: value})
	return t
}

// Model is a stack of layers with its parameters in flat arenas.
type Model struct {
	Layers      []Layer
	InputShape  []int
	OutputShape []int
	// Shapes[i] is the per-example output shape of Layers[i].
	Shapes  [][]int
	Params  []*Param
	Buffers []*Buffer

	values, grads, buffers []float32
}

// NewSequential builds layers in order for per-example input shape in,
// lays their parameters out in one arena and initialises them from seed.
// It returns an error naming the layer when a shape does not fit.
func NewSequential(in []int, seed uint64, layers ...Layer) (*Model, error) {
	m := &Model{Layers: layers, InputShape: append([]int(nil), in...)}
	ps := &Params{}
	shape := m.InputShape
	for i, l := range layers {
		ps.prefix = fmt.Sprintf("%d.%s.", i, layerName(l))
		out, err := l.Build(shape, ps)
		if err != nil {
			return nil, fmt.Errorf("nn: layer %d (%s) with input %v: %w", i, layerName(l), shape, err)
		}
		m.Shapes = append(m.Shapes, out)
		shape = out
	}
	m.OutputShape = shape
	m.Params, m.Buffers = ps.params, ps.buffers

	n := 0
	for _, p := range m.Params {
		p.Offset = n
		n += tensor.Volume(p.Value.Shape)
	}
	m.values, m.grads = make([]float32, n), make([]float32, n)
	for _, p := range m.Params {
		size := tensor.Volume(p.Value.Shape)
		p.Value.Data = m.values[p.Offset : p.Offset+size : p.Offset+size]
	}
	m.pointGrads()
	nb := 0
	for _, b := range m.Buffers {
		b.Offset = nb
		nb += tensor.Volume(b.Value.Shape)
	}
	m.buffers = make([]float32, nb)
	for _, b := range m.Buffers {
		size := tensor.Volume(b.Value.Shape)
		b.Value.Data = m.buffers[b.Offset : b.Offset+size : b.Offset+size]
	}
	m.Init(seed)
	return m, nil
}

// Init (re)initialises every parameter and buffer from seed.
func (m *Model) Init(seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	for _, p := range m.Params {
		p.Init.Fill(p.Value.Data, p.FanIn, p.FanOut, rng)
	}
	for _, b := range m.Buffers {
		tensor.Fill(b.Value, b.fill)
	}
}

// Forward runs every layer on a batch x [N, InputShape...].
func (m *Model) Forward(t *autograd.Tape, x *autograd.Var) *autograd.Var {
	for _, l := range m.Layers {
		x = l.Forward(t, x)
	}
	return x
}

// Values returns the parameter arena.
func (m *Model) Values() []float32 { return m.values }

// Grads returns the gradient arena (same layout as Values).
func (m *Model) Grads() []float32 { return m.grads }

// BufferValues returns the arena of non-trainable state.
func (m *Model) BufferValues() []float32 { return m.buffers }

// NumParams returns the number of trainable values.
func (m *Model) NumParams() int { return len(m.values) }

// MoveGrads moves the gradient arena to arena, which must hold NumParams
// elements: it copies the gradients there and points every parameter's
// gradient into it, so that backward writes there from now on. It lets the
// arena live in memory that other processes reach (a shared buffer of
// collective.Communicator), where they can reduce it without a copy.
func (m *Model) MoveGrads(arena []float32) error {
	if len(arena) != len(m.grads) {
		return fmt.Errorf("nn: MoveGrads: arena of %d elements for %d parameters", len(arena), len(m.grads))
	}
	copy(arena, m.grads)
	m.grads = arena
	m.pointGrads()
	return nil
}

// pointGrads makes every parameter's gradient a view of the arena.
func (m *Model) pointGrads() {
	for _, p := range m.Params {
		size := tensor.Volume(p.Value.Shape)
		p.Grad.Data = m.grads[p.Offset : p.Offset+size : p.Offset+size]
	}
}

// ZeroGrad sets every gradient to zero.
func (m *Model) ZeroGrad() { clear(m.grads) }

// DecayMask returns, per arena element, whether weight decay applies.
func (m *Model) DecayMask() []bool {
	mask := make([]bool, len(m.values))
	for _, p := range m.Params {
		if p.Decay {
			for i := range p.Value.Data {
				mask[p.Offset+i] = true
			}
		}
	}
	return mask
}

// Predict runs a no-grad forward pass on x and returns a copy of the output.
func (m *Model) Predict(x *tensor.Tensor) *tensor.Tensor {
	return m.Forward(nil, autograd.Constant(x)).Value.Clone()
}

// layerName returns the short type name of a layer ("Dense", "LSTM").
func layerName(l Layer) string {
	if n, ok := l.(interface{ Kind() string }); ok {
		return n.Kind()
	}
	s := fmt.Sprintf("%T", l)
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '.' {
			return s[i+1:]
		}
	}
	return s
}

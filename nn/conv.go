package nn

import (
	"fmt"

	"github.com/shoal-dl/shoal/autograd"
	"github.com/shoal-dl/shoal/tensor"
)

// Conv2D convolves [C, H, W] inputs with Filters kernels of Kernel×Kernel.
type Conv2D struct {
	Filters, Kernel int
	// Stride defaults to 1; Padding to 0 ("same" for stride 1 is
	// Padding = Kernel/2 with an odd Kernel).
	Stride, Padding int
	NoBias          bool
	// Init fills the kernels; nil means XavierUniform.
	Init Initializer

	W, B *autograd.Var
	geom tensor.ConvGeom
}

// Build implements Layer.
func (c *Conv2D) Build(in []int, ps *Params) ([]int, error) {
	if c.Filters <= 0 || c.Kernel <= 0 || c.Stride < 0 || c.Padding < 0 {
		return nil, fmt.Errorf("filters %d and kernel %d must be positive, stride %d and padding %d not negative",
			c.Filters, c.Kernel, c.Stride, c.Padding)
	}
	if len(in) != 3 {
		return nil, fmt.Errorf("%w: Conv2D needs [channels, height, width], got %v", ErrShape, in)
	}
	c.geom = geometry(c.Kernel, c.Stride, c.Padding)
	oh, ow := c.geom.OutSize(in[1], in[2])
	if oh <= 0 || ow <= 0 {
		return nil, fmt.Errorf("%w: kernel %d with padding %d does not fit input %v", ErrShape, c.Kernel, c.Padding, in)
	}
	k := c.Kernel * c.Kernel
	init := c.Init
	if init == nil {
		init = XavierUniform
	}
	c.W = ps.Weight("weight", []int{c.Filters, in[0], c.Kernel, c.Kernel}, init, in[0]*k, c.Filters*k)
	c.B = nil
	if !c.NoBias {
		c.B = ps.Bias("bias", []int{c.Filters}, 0)
	}
	return []int{c.Filters, oh, ow}, nil
}

// Forward implements Layer.
func (c *Conv2D) Forward(t *autograd.Tape, x *autograd.Var) *autograd.Var {
	return t.Conv2D(x, c.W, c.B, c.geom)
}

func geometry(kernel, stride, padding int) tensor.ConvGeom {
	if stride == 0 {
		stride = 1
	}
	return tensor.ConvGeom{KH: kernel, KW: kernel, StrideH: stride, StrideW: stride, PadH: padding, PadW: padding}
}

// pool is the shape logic shared by the pooling layers.
type pool struct {
	// Size is the window; Stride defaults to Size.
	Size, Stride, Padding int
	geom                  tensor.ConvGeom
}

func (p *pool) build(in []int) ([]int, error) {
	if p.Size <= 0 || p.Stride < 0 || p.Padding < 0 {
		return nil, fmt.Errorf("size %d must be positive, stride %d and padding %d not negative", p.Size, p.Stride, p.Padding)
	}
	if len(in) != 3 {
		return nil, fmt.Errorf("%w: pooling needs [channels, height, width], got %v", ErrShape, in)
	}
	stride := p.Stride
	if stride == 0 {
		stride = p.Size
	}
	p.geom = geometry(p.Size, stride, p.Padding)
	oh, ow := p.geom.OutSize(in[1], in[2])
	if oh <= 0 || ow <= 0 {
		return nil, fmt.Errorf("%w: window %d does not fit input %v", ErrShape, p.Size, in)
	}
	return []int{in[0], oh, ow}, nil
}

// MaxPool2D takes the maximum of each window.
type MaxPool2D struct{ pool }

// NewMaxPool2D returns a max-pooling layer with the given window and stride
// (0 means the window).
func NewMaxPool2D(size, stride int) *MaxPool2D {
	return &MaxPool2D{pool{Size: size, Stride: stride}}
}

// Build implements Layer.
func (p *MaxPool2D) Build(in []int, _ *Params) ([]int, error) { return p.build(in) }

// Forward implements Layer.
func (p *MaxPool2D) Forward(t *autograd.Tape, x *autograd.Var) *autograd.Var {
	return t.MaxPool2D(x, p.geom)
}

// AvgPool2D takes the mean of each window.
type AvgPool2D struct{ pool }

// NewAvgPool2D returns an average-pooling layer with the given window and
// stride (0 means the window).
func NewAvgPool2D(size, stride int) *AvgPool2D {
	return &AvgPool2D{pool{Size: size, Stride: stride}}
}

// Build implements Layer.
func (p *AvgPool2D) Build(in []int, _ *Params) ([]int, error) { return p.build(in) }

// Forward implements Layer.
func (p *AvgPool2D) Forward(t *autograd.Tape, x *autograd.Var) *autograd.Var {
	return t.AvgPool2D(x, p.geom)
}

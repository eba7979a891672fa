package tensor

import (
	"fmt"
	"strings"
)

// Tensor is a dense, row-major, contiguous array of float32 values.
//
// Shape and Data are exported so that kernels elsewhere in shoal can work on
// the raw slice; len(Data) always equals the product of Shape.
type Tensor struct {
	Shape []int
	Data  []float32
}

// New returns a zero-filled tensor of the given shape. A negative dimension
// is a programmer error and panics.
func New(shape ...int) *Tensor {
	n := Volume(shape)
	return &Tensor{Shape: append([]int(nil), shape...), Data: make([]float32, n)}
}

// FromData wraps data (not copied) as a tensor of the given shape. It panics
// when len(data) does not match the shape.
func FromData(data []float32, shape ...int) *Tensor {
	if n := Volume(shape); n != len(data) {
		panic(fmt.Sprintf("tensor: FromData: %d values do not fill shape %v (%d)", len(data), copyShape(shape), n))
	}
	return &Tensor{Shape: append([]int(nil), shape...), Data: data}
}

// Volume returns the number of elements of a tensor with the given shape.
func Volume(shape []int) int {
	n := 1
	for _, d := range shape {
		if d < 0 {
			panic(fmt.Sprintf("tensor: negative dimension in shape %v", copyShape(shape)))
		}
		n *= d
	}
	return n
}

// copyShape copies a shape for an error message, so that formatting it
// does not make the caller's slice escape to the heap.
func copyShape(shape []int) []int { return append([]int(nil), shape...) }

// Len returns the number of elements.
func (t *Tensor) Len() int { return len(t.Data) }

// Rank returns the number of dimensions.
func (t *Tensor) Rank() int { return len(t.Shape) }

// Dim returns the size of dimension i; negative i counts from the end.
func (t *Tensor) Dim(i int) int {
	if i < 0 {
		i += len(t.Shape)
	}
	return t.Shape[i]
}

// Reshape returns a view of t with a new shape and the same data. One
// dimension may be -1 and is then inferred. It panics when the sizes differ.
func (t *Tensor) Reshape(shape ...int) *Tensor {
	shape = append([]int(nil), shape...)
	infer, known := -1, 1
	for i, d := range shape {
		if d == -1 && infer < 0 {
			infer = i
			continue
		}
		known *= d
	}
	if infer >= 0 && known > 0 {
		shape[infer] = len(t.Data) / known
	}
	if Volume(shape) != len(t.Data) {
		panic(fmt.Sprintf("tensor: Reshape: cannot view shape %v as %v", t.Shape, shape))
	}
	return &Tensor{Shape: shape, Data: t.Data}
}

// Clone returns a deep copy of t.
func (t *Tensor) Clone() *Tensor {
	return &Tensor{Shape: append([]int(nil), t.Shape...), Data: append([]float32(nil), t.Data...)}
}

// CopyFrom copies src's values into t; the element counts must agree.
func (t *Tensor) CopyFrom(src *Tensor) {
	if len(t.Data) != len(src.Data) {
		panic(fmt.Sprintf("tensor: CopyFrom: shape %v vs %v", t.Shape, src.Shape))
	}
	copy(t.Data, src.Data)
}

// Zero sets every element to 0.
func (t *Tensor) Zero() { clear(t.Data) }

// SameShape reports whether a and b have identical shapes.
func SameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// String formats small tensors in full and large ones by shape only.
func (t *Tensor) String() string {
	if len(t.Data) > 64 {
		return fmt.Sprintf("Tensor%v", t.Shape)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Tensor%v%v", t.Shape, t.Data)
	return b.String()
}

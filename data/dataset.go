package data

import (
	"fmt"
	"math"
	"slices"

	"github.com/shoal-dl/shoal/tensor"
)

// Dataset is random-access examples with fixed-shape float32 features and
// targets. Implementations must allow concurrent calls to Read.
type Dataset interface {
	// Len returns the number of examples.
	Len() int
	// FeatureShape returns the shape of one example's features, e.g.
	// [1, 28, 28] for an image or [F] for a CSV row.
	FeatureShape() []int
	// TargetShape returns the shape of one example's target: [] (a scalar)
	// for a class label.
	TargetShape() []int
	// Read copies example i's features and target into the given slices,
	// whose lengths are the volumes of the two shapes. A class label is
	// written as a float32 into target[0]. An index out of range or a slice
	// of the wrong length is a programmer error and panics.
	Read(i int, features, target []float32)
}

// ErrReader is implemented by datasets whose Read can fail (those backed by
// files, like Records). The Loader prefers ReadErr when it is present and
// reports its error instead of yielding a batch.
type ErrReader interface {
	ReadErr(i int, features, target []float32) error
}

// InMemory is a Dataset held in two flat slices: x holds Len() feature blocks
// of volume(FeatureShape) values each, y the targets likewise.
type InMemory struct {
	x, y                   []float32
	featShape, targetShape []int
	featVol, targetVol     int
	n                      int
}

// NewInMemory wraps x and y (not copied) as a dataset. len(x) must be a
// multiple of the feature volume, and y must hold as many targets as x holds
// examples.
func NewInMemory(x []float32, featShape []int, y []float32, targetShape []int) (*InMemory, error) {
	fv, err := shapeVolume(featShape)
	if err != nil {
		return nil, fmt.Errorf("data: NewInMemory: feature shape: %w", err)
	}
	tv, err := shapeVolume(targetShape)
	if err != nil {
		return nil, fmt.Errorf("data: NewInMemory: target shape: %w", err)
	}
	if fv == 0 || tv == 0 {
		return nil, fmt.Errorf("data: NewInMemory: feature shape %v and target shape %v must not be empty", featShape, targetShape)
	}
	if len(x)%fv != 0 {
		return nil, fmt.Errorf("data: NewInMemory: %d feature values are not a whole number of examples of shape %v", len(x), featShape)
	}
	n := len(x) / fv
	if len(y) != n*tv {
		return nil, fmt.Errorf("data: NewInMemory: %d examples need %d target values of shape %v, got %d", n, n*tv, targetShape, len(y))
	}
	return &InMemory{
		x: x, y: y,
		featShape: slices.Clone(featShape), targetShape: slices.Clone(targetShape),
		featVol: fv, targetVol: tv, n: n,
	}, nil
}

// shapeVolume returns the volume of shape, or an error for negative or
// overflowing dimensions.
func shapeVolume(shape []int) (int, error) {
	v := 1
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("negative dimension in %v", shape)
		}
		if d != 0 && v > math.MaxInt32/d {
			return 0, fmt.Errorf("shape %v is too large", shape)
		}
		v *= d
	}
	return v, nil
}

// Len returns the number of examples.
func (m *InMemory) Len() int { return m.n }

// FeatureShape returns the shape of one example's features.
func (m *InMemory) FeatureShape() []int { return slices.Clone(m.featShape) }

// TargetShape returns the shape of one example's target.
func (m *InMemory) TargetShape() []int { return slices.Clone(m.targetShape) }

// Read copies example i into features and target.
func (m *InMemory) Read(i int, features, target []float32) {
	if len(features) != m.featVol || len(target) != m.targetVol {
		panic(fmt.Sprintf("data: InMemory.Read: buffers of %d and %d values for shapes %v and %v", len(features), len(target), m.featShape, m.targetShape))
	}
	copy(features, m.x[i*m.featVol:(i+1)*m.featVol])
	copy(target, m.y[i*m.targetVol:(i+1)*m.targetVol])
}

// Features returns the flat feature slice (shared, not copied).
func (m *InMemory) Features() []float32 { return m.x }

// Targets returns the flat target slice (shared, not copied).
func (m *InMemory) Targets() []float32 { return m.y }

// Slice returns examples [from, to) as a dataset that shares m's memory, for
// example to hold out a validation set. Bounds out of range panic.
func (m *InMemory) Slice(from, to int) *InMemory {
	if from < 0 || to < from || to > m.n {
		panic(fmt.Sprintf("data: InMemory.Slice(%d, %d) of %d examples", from, to, m.n))
	}
	s := *m
	s.x = m.x[from*m.featVol : to*m.featVol]
	s.y = m.y[from*m.targetVol : to*m.targetVol]
	s.n = to - from
	return &s
}

// NumClasses returns 1 + the largest label when the targets are scalar
// non-negative integers (a classification dataset), and 0 otherwise.
func (m *InMemory) NumClasses() int {
	if m.targetVol != 1 || len(m.targetShape) != 0 {
		return 0
	}
	maxLabel := -1
	for _, v := range m.y {
		if v < 0 || v != float32(math.Trunc(float64(v))) || v > math.MaxInt32 {
			return 0
		}
		maxLabel = max(maxLabel, int(v))
	}
	return maxLabel + 1
}

// Materialize reads every example of ds into memory. Use it to hold a
// file-backed dataset in memory, or to freeze a transformed one.
func Materialize(ds Dataset) (*InMemory, error) {
	fs, ts := ds.FeatureShape(), ds.TargetShape()
	fv, tv := tensor.Volume(fs), tensor.Volume(ts)
	n := ds.Len()
	x := make([]float32, n*fv)
	y := make([]float32, n*tv)
	er, hasErr := ds.(ErrReader)
	for i := range n {
		f, t := x[i*fv:(i+1)*fv], y[i*tv:(i+1)*tv]
		if hasErr {
			if err := er.ReadErr(i, f, t); err != nil {
				return nil, err
			}
			continue
		}
		ds.Read(i, f, t)
	}
	return NewInMemory(x, fs, y, ts)
}

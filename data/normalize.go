package data

import (
	"fmt"
	"math"
	"slices"
)

// Affine is a per-feature (or global) transform of features,
// x' = (x − Shift)·Scale. Fit it on the training set with FitStandardize or
// FitNormalize and apply the same one to the test set.
type Affine struct {
	// Shift and Scale hold one value per feature, or a single value that
	// applies to every feature.
	Shift, Scale []float32
}

// Apply transforms one example's features in place. A features slice whose
// length the Affine does not fit is a programmer error and panics.
func (a *Affine) Apply(features []float32) {
	if len(a.Shift) == 1 {
		s, k := a.Shift[0], a.Scale[0]
		for i, v := range features {
			features[i] = (v - s) * k
		}
		return
	}
	if len(features) != len(a.Shift) {
		panic(fmt.Sprintf("data: Affine.Apply: %d features for a transform of %d", len(features), len(a.Shift)))
	}
	for i, v := range features {
		features[i] = (v - a.Shift[i]) * a.Scale[i]
	}
}

// ApplyInPlace transforms every example of m.
func (a *Affine) ApplyInPlace(m *InMemory) {
	for i := range m.n {
		a.Apply(m.x[i*m.featVol : (i+1)*m.featVol])
	}
}

// Transformed returns a view of ds whose Read applies a.
func Transformed(ds Dataset, a *Affine) Dataset { return &transformed{ds, a} }

type transformed struct {
	Dataset
	a *Affine
}

func (t *transformed) Read(i int, features, target []float32) {
	t.Dataset.Read(i, features, target)
	t.a.Apply(features)
}

func (t *transformed) ReadErr(i int, features, target []float32) error {
	if er, ok := t.Dataset.(ErrReader); ok {
		if err := er.ReadErr(i, features, target); err != nil {
			return err
		}
	} else {
		t.Dataset.Read(i, features, target)
	}
	t.a.Apply(features)
	return nil
}

// featureStats accumulates, in float64, per-feature or global moments and
// extremes over every example of ds.
func featureStats(ds Dataset, perFeature bool) (mean, std, lo, hi []float64, err error) {
	fv, tv := volumeOf(ds.FeatureShape()), volumeOf(ds.TargetShape())
	if ds.Len() == 0 {
		return nil, nil, nil, nil, fmt.Errorf("data: cannot fit a transform on an empty dataset")
	}
	k := 1
	if perFeature {
		k = fv
	}
	sum, sq := make([]float64, k), make([]float64, k)
	lo, hi = make([]float64, k), make([]float64, k)
	for j := range k {
		lo[j], hi[j] = math.Inf(1), math.Inf(-1)
	}
	f, t := make([]float32, fv), make([]float32, tv)
	er, hasErr := ds.(ErrReader)
	for i := range ds.Len() {
		if hasErr {
			if err := er.ReadErr(i, f, t); err != nil {
				return nil, nil, nil, nil, err
			}
		} else {
			ds.Read(i, f, t)
		}
		for j, v := range f {
			c := 0
			if perFeature {
				c = j
			}
			x := float64(v)
			sum[c] += x
			sq[c] += x * x
			lo[c], hi[c] = min(lo[c], x), max(hi[c], x)
		}
	}
	count := float64(ds.Len())
	if !perFeature {
		count *= float64(fv)
	}
	mean, std = make([]float64, k), make([]float64, k)
	for j := range k {
		mean[j] = sum[j] / count
		std[j] = math.Sqrt(max(sq[j]/count-mean[j]*mean[j], 0))
	}
	return mean, std, lo, hi, nil
}

func volumeOf(shape []int) int {
	v, _ := shapeVolume(shape)
	return v
}

// FitStandardize returns the transform to zero mean and unit standard
// deviation, per feature or over all features together, measured on ds. A
// constant feature is shifted but not scaled.
func FitStandardize(ds Dataset, perFeature bool) (*Affine, error) {
	mean, std, _, _, err := featureStats(ds, perFeature)
	if err != nil {
		return nil, err
	}
	a := &Affine{Shift: make([]float32, len(mean)), Scale: make([]float32, len(mean))}
	for j := range mean {
		a.Shift[j], a.Scale[j] = float32(mean[j]), 1
		if std[j] > 0 {
			a.Scale[j] = float32(1 / std[j])
		}
	}
	return a, nil
}

// FitNormalize returns the transform of the range measured on ds to [0, 1],
// per feature or over all features together. A constant feature maps to 0.
func FitNormalize(ds Dataset, perFeature bool) (*Affine, error) {
	_, _, lo, hi, err := featureStats(ds, perFeature)
	if err != nil {
		return nil, err
	}
	a := &Affine{Shift: make([]float32, len(lo)), Scale: make([]float32, len(lo))}
	for j := range lo {
		a.Shift[j], a.Scale[j] = float32(lo[j]), 1
		if hi[j] > lo[j] {
			a.Scale[j] = float32(1 / (hi[j] - lo[j]))
		}
	}
	return a, nil
}

// Clone returns a deep copy of a.
func (a *Affine) Clone() *Affine {
	return &Affine{Shift: slices.Clone(a.Shift), Scale: slices.Clone(a.Scale)}
}

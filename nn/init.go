package nn

import (
	"math"
	"math/rand/v2"
)

// Initializer fills a new parameter from a seeded random source.
type Initializer interface {
	Fill(w []float32, fanIn, fanOut int, rng *rand.Rand)
}

// InitFunc adapts a function to Initializer.
type InitFunc func(w []float32, fanIn, fanOut int, rng *rand.Rand)

// Fill calls f.
func (f InitFunc) Fill(w []float32, fanIn, fanOut int, rng *rand.Rand) { f(w, fanIn, fanOut, rng) }

// Constant fills with v (Zeros is Constant(0)).
func Constant(v float32) Initializer {
	return InitFunc(func(w []float32, _, _ int, _ *rand.Rand) {
		for i := range w {
			w[i] = v
		}
	})
}

// Zeros fills with 0.
var Zeros = Constant(0)

// XavierUniform draws from U(−a, a) with a = √(6/(fanIn+fanOut)) (Glorot
// and Bengio, 2010).
var XavierUniform = InitFunc(func(w []float32, fanIn, fanOut int, rng *rand.Rand) {
	uniform(w, math.Sqrt(6/float64(max(fanIn+fanOut, 1))), rng)
})

// XavierNormal draws from N(0, 2/(fanIn+fanOut)).
var XavierNormal = InitFunc(func(w []float32, fanIn, fanOut int, rng *rand.Rand) {
	normal(w, math.Sqrt(2/float64(max(fanIn+fanOut, 1))), rng)
})

// HeNormal draws from N(0, 2/fanIn) (He et al., 2015), for ReLU networks.
var HeNormal = InitFunc(func(w []float32, fanIn, _ int, rng *rand.Rand) {
	normal(w, math.Sqrt(2/float64(max(fanIn, 1))), rng)
})

// HeUniform draws from U(−a, a) with a = √(6/fanIn).
var HeUniform = InitFunc(func(w []float32, fanIn, _ int, rng *rand.Rand) {
	uniform(w, math.Sqrt(6/float64(max(fanIn, 1))), rng)
})

// Uniform returns an initializer drawing from U(−a, a).
func Uniform(a float64) Initializer {
	return InitFunc(func(w []float32, _, _ int, rng *rand.Rand) { uniform(w, a, rng) })
}

func uniform(w []float32, a float64, rng *rand.Rand) {
	for i := range w {
		w[i] = float32((rng.Float64()*2 - 1) * a)
	}
}

func normal(w []float32, std float64, rng *rand.Rand) {
	for i := range w {
		w[i] = float32(rng.NormFloat64() * std)
	}
}

// InitializerByName returns the initializer for a spec name: "xavier",
// "xavier_uniform", "xavier_normal", "he", "he_normal", "he_uniform",
// "zeros".
func InitializerByName(name string) (Initializer, bool) {
	switch name {
	case "xavier", "xavier_uniform", "glorot", "glorot_uniform":
		return XavierUniform, true
	case "xavier_normal", "glorot_normal":
		return XavierNormal, true
	case "he", "he_normal", "kaiming", "kaiming_normal":
		return HeNormal, true
	case "he_uniform", "kaiming_uniform":
		return HeUniform, true
	case "zeros", "zero":
		return Zeros, true
	}
	return nil, false
}

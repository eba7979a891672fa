package autogradtest

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/shoal-dl/shoal/autograd"
	"github.com/shoal-dl/shoal/tensor"
)

// Input is one input of a checked function.
type Input struct {
	Shape []int
	// Data holds the values; nil means uniform random in [Lo, Hi)
	// (default [−1, 1)).
	Data   []float64
	Lo, Hi float64
	// Grad marks inputs whose gradient is checked; they enter the tape as
	// parameters, the others as constants.
	Grad bool
}

// Case is a function to check, given twice: on the tape in float32 and as a
// float64 reference.
type Case struct {
	Name   string
	Inputs []Input
	// F32 computes the output on the tape from the inputs (in order).
	F32 func(t *autograd.Tape, in []*autograd.Var) *autograd.Var
	// F64 computes the same output, flattened, from float64 inputs.
	F64 func(in [][]float64) []float64
	// Tol is the relative tolerance; 0 means 1e-4.
	Tol float64
	// Seed drives the random inputs and the projection of the output.
	Seed uint64
}

// Check runs c and reports every disagreement on tb.
func Check(tb testing.TB, c Case) {
	tb.Helper()
	tol := c.Tol
	if tol == 0 {
		tol = 1e-4
	}
	rng := rand.New(rand.NewPCG(c.Seed, 7))
	in64 := make([][]float64, len(c.Inputs))
	vars := make([]*autograd.Var, len(c.Inputs))
	for i, inp := range c.Inputs {
		n := tensor.Volume(inp.Shape)
		data := inp.Data
		if data == nil {
			lo, hi := inp.Lo, inp.Hi
			if lo == 0 && hi == 0 {
				lo, hi = -1, 1
			}
			data = make([]float64, n)
			for j := range data {
				data[j] = lo + (hi-lo)*rng.Float64()
			}
		}
		if len(data) != n {
			tb.Fatalf("%s: input %d has %d values for shape %v", c.Name, i, len(data), inp.Shape)
		}
		in64[i] = data
		val := tensor.New(inp.Shape...)
		for j, v := range data {
			val.Data[j] = float32(v)
		}
		if inp.Grad {
			vars[i] = autograd.NewParam("input", val, tensor.New(inp.Shape...))
		} else {
			vars[i] = autograd.Constant(val)
		}
	}

	tape := autograd.NewTape(autograd.Training)
	out := c.F32(tape, vars)
	ref := c.F64(in64)
	if out.Value.Len() != len(ref) {
		tb.Fatalf("%s: float32 output has %d values, reference %d", c.Name, out.Value.Len(), len(ref))
	}
	if e := relErr32(out.Value.Data, ref); e > tol {
		tb.Errorf("%s: forward differs from float64 reference: relative error %.3g > %.3g", c.Name, e, tol)
	}

	// Project the output on a fixed random direction: L = Σ out·r.
	r := make([]float64, len(ref))
	for i := range r {
		r[i] = rng.Float64()*2 - 1
	}
	g := tape.GradOf(out)
	for i := range r {
		g.Data[i] = float32(r[i])
	}
	tape.BackwardFrom()

	loss := func() float64 {
		var s float64
		for i, v := range c.F64(in64) {
			s += v * r[i]
		}
		return s
	}
	for i, inp := range c.Inputs {
		if !inp.Grad {
			continue
		}
		fd := make([]float64, len(in64[i]))
		for j := range fd {
			x := in64[i][j]
			h := 1e-6 * math.Max(1, math.Abs(x))
			in64[i][j] = x + h
			up := loss()
			in64[i][j] = x - h
			down := loss()
			in64[i][j] = x
			fd[j] = (up - down) / (2 * h)
		}
		if e := relErr32(vars[i].Grad.Data, fd); e > tol {
			tb.Errorf("%s: gradient of input %d differs from finite differences of the float64 reference: relative error %.3g > %.3g\n got  %v\n want %v",
				c.Name, i, e, tol, head32(vars[i].Grad.Data), head64(fd))
		}
	}
}

// relErr32 returns max|got−want| / max|want| (absolute when want is ~0).
func relErr32(got []float32, want []float64) float64 {
	var diff, scale float64
	for i, w := range want {
		diff = math.Max(diff, math.Abs(float64(got[i])-w))
		scale = math.Max(scale, math.Abs(w))
	}
	if math.IsNaN(diff) {
		return math.Inf(1)
	}
	return diff / math.Max(scale, 1e-6)
}

func head32(s []float32) []float32 { return s[:min(len(s), 8)] }
func head64(s []float64) []float64 { return s[:min(len(s), 8)] }

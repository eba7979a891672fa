package tensor

import "math"

// exp32 is eˣ in float32 arithmetic, within a few ulp of the correctly
// rounded result and several times faster than going through math.Exp.
// x = n·ln2 + r with |r| ≤ ln2/2; eʳ comes from its Taylor series to
// degree 6 (truncation 1.2e-7 relative, about one ulp), evaluated in
// Estrin's scheme so that the dependent chain stays short, and 2ⁿ is built
// in the exponent bits. Arguments whose 2ⁿ would leave the normal range
// take the float64 path.
func exp32(x float32) float32 {
	if x < -87.3 || x > 88.3 {
		return float32(math.Exp(float64(x)))
	}
	return expNormal(x)
}

// expNormal is exp32 for -87.3 ≤ x ≤ 88.3 (NaN passes through); it is
// small enough to be inlined into the loops that call it.
func expNormal(x float32) float32 {
	const (
		log2e   = 1.44269504088896341
		ln2Hi   = 0.693145751953125 // 15 significant bits: n·ln2Hi is exact
		ln2Lo   = 1.428606765330187045e-06
		shifter = 12582912 // 1.5·2²³: adding it rounds to an integer
	)
	n := (x*log2e + shifter) - shifter
	r := x - n*ln2Hi - n*ln2Lo
	r2 := r * r
	p := (1 + r) + r2*((1.0/2+r*(1.0/6))+r2*((1.0/24+r*(1.0/120))+r2*(1.0/720)))
	return p * math.Float32frombits(uint32(int32(n)+127)<<23)
}

// expMinArg is where expNormal stops being exact: below it eˣ < 1.2e-38.
// Softmax terms and sigmoid tails clamp their argument here (an absolute
// error under 1.2e-38) to stay on the inlined path.
const expMinArg = -87.3

package tensor

import "math"

// exp32 is eˣ in float32 arithmetic, within a few ulp of the correctly
// rounded result and several times faster than going through math.Exp.
// x = n·ln2 + r with |r| ≤ ln2/2, eʳ from its Taylor series to degree 7
// (truncation below 1e-8 relative) and 2ⁿ built in the exponent bits.
// Arguments whose 2ⁿ would leave the normal range take the float64 path.
func exp32(x float32) float32 {
	const (
		log2e   = 1.44269504088896341
		ln2Hi   = 0.693145751953125 // 15 significant bits: n·ln2Hi is exact
		ln2Lo   = 1.428606765330187045e-06
		shifter = 12582912 // 1.5·2²³: adding it rounds to an integer
	)
	if x < -87.3 || x > 88.3 {
		return float32(math.Exp(float64(x)))
	}
	n := (x*log2e + shifter) - shifter
	r := x - n*ln2Hi - n*ln2Lo
	p := 1 + r*(1+r*(1.0/2+r*(1.0/6+r*(1.0/24+r*(1.0/120+r*(1.0/720+r*(1.0/5040)))))))
	return p * math.Float32frombits(uint32(int32(n)+127)<<23)
}

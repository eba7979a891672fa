package collective

import (
	"fmt"
	"math"
)

// Compression selects how float32 values travel on the wire. Reductions always
// accumulate in float32; only what crosses between ranks is narrowed.
type Compression int

const (
	// None sends float32 as is.
	None Compression = iota
	// FP16 sends IEEE half precision (round to nearest even); values beyond
	// ±65504 become infinities, so scale gradients first if they can be large.
	FP16
	// BF16 sends bfloat16: float32's range with 8 bits of mantissa.
	BF16
)

func (c Compression) String() string {
	switch c {
	case None:
		return "none"
	case FP16:
		return "fp16"
	case BF16:
		return "bf16"
	}
	return fmt.Sprintf("Compression(%d)", int(c))
}

// ParseCompression maps "none", "fp16" or "bf16" to a Compression.
func ParseCompression(s string) (Compression, error) {
	switch s {
	case "", "none":
		return None, nil
	case "fp16":
		return FP16, nil
	case "bf16":
		return BF16, nil
	}
	return None, fmt.Errorf("collective: unknown compression %q (want none, fp16 or bf16)", s)
}

// wireSize is the number of bytes one element takes on the wire.
func (c Compression) wireSize() int {
	if c == None {
		return 4
	}
	return 2
}

// f32ToF16 rounds f to the nearest IEEE half, ties to even.
func f32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int(b>>23) & 0xff
	mant := b & 0x7fffff
	if exp == 0xff {
		if mant != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	}
	e := exp - 127 + 15
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 {
		if e < -10 {
			return sign
		}
		m := mant | 0x800000
		shift := uint32(14 - e)
		h := m >> shift
		rem := m & (1<<shift - 1)
		half := uint32(1) << (shift - 1)
		if rem > half || (rem == half && h&1 == 1) {
			h++
		}
		return sign | uint16(h)
	}
	h := uint16(e)<<10 | uint16(mant>>13)
	rem := mant & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && h&1 == 1) {
		h++ // may carry into the exponent, up to infinity: that is correct rounding
	}
	return sign | h
}

// f16Table maps every half to its float32 value.
var f16Table = func() *[1 << 16]float32 {
	var t [1 << 16]float32
	for i := range t {
		t[i] = f16ToF32Slow(uint16(i))
	}
	return &t
}()

func f16ToF32Slow(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch exp {
	case 0:
		v := float32(mant) * (1.0 / (1 << 24))
		return math.Float32frombits(sign | math.Float32bits(v))
	case 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	}
	return math.Float32frombits(sign | (exp+112)<<23 | mant<<13)
}

func f32ToBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 {
		return uint16(b>>16) | 0x40 // quiet NaN, keep the sign
	}
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}

func bf16ToF32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// encode writes src in wire form into dst (len(dst) == 2*len(src)).
func (c Compression) encode(dst []uint16, src []float32) {
	dst = dst[:len(src)]
	switch c {
	case FP16:
		for i, v := range src {
			dst[i] = f32ToF16(v)
		}
	case BF16:
		for i, v := range src {
			dst[i] = f32ToBF16(v)
		}
	default:
		panic("collective: encode without compression")
	}
}

// decodeInto combines wire values into dst: copies when reduce is false,
// otherwise reduces with op.
func (c Compression) decodeInto(dst []float32, src []uint16, reduce bool, op Op) {
	dst = dst[:len(src)]
	switch {
	case c == FP16 && !reduce:
		t := f16Table
		for i, h := range src {
			dst[i] = t[h]
		}
	case c == FP16 && op != Max:
		t := f16Table
		for i, h := range src {
			dst[i] += t[h]
		}
	case c == FP16:
		t := f16Table
		for i, h := range src {
			dst[i] = maxOf(dst[i], t[h])
		}
	case !reduce:
		for i, h := range src {
			dst[i] = bf16ToF32(h)
		}
	case op != Max:
		for i, h := range src {
			dst[i] += bf16ToF32(h)
		}
	default:
		for i, h := range src {
			dst[i] = maxOf(dst[i], bf16ToF32(h))
		}
	}
}

// round replaces every value of buf by what a peer decodes from the wire, so
// that the rank that computed a value holds the same bits as the ranks that
// received it.
func (c Compression) round(buf []float32) {
	switch c {
	case FP16:
		t := f16Table
		for i, v := range buf {
			buf[i] = t[f32ToF16(v)]
		}
	case BF16:
		for i, v := range buf {
			buf[i] = bf16ToF32(f32ToBF16(v))
		}
	}
}

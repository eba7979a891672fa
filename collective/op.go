package collective

import (
	"fmt"
	"math"
	"unsafe"
)

// Op is a reduction applied element-wise across ranks.
type Op int

const (
	// Sum adds the buffers of all ranks.
	Sum Op = iota
	// Mean adds them and divides by the number of ranks.
	Mean
	// Max keeps the largest value; NaN wins over numbers, and +0 over -0.
	Max
)

func (o Op) String() string {
	switch o {
	case Sum:
		return "sum"
	case Mean:
		return "mean"
	case Max:
		return "max"
	}
	return fmt.Sprintf("Op(%d)", int(o))
}

func (o Op) valid() bool { return o >= Sum && o <= Max }

// canonicalNaN is the NaN Max returns, so that every rank produces the same
// bits whatever NaN payloads came in.
var canonicalNaN = math.Float32frombits(0x7fc00000)

// maxOf is commutative down to the bit: max(a, b) and max(b, a) agree for
// signed zeros and NaNs too, which recursive doubling relies on.
func maxOf(a, b float32) float32 {
	if a != a || b != b {
		return canonicalNaN
	}
	if b > a || (a == b && math.Signbit(float64(a))) {
		return b
	}
	return a
}

// reduceInto combines src into dst element-wise (Mean reduces as Sum; the
// division happens once at the end).
func reduceInto(op Op, dst, src []float32) {
	if len(dst) != len(src) {
		panic(fmt.Sprintf("collective: reduceInto: lengths %d and %d differ", len(dst), len(src)))
	}
	switch op {
	case Sum, Mean:
		addInto(dst, src)
	case Max:
		for i, v := range src {
			dst[i] = maxOf(dst[i], v)
		}
	default:
		panic(fmt.Sprintf("collective: reduceInto: bad op %d", int(op)))
	}
}

// addInto is dst += src, unrolled so the compiler drops bounds checks.
func addInto(dst, src []float32) {
	n := len(dst)
	src = src[:n]
	i := addVec(dst, src)
	for ; i+8 <= n; i += 8 {
		d := dst[i : i+8 : i+8]
		s := src[i : i+8 : i+8]
		d[0] += s[0]
		d[1] += s[1]
		d[2] += s[2]
		d[3] += s[3]
		d[4] += s[4]
		d[5] += s[5]
		d[6] += s[6]
		d[7] += s[7]
	}
	for ; i < n; i++ {
		dst[i] += src[i]
	}
}

// addScaleInto sets dst[i] = (dst[i] + src[i]) * s: a Mean's last reduction
// and its division in one pass, with the same two roundings as addInto
// followed by scale.
func addScaleInto(dst, src []float32, s float32) {
	n := len(dst)
	src = src[:n]
	i := 0
	for ; i+8 <= n; i += 8 {
		d := dst[i : i+8 : i+8]
		x := src[i : i+8 : i+8]
		d[0] = (d[0] + x[0]) * s
		d[1] = (d[1] + x[1]) * s
		d[2] = (d[2] + x[2]) * s
		d[3] = (d[3] + x[3]) * s
		d[4] = (d[4] + x[4]) * s
		d[5] = (d[5] + x[5]) * s
		d[6] = (d[6] + x[6]) * s
		d[7] = (d[7] + x[7]) * s
	}
	for ; i < n; i++ {
		dst[i] = (dst[i] + src[i]) * s
	}
}

func scale(buf []float32, s float32) {
	for i := range buf {
		buf[i] *= s
	}
}

// littleEndian reports whether float32 slices can go on the wire as they lie
// in memory.
var littleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

// bytesOf reinterprets f as its little-endian bytes without copying.
func bytesOf(f []float32) []byte {
	if len(f) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&f[0])), 4*len(f))
}

// floatsOf reinterprets b, whose length is a multiple of 4 and which is
// 4-byte aligned, as float32s.
func floatsOf(b []byte) []float32 {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), len(b)/4)
}

// uint16sOf reinterprets b (even length, 2-byte aligned) as uint16s.
func uint16sOf(b []byte) []uint16 {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Slice((*uint16)(unsafe.Pointer(&b[0])), len(b)/2)
}

// sum2Scale sets a[i] and b[i] to (a[i] + b[i]) · s, rounding the sum and
// then the product: the bits of combineInto, then scale (with s = 1, the
// product is exact).
func sum2Scale(a, b []float32, s float32) {
	b = b[:len(a)]
	for i := sum2ScaleVec(a, b, s); i < len(a); i++ {
		x := float32(a[i]+b[i]) * s
		a[i], b[i] = x, x
	}
}

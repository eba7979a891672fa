//go:build amd64 && !noasm

package collective

import "golang.org/x/sys/cpu"

// Implemented in add_amd64.s; n must be a multiple of 32.

//go:noescape
func addAVX2(dst, src *float32, n int)

//go:noescape
func sumAVX2(dst, a, b *float32, n int)

//go:noescape
func sum2ScaleAVX2(a, b *float32, s float32, n int)

var haveAVX2 = cpu.X86.HasAVX2

// addVec adds the longest prefix of src whose length is a multiple of 32
// into dst with vector instructions and returns its length; the caller
// does the rest. Vector and scalar additions round alike, so the bits do
// not depend on which ran.
func addVec(dst, src []float32) int {
	n := len(dst) &^ 31
	if !haveAVX2 || n == 0 {
		return 0
	}
	_ = src[n-1]
	addAVX2(&dst[0], &src[0], n)
	return n
}

// sumVec is addVec for dst = a + b.
func sumVec(dst, a, b []float32) int {
	n := len(dst) &^ 31
	if !haveAVX2 || n == 0 {
		return 0
	}
	_, _ = a[n-1], b[n-1]
	sumAVX2(&dst[0], &a[0], &b[0], n)
	return n
}

// sum2ScaleVec is addVec for a = b = (a + b) · s.
func sum2ScaleVec(a, b []float32, s float32) int {
	n := len(a) &^ 31
	if !haveAVX2 || n == 0 {
		return 0
	}
	_ = b[n-1]
	sum2ScaleAVX2(&a[0], &b[0], s, n)
	return n
}

//go:build amd64 && !noasm

package optim

import "golang.org/x/sys/cpu"

var haveAVX2 = cpu.X86.HasAVX2

// Implemented in avx2_amd64.s: n a multiple of 8, the same bits as the Go
// loops of adamCore.update, sgdMomentum, sgdNesterov and RMSProp.update
// (plain).
//
//go:noescape
func adamAVX2(p, grad, m, v *float32, n int, k *adamConsts)

//go:noescape
func sgdMomentumAVX2(p, grad, buf *float32, n int, k *sgdConsts)

//go:noescape
func rmspropAVX2(p, grad, sq *float32, n int, k *rmspropConsts)

// sgdVector runs SGD with momentum on the largest multiple of 8 elements
// it can with the AVX2 kernel and returns how many it did.
func sgdVector(p, g, buf []float32, k *sgdConsts) int {
	n := len(p) &^ 7
	if !haveAVX2 || scalarOnly || n == 0 {
		return 0
	}
	_, _ = g[n-1], buf[n-1]
	sgdMomentumAVX2(&p[0], &g[0], &buf[0], n, k)
	return n
}

// rmspropVector runs plain RMSProp (no momentum, not centered) on the
// largest multiple of 8 elements it can with the AVX2 kernel and returns
// how many it did.
func rmspropVector(p, g, sq []float32, k *rmspropConsts) int {
	n := len(p) &^ 7
	if !haveAVX2 || scalarOnly || n == 0 {
		return 0
	}
	_, _ = g[n-1], sq[n-1]
	rmspropAVX2(&p[0], &g[0], &sq[0], n, k)
	return n
}

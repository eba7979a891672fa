//go:build amd64 && !noasm

package optim

// vectorKernel is one set of the kernels this CPU can run; use makes it
// the set the vector paths pick and returns what restores the choice.
type vectorKernel struct {
	name string
	use  func() (restore func())
}

// vectorKernels lists the vector kernels of this CPU: AVX-512 where it has
// it, and AVX2, which an AVX-512 CPU also runs when told to.
func vectorKernels() []vectorKernel {
	pick := func(avx512, avx2 bool) func() func() {
		return func() func() {
			old512, old2 := haveAVX512, haveAVX2
			haveAVX512, haveAVX2 = avx512, avx2
			return func() { haveAVX512, haveAVX2 = old512, old2 }
		}
	}
	var ks []vectorKernel
	if haveAVX512 {
		ks = append(ks, vectorKernel{"avx512", pick(true, true)})
	}
	if haveAVX2 {
		ks = append(ks, vectorKernel{"avx2", pick(false, true)})
	}
	return ks
}

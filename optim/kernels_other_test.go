//go:build !amd64 || noasm

package optim

// vectorKernel is one set of the kernels this CPU can run.
type vectorKernel struct {
	name string
	use  func() (restore func())
}

// vectorKernels: none without the assembly kernels.
func vectorKernels() []vectorKernel { return nil }

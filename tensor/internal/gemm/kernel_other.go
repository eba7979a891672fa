//go:build !amd64 || noasm

package gemm

// availableKernels lists the kernels this build can run: only the pure-Go
// one, as the assembly kernels are left out.
func availableKernels() []kernel { return []kernel{goKernel} }

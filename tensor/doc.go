// Package tensor holds shoal's dense float32 n-d arrays and the kernels that
// compute on them.
//
// A Tensor is a row-major, contiguous block of float32 values with a shape.
// Reshape returns a view that shares the data; nothing else aliases. Kernels
// are plain functions that write into a destination tensor supplied by the
// caller, so that the autograd tape and the layers can reuse buffers from step
// to step and allocate nothing in steady state:
//
//	dst := tensor.New(64, 10)
//	tensor.MatMul(dst, x, w, false, false, false) // dst = x·w
//
// Conventions every kernel follows:
//
//   - Forward kernels overwrite dst. Gradient kernels (the ...Grad
//     functions, Conv2DGrad, SumTo with accumulate) ADD into their outputs,
//     so autograd accumulates gradients without temporaries.
//   - Binary elementwise kernels broadcast a and b to dst's shape by numpy's
//     rules: trailing dimensions align and size-1 dimensions stretch.
//   - A ConvGeom must set its strides; a zero stride panics.
//   - Results are deterministic for a given thread count; Conv2DGrad's
//     weight gradient sums per-chunk partial results in a fixed order.
//
// Wrong shapes inside a kernel are programmer errors and panic with a message
// that names the op and both shapes. Intra-op parallelism runs over a worker
// pool whose size SetThreads changes (default GOMAXPROCS); the GEMM behind
// MatMul lives in tensor/internal/gemm.
package tensor

package gemm

//go:generate go run gen_kernels.go

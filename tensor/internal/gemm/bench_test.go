package gemm

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// benchShapes are the square reference size and shoal's training hot
// shapes (MLP on 28×28 inputs with batch 128, LeNet convolutions through
// im2col), forward and backward.
var benchShapes = []struct {
	name           string
	transA, transB bool
	m, n, k        int
}{
	{"1024x1024x1024", false, false, 1024, 1024, 1024},
	{"mlp_fwd_128x256x784", false, false, 128, 256, 784},
	{"mlp_dW_784x256x128_AT", true, false, 784, 256, 128},
	{"mlp_dX_128x784x256_BT", false, true, 128, 784, 256},
	{"mlp2_128x128x256", false, false, 128, 128, 256},
	{"mlp3_128x10x128", false, false, 128, 10, 128},
	{"conv1_32x784x25", false, false, 32, 784, 25},
	{"conv2_64x196x800", false, false, 64, 196, 800},
	{"conv2_dW_64x800x196_BT", false, true, 64, 800, 196},
	{"conv2_dX_800x196x64_AT", true, false, 800, 196, 64},
}

func BenchmarkSgemm(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, s := range benchShapes {
		for _, threads := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/t%d", s.name, threads), func(b *testing.B) {
				p := newProblem(rng, s.transA, s.transB, s.m, s.n, s.k, 1, 0, 0)
				SgemmThreads(threads, p.transA, p.transB, p.m, p.n, p.k, 1, p.a, p.lda, p.b, p.ldb, 0, p.c, p.ldc)
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					SgemmThreads(threads, p.transA, p.transB, p.m, p.n, p.k, 1, p.a, p.lda, p.b, p.ldb, 0, p.c, p.ldc)
				}
				flops := 2 * float64(s.m) * float64(s.n) * float64(s.k) * float64(b.N)
				b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// BenchmarkKernel measures each micro-kernel alone on packed panels that
// stay in L1: the ceiling for the whole GEMM.
func BenchmarkKernel(b *testing.B) {
	rng := rand.New(rand.NewPCG(2, 2))
	const k = 256
	for _, kn := range kernels {
		b.Run(kn.name, func(b *testing.B) {
			a := randomMatrix(rng, k, kn.mr)
			bp := randomMatrix(rng, k, kn.nr)
			c := make([]float32, kn.mr*kn.nr)
			for b.Loop() {
				kn.fn(k, &a[0], &bp[0], kn.nr, &c[0], kn.nr, 1, 1)
			}
			flops := 2 * float64(kn.mr*kn.nr*k) * float64(b.N)
			b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

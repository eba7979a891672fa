package gemm_test

import (
	"fmt"

	"github.com/shoal-dl/shoal/tensor/internal/gemm"
)

func ExampleSgemm() {
	// C = A·B with A 2×3 and B 3×2, all row-major and tightly packed.
	a := []float32{
		1, 2, 3,
		4, 5, 6,
	}
	b := []float32{
		7, 8,
		9, 10,
		11, 12,
	}
	c := make([]float32, 2*2)
	gemm.Sgemm(false, false, 2, 2, 3, 1, a, 3, b, 2, 0, c, 2)
	fmt.Println(c)

	// C += Aᵀ·A, reading A (2×3) as the 3×2 Aᵀ: transA with m = 3, k = 2.
	d := make([]float32, 3*3)
	gemm.Sgemm(true, false, 3, 3, 2, 1, a, 3, a, 3, 1, d, 3)
	fmt.Println(d)
	// Output:
	// [58 64 139 154]
	// [17 22 27 22 29 36 27 36 45]
}

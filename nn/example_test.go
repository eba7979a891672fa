package nn_test

import (
	"fmt"

	"github.com/shoal-dl/shoal/nn"
)

// Building a LeNet-style model: shapes are inferred layer by layer and all
// parameters share one arena.
func ExampleNewSequential() {
	m, err := nn.NewSequential([]int{1, 28, 28}, 1,
		&nn.Conv2D{Filters: 32, Kernel: 5, Padding: 2}, nn.ReLU{}, nn.NewMaxPool2D(2, 0),
		&nn.Conv2D{Filters: 64, Kernel: 5, Padding: 2}, nn.ReLU{}, nn.NewMaxPool2D(2, 0),
		nn.Flatten{}, &nn.Dense{Units: 1024}, nn.ReLU{}, &nn.Dense{Units: 10})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(m.Shapes[5], m.OutputShape, m.NumParams())
	// Output: [64 7 7] [10] 3274634
}

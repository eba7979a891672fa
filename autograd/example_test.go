package autograd_test

import (
	"fmt"

	"github.com/shoal-dl/shoal/autograd"
	"github.com/shoal-dl/shoal/tensor"
)

// A parameter's gradient after one backward pass of y = Σ (w·x)².
func Example() {
	w := autograd.NewParam("w", tensor.FromData([]float32{1, 2}, 2), tensor.New(2))
	x := autograd.Constant(tensor.FromData([]float32{3, 4}, 2))

	tape := autograd.NewTape(autograd.Training)
	wx := tape.Mul(w, x)
	y := tape.Sum(tape.Mul(wx, wx))
	tape.Backward(y)
	fmt.Println(y.Item(), w.Grad.Data)
	// Output: 73 [18 64]
}

package train_test

import (
	"context"
	"fmt"

	"github.com/shoal-dl/shoal/data"
	"github.com/shoal-dl/shoal/nn"
	"github.com/shoal-dl/shoal/optim"
	"github.com/shoal-dl/shoal/train"
)

// Example trains a logistic regression on the points of a line: class 1
// above y = x, class 0 below.
func Example() {
	var x, y []float32
	for i := range 200 {
		a, b := float32(i%20)/10-1, float32(i/20)/5-1
		x = append(x, a, b)
		if b > a {
			y = append(y, 1)
		} else {
			y = append(y, 0)
		}
	}
	ds, _ := data.NewInMemory(x, []int{2}, y, nil)
	loader, _ := data.NewLoader(ds, data.LoaderOptions{BatchSize: 20, Shuffle: true, Seed: 1})

	model, _ := nn.NewSequential([]int{2}, 1, &nn.Dense{Units: 2})
	opt, _ := optim.New("sgd", model.NumParams(), optim.Config{LR: 0.5, Momentum: 0.9})
	tr, _ := train.New(model, train.Options{Optimizer: opt, Seed: 1})
	res, err := tr.Fit(context.Background(), loader, loader, 20)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("epochs %d, steps %d, test accuracy ≥ 0.95: %v\n", len(res.Epochs), res.Steps, res.Test.Accuracy >= 0.95)
	// Output: epochs 20, steps 200, test accuracy ≥ 0.95: true
}

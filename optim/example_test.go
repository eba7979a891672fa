package optim_test

import (
	"fmt"

	"github.com/shoal-dl/shoal/optim"
)

// Minimise f(x) = ½·Σ (x − target)² with SGD and Nesterov momentum, a
// warmed-up cosine schedule and gradient clipping.
func Example() {
	target := []float32{1, -2, 3}
	params := make([]float32, len(target)) // the parameter arena
	grads := make([]float32, len(target))  // the gradient arena

	opt, err := optim.NewSGD(len(params), optim.Config{LR: 0.1, Momentum: 0.9, Nesterov: true})
	if err != nil {
		panic(err)
	}
	sched, err := optim.ParseSchedule("cosine:total=200,warmup=10", opt.LR())
	if err != nil {
		panic(err)
	}
	for range 210 {
		for i := range params {
			grads[i] = params[i] - target[i]
		}
		optim.ClipGlobalNorm(grads, 1)
		opt.SetLR(sched.LR(opt.Steps()))
		opt.Step(params, grads)
	}
	fmt.Printf("after %d steps: %.3f\n", opt.Steps(), params)
	// Output: after 210 steps: [1.000 -2.000 3.000]
}

func ExampleNew() {
	opt, err := optim.New("adamw", 1000, optim.Config{LR: 3e-4, WeightDecay: 0.01})
	if err != nil {
		panic(err)
	}
	fmt.Println(opt.LR(), len(opt.State()))

	_, err = optim.New("adagrad", 1000, optim.Config{})
	fmt.Println(err)

	_, err = optim.New("sgd", 1000, optim.Config{Momentum: -0.5})
	fmt.Println(err)
	// Output:
	// 0.0003 2000
	// optim: unknown optimizer "adagrad"; valid names: sgd, rmsprop, adam, adamw
	// optim: momentum -0.5 out of range [0, 1)
}

func ExampleParseSchedule() {
	base := optim.LinearScaling(0.1, 4) // 4 workers: 0.4
	sched, err := optim.ParseSchedule("step:every=100,gamma=0.5,warmup=4,warmup_start=0.25", base)
	if err != nil {
		panic(err)
	}
	for _, step := range []int64{0, 1, 2, 3, 4, 103, 104, 204} {
		fmt.Printf("step %3d: %.4f\n", step, sched.LR(step))
	}
	_, err = optim.ParseSchedule("cosine:min=0.01", base)
	fmt.Println(err)
	// Output:
	// step   0: 0.1750
	// step   1: 0.2500
	// step   2: 0.3250
	// step   3: 0.4000
	// step   4: 0.4000
	// step 103: 0.4000
	// step 104: 0.2000
	// step 204: 0.1000
	// optim: invalid schedule "cosine:min=0.01": cosine needs total=N
}

// Save the optimizer state after some steps and resume from it in a fresh
// optimizer, as a checkpoint does.
func ExampleOptimizer_resume() {
	params := []float32{1, 2}
	grads := []float32{0.5, -0.5}
	opt, _ := optim.NewAdam(2, optim.Config{LR: 0.1})
	for range 3 {
		opt.Step(params, grads)
	}
	saved := append([]float32(nil), opt.State()...) // m, then v
	steps := opt.Steps()

	resumed, _ := optim.NewAdam(2, optim.Config{LR: 0.1})
	copy(resumed.State(), saved)
	resumed.SetSteps(steps)
	resumed.Step(params, grads)
	fmt.Printf("%d steps: %.2f\n", resumed.Steps(), params)
	// Output: 4 steps: [0.60 2.40]
}

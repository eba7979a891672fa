package optim

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkStep measures one Step per iteration on a 1M-element arena
// with the default thread count and with one thread. The bytes are those
// the update reads and writes.
func BenchmarkStep(b *testing.B) {
	const n = 1 << 20
	cases := []struct {
		name  string
		kind  string
		cfg   Config
		words int // float32 arrays read or written per element
	}{
		{"sgd", "sgd", Config{LR: 0.01}, 3},
		{"sgd-momentum", "sgd", Config{LR: 0.01, Momentum: 0.9, WeightDecay: 1e-4}, 5},
		{"rmsprop", "rmsprop", Config{LR: 0.01}, 5},
		{"adam", "adam", Config{LR: 0.001}, 7},
		{"adamw", "adamw", Config{LR: 0.001, WeightDecay: 0.01}, 7},
	}
	rng := rand.New(rand.NewPCG(1, 1))
	params, grads := randomSlice(rng, n, 1), randomSlice(rng, n, 1e-3)
	for _, c := range cases {
		for _, threads := range []int{0, 1} {
			b.Run(fmt.Sprintf("%s/threads=%d", c.name, threads), func(b *testing.B) {
				cfg := c.cfg
				cfg.Threads = threads
				o, err := New(c.kind, n, cfg)
				if err != nil {
					b.Fatal(err)
				}
				b.SetBytes(int64(4 * c.words * n))
				b.ReportAllocs()
				for b.Loop() {
					o.Step(params, grads)
				}
			})
		}
	}
}

func BenchmarkClipGlobalNorm(b *testing.B) {
	rng := rand.New(rand.NewPCG(2, 2))
	grads := randomSlice(rng, 1<<20, 1)
	b.SetBytes(4 << 20)
	b.ReportAllocs()
	for b.Loop() {
		ClipGlobalNorm(grads, 1e9) // never scales, so every iteration sees the same data
	}
}

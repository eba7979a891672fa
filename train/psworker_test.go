package train

import (
	"context"
	"fmt"
	"math"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/shoal-dl/shoal/collective"
	"github.com/shoal-dl/shoal/collective/collectivetest"
	"github.com/shoal-dl/shoal/optim"
	"github.com/shoal-dl/shoal/ps"
)

// referenceWeights trains one worker with batch world·batch on the rows the
// distributed runs split.
func referenceWeights(t *testing.T, world, batch, steps int, optName string, x []float32, labels []int32) []float32 {
	t.Helper()
	m, _ := equivalenceModel(t, 1)
	opt, err := optim.New(optName, m.NumParams(), optim.Config{LR: 0.1, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := New(m, Options{Optimizer: opt})
	if err != nil {
		t.Fatal(err)
	}
	for step := range steps {
		lo := step * world * batch
		if _, err := tr.Step(context.Background(), batchOf(x, labels, lo, lo+world*batch)); err != nil {
			t.Fatal(err)
		}
	}
	return m.Values()
}

// relDiff returns the largest difference between got and want, relative
// to want's largest magnitude.
func relDiff(got, want []float32) float64 {
	scale, worst := 0.0, 0.0
	for _, v := range want {
		scale = max(scale, math.Abs(float64(v)))
	}
	for i := range want {
		worst = max(worst, math.Abs(float64(got[i]-want[i])))
	}
	return worst / scale
}

func checkClose(t *testing.T, what string, got, want []float32) {
	t.Helper()
	if worst := relDiff(got, want); worst > 1e-5 {
		t.Errorf("%s: weights differ from one worker with the whole batch by %.3g (relative); want <= 1e-5", what, worst)
	}
}

// TestPSSyncEquivalence: with sync consistency and plain SGD on the
// servers, W workers equal one worker with the whole batch.
func TestPSSyncEquivalence(t *testing.T) {
	const world, batch, steps, servers = 2, 8, 12, 2
	x, labels := equivalenceData(world*batch*steps, 11)
	want := referenceWeights(t, world, batch, steps, "sgd", x, labels)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	probe, _ := equivalenceModel(t, 1)
	total := probe.NumParams()
	addrs := make([]string, servers)
	var serving sync.WaitGroup
	for r, rg := range ps.Partition(total, servers) {
		opt, err := optim.New("sgd", rg.Len(), optim.Config{LR: 0.1, Threads: 1})
		if err != nil {
			t.Fatal(err)
		}
		srv, err := ps.NewServer(ps.ServerConfig{Rank: r, Servers: servers, Workers: world, Total: total, Mode: ps.Mode{Consistency: ps.Sync}, WaitTimeout: 20 * time.Second}, opt)
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addrs[r] = ln.Addr().String()
		serving.Add(1)
		go func() {
			defer serving.Done()
			if err := srv.Serve(ctx, ln); err != nil {
				t.Error(err)
			}
		}()
	}
	got := make([][]float32, world)
	var wg sync.WaitGroup
	for rank := range world {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m, opt := equivalenceModel(t, uint64(1+rank))
			client, err := ps.Dial(ctx, addrs, rank, total, 30*time.Second)
			if err != nil {
				t.Error(err)
				return
			}
			defer client.Close()
			if rank != 0 {
				// Start elsewhere: the servers' parameters must win.
				m.Init(99)
			}
			s, err := NewPS(ctx, client, m, PSOptions{Rank: rank})
			if err != nil {
				t.Error(err)
				return
			}
			tr, err := New(m, Options{Optimizer: opt, Strategy: s})
			if err != nil {
				t.Error(err)
				return
			}
			for step := range steps {
				lo := step*world*batch + rank*batch
				if _, err := tr.Step(ctx, batchOf(x, labels, lo, lo+batch)); err != nil {
					t.Errorf("worker %d: %v", rank, err)
					return
				}
			}
			if err := s.Final(ctx); err != nil {
				t.Error(err)
			}
			got[rank] = append([]float32(nil), m.Values()...)
		}()
	}
	wg.Wait()
	cancel()
	serving.Wait()
	for r, g := range got {
		if g != nil {
			checkClose(t, fmt.Sprintf("ps sync, worker %d", r), g, want)
		}
	}
}

// TestAverageEveryStep: averaging parameters after every plain SGD step
// equals averaging gradients, hence one worker with the whole batch.
func TestAverageEveryStep(t *testing.T) {
	const world, batch, steps = 2, 8, 12
	x, labels := equivalenceData(world*batch*steps, 13)
	want := referenceWeights(t, world, batch, steps, "sgd", x, labels)
	collectivetest.Run(t, world, func(c *collective.Communicator) {
		ctx := context.Background()
		m, _ := equivalenceModel(t, uint64(1+c.Rank()))
		opt, err := optim.New("sgd", m.NumParams(), optim.Config{LR: 0.1, Threads: 1})
		if err != nil {
			t.Error(err)
			return
		}
		s, err := NewAverage(ctx, c, m, AverageOptions{Every: 1})
		if err != nil {
			t.Error(err)
			return
		}
		tr, err := New(m, Options{Optimizer: opt, Strategy: s})
		if err != nil {
			t.Error(err)
			return
		}
		for step := range steps {
			lo := step*world*batch + c.Rank()*batch
			if _, err := tr.Step(ctx, batchOf(x, labels, lo, lo+batch)); err != nil {
				t.Errorf("rank %d: %v", c.Rank(), err)
				return
			}
		}
		checkClose(t, "average every step", m.Values(), want)
	})
}

package ps_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shoal-dl/shoal/optim"
	"github.com/shoal-dl/shoal/ps"
)

func TestPartition(t *testing.T) {
	for _, c := range []struct{ n, s int }{{10, 3}, {7, 7}, {5, 8}, {1 << 20, 4}} {
		rs := ps.Partition(c.n, c.s)
		lo := 0
		for _, r := range rs {
			if r.Lo != lo || r.Len() < c.n/c.s || r.Len() > c.n/c.s+1 {
				t.Errorf("Partition(%d, %d) = %v; not contiguous and balanced", c.n, c.s, rs)
				break
			}
			lo = r.Hi
		}
		if lo != c.n {
			t.Errorf("Partition(%d, %d) ends at %d", c.n, c.s, lo)
		}
	}
}

// cluster starts servers on loopback and returns their addresses.
func startServers(t *testing.T, servers, workers, total int, mode ps.Mode, wait time.Duration) []string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var addrs []string
	for rank := 0; rank < servers; rank++ {
		r := ps.Partition(total, servers)[rank]
		opt, err := optim.NewSGD(r.Len(), optim.Config{LR: 1})
		if err != nil {
			t.Fatal(err)
		}
		srv, err := ps.NewServer(ps.ServerConfig{Rank: rank, Servers: servers, Workers: workers, Total: total, Mode: mode, WaitTimeout: wait}, opt)
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addrs = append(addrs, ln.Addr().String())
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.Serve(ctx, ln); err != nil {
				t.Errorf("Serve: %v", err)
			}
		}()
	}
	t.Cleanup(func() { cancel(); wg.Wait() })
	return addrs
}

func dial(t *testing.T, addrs []string, worker, total int) *ps.Client {
	t.Helper()
	c, err := ps.Dial(context.Background(), addrs, worker, total, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestSyncAveragesAllWorkers: with SGD at lr 1, each sync step subtracts the
// mean of the workers' gradients, bit for bit as computed locally.
func TestSyncAveragesAllWorkers(t *testing.T) {
	const total, workers, steps = 11, 3, 4
	addrs := startServers(t, 2, workers, total, ps.Mode{Consistency: ps.Sync}, 5*time.Second)
	init := make([]float32, total)
	for i := range init {
		init[i] = float32(i)
	}
	grad := func(w, step, i int) float32 { return float32((w+1)*(i+1)) * 0.01 * float32(step+1) }

	clients := make([]*ps.Client, workers)
	for w := range clients {
		clients[w] = dial(t, addrs, w, total)
	}
	if err := clients[0].Init(context.Background(), init); err != nil {
		t.Fatal(err)
	}
	finals := make([][]float32, workers)
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			params, g := make([]float32, total), make([]float32, total)
			for step := 0; step < steps; step++ {
				if err := clients[w].Pull(context.Background(), int64(step), params); err != nil {
					errs[w] = err
					return
				}
				for i := range g {
					g[i] = grad(w, step, i)
				}
				if err := clients[w].Push(context.Background(), int64(step), g); err != nil {
					errs[w] = err
					return
				}
			}
			errs[w] = clients[w].Pull(context.Background(), steps, params)
			finals[w] = params
		}()
	}
	wg.Wait()
	for w, err := range errs {
		if err != nil {
			t.Fatalf("worker %d: %v", w, err)
		}
	}
	want := append([]float32(nil), init...)
	for step := 0; step < steps; step++ {
		for i := range want {
			var s float32
			for w := 0; w < workers; w++ {
				s += grad(w, step, i)
			}
			want[i] -= s * (1 / float32(workers))
		}
	}
	for w := range finals {
		for i := range want {
			if finals[w][i] != want[i] {
				t.Fatalf("worker %d param %d = %v; want %v", w, i, finals[w][i], want[i])
			}
		}
	}
}

// TestSSPBoundsStaleness: with ssp:1 a worker may run one step ahead of the
// slowest, not two; the timeout names the slow worker.
func TestSSPBoundsStaleness(t *testing.T) {
	const total = 4
	addrs := startServers(t, 1, 2, total, ps.Mode{Consistency: ps.SSP, Staleness: 1}, 300*time.Millisecond)
	fast := dial(t, addrs, 0, total)
	ctx := context.Background()
	if err := fast.Init(ctx, make([]float32, total)); err != nil {
		t.Fatal(err)
	}
	p, g := make([]float32, total), []float32{1, 1, 1, 1}
	for step := int64(0); step < 2; step++ {
		if err := fast.Pull(ctx, step, p); err != nil {
			t.Fatalf("pull step %d within the bound: %v", step, err)
		}
		if err := fast.Push(ctx, step, g); err != nil {
			t.Fatal(err)
		}
	}
	err := fast.Pull(ctx, 2, p)
	if !errors.Is(err, ps.ErrTimeout) || !strings.Contains(err.Error(), "worker 1") {
		t.Fatalf("pull two steps ahead: err = %v; want a timeout naming worker 1", err)
	}
	slow := dial(t, addrs, 1, total)
	if err := slow.Push(ctx, 0, g); err != nil {
		t.Fatal(err)
	}
	if err := fast.Pull(ctx, 2, p); err != nil {
		t.Fatalf("pull after the slow worker caught up: %v", err)
	}
	// Async scaling: three pushes of 1 with 2 workers at lr 1 give −1.5.
	if p[0] != -1.5 {
		t.Errorf("param after 3 pushes = %v; want -1.5", p[0])
	}
}

func TestAsyncNeverWaits(t *testing.T) {
	const total = 3
	addrs := startServers(t, 2, 4, total, ps.Mode{Consistency: ps.Async}, 200*time.Millisecond)
	c := dial(t, addrs, 2, total)
	ctx := context.Background()
	if err := c.Init(ctx, []float32{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	p := make([]float32, total)
	for step := int64(0); step < 5; step++ {
		if err := c.Pull(ctx, step, p); err != nil {
			t.Fatal(err)
		}
		if err := c.Push(ctx, step, []float32{4, 4, 4}); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Pull(ctx, 5, p); err != nil || p[0] != 1-5 {
		t.Errorf("after 5 async pushes p[0] = %v (err %v); want -4", p[0], err)
	}
}

func TestParseMode(t *testing.T) {
	for _, s := range []string{"sync", "async", "ssp:2"} {
		m, err := ps.ParseMode(s)
		if err != nil || m.String() != s {
			t.Errorf("ParseMode(%q) = %v, %v", s, m, err)
		}
	}
	for _, s := range []string{"", "bsp", "ssp:", "ssp:-1"} {
		if _, err := ps.ParseMode(s); err == nil {
			t.Errorf("ParseMode(%q) accepted", s)
		}
	}
}

func TestOversizedFrameClosesConnection(t *testing.T) {
	addrs := startServers(t, 1, 1, 4, ps.Mode{}, time.Second)
	conn, err := net.Dial("tcp", addrs[0])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// magic, op push, worker 0, n = 1<<30, step 0.
	hdr := []byte{0x31, 0x53, 0x50, 0x53, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x40, 0, 0, 0, 0, 0, 0, 0, 0}
	if _, err := conn.Write(hdr); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	if n, err := conn.Read(make([]byte, 1)); err == nil {
		t.Fatalf("server answered %d bytes to an oversized frame; want the connection closed", n)
	}
}

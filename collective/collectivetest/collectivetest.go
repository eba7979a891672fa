// Package collectivetest runs groups of collective ranks inside one test
// process, over real loopback TCP or real shared memory, and checks that
// they leave no goroutines behind.
//
//	func TestSum(t *testing.T) {
//		collectivetest.Run(t, 4, func(c *collective.Communicator) {
//			buf := []float32{float32(c.Rank())}
//			if err := c.AllReduce(context.Background(), buf, collective.Sum); err != nil {
//				t.Error(err)
//			}
//		})
//	}
package collectivetest

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shoal-dl/shoal/collective"
)

// Config varies how Dial builds each rank's Communicator.
type Config struct {
	// Transport is collective.TransportTCP, TransportSHM or TransportAuto
	// ("" means TCP, so that tests exercise the network path by default).
	Transport string
	// Options are passed to every rank.
	Options collective.Options
}

// Run starts n ranks over loopback TCP, calls fn on each in its own goroutine,
// waits for all of them and closes the communicators.
func Run(t testing.TB, n int, fn func(c *collective.Communicator)) {
	t.Helper()
	RunWith(t, n, Config{}, fn)
}

// RunWith is Run with a choice of transport and options.
func RunWith(t testing.TB, n int, cfg Config, fn func(c *collective.Communicator)) {
	t.Helper()
	comms, err := Dial(n, cfg)
	if err != nil {
		t.Fatalf("collectivetest: %v", err)
	}
	var wg sync.WaitGroup
	for _, c := range comms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(c)
		}()
	}
	wg.Wait()
	for _, c := range comms {
		if err := c.Close(); err != nil {
			t.Errorf("collectivetest: rank %d: Close: %v", c.Rank(), err)
		}
	}
}

// Dial connects n ranks inside this process and returns their communicators,
// which the caller must close.
func Dial(n int, cfg Config) ([]*collective.Communicator, error) {
	if cfg.Transport == "" {
		cfg.Transport = collective.TransportTCP
	}
	lns := make([]net.Listener, n)
	addrs := make([]string, n)
	for i := range lns {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			for _, l := range lns[:i] {
				l.Close()
			}
			return nil, err
		}
		lns[i], addrs[i] = ln, ln.Addr().String()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	comms := make([]*collective.Communicator, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			comms[i], errs[i] = collective.Dial(ctx, collective.Config{
				Rank: i, Addrs: addrs, Listener: lns[i], Transport: cfg.Transport, Options: cfg.Options,
			})
		}()
	}
	wg.Wait()
	var failed []string
	for i, err := range errs {
		if err != nil {
			failed = append(failed, fmt.Sprintf("rank %d: %v", i, err))
		}
	}
	if failed != nil {
		for _, c := range comms {
			if c != nil {
				c.Close()
			}
		}
		return nil, fmt.Errorf("dial %d ranks: %s", n, strings.Join(failed, "; "))
	}
	return comms, nil
}

// CheckLeaks fails t at cleanup if goroutines running code of the collective
// package outlive the test (after a grace period for them to wind down).
func CheckLeaks(t testing.TB) {
	t.Helper()
	before := collectiveGoroutines()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for {
			extra := subtract(collectiveGoroutines(), before)
			if len(extra) == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("collectivetest: %d goroutines left behind:\n%s", len(extra), strings.Join(extra, "\n\n"))
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

// collectiveGoroutines returns the stacks of goroutines with frames in the
// collective package, keyed by goroutine id.
func collectiveGoroutines() map[string]string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	out := map[string]string{}
	for _, g := range strings.Split(string(buf), "\n\n") {
		if !strings.Contains(g, "shoal/collective.") || strings.Contains(g, "collectivetest.collectiveGoroutines") {
			continue
		}
		id, _, _ := strings.Cut(g, " [")
		out[id] = g
	}
	return out
}

func subtract(now, before map[string]string) []string {
	var extra []string
	for id, g := range now {
		if _, ok := before[id]; !ok {
			extra = append(extra, g)
		}
	}
	return extra
}

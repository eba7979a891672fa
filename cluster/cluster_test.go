package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shoal-dl/shoal/cluster"
)

func cfg(workers, servers int) cluster.Config {
	return cluster.Config{Workers: workers, Servers: servers, Token: "secret", Version: "v1", SpecHash: "abc", HeartbeatTimeout: time.Second}
}

func member(id string, role cluster.Role) cluster.Member {
	return cluster.Member{ID: id, Role: role, Addr: "127.0.0.1:1", Host: "h", Version: "v1", SpecHash: "abc"}
}

func TestRendezvousRanksAndEpochs(t *testing.T) {
	rv, err := cluster.NewRendezvous(cfg(2, 1))
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Unix(100, 0)
	steps := []struct {
		m        cluster.Member
		rank     int
		epoch    uint64
		complete bool
	}{
		{member("a", cluster.Worker), 0, 0, false},
		{member("s", cluster.Server), 0, 0, false},
		{member("a", cluster.Worker), 0, 0, false}, // a retried join keeps its rank
		{member("b", cluster.Worker), 1, 1, true},
	}
	for i, s := range steps {
		got, err := rv.Join(s.m, t0)
		if err != nil {
			t.Fatalf("step %d: Join(%s): %v", i, s.m.ID, err)
		}
		m := rv.Membership()
		if got.Rank != s.rank || m.Epoch != s.epoch || m.Complete != s.complete {
			t.Errorf("step %d: Join(%s) rank %d, epoch %d, complete %v; want %d, %d, %v",
				i, s.m.ID, got.Rank, m.Epoch, m.Complete, s.rank, s.epoch, s.complete)
		}
	}
	if _, err := rv.Join(member("c", cluster.Worker), t0); !errors.Is(err, cluster.ErrFull) {
		t.Errorf("third worker: err = %v; want ErrFull", err)
	}

	// b and s keep beating, a goes silent and is declared lost.
	t1 := t0.Add(800 * time.Millisecond)
	for _, id := range []string{"b", "s"} {
		if err := rv.Heartbeat(id, cluster.Progress{Step: 3}, t1); err != nil {
			t.Fatal(err)
		}
	}
	if lost := rv.Tick(t0.Add(1500 * time.Millisecond)); len(lost) != 1 || lost[0].ID != "a" || lost[0].Rank != 0 {
		t.Fatalf("Tick lost %v; want worker a (rank 0)", lost)
	}
	if m := rv.Membership(); m.Epoch != 2 || len(m.Lost) != 1 {
		t.Errorf("after loss: epoch %d, lost %v; want epoch 2 and one lost", m.Epoch, m.Lost)
	}
	if err := rv.Heartbeat("a", cluster.Progress{}, t1); !errors.Is(err, cluster.ErrUnknown) {
		t.Errorf("heartbeat from a lost member: err = %v; want ErrUnknown", err)
	}
}

func TestRendezvousRefusesMismatch(t *testing.T) {
	rv, _ := cluster.NewRendezvous(cfg(1, 0))
	for _, c := range []struct {
		edit func(*cluster.Member)
		want string
	}{
		{func(m *cluster.Member) { m.Version = "v2" }, "version"},
		{func(m *cluster.Member) { m.SpecHash = "zzz" }, "spec hash"},
		{func(m *cluster.Member) { m.Role = "boss" }, "role"},
	} {
		m := member("x", cluster.Worker)
		c.edit(&m)
		_, err := rv.Join(m, time.Now())
		if !errors.Is(err, cluster.ErrMismatch) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Join error = %v; want ErrMismatch naming %q", err, c.want)
		}
	}
}

// serve starts a coordinator on loopback and returns its address.
func serve(t *testing.T, c cluster.Config) (string, *cluster.Coordinator) {
	t.Helper()
	co, err := cluster.NewCoordinator(c)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- co.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String(), co
}

func TestCoordinatorOverHTTP(t *testing.T) {
	addr, _ := serve(t, cfg(3, 0))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	ranks := make([]int, 3)
	views := make([]cluster.Membership, 3)
	errs := make([]error, 3)
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := cluster.NewClient(addr, "secret")
			m, err := c.Join(ctx, member(fmt.Sprint("w", i), cluster.Worker))
			if err != nil {
				errs[i] = err
				return
			}
			ranks[i] = m.Rank
			views[i], errs[i] = c.WaitComplete(ctx)
		}()
	}
	wg.Wait()
	seen := map[int]bool{}
	for i := range 3 {
		if errs[i] != nil {
			t.Fatalf("worker %d: %v", i, errs[i])
		}
		seen[ranks[i]] = true
		if views[i].Epoch != 1 || len(views[i].Workers) != 3 {
			t.Errorf("worker %d sees epoch %d with %d workers; want 1 and 3", i, views[i].Epoch, len(views[i].Workers))
		}
	}
	if len(seen) != 3 {
		t.Errorf("ranks %v are not distinct", ranks)
	}
}

func TestClientErrors(t *testing.T) {
	addr, _ := serve(t, cfg(1, 0))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	_, err := cluster.NewClient(addr, "wrong").Join(ctx, member("a", cluster.Worker))
	if !errors.Is(err, cluster.ErrUnauthorized) || !strings.Contains(err.Error(), "--token") {
		t.Errorf("wrong token: err = %v; want ErrUnauthorized telling to pass --token", err)
	}
	m := member("a", cluster.Worker)
	m.SpecHash = "other"
	_, err = cluster.NewClient(addr, "secret").Join(ctx, m)
	if !errors.Is(err, cluster.ErrMismatch) || !strings.Contains(err.Error(), "--spec") {
		t.Errorf("mismatched spec: err = %v; want ErrMismatch telling to use the same --spec", err)
	}

	// Nothing listens on a closed port: Join retries until its deadline.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := ln.Addr().String()
	ln.Close()
	short, cancel2 := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel2()
	start := time.Now()
	_, err = cluster.NewClient(dead, "secret").Join(short, member("a", cluster.Worker))
	if !errors.Is(err, cluster.ErrUnreachable) || time.Since(start) > 3*time.Second {
		t.Errorf("unreachable coordinator: err = %v after %v; want ErrUnreachable soon after the deadline", err, time.Since(start))
	}
}

func TestHeartbeatLossIsPublished(t *testing.T) {
	c := cfg(2, 0)
	c.HeartbeatTimeout = 300 * time.Millisecond
	addr, _ := serve(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a, b := cluster.NewClient(addr, "secret"), cluster.NewClient(addr, "secret")
	if _, err := a.Join(ctx, member("a", cluster.Worker)); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Join(ctx, member("b", cluster.Worker)); err != nil {
		t.Fatal(err)
	}
	// a keeps beating; b is silent and must be reported lost by rank.
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		m, err := a.Heartbeat(ctx, "a", cluster.Progress{Step: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(m.Lost) == 1 {
			if m.Lost[0].ID != "b" || m.Lost[0].Rank != 1 || m.Epoch != 2 {
				t.Errorf("lost %v at epoch %d; want worker b rank 1 at epoch 2", m.Lost, m.Epoch)
			}
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("silent worker b was never declared lost")
}

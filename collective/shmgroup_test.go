package collective

import (
	"os"
	"runtime"
	"testing"
	"time"
)

// TestGroupBarrierPeerLeftAfterArriving: a rank that enters a barrier and,
// finding the others there, goes on and closes its communicator before a
// slower rank has seen it arrive does not fail that rank's barrier.
func TestGroupBarrierPeerLeftAfterArriving(t *testing.T) {
	f, name, err := createGroupFile(2)
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(name)
	defer f.Close()
	pids := []int{os.Getpid(), os.Getpid()}
	g0, err := mapGroup(f, 0, 2, pids, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer g0.close()
	g1, err := mapGroup(f, 1, 2, pids, 0)
	if err != nil {
		t.Fatal(err)
	}
	call := groupCall{kind: callBarrier}
	// As rank 0 starts to wait, rank 1 arrives, passes and closes.
	testHookGroupPause = func(g *shmGroup, peer int) {
		testHookGroupPause = nil
		h := g1.hdrs[1]
		g1.barriers++
		h.what[g1.barriers%2].Store(call.word())
		h.arrived.Store(g1.barriers)
		if err := g1.close(); err != nil {
			t.Error(err)
		}
	}
	defer func() { testHookGroupPause = nil }()
	if peer, err := g0.barrier(call); err != nil {
		t.Fatalf("barrier: waiting for rank %d: %v; want it passed", peer, err)
	}
	// The next barrier does fail, naming the rank that left.
	if peer, err := g0.barrier(call); err == nil || peer != 1 {
		t.Fatalf("second barrier: rank %d, %v; want rank 1 gone", peer, err)
	}
}

// TestGroupPoll checks how long a group's waits poll: Options.GroupPoll,
// or 1 ms by default, when every rank has a core; only the short rounds
// with more ranks than cores, or with a negative GroupPoll.
func TestGroupPoll(t *testing.T) {
	cores := runtime.NumCPU()
	for _, c := range []struct {
		size int
		poll time.Duration
		want time.Duration
	}{
		{min(2, cores), 0, groupSpinTime},
		{min(2, cores), 5 * time.Millisecond, 5 * time.Millisecond},
		{min(2, cores), -1, 0},
		{cores + 1, 0, 0},
		{cores + 1, 5 * time.Millisecond, 0},
	} {
		f, name, err := createGroupFile(c.size)
		if err != nil {
			t.Fatal(err)
		}
		pids := make([]int, c.size)
		g, err := mapGroup(f, 0, c.size, pids, c.poll)
		os.Remove(name)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if g.spinFor != c.want {
			t.Errorf("%d ranks on %d cores, GroupPoll %v: waits poll for %v; want %v", c.size, cores, c.poll, g.spinFor, c.want)
		}
		g.close()
	}
}

package main

import (
	"runtime"
	"testing"

	"github.com/shoal-dl/shoal/cluster"
	"github.com/shoal-dl/shoal/collective"
)

// TestSchedulerThreads checks that a worker keeps a scheduler thread
// beyond its kernel threads only where its host has a core to spare.
func TestSchedulerThreads(t *testing.T) {
	cores := runtime.NumCPU()
	here, there := collective.HostID(), collective.HostID()+"-elsewhere"
	members := func(host string, n int) []cluster.Member {
		ms := make([]cluster.Member, n)
		for i := range ms {
			ms[i].Host = host
		}
		return ms
	}
	for _, c := range []struct {
		name    string
		mem     cluster.Membership
		threads int
		want    int
	}{
		{"one worker per core", cluster.Membership{Workers: members(here, cores)}, 1, 1},
		{"workers and a server fill the cores", cluster.Membership{Workers: members(here, cores-1), Servers: members(here, 1)}, 1, 1},
		{"threads fill the cores", cluster.Membership{Workers: members(here, 1)}, cores, cores},
		{"the others are elsewhere", cluster.Membership{Workers: append(members(here, 1), members(there, cores)...)}, 1, 2},
	} {
		if c.want > c.threads && cores == 1 {
			continue // one worker of one thread fills a single core
		}
		if got := schedulerThreads(c.threads, localMembers(c.mem)); got != c.want {
			t.Errorf("%s: schedulerThreads(%d) = %d; want %d on %d cores", c.name, c.threads, got, c.want, cores)
		}
	}
}

package collective_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/shoal-dl/shoal/collective"
	"github.com/shoal-dl/shoal/collective/collectivetest"
)

// TestSharedBufferAllReduce checks AllReduce of ranges of a shared buffer,
// reduced in place, against a local reduction for world sizes 1-8, every
// op and the acceptance list's lengths at several offsets; the rest of each
// rank's buffer must stay as that rank left it. Only the shared-memory
// group hands out shared buffers.
func TestSharedBufferAllReduce(t *testing.T) {
	collectivetest.CheckLeaks(t)
	const spare = 5 // elements before the range, to test offsets
	size := spare + testLengths[len(testLengths)-1] + spare
	for _, transport := range testTransports {
		for _, n := range worlds(t) {
			t.Run(fmt.Sprintf("%s/n=%d", transport, n), func(t *testing.T) {
				cfg := transportConfig(transport, collective.Options{})
				collectivetest.RunWith(t, n, cfg, func(c *collective.Communicator) {
					shared, err := c.SharedBuffer(context.Background(), size)
					if err != nil {
						t.Errorf("rank %d: SharedBuffer: %v", c.Rank(), err)
						return
					}
					if wantShared := transport == collective.TransportSHM && n > 1; (shared != nil) != wantShared || shared != nil && len(shared) != size {
						t.Errorf("rank %d: SharedBuffer over %s with %d ranks: %d elements, nil %v; want shared %v", c.Rank(), transport, n, len(shared), shared == nil, wantShared)
						return
					}
					if shared == nil {
						return
					}
					sentinel := float32(1000 + c.Rank())
					for _, length := range testLengths {
						for _, off := range []int{0, spare} {
							if testing.Short() && length > 1<<16 && n > 3 {
								continue
							}
							for _, op := range []collective.Op{collective.Sum, collective.Mean, collective.Max} {
								for i := range shared {
									shared[i] = sentinel
								}
								buf := shared[off : off+length]
								copy(buf, input(c.Rank(), length))
								if err := c.AllReduce(context.Background(), buf, op); err != nil {
									t.Errorf("AllReduce(rank %d, len %d at %d, %v): %v", c.Rank(), length, off, op, err)
									return
								}
								want := localReduce(n, length, op)
								if i := meanDiff(buf, want, op); i >= 0 {
									t.Errorf("AllReduce(rank %d, len %d at %d, %v)[%d] = %v; want %v", c.Rank(), length, off, op, i, buf[i], want[i])
									return
								}
								for i, v := range shared {
									if (i < off || i >= off+length) && v != sentinel {
										t.Errorf("rank %d, len %d at %d, %v: element %d outside the range = %v; want %v", c.Rank(), length, off, op, i, v, sentinel)
										return
									}
								}
							}
						}
					}
				})
			})
		}
	}
}

// meanDiff is firstDiff, but for a mean it allows one rounding: the mean
// is a sum scaled by 1/n.
func meanDiff(got, want []float32, op collective.Op) int {
	if op != collective.Mean {
		return firstDiff(got, want)
	}
	for i := range want {
		if d := math.Abs(float64(got[i] - want[i])); d > 1e-6*math.Abs(float64(want[i]))+1e-7 {
			return i
		}
	}
	return -1
}

// TestSharedBufferBits checks that the in-place reduction of a shared
// buffer gives every rank the bits the staged one gives, on random data
// where the order of the sum matters; with 3 ranks and a shard larger than
// a staging area, rank 2 reduces in pieces.
func TestSharedBufferBits(t *testing.T) {
	collectivetest.CheckLeaks(t)
	cfg := transportConfig(collective.TransportSHM, collective.Options{})
	for _, c := range []struct{ n, length int }{{2, 300001}, {4, 300001}, {3, 3<<20 + 17}} {
		if testing.Short() && c.length > 1<<20 {
			continue
		}
		res := runGathered(t, c.n, cfg, func(comm *collective.Communicator) []float32 {
			rng := rand.New(rand.NewPCG(uint64(comm.Rank()), 11))
			private := make([]float32, c.length)
			for i := range private {
				private[i] = float32(rng.NormFloat64())
			}
			shared, err := comm.SharedBuffer(context.Background(), c.length)
			if err != nil || shared == nil {
				t.Errorf("rank %d: SharedBuffer = %v, %v; want memory", comm.Rank(), shared == nil, err)
				return nil
			}
			copy(shared, private)
			if err := comm.AllReduce(context.Background(), private, collective.Sum); err != nil {
				t.Errorf("rank %d: AllReduce: %v", comm.Rank(), err)
			}
			if err := comm.AllReduce(context.Background(), shared, collective.Sum); err != nil {
				t.Errorf("rank %d: AllReduce of the shared buffer: %v", comm.Rank(), err)
			}
			if i := firstDiff(shared, private); i >= 0 {
				t.Errorf("%d ranks, len %d: rank %d: shared [%d] = %v, staged %v", c.n, c.length, comm.Rank(), i, shared[i], private[i])
			}
			return append([]float32(nil), shared...)
		})
		for r := 1; r < c.n; r++ {
			if i := firstDiff(res[r], res[0]); i >= 0 {
				t.Errorf("%d ranks, len %d: rank %d [%d] = %v, rank 0 has %v", c.n, c.length, r, i, res[r][i], res[0][i])
			}
		}
	}
}

// TestSharedBufferMismatch: ranks that reduce different ranges of a shared
// buffer, or one a shared range and another private memory, fail with
// ErrProtocol naming both calls, instead of reading each other's memory
// wrongly.
func TestSharedBufferMismatch(t *testing.T) {
	collectivetest.CheckLeaks(t)
	cfg := transportConfig(collective.TransportSHM, collective.Options{Deadline: 5 * time.Second})
	for _, c := range []struct {
		name string
		buf  func(rank int, shared []float32) []float32
		want string
	}{
		{"offsets", func(rank int, shared []float32) []float32 { return shared[rank : rank+10] }, "at element 1 of shared buffer 0"},
		{"private", func(rank int, shared []float32) []float32 {
			if rank == 1 {
				return make([]float32, 10)
			}
			return shared[:10]
		}, "allreduce of 10 elements"},
	} {
		collectivetest.RunWith(t, 2, cfg, func(comm *collective.Communicator) {
			shared, err := comm.SharedBuffer(context.Background(), 100)
			if err != nil {
				t.Errorf("%s: rank %d: SharedBuffer: %v", c.name, comm.Rank(), err)
				return
			}
			err = comm.AllReduce(context.Background(), c.buf(comm.Rank(), shared), collective.Sum)
			if !errors.Is(err, collective.ErrProtocol) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s: rank %d: AllReduce = %v; want ErrProtocol naming %q", c.name, comm.Rank(), err, c.want)
			}
		})
	}
	collectivetest.RunWith(t, 1, cfg, func(comm *collective.Communicator) {
		if _, err := comm.SharedBuffer(context.Background(), 0); err == nil {
			t.Error("SharedBuffer(0) succeeded; want an error")
		}
	})
}

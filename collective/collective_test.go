package collective_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shoal-dl/shoal/collective"
	"github.com/shoal-dl/shoal/collective/collectivetest"
)

var testLengths = []int{0, 1, 7, 1023, 1<<20 + 3}

// input is rank r's buffer: small integers, so that every summation order
// gives the exact same float32 and results compare exactly with a local sum.
func input(r, length int) []float32 {
	b := make([]float32, length)
	for i := range b {
		b[i] = float32((i*7+r*13)%61 - 30)
	}
	return b
}

func localReduce(n, length int, op collective.Op) []float32 {
	want := input(0, length)
	for r := 1; r < n; r++ {
		for i, v := range input(r, length) {
			if op == collective.Max {
				want[i] = max(want[i], v)
			} else {
				want[i] += v
			}
		}
	}
	if op == collective.Mean {
		for i := range want {
			want[i] /= float32(n)
		}
	}
	return want
}

func firstDiff(got, want []float32) int {
	if len(got) != len(want) {
		return min(len(got), len(want))
	}
	for i := range got {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			return i
		}
	}
	return -1
}

func worlds(t *testing.T) []int {
	if testing.Short() {
		return []int{1, 2, 3, 4, 8}
	}
	return []int{1, 2, 3, 4, 5, 6, 7, 8}
}

// testTransports are the ways the tests connect ranks: TCP, shared memory
// through the group's staging area, and shared memory over the pairwise
// rings only.
var testTransports = []string{collective.TransportTCP, collective.TransportSHM, shmRing}

const shmRing = "shm-ring"

func transportConfig(name string, opts collective.Options) collectivetest.Config {
	if name == shmRing {
		opts.RingOnly = true
		name = collective.TransportSHM
	}
	return collectivetest.Config{Transport: name, Options: opts}
}

// TestAllReduceInProcess checks AllReduce against a local reduction for world
// sizes 1-8, the lengths of the acceptance list and every op, over TCP and
// shared memory.
func TestAllReduceInProcess(t *testing.T) {
	collectivetest.CheckLeaks(t)
	for _, transport := range testTransports {
		for _, n := range worlds(t) {
			t.Run(fmt.Sprintf("%s/n=%d", transport, n), func(t *testing.T) {
				cfg := transportConfig(transport, collective.Options{})
				collectivetest.RunWith(t, n, cfg, func(c *collective.Communicator) {
					if got := c.Transports(); n > 1 && got[(c.Rank()+1)%n] != cfg.Transport {
						t.Errorf("rank %d reaches its neighbour over %s; want %s", c.Rank(), got[(c.Rank()+1)%n], cfg.Transport)
					}
					for _, length := range testLengths {
						if testing.Short() && length > 1<<16 && n > 3 {
							continue
						}
						for _, op := range []collective.Op{collective.Sum, collective.Mean, collective.Max} {
							buf := input(c.Rank(), length)
							if err := c.AllReduce(context.Background(), buf, op); err != nil {
								t.Errorf("AllReduce(rank %d, len %d, %v): %v", c.Rank(), length, op, err)
								return
							}
							want := localReduce(n, length, op)
							if i := meanDiff(buf, want, op); i >= 0 {
								t.Errorf("AllReduce(rank %d, len %d, %v)[%d] = %v; want %v", c.Rank(), length, op, i, buf[i], want[i])
								return
							}
						}
					}
				})
			})
		}
	}
}

// runGathered runs fn on every rank and returns each rank's result buffer.
func runGathered(t *testing.T, n int, cfg collectivetest.Config, fn func(c *collective.Communicator) []float32) [][]float32 {
	out := make([][]float32, n)
	collectivetest.RunWith(t, n, cfg, func(c *collective.Communicator) {
		out[c.Rank()] = fn(c)
	})
	return out
}

// TestBitIdentical checks that random float data, where the summation order
// matters, reduces to the same bits on every rank, with and without wire
// compression, on both paths (recursive doubling and ring).
func TestBitIdentical(t *testing.T) {
	collectivetest.CheckLeaks(t)
	for _, comp := range []collective.Compression{collective.None, collective.FP16, collective.BF16} {
		for _, n := range []int{3, 4, 6} {
			for _, length := range []int{100, 300000} {
				cfg := collectivetest.Config{Options: collective.Options{Compression: comp, SegmentBytes: 64 << 10}}
				res := runGathered(t, n, cfg, func(c *collective.Communicator) []float32 {
					rng := rand.New(rand.NewPCG(uint64(c.Rank()), 7))
					buf := make([]float32, length)
					for i := range buf {
						buf[i] = float32(rng.NormFloat64())
					}
					if err := c.AllReduce(context.Background(), buf, collective.Sum); err != nil {
						t.Errorf("AllReduce(rank %d): %v", c.Rank(), err)
					}
					return buf
				})
				for r := 1; r < n; r++ {
					if i := firstDiff(res[r], res[0]); i >= 0 {
						t.Errorf("compression %v n=%d len=%d: rank %d [%d] = %v, rank 0 has %v", comp, n, length, r, i, res[r][i], res[0][i])
					}
				}
				// Compression keeps the sum close to the exact one.
				exact := make([]float64, length)
				for r := range n {
					rng := rand.New(rand.NewPCG(uint64(r), 7))
					for i := range exact {
						exact[i] += float64(float32(rng.NormFloat64()))
					}
				}
				tol := map[collective.Compression]float64{collective.None: 1e-5, collective.FP16: 0.02, collective.BF16: 0.1}[comp]
				for i := range exact {
					if d := math.Abs(float64(res[0][i]) - exact[i]); d > tol*float64(n) {
						t.Fatalf("compression %v n=%d len=%d: [%d] = %v; exact %v", comp, n, length, i, res[0][i], exact[i])
					}
				}
			}
		}
	}
}

func TestOtherCollectives(t *testing.T) {
	collectivetest.CheckLeaks(t)
	for _, transport := range testTransports {
		for _, n := range []int{1, 2, 3, 5} {
			cfg := transportConfig(transport, collective.Options{SegmentBytes: 1024})
			collectivetest.RunWith(t, n, cfg, func(c *collective.Communicator) {
				ctx := context.Background()
				for _, length := range []int{0, 3, 1023, 5000} {
					// ReduceScatter: this rank's shard holds the sum.
					buf := input(c.Rank(), length)
					if err := c.ReduceScatter(ctx, buf, collective.Sum); err != nil {
						t.Errorf("ReduceScatter(rank %d, len %d): %v", c.Rank(), length, err)
						return
					}
					lo, hi := c.Shard(length)
					want := localReduce(n, length, collective.Sum)
					if i := firstDiff(buf[lo:hi], want[lo:hi]); i >= 0 {
						t.Errorf("ReduceScatter(rank %d, len %d)[%d] = %v; want %v", c.Rank(), length, lo+i, buf[lo+i], want[lo+i])
					}
					// AllGather: the shards come together.
					buf = make([]float32, length)
					for i := lo; i < hi; i++ {
						buf[i] = float32(i)
					}
					if err := c.AllGather(ctx, buf); err != nil {
						t.Errorf("AllGather(rank %d, len %d): %v", c.Rank(), length, err)
						return
					}
					for i := range buf {
						if buf[i] != float32(i) {
							t.Errorf("AllGather(rank %d, len %d)[%d] = %v; want %v", c.Rank(), length, i, buf[i], float32(i))
							break
						}
					}
					// Broadcast from every root.
					for root := range n {
						buf = input(c.Rank(), length)
						if err := c.Broadcast(ctx, buf, root); err != nil {
							t.Errorf("Broadcast(rank %d, root %d): %v", c.Rank(), root, err)
							return
						}
						if i := firstDiff(buf, input(root, length)); i >= 0 {
							t.Errorf("Broadcast(rank %d, root %d, len %d)[%d] = %v; want %v", c.Rank(), root, length, i, buf[i], input(root, length)[i])
						}
					}
					if err := c.Barrier(ctx); err != nil {
						t.Errorf("Barrier(rank %d): %v", c.Rank(), err)
					}
				}
			})
		}
	}
}

// TestAsyncOrder issues several asynchronous allreduces back to back and
// checks each got its own result: operations run in issue order on every rank.
func TestAsyncOrder(t *testing.T) {
	collectivetest.CheckLeaks(t)
	const n, ops = 3, 8
	collectivetest.Run(t, n, func(c *collective.Communicator) {
		bufs := make([][]float32, ops)
		handles := make([]*collective.Handle, ops)
		for k := range ops {
			bufs[k] = make([]float32, 1000*(k+1))
			for i := range bufs[k] {
				bufs[k][i] = float32(k + c.Rank())
			}
			handles[k] = c.AllReduceAsync(context.Background(), bufs[k], collective.Sum)
		}
		for k, h := range handles {
			if err := h.Wait(); err != nil {
				t.Errorf("AllReduceAsync #%d (rank %d): %v", k, c.Rank(), err)
				continue
			}
			want := float32(n*k + 0 + 1 + 2)
			if bufs[k][0] != want || bufs[k][len(bufs[k])-1] != want {
				t.Errorf("AllReduceAsync #%d (rank %d) = %v; want %v", k, c.Rank(), bufs[k][0], want)
			}
		}
	})
}

// TestLengthMismatch: ranks passing buffers of different lengths get a
// protocol error, not a hang or a corrupted result.
func TestLengthMismatch(t *testing.T) {
	collectivetest.CheckLeaks(t)
	for _, transport := range testTransports {
		cfg := transportConfig(transport, collective.Options{Deadline: 5 * time.Second})
		collectivetest.RunWith(t, 2, cfg, func(c *collective.Communicator) {
			buf := make([]float32, 100000+c.Rank())
			err := c.AllReduce(context.Background(), buf, collective.Sum)
			if !errors.Is(err, collective.ErrProtocol) {
				t.Errorf("%s: AllReduce with mismatched lengths (rank %d) = %v; want ErrProtocol", transport, c.Rank(), err)
			}
			if err := c.AllReduce(context.Background(), buf, collective.Sum); !errors.Is(err, collective.ErrBroken) {
				t.Errorf("%s: AllReduce after a failure (rank %d) = %v; want ErrBroken", transport, c.Rank(), err)
			}
		})
	}
}

// TestGroupCallMismatch: through the shared-memory group, ranks that call
// different operations on the same length learn it at the first barrier
// and get a protocol error naming the other rank's call.
func TestGroupCallMismatch(t *testing.T) {
	collectivetest.CheckLeaks(t)
	cfg := transportConfig(collective.TransportSHM, collective.Options{Deadline: 5 * time.Second})
	collectivetest.RunWith(t, 3, cfg, func(c *collective.Communicator) {
		buf := make([]float32, 1000)
		var err error
		if c.Rank() == 2 {
			err = c.Broadcast(context.Background(), buf, 0)
		} else {
			err = c.AllReduce(context.Background(), buf, collective.Sum)
		}
		if !errors.Is(err, collective.ErrProtocol) || !strings.Contains(err.Error(), "broadcast of 1000 elements from rank 0") {
			t.Errorf("rank %d: mismatched calls = %v; want ErrProtocol naming the broadcast", c.Rank(), err)
		}
	})
	collectivetest.RunWith(t, 2, cfg, func(c *collective.Communicator) {
		err := c.Broadcast(context.Background(), make([]float32, 10), c.Rank())
		if !errors.Is(err, collective.ErrProtocol) {
			t.Errorf("rank %d: broadcasts from different roots = %v; want ErrProtocol", c.Rank(), err)
		}
	})
}

// TestStuckPeerDeadline: a rank that never joins the operation makes the
// others fail by the deadline, naming it.
func TestStuckPeerDeadline(t *testing.T) {
	collectivetest.CheckLeaks(t)
	const deadline = 300 * time.Millisecond
	for _, transport := range testTransports {
		cfg := transportConfig(transport, collective.Options{Deadline: deadline})
		var mu sync.Mutex
		collectivetest.RunWith(t, 3, cfg, func(c *collective.Communicator) {
			if c.Rank() == 2 {
				time.Sleep(3 * deadline)
				return
			}
			start := time.Now()
			err := c.AllReduce(context.Background(), make([]float32, 1<<16), collective.Sum)
			took := time.Since(start)
			mu.Lock()
			defer mu.Unlock()
			var pe *collective.PeerError
			// Every waiting rank's deadline passes at about the same time,
			// so a rank may blame the neighbour it waited for rather than
			// rank 2; what matters is that it names a peer and returns.
			if !errors.As(err, &pe) || pe.Peer == c.Rank() || !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, collective.ErrPeerLost) {
				t.Errorf("%s: rank %d: AllReduce with a stuck rank 2 = %v; want a PeerError naming a peer", transport, c.Rank(), err)
			}
			if took > deadline+2*time.Second {
				t.Errorf("%s: rank %d returned after %v; deadline %v", transport, c.Rank(), took, deadline)
			}
		})
	}
}

// TestContextCancel: cancelling the caller's context ends the operation.
func TestContextCancel(t *testing.T) {
	collectivetest.CheckLeaks(t)
	collectivetest.Run(t, 2, func(c *collective.Communicator) {
		if c.Rank() == 1 {
			return
		}
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(50*time.Millisecond, cancel)
		err := c.AllReduce(ctx, make([]float32, 10), collective.Sum)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("AllReduce after cancel = %v; want context.Canceled", err)
		}
	})
}

// TestPeerCloses: a rank that closes its communicator in the middle makes the
// others fail promptly with ErrPeerLost naming it.
func TestPeerCloses(t *testing.T) {
	collectivetest.CheckLeaks(t)
	for _, transport := range testTransports {
		cfg := transportConfig(transport, collective.Options{Deadline: 20 * time.Second})
		collectivetest.RunWith(t, 4, cfg, func(c *collective.Communicator) {
			if c.Rank() == 1 {
				time.Sleep(100 * time.Millisecond)
				c.Close()
				return
			}
			start := time.Now()
			var err error
			for err == nil && time.Since(start) < 10*time.Second {
				err = c.AllReduce(context.Background(), make([]float32, 1<<18), collective.Sum)
			}
			var pe *collective.PeerError
			if !errors.As(err, &pe) || pe.Peer != 1 || !errors.Is(err, collective.ErrPeerLost) {
				t.Errorf("%s: rank %d: AllReduce after rank 1 closed = %v; want ErrPeerLost naming rank 1", transport, c.Rank(), err)
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("%s: rank %d noticed after %v", transport, c.Rank(), took)
			}
		})
	}
}

func TestBucketsAllReduce(t *testing.T) {
	collectivetest.CheckLeaks(t)
	sizes := []int{3, 1000, 1, 70000, 5, 5, 12000}
	collectivetest.Run(t, 3, func(c *collective.Communicator) {
		tensors := make([][]float32, len(sizes))
		for i, s := range sizes {
			tensors[i] = make([]float32, s)
			for j := range tensors[i] {
				tensors[i][j] = float32(c.Rank() + i)
			}
		}
		if err := c.AllReduceTensors(context.Background(), tensors, collective.Sum, 16<<10); err != nil {
			t.Errorf("AllReduceTensors(rank %d): %v", c.Rank(), err)
			return
		}
		for i, tt := range tensors {
			want := float32(3*i + 3)
			if tt[0] != want || tt[len(tt)-1] != want {
				t.Errorf("AllReduceTensors(rank %d) tensor %d = %v; want %v", c.Rank(), i, tt[0], want)
			}
		}
	})
}

func TestPlanBuckets(t *testing.T) {
	tests := []struct {
		sizes   []int
		maxElem int
		want    []collective.Bucket
	}{
		{[]int{}, 10, nil},
		{[]int{3, 3, 3}, 10, []collective.Bucket{{First: 0, End: 3, Len: 9}}},
		{[]int{3, 8, 3}, 10, []collective.Bucket{{First: 0, End: 1, Len: 3}, {First: 1, End: 2, Len: 8}, {First: 2, End: 3, Len: 3}}},
		{[]int{20, 1}, 10, []collective.Bucket{{First: 0, End: 1, Len: 20}, {First: 1, End: 2, Len: 1}}},
	}
	for _, tt := range tests {
		got := collective.PlanBuckets(tt.sizes, tt.maxElem)
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("PlanBuckets(%v, %d) = %v; want %v", tt.sizes, tt.maxElem, got, tt.want)
		}
	}
}

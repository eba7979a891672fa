package collective

import (
	"fmt"
	"testing"
)

// simulateRing runs the pipelined plans of all ranks in memory, one message
// at a time in a fixed round-robin order, and returns each rank's buffer.
func simulatePipes(t *testing.T, plans []*pipePlan, bufs [][]float32, op Op) {
	t.Helper()
	n := len(plans)
	queues := make([][][]float32, n) // messages in flight to rank i from its left
	sendq := make([][]segment, n)
	next := make([]int, n)
	sends := make([]int, n)
	for r, p := range plans {
		sendq[r] = append(sendq[r], p.initial...)
	}
	for progress := true; progress; {
		progress = false
		for r, p := range plans {
			// Send everything queued.
			for _, sg := range sendq[r] {
				msg := append([]float32(nil), bufs[r][sg.lo:sg.hi]...)
				queues[p.right] = append(queues[p.right], msg)
				sends[r]++
				progress = true
			}
			sendq[r] = sendq[r][:0]
			if next[r] == len(p.steps) || len(queues[r]) == 0 {
				continue
			}
			st := p.steps[next[r]]
			if sends[r] < st.awaitSends {
				t.Fatalf("rank %d step %d: awaits %d sends, only %d done", r, next[r], st.awaitSends, sends[r])
			}
			msg := queues[r][0]
			queues[r] = queues[r][1:]
			dst := bufs[r][st.seg.lo:st.seg.hi]
			if len(msg) != len(dst) {
				t.Fatalf("rank %d step %d (%s): got %d elements, want %d", r, next[r], st.what(), len(msg), len(dst))
			}
			if st.reduce {
				reduceInto(op, dst, msg)
			} else {
				copy(dst, msg)
			}
			if st.forward {
				sendq[r] = append(sendq[r], st.seg)
			}
			next[r]++
			progress = true
		}
	}
	for r, p := range plans {
		if next[r] != len(p.steps) || len(queues[r]) != 0 {
			t.Fatalf("rank %d stuck at step %d of %d with %d messages queued", r, next[r], len(p.steps), len(queues[r]))
		}
	}
}

func rankData(n, length int) (bufs [][]float32, sum []float32) {
	sum = make([]float32, length)
	for r := range n {
		b := make([]float32, length)
		for i := range b {
			b[i] = float32((r+1)*(i%97) + r)
			sum[i] += b[i]
		}
		bufs = append(bufs, b)
	}
	return bufs, sum
}

func TestRingPlan(t *testing.T) {
	for n := 1; n <= 8; n++ {
		for _, length := range []int{0, 1, 7, 64, 1023} {
			for _, seg := range []int{1, 5, 1000} {
				name := fmt.Sprintf("n=%d/len=%d/seg=%d", n, length, seg)
				bufs, sum := rankData(n, length)
				plans := make([]*pipePlan, n)
				for r := range n {
					plans[r] = ringPlan(n, r, length, seg, true, true)
				}
				simulatePipes(t, plans, bufs, Sum)
				for r := range n {
					for i := range sum {
						if bufs[r][i] != sum[i] {
							t.Fatalf("%s: rank %d element %d = %v; want %v", name, r, i, bufs[r][i], sum[i])
						}
					}
				}
				// Reduce-scatter alone leaves each rank its own shard.
				bufs, _ = rankData(n, length)
				for r := range n {
					plans[r] = ringPlan(n, r, length, seg, true, false)
				}
				simulatePipes(t, plans, bufs, Sum)
				for r := range n {
					lo, hi := shardRange(length, n, r)
					for i := lo; i < hi; i++ {
						if bufs[r][i] != sum[i] {
							t.Fatalf("%s: reduce-scatter rank %d element %d = %v; want %v", name, r, i, bufs[r][i], sum[i])
						}
					}
				}
			}
		}
	}
}

func TestChainPlan(t *testing.T) {
	for n := 1; n <= 5; n++ {
		for root := range n {
			bufs, _ := rankData(n, 11)
			want := append([]float32(nil), bufs[root]...)
			plans := make([]*pipePlan, n)
			for r := range n {
				plans[r] = chainPlan(n, r, root, 11, 3)
			}
			simulatePipes(t, plans, bufs, Sum)
			for r := range n {
				for i := range want {
					if bufs[r][i] != want[i] {
						t.Fatalf("broadcast n=%d root=%d: rank %d element %d = %v; want %v", n, root, r, i, bufs[r][i], want[i])
					}
				}
			}
		}
	}
}

// TestDoublingPlan checks that the pairings are symmetric and that every
// rank ends up with every rank's contribution, by tracking sets.
func TestDoublingPlan(t *testing.T) {
	for n := 1; n <= 9; n++ {
		plans := make([]doublingPlan, n)
		have := make([]map[int]bool, n)
		for r := range n {
			plans[r] = newDoublingPlan(n, r)
			have[r] = map[int]bool{r: true}
		}
		for r, p := range plans {
			if p.foldFrom >= 0 {
				if plans[p.foldFrom].foldTo != r {
					t.Fatalf("n=%d: rank %d folds from %d, which folds to %d", n, r, p.foldFrom, plans[p.foldFrom].foldTo)
				}
				have[r][p.foldFrom] = true
			}
		}
		rounds := len(plans[0].partners)
		for k := range rounds {
			next := make([]map[int]bool, n)
			for r, p := range plans {
				if p.foldTo >= 0 {
					continue
				}
				q := p.partners[k]
				if plans[q].partners[k] != r {
					t.Fatalf("n=%d round %d: rank %d pairs with %d, which pairs with %d", n, k, r, q, plans[q].partners[k])
				}
				next[r] = map[int]bool{}
				for x := range have[r] {
					next[r][x] = true
				}
				for x := range have[q] {
					next[r][x] = true
				}
			}
			for r := range next {
				if next[r] != nil {
					have[r] = next[r]
				}
			}
		}
		for r, p := range plans {
			if p.foldTo >= 0 {
				have[r] = have[p.foldTo]
			}
			if len(have[r]) != n {
				t.Errorf("n=%d: rank %d ends with contributions of %d ranks; want %d", n, r, len(have[r]), n)
			}
		}
	}
}

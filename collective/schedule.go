package collective

import "fmt"

// This file holds the schedules of the collective algorithms: pure functions
// of (world size, rank, length) that say what to send and receive in which
// order. They do no I/O; pipeline and the small-message paths in comm.go
// execute them, and schedule_test.go runs them for all ranks at once in
// memory.

// shardRange returns the elements [lo, hi) of a length-element buffer that
// rank owns when the buffer is split into size near-equal parts.
func shardRange(length, size, rank int) (lo, hi int) {
	return rank * length / size, (rank + 1) * length / size
}

// segment is a range of buffer elements that travels as one message.
type segment struct{ lo, hi int }

// phase names a stage of a pipelined schedule in error messages.
type phase uint8

const (
	reduceScatterPhase phase = iota
	allGatherPhase
	broadcastPhase
)

func (p phase) String() string {
	switch p {
	case reduceScatterPhase:
		return "reduce-scatter"
	case allGatherPhase:
		return "allgather"
	}
	return "broadcast"
}

// recvStep is one message a rank receives in a pipelined schedule.
type recvStep struct {
	seg     segment
	phase   phase
	step    int  // step of the phase, from 0
	chunk   int  // the shard the segment belongs to
	reduce  bool // combine into the buffer (else overwrite)
	final   bool // after this, the segment holds the finished result of its shard's owner
	forward bool // send the segment on to the right neighbour afterwards
	// awaitSends is how many sends must have completed before the segment
	// may be overwritten: the sender may still be reading it otherwise.
	awaitSends int
}

func (s *recvStep) what() string {
	return fmt.Sprintf("recv chunk %d of %s step %d, elements [%d,%d)", s.chunk, s.phase, s.step, s.seg.lo, s.seg.hi)
}

// pipePlan is a pipelined schedule for one rank: send initial to the right
// neighbour, then receive steps from the left one in order, forwarding some.
// The sends happen in the order initial, then forwarded steps.
type pipePlan struct {
	left, right int
	initial     []segment
	steps       []recvStep
}

// segmentsOf splits [lo, hi) into pieces of at most seg elements. An empty
// range has no segments, so nothing is sent for it.
func segmentsOf(lo, hi, seg int, dst []segment) []segment {
	for s := lo; s < hi; s += seg {
		dst = append(dst, segment{s, min(s+seg, hi)})
	}
	return dst
}

// ringPlan is the ring schedule for one rank. With rs, it reduce-scatters:
// after it, rank r holds the reduction of shard r. With ag, it all-gathers:
// every rank ends with every shard. Both together make ring allreduce, with
// the end of the reduce-scatter streaming straight into the allgather.
//
// In reduce-scatter step s, rank r sends shard r-s-1 and receives shard
// r-s-2, which it reduces and sends on in step s+1; after n-1 steps it has
// received every other rank's contribution to shard r. In allgather step t it
// receives shard r-t-1 in its final form from its left neighbour. Shards are
// cut into segments of at most seg elements, so that receiving, reducing and
// sending overlap.
func ringPlan(size, rank, length, seg int, rs, ag bool) *pipePlan {
	p := &pipePlan{left: (rank - 1 + size) % size, right: (rank + 1) % size}
	if size == 1 {
		return p
	}
	mod := func(i int) int { return ((i % size) + size) % size }
	sends := 0
	sentAt := map[int]int{} // segment start -> number of sends once it is sent
	enqueue := func(sg segment) {
		sends++
		sentAt[sg.lo] = sends
	}
	if rs {
		lo, hi := shardRange(length, size, mod(rank-1))
		p.initial = segmentsOf(lo, hi, seg, nil)
	} else {
		lo, hi := shardRange(length, size, rank)
		p.initial = segmentsOf(lo, hi, seg, nil)
	}
	for _, sg := range p.initial {
		enqueue(sg)
	}
	var segs []segment
	if rs {
		for s := 0; s < size-1; s++ {
			c := mod(rank - s - 2)
			lo, hi := shardRange(length, size, c)
			last := s == size-2
			for _, sg := range segmentsOf(lo, hi, seg, segs[:0]) {
				st := recvStep{seg: sg, phase: reduceScatterPhase, step: s, chunk: c, reduce: true,
					final: last, forward: !last || ag}
				p.steps = append(p.steps, st)
				if st.forward {
					enqueue(sg)
				}
			}
		}
	}
	if ag {
		for t := 0; t < size-1; t++ {
			c := mod(rank - t - 1)
			lo, hi := shardRange(length, size, c)
			for _, sg := range segmentsOf(lo, hi, seg, segs[:0]) {
				st := recvStep{seg: sg, phase: allGatherPhase, step: t, chunk: c,
					forward: t < size-2, awaitSends: sentAt[sg.lo]}
				p.steps = append(p.steps, st)
				if st.forward {
					enqueue(sg)
				}
			}
		}
	}
	return p
}

// chainPlan is a pipelined broadcast from root along the ring root, root+1,
// ...: each rank receives every segment from its left neighbour and forwards
// it, except the last.
func chainPlan(size, rank, root, length, seg int) *pipePlan {
	p := &pipePlan{left: (rank - 1 + size) % size, right: (rank + 1) % size}
	pos := (rank - root + size) % size
	segs := segmentsOf(0, length, seg, nil)
	if size == 1 {
		return p
	}
	if pos == 0 {
		p.initial = segs
		return p
	}
	for _, sg := range segs {
		p.steps = append(p.steps, recvStep{seg: sg, phase: broadcastPhase, chunk: root, forward: pos < size-1})
	}
	return p
}

// doublingPlan is recursive doubling for small allreduces. With p the largest
// power of two not above size, ranks p.. first fold their data into rank
// r-p and later receive the result from it; ranks below p exchange whole
// buffers with partner r XOR k for k = 1, 2, 4, ... < p, combining after
// each exchange. Combining is commutative down to the bit, and partners
// combine the same two operands, so every rank ends with the same bits.
type doublingPlan struct {
	foldFrom int   // rank whose data to combine first, or -1
	foldTo   int   // rank to send data to and receive the result from, or -1
	partners []int // partner of each exchange round
	resultTo int   // rank to send the result to at the end, or -1
}

func newDoublingPlan(size, rank int) doublingPlan {
	p := 1
	for p*2 <= size {
		p *= 2
	}
	d := doublingPlan{foldFrom: -1, foldTo: -1, resultTo: -1}
	if rank >= p {
		d.foldTo = rank - p
		return d
	}
	if rank+p < size {
		d.foldFrom = rank + p
		d.resultTo = rank + p
	}
	for k := 1; k < p; k <<= 1 {
		d.partners = append(d.partners, rank^k)
	}
	return d
}

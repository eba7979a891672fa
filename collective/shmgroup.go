package collective

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// Shared-memory group: when every peer of a rank is reached through shared
// memory (all ranks on one host), the ranks also map one common file with a
// staging area per rank. AllReduce, Broadcast and Barrier then skip the
// point-to-point rings: in each round every rank copies its part of the
// buffer into its staging area, all meet at a barrier, each rank reduces its
// own shard by reading that shard from every staging area directly (in rank
// order, so the bits are fixed) and publishes the result in its own area, all
// meet again, and each rank copies the other shards' results out. That is
// two barriers per round instead of 2(n−1) dependent ring steps, and every
// rank works on its shard at the same time, which matters most when there
// are more ranks than cores. Staging areas come in two halves used by
// alternate rounds, so a round's copy-in never overwrites what a slower rank
// may still read from the round before.
//
// Barriers are counters, one per rank in its own cache line: a rank entering
// barrier k stores k and rings a doorbell common to the group; it waits until
// every counter reaches k, spinning briefly, then yielding, then sleeping on
// the doorbell (a futex), and checking all along for an interrupt, an abort
// notice or closure left by the rank it waits for, and whether that rank's
// process still runs, so that a dead rank is named within moments.

const (
	// groupSlotBytes is the staging area of one rank for one half: the
	// part of a buffer one round moves. Rounds are small enough to stay
	// in the shared cache between copy-in, reduction and copy-out.
	groupSlotBytes = 4 << 20
	groupMaxRanks  = 64
	groupHdrBytes  = 68 << 10 // the doorbell and groupMaxRanks rank headers, in whole pages
	groupRankBytes = 1024
)

// groupRankHdr is one rank's part of the group header; only that rank
// stores into it.
type groupRankHdr struct {
	arrived atomic.Uint64 // barriers this rank has entered
	// what holds, for barriers of each parity, what the rank was doing
	// when it entered (see groupCall): a rank is at most one barrier
	// ahead of the slowest, so two entries let everyone compare.
	what   [2]atomic.Uint64
	at     [2]atomic.Uint64 // the offset of the call, by parity
	_      [24]byte
	closed atomic.Uint32 // the rank closed its communicator
	_      [60]byte
	notice abortNotice // why the rank gave up, once it has
}

var _ [groupRankBytes - unsafe.Sizeof(groupRankHdr{})]byte
var _ [groupHdrBytes - groupRankBytes*(groupMaxRanks+1)]byte

func groupFileBytes(size int) int { return groupHdrBytes + 2*size*groupSlotBytes }

// shmGroup is this rank's view of the group file.
type shmGroup struct {
	rank, size int
	pids       []int // process of each rank, for noticing a dead one
	mem        []byte
	door       *doorbell // at the start of the file; every waiting rank sleeps on it
	hdrs       []*groupRankHdr
	slots      [][2][]float32 // staging areas, by rank and half
	stopped    atomic.Bool
	// spin is how many times a wait polls before it yields, and spinFor
	// how long it then goes on polling: long when every rank has a core
	// of its own, where a peer is moments away and waking from a sleep
	// costs more than the poll, short when ranks share cores and polling
	// takes the peer's time.
	spin    int
	spinFor time.Duration

	// Owned by the running operation (operations run one at a time).
	barriers uint64 // barriers this rank has entered
	rounds   uint64 // rounds run; their parity picks the half

	mu     sync.Mutex // guards closed and arenas
	closed bool
	arenas []*sharedArena // the shared buffers, in the order made
}

func mapGroup(f *os.File, rank, size int, pids []int, poll time.Duration) (*shmGroup, error) {
	mem, err := syscall.Mmap(int(f.Fd()), 0, groupFileBytes(size), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mmap: %w", err)
	}
	g := &shmGroup{rank: rank, size: size, pids: pids, mem: mem,
		door: (*doorbell)(unsafe.Pointer(&mem[0])),
		hdrs: make([]*groupRankHdr, size), slots: make([][2][]float32, size), spin: spinRounds}
	if size <= runtime.NumCPU() {
		g.spin, g.spinFor = groupSpinRounds, groupSpinTime
		if poll != 0 {
			g.spinFor = max(poll, 0) // Options.GroupPoll
		}
	}
	per := groupSlotBytes / 4
	for r := range size {
		g.hdrs[r] = (*groupRankHdr)(unsafe.Pointer(&mem[groupRankBytes*(r+1)]))
		for h := range 2 {
			off := groupHdrBytes + (2*r+h)*groupSlotBytes
			g.slots[r][h] = unsafe.Slice((*float32)(unsafe.Pointer(&mem[off])), per)
		}
	}
	return g, nil
}

// groupSpinRounds and groupSpinTime are the polling of a wait when ranks
// have cores of their own. Ranks of a training job arrive at a barrier
// hundreds of microseconds apart, and a rank woken from the doorbell came
// back tens of microseconds late: an allreduce of 940 KB between 2
// processes, one arriving 300 µs after the other, took the late one
// 229-282 µs when the early one slept after some tens of microseconds of
// polling, 171-197 µs when it polled for up to 1 ms (MLP training on 2
// workers × 1 thread: 135-176k samples/s, then 182-200k).
const (
	groupSpinRounds = 4096
	groupSpinTime   = time.Millisecond
)

const groupPrefix = "shoal-group-"

// createShmFile creates a shared memory file of n bytes, all reserved.
func createShmFile(n int64) (*os.File, string, error) {
	var rnd [8]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return nil, "", err
	}
	name := filepath.Join(shmDir(), fmt.Sprintf("%s%d-%s", groupPrefix, os.Getpid(), hex.EncodeToString(rnd[:])))
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, "", err
	}
	if err := reserve(f, n); err != nil {
		f.Close()
		os.Remove(name)
		return nil, "", err
	}
	return f, name, nil
}

func createGroupFile(size int) (*os.File, string, error) {
	return createShmFile(int64(groupFileBytes(size)))
}

// openShmFile opens the file a peer named, which must be one of ours of n
// bytes.
func openShmFile(name string, n int64) (*os.File, error) {
	if filepath.Dir(name) != filepath.Clean(shmDir()) || !bytes.HasPrefix([]byte(filepath.Base(name)), []byte(groupPrefix)) {
		return nil, fmt.Errorf("%w: peer named shared memory file %q", ErrProtocol, name)
	}
	f, err := os.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	if st, err := f.Stat(); err != nil || st.Size() != n {
		f.Close()
		return nil, fmt.Errorf("%w: shared memory file %s has the wrong size", ErrProtocol, name)
	}
	return f, nil
}

// groupNameBytes is the fixed length of the message that names the file.
const groupNameBytes = 256

// setupGroup builds the shared-memory group over a mesh whose links are all
// shared memory (see shareFile). A rank with ringOnly declines. A group
// that cannot be built is not an error; the rings carry everything then.
func setupGroup(ctx context.Context, m *mesh, ringOnly bool, poll time.Duration) error {
	size := len(m.links)
	pids := make([]int, size)
	for r, l := range m.links {
		if r == m.rank {
			pids[r] = os.Getpid()
			continue
		}
		sl, ok := l.(*shmLink)
		if !ok {
			return nil
		}
		pids[r] = sl.peerPid
	}
	if size < 2 || size > groupMaxRanks {
		return nil
	}
	stop := context.AfterFunc(ctx, m.Interrupt)
	var g *shmGroup
	ok, err := shareFile(m, m.rank, size, int64(groupFileBytes(size)), ringOnly, "shared memory group", func(f *os.File) (func(), error) {
		var err error
		if g, err = mapGroup(f, m.rank, size, pids, poll); err != nil {
			return nil, err
		}
		return func() { g.close() }, nil
	})
	if !stop() && err == nil {
		// The deadline came as the set-up ended and interrupted the links.
		err = fmt.Errorf("collective: rank %d: shared memory group: %w", m.rank, ctx.Err())
	}
	if err != nil {
		if ok {
			g.close()
		}
		return err
	}
	if ok {
		m.group = g
	}
	return nil
}

// fileExchange is what shareFile needs of a transport.
type fileExchange interface {
	Send(peer int, bufs ...[]byte) error
	RecvInto(peer int, dst []byte) error
}

// shareFile has every rank map one new shared memory file of n bytes: rank
// 0 creates the file and names it to every rank over tr, each maps it with
// mapIt and says whether that worked, and rank 0 unlinks the file (nothing
// is left behind whatever happens next) and tells every rank whether all
// mapped it. A rank with decline maps nothing, which turns the file down
// for all. It reports whether the file is in use; where it is not, the
// mapping is undone here. what names the file in errors.
func shareFile(tr fileExchange, rank, size int, n int64, decline bool, what string, mapIt func(f *os.File) (undo func(), err error)) (ok bool, err error) {
	var undo func()
	mapFile := func(f *os.File) {
		if u, err := mapIt(f); err == nil {
			undo = u
		}
		f.Close()
	}
	defer func() {
		if (!ok || err != nil) && undo != nil {
			undo()
		}
	}()
	fail := func(peer int, step string, err error) error {
		return fmt.Errorf("collective: rank %d: %s: %s rank %d: %w", rank, what, step, peer, err)
	}
	if rank != 0 {
		msg := make([]byte, groupNameBytes)
		if err := tr.RecvInto(0, msg); err != nil {
			return false, fail(0, "recv file name from", err)
		}
		if name := string(bytes.TrimRight(msg, "\x00")); name != "" && !decline {
			if f, err := openShmFile(name, n); err == nil {
				mapFile(f)
			}
		}
		ack := []byte{0, 0, 0, 0}
		if undo != nil {
			ack[0] = 1
		}
		if err := tr.Send(0, ack); err != nil {
			return false, fail(0, "send mapping result to", err)
		}
		var decision [4]byte
		if err := tr.RecvInto(0, decision[:]); err != nil {
			return false, fail(0, "recv decision from", err)
		}
		return decision[0] == 1 && undo != nil, nil
	}
	var name string
	if !decline {
		if f, nm, err := createShmFile(n); err == nil {
			mapFile(f)
			if undo != nil {
				name = nm
			} else {
				os.Remove(nm)
			}
		}
	}
	// The file goes once every rank has answered, or on an early return.
	unlink := func() {
		if name != "" {
			os.Remove(name)
			name = ""
		}
	}
	defer unlink()
	msg := make([]byte, groupNameBytes)
	copy(msg, name)
	for peer := 1; peer < size; peer++ {
		if err := tr.Send(peer, msg); err != nil {
			return false, fail(peer, "send file name to", err)
		}
	}
	ok = undo != nil
	for peer := 1; peer < size; peer++ {
		var ack [4]byte
		if err := tr.RecvInto(peer, ack[:]); err != nil {
			return false, fail(peer, "recv mapping result from", err)
		}
		ok = ok && ack[0] == 1
	}
	unlink()
	decision := []byte{0, 0, 0, 0}
	if ok {
		decision[0] = 1
	}
	for peer := 1; peer < size; peer++ {
		if err := tr.Send(peer, decision); err != nil {
			return false, fail(peer, "send decision to", err)
		}
	}
	return ok, nil
}

func (g *shmGroup) ringBell() { g.door.ring() }

// peerGone reports an abort notice or closure that rank peer left.
func (g *shmGroup) peerGone(peer int) error {
	h := g.hdrs[peer]
	if err := h.notice.read(peer); err != nil {
		return err
	}
	if h.closed.Load() != 0 {
		return fmt.Errorf("%w: peer closed its communicator", ErrPeerLost)
	}
	return nil
}

// testHookGroupPause, set by tests, runs as a wait for peer begins.
var testHookGroupPause func(g *shmGroup, peer int)

// pause waits a little for rank peer and reports why waiting should stop,
// if it should.
func (g *shmGroup) pause(w *waiter, peer int) error {
	if testHookGroupPause != nil {
		testHookGroupPause(g, peer)
	}
	if g.stopped.Load() {
		return errInterrupted
	}
	if err := g.peerGone(peer); err != nil {
		return err
	}
	if w.pace(g.spin, g.spinFor, g.door, g.pids[peer]) {
		if err := g.peerGone(peer); err != nil {
			return err
		}
		return fmt.Errorf("%w: peer process %d died", ErrPeerLost, g.pids[peer])
	}
	return nil
}

// groupCall describes what a rank does when it enters a barrier, so that
// ranks that disagree (different operations or buffer lengths) find out.
type groupCall struct {
	kind   uint8 // callAllReduce, callBroadcast, callBarrier, callAllReduceShared
	root   int   // of a broadcast, or the shared buffer's index; below 256
	length int
	offset int // in the shared buffer
}

const (
	callAllReduce uint8 = iota + 1
	callBroadcast
	callBarrier
	callAllReduceShared
)

func (c groupCall) word() uint64 { return uint64(c.length)<<16 | uint64(c.root)<<8 | uint64(c.kind) }

func callOf(w uint64) groupCall {
	return groupCall{kind: uint8(w), root: int(uint8(w >> 8)), length: int(w >> 16)}
}

func (c groupCall) String() string {
	switch c.kind {
	case callAllReduce:
		return fmt.Sprintf("allreduce of %d elements", c.length)
	case callBroadcast:
		return fmt.Sprintf("broadcast of %d elements from rank %d", c.length, c.root)
	case callBarrier:
		return "barrier"
	case callAllReduceShared:
		return fmt.Sprintf("allreduce of %d elements at element %d of shared buffer %d", c.length, c.offset, c.root)
	}
	return fmt.Sprintf("unknown call %d", c.kind)
}

// barrier enters the next barrier, doing call, and waits until every rank
// has entered it. On failure it returns the rank it was waiting for, or the
// first rank whose call differs.
func (g *shmGroup) barrier(call groupCall) (int, error) {
	g.barriers++
	k := g.barriers
	me := g.hdrs[g.rank]
	me.what[k%2].Store(call.word())
	me.at[k%2].Store(uint64(call.offset))
	me.arrived.Store(k)
	g.ringBell()
	var w waiter
	for peer, h := range g.hdrs {
		for h.arrived.Load() < k {
			if err := g.pause(&w, peer); err != nil {
				if h.arrived.Load() >= k {
					// It arrived, then went on and left (it stores
					// arrived before it closes or exits): this barrier
					// is passed; a later one will not be.
					break
				}
				return peer, err
			}
		}
	}
	for peer, h := range g.hdrs {
		if got, at := h.what[k%2].Load(), h.at[k%2].Load(); got != call.word() || at != uint64(call.offset) {
			other := callOf(got)
			other.offset = int(at)
			return peer, fmt.Errorf("%w: rank %d called %v, this rank %v", ErrProtocol, peer, other, call)
		}
	}
	return -1, nil
}

func (g *shmGroup) interrupt() {
	g.stopped.Store(true)
	g.ringBell()
}

func (g *shmGroup) abort(cause error) {
	g.stopped.Store(true)
	g.hdrs[g.rank].notice.post(cause)
	g.ringBell()
}

func (g *shmGroup) close() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return nil
	}
	g.closed = true
	g.stopped.Store(true)
	g.hdrs[g.rank].closed.Store(1)
	g.ringBell()
	for _, a := range g.arenas {
		syscall.Munmap(a.mem)
	}
	return syscall.Munmap(g.mem)
}

// groupBarrier runs one barrier of operation r and names the rank it
// waited for if it fails.
func (r *opRun) groupBarrier(g *shmGroup, call groupCall, what string, round int) error {
	peer, err := g.barrier(call)
	if err != nil {
		return r.record(r.peerError(peer, fmt.Sprintf("%s of round %d", what, round), err))
	}
	return nil
}

// nextHalf returns the staging half of the next round.
func (g *shmGroup) nextHalf() int {
	h := int(g.rounds & 1)
	g.rounds++
	return h
}

// groupAllReduce is AllReduce through the group's staging areas (see the
// top of this file).
func (r *opRun) groupAllReduce(g *shmGroup, buf []float32, op Op) error {
	per := groupSlotBytes / 4
	n := g.size
	call := groupCall{kind: callAllReduce, length: len(buf)}
	for round, start := 0, 0; start < len(buf); round, start = round+1, start+per {
		chunk := buf[start:min(start+per, len(buf))]
		half := g.nextHalf()
		mine := g.slots[g.rank][half][:len(chunk)]
		lo, hi := shardRange(len(chunk), n, g.rank)
		// This rank's own shard is read from chunk, not staged.
		copy(mine[:lo], chunk[:lo])
		copy(mine[hi:], chunk[hi:])
		if err := r.groupBarrier(g, call, "reduction barrier", round); err != nil {
			return err
		}
		part := func(j int) []float32 {
			if j == g.rank {
				return chunk[lo:hi]
			}
			return g.slots[j][half][lo:hi]
		}
		dst := mine[lo:hi]
		combineInto(op, dst, part(0), part(1))
		for j := 2; j < n; j++ {
			reduceInto(op, dst, part(j))
		}
		if op == Mean {
			scale(dst, 1/float32(n))
		}
		copy(chunk[lo:hi], dst)
		if err := r.groupBarrier(g, call, "result barrier", round); err != nil {
			return err
		}
		for j := range n {
			if j != g.rank {
				a, b := shardRange(len(chunk), n, j)
				copy(chunk[a:b], g.slots[j][half][a:b])
			}
		}
	}
	return nil
}

// groupBroadcast is Broadcast through the staging areas: the root stages a
// round, all meet, the others copy it out; the halves alternate so that
// the root's next round never overwrites what a slower rank still reads.
//
// Why alternating halves suffice, for every operation on the group: a half
// used in round t is next written in round t+2, by a rank that has passed a
// barrier of round t+1, which no rank enters before it is done with round t.
func (r *opRun) groupBroadcast(g *shmGroup, buf []float32, root int) error {
	per := groupSlotBytes / 4
	call := groupCall{kind: callBroadcast, root: root, length: len(buf)}
	for round, start := 0, 0; start < len(buf); round, start = round+1, start+per {
		chunk := buf[start:min(start+per, len(buf))]
		half := g.nextHalf()
		stage := g.slots[root][half][:len(chunk)]
		if g.rank == root {
			copy(stage, chunk)
		}
		if err := r.groupBarrier(g, call, "broadcast barrier", round); err != nil {
			return err
		}
		if g.rank != root {
			copy(chunk, stage)
		}
	}
	return nil
}

// combineInto sets dst = a op b element-wise (Mean combines as Sum).
func combineInto(op Op, dst, a, b []float32) {
	n := len(dst)
	a, b = a[:n], b[:n]
	switch op {
	case Sum, Mean:
		for i := sumVec(dst, a, b); i < n; i++ {
			dst[i] = a[i] + b[i]
		}
	case Max:
		for i := range dst {
			dst[i] = maxOf(a[i], b[i])
		}
	default:
		panic(fmt.Sprintf("collective: combineInto: bad op %d", int(op)))
	}
}

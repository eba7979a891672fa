package collective

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// errDeadline and errCanceled are what a context reports when the operation's
// deadline passed or the caller gave up.
var (
	errDeadline = context.DeadlineExceeded
	errCanceled = context.Canceled
)

// Options tune a Communicator. The zero value gives the defaults; every rank
// must use the same SegmentBytes, SmallBytes and Compression.
type Options struct {
	// Deadline bounds every operation in addition to its context; 0 means
	// DefaultDeadline.
	Deadline time.Duration
	// Compression narrows values on the wire; reductions stay in float32.
	Compression Compression
	// SegmentBytes is the largest message of the pipelined algorithms, in
	// wire bytes; 0 means 1 MiB (over loopback TCP, 1 MiB segments gave
	// 1.8-2.1 GB/s of bus bandwidth at 16 and 64 MiB between two ranks
	// where 256 KiB gave 1.4-1.6, measured side by side).
	SegmentBytes int
	// SmallBytes is the largest buffer, in wire bytes, that AllReduce sends
	// by recursive doubling instead of the ring; 0 means 32 KiB, and a
	// negative value always uses the ring.
	SmallBytes int
	// RingOnly keeps every operation on the point-to-point links even when
	// all ranks share a host, where AllReduce, Broadcast and Barrier
	// otherwise go through a shared-memory group (see Dial). For
	// measurements and tests of the rings.
	RingOnly bool
	// GroupPoll is how long a rank waiting in the shared-memory group
	// polls before it sleeps, when there are no more ranks than cores; 0
	// means 1 ms, a negative value a few tens of microseconds. Polling
	// saves the wake-up from a sleep, but takes a core: make it negative
	// when the ranks' own threads fill the cores (2 workers of 2 threads
	// each on 2 cores), where a polling rank would slow the others.
	GroupPoll time.Duration
}

// DefaultDeadline bounds each operation unless Options.Deadline says otherwise.
const DefaultDeadline = 2 * time.Minute

func (o *Options) ensureDefaults() {
	if o.Deadline <= 0 {
		o.Deadline = DefaultDeadline
	}
	if o.SegmentBytes <= 0 {
		o.SegmentBytes = 1 << 20
	}
	if o.SmallBytes == 0 {
		o.SmallBytes = 32 << 10
	}
}

func (o *Options) validate() error {
	if o.SegmentBytes < 64 || o.SegmentBytes > maxFrame/2 {
		return fmt.Errorf("collective: SegmentBytes %d out of range [64, %d]", o.SegmentBytes, maxFrame/2)
	}
	if o.SmallBytes > maxFrame/2 {
		return fmt.Errorf("collective: SmallBytes %d over %d", o.SmallBytes, maxFrame/2)
	}
	if o.Compression < None || o.Compression > BF16 {
		return fmt.Errorf("collective: unknown compression %d", int(o.Compression))
	}
	return nil
}

// maxFrame caps every message on the wire.
const maxFrame = 64 << 20

// frameCap is the largest message the options can produce.
func (o *Options) frameCap() int { return max(o.SegmentBytes, o.SmallBytes, 1024) }

// Communicator runs collective operations among a fixed group of ranks. Every
// rank must issue the same operations, with buffers of the same length, in
// the same order. Operations run one at a time in the order they were issued,
// whether synchronous or asynchronous.
//
// Any failed operation breaks the Communicator: later operations return an
// error wrapping ErrBroken and the first failure. Build a new one to go on.
type Communicator struct {
	rank, size int
	tr         Transport
	opts       Options

	mu     sync.Mutex // guards broken, closed and tail
	broken error
	closed bool
	tail   chan struct{} // closed when the last issued operation ends

	// group is the shared-memory group of all ranks, or nil (see Dial).
	group *shmGroup

	// Owned by the operation that runs; operations run one at a time.
	wire []byte // encoded outgoing values (compression only)
}

// New builds a Communicator for rank of size over t, which it owns from now
// on. Dial is the usual way to get one; New serves transports of one's own.
func New(rank, size int, t Transport, opts Options) (*Communicator, error) {
	opts.ensureDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	if size < 1 || rank < 0 || rank >= size {
		return nil, fmt.Errorf("collective: rank %d out of range for world size %d", rank, size)
	}
	if !littleEndian {
		return nil, errors.New("collective: big-endian hosts are not supported")
	}
	tail := make(chan struct{})
	close(tail)
	return &Communicator{rank: rank, size: size, tr: t, opts: opts, tail: tail}, nil
}

// Rank returns this process's rank, from 0.
func (c *Communicator) Rank() int { return c.rank }

// Size returns the number of ranks.
func (c *Communicator) Size() int { return c.size }

// Shard returns the range [lo, hi) of a length-element buffer that this rank
// owns in ReduceScatter and contributes in AllGather.
func (c *Communicator) Shard(length int) (lo, hi int) { return shardRange(length, c.size, c.rank) }

// Close releases the connections. Operations in flight fail; Close waits for
// them to end.
func (c *Communicator) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	tail := c.tail
	c.mu.Unlock()
	c.tr.Interrupt()
	<-tail
	return c.tr.Close()
}

// Handle is an operation running in the background.
type Handle struct {
	done chan struct{}
	err  error
}

// Wait blocks until the operation ends and returns its error.
func (h *Handle) Wait() error {
	<-h.done
	return h.err
}

// Done is closed when the operation ends.
func (h *Handle) Done() <-chan struct{} { return h.done }

// enqueue takes this operation's place in line: it returns the channel to
// wait on before running and the one to close after.
func (c *Communicator) enqueue() (prev, mine chan struct{}, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, nil, ErrClosed
	}
	prev, mine = c.tail, make(chan struct{})
	c.tail = mine
	return prev, mine, nil
}

// do runs body as operation name, synchronously, after the operations issued
// before it.
func (c *Communicator) do(ctx context.Context, name string, body func(r *opRun) error) error {
	prev, mine, err := c.enqueue()
	if err != nil {
		return fmt.Errorf("collective: %s: %w", name, err)
	}
	defer close(mine)
	return c.run(ctx, prev, name, body)
}

// async runs body in the background, in line after the operations issued
// before it.
func (c *Communicator) async(ctx context.Context, name string, body func(r *opRun) error) *Handle {
	h := &Handle{done: make(chan struct{})}
	prev, mine, err := c.enqueue()
	if err != nil {
		h.err = fmt.Errorf("collective: %s: %w", name, err)
		close(h.done)
		return h
	}
	go func() {
		defer close(h.done)
		defer close(mine)
		h.err = c.run(ctx, prev, name, body)
	}()
	return h
}

func (c *Communicator) run(ctx context.Context, prev chan struct{}, name string, body func(r *opRun) error) error {
	select {
	case <-prev:
	case <-ctx.Done():
		// Ranks would now disagree on which operations ran.
		err := fmt.Errorf("collective: %s: rank %d gave up waiting for earlier operations: %w", name, c.rank, ctx.Err())
		c.fail(err)
		return err
	}
	c.mu.Lock()
	broken, closed := c.broken, c.closed
	c.mu.Unlock()
	switch {
	case closed:
		return fmt.Errorf("collective: %s: %w", name, ErrClosed)
	case broken != nil:
		return fmt.Errorf("collective: %s: %w: %w", name, ErrBroken, broken)
	}
	if c.size == 1 {
		return body(&opRun{c: c, name: name, ctx: ctx})
	}

	ctx, cancel := context.WithTimeout(ctx, c.opts.Deadline)
	defer cancel()
	r := &opRun{c: c, name: name, ctx: ctx}
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(fired)
		r.expired.Store(true)
		c.tr.Interrupt()
	})
	err := body(r)
	if !stop() {
		<-fired
		if err == nil {
			// The deadline fired as the operation finished; the transport is
			// interrupted, so the next operation would fail anyway.
			err = fmt.Errorf("collective: %s: rank %d: %w", name, c.rank, ctx.Err())
		}
	}
	if err != nil {
		c.fail(err)
		c.tr.Abort(err)
	}
	return err
}

func (c *Communicator) fail(err error) {
	c.mu.Lock()
	if c.broken == nil {
		c.broken = err
	}
	c.mu.Unlock()
}

// opRun is the state of one running operation.
type opRun struct {
	c       *Communicator
	name    string
	ctx     context.Context
	expired atomic.Bool // the context ended and the transport was interrupted

	mu    sync.Mutex // guards first
	first error      // the first failure, from either the receiving or the sending side

	// Receive-side sink, reused across messages so that receiving allocates
	// nothing per message.
	dst     []float32
	off     int
	reduce  bool
	op      Op
	consume func([]byte)
	// fuseScale, when nonzero, makes a reducing receive without
	// compression multiply each sum by it: Mean's division fused into
	// the last reduction of a shard.
	fuseScale float32
}

// peerError builds the error for a failed wait on peer. err is what the
// transport returned.
func (r *opRun) peerError(peer int, waiting string, err error) error {
	pe := &PeerError{Op: r.name, Rank: r.c.rank, Peer: peer, Via: peer, Waiting: waiting, Err: err}
	var ae *abortError
	switch {
	case errors.As(err, &ae):
		pe.Peer = ae.cause
		pe.Err = ae
	case errors.Is(err, errInterrupted) && r.expired.Load():
		pe.Err = r.ctx.Err()
	}
	return pe
}

// record keeps the first failure of the operation and returns it.
func (r *opRun) record(err error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.first == nil {
		r.first = err
	}
	return r.first
}

func (r *opRun) firstErr() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.first
}

func (r *opRun) sink(p []byte) {
	comp := r.c.opts.Compression
	if comp == None {
		src := floatsOf(p)
		d := r.dst[r.off : r.off+len(src)]
		switch {
		case r.reduce && r.fuseScale != 0:
			addScaleInto(d, src, r.fuseScale)
		case r.reduce:
			reduceInto(r.op, d, src)
		default:
			copy(d, src)
		}
		r.off += len(src)
		return
	}
	src := uint16sOf(p)
	comp.decodeInto(r.dst[r.off:r.off+len(src)], src, r.reduce, r.op)
	r.off += len(src)
}

// recvInto receives one message from peer into dst, reducing with op or
// overwriting.
func (r *opRun) recvInto(peer int, dst []float32, reduce bool, op Op) error {
	comp := r.c.opts.Compression
	if !reduce && comp == None {
		if d, ok := r.c.tr.(directReceiver); ok {
			return d.RecvInto(peer, bytesOf(dst))
		}
	}
	if r.consume == nil {
		r.consume = r.sink
	}
	r.dst, r.off, r.reduce, r.op = dst, 0, reduce, op
	err := r.c.tr.Recv(peer, len(dst)*comp.wireSize(), r.consume)
	r.dst = nil
	return err
}

// sendFrom sends dst to peer in wire form, using scratch for the encoding.
func (r *opRun) sendFrom(peer int, src []float32, scratch *[]byte) error {
	comp := r.c.opts.Compression
	if comp == None {
		return r.c.tr.Send(peer, bytesOf(src))
	}
	n := 2 * len(src)
	if cap(*scratch) < n {
		*scratch = make([]byte, n)
	}
	w := (*scratch)[:n]
	comp.encode(uint16sOf(w), src)
	return r.c.tr.Send(peer, w)
}

// pipeline executes a pipelined plan on buf: a sending goroutine works
// through a queue of segments while this one receives, combines and queues
// segments to forward.
func (r *opRun) pipeline(buf []float32, p *pipePlan, op Op, final func(seg []float32)) error {
	if len(p.initial) == 0 && len(p.steps) == 0 {
		return nil
	}
	q := make(chan segment, len(p.initial)+len(p.steps))
	// The sender posts one token per completed send, and closes sentCh when
	// it stops on an error, so that a step waiting for its sends blocks
	// instead of spinning: on a small machine a spinning receiver takes the
	// core the sender or the peer process needs.
	sentCh := make(chan struct{}, len(p.initial)+len(p.steps))
	var stop atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		var scratch []byte
		for sg := range q {
			if stop.Load() {
				continue
			}
			if err := r.sendFrom(p.right, buf[sg.lo:sg.hi], &scratch); err != nil {
				what := fmt.Sprintf("send elements [%d,%d)", sg.lo, sg.hi)
				r.record(r.peerError(p.right, what, err))
				stop.Store(true)
				close(sentCh)
				r.c.tr.Interrupt()
				continue
			}
			sentCh <- struct{}{}
		}
	}()
	for _, sg := range p.initial {
		q <- sg
	}
	var err error
	sent := 0
steps:
	for i := range p.steps {
		st := &p.steps[i]
		for sent < st.awaitSends {
			if _, ok := <-sentCh; !ok {
				break steps // the sender failed and recorded why
			}
			sent++
		}
		seg := buf[st.seg.lo:st.seg.hi]
		// The last reduction of a Mean's shard divides as it adds; with
		// compression the finisher must also round, so it runs apart.
		fuse := st.final && st.reduce && op == Mean && final != nil && r.c.opts.Compression == None
		if fuse {
			r.fuseScale = 1 / float32(r.c.size)
		}
		err = r.recvInto(p.left, seg, st.reduce, op)
		r.fuseScale = 0
		if err != nil {
			err = r.record(r.peerError(p.left, st.what(), err))
			break
		}
		if st.final && final != nil && !fuse {
			final(seg)
		}
		if st.forward {
			q <- st.seg
		}
	}
	close(q)
	if err != nil {
		stop.Store(true)
		// Let a send in progress finish its frame and tell the peers, so
		// that they report the rank at fault rather than this one.
		r.c.tr.Abort(err)
	}
	<-done
	return r.firstErr()
}

// finisher returns what the owner of a shard does to it once it is fully
// reduced: divide for Mean, and round to wire precision so that the owner
// holds the bits the other ranks will decode.
func (c *Communicator) finisher(op Op) func(seg []float32) {
	if op != Mean && c.opts.Compression == None {
		return nil
	}
	inv := 1 / float32(c.size)
	return func(seg []float32) {
		if op == Mean {
			scale(seg, inv)
		}
		c.opts.Compression.round(seg)
	}
}

func (c *Communicator) segElems() int {
	return max(1, c.opts.SegmentBytes/c.opts.Compression.wireSize())
}

func checkOp(name string, op Op) error {
	if !op.valid() {
		return fmt.Errorf("collective: %s: unknown op %d", name, int(op))
	}
	return nil
}

// AllReduce combines buf across all ranks with op, in place: afterwards every
// rank holds the same bits. Small buffers go by recursive doubling, large
// ones by a pipelined ring (reduce-scatter, then allgather).
func (c *Communicator) AllReduce(ctx context.Context, buf []float32, op Op) error {
	if err := checkOp("allreduce", op); err != nil {
		return err
	}
	return c.do(ctx, "allreduce", func(r *opRun) error { return r.allReduce(buf, op) })
}

// AllReduceAsync starts AllReduce in the background. buf must not be touched
// until the Handle's Wait returns.
func (c *Communicator) AllReduceAsync(ctx context.Context, buf []float32, op Op) *Handle {
	if err := checkOp("allreduce", op); err != nil {
		h := &Handle{done: make(chan struct{}), err: err}
		close(h.done)
		return h
	}
	return c.async(ctx, "allreduce", func(r *opRun) error { return r.allReduce(buf, op) })
}

func (r *opRun) allReduce(buf []float32, op Op) error {
	c := r.c
	if len(buf) == 0 {
		return nil
	}
	if c.size == 1 {
		if op == Mean {
			return nil
		}
		c.opts.Compression.round(buf)
		return nil
	}
	if c.group != nil && c.opts.Compression == None {
		if a, off, ok := c.group.arenaOf(buf); ok {
			return r.groupAllReduceShared(c.group, a, off, buf, op)
		}
		return r.groupAllReduce(c.group, buf, op)
	}
	if len(buf)*c.opts.Compression.wireSize() <= c.opts.SmallBytes {
		return r.doubling(buf, op)
	}
	p := ringPlan(c.size, c.rank, len(buf), c.segElems(), true, true)
	return r.pipeline(buf, p, op, c.finisher(op))
}

// doubling is recursive doubling (see doublingPlan), with synchronous sends:
// messages are small enough to fit the transport's buffers, so both partners
// can send before they receive.
func (r *opRun) doubling(buf []float32, op Op) error {
	c := r.c
	d := newDoublingPlan(c.size, c.rank)
	comp := c.opts.Compression
	sendTo := func(peer int, what string) error {
		if err := r.sendFrom(peer, buf, &c.wire); err != nil {
			return r.record(r.peerError(peer, what, err))
		}
		return nil
	}
	recvFrom := func(peer int, reduce bool, what string) error {
		if err := r.recvInto(peer, buf, reduce, op); err != nil {
			return r.record(r.peerError(peer, what, err))
		}
		return nil
	}
	if d.foldTo >= 0 {
		if err := sendTo(d.foldTo, "send data to fold"); err != nil {
			return err
		}
		return recvFrom(d.foldTo, false, "recv result of recursive doubling")
	}
	if d.foldFrom >= 0 {
		if err := recvFrom(d.foldFrom, true, "recv data to fold"); err != nil {
			return err
		}
	}
	for i, partner := range d.partners {
		comp.round(buf) // both partners must combine the same two operands
		if err := sendTo(partner, fmt.Sprintf("send round %d of recursive doubling", i)); err != nil {
			return err
		}
		if err := recvFrom(partner, true, fmt.Sprintf("recv round %d of recursive doubling", i)); err != nil {
			return err
		}
	}
	if op == Mean {
		scale(buf, 1/float32(c.size))
	}
	comp.round(buf)
	if d.resultTo >= 0 {
		return sendTo(d.resultTo, "send result of recursive doubling")
	}
	return nil
}

// ReduceScatter combines buf across ranks with op so that afterwards
// buf[lo:hi], for lo, hi = Shard(len(buf)), holds the result for this rank's
// shard. The rest of buf is left in an unspecified state.
func (c *Communicator) ReduceScatter(ctx context.Context, buf []float32, op Op) error {
	if err := checkOp("reduce-scatter", op); err != nil {
		return err
	}
	return c.do(ctx, "reduce-scatter", func(r *opRun) error { return r.reduceScatter(buf, op) })
}

// ReduceScatterAsync starts ReduceScatter in the background.
func (c *Communicator) ReduceScatterAsync(ctx context.Context, buf []float32, op Op) *Handle {
	return c.async(ctx, "reduce-scatter", func(r *opRun) error {
		if err := checkOp("reduce-scatter", op); err != nil {
			return err
		}
		return r.reduceScatter(buf, op)
	})
}

func (r *opRun) reduceScatter(buf []float32, op Op) error {
	c := r.c
	if c.size == 1 {
		c.opts.Compression.round(buf)
		return nil
	}
	p := ringPlan(c.size, c.rank, len(buf), c.segElems(), true, false)
	return r.pipeline(buf, p, op, c.finisher(op))
}

// AllGather fills buf on every rank with each rank's shard: on entry,
// buf[Shard(len(buf))] is this rank's contribution; on return every rank
// holds all of them.
func (c *Communicator) AllGather(ctx context.Context, buf []float32) error {
	return c.do(ctx, "allgather", func(r *opRun) error { return r.allGather(buf) })
}

// AllGatherAsync starts AllGather in the background.
func (c *Communicator) AllGatherAsync(ctx context.Context, buf []float32) *Handle {
	return c.async(ctx, "allgather", func(r *opRun) error { return r.allGather(buf) })
}

func (r *opRun) allGather(buf []float32) error {
	c := r.c
	lo, hi := c.Shard(len(buf))
	c.opts.Compression.round(buf[lo:hi])
	if c.size == 1 {
		return nil
	}
	p := ringPlan(c.size, c.rank, len(buf), c.segElems(), false, true)
	return r.pipeline(buf, p, Sum, nil)
}

// Broadcast copies root's buf to every other rank's buf, pipelined along
// the ring.
func (c *Communicator) Broadcast(ctx context.Context, buf []float32, root int) error {
	if root < 0 || root >= c.size {
		return fmt.Errorf("collective: broadcast: root %d out of range for world size %d", root, c.size)
	}
	return c.do(ctx, "broadcast", func(r *opRun) error { return r.broadcast(buf, root) })
}

// BroadcastAsync starts Broadcast in the background.
func (c *Communicator) BroadcastAsync(ctx context.Context, buf []float32, root int) *Handle {
	return c.async(ctx, "broadcast", func(r *opRun) error {
		if root < 0 || root >= c.size {
			return fmt.Errorf("collective: broadcast: root %d out of range for world size %d", root, c.size)
		}
		return r.broadcast(buf, root)
	})
}

func (r *opRun) broadcast(buf []float32, root int) error {
	c := r.c
	if c.rank == root {
		c.opts.Compression.round(buf)
	}
	if c.size == 1 {
		return nil
	}
	if c.group != nil {
		return r.groupBroadcast(c.group, buf, root)
	}
	return r.pipeline(buf, chainPlan(c.size, c.rank, root, len(buf), c.segElems()), Sum, nil)
}

// Barrier returns once every rank has entered it (a dissemination barrier:
// ⌈log2 n⌉ rounds of empty messages).
func (c *Communicator) Barrier(ctx context.Context) error {
	return c.do(ctx, "barrier", func(r *opRun) error {
		if c.group != nil {
			return r.groupBarrier(c.group, groupCall{kind: callBarrier}, "barrier", 0)
		}
		for k := 1; k < c.size; k <<= 1 {
			to, from := (c.rank+k)%c.size, (c.rank-k+c.size)%c.size
			if err := c.tr.Send(to); err != nil {
				return r.record(r.peerError(to, fmt.Sprintf("send barrier round %d", k), err))
			}
			if err := c.tr.Recv(from, 0, func([]byte) {}); err != nil {
				return r.record(r.peerError(from, fmt.Sprintf("recv barrier round %d", k), err))
			}
		}
		return nil
	})
}

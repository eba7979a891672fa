package ps

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"
)

// Client is a worker's connection to every parameter server.
type Client struct {
	worker  int
	ranges  []Range
	conns   []*serverConn
	timeout time.Duration
}

type serverConn struct {
	mu   sync.Mutex // guards the connection: one request at a time
	rank int
	addr string
	c    net.Conn
	r    *bufio.Reader
	hdr  []byte
}

// Dial connects worker to the servers at addrs (in server rank order) for
// an arena of total values. timeout bounds every request (0 means 2 min;
// keep it above the servers' WaitTimeout so that their error, which names
// the worker being waited for, arrives first).
func Dial(ctx context.Context, addrs []string, worker, total int, timeout time.Duration) (*Client, error) {
	if timeout == 0 {
		timeout = 2 * time.Minute
	}
	c := &Client{worker: worker, ranges: Partition(total, len(addrs)), timeout: timeout}
	var d net.Dialer
	for i, a := range addrs {
		conn, err := d.DialContext(ctx, "tcp", a)
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("ps: worker %d cannot reach server %d at %s: %w", worker, i, a, err)
		}
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.SetNoDelay(true)
		}
		c.conns = append(c.conns, &serverConn{rank: i, addr: a, c: conn, r: bufio.NewReaderSize(conn, 64<<10), hdr: make([]byte, headerSize)})
	}
	return c, nil
}

// Ranges returns the range of the arena each server owns.
func (c *Client) Ranges() []Range { return c.ranges }

// Close closes every connection.
func (c *Client) Close() error {
	var errs []error
	for _, sc := range c.conns {
		errs = append(errs, sc.c.Close())
	}
	return errors.Join(errs...)
}

// call sends one request to a server and reads the reply's values into out.
func (c *Client) call(ctx context.Context, sc *serverConn, op uint32, step int64, body, out []float32) error {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	deadline := time.Now().Add(c.timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = sc.c.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = sc.c.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	h := header{magic: magic, op: op, worker: uint32(c.worker), n: uint32(len(body)), step: uint64(step)}
	h.encode(sc.hdr)
	bufs := net.Buffers{sc.hdr, floatBytes(body)}
	if _, err := bufs.WriteTo(sc.c); err != nil {
		return c.connErr(sc, op, step, err)
	}
	if _, err := io.ReadFull(sc.r, sc.hdr); err != nil {
		return c.connErr(sc, op, step, err)
	}
	if err := h.decode(sc.hdr); err != nil {
		return c.connErr(sc, op, step, err)
	}
	if h.op == statusError {
		msg := make([]byte, min(int(h.n), maxMessage))
		if _, err := io.ReadFull(sc.r, msg); err != nil {
			return c.connErr(sc, op, step, err)
		}
		if rest, ok := strings.CutPrefix(string(msg), ErrTimeout.Error()); ok {
			return fmt.Errorf("%w%s", ErrTimeout, rest)
		}
		return errors.New(string(msg))
	}
	if int(h.n) != len(out) {
		return fmt.Errorf("ps: server %d answered %d values; want %d", sc.rank, h.n, len(out))
	}
	if err := readFloats(sc.r, out); err != nil {
		return c.connErr(sc, op, step, err)
	}
	return nil
}

func (c *Client) connErr(sc *serverConn, op uint32, step int64, err error) error {
	name := map[uint32]string{opInit: "init", opPull: "pull", opPush: "push"}[op]
	return fmt.Errorf("ps: worker %d %s of step %d with server %d (%s): %w", c.worker, name, step, sc.rank, sc.addr, err)
}

// each runs f for every server concurrently and returns the first error.
func (c *Client) each(f func(i int, sc *serverConn) error) error {
	if len(c.conns) == 1 {
		return f(0, c.conns[0])
	}
	errs := make([]error, len(c.conns))
	var wg sync.WaitGroup
	for i, sc := range c.conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = f(i, sc)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Init sends the initial parameters (the whole arena) to every server;
// worker 0 calls it once before training.
func (c *Client) Init(ctx context.Context, params []float32) error {
	return c.each(func(i int, sc *serverConn) error {
		r := c.ranges[i]
		return c.call(ctx, sc, opInit, 0, params[r.Lo:r.Hi], nil)
	})
}

// Pull fills params (the whole arena) with the servers' parameters for
// step, waiting as the consistency mode requires.
func (c *Client) Pull(ctx context.Context, step int64, params []float32) error {
	return c.each(func(i int, sc *serverConn) error {
		r := c.ranges[i]
		return c.call(ctx, sc, opPull, step, nil, params[r.Lo:r.Hi])
	})
}

// PushRange sends the gradient of server i's range for step.
func (c *Client) PushRange(ctx context.Context, i int, step int64, grads []float32) error {
	r := c.ranges[i]
	return c.call(ctx, c.conns[i], opPush, step, grads[r.Lo:r.Hi], nil)
}

// Push sends the whole gradient arena for step.
func (c *Client) Push(ctx context.Context, step int64, grads []float32) error {
	return c.each(func(i int, _ *serverConn) error { return c.PushRange(ctx, i, step, grads) })
}

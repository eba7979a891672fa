package ps

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/shoal-dl/shoal/optim"
)

// ServerConfig describes one parameter server.
type ServerConfig struct {
	// Rank is this server's index among Servers.
	Rank, Servers int
	// Workers is how many workers push to it.
	Workers int
	// Total is the length of the whole parameter arena.
	Total int
	Mode  Mode
	// WaitTimeout bounds how long a pull or push waits for other workers;
	// 0 means 60 s.
	WaitTimeout time.Duration
}

// Server owns one range of the parameters.
type Server struct {
	cfg ServerConfig
	rng Range
	mu  struct {
		sync.Mutex
		s       *shard
		changed chan struct{} // closed and replaced on every state change
	}
	wg sync.WaitGroup // connection goroutines
}

// NewServer returns the server for cfg; opt must be an optimizer over
// Partition(cfg.Total, cfg.Servers)[cfg.Rank].Len() values.
func NewServer(cfg ServerConfig, opt optim.Optimizer) (*Server, error) {
	if cfg.Servers < 1 || cfg.Rank < 0 || cfg.Rank >= cfg.Servers || cfg.Workers < 1 || cfg.Total < 0 {
		return nil, fmt.Errorf("ps: invalid server config %+v", cfg)
	}
	if cfg.WaitTimeout == 0 {
		cfg.WaitTimeout = 60 * time.Second
	}
	s := &Server{cfg: cfg, rng: Partition(cfg.Total, cfg.Servers)[cfg.Rank]}
	s.mu.s = newShard(cfg.Mode, cfg.Workers, s.rng.Len(), opt)
	s.mu.changed = make(chan struct{})
	return s, nil
}

// Range returns the part of the arena this server owns.
func (s *Server) Range() Range { return s.rng }

// Params returns a copy of the server's current parameters.
func (s *Server) Params() []float32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]float32(nil), s.mu.s.params...)
}

// Serve answers workers on ln until ctx ends, then closes every connection
// and returns once their goroutines have exited.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	var conns sync.Map
	stop := context.AfterFunc(ctx, func() {
		ln.Close()
		conns.Range(func(k, _ any) bool { k.(net.Conn).Close(); return true })
	})
	defer stop()
	var err error
	for {
		var c net.Conn
		c, err = ln.Accept()
		if err != nil {
			break
		}
		conns.Store(c, nil)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer conns.Delete(c)
			defer c.Close()
			s.serveConn(ctx, c)
		}()
	}
	s.wg.Wait()
	if ctx.Err() != nil {
		return nil
	}
	return err
}

func (s *Server) serveConn(ctx context.Context, c net.Conn) {
	r := bufio.NewReaderSize(c, 64<<10)
	hdr := make([]byte, headerSize)
	buf := make([]float32, s.rng.Len())
	for {
		if _, err := io.ReadFull(r, hdr); err != nil {
			return
		}
		var h header
		if err := h.decode(hdr); err != nil {
			return
		}
		if int(h.n) > len(buf) {
			return // an oversized frame ends the connection
		}
		var reply []float32
		var err error
		switch h.op {
		case opInit, opPush:
			if err = readFloats(r, buf[:h.n]); err != nil {
				return
			}
			if h.op == opInit {
				err = s.init(buf[:h.n])
			} else {
				err = s.push(ctx, int(h.worker), int64(h.step), buf[:h.n])
			}
		case opPull:
			reply, err = s.pull(ctx, int(h.worker), int64(h.step), buf)
		default:
			err = fmt.Errorf("ps: unknown op %d", h.op)
		}
		if werr := s.reply(c, hdr, reply, err); werr != nil {
			return
		}
	}
}

// reply writes the answer to one request, reusing the connection's header
// buffer.
func (s *Server) reply(c net.Conn, hdr []byte, values []float32, opErr error) error {
	h := header{magic: magic, op: statusOK, n: uint32(len(values))}
	var body []byte
	if opErr != nil {
		msg := opErr.Error()
		if len(msg) > maxMessage {
			msg = msg[:maxMessage]
		}
		h.op, h.n, body = statusError, uint32(len(msg)), []byte(msg)
	} else {
		body = floatBytes(values)
	}
	h.encode(hdr)
	bufs := net.Buffers{hdr, body}
	_, err := bufs.WriteTo(c)
	return err
}

func (s *Server) init(values []float32) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(values) != s.rng.Len() {
		return fmt.Errorf("ps: server %d: init with %d values for a range of %d", s.cfg.Rank, len(values), s.rng.Len())
	}
	s.mu.s.init(values)
	s.notifyLocked()
	return nil
}

func (s *Server) notifyLocked() {
	close(s.mu.changed)
	s.mu.changed = make(chan struct{})
}

// wait blocks until ready() (called with s.mu held) holds, or the wait
// timeout passes; on timeout the error names the worker waited for.
func (s *Server) wait(ctx context.Context, what string, ready func() (bool, int)) error {
	deadline := time.NewTimer(s.cfg.WaitTimeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		ok, waitFor := ready()
		changed := s.mu.changed
		if ok {
			return nil // s.mu stays locked for the caller
		}
		s.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			who := "the initial parameters from worker 0"
			if waitFor >= 0 && s.mu.s.ready {
				who = fmt.Sprintf("worker %d", waitFor)
			}
			return fmt.Errorf("%w: server %d: %s waited %v for %s", ErrTimeout, s.cfg.Rank, what, s.cfg.WaitTimeout, who)
		}
	}
}

// ErrTimeout reports a pull or push that waited too long for other workers.
var ErrTimeout = errors.New("ps: timed out")

func (s *Server) push(ctx context.Context, worker int, step int64, grads []float32) error {
	what := fmt.Sprintf("push of step %d from worker %d", step, worker)
	if err := s.wait(ctx, what, func() (bool, int) { return s.mu.s.ready && s.mu.s.canPush(step), -1 }); err != nil {
		return err
	}
	defer s.mu.Unlock()
	if err := s.mu.s.push(worker, step, grads); err != nil {
		return err
	}
	s.notifyLocked()
	return nil
}

func (s *Server) pull(ctx context.Context, worker int, step int64, buf []float32) ([]float32, error) {
	what := fmt.Sprintf("pull of step %d by worker %d", step, worker)
	if err := s.wait(ctx, what, func() (bool, int) { return s.mu.s.canPull(step) }); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	copy(buf, s.mu.s.params)
	return buf, nil
}

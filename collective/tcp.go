package collective

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/shoal-dl/shoal/collective/internal/frame"
)

// abortGrace bounds how long Abort lets a send in progress finish and how
// long it spends telling each peer.
const abortGrace = 500 * time.Millisecond

// tcpLink is one peer over one TCP connection: framed messages, vectored
// writes, no allocation per message.
type tcpLink struct {
	peer    int
	conn    *net.TCPConn
	maxLen  int
	stopped atomic.Bool // set by interrupt

	wmu    sync.Mutex // guards the fields below and serialises writes
	wseq   uint64
	hdr    [frame.HeaderSize]byte
	wv     net.Buffers
	wbacks [4][]byte
	dirty  bool // a write failed part-way: the stream is no longer framed
	shut   bool // abort already shut the write side

	// rmu is held by whoever reads the stream: the receiving goroutine
	// for a whole message, or a failed send looking for an abort notice.
	rmu        sync.Mutex
	dec        *frame.Decoder
	rseq       uint64
	scratch    []byte
	readBroken bool // a message had the wrong length; the stream is not read further
}

func newTCPLink(peer int, conn *net.TCPConn, maxLen int) *tcpLink {
	_ = conn.SetNoDelay(true)
	return &tcpLink{
		peer:    peer,
		conn:    conn,
		maxLen:  maxLen,
		dec:     frame.NewDecoder(conn, maxLen),
		scratch: make([]byte, 256<<10),
	}
}

func (l *tcpLink) kind() string { return "tcp" }

func (l *tcpLink) send(bufs [][]byte) error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if l.stopped.Load() || l.dirty || l.shut {
		return errInterrupted
	}
	n := 0
	for _, b := range bufs {
		n += len(b)
	}
	if n > l.maxLen {
		return fmt.Errorf("%w: message of %d bytes over the frame cap of %d", ErrProtocol, n, l.maxLen)
	}
	if err := l.writeFrameLocked(frame.Data, n, bufs); err != nil {
		if cause := l.pendingAbort(); cause != nil {
			return cause
		}
		return err
	}
	return nil
}

// abortLookahead bounds how long a failed send waits for the peer's abort
// notice.
const abortLookahead = 200 * time.Millisecond

// pendingAbort looks for an abort notice the peer sent before closing, so
// that a failed send reports the root cause (the rank that really failed)
// rather than "peer closed connection". It reads only when no receive is
// in progress on this link; a receiver in progress finds the notice itself.
func (l *tcpLink) pendingAbort() error {
	if l.stopped.Load() || !l.rmu.TryLock() {
		return nil
	}
	defer l.rmu.Unlock()
	if l.readBroken {
		return nil
	}
	_ = l.conn.SetReadDeadline(time.Now().Add(abortLookahead))
	defer func() {
		if !l.stopped.Load() {
			_ = l.conn.SetReadDeadline(time.Time{})
		}
	}()
	for {
		h, err := l.dec.Next()
		if err != nil {
			return nil
		}
		switch {
		case h.Kind == frame.Abort && h.Len <= maxAbortText+5:
			p := make([]byte, h.Len)
			if _, err := io.ReadFull(l.conn, p); err != nil {
				return nil
			}
			return parseAbort(l.peer, p)
		case h.Kind == frame.Data && h.Len <= l.maxLen:
			// Data the algorithm will never read now: skip it.
			if _, err := io.CopyN(io.Discard, l.conn, int64(h.Len)); err != nil {
				return nil
			}
		default:
			return nil
		}
	}
}

func (l *tcpLink) writeFrameLocked(k frame.Kind, n int, bufs [][]byte) error {
	frame.Header{Kind: k, Seq: l.wseq, Len: n}.Encode(&l.hdr)
	l.wseq++
	l.wv = l.wbacks[:0]
	l.wv = append(l.wv, l.hdr[:])
	l.wv = append(l.wv, bufs...)
	_, err := l.wv.WriteTo(l.conn)
	l.wv = nil
	if err != nil {
		l.dirty = true
		return l.ioError(err)
	}
	return nil
}

// ioError translates a connection error for the layers above.
func (l *tcpLink) ioError(err error) error {
	switch {
	case l.stopped.Load() && errors.Is(err, os.ErrDeadlineExceeded):
		return errInterrupted
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, net.ErrClosed):
		return fmt.Errorf("%w: peer closed connection", ErrPeerLost)
	}
	return fmt.Errorf("%w: %v", ErrPeerLost, err)
}

// next reads the next data frame header and checks it against what the
// algorithm expects: n bytes, in sequence. Anything else closes the
// connection, since the stream can no longer be trusted.
func (l *tcpLink) next(n int) error {
	if l.stopped.Load() || l.readBroken {
		return errInterrupted
	}
	h, err := l.dec.Next()
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || l.stopped.Load() {
			return l.ioError(err)
		}
		var ne net.Error
		if errors.As(err, &ne) || errors.Is(err, syscall.ECONNRESET) {
			return l.ioError(err)
		}
		l.conn.Close()
		return fmt.Errorf("%w: %v", ErrProtocol, err)
	}
	switch {
	case h.Kind == frame.Abort:
		if h.Len > maxAbortText+5 {
			l.conn.Close()
			return fmt.Errorf("%w: abort notice of %d bytes", ErrProtocol, h.Len)
		}
		p := make([]byte, h.Len)
		if _, err := io.ReadFull(l.conn, p); err != nil {
			return l.ioError(err)
		}
		return parseAbort(l.peer, p)
	case h.Kind != frame.Data:
		l.conn.Close()
		return fmt.Errorf("%w: unexpected %v frame", ErrProtocol, h.Kind)
	case h.Seq != l.rseq:
		l.conn.Close()
		return fmt.Errorf("%w: frame %d out of sequence, want %d", ErrProtocol, h.Seq, l.rseq)
	case h.Len != n:
		// The frame is well formed, so the write side stays usable for
		// the abort notice; reading stops here.
		l.readBroken = true
		return fmt.Errorf("%w: message of %d bytes, want %d (do all ranks pass buffers of the same length?)", ErrProtocol, h.Len, n)
	}
	l.rseq++
	return nil
}

func (l *tcpLink) recv(n int, consume func(p []byte)) error {
	l.rmu.Lock()
	defer l.rmu.Unlock()
	if err := l.next(n); err != nil {
		return err
	}
	have := 0 // bytes at the front of scratch not yet handed out
	for left := n; left > 0; {
		want := min(len(l.scratch)-have, left)
		// Read at least enough to hand out a whole 4-byte element.
		atLeast := min(want, 4-have%4)
		if atLeast < 1 {
			atLeast = 1
		}
		got, err := io.ReadAtLeast(l.conn, l.scratch[have:have+want], atLeast)
		if err != nil {
			return l.ioError(err)
		}
		have += got
		left -= got
		out := have &^ 3
		if left == 0 {
			out = have
		}
		if out > 0 {
			consume(l.scratch[:out])
			copy(l.scratch, l.scratch[out:have])
			have -= out
		}
	}
	return nil
}

func (l *tcpLink) recvInto(dst []byte) error {
	l.rmu.Lock()
	defer l.rmu.Unlock()
	if err := l.next(len(dst)); err != nil {
		return err
	}
	if _, err := io.ReadFull(l.conn, dst); err != nil {
		return l.ioError(err)
	}
	return nil
}

func (l *tcpLink) interrupt() {
	l.stopped.Store(true)
	_ = l.conn.SetDeadline(time.Now().Add(-time.Second))
}

func (l *tcpLink) abort(cause error) {
	l.stopped.Store(true)
	_ = l.conn.SetReadDeadline(time.Now().Add(-time.Second))
	// Let a send in progress finish its frame, then tell the peer why.
	_ = l.conn.SetWriteDeadline(time.Now().Add(abortGrace))
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if l.shut {
		return
	}
	l.shut = true
	if !l.dirty {
		_ = l.conn.SetWriteDeadline(time.Now().Add(abortGrace))
		p := abortPayload(cause)
		if l.writeFrameLocked(frame.Abort, len(p), [][]byte{p}) == nil {
			// Half-close: the peer reads the notice, then EOF. Closing
			// outright could reset the connection and drop the notice.
			_ = l.conn.CloseWrite()
			return
		}
	}
	_ = l.conn.Close()
}

func (l *tcpLink) close() error {
	l.stopped.Store(true)
	err := l.conn.Close()
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

package collective

import (
	"errors"
	"sync"
)

// Transport moves whole messages between this rank and its peers. It is the
// seam between the collective algorithms and the wire: Dial builds one over
// TCP and shared memory, and tests may supply their own.
//
// Messages between two ranks arrive in the order they were sent. Send may be
// called from one goroutine while Recv runs in another; neither is called
// concurrently with itself for the same peer.
type Transport interface {
	// Send sends one message, the concatenation of bufs, to peer.
	Send(peer int, bufs ...[]byte) error
	// Recv receives the next message from peer, which must be exactly n
	// bytes long, and hands it to consume in order, in pieces whose lengths
	// are multiples of 4 bytes except possibly the last. Pieces are valid
	// only during the call to consume. A message of another length is an
	// error wrapping ErrProtocol; a peer that closed or died, ErrPeerLost.
	Recv(peer int, n int, consume func(p []byte)) error
	// Interrupt makes every pending and later Send and Recv return an error
	// promptly. It does not wait for them.
	Interrupt()
	// Abort tells every peer, as far as possible within a short grace
	// period, that this rank gave up because of cause (usually a
	// *PeerError), then shuts the connections for writing. Sends that are
	// mid-message get the grace period to finish first.
	Abort(cause error)
	// Close releases all connections and mappings.
	Close() error
}

// directReceiver is implemented by transports that can receive a message
// straight into its final place, saving a copy.
type directReceiver interface {
	RecvInto(peer int, dst []byte) error
}

// errInterrupted is returned by links after Interrupt.
var errInterrupted = errors.New("collective: interrupted")

// link is one peer's connection inside a mesh.
type link interface {
	send(bufs [][]byte) error
	recv(n int, consume func(p []byte)) error
	recvInto(dst []byte) error
	interrupt()
	abort(cause error)
	close() error
	kind() string
}

// mesh is the Transport Dial builds: one link per peer, each over TCP or
// shared memory.
type mesh struct {
	rank  int
	links []link // indexed by rank; nil at rank
	// group, when set, is the shared-memory group of all ranks (see
	// shmgroup.go), set up once by Dial.
	group *shmGroup
	once  sync.Once
}

func (m *mesh) Send(peer int, bufs ...[]byte) error          { return m.links[peer].send(bufs) }
func (m *mesh) RecvInto(peer int, dst []byte) error          { return m.links[peer].recvInto(dst) }
func (m *mesh) Recv(peer, n int, consume func([]byte)) error { return m.links[peer].recv(n, consume) }

func (m *mesh) Interrupt() {
	if m.group != nil {
		m.group.interrupt()
	}
	for _, l := range m.links {
		if l != nil {
			l.interrupt()
		}
	}
}

func (m *mesh) Abort(cause error) {
	if m.group != nil {
		m.group.abort(cause)
	}
	var wg sync.WaitGroup
	for _, l := range m.links {
		if l != nil {
			wg.Add(1)
			go func() {
				defer wg.Done()
				l.abort(cause)
			}()
		}
	}
	wg.Wait()
}

func (m *mesh) Close() error {
	var errs []error
	m.once.Do(func() {
		if m.group != nil {
			errs = append(errs, m.group.close())
		}
		for _, l := range m.links {
			if l != nil {
				errs = append(errs, l.close())
			}
		}
	})
	return errors.Join(errs...)
}

// kinds reports the transport of each peer ("tcp", "shm"; "self" at rank).
func (m *mesh) kinds() []string {
	k := make([]string, len(m.links))
	for i, l := range m.links {
		if l == nil {
			k[i] = "self"
		} else {
			k[i] = l.kind()
		}
	}
	return k
}

// abortPayload encodes what an abort notice says: the blamed rank, the kind
// of failure and the text of the error, capped so that a notice always fits
// a small frame.
func abortPayload(cause error) []byte {
	blamed, code := -1, abortLost
	var pe *PeerError
	if errors.As(cause, &pe) {
		blamed = pe.Peer
	}
	var ae *abortError
	switch {
	case errors.As(cause, &ae):
		code = ae.code
	case errors.Is(cause, ErrProtocol):
		code = abortProtocol
	case errors.Is(cause, errDeadline):
		code = abortTimeout
	case errors.Is(cause, errCanceled):
		code = abortCanceled
	}
	msg := cause.Error()
	if len(msg) > maxAbortText {
		msg = msg[:maxAbortText]
	}
	b := make([]byte, 5, 5+len(msg))
	b[0] = code
	putInt32(b[1:], int32(blamed))
	return append(b, msg...)
}

const maxAbortText = 400

func parseAbort(from int, p []byte) *abortError {
	if len(p) < 5 {
		return &abortError{from: from, cause: from, code: abortProtocol, msg: "malformed abort notice"}
	}
	e := &abortError{from: from, cause: int(getInt32(p[1:])), code: p[0], msg: string(p[5:])}
	if e.cause < 0 {
		e.cause = from
	}
	return e
}

func putInt32(b []byte, v int32) {
	b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
}

func getInt32(b []byte) int32 {
	return int32(uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24)
}

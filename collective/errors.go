package collective

import (
	"errors"
	"fmt"
)

// Matchable errors. A failed operation returns a *PeerError that wraps one of
// these (or context.DeadlineExceeded / context.Canceled when the caller's
// deadline passed or the caller gave up).
var (
	// ErrPeerLost means a peer closed its connection, died, or reported that
	// another rank did.
	ErrPeerLost = errors.New("collective: peer lost")
	// ErrProtocol means a peer sent something this rank did not expect: a
	// malformed frame, a frame over the size cap, or a message of the wrong
	// length (for example because ranks passed buffers of different lengths).
	ErrProtocol = errors.New("collective: protocol error")
	// ErrClosed means the Communicator was closed.
	ErrClosed = errors.New("collective: communicator closed")
	// ErrBroken means an earlier operation failed; the streams between ranks
	// are out of step and the Communicator must be rebuilt. The error wraps
	// the first failure.
	ErrBroken = errors.New("collective: communicator broken by an earlier failure")
)

// PeerError reports a failed collective operation: which operation, on which
// rank, which peer is at fault and what this rank was waiting for.
//
// Peer is the rank at fault. When this rank learned of the fault from another
// rank (which aborted and said why), Via is that rank; otherwise Via equals
// Peer.
type PeerError struct {
	Op      string // "allreduce", "broadcast", ...
	Rank    int    // the rank reporting
	Peer    int    // the rank at fault
	Via     int    // the rank that reported the fault to this one
	Waiting string // what this rank was waiting for, e.g. "recv chunk 3 of reduce-scatter step 1"
	Err     error
}

func (e *PeerError) Error() string {
	if e.Via != e.Peer {
		return fmt.Sprintf("collective: %s: rank %d waiting for rank %d (%s): rank %d gave up because of rank %d: %v",
			e.Op, e.Rank, e.Via, e.Waiting, e.Via, e.Peer, e.Err)
	}
	return fmt.Sprintf("collective: %s: rank %d waiting for rank %d (%s): %v", e.Op, e.Rank, e.Peer, e.Waiting, e.Err)
}

func (e *PeerError) Unwrap() error { return e.Err }

// abortError is what a transport returns from Recv when the peer sent an
// abort notice instead of data.
type abortError struct {
	from  int    // the rank that sent the notice
	cause int    // the rank it blames
	code  uint8  // abortLost, abortTimeout, abortProtocol, abortCanceled
	msg   string // the blaming rank's own error text
}

const (
	abortLost uint8 = iota + 1
	abortTimeout
	abortProtocol
	abortCanceled
)

func (e *abortError) Error() string { return e.msg }

func (e *abortError) Unwrap() error {
	switch e.code {
	case abortProtocol:
		return ErrProtocol
	default:
		// A deadline or cancellation on another rank is, for this one, a
		// peer that will not answer.
		return ErrPeerLost
	}
}

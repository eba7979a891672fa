package collective

import (
	"bytes"
	"fmt"
	"os"
	"testing"
)

// shmPair builds both ends of a shared memory link inside this process.
func shmPair(t *testing.T) (a, b *shmLink) {
	t.Helper()
	a, err := createShmLink(1, os.Getpid(), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err = openShmLink(0, os.Getpid(), a.name, nil, false)
	if err != nil {
		a.close()
		t.Fatal(err)
	}
	a.unlink()
	t.Cleanup(func() { a.close(); b.close() })
	return a, b
}

// TestShmMessages sends messages of many sizes, some larger than the ring,
// through a shared memory link in each of its modes, receiving alternately
// into a buffer and through a consumer, and checks every byte.
func TestShmMessages(t *testing.T) {
	sizes := []int{0, 4, 100, 8, directMin - 4, directMin, directMin + 12, 1<<20 + 12, shmRingBytes + 1<<20 + 4, 4}
	modes := []struct {
		name   string
		direct bool
		// setup breaks what a mode needs; check says what must hold after.
		setup func(a, b *shmLink)
		check func(a, b *shmLink) error
	}{
		{"direct", true, nil, func(a, b *shmLink) error {
			if a.posted == 0 || !a.direct || b.peerOK != 1 {
				return fmt.Errorf("posted %d descriptors, direct %v, peerOK %d; want some, true, 1", a.posted, a.direct, b.peerOK)
			}
			return nil
		}},
		{"ring", false, nil, func(a, b *shmLink) error {
			if a.posted != 0 {
				return fmt.Errorf("posted %d descriptors with direct copy off", a.posted)
			}
			return nil
		}},
		{"fallback", true, func(a, b *shmLink) {
			// The receiver's check of the sender's memory now fails.
			a.out.hdr.self.Store(8)
		}, func(a, b *shmLink) error {
			if a.posted != 1 || a.direct || b.peerOK != -1 {
				return fmt.Errorf("posted %d descriptors, direct %v, peerOK %d; want 1, false, -1", a.posted, a.direct, b.peerOK)
			}
			return nil
		}},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			a, b := shmPair(t)
			a.direct = m.direct && directAvailable
			if m.direct && !directAvailable {
				t.Skip("process_vm_readv not wired up on this architecture")
			}
			if m.setup != nil {
				m.setup(a, b)
			}
			msgs := make([][]byte, len(sizes))
			for i, n := range sizes {
				msgs[i] = make([]byte, n)
				for j := range msgs[i] {
					msgs[i][j] = byte(j*7 + i)
				}
			}
			sent := make(chan error, 1)
			go func() {
				for _, p := range msgs {
					if err := a.send([][]byte{p}); err != nil {
						sent <- err
						return
					}
				}
				sent <- nil
			}()
			for i, want := range msgs {
				got := make([]byte, 0, len(want))
				var err error
				if i%2 == 0 {
					got = got[:len(want)]
					err = b.recvInto(got)
				} else {
					err = b.recv(len(want), func(p []byte) {
						if len(p)%4 != 0 && len(got)+len(p) != len(want) {
							t.Errorf("message %d: piece of %d bytes before the end", i, len(p))
						}
						got = append(got, p...)
					})
				}
				if err != nil {
					t.Fatalf("message %d (%d bytes): %v", i, len(want), err)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("message %d (%d bytes) arrived changed", i, len(want))
				}
			}
			if err := <-sent; err != nil {
				t.Fatal(err)
			}
			if err := m.check(a, b); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestShmDirectLengthMismatch checks that a descriptor for a message of the
// wrong length is refused like a ring message would be.
func TestShmDirectLengthMismatch(t *testing.T) {
	if !directAvailable {
		t.Skip("process_vm_readv not wired up on this architecture")
	}
	a, b := shmPair(t)
	a.direct = true
	sent := make(chan error, 1)
	go func() { sent <- a.send([][]byte{make([]byte, directMin)}) }()
	err := b.recvInto(make([]byte, directMin+4))
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("want 65540")) {
		t.Errorf("got %v, want a protocol error naming the expected length", err)
	}
	// The descriptor is never acknowledged; the sender returns once
	// interrupted, before the mapping goes away.
	a.interrupt()
	if err := <-sent; err == nil {
		t.Error("send of an unread descriptor returned nil after interrupt")
	}
}

// TestShmPeerLeftAfterSending: a message the peer wrote just before it
// closed the link is still received, even when the receiver starts to wait
// before the message is there.
func TestShmPeerLeftAfterSending(t *testing.T) {
	a, b := shmPair(t)
	a.direct = false
	msg := []byte("last words")
	testHookShmPause = func(l *shmLink) {
		if l != b {
			return
		}
		testHookShmPause = nil
		if err := a.send([][]byte{msg}); err != nil {
			t.Error(err)
		}
		if err := a.close(); err != nil {
			t.Error(err)
		}
	}
	defer func() { testHookShmPause = nil }()
	got := make([]byte, len(msg))
	if err := b.recvInto(got); err != nil {
		t.Fatalf("recvInto: %v; want the message sent before the close", err)
	}
	if !bytes.Equal(got, msg) {
		t.Fatalf("received %q; want %q", got, msg)
	}
}

package collective

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// Shared memory links: one file per pair of ranks, memory-mapped by both,
// holding two single-producer single-consumer byte rings, one per direction.
// Messages are an 8-byte length and the payload, padded to 8 bytes; the
// producer publishes its head as it copies, so the consumer starts on a long
// message before it is complete. Waiting spins briefly, then yields the CPU
// to other processes, then sleeps, checking all along for an interrupt, an
// abort notice or closure in the peer's ring header, and whether the peer
// process is still alive.

// shmRingBytes is the data capacity of each ring; a multiple of 8.
const shmRingBytes = 4 << 20

// ringHdr lies at the start of each ring's area of the file.
type ringHdr struct {
	head     atomic.Uint64 // bytes ever written; stored by the producer
	_        [56]byte
	tail     atomic.Uint64 // bytes ever read; stored by the consumer
	_        [56]byte
	closed   atomic.Uint32 // the producer closed the link
	aborted  atomic.Uint32 // the producer aborted; abortMsg is valid
	abortLen atomic.Uint32
	_        [52]byte
	abortMsg [512]byte
}

const ringHdrBytes = 1024

// shmRing is one direction of a link.
type shmRing struct {
	hdr  *ringHdr
	data []byte
}

func ringAt(mem []byte, i int) shmRing {
	off := i * (ringHdrBytes + shmRingBytes)
	return shmRing{
		hdr:  (*ringHdr)(unsafe.Pointer(&mem[off])),
		data: mem[off+ringHdrBytes : off+ringHdrBytes+shmRingBytes : off+ringHdrBytes+shmRingBytes],
	}
}

type shmLink struct {
	peer    int
	peerPid int
	name    string // path of the file until unlinked
	mem     []byte
	out, in shmRing
	conn    net.Conn // the bootstrap connection, held until close
	stopped atomic.Bool

	// head is the producer's private copy of out.hdr.head; owned by the
	// sending goroutine.
	head uint64
	// tail likewise for in.hdr.tail; owned by the receiving goroutine.
	tail uint64
	// broken is set by the receiver when a message had the wrong length.
	broken atomic.Bool

	mu     sync.Mutex // guards closed
	closed bool
}

func shmDir() string {
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		return "/dev/shm"
	}
	return os.TempDir()
}

const shmFileBytes = 2 * (ringHdrBytes + shmRingBytes)

// createShmLink creates and maps the file for a pair; the creator writes
// ring 0 and reads ring 1.
func createShmLink(peer, peerPid int, conn net.Conn) (*shmLink, error) {
	var rnd [8]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return nil, err
	}
	name := filepath.Join(shmDir(), fmt.Sprintf("shoal-collective-%d-%s", os.Getpid(), hex.EncodeToString(rnd[:])))
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if err := f.Truncate(shmFileBytes); err != nil {
		os.Remove(name)
		return nil, err
	}
	l, err := mapShm(peer, peerPid, f, conn, true)
	if err != nil {
		os.Remove(name)
		return nil, err
	}
	l.name = name
	return l, nil
}

// openShmLink maps the file the peer created.
func openShmLink(peer, peerPid int, name string, conn net.Conn, _ bool) (*shmLink, error) {
	if filepath.Dir(name) != filepath.Clean(shmDir()) || !bytes.HasPrefix([]byte(filepath.Base(name)), []byte("shoal-collective-")) {
		return nil, fmt.Errorf("%w: peer named shared memory file %q", ErrProtocol, name)
	}
	f, err := os.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || st.Size() != shmFileBytes {
		return nil, fmt.Errorf("%w: shared memory file %s has the wrong size", ErrProtocol, name)
	}
	return mapShm(peer, peerPid, f, conn, false)
}

func mapShm(peer, peerPid int, f *os.File, conn net.Conn, creator bool) (*shmLink, error) {
	mem, err := syscall.Mmap(int(f.Fd()), 0, shmFileBytes, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mmap: %w", err)
	}
	l := &shmLink{peer: peer, peerPid: peerPid, mem: mem, conn: conn}
	if creator {
		l.out, l.in = ringAt(mem, 0), ringAt(mem, 1)
	} else {
		l.out, l.in = ringAt(mem, 1), ringAt(mem, 0)
	}
	return l, nil
}

func (l *shmLink) unlink() {
	if l.name != "" {
		os.Remove(l.name)
		l.name = ""
	}
}

func (l *shmLink) kind() string { return "shm" }

// waiter paces a wait for the peer: spin, then yield, then sleep.
type waiter struct {
	n     int
	check time.Time
}

const (
	spinRounds  = 64
	yieldRounds = 2000
)

// pause waits a little and reports why waiting should stop, if it should.
func (l *shmLink) pause(w *waiter) error {
	if l.stopped.Load() {
		return errInterrupted
	}
	if err := l.peerGone(); err != nil {
		return err
	}
	w.n++
	switch {
	case w.n < spinRounds:
		return nil
	case w.n < spinRounds+yieldRounds:
		// Yield to other processes, not just goroutines: with more ranks
		// than cores the peer may need this CPU to make progress.
		syscall.Syscall(syscall.SYS_SCHED_YIELD, 0, 0, 0)
		if w.n%64 != 0 {
			return nil
		}
	default:
		d := time.Duration(min(w.n-spinRounds-yieldRounds+1, 50)) * 20 * time.Microsecond
		time.Sleep(d)
	}
	now := time.Now()
	if w.check.IsZero() {
		w.check = now
	}
	if now.Sub(w.check) > 20*time.Millisecond {
		w.check = now
		if !processAlive(l.peerPid) {
			// It may have left an abort notice just before exiting.
			if err := l.peerGone(); err != nil {
				return err
			}
			return fmt.Errorf("%w: peer process %d died", ErrPeerLost, l.peerPid)
		}
	}
	return nil
}

// peerGone reports an abort notice or closure the peer left in its ring.
func (l *shmLink) peerGone() error {
	if l.in.hdr.aborted.Load() != 0 {
		n := min(int(l.in.hdr.abortLen.Load()), len(l.in.hdr.abortMsg))
		return parseAbort(l.peer, append([]byte(nil), l.in.hdr.abortMsg[:n]...))
	}
	if l.in.hdr.closed.Load() != 0 {
		return fmt.Errorf("%w: peer closed connection", ErrPeerLost)
	}
	return nil
}

// processAlive reports whether pid runs (a zombie counts as dead).
func processAlive(pid int) bool {
	if pid == os.Getpid() || pid <= 0 {
		return true
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return os.IsPermission(err)
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return true
	}
	return b[i+2] != 'Z' && b[i+2] != 'X'
}

// shmPiece bounds one copy, so the other side can start on the data early.
const shmPiece = 128 << 10

func (l *shmLink) send(bufs [][]byte) error {
	if l.stopped.Load() {
		return errInterrupted
	}
	total := 0
	for _, b := range bufs {
		total += len(b)
	}
	r := &l.out
	var w waiter
	for shmRingBytes-int64(l.head-r.hdr.tail.Load()) < 8 {
		if err := l.pause(&w); err != nil {
			return err
		}
	}
	*(*uint64)(unsafe.Pointer(&r.data[l.head%shmRingBytes])) = uint64(total)
	l.head += 8
	for _, b := range bufs {
		for len(b) > 0 {
			free := shmRingBytes - (l.head - r.hdr.tail.Load())
			if free == 0 {
				r.hdr.head.Store(l.head)
				if err := l.pause(&w); err != nil {
					return err
				}
				continue
			}
			w = waiter{}
			at := l.head % shmRingBytes
			n := min(free, uint64(len(b)), shmRingBytes-at, shmPiece)
			copy(r.data[at:at+n], b[:n])
			b = b[n:]
			l.head += n
			r.hdr.head.Store(l.head)
		}
	}
	pad := (8 - l.head%8) % 8
	for shmRingBytes-int64(l.head-r.hdr.tail.Load()) < int64(pad) {
		if err := l.pause(&w); err != nil {
			return err
		}
	}
	l.head += pad
	r.hdr.head.Store(l.head)
	return nil
}

func (l *shmLink) recv(n int, consume func(p []byte)) error {
	if l.stopped.Load() || l.broken.Load() {
		return errInterrupted
	}
	r := &l.in
	var w waiter
	// Signed: the reader may already have skipped the padding that the
	// writer has not yet published, which puts tail ahead of head.
	for int64(r.hdr.head.Load()-l.tail) < 8 {
		if err := l.pause(&w); err != nil {
			return err
		}
	}
	got := *(*uint64)(unsafe.Pointer(&r.data[l.tail%shmRingBytes]))
	if got != uint64(n) {
		l.broken.Store(true)
		return fmt.Errorf("%w: message of %d bytes, want %d (do all ranks pass buffers of the same length?)", ErrProtocol, got, n)
	}
	l.tail += 8
	left := uint64(n)
	for left > 0 {
		avail := r.hdr.head.Load() - l.tail
		at := l.tail % shmRingBytes
		k := min(avail, left, shmRingBytes-at, shmPiece)
		if k < left {
			k &^= 3
		}
		if k == 0 {
			r.hdr.tail.Store(l.tail)
			if err := l.pause(&w); err != nil {
				return err
			}
			continue
		}
		w = waiter{}
		consume(r.data[at : at+k])
		l.tail += k
		left -= k
		r.hdr.tail.Store(l.tail)
	}
	l.tail += (8 - l.tail%8) % 8
	r.hdr.tail.Store(l.tail)
	return nil
}

func (l *shmLink) recvInto(dst []byte) error {
	return l.recv(len(dst), func(p []byte) {
		copy(dst, p)
		dst = dst[len(p):]
	})
}

func (l *shmLink) interrupt() { l.stopped.Store(true) }

func (l *shmLink) abort(cause error) {
	l.stopped.Store(true)
	h := l.out.hdr
	if h.aborted.Load() != 0 {
		return
	}
	p := abortPayload(cause)
	n := copy(h.abortMsg[:], p)
	h.abortLen.Store(uint32(n))
	h.aborted.Store(1)
}

func (l *shmLink) close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	l.stopped.Store(true)
	l.out.hdr.closed.Store(1)
	l.unlink()
	err := syscall.Munmap(l.mem)
	if l.conn != nil {
		l.conn.Close()
	}
	return err
}

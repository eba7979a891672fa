package collective

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
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
// to other processes a few times, then sleeps on a futex doorbell in the
// shared header that the peer rings after every change (so a waiting rank
// burns no CPU that the other ranks on the host need), checking all along
// for an interrupt, an abort notice or closure in the peer's ring header,
// and whether the peer process is still alive.
//
// Links can also send large messages by descriptor (off by default, see
// directCopy), skipping the ring: the sender posts a descriptor (the address
// of its buffer) and waits; the receiver copies straight out of the sender's
// memory with process_vm_readv, into its destination or, when reducing, into
// a small cache-resident scratch buffer, and acknowledges. That is one copy
// instead of two. The receiver first checks that the peer's pid names the
// process that maps the other end (pid namespaces may differ); if that or
// the first read fails, it tells the sender, which sends the message again
// through the ring and keeps to the ring from then on.

// shmRingBytes is the data capacity of each ring; a multiple of 8.
const shmRingBytes = 4 << 20

// ringHdr lies at the start of each ring's area of the file.
type ringHdr struct {
	head   atomic.Uint64 // bytes ever written; stored by the producer
	_      [56]byte
	tail   atomic.Uint64 // bytes ever read; stored by the consumer
	_      [56]byte
	closed atomic.Uint32 // the producer closed the link
	_      [60]byte
	// notice says why the producer aborted, once it has.
	notice abortNotice

	// acked counts descriptors whose data the consumer has copied out.
	acked atomic.Uint64
	// noDirect is set by the consumer when it cannot read the producer's
	// memory: the producer resends the message through the ring.
	noDirect atomic.Uint32
	_        [52]byte
	// self and nonce let the consumer check that it reads the right
	// process: the producer stores the address of this header in its own
	// address space and a random value, which the consumer reads back
	// through process_vm_readv and compares.
	self  atomic.Uint64
	nonce atomic.Uint64

	_ [48]byte
	// door is the doorbell of the consumer of this ring: the producer
	// rings it after every change the consumer may wait for (head,
	// tail, acked, abort, close, in either ring).
	door doorbell
}

// doorbell is a futex word that a waiting process sleeps on and that the
// process it waits for bumps after every change.
type doorbell struct {
	bell     atomic.Uint32
	sleepers atomic.Int32 // waiters that may be asleep on bell
}

// ring bumps the bell and wakes the sleepers, if any.
func (d *doorbell) ring() {
	d.bell.Add(1)
	if d.sleepers.Load() > 0 {
		syscall.Syscall6(syscall.SYS_FUTEX, uintptr(unsafe.Pointer(&d.bell)), futexWake, 1<<30, 0, 0, 0)
	}
}

// sleep waits until the bell moves from w.seen, or for bellWait at most,
// then takes a new snapshot for the caller's next check. The first call
// only takes the snapshot: the caller checks its condition once more
// before sleeping, so a change made after that check cannot be missed.
func (d *doorbell) sleep(w *waiter) {
	if !w.armed {
		w.seen, w.armed = d.bell.Load(), true
		return
	}
	d.sleepers.Add(1)
	ts := syscall.NsecToTimespec(int64(bellWait))
	syscall.Syscall6(syscall.SYS_FUTEX, uintptr(unsafe.Pointer(&d.bell)), futexWait, uintptr(w.seen), uintptr(unsafe.Pointer(&ts)), 0, 0)
	d.sleepers.Add(-1)
	w.seen = d.bell.Load()
}

// abortNotice is where a process leaves, in shared memory, why it gave up.
type abortNotice struct {
	aborted atomic.Uint32 // msg is valid
	length  atomic.Uint32
	msg     [512]byte
}

// post leaves cause as the notice unless one is there already.
func (a *abortNotice) post(cause error) {
	if a.aborted.Load() != 0 {
		return
	}
	n := copy(a.msg[:], abortPayload(cause))
	a.length.Store(uint32(n))
	a.aborted.Store(1)
}

// read returns the notice left by rank from, or nil if there is none.
func (a *abortNotice) read(from int) error {
	if a.aborted.Load() == 0 {
		return nil
	}
	n := min(int(a.length.Load()), len(a.msg))
	return parseAbort(from, append([]byte(nil), a.msg[:n]...))
}

const ringHdrBytes = 1024

// The header must fit the space reserved for it in the file.
var _ [ringHdrBytes - unsafe.Sizeof(ringHdr{})]byte

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

	// posted counts descriptors sent; direct says whether to send large
	// messages by descriptor. Both owned by the sending goroutine.
	posted uint64
	direct bool
	// Owned by the receiving goroutine: peerOK is 1 once the peer's
	// memory was read successfully, -1 once it could not be; scratch holds
	// what is read for consume; into is recvInto's destination, and
	// intoFn the method value that fills it, made once.
	peerOK  int
	scratch []byte
	into    []byte
	intoFn  func([]byte)

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

// reserve gives f a size of n bytes with its pages allocated now: on a
// full tmpfs a merely truncated file would fault (SIGBUS) at first touch
// instead of failing here.
func reserve(f *os.File, n int64) error {
	if err := syscall.Fallocate(int(f.Fd()), 0, 0, n); err != nil {
		return fmt.Errorf("reserving %d bytes of shared memory in %s: %w", n, f.Name(), err)
	}
	return nil
}

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
	if err := reserve(f, shmFileBytes); err != nil {
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
	l := &shmLink{peer: peer, peerPid: peerPid, mem: mem, conn: conn, direct: directCopy}
	if creator {
		l.out, l.in = ringAt(mem, 0), ringAt(mem, 1)
	} else {
		l.out, l.in = ringAt(mem, 1), ringAt(mem, 0)
	}
	var nonce [8]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		syscall.Munmap(mem)
		return nil, err
	}
	l.out.hdr.self.Store(uint64(uintptr(unsafe.Pointer(l.out.hdr))))
	l.out.hdr.nonce.Store(*(*uint64)(unsafe.Pointer(&nonce)) | 1)
	l.intoFn = l.fillInto
	return l, nil
}

func (l *shmLink) unlink() {
	if l.name != "" {
		os.Remove(l.name)
		l.name = ""
	}
}

func (l *shmLink) kind() string { return "shm" }

// waiter paces a wait for the peer: spin, then yield, then sleep on the
// link's doorbell.
type waiter struct {
	n     int
	check time.Time
	// spinStart is when polling went on past the spin rounds, for a wait
	// with a time to spin; spun says that time is over.
	spinStart time.Time
	spun      bool
	// seen is the doorbell's value before the caller last checked its
	// condition; armed says seen is valid. Sleeping only while the bell
	// still reads seen cannot miss a change made after that check.
	seen  uint32
	armed bool
}

const (
	spinRounds  = 64
	yieldRounds = 16
	// bellWait bounds one sleep on the doorbell, so that a peer that died
	// without ringing is noticed.
	bellWait = 2 * time.Millisecond
)

const (
	futexWait = 0
	futexWake = 1
)

// ring tells the peer that something it may wait for changed.
func (l *shmLink) ring() { l.out.hdr.door.ring() }

// ringSelf wakes this process's own waiters on the link (after an
// interrupt or abort).
func (l *shmLink) ringSelf() { l.in.hdr.door.ring() }

// testHookShmPause, set by tests, runs as a wait on a link begins.
var testHookShmPause func(l *shmLink)

// pause waits a little and reports why waiting should stop, if it should.
func (l *shmLink) pause(w *waiter) error {
	if testHookShmPause != nil {
		testHookShmPause(l)
	}
	if l.stopped.Load() {
		return errInterrupted
	}
	if err := l.peerGone(); err != nil {
		return err
	}
	if w.pace(spinRounds, 0, &l.in.hdr.door, l.peerPid) {
		// It may have left an abort notice just before exiting.
		if err := l.peerGone(); err != nil {
			return err
		}
		return fmt.Errorf("%w: peer process %d died", ErrPeerLost, l.peerPid)
	}
	return nil
}

// pace is one round of a wait for process pid: a poll while the wait is
// shorter than spin rounds, then, for up to spinFor, polls that let this
// process's other goroutines run in between; then a yield of the processor
// to other processes (with more ranks than cores, the one waited for may
// need this one), then a sleep on door. Every 20 ms it checks that pid
// still runs and reports true when it does not.
func (w *waiter) pace(spin int, spinFor time.Duration, door *doorbell, pid int) (dead bool) {
	w.n++
	switch {
	case w.n < spin:
		return false
	case spinFor > 0 && !w.spun:
		if w.n%64 != 0 {
			return false
		}
		now := time.Now()
		if w.spinStart.IsZero() {
			w.spinStart = now
		}
		if now.Sub(w.spinStart) < spinFor {
			// A goroutine of this process (a data loader) may use the wait.
			runtime.Gosched()
		} else {
			w.spun, w.n = true, spin
		}
	case w.n < spin+yieldRounds:
		// This process's other goroutines first (a data loader that
		// otherwise waits until this one sleeps), then other processes.
		runtime.Gosched()
		syscall.Syscall(syscall.SYS_SCHED_YIELD, 0, 0, 0)
		if w.n%64 != 0 {
			return false
		}
	default:
		door.sleep(w)
	}
	now := time.Now()
	if w.check.IsZero() {
		w.check = now
	}
	if now.Sub(w.check) > 20*time.Millisecond {
		w.check = now
		return !processAlive(pid)
	}
	return false
}

// peerGone reports an abort notice or closure the peer left in its ring.
func (l *shmLink) peerGone() error {
	if err := l.in.hdr.notice.read(l.peer); err != nil {
		return err
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
	if l.direct && total >= directMin && len(bufs) == 1 {
		sent, err := l.sendDirect(bufs[0])
		if sent || err != nil {
			return err
		}
	}
	r := &l.out
	var w waiter
	if err := l.reserve(&w, 8); err != nil {
		return err
	}
	*(*uint64)(unsafe.Pointer(&r.data[l.head%shmRingBytes])) = uint64(total)
	l.head += 8
	for _, b := range bufs {
		for len(b) > 0 {
			free := shmRingBytes - (l.head - r.hdr.tail.Load())
			if free == 0 {
				r.hdr.head.Store(l.head)
				l.ring()
				// A peer that read and then left does not fail the send.
				if err := l.pause(&w); err != nil && l.head-r.hdr.tail.Load() == shmRingBytes {
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
			l.ring()
		}
	}
	pad := (8 - l.head%8) % 8
	if err := l.reserve(&w, pad); err != nil {
		return err
	}
	l.head += pad
	r.hdr.head.Store(l.head)
	l.ring()
	return nil
}

// reserve waits until the ring has room for n more bytes.
func (l *shmLink) reserve(w *waiter, n uint64) error {
	room := func() bool { return shmRingBytes-int64(l.head-l.out.hdr.tail.Load()) >= int64(n) }
	for !room() {
		if err := l.pause(w); err != nil && !room() {
			return err
		}
	}
	return nil
}

// directFlag marks a length word whose message is a descriptor: the 8 bytes
// after it hold the address of the payload in the sender's memory.
const directFlag = 1 << 63

// directMin is the smallest message sent by descriptor; below it the
// system call and the handshake cost more than the copy they save.
const directMin = 64 << 10

// directPiece bounds one process_vm_readv into scratch, small enough to
// stay in cache for the reduction that follows.
const directPiece = 128 << 10

// directCopy says whether new links send large messages by descriptor. It
// is off: with one descriptor in flight per link the sender waits for every
// acknowledgement, and on an oversubscribed host those waits cost about
// what the saved copy gains (measured side by side at 1, 16 and 64 MiB).
// Letting the pipeline keep several descriptors in flight is the next step.
var directCopy = false

// directAvailable says whether process_vm_readv's number is known here
// (see sysnum_*.go).
const directAvailable = sysProcessVMReadv != 0

// sendDirect posts a descriptor for b and waits until the receiver has
// copied it. It reports false with a nil error when the receiver could not
// read this process's memory, in which case b must go through the ring.
func (l *shmLink) sendDirect(b []byte) (sent bool, err error) {
	var w waiter
	if err := l.reserve(&w, 16); err != nil {
		return false, err
	}
	r := &l.out
	at := l.head % shmRingBytes // 8-aligned, and the ring size is a multiple of 16
	*(*uint64)(unsafe.Pointer(&r.data[at])) = directFlag | uint64(len(b))
	*(*uint64)(unsafe.Pointer(&r.data[(at+8)%shmRingBytes])) = uint64(uintptr(unsafe.Pointer(&b[0])))
	l.head += 16
	l.posted++
	r.hdr.head.Store(l.head)
	l.ring()
	w = waiter{}
	for r.hdr.acked.Load() < l.posted {
		if err := l.pause(&w); err != nil && r.hdr.acked.Load() < l.posted {
			// The receiver may still be reading b; the operation fails
			// and the abort notice this rank leaves tells it so.
			return false, err
		}
	}
	runtime.KeepAlive(b)
	if r.hdr.noDirect.Load() != 0 {
		l.direct = false
		return false, nil
	}
	return true, nil
}

// recv receives a message of n bytes and hands it to consume; consume nil
// means copying it to l.into.
func (l *shmLink) recv(n int, consume func(p []byte)) error {
	if l.stopped.Load() || l.broken.Load() {
		return errInterrupted
	}
	r := &l.in
	var w waiter
	// Signed: the reader may already have skipped the padding that the
	// writer has not yet published, which puts tail ahead of head.
	for int64(r.hdr.head.Load()-l.tail) < 8 {
		if err := l.pause(&w); err != nil && int64(r.hdr.head.Load()-l.tail) < 8 {
			return err
		}
	}
	got := *(*uint64)(unsafe.Pointer(&r.data[l.tail%shmRingBytes]))
	if got&^directFlag != uint64(n) {
		l.broken.Store(true)
		return fmt.Errorf("%w: message of %d bytes, want %d (do all ranks pass buffers of the same length?)", ErrProtocol, got&^directFlag, n)
	}
	if got&directFlag != 0 {
		done, err := l.recvDirect(&w, n, consume)
		if done || err != nil {
			return err
		}
		// The sender resends through the ring.
		return l.recv(n, consume)
	}
	if consume == nil {
		consume = l.intoFn
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
			l.ring()
			// What a peer wrote before it left is still to be read.
			if err := l.pause(&w); err != nil && r.hdr.head.Load()-l.tail == avail {
				return err
			}
			continue
		}
		w = waiter{}
		consume(r.data[at : at+k])
		l.tail += k
		left -= k
		r.hdr.tail.Store(l.tail)
		l.ring()
	}
	l.tail += (8 - l.tail%8) % 8
	r.hdr.tail.Store(l.tail)
	l.ring()
	return nil
}

// recvDirect receives a message the sender posted by descriptor, whose
// length word is at l.tail. consume nil means into l.into. It reports false
// with a nil error when the sender's memory cannot be read and the message
// comes again through the ring.
func (l *shmLink) recvDirect(w *waiter, n int, consume func([]byte)) (done bool, err error) {
	r := &l.in
	for int64(r.hdr.head.Load()-l.tail) < 16 {
		if err := l.pause(w); err != nil && int64(r.hdr.head.Load()-l.tail) < 16 {
			return false, err
		}
	}
	addr := *(*uint64)(unsafe.Pointer(&r.data[(l.tail+8)%shmRingBytes]))
	l.tail += 16
	r.hdr.tail.Store(l.tail)
	l.ring()
	if l.peerOK == 0 {
		l.peerOK = -1
		var got uint64
		src := r.hdr.self.Load() + uint64(unsafe.Offsetof(r.hdr.nonce))
		if err := readPeer(l.peerPid, unsafe.Slice((*byte)(unsafe.Pointer(&got)), 8), src); err == nil && got == r.hdr.nonce.Load() {
			l.peerOK = 1
		}
	}
	if l.peerOK < 0 {
		r.hdr.noDirect.Store(1)
		r.hdr.acked.Add(1)
		l.ring()
		return false, nil
	}
	if consume == nil {
		err = readPeer(l.peerPid, l.into[:n], addr)
	} else {
		if l.scratch == nil {
			l.scratch = make([]byte, directPiece)
		}
		for off := 0; off < n && err == nil; off += directPiece {
			if l.stopped.Load() {
				return false, errInterrupted
			}
			p := l.scratch[:min(directPiece, n-off)]
			if err = readPeer(l.peerPid, p, addr+uint64(off)); err == nil {
				consume(p)
			}
		}
	}
	if err != nil {
		if gone := l.peerGone(); gone != nil {
			return false, gone
		}
		return false, fmt.Errorf("%w: reading peer process %d: %v", ErrPeerLost, l.peerPid, err)
	}
	// A sender that gave up may have reused its buffer while it was read.
	if gone := l.peerGone(); gone != nil {
		return false, gone
	}
	r.hdr.acked.Add(1)
	l.ring()
	return true, nil
}

// remoteIovec is an iovec naming memory of another process, which must not
// pass for a pointer of this one.
type remoteIovec struct {
	base uintptr
	len  uint64
}

// readPeer copies len(dst) bytes at addr in process pid into dst.
func readPeer(pid int, dst []byte, addr uint64) error {
	for len(dst) > 0 {
		local := syscall.Iovec{Base: &dst[0], Len: uint64(len(dst))}
		remote := remoteIovec{base: uintptr(addr), len: uint64(len(dst))}
		n, _, e := syscall.Syscall6(sysProcessVMReadv, uintptr(pid),
			uintptr(unsafe.Pointer(&local)), 1, uintptr(unsafe.Pointer(&remote)), 1, 0)
		if e != 0 {
			return e
		}
		if n == 0 {
			return syscall.EFAULT
		}
		dst = dst[n:]
		addr += uint64(n)
	}
	return nil
}

func (l *shmLink) fillInto(p []byte) {
	copy(l.into, p)
	l.into = l.into[len(p):]
}

func (l *shmLink) recvInto(dst []byte) error {
	l.into = dst
	err := l.recv(len(dst), nil)
	l.into = nil
	return err
}

func (l *shmLink) interrupt() {
	l.stopped.Store(true)
	l.ringSelf()
}

func (l *shmLink) abort(cause error) {
	l.stopped.Store(true)
	l.ringSelf()
	l.out.hdr.notice.post(cause)
	l.ring()
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
	l.ring()
	l.ringSelf()
	l.unlink()
	err := syscall.Munmap(l.mem)
	if l.conn != nil {
		l.conn.Close()
	}
	return err
}

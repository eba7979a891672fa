package collective

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/shoal-dl/shoal/collective/internal/frame"
)

// Transport choices for Config.Transport.
const (
	// TransportAuto uses shared memory between ranks that report the same
	// host and TCP between the others.
	TransportAuto = "auto"
	// TransportTCP uses TCP between every pair, even on one host.
	TransportTCP = "tcp"
	// TransportSHM uses shared memory between every pair and fails if two
	// ranks are on different hosts.
	TransportSHM = "shm"
)

// Config says how to reach the other ranks.
type Config struct {
	// Rank is this process's rank, 0 <= Rank < len(Addrs).
	Rank int
	// Addrs holds the TCP address of every rank; the world size is
	// len(Addrs). This rank listens on Addrs[Rank] unless Listener is set.
	Addrs []string
	// Listener, when set, is already listening on Addrs[Rank]. Dial closes
	// it once every peer has connected.
	Listener net.Listener
	// Transport is TransportAuto (also ""), TransportTCP or TransportSHM.
	Transport string
	// HostID identifies the machine for choosing shared memory; "" reads
	// the kernel's boot id and the host name.
	HostID string
	// Options tune the Communicator; every rank must pass the same ones.
	Options
}

// Dial connects this rank to every other one listed in cfg.Addrs and returns
// a Communicator over them. It listens on its own address, connects to every
// lower rank (retrying until they listen) and accepts every higher one; both
// ends of each connection check a handshake of rank, world size, options and
// host. ctx bounds the whole bootstrap; without a deadline, cfg.Deadline does.
func Dial(ctx context.Context, cfg Config) (*Communicator, error) {
	opts := cfg.Options
	opts.ensureDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	n := len(cfg.Addrs)
	if n == 0 || cfg.Rank < 0 || cfg.Rank >= n {
		return nil, fmt.Errorf("collective: rank %d out of range for %d addresses", cfg.Rank, n)
	}
	mode := cfg.Transport
	switch mode {
	case "":
		mode = TransportAuto
	case TransportAuto, TransportTCP, TransportSHM:
	default:
		return nil, fmt.Errorf("collective: unknown transport %q (want auto, tcp or shm)", cfg.Transport)
	}
	host := cfg.HostID
	if host == "" {
		host = HostID()
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.Deadline)
		defer cancel()
	}
	ln := cfg.Listener
	if ln == nil && cfg.Rank < n-1 {
		var err error
		if ln, err = net.Listen("tcp", cfg.Addrs[cfg.Rank]); err != nil {
			return nil, fmt.Errorf("collective: rank %d: listen: %w", cfg.Rank, err)
		}
	}
	me := hello{rank: cfg.Rank, world: n, pid: os.Getpid(), segment: opts.SegmentBytes, small: opts.SmallBytes,
		compression: int(opts.Compression), mode: mode, host: host}
	b := &bootstrap{ctx: ctx, me: me, cap: opts.frameCap(), links: make([]link, n)}
	err := b.connect(ln, cfg.Addrs)
	if err != nil {
		for _, l := range b.links {
			if l != nil {
				l.close()
			}
		}
		return nil, err
	}
	m := &mesh{rank: cfg.Rank, links: b.links}
	if err := setupGroup(ctx, m, opts.RingOnly, opts.GroupPoll); err != nil {
		m.Close()
		return nil, err
	}
	c, err := New(cfg.Rank, n, m, opts)
	if err != nil {
		m.Close()
		return nil, err
	}
	c.group = m.group
	return c, nil
}

// HostID names this machine for choosing transports: the kernel's boot id
// and the host name, so that containers sharing a kernel but not /dev/shm
// differ by name.
func HostID() string {
	boot, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	name, _ := os.Hostname()
	return strings.TrimSpace(string(boot)) + "/" + name
}

// Transports reports, for each rank, how this Communicator reaches it: "tcp",
// "shm", or "self" for its own rank. It returns nil for a Communicator built
// by New over another Transport.
func (c *Communicator) Transports() []string {
	if m, ok := c.tr.(*mesh); ok {
		return m.kinds()
	}
	return nil
}

// hello is the handshake each end of a connection sends.
type hello struct {
	rank, world, pid int
	segment, small   int
	compression      int
	mode, host       string
	shmName          string // set in the reply when the pair uses shared memory
}

const helloVersion = 1

func (h *hello) encode() []byte {
	b := make([]byte, 0, 64+len(h.mode)+len(h.host)+len(h.shmName))
	for _, v := range []int{helloVersion, h.rank, h.world, h.pid, h.segment, h.small, h.compression} {
		b = binary.LittleEndian.AppendUint64(b, uint64(v))
	}
	for _, s := range []string{h.mode, h.host, h.shmName} {
		b = binary.LittleEndian.AppendUint16(b, uint16(len(s)))
		b = append(b, s...)
	}
	return b
}

func decodeHello(b []byte) (hello, error) {
	var h hello
	var ints [7]int
	for i := range ints {
		if len(b) < 8 {
			return h, errors.New("short handshake")
		}
		ints[i] = int(int64(binary.LittleEndian.Uint64(b)))
		b = b[8:]
	}
	if ints[0] != helloVersion {
		return h, fmt.Errorf("handshake version %d, want %d", ints[0], helloVersion)
	}
	h.rank, h.world, h.pid, h.segment, h.small, h.compression = ints[1], ints[2], ints[3], ints[4], ints[5], ints[6]
	for _, s := range []*string{&h.mode, &h.host, &h.shmName} {
		if len(b) < 2 {
			return h, errors.New("short handshake")
		}
		l := int(binary.LittleEndian.Uint16(b))
		b = b[2:]
		if len(b) < l {
			return h, errors.New("short handshake")
		}
		*s, b = string(b[:l]), b[l:]
	}
	return h, nil
}

// check reports whether the peer's handshake fits ours.
func (me *hello) check(peer hello, wantRank int) error {
	switch {
	case wantRank >= 0 && peer.rank != wantRank:
		return fmt.Errorf("peer says it is rank %d, want %d", peer.rank, wantRank)
	case peer.rank < 0 || peer.rank >= me.world || peer.rank == me.rank:
		return fmt.Errorf("peer says it is rank %d of world %d", peer.rank, me.world)
	case peer.world != me.world:
		return fmt.Errorf("rank %d has world size %d, this rank %d", peer.rank, peer.world, me.world)
	case peer.segment != me.segment || peer.small != me.small || peer.compression != me.compression:
		return fmt.Errorf("rank %d has different options (segment %d, small %d, compression %d; here %d, %d, %d)",
			peer.rank, peer.segment, peer.small, peer.compression, me.segment, me.small, me.compression)
	case (me.mode == TransportSHM || peer.mode == TransportSHM) && me.host != peer.host:
		return fmt.Errorf("shared memory asked for, but rank %d is on host %q and this rank on %q", peer.rank, peer.host, me.host)
	}
	return nil
}

func (me *hello) useShm(peer hello) bool {
	return me.host == peer.host && me.mode != TransportTCP && peer.mode != TransportTCP
}

type bootstrap struct {
	ctx   context.Context
	me    hello
	cap   int
	links []link
}

func writeHello(conn net.Conn, h hello) error {
	p := h.encode()
	var hdr [frame.HeaderSize]byte
	frame.Header{Kind: frame.Hello, Len: len(p)}.Encode(&hdr)
	_, err := conn.Write(append(hdr[:], p...))
	return err
}

func readHello(conn net.Conn) (hello, error) {
	h, err := frame.NewDecoder(conn, 4096).Next()
	if err != nil {
		return hello{}, err
	}
	if h.Kind != frame.Hello {
		return hello{}, fmt.Errorf("got a %v frame, want hello", h.Kind)
	}
	p := make([]byte, h.Len)
	if _, err := io.ReadFull(conn, p); err != nil {
		return hello{}, err
	}
	return decodeHello(p)
}

func (b *bootstrap) connect(ln net.Listener, addrs []string) error {
	me := b.me
	want := me.world - 1 - me.rank
	accepted := make(chan net.Conn)
	acceptDone := make(chan struct{})
	if ln != nil {
		stop := context.AfterFunc(b.ctx, func() { ln.Close() })
		defer func() {
			stop()
			ln.Close()
			<-acceptDone
		}()
		go func() {
			defer close(acceptDone)
			for {
				conn, err := ln.Accept()
				if err != nil {
					return
				}
				select {
				case accepted <- conn:
				case <-b.ctx.Done():
					conn.Close()
					return
				}
			}
		}()
	} else {
		close(acceptDone)
	}
	for peer := 0; peer < me.rank; peer++ {
		if err := b.dialPeer(peer, addrs[peer]); err != nil {
			return err
		}
	}
	for want > 0 {
		select {
		case conn := <-accepted:
			ok, err := b.acceptPeer(conn)
			if err != nil {
				return err
			}
			if ok {
				want--
			}
		case <-b.ctx.Done():
			var missing []string
			for r := me.rank + 1; r < me.world; r++ {
				if b.links[r] == nil {
					missing = append(missing, fmt.Sprint(r))
				}
			}
			return fmt.Errorf("collective: rank %d: ranks %s did not connect: %w", me.rank, strings.Join(missing, ", "), b.ctx.Err())
		}
	}
	return nil
}

func (b *bootstrap) dialPeer(peer int, addr string) error {
	me := b.me
	var d net.Dialer
	backoff := 5 * time.Millisecond
	for {
		conn, err := d.DialContext(b.ctx, "tcp", addr)
		if err == nil {
			err = b.handshakeDialer(peer, conn.(*net.TCPConn))
			if err == nil {
				return nil
			}
			conn.Close()
			if errors.Is(err, ErrProtocol) {
				return err
			}
		}
		select {
		case <-b.ctx.Done():
			return fmt.Errorf("collective: rank %d: connect to rank %d at %s: %w (last error: %v)", me.rank, peer, addr, b.ctx.Err(), err)
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 200*time.Millisecond)
	}
}

func (b *bootstrap) handshakeDialer(peer int, conn *net.TCPConn) error {
	me := b.me
	dl, _ := b.ctx.Deadline()
	conn.SetDeadline(dl)
	if err := writeHello(conn, me); err != nil {
		return err
	}
	got, err := readHello(conn)
	if err != nil {
		return err
	}
	if err := me.check(got, peer); err != nil {
		return fmt.Errorf("collective: rank %d: %w: %v", me.rank, ErrProtocol, err)
	}
	conn.SetDeadline(time.Time{})
	if got.shmName == "" {
		b.links[peer] = newTCPLink(peer, conn, b.cap)
		return nil
	}
	l, err := openShmLink(peer, got.pid, got.shmName, conn, false)
	if err != nil {
		return fmt.Errorf("collective: rank %d: shared memory with rank %d: %w", me.rank, peer, err)
	}
	// Tell the creator it may unlink the file now that it is mapped here.
	if err := writeHello(conn, me); err != nil {
		l.close()
		return err
	}
	b.links[peer] = l
	return nil
}

// acceptPeer runs the handshake on an accepted connection. A connection that
// is not a shoal rank is dropped and reported as not ok; a rank with
// mismatched settings is an error.
func (b *bootstrap) acceptPeer(conn net.Conn) (bool, error) {
	me := b.me
	dl, _ := b.ctx.Deadline()
	conn.SetDeadline(dl)
	got, err := readHello(conn)
	if err != nil {
		conn.Close()
		return false, nil
	}
	if err := me.check(got, -1); err != nil || got.rank < me.rank || b.links[got.rank] != nil {
		conn.Close()
		if err == nil {
			err = fmt.Errorf("unexpected connection from rank %d", got.rank)
		}
		return false, fmt.Errorf("collective: rank %d: %w: %v", me.rank, ErrProtocol, err)
	}
	reply := me
	var shm *shmLink
	if me.useShm(got) {
		shm, err = createShmLink(got.rank, got.pid, conn)
		if err != nil {
			conn.Close()
			return false, fmt.Errorf("collective: rank %d: shared memory with rank %d: %w", me.rank, got.rank, err)
		}
		reply.shmName = shm.name
	}
	fail := func(err error) (bool, error) {
		if shm != nil {
			shm.close()
		} else {
			conn.Close()
		}
		return false, fmt.Errorf("collective: rank %d: handshake with rank %d: %w", me.rank, got.rank, err)
	}
	if err := writeHello(conn, reply); err != nil {
		return fail(err)
	}
	if shm != nil {
		// Wait until the peer has mapped the file, then unlink it so that
		// nothing is left behind whatever happens to either process.
		if _, err := readHello(conn); err != nil {
			return fail(err)
		}
		shm.unlink()
	}
	conn.SetDeadline(time.Time{})
	if shm != nil {
		b.links[got.rank] = shm
	} else {
		b.links[got.rank] = newTCPLink(got.rank, conn.(*net.TCPConn), b.cap)
	}
	return true, nil
}

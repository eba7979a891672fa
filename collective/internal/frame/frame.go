// Package frame is the wire format of shoal's collective data plane: a fixed
// 24-byte header followed by a payload of at most a configured length.
//
//	offset size field
//	0      4    magic "SHLF"
//	4      2    kind (Data, Abort, Hello)
//	6      2    reserved, zero
//	8      8    sequence number of the frame on its connection
//	16     4    payload length in bytes
//	20     4    reserved, zero
//
// All integers are little-endian. Header.Encode writes into a caller-owned
// array and Decoder reuses its own, so steady-state traffic allocates nothing.
// A Decoder rejects a bad magic, an unknown kind, non-zero reserved bytes and a
// length above its cap before reading any payload, so a malformed or hostile
// peer can neither crash the reader nor make it allocate.
package frame

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// HeaderSize is the encoded size of a Header.
const HeaderSize = 24

// magic is "SHLF" read as a little-endian uint32.
const magic = 0x464c4853

// Kind says what a frame carries.
type Kind uint16

const (
	// Data carries a slice of a collective's buffer.
	Data Kind = 1
	// Abort tells the receiver that the sender gave up on the current
	// operation; the payload says why.
	Abort Kind = 2
	// Hello is the first frame on a new connection; the payload is the
	// handshake.
	Hello Kind = 3
)

func (k Kind) String() string {
	switch k {
	case Data:
		return "data"
	case Abort:
		return "abort"
	case Hello:
		return "hello"
	}
	return fmt.Sprintf("kind(%d)", uint16(k))
}

// Errors returned by Decoder.Next; each is wrapped with the offending value.
var (
	ErrBadMagic = errors.New("frame: bad magic")
	ErrBadKind  = errors.New("frame: unknown frame kind")
	ErrReserved = errors.New("frame: reserved header bytes not zero")
	ErrTooLarge = errors.New("frame: payload length over the limit")
)

// Header is the decoded fixed part of a frame.
type Header struct {
	Kind Kind
	Seq  uint64
	Len  int
}

// Encode writes h into b.
func (h Header) Encode(b *[HeaderSize]byte) {
	binary.LittleEndian.PutUint32(b[0:], magic)
	binary.LittleEndian.PutUint16(b[4:], uint16(h.Kind))
	binary.LittleEndian.PutUint16(b[6:], 0)
	binary.LittleEndian.PutUint64(b[8:], h.Seq)
	binary.LittleEndian.PutUint32(b[16:], uint32(h.Len))
	binary.LittleEndian.PutUint32(b[20:], 0)
}

// Decode parses and validates a header, refusing payloads over maxLen bytes.
func Decode(b *[HeaderSize]byte, maxLen int) (Header, error) {
	if m := binary.LittleEndian.Uint32(b[0:]); m != magic {
		return Header{}, fmt.Errorf("%w: %#08x", ErrBadMagic, m)
	}
	k := Kind(binary.LittleEndian.Uint16(b[4:]))
	if k < Data || k > Hello {
		return Header{}, fmt.Errorf("%w: %d", ErrBadKind, uint16(k))
	}
	if binary.LittleEndian.Uint16(b[6:]) != 0 || binary.LittleEndian.Uint32(b[20:]) != 0 {
		return Header{}, ErrReserved
	}
	n := binary.LittleEndian.Uint32(b[16:])
	if uint64(n) > uint64(maxLen) {
		return Header{}, fmt.Errorf("%w: %d > %d bytes", ErrTooLarge, n, maxLen)
	}
	return Header{Kind: k, Seq: binary.LittleEndian.Uint64(b[8:]), Len: int(n)}, nil
}

// Decoder reads frame headers from a stream. The payload that follows a
// header is read by the caller from the same reader, exactly Header.Len bytes,
// before the next call to Next.
type Decoder struct {
	r      io.Reader
	maxLen int
	buf    [HeaderSize]byte
}

// NewDecoder returns a Decoder reading from r that refuses payloads longer
// than maxLen bytes.
func NewDecoder(r io.Reader, maxLen int) *Decoder {
	return &Decoder{r: r, maxLen: maxLen}
}

// Next reads and validates the next header. It returns io.EOF only when the
// stream ends cleanly between frames, and io.ErrUnexpectedEOF inside one.
func (d *Decoder) Next() (Header, error) {
	if _, err := io.ReadFull(d.r, d.buf[:]); err != nil {
		return Header{}, err
	}
	return Decode(&d.buf, d.maxLen)
}

package ps

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"unsafe"
)

// Frames: a 24-byte header, then n float32 values (or, in an error reply,
// n bytes of message). All integers little-endian.
//
//	request: magic u32 | op u32 | worker u32 | n u32 | step u64
//	reply:   magic u32 | status u32 | reserved u32 | n u32 | version u64
const (
	magic      = 0x53505331 // "1SPS"
	headerSize = 24
	// maxMessage bounds an error message.
	maxMessage = 4096
)

const (
	opInit uint32 = iota + 1
	opPull
	opPush
)

const (
	statusOK uint32 = iota
	statusError
)

type header struct {
	magic, op, worker, n uint32
	step                 uint64
}

func (h *header) encode(b []byte) {
	binary.LittleEndian.PutUint32(b[0:], h.magic)
	binary.LittleEndian.PutUint32(b[4:], h.op)
	binary.LittleEndian.PutUint32(b[8:], h.worker)
	binary.LittleEndian.PutUint32(b[12:], h.n)
	binary.LittleEndian.PutUint64(b[16:], h.step)
}

func (h *header) decode(b []byte) error {
	h.magic = binary.LittleEndian.Uint32(b[0:])
	h.op = binary.LittleEndian.Uint32(b[4:])
	h.worker = binary.LittleEndian.Uint32(b[8:])
	h.n = binary.LittleEndian.Uint32(b[12:])
	h.step = binary.LittleEndian.Uint64(b[16:])
	if h.magic != magic {
		return fmt.Errorf("ps: bad frame magic %#x", h.magic)
	}
	return nil
}

// floatBytes views a float32 slice as its little-endian bytes (shoal runs
// on little-endian hosts; see the check in init).
func floatBytes(f []float32) []byte {
	if len(f) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&f[0])), 4*len(f))
}

func init() {
	one := float32(1)
	if b := floatBytes([]float32{one}); binary.LittleEndian.Uint32(b) != math.Float32bits(one) {
		panic("ps: big-endian hosts are not supported")
	}
}

// readFloats reads exactly len(dst) float32 values.
func readFloats(r io.Reader, dst []float32) error {
	_, err := io.ReadFull(r, floatBytes(dst))
	return err
}

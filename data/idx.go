package data

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
)

// IDX element type codes (the third byte of an IDX magic number).
const (
	IDXUint8   byte = 0x08
	IDXInt8    byte = 0x09
	IDXInt16   byte = 0x0B
	IDXInt32   byte = 0x0C
	IDXFloat32 byte = 0x0D
	IDXFloat64 byte = 0x0E
)

// maxIDXValues bounds the number of values one IDX array may declare, so
// that a corrupt header cannot ask for more memory than any real file needs.
const maxIDXValues = 1 << 31

// maxIDXDims bounds the number of dimensions an IDX header may declare.
const maxIDXDims = 16

// IDX is an array decoded from an IDX file: its element type, its dimensions
// (outermost first) and its values converted to float32 without scaling.
type IDX struct {
	Type byte
	Dims []int
	Data []float32
}

// Magic returns the array's IDX magic number, e.g. 0x00000803 for a 3-d
// array of unsigned bytes.
func (a *IDX) Magic() uint32 { return uint32(a.Type)<<8 | uint32(len(a.Dims)) }

// idxElemSize returns the size in bytes of one element of type t, or 0 for an
// unknown type.
func idxElemSize(t byte) int {
	switch t {
	case IDXUint8, IDXInt8:
		return 1
	case IDXInt16:
		return 2
	case IDXInt32, IDXFloat32:
		return 4
	case IDXFloat64:
		return 8
	}
	return 0
}

// ReadIDX decodes one IDX array from r, which may be gzip-compressed (told
// by its first two bytes) or raw. Errors match ErrFormat.
func ReadIDX(r io.Reader) (*IDX, error) {
	return decodeIDX(r, "IDX stream")
}

// ReadIDXFile decodes the IDX file at path, compressed or not. A missing file
// gives an error matching ErrNotFound; a malformed one ErrFormat.
func ReadIDXFile(path string) (*IDX, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, newError(ErrNotFound, err, "IDX file %s not found; check the path (or fetch a named dataset with `shoal data get NAME`)", path)
		}
		return nil, fmt.Errorf("data: %w", err)
	}
	defer f.Close()
	return decodeIDX(f, filepath.Base(path))
}

func decodeIDX(r io.Reader, name string) (*IDX, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	var src io.Reader = br
	compressed := false
	if head, err := br.Peek(2); err == nil && head[0] == 0x1f && head[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, newError(ErrFormat, err, "%s: corrupt gzip header (%v)", name, err)
		}
		defer zr.Close()
		zr.Multistream(false)
		src = zr
		compressed = true
	}
	corrupt := func(what string, err error) error {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return newError(ErrFormat, err, "%s is truncated: it ends inside the %s", name, what)
		}
		if compressed {
			return newError(ErrFormat, err, "%s: corrupt gzip data in the %s (%v)", name, what, err)
		}
		return newError(ErrFormat, err, "%s: reading the %s: %v", name, what, err)
	}

	var magic [4]byte
	if _, err := io.ReadFull(src, magic[:]); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, newError(ErrFormat, err, "%s is empty", name)
		}
		return nil, corrupt("magic number", err)
	}
	m := binary.BigEndian.Uint32(magic[:])
	typ, ndims := magic[2], int(magic[3])
	size := idxElemSize(typ)
	if magic[0] != 0 || magic[1] != 0 || size == 0 || ndims == 0 || ndims > maxIDXDims {
		return nil, formatErrorf("%s has wrong magic number 0x%08x: not an IDX file (MNIST images start with 0x00000803, labels with 0x00000801)", name, m)
	}
	hdr := make([]byte, 4*ndims)
	if _, err := io.ReadFull(src, hdr); err != nil {
		return nil, corrupt("header", err)
	}
	dims := make([]int, ndims)
	count := 1
	for i := range dims {
		d := int(binary.BigEndian.Uint32(hdr[4*i:]))
		dims[i] = d
		if d != 0 && count > maxIDXValues/d {
			return nil, formatErrorf("%s declares dimensions %v, more than %d values", name, dims[:i+1], maxIDXValues)
		}
		count *= d
	}
	need := count * size
	body, err := readExactly(src, need)
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return nil, newError(ErrFormat, err, "%s is truncated: its header declares %v values (%d bytes) but it holds only %d bytes", name, dims, need, len(body))
		}
		return nil, corrupt("data", err)
	}
	// Reading past the end checks the gzip CRC and catches trailing bytes.
	var extra [1]byte
	switch n, err := io.ReadFull(src, extra[:]); {
	case n > 0:
		return nil, formatErrorf("%s has bytes after the %v values its header declares", name, dims)
	case err != nil && !errors.Is(err, io.EOF):
		return nil, corrupt("data", err)
	}
	return &IDX{Type: typ, Dims: dims, Data: decodeIDXValues(typ, body, count)}, nil
}

// readExactly reads n bytes. It grows its buffer as data arrives, so a header
// that lies about the size costs no more memory than the data present.
func readExactly(r io.Reader, n int) ([]byte, error) {
	buf := make([]byte, 0, min(n, 1<<20))
	for len(buf) < n {
		if len(buf) == cap(buf) {
			grown := make([]byte, len(buf), min(2*cap(buf), n))
			copy(grown, buf)
			buf = grown
		}
		m, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+m]
		if err != nil && len(buf) < n {
			if errors.Is(err, io.EOF) {
				return buf, io.ErrUnexpectedEOF
			}
			return buf, err
		}
	}
	return buf, nil
}

func decodeIDXValues(typ byte, b []byte, count int) []float32 {
	out := make([]float32, count)
	switch typ {
	case IDXUint8:
		for i, v := range b {
			out[i] = float32(v)
		}
	case IDXInt8:
		for i, v := range b {
			out[i] = float32(int8(v))
		}
	case IDXInt16:
		for i := range out {
			out[i] = float32(int16(binary.BigEndian.Uint16(b[2*i:])))
		}
	case IDXInt32:
		for i := range out {
			out[i] = float32(int32(binary.BigEndian.Uint32(b[4*i:])))
		}
	case IDXFloat32:
		for i := range out {
			out[i] = math.Float32frombits(binary.BigEndian.Uint32(b[4*i:]))
		}
	case IDXFloat64:
		for i := range out {
			out[i] = float32(math.Float64frombits(binary.BigEndian.Uint64(b[8*i:])))
		}
	}
	return out
}

// LoadIDX loads an image file and a label file of the MNIST family (each
// gzip-compressed or raw) as a classification dataset: features of shape
// [1, rows, cols] with pixels scaled to [0, 1], scalar class labels.
func LoadIDX(imagesPath, labelsPath string) (*InMemory, error) {
	ds, err := loadIDXPair(imagesPath, labelsPath)
	if err != nil && errors.Is(err, ErrFormat) {
		err = withHint(err, "check that both files are complete and belong to the same split")
	}
	return ds, err
}

// loadIDXPair is LoadIDX without the hint, so that Open can give its own.
func loadIDXPair(imagesPath, labelsPath string) (*InMemory, error) {
	imgName, lblName := filepath.Base(imagesPath), filepath.Base(labelsPath)
	images, err := ReadIDXFile(imagesPath)
	if err != nil {
		return nil, err
	}
	if images.Type != IDXUint8 || len(images.Dims) < 3 {
		return nil, formatErrorf("%s has magic number 0x%08x but images need 0x00000803 (unsigned bytes, 3 dimensions); is it a label file?", imgName, images.Magic())
	}
	labels, err := ReadIDXFile(labelsPath)
	if err != nil {
		return nil, err
	}
	if len(labels.Dims) != 1 {
		return nil, formatErrorf("%s has magic number 0x%08x but labels need 0x00000801 (1 dimension); is it an image file?", lblName, labels.Magic())
	}
	n := images.Dims[0]
	if labels.Dims[0] != n {
		return nil, formatErrorf("%s has %d labels but %s has %d images", lblName, labels.Dims[0], imgName, n)
	}
	for i, v := range labels.Data {
		if v < 0 || v != float32(math.Trunc(float64(v))) {
			return nil, formatErrorf("%s: label %d is %v, not a class number", lblName, i, v)
		}
	}
	for i, v := range images.Data {
		images.Data[i] = v / 255 // exactly as v/255 in float32, like torchvision
	}
	shape := images.Dims[1:]
	if len(shape) == 2 {
		shape = []int{1, shape[0], shape[1]}
	}
	return NewInMemory(images.Data, shape, labels.Data, []int{})
}

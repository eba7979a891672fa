package data

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
)

// Record files hold examples too many for memory: a directory of files
// named records-NNNNN.shrd, each a small header followed by fixed-size
// little-endian records (features, then target, as float32). The header is
//
//	offset  size  field
//	0       8     magic "SHOALREC"
//	8       2     version (1)
//	10      2     feature rank F
//	12      2     target rank T
//	14      2     reserved, 0
//	16      8     number of records
//	24      4     CRC-32C (Castagnoli) of the records section
//	28      4·F   feature dimensions
//	…       4·T   target dimensions
//	…       4     CRC-32C of the header bytes before it
//
// all little-endian. Fixed-size records make example i's offset a
// multiplication, so a Records dataset reads any example with one ReadAt.
const (
	recordMagic   = "SHOALREC"
	recordVersion = 1
	recordMaxRank = 8
	recordPrefix  = "records-"
	recordSuffix  = ".shrd"
	recordFixed   = 28 // header bytes before the dimensions
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// recordHeader is the decoded header of one record file.
type recordHeader struct {
	featShape, targetShape []int
	count                  int
	crc                    uint32 // of the records section
	size                   int    // header length in bytes
}

// recordSize returns the bytes of one record.
func (h *recordHeader) recordSize() int {
	return 4 * (tensorVolume(h.featShape) + tensorVolume(h.targetShape))
}

func tensorVolume(shape []int) int {
	v, _ := shapeVolume(shape)
	return v
}

// encode returns the header bytes.
func (h *recordHeader) encode() []byte {
	b := make([]byte, recordFixed, recordFixed+4*(len(h.featShape)+len(h.targetShape))+4)
	copy(b, recordMagic)
	binary.LittleEndian.PutUint16(b[8:], recordVersion)
	binary.LittleEndian.PutUint16(b[10:], uint16(len(h.featShape)))
	binary.LittleEndian.PutUint16(b[12:], uint16(len(h.targetShape)))
	binary.LittleEndian.PutUint64(b[16:], uint64(h.count))
	binary.LittleEndian.PutUint32(b[24:], h.crc)
	for _, d := range append(slices.Clone(h.featShape), h.targetShape...) {
		b = binary.LittleEndian.AppendUint32(b, uint32(d))
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// parseRecordHeader decodes a record file header from r; name is used in
// errors, which match ErrFormat.
func parseRecordHeader(r io.Reader, name string) (*recordHeader, error) {
	fixed := make([]byte, recordFixed)
	if _, err := io.ReadFull(r, fixed); err != nil {
		return nil, newError(ErrFormat, err, "%s is truncated: it ends inside its header", name)
	}
	if string(fixed[:8]) != recordMagic {
		return nil, formatErrorf("%s has wrong magic %q: not a shoal record file", name, fixed[:8])
	}
	if v := binary.LittleEndian.Uint16(fixed[8:]); v != recordVersion {
		return nil, formatErrorf("%s has format version %d; this shoal reads version %d", name, v, recordVersion)
	}
	fr, tr := int(binary.LittleEndian.Uint16(fixed[10:])), int(binary.LittleEndian.Uint16(fixed[12:]))
	if fr > recordMaxRank || tr > recordMaxRank || binary.LittleEndian.Uint16(fixed[14:]) != 0 {
		return nil, formatErrorf("%s has a corrupt header (ranks %d and %d)", name, fr, tr)
	}
	rest := make([]byte, 4*(fr+tr)+4)
	if _, err := io.ReadFull(r, rest); err != nil {
		return nil, newError(ErrFormat, err, "%s is truncated: it ends inside its header", name)
	}
	all := append(fixed, rest...)
	body := all[:len(all)-4]
	if got, want := crc32.Checksum(body, castagnoli), binary.LittleEndian.Uint32(all[len(all)-4:]); got != want {
		return nil, newError(ErrChecksum, nil, "%s has a corrupt header (CRC %08x, want %08x)", name, got, want)
	}
	dims := make([]int, fr+tr)
	for i := range dims {
		dims[i] = int(binary.LittleEndian.Uint32(body[recordFixed+4*i:]))
	}
	h := &recordHeader{
		featShape:   dims[:fr:fr],
		targetShape: dims[fr:],
		crc:         binary.LittleEndian.Uint32(fixed[24:]),
		size:        len(all),
	}
	fv, err1 := shapeVolume(h.featShape)
	tv, err2 := shapeVolume(h.targetShape)
	if err1 != nil || err2 != nil || fv == 0 || tv == 0 || fv+tv > math.MaxInt32/4 {
		return nil, formatErrorf("%s declares unusable shapes %v and %v", name, h.featShape, h.targetShape)
	}
	count := binary.LittleEndian.Uint64(fixed[16:])
	if count > uint64(math.MaxInt64/int64(4*(fv+tv))) {
		return nil, formatErrorf("%s declares %d records, more than any file can hold", name, count)
	}
	h.count = int(count)
	return h, nil
}

// RecordWriter writes examples to a directory of record files, perFile
// examples to a file. Each file appears under its final name only once it is
// complete and synced (temp file + fsync + rename + fsync of the directory),
// so a crash leaves whole files or none.
type RecordWriter struct {
	dir                    string
	featShape, targetShape []int
	fv, tv                 int
	perFile                int

	f       *os.File // file being written, nil between files
	bw      *bufio.Writer
	crc     hash.Hash32
	count   int // records in f
	files   int // files completed
	scratch []byte
	err     error // first error; later calls return it
}

// NewRecordWriter creates dir if needed and returns a writer of examples of
// the given shapes. dir must not already hold record files.
func NewRecordWriter(dir string, featShape, targetShape []int, perFile int) (*RecordWriter, error) {
	fv, err1 := shapeVolume(featShape)
	tv, err2 := shapeVolume(targetShape)
	if err1 != nil || err2 != nil || fv == 0 || tv == 0 || len(featShape) > recordMaxRank || len(targetShape) > recordMaxRank {
		return nil, fmt.Errorf("data: NewRecordWriter: unusable shapes %v and %v", featShape, targetShape)
	}
	if perFile < 1 {
		return nil, fmt.Errorf("data: NewRecordWriter: %d records per file: need at least 1", perFile)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	if names, err := recordFiles(dir); err != nil {
		return nil, err
	} else if len(names) > 0 {
		return nil, fmt.Errorf("data: %s already holds %d record files; remove them or write elsewhere", dir, len(names))
	}
	return &RecordWriter{
		dir: dir, featShape: slices.Clone(featShape), targetShape: slices.Clone(targetShape),
		fv: fv, tv: tv, perFile: perFile, scratch: make([]byte, 4*(fv+tv)),
	}, nil
}

func (w *RecordWriter) header() *recordHeader {
	return &recordHeader{featShape: w.featShape, targetShape: w.targetShape}
}

func (w *RecordWriter) fileName(k int) string {
	return filepath.Join(w.dir, fmt.Sprintf("%s%05d%s", recordPrefix, k, recordSuffix))
}

// Write appends one example. Slices of the wrong length are a programmer
// error and panic.
func (w *RecordWriter) Write(features, target []float32) error {
	if len(features) != w.fv || len(target) != w.tv {
		panic(fmt.Sprintf("data: RecordWriter.Write: %d and %d values for shapes %v and %v", len(features), len(target), w.featShape, w.targetShape))
	}
	if w.err != nil {
		return w.err
	}
	if w.f == nil {
		if w.err = w.startFile(); w.err != nil {
			return w.err
		}
	}
	b := w.scratch[:0]
	for _, v := range features {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	for _, v := range target {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	w.crc.Write(b)
	if _, err := w.bw.Write(b); err != nil {
		w.err = fmt.Errorf("data: writing records: %w", err)
		return w.err
	}
	if w.count++; w.count == w.perFile {
		w.err = w.finishFile()
	}
	return w.err
}

func (w *RecordWriter) startFile() error {
	f, err := os.CreateTemp(w.dir, ".records-*.tmp")
	if err != nil {
		return fmt.Errorf("data: %w", err)
	}
	w.f, w.count, w.crc = f, 0, crc32.New(castagnoli)
	w.bw = bufio.NewWriterSize(f, 1<<16)
	// A placeholder header; finishFile rewrites it with the count and CRC.
	_, err = w.bw.Write(w.header().encode())
	return err
}

func (w *RecordWriter) finishFile() error {
	f := w.f
	w.f = nil
	fail := func(err error) error {
		f.Close()
		os.Remove(f.Name())
		return fmt.Errorf("data: writing %s: %w", w.fileName(w.files), err)
	}
	if err := w.bw.Flush(); err != nil {
		return fail(err)
	}
	h := w.header()
	h.count, h.crc = w.count, w.crc.Sum32()
	if _, err := f.WriteAt(h.encode(), 0); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		return fail(err)
	}
	if err := os.Rename(f.Name(), w.fileName(w.files)); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("data: %w", err)
	}
	w.files++
	return syncDir(w.dir)
}

// Close completes the last file. It returns the first error of any Write.
func (w *RecordWriter) Close() error {
	if w.err == nil && w.f != nil {
		w.err = w.finishFile()
	}
	if w.err == nil {
		w.err = errors.New("data: RecordWriter is closed")
		return nil
	}
	if w.f != nil {
		w.f.Close()
		os.Remove(w.f.Name())
		w.f = nil
	}
	return w.err
}

// syncDir fsyncs a directory so that renames in it are durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("data: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("data: syncing %s: %w", dir, err)
	}
	return nil
}

// WriteRecords writes every example of ds to record files in dir.
func WriteRecords(dir string, ds Dataset, perFile int) error {
	w, err := NewRecordWriter(dir, ds.FeatureShape(), ds.TargetShape(), perFile)
	if err != nil {
		return err
	}
	f := make([]float32, w.fv)
	t := make([]float32, w.tv)
	er, hasErr := ds.(ErrReader)
	for i := range ds.Len() {
		if hasErr {
			if err := er.ReadErr(i, f, t); err != nil {
				w.Close()
				return err
			}
		} else {
			ds.Read(i, f, t)
		}
		if err := w.Write(f, t); err != nil {
			w.Close()
			return err
		}
	}
	return w.Close()
}

// recordFiles returns the record file names in dir, sorted.
func recordFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, newError(ErrNotFound, err, "record directory %s not found", dir)
		}
		return nil, fmt.Errorf("data: %w", err)
	}
	var names []string
	for _, e := range entries {
		if n := e.Name(); strings.HasPrefix(n, recordPrefix) && strings.HasSuffix(n, recordSuffix) && e.Type().IsRegular() {
			names = append(names, filepath.Join(dir, n))
		}
	}
	return names, nil
}

// Records is a Dataset over the record files of a directory, read with
// ReadAt on demand, so it may be far larger than memory. It is safe for
// concurrent use. Close it when done.
type Records struct {
	files   []*os.File
	headers []*recordHeader
	starts  []int // starts[k] is the index of file k's first example; last is Len
	fv, tv  int
	bufs    sync.Pool // *[]byte of one record

	mu  sync.Mutex // guards err
	err error      // first read error seen by Read
}

// OpenRecords opens the record files in dir. It checks every header and
// that each file's size matches its header; Verify also checks the CRC of
// the data.
func OpenRecords(dir string) (*Records, error) {
	names, err := recordFiles(dir)
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, notFoundErrorf("%s holds no record files (%s*%s)", dir, recordPrefix, recordSuffix)
	}
	r := &Records{starts: []int{0}}
	for _, name := range names {
		if err := r.add(name); err != nil {
			r.Close()
			return nil, err
		}
	}
	size := 4 * (r.fv + r.tv)
	r.bufs.New = func() any { b := make([]byte, size); return &b }
	return r, nil
}

func (r *Records) add(path string) error {
	base := filepath.Base(path)
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("data: %w", err)
	}
	h, err := parseRecordHeader(bufio.NewReader(io.NewSectionReader(f, 0, 1<<20)), base)
	if err != nil {
		f.Close()
		return err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("data: %w", err)
	}
	if want := int64(h.size) + int64(h.count)*int64(h.recordSize()); st.Size() != want {
		f.Close()
		return formatErrorf("%s is %d bytes but its header promises %d records (%d bytes); the file is truncated or was not written completely, write it again", base, st.Size(), h.count, want)
	}
	if len(r.headers) > 0 {
		h0 := r.headers[0]
		if !slices.Equal(h.featShape, h0.featShape) || !slices.Equal(h.targetShape, h0.targetShape) {
			f.Close()
			return formatErrorf("%s holds shapes %v/%v but %s holds %v/%v; all files in a directory must match", base, h.featShape, h.targetShape, filepath.Base(r.files[0].Name()), h0.featShape, h0.targetShape)
		}
	} else {
		r.fv, r.tv = tensorVolume(h.featShape), tensorVolume(h.targetShape)
	}
	r.files = append(r.files, f)
	r.headers = append(r.headers, h)
	r.starts = append(r.starts, r.starts[len(r.starts)-1]+h.count)
	return nil
}

// Len returns the number of examples in all files.
func (r *Records) Len() int { return r.starts[len(r.starts)-1] }

// FeatureShape returns the shape of one example's features.
func (r *Records) FeatureShape() []int { return slices.Clone(r.headers[0].featShape) }

// TargetShape returns the shape of one example's target.
func (r *Records) TargetShape() []int { return slices.Clone(r.headers[0].targetShape) }

// ReadErr reads example i, reporting I/O errors.
func (r *Records) ReadErr(i int, features, target []float32) error {
	if len(features) != r.fv || len(target) != r.tv {
		panic(fmt.Sprintf("data: Records.Read: buffers of %d and %d values for volumes %d and %d", len(features), len(target), r.fv, r.tv))
	}
	if i < 0 || i >= r.Len() {
		panic(fmt.Sprintf("data: Records.Read: index %d of %d examples", i, r.Len()))
	}
	// The file holding i: the first k with starts[k+1] > i (skips empty files).
	k := sort.Search(len(r.files), func(k int) bool { return r.starts[k+1] > i })
	h := r.headers[k]
	bp := r.bufs.Get().(*[]byte)
	defer r.bufs.Put(bp)
	b := *bp
	off := int64(h.size) + int64(i-r.starts[k])*int64(len(b))
	if _, err := r.files[k].ReadAt(b, off); err != nil {
		return fmt.Errorf("data: reading example %d from %s: %w", i, filepath.Base(r.files[k].Name()), err)
	}
	for j := range features {
		features[j] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*j:]))
	}
	b = b[4*r.fv:]
	for j := range target {
		target[j] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*j:]))
	}
	return nil
}

// Read reads example i. On an I/O error it zeroes the slices and keeps the
// error for Err; the Loader uses ReadErr and reports such errors itself.
func (r *Records) Read(i int, features, target []float32) {
	if err := r.ReadErr(i, features, target); err != nil {
		clear(features)
		clear(target)
		r.mu.Lock()
		if r.err == nil {
			r.err = err
		}
		r.mu.Unlock()
	}
}

// Err returns the first error Read met, or nil.
func (r *Records) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// Verify reads every file in full and checks its records against the CRC in
// its header. Errors match ErrChecksum.
func (r *Records) Verify() error {
	for k, f := range r.files {
		h := r.headers[k]
		crc := crc32.New(castagnoli)
		sec := io.NewSectionReader(f, int64(h.size), int64(h.count)*int64(h.recordSize()))
		if _, err := io.Copy(crc, sec); err != nil {
			return fmt.Errorf("data: verifying %s: %w", filepath.Base(f.Name()), err)
		}
		if got := crc.Sum32(); got != h.crc {
			return newError(ErrChecksum, nil, "%s is corrupt: its records have CRC %08x, the header says %08x; write it again", filepath.Base(f.Name()), got, h.crc)
		}
	}
	return nil
}

// Close closes the files.
func (r *Records) Close() error {
	var first error
	for _, f := range r.files {
		if err := f.Close(); err != nil && first == nil {
			first = err
		}
	}
	r.files = nil
	return first
}

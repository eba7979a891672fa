package nn

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Weights files use the safetensors layout, so that tools outside shoal
// (Python's safetensors, Hugging Face loaders) can read them:
//
//	[8 bytes]  N, the header length, unsigned little-endian
//	[N bytes]  header: a JSON object, padded with spaces to a multiple of 8
//	[rest]     data: the tensors' values, float32 little-endian, back to back
//
// The header maps each tensor's name to
// {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, with
// offsets in bytes from the start of the data, and holds the string map
// "__metadata__". Tensors cover the data without gaps or overlaps, in the
// model's order: parameters as laid out in the arena, then buffers. Names
// are the parameters' and buffers' names ("0.Dense.weight",
// "1.BatchNorm.running_var").
//
// Metadata that shoal writes:
//
//	format           "shoal"
//	format_version   WeightsVersion
//	data_sha256      hex SHA-256 of the data section, checked on load
//	spec             the model's spec as canonical JSON (SaveFile)
//	spec_sha256      Spec.Hash of that spec (SaveFile)
const (
	// WeightsVersion is the format_version this package writes and reads.
	WeightsVersion = "1"
	// WeightsFile is the file name SaveFile and LoadFile use inside a
	// directory (a training run's output directory, say).
	WeightsFile = "model.safetensors"
	// MaxWeightsHeader caps the header length a reader accepts, so that
	// a corrupt length cannot make it allocate without bound.
	MaxWeightsHeader = 100 << 20
)

// Metadata keys that shoal writes into a weights file.
const (
	MetaFormat        = "format"
	MetaFormatVersion = "format_version"
	MetaDataSHA256    = "data_sha256"
	MetaSpec          = "spec"
	MetaSpecSHA256    = "spec_sha256"
)

// ErrWeights is matched (errors.Is) by every error that reading a weights
// file returns for a file that is malformed, corrupt or does not fit the
// model.
var ErrWeights = errors.New("weights: invalid file")

// weightsErrorf returns an error that matches ErrWeights.
func weightsErrorf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrWeights, fmt.Sprintf(format, args...))
}

// tensorEntry is one tensor of a header.
type tensorEntry struct {
	Name        string   `json:"-"`
	DType       string   `json:"dtype"`
	Shape       []int64  `json:"shape"`
	DataOffsets [2]int64 `json:"data_offsets"`
}

// weightsHeader is a parsed, self-consistent header: entries sorted by
// offset, covering [0, size) of the data without gaps.
type weightsHeader struct {
	meta    map[string]string
	entries []tensorEntry
	byName  map[string]*tensorEntry
	size    int64 // bytes of data
}

// parseWeightsHeader parses and checks a header on its own: JSON shape,
// F32 dtypes, non-negative shapes, offsets that match the shapes and tile
// the data section.
func parseWeightsHeader(b []byte) (*weightsHeader, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, weightsErrorf("header is not a JSON object: %v", err)
	}
	if raw == nil {
		return nil, weightsErrorf("header is not a JSON object")
	}
	h := &weightsHeader{meta: map[string]string{}, byName: map[string]*tensorEntry{}}
	if m, ok := raw["__metadata__"]; ok {
		if err := json.Unmarshal(m, &h.meta); err != nil || h.meta == nil {
			return nil, weightsErrorf("__metadata__ must map strings to strings")
		}
		delete(raw, "__metadata__")
	}
	for name, msg := range raw {
		dec := json.NewDecoder(bytes.NewReader(msg))
		dec.DisallowUnknownFields()
		e := tensorEntry{Name: name}
		if err := dec.Decode(&e); err != nil {
			return nil, weightsErrorf("tensor %q: %v", name, err)
		}
		if e.DType != "F32" {
			return nil, weightsErrorf("tensor %q: dtype %q not supported; shoal stores F32", name, e.DType)
		}
		if e.Shape == nil {
			return nil, weightsErrorf("tensor %q: no shape", name)
		}
		n := int64(1)
		for _, d := range e.Shape {
			if d < 0 || (d > 0 && n > math.MaxInt64/4/d) {
				return nil, weightsErrorf("tensor %q: bad shape %v", name, e.Shape)
			}
			n *= d
		}
		begin, end := e.DataOffsets[0], e.DataOffsets[1]
		if begin < 0 || end < begin {
			return nil, weightsErrorf("tensor %q: data_offsets [%d, %d] out of order", name, begin, end)
		}
		if end-begin != 4*n {
			return nil, weightsErrorf("tensor %q: data_offsets [%d, %d] hold %d bytes; shape %v needs %d", name, begin, end, end-begin, e.Shape, 4*n)
		}
		h.entries = append(h.entries, e)
	}
	sort.Slice(h.entries, func(i, j int) bool {
		a, b := h.entries[i], h.entries[j]
		if a.DataOffsets != b.DataOffsets {
			return a.DataOffsets[0] < b.DataOffsets[0] || (a.DataOffsets[0] == b.DataOffsets[0] && a.DataOffsets[1] < b.DataOffsets[1])
		}
		return a.Name < b.Name
	})
	for i := range h.entries {
		e := &h.entries[i]
		if e.DataOffsets[0] != h.size {
			if e.DataOffsets[0] < h.size {
				return nil, weightsErrorf("tensor %q: data_offsets [%d, %d] overlap the tensor before", e.Name, e.DataOffsets[0], e.DataOffsets[1])
			}
			return nil, weightsErrorf("tensor %q: data_offsets [%d, %d] leave a gap after byte %d", e.Name, e.DataOffsets[0], e.DataOffsets[1], h.size)
		}
		h.size = e.DataOffsets[1]
		h.byName[e.Name] = e
	}
	return h, nil
}

// readWeightsHeader reads the length and the header from r.
func readWeightsHeader(r io.Reader) (*weightsHeader, error) {
	var lenBuf [8]byte
	if _, err := io.ReadFull(r, lenBuf[:]); err != nil {
		return nil, weightsErrorf("reading the header length: %v", err)
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	if n < 2 || n > MaxWeightsHeader {
		return nil, weightsErrorf("header length %d out of range [2, %d]; not a safetensors file", n, MaxWeightsHeader)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, weightsErrorf("header of %d bytes truncated: %v", n, err)
	}
	return parseWeightsHeader(b)
}

// weightEntries lists the model's tensors in file order: parameters, then
// buffers.
func (m *Model) weightEntries() (names []string, values [][]float32, shapes [][]int) {
	for _, p := range m.Params {
		names, values, shapes = append(names, p.Name), append(values, p.Value.Data), append(shapes, p.Value.Shape)
	}
	for _, b := range m.Buffers {
		names, values, shapes = append(names, b.Name), append(values, b.Value.Data), append(shapes, b.Value.Shape)
	}
	return names, values, shapes
}

// SaveWeights writes every parameter and buffer of m to w in the
// safetensors layout (see WeightsFile), with meta and shoal's own keys as
// the header's metadata.
func (m *Model) SaveWeights(w io.Writer, meta map[string]string) error {
	names, values, shapes := m.weightEntries()
	header := map[string]any{}
	hash := sha256.New()
	var off int64
	var chunk []byte
	for i, name := range names {
		if _, dup := header[name]; dup || name == "__metadata__" {
			return fmt.Errorf("weights: tensor name %q used twice", name)
		}
		shape := make([]int64, len(shapes[i]))
		for j, d := range shapes[i] {
			shape[j] = int64(d)
		}
		n := int64(len(values[i])) * 4
		header[name] = tensorEntry{DType: "F32", Shape: shape, DataOffsets: [2]int64{off, off + n}}
		off += n
		chunk = appendFloats(chunk[:0], values[i])
		hash.Write(chunk)
	}
	md := map[string]string{}
	for k, v := range meta {
		md[k] = v
	}
	md[MetaFormat] = "shoal"
	md[MetaFormatVersion] = WeightsVersion
	md[MetaDataSHA256] = hex.EncodeToString(hash.Sum(nil))
	header["__metadata__"] = md
	hb, err := json.Marshal(header)
	if err != nil {
		return fmt.Errorf("weights: %w", err)
	}
	for len(hb)%8 != 0 {
		hb = append(hb, ' ')
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(hb)))
	bw.Write(lenBuf[:])
	bw.Write(hb)
	for _, v := range values {
		chunk = appendFloats(chunk[:0], v)
		bw.Write(chunk)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("weights: %w", err)
	}
	return nil
}

// appendFloats appends v as little-endian float32.
func appendFloats(b []byte, v []float32) []byte {
	for _, f := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(f))
	}
	return b
}

// LoadWeights reads weights written by SaveWeights (or any safetensors
// file with F32 tensors of the same names and shapes) from r into m and
// returns the file's metadata. Every parameter and buffer of m must be in
// the file with its shape, and the file must hold nothing else; the
// errors name the tensor. When the file carries data_sha256 the data must
// match it. On error m is left unchanged. LoadWeights reads exactly the
// header and data, nothing after them.
func (m *Model) LoadWeights(r io.Reader) (map[string]string, error) {
	h, err := readWeightsHeader(r)
	if err != nil {
		return nil, err
	}
	if err := m.loadData(h, r); err != nil {
		return nil, err
	}
	return h.meta, nil
}

// loadData checks h against m, reads the data section from r, verifies
// its checksum and copies it into m.
func (m *Model) loadData(h *weightsHeader, r io.Reader) error {
	if v, ok := h.meta[MetaFormatVersion]; ok && h.meta[MetaFormat] == "shoal" && v != WeightsVersion {
		return weightsErrorf("format_version %q; this shoal reads version %s", v, WeightsVersion)
	}
	names, values, shapes := m.weightEntries()
	for i, name := range names {
		e, ok := h.byName[name]
		if !ok {
			return weightsErrorf("tensor %q of the model is missing from the file; was it saved from another model?", name)
		}
		if !sameShape(e.Shape, shapes[i]) {
			return weightsErrorf("tensor %q has shape %v in the file; the model has %v", name, e.Shape, shapes[i])
		}
	}
	if len(h.entries) != len(names) {
		for _, e := range h.entries {
			if !contains(names, e.Name) {
				return weightsErrorf("tensor %q in the file is not in the model; was it saved from another model?", e.Name)
			}
		}
	}
	// Every tensor matches one of the model's, so the data section is
	// exactly as large as the model's arenas: no unbounded allocation.
	data := make([]byte, h.size)
	if _, err := io.ReadFull(r, data); err != nil {
		return weightsErrorf("data of %d bytes truncated: %v", h.size, err)
	}
	if want, ok := h.meta[MetaDataSHA256]; ok {
		sum := sha256.Sum256(data)
		if got := hex.EncodeToString(sum[:]); got != strings.ToLower(want) {
			return weightsErrorf("data checksum %s does not match %s recorded in the header; the file is corrupt", got, want)
		}
	}
	for i, name := range names {
		src := data[h.byName[name].DataOffsets[0]:]
		for j := range values[i] {
			values[i][j] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*j:]))
		}
	}
	return nil
}

func sameShape(file []int64, model []int) bool {
	if len(file) != len(model) {
		return false
	}
	for i := range file {
		if file[i] != int64(model[i]) {
			return false
		}
	}
	return true
}

// weightsPath returns path, or path/WeightsFile when path is a directory.
func weightsPath(path string) string {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return filepath.Join(path, WeightsFile)
	}
	return path
}

// SaveFile writes m's weights with spec embedded in the metadata to path
// (or path/WeightsFile when path is a directory). The write is atomic: the
// file is written under a temporary name, synced, renamed over path and
// the directory synced, so a crash leaves the old file or the new one,
// never a mix.
func SaveFile(path string, spec *Spec, m *Model) error {
	if spec.UsesVocab() && spec.Vocab == 0 {
		return fmt.Errorf("weights: the spec's vocab is still auto; call Spec.SetVocab before saving")
	}
	sj, err := json.Marshal(spec)
	if err != nil {
		return fmt.Errorf("weights: %w", err)
	}
	meta := map[string]string{MetaSpec: string(sj), MetaSpecSHA256: spec.Hash()}
	return writeFileAtomic(weightsPath(path), func(w io.Writer) error { return m.SaveWeights(w, meta) })
}

// writeFileAtomic writes path through a temporary file in the same
// directory: write, fsync, rename, fsync of the directory. On any error the
// temporary file is removed and path is untouched.
func writeFileAtomic(path string, write func(io.Writer) error) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("weights: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	// CreateTemp makes the file private; weights are as readable as any
	// file the user writes.
	if err := f.Chmod(0o644); err != nil {
		return fmt.Errorf("weights: %w", err)
	}
	if err := write(f); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("weights: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("weights: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("weights: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("weights: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("weights: syncing %s: %w", dir, err)
	}
	return nil
}

// LoadFile reads a file written by SaveFile (path may be its directory),
// rebuilds the model from the embedded spec and loads the weights into
// it. The file must end where its data ends.
func LoadFile(path string) (*Spec, *Model, error) {
	path = weightsPath(path)
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("weights: %w", err)
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<20)
	h, err := readWeightsHeader(br)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	spec, err := h.spec()
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	m, err := spec.Build()
	if err != nil {
		return nil, nil, fmt.Errorf("%s: embedded spec: %w", path, err)
	}
	if err := m.loadData(h, br); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	if _, err := br.ReadByte(); err != io.EOF {
		return nil, nil, fmt.Errorf("%s: %w", path, weightsErrorf("data continues after the last tensor"))
	}
	return spec, m, nil
}

// ReadFileSpec returns the spec embedded in a weights file (path may be
// its directory), reading only the header.
func ReadFileSpec(path string) (*Spec, error) {
	path = weightsPath(path)
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("weights: %w", err)
	}
	defer f.Close()
	h, err := readWeightsHeader(bufio.NewReader(f))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	s, err := h.spec()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

func (h *weightsHeader) spec() (*Spec, error) {
	sj, ok := h.meta[MetaSpec]
	if !ok {
		return nil, weightsErrorf("no embedded spec; build the model from its spec and use Model.LoadWeights")
	}
	s, err := ParseSpec([]byte(sj))
	if err != nil {
		return nil, fmt.Errorf("embedded spec: %w", err)
	}
	if want, ok := h.meta[MetaSpecSHA256]; ok && want != s.Hash() {
		return nil, weightsErrorf("embedded spec does not match its spec_sha256; the file is corrupt")
	}
	return s, nil
}

package nn

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/shoal-dl/shoal/tensor"
)

const weightsTestSpec = `
name: weights-test
input: [2, 6, 6]
seed: 5
layers:
  - {type: conv2d, filters: 3, kernel: 3, padding: 1, activation: relu}
  - {type: batchnorm}
  - {type: maxpool2d, kernel: 2}
  - {type: flatten}
  - {type: dense, units: 4}
`

// testModel builds the spec and scrambles its parameters and buffers so
// that a load into a freshly built model has something to restore.
func testModel(t testing.TB, text string, vocab int) (*Spec, *Model) {
	t.Helper()
	s, err := ParseSpec([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if vocab > 0 {
		s.SetVocab(vocab)
	}
	m, err := s.Build()
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range m.Values() {
		m.Values()[i] = float32(rng.NormFloat64())
	}
	for i := range m.BufferValues() {
		m.BufferValues()[i] = float32(rng.Float64() + 0.5)
	}
	return s, m
}

func bitsEqual(a, b []float32) bool {
	return slices.EqualFunc(a, b, func(x, y float32) bool { return math.Float32bits(x) == math.Float32bits(y) })
}

// TestSaveLoadPredictsBitIdentically saves models with SaveFile, loads
// them back with LoadFile and compares values and predictions bit for bit.
func TestSaveLoadPredictsBitIdentically(t *testing.T) {
	tests := []struct {
		name, spec string
		vocab      int
		input      func(rng *rand.Rand, n int) []float32
	}{
		{"cnn", weightsTestSpec, 0, func(rng *rand.Rand, n int) []float32 {
			x := make([]float32, n)
			for i := range x {
				x[i] = float32(rng.NormFloat64())
			}
			return x
		}},
		{"charlstm", "input: [7]\nvocab: auto\nseed: 2\nlayers:\n  - {type: embedding, vocab: vocab, dim: 5}\n  - {type: lstm, hidden: 6, return_sequences: true}\n  - {type: gru, hidden: 4, return_sequences: true}\n  - {type: timedistributed, layer: {type: dense, units: vocab}}\n",
			11, func(rng *rand.Rand, n int) []float32 {
				x := make([]float32, n)
				for i := range x {
					x[i] = float32(rng.IntN(11))
				}
				return x
			}},
	}
	for _, tc := range tests {
		spec, m := testModel(t, tc.spec, tc.vocab)
		dir := t.TempDir()
		if err := SaveFile(dir, spec, m); err != nil {
			t.Fatalf("%s: SaveFile: %v", tc.name, err)
		}
		spec2, m2, err := LoadFile(filepath.Join(dir, WeightsFile))
		if err != nil {
			t.Fatalf("%s: LoadFile: %v", tc.name, err)
		}
		if spec2.Hash() != spec.Hash() {
			t.Errorf("%s: loaded spec hash %s; want %s", tc.name, spec2.Hash(), spec.Hash())
		}
		if !bitsEqual(m.Values(), m2.Values()) || !bitsEqual(m.BufferValues(), m2.BufferValues()) {
			t.Errorf("%s: loaded values differ from the saved ones", tc.name)
		}
		shape := append([]int{3}, m.InputShape...)
		x := &tensor.Tensor{Shape: shape, Data: tc.input(rand.New(rand.NewPCG(3, 4)), tensor.Volume(shape))}
		y, y2 := m.Predict(x), m2.Predict(x)
		if !slices.Equal(y.Shape, y2.Shape) || !bitsEqual(y.Data, y2.Data) {
			t.Errorf("%s: Predict after load = %v; want %v", tc.name, y2.Data, y.Data)
		}
		fresh, err := spec.Build()
		if err != nil {
			t.Fatal(err)
		}
		if bitsEqual(fresh.Values(), m.Values()) {
			t.Fatalf("%s: the scrambled model equals a fresh one; the test proves nothing", tc.name)
		}
		if s, err := ReadFileSpec(dir); err != nil || s.Hash() != spec.Hash() {
			t.Errorf("%s: ReadFileSpec = %v, %v; want the saved spec", tc.name, s, err)
		}
	}
}

// TestWeightsLayout reads a saved file by the safetensors rules alone:
// little-endian header length, a JSON header padded to 8 bytes, F32
// tensors tiling the data in the model's order.
func TestWeightsLayout(t *testing.T) {
	_, m := testModel(t, weightsTestSpec, 0)
	var buf bytes.Buffer
	if err := m.SaveWeights(&buf, map[string]string{"note": "hello"}); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	n := binary.LittleEndian.Uint64(b)
	if (8+n)%8 != 0 || b[8] != '{' {
		t.Fatalf("header of %d bytes starting %q; want a multiple of 8 starting '{'", n, b[8])
	}
	var header map[string]json.RawMessage
	if err := json.Unmarshal(b[8:8+n], &header); err != nil {
		t.Fatalf("header is not JSON: %v", err)
	}
	var meta map[string]string
	if err := json.Unmarshal(header["__metadata__"], &meta); err != nil || meta["note"] != "hello" || meta[MetaFormatVersion] != WeightsVersion {
		t.Errorf("__metadata__ = %v (%v); want note and format_version", meta, err)
	}
	data := b[8+n:]
	var off int64
	names, values, shapes := m.weightEntries()
	if len(header) != len(names)+1 {
		t.Errorf("header has %d entries; want %d tensors and __metadata__", len(header), len(names))
	}
	for i, name := range names {
		var e struct {
			DType       string   `json:"dtype"`
			Shape       []int    `json:"shape"`
			DataOffsets [2]int64 `json:"data_offsets"`
		}
		if err := json.Unmarshal(header[name], &e); err != nil {
			t.Fatalf("tensor %s: %v", name, err)
		}
		if e.DType != "F32" || !slices.Equal(e.Shape, shapes[i]) || e.DataOffsets != [2]int64{off, off + int64(4*len(values[i]))} {
			t.Errorf("tensor %s = %+v; want F32 %v at [%d, %d]", name, e, shapes[i], off, off+int64(4*len(values[i])))
		}
		for j, v := range values[i] {
			if got := math.Float32frombits(binary.LittleEndian.Uint32(data[off+int64(4*j):])); math.Float32bits(got) != math.Float32bits(v) {
				t.Fatalf("tensor %s[%d] = %v in the file; want %v", name, j, got, v)
			}
		}
		off += int64(4 * len(values[i]))
	}
	if off != int64(len(data)) {
		t.Errorf("tensors cover %d bytes of %d of data", off, len(data))
	}
	if !strings.HasPrefix(names[0], "0.Conv2D.") || !slices.Contains(names, "2.BatchNorm.running_var") {
		t.Errorf("tensor names %v; want layer-prefixed parameter and buffer names", names)
	}
}

// rewriteHeader returns file with its header replaced by edit's result.
func rewriteHeader(t *testing.T, file []byte, edit func(h map[string]any)) []byte {
	t.Helper()
	n := binary.LittleEndian.Uint64(file)
	var h map[string]any
	if err := json.Unmarshal(file[8:8+n], &h); err != nil {
		t.Fatal(err)
	}
	edit(h)
	hb, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(hb)))
	return append(append(out, hb...), file[8+n:]...)
}

// TestLoadWeightsErrors feeds broken and mismatched files to LoadWeights
// and checks each error names the problem and leaves the model alone.
func TestLoadWeightsErrors(t *testing.T) {
	_, m := testModel(t, weightsTestSpec, 0)
	var buf bytes.Buffer
	if err := m.SaveWeights(&buf, nil); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	const w0 = "0.Conv2D.weight"
	entry := func(h map[string]any, name string) map[string]any { return h[name].(map[string]any) }
	corruptData := slices.Clone(good)
	corruptData[len(corruptData)-3] ^= 0x40
	tests := []struct {
		name string
		file []byte
		spec string // a model other than the saved one, if set
		want string
	}{
		{"empty", nil, "", "reading the header length"},
		{"huge header", binary.LittleEndian.AppendUint64(nil, 1<<40), "", "header length 1099511627776 out of range"},
		{"header truncated", good[:20], "", "header of"},
		{"data truncated", good[:len(good)-5], "", "truncated"},
		{"corrupt data", corruptData, "", "checksum"},
		{"not json", append(binary.LittleEndian.AppendUint64(nil, 4), "abcd"...), "", "header is not a JSON object"},
		{"dtype", rewriteHeader(t, good, func(h map[string]any) { entry(h, w0)["dtype"] = "F16" }), "", `tensor "0.Conv2D.weight": dtype "F16" not supported`},
		{"shape vs offsets", rewriteHeader(t, good, func(h map[string]any) { entry(h, w0)["shape"] = []int{3, 2, 3, 2} }), "", `tensor "0.Conv2D.weight": data_offsets [0, 216] hold 216 bytes; shape [3 2 3 2] needs 144`},
		{"negative dim", rewriteHeader(t, good, func(h map[string]any) { entry(h, w0)["shape"] = []int{-3, 2, 3, 3} }), "", "bad shape"},
		{"overlap", rewriteHeader(t, good, func(h map[string]any) { entry(h, "0.Conv2D.bias")["data_offsets"] = []int{212, 224} }), "", "overlap"},
		{"gap", rewriteHeader(t, good, func(h map[string]any) { entry(h, "0.Conv2D.bias")["data_offsets"] = []int{220, 232} }), "", "gap"},
		{"unknown entry field", rewriteHeader(t, good, func(h map[string]any) { entry(h, w0)["scale"] = 2 }), "", `tensor "0.Conv2D.weight": json: unknown field "scale"`},
		{"missing tensor", rewriteHeader(t, good, func(h map[string]any) {
			delete(h, "2.BatchNorm.running_var")
		}), "", `tensor "2.BatchNorm.running_var" of the model is missing from the file`},
		{"extra tensor", append(rewriteHeader(t, good, func(h map[string]any) {
			h["9.Extra.weight"] = map[string]any{"dtype": "F32", "shape": []int{1}, "data_offsets": []int{len(good) - 8 - int(binary.LittleEndian.Uint64(good)), len(good) - 4 - int(binary.LittleEndian.Uint64(good))}}
		}), 0, 0, 0, 0), "", `tensor "9.Extra.weight" in the file is not in the model`},
		{"other shape", good, strings.Replace(weightsTestSpec, "filters: 3", "filters: 5", 1), `tensor "0.Conv2D.weight" has shape [3 2 3 3] in the file; the model has [5 2 3 3]`},
		{"version", rewriteHeader(t, good, func(h map[string]any) { h["__metadata__"].(map[string]any)["format_version"] = "9" }), "", `format_version "9"`},
		{"metadata type", rewriteHeader(t, good, func(h map[string]any) { h["__metadata__"] = map[string]any{"a": 1} }), "", "__metadata__ must map strings to strings"},
	}
	for _, tc := range tests {
		target := m
		if tc.spec != "" {
			_, target = testModel(t, tc.spec, 0)
		}
		before := slices.Clone(target.Values())
		beforeBuf := slices.Clone(target.BufferValues())
		clear(target.Values())
		clear(before)
		clear(target.BufferValues())
		clear(beforeBuf)
		_, err := target.LoadWeights(bytes.NewReader(tc.file))
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ErrWeights) {
			t.Errorf("%s: LoadWeights error %v; want ErrWeights containing %q", tc.name, err, tc.want)
		}
		if !bitsEqual(target.Values(), before) || !bitsEqual(target.BufferValues(), beforeBuf) {
			t.Errorf("%s: failed load changed the model", tc.name)
		}
	}
	// Every truncation fails cleanly.
	for n := 0; n < len(good); n += 1 + n/4 {
		if _, err := m.LoadWeights(bytes.NewReader(good[:n])); err == nil {
			t.Fatalf("LoadWeights of the first %d of %d bytes succeeded", n, len(good))
		}
	}
	if _, err := m.LoadWeights(bytes.NewReader(good)); err != nil {
		t.Fatalf("LoadWeights of the intact file: %v", err)
	}
}

// TestSaveFileFaults checks that a failed write leaves the previous file
// and no temporary file behind, and that LoadFile rejects damaged files.
func TestSaveFileFaults(t *testing.T) {
	spec, m := testModel(t, weightsTestSpec, 0)
	dir := t.TempDir()
	path := filepath.Join(dir, "w.safetensors")
	if err := SaveFile(path, spec, m); err != nil {
		t.Fatal(err)
	}
	saved, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	errDisk := errors.New("disk full")
	err = writeFileAtomic(path, func(w io.Writer) error {
		w.Write(saved[:len(saved)/2]) // a short write, then the failure
		return errDisk
	})
	if !errors.Is(err, errDisk) {
		t.Errorf("writeFileAtomic with a failing write = %v; want %v", err, errDisk)
	}
	if now, _ := os.ReadFile(path); !bytes.Equal(now, saved) {
		t.Errorf("a failed write changed the file")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("directory holds %d entries after a failed write; want only the saved file", len(entries))
	}

	damaged := []struct {
		name string
		edit func([]byte) []byte
		want string
	}{
		{"corrupt byte in data", func(b []byte) []byte { b[len(b)-1] ^= 1; return b }, "checksum"},
		{"corrupt byte in header", func(b []byte) []byte { b[9] = '['; return b }, "header is not a JSON object"},
		{"trailing data", func(b []byte) []byte { return append(b, 0, 0, 0, 0) }, "data continues after the last tensor"},
		{"truncated", func(b []byte) []byte { return b[:len(b)-1] }, "truncated"},
		{"spec tampered", func(b []byte) []byte {
			return bytes.Replace(b, []byte(`\"seed\":5`), []byte(`\"seed\":6`), 1)
		}, "spec_sha256"},
	}
	for _, tc := range damaged {
		p := filepath.Join(dir, "damaged")
		if err := os.WriteFile(p, tc.edit(slices.Clone(saved)), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, _, err := LoadFile(p); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: LoadFile error %v; want one containing %q", tc.name, err, tc.want)
		}
	}
	if _, _, err := LoadFile(filepath.Join(dir, "absent")); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LoadFile of a missing file = %v; want a not-exist error", err)
	}
}

// FuzzWeightsHeader checks that no header makes the parser panic and that
// any header it accepts tiles its data section.
func FuzzWeightsHeader(f *testing.F) {
	_, m := testModel(f, weightsTestSpec, 0)
	var buf bytes.Buffer
	if err := m.SaveWeights(&buf, map[string]string{"k": "v"}); err != nil {
		f.Fatal(err)
	}
	b := buf.Bytes()
	f.Add(b[8 : 8+binary.LittleEndian.Uint64(b)])
	f.Add([]byte(`{"a":{"dtype":"F32","shape":[],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[0],"data_offsets":[4,4]}}`))
	f.Add([]byte(`{"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,0]}}`))
	f.Fuzz(func(t *testing.T, header []byte) {
		h, err := parseWeightsHeader(header)
		if err != nil {
			if !errors.Is(err, ErrWeights) {
				t.Fatalf("error %v does not match ErrWeights", err)
			}
			return
		}
		var off int64
		for _, e := range h.entries {
			if e.DataOffsets[0] != off {
				t.Fatalf("tensor %q starts at %d; want %d", e.Name, e.DataOffsets[0], off)
			}
			off = e.DataOffsets[1]
		}
		if off != h.size {
			t.Fatalf("tensors end at %d; size is %d", off, h.size)
		}
	})
}

// BenchmarkWeights measures saving and loading LeNet's 3.3M parameters
// through memory, checksum included.
func BenchmarkWeights(b *testing.B) {
	spec, err := LoadSpec("../examples/lenet.yaml")
	if err != nil {
		b.Fatal(err)
	}
	m, err := spec.Build()
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	if err := m.SaveWeights(&buf, nil); err != nil {
		b.Fatal(err)
	}
	file := buf.Bytes()
	b.Run("save", func(b *testing.B) {
		b.SetBytes(int64(len(file)))
		for b.Loop() {
			if err := m.SaveWeights(io.Discard, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("load", func(b *testing.B) {
		b.SetBytes(int64(len(file)))
		for b.Loop() {
			if _, err := m.LoadWeights(bytes.NewReader(file)); err != nil {
				b.Fatal(err)
			}
		}
	})
}

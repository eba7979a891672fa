package data

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestRecordsRoundTrip(t *testing.T) {
	src := rampDataset(t, 23)
	dir := t.TempDir()
	if err := WriteRecords(dir, src, 5); err != nil {
		t.Fatalf("WriteRecords: %v", err)
	}
	names, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(names) != 5 {
		t.Errorf("directory holds %v; want 5 record files and nothing else", names)
	}
	r, err := OpenRecords(dir)
	if err != nil {
		t.Fatalf("OpenRecords: %v", err)
	}
	defer r.Close()
	if r.Len() != 23 || !equalInts(r.FeatureShape(), []int{2}) || len(r.TargetShape()) != 0 {
		t.Fatalf("Records: Len %d shapes %v %v; want 23 [2] []", r.Len(), r.FeatureShape(), r.TargetShape())
	}
	if err := r.Verify(); err != nil {
		t.Errorf("Verify: %v", err)
	}
	got, err := Materialize(r)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Features(), src.Features()) || !slices.Equal(got.Targets(), src.Targets()) {
		t.Errorf("records read back differ from what was written")
	}
	// The loader over records yields the same batches as over memory.
	opts := LoaderOptions{BatchSize: 4, Shuffle: true, Seed: 3, Prefetch: 2}
	a := collect(t, newLoader(t, r, opts), 1)
	b := collect(t, newLoader(t, src, opts), 1)
	if len(a) != len(b) {
		t.Errorf("loader over records: %d batches; over memory %d", len(a), len(b))
	}
	if err := r.Err(); err != nil {
		t.Errorf("Err() = %v", err)
	}
}

func TestRecordsFaults(t *testing.T) {
	write := func(t *testing.T) (string, string) {
		dir := t.TempDir()
		if err := WriteRecords(dir, rampDataset(t, 10), 10); err != nil {
			t.Fatal(err)
		}
		return dir, filepath.Join(dir, "records-00000.shrd")
	}
	t.Run("crash before rename leaves no record file", func(t *testing.T) {
		dir := t.TempDir()
		w, err := NewRecordWriter(dir, []int{2}, []int{}, 100)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]float32{1, 2}, []float32{3})
		// No Close: the process "crashed" with a temp file on disk.
		_, err = OpenRecords(dir)
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("OpenRecords after a crash = %v; want ErrNotFound", err)
		}
		w.Close()
		if _, err := OpenRecords(dir); err != nil {
			t.Errorf("OpenRecords after Close: %v", err)
		}
	})
	t.Run("truncated", func(t *testing.T) {
		dir, file := write(t)
		st, _ := os.Stat(file)
		os.Truncate(file, st.Size()-3)
		_, err := OpenRecords(dir)
		if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "truncated") {
			t.Errorf("OpenRecords(truncated) = %v; want ErrFormat naming truncation", err)
		}
	})
	t.Run("corrupt data byte", func(t *testing.T) {
		dir, file := write(t)
		b, _ := os.ReadFile(file)
		b[len(b)-5] ^= 0x40
		os.WriteFile(file, b, 0o644)
		r, err := OpenRecords(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if err := r.Verify(); !errors.Is(err, ErrChecksum) || !errors.Is(err, ErrFormat) {
			t.Errorf("Verify(corrupt) = %v; want ErrChecksum", err)
		}
	})
	t.Run("corrupt header byte", func(t *testing.T) {
		dir, file := write(t)
		b, _ := os.ReadFile(file)
		b[17] ^= 1 // the record count
		os.WriteFile(file, b, 0o644)
		if _, err := OpenRecords(dir); !errors.Is(err, ErrChecksum) {
			t.Errorf("OpenRecords(corrupt header) = %v; want ErrChecksum", err)
		}
	})
	t.Run("existing records refused", func(t *testing.T) {
		dir, _ := write(t)
		if _, err := NewRecordWriter(dir, []int{2}, []int{}, 5); err == nil {
			t.Error("NewRecordWriter over existing records succeeded")
		}
	})
	t.Run("read error reaches the loader", func(t *testing.T) {
		dir, _ := write(t)
		r, err := OpenRecords(dir)
		if err != nil {
			t.Fatal(err)
		}
		r.files[0].Close() // reads now fail
		defer r.Close()
		l := newLoader(t, r, LoaderOptions{BatchSize: 3})
		for _, err := range l.Batches(context.Background(), 0) {
			if err == nil {
				t.Fatal("batch read from a closed file")
			}
			break
		}
		f, y := make([]float32, 2), make([]float32, 1)
		r.Read(0, f, y)
		if r.Err() == nil {
			t.Error("Read from a closed file left Err() nil")
		}
	})
}

func FuzzShardHeader(f *testing.F) {
	h := &recordHeader{featShape: []int{1, 28, 28}, targetShape: []int{}, count: 60000, crc: 7}
	f.Add(h.encode())
	h2 := &recordHeader{featShape: []int{4}, targetShape: []int{3}, count: 1}
	f.Add(h2.encode())
	f.Add([]byte("SHOALREC\x01\x00"))
	f.Fuzz(func(t *testing.T, in []byte) {
		h, err := parseRecordHeader(bytes.NewReader(in), "fuzz")
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("parseRecordHeader error %q does not match ErrFormat", err)
			}
			return
		}
		// A header that parses re-encodes to the same bytes.
		if enc := h.encode(); !bytes.Equal(enc, in[:len(enc)]) || h.size != len(enc) {
			t.Fatalf("header %+v re-encodes to %x; input %x", h, enc, in[:h.size])
		}
	})
}

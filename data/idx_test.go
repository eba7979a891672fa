package data

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// encodeIDX returns the raw IDX encoding of unsigned bytes with the given
// dimensions; the magic number is 0x0000080<len(dims)>.
func encodeIDX(dims []int, values []byte) []byte {
	var b bytes.Buffer
	b.Write([]byte{0, 0, IDXUint8, byte(len(dims))})
	for _, d := range dims {
		binary.Write(&b, binary.BigEndian, uint32(d))
	}
	b.Write(values)
	return b.Bytes()
}

func gzipBytes(t testing.TB, raw []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write(raw); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func writeFile(t testing.TB, dir, name string, content []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, content, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// tinyMNIST returns n images of rows×cols pixels (pixel value = (i+p) mod 256)
// and labels i mod 10, IDX-encoded.
func tinyMNIST(n, rows, cols int) (images, labels []byte) {
	px := make([]byte, n*rows*cols)
	for i := range n {
		for p := range rows * cols {
			px[i*rows*cols+p] = byte(i + p)
		}
	}
	lb := make([]byte, n)
	for i := range lb {
		lb[i] = byte(i % 10)
	}
	return encodeIDX([]int{n, rows, cols}, px), encodeIDX([]int{n}, lb)
}

func TestLoadIDX(t *testing.T) {
	const n, rows, cols = 7, 3, 2
	img, lbl := tinyMNIST(n, rows, cols)
	for _, compressed := range []bool{false, true} {
		dir := t.TempDir()
		wrap, suffix := func(b []byte) []byte { return b }, ""
		if compressed {
			wrap, suffix = func(b []byte) []byte { return gzipBytes(t, b) }, ".gz"
		}
		ip := writeFile(t, dir, "train-images-idx3-ubyte"+suffix, wrap(img))
		lp := writeFile(t, dir, "train-labels-idx1-ubyte"+suffix, wrap(lbl))
		ds, err := LoadIDX(ip, lp)
		if err != nil {
			t.Fatalf("LoadIDX(gzip=%v): %v", compressed, err)
		}
		if ds.Len() != n {
			t.Errorf("gzip=%v: Len() = %d; want %d", compressed, ds.Len(), n)
		}
		if got, want := ds.FeatureShape(), []int{1, rows, cols}; !equalInts(got, want) {
			t.Errorf("gzip=%v: FeatureShape() = %v; want %v", compressed, got, want)
		}
		if got := ds.TargetShape(); len(got) != 0 {
			t.Errorf("gzip=%v: TargetShape() = %v; want []", compressed, got)
		}
		f, y := make([]float32, rows*cols), make([]float32, 1)
		for i := range n {
			ds.Read(i, f, y)
			if y[0] != float32(i%10) {
				t.Errorf("gzip=%v: label %d = %v; want %d", compressed, i, y[0], i%10)
			}
			for p, v := range f {
				if want := float32(byte(i+p)) / 255; v != want {
					t.Fatalf("gzip=%v: pixel %d of image %d = %v; want %v", compressed, p, i, v, want)
				}
			}
		}
		if got := ds.NumClasses(); got != 7 {
			t.Errorf("NumClasses() = %d; want 7 (labels 0..6)", got)
		}
	}
}

func TestLoadIDXBadInput(t *testing.T) {
	img, lbl := tinyMNIST(5, 2, 2)
	short, _ := tinyMNIST(4, 2, 2)
	_, shortLbl := tinyMNIST(4, 2, 2)
	badMagic := append([]byte{0x12, 0x34}, img[2:]...)
	tests := []struct {
		name        string
		images      []byte // nil: file absent
		labels      []byte
		match       error
		wantInError []string
	}{
		{"missing images", nil, lbl, ErrNotFound, []string{"img not found"}},
		{"wrong magic", badMagic, lbl, ErrFormat, []string{"wrong magic number 0x12340803", "img"}},
		{"truncated raw", img[:len(img)-3], lbl, ErrFormat, []string{"img is truncated", "20 bytes", "17 bytes"}},
		{"truncated header", img[:9], lbl, ErrFormat, []string{"img is truncated", "header"}},
		{"truncated gzip", gzipBytes(t, img)[:30], lbl, ErrFormat, []string{"img is truncated"}},
		{"empty", []byte{}, lbl, ErrFormat, []string{"img is empty"}},
		{"trailing bytes", append(img[:len(img):len(img)], 1, 2), lbl, ErrFormat, []string{"bytes after"}},
		{"count mismatch", img, shortLbl, ErrFormat, []string{"lbl has 4 labels but img has 5 images"}},
		{"swapped files", lbl, img, ErrFormat, []string{"0x00000801", "is it a label file"}},
		{"image count mismatch", short, lbl, ErrFormat, []string{"lbl has 5 labels but img has 4 images"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			ip := filepath.Join(dir, "img")
			if tc.images != nil {
				writeFile(t, dir, "img", tc.images)
			}
			lp := writeFile(t, dir, "lbl", tc.labels)
			_, err := LoadIDX(ip, lp)
			if err == nil {
				t.Fatal("LoadIDX succeeded; want an error")
			}
			if !errors.Is(err, tc.match) {
				t.Errorf("LoadIDX error %q does not match %v", err, tc.match)
			}
			msg := err.Error()
			for _, s := range tc.wantInError {
				if !strings.Contains(msg, s) {
					t.Errorf("LoadIDX error %q does not contain %q", msg, s)
				}
			}
			if strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "data: ") {
				t.Errorf("LoadIDX error %q is not one line starting with \"data: \"", msg)
			}
		})
	}
}

func TestReadIDXTypes(t *testing.T) {
	var b bytes.Buffer
	b.Write([]byte{0, 0, IDXInt16, 2, 0, 0, 0, 1, 0, 0, 0, 3})
	for _, v := range []int16{-2, 0, 300} {
		binary.Write(&b, binary.BigEndian, v)
	}
	a, err := ReadIDX(&b)
	if err != nil {
		t.Fatal(err)
	}
	if !equalInts(a.Dims, []int{1, 3}) || a.Data[0] != -2 || a.Data[2] != 300 || a.Magic() != 0x0b02 {
		t.Errorf("ReadIDX(int16) = dims %v data %v magic %#x; want [1 3] [-2 0 300] 0xb02", a.Dims, a.Data, a.Magic())
	}
	b.Reset()
	b.Write([]byte{0, 0, IDXFloat64, 1, 0, 0, 0, 1})
	binary.Write(&b, binary.BigEndian, 2.5)
	if a, err = ReadIDX(&b); err != nil || a.Data[0] != 2.5 {
		t.Errorf("ReadIDX(float64) = %v, %v; want [2.5]", a, err)
	}
}

func FuzzIDX(f *testing.F) {
	img, lbl := tinyMNIST(3, 2, 2)
	f.Add(img)
	f.Add(lbl)
	f.Add(gzipBytes(f, img))
	f.Add([]byte{0, 0, IDXFloat32, 1, 0, 0, 0, 1, 0x3f, 0x80, 0, 0})
	f.Add([]byte{0, 0, IDXUint8, 3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 9})
	f.Fuzz(func(t *testing.T, in []byte) {
		a, err := ReadIDX(bytes.NewReader(in))
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("ReadIDX error %q does not match ErrFormat", err)
			}
			return
		}
		n := 1
		for _, d := range a.Dims {
			n *= d
		}
		if len(a.Data) != n {
			t.Fatalf("ReadIDX: %d values for dims %v", len(a.Data), a.Dims)
		}
	})
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

package data

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// tinyKnown returns a catalog entry for a tiny MNIST-like dataset served by
// a loopback HTTP server whose first mirror always fails, plus the served
// (gzip) bytes of each file.
func tinyKnown(t *testing.T) (KnownDataset, map[string][]byte, *int) {
	t.Helper()
	img, lbl := tinyMNIST(6, 2, 2)
	timg, tlbl := tinyMNIST(4, 2, 2)
	raw := map[string][]byte{
		"train-images-idx3-ubyte.gz": img, "train-labels-idx1-ubyte.gz": lbl,
		"t10k-images-idx3-ubyte.gz": timg, "t10k-labels-idx1-ubyte.gz": tlbl,
	}
	served := map[string][]byte{}
	ds := KnownDataset{Name: "tiny"}
	for _, name := range []string{"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"} {
		gz := gzipBytes(t, raw[name])
		served[name] = gz
		ds.Files = append(ds.Files, RemoteFile{Name: name, Size: int64(len(gz)), SHA256: sha256Hex(gz), ContentSHA256: sha256Hex(raw[name])})
	}
	hits := new(int)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		*hits++
		if b, ok := served[strings.TrimPrefix(r.URL.Path, "/good/")]; ok && strings.HasPrefix(r.URL.Path, "/good/") {
			w.Write(b)
			return
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(srv.Close)
	ds.Mirrors = []string{srv.URL + "/missing/", srv.URL + "/good/"}
	return ds, served, hits
}

func TestGetDownloadsVerifiesAndCaches(t *testing.T) {
	ds, served, hits := tinyKnown(t)
	root := t.TempDir()
	var progress bytes.Buffer
	dir, got, err := Get(context.Background(), ds, GetOptions{Root: root, Progress: &progress})
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if dir != filepath.Join(root, "tiny") || len(got) != 4 {
		t.Fatalf("Get = %s, %v; want %s and 4 files", dir, got, filepath.Join(root, "tiny"))
	}
	for _, f := range got {
		if !strings.HasSuffix(f.Source, "/good/"+f.Name) {
			t.Errorf("%s came from %s; want the second mirror", f.Name, f.Source)
		}
		if b, _ := os.ReadFile(f.Path); !bytes.Equal(b, served[f.Name]) {
			t.Errorf("%s in the cache differs from the download", f.Name)
		}
	}
	if !strings.Contains(progress.String(), "downloading train-images-idx3-ubyte.gz") {
		t.Errorf("progress output %q lacks a download line", progress.String())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 4 {
		t.Errorf("cache holds %d entries; want exactly the 4 files (no temp files)", len(entries))
	}
	train, err := Open("tiny", "train", "")
	if err == nil || !errors.Is(err, ErrNotFound) {
		t.Errorf("Open of a dataset outside the catalog = %v, %v; want ErrNotFound", train, err)
	}

	// A second Get finds everything in the cache and downloads nothing.
	before := *hits
	if _, got, err = Get(context.Background(), ds, GetOptions{Root: root}); err != nil {
		t.Fatal(err)
	}
	for _, f := range got {
		if f.Source != "cache" {
			t.Errorf("second Get took %s from %s; want cache", f.Name, f.Source)
		}
	}
	if *hits != before {
		t.Errorf("second Get made %d requests; want 0", *hits-before)
	}

	// A damaged cached file is replaced.
	lbl := filepath.Join(dir, "train-labels-idx1-ubyte.gz")
	os.WriteFile(lbl, []byte("junk"), 0o644)
	if _, got, err = Get(context.Background(), ds, GetOptions{Root: root}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(lbl); !bytes.Equal(b, served["train-labels-idx1-ubyte.gz"]) || got[1].Source == "cache" {
		t.Errorf("damaged file not replaced (source %s)", got[1].Source)
	}
}

func TestGetRejectsWrongDownload(t *testing.T) {
	ds, _, _ := tinyKnown(t)
	ds.Files[0].SHA256 = strings.Repeat("0", 64)
	ds.Files[0].ContentSHA256 = ""
	root := t.TempDir()
	_, _, err := Get(context.Background(), ds, GetOptions{Root: root})
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "SHA-256") || !strings.Contains(err.Error(), "--from DIR") {
		t.Fatalf("Get with a bad sum = %v; want an error naming the checksum and the fix", err)
	}
	if entries, _ := os.ReadDir(filepath.Join(root, "tiny")); len(entries) != 0 {
		t.Errorf("a rejected download left %d files", len(entries))
	}
}

func TestGetFromLocalDirectories(t *testing.T) {
	ds, served, hits := tinyKnown(t)
	// A system directory holding copies compressed again (different gzip
	// bytes, same contents) is accepted through the content sums.
	sys := t.TempDir()
	for _, f := range ds.Files {
		var again bytes.Buffer
		zw := gzip.NewWriter(&again)
		zw.Name = f.Name // a header field the served files lack
		zw.Write(mustGunzip(t, served[f.Name]))
		zw.Close()
		if bytes.Equal(again.Bytes(), served[f.Name]) {
			t.Fatal("recompressed copy is identical to the download")
		}
		writeFile(t, sys, f.Name, again.Bytes())
	}
	ds.SystemDirs = []string{filepath.Join(t.TempDir(), "absent"), sys}
	root := t.TempDir()
	_, got, err := Get(context.Background(), ds, GetOptions{Root: root, Offline: true})
	if err != nil {
		t.Fatalf("Get from a system directory: %v", err)
	}
	for _, f := range got {
		if f.Source != sys {
			t.Errorf("%s came from %s; want %s", f.Name, f.Source, sys)
		}
	}
	if *hits != 0 {
		t.Errorf("offline Get made %d requests", *hits)
	}

	// --from with a wrong file is refused and says so.
	from := t.TempDir()
	writeFile(t, from, ds.Files[0].Name, []byte("not it"))
	_, _, err = Get(context.Background(), ds, GetOptions{Root: t.TempDir(), From: from})
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "no verified train-images-idx3-ubyte.gz in "+from) {
		t.Errorf("Get --from a wrong file = %v", err)
	}
	// Offline with no copy anywhere names the fix.
	ds.SystemDirs = nil
	_, _, err = Get(context.Background(), ds, GetOptions{Root: t.TempDir(), Offline: true})
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "shoal data get tiny --from DIR") {
		t.Errorf("offline Get with no source = %v", err)
	}
}

func mustGunzip(t *testing.T, gz []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	img, lbl := tinyMNIST(6, 28, 28)
	sub := filepath.Join(dir, "mnist")
	os.Mkdir(sub, 0o755)
	writeFile(t, sub, "train-images-idx3-ubyte.gz", gzipBytes(t, img))
	writeFile(t, sub, "train-labels-idx1-ubyte", lbl) // uncompressed works too
	ds, err := Open("mnist", "train", dir)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if ds.Len() != 6 {
		t.Errorf("Open: %d examples; want 6", ds.Len())
	}

	_, err = Open("mnist", "test", dir)
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "run `shoal data get mnist --dir "+dir+"`") {
		t.Errorf("Open(missing split) = %v; want ErrNotFound with the get command", err)
	}
	if _, err := Open("cifar", "train", dir); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "fashion-mnist, mnist") {
		t.Errorf("Open(unknown) = %v; want ErrNotFound listing the known datasets", err)
	}
	if _, err := Open("mnist", "validation", dir); !errors.Is(err, ErrNotFound) {
		t.Errorf("Open(bad split) = %v; want ErrNotFound", err)
	}
	_, shortLbl := tinyMNIST(5, 28, 28)
	writeFile(t, sub, "train-labels-idx1-ubyte", shortLbl)
	_, err = Open("mnist", "train", dir)
	want := "data: train-labels-idx1-ubyte has 5 labels but train-images-idx3-ubyte.gz has 6 images; run `shoal data get mnist --dir " + dir + "` to fetch verified files"
	if !errors.Is(err, ErrFormat) || err.Error() != want {
		t.Errorf("Open(count mismatch) error\n got %v\nwant %s", err, want)
	}
}

func TestOpenRealFashionMNIST(t *testing.T) {
	if _, err := os.Stat(filepath.Join(DebianFashionMNISTDir, "train-images-idx3-ubyte.gz")); err != nil {
		t.Skip("Fashion-MNIST is not installed (Debian package dataset-fashion-mnist)")
	}
	known, _ := Lookup("fashion-mnist")
	for _, f := range known.Files {
		if testing.Short() {
			break
		}
		if err := verifyFile(filepath.Join(DebianFashionMNISTDir, f.Name), f); err != nil {
			t.Errorf("Debian's copy fails verification: %v", err)
		}
	}
	for _, tc := range []struct {
		split string
		n     int
	}{{"test", 10000}, {"train", 60000}} {
		if testing.Short() && tc.split == "train" {
			break // the race detector makes decoding 47 MB slow
		}
		ds, err := Open("fashion-mnist", tc.split, DebianFashionMNISTDir)
		if err != nil {
			t.Fatalf("Open(fashion-mnist, %s): %v", tc.split, err)
		}
		if ds.Len() != tc.n || !equalInts(ds.FeatureShape(), []int{1, 28, 28}) || ds.NumClasses() != 10 {
			t.Errorf("%s: %d examples of shape %v, %d classes; want %d of [1 28 28], 10", tc.split, ds.Len(), ds.FeatureShape(), ds.NumClasses(), tc.n)
		}
		counts := make([]int, 10)
		for _, y := range ds.Targets() {
			counts[int(y)]++
		}
		for c, k := range counts {
			if k != tc.n/10 {
				t.Errorf("%s: class %d has %d examples; want %d (balanced)", tc.split, c, k, tc.n/10)
			}
		}
	}
}

package data

import (
	"bufio"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// GetOptions configure Get.
type GetOptions struct {
	// Root is the cache root; the files go to Root/<name>. "" means
	// DefaultRoot().
	Root string
	// From, when set, is the only place to take the files from: a directory
	// holding them (for machines without network). Otherwise Get uses the
	// dataset's system directories, then its mirrors.
	From string
	// Offline forbids downloads.
	Offline bool
	// Progress receives one updating progress line per download; nil for
	// none.
	Progress io.Writer
	// Client makes the downloads; nil means a client with a 30 s connect
	// and header timeout.
	Client *http.Client
}

// Fetched says where one file of a Get came from.
type Fetched struct {
	Name   string // file name
	Path   string // where it is now
	Source string // "cache" when it was already there, else the directory or URL it came from
}

// Get makes sure every file of ds is in the cache with the right checksum
// and returns the dataset's cache directory. Files already cached are
// checked and kept; damaged ones are replaced. Every file is written
// atomically (temp file, fsync, rename, fsync of the directory) and verified
// against its SHA-256 before it gets its final name.
func Get(ctx context.Context, ds KnownDataset, opts GetOptions) (string, []Fetched, error) {
	dir, err := DatasetDir(opts.Root, ds.Name)
	if err != nil {
		return "", nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", nil, fmt.Errorf("data: creating the cache directory: %w", err)
	}
	var got []Fetched
	for _, f := range ds.Files {
		dest := filepath.Join(dir, f.Name)
		if verifyFile(dest, f) == nil {
			got = append(got, Fetched{f.Name, dest, "cache"})
			continue
		}
		src, err := fetchFile(ctx, ds, f, dest, opts)
		if err != nil {
			return dir, got, err
		}
		got = append(got, Fetched{f.Name, dest, src})
	}
	return dir, got, nil
}

// fetchFile puts f at dest from the first source that has a verified copy
// and returns that source.
func fetchFile(ctx context.Context, ds KnownDataset, f RemoteFile, dest string, opts GetOptions) (string, error) {
	var tried []string
	localDirs := ds.SystemDirs
	if opts.From != "" {
		localDirs = []string{opts.From}
	}
	for _, d := range localDirs {
		src := filepath.Join(d, f.Name)
		if _, err := os.Stat(src); err != nil {
			tried = append(tried, fmt.Sprintf("%s: not there", d))
			continue
		}
		if err := verifyFile(src, f); err != nil {
			tried = append(tried, err.Error())
			continue
		}
		if err := atomicWrite(dest, f, func(w io.Writer) error {
			in, err := os.Open(src)
			if err != nil {
				return err
			}
			defer in.Close()
			_, err = io.Copy(w, in)
			return err
		}); err != nil {
			return "", err
		}
		return d, nil
	}
	if opts.From != "" {
		return "", notFoundErrorf("no verified %s in %s (%s); copy the official file there", f.Name, opts.From, strings.Join(tried, "; "))
	}
	if opts.Offline {
		tried = append(tried, "downloads are off")
	} else {
		for _, m := range ds.Mirrors {
			url := m + f.Name
			err := atomicWrite(dest, f, func(w io.Writer) error { return download(ctx, opts, url, f, w) })
			if err == nil {
				return url, nil
			}
			if ctx.Err() != nil {
				return "", ctx.Err()
			}
			tried = append(tried, fmt.Sprintf("%s: %v", url, strings.TrimPrefix(err.Error(), "data: ")))
		}
	}
	fix := fmt.Sprintf("copy the official files into a directory and run `shoal data get %s --from DIR`", ds.Name)
	if ds.Package != "" {
		fix = fmt.Sprintf("install Debian's %s package or %s", ds.Package, fix)
	}
	return "", notFoundErrorf("could not get %s (%s); %s", f.Name, strings.Join(tried, "; "), fix)
}

// atomicWrite writes dest through fill into a temp file in dest's
// directory, verifies it against f, syncs it and renames it into place.
func atomicWrite(dest string, f RemoteFile, fill func(io.Writer) error) error {
	dir := filepath.Dir(dest)
	tmp, err := os.CreateTemp(dir, "."+f.Name+".*.tmp")
	if err != nil {
		return fmt.Errorf("data: %w", err)
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	bw := bufio.NewWriterSize(tmp, 1<<16)
	if err := fill(bw); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("data: writing %s: %w", dest, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("data: writing %s: %w", dest, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("data: writing %s: %w", dest, err)
	}
	if err := verifyFile(tmp.Name(), f); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), dest); err != nil {
		return fmt.Errorf("data: %w", err)
	}
	done = true
	return syncDir(dir)
}

// download copies url's body into w, reporting progress.
func download(ctx context.Context, opts GetOptions, url string, f RemoteFile, w io.Writer) error {
	client := opts.Client
	if client == nil {
		client = &http.Client{Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			ResponseHeaderTimeout: 30 * time.Second,
			TLSHandshakeTimeout:   30 * time.Second,
		}}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("data: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("data: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("data: %s", resp.Status)
	}
	total := resp.ContentLength
	if total <= 0 {
		total = f.Size
	}
	p := &progress{out: opts.Progress, name: f.Name, total: total}
	// Read at most a little more than expected: a wrong file must not fill
	// the disk.
	limit := f.Size + f.Size/10 + 1<<20
	n, err := io.Copy(io.MultiWriter(w, p), io.LimitReader(resp.Body, limit))
	p.finish()
	if err != nil {
		return fmt.Errorf("data: after %d bytes: %w", n, err)
	}
	return nil
}

// progress writes "\rdownloading NAME  12.3/26.4 MB  46%" at most every
// 200 ms.
type progress struct {
	out   io.Writer
	name  string
	total int64
	n     int64
	last  time.Time
}

func (p *progress) Write(b []byte) (int, error) {
	p.n += int64(len(b))
	if p.out != nil && time.Since(p.last) > 200*time.Millisecond {
		p.last = time.Now()
		p.print()
	}
	return len(b), nil
}

func (p *progress) print() {
	pct := 0
	if p.total > 0 {
		pct = int(100 * p.n / p.total)
	}
	fmt.Fprintf(p.out, "\rdownloading %s  %.1f/%.1f MB  %3d%%", p.name, float64(p.n)/1e6, float64(p.total)/1e6, pct)
}

func (p *progress) finish() {
	if p.out != nil {
		p.print()
		fmt.Fprintln(p.out)
	}
}

// verifyFile checks path against f: its SHA-256 must be the official one,
// or its decompressed contents must have f's content SHA-256. Errors match
// ErrChecksum (or ErrNotFound for a missing file).
func verifyFile(path string, f RemoteFile) error {
	sum, err := fileSHA256(path, false)
	if err != nil {
		return err
	}
	if sum == f.SHA256 {
		return nil
	}
	if f.ContentSHA256 != "" {
		if content, err := fileSHA256(path, true); err == nil && content == f.ContentSHA256 {
			return nil
		}
	}
	return newError(ErrChecksum, nil, "%s has SHA-256 %s, want %s", path, sum, f.SHA256)
}

// fileSHA256 returns the hex SHA-256 of a file, or of its decompressed
// contents when gunzip is set.
func fileSHA256(path string, gunzip bool) (string, error) {
	in, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", newError(ErrNotFound, err, "%s not found", path)
		}
		return "", fmt.Errorf("data: %w", err)
	}
	defer in.Close()
	var r io.Reader = in
	if gunzip {
		zr, err := gzip.NewReader(bufio.NewReader(in))
		if err != nil {
			return "", newError(ErrFormat, err, "%s is not gzip data", path)
		}
		defer zr.Close()
		r = zr
	}
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return "", newError(ErrFormat, err, "reading %s: %v", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Status reports, for each file of ds, whether a verified copy is in dir.
func Status(ds KnownDataset, dir string) (present, total int) {
	for _, f := range ds.Files {
		if verifyFile(filepath.Join(dir, f.Name), f) == nil {
			present++
		}
	}
	return present, len(ds.Files)
}

package data

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// RemoteFile is one file of a known dataset.
type RemoteFile struct {
	// Name is the file name, the same in every mirror and in the cache.
	Name string
	// Size is the size in bytes of the official download.
	Size int64
	// SHA256 is the hex SHA-256 of the official download.
	SHA256 string
	// ContentSHA256 is the hex SHA-256 of the decompressed contents, which
	// also accepts a copy that was compressed again (Debian's
	// dataset-fashion-mnist, for one, rewrote the gzip headers). "" when not
	// known.
	ContentSHA256 string
}

// KnownDataset describes a dataset that Get can fetch and Open can load.
type KnownDataset struct {
	Name        string
	Description string
	// Mirrors are base URLs tried in order; a file's URL is mirror + Name.
	Mirrors []string
	// SystemDirs are directories where an operating-system package installs
	// the files; Get copies from there before downloading.
	SystemDirs []string
	// Package names the Debian package that provides SystemDirs, if any.
	Package string
	Files   []RemoteFile
}

// DebianFashionMNISTDir is where Debian's dataset-fashion-mnist package
// installs Fashion-MNIST.
const DebianFashionMNISTDir = "/usr/share/datasets/fashion-mnist"

// The Fashion-MNIST sums of the downloads are the ones published with the
// dataset; the content sums were computed from Debian's copies, whose deflate
// streams are byte for byte those of the official files (only the gzip
// header, name and time, differ).
var catalog = []KnownDataset{
	{
		Name:        "fashion-mnist",
		Description: "Zalando's article images: 60000 train + 10000 test, 28×28 grey, 10 classes",
		Mirrors: []string{
			"http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
			"https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
		},
		SystemDirs: []string{DebianFashionMNISTDir},
		Package:    "dataset-fashion-mnist",
		Files: []RemoteFile{
			{"train-images-idx3-ubyte.gz", 26421880, "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84", "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"},
			{"train-labels-idx1-ubyte.gz", 29515, "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845", "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"},
			{"t10k-images-idx3-ubyte.gz", 4422102, "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073", "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"},
			{"t10k-labels-idx1-ubyte.gz", 5148, "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5", "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"},
		},
	},
	{
		Name:        "mnist",
		Description: "handwritten digits: 60000 train + 10000 test, 28×28 grey, 10 classes",
		Mirrors: []string{
			"http://yann.lecun.com/exdb/mnist/",
			"https://ossci-datasets.s3.amazonaws.com/mnist/",
			"https://storage.googleapis.com/cvdf-datasets/mnist/",
		},
		Files: []RemoteFile{
			{"train-images-idx3-ubyte.gz", 9912422, "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609", ""},
			{"train-labels-idx1-ubyte.gz", 28881, "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c", ""},
			{"t10k-images-idx3-ubyte.gz", 1648877, "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6", ""},
			{"t10k-labels-idx1-ubyte.gz", 4542, "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6", ""},
		},
	},
}

// Catalog returns the datasets that Get and Open know by name.
func Catalog() []KnownDataset {
	out := make([]KnownDataset, len(catalog))
	copy(out, catalog)
	return out
}

// KnownNames returns the names of the catalog's datasets.
func KnownNames() []string {
	names := make([]string, len(catalog))
	for i, d := range catalog {
		names[i] = d.Name
	}
	return names
}

// Lookup returns the catalog entry of name; an unknown name gives an error
// matching ErrNotFound that lists the known ones.
func Lookup(name string) (KnownDataset, error) {
	for _, d := range catalog {
		if d.Name == name {
			return d, nil
		}
	}
	return KnownDataset{}, notFoundErrorf("unknown dataset %q; known datasets: %s", name, strings.Join(KnownNames(), ", "))
}

// DefaultRoot returns the directory under which datasets are cached, one
// subdirectory per dataset: $SHOAL_DATA when set, else
// os.UserCacheDir()/shoal/datasets.
func DefaultRoot() (string, error) {
	if d := os.Getenv("SHOAL_DATA"); d != "" {
		return d, nil
	}
	c, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("data: no cache directory (%v); set SHOAL_DATA or pass a directory", err)
	}
	return filepath.Join(c, "shoal", "datasets"), nil
}

// DatasetDir returns the directory of dataset name under root, or under
// DefaultRoot when root is "".
func DatasetDir(root, name string) (string, error) {
	if root == "" {
		var err error
		if root, err = DefaultRoot(); err != nil {
			return "", err
		}
	}
	return filepath.Join(root, name), nil
}

// splitFiles returns the image and label file names of split ("train" or
// "test") of an MNIST-family dataset.
func splitFiles(split string) (images, labels string, err error) {
	switch split {
	case "train":
		return "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", nil
	case "test", "t10k":
		return "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", nil
	}
	return "", "", notFoundErrorf("unknown split %q; use train or test", split)
}

// Open loads split ("train" or "test") of the known dataset name. With dir
// "" it looks in the cache (DatasetDir("", name)) and then in the dataset's
// system directories; otherwise in dir/name and then dir itself. Files may be
// gzip-compressed or not. A missing dataset gives an error matching
// ErrNotFound that says to run `shoal data get NAME`; a malformed one
// ErrFormat.
func Open(name, split, dir string) (*InMemory, error) {
	known, err := Lookup(name)
	if err != nil {
		return nil, err
	}
	imgName, lblName, err := splitFiles(split)
	if err != nil {
		return nil, err
	}
	var candidates []string
	getCmd := "shoal data get " + name
	if dir != "" {
		candidates = []string{filepath.Join(dir, name), dir}
		getCmd += " --dir " + dir
	} else {
		cache, err := DatasetDir("", name)
		if err != nil {
			return nil, err
		}
		candidates = append([]string{cache}, known.SystemDirs...)
	}
	for _, c := range candidates {
		img, okI := existing(c, imgName)
		lbl, okL := existing(c, lblName)
		if !okI || !okL {
			continue
		}
		ds, err := loadIDXPair(img, lbl)
		if err != nil {
			return nil, withHint(err, fmt.Sprintf("run `%s` to fetch verified files", getCmd))
		}
		return ds, nil
	}
	return nil, notFoundErrorf("%s (%s split) not found in %s; run `%s`", name, split, strings.Join(candidates, " or "), getCmd)
}

// existing returns the path of name in dir, compressed or not, and whether
// it exists.
func existing(dir, name string) (string, bool) {
	for _, n := range []string{name, strings.TrimSuffix(name, ".gz")} {
		p := filepath.Join(dir, n)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p, true
		}
	}
	return "", false
}

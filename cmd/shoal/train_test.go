package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var (
	buildOnce sync.Once
	shoalBin  string
	buildErr  error
)

// shoalBinary builds the command once per test run.
func shoalBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "shoal-cli-test")
		if err != nil {
			buildErr = err
			return
		}
		shoalBin = filepath.Join(dir, "shoal")
		out, err := exec.Command("go", "build", "-o", shoalBin, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return shoalBin
}

// runShoal runs the command and returns stdout, stderr and the exit status.
func runShoal(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(shoalBinary(t), args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatalf("shoal %v: %v", args, err)
	}
	return stdout.String(), stderr.String(), code
}

func writeTestFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// idxFile encodes an IDX file of unsigned bytes with the given dimensions.
func idxFile(dims []int, fill func(i int) byte) []byte {
	var b bytes.Buffer
	b.Write([]byte{0, 0, 0x08, byte(len(dims))})
	n := 1
	for _, d := range dims {
		binary.Write(&b, binary.BigEndian, uint32(d))
		n *= d
	}
	for i := range n {
		b.WriteByte(fill(i))
	}
	return b.Bytes()
}

// fakeMNIST writes a dataset directory in the layout of Fashion-MNIST with
// n images of 28×28 per split, after applying damage to the training
// images and labels.
func fakeMNIST(t *testing.T, n int, damage func(images, labels []byte) ([]byte, []byte)) string {
	t.Helper()
	dir := t.TempDir()
	for _, split := range []string{"train", "t10k"} {
		images := idxFile([]int{n, 28, 28}, func(i int) byte { return byte(i * 7) })
		labels := idxFile([]int{n}, func(i int) byte { return byte(i % 10) })
		if split == "train" && damage != nil {
			images, labels = damage(images, labels)
		}
		writeTestFile(t, dir, split+"-images-idx3-ubyte", string(images))
		writeTestFile(t, dir, split+"-labels-idx1-ubyte", string(labels))
	}
	return dir
}

const tinySpec = `name: tiny
input: [4]
layers:
  - {type: dense, units: 16, activation: relu}
  - {type: dense, units: 3}
optimizer: {name: adam, lr: 0.05}
seed: 3
batch: 8
epochs: 30
`

// tinyCSV returns a CSV file with a header, four features and a label in
// the last column that depends on the features.
func tinyCSV() string {
	var b strings.Builder
	b.WriteString("a,b,c,d,label\n")
	for i := range 90 {
		c := i % 3
		fmt.Fprintf(&b, "%d.%d,%d,%d.5,%d,%d\n", c, i%7, 2*c, c, i%5, c)
	}
	return b.String()
}

// TestCLIBadInput checks that every kind of bad input ends with one line
// on stderr that names the problem, exit status 2, and no panic.
func TestCLIBadInput(t *testing.T) {
	dir := t.TempDir()
	mlp := writeTestFile(t, dir, "mlp.yaml", "input: [1, 28, 28]\nlayers:\n  - {type: flatten}\n  - {type: dense, units: 10}\n")
	csvPath := writeTestFile(t, dir, "tiny.csv", tinyCSV())
	out := filepath.Join(dir, "out")
	spec := func(name, body string) string { return writeTestFile(t, dir, name, body) }

	tests := []struct {
		name string
		args []string
		want []string // substrings of the one-line error
	}{
		{"dataset missing", []string{"--spec", mlp, "--data", "fashion-mnist", "--data-dir", t.TempDir()},
			[]string{"not found", "shoal data get fashion-mnist"}},
		{"wrong magic", []string{"--spec", mlp, "--data", "fashion-mnist", "--data-dir", fakeMNIST(t, 20, func(im, lb []byte) ([]byte, []byte) {
			im = bytes.Clone(im)
			im[2] = 0x42
			return im, lb
		})}, []string{"magic"}},
		{"truncated file", []string{"--spec", mlp, "--data", "fashion-mnist", "--data-dir", fakeMNIST(t, 20, func(im, lb []byte) ([]byte, []byte) {
			return im[:len(im)-100], lb
		})}, []string{"truncated"}},
		{"label count differs", []string{"--spec", mlp, "--data", "fashion-mnist", "--data-dir", fakeMNIST(t, 20, func(im, lb []byte) ([]byte, []byte) {
			lb = bytes.Clone(lb[:len(lb)-1])
			binary.BigEndian.PutUint32(lb[4:], 19)
			return im, lb
		})}, []string{"19 labels", "20 images"}},
		{"unknown layer", []string{"--spec", spec("unknown.yaml", "input: [4]\nlayers:\n  - {type: dense2, units: 3}\n"), "--data", "csv:" + csvPath},
			[]string{`layers[0].type`, "dense2"}},
		{"shape mismatch", []string{"--spec", spec("shape.yaml", "input: [4]\nlayers:\n  - {type: conv2d, filters: 2, kernel: 3}\n  - {type: dense, units: 3}\n"), "--data", "csv:" + csvPath},
			[]string{"layers[0]", "conv2d"}},
		{"negative size", []string{"--spec", spec("negative.yaml", "input: [4]\nlayers:\n  - {type: dense, units: -3}\n"), "--data", "csv:" + csvPath},
			[]string{"layers[0].units", "-3"}},
		{"data does not fit the spec", []string{"--spec", spec("wide.yaml", "input: [7]\nlayers:\n  - {type: dense, units: 3}\n"), "--data", "csv:" + csvPath},
			[]string{"input: [4]"}},
		{"too few classes", []string{"--spec", spec("two.yaml", "input: [4]\nlayers:\n  - {type: dense, units: 2}\n"), "--data", "csv:" + csvPath},
			[]string{"3 classes", "units to 3"}},
		{"unknown data", []string{"--spec", mlp, "--data", "imagenet"}, []string{"unknown data", "fashion-mnist"}},
		{"missing spec file", []string{"--spec", filepath.Join(dir, "nope.yaml"), "--data", "fashion-mnist"}, []string{"nope.yaml"}},
		{"missing csv file", []string{"--spec", mlp, "--data", "csv:" + filepath.Join(dir, "nope.csv")}, []string{"nope.csv"}},
		{"negative epochs", []string{"--spec", mlp, "--data", "fashion-mnist", "--epochs", "-1"}, []string{"must not be negative"}},
		{"no spec", []string{"--data", "fashion-mnist"}, []string{"--spec is required"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"train", "--out", out}, tt.args...)
			stdout, stderr, code := runShoal(t, args...)
			msg := strings.TrimSpace(stderr)
			if code != 2 || strings.Contains(msg, "\n") || strings.Contains(stderr, "panic") {
				t.Fatalf("shoal %s: exit %d, stderr:\n%s\nwant exit 2 and one line", strings.Join(args, " "), code, stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not mention %q", msg, w)
				}
			}
			if stdout != "" {
				t.Errorf("stdout = %q; want nothing", stdout)
			}
		})
	}
}

// TestCLITrainEvalPredict trains the tiny spec on a CSV file end to end and
// uses the saved model.
func TestCLITrainEvalPredict(t *testing.T) {
	dir := t.TempDir()
	spec := writeTestFile(t, dir, "tiny.yaml", tinySpec)
	csvPath := writeTestFile(t, dir, "tiny.csv", tinyCSV())
	out := filepath.Join(dir, "run")
	stdout, stderr, code := runShoal(t, "train", "--spec", spec, "--data", "csv:"+csvPath, "--label", "label", "--out", out, "--threads", "1", "--json")
	if code != 0 {
		t.Fatalf("train: exit %d\n%s", code, stderr)
	}
	var res map[string]any
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("--json output %q: %v", stdout, err)
	}
	for _, k := range []string{"test_accuracy", "samples_per_sec", "epochs", "seconds"} {
		if _, ok := res[k]; !ok {
			t.Errorf("--json output lacks %q: %s", k, stdout)
		}
	}
	if acc := res["test_accuracy"].(float64); acc < 0.9 {
		t.Errorf("test_accuracy %.3f on a separable toy set; want >= 0.9", acc)
	}
	if !strings.Contains(stderr, "epoch 30/30 done") {
		t.Errorf("progress on stderr lacks the last epoch:\n%s", stderr)
	}
	for _, f := range []string{"model.safetensors", "spec.json", "metrics.jsonl", "curves.png", "result.json"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s missing or empty in the output directory: %v", f, err)
		}
	}
	metrics, _ := os.ReadFile(filepath.Join(out, "metrics.jsonl"))
	if n := strings.Count(string(metrics), `"kind":"epoch"`); n != 30 {
		t.Errorf("metrics.jsonl has %d epoch records; want 30", n)
	}

	stdout, stderr, code = runShoal(t, "eval", "--model", out, "--data", "csv:"+csvPath, "--label", "label", "--json")
	if code != 0 {
		t.Fatalf("eval: exit %d\n%s", code, stderr)
	}
	var ev struct{ Accuracy float64 }
	if err := json.Unmarshal([]byte(stdout), &ev); err != nil || ev.Accuracy < 0.9 {
		t.Errorf("eval --json = %q (%v); want accuracy >= 0.9", stdout, err)
	}

	input := writeTestFile(t, dir, "in.json", `[[0.1, 0, 0.5, 0], [2.3, 4, 2.5, 2]]`)
	stdout, stderr, code = runShoal(t, "predict", "--model", out, "--input", input)
	if code != 0 {
		t.Fatalf("predict: exit %d\n%s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "class 0") || !strings.Contains(lines[1], "class 2") {
		t.Errorf("predict output:\n%s\nwant class 0 then class 2", stdout)
	}
	csvIn := writeTestFile(t, dir, "in.csv", "a,b,c,d\n1.1,2,1.5,1\n")
	if stdout, stderr, code = runShoal(t, "predict", "--model", out, "--input", csvIn, "--json"); code != 0 || !strings.Contains(stdout, `"class":1`) {
		t.Errorf("predict CSV: exit %d, stdout %q, stderr %q; want class 1", code, stdout, stderr)
	}
	bad := writeTestFile(t, dir, "bad.csv", "1,2,3\n")
	if _, stderr, code = runShoal(t, "predict", "--model", out, "--input", bad); code != 2 || !strings.Contains(stderr, "has 3 values") {
		t.Errorf("predict with 3 columns: exit %d, stderr %q; want 2 and the column count", code, stderr)
	}
	if _, stderr, code = runShoal(t, "eval", "--model", filepath.Join(dir, "none"), "--data", "csv:"+csvPath); code != 2 || !strings.Contains(stderr, "shoal train") {
		t.Errorf("eval of a missing model: exit %d, stderr %q; want 2 and a hint to train", code, stderr)
	}
}

// TestCLITextSample trains a small character model and samples from it.
func TestCLITextSample(t *testing.T) {
	if testing.Short() {
		t.Skip("trains an LSTM; skipped with -short")
	}
	dir := t.TempDir()
	spec := writeTestFile(t, dir, "chars.yaml", `vocab: auto
input: [10]
layers:
  - {type: embedding, vocab: vocab, dim: 8}
  - {type: lstm, hidden: 24, return_sequences: true, stateful: true}
  - {type: timedistributed, layer: {type: dense, units: vocab}}
optimizer: {name: rmsprop, lr: 0.01}
clip_norm: 5
seed: 1
batch: 4
epochs: 15
bptt: 10
`)
	text := writeTestFile(t, dir, "abc.txt", strings.Repeat("abcdefg\n", 60))
	out := filepath.Join(dir, "run")
	stdout, stderr, code := runShoal(t, "train", "--spec", spec, "--data", "text:"+text, "--out", out, "--threads", "1", "--json")
	if code != 0 {
		t.Fatalf("train: exit %d\n%s", code, stderr)
	}
	var res struct {
		TestAccuracy float64 `json:"test_accuracy"`
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil || res.TestAccuracy < 0.9 {
		t.Errorf("train on a periodic text: %q (%v); want test_accuracy >= 0.9", stdout, err)
	}
	stdout, stderr, code = runShoal(t, "sample", "--model", out, "--length", "16", "--prime", "abc", "--temperature", "0.1")
	if code != 0 {
		t.Fatalf("sample: exit %d\n%s", code, stderr)
	}
	if got := strings.TrimSuffix(stdout, "\n"); !strings.HasPrefix(got, "abcdefg\nabcdefg") {
		t.Errorf("sample after %q = %q; want the period continued", "abc", got)
	}
	if _, stderr, code = runShoal(t, "sample", "--model", out, "--prime", "xyz"); code != 2 || !strings.Contains(stderr, "not in the vocabulary") {
		t.Errorf("sample with unknown characters: exit %d, stderr %q; want 2 and a vocabulary error", code, stderr)
	}
}

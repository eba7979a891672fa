package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// buildShoal builds the binary once for the multi-process tests.
func buildShoal(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "shoal")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// writeBlobsCSV writes n rows of 2 features around three centres.
func writeBlobsCSV(t *testing.T, dir string, n int) (csvPath, specPath string) {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	var b strings.Builder
	b.WriteString("x,y,label\n")
	centres := [3][2]float64{{-2, 0}, {2, 0}, {0, 2.5}}
	for i := range n {
		c := i % 3
		fmt.Fprintf(&b, "%.4f,%.4f,%d\n", centres[c][0]+0.5*rng.NormFloat64(), centres[c][1]+0.5*rng.NormFloat64(), c)
	}
	csvPath = filepath.Join(dir, "blobs.csv")
	specPath = filepath.Join(dir, "spec.yaml")
	spec := "name: blobs\ninput: [2]\nlayers:\n  - {type: dense, units: 16, activation: relu}\n  - {type: dense, units: 3}\n" +
		"loss: softmax_cross_entropy\noptimizer: {name: sgd, lr: 0.1, momentum: 0.9}\nseed: 1\nbatch: 16\nepochs: 3\n"
	if err := os.WriteFile(csvPath, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(specPath, []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	return csvPath, specPath
}

// TestLaunchStrategies runs real worker (and server) processes on loopback
// for every strategy and checks that rank 0 reports a trained model.
func TestLaunchStrategies(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process training is skipped under -short")
	}
	bin := buildShoal(t)
	dir := t.TempDir()
	csv, spec := writeBlobsCSV(t, dir, 1200)
	for _, c := range [][]string{
		{"--strategy", "allreduce"},
		{"--strategy", "ps", "--ps-mode", "sync"},
		{"--strategy", "ps", "--ps-mode", "ssp:2", "--ps", "2"},
		{"--strategy", "average", "--average-every", "2"},
		// One worker 8× slower: --balance must give it far fewer examples.
		{"--strategy", "allreduce", "--balance", "--debug-slow-rank", "1", "--debug-slow", "8"},
		// The same, but the first measurement misses the slowdown: the
		// split revised during training must find it.
		{"--strategy", "allreduce", "--balance", "--debug-slow-rank", "0", "--debug-slow", "8", "--debug-slow-unprobed"},
	} {
		out := filepath.Join(dir, strings.Join(c, "_"))
		args := append([]string{"train", "--workers", "2", "--spec", spec, "--data", "csv:" + csv, "--out", out, "--json",
			"--timeline", filepath.Join(out, "trace.json")}, c...)
		cmd := exec.Command(bin, args...)
		stdout, err := cmd.Output()
		if err != nil {
			var stderr []byte
			if e, ok := err.(*exec.ExitError); ok {
				stderr = e.Stderr
			}
			t.Fatalf("shoal %s: %v\n%s", strings.Join(c, " "), err, stderr)
		}
		var res distResult
		if err := json.Unmarshal(stdout, &res); err != nil {
			t.Fatalf("%v: output %q is not one JSON object: %v", c, stdout, err)
		}
		if res.Workers != 2 || res.TestAccuracy < 0.9 {
			t.Errorf("%v: %d workers, test accuracy %.3f; want 2 workers and >= 0.9", c, res.Workers, res.TestAccuracy)
		}
		if _, err := os.Stat(filepath.Join(out, "trace.json")); err != nil {
			t.Errorf("%v: no timeline: %v", c, err)
		}
		if slices.Contains(c, "--balance") {
			b := res.RankBatches
			if len(b) != 2 || b[0]+b[1] != 32 || 2*min(b[0], b[1]) > max(b[0], b[1]) {
				t.Errorf("%v: batches per rank %v; want 32 in all, one worker's at most half the other's", c, b)
			}
		}
	}
}

// TestWorkerBadInput checks that user mistakes end with one line and status 2.
func TestWorkerBadInput(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test skipped under -short")
	}
	bin := buildShoal(t)
	dir := t.TempDir()
	csv, spec := writeBlobsCSV(t, dir, 90)
	taken, err := net.Listen("tcp", "127.0.0.1:0") // a port in use
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"worker", "--coordinator", "127.0.0.1:1", "--token", "t", "--spec", spec, "--data", "csv:" + csv, "--join-timeout", "1s"}, "unreachable"},
		{[]string{"coordinator", "--listen", taken.Addr().String(), "--token", "t", "--workers", "2", "--spec", spec}, "already in use; choose a free port with --listen"},
		{[]string{"worker", "--coordinator", "127.0.0.1:1", "--spec", spec, "--data", "csv:" + csv}, "token"},
		{[]string{"train", "--workers", "2", "--strategy", "ring", "--spec", spec, "--data", "csv:" + csv, "--out", dir}, "strategy"},
	} {
		cmd := exec.Command(bin, c.args...)
		cmd.Env = append(os.Environ(), "SHOAL_TOKEN=")
		out, err := cmd.CombinedOutput()
		e, ok := err.(*exec.ExitError)
		if !ok || e.ExitCode() != exitUsage {
			t.Errorf("shoal %v: %v; want exit status %d\n%s", c.args, err, exitUsage, out)
			continue
		}
		if lines := strings.Count(strings.TrimSpace(string(out)), "\n"); lines != 0 || !strings.Contains(string(out), c.want) {
			t.Errorf("shoal %v printed %q; want one line mentioning %q", c.args, out, c.want)
		}
	}
}

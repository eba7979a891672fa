package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/shoal-dl/shoal/tensor"
	"github.com/spf13/cobra"
)

// gemmResult is what `shoal bench gemm --json` prints; bench/peers/gemm.py
// prints the same fields for numpy.
type gemmResult struct {
	System  string  `json:"system"`
	M       int     `json:"m"`
	N       int     `json:"n"`
	K       int     `json:"k"`
	TransA  bool    `json:"transa"`
	TransB  bool    `json:"transb"`
	Threads int     `json:"threads"`
	Iters   int     `json:"iters"`
	TimeMS  float64 `json:"time_ms"`
	GFLOPS  float64 `json:"gflops"`
	// CPUMS is the process's CPU time per multiplication, all threads
	// together, where the system reports it (Linux): on a busy machine
	// it shows the work done apart from the time spent waiting for a core.
	CPUMS float64 `json:"cpu_ms,omitempty"`
}

// gemmMinTime is how long the timed loop runs at least when --iters is not
// given, so that one slow iteration on a busy machine does not decide.
const gemmMinTime = 500 * time.Millisecond

func init() {
	var (
		m, n, k, threads, iters int
		transA, transB, asJSON  bool
	)
	cmd := &cobra.Command{
		Use:   "gemm",
		Short: "Time one float32 matrix multiply C = op(A)·op(B)",
		Long: `gemm times tensor.MatMul, shoal's packed GEMM, on random m×k and k×n matrices
(stored transposed with --transa / --transb) with --threads goroutines. After a
warm-up it runs --iters multiplications, or as many as fill half a second when
--iters is 0, and prints the mean time per multiplication and 2·m·n·k/time in
GFLOP/s. bench/gemm.sh runs it beside numpy's OpenBLAS on the same shapes.`,
		Example: `  shoal bench gemm --m 1024 --n 1024 --k 1024 --threads 1
  shoal bench gemm --m 128 --n 256 --k 784 --transb --json`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErrorf("bench gemm takes no arguments, got %q; the shape is given by --m, --n and --k", args)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case m < 1 || n < 1 || k < 1:
				return usageErrorf("--m, --n and --k must be at least 1, got %d, %d, %d", m, n, k)
			case threads < 1:
				return usageErrorf("--threads must be at least 1, got %d", threads)
			case iters < 0:
				return usageErrorf("--iters must be 0 (automatic) or more, got %d", iters)
			}
			res := benchGemm(m, n, k, transA, transB, threads, iters)
			out := cmd.OutOrStdout()
			if asJSON {
				return json.NewEncoder(out).Encode(res)
			}
			_, err := fmt.Fprintf(out, "gemm %dx%dx%d transa=%t transb=%t threads=%d: %.3f ms, %.1f GFLOP/s (%d iterations)\n",
				m, n, k, transA, transB, threads, res.TimeMS, res.GFLOPS, res.Iters)
			return err
		},
	}
	f := cmd.Flags()
	f.IntVar(&m, "m", 1024, "rows of op(A) and C")
	f.IntVar(&n, "n", 1024, "columns of op(B) and C")
	f.IntVar(&k, "k", 1024, "columns of op(A), rows of op(B)")
	f.IntVar(&threads, "threads", 1, "goroutines for the multiply")
	f.IntVar(&iters, "iters", 0, "timed multiplications; 0 runs for at least 0.5 s")
	f.BoolVar(&transA, "transa", false, "store A transposed (k×m)")
	f.BoolVar(&transB, "transb", false, "store B transposed (n×k)")
	f.BoolVar(&asJSON, "json", false, "print one JSON object")
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageErrorf("%v", err) })
	benchCmd.AddCommand(cmd)
}

// benchGemm times MatMul on random matrices of the given shape.
func benchGemm(m, n, k int, transA, transB bool, threads, iters int) gemmResult {
	rng := rand.New(rand.NewPCG(1, 2))
	random := func(shape ...int) *tensor.Tensor {
		t := tensor.New(shape...)
		for i := range t.Data {
			t.Data[i] = rng.Float32()*2 - 1
		}
		return t
	}
	a := random(m, k)
	if transA {
		a = random(k, m)
	}
	b := random(k, n)
	if transB {
		b = random(n, k)
	}
	c := tensor.New(m, n)

	prev := tensor.Threads()
	tensor.SetThreads(threads)
	defer tensor.SetThreads(prev)

	// Warm up: fault in the buffers, start the workers, settle the clock.
	warm := time.Now()
	for i := 0; i < 3 || time.Since(warm) < 50*time.Millisecond; i++ {
		tensor.MatMul(c, a, b, transA, transB, false)
	}
	cpu0, cpuOK := processCPU()
	start := time.Now()
	done := 0
	for iters == 0 && time.Since(start) < gemmMinTime || done < iters {
		tensor.MatMul(c, a, b, transA, transB, false)
		done++
	}
	elapsed := time.Since(start)
	cpu1, _ := processCPU()
	per := elapsed.Seconds() / float64(done)
	res := gemmResult{
		System: "shoal", M: m, N: n, K: k, TransA: transA, TransB: transB,
		Threads: threads, Iters: done,
		TimeMS: per * 1e3,
		GFLOPS: 2 * float64(m) * float64(n) * float64(k) / per / 1e9,
	}
	if cpuOK {
		res.CPUMS = (cpu1 - cpu0) * 1e3 / float64(done)
	}
	return res
}

// processCPU returns the user and system CPU seconds of this process from
// /proc/self/stat, and false where there is no such file.
func processCPU() (float64, bool) {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0, false
	}
	// The command name in parentheses may hold spaces; fields count from
	// after it: state is field 3, utime 14 and stime 15 (in 1/100 s).
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, false
	}
	utime, err1 := strconv.ParseFloat(f[11], 64)
	stime, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	const ticksPerSecond = 100 // USER_HZ, the same on every Linux ABI
	return (utime + stime) / ticksPerSecond, true
}

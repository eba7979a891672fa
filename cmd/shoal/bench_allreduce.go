package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/shoal-dl/shoal/collective"
	"github.com/spf13/cobra"
)

// allreduceResult is what `shoal bench allreduce --json` prints.
type allreduceResult struct {
	Ranks       int     `json:"ranks"`
	Size        int     `json:"size"`
	Transport   string  `json:"transport"`
	Compression string  `json:"compression"`
	RingOnly    bool    `json:"ring_only"`
	Iters       int     `json:"iters"`
	TimeMS      float64 `json:"time_ms"`
	AlgBWGBps   float64 `json:"algbw_gbps"`
	BusBWGBps   float64 `json:"busbw_gbps"`
}

func init() {
	var (
		ranks, size, iters, warmup int
		transport, compression     string
		asJSON, ringOnly           bool
		segmentBytes               int
		workerRank                 int
		workerAddrs                string
	)
	cmd := &cobra.Command{
		Use:   "allreduce",
		Short: "Time allreduce among N local processes",
		Long: `allreduce starts --ranks processes of this binary on this machine, connects
them with the collective package and times --iters allreduces of --size bytes
of float32 after a warm-up. It prints the mean time per operation and the
bandwidths as nccl-tests defines them: algbw = size/time and
busbw = algbw * 2(n-1)/n. With --transport shm (or auto on one host) the
ranks reduce through one shared staging area; --ring-only keeps them on the
pairwise rings instead.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if workerRank >= 0 {
				return allreduceWorker(workerRank, strings.Split(workerAddrs, ","), size, iters, warmup, transport, compression, ringOnly, segmentBytes, cmd.OutOrStdout())
			}
			switch {
			case ranks < 1:
				return usageErrorf("--ranks must be at least 1, got %d", ranks)
			case size < 4 || size%4 != 0:
				return usageErrorf("--size must be a positive multiple of 4 bytes, got %d", size)
			case iters < 1:
				return usageErrorf("--iters must be at least 1, got %d", iters)
			case transport != "tcp" && transport != "shm" && transport != "auto":
				return usageErrorf("--transport must be tcp, shm or auto, got %q", transport)
			}
			if _, err := collective.ParseCompression(compression); err != nil {
				return usageErrorf("%v", err)
			}
			res, err := runAllreduceBench(ranks, size, iters, warmup, transport, compression, ringOnly, segmentBytes)
			if err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(res)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "allreduce ranks=%d size=%d transport=%s compression=%s: %.3f ms, algbw %.2f GB/s, busbw %.2f GB/s\n",
				res.Ranks, res.Size, res.Transport, res.Compression, res.TimeMS, res.AlgBWGBps, res.BusBWGBps)
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&ranks, "ranks", 2, "number of processes")
	f.IntVar(&size, "size", 16<<20, "buffer size in bytes (float32)")
	f.IntVar(&iters, "iters", 20, "timed iterations")
	f.IntVar(&warmup, "warmup", 5, "untimed iterations first")
	f.StringVar(&transport, "transport", "tcp", "tcp, shm or auto")
	f.StringVar(&compression, "compression", "none", "wire compression: none, fp16 or bf16")
	f.BoolVar(&asJSON, "json", false, "print one JSON object")
	f.BoolVar(&ringOnly, "ring-only", false, "keep to the point-to-point rings even when all ranks share memory")
	f.IntVar(&segmentBytes, "segment-bytes", 0, "largest message of the pipelined ring, in bytes (0 = the collective package's default)")
	f.IntVar(&workerRank, "worker-rank", -1, "run as this rank of a benchmark (internal)")
	f.StringVar(&workerAddrs, "worker-addrs", "", "addresses of all ranks (internal)")
	_ = f.MarkHidden("worker-rank")
	_ = f.MarkHidden("worker-addrs")

	var tcpSize int
	var tcpJSON bool
	tcpCmd := &cobra.Command{
		Use:   "tcp",
		Short: "Measure raw loopback TCP bandwidth (one connection, one direction)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if tcpSize < 1 {
				return usageErrorf("--size must be positive, got %d", tcpSize)
			}
			gbps, err := loopbackTCP(tcpSize)
			if err != nil {
				return err
			}
			if tcpJSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(map[string]any{"size": tcpSize, "gbps": gbps})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "loopback TCP: %.2f GB/s\n", gbps)
			return nil
		},
	}
	tcpCmd.Flags().IntVar(&tcpSize, "size", 1<<30, "bytes to send")
	tcpCmd.Flags().BoolVar(&tcpJSON, "json", false, "print one JSON object")
	benchCmd.AddCommand(cmd, tcpCmd)
}

func runAllreduceBench(ranks, size, iters, warmup int, transport, compression string, ringOnly bool, segmentBytes int) (*allreduceResult, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("bench allreduce: %w", err)
	}
	files := make([]*os.File, ranks)
	addrs := make([]string, ranks)
	for i := range ranks {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("bench allreduce: %w", err)
		}
		addrs[i] = ln.Addr().String()
		files[i], err = ln.(*net.TCPListener).File()
		ln.Close()
		if err != nil {
			return nil, fmt.Errorf("bench allreduce: %w", err)
		}
	}
	cmds := make([]*exec.Cmd, ranks)
	outs := make([]io.ReadCloser, ranks)
	for i := range ranks {
		c := exec.Command(exe, "bench", "allreduce", "--worker-rank", strconv.Itoa(i), "--worker-addrs", strings.Join(addrs, ","),
			"--size", strconv.Itoa(size), "--iters", strconv.Itoa(iters), "--warmup", strconv.Itoa(warmup),
			"--transport", transport, "--compression", compression, "--ring-only="+strconv.FormatBool(ringOnly), "--segment-bytes", strconv.Itoa(segmentBytes))
		c.ExtraFiles = []*os.File{files[i]}
		c.Stderr = os.Stderr
		if outs[i], err = c.StdoutPipe(); err != nil {
			return nil, fmt.Errorf("bench allreduce: %w", err)
		}
		if err := c.Start(); err != nil {
			return nil, fmt.Errorf("bench allreduce: start rank %d: %w", i, err)
		}
		files[i].Close()
		cmds[i] = c
	}
	var worst float64
	var firstErr error
	for i, c := range cmds {
		line, _ := bufio.NewReader(outs[i]).ReadString('\n')
		if err := c.Wait(); err != nil && firstErr == nil {
			firstErr = fmt.Errorf("bench allreduce: rank %d: %w", i, err)
		}
		sec, err := strconv.ParseFloat(strings.TrimSpace(line), 64)
		if err != nil && firstErr == nil {
			firstErr = fmt.Errorf("bench allreduce: rank %d printed %q", i, line)
		}
		worst = max(worst, sec)
	}
	if firstErr != nil {
		return nil, firstErr
	}
	alg := float64(size) / worst / 1e9
	return &allreduceResult{
		Ranks: ranks, Size: size, Transport: transport, Compression: compression, RingOnly: ringOnly, Iters: iters,
		TimeMS: worst * 1e3, AlgBWGBps: alg, BusBWGBps: alg * 2 * float64(ranks-1) / float64(ranks),
	}, nil
}

// allreduceWorker is one rank: it prints its mean seconds per allreduce.
func allreduceWorker(rank int, addrs []string, size, iters, warmup int, transport, compression string, ringOnly bool, segmentBytes int, out io.Writer) error {
	ln, err := net.FileListener(os.NewFile(3, "listener"))
	if err != nil {
		return fmt.Errorf("bench allreduce: rank %d: %w", rank, err)
	}
	comp, err := collective.ParseCompression(compression)
	if err != nil {
		return usageErrorf("%v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := collective.Dial(ctx, collective.Config{Rank: rank, Addrs: addrs, Listener: ln, Transport: transport,
		Options: collective.Options{Compression: comp, RingOnly: ringOnly, SegmentBytes: segmentBytes}})
	if err != nil {
		return err
	}
	defer c.Close()
	buf := make([]float32, size/4)
	for i := range buf {
		buf[i] = float32(i%17) * 0.25
	}
	for range warmup {
		if err := c.AllReduce(ctx, buf, collective.Sum); err != nil {
			return err
		}
	}
	if err := c.Barrier(ctx); err != nil {
		return err
	}
	start := time.Now()
	for range iters {
		if err := c.AllReduce(ctx, buf, collective.Sum); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "%.9f\n", time.Since(start).Seconds()/float64(iters))
	return nil
}

// loopbackTCP sends size bytes over one loopback connection in 4 MiB writes
// and returns GB/s.
func loopbackTCP(size int) (float64, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("bench tcp: %w", err)
	}
	defer ln.Close()
	got := make(chan error, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			got <- err
			return
		}
		defer conn.Close()
		_, err = io.CopyBuffer(io.Discard, conn, make([]byte, 4<<20))
		got <- err
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		return 0, fmt.Errorf("bench tcp: %w", err)
	}
	buf := make([]byte, 4<<20)
	start := time.Now()
	for left := size; left > 0; left -= len(buf) {
		if _, err := conn.Write(buf[:min(left, len(buf))]); err != nil {
			conn.Close()
			return 0, fmt.Errorf("bench tcp: %w", err)
		}
	}
	conn.(*net.TCPConn).CloseWrite()
	if err := <-got; err != nil {
		conn.Close()
		return 0, fmt.Errorf("bench tcp: %w", err)
	}
	conn.Close()
	return float64(size) / time.Since(start).Seconds() / 1e9, nil
}

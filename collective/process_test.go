package collective_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shoal-dl/shoal/collective"
)

// Ranks as separate processes: the test binary runs itself with
// SHOAL_COLLECTIVE_RANK set, inherits its already-listening socket as file
// descriptor 3 (so no port can be taken in between), and reports on stdout.

const (
	envRank      = "SHOAL_COLLECTIVE_RANK"
	envAddrs     = "SHOAL_COLLECTIVE_ADDRS"
	envTransport = "SHOAL_COLLECTIVE_TRANSPORT"
	envScenario  = "SHOAL_COLLECTIVE_SCENARIO"
	envLengths   = "SHOAL_COLLECTIVE_LENGTHS"
)

func TestMain(m *testing.M) {
	if os.Getenv(envRank) != "" {
		os.Exit(rankMain())
	}
	os.Exit(m.Run())
}

func rankMain() int {
	rank, _ := strconv.Atoi(os.Getenv(envRank))
	ln, err := net.FileListener(os.NewFile(3, "listener"))
	if err != nil {
		fmt.Println("FAIL listener:", err)
		return 1
	}
	addrs := strings.Split(os.Getenv(envAddrs), ",")
	deadline := 20 * time.Second
	if os.Getenv(envScenario) == "kill" {
		deadline = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tc := transportConfig(os.Getenv(envTransport), collective.Options{Deadline: deadline})
	c, err := collective.Dial(ctx, collective.Config{Rank: rank, Addrs: addrs, Listener: ln,
		Transport: tc.Transport, Options: tc.Options})
	if err != nil {
		fmt.Println("FAIL dial:", err)
		return 1
	}
	defer c.Close()
	switch os.Getenv(envScenario) {
	case "correct":
		for _, f := range strings.Split(os.Getenv(envLengths), ",") {
			length, _ := strconv.Atoi(f)
			buf := input(rank, length)
			if err := c.AllReduce(context.Background(), buf, collective.Sum); err != nil {
				fmt.Println("FAIL allreduce:", err)
				return 1
			}
			if i := firstDiff(buf, localReduce(len(addrs), length, collective.Sum)); i >= 0 {
				fmt.Printf("FAIL len %d: element %d = %v\n", length, i, buf[i])
				return 1
			}
			h := fnv.New64a()
			for _, v := range buf {
				b := math.Float32bits(v)
				h.Write([]byte{byte(b), byte(b >> 8), byte(b >> 16), byte(b >> 24)})
			}
			fmt.Printf("OK %d %x\n", length, h.Sum64())
		}
		return 0
	case "kill":
		buf := make([]float32, 1<<20)
		for i := 0; ; i++ {
			start := time.Now()
			err := c.AllReduce(context.Background(), buf, collective.Sum)
			if err != nil {
				var pe *collective.PeerError
				peer := -1
				if errors.As(err, &pe) {
					peer = pe.Peer
				}
				fmt.Printf("ERR %d %v %d %s\n", peer, errors.Is(err, collective.ErrPeerLost), time.Since(start).Milliseconds(), err)
				return 0
			}
			if i == 0 {
				fmt.Println("STARTED")
			}
		}
	}
	return 2
}

type rankProc struct {
	cmd   *exec.Cmd
	lines chan string
	done  chan struct{}
}

// startRanks runs n ranks as processes of this test binary.
func startRanks(t *testing.T, n int, env ...string) []*rankProc {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	files := make([]*os.File, n)
	addrs := make([]string, n)
	for i := range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addrs[i] = ln.Addr().String()
		if files[i], err = ln.(*net.TCPListener).File(); err != nil {
			t.Fatal(err)
		}
		ln.Close()
	}
	procs := make([]*rankProc, n)
	for i := range n {
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), append(env, envRank+"="+strconv.Itoa(i), envAddrs+"="+strings.Join(addrs, ","))...)
		cmd.ExtraFiles = []*os.File{files[i]}
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		files[i].Close()
		p := &rankProc{cmd: cmd, lines: make(chan string, 100), done: make(chan struct{})}
		go func() {
			defer close(p.done)
			s := bufio.NewScanner(out)
			for s.Scan() {
				p.lines <- s.Text()
			}
			close(p.lines)
			cmd.Wait()
		}()
		procs[i] = p
	}
	t.Cleanup(func() {
		for _, p := range procs {
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	return procs
}

// TestAllReduceProcesses runs each rank as its own OS process and checks the
// result against a local sum and across ranks bit for bit.
func TestAllReduceProcesses(t *testing.T) {
	lengths := "0,1,7,1023,1048579"
	ns := []int{1, 2, 3, 4, 8}
	if testing.Short() {
		lengths = "0,1,7,1023"
		ns = []int{2, 5}
	}
	for _, transport := range testTransports {
		for _, n := range ns {
			t.Run(fmt.Sprintf("%s/n=%d", transport, n), func(t *testing.T) {
				procs := startRanks(t, n, envScenario+"=correct", envTransport+"="+transport, envLengths+"="+lengths)
				hashes := map[string]string{}
				for r, p := range procs {
					for line := range p.lines {
						f := strings.Fields(line)
						if f[0] != "OK" {
							t.Errorf("rank %d: %s", r, line)
							continue
						}
						if h, ok := hashes[f[1]]; ok && h != f[2] {
							t.Errorf("len %s: rank %d result hash %s differs from rank 0's %s", f[1], r, f[2], h)
						}
						hashes[f[1]] = f[2]
					}
					<-p.done
					if code := p.cmd.ProcessState.ExitCode(); code != 0 {
						t.Errorf("rank %d exited with %d", r, code)
					}
				}
				if want := len(strings.Split(lengths, ",")); len(hashes) != want {
					t.Errorf("got results for %d lengths; want %d", len(hashes), want)
				}
			})
		}
	}
}

// TestKilledRank SIGKILLs one rank in the middle of a stream of large
// allreduces: every other rank must return an error naming it well within
// its deadline (10 s).
func TestKilledRank(t *testing.T) {
	for _, transport := range testTransports {
		t.Run(transport, func(t *testing.T) {
			const n, victim = 4, 1
			procs := startRanks(t, n, envScenario+"=kill", envTransport+"="+transport)
			for r, p := range procs {
				select {
				case line := <-p.lines:
					if line != "STARTED" {
						t.Fatalf("rank %d: %s", r, line)
					}
				case <-time.After(30 * time.Second):
					t.Fatalf("rank %d did not start", r)
				}
			}
			time.Sleep(50 * time.Millisecond)
			killed := time.Now()
			if err := procs[victim].cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			for r, p := range procs {
				if r == victim {
					continue
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					for line := range p.lines {
						if line == "STARTED" {
							continue
						}
						f := strings.Fields(line)
						if len(f) < 4 || f[0] != "ERR" || f[1] != strconv.Itoa(victim) || f[2] != "true" {
							t.Errorf("rank %d: %s; want an ErrPeerLost naming rank %d", r, line, victim)
						} else {
							t.Logf("rank %d after %v: %s", r, time.Since(killed).Round(time.Millisecond), strings.Join(f[4:], " "))
						}
						if took := time.Since(killed); took > 10*time.Second {
							t.Errorf("rank %d reported %v after the kill; deadline 10s", r, took)
						}
					}
					<-p.done
					if code := p.cmd.ProcessState.ExitCode(); code != 0 {
						t.Errorf("rank %d exited with %d", r, code)
					}
				}()
			}
			wg.Wait()
		})
	}
}

package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestLaunchWorkerKilled kills one worker process of a running 3-worker
// allreduce job and checks that nothing hangs: the launcher exits non-zero
// within a bound, naming the killed rank, the surviving workers report the
// rank they lost, and no process of the job outlives the launcher.
func TestLaunchWorkerKilled(t *testing.T) {
	// A few seconds once the binary is built: it stays in -short.
	if runtime.GOOS != "linux" {
		t.Skip("finds the worker processes through /proc")
	}
	const (
		victim  = 1                // the rank killed
		started = 40               // steps the victim logs before it is killed
		bound   = 30 * time.Second // from the kill to the launcher's exit
	)
	bin := buildShoal(t)
	dir := t.TempDir()
	csv, spec := writeBlobsCSV(t, dir, 1500)
	for _, transport := range []string{"tcp", "shm"} {
		t.Run(transport, func(t *testing.T) {
			out := filepath.Join(dir, transport)
			// Far more epochs than the test lets it run: the job only ends by the kill.
			cmd := exec.Command(bin, "train", "--workers", "3", "--strategy", "allreduce", "--transport", transport,
				"--spec", spec, "--data", "csv:"+csv, "--epochs", "1000000", "--out", out)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			defer func() {
				if cmd.ProcessState == nil {
					_ = cmd.Process.Kill()
					<-done
				}
			}()

			// Wait until every rank trains, then find the victim's process by the
			// step log it writes.
			log := filepath.Join(out, "steps-"+strconv.Itoa(victim)+".jsonl")
			deadline := time.Now().Add(60 * time.Second)
			for countLines(log) < started {
				select {
				case err := <-done:
					t.Fatalf("the job ended before the kill: %v\n%s", err, stderr.String())
				case <-time.After(50 * time.Millisecond):
				}
				if time.Now().After(deadline) {
					t.Fatalf("rank %d logged %d steps in 60s; want %d\n%s", victim, countLines(log), started, stderr.String())
				}
			}
			workers := childrenOf(t, cmd.Process.Pid)
			pid, ok := 0, false
			for _, p := range workers {
				if holdsFile(p, log) {
					pid, ok = p, true
				}
			}
			if len(workers) != 3 || !ok {
				t.Fatalf("launcher children %v; want 3 workers, one of them writing %s", workers, log)
			}
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			killed := time.Now()

			var err error
			select {
			case err = <-done:
			case <-time.After(bound):
				t.Fatalf("launcher still running %v after rank %d was killed\n%s", bound, victim, stderr.String())
			}
			t.Logf("launcher exited %v after the kill: %v", time.Since(killed).Round(time.Millisecond), err)
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 1 {
				t.Errorf("launcher exit: %v; want status 1\n%s", err, stderr.String())
			}
			lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
			last := lines[len(lines)-1]
			if want := "rank " + strconv.Itoa(victim) + " exited: signal: killed"; !strings.Contains(last, want) {
				t.Errorf("launcher's last line %q does not say %q", last, want)
			}
			// Each survivor's own error names the rank it lost: a collective
			// PeerError (directly or through the rank that gave up) or the
			// coordinator's lost list.
			names := regexp.MustCompile(`waiting for rank 1 \(|because of rank 1:|\(rank 1\) was lost`)
			for _, r := range []int{0, 2} {
				prefix := "[rank " + strconv.Itoa(r) + "] "
				found := false
				for _, l := range lines {
					if strings.HasPrefix(l, prefix) && names.MatchString(l) {
						found = true
						t.Logf("%s", l)
					}
				}
				if !found {
					t.Errorf("rank %d printed no error naming rank %d\n%s", r, victim, notEpochs(lines))
				}
			}
			for _, p := range workers {
				if alive(p) {
					t.Errorf("worker process %d outlived the launcher", p)
				}
			}
		})
	}
}

// countLines counts the newlines in a file; 0 if it cannot be read.
func countLines(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	return bytes.Count(b, []byte{'\n'})
}

// childrenOf lists the processes whose parent is pid.
func childrenOf(t *testing.T, pid int) []int {
	t.Helper()
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var kids []int
	for _, d := range dirs {
		p, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", d.Name(), "stat"))
		if err != nil {
			continue // gone meanwhile
		}
		// pid (comm) state ppid ...; comm may hold spaces, so cut at the last ')'.
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			kids = append(kids, p)
		}
	}
	return kids
}

// holdsFile reports whether process pid has path open.
func holdsFile(pid int, path string) bool {
	fds, err := os.ReadDir(filepath.Join("/proc", strconv.Itoa(pid), "fd"))
	if err != nil {
		return false
	}
	for _, fd := range fds {
		if target, err := os.Readlink(filepath.Join("/proc", strconv.Itoa(pid), "fd", fd.Name())); err == nil && target == path {
			return true
		}
	}
	return false
}

// alive reports whether process pid exists and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	return len(f) > 0 && f[0] != "Z"
}

// notEpochs joins the lines that are not per-epoch reports.
func notEpochs(lines []string) string {
	var b strings.Builder
	for _, l := range lines {
		if !strings.Contains(l, "] epoch ") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}
